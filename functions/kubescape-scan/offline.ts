/**
 * The kubescape scan before deploy (`stack-scan kubescape --offline --manifests DIR`), no cluster:
 * the real kubescape on the rendered manifests (files, not the API server), judged per stack
 * namespace exactly as the in-cluster scan judges it (judge.ts, full: scores and one finding per
 * failed control × object), plus why its scores can differ from the in-cluster scan of the same
 * objects (`results.offline_differences`):
 *   - the frameworks' controls whose scanning scope (kubescape's own, in the framework artifacts)
 *     is the cluster or the cloud only: the API server's flags, audit logs, etcd encryption, the
 *     kubelet, admission webhooks, … They are not evaluated on files; in the cluster they are, and
 *     each that fails there lowers every namespace's score;
 *   - controls kubescape skipped on files, with what it says;
 *   - stack namespaces with no object in the manifests (offline there is nothing to score);
 *   - what the cluster adds that the files lack: objects made by controllers and the API server
 *     (Pods and ReplicaSets of a Deployment, each namespace's `default` ServiceAccount and
 *     `kube-root-ca.crt` ConfigMap) and the fields it defaults; kubescape in the cluster scores those
 *     too, so per namespace the number of objects each side saw is listed.
 */
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { ScanError, type ReportError } from '../../lib/errors.ts';
import type { ScanDefinition, ScanOutcome } from '../../lib/scan/scaffold.ts';
import { namespaceOfResource, runKubescape, type KsReport } from './kubescape.ts';
import { loadTopology } from '../../lib/topology/settings.ts';
import { kubescapeChecks } from './checks.ts';
import { BUILTIN_EXCLUSIONS, loadExclusionsFile, type ExclusionRule } from './exclusions.ts';
import { judgeFull } from './judge.ts';
import { BUNDLED_ARTIFACTS_DIR, FRAMEWORKS, kubescapeSettingsFromEnv, type KubescapeSettings } from './settings.ts';

export interface OfflineDifferences {
  cluster_only_controls: { id: string; name: string; frameworks: string[]; scope: string[] }[];
  skipped_controls: { id: string; name: string; info: string | null }[];
  namespaces_without_objects: string[];
  objects_per_namespace: Record<string, number>;
  why: string[];
}

/** The frameworks' controls kubescape evaluates only in a cluster (or a cloud), from the framework artifacts' `scanningScope`. */
export function clusterOnlyControls(artifactsDir: string, frameworks: readonly string[]): OfflineDifferences['cluster_only_controls'] {
  const byId = new Map<string, { id: string; name: string; frameworks: string[]; scope: string[] }>();
  for (const fw of frameworks) {
    let doc: { name?: string; controls?: { controlID?: string; name?: string; scanningScope?: { matches?: string[] } }[] };
    try {
      doc = JSON.parse(readFileSync(join(artifactsDir, `${fw}.json`), 'utf8'));
    } catch {
      continue;
    }
    for (const c of doc.controls ?? []) {
      const scope = c.scanningScope?.matches ?? [];
      if (!c.controlID || scope.includes('file')) continue;
      const e = byId.get(c.controlID) ?? { id: c.controlID, name: c.name ?? '', frameworks: [], scope };
      e.frameworks.push(doc.name ?? fw);
      byId.set(c.controlID, e);
    }
  }
  return [...byId.values()].sort((a, b) => a.id.localeCompare(b.id, 'en', { numeric: true }));
}

/** Why the offline scores may differ from the in-cluster scan's, from the offline report and the framework artifacts. */
export function offlineDifferences(
  report: KsReport | null,
  namespaces: string[],
  clusterOnly: OfflineDifferences['cluster_only_controls'] = [],
): OfflineDifferences {
  const counts: Record<string, number> = Object.create(null);
  for (const ns of namespaces) counts[ns] = 0;
  const skipped: OfflineDifferences['skipped_controls'] = [];
  if (report) {
    for (const r of report.resources.values()) {
      const ns = namespaceOfResource(r);
      if (ns && Object.hasOwn(counts, ns)) counts[ns]++;
    }
    for (const c of report.controls.values()) if (c.status === 'skipped') skipped.push({ id: c.id, name: c.name, info: c.info });
    skipped.sort((a, b) => a.id.localeCompare(b.id, 'en', { numeric: true }));
  }
  const empty = namespaces.filter((ns) => counts[ns] === 0);
  const evaluated = new Set(report ? [...report.controls.keys()] : []);
  const notOnFiles = clusterOnly.filter((c) => !evaluated.has(c.id));
  const why = [
    ...(notOnFiles.length
      ? [
          `${notOnFiles.length} control(s) of the frameworks are evaluated only in a cluster (kubescape's scanning scope: ` +
            `${notOnFiles.map((c) => `${c.id} ${c.name}`).join('; ')}): not on files; in the cluster each that fails lowers every namespace's score`,
        ]
      : []),
    ...(skipped.length
      ? [
          `${skipped.length} control(s) were skipped on files (kubescape needs the cluster for them: ${skipped
            .slice(0, 5)
            .map((c) => c.id)
            .join(', ')}${skipped.length > 5 ? ', …' : ''}); in the cluster they are scored`,
        ]
      : []),
    ...(empty.length
      ? [`no object of namespace(s) ${empty.join(', ')} is in the manifests: offline they are not scored, in the cluster their objects are`]
      : []),
    "the cluster holds objects the manifests do not (Pods and ReplicaSets made by controllers, each namespace's default ServiceAccount and " +
      ("kube-root-ca.crt ConfigMap) and fields the API server defaults; kubescape scores them in the cluster, so a namespace's score there weighs more " +
        'objects (objects_per_namespace: what the files hold)'),
  ];
  return { cluster_only_controls: notOnFiles, skipped_controls: skipped, namespaces_without_objects: empty, objects_per_namespace: counts, why };
}

