/**
 * CloudEvents on `POST /`: the third way of using a scan (a Knative Broker's Trigger
 * delivers `io.stacktic.scan.requested`, the function replies with the report as
 * `io.stacktic.scan.completed`, or `io.stacktic.scan.failed` with the error body).
 *
 * Decoding and encoding go through the `cloudevents` SDK (binary and structured
 * content modes); the SDK is imported on the first event, so a function's start and
 * its `/healthz` never load it. The reply uses the request's content mode.
 *
 * Request:  type `io.stacktic.scan.requested`, data `{ "mode": "light", …params }`,
 *           optional extension `scan` (the Triggers filter on it; the combined server
 *           routes on it). Anything else is a 400 naming the reason, never a crash.
 * Reply:    200 with the reply event: type `io.stacktic.scan.completed` (data: the report)
 *           or `io.stacktic.scan.failed` (data: `{ error: { status, code, message, … } }`),
 *           source `/stack-scan/<scan>`, subject `<scan>/<mode>`, a fresh id, extensions
 *           `scan`, `scanmode` and `inresponseto` (the request's id).
 */
import type { CloudEventV1 } from 'cloudevents';
import { errorBody } from '../errors.ts';
import { checkEventAttributes, readBody, RequestRefused } from './event-checks.ts';

export const REQUESTED_TYPE = 'io.stacktic.scan.requested';
export const COMPLETED_TYPE = 'io.stacktic.scan.completed';
export const FAILED_TYPE = 'io.stacktic.scan.failed';
/** A Knative PingSource's event (schedules): data `{"scan": "network", "mode": "light"}`. */
export const PING_TYPE = 'dev.knative.sources.ping';
/** The extension attribute naming the scan (`network`, `opa`, …). */
export const SCAN_EXTENSION = 'scan';

type SDK = typeof import('cloudevents');
let sdk: Promise<SDK> | undefined;
/** The cloudevents SDK, imported once, on first use. */
export function cloudEvents(): Promise<SDK> {
  // The SDK is CommonJS: imported from an ESM bundle's chunk its exports arrive as `default`.
  return (sdk ??= import('cloudevents').then((m) => ((m as { HTTP?: unknown }).HTTP ? m : (m as unknown as { default: SDK }).default)));
}

export type ContentMode = 'binary' | 'structured';

/** A request that is not an acceptable event: answered 400 with this reason. */
export class EventRejected extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly details?: { path: string; message: string }[],
    /** 400, or 413 for a body over the limit (lib/scan/event-checks.ts). */
    readonly status: 400 | 413 = 400,
  ) {
    super(message);
  }
  body() {
    return errorBody(this.status, { code: this.code, message: this.message, ...(this.details ? { details: this.details } : {}) });
  }
}

export interface ReceivedEvent {
  event: CloudEventV1<unknown>;
  mode: ContentMode;
}

function headerRecord(headers: Headers): Record<string, string> {
  const out: Record<string, string> = Object.create(null);
  headers.forEach((value, key) => {
    out[key.toLowerCase()] = value;
  });
  return out;
}

/** Decode one CloudEvent from a request (binary or structured); a batch or a non-event is rejected. */
export async function receiveEvent(req: Request): Promise<ReceivedEvent> {
  const { HTTP } = await cloudEvents();
  const headers = headerRecord(req.headers);
  // The body is refused as soon as it passes the limit (413), and the spec's required attributes are checked (400 naming one).
  let body: string;
  try {
    body = new TextDecoder().decode(await readBody(req));
    checkEventAttributes(req.headers, body);
  } catch (err) {
    if (err instanceof RequestRefused) throw new EventRejected(err.problem.code, err.problem.message, err.problem.details, err.problem.status);
    throw err;
  }
  const contentType = headers['content-type'] ?? '';
  if (/^application\/cloudevents-batch\+json/i.test(contentType)) {
    throw new EventRejected(
      'batch_not_supported',
      'a batch of CloudEvents is not accepted: send one io.stacktic.scan.requested event per request (binary or structured mode)',
    );
  }
  let decoded: CloudEventV1<unknown> | CloudEventV1<unknown>[];
  try {
    decoded = HTTP.toEvent<unknown>({ headers, body });
    // HTTP.toEvent returns an array for batch mode; one event per request is accepted.
    if (Array.isArray(decoded)) {
      if (decoded.length !== 1)
        throw new EventRejected('batch_not_supported', `a batch of ${decoded.length} CloudEvents is not accepted: send one event per request`);
      decoded = decoded[0];
    }
    // Structured mode is decoded leniently: check the required attributes (id, source, type, specversion).
    (decoded as { validate?: () => boolean }).validate?.();
  } catch (err) {
    if (err instanceof EventRejected) throw err;
    if (err instanceof SyntaxError) throw new EventRejected('invalid_event', 'the event is not valid JSON');
    const e = err as { message?: string; errors?: unknown };
    const details = Array.isArray(e.errors)
      ? e.errors
          .slice(0, 10)
          .map((x: { instancePath?: string; message?: string }) => ({ path: x.instancePath || '/', message: String(x.message ?? x).slice(0, 200) }))
      : undefined;
    const why =
      e.message === 'no cloud event detected'
        ? 'no CloudEvent in the request: send binary mode (ce-specversion, ce-id, ce-source, ce-type headers) or structured mode (Content-Type: ' +
          'application/cloudevents+json)'
        : `not a valid CloudEvent: ` +
          `${details?.length ? details.map((d) => `${d.path} ` + `${d.message}`).join('; ') : (e.message ?? String(err)).split('\n')[0].slice(0, 200)}`;
    throw new EventRejected('invalid_event', why, details?.length ? details : undefined);
  }
  return { event: decoded, mode: /^application\/cloudevents\+json/i.test(contentType) ? 'structured' : 'binary' };
}

