/**
 * Replay from the cluster, for constraints no generator decides (any template kind):
 * the audit names objects that violate the constraint; a copy of one (server-set
 * fields stripped, a fresh name) is submitted with `dryRun=All` in its namespace. For
 * the valid side, a copy of an object of the same kind that the constraint matches and
 * that the audit judged compliant (not among a complete list of violations, unchanged
 * since the audit).
 *
 *   replayCopy, pickCompliant  (pure)
 *   prepareReplays             (I/O: GET/LIST through gatekeeper-api.ts, cached per run)
 *
 * Reads obey the scan's permissions: a refused read is the reason, never "absent".
 * A Secret is never read (its data would be): Secrets are skipped, with the reason.
 */
import { toReportError, type ReportError } from '../../lib/errors.ts';
import { groupOf, kindInfo } from '../../lib/k8s/kinds.ts';
import { MANAGED_BY_KEY, MANAGED_BY_VALUE } from '../../lib/k8s/labels.ts';
import type { KubeObject } from '../../lib/k8s/types.ts';
import type { Kube } from '../../lib/kube/client.ts';
import { getObject } from '../../lib/kube/api.ts';
import { apiVersionString, KindResolver, listPage, type ApiResource, type Page } from './gatekeeper-api.ts';
import type { Resource } from './generators/types.ts';
import type { AuditedViolation, ConstraintInfo } from './inventory.ts';
import { constraintMatches, type NamespaceLabels } from './match.ts';
import type { ObjectRefOut, PlannedTest } from './plan.ts';

const SERVER_SET = [
  'uid',
  'resourceVersion',
  'managedFields',
  'creationTimestamp',
  'generation',
  'selfLink',
  'deletionTimestamp',
  'deletionGracePeriodSeconds',
  'ownerReferences',
  'generateName',
  'finalizers',
];
const SECRET_REASON = 'it is a Secret: the scan never reads a Secret (its data would come with it)';
/** Most namespaces listed per constraint while looking for a compliant object. */
export const MAX_VALID_LISTS = 4;

type Spec = Record<string, unknown> & {
  selector?: unknown;
  template?: { metadata?: { labels?: Record<string, string> } };
  clusterIP?: string;
  clusterIPs?: string[];
  ports?: Record<string, unknown>[];
  manualSelector?: boolean;
  ephemeralContainers?: unknown;
};

/**
 * A copy of `obj` that the API server accepts as a new object: server-set metadata,
 * status and allocated fields (Service IPs and node ports, a Job's generated selector,
 * a Pod's ephemeral containers) removed, under a fresh name.
 */
export function replayCopy(obj: KubeObject, name: string): Resource {
  const x = structuredClone(obj) as Resource;
  delete x.status;
  const meta = x.metadata as Record<string, unknown>;
  for (const k of SERVER_SET) delete meta[k];
  x.metadata.name = name;
  const spec = x.spec as Spec | undefined;
  if (spec && x.kind === 'Service') {
    if (spec.clusterIP !== 'None') {
      delete spec.clusterIP;
      delete spec.clusterIPs;
    }
    delete spec.healthCheckNodePort;
    for (const p of spec.ports ?? []) delete p.nodePort;
  }
  if (spec && x.kind === 'Job' && spec.manualSelector !== true) {
    delete spec.selector;
    const l = spec.template?.metadata?.labels;
    if (l) for (const k of ['controller-uid', 'batch.kubernetes.io/controller-uid', 'job-name', 'batch.kubernetes.io/job-name']) delete l[k];
  }
  if (spec && x.kind === 'Pod') delete spec.ephemeralContainers; // the API refuses them on create
  return x;
}

/** The last time the object changed, from managedFields (else its creation); NaN when unknown. */
export function lastChange(obj: KubeObject): number {
  const mf = (obj.metadata.managedFields as { time?: string }[] | undefined) ?? [];
  const times = mf.map((m) => Date.parse(m.time ?? '')).filter(Number.isFinite);
  if (times.length) return Math.max(...times);
  return Date.parse(String(obj.metadata.creationTimestamp ?? ''));
}

const changedSinceAudit = (obj: KubeObject, audit: string | null) => audit === null || !(lastChange(obj) <= Date.parse(audit));

