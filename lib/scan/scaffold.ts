/**
 * Turns a scan definition into a Hono app: `GET /<path>?mode=…` answering the
 * common JSON envelope, and `GET /healthz`. Every scan gets the same HTTP rules:
 *   - an unknown or repeated query parameter, or an unknown mode, is a 400;
 *   - HEAD and other methods on the scan path are a 405 (HEAD never runs a scan);
 *   - identical requests in flight (same scan, mode and parameters) share one run;
 *   - the run's signal is aborted when every client waiting on it disconnected, or
 *     when the scan's total time budget (setting `<NAME>_SCAN_TIMEOUT_MS`) is spent;
 *     the scan then returns what it has and the envelope lists a `timeout` or
 *     `cancelled` error. A scan that does not return within a grace period after
 *     that is answered with a 504;
 *   - a ScanError becomes its status with a JSON body; anything else a 500 with a
 *     message, never a stack;
 *   - `POST /` takes a CloudEvent `io.stacktic.scan.requested` (lib/scan/events.ts) and
 *     runs the scan through the same coalescer and timeout, replying with an event.
 */
import { Hono } from 'hono';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import * as v from 'valibot';
import { errorBody, ScanError } from '../errors.ts';
import { COMPLETED_TYPE, EventRejected, FAILED_TYPE, receiveEvent, replyEvent, REQUESTED_TYPE, SCAN_EXTENSION, scanRequestOf } from './events.ts';
import { FORMAT_PARAM, formatParam, renderHttp } from '../report/http.ts';
import type { ScanReport } from './report.ts';
import { runScan, ScanAbort, scanTimeoutMs, timeoutSettingName, type ScanDefinition } from './run.ts';

export type { ScanOutcome, ScanReport } from './report.ts';
// Running a scan without HTTP lives in run.ts (the command line loads it alone); the scans and tests import it from here too.
export {
  abortError,
  runScan,
  ScanAbort,
  scanTimeoutMs,
  scanTimeoutSchema,
  timeoutSettingName,
  type ProgressFn,
  type ScanContext,
  type ScanDefinition,
} from './run.ts';

/** The error body (defined in lib/errors.ts, so lib/scan/events.ts needs no import of the scaffold). */
export { errorBody };

/** The CloudEvent types and extension, for the OpenAPI document (a function: events.ts imports this module). */
export const eventTypes = () => ({ requested: REQUESTED_TYPE, completed: COMPLETED_TYPE, failed: FAILED_TYPE, extension: SCAN_EXTENSION });
/** After an abort, how long a scan may take to hand back what it has. */
export const ABORT_GRACE_MS = 15_000;

type Settled = { ok: true; report: ScanReport } | { ok: false; error: unknown };

interface InFlight {
  result: Promise<Settled>;
  /** Settles with a 504 when the scan has not returned ABORT_GRACE_MS after its abort. */
  late: Promise<{ ok: false; error: ScanError }>;
  waiters: number;
  controller: AbortController;
}

/** Counts runs started, for tests of coalescing. */
export interface ScanAppStats {
  runs: number;
  coalesced: number;
}

/**
 * Identical requests share one run. Each waiter holds a reference; when the last
 * waiter leaves (client disconnected) the run is aborted. The timeout aborts it too.
 */
export class Coalescer<M extends string> {
  private readonly inflight = new Map<string, InFlight>();
  readonly stats: ScanAppStats = { runs: 0, coalesced: 0 };
  constructor(private readonly def: ScanDefinition<M>) {}

