// Property-based fuzzing (fast-check, seeded, bounded) of the manifest loader
// (networkpolicy-manifest.json): any text gives the expected set or a 4xx naming the file; a
// syntax error always has a line and column and never quotes the file; no input over 5 s.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ScanError } from '../../lib/errors.ts';
import { loadManifest } from '../../lib/topology/expected.ts';

const SEED = 20240602;
const dir = mkdtempSync(join(tmpdir(), 'stack-scan-fuzz-manifest-'));
const VALID = readFileSync(join(import.meta.dirname, '../fixtures/manifest/valid.json'), 'utf8');
const MARK = 'QQSECRETQQ';

/** The valid manifest with a few edits: deletions, insertions of JSON-ish tokens or a marker. */
const mutated = fc
  .array(
    fc.record({
      at: fc.nat({ max: VALID.length }),
      del: fc.nat({ max: 4 }),
      ins: fc.constantFrom('', '{', '}', '[', ']', ',', ':', '"', `"${MARK}"`, MARK, 'tru', '1e', '\n', '//', '__proto__', '"constructor": 1,'),
    }),
    { minLength: 1, maxLength: 4 },
  )
  .map((edits) => edits.reduce((t, e) => t.slice(0, e.at) + e.ins + t.slice(e.at + e.del), VALID));
const anyJson = fc.jsonValue({ maxDepth: 4 }).map((v) => JSON.stringify({ policies: [v] }));
const hostilePolicy = fc
  .record({
    name: fc.constantFrom('constructor', '__proto__', 'a', 'A B'),
    namespace: fc.constantFrom('constructor', '__proto__', '../../etc', 'web'),
    category: fc.constantFrom('link', 'exception', 'toString'),
    direction: fc.constantFrom('ingress', 'valueOf'),
    peer: fc.constantFrom({ namespace: 'constructor' }, { any: true }, { __proto__: 1 }),
    ports: fc.constant([{ port: 80 }]),
  })
  .map((p) => JSON.stringify({ policies: [p] }));

const s = suite('fuzz: manifest loader');

s('any text: an expected set or a 4xx; syntax errors with line and column, without the content', async () => {
  let n = 0;
  await fc.assert(
    fc.asyncProperty(fc.oneof(mutated, anyJson, hostilePolicy, fc.string({ maxLength: 60 })), async (text) => {
      const p = join(dir, `m${n++}.json`);
      writeFileSync(p, text);
      const t0 = Date.now();
      try {
        const set = await loadManifest({ path: p, setting: 'NETWORKPOLICY_MANIFEST' });
        assert.ok(Array.isArray(set.policies));
      } catch (err) {
        if (!(err instanceof ScanError)) throw err;
        assert.is(err.status, 422);
        assert.is(err.info.file, p);
        assert.is(err.info.setting, 'NETWORKPOLICY_MANIFEST');
        if (err.info.code === 'json_syntax') {
          assert.ok(err.info.line! >= 1 && err.info.column! >= 1, err.message);
          assert.not.ok(err.message.includes(MARK), 'no file content in the message');
        } else assert.is(err.info.code, 'schema_violation');
      }
      assert.ok(Date.now() - t0 < 5000);
    }),
    { seed: SEED, numRuns: 400, interruptAfterTimeLimit: 60_000 },
  );
});

s.after(() => rmSync(dir, { recursive: true, force: true }));
s.run();