/** The `scan` extension of an event, when set. */
export function scanOf(event: CloudEventV1<unknown>): string | undefined {
  const v = (event as unknown as Record<string, unknown>)[SCAN_EXTENSION];
  return typeof v === 'string' ? v : undefined;
}

export interface ScanRequest {
  mode: string;
  params: Record<string, string>;
}

/**
 * The scan a `requested` event asks for. `data` must be a JSON object with `mode`
 * (one of `modes`) and, optionally, the scan's query parameters as strings.
 */
export function scanRequestOf(event: CloudEventV1<unknown>, def: { name: string; modes: readonly string[]; params?: Record<string, string> }): ScanRequest {
  if (event.type === PING_TYPE) return pingRequestOf(event, def);
  if (event.type !== REQUESTED_TYPE) {
    throw new EventRejected(
      'unsupported_event_type',
      `event type '${String(event.type).slice(0, 100)}' is not handled; send type ${REQUESTED_TYPE} with data {"mode": "${def.modes[0]}"}`,
      [{ path: 'type', message: `expected ${REQUESTED_TYPE}` }],
    );
  }
  const scan = scanOf(event);
  if (scan !== undefined && scan !== def.name) {
    throw new EventRejected('wrong_scan', `this function runs the ${def.name} scan; the event's scan extension says '${scan.slice(0, 60)}'`, [
      { path: SCAN_EXTENSION, message: `expected ${def.name}` },
    ]);
  }
  let data = event.data as unknown;
  if (data instanceof Uint8Array) data = Buffer.from(data).toString('utf8');
  if (typeof data === 'string') {
    if (!data.trim()) data = undefined;
    else {
      try {
        data = JSON.parse(data);
      } catch {
        throw new EventRejected('invalid_data', 'the event data is not valid JSON: send {"mode": "…"} with datacontenttype application/json', [
          { path: 'data', message: 'not JSON' },
        ]);
      }
    }
  }
  const want =
    `{"mode": one of ${def.modes.join(', ')}` +
    `${def.params && Object.keys(def.params).length ? `, optional ${Object.keys(def.params).join(', ')} as strings` : ''}}`;
  if (data === undefined || data === null)
    throw new EventRejected('missing_data', `the event has no data; send ${want}`, [{ path: 'data', message: 'missing' }]);
  if (typeof data !== 'object' || Array.isArray(data))
    throw new EventRejected('invalid_data', `the event data must be a JSON object ${want}`, [{ path: 'data', message: 'not an object' }]);
  const fields = new Map(Object.entries(data as Record<string, unknown>));
  const mode = fields.get('mode');
  if (mode === undefined) throw new EventRejected('missing_mode', `the event data has no mode; send ${want}`, [{ path: 'data.mode', message: 'missing' }]);
  if (typeof mode !== 'string' || !def.modes.includes(mode)) {
    throw new EventRejected('invalid_mode', `mode must be one of: ${def.modes.join(', ')}; got ${JSON.stringify(mode).slice(0, 60)}`, [
      { path: 'data.mode', message: `allowed: ${def.modes.join(', ')}` },
    ]);
  }
  fields.delete('mode');
  const allowed = new Set(Object.keys(def.params ?? {}));
  const unknown = [...fields.keys()].filter((k) => !allowed.has(k));
  if (unknown.length) {
    throw new EventRejected(
      'unknown_parameter',
      `unknown field(s) in the event data: ${unknown.map((k) => k.slice(0, 40)).join(', ')}; accepted: mode` +
        `${allowed.size ? `, ${[...allowed].join(', ')}` : ''}`,
      unknown.map((k) => ({ path: `data.${k.slice(0, 40)}`, message: 'not accepted' })),
    );
  }
  const params: Record<string, string> = Object.create(null);
  for (const [k, v] of fields) {
    if (typeof v !== 'string') throw new EventRejected('invalid_parameter', `data.${k} must be a string`, [{ path: `data.${k}`, message: 'not a string' }]);
    params[k] = v;
  }
  return { mode, params };
}

