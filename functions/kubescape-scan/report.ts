/**
 * The kubescape scan's report, per mode (lib/scan/report-schema.ts), from judge.ts (judgeLight,
 * judgeFull) and scan.ts. Published as schema/kubescape-report.schema.json; the tests check every
 * report against it.
 */
import * as v from 'valibot';
import { atLeast, closed, count, describe, nullable, opt, percent, str, strs, type ReportSchemas } from '../../lib/scan/report-schema.ts';

const score = nullable(percent);
const fwScores = closed({ nsa: score, mitre: score });

const lightSummary = closed({
  namespaces: count,
  scored_namespaces: count,
  flagged_namespaces: strs,
  nsa_mean: score,
  mitre_mean: score,
  kubescape_nsa: score,
  kubescape_mitre: score,
  thresholds: closed({ nsa: percent, mitre: percent }),
  strategy: v.picklist(['per-namespace', 'split']),
  kubescape_runs: count,
});

const namespaceRow = atLeast({
  namespace: str,
  components: v.array(atLeast({ name: str, type: str })),
  nsa: score,
  mitre: score,
  nsa_adjusted: describe(score, 'with excluded failures counted as passed'),
  mitre_adjusted: score,
  resources: count,
  failed_controls: closed({ nsa: count, mitre: count }),
  score,
  flagged: v.boolean(),
  flags: strs,
  note: opt(str),
});

const run = atLeast({ namespaces: v.union([strs, v.literal('cluster')]), duration_ms: count, exit_code: nullable(v.number()), ok: v.boolean() });

const lightResults = atLeast({
  namespaces: v.array(namespaceRow),
  overall: atLeast({
    mean_over_namespaces: closed({ nsa: score, mitre: score, nsa_adjusted: score, mitre_adjusted: score }),
    kubescape: nullable(fwScores),
    kubescape_reported: opt(fwScores),
    kubescape_note: opt(str),
  }),
  flagged: strs,
  cluster_scope: str,
  runs: v.array(run),
});

const SEVERITIES = ['critical', 'high', 'medium', 'low', 'unknown'] as const;
const objectRef = atLeast({ kind: str, namespace: nullable(str), name: str });

const finding = atLeast({
  control_id: str,
  control: str,
  frameworks: strs,
  severity: v.picklist(SEVERITIES),
  resource: atLeast({ kind: str, namespace: nullable(str), name: str, api_version: str }),
  related: opt(v.array(objectRef)),
  component: nullable(atLeast({ name: str, type: str })),
  scope: v.picklist(['namespace', 'cluster']),
  fix: v.array(atLeast({ path: str, value: str })),
  failed_paths: strs,
  delete_paths: strs,
  review_paths: strs,
  remediation: nullable(atLeast({ attributes: v.array(atLeast({ name: str, current: v.unknown() })), advice: str })),
});

const fullSummary = closed({
  ...lightSummary.entries,
  findings: count,
  findings_by_severity: closed(Object.fromEntries(SEVERITIES.map((s) => [s, count]))),
  cluster_scope_findings: count,
  excluded: count,
  with_stacktic_remediation: count,
});

const fullResults = atLeast({
  ...lightResults.entries,
  excluded: v.array(v.object({ ...finding.entries, exclusion: atLeast({ id: str, reason: str, source: str }) })),
  cluster_scope_scanned: v.boolean(),
});

export const KUBESCAPE_REPORT: ReportSchemas = {
  light: { summary: lightSummary, results: lightResults },
  full: { summary: fullSummary, results: fullResults, finding },
};
