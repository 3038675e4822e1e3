/**
 * The OPA scan's report, per mode (lib/scan/report-schema.ts), from light.ts (judgeLight) and
 * judge.ts (full mode). Three shapes of summary: Gatekeeper installed, not installed, or not
 * decidable. Published as schema/opa-report.schema.json; the tests check every report against it.
 */
import * as v from 'valibot';
import { atLeast, closed, count, counts, describe, nullable, open, opt, percent, str, strs, type ReportSchemas } from '../../lib/scan/report-schema.ts';

const VERDICTS = ['ENFORCING', 'NOT_ENFORCING', 'OVER_ENFORCING', 'BROKEN', 'AUDIT_ONLY', 'UNTESTED'] as const;
const part = v.picklist(['presence', 'webhooks', 'templates', 'constraints', 'namespaces', 'workloads', 'services']);

const signals = atLeast({
  crds: nullable(v.boolean()),
  webhooks: v.array(atLeast({ configuration: str, name: str, failurePolicy: str, target: str })),
  deployments: v.array(atLeast({ name: str, namespace: str, ready: count, desired: count })),
  pods: v.array(atLeast({ name: str, namespace: str, ready: v.boolean(), phase: str, role: v.picklist(['webhook', 'audit', 'other']) })),
  services: v.array(atLeast({ namespace: str, name: str, found: nullable(v.boolean()) })),
});

const undecidedSummary = closed({ installed: v.null(), undecided: str }, 'Whether Gatekeeper is installed could not be decided (reads refused or failed).');
const absentSummary = closed({ installed: v.literal(false), finding: str }, 'Gatekeeper is not installed.');
const installedEntries = {
  installed: v.literal(true),
  namespace: nullable(str),
  healthy: describe(nullable(v.boolean()), 'null when part of the health could not be verified (health_unverified says what)'),
  health_unverified: opt(strs),
  templates: count,
  constraints: count,
  constraints_with_violations: count,
  constraints_not_audited: count,
  total_violations: count,
  stack_namespaces: count,
  uncovered_namespaces: strs,
  finding: opt(str),
  undecided: opt(str),
};
const installedSummary = closed(installedEntries);

const undecidedResults = atLeast({ signals, incomplete: v.array(part) });
const absentResults = atLeast({ signals });
const installedResults = atLeast({
  health: atLeast({
    problems: strs,
    unverified: strs,
    webhook: nullable(open('the Gatekeeper validating webhook as read')),
    pods: v.array(v.unknown()),
    deployments: v.array(v.unknown()),
    services: v.array(v.unknown()),
    crds: nullable(v.boolean()),
  }),
  templates: atLeast({ total: count, names: strs, items: v.array(atLeast({ name: str, kind: str, created: nullable(v.boolean()), errors: strs })) }),
  constraints: v.array(
    atLeast({
      name: str,
      kind: str,
      enforcementAction: str,
      match: open("the constraint's match block (kinds, namespaces, excludedNamespaces, labelSelector, namespaceSelector)"),
      enforced: v.boolean(),
      totalViolations: nullable(count),
      auditTimestamp: nullable(str),
    }),
  ),
  violations: atLeast({
    by_constraint: describe(v.record(v.string(), v.unknown()), 'Open-ended: audited violations by constraint name'),
    by_namespace: describe(v.record(v.string(), v.unknown()), 'Open-ended: audited violations by namespace name ((cluster) for cluster-scoped objects)'),
  }),
  namespace_coverage: v.array(atLeast({ namespace: str, exists: nullable(v.boolean()), constraints: strs })),
  incomplete: opt(v.array(part)),
});

const admission = atLeast({ admitted: v.boolean(), denied_by: strs, warnings: strs, message: opt(str) });
const objectRef = open('the object replayed: kind, namespace, name');

const finding = atLeast({
  constraint: str,
  kind: str,
  enforcementAction: str,
  verdict: v.picklist(VERDICTS),
  reason: str,
  evidence: opt(
    atLeast({ method: v.picklist(['generator', 'replay']), invalid_object: opt(objectRef), valid_object: opt(nullable(objectRef)), valid_untested: opt(str) }),
  ),
  resource_kind: opt(str),
  namespace: opt(str),
  valid: opt(nullable(admission)),
  invalid: opt(admission),
  conflicts: opt(v.array(atLeast({ with: str, message: str }))),
  warned: opt(v.boolean()),
});

const fullSummary = closed({
  ...installedEntries,
  light_score: nullable(percent),
  enforcement_score: describe(nullable(percent), 'constraints that enforce over decidable ones, in %'),
  verdicts: counts(VERDICTS),
  decided_by: counts(['generator', 'replay', 'action', 'undecided']),
  conflicts: count,
  orphans_swept: count,
});

const fullResults = atLeast({ ...installedResults.entries, conflicts: v.array(atLeast({ constraint: str, with: str, message: str })) });

export const OPA_REPORT: ReportSchemas = {
  light: { summary: v.union([installedSummary, absentSummary, undecidedSummary]), results: v.union([installedResults, absentResults, undecidedResults]) },
  full: {
    summary: v.union([fullSummary, absentSummary, undecidedSummary]),
    results: v.union([fullResults, absentResults, undecidedResults]),
    finding,
  },
};
