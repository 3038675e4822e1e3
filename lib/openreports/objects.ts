/**
 * A run's checks as OpenReports objects (pure): one `Report` (openreports.io/v1alpha1) per
 * namespace with checks, one `ClusterReport` for the stack with the checks that belong to
 * no namespace, the score and the run's totals. Names are deterministic
 * (`stack-scan-<scan>-<mode>`), so a run replaces the previous report of the same scan,
 * mode and namespace; labels as a producer sets them; `source` is `stack-scan-<scan>`.
 *
 * A result: policy, rule, result, severity, one-line message, resources, and properties
 * (the check's id, verdict, location, what to set: strings only). No time in a result,
 * so an unchanged state is an unchanged object (not rewritten).
 *
 * Size: an object larger than the budget (etcd refuses requests over 1.5 MiB) keeps its
 * most important results (fail, error, warn, skip, pass; by severity) and says in the
 * annotation `stack-scan.io/results-omitted` how many were left out, per result; `summary`
 * always counts exactly the results the object holds.
 */
import { createHash } from 'node:crypto';
import { MANAGED_BY_KEY, MANAGED_BY_VALUE, MODE_LABEL, SCAN_LABEL } from '../k8s/labels.ts';
import type { Check, CheckResult } from '../scan/checks.ts';

export const OPENREPORTS_API = 'openreports.io/v1alpha1';
export const RESULTS: readonly CheckResult[] = ['pass', 'fail', 'warn', 'error', 'skip'];
const RESULT_RANK: Record<CheckResult, number> = { fail: 0, error: 1, warn: 2, skip: 3, pass: 4 };
const SEVERITY_RANK: Record<string, number> = { critical: 0, high: 1, medium: 2, low: 3, info: 4 };

export interface OrResult {
  source: string;
  policy: string;
  rule: string;
  result: CheckResult;
  severity: Check['severity'];
  message: string;
  resources: { apiVersion?: string; kind: string; namespace?: string; name: string }[];
  properties: Record<string, string>;
  category?: string;
  scored: boolean;
}

export interface OrObject {
  apiVersion: typeof OPENREPORTS_API;
  kind: 'Report' | 'ClusterReport';
  metadata: { name: string; namespace?: string; labels: Record<string, string>; annotations: Record<string, string>; resourceVersion?: string };
  source: string;
  summary: Record<CheckResult, number>;
  results: OrResult[];
}

export const reportName = (scan: string, mode: string) => `stack-scan-${scan}-${mode}`;
export const sourceName = (scan: string) => `stack-scan-${scan}`;

export function toResult(c: Check, source: string): OrResult {
  const properties: Record<string, string> = { ...c.properties, id: c.id, verdict: c.verdict };
  if (c.location) properties.location = `${c.location.file}${c.location.line ? `:${c.location.line}` : ''}${c.location.column ? `:${c.location.column}` : ''}`;
  if (c.help) properties.help = c.help;
  if (c.namespace) properties.namespace = c.namespace;
  return {
    source,
    policy: c.policy,
    rule: c.rule,
    result: c.result,
    severity: c.severity,
    message: c.message,
    resources: c.resources.map((r) => ({
      ...(r.apiVersion ? { apiVersion: r.apiVersion } : {}),
      kind: r.kind,
      ...(r.namespace ? { namespace: r.namespace } : {}),
      name: r.name,
    })),
    properties,
    ...(c.title ? { category: c.title.slice(0, 200) } : {}),
    scored: c.result !== 'skip',
  };
}

export const countResults = (results: { result: CheckResult }[]) => {
  const out = Object.fromEntries(RESULTS.map((r) => [r, 0])) as Record<CheckResult, number>;
  for (const r of results) out[r.result]++;
  return out;
};

/** The results that fit in `maxBytes` of JSON, most important first, and how many per result were left out. */
export function capResults(results: OrResult[], maxBytes: number): { kept: OrResult[]; omitted: Record<CheckResult, number> | null } {
  let size = 0;
  for (const r of results) size += JSON.stringify(r).length + 1;
  if (size <= maxBytes) return { kept: results, omitted: null };
  const order = results
    .map((r, i) => ({ r, i }))
    .sort((a, b) => RESULT_RANK[a.r.result] - RESULT_RANK[b.r.result] || (SEVERITY_RANK[a.r.severity] ?? 5) - (SEVERITY_RANK[b.r.severity] ?? 5) || a.i - b.i);
  const keep = new Set<number>();
  size = 0;
  for (const { r, i } of order) {
    const n = JSON.stringify(r).length + 1;
    if (size + n > maxBytes) break;
    size += n;
    keep.add(i);
  }
  const kept = results.filter((_, i) => keep.has(i));
  const omitted = countResults(results.filter((_, i) => !keep.has(i)));
  return { kept, omitted };
}

