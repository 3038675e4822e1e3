/**
 * Rendering knative/ with the real kustomize (built from its Go module by
 * `bash harness/build.sh kustomize`, pinned in harness/go/kustomize/go.mod), as
 * `kubectl apply -k` does. Used by the deploy tests and the cold-start bench; never by a
 * function at run time.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import yaml from 'js-yaml';

export const ROOT = resolve(import.meta.dirname, '..');
export const KNATIVE_DIR = join(ROOT, 'knative');
export const BASE_DIR = join(KNATIVE_DIR, 'base');
export const EXAMPLE_OVERLAY = join(KNATIVE_DIR, 'overlays/example');
export const KUSTOMIZE_BIN = join(ROOT, '.cache/bin/kustomize');
export const BUILD_KUSTOMIZE = 'bash harness/build.sh kustomize';
/** The namespace every function runs in (knative/base/kustomization.yaml). */
export const NAMESPACE = 'stack-scan';

/** Every function of the project: the folders under functions/ with an app.ts. */
export const FUNCTIONS = ['network-scan', 'opa-scan', 'kubescape-scan', 'nuclei-scan'] as const;
export type FunctionName = (typeof FUNCTIONS)[number];

export interface Manifest {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  [k: string]: any;
}

export function kustomizeMissing(): string | undefined {
  return existsSync(KUSTOMIZE_BIN) ? undefined : `kustomize is not built: missing ${KUSTOMIZE_BIN}; run: ${BUILD_KUSTOMIZE}`;
}

/** `kustomize build <dir>`: the objects it renders, in order. */
export function kustomizeBuild(dir: string): Manifest[] {
  const missing = kustomizeMissing();
  if (missing) throw new Error(missing);
  const out = execFileSync(KUSTOMIZE_BIN, ['build', dir], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024, timeout: 60_000 });
  return yaml.loadAll(out).filter((d): d is Manifest => !!d && typeof d === 'object');
}

export const byKind = (objs: Manifest[], kind: string, apiGroup?: string) =>
  objs.filter((o) => o.kind === kind && (apiGroup === undefined || (o.apiVersion.includes('/') ? o.apiVersion.split('/')[0] : '') === apiGroup));

/** The Knative Service of a function. */
export function knativeService(objs: Manifest[], fn: string): Manifest {
  const s = byKind(objs, 'Service', 'serving.knative.dev').find((o) => o.metadata.name === fn);
  if (!s) throw new Error(`no Knative Service ${fn} in the rendered manifests`);
  return s;
}

/**
 * The RBAC of a function's account: the (Cluster)Roles bound to its ServiceAccount
 * (namespace stack-scan) by the rendered (Cluster)RoleBindings.
 */
export function rolesOf(objs: Manifest[], fn: string): { binding: Manifest; role: Manifest }[] {
  const out: { binding: Manifest; role: Manifest }[] = [];
  for (const b of objs.filter((o) => o.kind === 'ClusterRoleBinding' || o.kind === 'RoleBinding')) {
    const bound = (b.subjects ?? []).some((s: any) => s.kind === 'ServiceAccount' && s.name === fn && s.namespace === NAMESPACE);
    if (!bound) continue;
    const role = objs.find(
      (o) => o.kind === b.roleRef.kind && o.metadata.name === b.roleRef.name && (o.kind === 'ClusterRole' || o.metadata.namespace === b.metadata.namespace),
    );
    if (!role) throw new Error(`${b.kind} ${b.metadata.name} refers to a missing ${b.roleRef.kind} ${b.roleRef.name}`);
    out.push({ binding: b, role });
  }
  return out;
}

/** The username a ServiceAccount authenticates as. */
export const serviceAccountUser = (fn: string) => `system:serviceaccount:${NAMESPACE}:${fn}`;
export const serviceAccountGroups = () => ['system:serviceaccounts', `system:serviceaccounts:${NAMESPACE}`];
