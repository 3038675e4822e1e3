/**
 * Execute step of the OPA scan: read what the cluster says about Gatekeeper.
 * Every read that fails is recorded in `errors` and the rest goes on.
 */
import { ScanError, toReportError, type ReportError } from '../../lib/errors.ts';
import type { Kube } from '../../lib/kube/client.ts';
import { apiGet } from '../../lib/kube/raw.ts';
import type { Constraint } from './generators/types.ts';

export const DEFAULT_GATEKEEPER_NAMESPACES = ['gatekeeper-system', 'opa', 'gatekeeper'];

export interface WebhookInfo {
  configuration: string;
  name: string;
  failurePolicy: string;
  target: string;
  namespace?: string;
}

export interface PodInfo {
  name: string;
  namespace: string;
  ready: boolean;
  phase: string;
}

export interface TemplateInfo {
  name: string;
  kind: string;
  created: boolean | null;
  errors: string[];
}

export interface ConstraintInfo extends Constraint {
  /** Per Gatekeeper pod: was the constraint enforced? Empty when status is not yet written. */
  enforced: boolean[];
  totalViolations: number | null;
  auditTimestamp: string | null;
  violations: { kind?: string; name?: string; namespace?: string; message: string; enforcementAction?: string }[];
}

export interface Inventory {
  /** Where Gatekeeper was recognised; null when it was not found. */
  namespace: string | null;
  signals: { crds: boolean; webhooks: WebhookInfo[]; deployments: { name: string; namespace: string; ready: number; desired: number }[]; pods: PodInfo[] };
  templates: TemplateInfo[];
  constraints: ConstraintInfo[];
  namespaces: { name: string; labels: Record<string, string> }[];
  errors: ReportError[];
}

async function attempt<T>(errors: ReportError[], step: string, fn: () => Promise<T>, fallback: T): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof ScanError && (err.info.code === 'cluster_unreachable' || err.info.code === 'cluster_unconfigured')) throw err;
    if (err instanceof ScanError && err.status === 404) return fallback; // absent: a signal, not an error
    errors.push(toReportError(step, err));
    return fallback;
  }
}

