/**
 * A scan run directly, without HTTP (the command line, the scaffold's routes and events, tests):
 * the scan definition's shape, its time budget (`<NAME>_SCAN_TIMEOUT_MS`), aborts, and `runScan`,
 * which wraps a scan's outcome in the common envelope and records the run (lib/openreports, loaded
 * on the first run). The HTTP side is lib/scan/scaffold.ts; this module loads none of it.
 */
import type { ReportError } from '../errors.ts';
import { withApiBudget } from '../kube/retry.ts';
import { trackKube } from '../kube/used.ts';
import type { ReportGraph } from '../report/graph.ts';
import type { Check } from './checks.ts';
import type { ScanOutcome, ScanReport } from './report.ts';
import type { ReportSchemas } from './report-schema.ts';
import { parseSettings, scanTimeoutSetting, settingsSchema } from './settings.ts';

export interface ScanContext<M extends string> {
  mode: M;
  /** Every query parameter other than `mode`. */
  params: Record<string, string>;
  /** Aborted on timeout or when no client waits any more; `signal.reason` is a ScanAbort. */
  signal: AbortSignal;
  /** This run's total time budget (ms): also the expiry of what the scan creates. */
  timeoutMs: number;
  /** Optional progress of the current step (the command line shows it on a terminal); never required. */
  progress?: ProgressFn;
}

/** One progress event: the step a scan is in and, in its loop, how many of how many are done. */
export type ProgressFn = (p: { step: string; done?: number; total?: number }) => void;

export interface ScanDefinition<M extends string = string> {
  /** Short name used in the envelope, e.g. `network`. */
  name: string;
  /** Route path, e.g. `/network_scan`. */
  path: string;
  modes: readonly [M, ...M[]];
  defaultMode: M;
  /** Query parameters this scan accepts besides `mode` (anything else is a 400). */
  params?: Record<string, string>;
  /** Total time budget per mode in ms (default 10 minutes), overridden by `<NAME>_SCAN_TIMEOUT_MS`. */
  timeoutMs?: Partial<Record<M, number>>;
  run(ctx: ScanContext<M>): Promise<ScanOutcome>;
  /** The report's shape per mode (functions/<scan>/report.ts): schema/<scan>-report.schema.json and GET /openapi.json. */
  report?: ReportSchemas;
  /** The report as a flat list of checks (lib/scan/checks.ts), from the scan's own adapter `functions/<scan>/checks.ts`. */
  checks?(report: ScanReport): Check[];
  /** The stack's components and declared links with their states, for the HTML report's picture (network scan). */
  graph?(report: ScanReport): ReportGraph | undefined;
}

/** Why a scan's signal was aborted. */
export class ScanAbort extends Error {
  constructor(
    readonly code: 'timeout' | 'cancelled',
    message: string,
  ) {
    super(message);
    this.name = 'ScanAbort';
  }
}

/** The errors[] entry for an aborted run, from its signal. */
export function abortError(signal: AbortSignal, step = 'scan'): ReportError {
  const r = signal.reason;
  if (r instanceof ScanAbort) return { step, code: r.code, message: r.message };
  return { step, code: 'cancelled', message: 'the scan was cancelled' };
}

const DEFAULT_TIMEOUT_MS = 10 * 60_000;
export function timeoutSettingName(def: Pick<ScanDefinition, 'name'>): string {
  return `${def.name.toUpperCase().replace(/[^A-Z0-9]/g, '_')}_SCAN_TIMEOUT_MS`;
}

/**
 * The total time budget for a mode: the setting is either one number of ms for every
 * mode, or `mode=ms` pairs separated by commas (`light=60000,full=900000`).
 */
export function scanTimeoutMs<M extends string>(def: ScanDefinition<M>, mode: M, env: NodeJS.ProcessEnv = process.env): number {
  const byMode = parseSettings(scanTimeoutSchema(def), env)[timeoutSettingName(def)] as Map<string, number>;
  return byMode.get(mode) ?? def.timeoutMs?.[mode] ?? DEFAULT_TIMEOUT_MS;
}

/** The settings schema of a scan's `<NAME>_SCAN_TIMEOUT_MS` (lib/scan/settings.ts), for parsing and the reference. */
export function scanTimeoutSchema(def: Pick<ScanDefinition, 'name' | 'modes' | 'timeoutMs'>) {
  const defaults = Object.fromEntries(def.modes.map((m) => [m, def.timeoutMs?.[m] ?? DEFAULT_TIMEOUT_MS]));
  return settingsSchema({ [timeoutSettingName(def)]: scanTimeoutSetting(def.modes, defaults) });
}

/** Run a scan directly (no HTTP) and wrap its outcome in the envelope. */
export async function runScan<M extends string>(
  def: ScanDefinition<M>,
  mode: M,
  params: Record<string, string> = {},
  signal = new AbortController().signal,
  timeoutMs = scanTimeoutMs(def, mode),
  progress?: ProgressFn,
): Promise<ScanReport> {
  const started = Date.now();
  // Every API request of the run retries within this budget and counts here (lib/kube/retry.ts).
  const budget = { deadline: started + timeoutMs, signal, retries: 0, waitedMs: 0 };
  const run = trackKube(() => withApiBudget(budget, () => def.run({ mode, params, signal, timeoutMs, ...(progress ? { progress } : {}) })));
  const outcome = await run.result;
  const errors = [...outcome.errors];
  if (signal.aborted && !errors.some((e) => e.code === 'timeout' || e.code === 'cancelled')) errors.push(abortError(signal));
  const report: ScanReport = {
    scan: def.name,
    scan_type: mode,
    score: outcome.score,
    summary: outcome.summary,
    ...(outcome.results ? { results: outcome.results } : {}),
    ...(outcome.findings ? { findings: outcome.findings } : {}),
    errors,
    started_at: new Date(started).toISOString(),
    duration_ms: Date.now() - started,
    sources: { ...outcome.sources, api_retries: budget.retries },
  };
  // After every completed run: `changes`, OpenReports objects, run history, regression event (lib/openreports).
  if (def.checks) await (await import('../openreports/record.ts')).afterRun(report, () => def.checks!(report), run.kube());
  return report;
}
