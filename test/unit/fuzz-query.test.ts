// Property-based fuzzing (fast-check, seeded, bounded) of the query parser (scanApp in
// lib/scan/scaffold.ts, through app.request) in front of the real network scan with fuzzed
// metadata files: no 500, an answer within 5 s, a JSON error naming the parameter or the file
// (with line and column for syntax errors).
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { scanApp } from '../../lib/scan/scaffold.ts';
import { networkScan } from '../../functions/network-scan/scan.ts';

const SEED = 20240603;
const dir = mkdtempSync(join(tmpdir(), 'stack-scan-fuzz-query-'));
const UNREACHABLE = join(import.meta.dirname, '../fixtures/kubeconfig-unreachable.yaml');

const key = fc.constantFrom('mode', 'mode', 'Mode', 'constructor', '__proto__', 'toString', 'x', '', 'mode[]', '%00');
const value = fc.constantFrom('light', 'full', 'LIGHT', '', 'constructor', '__proto__', '%ZZ', '%00', 'light&mode=full', '\u00e9', '../../etc');
const query = fc
  .array(fc.tuple(key, value, fc.boolean()), { maxLength: 4 })
  .map((pairs) => pairs.map(([k, v, raw]) => (raw ? `${k}=${v}` : `${encodeURIComponent(k)}=${encodeURIComponent(v)}`)).join('&'));
const path = fc.constantFrom(
  '/network_scan',
  '/network_scan',
  '/network_scan/',
  '/',
  '/constructor',
  '/__proto__',
  '/network_scan/..',
  '//network_scan',
  '/NETWORK_SCAN',
);
const method = fc.constantFrom('GET', 'GET', 'GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'OPTIONS');
const metadata = fc.constantFrom(
  'default_context:\n  components:\n    web: { type: webapp, attributes: { namespace: web, port: "80" } }\n',
  'default_context:\n  components:\n    constructor: { type: __proto__, attributes: { namespace: constructor } }\n',
  'default_context:\n  components:\n    web: { type: webapp, attributes: { namespace: "$(id)" } }\n',
  'default_context:\n  components:\n    web: { type: "x\n',
  'a: 1\n---\nb: 2\n',
  '',
);

const s = suite('fuzz: query parser (scanApp) in front of the network scan');

s('no 500, an answer within 5 s, every error body names what is wrong', async () => {
  let n = 0;
  await fc.assert(
    fc.asyncProperty(method, path, query, metadata, async (m, p, q, text) => {
      const file = join(dir, `s${n++}.yaml`);
      writeFileSync(file, text);
      const app = scanApp(networkScan({ topology: { metadata: { path: file, setting: 'STACK_METADATA' } }, kubeconfig: UNREACHABLE }));
      const t0 = Date.now();
      const res = await app.request(`${p}${q ? `?${q}` : ''}`, { method: m });
      assert.ok(Date.now() - t0 < 5000, 'within 5 s');
      assert.ok(res.status !== 500, `${m} ${p}?${q}: 500`);
      if (m === 'HEAD') return;
      const body: any = await res.json();
      if (res.status >= 400) {
        assert.type(body.error?.message, 'string');
        if (body.error.code === 'yaml_syntax') assert.ok(body.error.line >= 1 && body.error.column >= 1);
        assert.not.match(JSON.stringify(body), /\s+at .*\.ts:\d+/, 'no stack trace');
      }
    }),
    { seed: SEED, numRuns: 150, interruptAfterTimeLimit: 90_000 },
  );
});

s.after(() => rmSync(dir, { recursive: true, force: true }));
s.run();
