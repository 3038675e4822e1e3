/**
 * After every completed run (HTTP, CloudEvent, schedule, command line: runScan calls this):
 *   1. the report as checks (the scan's adapter, ScanDefinition.checks);
 *   2. the previous run of the same scan and mode: the history in the cluster (history.ts),
 *      else this process's memory (storing off, no cluster, or the history unreadable);
 *   3. `changes` against it (changes.ts), put in the answer (and so in the result event);
 *   4. storing on and a cluster known: Reports per namespace and the ClusterReport (objects.ts,
 *      store.ts), then the run record, written with the history's resourceVersion: when two
 *      runs finish at once, the one whose history write conflicts re-reads the history and
 *      writes everything again, so the objects end up holding one run's state;
 *   5. a regression sends io.stacktic.scan.regressed (regression.ts).
 * Nothing here fails the answer: each failure is an errors[] entry with its reason.
 *
 * What only storing needs (the cluster client, the history and store calls, the regression event) is
 * imported when it is needed: a run that stores nothing (the command line offline) never loads it.
 *
 * Unchanged objects are not rewritten: their content hash is in the previous record, and a
 * process only trusts it for a record it wrote itself (after a restart, everything is written once).
 */
import { toReportError, type ReportError } from '../errors.ts';
import type { Kube } from '../kube/client.ts';
import { newRunId } from '../kube/run-id.ts';
import type { Check } from '../scan/checks.ts';
import { diffRuns, regression, type Changes } from './changes.ts';
import type { FailingEntry, RunRecord } from './history.ts';
import { buildClusterReport, buildReports, contentHash, countResults, reportName, type OrObject } from './objects.ts';
import { reportSettingsFromEnv, type ReportSettings } from './settings.ts';

/** What afterRun needs of a finished report (the envelope of lib/scan/scaffold.ts). */
export interface FinishedRun {
  scan: string;
  scan_type: string;
  score: number | null;
  started_at: string;
  duration_ms: number;
  errors: ReportError[];
  sources: Record<string, unknown>;
  changes?: Changes;
  /** The scan's own detail: when a scan hands back the very same objects (a judgement reused), so are the checks. */
  results?: Record<string, unknown>;
  findings?: unknown[];
}

export interface StoredInfo {
  stored: boolean;
  run_id: string;
  why_not?: string;
  reports?: string[];
  unchanged?: number;
  cluster_report?: string;
  history?: string;
  regressed?: boolean;
  event_sent?: boolean;
}

const MAX_ATTEMPTS = 5;

/** Checks of a scan's results object (by identity, with its findings): a reused judgement is not converted again. */
const checksMemo = new WeakMap<object, { findings: unknown; checks: Check[] }>();
/** The objects built from a checks list (by identity), with their hashes. */
const buildMemo = new WeakMap<Check[], { key: string; reports: Map<string, OrObject>; hashes: Map<string, string> }>();

function checksFor(run: FinishedRun, checksOf: (r: FinishedRun) => Check[]): Check[] {
  const key = run.results ?? run.findings;
  const hit = key ? checksMemo.get(key) : undefined;
  if (hit && hit.findings === run.findings) return hit.checks;
  const checks = checksOf(run);
  if (key) checksMemo.set(key, { findings: run.findings, checks });
  return checks;
}

function built(checks: Check[], base: Omit<Parameters<typeof buildReports>[0], 'homeless'>): { reports: Map<string, OrObject>; hashes: Map<string, string> } {
  const key = `${base.scan}\0${base.mode}\0${base.score}\0${base.maxBytes}`;
  const hit = buildMemo.get(checks);
  if (hit && hit.key === key) return hit;
  const reports = buildReports(base);
  const hashes = new Map([...reports].map(([ns, o]) => [ns, contentHash(o)]));
  buildMemo.set(checks, { key, reports, hashes });
  return { reports, hashes };
}

/** Per scan+mode: the last record of this process, and the history as this process last wrote it. */
const memory = new Map<string, RunRecord>();
const cache = new Map<string, { records: RunRecord[]; resourceVersion?: string }>();

/** Forget what this process remembers (tests: a fresh process). */
export function forgetRuns(): void {
  memory.clear();
  cache.clear();
}

