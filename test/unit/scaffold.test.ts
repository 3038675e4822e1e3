import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync } from 'node:fs';
import { ScanError } from '../../lib/errors.ts';
import { scanApp, type ScanDefinition } from '../../lib/scan/scaffold.ts';
import { scansApp } from '../../lib/scan/serve.ts';
import { manifestJsonSchema, SCHEMA_PATH } from '../../scripts/gen-schema.ts';
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
  const app = scanApp(def(async ({ mode, params }) => ({ score: 42, summary: { mode, target: params.target }, findings: mode === 'full' ? [1] : undefined, errors: [], sources: { x: 1 } })));
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
  const app = scanApp(def(async () => { throw new Error('not reached'); }));
  const res = await app.request('/demo_scan?mode=deep');
  assert.is(res.status, 400);
  const body = await res.json();
  assert.is(body.error.code, 'invalid_mode');
  assert.match(body.error.message, /light, full/);
});

s('an unknown parameter is a 400 naming it and the accepted ones', async () => {
  const app = scanApp(def(async () => { throw new Error('not reached'); }));
  const body = await (await app.request('/demo_scan?mdoe=full')).json();
  assert.is(body.error.code, 'unknown_parameter');
  assert.match(body.error.message, /mdoe.*accepts: mode .*target/);
});

s('a ScanError keeps its status; a bug is a 500 without a stack', async () => {
  const unavailable = scanApp(def(async () => { throw new ScanError(503, { code: 'cluster_unreachable', message: 'down' }); }));
  const r1 = await unavailable.request('/demo_scan');
  assert.is(r1.status, 503);
  assert.equal((await r1.json()).error, { status: 503, code: 'cluster_unreachable', message: 'down' });
  const orig = console.error;
  console.error = () => {};
  try {
    const buggy = scanApp(def(async () => { throw new TypeError('x is undefined'); }));
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
  const app = scansApp([def(async () => ({ score: 1, summary: {}, errors: [], sources: {} }))]);
  assert.equal(await (await app.request('/healthz')).json(), { status: 'ok', scans: ['demo'] });
  const index = await (await app.request('/')).json();
  assert.equal(index.scans, [{ scan: 'demo', path: '/demo_scan', modes: ['light', 'full'], default_mode: 'light' }]);
});

s('network scan with no cluster reachable answers 503 with a JSON error', async () => {
  const app = scanApp(networkScan({ topology: { metadata: { path: `${import.meta.dirname}/../../../shared/samples/stacktic/llama_base/stack-metadata.yaml`, setting: 'STACK_METADATA' } }, kubeconfig: `${import.meta.dirname}/../fixtures/kubeconfig-unreachable.yaml` }));
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

s('the published JSON Schema matches the valibot schema', () => {
  assert.is(readFileSync(SCHEMA_PATH, 'utf8'), manifestJsonSchema());
});

s.run();