export function kubescapeOfflineScan(o: { manifests: string; settings?: KubescapeSettings }): ScanDefinition<'offline'> {
  return {
    name: 'kubescape',
    path: '/kubescape_scan',
    modes: ['offline'],
    defaultMode: 'offline',
    checks: kubescapeChecks,
    timeoutMs: { offline: 600_000 },
    async run({ signal, progress }): Promise<ScanOutcome> {
      const settings = o.settings ?? kubescapeSettingsFromEnv();
      let st;
      try {
        st = statSync(o.manifests);
      } catch {
        throw new ScanError(422, {
          code: 'file_unreadable',
          message: `${o.manifests} does not exist; give --manifests the directory (or file) of rendered manifests`,
          file: o.manifests,
          setting: '--manifests',
        });
      }
      if (!st.isDirectory() && !st.isFile())
        throw new ScanError(422, {
          code: 'file_unreadable',
          message: `${o.manifests} is neither a file nor a directory`,
          file: o.manifests,
          setting: '--manifests',
        });
      const exclusions: ExclusionRule[] = [...BUILTIN_EXCLUSIONS, ...(settings.exclusionsFile ? await loadExclusionsFile(settings.exclusionsFile) : [])];
      const topology = await loadTopology(settings.topology);
      progress?.({ step: 'kubescape on the manifests', done: 0, total: 1 });
      // Before deploy nothing is downloaded: without KUBESCAPE_ARTIFACTS_DIR, the artifacts the repository carries.
      const artifactsDir = settings.artifactsDir ?? BUNDLED_ARTIFACTS_DIR;
      const run = await runKubescape({
        bin: settings.bin,
        frameworks: [...FRAMEWORKS],
        artifactsDir,
        paths: [o.manifests],
        signal,
        timeoutMs: settings.runTimeoutMs,
      });
      progress?.({ step: 'kubescape on the manifests', done: 1, total: 1 });
      const errors: ReportError[] = run.failure
        ? [
            {
              step: 'kubescape on the manifests',
              code: run.tool.missing ? 'tool_missing' : 'tool_failed',
              message: `${run.failure}${run.tool.missing ? ' (set KUBESCAPE_BIN, or build it: bash harness/build.sh kubescape)' : ''}`,
            },
          ]
        : [];
      const judged = judgeFull({
        topology,
        observations: topology.namespaces.map((ns) => ({ namespace: ns, report: run.report, failure: run.report ? null : run.failure })),
        combined: run.report,
        clusterWide: null,
        exclusions,
        thresholds: settings.thresholds,
        forbidden: [],
      });
      const differences = offlineDifferences(run.report, topology.namespaces, clusterOnlyControls(artifactsDir, FRAMEWORKS));
      return {
        score: judged.score,
        summary: {
          ...judged.summary,
          cluster_only_controls: differences.cluster_only_controls.length,
          skipped_controls: differences.skipped_controls.length,
          namespaces_without_objects: differences.namespaces_without_objects.length,
        },
        results: { ...judged.results, offline_differences: differences },
        findings: judged.findings,
        errors,
        sources: {
          metadata: settings.topology.metadata.path,
          manifests: o.manifests,
          cluster: null,
          kubescape: { bin: settings.bin, version: run.report?.kubescapeVersion ?? null, frameworks: ['NSA', 'MITRE'], artifacts: artifactsDir },
          exclusions: { builtin: BUILTIN_EXCLUSIONS.length, file: settings.exclusionsFile ?? null, rules: exclusions.length },
        },
      };
    },
  };
}
