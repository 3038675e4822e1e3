/**
 * The network scan's report, per mode (lib/scan/report-schema.ts): the light judgement (light/types.ts
 * LightReport), and in full mode the probe findings (probes/judge.ts). Published as
 * schema/network-report.schema.json; the tests check every report against it.
 */
import * as v from 'valibot';
import { atLeast, closed, count, counts, describe, int, nullable, open, opt, percent, str, strs, type ReportSchemas } from '../../lib/scan/report-schema.ts';

const SEVERITIES = ['critical', 'high', 'medium', 'low', 'info'] as const;
const severity = v.picklist(SEVERITIES);
const direction = v.picklist(['ingress', 'egress']);
const policyStatus = v.picklist(['found', 'renamed', 'drifted', 'missing']);
const linkStatus = v.picklist(['found', 'renamed', 'drifted', 'missing', 'not-expected']);

const lightSummary = closed({
  expected: describe(count, 'NetworkPolicies the stack should have'),
  found: count,
  renamed: count,
  drifted: count,
  missing: count,
  extra: describe(count, 'live policies in the stack namespaces that nothing expects'),
  rule_findings: counts(SEVERITIES),
  empty_selectors: count,
  links: count,
  links_bidirectional: count,
  links_allowed_live: nullable(count),
  links_not_generated: count,
  stack_namespaces: count,
  namespaces_missing: strs,
  unknown_types: strs,
});

/** When the cluster's NetworkPolicies could not be read: nothing is compared. */
const undecidedSummary = closed(
  { expected: count, stack_namespaces: count, undecided: str },
  'The live NetworkPolicies could not be read (see errors): nothing was compared.',
);

const expectedResult = atLeast({
  name: str,
  namespace: str,
  category: str,
  direction,
  status: policyStatus,
  cluster_name: opt(str),
  drift: opt(strs),
  difference: opt(atLeast({ extra: strs, missing: strs, other: strs, wider_peer: v.boolean() })),
  link: opt(atLeast({ from: str, to: str })),
  file: opt(str),
  line: opt(int),
  rule: opt(str),
});

const ruleFinding = atLeast({
  kind: v.picklist(['all-ports', 'peer-everyone', 'name-ports-mismatch', 'selector-matches-nothing']),
  severity,
  policy: str,
  namespace: str,
  direction,
  message: str,
});

const linkEnds = { from: str, to: str, from_sub_component: opt(str), to_sub_component: opt(str), from_namespace: str, to_namespace: str, port: nullable(int) };

const lightResults = atLeast({
  expected: v.array(expectedResult),
  extra: v.array(atLeast({ name: str, namespace: str })),
  missing_by_namespace: describe(v.record(v.string(), v.array(atLeast({ name: str, status: v.picklist(['missing', 'drifted']) }))), 'by namespace name'),
  categories: describe(v.record(v.string(), atLeast({ expected: count, found: count })), 'by policy category'),
  rule_findings: v.array(ruleFinding),
  links: v.array(
    atLeast({
      ...linkEnds,
      egress: linkStatus,
      ingress: linkStatus,
      bidirectional: v.boolean(),
      live: opt(atLeast({ allowed: v.boolean(), egress: str, ingress: str })),
    }),
  ),
  link_findings: v.array(atLeast({ ...linkEnds, kind: v.literal('link-not-generated'), severity, declared_at: str, message: str })),
  empty_selectors: v.array(atLeast({ policy: str, namespace: str, direction, selector: open('a Kubernetes label selector'), message: str })),
  score_terms: atLeast({ policies_counted: count, value: v.number(), extra_with_findings: count }),
});

const VERDICTS = ['PASS', 'FAIL', 'SECURITY_RISK', 'BLOCKED', 'NO_SERVICE', 'UNDECIDED'] as const;

const probes = closed({
  tests: count,
  verdicts: counts(VERDICTS),
  pass_rate: describe(nullable(percent), 'PASS and BLOCKED over decided tests, in %'),
  cni_enforcing: describe(nullable(v.boolean()), 'false when most connections policies should block were open; null with fewer than 3 such tests'),
  cni_message: opt(str),
});

const probeFinding = atLeast({
  id: str,
  layer: v.picklist(['link', 'exception', 'internet', 'intra-namespace', 'negative']),
  source: atLeast({ component: str, namespace: str, identity: str, pod: opt(str), template: opt(str) }),
  target: atLeast({ component: opt(str), namespace: opt(str), host: str, port: int, protocol: str, service: opt(str), endpoint_port: opt(int) }),
  expect: v.picklist(['open', 'blocked']),
  engine_predicts: v.picklist(['open', 'blocked']),
  result: describe(str, "nmap's port state (open, closed, filtered, …) or unknown"),
  reason: str,
  verdict: v.picklist(VERDICTS),
  analysis: opt(str),
  policy_mismatch: opt(v.boolean()),
});

const fullSummary = closed({
  ...lightSummary.entries,
  light_score: nullable(percent),
  probes,
  expired_swept: describe(count, 'expired probe objects of earlier runs deleted'),
});

const fullResults = atLeast({
  ...lightResults.entries,
  probe_sources: v.array(atLeast({ source: str, via: str, targets: count, duration_ms: count, error: opt(str) })),
});

export const NETWORK_REPORT: ReportSchemas = {
  light: { summary: v.union([lightSummary, undecidedSummary]), results: lightResults },
  full: { summary: v.union([fullSummary, undecidedSummary]), results: fullResults, finding: probeFinding },
};
