/**
 * The network scan's report as checks (lib/scan/checks.ts), for every mode.
 *
 * | report entry                         | policy                          | rule                    | result                                            |
 * | results.expected[] (each expected    | `<namespace>/<expected name>`   | `present`               | found → pass; renamed → warn (present under       |
 * |   NetworkPolicy)                     |                                 |                         |   another name); drifted, missing → fail          |
 * | results.extra[] (live, not expected) | `<namespace>/<name>`            | `expected`              | warn                                              |
 * | results.rule_findings[]              | `<namespace>/<policy>`          | the kind (all-ports, …) | info → warn; low and above → fail                 |
 * | results.link_findings[]              | `link <from> -> <to>`           | `link-not-generated`    | fail                                              |
 * | results.links[] (declared links)     | `link <from> -> <to>`           | `allowed-live`          | allowed → pass; not allowed → fail; unknown → skip|
 * | findings[] (full: probes)            | `probe/<layer>`                 | the probe id            | PASS, BLOCKED → pass; FAIL, SECURITY_RISK → fail; |
 * |                                      |                                 |                         |   NO_SERVICE → skip; UNDECIDED → error            |
 *
 * "Could not decide" (UNDECIDED: the probe could not tell) is `error`: a person must look.
 * NO_SERVICE is `skip`: nothing listens, so the policy was not tested.
 * Ids: scan, policy, rule and the identity (namespace, names, link ends and port, probe id).
 */
import { checkId, oneLine, props, severityOf, stackRelative, uniqueIds } from '../../lib/scan/check-id.ts';
import type { Check, CheckResult, CheckSeverity } from '../../lib/scan/checks.ts';
import type { ScanReport } from '../../lib/scan/scaffold.ts';
import type { ExpectedResult, LightReport, LinkCoverage, LinkFinding, RuleFinding } from './light/types.ts';
import type { ProbeFinding, ProbeVerdict } from './probes/judge.ts';

