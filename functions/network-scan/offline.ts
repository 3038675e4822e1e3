/**
 * The network scan before deploy (`stack-scan network --offline`), no cluster: Stacktic's
 * generated NetworkPolicy folder judged exactly as light mode judges it once applied, plus
 * what only the files can say.
 *
 *   as applied    the folder's policies, rendered as `kubectl apply` would create them, in the
 *                 stack's namespaces labelled as Stacktic labels them (plus a cluster's own
 *                 default, kube-system, kube-public, kube-node-lease): judgeLight over the same
 *                 expected set, so counts, rule findings and link coverage agree with the
 *                 in-cluster light scan of the same files applied; each declared link goes
 *                 through the NetworkPolicy engine over the files, default-deny policies included
 *                 (`results.links[].live`: would the generated policies allow it).
 *   vs metadata   the folder against what the metadata implies (Stacktic's generator rules,
 *                 lib/topology/expected.ts deriveExpected): missing, extra and drifted files
 *                 (`results.generated_vs_metadata`).
 *   malformed     what the files' YAML got wrong (duplicate keys: file, line, column), from the
 *                 loader's warnings (`results.malformed`).
 */
import { loadNetworkPolicyDir, deriveExpected } from '../../lib/topology/expected.ts';
import { DEFAULT_LIMITS, type FileLimits } from '../../lib/topology/files.ts';
import { loadTopology } from '../../lib/topology/settings.ts';
import { NAMESPACE_NAME_LABEL } from '../../lib/k8s/types.ts';
import type { ScanDefinition, ScanOutcome } from '../../lib/scan/scaffold.ts';
import { PolicyEngine, type NamespaceInfo } from './engine.ts';
import { judgeLight, type ClusterSnapshot } from './light.ts';
import { renderPolicy, STACK_NAMESPACE_LABEL } from './render.ts';

export interface OfflineNetworkSettings {
  /** stack-metadata.yaml. */
  metadata: string;
  /** Stacktic's generated networkpolicy/ folder. */
  policies: string;
  limits?: FileLimits;
}

/** Namespaces every cluster has: selectors aimed at them match something in the cluster, so they do offline too. */
export const CLUSTER_NAMESPACES = ['default', 'kube-system', 'kube-public', 'kube-node-lease'];

export interface MalformedFile {
  file: string;
  line?: number;
  column?: number;
  message: string;
}

/** `path:line:col: message` warnings of the file loader (duplicate keys, not a NetworkPolicy). */
export function malformedOf(warnings: string[], dir: string): MalformedFile[] {
  const out: MalformedFile[] = [];
  for (const w of warnings) {
    if (!w.startsWith(dir)) continue;
    const m = /^(.*?\.ya?ml):(?:(\d+):(\d+):)?\s*(.*)$/i.exec(w);
    if (!m) continue;
    out.push({ file: m[1], ...(m[2] ? { line: Number(m[2]), column: Number(m[3]) } : {}), message: m[4] });
  }
  return out;
}

export function networkOfflineScan(settings: OfflineNetworkSettings): ScanDefinition<'offline'> {
  return {
    name: 'network',
    path: '/network_scan',
    modes: ['offline'],
    defaultMode: 'offline',
    async run({ progress }): Promise<ScanOutcome> {
      const limits = settings.limits ?? DEFAULT_LIMITS;
      progress?.({ step: 'reading the stack metadata' });
      const topology = await loadTopology({ metadata: { path: settings.metadata, setting: '--metadata', limits }, limits });
      progress?.({ step: 'reading the generated NetworkPolicy files' });
      const generated = await loadNetworkPolicyDir({ path: settings.policies, setting: '--policies', limits });
      const stackNs = new Set(topology.namespaces);
      const policies = generated.policies.map((e) => renderPolicy(e, stackNs));
      const names = new Set([...CLUSTER_NAMESPACES, ...topology.namespaces, ...generated.policies.map((p) => p.namespace)]);
      const namespaces: NamespaceInfo[] = [...names].map((n) => ({ name: n, labels: { [NAMESPACE_NAME_LABEL]: n, ...(stackNs.has(n) ? { [STACK_NAMESPACE_LABEL]: n } : {}) } }));
      const snapshot: ClusterSnapshot = { policies, namespaces };
      progress?.({ step: 'judging the files as applied', done: 0, total: 2 });
      const engine = new PolicyEngine(policies, namespaces);
      const light = judgeLight(topology, generated, snapshot, engine);
      progress?.({ step: 'comparing the files with the metadata', done: 1, total: 2 });
      const derived = deriveExpected(topology, settings.metadata);
      const vs = judgeLight(topology, derived, snapshot, engine);
      progress?.({ step: 'done', done: 2, total: 2 });
      const against = {
        expected_from_metadata: vs.summary.expected,
        found: vs.summary.found + vs.summary.renamed,
        missing: vs.results.expected.filter((r) => r.status === 'missing').map((r) => ({ name: r.name, namespace: r.namespace, ...(r.link ? { link: r.link } : {}), ...(r.rule ? { rule: r.rule } : {}) })),
        drifted: vs.results.expected.filter((r) => r.status === 'drifted').map((r) => ({ name: r.name, namespace: r.namespace, file: generated.policies.find((p) => p.namespace === r.namespace && (p.origin?.name ?? p.name) === r.cluster_name)?.origin?.file, drift: r.drift ?? [] })),
        extra: vs.results.extra.map((x) => ({ ...x, file: generated.policies.find((p) => p.namespace === x.namespace && (p.origin?.name ?? p.name) === x.name)?.origin?.file })),
      };
      const warnings = [...topology.warnings, ...(generated.warnings ?? [])];
      const malformed = malformedOf(warnings, settings.policies);
      return {
        score: light.score,
        summary: {
          ...light.summary,
          generated_vs_metadata: { expected: against.expected_from_metadata, found: against.found, missing: against.missing.length, drifted: against.drifted.length, extra: against.extra.length },
          malformed_files: new Set(malformed.map((m) => m.file)).size,
        },
        results: { ...light.results, generated_vs_metadata: against, malformed },
        errors: [],
        sources: {
          expected_from: generated.source,
          expected_file: generated.file,
          metadata: settings.metadata,
          policies: settings.policies,
          cluster: null,
          offline: `no cluster: the generated files judged as applied unchanged, in the stack's namespaces labelled ${STACK_NAMESPACE_LABEL} (and ${CLUSTER_NAMESPACES.join(', ')})`,
          warnings,
        },
      };
    },
  };
}