function recordOf(runId: string, run: FinishedRun, checks: Check[], errors: number): RunRecord {
  return {
    run_id: runId,
    started_at: run.started_at,
    duration_ms: run.duration_ms,
    score: run.score,
    counts: countResults(checks),
    checks: checks.length,
    failing: checks
      .filter((c) => c.result === 'fail')
      .map((c): FailingEntry => (c.namespace ? [c.id, c.policy, c.rule, c.namespace] : [c.id, c.policy, c.rule])),
    namespaces: [],
    hashes: {},
    errors,
  };
}

interface StoreResult {
  changes: Changes;
  record: RunRecord;
  info: Partial<StoredInfo>;
}

async function storeRun(
  kube: Kube,
  s: ReportSettings,
  run: FinishedRun,
  checks: Check[],
  runId: string,
  errors: ReportError[],
): Promise<StoreResult | undefined> {
  const [{ pushRecord, readRing, RingConflict, ringName, writeRing }, { deleteReport, writeObjects }] = await Promise.all([
    import('./history.ts'),
    import('./store.ts'),
  ]);
  const key = `${run.scan}\0${run.scan_type}`;
  const base = { scan: run.scan, mode: run.scan_type, checks, score: run.score, runId, startedAt: run.started_at, maxBytes: s.maxBytes };
  const history = `${s.namespace}/${ringName(run.scan, run.scan_type)}`;
  for (let attempt = 1; attempt <= MAX_ATTEMPTS; attempt++) {
    const mine = cache.get(key);
    let ring: { records: RunRecord[]; resourceVersion?: string };
    try {
      ring = mine ?? (await readRing(kube, s.namespace, run.scan, run.scan_type));
    } catch (err) {
      errors.push(toReportError(`read the run history ${history}`, err));
      return undefined;
    }
    const prev = ring.records[0];
    const trusted = mine && prev ? prev.hashes : {};
    const changes = diffRuns(run.scan, run.scan_type, prev && { ...prev, from: 'cluster' }, checks, run.score);
    const stepErrors: ReportError[] = [];

    // Namespaced Reports first; namespaces that do not exist send their checks to the ClusterReport.
    const { reports, hashes: objectHashes } = built(checks, base);
    const hashes: Record<string, string> = {};
    const changed: OrObject[] = [];
    for (const [ns, o] of reports) {
      hashes[ns] = objectHashes.get(ns)!;
      if (trusted[ns] !== hashes[ns]) changed.push(o);
    }
    // The ClusterReport beside them, assuming every namespace exists (rewritten below when one does not).
    const whole = buildClusterReport({ ...base, homeless: new Set() });
    const wholeHash = objectHashes.get('') ?? contentHash(whole);
    objectHashes.set('', wholeHash);
    const [w1, first] = await Promise.all([writeObjects(kube, changed), trusted[''] === wholeHash ? undefined : writeObjects(kube, [whole])]);
    stepErrors.push(...w1.errors);
    const homeless = new Set(w1.missingNamespaces);
    for (const ns of homeless) delete hashes[ns];
    for (const e of w1.errors) delete hashes[e.step.replace(/^store Report ([^/]+)\/.*$/, '$1')];
    hashes[''] = wholeHash;
    let w2 = first;
    if (homeless.size && !w1.crdMissing) {
      const cluster = buildClusterReport({ ...base, homeless });
      hashes[''] = contentHash(cluster);
      w2 = await writeObjects(kube, [cluster]);
    }
    let crdMissing = w1.crdMissing;
    if (w2) {
      stepErrors.push(...w2.errors);
      if (w2.errors.length || w2.crdMissing) delete hashes[''];
      crdMissing ||= w2.crdMissing;
    }
    if (crdMissing) {
      for (const k of Object.keys(hashes)) delete hashes[k];
      stepErrors.push({
        step: 'store OpenReports',
        code: 'openreports_crd_missing',
        message:
          'the OpenReports CRDs (reports.openreports.io, clusterreports.openreports.io, openreports.io/v1alpha1) are not installed in this cluster: ' +
          'the results were not stored as reports (install them, see docs/openreports.md, or set STACK_SCAN_REPORTS=off)',
      });
    }
    // Reports of namespaces the previous run wrote and this one has nothing for: gone.
    const now = [...reports.keys()].filter((ns) => !homeless.has(ns));
    await Promise.all(
      (prev?.namespaces ?? [])
        .filter((ns) => !now.includes(ns) && !crdMissing)
        .map((ns) =>
          deleteReport(kube, ns, reportName(run.scan, run.scan_type)).catch((err) => {
            stepErrors.push(toReportError(`delete the stale Report ${ns}/${reportName(run.scan, run.scan_type)}`, err));
          }),
        ),
    );

    const record = { ...recordOf(runId, run, checks, run.errors.length + stepErrors.length), namespaces: now, hashes };
    const records = pushRecord(ring.records, record, s.history);
    try {
      const rv = await writeRing(kube, s.namespace, run.scan, run.scan_type, records, ring.resourceVersion);
      cache.set(key, { records, resourceVersion: rv });
    } catch (err) {
      cache.delete(key);
      if (err instanceof RingConflict && attempt < MAX_ATTEMPTS) continue; // another run finished meanwhile: again, on its state
      stepErrors.push(
        err instanceof RingConflict
          ? {
              step: `write the run history ${history}`,
              code: 'conflict',
              message: `${MAX_ATTEMPTS} runs of ${run.scan} ${run.scan_type} finished at the same time as this one; this run's record was not kept`,
            }
          : toReportError(`write the run history ${history}`, err),
      );
    }
    errors.push(...stepErrors);
    return {
      changes,
      record,
      info: {
        stored: !crdMissing && !w1.errors.length && !w2?.errors.length,
        reports: now.map((ns) => `${ns}/${reportName(run.scan, run.scan_type)}`),
        unchanged: reports.size - changed.length + (w2 ? 0 : 1),
        cluster_report: reportName(run.scan, run.scan_type),
        history,
      },
    };
  }
  return undefined;
}

