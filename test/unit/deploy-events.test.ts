// CloudEvents on POST / (lib/scan/events.ts through scanApp and combinedApp): real events
// built and decoded by the cloudevents SDK, in binary and structured content mode.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { CloudEvent, HTTP, type CloudEventV1 } from 'cloudevents';
import { ScanError } from '../../lib/errors.ts';
import { COMPLETED_TYPE, FAILED_TYPE, REQUESTED_TYPE } from '../../lib/scan/events.ts';
import { scanApp, type ScanDefinition } from '../../lib/scan/scaffold.ts';
import { combinedApp, mount } from '../../lib/scan/serve.ts';

const s = suite('deploy: CloudEvents on POST /');

type Mode = 'light' | 'full';
const def = (name: string, run: ScanDefinition<Mode>['run']): ScanDefinition<Mode> => ({
  name,
  path: `/${name}_scan`,
  modes: ['light', 'full'],
  defaultMode: 'light',
  params: { target: 'a host' },
  run,
});
const echo = (name = 'demo') =>
  def(name, async ({ mode, params }) => ({ score: 90, summary: { mode, target: params.target ?? null, by: name }, errors: [], sources: {} }));

function requested(data: unknown, extra: Record<string, unknown> = {}) {
  return new CloudEvent<unknown>({
    type: REQUESTED_TYPE,
    source: '/tests/deploy-events',
    subject: 'stack demo',
    datacontenttype: 'application/json',
    data,
    ...extra,
  });
}

function post(app: { request: (p: string, init: RequestInit) => Response | Promise<Response> }, message: { headers: Record<string, unknown>; body: unknown }) {
  return app.request('/', { method: 'POST', headers: message.headers as Record<string, string>, body: message.body as string });
}

async function replyOf(res: Response): Promise<CloudEventV1<any>> {
  const headers: Record<string, string> = {};
  res.headers.forEach((v, k) => (headers[k] = v));
  const ev = HTTP.toEvent<any>({ headers, body: await res.text() });
  assert.not.ok(Array.isArray(ev), 'one reply event');
  return ev as CloudEventV1<any>;
}

s('binary mode: requested → completed with the report; source, subject, unique id, reply in binary mode', async () => {
  const app = scanApp(echo());
  const req = requested({ mode: 'full', target: 'h' }, { scan: 'demo' });
  const res = await post(app, HTTP.binary(req));
  assert.is(res.status, 200);
  assert.ok(res.headers.get('ce-id'), 'binary reply: ce-* headers');
  const reply = await replyOf(res);
  assert.is(reply.type, COMPLETED_TYPE);
  assert.is(reply.source, '/stack-scan/demo');
  assert.is(reply.subject, 'demo/full');
  assert.is((reply as any).scan, 'demo');
  assert.is((reply as any).inresponseto, req.id);
  assert.is(reply.data.scan, 'demo');
  assert.is(reply.data.scan_type, 'full');
  assert.equal(reply.data.summary, { mode: 'full', target: 'h', by: 'demo' });
  const again = await replyOf(await post(app, HTTP.binary(requested({ mode: 'light' }))));
  assert.is.not(again.id, reply.id, 'each reply has its own id');
  assert.is.not(reply.id, req.id);
});

s('structured mode: the reply is structured too', async () => {
  const app = scanApp(echo());
  const res = await post(app, HTTP.structured(requested({ mode: 'light' })));
  assert.is(res.status, 200);
  assert.match(res.headers.get('content-type') ?? '', /application\/cloudevents\+json/);
  const reply = await replyOf(res);
  assert.is(reply.type, COMPLETED_TYPE);
  assert.is(reply.data.scan_type, 'light');
  assert.is(reply.data.score, 90);
});

s('a scan that fails replies io.stacktic.scan.failed with the error body (status kept)', async () => {
  const app = scanApp(
    def('demo', async () => {
      throw new ScanError(503, { code: 'cluster_unreachable', message: 'the API server is down' });
    }),
  );
  const reply = await replyOf(await post(app, HTTP.binary(requested({ mode: 'light' }))));
  assert.is(reply.type, FAILED_TYPE);
  assert.equal(reply.data, { error: { status: 503, code: 'cluster_unreachable', message: 'the API server is down' } });
});

