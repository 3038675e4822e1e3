/**
 * OPA scan, full mode: does each constraint really enforce?
 *   plan    (pure)  — per constraint, a valid and an invalid resource in a namespace
 *                     and with labels the constraint matches (cross-policy aware)
 *   execute (I/O)   — server-side dry-run of both, concurrently with a bound
 *   judge   (pure)  — verdicts from the attributed denials
 */
import pLimit from 'p-limit';
import { toReportError, type ReportError } from '../../lib/errors.ts';
import type { Kube } from '../../lib/kube/client.ts';
import { dryRunCreate } from '../../lib/kube/raw.ts';
import { baseResource } from './generators/base.ts';
import { generatorFor } from './generators/index.ts';
import type { Constraint, Generator, LabelSelector, Resource } from './generators/types.ts';
import { readAdmission, type Admission } from './denials.ts';
import { groupOf } from '../../lib/k8s/kinds.ts';
import { MANAGED_BY } from '../../lib/k8s/labels.ts';
import { constraintMatches, matchesKind, type NamespaceLabels, type Target } from './match.ts';

export type Verdict = 'ENFORCING' | 'NOT_ENFORCING' | 'OVER_ENFORCING' | 'BROKEN' | 'AUDIT_ONLY' | 'UNTESTED';

/** Namespaces Gatekeeper's webhook never sees in a standard install: testing there proves nothing. */
export const WEBHOOK_EXEMPT = new Set(['kube-system', 'gatekeeper-system']);

export { MANAGED_BY };

export interface PlannedTest {
  constraint: string;
  kind: string;
  enforcementAction: string;
  /** Set when no admission test is run, with the reason. */
  skip?: { verdict: 'AUDIT_ONLY' | 'UNTESTED'; reason: string };
  resourceKind?: string;
  namespace?: string;
  valid?: Resource;
  invalid?: Resource;
  /** Other constraints the valid resource was made to satisfy. */
  alsoSatisfies?: string[];
}

/** Labels that satisfy a selector's matchLabels and positive expressions. */
function labelsFor(sel: LabelSelector | undefined): Record<string, string> {
  const out: Record<string, string> = { ...(sel?.matchLabels ?? {}) };
  for (const e of sel?.matchExpressions ?? []) {
    if (e.operator === 'In' && e.values?.length) out[e.key] = e.values[0];
    if (e.operator === 'Exists') out[e.key] = 'stack-scan';
  }
  return out;
}

function targetOf(r: Resource, namespaces: Map<string, NamespaceLabels>): Target {
  const kind = r.kind;
  const ns = r.metadata.namespace ? namespaces.get(r.metadata.namespace) ?? { name: r.metadata.namespace, labels: {} } : undefined;
  return { group: groupOf(kind) ?? '', kind, namespace: ns, labels: r.metadata.labels ?? {}, name: r.metadata.name };
}

const ACTIVE = new Set(['deny', 'warn']);

/**
 * Apply `comply` of every active, generatable constraint that matches r, round
 * after round, until a whole round changes nothing. Constraints that undo each
 * other never settle: `stable` is then false.
 */
function makeValid(r: Resource, all: Constraint[], namespaces: Map<string, NamespaceLabels>): { resource: Resource; applied: string[]; stable: boolean } {
  let cur = r;
  const applied = new Set<string>();
  for (let round = 0; round < 6; round++) {
    let changed = false;
    for (const c of all) {
      if (!ACTIVE.has(c.enforcementAction)) continue;
      const g = generatorFor(c.kind);
      if (!g || g.auditOnly?.(c) || !constraintMatches(c, targetOf(cur, namespaces))) continue;
      const next = g.comply(cur, c);
      if (JSON.stringify(next) !== JSON.stringify(cur)) changed = true;
      cur = next;
      applied.add(c.name);
    }
    if (!changed) return { resource: cur, applied: [...applied], stable: true };
  }
  return { resource: cur, applied: [...applied], stable: false };
}

function pickKind(g: Generator, c: Constraint): string | undefined {
  return g.resourceKinds.find((k) => groupOf(k) !== undefined && matchesKind(c.match, groupOf(k)!, k));
}

export interface PlanInput {
  constraints: Constraint[];
  namespaces: NamespaceLabels[];
  stackNamespaces: string[];
  runId: string;
}