/**
 * Adds `changes` and `sources.openreports` to a finished run, and errors[] entries for what
 * could not be done. `checksOf` is the scan's adapter; `kube` the cluster the run used.
 */
export async function afterRun(
  run: FinishedRun,
  checksOf: (r: FinishedRun) => Check[],
  kube: Kube | undefined,
  env: NodeJS.ProcessEnv = process.env,
): Promise<void> {
  const runId = newRunId();
  const key = `${run.scan}\0${run.scan_type}`;
  let s: ReportSettings;
  const errors: ReportError[] = [];
  try {
    s = reportSettingsFromEnv(env);
  } catch (err) {
    errors.push(toReportError('report settings (nothing stored for this run)', err));
    s = { store: false, history: 20, namespace: 'default', maxBytes: 900_000, threshold: 5 };
  }
  let checks: Check[];
  try {
    checks = checksFor(run, checksOf);
  } catch (err) {
    run.errors.push(...errors, toReportError(`${run.scan} report as checks (no changes, nothing stored)`, err));
    return;
  }

  let stored: StoreResult | undefined;
  let whyNot: string | undefined;
  if (s.store && !kube && s.kubeconfig) {
    try {
      kube = await (await import('../kube/client.ts')).makeKube(s.kubeconfig);
    } catch (err) {
      errors.push({
        ...toReportError('store results: load STACK_SCAN_REPORTS_KUBECONFIG', err),
        message: `STACK_SCAN_REPORTS_KUBECONFIG: ${toReportError('', err).message}`,
      });
    }
  }
  if (!s.store) whyNot = 'storing is off (STACK_SCAN_REPORTS=off)';
  else if (!kube) whyNot = 'this run used no cluster';
  else stored = await storeRun(kube, s, run, checks, runId, errors);

  const prevMemory = memory.get(key);
  const changes = stored?.changes ?? diffRuns(run.scan, run.scan_type, prevMemory && { ...prevMemory, from: 'memory' }, checks, run.score);
  memory.set(key, stored?.record ?? recordOf(runId, run, checks, run.errors.length + errors.length));

  const reg = regression(changes, s.threshold);
  let sent: boolean | undefined;
  if (reg.regressed && s.sink) {
    const { regressedData, sendRegressed } = await import('./regression.ts');
    const failure = await sendRegressed(s.sink, regressedData(run.scan, run.scan_type, runId, run.started_at, run.score, changes, s.threshold, reg.reasons));
    if (failure) errors.push(failure);
    sent = !failure;
  }
  run.changes = { ...changes, regressed: reg.regressed, ...(reg.regressed ? { regression: reg.reasons } : {}) };
  run.errors.push(...errors);
  run.sources = {
    ...run.sources,
    openreports: {
      stored: !!stored?.info.stored,
      run_id: runId,
      ...(whyNot ? { why_not: whyNot } : {}),
      ...(stored?.info ?? {}),
      ...(sent !== undefined ? { regressed_event_sent: sent } : {}),
    },
  };
}
