// Issue 19 items 4 and 6: POST / refuses a body as soon as it passes the limit (413, the rest is
// never read: the client's stream is pulled no further), on a function's own app and on the
// combined server; and CloudEvents that break the spec (no or wrong specversion, no id, source or
// type, in structured or binary mode) are 400s naming the attribute, before the scan runs.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { CloudEvent, HTTP } from 'cloudevents';
import { REQUESTED_TYPE } from '../../lib/scan/events.ts';
import { MAX_BODY_BYTES } from '../../lib/scan/event-checks.ts';
import { scanApp, type ScanDefinition } from '../../lib/scan/scaffold.ts';
import { combinedApp, mount } from '../../lib/scan/serve.ts';

const s = suite('POST /: body limit while streaming, CloudEvents 1.0 attributes');

let runs = 0;
const def: ScanDefinition<'light'> = {
  name: 'demo',
  path: '/demo_scan',
  modes: ['light'],
  defaultMode: 'light',
  run: async () => (runs++, { score: 1, summary: {}, errors: [], sources: {} }),
};
type App = { request: (p: string, init: RequestInit) => Response | Promise<Response> };

/** A 100 MB body produced on demand, counting what the server pulled. */
function hugeBody(total = 100 * 1024 * 1024) {
  const chunk = new Uint8Array(64 * 1024).fill(0x20);
  const counter = { pulled: 0 };
  const stream = new ReadableStream<Uint8Array>({
    start(c) {
      c.enqueue(new TextEncoder().encode('{"specversion":"1.0","id":"1","source":"/t","type":"io.stacktic.scan.requested","scan":"demo","data":"'));
    },
    pull(c) {
      if (counter.pulled >= total) return c.close();
      counter.pulled += chunk.byteLength;
      c.enqueue(chunk);
    },
  });
  return { stream, counter };
}

for (const [label, app] of [
  ['a function', () => scanApp(def)],
  ['the combined server', () => combinedApp([mount(def as ScanDefinition<string>)])],
] as const) {
  s(`${label}: a 100 MB chunked event is 413 after at most the limit plus a chunk is read`, async () => {
    const { stream, counter } = hugeBody();
    const res = await (app() as App).request('/', {
      method: 'POST',
      headers: { 'content-type': 'application/cloudevents+json' },
      body: stream,
      duplex: 'half',
    } as RequestInit);
    assert.is(res.status, 413);
    const body = await res.json();
    assert.is(body.error.code, 'event_too_large');
    assert.ok(counter.pulled <= MAX_BODY_BYTES + 4 * 64 * 1024, `pulled ${counter.pulled} bytes`);
  });

  s(`${label}: a declared Content-Length over the limit is 413 before the body is read`, async () => {
    const { stream, counter } = hugeBody();
    const res = await (app() as App).request('/', {
      method: 'POST',
      headers: { 'content-type': 'application/cloudevents+json', 'content-length': String(100 * 1024 * 1024) },
      body: stream,
      duplex: 'half',
    } as RequestInit);
    assert.is(res.status, 413);
    assert.match((await res.json()).error.message, /104857600 bytes/);
    assert.ok(counter.pulled <= 2 * 64 * 1024, `pulled ${counter.pulled}`);
  });
}

const structured = (attrs: Record<string, unknown>) => ({
  headers: { 'content-type': 'application/cloudevents+json' },
  body: JSON.stringify({ source: '/t', type: REQUESTED_TYPE, scan: 'demo', data: { mode: 'light' }, ...attrs }),
});
const binary = (headers: Record<string, string>) => ({
  headers: { 'content-type': 'application/json', 'ce-source': '/t', 'ce-type': REQUESTED_TYPE, 'ce-scan': 'demo', ...headers },
  body: '{"mode":"light"}',
});

const cases: [string, { headers: Record<string, string>; body: string }, string][] = [
  ['structured, no specversion', structured({ id: '1' }), 'specversion'],
  ['structured, specversion 0.3', structured({ id: '1', specversion: '0.3' }), 'specversion'],
  ['structured, specversion 1 (a number)', structured({ id: '1', specversion: 1 }), 'specversion'],
  ['structured, no id', structured({ specversion: '1.0' }), 'id'],
  ['structured, empty id', structured({ specversion: '1.0', id: '' }), 'id'],
  ['structured, numeric id', structured({ specversion: '1.0', id: 7 }), 'id'],
  ['binary, specversion 2.0', binary({ 'ce-specversion': '2.0', 'ce-id': '1' }), 'specversion'],
  ['binary, no ce-specversion', binary({ 'ce-id': '1' }), 'specversion'],
  ['binary, no ce-id', binary({ 'ce-specversion': '1.0' }), 'id'],
];

for (const [label, message, attribute] of cases) {
  s(`${label}: 400 naming ${attribute}, the scan never runs`, async () => {
    for (const app of [scanApp(def), combinedApp([mount(def as ScanDefinition<string>)])]) {
      const before = runs;
      const res = await app.request('/', { method: 'POST', headers: message.headers, body: message.body });
      assert.is(res.status, 400, label);
      const body = await res.json();
      assert.is(body.error.code, 'invalid_event');
      assert.match(body.error.message, new RegExp(`\\b${attribute}\\b`));
      assert.equal(body.error.details?.[0]?.path, attribute);
      assert.is(runs, before);
    }
  });
}

s('a JSON body nested 200,000 levels (within the byte limit): 400 event_too_deep, in either mode', async () => {
  const deep = `${'['.repeat(200_000)}${']'.repeat(200_000)}`;
  for (const m of [structured({ specversion: '1.0', id: '1', data: { mode: 'light' } }), binary({ 'ce-specversion': '1.0', 'ce-id': '1' })]) {
    const body = m.body.replace('{"mode":"light"}', `{"mode":"light","x":${deep}}`);
    const res = await scanApp(def).request('/', { method: 'POST', headers: m.headers, body });
    assert.is(res.status, 400);
    assert.is((await res.json()).error.code, 'event_too_deep');
  }
});

s('a valid event in either mode still runs the scan', async () => {
  const ev = new CloudEvent({ type: REQUESTED_TYPE, source: '/t', data: { mode: 'light' }, scan: 'demo' } as never);
  for (const m of [HTTP.structured(ev), HTTP.binary(ev)]) {
    const before = runs;
    const res = await scanApp(def).request('/', { method: 'POST', headers: m.headers as Record<string, string>, body: m.body as string });
    assert.is(res.status, 200);
    assert.is(runs, before + 1);
  }
});

s.run();
