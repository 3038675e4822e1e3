/**
 * Retries the API server asks for. Under API Priority and Fairness a busy kube-apiserver answers
 * 429 Too Many Requests (or 503) with `Retry-After: <seconds>`; the request was not processed and
 * may be sent again. lib/kube/raw.ts honours it for every request of every scan:
 *
 *   - 429, and 503 carrying Retry-After, are retried after the time the server asked for
 *     (delta-seconds or an HTTP date; without one, 1 s, 2 s, 4 s, …); a server asking for more
 *     than 30 s is not waited for (the request fails with the reason);
 *   - at most MAX_RETRIES retries per request, and never past the run's time budget: when the
 *     next wait would end after the run's deadline (less a margin to report), the request fails
 *     with the server's answer and the reason;
 *   - the wait ends early when the run is aborted (timeout, every client gone).
 *
 * The run's budget lives in an AsyncLocalStorage set by lib/scan/scaffold.ts around a scan's
 * run, so every API call of the run (however deep) sees the same deadline and adds to one
 * count: the report's `sources.api_retries`.
 */
import { AsyncLocalStorage } from 'node:async_hooks';

export const MAX_RETRIES = 4;
/** Longest single wait honoured, whatever the server asks. */
export const MAX_WAIT_MS = 30_000;
/** Time kept at the end of a run's budget for reporting: no retry wait ends inside it. */
export const REPORT_MARGIN_MS = 2_000;
/** Without a run (harness, tools): total waiting allowed per request. */
const NO_RUN_BUDGET_MS = 60_000;

export interface ApiBudget {
  /** ms since the epoch by which the run must have answered. */
  deadline: number;
  signal?: AbortSignal;
  /** Retries of this run so far (every request together). */
  retries: number;
  /** Time spent waiting before retries (ms). */
  waitedMs: number;
}

const store = new AsyncLocalStorage<ApiBudget>();

/** Runs `fn` with a budget every API request inside it sees. */
export function withApiBudget<T>(budget: ApiBudget, fn: () => T): T {
  return store.run(budget, fn);
}

export function currentApiBudget(): ApiBudget | undefined {
  return store.getStore();
}

/** The delay a Retry-After header asks for (ms), or undefined when absent or unreadable. */
export function retryAfterMs(value: string | string[] | undefined, now = Date.now()): number | undefined {
  const v = (Array.isArray(value) ? value[0] : value)?.trim();
  if (!v) return undefined;
  if (/^\d+$/.test(v)) return Number(v) * 1000;
  const at = Date.parse(v);
  return Number.isFinite(at) ? Math.max(0, at - now) : undefined;
}

export type RetryDecision = { retry: true; waitMs: number } | { retry: false; reason?: string };

/**
 * Whether to retry an answer, and after how long. `attempt` counts retries already made for
 * this request (0 for the first answer).
 */
export function retryDecision(
  status: number,
  retryAfter: string | string[] | undefined,
  attempt: number,
  budget: ApiBudget | undefined,
  now = Date.now(),
): RetryDecision {
  const asked = retryAfterMs(retryAfter, now);
  if (!(status === 429 || (status === 503 && asked !== undefined))) return { retry: false };
  if (attempt >= MAX_RETRIES) return { retry: false, reason: `still ${status} after ${MAX_RETRIES} retries` };
  if (asked !== undefined && asked > MAX_WAIT_MS)
    return { retry: false, reason: `the server asked to retry after ${Math.ceil(asked / 1000)} s, longer than the ${MAX_WAIT_MS / 1000} s a scan waits` };
  const waitMs = asked ?? Math.min(1000 * 2 ** attempt, MAX_WAIT_MS);
  const deadline = budget ? budget.deadline - REPORT_MARGIN_MS : now + NO_RUN_BUDGET_MS;
  if (now + waitMs > deadline) return { retry: false, reason: `the server asked to retry after ${Math.ceil(waitMs / 1000)} s, past the run's time budget` };
  if (budget?.signal?.aborted) return { retry: false, reason: 'the run was aborted' };
  return { retry: true, waitMs };
}

/** Waits `ms`, or less when the signal aborts. */
export function pause(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const done = () => {
      clearTimeout(t);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const t = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });
}
