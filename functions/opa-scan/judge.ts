/**
 * OPA full mode, judge step (pure): verdicts from the attributed admission answers,
 * the same table for both kinds of evidence:
 *
 *   invalid denied by this constraint, valid admitted (or denied only by others) → ENFORCING
 *   invalid and valid both denied by it → OVER_ENFORCING
 *   valid denied by it, invalid admitted  → BROKEN
 *   invalid not denied by it              → NOT_ENFORCING
 *   enforcementAction warn / dryrun       → AUDIT_ONLY (whether the invalid one was warned is said)
 *
 * A valid resource denied by ANOTHER constraint is a cross-policy conflict, listed.
 * With replay, the valid side needs an object the audit judged compliant: when there
 * is none the verdict rests on the invalid side and the finding says so.
 */
import type { Admission } from '../../lib/kube/admission.ts';
import { percent } from '../../lib/scan/score.ts';
import type { Executed } from './execute.ts';
import type { Method, ObjectRefOut, Verdict } from './plan.ts';

export type { Verdict };

export interface AdmissionSummary {
  admitted: boolean;
  denied_by: string[];
  warnings: string[];
  message?: string;
}

export interface Finding {
  constraint: string;
  kind: string;
  enforcementAction: string;
  verdict: Verdict;
  reason: string;
  /** What decided the verdict; absent when nothing was submitted. */
  evidence?: { method: Method; invalid_object?: ObjectRefOut; valid_object?: ObjectRefOut | null; valid_untested?: string };
  resource_kind?: string;
  namespace?: string;
  valid?: AdmissionSummary | null;
  invalid?: AdmissionSummary;
  conflicts?: { with: string; message: string }[];
  warned?: boolean;
}

/** Constraints that denied (a template may report several violations for one constraint). */
const deniedBy = (a: Admission) => [...new Set(a.denials.map((d) => d.constraint ?? '(unattributed)'))];

const summary = (a: Admission): AdmissionSummary => ({
  admitted: a.admitted,
  denied_by: deniedBy(a),
  warnings: a.warnings.map((w) => (w.constraint ? `[${w.constraint}] ${w.message}` : w.message)),
});

const describe = (r?: ObjectRefOut) => (r ? `${r.kind} ${r.namespace ? `${r.namespace}/` : ''}${r.name}` : 'object');

