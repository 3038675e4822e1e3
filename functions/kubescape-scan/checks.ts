/**
 * The kubescape scan's report as checks (lib/scan/checks.ts), for both modes.
 *
 * | report entry                             | policy            | rule               | result                                              |
 * | results.namespaces[] × NSA, MITRE        | `NSA` / `MITRE`   | `threshold`        | adjusted score ≥ threshold → pass; below → fail;    |
 * | (light and full) | | | no score: access denied or kubescape failed → error; no objects → skip |
 * | findings[] (full: failed control × object) | the control id (C-0017) | the control's name | fail; severity kubescape's (unknown → info)   |
 * | results.excluded[] (accepted operator    | the control id    | the control's name | skip (verdict EXCLUDED, with the exclusion's reason) |
 * |   requirements)                          |                   |                    |                                                     |
 *
 * Ids: control id and the object (kind, namespace, name, scope); per namespace and framework for the thresholds.
 */
import { checkId, oneLine, props, severityOf, uniqueIds } from '../../lib/scan/check-id.ts';
import type { Check, CheckResult } from '../../lib/scan/checks.ts';
import type { ScanReport } from '../../lib/scan/scaffold.ts';
import type { ExcludedFinding, Finding, NamespaceRow } from './judge.ts';

const SCAN = 'kubescape';

function thresholdChecks(row: NamespaceRow, thresholds: { nsa?: number; mitre?: number }): Check[] {
  return (['nsa', 'mitre'] as const).map((fw) => {
    const label = fw === 'nsa' ? 'NSA' : 'MITRE';
    const adjusted = row[`${fw}_adjusted`];
    const limit = thresholds[fw];
    const decided = row.score !== null && adjusted !== null;
    const result: CheckResult = decided
      ? limit !== undefined && adjusted! < limit
        ? 'fail'
        : 'pass'
      : row.resources === 0 && !/denied|not scanned/.test(row.note ?? '')
        ? 'skip'
        : 'error';
    const verdict = result === 'pass' ? 'COMPLIANT' : result === 'fail' ? 'BELOW_THRESHOLD' : result === 'skip' ? 'NO_OBJECTS' : 'UNDECIDED';
    return {
      id: checkId(SCAN, label, 'threshold', row.namespace),
      policy: label,
      rule: 'threshold',
      result,
      verdict,
      severity: result === 'fail' ? 'medium' : 'info',
      namespace: row.namespace,
      resources: [{ apiVersion: 'v1', kind: 'Namespace', name: row.namespace }],
      message: oneLine(
        decided
          ? `namespace ${row.namespace}: ${label} ${adjusted} (threshold ${limit ?? 'none'}), ${row.failed_controls[fw]} failed control(s)`
          : `namespace ${row.namespace}: ${label} not scored: ${row.note ?? 'no score'}`,
      ),
      properties: props({
        verdict,
        score: adjusted ?? undefined,
        raw_score: row[fw] ?? undefined,
        threshold: limit,
        failed_controls: row.failed_controls[fw],
        components: row.components.map((c) => c.name),
      }),
    };
  });
}

function findingCheck(f: Finding | ExcludedFinding): Check {
  const excluded = 'exclusion' in f;
  const res = f.resource;
  const attrs = f.remediation?.attributes.map((a) => a.name) ?? [];
  const verdict = excluded ? 'EXCLUDED' : 'FAILED';
  return {
    id: checkId(SCAN, f.control_id, 'control', res.kind, res.namespace, res.name, f.scope),
    policy: f.control_id,
    rule: f.control,
    title: f.control,
    ...(f.remediation?.advice ? { help: f.remediation.advice } : {}),
    result: excluded ? 'skip' : 'fail',
    verdict,
    severity: severityOf(f.severity),
    ...(res.namespace ? { namespace: res.namespace } : {}),
    resources: [
      { apiVersion: res.api_version, kind: res.kind, ...(res.namespace ? { namespace: res.namespace } : {}), name: res.name },
      ...(f.related ?? []).map((r) => ({ kind: r.kind, ...(r.namespace ? { namespace: r.namespace } : {}), name: r.name })),
    ],
    message: oneLine(
      `${f.control_id} ${f.control}: ${res.kind} ${res.namespace ? `${res.namespace}/` : ''}${res.name}` +
        `${excluded ? ` (excluded: ${(f as ExcludedFinding).exclusion.reason})` : ''}`,
    ),
    properties: props({
      verdict,
      frameworks: f.frameworks,
      scope: f.scope,
      component: f.component ? `${f.component.name} (${f.component.type})` : undefined,
      stacktic_attribute: attrs,
      advice: f.remediation?.advice,
      fix: f.fix.map((x) => `${x.path}=${x.value}`),
      evidence: [...f.failed_paths, ...f.delete_paths, ...f.review_paths].slice(0, 20),
      exclusion: excluded ? `${(f as ExcludedFinding).exclusion.id}: ${(f as ExcludedFinding).exclusion.reason}` : undefined,
    }),
  };
}

export function kubescapeChecks(report: ScanReport): Check[] {
  const results = (report.results ?? {}) as { namespaces?: NamespaceRow[]; excluded?: ExcludedFinding[] };
  const thresholds = ((report.summary ?? {}) as { thresholds?: { nsa?: number; mitre?: number } }).thresholds ?? {};
  return uniqueIds([
    ...(results.namespaces ?? []).flatMap((r) => thresholdChecks(r, thresholds)),
    ...((report.findings ?? []) as Finding[]).map(findingCheck),
    ...(results.excluded ?? []).map(findingCheck),
  ]);
}
