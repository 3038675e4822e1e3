/**
 * Turns a scan definition into a Hono app: `GET /<path>?mode=…` answering the
 * common JSON envelope, and `GET /healthz`. A ScanError becomes its status with
 * a JSON body; anything else becomes a 500 with a message, never a stack.
 */
import { Hono } from 'hono';
import * as v from 'valibot';
import { ScanError, type ErrorInfo, type ReportError } from '../errors.ts';

export interface ScanOutcome {
  /** 0–100, or null when the scan could not decide (the reason is in `errors`). */
  score: number | null;
  summary: Record<string, unknown>;
  /** Mode-specific detail (light and full). */
  results?: Record<string, unknown>;
  /** Per-test findings (full mode). */
  findings?: unknown[];
  errors: ReportError[];
  /** Where the inputs came from: files, cluster, settings. */
  sources: Record<string, unknown>;
}

export interface ScanReport extends ScanOutcome {
  scan: string;
  scan_type: string;
  started_at: string;
  duration_ms: number;
}

export interface ScanContext<M extends string> {
  mode: M;
  /** Every query parameter other than `mode`. */
  params: Record<string, string>;
  signal: AbortSignal;
}

export interface ScanDefinition<M extends string = string> {
  /** Short name used in the envelope, e.g. `network`. */
  name: string;
  /** Route path, e.g. `/network_scan`. */
  path: string;
  modes: readonly [M, ...M[]];
  defaultMode: M;
  /** Query parameters this scan accepts besides `mode` (anything else is a 400). */
  params?: Record<string, string>;
  run(ctx: ScanContext<M>): Promise<ScanOutcome>;
}

export function errorBody(status: number, info: ErrorInfo) {
  return { error: { status, ...info } };
}

/** Run a scan directly (no HTTP) and wrap its outcome in the envelope. */
export async function runScan<M extends string>(def: ScanDefinition<M>, mode: M, params: Record<string, string> = {}, signal = new AbortController().signal): Promise<ScanReport> {
  const started = Date.now();
  const outcome = await def.run({ mode, params, signal });
  return {
    scan: def.name,
    scan_type: mode,
    score: outcome.score,
    summary: outcome.summary,
    ...(outcome.results ? { results: outcome.results } : {}),
    ...(outcome.findings ? { findings: outcome.findings } : {}),
    errors: outcome.errors,
    started_at: new Date(started).toISOString(),
    duration_ms: Date.now() - started,
    sources: outcome.sources,
  };
}

export function scanApp<M extends string>(def: ScanDefinition<M>): Hono {
  const app = new Hono();
  const allowed = { mode: `one of ${def.modes.join(', ')} (default ${def.defaultMode})`, ...def.params };
  const ModeSchema = v.picklist(def.modes, `mode must be one of: ${def.modes.join(', ')}`);

  app.get('/healthz', (c) => c.json({ status: 'ok', scan: def.name }));

  app.get(def.path, async (c) => {
    const query = c.req.query();
    const unknown = Object.keys(query).filter((k) => !(k in allowed));
    if (unknown.length) {
      return c.json(
        errorBody(400, {
          code: 'unknown_parameter',
          message: `unknown query parameter(s): ${unknown.join(', ')}; ${def.path} accepts: ${Object.entries(allowed).map(([k, d]) => `${k} (${d})`).join('; ')}`,
          details: unknown.map((k) => ({ path: k, message: 'not accepted' })),
        }),
        400,
      );
    }
    const parsed = v.safeParse(ModeSchema, query.mode ?? def.defaultMode);
    if (!parsed.success) {
      return c.json(errorBody(400, { code: 'invalid_mode', message: `${parsed.issues[0].message}; got '${query.mode}'`, details: [{ path: 'mode', message: `allowed: ${def.modes.join(', ')}` }] }), 400);
    }
    const { mode: _mode, ...params } = query;
    try {
      return c.json(await runScan(def, parsed.output, params, c.req.raw.signal));
    } catch (err) {
      if (err instanceof ScanError) return c.json(errorBody(err.status, err.info), err.status as 400);
      console.error(`${def.name} scan failed:`, err);
      return c.json(errorBody(500, { code: 'internal', message: `${def.name} scan failed: ${err instanceof Error ? err.message : String(err)}` }), 500);
    }
  });

  app.notFound((c) => c.json(errorBody(404, { code: 'not_found', message: `no route ${c.req.method} ${c.req.path}; try GET ${def.path}?mode=${def.defaultMode}` }), 404));
  return app;
}
