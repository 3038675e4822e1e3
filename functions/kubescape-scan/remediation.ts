/**
 * Stacktic remediation: for a failed kubescape control, which attribute of the
 * Stacktic component (stack-metadata.yaml `attributes`) fixes it, and how. A
 * data table; the attribute names are those of real Stacktic metadata
 * (securityContext, pod_level_security, user_id, writable_directory, directory,
 * probes, cpu_limit, cpu_request, mem_limit, mem_request, network_policy, rbac,
 * service_type, pvc, configmap, env). `attributes: []` means no component
 * attribute covers it: the Kubernetes field (from kubescape) is the fix.
 *
 * Only these attribute names are ever read from the metadata into a report:
 * none of them holds a secret (passwords, keys and tokens are never read).
 */
import type { Component } from '../../lib/topology/types.ts';

export interface RemediationRow {
  /** kubescape control id. */
  control: string;
  /** Component attributes to set, in order of preference. */
  attributes: string[];
  /** What to set them to, in words. */
  advice: string;
}

export const REMEDIATIONS: readonly RemediationRow[] = [
  {
    control: 'C-0013',
    attributes: ['securityContext', 'pod_level_security', 'user_id'],
    advice: 'set securityContext: true and pod_level_security: true (runAsNonRoot) and user_id to a non-zero UID',
  },
  { control: 'C-0016', attributes: ['securityContext'], advice: 'set securityContext: true (allowPrivilegeEscalation: false)' },
  {
    control: 'C-0017',
    attributes: ['securityContext', 'writable_directory', 'directory'],
    advice:
      'set securityContext: true (readOnlyRootFilesystem: true); where the application writes, set writable_directory: true and directory to that ' +
      'path (a writable emptyDir is mounted there)',
  },
  {
    control: 'C-0055',
    attributes: ['securityContext', 'pod_level_security'],
    advice: 'set securityContext: true and pod_level_security: true (seccompProfile RuntimeDefault, capabilities dropped)',
  },
  { control: 'C-0046', attributes: ['securityContext'], advice: 'set securityContext: true (drop ALL capabilities; add none of the insecure ones)' },
  {
    control: 'C-0057',
    attributes: ['securityContext', 'pod_level_security'],
    advice: 'set securityContext: true and pod_level_security: true (privileged: false)',
  },
  {
    control: 'C-0034',
    attributes: ['rbac'],
    advice: 'set rbac: true so the component runs under its own ServiceAccount; set automountServiceAccountToken: false where it does not call the API',
  },
  { control: 'C-0270', attributes: ['cpu_limit', 'cpu_request'], advice: 'set cpu_limit (and cpu_request) on the component' },
  { control: 'C-0271', attributes: ['mem_limit', 'mem_request'], advice: 'set mem_limit (and mem_request) on the component' },
  { control: 'C-0009', attributes: ['cpu_limit', 'mem_limit'], advice: 'set cpu_limit and mem_limit on the component' },
  { control: 'C-0050', attributes: ['cpu_limit', 'cpu_request'], advice: 'set cpu_limit and cpu_request on the component' },
  { control: 'C-0004', attributes: ['mem_limit', 'mem_request'], advice: 'set mem_limit and mem_request on the component' },
  { control: 'C-0018', attributes: ['probes'], advice: 'set probes: true (readiness probe)' },
  { control: 'C-0056', attributes: ['probes'], advice: 'set probes: true (liveness probe)' },
  { control: 'C-0030', attributes: ['network_policy'], advice: 'set network_policy: true so the component gets ingress and egress NetworkPolicies' },
  { control: 'C-0054', attributes: ['network_policy'], advice: 'set network_policy: true on the components of this namespace' },
  { control: 'C-0260', attributes: ['network_policy'], advice: 'set network_policy: true so the workload is selected by a NetworkPolicy' },
  { control: 'C-0035', attributes: ['rbac'], advice: 'review rbac: bind the component to a Role with only the verbs it needs, not an administrative role' },
  { control: 'C-0015', attributes: ['rbac'], advice: "review rbac: the component's Role should not list or get Secrets" },
  { control: 'C-0007', attributes: ['rbac'], advice: "review rbac: the component's Role should not delete resources it does not own" },
  { control: 'C-0002', attributes: ['rbac'], advice: "review rbac: remove pods/exec from the component's Role" },
  { control: 'C-0031', attributes: ['rbac'], advice: "review rbac: remove delete on events from the component's Role" },
  { control: 'C-0037', attributes: ['rbac'], advice: "review rbac: remove update/patch on ConfigMaps (CoreDNS) from the component's Role" },
  { control: 'C-0053', attributes: ['rbac'], advice: 'set rbac: true (own ServiceAccount with least privilege) and do not mount its token unless needed' },
  { control: 'C-0012', attributes: ['configmap', 'env'], advice: 'move credentials out of configmap/env values into a Secret' },
  { control: 'C-0021', attributes: ['service_type'], advice: 'set service_type: ClusterIP and expose the interface through the gateway only' },
  { control: 'C-0045', attributes: ['pvc'], advice: 'set pvc: true (a PersistentVolumeClaim) instead of a hostPath volume' },
  { control: 'C-0048', attributes: ['pvc'], advice: 'set pvc: true (a PersistentVolumeClaim) instead of a hostPath volume' },
  { control: 'C-0038', attributes: [], advice: 'remove hostPID/hostIPC from the workload (no Stacktic attribute sets them)' },
  { control: 'C-0041', attributes: [], advice: 'remove hostNetwork from the workload (no Stacktic attribute sets it)' },
  { control: 'C-0044', attributes: [], advice: 'remove hostPort from the containers; expose the port through a Service' },
  { control: 'C-0026', attributes: [], advice: 'review the CronJob: it is a persistence vector (no Stacktic attribute)' },
];

const BY_CONTROL = new Map(REMEDIATIONS.map((r) => [r.control, r]));

/** Attribute names whose values may appear in a report. */
export const REPORTED_ATTRIBUTES: ReadonlySet<string> = new Set(REMEDIATIONS.flatMap((r) => r.attributes));

/** Free-text attributes that may embed credentials (e.g. a configmap with an API key): only whether they are set is reported. */
export const VALUE_HIDDEN = new Set(['configmap', 'env']);
export const HIDDEN = '(set; value not shown, it may hold credentials)';

/** Names that hold secrets in Stacktic metadata: never reported, whatever a table says. */
export const SECRET_ATTRIBUTE = /pass|secret|token|key|crt|cert|huggingface|credential|auth/i;

export interface Remediation {
  /** The attributes to set, each with the component's current value (null: not set in the metadata). */
  attributes: { name: string; current: string | number | boolean | null }[];
  advice: string;
}

function scalar(v: unknown): string | number | boolean | null {
  if (v === undefined || v === null) return null;
  if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') return v;
  return JSON.stringify(v);
}

/**
 * The Stacktic remediation of a control for a component (or for the control
 * alone when the resource belongs to no component). null: the table has no row.
 */
export function remediationFor(controlId: string, component: Component | null): Remediation | null {
  const row = BY_CONTROL.get(controlId);
  if (!row) return null;
  return {
    attributes: row.attributes
      .filter((name) => !SECRET_ATTRIBUTE.test(name))
      .map((name) => {
        const v = component && Object.hasOwn(component.attributes, name) ? scalar(component.attributes[name]) : null;
        return { name, current: v !== null && VALUE_HIDDEN.has(name) ? HIDDEN : v };
      }),
    advice: row.advice,
  };
}
