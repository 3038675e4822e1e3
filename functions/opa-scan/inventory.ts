/**
 * Execute step of the OPA scan: read what the cluster says about Gatekeeper.
 * Every read that fails is recorded in `errors` and the rest goes on. A read that
 * was refused (403) or failed otherwise is NEVER taken for "absent": the parts it
 * feeds are listed in `incomplete`, and the judge says it could not decide.
 * Only a 404 (or an empty answer) means absent.
 */
import { ScanError, toReportError, type ReportError } from '../../lib/errors.ts';
import type { KubeObject, LabelSelector } from '../../lib/k8s/types.ts';
import { getObject, listObjects } from '../../lib/kube/api.ts';
import { listNamespaces } from '../../lib/kube/api.ts';
import type { Kube } from '../../lib/kube/client.ts';
import { CONSTRAINT_TEMPLATES, constraintResource, listAll } from './gatekeeper-api.ts';
import type { Constraint, Match } from './generators/types.ts';
import type { NamespaceLabels } from './match.ts';

export const DEFAULT_GATEKEEPER_NAMESPACES = ['gatekeeper-system', 'opa', 'gatekeeper'];
/** The label every object of a Gatekeeper install carries. */
export const GATEKEEPER_SYSTEM_SELECTOR = 'gatekeeper.sh/system=yes';

export interface WebhookInfo {
  configuration: string;
  name: string;
  failurePolicy: string;
  target: string;
  /** The Service the webhook calls; absent for a URL webhook. */
  service?: { namespace: string; name: string };
  namespace?: string;
  namespaceSelector?: LabelSelector;
  objectSelector?: LabelSelector;
}

export type GatekeeperRole = 'webhook' | 'audit' | 'other';

export interface GatekeeperPod {
  name: string;
  namespace: string;
  ready: boolean;
  phase: string;
  /** From the `gatekeeper.sh/operation` (or `control-plane`) label of Gatekeeper's manifests. */
  role: GatekeeperRole;
}

export interface DeploymentInfo {
  name: string;
  namespace: string;
  ready: number;
  desired: number;
}

export interface ServiceSeen {
  namespace: string;
  name: string;
  /** null: the scan could not read it. */
  found: boolean | null;
}

export interface TemplateInfo {
  name: string;
  kind: string;
  created: boolean | null;
  errors: string[];
}

export interface AuditedViolation {
  group?: string;
  version?: string;
  kind?: string;
  name?: string;
  namespace?: string;
  message: string;
  enforcementAction?: string;
}

export interface ConstraintInfo extends Constraint {
  /** Per Gatekeeper pod: was the constraint enforced? Empty when status is not yet written. */
  enforced: boolean[];
  totalViolations: number | null;
  auditTimestamp: string | null;
  violations: AuditedViolation[];
}

/** Parts of the inventory a failed read left incomplete. */
export type Part = 'presence' | 'webhooks' | 'templates' | 'constraints' | 'namespaces' | 'workloads' | 'services';

export interface Inventory {
  /** Where Gatekeeper was recognised; null when it was not found (see `installed`). */
  namespace: string | null;
  /** true: found; false: every read that could find it answered "absent"; null: a read failed, so absence is not proven. */
  installed: boolean | null;
  signals: { crds: boolean | null; webhooks: WebhookInfo[]; deployments: DeploymentInfo[]; pods: GatekeeperPod[]; services: ServiceSeen[] };
  templates: TemplateInfo[];
  constraints: ConstraintInfo[];
  namespaces: NamespaceLabels[];
  incomplete: Part[];
  errors: ReportError[];
}

// The shapes read from the API (only the fields used).
interface TemplateObject extends KubeObject {
  spec?: { crd?: { spec?: { names?: { kind?: string } } } };
  status?: { created?: boolean; byPod?: { id?: string; errors?: { code?: string; message?: string }[] }[] };
}
export interface ConstraintObject extends KubeObject {
  spec?: { enforcementAction?: string; match?: Match; parameters?: Record<string, unknown> };
  status?: { byPod?: { enforced?: boolean }[]; totalViolations?: number; auditTimestamp?: string; violations?: AuditedViolation[] };
}
interface WebhookConfigObject extends KubeObject {
  webhooks?: {
    name: string;
    failurePolicy?: string;
    clientConfig?: { service?: { namespace: string; name: string; path?: string }; url?: string };
    namespaceSelector?: LabelSelector;
    objectSelector?: LabelSelector;
  }[];
}
interface DeploymentObject extends KubeObject {
  spec?: { replicas?: number };
  status?: { readyReplicas?: number };
}
interface PodObject extends KubeObject {
  status?: { phase?: string; conditions?: { type: string; status: string }[] };
}