s('wrong type, missing or invalid data, invalid mode, unknown field: 400 with the reason, the scan never runs', async () => {
  let runs = 0;
  const app = scanApp(
    def('demo', async () => {
      runs++;
      return { score: 1, summary: {}, errors: [], sources: {} };
    }),
  );
  const cases: [string, { headers: Record<string, unknown>; body: unknown }, RegExp][] = [
    [
      'unsupported_event_type',
      HTTP.binary(new CloudEvent({ type: 'com.example.other', source: '/x', data: { mode: 'light' } })),
      /com\.example\.other.*io\.stacktic\.scan\.requested/,
    ],
    ['missing_data', HTTP.binary(new CloudEvent({ type: REQUESTED_TYPE, source: '/x' })), /no data/],
    ['missing_mode', HTTP.structured(requested({})), /no mode/],
    ['invalid_mode', HTTP.binary(requested({ mode: 'deep' })), /light, full; got "deep"/],
    ['invalid_mode', HTTP.structured(requested({ mode: 7 })), /got 7/],
    ['invalid_data', HTTP.structured(requested(['light'])), /JSON object/],
    ['invalid_data', HTTP.binary(new CloudEvent({ type: REQUESTED_TYPE, source: '/x', datacontenttype: 'text/plain', data: 'mode=light' })), /not valid JSON/],
    ['unknown_parameter', HTTP.binary(requested({ mode: 'light', mdoe: 'x', constructor: 'y' })), /mdoe, constructor; accepted: mode, target/],
    ['invalid_parameter', HTTP.binary(requested({ mode: 'light', target: 5 })), /data\.target must be a string/],
    ['wrong_scan', HTTP.binary(requested({ mode: 'light' }, { scan: 'opa' })), /runs the demo scan.*'opa'/],
    [
      'batch_not_supported',
      { headers: { 'content-type': 'application/cloudevents-batch+json' }, body: JSON.stringify([requested({ mode: 'light' }), requested({ mode: 'full' })]) },
      /batch/,
    ],
    ['invalid_event', { headers: { 'content-type': 'application/json' }, body: JSON.stringify({ mode: 'light' }) }, /no CloudEvent in the request/],
    ['invalid_event', { headers: { 'content-type': 'application/cloudevents+json' }, body: '{"secret-looking": ' }, /not valid JSON/],
    [
      'invalid_event',
      {
        headers: { 'content-type': 'application/cloudevents+json' },
        body: JSON.stringify({ specversion: '1.0', type: REQUESTED_TYPE, id: '1', data: { mode: 'light' } }),
      },
      /source/,
    ],
  ];
  for (const [code, message, reason] of cases) {
    const res = await post(app, message);
    assert.is(res.status, 400, code);
    const text = await res.text();
    assert.not.match(text, /secret-looking/, 'never echoes the body');
    const body = JSON.parse(text);
    assert.is(body.error.code, code, text);
    assert.match(body.error.message, reason, text);
  }
  assert.is(runs, 0);
});

s('an event and a GET for the same scan and mode share one run (same coalescer)', async () => {
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  const app = scanApp(
    def('demo', async ({ mode }) => {
      await gate;
      return { score: 5, summary: { mode }, errors: [], sources: {} };
    }),
  );
  const viaGet = app.request('/demo_scan?mode=full');
  const viaEvent = post(app, HTTP.binary(requested({ mode: 'full' })));
  await new Promise((r) => setTimeout(r, 50));
  release();
  const [g, e] = await Promise.all([viaGet, viaEvent]);
  const report = await g.json();
  const reply = await replyOf(e);
  assert.equal(app.scanStats, { runs: 1, coalesced: 1 });
  assert.equal(reply.data.started_at, report.started_at);
});

s('combined server: POST / routes by the scan extension; without it or unknown, 400 naming the scans', async () => {
  const app = combinedApp([mount(echo('alpha')), mount(echo('beta'))]);
  for (const [scan, enc] of [
    ['beta', HTTP.binary],
    ['alpha', HTTP.structured],
  ] as const) {
    const reply = await replyOf(await post(app, enc(requested({ mode: 'light' }, { scan }))));
    assert.is(reply.type, COMPLETED_TYPE);
    assert.is(reply.data.summary.by, scan);
    assert.is(reply.source, `/stack-scan/${scan}`);
  }
  const missing = await post(app, HTTP.binary(requested({ mode: 'light' })));
  assert.is(missing.status, 400);
  const mb = await missing.json();
  assert.is(mb.error.code, 'missing_scan');
  assert.match(mb.error.message, /alpha, beta/);
  const unknown = await post(app, HTTP.structured(requested({ mode: 'light' }, { scan: '__proto__' })));
  assert.is(unknown.status, 400);
  assert.match((await unknown.json()).error.message, /no scan '__proto__'.*alpha, beta/);
  const invalid = await post(app, HTTP.binary(requested({ mode: 'deep' }, { scan: 'alpha' })));
  assert.is(invalid.status, 400);
  assert.is((await invalid.json()).error.code, 'invalid_mode');
  const del = await app.request('/', { method: 'DELETE' });
  assert.is(del.status, 405);
  assert.is(del.headers.get('allow'), 'GET, POST');
  assert.is((await app.request('/alpha_scan?mode=light')).status, 200, 'GET routes unchanged');
});

s('a function answers other methods on / with 405 naming POST', async () => {
  const res = await scanApp(echo()).request('/', { method: 'GET' });
  assert.is(res.status, 405);
  assert.is(res.headers.get('allow'), 'POST');
  assert.match((await res.json()).error.message, /io\.stacktic\.scan\.requested/);
});

s.run();
