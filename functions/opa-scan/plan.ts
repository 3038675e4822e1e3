/**
 * OPA full mode, plan step (pure): for each constraint, how it will be tested.
 *   generator — a generator knows the template kind: a valid resource (comply of every
 *               active constraint that matches it, cross-policy aware) and an invalid one
 *               (violate this constraint only), in a namespace the constraint matches;
 *   replay    — no generator (or it cannot build a test) but the audit reported
 *               violations: the execute step GETs a violating object and a compliant
 *               one and submits copies (replay.ts);
 *   skip      — AUDIT_ONLY or UNTESTED, with the precise reason.
 */
import { groupOf } from '../../lib/k8s/kinds.ts';
import { MANAGED_BY, RUN_LABEL } from '../../lib/k8s/labels.ts';
import type { ApiResource } from './gatekeeper-api.ts';
import { baseResource } from './generators/base.ts';
import { complyAll, generatorFor } from './generators/index.ts';
import type { Constraint, Generator, LabelSelector, Resource } from './generators/types.ts';
import type { AuditedViolation, ConstraintInfo } from './inventory.ts';
import { constraintMatches, matchesKind, type NamespaceLabels, type Target } from './match.ts';

export type Verdict = 'ENFORCING' | 'NOT_ENFORCING' | 'OVER_ENFORCING' | 'BROKEN' | 'AUDIT_ONLY' | 'UNTESTED';
export type Method = 'generator' | 'replay';

/** Namespaces Gatekeeper's webhook never sees in a standard install: testing there proves nothing. */
export const WEBHOOK_EXEMPT = new Set(['kube-system', 'gatekeeper-system']);

export interface ObjectRefOut {
  kind: string;
  namespace?: string;
  name: string;
}

export interface ReplayRequest {
  /** Audited violations to try, in order (namespaces the webhook sees, stack namespaces first). */
  violations: AuditedViolation[];
  /** The audit lists every violation (totalViolations ≤ listed): absence from the list means compliant. */
  complete: boolean;
  auditTimestamp: string | null;
  /** Why the generator could not test it, when one exists. */
  generatorSkipped?: string;
}

export interface PlannedTest {
  constraint: string;
  kind: string;
  enforcementAction: string;
  method?: Method;
  /** Set when no admission test is run, with the reason. */
  skip?: { verdict: 'AUDIT_ONLY' | 'UNTESTED'; reason: string };
  /** Replay: filled in by the execute step (replay.ts). */
  replay?: ReplayRequest;
  resourceKind?: string;
  /** Replay: where the kind lives in the API (any kind; generator tests use the shared table). */
  api?: ApiResource;
  namespace?: string;
  valid?: Resource;
  invalid?: Resource;
  /** Replay: the objects the copies were made from; why the valid side was not tested. */
  sources?: { invalid: ObjectRefOut; valid?: ObjectRefOut; validUntested?: string };
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
  const ns = r.metadata.namespace ? (namespaces.get(r.metadata.namespace) ?? { name: r.metadata.namespace, labels: {} }) : undefined;
  return { group: groupOf(r.kind) ?? '', kind: r.kind, namespace: ns, labels: r.metadata.labels ?? {}, name: r.metadata.name };
}

const ACTIVE = new Set(['deny', 'warn']);

/**
 * The valid resource: complyAll (generators/index.ts) with the active constraints that
 * match r; again while comply changed which constraints match (labels), at most 4 times.
 */
export function makeValid(
  r: Resource,
  all: readonly Constraint[],
  namespaces: Map<string, NamespaceLabels>,
): { resource: Resource; applied: string[]; stable: boolean } {
  const usable = all.filter((c) => ACTIVE.has(c.enforcementAction) && generatorFor(c.kind) && !generatorFor(c.kind)!.auditOnly?.(c));
  const matching = (x: Resource) => usable.filter((c) => constraintMatches(c, targetOf(x, namespaces)));
  let cur = r;
  let set = matching(cur);
  for (let i = 0; i < 4; i++) {
    const { resource, stable } = complyAll(cur, set);
    if (!stable) return { resource, applied: set.map((c) => c.name), stable: false };
    const next = matching(resource);
    cur = resource;
    if (next.length === set.length && next.every((c, j) => c === set[j])) return { resource: cur, applied: set.map((c) => c.name), stable: true };
    set = next;
  }
  return { resource: cur, applied: set.map((c) => c.name), stable: false };
}

