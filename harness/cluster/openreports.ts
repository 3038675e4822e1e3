/**
 * The OpenReports CRDs (reports.openreports.io, clusterreports.openreports.io) in a control
 * plane: read from .cache/openreports/, where harness/go/openreports/build.sh copies them out
 * of the pinned Go module github.com/openreports/reports-api (never hand-copied), applied and
 * waited for until Established. Called by test/support/suite.ts and the demo.
 */
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Kube } from '../../lib/kube/client.ts';
import { apiGet, type KubeObject } from '../../lib/kube/raw.ts';
import { yamlDocs } from './gatekeeper.ts';
import { apply, remove, waitFor } from './objects.ts';

export const OPENREPORTS_DIR = join(import.meta.dirname, '../../.cache/openreports');

/** Why the CRDs cannot be installed (not built yet), or undefined. */
export function openReportsMissing(dir = OPENREPORTS_DIR): string | undefined {
  const files = existsSync(dir) ? readdirSync(dir).filter((f) => /^openreports\.io_.*\.yaml$/.test(f)) : [];
  return files.length >= 2 ? undefined : `the OpenReports CRDs are not in ${dir}: run \`bash harness/build.sh openreports\``;
}

export function openReportsCrds(dir = OPENREPORTS_DIR): KubeObject[] {
  const missing = openReportsMissing(dir);
  if (missing) throw new Error(missing);
  return readdirSync(dir)
    .filter((f) => /^openreports\.io_.*\.yaml$/.test(f))
    .sort()
    .flatMap((f) => yamlDocs(join(dir, f)))
    .filter((d) => d.kind === 'CustomResourceDefinition');
}

/** Apply the CRDs and wait until each is Established (bounded). */
export async function installOpenReports(kube: Kube, opts: { dir?: string; timeoutMs?: number } = {}): Promise<string[]> {
  const crds = openReportsCrds(opts.dir);
  for (const crd of crds) await apply(kube, crd);
  const site = { verb: 'get', resource: 'customresourcedefinitions.apiextensions.k8s.io' };
  for (const crd of crds) {
    await waitFor(
      `CRD ${crd.metadata.name} to be Established`,
      async () => {
        const got = await apiGet<{ status?: { conditions?: { type: string; status: string }[] } }>(
          kube,
          site,
          `/apis/apiextensions.k8s.io/v1/customresourcedefinitions/${crd.metadata.name}`,
        );
        return got.status?.conditions?.some((c) => c.type === 'Established' && c.status === 'True');
      },
      opts.timeoutMs ?? 30_000,
      100,
    );
  }
  return crds.map((c) => c.metadata.name);
}

/** Remove the CRDs (and with them every Report and ClusterReport); waits until they are gone. */
export async function uninstallOpenReports(kube: Kube, opts: { dir?: string; timeoutMs?: number } = {}): Promise<void> {
  const crds = openReportsCrds(opts.dir);
  for (const crd of crds) await remove(kube, crd);
  const site = { verb: 'list', resource: 'customresourcedefinitions.apiextensions.k8s.io' };
  await waitFor(
    'the OpenReports CRDs to be deleted',
    async () => {
      const list = await apiGet<{ items: KubeObject[] }>(kube, site, '/apis/apiextensions.k8s.io/v1/customresourcedefinitions');
      return !list.items.some((c) => c.metadata.name.endsWith('.openreports.io'));
    },
    opts.timeoutMs ?? 30_000,
    100,
  );
}