const keyOf = (v: { kind?: string; namespace?: string; name?: string }) => `${v.kind}|${v.namespace ?? ''}|${v.name}`;

/** The first listed object the constraint matches, that the audit judged compliant. */
export function pickCompliant(
  c: ConstraintInfo,
  items: KubeObject[],
  api: ApiResource,
  ns: NamespaceLabels | undefined,
  auditTimestamp: string | null,
): KubeObject | undefined {
  const violating = new Set(c.violations.map(keyOf));
  return items.find(
    (o) =>
      o.metadata.labels?.[MANAGED_BY_KEY] !== MANAGED_BY_VALUE &&
      !o.metadata.deletionTimestamp &&
      !violating.has(keyOf({ kind: api.kind, namespace: o.metadata.namespace, name: o.metadata.name })) &&
      !changedSinceAudit(o, auditTimestamp) &&
      constraintMatches(c, { group: api.group, kind: api.kind, namespace: ns, labels: o.metadata.labels ?? {}, name: o.metadata.name }),
  );
}

export interface ReplayContext {
  runId: string;
  namespaces: Map<string, NamespaceLabels>;
  constraints: Map<string, ConstraintInfo>;
  stackNamespaces: string[];
  /** Namespaces the webhook sees. */
  sees: (ns: NamespaceLabels) => boolean;
  signal?: AbortSignal;
}

/** Cached reads of one run: objects, one-page lists and kind resolution are shared by every constraint. */
class Reads {
  private readonly objects = new Map<string, Promise<KubeObject | undefined>>();
  private readonly lists = new Map<string, Promise<Page<KubeObject>>>();
  readonly resolver: KindResolver;
  constructor(private readonly kube: Kube) {
    this.resolver = new KindResolver(kube);
  }
  get(api: ApiResource, name: string, namespace?: string) {
    const key = `${apiVersionString(api)}|${api.plural}|${namespace ?? ''}|${name}`;
    let p = this.objects.get(key);
    if (!p) this.objects.set(key, (p = getObject(this.kube, { kind: api, name, ...(namespace !== undefined ? { namespace } : {}) })));
    return p;
  }
  list(api: ApiResource, namespace?: string) {
    const key = `${apiVersionString(api)}|${api.plural}|${namespace ?? '*'}`;
    let p = this.lists.get(key);
    if (!p) this.lists.set(key, (p = listPage(this.kube, api, { namespace, limit: 200 })));
    return p;
  }
}

const refOut = (kind: string, o: KubeObject): ObjectRefOut => ({
  kind,
  ...(o.metadata.namespace ? { namespace: o.metadata.namespace } : {}),
  name: o.metadata.name,
});

/** The API resource of an audited violation (group/version from the audit; the shared table when they are missing). */
async function resourceOf(reads: Reads, v: AuditedViolation): Promise<ApiResource | undefined> {
  const k = kindInfo(v.kind!);
  const group = v.group ?? k?.group ?? groupOf(v.kind!);
  const version = v.version || (k && k.group === group ? k.version : undefined);
  if (group === undefined || !version) return undefined;
  return reads.resolver.resolve(group, version, v.kind!);
}