function pickKind(g: Generator, c: Constraint): string | undefined {
  return g.resourceKinds.find((k) => groupOf(k) !== undefined && matchesKind(c.match, groupOf(k)!, k));
}

export interface PlanInput {
  constraints: ConstraintInfo[];
  namespaces: NamespaceLabels[];
  stackNamespaces: string[];
  runId: string;
  /** Replay audited objects where no generator decides (default true). */
  replay?: boolean;
  /** Does Gatekeeper's webhook see this namespace? (its namespaceSelector); default: all but WEBHOOK_EXEMPT. */
  webhookSees?: (ns: NamespaceLabels) => boolean;
}

type Head = Pick<PlannedTest, 'constraint' | 'kind' | 'enforcementAction'>;

function generatorTest(
  c: ConstraintInfo,
  i: number,
  g: Generator,
  input: PlanInput,
  nsMap: Map<string, NamespaceLabels>,
  order: string[],
  head: Head,
): PlannedTest {
  const audit = g.auditOnly?.(c);
  if (audit) return { ...head, skip: { verdict: 'AUDIT_ONLY', reason: audit } };
  const kind = pickKind(g, c);
  if (!kind)
    return {
      ...head,
      skip: {
        verdict: 'UNTESTED',
        reason: `the constraint matches kinds ${JSON.stringify(c.match.kinds ?? [])}; the ${c.kind} generator builds ${g.resourceKinds.join(', ')}`,
      },
    };

  const labels = { ...labelsFor(c.match.labelSelector), ...MANAGED_BY, [RUN_LABEL]: input.runId };
  const name = `stack-scan-${input.runId}-${i}`;
  let namespace: string | undefined;
  let localNs = nsMap;
  if (kind === 'Namespace') {
    // The Namespace object itself must satisfy the constraint's namespace criteria.
    Object.assign(labels, labelsFor(c.match.namespaceSelector));
    localNs = new Map([...nsMap, [name, { name, labels }]]);
    if (!constraintMatches(c, { group: '', kind, labels, name }))
      return {
        ...head,
        skip: { verdict: 'UNTESTED', reason: 'no Namespace object the scan may create is matched by the constraint (namespaces/namespaceSelector)' },
      };
  } else {
    namespace = order.find((n) => constraintMatches(c, { group: groupOf(kind) ?? '', kind, namespace: nsMap.get(n)!, labels, name }));
    if (!namespace)
      return {
        ...head,
        skip: {
          verdict: 'UNTESTED',
          reason: "no existing namespace that Gatekeeper's webhook sees (outside kube-system and gatekeeper-system) is matched by the constraint",
        },
      };
  }

  const base = baseResource(kind, name, namespace, labels);
  if (!base) return { ...head, skip: { verdict: 'UNTESTED', reason: `cannot build a ${kind}` } };
  const { resource: valid, applied, stable } = makeValid(base, input.constraints, localNs);
  if (!stable)
    return {
      ...head,
      skip: { verdict: 'UNTESTED', reason: `no ${kind} satisfies every matching constraint: the requirements of ${applied.join(', ')} contradict each other` },
    };
  const violated = g.violate(valid, c);
  if ('untestable' in violated) return { ...head, skip: { verdict: 'UNTESTED', reason: violated.untestable as string } };
  const invalid = { ...violated, metadata: { ...violated.metadata, name: `${name}-x` } };
  return { ...head, method: 'generator', resourceKind: kind, namespace, valid, invalid, alsoSatisfies: applied.filter((n) => n !== c.name) };
}

function auditState(c: ConstraintInfo): string {
  if (c.auditTimestamp === null) return 'the audit has not judged it yet';
  return `the audit of ${c.auditTimestamp} reported ${c.totalViolations ?? 0} violation(s)`;
}