export function judgeFull(executed: Executed[]): { findings: Finding[]; conflicts: { constraint: string; with: string; message: string }[] } {
  const conflicts: { constraint: string; with: string; message: string }[] = [];
  const findings = executed.map(({ plan, valid, invalid, aborted }): Finding => {
    const head = { constraint: plan.constraint, kind: plan.kind, enforcementAction: plan.enforcementAction };
    if (plan.skip) return { ...head, verdict: plan.skip.verdict, reason: plan.skip.reason };
    const method: Method = plan.method ?? 'generator';
    const replay = method === 'replay';
    const src = plan.sources;
    const evidence: Finding['evidence'] = replay
      ? { method, invalid_object: src?.invalid, valid_object: src?.valid ?? null, ...(src?.validUntested ? { valid_untested: src.validUntested } : {}) }
      : { method };
    const where = { evidence, resource_kind: plan.resourceKind, ...(plan.namespace ? { namespace: plan.namespace } : {}) };
    if (aborted) return { ...head, ...where, verdict: 'UNTESTED', reason: 'the scan stopped (timeout or cancelled) before this test ran' };
    if (!invalid || (plan.valid && !valid)) return { ...head, ...where, verdict: 'UNTESTED', reason: 'a dry-run request failed; see errors' };
    const failure = valid?.error ?? invalid.error;
    if (failure)
      return {
        ...head,
        ...where,
        verdict: 'UNTESTED',
        reason: `the API server rejected the ${replay ? 'replayed copy' : 'dry-run'} for a reason other than admission: ${failure}`,
      };

    const byThisValid = valid ? deniedBy(valid).includes(plan.constraint) : false;
    const byThisInvalid = deniedBy(invalid).includes(plan.constraint);
    const others = new Map<string, string>();
    for (const d of valid?.denials ?? []) {
      if (d.constraint === plan.constraint) continue;
      const k = d.constraint ?? '(unattributed)';
      others.set(k, [others.get(k), d.message].filter(Boolean).join('\n'));
    }
    const conf = [...others].map(([w, message]) => ({ with: w, message }));
    conflicts.push(...conf.map((x) => ({ constraint: plan.constraint, ...x })));
    const ev = {
      valid: valid ? summary(valid) : null,
      invalid: { ...summary(invalid), ...(invalid.denials.length ? { message: invalid.denials.map((d) => d.message).join('\n') } : {}) },
      ...(conf.length ? { conflicts: conf } : {}),
    };
    const bad = replay ? `the audited ${describe(src?.invalid)} (replayed)` : 'the invalid resource';
    const good = replay ? (src?.valid ? `the compliant ${describe(src.valid)} (replayed)` : undefined) : 'the valid resource';

    if (plan.enforcementAction === 'warn') {
      const warned = invalid.warnings.some((w) => w.constraint === plan.constraint);
      return {
        ...head,
        ...where,
        ...ev,
        warned,
        verdict: 'AUDIT_ONLY',
        reason: `enforcementAction is warn: admission never denies; ${bad} ${warned ? 'was' : 'was NOT'} warned about`,
      };
    }
    if (plan.enforcementAction === 'dryrun') {
      return {
        ...head,
        ...where,
        ...ev,
        verdict: 'AUDIT_ONLY',
        reason: `enforcementAction is dryrun: violations are only reported by audit; ${bad} was ${byThisInvalid ? 'nevertheless denied by it' : 'admitted'}`,
      };
    }
    const verdict: Verdict = byThisValid ? (byThisInvalid ? 'OVER_ENFORCING' : 'BROKEN') : byThisInvalid ? 'ENFORCING' : 'NOT_ENFORCING';
    const untestedValid = !good ? `; the valid side was not tested: ${src?.validUntested ?? 'no compliant object'}` : '';
    const reasons: Record<Verdict, string> = {
      ENFORCING: good ? `${good} was admitted and ${bad} denied by this constraint` : `${bad} was denied by this constraint${untestedValid}`,
      NOT_ENFORCING: `${bad} was not denied by this constraint${replay ? ' although the audit reports it as a violation' : ''}${good ? '' : untestedValid}`,
      OVER_ENFORCING: `the constraint denied ${good} as well as ${bad}`,
      BROKEN: `the constraint denied ${good} but admitted ${bad}`,
      AUDIT_ONLY: '',
      UNTESTED: '',
    };
    const note = conf.length ? `; ${good} was also denied by ${conf.map((c) => c.with).join(', ')} (cross-policy conflict)` : '';
    return { ...head, ...where, ...ev, verdict, reason: reasons[verdict] + note };
  });
  return { findings, conflicts };
}

export const DECIDABLE: readonly Verdict[] = ['ENFORCING', 'NOT_ENFORCING', 'OVER_ENFORCING', 'BROKEN'];

export function countVerdicts(findings: Finding[]): Record<Verdict, number> {
  const out: Record<Verdict, number> = { ENFORCING: 0, NOT_ENFORCING: 0, OVER_ENFORCING: 0, BROKEN: 0, AUDIT_ONLY: 0, UNTESTED: 0 };
  for (const f of findings) out[f.verdict]++;
  return out;
}

/** How many constraints each kind of evidence decided (UNTESTED ones count under `undecided`). */
export function countMethods(findings: Finding[]): { generator: number; replay: number; action: number; undecided: number } {
  const out = { generator: 0, replay: 0, action: 0, undecided: 0 };
  for (const f of findings) {
    if (f.verdict === 'UNTESTED') out.undecided++;
    else if (f.evidence) out[f.evidence.method]++;
    else out.action++; // AUDIT_ONLY from the enforcement action or an audit-only rule, without a submission
  }
  return out;
}

/** Percentage of decidable constraints that enforce; null when none was decidable. */
export function enforcementScore(findings: Finding[]): number | null {
  const decided = findings.filter((f) => DECIDABLE.includes(f.verdict));
  return percent(decided.filter((f) => f.verdict === 'ENFORCING').length, decided.length);
}