async function prepareOne(reads: Reads, p: PlannedTest, i: number, ctx: ReplayContext, errors: ReportError[]): Promise<PlannedTest> {
  const head = { constraint: p.constraint, kind: p.kind, enforcementAction: p.enforcementAction };
  const c = ctx.constraints.get(p.constraint)!;
  const req = p.replay!;
  const notes: string[] = [];
  let source: { obj: KubeObject; api: ApiResource } | undefined;
  for (const v of req.violations.slice(0, 5)) {
    const where = `${v.kind} ${v.namespace ? `${v.namespace}/` : ''}${v.name}`;
    if (v.kind === 'Secret' && (v.group ?? '') === '') {
      notes.push(`${where}: ${SECRET_REASON}`);
      continue;
    }
    try {
      const api = await resourceOf(reads, v);
      if (!api) {
        notes.push(`${where}: the API server does not serve kind ${v.kind} in ${v.group ?? '?'}/${v.version ?? '?'}`);
        continue;
      }
      const obj = await reads.get(api, v.name!, api.namespaced ? v.namespace : undefined);
      if (!obj) notes.push(`${where}: it no longer exists`);
      else if (changedSinceAudit(obj, req.auditTimestamp))
        notes.push(`${where}: it changed after the audit of ${req.auditTimestamp}, so the audit's verdict on it may be stale`);
      else {
        source = { obj, api };
        break;
      }
    } catch (err) {
      const e = toReportError(`replay: read the audited ${where} for constraint ${p.constraint}`, err);
      errors.push(e);
      notes.push(`${where}: ${e.message}`);
    }
  }
  const prefix = req.generatorSkipped ?? `no resource generator knows template kind ${p.kind}`;
  if (!source) return { ...head, skip: { verdict: 'UNTESTED', reason: `${prefix}; no audited violation could be replayed: ${notes.join('; ')}` } };

  const { obj, api } = source;
  const name = `stack-scan-${ctx.runId}-${i}`;
  const invalid = replayCopy(obj, `${name}-x`);
  const ns = obj.metadata.namespace;
  const out: PlannedTest = {
    ...head,
    method: 'replay',
    api,
    resourceKind: api.kind,
    ...(ns ? { namespace: ns } : {}),
    invalid,
    sources: { invalid: refOut(api.kind, obj) },
  };

  // The valid side.
  if (!req.complete) {
    out.sources!.validUntested =
      `the audit lists ${c.violations.length} of ${c.totalViolations ?? '?'} violations, so an object missing from the ` +
      `list may still violate: no object is known to comply`;
    return out;
  }
  const nsOrder = api.namespaced
    ? [ns!, ...ctx.stackNamespaces, ...ctx.namespaces.keys()]
        .filter(
          (n, j, all) =>
            all.indexOf(n) === j && ctx.namespaces.has(n) && ctx.sees(ctx.namespaces.get(n)!) && constraintMatchesNs(c, api, ctx.namespaces.get(n)!),
        )
        .slice(0, MAX_VALID_LISTS)
    : [undefined];
  const tried: string[] = [];
  for (const n of nsOrder) {
    try {
      const page = await reads.list(api, n);
      const pick = pickCompliant(c, page.items, api, n !== undefined ? ctx.namespaces.get(n) : undefined, req.auditTimestamp);
      if (pick) {
        out.valid = replayCopy(pick, name);
        out.sources!.valid = refOut(api.kind, pick);
        return out;
      }
      tried.push(n ?? 'the cluster');
    } catch (err) {
      const e = toReportError(`replay: list ${api.plural} ${n ? `in ${n} ` : ''}for constraint ${p.constraint}`, err);
      errors.push(e);
      tried.push(`${n ?? 'the cluster'} (${e.message})`);
    }
  }
  out.sources!.validUntested =
    `no ${api.kind} that the constraint matches and the audit judged compliant was found` +
    `${tried.length ? ` in ${tried.join(', ')}` : ' (no namespace the ' + 'constraint matches is ' + 'seen by the webhook)'}`;
  return out;
}

function constraintMatchesNs(c: ConstraintInfo, api: ApiResource, ns: NamespaceLabels): boolean {
  // labels aside (the object's own labels are checked per object)
  return constraintMatches(
    { match: { ...c.match, labelSelector: undefined, name: undefined } },
    { group: api.group, kind: api.kind, namespace: ns, labels: {} },
  );
}

/** Turns every replay request into concrete resources (or a skip with the reason). */
export async function prepareReplays(kube: Kube, plans: PlannedTest[], ctx: ReplayContext): Promise<{ plans: PlannedTest[]; errors: ReportError[] }> {
  const reads = new Reads(kube);
  const errors: ReportError[] = [];
  const out = await Promise.all(
    plans.map(async (p, i) => {
      if (p.method !== 'replay' || !p.replay) return p;
      if (ctx.signal?.aborted)
        return {
          constraint: p.constraint,
          kind: p.kind,
          enforcementAction: p.enforcementAction,
          skip: { verdict: 'UNTESTED' as const, reason: 'the scan stopped (timeout or cancelled) before this constraint was replayed' },
        };
      return prepareOne(reads, p, i, ctx, errors);
    }),
  );
  return { plans: out, errors };
}
