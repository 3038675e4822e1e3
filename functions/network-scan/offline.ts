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
import { checkId, oneLine, props, stackRelative } from '../../lib/scan/check-id.ts';
import type { Check } from '../../lib/scan/checks.ts';
import type { ScanDefinition, ScanOutcome, ScanReport } from '../../lib/scan/scaffold.ts';
import { networkChecks } from './checks.ts';
import { networkGraph } from './graph.ts';
import type { NamespaceInfo } from '../../lib/k8s/types.ts';
import { renderPolicy } from '../../lib/topology/render.ts';
import { STACK_NAMESPACE_LABEL } from '../../lib/topology/stacktic-rules.ts';
import { PolicyEngine } from './engine.ts';
import { judgeLight } from './light/index.ts';
import type { ClusterSnapshot } from './light/types.ts';

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

interface VsMetadata {
  missing: { name: string; namespace: string; link?: { from: string; to: string }; rule?: string }[];
  drifted: { name: string; namespace: string; file?: string; drift: string[] }[];
  extra: { name: string; namespace: string; file?: string }[];
}

const NP = { apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy' } as const;

/**
 * What only the offline scan says, as checks (beside the light checks of functions/network-scan/checks.ts):
 *   `<file>` `well-formed`          each malformed-file warning (duplicate key …): fail, medium, at its line and column
 *   `<ns>/<name>` `generated`       a policy the metadata implies that the folder lacks: fail, high
 *   `<ns>/<name>` `as-metadata`     a generated file that differs from what the metadata implies: fail, medium
 *   `<ns>/<name>` `implied`         a generated file the metadata does not imply: warn, low
 */
export function offlineChecks(report: ScanReport): Check[] {
  const metadata = report.sources?.metadata;
  const res = (report.results ?? {}) as { malformed?: MalformedFile[]; generated_vs_metadata?: VsMetadata };
  const out: Check[] = [];
  for (const m of res.malformed ?? []) {
    const file = stackRelative(m.file, metadata);
    out.push({
      id: checkId('network', file, 'well-formed', m.line, m.column),
      policy: file,
      rule: 'well-formed',
      title: 'generated file is well-formed YAML',
      result: 'fail',
      verdict: 'MALFORMED',
      severity: 'medium',
      resources: [],
      message: oneLine(`${file}${m.line ? `:${m.line}:${m.column}` : ''}: ${m.message}`),
      location: { file, ...(m.line ? { line: m.line, column: m.column } : {}) },
      properties: props({ verdict: 'MALFORMED', fix: 'regenerate the file, or remove the repeated key (kubectl apply keeps the last value silently)' }),
    });
  }
  const vs = res.generated_vs_metadata;
  for (const x of vs?.missing ?? []) {
    const policy = `${x.namespace}/${x.name}`;
    out.push({
      id: checkId('network', policy, 'generated'),
      policy,
      rule: 'generated',
      title: 'the metadata implies this NetworkPolicy',
      result: 'fail',
      verdict: 'NOT_GENERATED',
      severity: 'high',
      namespace: x.namespace,
      resources: [{ ...NP, namespace: x.namespace, name: x.name }],
      message: oneLine(`the metadata implies ${policy}${x.link ? ` (link ${x.link.from} -> ${x.link.to})` : ''}, the generated folder has no such policy`),
      ...(typeof metadata === 'string' ? { location: { file: stackRelative(metadata, metadata) } } : {}),
      properties: props({ verdict: 'NOT_GENERATED', derivation_rule: x.rule, fix: 'regenerate the stack with Stacktic' }),
    });
  }
  for (const x of vs?.drifted ?? []) {
    const policy = `${x.namespace}/${x.name}`;
    const file = x.file ? stackRelative(x.file, metadata) : undefined;
    out.push({
      id: checkId('network', policy, 'as-metadata'),
      policy,
      rule: 'as-metadata',
      title: 'the generated NetworkPolicy is what the metadata implies',
      result: 'fail',
      verdict: 'DRIFTED_FROM_METADATA',
      severity: 'medium',
      namespace: x.namespace,
      resources: [{ ...NP, namespace: x.namespace, name: x.name }],
      message: oneLine(`${policy} differs from what the metadata implies: ${x.drift.join('; ')}`),
      ...(file ? { location: { file } } : {}),
      properties: props({ verdict: 'DRIFTED_FROM_METADATA', drift: x.drift }),
    });
  }
  for (const x of vs?.extra ?? []) {
    const policy = `${x.namespace}/${x.name}`;
    const file = x.file ? stackRelative(x.file, metadata) : undefined;
    out.push({
      id: checkId('network', policy, 'implied'),
      policy,
      rule: 'implied',
      title: 'the metadata implies this generated NetworkPolicy',
      result: 'warn',
      verdict: 'NOT_IMPLIED',
      severity: 'low',
      namespace: x.namespace,
      resources: [{ ...NP, namespace: x.namespace, name: x.name }],
      message: oneLine(`${policy} is generated but the metadata does not imply it`),
      ...(file ? { location: { file } } : {}),
      properties: props({ verdict: 'NOT_IMPLIED' }),
    });
  }
  return out;
}

export function networkOfflineScan(settings: OfflineNetworkSettings): ScanDefinition<'offline'> {
  return {
    name: 'network',
    path: '/network_scan',
    modes: ['offline'],
    defaultMode: 'offline',
    checks: (report) => [...networkChecks(report), ...offlineChecks(report)],
    graph: networkGraph,
    async run({ progress }): Promise<ScanOutcome> {
      const limits = settings.limits ?? DEFAULT_LIMITS;
      progress?.({ step: 'reading the stack metadata' });
      const topology = await loadTopology({ metadata: { path: settings.metadata, setting: '--metadata', limits }, limits });
      progress?.({ step: 'reading the generated NetworkPolicy files' });
      const generated = await loadNetworkPolicyDir({ path: settings.policies, setting: '--policies', limits });
      const stackNs = new Set(topology.namespaces);
      const policies = generated.policies.map((e) => renderPolicy(e, stackNs));
      const names = new Set([...CLUSTER_NAMESPACES, ...topology.namespaces, ...generated.policies.map((p) => p.namespace)]);
      const namespaces: NamespaceInfo[] = [...names].map((n) => ({
        name: n,
        labels: { [NAMESPACE_NAME_LABEL]: n, ...(stackNs.has(n) ? { [STACK_NAMESPACE_LABEL]: n } : {}) },
      }));
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
        missing: vs.results.expected
          .filter((r) => r.status === 'missing')
          .map((r) => ({ name: r.name, namespace: r.namespace, ...(r.link ? { link: r.link } : {}), ...(r.rule ? { rule: r.rule } : {}) })),
        drifted: vs.results.expected
          .filter((r) => r.status === 'drifted')
          .map((r) => ({
            name: r.name,
            namespace: r.namespace,
            file: generated.policies.find((p) => p.namespace === r.namespace && (p.origin?.name ?? p.name) === r.cluster_name)?.origin?.file,
            drift: r.drift ?? [],
          })),
        extra: vs.results.extra.map((x) => ({
          ...x,
          file: generated.policies.find((p) => p.namespace === x.namespace && (p.origin?.name ?? p.name) === x.name)?.origin?.file,
        })),
      };
      const warnings = [...topology.warnings, ...(generated.warnings ?? [])];
      const malformed = malformedOf(warnings, settings.policies);
      return {
        score: light.score,
        summary: {
          ...light.summary,
          generated_vs_metadata: {
            expected: against.expected_from_metadata,
            found: against.found,
            missing: against.missing.length,
            drifted: against.drifted.length,
            extra: against.extra.length,
          },
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
          offline:
            `no cluster: the generated files judged as applied unchanged, in the stack's namespaces labelled ${STACK_NAMESPACE_LABEL} (and ` +
            `${CLUSTER_NAMESPACES.join(', ')})`,
          warnings,
        },
      };
    },
  };
}
