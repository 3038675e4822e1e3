/**
 * "What changed since the last run" (pure): the checks of this run against the compact
 * record of the previous run of the same scan and mode.
 *
 *   new_failing   failing now (result fail), not failing before (absent, or another result)
 *   fixed         failing before, not failing now (passing, or no longer reported)
 *   unchanged     failing in both runs (a count)
 *   score_delta   this score − the previous score (null when either is null)
 *
 * Failing means result `fail`; the ids are the checks' stable ids (lib/scan/check-id.ts).
 */
import type { Check, CheckSeverity } from '../scan/checks.ts';
import type { RunRecord } from './history.ts';

/** At most this many new and fixed findings are listed (the counts are always exact). */
export const LISTED = 50;

export interface ChangedFinding {
  id: string;
  policy: string;
  rule: string;
  namespace?: string;
  severity?: CheckSeverity;
  message?: string;
}

export interface Changes {
  /** The run compared with; null on the first run (then `note` says so). */
  previous: { run_id: string; started_at: string; score: number | null; from: 'cluster' | 'memory' } | null;
  note?: string;
  new_failing: ChangedFinding[];
  new_failing_count: number;
  fixed: ChangedFinding[];
  fixed_count: number;
  unchanged: number;
  score_delta: number | null;
  /** Exactness: the previous record listed only part of its failing ids (etcd size cap). */
  previous_ids_truncated?: boolean;
  /** New failing findings, or a score fall beyond STACK_SCAN_REGRESSION_THRESHOLD (io.stacktic.scan.regressed is sent). */
  regressed?: boolean;
  regression?: string[];
}

export function diffRuns(
  scan: string,
  mode: string,
  prev: (RunRecord & { from: 'cluster' | 'memory' }) | undefined,
  checks: Check[],
  score: number | null,
): Changes {
  const failing = checks.filter((c) => c.result === 'fail');
  if (!prev) {
    return {
      previous: null,
      note: `no previous run of ${scan} ${mode} to compare with`,
      new_failing: [],
      new_failing_count: 0,
      fixed: [],
      fixed_count: 0,
      unchanged: 0,
      score_delta: null,
    };
  }
  const before = new Map(prev.failing.map((f) => [f[0], f]));
  const nowIds = new Set(failing.map((c) => c.id));
  const added = failing.filter((c) => !before.has(c.id));
  const fixed = prev.failing.filter((f) => !nowIds.has(f[0]));
  const round = (x: number) => Math.round(x * 100) / 100;
  return {
    previous: { run_id: prev.run_id, started_at: prev.started_at, score: prev.score, from: prev.from },
    new_failing: added
      .slice(0, LISTED)
      .map((c) => ({ id: c.id, policy: c.policy, rule: c.rule, ...(c.namespace ? { namespace: c.namespace } : {}), severity: c.severity, message: c.message })),
    new_failing_count: added.length,
    fixed: fixed.slice(0, LISTED).map(([id, policy, rule, namespace]) => ({ id, policy: policy ?? '', rule: rule ?? '', ...(namespace ? { namespace } : {}) })),
    fixed_count: fixed.length,
    unchanged: failing.length - added.length,
    score_delta: score === null || prev.score === null ? null : round(score - prev.score),
    ...(prev.ids_truncated ? { previous_ids_truncated: true } : {}),
  };
}

/** Did this run regress: new failing findings, or a score fall larger than `threshold` points? */
export function regression(changes: Changes, threshold: number): { regressed: boolean; reasons: string[] } {
  const reasons: string[] = [];
  if (!changes.previous) return { regressed: false, reasons };
  if (changes.new_failing_count > 0) reasons.push(`${changes.new_failing_count} new failing finding(s)`);
  if (changes.score_delta !== null && -changes.score_delta > threshold)
    reasons.push(`the score fell by ${-changes.score_delta} points (threshold ${threshold})`);
  return { regressed: reasons.length > 0, reasons };
}