/** Replay request, or the reason none is possible. */
function replayTest(
  c: ConstraintInfo,
  input: PlanInput,
  nsMap: Map<string, NamespaceLabels>,
  sees: (ns: NamespaceLabels) => boolean,
  head: Head,
  why: string,
): PlannedTest {
  if (input.replay === false) return { ...head, skip: { verdict: 'UNTESTED', reason: `${why}, and replay of audited objects is off (OPA_SCAN_REPLAY=off)` } };
  if (!c.violations.length) {
    if (c.enforcementAction === 'dryrun')
      return { ...head, skip: { verdict: 'AUDIT_ONLY', reason: 'enforcementAction is dryrun: violations are only reported by audit, admission never denies' } };
    return {
      ...head,
      skip: {
        verdict: 'UNTESTED',
        reason:
          `${why}, and there is no audited violation to replay: ${auditState(c)}` +
          `${c.totalViolations ? ' but listed none (constraintViolationsLimit is 0?)' : ''}`,
      },
    };
  }
  const stackFirst = new Map(input.stackNamespaces.map((n, i) => [n, i]));
  const visible: AuditedViolation[] = [];
  const hidden = new Set<string>();
  for (const v of c.violations) {
    if (!v.kind || !v.name) continue;
    if (v.namespace !== undefined && v.namespace !== '') {
      const ns = nsMap.get(v.namespace) ?? { name: v.namespace, labels: {} };
      if (!sees(ns)) {
        hidden.add(v.namespace);
        continue;
      }
    }
    visible.push(v);
  }
  if (!visible.length) {
    const where = hidden.size
      ? `in namespaces Gatekeeper's webhook does not see (${[...hidden].join(', ')}): a replay there proves nothing`
      : 'without a kind and name';
    return { ...head, skip: { verdict: 'UNTESTED', reason: `${why}; every audited violation is ${where}` } };
  }
  const rank = (v: AuditedViolation) =>
    v.namespace !== undefined ? (stackFirst.get(v.namespace) ?? input.stackNamespaces.length) : input.stackNamespaces.length + 1;
  visible.sort((a, b) => rank(a) - rank(b));
  const complete = c.totalViolations !== null && c.totalViolations <= c.violations.length;
  return {
    ...head,
    method: 'replay',
    replay: { violations: visible, complete, auditTimestamp: c.auditTimestamp, ...(why.startsWith('the generator') ? { generatorSkipped: why } : {}) },
  };
}

export function planFull(input: PlanInput): PlannedTest[] {
  const nsMap = new Map(input.namespaces.map((n) => [n.name, n]));
  const sees = input.webhookSees ?? ((ns: NamespaceLabels) => !WEBHOOK_EXEMPT.has(ns.name));
  // Stack namespaces first, then any other namespace the webhook sees.
  const stack = new Set(input.stackNamespaces);
  const order = [...input.stackNamespaces.filter((n) => nsMap.has(n)), ...input.namespaces.map((n) => n.name).filter((n) => !stack.has(n))].filter(
    (n) => !WEBHOOK_EXEMPT.has(n) && sees(nsMap.get(n)!),
  );

  return input.constraints.map((c, i): PlannedTest => {
    const head = { constraint: c.name, kind: c.kind, enforcementAction: c.enforcementAction };
    const g = generatorFor(c.kind);
    if (!g) return replayTest(c, input, nsMap, sees, head, `no resource generator knows template kind ${c.kind}`);
    if (c.enforcementAction === 'dryrun')
      return { ...head, skip: { verdict: 'AUDIT_ONLY', reason: 'enforcementAction is dryrun: violations are only reported by audit, admission never denies' } };
    const t = generatorTest(c, i, g, input, nsMap, order, head);
    // A generator that cannot build a test (not one that says audit-only) leaves the constraint to replay.
    if (t.skip?.verdict === 'UNTESTED' && c.violations.length && input.replay !== false) {
      const r = replayTest(c, input, nsMap, sees, head, `the generator for ${c.kind} cannot test it (${t.skip.reason})`);
      return r.method ? r : t;
    }
    return t;
  });
}
