/**
 * What a request to POST / must be before any event decoding: a body no larger than the limit,
 * refused as soon as the limit is passed (declared Content-Length, or bytes counted while the
 * body streams in, for a chunked body), so memory never holds more than the limit; and the
 * CloudEvents 1.0 attributes the spec requires (specversion "1.0", id, source, type), which the
 * SDK would otherwise fill in (a fresh id) or read leniently; and a JSON body at most MAX_EVENT_DEPTH deep.
 */
import { jsonDepthOffset } from '../topology/bounds.ts';

/** Largest request body accepted on POST / (a requested event is a few hundred bytes). */
export const MAX_BODY_BYTES = 1024 * 1024;

/** A request refused before or while its body is read: the status (400, 413) and the reason. */
export interface BodyProblem {
  status: 400 | 413;
  code: string;
  message: string;
  details?: { path: string; message: string }[];
}

export class RequestRefused extends Error {
  constructor(readonly problem: BodyProblem) {
    super(problem.message);
  }
}

/** The Content-Length a request declares, or undefined (chunked, absent). */
function declaredLength(headers: Headers): number | undefined {
  const v = headers.get('content-length');
  if (v === null || !/^\d+$/.test(v.trim())) return undefined;
  return Number(v);
}

export function tooLarge(size: number | undefined, max = MAX_BODY_BYTES): RequestRefused {
  return new RequestRefused({
    status: 413,
    code: 'event_too_large',
    message:
      size === undefined
        ? `the request body is larger than ${max} bytes; send one event of at most ${max} bytes`
        : `the request body is ${size} bytes; at most ${max} are accepted`,
  });
}

/**
 * The body of a request, read chunk by chunk and refused (RequestRefused 413) as soon as it passes
 * `max` bytes, declared or counted; the rest of the body is never read (the stream is cancelled).
 */
export async function readBody(req: Request, max = MAX_BODY_BYTES): Promise<Uint8Array<ArrayBuffer>> {
  const declared = declaredLength(req.headers);
  // Not a byte of it is read; the 413 goes out with Connection: close (cancelling the stream here
  // would close the connection before the client could read the answer).
  if (declared !== undefined && declared > max) throw tooLarge(declared, max);
  if (!req.body) return new Uint8Array(new ArrayBuffer(0));
  const reader = req.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > max) {
      await reader.cancel().catch(() => undefined);
      throw tooLarge(undefined, max);
    }
    chunks.push(value);
  }
  const out = new Uint8Array(new ArrayBuffer(total));
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.byteLength;
  }
  return out;
}

const REQUIRED = ['id', 'source', 'type'] as const;
/** Nesting allowed in a JSON request body. */
export const MAX_EVENT_DEPTH = 32;

function refused(attribute: string, message: string): RequestRefused {
  return new RequestRefused({ status: 400, code: 'invalid_event', message, details: [{ path: attribute, message: message.slice(0, 200) }] });
}

function checkAttributes(get: (name: string) => unknown, where: (name: string) => string): void {
  const sv = get('specversion');
  if (sv === undefined || sv === null || sv === '') throw refused('specversion', `the event has no specversion: set ${where('specversion')} to "1.0"`);
  if (sv !== '1.0')
    throw refused('specversion', `specversion must be "1.0" (CloudEvents 1.0); got ${JSON.stringify(String(sv).slice(0, 20))} in ${where('specversion')}`);
  for (const a of REQUIRED) {
    const v = get(a);
    if (v === undefined || v === null) throw refused(a, `the event has no ${a}: set ${where(a)} (a non-empty string)`);
    if (typeof v !== 'string' || v === '') throw refused(a, `the event's ${a} must be a non-empty string (${where(a)})`);
  }
}

/**
 * The CloudEvents 1.0 context attributes a request must carry: binary mode in `ce-*` headers,
 * structured mode in the JSON body. A missing or wrong one is a RequestRefused 400 naming it.
 * Requests that are neither (no ce-specversion header, not application/cloudevents+json) are left
 * to the decoder, which says what a CloudEvent request looks like.
 */
export function checkEventAttributes(headers: Headers, body: string): void {
  const contentType = headers.get('content-type') ?? '';
  // Depth first, before any parser of ours or the SDK's walks the body (a requested event is 3 levels deep).
  if (/json/i.test(contentType)) {
    const at = jsonDepthOffset(body, MAX_EVENT_DEPTH);
    if (at !== -1)
      throw new RequestRefused({
        status: 400,
        code: 'event_too_deep',
        message: `the request body nests deeper than ${MAX_EVENT_DEPTH} levels (at byte ${at}); a requested event's data is {"mode": …} with string parameters`,
        details: [{ path: 'data', message: `deeper than ${MAX_EVENT_DEPTH} levels` }],
      });
  }
  if (/^application\/cloudevents\+json/i.test(contentType)) {
    let doc: unknown;
    try {
      doc = JSON.parse(body);
    } catch {
      return; // the decoder answers "not valid JSON"
    }
    if (!doc || typeof doc !== 'object' || Array.isArray(doc))
      throw new RequestRefused({ status: 400, code: 'invalid_event', message: 'a structured CloudEvent must be one JSON object' });
    const m = new Map(Object.entries(doc as Record<string, unknown>));
    checkAttributes(
      (n) => m.get(n),
      (n) => `the "${n}" member of the JSON body`,
    );
    return;
  }
  const anyCe = [...headers.keys()].some((k) => k.toLowerCase().startsWith('ce-'));
  if (!anyCe) return;
  checkAttributes(
    (n) => headers.get(`ce-${n}`) ?? undefined,
    (n) => `the ce-${n} header`,
  );
}