const SCAN = 'network';
const NP = { apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy' } as const;
const NS = { apiVersion: 'v1', kind: 'Namespace' } as const;

const PRESENCE: Record<ExpectedResult['status'], { result: CheckResult; severity: CheckSeverity }> = {
  found: { result: 'pass', severity: 'info' },
  renamed: { result: 'warn', severity: 'low' },
  drifted: { result: 'fail', severity: 'medium' },
  missing: { result: 'fail', severity: 'high' },
};

function expectedCheck(r: ExpectedResult, metadata: unknown): Check {
  const policy = `${r.namespace}/${r.name}`;
  const s = PRESENCE[r.status];
  const severity = r.status === 'drifted' && r.difference?.wider_peer ? 'high' : s.severity;
  const live = r.cluster_name ?? r.name;
  const message =
    r.status === 'found'
      ? `NetworkPolicy ${r.namespace}/${r.name} is present as expected`
      : r.status === 'renamed'
        ? `expected NetworkPolicy ${r.namespace}/${r.name} is present as ${live}`
        : r.status === 'drifted'
          ? `NetworkPolicy ${r.namespace}/${live} differs from the expected: ${(r.drift ?? []).join('; ') || 'see the report'}`
          : `expected NetworkPolicy ${r.namespace}/${r.name} is not in the cluster`;
  const file = r.file ? stackRelative(r.file, metadata) : undefined;
  return {
    id: checkId(SCAN, policy, 'present', r.rule),
    policy,
    rule: 'present',
    title: `expected NetworkPolicy ${r.category} ${r.direction}${r.link ? ` (${r.link.from} -> ${r.link.to})` : ''}`,
    result: s.result,
    verdict: r.status.toUpperCase(),
    severity,
    namespace: r.namespace,
    resources: [{ ...NP, namespace: r.namespace, name: live }],
    message: oneLine(message),
    ...(file ? { location: { file, ...(r.line ? { line: r.line } : {}) } } : {}),
    properties: props({
      verdict: r.status.toUpperCase(),
      category: r.category,
      direction: r.direction,
      link: r.link ? `${r.link.from} -> ${r.link.to}` : undefined,
      cluster_name: r.cluster_name,
      drift: r.drift,
      derivation_rule: r.rule,
      file: file ? `${file}${r.line ? `:${r.line}` : ''}` : undefined,
      stacktic_attribute: r.status === 'found' ? undefined : 'network_policy',
      fix:
        r.status === 'missing' || r.status === 'drifted'
          ? `apply the generated NetworkPolicy${file ? ` ${file}` : ''} (component attribute network_policy: true)`
          : undefined,
    }),
  };
}

function extraCheck(x: { name: string; namespace: string }): Check {
  const policy = `${x.namespace}/${x.name}`;
  return {
    id: checkId(SCAN, policy, 'expected'),
    policy,
    rule: 'expected',
    result: 'warn',
    verdict: 'EXTRA',
    severity: 'low',
    namespace: x.namespace,
    resources: [{ ...NP, namespace: x.namespace, name: x.name }],
    message: `NetworkPolicy ${x.namespace}/${x.name} is in a stack namespace but not expected`,
    properties: props({ verdict: 'EXTRA', fix: 'remove it, or add it to what Stacktic generates' }),
  };
}

function ruleCheck(f: RuleFinding, metadata: unknown): Check {
  const policy = `${f.namespace}/${f.policy}`;
  const file = f.file ? stackRelative(f.file, metadata) : undefined;
  const at =
    f.rule === undefined
      ? undefined
      : `${f.direction}[${f.rule}]${f.peer !== undefined ? `.peer[${f.peer}]` : ''}${f.port_entry !== undefined ? `.ports[${f.port_entry}]` : ''}`;
  return {
    id: checkId(SCAN, policy, f.kind, f.direction, f.rule, f.peer, f.port_entry),
    policy,
    rule: f.kind,
    result: f.severity === 'info' ? 'warn' : 'fail',
    verdict: f.kind.toUpperCase(),
    severity: f.severity,
    namespace: f.namespace,
    resources: [{ ...NP, namespace: f.namespace, name: f.policy }],
    message: oneLine(`${policy}: ${f.message}`),
    ...(file ? { location: { file, ...(f.line ? { line: f.line } : {}) } } : {}),
    properties: props({ verdict: f.kind.toUpperCase(), direction: f.direction, entry: at, file: file ? `${file}${f.line ? `:${f.line}` : ''}` : undefined }),
  };
}

const linkName = (l: Pick<LinkCoverage, 'from' | 'to' | 'from_sub_component' | 'to_sub_component'>) =>
  `link ${l.from}${l.from_sub_component ? `/${l.from_sub_component}` : ''} -> ${l.to}${l.to_sub_component ? `/${l.to_sub_component}` : ''}`;

function linkFindingCheck(f: LinkFinding, metadata: unknown): Check {
  const policy = linkName(f);
  const file = typeof metadata === 'string' ? stackRelative(metadata, metadata) : undefined;
  return {
    id: checkId(SCAN, policy, 'link-not-generated', f.from_namespace, f.to_namespace, f.port),
    policy,
    rule: 'link-not-generated',
    result: 'fail',
    verdict: 'LINK_NOT_GENERATED',
    severity: severityOf(f.severity),
    namespace: f.from_namespace,
    resources: [
      { ...NS, name: f.from_namespace },
      { ...NS, name: f.to_namespace },
    ],
    message: oneLine(f.message),
    ...(file ? { location: { file } } : {}),
    properties: props({
      verdict: 'LINK_NOT_GENERATED',
      declared_at: f.declared_at,
      port: f.port ?? undefined,
      stacktic_attribute: f.port === null ? `port of ${f.to}` : 'network_policy',
      file: file ? `${file} (${f.declared_at})` : undefined,
    }),
  };
}

function linkLiveCheck(l: LinkCoverage): Check {
  const policy = linkName(l);
  const result: CheckResult = !l.live ? 'skip' : l.live.allowed ? 'pass' : 'fail';
  const verdict = !l.live ? 'UNKNOWN' : l.live.allowed ? 'ALLOWED' : 'BLOCKED';
  const port = l.port === null ? 'no port' : `port ${l.port}`;
  const message = !l.live
    ? `${policy} (${port}): not evaluated (${l.port === null ? 'the metadata gives no port' : 'the namespaces could not be listed'})`
    : l.live.allowed
      ? `${policy} (${port}) is allowed by the live policies`
      : `${policy} (${port}) is blocked by the live policies: egress ${l.live.egress}; ingress ${l.live.ingress}`;
  return {
    id: checkId(SCAN, policy, 'allowed-live', l.from_namespace, l.to_namespace, l.port),
    policy,
    rule: 'allowed-live',
    result,
    verdict,
    severity: result === 'fail' ? 'medium' : 'info',
    namespace: l.to_namespace,
    resources: [
      { ...NS, name: l.from_namespace },
      { ...NS, name: l.to_namespace },
    ],
    message: oneLine(message),
    properties: props({
      verdict,
      egress_policy: l.egress,
      ingress_policy: l.ingress,
      port: l.port ?? undefined,
      egress: l.live?.egress,
      ingress: l.live?.ingress,
    }),
  };
}

const PROBE: Record<ProbeVerdict, { result: CheckResult; severity: CheckSeverity }> = {
  PASS: { result: 'pass', severity: 'info' },
  BLOCKED: { result: 'pass', severity: 'info' },
  FAIL: { result: 'fail', severity: 'medium' },
  SECURITY_RISK: { result: 'fail', severity: 'high' },
  NO_SERVICE: { result: 'skip', severity: 'info' },
  UNDECIDED: { result: 'error', severity: 'info' },
};

function probeCheck(f: ProbeFinding): Check {
  const m = PROBE[f.verdict] ?? { result: 'error', severity: 'info' };
  const policy = `probe/${f.layer}`;
  // Exceptions (DNS, the API server) and the internet are reached from the stack: the source's namespace
  // holds them (a system namespace never gets a Report); other probes belong to the target's.
  const ns = f.layer === 'exception' || f.layer === 'internet' ? f.source.namespace : (f.target.namespace ?? f.source.namespace);
  const resources = [
    ...(f.target.service && f.target.namespace ? [{ apiVersion: 'v1', kind: 'Service', namespace: f.target.namespace, name: f.target.service }] : []),
    ...(f.source.pod ? [{ apiVersion: 'v1', kind: 'Pod', namespace: f.source.namespace, name: f.source.pod }] : [{ ...NS, name: f.source.namespace }]),
  ];
  return {
    id: checkId(SCAN, policy, f.id),
    policy,
    rule: f.id,
    result: m.result,
    verdict: f.verdict,
    severity: m.severity,
    namespace: ns,
    resources,
    message: oneLine(`${f.source.component} (${f.source.namespace}) -> ${f.target.host}:${f.target.port}: expected ${f.expect}, ${f.verdict}: ${f.reason}`),
    properties: props({
      verdict: f.verdict,
      expect: f.expect,
      observed: f.result,
      engine_predicts: f.engine_predicts,
      analysis: f.analysis,
      policy_mismatch: f.policy_mismatch,
      evidence: f.reason,
      identity: f.source.identity,
    }),
  };
}

/**
 * The checks made from report entries, per entry object (the scan's cache, ../cache.ts): the light
 * judgement hands back the very same entry objects for what did not change (an expected policy's
 * result, a namespace's rule findings, a link's coverage), so after a change in the cluster only the
 * entries it touched are turned into checks again. A kept check is frozen and shared by the reports
 * that hold it (uniqueIds copies the ones it renames).
 */
export type CheckMemo = WeakMap<object, { metadata: unknown; check: Check }>;

function memoized<T extends object>(memo: CheckMemo | undefined, metadata: unknown, make: (entry: T, metadata: unknown) => Check): (entry: T) => Check {
  if (!memo) return (entry) => make(entry, metadata);
  return (entry) => {
    const hit = memo.get(entry);
    if (hit && hit.metadata === metadata) return hit.check;
    const check = Object.freeze(make(entry, metadata));
    memo.set(entry, { metadata, check });
    return check;
  };
}

export function networkChecks(report: ScanReport, memo?: CheckMemo): Check[] {
  const metadata = report.sources?.metadata;
  const results = (report.results ?? {}) as Partial<LightReport['results']>;
  const checks: Check[] = [
    ...(results.expected ?? []).map(memoized(memo, metadata, expectedCheck)),
    ...(results.extra ?? []).map(extraCheck),
    ...(results.rule_findings ?? []).map(memoized(memo, metadata, ruleCheck)),
    ...(results.link_findings ?? []).map(memoized(memo, metadata, linkFindingCheck)),
    ...(results.links ?? []).map(memoized(memo, metadata, linkLiveCheck)),
    ...((report.findings ?? []) as ProbeFinding[]).map(probeCheck),
  ];
  return uniqueIds(checks);
}