export interface BuildInput {
  scan: string;
  mode: string;
  checks: Check[];
  score: number | null;
  runId: string;
  startedAt: string;
  maxBytes: number;
  /** Namespaces where no Report can be written (they do not exist): their checks go into the ClusterReport. */
  homeless?: ReadonlySet<string>;
}

const labelsOf = (scan: string, mode: string) => ({
  [MANAGED_BY_KEY]: MANAGED_BY_VALUE,
  'app.kubernetes.io/part-of': 'stack-scan',
  [SCAN_LABEL]: scan,
  [MODE_LABEL]: mode,
});

function objectOf(kind: OrObject['kind'], input: BuildInput, namespace: string | undefined, checks: Check[], extra: Record<string, string>): OrObject {
  const source = sourceName(input.scan);
  const { kept, omitted } = capResults(
    checks.map((c) => toResult(c, source)),
    input.maxBytes,
  );
  const annotations: Record<string, string> = { ...extra };
  if (omitted) {
    const total = RESULTS.reduce((n, r) => n + omitted[r], 0);
    annotations['stack-scan.io/results-omitted'] =
      `${total} of ${checks.length} results left out to stay under the object size limit ` +
      `(${input.maxBytes} bytes, STACK_SCAN_REPORTS_MAX_BYTES): ${RESULTS.filter((r) => omitted[r])
        .map((r) => `${omitted[r]} ${r}`)
        .join(', ')}; the scan's answer lists them all`;
    annotations['stack-scan.io/results-omitted-count'] = String(total);
  }
  return {
    apiVersion: OPENREPORTS_API,
    kind,
    metadata: { name: reportName(input.scan, input.mode), ...(namespace ? { namespace } : {}), labels: labelsOf(input.scan, input.mode), annotations },
    source,
    summary: countResults(kept),
    results: kept,
  };
}

/**
 * Content hash of an object as this process builds it (what decides whether it must be rewritten):
 * its key order is fixed by construction, so plain JSON is enough (and cheap).
 */
export function contentHash(o: Pick<OrObject, 'metadata' | 'summary' | 'results'>): string {
  return createHash('sha256')
    .update(JSON.stringify([o.metadata.annotations ?? {}, o.summary, o.results]))
    .digest('hex')
    .slice(0, 24);
}

/** One Report per namespace with checks (sorted), keyed by namespace. */
export function buildReports(input: BuildInput): Map<string, OrObject> {
  const byNs = new Map<string, Check[]>();
  for (const c of input.checks) {
    if (!c.namespace || input.homeless?.has(c.namespace)) continue;
    const list = byNs.get(c.namespace);
    if (list) list.push(c);
    else byNs.set(c.namespace, [c]);
  }
  const out = new Map<string, OrObject>();
  for (const ns of [...byNs.keys()].sort()) out.set(ns, objectOf('Report', input, ns, byNs.get(ns)!, {}));
  return out;
}

/** The ClusterReport: checks of no namespace (and of namespaces without a Report), the score and the run's totals. */
export function buildClusterReport(input: BuildInput): OrObject {
  const mine = input.checks.filter((c) => !c.namespace || input.homeless?.has(c.namespace));
  const totals = countResults(input.checks);
  return objectOf('ClusterReport', input, undefined, mine, {
    'stack-scan.io/score': input.score === null ? 'undecided' : String(input.score),
    'stack-scan.io/totals': JSON.stringify(totals),
    'stack-scan.io/namespaces': JSON.stringify(
      [...new Set(input.checks.map((c) => c.namespace).filter((n): n is string => !!n && !input.homeless?.has(n)))].sort(),
    ),
    ...(input.homeless?.size ? { 'stack-scan.io/namespaces-missing': [...input.homeless].sort().join(',') } : {}),
  });
}