const FATAL = new Set(['cluster_unreachable', 'cluster_unconfigured', 'unauthenticated']);

class Reader {
  readonly errors: ReportError[] = [];
  readonly incomplete = new Set<Part>();
  /** Runs a read; 404 → `absent`; any other failure → recorded, `part` marked incomplete, `absent` returned. */
  async read<T>(step: string, parts: Part[], fn: () => Promise<T>, absent: T): Promise<{ value: T; ok: boolean }> {
    try {
      return { value: await fn(), ok: true };
    } catch (err) {
      if (err instanceof ScanError && FATAL.has(err.info.code)) throw err;
      if (err instanceof ScanError && err.status === 404) return { value: absent, ok: true };
      this.errors.push(toReportError(step, err));
      for (const p of parts) this.incomplete.add(p);
      return { value: absent, ok: false };
    }
  }
}

function roleOf(labels: Record<string, string> | undefined): GatekeeperRole {
  const op = labels?.['gatekeeper.sh/operation'];
  const cp = labels?.['control-plane'];
  if (op === 'webhook' || cp === 'controller-manager') return 'webhook';
  if (op === 'audit' || cp === 'audit-controller') return 'audit';
  return 'other';
}

export async function readInventory(kube: Kube, opts: { namespace?: string } = {}): Promise<Inventory> {
  const r = new Reader();
  const candidates = [...new Set([opts.namespace, ...DEFAULT_GATEKEEPER_NAMESPACES].filter((x): x is string => !!x))];

  let templatesServed = false;
  const [crd, webhookList, namespaces, templateList] = await Promise.all([
    r.read(
      'get the constrainttemplates CRD',
      ['presence'],
      async () => !!(await getObject(kube, { kind: 'CustomResourceDefinition', name: 'constrainttemplates.templates.gatekeeper.sh' })),
      false,
    ),
    r.read(
      'list validatingwebhookconfigurations',
      ['presence', 'webhooks'],
      () => listObjects<WebhookConfigObject>(kube, 'ValidatingWebhookConfiguration'),
      [],
    ),
    r.read('list namespaces', ['namespaces'], () => listNamespaces(kube), []),
    r.read(
      'list constrainttemplates',
      ['presence', 'templates', 'constraints'],
      async () => {
        const items = await listAll<TemplateObject>(kube, CONSTRAINT_TEMPLATES);
        templatesServed = true; // a 404 (CRD absent) throws before this line
        return items;
      },
      [],
    ),
  ]);

  const webhooks: WebhookInfo[] = [];
  for (const cfg of webhookList.value) {
    for (const w of cfg.webhooks ?? []) {
      if (!/gatekeeper\.sh$/.test(w.name)) continue;
      const svc = w.clientConfig?.service;
      webhooks.push({
        configuration: cfg.metadata.name,
        name: w.name,
        failurePolicy: w.failurePolicy ?? 'Fail',
        target: svc ? `service ${svc.namespace}/${svc.name}${svc.path ?? ''}` : String(w.clientConfig?.url ?? ''),
        ...(svc ? { service: { namespace: svc.namespace, name: svc.name }, namespace: svc.namespace } : {}),
        ...(w.namespaceSelector ? { namespaceSelector: w.namespaceSelector } : {}),
        ...(w.objectSelector ? { objectSelector: w.objectSelector } : {}),
      });
    }
  }
  const nsNames = new Set(namespaces.value.map((n) => n.name));
  const webhookNs = webhooks.find((w) => w.namespace)?.namespace;
  // Without the namespace list, every candidate is tried (a 404 or 403 there is then recorded as such).
  const search = [...new Set([...candidates, ...(webhookNs ? [webhookNs] : [])])].filter((n) => !namespaces.ok || nsNames.has(n));

  const deployments: DeploymentInfo[] = [];
  const pods: GatekeeperPod[] = [];
  await Promise.all(
    search.map(async (ns) => {
      const [deps, ps] = await Promise.all([
        r.read(
          `list deployments in ${ns}`,
          ['presence', 'workloads'],
          () => listObjects<DeploymentObject>(kube, 'Deployment', { namespace: ns, labelSelector: GATEKEEPER_SYSTEM_SELECTOR }),
          [],
        ),
        r.read(
          `list pods in ${ns}`,
          ['presence', 'workloads'],
          () => listObjects<PodObject>(kube, 'Pod', { namespace: ns, labelSelector: GATEKEEPER_SYSTEM_SELECTOR }),
          [],
        ),
      ]);
      for (const d of deps.value)
        deployments.push({ name: d.metadata.name, namespace: ns, ready: d.status?.readyReplicas ?? 0, desired: d.spec?.replicas ?? 1 });
      for (const p of ps.value) {
        const ready = (p.status?.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True');
        pods.push({ name: p.metadata.name, namespace: ns, ready, phase: p.status?.phase ?? 'Unknown', role: roleOf(p.metadata.labels) });
      }
    }),
  );

  const serviceRefs = new Map<string, { namespace: string; name: string }>();
  for (const w of webhooks) if (w.service) serviceRefs.set(`${w.service.namespace}/${w.service.name}`, w.service);
  const services: ServiceSeen[] = await Promise.all(
    [...serviceRefs.values()].map(async (s) => {
      const got = await r.read(
        `get service ${s.namespace}/${s.name} (Gatekeeper's webhook)`,
        ['services'],
        async () => !!(await getObject(kube, { kind: 'Service', namespace: s.namespace, name: s.name })),
        false,
      );
      return { ...s, found: got.ok ? got.value : null };
    }),
  );

  const templates: TemplateInfo[] = templateList.value.map((t) => ({
    name: t.metadata.name,
    kind: t.spec?.crd?.spec?.names?.kind ?? t.metadata.name,
    created: typeof t.status?.created === 'boolean' ? t.status.created : null,
    errors: (t.status?.byPod ?? []).flatMap((p) => (p.errors ?? []).map((e) => `${p.id ?? 'pod'}: ${e.message ?? e.code ?? 'error'}`)),
  }));

  const constraints: ConstraintInfo[] = [];
  await Promise.all(
    templates.map(async (t) => {
      const res = constraintResource(t.kind);
      const list = await r.read(`list ${res.plural}.${res.group}`, ['constraints'], () => listAll<ConstraintObject>(kube, res), []);
      for (const c of list.value) constraints.push(toConstraint(c, t.kind));
    }),
  );
  constraints.sort((a, b) => a.kind.localeCompare(b.kind) || a.name.localeCompare(b.name));

  const gkNamespace = deployments[0]?.namespace ?? pods[0]?.namespace ?? webhookNs ?? search[0] ?? candidates[0] ?? null;
  // The templates list answers 200 only when the CRD exists.
  const found = crd.value || templatesServed || webhooks.length > 0 || deployments.length > 0 || pods.length > 0;
  const installed = found ? true : r.incomplete.has('presence') ? null : false;

  return {
    namespace: installed ? gkNamespace : null,
    installed,
    signals: { crds: crd.ok ? crd.value : null, webhooks, deployments, pods, services },
    templates: templates.sort((a, b) => a.name.localeCompare(b.name)),
    constraints,
    namespaces: namespaces.value,
    incomplete: [...r.incomplete].sort(),
    errors: r.errors,
  };
}

export function toConstraint(c: ConstraintObject, kind: string): ConstraintInfo {
  const status = c.status ?? {};
  return {
    name: c.metadata.name,
    kind: c.kind ?? kind,
    enforcementAction: c.spec?.enforcementAction ?? 'deny',
    match: c.spec?.match ?? {},
    parameters: c.spec?.parameters ?? {},
    enforced: (status.byPod ?? []).map((p) => p.enforced === true),
    totalViolations: typeof status.totalViolations === 'number' ? status.totalViolations : null,
    auditTimestamp: status.auditTimestamp ?? null,
    violations: (status.violations ?? []).map((v) => ({
      group: v.group,
      version: v.version,
      kind: v.kind,
      name: v.name,
      namespace: v.namespace,
      message: v.message,
      enforcementAction: v.enforcementAction,
    })),
  };
}