export async function readInventory(kube: Kube, opts: { namespace?: string } = {}): Promise<Inventory> {
  const errors: ReportError[] = [];
  const candidates = [...new Set([opts.namespace, ...DEFAULT_GATEKEEPER_NAMESPACES].filter((x): x is string => !!x))];

  const [crd, webhookList, namespaces, templateList] = await Promise.all([
    attempt(errors, 'get constrainttemplates CRD', () => apiGet(kube, { verb: 'get', resource: 'customresourcedefinitions.apiextensions.k8s.io' }, '/apis/apiextensions.k8s.io/v1/customresourcedefinitions/constrainttemplates.templates.gatekeeper.sh').then(() => true), false),
    attempt(errors, 'list validatingwebhookconfigurations', () => apiGet(kube, { verb: 'list', resource: 'validatingwebhookconfigurations.admissionregistration.k8s.io' }, '/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations'), { items: [] }),
    attempt(errors, 'list namespaces', () => apiGet(kube, { verb: 'list', resource: 'namespaces' }, '/api/v1/namespaces'), { items: [] }),
    attempt(errors, 'list constrainttemplates', () => apiGet(kube, { verb: 'list', resource: 'constrainttemplates.templates.gatekeeper.sh' }, '/apis/templates.gatekeeper.sh/v1/constrainttemplates'), { items: [] }),
  ]);

  const webhooks: WebhookInfo[] = [];
  for (const cfg of webhookList.items ?? []) {
    for (const w of cfg.webhooks ?? []) {
      if (!/gatekeeper\.sh$/.test(w.name)) continue;
      const svc = w.clientConfig?.service;
      webhooks.push({
        configuration: cfg.metadata.name,
        name: w.name,
        failurePolicy: w.failurePolicy ?? 'Fail',
        target: svc ? `service ${svc.namespace}/${svc.name}${svc.path ?? ''}` : String(w.clientConfig?.url ?? ''),
        ...(svc?.namespace ? { namespace: svc.namespace } : {}),
      });
    }
  }
  const nsNames = new Set<string>((namespaces.items ?? []).map((n: any) => n.metadata.name));
  const webhookNs = webhooks.find((w) => w.namespace)?.namespace;
  const search = [...new Set([...candidates, ...(webhookNs ? [webhookNs] : [])])].filter((n) => nsNames.has(n));

  const deployments: Inventory['signals']['deployments'] = [];
  const pods: PodInfo[] = [];
  await Promise.all(
    search.map(async (ns) => {
      const [deps, ps] = await Promise.all([
        attempt(errors, `list deployments in ${ns}`, () => apiGet(kube, { verb: 'list', resource: 'deployments.apps', namespace: ns }, `/apis/apps/v1/namespaces/${ns}/deployments`, { labelSelector: 'gatekeeper.sh/system=yes' }), { items: [] }),
        attempt(errors, `list pods in ${ns}`, () => apiGet(kube, { verb: 'list', resource: 'pods', namespace: ns }, `/api/v1/namespaces/${ns}/pods`, { labelSelector: 'gatekeeper.sh/system=yes' }), { items: [] }),
      ]);
      for (const d of deps.items ?? []) deployments.push({ name: d.metadata.name, namespace: ns, ready: d.status?.readyReplicas ?? 0, desired: d.spec?.replicas ?? 1 });
      for (const p of ps.items ?? []) {
        const ready = (p.status?.conditions ?? []).some((c: any) => c.type === 'Ready' && c.status === 'True');
        pods.push({ name: p.metadata.name, namespace: ns, ready, phase: p.status?.phase ?? 'Unknown' });
      }
    }),
  );

  const gkNamespace = deployments[0]?.namespace ?? pods[0]?.namespace ?? webhookNs ?? (crd || webhooks.length ? search[0] ?? null : null);
  const found = crd || webhooks.length > 0 || deployments.length > 0 || pods.length > 0;

  const templates: TemplateInfo[] = (templateList.items ?? []).map((t: any) => {
    const byPod: any[] = t.status?.byPod ?? [];
    return {
      name: t.metadata.name,
      kind: t.spec?.crd?.spec?.names?.kind ?? t.metadata.name,
      created: typeof t.status?.created === 'boolean' ? t.status.created : null,
      errors: byPod.flatMap((p) => (p.errors ?? []).map((e: any) => `${p.id ?? 'pod'}: ${e.message ?? e.code ?? JSON.stringify(e)}`)),
    };
  });

  const constraints: ConstraintInfo[] = [];
  await Promise.all(
    templates.map(async (t) => {
      const list = await attempt(errors, `list ${t.kind.toLowerCase()}.constraints.gatekeeper.sh`, () => apiGet(kube, { verb: 'list', resource: `${t.kind.toLowerCase()}.constraints.gatekeeper.sh` }, `/apis/constraints.gatekeeper.sh/v1beta1/${t.kind.toLowerCase()}`), { items: [] });
      for (const c of list.items ?? []) constraints.push(toConstraint(c, t.kind));
    }),
  );
  constraints.sort((a, b) => a.kind.localeCompare(b.kind) || a.name.localeCompare(b.name));

  return {
    namespace: found ? gkNamespace : null,
    signals: { crds: crd, webhooks, deployments, pods },
    templates: templates.sort((a, b) => a.name.localeCompare(b.name)),
    constraints,
    namespaces: (namespaces.items ?? []).map((n: any) => ({ name: n.metadata.name, labels: n.metadata.labels ?? {} })),
    errors,
  };
}

export function toConstraint(c: any, kind: string): ConstraintInfo {
  const status = c.status ?? {};
  return {
    name: c.metadata.name,
    kind: c.kind ?? kind,
    enforcementAction: c.spec?.enforcementAction ?? 'deny',
    match: c.spec?.match ?? {},
    parameters: c.spec?.parameters ?? {},
    enforced: (status.byPod ?? []).map((p: any) => p.enforced === true),
    totalViolations: typeof status.totalViolations === 'number' ? status.totalViolations : null,
    auditTimestamp: status.auditTimestamp ?? null,
    violations: (status.violations ?? []).map((v: any) => ({ kind: v.kind, name: v.name, namespace: v.namespace, message: v.message, enforcementAction: v.enforcementAction })),
  };
}
