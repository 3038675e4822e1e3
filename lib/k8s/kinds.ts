/**
 * The one table of kinds the scans read, create or dry-run: group, version,
 * plural and scope. Keys are kind names we wrote (never user data).
 */
import type { KubeObject } from './types.ts';

export interface KindInfo {
  kind: string;
  /** "" for the core group. */
  group: string;
  version: string;
  plural: string;
  namespaced: boolean;
}

const rows: [kind: string, group: string, version: string, plural: string, namespaced: boolean][] = [
  ['Pod', '', 'v1', 'pods', true],
  ['Service', '', 'v1', 'services', true],
  ['ServiceAccount', '', 'v1', 'serviceaccounts', true],
  ['ConfigMap', '', 'v1', 'configmaps', true],
  ['Secret', '', 'v1', 'secrets', true],
  ['Namespace', '', 'v1', 'namespaces', false],
  ['Deployment', 'apps', 'v1', 'deployments', true],
  ['StatefulSet', 'apps', 'v1', 'statefulsets', true],
  ['DaemonSet', 'apps', 'v1', 'daemonsets', true],
  ['ReplicaSet', 'apps', 'v1', 'replicasets', true],
  ['Job', 'batch', 'v1', 'jobs', true],
  ['CronJob', 'batch', 'v1', 'cronjobs', true],
  ['NetworkPolicy', 'networking.k8s.io', 'v1', 'networkpolicies', true],
  ['Ingress', 'networking.k8s.io', 'v1', 'ingresses', true],
  ['EndpointSlice', 'discovery.k8s.io', 'v1', 'endpointslices', true],
  ['Role', 'rbac.authorization.k8s.io', 'v1', 'roles', true],
  ['ClusterRole', 'rbac.authorization.k8s.io', 'v1', 'clusterroles', false],
  ['RoleBinding', 'rbac.authorization.k8s.io', 'v1', 'rolebindings', true],
  ['ClusterRoleBinding', 'rbac.authorization.k8s.io', 'v1', 'clusterrolebindings', false],
  ['ValidatingWebhookConfiguration', 'admissionregistration.k8s.io', 'v1', 'validatingwebhookconfigurations', false],
  ['CustomResourceDefinition', 'apiextensions.k8s.io', 'v1', 'customresourcedefinitions', false],
];

export const KINDS: ReadonlyMap<string, KindInfo> = new Map(
  rows.map(([kind, group, version, plural, namespaced]) => [kind, { kind, group, version, plural, namespaced }]),
);

export function kindInfo(kind: string): KindInfo | undefined {
  return KINDS.get(kind);
}

/** `v1`, `apps/v1`, … for a known kind. */
export function apiVersionOf(kind: string): string | undefined {
  const k = KINDS.get(kind);
  return k && (k.group ? `${k.group}/${k.version}` : k.version);
}

/** The API group of a known kind ("" for core). */
export function groupOf(kind: string): string | undefined {
  return KINDS.get(kind)?.group;
}

/** `/api/v1` or `/apis/<group>/<version>`. */
export function apiPrefix(apiVersion: string): string {
  return apiVersion.includes('/') ? `/apis/${apiVersion}` : `/api/${apiVersion}`;
}

/**
 * The collection path for creating `obj`; undefined for a kind we do not know.
 * Gatekeeper's ConstraintTemplates and constraints (cluster-scoped, plural = lowercase kind) are known too.
 */
export function collectionPath(obj: Pick<KubeObject, 'apiVersion' | 'kind' | 'metadata'>): string | undefined {
  if (obj.apiVersion.startsWith('templates.gatekeeper.sh/') && obj.kind === 'ConstraintTemplate') return `/apis/${obj.apiVersion}/constrainttemplates`;
  if (obj.apiVersion.startsWith('constraints.gatekeeper.sh/')) return `/apis/${obj.apiVersion}/${obj.kind.toLowerCase()}`;
  const k = KINDS.get(obj.kind);
  if (!k) return undefined;
  const prefix = apiPrefix(k.group ? `${k.group}/${k.version}` : k.version);
  return k.namespaced ? `${prefix}/namespaces/${obj.metadata.namespace ?? 'default'}/${k.plural}` : `${prefix}/${k.plural}`;
}