export function planFull(input: PlanInput): PlannedTest[] {
  const nsMap = new Map(input.namespaces.map((n) => [n.name, n]));
  // Stack namespaces first, then any other namespace the webhook sees.
  const order = [...input.stackNamespaces.filter((n) => nsMap.has(n)), ...input.namespaces.map((n) => n.name).filter((n) => !input.stackNamespaces.includes(n))].filter((n) => !WEBHOOK_EXEMPT.has(n));

  return input.constraints.map((c, i): PlannedTest => {
    const head = { constraint: c.name, kind: c.kind, enforcementAction: c.enforcementAction };
    if (c.enforcementAction === 'dryrun') return { ...head, skip: { verdict: 'AUDIT_ONLY', reason: 'enforcementAction is dryrun: violations are only reported by audit, admission never denies' } };
    const g = generatorFor(c.kind);
    if (!g) return { ...head, skip: { verdict: 'UNTESTED', reason: `no resource generator knows template kind ${c.kind}` } };
    const audit = g.auditOnly?.(c);
    if (audit) return { ...head, skip: { verdict: 'AUDIT_ONLY', reason: audit } };
    const kind = pickKind(g, c);
    if (!kind) return { ...head, skip: { verdict: 'UNTESTED', reason: `the constraint matches kinds ${JSON.stringify(c.match.kinds ?? [])}; the ${c.kind} generator builds ${g.resourceKinds.join(', ')}` } };

    const labels = { ...labelsFor(c.match.labelSelector), ...MANAGED_BY, 'stack-scan.io/run': input.runId };
    const name = `stack-scan-${input.runId}-${i}`;
    let namespace: string | undefined;
    let localNs = nsMap;
    if (kind === 'Namespace') {
      // The Namespace object itself must satisfy the constraint's namespace criteria.
      Object.assign(labels, labelsFor(c.match.namespaceSelector));
      const self = { name, labels };
      localNs = new Map([...nsMap, [name, self]]);
      if (!constraintMatches(c, { group: '', kind, labels, name })) return { ...head, skip: { verdict: 'UNTESTED', reason: 'no Namespace object the scan may create is matched by the constraint (namespaces/namespaceSelector)' } };
    } else {
      namespace = order.find((n) => constraintMatches(c, { group: groupOf(kind) ?? '', kind, namespace: nsMap.get(n)!, labels, name }));
      if (!namespace) return { ...head, skip: { verdict: 'UNTESTED', reason: 'no existing namespace (outside kube-system and gatekeeper-system) is matched by the constraint' } };
    }

    const base = baseResource(kind, `${name}`, namespace, labels);
    if (!base) return { ...head, skip: { verdict: 'UNTESTED', reason: `cannot build a ${kind}` } };
    const { resource: valid, applied, stable } = makeValid(base, input.constraints, localNs);
    if (!stable) return { ...head, skip: { verdict: 'UNTESTED', reason: `no ${kind} satisfies every matching constraint: the requirements of ${applied.join(', ')} contradict each other` } };
    const violated = g.violate(valid, c);
    if ('untestable' in violated) return { ...head, skip: { verdict: 'UNTESTED', reason: violated.untestable as string } };
    const invalid = { ...violated, metadata: { ...violated.metadata, name: `${name}-x` } };
    return { ...head, resourceKind: kind, namespace, valid, invalid, alsoSatisfies: applied.filter((n) => n !== c.name) };
  });
}

export interface Executed {
  plan: PlannedTest;
  valid?: Admission;
  invalid?: Admission;
}

/** Submit every planned pair with `dryRun=All`, at most `concurrency` requests at a time. */
export async function executeFull(kube: Kube, plans: PlannedTest[], concurrency = 8): Promise<{ executed: Executed[]; errors: ReportError[] }> {
  const limit = pLimit(concurrency);
  const errors: ReportError[] = [];
  const submit = (plan: PlannedTest, r: Resource) =>
    limit(async () => {
      try {
        const res = await dryRunCreate(kube, r);
        return readAdmission(res.status, res.body, res.warnings);
      } catch (err) {
        errors.push(toReportError(`dry-run ${r.kind} for constraint ${plan.constraint}`, err));
        return undefined;
      }
    });
  const executed = await Promise.all(
    plans.map(async (plan): Promise<Executed> => {
      if (plan.skip) return { plan };
      const [valid, invalid] = await Promise.all([submit(plan, plan.valid!), submit(plan, plan.invalid!)]);
      return { plan, valid, invalid };
    }),
  );
  return { executed, errors };
}

export interface Finding {
  constraint: string;
  kind: string;
  enforcementAction: string;
  verdict: Verdict;
  reason: string;
  resource_kind?: string;
  namespace?: string;
  valid?: { admitted: boolean; denied_by: string[]; warnings: string[] };
  invalid?: { admitted: boolean; denied_by: string[]; warnings: string[]; message?: string };
  conflicts?: { with: string; message: string }[];
  warned?: boolean;
}

