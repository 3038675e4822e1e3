import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync } from 'node:fs';
import { ScanError } from '../../lib/errors.ts';
import { scanApp, type ScanDefinition } from '../../lib/scan/scaffold.ts';
import { combinedApp, listenSettings, mount } from '../../lib/scan/serve.ts';
import { ABORT_GRACE_MS, scanTimeoutMs, type ScanContext } from '../../lib/scan/scaffold.ts';
import networkApp, { definition as networkDef } from '../../functions/network-scan/app.ts';
import opaApp, { definition as opaDef } from '../../functions/opa-scan/app.ts';
import { manifestJsonSchema, SCHEMA_PATH } from '../../schema/gen-schema.ts';
import { networkScan } from '../../functions/network-scan/scan.ts';

const s = suite('scan scaffold');

const def = (run: ScanDefinition<'light' | 'full'>['run']): ScanDefinition<'light' | 'full'> => ({
  name: 'demo',
  path: '/demo_scan',
  modes: ['light', 'full'],
  defaultMode: 'light',
  params: { target: 'a host' },
  run,
});

s('the envelope carries scan, mode, score, summary, errors, timing and sources', async () => {
  const app = scanApp(
    def(async ({ mode, params }) => ({
      score: 42,
      summary: { mode, target: params.target },
      findings: mode === 'full' ? [1] : undefined,
      errors: [],
      sources: { x: 1 },
    })),
  );
  const res = await app.request('/demo_scan?mode=full&target=h');
  assert.is(res.status, 200);
  const body = await res.json();
  assert.equal(Object.keys(body).sort(), ['duration_ms', 'errors', 'findings', 'scan', 'scan_type', 'score', 'sources', 'started_at', 'summary']);
  assert.equal([body.scan, body.scan_type, body.score, body.summary], ['demo', 'full', 42, { mode: 'full', target: 'h' }]);
  assert.ok(!Number.isNaN(Date.parse(body.started_at)));
  const light = await (await app.request('/demo_scan')).json();
  assert.is(light.scan_type, 'light');
  assert.not.ok('findings' in light);
});

s('an unknown mode is a 400 listing the allowed modes', async () => {
  const app = scanApp(
    def(async () => {
      throw new Error('not reached');
    }),
  );
  const res = await app.request('/demo_scan?mode=deep');
  assert.is(res.status, 400);
  const body = await res.json();
  assert.is(body.error.code, 'invalid_mode');
  assert.match(body.error.message, /light, full/);
});

s('an unknown parameter is a 400 naming it and the accepted ones', async () => {
  const app = scanApp(
    def(async () => {
      throw new Error('not reached');
    }),
  );
  const body = await (await app.request('/demo_scan?mdoe=full')).json();
  assert.is(body.error.code, 'unknown_parameter');
  assert.match(body.error.message, /mdoe.*accepts: mode .*target/);
});

s('a ScanError keeps its status; a bug is a 500 without a stack', async () => {
  const unavailable = scanApp(
    def(async () => {
      throw new ScanError(503, { code: 'cluster_unreachable', message: 'down' });
    }),
  );
  const r1 = await unavailable.request('/demo_scan');
  assert.is(r1.status, 503);
  assert.equal((await r1.json()).error, { status: 503, code: 'cluster_unreachable', message: 'down' });
  const orig = console.error;
  console.error = () => {};
  try {
    const buggy = scanApp(
      def(async () => {
        throw new TypeError('x is undefined');
      }),
    );
    const r2 = await buggy.request('/demo_scan');
    assert.is(r2.status, 500);
    const text = await r2.text();
    assert.not.match(text, /at .*\.ts:\d+/);
    assert.match(text, /x is undefined/);
  } finally {
    console.error = orig;
  }
});