/** The reply event, encoded in `mode`, as a fetch Response (200). */
export async function replyEvent(opts: {
  scan: string;
  mode: string;
  request: CloudEventV1<unknown>;
  contentMode: ContentMode;
  type: typeof COMPLETED_TYPE | typeof FAILED_TYPE;
  data: unknown;
}): Promise<Response> {
  const { CloudEvent, HTTP } = await cloudEvents();
  const event = new CloudEvent({
    type: opts.type,
    source: `/stack-scan/${opts.scan}`,
    subject: `${opts.scan}/${opts.mode}`,
    datacontenttype: 'application/json',
    data: opts.data,
    [SCAN_EXTENSION]: opts.scan,
    scanmode: opts.mode,
    inresponseto: opts.request.id,
  });
  const message = opts.contentMode === 'structured' ? HTTP.structured(event) : HTTP.binary(event);
  const headers = new Headers();
  for (const [k, v] of Object.entries(message.headers)) if (typeof v === 'string') headers.set(k, v);
  return new Response(message.body as string, { status: 200, headers });
}

/** The event's data as a JSON value: bytes and strings are parsed; undefined when there is none. */
function jsonData(event: CloudEventV1<unknown>): unknown {
  let data = event.data as unknown;
  if (data === undefined && typeof (event as { data_base64?: unknown }).data_base64 === 'string')
    data = Buffer.from((event as { data_base64: string }).data_base64, 'base64');
  if (data instanceof Uint8Array) data = Buffer.from(data).toString('utf8');
  if (typeof data !== 'string') return data;
  if (!data.trim()) return undefined;
  try {
    return JSON.parse(data);
  } catch {
    throw new EventRejected(
      'invalid_data',
      'the PingSource data is not valid JSON: set spec.data to {"scan": "…", "mode": "…"} with spec.contentType application/json',
      [{ path: 'data', message: 'not JSON' }],
    );
  }
}

/**
 * The scan a PingSource asks for (knative/base/openreports/pingsources.yaml): data names the scan
 * and the mode, `{"scan": "network", "mode": "light"}`; the scan must be this function's. Anything
 * else is a 400 naming the field. The scan may also be given by the `scan` extension (ceOverrides).
 */
export function pingRequestOf(event: CloudEventV1<unknown>, def: { name: string; modes: readonly string[] }): ScanRequest {
  const want = `{"scan": "${def.name}", "mode": one of ${def.modes.join(', ')}}`;
  const data = jsonData(event);
  if (data === undefined || data === null)
    throw new EventRejected('missing_data', `the PingSource event has no data; set spec.data to ${want}`, [{ path: 'data', message: 'missing' }]);
  if (typeof data !== 'object' || Array.isArray(data))
    throw new EventRejected('invalid_data', `the PingSource data must be a JSON object ${want}`, [{ path: 'data', message: 'not an object' }]);
  const fields = new Map(Object.entries(data as Record<string, unknown>));
  const scan = fields.get('scan') ?? scanOf(event);
  if (scan === undefined) throw new EventRejected('missing_scan', `the PingSource data has no scan; send ${want}`, [{ path: 'data.scan', message: 'missing' }]);
  if (scan !== def.name)
    throw new EventRejected('wrong_scan', `this function runs the ${def.name} scan; the PingSource data says ${JSON.stringify(scan).slice(0, 60)}`, [
      { path: 'data.scan', message: `expected ${def.name}` },
    ]);
  const ext = scanOf(event);
  if (ext !== undefined && ext !== def.name)
    throw new EventRejected('wrong_scan', `this function runs the ${def.name} scan; the event's scan extension says '${ext.slice(0, 60)}'`, [
      { path: SCAN_EXTENSION, message: `expected ${def.name}` },
    ]);
  const mode = fields.get('mode');
  if (mode === undefined) throw new EventRejected('missing_mode', `the PingSource data has no mode; send ${want}`, [{ path: 'data.mode', message: 'missing' }]);
  if (typeof mode !== 'string' || !def.modes.includes(mode))
    throw new EventRejected('invalid_mode', `data.mode must be one of: ${def.modes.join(', ')}; got ${JSON.stringify(mode).slice(0, 60)}`, [
      { path: 'data.mode', message: `allowed: ${def.modes.join(', ')}` },
    ]);
  const unknown = [...fields.keys()].filter((k) => k !== 'scan' && k !== 'mode');
  if (unknown.length)
    throw new EventRejected(
      'unknown_parameter',
      `unknown field(s) in the PingSource data: ${unknown.map((k) => k.slice(0, 40)).join(', ')}; accepted: scan, mode`,
      unknown.map((k) => ({ path: `data.${k.slice(0, 40)}`, message: 'not accepted' })),
    );
  return { mode, params: Object.create(null) };
}

/** The scan a PingSource event names (its data's `scan`), for the combined server's routing; undefined when unreadable. */
export function pingScanOf(event: CloudEventV1<unknown>): string | undefined {
  if (event.type !== PING_TYPE) return undefined;
  try {
    const d = jsonData(event) as { scan?: unknown } | undefined;
    return d && typeof d === 'object' && typeof d.scan === 'string' ? d.scan : undefined;
  } catch {
    return undefined;
  }
}