/** Constraints that denied (a template may report several violations for one constraint). */
const deniedBy = (a: Admission) => [...new Set(a.denials.map((d) => d.constraint ?? '(unattributed)'))];

export function judgeFull(executed: Executed[]): { findings: Finding[]; conflicts: { constraint: string; with: string; message: string }[] } {
  const conflicts: { constraint: string; with: string; message: string }[] = [];
  const findings = executed.map(({ plan, valid, invalid }): Finding => {
    const head = { constraint: plan.constraint, kind: plan.kind, enforcementAction: plan.enforcementAction };
    if (plan.skip) return { ...head, verdict: plan.skip.verdict, reason: plan.skip.reason };
    const where = { resource_kind: plan.resourceKind, namespace: plan.namespace };
    if (!valid || !invalid) return { ...head, ...where, verdict: 'UNTESTED', reason: 'a dry-run request failed; see errors' };
    const failure = valid.error ?? invalid.error;
    if (failure) return { ...head, ...where, verdict: 'UNTESTED', reason: `the API server rejected the dry-run for a reason other than admission: ${failure}` };

    const vDenied = deniedBy(valid);
    const iDenied = deniedBy(invalid);
    const byThisValid = vDenied.includes(plan.constraint);
    const byThisInvalid = iDenied.includes(plan.constraint);
    const others = new Map<string, string>();
    for (const d of valid.denials) if (d.constraint !== plan.constraint) others.set(d.constraint ?? '(unattributed)', [others.get(d.constraint ?? '(unattributed)'), d.message].filter(Boolean).join('\n'));
    const conf = [...others].map(([w, message]) => ({ with: w, message }));
    conflicts.push(...conf.map((x) => ({ constraint: plan.constraint, ...x })));
    const summary = (a: Admission) => ({ admitted: a.admitted, denied_by: deniedBy(a), warnings: a.warnings.map((w) => (w.constraint ? `[${w.constraint}] ${w.message}` : w.message)) });
    const evidence = { valid: summary(valid), invalid: { ...summary(invalid), ...(invalid.denials.length ? { message: invalid.denials.map((d) => d.message).join('\n') } : {}) }, ...(conf.length ? { conflicts: conf } : {}) };

    if (plan.enforcementAction === 'warn') {
      const warned = invalid.warnings.some((w) => w.constraint === plan.constraint);
      return { ...head, ...where, ...evidence, warned, verdict: 'AUDIT_ONLY', reason: `enforcementAction is warn: admission never denies; the invalid resource ${warned ? 'was' : 'was NOT'} warned about` };
    }
    const verdict: Verdict = byThisValid ? (byThisInvalid ? 'OVER_ENFORCING' : 'BROKEN') : byThisInvalid ? 'ENFORCING' : 'NOT_ENFORCING';
    const reasons: Record<Verdict, string> = {
      ENFORCING: 'the valid resource was admitted and the invalid one denied by this constraint',
      NOT_ENFORCING: 'the invalid resource was not denied by this constraint',
      OVER_ENFORCING: 'the constraint denied the valid resource as well as the invalid one',
      BROKEN: 'the constraint denied the valid resource but admitted the invalid one',
      AUDIT_ONLY: '',
      UNTESTED: '',
    };
    const note = conf.length ? `; the valid resource was also denied by ${conf.map((c) => c.with).join(', ')} (cross-policy conflict)` : '';
    return { ...head, ...where, ...evidence, verdict, reason: reasons[verdict] + note };
  });
  return { findings, conflicts };
}

export const DECIDABLE: Verdict[] = ['ENFORCING', 'NOT_ENFORCING', 'OVER_ENFORCING', 'BROKEN'];

export function countVerdicts(findings: Finding[]): Record<Verdict, number> {
  const out = { ENFORCING: 0, NOT_ENFORCING: 0, OVER_ENFORCING: 0, BROKEN: 0, AUDIT_ONLY: 0, UNTESTED: 0 } as Record<Verdict, number>;
  for (const f of findings) out[f.verdict]++;
  return out;
}

/** Percentage of decidable constraints that enforce; null when none was decidable. */
export function enforcementScore(findings: Finding[]): number | null {
  const decided = findings.filter((f) => DECIDABLE.includes(f.verdict));
  if (!decided.length) return null;
  return Math.round((1000 * decided.filter((f) => f.verdict === 'ENFORCING').length) / decided.length) / 10;
}
