/**
 * The lifecycle of everything a scan creates in a cluster (probe pods, the
 * ServiceAccount they run as, …), the same for every scan:
 *
 *   - every object carries `app.kubernetes.io/managed-by=stack-scan`, its purpose
 *     (`stack-scan.io/purpose`), its run (`stack-scan.io/run`), its creation time and
 *     an expiry (`stack-scan.io/expires` = creation + the scan's own total timeout);
 *   - a ScratchRun holds reference counts PER RUN (never in module globals): the
 *     probe ServiceAccount of a namespace is created once, shared by the run's users,
 *     and deleted by the last one — only when this run created it;
 *   - `cleanup()` deletes whatever the run still holds (called in `finally`);
 *   - a run holds a LEASE on its objects: each carries a heartbeat (`stack-scan.io/heartbeat`)
 *     and the lease's length (`stack-scan.io/lease-seconds`, 45 s); the run renews the heartbeat
 *     of everything it holds every 15 s while it lives (PATCH, metadata only);
 *   - `sweepExpired()` at the start of the next run deletes every object of ours whose lease has
 *     lapsed (its run died: within 45 s of a kill) or whose expiry has passed, whatever scan made
 *     it, and says how many. A live run's objects have a fresh heartbeat and an expiry ahead
 *     (the run's own budget): never swept.
 */
import { toReportError, type ReportError } from '../errors.ts';
import {
  CREATED_ANNOTATION,
  EXPIRES_ANNOTATION,
  HEARTBEAT_ANNOTATION,
  LEASE_ANNOTATION,
  MANAGED_BY,
  MANAGED_BY_KEY,
  MANAGED_BY_VALUE,
  PROBE_SERVICE_ACCOUNT,
  PURPOSE_LABEL,
  RUN_LABEL,
} from '../k8s/labels.ts';
import type { KubeObject, ObjectMeta } from '../k8s/types.ts';
import type { Kube } from './client.ts';
import { createObject, deleteObject, getObject, listObjects, patchObject, statusText, type ObjectRef } from './api.ts';
import { statusError } from './raw.ts';
import { newRunId } from './run-id.ts';
import { ScanError } from '../errors.ts';

export { CREATED_ANNOTATION };
/** Objects made before expiries existed: swept this long after creation. */
export const LEGACY_TTL_MS = 15 * 60_000;
/** How often a live run renews the heartbeat of its objects. */
export const HEARTBEAT_MS = 15_000;
/** How long after the last heartbeat a run's lease lapses: three missed heartbeats. */
export const LEASE_SECONDS = 45;

export interface ScratchOptions {
  /** What the objects are for, e.g. `network-probe`, `opa-dry-run`. */
  purpose: string;
  runId?: string;
  /** The scan's own total timeout: objects expire this long after creation. */
  ttlMs: number;
  now?: () => number;
  /** Heartbeat period (default HEARTBEAT_MS) and lease length (default LEASE_SECONDS); tests shorten them. */
  heartbeatMs?: number;
  leaseSeconds?: number;
}

interface SaEntry {
  count: number;
  ready: Promise<{ uid: string; created: boolean }>;
}

export class ScratchRun {
  readonly runId: string;
  readonly purpose: string;
  private readonly ttlMs: number;
  private readonly now: () => number;
  private readonly serviceAccounts = new Map<string, SaEntry>();
  private readonly held = new Map<string, ObjectRef>();
  /** ServiceAccounts this run created (namespace/name): their heartbeat is renewed too. */
  private readonly createdSas = new Set<string>();
  private readonly heartbeatMs: number;
  readonly leaseSeconds: number;
  private heartbeat?: NodeJS.Timeout;
  /** Heartbeats sent, and renewals that failed (the object may be gone: not an error of the scan). */
  readonly leaseStats = { renewals: 0, failures: 0 };

  constructor(
    private readonly kube: Kube,
    opts: ScratchOptions,
  ) {
    this.runId = opts.runId ?? newRunId();
    this.purpose = opts.purpose;
    this.ttlMs = opts.ttlMs;
    this.now = opts.now ?? Date.now;
    this.heartbeatMs = opts.heartbeatMs ?? HEARTBEAT_MS;
    this.leaseSeconds = opts.leaseSeconds ?? LEASE_SECONDS;
  }

  /** Starts renewing the lease (on the first object created); the timer never keeps the process alive. */
  private startHeartbeat(): void {
    if (this.heartbeat) return;
    this.heartbeat = setInterval(() => void this.renew(), this.heartbeatMs);
    this.heartbeat.unref();
  }

  private stopHeartbeat(): void {
    if (this.heartbeat) clearInterval(this.heartbeat);
    this.heartbeat = undefined;
  }