s('healthz, and the combined app lists every scan', async () => {
  const app = combinedApp([mount(def(async () => ({ score: 1, summary: {}, errors: [], sources: {} })))]);
  assert.equal(await (await app.request('/healthz')).json(), { status: 'ok', scans: ['demo'] });
  const index = await (await app.request('/')).json();
  assert.equal(index.scans, [{ scan: 'demo', path: '/demo_scan', modes: ['light', 'full'], default_mode: 'light' }]);
});

s('network scan with no cluster reachable answers 503 with a JSON error', async () => {
  const app = scanApp(
    networkScan({
      topology: { metadata: { path: `${import.meta.dirname}/../../demo/stack/stack-metadata.yaml`, setting: 'STACK_METADATA' } },
      kubeconfig: `${import.meta.dirname}/../fixtures/kubeconfig-unreachable.yaml`,
    }),
  );
  const res = await app.request('/network_scan');
  assert.is(res.status, 503);
  const body = await res.json();
  assert.is(body.error.code, 'cluster_unreachable');
  assert.match(body.error.message, /127\.0\.0\.1:9/);
});

s('network scan: a missing metadata file is a 422 naming the path and setting', async () => {
  const app = scanApp(networkScan({ topology: { metadata: { path: '/nope/stack-metadata.yaml', setting: 'STACK_METADATA' } } }));
  const res = await app.request('/network_scan');
  assert.is(res.status, 422);
  const body = await res.json();
  assert.equal([body.error.file, body.error.setting], ['/nope/stack-metadata.yaml', 'STACK_METADATA']);
});

s('unknown paths and methods answer the same JSON on the combined server and on a single function', async () => {
  const combined = combinedApp([
    { definition: networkDef, app: networkApp },
    { definition: opaDef, app: opaApp },
  ]);
  for (const app of [combined, networkApp, opaApp]) {
    const res = await app.request('/nope');
    assert.is(res.status, 404);
    assert.is(res.headers.get('content-type')?.split(';')[0], 'application/json');
    const body = await res.json();
    assert.is(body.error.code, 'not_found');
    assert.match(body.error.message, 'no route GET /nope');
  }
  for (const app of [combined, networkApp]) {
    const res = await app.request('/network_scan', { method: 'POST' });
    assert.is(res.status, 405);
    assert.is((await res.json()).error.code, 'method_not_allowed');
    assert.is(res.headers.get('allow'), 'GET');
  }
  const del = await combined.request('/', { method: 'DELETE' });
  assert.is(del.status, 405);
});

s('HEAD never runs a scan; a repeated parameter is a 400', async () => {
  let runs = 0;
  const app = scanApp(
    def(async () => {
      runs++;
      return { score: 1, summary: {}, errors: [], sources: {} };
    }),
  );
  const head = await app.request('/demo_scan?mode=full', { method: 'HEAD' });
  assert.is(head.status, 405);
  const rep = await app.request('/demo_scan?mode=light&mode=full');
  assert.is(rep.status, 400);
  assert.is((await rep.json()).error.code, 'repeated_parameter');
  assert.is(runs, 0);
});

s('prototype-key parameter names are unknown parameters, not crashes', async () => {
  const app = scanApp(def(async () => ({ score: 1, summary: {}, errors: [], sources: {} })));
  for (const k of ['constructor', '__proto__', 'toString', 'hasOwnProperty']) {
    const res = await app.request(`/demo_scan?${k}=1`);
    assert.is(res.status, 400, k);
    assert.is((await res.json()).error.code, 'unknown_parameter');
  }
});

s('identical concurrent requests share one run; different ones do not', async () => {
  let runs = 0;
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  const app = scanApp(
    def(async ({ mode }) => {
      runs++;
      await gate;
      return { score: 7, summary: { mode }, errors: [], sources: {} };
    }),
  );
  const same = Array.from({ length: 20 }, () => app.request('/demo_scan?mode=full&target=a'));
  const other = app.request('/demo_scan?mode=full&target=b');
  await new Promise((r) => setTimeout(r, 20));
  release();
  const bodies = await Promise.all([...same, other].map(async (r) => (await r).json()));
  assert.is(runs, 2);
  assert.ok(bodies.every((b) => b.score === 7));
  assert.equal(app.scanStats, { runs: 2, coalesced: 19 });
  // once settled, a new request runs again
  await (await app.request('/demo_scan?mode=full&target=a')).json();
  assert.is(runs, 3);
});