  async request(mode: M, params: Record<string, string>, timeoutMs: number, clientSignal?: AbortSignal): Promise<Settled | { ok: false; error: ScanError }> {
    const key = JSON.stringify([mode, Object.entries(params).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))]);
    let run = this.inflight.get(key);
    if (run) {
      run.waiters++;
      this.stats.coalesced++;
    } else {
      const controller = new AbortController();
      const timer = setTimeout(
        () =>
          controller.abort(
            new ScanAbort(
              'timeout',
              `the scan exceeded its total time of ${timeoutMs} ms (${timeoutSettingName(this.def)}); the report holds what was done by then`,
            ),
          ),
        timeoutMs,
      );
      this.stats.runs++;
      const result: Promise<Settled> = runScan(this.def, mode, params, controller.signal, timeoutMs).then(
        (report) => ({ ok: true as const, report }),
        (error: unknown) => ({ ok: false as const, error }),
      );
      let graceTimer: NodeJS.Timeout | undefined;
      const late = new Promise<{ ok: false; error: ScanError }>((resolve) => {
        controller.signal.addEventListener(
          'abort',
          () => {
            const what = (controller.signal.reason as ScanAbort | undefined)?.code === 'timeout' ? 'timed out' : 'cancelled';
            graceTimer = setTimeout(
              () =>
                resolve({
                  ok: false,
                  error: new ScanError(504, {
                    code: 'scan_timeout',
                    message: `the ${this.def.name} scan did not stop within ${ABORT_GRACE_MS} ms after it was ${what}`,
                    setting: timeoutSettingName(this.def),
                  }),
                }),
              ABORT_GRACE_MS,
            );
            graceTimer.unref?.();
          },
          { once: true },
        );
      });
      run = { result, late, waiters: 1, controller };
      this.inflight.set(key, run);
      void result.finally(() => {
        clearTimeout(timer);
        clearTimeout(graceTimer);
        if (this.inflight.get(key) === run) this.inflight.delete(key);
      });
    }
    const current = run;
    const leave = () => {
      current.waiters--;
      if (current.waiters <= 0 && !current.controller.signal.aborted)
        current.controller.abort(new ScanAbort('cancelled', 'every client waiting for this scan disconnected'));
    };
    if (clientSignal?.aborted) leave();
    else clientSignal?.addEventListener('abort', leave, { once: true });
    try {
      return await Promise.race([current.result, current.late]);
    } finally {
      clientSignal?.removeEventListener('abort', leave);
    }
  }
}

export interface ScanApp extends Hono {
  /** Coalescing counters (tests). */
  scanStats?: ScanAppStats;
}

/** The JSON 404 every app of ours answers. */
export function notFoundBody(method: string, path: string, hint: string) {
  return errorBody(404, { code: 'not_found', message: `no route ${method} ${path}; ${hint}` });
}