  /** Renews the heartbeat of every object this run holds (and of the ServiceAccounts it created). */
  async renew(): Promise<void> {
    const body = { metadata: { annotations: { [HEARTBEAT_ANNOTATION]: new Date(this.now()).toISOString() } } };
    const refs: ObjectRef[] = [...this.held.values()];
    for (const key of this.createdSas) {
      if (!this.serviceAccounts.has(key)) continue;
      const [namespace, name] = key.split('/');
      refs.push({ kind: 'ServiceAccount', namespace, name });
    }
    await Promise.all(
      refs.map(async (ref) => {
        this.leaseStats.renewals++;
        const res = await patchObject(this.kube, ref, body, { contentType: 'application/merge-patch+json', timeoutMs: this.heartbeatMs }).catch(
          () => undefined,
        );
        if (!res || res.status >= 300) this.leaseStats.failures++;
      }),
    );
  }

  /** The labels every object of this run carries. */
  labels(): Record<string, string> {
    return { ...MANAGED_BY, [PURPOSE_LABEL]: this.purpose, [RUN_LABEL]: this.runId };
  }

  /** Creation time and expiry, as annotations. */
  annotations(): Record<string, string> {
    const now = this.now();
    return {
      [CREATED_ANNOTATION]: new Date(now).toISOString(),
      [EXPIRES_ANNOTATION]: new Date(now + this.ttlMs).toISOString(),
      [HEARTBEAT_ANNOTATION]: new Date(now).toISOString(),
      [LEASE_ANNOTATION]: String(this.leaseSeconds),
    };
  }

  /** `obj` with this run's labels and annotations merged into its metadata. */
  stamp<T extends KubeObject>(obj: T): T {
    const metadata: ObjectMeta = {
      ...obj.metadata,
      labels: { ...(obj.metadata.labels ?? {}), ...this.labels() },
      annotations: { ...(obj.metadata.annotations ?? {}), ...this.annotations() },
    };
    return { ...obj, metadata };
  }

  /**
   * Create a stamped object and hold it until release() or cleanup(). Non-2xx answers are
   * returned (an admission denial is a result the caller reports).
   */
  async create<T extends KubeObject>(obj: KubeObject): Promise<{ status: number; object?: T; message: string }> {
    this.startHeartbeat();
    const res = await createObject<T>(this.kube, this.stamp(obj));
    if (res.object) {
      const ref = { kind: obj.kind, namespace: res.object.metadata.namespace, name: res.object.metadata.name };
      this.held.set(refKey(ref), ref);
    }
    return { status: res.status, object: res.object, message: res.status < 300 ? '' : statusText(res.response) };
  }

  /** Delete an object this run created, now. */
  async release(ref: ObjectRef): Promise<void> {
    this.held.delete(refKey(ref));
    await deleteObject(this.kube, ref);
  }

  /**
   * The probe ServiceAccount in `namespace`, created (stamped) when missing; shared by this
   * run's users. Returns its uid (for ownerReferences).
   */
  async acquireServiceAccount(namespace: string, name = PROBE_SERVICE_ACCOUNT): Promise<string> {
    const key = `${namespace}/${name}`;
    let e = this.serviceAccounts.get(key);
    if (!e) {
      this.startHeartbeat();
      e = { count: 0, ready: this.ensureServiceAccount(namespace, name) };
      this.serviceAccounts.set(key, e);
    }
    e.count++;
    try {
      return (await e.ready).uid;
    } catch (err) {
      e.count--;
      if (this.serviceAccounts.get(key) === e && e.count === 0) this.serviceAccounts.delete(key);
      throw err;
    }
  }

  /** The last user of this run deletes the ServiceAccount, if this run created it. */
  async releaseServiceAccount(namespace: string, name = PROBE_SERVICE_ACCOUNT): Promise<void> {
    const key = `${namespace}/${name}`;
    const e = this.serviceAccounts.get(key);
    if (!e) return;
    e.count--;
    if (e.count > 0) return;
    this.serviceAccounts.delete(key);
    const { created } = await e.ready.catch(() => ({ created: false }));
    if (created) await deleteObject(this.kube, { kind: 'ServiceAccount', namespace, name });
  }