s('the total timeout aborts the run; the scan returns what it has with a timeout error', async () => {
  const app = scanApp({
    ...def(async ({ signal }: ScanContext<'light' | 'full'>) => {
      await new Promise<void>((r) => signal.addEventListener('abort', () => r(), { once: true }));
      return { score: null, summary: { partial: true }, errors: [], sources: {} };
    }),
    name: 'slow',
  });
  process.env.SLOW_SCAN_TIMEOUT_MS = '1000';
  try {
    const res = await app.request('/demo_scan');
    assert.is(res.status, 200);
    const body = await res.json();
    assert.equal(body.summary, { partial: true });
    assert.is(body.errors.length, 1);
    assert.is(body.errors[0].code, 'timeout');
    assert.match(body.errors[0].message, 'SLOW_SCAN_TIMEOUT_MS');
  } finally {
    delete process.env.SLOW_SCAN_TIMEOUT_MS;
  }
});

s('a client that disconnects cancels the run when nobody else waits', async () => {
  let seen: unknown;
  const app = scanApp(
    def(async ({ signal }) => {
      await new Promise<void>((r) => signal.addEventListener('abort', () => r(), { once: true }));
      seen = signal.reason;
      return { score: null, summary: {}, errors: [], sources: {} };
    }),
  );
  const a = new AbortController();
  const b = new AbortController();
  const ra = app.request(new Request('http://x/demo_scan', { signal: a.signal }));
  const rb = app.request(new Request('http://x/demo_scan', { signal: b.signal }));
  await new Promise((r) => setTimeout(r, 20));
  a.abort();
  await new Promise((r) => setTimeout(r, 20));
  assert.is(seen, undefined, 'one client still waits: the run goes on');
  b.abort();
  const [resA, resB] = await Promise.all([ra, rb]);
  assert.is((seen as Error).name, 'ScanAbort');
  assert.is((await resB.json()).errors[0].code, 'cancelled');
  assert.is(resA.status, 200);
});

s('timeout setting: one number, or per mode; a bad value is a 422 naming it', () => {
  const d = def(async () => ({ score: 1, summary: {}, errors: [], sources: {} }));
  assert.is(scanTimeoutMs(d, 'light', {}), 600_000);
  assert.is(scanTimeoutMs(d, 'full', { DEMO_SCAN_TIMEOUT_MS: '5000' }), 5000);
  assert.is(scanTimeoutMs(d, 'full', { DEMO_SCAN_TIMEOUT_MS: 'light=2000,full=9000' }), 9000);
  for (const bad of ['5s', '0', 'deep=1000', '1e4', 'light=']) {
    try {
      scanTimeoutMs(d, 'light', { DEMO_SCAN_TIMEOUT_MS: bad });
      assert.unreachable(bad);
    } catch (e) {
      assert.is((e as ScanError).status, 422, bad);
      assert.is((e as ScanError).info.setting, 'DEMO_SCAN_TIMEOUT_MS');
    }
  }
  assert.ok(ABORT_GRACE_MS > 0);
});

s('PORT is validated with a one-line message', () => {
  assert.equal(listenSettings({}), { port: 8080, hostname: '0.0.0.0' });
  assert.throws(() => listenSettings({ PORT: 'abc' }), /PORT must be a whole number/);
  assert.throws(() => listenSettings({ PORT: '70000' }), /PORT must be/);
});

s('the published JSON Schema matches the valibot schema', () => {
  assert.is(readFileSync(SCHEMA_PATH, 'utf8'), manifestJsonSchema());
});

s.run();
