/**
 * The OPA/Gatekeeper scan's report as checks (lib/scan/checks.ts), for both modes.
 *
 * | report entry                               | policy                   | rule                  | result                                              |
 * | summary.installed                          | `gatekeeper`             | `installed`           | true → pass; false → fail (critical); null → error  |
 * | results.health                             | `gatekeeper`             | `healthy`             | healthy → pass; a problem seen → fail; unverified → error |
 * | results.constraints[] | `<Kind>/<name>` | `audit` | 0 violations → pass; violations → fail; not audited → skip |
 * | results.violations.by_constraint[].violations[] | `<Kind>/<name>`     | `violation`           | fail (one per audited object)                       |
 * | results.namespace_coverage[] | `namespace-coverage` | `enforced-constraint` | covered → pass; uncovered → fail; absent → skip; unknown → error |
 * | findings[] (full: admission tests)         | `<Kind>/<name>`          | `admission`           | ENFORCING → pass; NOT_ENFORCING, BROKEN → fail (high); |
 * |                                            |                          |                       |   OVER_ENFORCING → fail (medium); AUDIT_ONLY → warn;  |
 * | | | | UNTESTED → error when a test was tried and failed (timeout, request error), |
 * | | | | skip when the plan could not build one (the reason is said) |
 */
import { checkId, oneLine, props, uniqueIds } from '../../lib/scan/check-id.ts';
import type { Check, CheckResult, CheckSeverity } from '../../lib/scan/checks.ts';
import type { ScanReport } from '../../lib/scan/scaffold.ts';
import type { AuditedViolation } from './inventory.ts';
import type { Finding, Verdict } from './judge.ts';

const SCAN = 'opa';

interface ConstraintRow {
  name: string;
  kind: string;
  enforcementAction: string;
  enforced: boolean;
  totalViolations: number | null;
}

const constraintRes = (kind: string, name: string) => ({ apiVersion: 'constraints.gatekeeper.sh/v1beta1', kind, name });

function constraintCheck(c: ConstraintRow): Check {
  const policy = `${c.kind}/${c.name}`;
  const result: CheckResult = c.totalViolations === null ? 'skip' : c.totalViolations === 0 ? 'pass' : 'fail';
  const verdict = c.totalViolations === null ? 'NOT_AUDITED' : c.totalViolations === 0 ? 'CLEAN' : 'VIOLATIONS';
  return {
    id: checkId(SCAN, policy, 'audit'),
    policy,
    rule: 'audit',
    result,
    verdict,
    severity: result === 'fail' ? 'medium' : 'info',
    resources: [constraintRes(c.kind, c.name)],
    message:
      c.totalViolations === null
        ? `constraint ${policy} has no audit result yet`
        : c.totalViolations === 0
          ? `constraint ${policy}: the audit found no violation`
          : `constraint ${policy}: the audit found ${c.totalViolations} violation(s)`,
    properties: props({ verdict, enforcement_action: c.enforcementAction, enforced: String(c.enforced), violations: c.totalViolations ?? undefined }),
  };
}

function violationCheck(kind: string, constraint: string, v: AuditedViolation): Check {
  const policy = `${kind}/${constraint}`;
  const object = `${v.kind ?? 'object'} ${v.namespace ? `${v.namespace}/` : ''}${v.name ?? '?'}`;
  return {
    id: checkId(SCAN, policy, 'violation', v.group, v.kind, v.namespace, v.name),
    policy,
    rule: 'violation',
    result: 'fail',
    verdict: 'VIOLATION',
    severity: 'medium',
    ...(v.namespace ? { namespace: v.namespace } : {}),
    resources: [
      {
        ...(v.group !== undefined && v.version ? { apiVersion: v.group ? `${v.group}/${v.version}` : v.version } : {}),
        kind: v.kind ?? 'Unknown',
        ...(v.namespace ? { namespace: v.namespace } : {}),
        name: v.name ?? '',
      },
    ],
    message: oneLine(`${object} violates ${policy}: ${v.message}`),
    properties: props({ verdict: 'VIOLATION', enforcement_action: v.enforcementAction, evidence: v.message }),
  };
}

const ADMISSION: Record<Verdict, { result: CheckResult; severity: CheckSeverity }> = {
  ENFORCING: { result: 'pass', severity: 'info' },
  NOT_ENFORCING: { result: 'fail', severity: 'high' },
  BROKEN: { result: 'fail', severity: 'high' },
  OVER_ENFORCING: { result: 'fail', severity: 'medium' },
  AUDIT_ONLY: { result: 'warn', severity: 'low' },
  UNTESTED: { result: 'skip', severity: 'info' },
};

