/**
 * `io.stacktic.scan.regressed`: sent when a run has new failing findings or its score fell by
 * more than STACK_SCAN_REGRESSION_THRESHOLD points against the previous run of the same scan
 * and mode. POSTed (binary CloudEvent) to STACK_SCAN_EVENTS_SINK, or K_SINK as a Knative
 * SinkBinding / SinkBinding-like injection sets it: the Broker, where a Trigger routes it to
 * the sink the user names (knative/base/openreports/trigger-regressed.yaml).
 * Bounded: one POST, 5 s. A failure is an errors[] entry; the answer is never held back.
 */
import { toReportError, type ReportError } from '../errors.ts';
import { cloudEvents, SCAN_EXTENSION } from '../scan/events.ts';
import type { Changes } from './changes.ts';

export const REGRESSED_TYPE = 'io.stacktic.scan.regressed';
const TIMEOUT_MS = 5_000;

export interface RegressedData {
  scan: string;
  mode: string;
  run_id: string;
  started_at: string;
  score: number | null;
  previous_score: number | null;
  score_delta: number | null;
  threshold: number;
  /** What regressed, one line each. */
  reasons: string[];
  new_failing_count: number;
  new_failing: Changes['new_failing'];
  previous_run_id: string;
}

export function regressedData(
  scan: string,
  mode: string,
  runId: string,
  startedAt: string,
  score: number | null,
  changes: Changes,
  threshold: number,
  reasons: string[],
): RegressedData {
  return {
    scan,
    mode,
    run_id: runId,
    started_at: startedAt,
    score,
    previous_score: changes.previous?.score ?? null,
    score_delta: changes.score_delta,
    threshold,
    reasons,
    new_failing_count: changes.new_failing_count,
    new_failing: changes.new_failing,
    previous_run_id: changes.previous?.run_id ?? '',
  };
}

/** POST the event to `sink`; an errors[] entry on failure, undefined on success. */
export async function sendRegressed(sink: string, data: RegressedData): Promise<ReportError | undefined> {
  try {
    const { CloudEvent, HTTP } = await cloudEvents();
    const event = new CloudEvent({
      type: REGRESSED_TYPE,
      source: `/stack-scan/${data.scan}`,
      subject: `${data.scan}/${data.mode}`,
      datacontenttype: 'application/json',
      data,
      [SCAN_EXTENSION]: data.scan,
      scanmode: data.mode,
    });
    const msg = HTTP.binary(event);
    const headers = new Headers();
    for (const [k, v] of Object.entries(msg.headers)) if (typeof v === 'string') headers.set(k, v);
    const res = await fetch(sink, { method: 'POST', headers, body: msg.body as string, signal: AbortSignal.timeout(TIMEOUT_MS) });
    await res.arrayBuffer().catch(() => undefined);
    if (res.status >= 300)
      return {
        step: 'send io.stacktic.scan.regressed',
        code: 'event_not_accepted',
        message: `the events sink ${new URL(sink).origin} answered ${res.status} (STACK_SCAN_EVENTS_SINK / K_SINK)`,
      };
    return undefined;
  } catch (err) {
    const e = toReportError('send io.stacktic.scan.regressed', err);
    return {
      ...e,
      code: 'event_not_sent',
      message: `the events sink ${new URL(sink).origin} could not be reached (STACK_SCAN_EVENTS_SINK / K_SINK): ${e.message.slice(0, 200)}`,
    };
  }
}