export function scanApp<M extends string>(def: ScanDefinition<M>): ScanApp {
  const app: ScanApp = new Hono();
  const allowed = new Map<string, string>([
    ['mode', `one of ${def.modes.join(', ')} (default ${def.defaultMode})`],
    [FORMAT_PARAM, formatParam.description],
    ...Object.entries(def.params ?? {}),
  ]);
  const ModeSchema = v.picklist(def.modes, `mode must be one of: ${def.modes.join(', ')}`);
  const coalescer = new Coalescer(def);
  app.scanStats = coalescer.stats;

  app.get('/healthz', (c) => c.json({ status: 'ok', scan: def.name }));
  // The OpenAPI 3.1 document (lib/scan/openapi.ts, loaded on the first request for it).
  let openapi: Promise<object> | undefined;
  app.get('/openapi.json', async (c) =>
    c.json(await (openapi ??= import('./openapi.ts').then((m) => m.openApiDocument([def], { combined: false, events: eventTypes() })))),
  );

  // Hono answers HEAD with the GET handler: a HEAD must never start a scan.
  app.get(def.path, async (c) => {
    if (c.req.method === 'HEAD') return c.body(null, 405, { Allow: 'GET' });
    const queries = c.req.queries();
    const unknown = Object.keys(queries).filter((k) => !allowed.has(k));
    const accepts = [...allowed].map(([k, d]) => `${k} (${d})`).join('; ');
    if (unknown.length) {
      return c.json(
        errorBody(400, {
          code: 'unknown_parameter',
          message: `unknown query parameter(s): ${unknown.join(', ')}; ${def.path} accepts: ${accepts}`,
          details: unknown.map((k) => ({ path: k, message: 'not accepted' })),
        }),
        400,
      );
    }
    const repeated = Object.entries(queries)
      .filter(([, vals]) => vals.length > 1)
      .map(([k]) => k);
    if (repeated.length) {
      return c.json(
        errorBody(400, {
          code: 'repeated_parameter',
          message: `query parameter(s) given more than once: ${repeated.join(', ')}; give each once`,
          details: repeated.map((k) => ({ path: k, message: 'repeated' })),
        }),
        400,
      );
    }
    const query = new Map(Object.entries(queries).map(([k, vals]) => [k, vals[0]]));
    const parsed = v.safeParse(ModeSchema, query.get('mode') ?? def.defaultMode);
    if (!parsed.success) {
      return c.json(
        errorBody(400, {
          code: 'invalid_mode',
          message: `${parsed.issues[0].message}; got '${query.get('mode')}'`,
          details: [{ path: 'mode', message: `allowed: ${def.modes.join(', ')}` }],
        }),
        400,
      );
    }
    query.delete('mode');
    const format = formatParam.parse(query.get(FORMAT_PARAM));
    if (!format.ok) return c.json(errorBody(400, format.error), 400);
    query.delete(FORMAT_PARAM);
    const params: Record<string, string> = Object.create(null);
    for (const [k, val] of query) params[k] = val;
    const [body, status] = await answer(parsed.output, params, c.req.raw.signal);
    if (format.value !== 'json' && status === 200) return renderHttp(c, def, body as ScanReport, format.value);
    return c.json(body, status);
  });

  /** Run (or join) a scan; the JSON body and status every way of asking gets. */
  async function answer(mode: M, params: Record<string, string>, clientSignal: AbortSignal): Promise<[object, ContentfulStatusCode]> {
    try {
      const timeoutMs = scanTimeoutMs(def, mode);
      const settled = await coalescer.request(mode, params, timeoutMs, clientSignal);
      if (settled.ok) return [settled.report, 200];
      throw settled.error;
    } catch (err) {
      if (err instanceof ScanError) return [errorBody(err.status, err.info), err.status as ContentfulStatusCode];
      console.error(`${def.name} scan failed:`, err);
      return [errorBody(500, { code: 'internal', message: `${def.name} scan failed: ${err instanceof Error ? err.message : String(err)}` }), 500];
    }
  }

  // CloudEvents (lib/scan/events.ts): `io.stacktic.scan.requested` runs the scan through the
  // same coalescer and timeout as GET and replies `…completed` with the report or `…failed`.
  app.post('/', async (c) => {
    let received;
    let request;
    try {
      received = await receiveEvent(c.req.raw);
      request = scanRequestOf(received.event, def);
    } catch (err) {
      if (err instanceof EventRejected) return c.json(err.body(), err.status, err.status === 413 ? { Connection: 'close' } : {});
      throw err;
    }
    const [body, status] = await answer(request.mode as M, request.params, c.req.raw.signal);
    return replyEvent({
      scan: def.name,
      mode: request.mode,
      request: received.event,
      contentMode: received.mode,
      type: status === 200 ? COMPLETED_TYPE : FAILED_TYPE,
      data: body,
    });
  });
  app.all('/', (c) =>
    c.json(
      errorBody(405, {
        code: 'method_not_allowed',
        message: `${c.req.method} is not allowed on /; POST a CloudEvent of type ${REQUESTED_TYPE}, or GET ${def.path}?mode=${def.defaultMode}`,
      }),
      405,
      { Allow: 'POST' },
    ),
  );

  app.all(def.path, (c) =>
    c.json(
      errorBody(405, { code: 'method_not_allowed', message: `${c.req.method} is not allowed on ${def.path}; use GET ${def.path}?mode=${def.defaultMode}` }),
      405,
      { Allow: 'GET' },
    ),
  );
  app.notFound((c) => c.json(notFoundBody(c.req.method, c.req.path, `try GET ${def.path}?mode=${def.defaultMode}`), 404));
  app.onError((err, c) => {
    console.error(`${def.name}: unhandled error:`, err);
    return c.json(errorBody(500, { code: 'internal', message: `${def.name}: ${err.message}` }), 500);
  });
  return app;
}
