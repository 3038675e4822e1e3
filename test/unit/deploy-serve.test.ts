// A function's entry point as Knative runs it (functions/<fn>/main.ts through serveApp):
// /healthz answered by the server itself, everything else through the app, a CloudEvent on
// POST /, and a clean exit on SIGTERM. One real process on loopback, bounded in time.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { CloudEvent, HTTP } from 'cloudevents';
import { REQUESTED_TYPE } from '../../lib/scan/events.ts';

const ROOT = join(import.meta.dirname, '../..');
const s = suite('deploy: a function served as in its container');

let child: ChildProcess;
let base: string;

s.before(async () => {
  child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'functions/opa-scan/main.ts')], {
    cwd: ROOT,
    env: {
      PATH: process.env.PATH,
      PORT: '0',
      HOST: '127.0.0.1',
      KUBECONFIG: join(ROOT, 'test/fixtures/no-such-kubeconfig.yaml'),
      STACK_METADATA: join(ROOT, 'demo/stack/stack-metadata.yaml'),
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const killer = setTimeout(() => child.kill('SIGKILL'), 60_000);
  child.on('exit', () => clearTimeout(killer));
  const port = await new Promise<number>((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (d) => {
      out += d;
      const m = / on 127\.0\.0\.1:(\d+)/.exec(out);
      if (m) resolve(Number(m[1]));
    });
    child.on('exit', (code) => reject(new Error(`exited ${code} before listening`)));
  });
  base = `http://127.0.0.1:${port}`;
});

s.after(() => {
  if (child.exitCode === null) child.kill('SIGKILL');
});

s('/healthz answers at once, from the server itself', async () => {
  const res = await fetch(`${base}/healthz`);
  assert.is(res.status, 200);
  assert.equal(await res.json(), { status: 'ok', serves: '/opa_scan' });
});

s('other requests reach the app: its 400s, 404s and a scan error naming the setting', async () => {
  const bad = await fetch(`${base}/opa_scan?mode=deep`);
  assert.is(bad.status, 400);
  assert.is((await bad.json()).error.code, 'invalid_mode');
  const nf = await fetch(`${base}/nope`);
  assert.is(nf.status, 404);
  assert.is((await nf.json()).error.code, 'not_found');
  const scan = await fetch(`${base}/opa_scan?mode=light`);
  assert.is(scan.status, 503);
  const body = await scan.json();
  assert.is(body.error.setting, 'KUBECONFIG');
  assert.match(body.error.message, /no-such-kubeconfig\.yaml does not exist/);
});

s('a CloudEvent on POST /: a failed scan replies io.stacktic.scan.failed; a bad mode is a 400', async () => {
  const ok = HTTP.binary(
    new CloudEvent({ type: REQUESTED_TYPE, source: '/tests/deploy-serve', datacontenttype: 'application/json', data: { mode: 'light' }, scan: 'opa' }),
  );
  const res = await fetch(`${base}/`, { method: 'POST', headers: ok.headers as Record<string, string>, body: ok.body as string });
  assert.is(res.status, 200);
  assert.is(res.headers.get('ce-type'), 'io.stacktic.scan.failed');
  assert.is((await res.json()).error.status, 503);
  const bad = HTTP.structured(new CloudEvent({ type: REQUESTED_TYPE, source: '/tests/deploy-serve', data: { mode: 'deep' } }));
  const r2 = await fetch(`${base}/`, { method: 'POST', headers: bad.headers as Record<string, string>, body: bad.body as string });
  assert.is(r2.status, 400);
  assert.is((await r2.json()).error.code, 'invalid_mode');
});

s('SIGTERM: the server closes and the process exits 0', async () => {
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  child.kill('SIGTERM');
  assert.is(await exited, 0);
});

s.run();