function admissionCheck(f: Finding): Check {
  const policy = `${f.kind}/${f.constraint}`;
  const m = ADMISSION[f.verdict] ?? { result: 'error', severity: 'info' };
  // UNTESTED with evidence: a test was tried and did not finish (timeout, request failure): could not decide.
  const result: CheckResult = f.verdict === 'UNTESTED' && f.evidence ? 'error' : m.result;
  const obj = f.evidence?.invalid_object;
  return {
    id: checkId(SCAN, policy, 'admission', f.resource_kind, f.namespace),
    policy,
    rule: 'admission',
    result,
    verdict: f.verdict,
    severity: m.severity,
    ...(f.namespace ? { namespace: f.namespace } : {}),
    resources: [
      constraintRes(f.kind, f.constraint),
      ...(obj ? [{ kind: obj.kind, ...(obj.namespace ? { namespace: obj.namespace } : {}), name: obj.name }] : []),
    ],
    message: oneLine(`${policy} ${f.verdict}: ${f.reason}`),
    properties: props({
      verdict: f.verdict,
      enforcement_action: f.enforcementAction,
      method: f.evidence?.method,
      resource_kind: f.resource_kind,
      evidence: f.invalid?.message,
      denied_valid_by: f.valid?.denied_by,
      conflicts: f.conflicts?.map((c) => c.with),
    }),
  };
}

export function opaChecks(report: ScanReport): Check[] {
  const summary = (report.summary ?? {}) as Record<string, unknown>;
  const results = (report.results ?? {}) as {
    health?: { problems?: string[]; unverified?: string[] };
    constraints?: ConstraintRow[];
    violations?: { by_constraint?: Record<string, { kind: string; violations: AuditedViolation[] }> };
    namespace_coverage?: { namespace: string; exists: boolean | null; constraints: string[] }[];
  };
  const checks: Check[] = [];
  const gk = { apiVersion: 'apps/v1', kind: 'Deployment', name: 'gatekeeper' };
  const installed = summary.installed as boolean | null | undefined;
  if (installed !== undefined) {
    const result: CheckResult = installed === true ? 'pass' : installed === false ? 'fail' : 'error';
    checks.push({
      id: checkId(SCAN, 'gatekeeper', 'installed'),
      policy: 'gatekeeper',
      rule: 'installed',
      result,
      verdict: installed === true ? 'INSTALLED' : installed === false ? 'NOT_INSTALLED' : 'UNDECIDED',
      severity: installed === false ? 'critical' : 'info',
      resources: [gk],
      message: oneLine(
        installed === true ? 'Gatekeeper is installed' : String(summary.finding ?? summary.undecided ?? 'Gatekeeper presence could not be decided'),
      ),
      properties: props({ verdict: installed === true ? 'INSTALLED' : installed === false ? 'NOT_INSTALLED' : 'UNDECIDED' }),
    });
  }
  if (results.health) {
    const problems = results.health.problems ?? [];
    const unverified = results.health.unverified ?? [];
    const result: CheckResult = problems.length ? 'fail' : unverified.length ? 'error' : 'pass';
    checks.push({
      id: checkId(SCAN, 'gatekeeper', 'healthy'),
      policy: 'gatekeeper',
      rule: 'healthy',
      result,
      verdict: problems.length ? 'UNHEALTHY' : unverified.length ? 'UNVERIFIED' : 'HEALTHY',
      severity: problems.length ? 'high' : 'info',
      resources: [gk],
      message: oneLine(
        problems.length
          ? `Gatekeeper is not healthy: ${problems.join('; ')}`
          : unverified.length
            ? `Gatekeeper health could not be verified: ${unverified.join('; ')}`
            : 'Gatekeeper is healthy',
      ),
      properties: props({ verdict: problems.length ? 'UNHEALTHY' : unverified.length ? 'UNVERIFIED' : 'HEALTHY', problems, unverified }),
    });
  }
  for (const c of results.constraints ?? []) checks.push(constraintCheck(c));
  for (const [name, entry] of Object.entries(results.violations?.by_constraint ?? {})) {
    for (const v of entry.violations ?? []) checks.push(violationCheck(entry.kind, name, v));
  }
  for (const n of results.namespace_coverage ?? []) {
    const covered = n.constraints.length > 0;
    const result: CheckResult = n.exists === null ? 'error' : n.exists === false ? 'skip' : covered ? 'pass' : 'fail';
    const verdict = n.exists === null ? 'UNDECIDED' : n.exists === false ? 'NAMESPACE_ABSENT' : covered ? 'COVERED' : 'UNCOVERED';
    checks.push({
      id: checkId(SCAN, 'namespace-coverage', 'enforced-constraint', n.namespace),
      policy: 'namespace-coverage',
      rule: 'enforced-constraint',
      result,
      verdict,
      severity: result === 'fail' ? 'high' : 'info',
      namespace: n.namespace,
      resources: [{ apiVersion: 'v1', kind: 'Namespace', name: n.namespace }],
      message:
        verdict === 'COVERED'
          ? `namespace ${n.namespace} is covered by ${n.constraints.length} enforced constraint(s)`
          : verdict === 'UNCOVERED'
            ? `no enforced constraint applies to namespace ${n.namespace}`
            : verdict === 'NAMESPACE_ABSENT'
              ? `namespace ${n.namespace} does not exist`
              : `whether namespace ${n.namespace} exists could not be read`,
      properties: props({ verdict, constraints: n.constraints }),
    });
  }
  for (const f of (report.findings ?? []) as Finding[]) checks.push(admissionCheck(f));
  return uniqueIds(checks);
}
