/**
 * Verdicts for probe results (pure).
 *   PASS          the result matches an "open" expectation
 *   BLOCKED       an expected block, confirmed (filtered)
 *   FAIL          should connect but cannot; with the engine's blocking analysis
 *   SECURITY_RISK should be blocked but is reachable
 *   NO_SERVICE    not open, and the target Service has no ready endpoints or does not exist
 *   UNDECIDED     the probe could not tell (nmap error, unresolved name, timeout)
 *
 * `closed` (connection refused) is ambiguous to a connect scan: a port nothing listens
 * on answers with a reset, and so does an enforcer that REJECTs (kube-router, and others,
 * answer with ICMP port-unreachable, which connect() also reports as refused); Calico and
 * Cilium drop instead (`filtered`). So `closed` is read with what the API says about the
 * target: no Service or no ready endpoint → NO_SERVICE; the API says a ready pod declares
 * the port (targetListens) → refused on the path → blocked; otherwise UNDECIDED, saying why.
 */
import type { ProbeResult } from '../nmap/nmap.ts';
import type { ProbeTest } from './plan.ts';

export type ProbeVerdict = 'PASS' | 'FAIL' | 'SECURITY_RISK' | 'BLOCKED' | 'NO_SERVICE' | 'UNDECIDED';

export interface ProbeFinding {
  id: string;
  layer: ProbeTest['layer'];
  source: { component: string; namespace: string; identity: string; pod?: string; template?: string };
  target: ProbeTest['target'];
  expect: 'open' | 'blocked';
  engine_predicts: 'open' | 'blocked';
  result: ProbeResult['state'];
  reason: string;
  verdict: ProbeVerdict;
  /** FAIL: which egress/ingress policy or default deny blocks it; otherwise what allowed it. */
  analysis?: string;
  /** The live policies disagree with the topology's expectation. */
  policy_mismatch?: boolean;
}

export function verdictFor(t: ProbeTest, r: ProbeResult | undefined): { verdict: ProbeVerdict; reason: string } {
  if (!r || r.state === 'unknown') return { verdict: 'UNDECIDED', reason: r?.reason ?? 'no result for this target' };
  // Nothing can answer behind a missing Service or one without ready endpoints: whatever nmap saw
  // (a reset, or a drop by kube-proxy's no-endpoint rule) says nothing about the policies.
  if (r.state !== 'open' && (t.serviceEndpoints === 'no-service' || t.serviceEndpoints === 0)) {
    return {
      verdict: 'NO_SERVICE',
      reason: `${r.state}: ${t.serviceEndpoints === 'no-service' ? 'the target Service does not exist' : 'the target Service has no ready endpoints'}`,
    };
  }
  if (r.state === 'closed') {
    if (t.targetListens !== true) {
      return {
        verdict: 'UNDECIDED',
        reason:
          `closed (${r.reason}): a connection refused by a rejecting NetworkPolicy enforcer and a port nothing listens on look the same to a ` +
          (`connect scan, and the API does not show a ready pod declaring this port` +
            `${t.serviceEndpoints === null ? ' (the target Service or its endpoints could not be read)' : ''}`),
      };
    }
    const listener =
      t.targetListensVia === 'endpoint' ? 'the Service (without a selector) has a ready endpoint' : 'a ready pod behind the Service declares this port';
    const why = `refused (${r.reason}) although ${listener}: rejected on the path (e.g. kube-router REJECTs with ICMP port-unreachable)`;
    return t.expect === 'open' ? { verdict: 'FAIL', reason: why } : { verdict: 'BLOCKED', reason: why };
  }
  const reachable = r.state === 'open';
  if (t.expect === 'open') return reachable ? { verdict: 'PASS', reason: r.state } : { verdict: 'FAIL', reason: `${r.state}: ${r.reason}` };
  return reachable ? { verdict: 'SECURITY_RISK', reason: `${r.state}: should be blocked` } : { verdict: 'BLOCKED', reason: `${r.state}: ${r.reason}` };
}

function blockingAnalysis(t: ProbeTest): string {
  const v = t.engine.verdict;
  const parts: string[] = [];
  if (!v.egress.allowed) parts.push(`egress at ${t.source.namespace}: ${v.egress.reason}`);
  if (!v.ingress.allowed) parts.push(`ingress at ${t.target.namespace ?? t.target.host}: ${v.ingress.reason}`);
  if (!parts.length) return 'the live policies allow this connection; the block is outside NetworkPolicy (CNI, Service, firewall or DNS)';
  return parts.join('; ');
}

function allowedBy(t: ProbeTest): string {
  const v = t.engine.verdict;
  return `egress: ${v.egress.reason}; ingress: ${v.ingress.reason}`;
}

export function judgeProbes(tests: ProbeTest[], results: Map<string, ProbeResult>): ProbeFinding[] {
  return tests.map((t) => {
    const r = results.get(t.id);
    const { verdict, reason } = verdictFor(t, r);
    const predicts = t.engine.allowed ? 'open' : 'blocked';
    return {
      id: t.id,
      layer: t.layer,
      source: {
        component: t.source.component,
        namespace: t.source.namespace,
        identity: t.source.identity,
        ...(t.source.pod ? { pod: t.source.pod } : {}),
        ...(t.source.template ? { template: t.source.template } : {}),
      },
      target: t.target,
      expect: t.expect,
      engine_predicts: predicts,
      result: r?.state ?? 'unknown',
      reason,
      verdict,
      ...(verdict === 'FAIL' ? { analysis: blockingAnalysis(t) } : verdict === 'SECURITY_RISK' ? { analysis: allowedBy(t) } : {}),
      ...(predicts !== t.expect ? { policy_mismatch: true } : {}),
    };
  });
}

export interface ProbeSummary {
  tests: number;
  verdicts: Record<ProbeVerdict, number>;
  /** (PASS + BLOCKED) over tests with a decided result (not NO_SERVICE, not UNDECIDED), in percent; null if none. */
  pass_rate: number | null;
  cni_enforcing: boolean | null;
  cni_message?: string;
}

/** When most negative tests come back open, the CNI probably does not enforce NetworkPolicy at all. */
export function summarizeProbes(findings: ProbeFinding[]): ProbeSummary {
  const verdicts = { PASS: 0, FAIL: 0, SECURITY_RISK: 0, BLOCKED: 0, NO_SERVICE: 0, UNDECIDED: 0 } as Record<ProbeVerdict, number>;
  for (const f of findings) verdicts[f.verdict]++;
  const decided = findings.filter((f) => f.verdict !== 'NO_SERVICE' && f.verdict !== 'UNDECIDED');
  const passRate = decided.length ? Math.round((1000 * (verdicts.PASS + verdicts.BLOCKED)) / decided.length) / 10 : null;
  const negatives = findings.filter((f) => f.layer === 'negative' && (f.verdict === 'BLOCKED' || f.verdict === 'SECURITY_RISK'));
  const open = negatives.filter((f) => f.verdict === 'SECURITY_RISK').length;
  let cni: boolean | null = null;
  let msg: string | undefined;
  if (negatives.length >= 3) {
    cni = open / negatives.length <= 0.8;
    if (!cni)
      msg =
        `${open} of ${negatives.length} connections that policies should block were open: the CNI is probably not enforcing NetworkPolicy at all ` +
        `(e.g. flannel without a policy engine); fix that before reading individual risks`;
  }
  return { tests: findings.length, verdicts, pass_rate: passRate, cni_enforcing: cni, ...(msg ? { cni_message: msg } : {}) };
}
