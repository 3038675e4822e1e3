/** Label values, and the labels on everything stack-scan creates in a cluster. */

const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;

/** Whether `v` is a valid Kubernetes label value (at most 63 characters, alphanumeric at both ends). */
export function isLabelValue(v: string): boolean {
  return v.length <= 63 && LABEL_VALUE.test(v);
}

/** A valid label value derived from `s` (a resource name can be longer than a label value may be). */
export function toLabelValue(s: string): string {
  const v = s
    .slice(0, 63)
    .replace(/[^-A-Za-z0-9_.]/g, '-')
    .replace(/^[^A-Za-z0-9]+/, '')
    .replace(/[^A-Za-z0-9]+$/, '');
  return v || 'stack-scan';
}

/** A DNS-1123 label: lowercase alphanumerics and '-', at most 63, alphanumeric at both ends (namespace names). */
export function isDns1123Label(v: string): boolean {
  return v.length > 0 && v.length <= 63 && /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(v);
}

/** Every object a scan creates carries this label (sweeps select on it). */
export const MANAGED_BY_KEY = 'app.kubernetes.io/managed-by';
export const MANAGED_BY_VALUE = 'stack-scan';
export const MANAGED_BY: Readonly<Record<string, string>> = Object.freeze({ [MANAGED_BY_KEY]: MANAGED_BY_VALUE });
/** The scan run that created an object. */
export const RUN_LABEL = 'stack-scan.io/run';
/** The scan and mode whose results an OpenReports object or a run record holds (lib/openreports). */
export const SCAN_LABEL = 'stack-scan.io/scan';
export const MODE_LABEL = 'stack-scan.io/mode';
/** What an object is for (e.g. `opa-dry-run`, `network-probe`). */
export const PURPOSE_LABEL = 'stack-scan.io/purpose';
/** Creation time in ms (creationTimestamp only has seconds). */
export const CREATED_ANNOTATION = 'stack-scan.io/created';
/** ISO time after which any later run may delete the object (creation + the scan's own timeout). */
export const EXPIRES_ANNOTATION = 'stack-scan.io/expires';
/** ISO time of the run's last heartbeat: renewed on every object of a live run (lib/kube/scratch.ts). */
export const HEARTBEAT_ANNOTATION = 'stack-scan.io/heartbeat';
/** Seconds after the last heartbeat when the run's lease lapses and any later run may delete the object. */
export const LEASE_ANNOTATION = 'stack-scan.io/lease-seconds';
/** The ServiceAccount the scans' scratch pods run as (created where missing, with the labels above). */
export const PROBE_SERVICE_ACCOUNT = 'stack-scan-probe';