  private async ensureServiceAccount(namespace: string, name: string): Promise<{ uid: string; created: boolean }> {
    const body = this.stamp({ apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name, namespace }, automountServiceAccountToken: false });
    const res = await createObject<KubeObject>(this.kube, body);
    if (res.object) {
      this.createdSas.add(`${namespace}/${name}`);
      return { uid: String(res.object.metadata.uid), created: true };
    }
    if (res.status !== 409) throw statusError({ verb: 'create', resource: 'serviceaccounts', namespace }, res.response, this.kube.server);
    const cur = await getObject<KubeObject>(this.kube, { kind: 'ServiceAccount', namespace, name });
    if (!cur) throw new ScanError(409, { code: 'conflict', message: `ServiceAccount ${namespace}/${name} was being deleted; try again` });
    return { uid: String(cur.metadata.uid), created: false };
  }

  /** Delete everything this run still holds (objects, then ServiceAccounts it created). Failures are returned. */
  async cleanup(): Promise<ReportError[]> {
    this.stopHeartbeat();
    const errors: ReportError[] = [];
    await Promise.all(
      [...this.held.values()].map(async (ref) => {
        try {
          await this.release(ref);
        } catch (err) {
          errors.push(toReportError(`cleanup: delete ${ref.kind} ${ref.namespace}/${ref.name} (it expires and a later run sweeps it)`, err));
        }
      }),
    );
    await Promise.all(
      [...this.serviceAccounts.entries()].map(async ([key, e]) => {
        this.serviceAccounts.delete(key);
        const [namespace, name] = key.split('/');
        const { created } = await e.ready.catch(() => ({ created: false }));
        if (!created) return;
        try {
          await deleteObject(this.kube, { kind: 'ServiceAccount', namespace, name });
        } catch (err) {
          errors.push(toReportError(`cleanup: delete ServiceAccount ${key} (it expires and a later run sweeps it)`, err));
        }
      }),
    );
    return errors;
  }
}

function refKey(r: ObjectRef): string {
  return `${r.kind}|${r.namespace ?? ''}|${r.name}`;
}

/** When an object of ours may be swept: its expiry, else creation + LEGACY_TTL_MS; NaN when unknown. */
export function expiryOf(meta: ObjectMeta | undefined): number {
  const exp = Date.parse(String(meta?.annotations?.[EXPIRES_ANNOTATION] ?? ''));
  if (Number.isFinite(exp)) return exp;
  const created = Date.parse(String(meta?.annotations?.[CREATED_ANNOTATION] ?? '')) || Date.parse(String(meta?.creationTimestamp ?? ''));
  return Number.isFinite(created) ? created + LEGACY_TTL_MS : Number.NaN;
}

/** When an object's lease lapses (last heartbeat + its lease length); NaN when it has no lease. */
export function leaseEndOf(meta: ObjectMeta | undefined): number {
  const beat = Date.parse(String(meta?.annotations?.[HEARTBEAT_ANNOTATION] ?? ''));
  const secs = Number(meta?.annotations?.[LEASE_ANNOTATION] ?? LEASE_SECONDS);
  return Number.isFinite(beat) && Number.isFinite(secs) && secs > 0 ? beat + secs * 1000 : Number.NaN;
}

/** Whether a later run may delete an object of ours: its lease lapsed (its run died) or its expiry passed. */
export function sweepable(meta: ObjectMeta | undefined, now: number): boolean {
  return leaseEndOf(meta) <= now || expiryOf(meta) <= now;
}

export interface SweepResult {
  deleted: { kind: string; namespace?: string; name: string }[];
  errors: ReportError[];
}

/**
 * Delete every object of ours (label managed-by=stack-scan) of these kinds whose lease lapsed or
 * expiry passed (`sweepable`), in all namespaces; never those of `exceptRun`. Pods go before ServiceAccounts.
 * A denied list is an error entry ("could not sweep"), never "nothing to sweep".
 */
export async function sweepExpired(kube: Kube, opts: { kinds?: string[]; exceptRun?: string; now?: number } = {}): Promise<SweepResult> {
  const out: SweepResult = { deleted: [], errors: [] };
  const now = opts.now ?? Date.now();
  for (const kind of opts.kinds ?? ['Pod', 'ServiceAccount']) {
    let items: KubeObject[];
    try {
      items = await listObjects<KubeObject>(kube, kind, { labelSelector: `${MANAGED_BY_KEY}=${MANAGED_BY_VALUE}` });
    } catch (err) {
      out.errors.push(toReportError(`sweep: list ${kind}s of earlier runs`, err));
      continue;
    }
    const doomed = items.filter((o) => (opts.exceptRun === undefined || o.metadata.labels?.[RUN_LABEL] !== opts.exceptRun) && sweepable(o.metadata, now));
    await Promise.all(
      doomed.map(async (o) => {
        const ref = { kind, namespace: o.metadata.namespace, name: o.metadata.name };
        try {
          await deleteObject(kube, ref);
          out.deleted.push(ref);
        } catch (err) {
          out.errors.push(toReportError(`sweep: delete ${kind} ${o.metadata.namespace ?? ''}/${o.metadata.name}`, err));
        }
      }),
    );
  }
  out.deleted.sort((a, b) => a.kind.localeCompare(b.kind) || (a.namespace ?? '').localeCompare(b.namespace ?? '') || a.name.localeCompare(b.name));
  return out;
}
