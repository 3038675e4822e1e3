// The bundles the images run (`npm run build`: dist/<fn>.mjs plus the chunks it loads on first use)
// serve the paths that load a chunk: a CloudEvent on POST / (the cloudevents SDK, CommonJS: its
// exports arrive differently from a chunk than under tsx) answered with a reply event, and
// GET /openapi.json. Found by the real Knative suite: a chunked bundle once answered every event
// with 400 "Cannot read properties of undefined (reading 'toEvent')" while the tsx entry was fine.
// No cluster: the kubeconfig names a file that does not exist, so each scan fails fast and the
// reply is an `io.stacktic.scan.failed` event (the SDK decoded the request and encoded the reply).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { bundle } from '../../knative/bundle.ts';
import { FUNCTIONS } from '../../knative/render.ts';
import { startServerProcess } from '../../harness/serve-process.ts';

const ROOT = join(import.meta.dirname, '../..');
const s = suite('bundles: the lazily loaded paths (CloudEvents, /openapi.json) work from the chunks');
const SCAN: Record<string, string> = { 'network-scan': 'network', 'opa-scan': 'opa', 'kubescape-scan': 'kubescape', 'nuclei-scan': 'nuclei' };

s('each function bundle decodes a CloudEvent, replies with one, and serves /openapi.json', async () => {
  const outdir = mkdtempSync(join(tmpdir(), 'stack-scan-bundle-lazy-'));
  try {
    const built = await bundle([...FUNCTIONS], outdir);
    for (const b of built) {
      const fn = FUNCTIONS.find((f) => b.outfile.endsWith(`${f}.mjs`))!;
      const srv = await startServerProcess(
        {
          STACK_METADATA: join(ROOT, 'knative/base/stack-metadata.yaml'),
          KUBECONFIG: join(tmpdir(), 'stack-scan-no-such-kubeconfig'),
          STACK_SCAN_REPORTS: 'off',
        },
        { entry: b.outfile, killAfterMs: 120_000 },
      );
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
        await srv.stop();
      }
    }
  } finally {
    rmSync(outdir, { recursive: true, force: true });
  }
});

s.run();
