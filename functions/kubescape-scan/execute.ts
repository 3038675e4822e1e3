/**
 * Running kubescape for the stack (the imperative shell). Strategies for the
 * per-namespace scores (bench/kubescape.ts measures them):
 *   split          one run with `--include-namespaces <every stack namespace>`,
 *                  split by namespace (kubescape.ts splitByNamespace);
 *                  also gives kubescape's own overall score of the stack.
 *   per-namespace  one run per namespace, `concurrency` at a time (the seed ran
 *                  them one after another).
 * Full mode may add one cluster-wide run for cluster-scoped objects.
 * Every run gets the scan's signal: an abort kills kubescape and its children.
 */
import pLimit from 'p-limit';
import type { ReportError } from '../../lib/errors.ts';
import { ScanAbort } from '../../lib/scan/run.ts';
import { runKubescape, type KsReport, type KubescapeRun } from './kubescape.ts';
import type { NamespaceObservation } from './judge.ts';
import { FRAMEWORKS, type Strategy } from './settings.ts';

export interface ExecuteOptions {
  bin: string;
  kubeconfig?: string;
  artifactsDir?: string;
  runTimeoutMs: number;
  strategy: Strategy;
  concurrency: number;
  signal?: AbortSignal;
  /** Also run one cluster-wide scan (full mode). */
  clusterWide?: boolean;
  /** Namespaces done of the total (the command line's progress). */
  progress?: (done: number, total: number) => void;
}

export interface RunRecord {
  namespaces: string[] | 'cluster';
  duration_ms: number;
  exit_code: number | null;
  ok: boolean;
}

export interface Executed {
  observations: NamespaceObservation[];
  combined: KsReport | null;
  clusterWide: KsReport | null;
  errors: ReportError[];
  forbidden: string[];
  runs: RunRecord[];
  kubescapeVersion: string | null;
  /** Raw JSON of every run, when asked for (recording fixtures). */
  raw?: { namespaces: string[] | 'cluster'; json: string }[];
}

function record(run: KubescapeRun, namespaces: string[] | 'cluster'): RunRecord {
  return { namespaces, duration_ms: Math.round(run.tool.durationMs), exit_code: run.tool.exitCode, ok: run.report !== null };
}

function runError(run: KubescapeRun, what: string, signal?: AbortSignal): ReportError {
  const step = `kubescape ${what}`;
  // Stopped by the scan's signal: say why (the scan's total time, or every client gone).
  if (run.tool.aborted && signal?.reason instanceof ScanAbort)
    return { step, code: signal.reason.code, message: `${signal.reason.message}; ${run.failure ?? 'kubescape was stopped'}` };
  const code = run.tool.timedOut ? 'timeout' : run.tool.aborted ? 'cancelled' : run.tool.missing ? 'tool_missing' : 'tool_failed';
  const hint = run.tool.missing ? ' (set KUBESCAPE_BIN, or build it: bash harness/build.sh kubescape)' : run.tool.timedOut ? ` (KUBESCAPE_TIMEOUT_MS)` : '';
  return { step, code, message: `${run.failure ?? 'kubescape failed'}${hint}` };
}

export async function executeKubescape(namespaces: string[], o: ExecuteOptions, keepRaw = false): Promise<Executed> {
  const base = { bin: o.bin, frameworks: [...FRAMEWORKS], kubeconfig: o.kubeconfig, artifactsDir: o.artifactsDir, signal: o.signal, timeoutMs: o.runTimeoutMs };
  const out: Executed = {
    observations: [],
    combined: null,
    clusterWide: null,
    errors: [],
    forbidden: [],
    runs: [],
    kubescapeVersion: null,
    ...(keepRaw ? { raw: [] } : {}),
  };
  const note = (run: KubescapeRun, what: string, ns: string[] | 'cluster') => {
    out.runs.push(record(run, ns));
    out.forbidden.push(...run.forbidden.filter((l) => !out.forbidden.includes(l)));
    if (run.failure) out.errors.push(runError(run, what, o.signal));
    if (run.report) out.kubescapeVersion ??= run.report.kubescapeVersion;
    if (keepRaw && run.raw) out.raw!.push({ namespaces: ns, json: run.raw });
  };

  if (namespaces.length) {
    if (o.strategy === 'split') {
      const run = await runKubescape({ ...base, includeNamespaces: namespaces });
      note(run, `scan of namespaces ${namespaces.join(',')}`, namespaces);
      out.combined = run.report;
      for (const ns of namespaces) out.observations.push({ namespace: ns, report: run.report, failure: run.report ? null : run.failure });
    } else {
      const limit = pLimit(o.concurrency);
      let done = 0;
      o.progress?.(0, namespaces.length);
      const runs = await Promise.all(
        namespaces.map((ns) =>
          limit(async () => {
            if (o.signal?.aborted) return null;
            const run = await runKubescape({ ...base, includeNamespaces: [ns] });
            o.progress?.(++done, namespaces.length);
            return [ns, run] as const;
          }),
        ),
      );
      for (const [i, r] of runs.entries()) {
        const ns = namespaces[i];
        if (!r) {
          out.observations.push({ namespace: ns, report: null, failure: 'not started: the scan was stopped' });
          continue;
        }
        note(r[1], `scan of namespace ${ns}`, [ns]);
        out.observations.push({ namespace: ns, report: r[1].report, failure: r[1].report ? null : r[1].failure });
      }
    }
  }
  if (o.clusterWide && !o.signal?.aborted) {
    const run = await runKubescape(base);
    note(run, 'cluster-wide scan', 'cluster');
    out.clusterWide = run.report;
  }
  return out;
}
