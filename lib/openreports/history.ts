/**
 * The run history: the last N runs of one scan and mode as compact records, newest first,
 * in ONE labelled ConfigMap per scan and mode (`stack-scan-runs-<scan>-<mode>` in
 * STACK_SCAN_REPORTS_NAMESPACE). Why one ConfigMap and not one per run, nor annotations:
 *   - one write per run (a PUT with the resourceVersion read before: two runs finishing at
 *     once conflict, the loser re-reads and retries), no LIST and no DELETE to prune: the
 *     oldest records fall off the array in the same write;
 *   - annotations of the ClusterReport share its 256 KiB annotation limit and its writers;
 *     a ConfigMap holds up to 1 MiB and is readable by anyone granted ConfigMaps there.
 * A record: run id, times, score, counts per result, the failing checks' ids (the latest
 * record with policy, rule and namespace, for "fixed" listings; older ones ids only), the
 * namespaces written and each report object's content hash (unchanged objects are not
 * rewritten). Over the size budget, the oldest records' ids go first (counts are kept).
 */
import { ScanError } from '../errors.ts';
import { MANAGED_BY_KEY, MANAGED_BY_VALUE, MODE_LABEL, PURPOSE_LABEL, SCAN_LABEL } from '../k8s/labels.ts';
import type { Kube } from '../kube/client.ts';
import { objectPath, listPath } from '../kube/api.ts';
import { rawRequest, statusError } from '../kube/raw.ts';
import type { CheckResult } from '../scan/checks.ts';

export const RUN_RECORDS_PURPOSE = 'run-records';

/** [id, policy, rule, namespace]; older records keep [id] only. */
export type FailingEntry = [id: string, policy?: string, rule?: string, namespace?: string];

export interface RunRecord {
  run_id: string;
  started_at: string;
  duration_ms: number;
  score: number | null;
  counts: Record<CheckResult, number>;
  checks: number;
  failing: FailingEntry[];
  ids_truncated?: boolean;
  /** Namespaces whose Report this run's state is in. */
  namespaces: string[];
  /** Content hash of each report object (`<namespace>` or `cluster`), for skipping unchanged writes. */
  hashes: Record<string, string>;
  errors: number;
}

export const ringName = (scan: string, mode: string) => `stack-scan-runs-${scan}-${mode}`;
const KEY = 'runs.json';
/** A ConfigMap may hold 1 MiB; the records stay under this. */
export const RING_BUDGET = 900_000;

/** Newest first, at most `keep`, under `budget` bytes of JSON (pure). */
export function pushRecord(records: RunRecord[], rec: RunRecord, keep: number, budget = RING_BUDGET): RunRecord[] {
  const latest = { ...rec };
  // The latest record's own list, capped at half the budget.
  let size = 0;
  const cut = latest.failing.findIndex((f) => (size += JSON.stringify(f).length + 1) > budget / 2);
  if (cut >= 0) (latest.failing = latest.failing.slice(0, cut)), (latest.ids_truncated = true);
  const older = records.slice(0, Math.max(0, keep - 1)).map((r) => ({ ...r, failing: r.failing.map((f) => [f[0]] as FailingEntry) }));
  const out = [latest, ...older];
  let total = JSON.stringify(out).length;
  for (let i = out.length - 1; i > 0 && total > budget; i--) {
    const before = JSON.stringify(out[i]).length;
    out[i] = { ...out[i], failing: [], ids_truncated: true, hashes: {} };
    total -= before - JSON.stringify(out[i]).length;
  }
  return out;
}

export interface Ring {
  records: RunRecord[];
  resourceVersion?: string;
}

const site = (verb: string, namespace: string) => ({ verb, resource: 'configmaps', namespace });

/** The stored history; an empty one when the ConfigMap does not exist yet. Throws a ScanError otherwise. */
export async function readRing(kube: Kube, namespace: string, scan: string, mode: string): Promise<Ring> {
  const res = await rawRequest(kube, site('get', namespace), { method: 'GET', path: objectPath({ kind: 'ConfigMap', namespace, name: ringName(scan, mode) }) });
  if (res.status === 404) return { records: [] };
  if (res.status !== 200) throw statusError(site('get', namespace), res, kube.server);
  const cm = res.body as { metadata: { resourceVersion: string }; data?: Record<string, string> };
  let records: RunRecord[] = [];
  try {
    const parsed = JSON.parse(cm.data?.[KEY] ?? '[]');
    if (Array.isArray(parsed)) records = parsed.filter((r) => r && typeof r.run_id === 'string' && Array.isArray(r.failing));
  } catch {
    records = []; // an unreadable history starts again (the next write replaces it)
  }
  return { records, resourceVersion: cm.metadata.resourceVersion };
}

export class RingConflict extends Error {}

/** Write the history: create, or replace at `resourceVersion`; a 409 is a RingConflict (re-read and retry). */
export async function writeRing(kube: Kube, namespace: string, scan: string, mode: string, records: RunRecord[], resourceVersion?: string): Promise<string> {
  const name = ringName(scan, mode);
  const body = {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: {
      name,
      namespace,
      ...(resourceVersion ? { resourceVersion } : {}),
      labels: { [MANAGED_BY_KEY]: MANAGED_BY_VALUE, [PURPOSE_LABEL]: RUN_RECORDS_PURPOSE, [SCAN_LABEL]: scan, [MODE_LABEL]: mode },
      annotations: { 'stack-scan.io/latest-run': records[0]?.run_id ?? '' },
    },
    data: { [KEY]: JSON.stringify(records) },
  };
  const verb = resourceVersion ? 'update' : 'create';
  const res = resourceVersion
    ? await rawRequest(kube, site(verb, namespace), {
        method: 'PUT',
        path: objectPath({ kind: 'ConfigMap', namespace, name }),
        query: { fieldManager: 'stack-scan' },
        body,
      })
    : await rawRequest(kube, site(verb, namespace), { method: 'POST', path: listPath('ConfigMap', namespace), query: { fieldManager: 'stack-scan' }, body });
  if (res.status === 409) throw new RingConflict(`${name} was written by another run`);
  // Replaced at a resourceVersion, but deleted meanwhile (by hand): read again (then created).
  if (res.status === 404 && resourceVersion && (res.body as { details?: { kind?: string } })?.details?.kind === 'configmaps')
    throw new RingConflict(`${name} was deleted meanwhile`);
  if (res.status >= 300) throw statusError(site(verb, namespace), res, kube.server);
  return (res.body as { metadata: { resourceVersion: string } }).metadata.resourceVersion;
}

export { ScanError };
