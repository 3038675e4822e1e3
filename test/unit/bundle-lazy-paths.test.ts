// The bundles the images run (`npm run build`: dist/<fn>.mjs plus the chunks it loads on first use)
// serve the paths that load a chunk: a CloudEvent on POST / (the cloudevents SDK, CommonJS: its
// exports arrive differently from a chunk than under tsx) answered with a reply event, and
// GET /openapi.json. Found by the real Knative suite: a chunked bundle once answered every event
// with 400 "Cannot read properties of undefined (reading 'toEvent')" while the tsx entry was fine.
// No cluster: the kubeconfig names a file that does not exist, so each scan fails fast and the
// reply is an `io.stacktic.scan.failed` event (the SDK decoded the request and encoded the reply).
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { bundle } from '../../knative/bundle.ts';
import { FUNCTIONS } from '../../knative/render.ts';

const ROOT = join(import.meta.dirname, '../..');
const s = suite('bundles: the lazily loaded paths (CloudEvents, /openapi.json) work from the chunks');
const SCAN: Record<string, string> = { 'network-scan': 'network', 'opa-scan': 'opa', 'kubescape-scan': 'kubescape', 'nuclei-scan': 'nuclei' };

/** Starts a bundle on a port the kernel picks; resolves with its base URL and a stop function. */
async function start(file: string): Promise<{ url: string; stop: () => void }> {
  const child = spawn(process.execPath, [file], {
    env: {
      PATH: process.env.PATH ?? '',
      HOME: tmpdir(),
      PORT: '0',
      STACK_METADATA: join(ROOT, 'knative/base/stack-metadata.yaml'),
      KUBECONFIG: join(tmpdir(), 'stack-scan-no-such-kubeconfig'),
      STACK_SCAN_REPORTS: 'off',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  const stop = () => child.kill('SIGKILL');
  return await new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      stop();
      reject(new Error(`${file} did not print its port within 20 s: ${out.slice(-300)}`));
    }, 20_000);
    const onData = (b: Buffer) => {
      out = (out + b.toString()).slice(-4096);
      const port = /:(\d+)\s*$/m.exec(out)?.[1];
      if (port) {
        clearTimeout(timer);
        resolve({ url: `http://127.0.0.1:${port}`, stop });
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${file} exited with ${code}: ${out.slice(-300)}`));
    });
  });
}

s('each function bundle decodes a CloudEvent, replies with one, and serves /openapi.json', async () => {
  const outdir = mkdtempSync(join(tmpdir(), 'stack-scan-bundle-lazy-'));
  try {
    const built = await bundle([...FUNCTIONS], outdir);
    for (const b of built) {
      const fn = FUNCTIONS.find((f) => b.outfile.endsWith(`${f}.mjs`))!;
      const srv = await start(b.outfile);
      try {
        const res = await fetch(`${srv.url}/`, {
          method: 'POST',
          headers: {
            'content-type': 'application/json',
            'ce-specversion': '1.0',
            'ce-id': `lazy-${fn}`,
            'ce-type': 'io.stacktic.scan.requested',
            'ce-source': '/tests/bundle',
            'ce-scan': SCAN[fn],
          },
          body: JSON.stringify({ mode: 'light' }),
          signal: AbortSignal.timeout(60_000),
        });
        const body = await res.text();
        assert.is(res.status, 200, `${fn}: ${body.slice(0, 300)}`);
        assert.match(String(res.headers.get('ce-type')), /^io\.stacktic\.scan\.(completed|failed)$/, `${fn}: a reply event`);
        assert.is(res.headers.get('ce-inresponseto'), `lazy-${fn}`, `${fn}: in response to the request`);
        const api = await fetch(`${srv.url}/openapi.json`, { signal: AbortSignal.timeout(30_000) });
        assert.is(api.status, 200, `${fn}: /openapi.json`);
        assert.match(String((await api.json()).openapi), /^3\.1/, `${fn}: an OpenAPI 3.1 document`);
      } finally {
        srv.stop();
      }
    }
  } finally {
    rmSync(outdir, { recursive: true, force: true });
  }
});

s.run();
