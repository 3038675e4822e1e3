// Property-based fuzzing (fast-check, seeded, bounded) of the topology loaders: stack-metadata.yaml,
// a directory of generated NetworkPolicies, derivation and light mode's judgement. Properties: no
// error other than a ScanError (a 4xx naming the file), every syntax error with line and column,
// no input takes over 5 s, and the pipeline metadata → derivation → judgement never throws.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import yaml from 'js-yaml';
import { ScanError } from '../../lib/errors.ts';
import { deriveExpected, loadNetworkPolicyDir } from '../../lib/topology/expected.ts';
import { loadStackMetadata } from '../../lib/topology/stack-metadata.ts';
import { PolicyEngine } from '../../functions/network-scan/engine.ts';
import { judgeLight } from '../../functions/network-scan/light/index.ts';
import { renderPolicy } from '../../lib/topology/render.ts';

const SEED = 20240601;
const dir = mkdtempSync(join(tmpdir(), 'stack-scan-fuzz-topology-'));
const HOSTILE = ['constructor', '__proto__', 'toString', 'hasOwnProperty', 'valueOf', 'prototype', 'web', 'db', 'a b', '../../etc', '$(id)', 'LLAMA', '', '-'];
const name = fc.constantFrom(...HOSTILE);
const nsName = fc.oneof(
  fc.constantFrom('web', 'db', 'constructor', 'kube-system', '../../etc', '$(id)', 'LLAMA', 'lla ma', ''),
  fc.stringMatching(/^[a-z0-9-]{1,8}$/),
);
const port = fc.oneof(
  fc.constantFrom('80', '5432', '80 -oN x', '0x50', '1e3', '', '0', '65536', '80,443'),
  fc.integer({ min: -5, max: 70000 }),
  fc.constant(null),
  fc.boolean(),
);
const ref = fc.letrec((tie) => ({
  ref: fc.record(
    { name, type: fc.option(name, { nil: undefined }), parent: fc.option(tie('ref'), { nil: undefined, depthSize: 'small' }) },
    { requiredKeys: ['name'] },
  ),
})).ref;
const links = fc.dictionary(
  name,
  fc.record({ type: fc.option(name, { nil: undefined }), attributes: fc.option(fc.record({ subdomain: name }), { nil: undefined }), component: ref }),
  { maxKeys: 4 },
);
const component = fc.record({
  type: fc.oneof(
    name,
    fc.constantFrom('apisix', 'minio', 'postgresql', 'kafka', 'prometheus', 'grafana', 'cert_manager', 'bucket', 'database', 'bridge'),
    fc.integer(),
  ),
  name: fc.option(name, { nil: undefined }),
  attributes: fc.option(fc.record({ namespace: fc.option(nsName, { nil: undefined }), port: fc.option(port, { nil: undefined }) }), { nil: undefined }),
  links_to: fc.option(links, { nil: undefined }),
  sub_components: fc.option(
    fc.dictionary(
      name,
      fc.record({
        name: fc.option(name, { nil: undefined }),
        type: fc.option(fc.constantFrom('topic', 'bucket', 'database', 'bridge', 'constructor'), { nil: undefined }),
        links_to: fc.option(links, { nil: undefined }),
      }),
      { maxKeys: 3 },
    ),
    { nil: undefined },
  ),
});
const metadata = fc.record({
  default_context: fc.record({
    configuration: fc.option(fc.record({ system_name: name, domain: name }), { nil: undefined }),
    components: fc.dictionary(name, component, { maxKeys: 8 }),
  }),
});

/** YAML-ish text: fragments that exercise the syntax errors a loader must place. */
const yamlText = fc
  .array(
    fc.constantFrom(
      'default_context:',
      '  components:',
      '    a:',
      '      type: x',
      '      type: "x',
      "  - ' ",
      '---',
      '...',
      '{',
      '[',
      ']',
      '}',
      ': :',
      '\t- x',
      'a: &x 1',
      'b: *y',
      '!<tag:x> y',
      '%YAML 1.2',
      '"\\q"',
      '  port: 80',
      '  port: 81',
      'key: [1, 2',
      '? complex',
      '\u0000',
      '#c',
      '',
    ),
    { maxLength: 12 },
  )
  .map((l) => l.join('\n'));

const deadline = <T>(ms: number, p: Promise<T>) =>
  Promise.race([p, new Promise<never>((_, rej) => setTimeout(() => rej(new Error(`over ${ms} ms`)), ms).unref())]);

function expectScanError(err: unknown): void {
  if (!(err instanceof ScanError)) throw err;
  assert.ok(err.status >= 400 && err.status < 500, `status ${err.status}`);
  assert.ok(err.info.file, 'names the file');
  if (err.info.code === 'yaml_syntax' || err.info.code === 'json_syntax') {
    assert.type(err.info.line, 'number');
    assert.type(err.info.column, 'number');
    assert.ok(err.info.line! >= 1 && err.info.column! >= 1);
  }
}

const s = suite('fuzz: topology loaders');

s('stack-metadata.yaml text: a topology or a 4xx with line and column, within 5 s', async () => {
  let n = 0;
  await fc.assert(
    fc.asyncProperty(yamlText, async (text) => {
      const p = join(dir, `t${n++}.yaml`);
      writeFileSync(p, text);
      try {
        const t = await deadline(5000, loadStackMetadata({ path: p, setting: 'STACK_METADATA' }));
        deriveExpected(t, p);
      } catch (err) {
        expectScanError(err);
      }
    }),
    { seed: SEED, numRuns: 300, interruptAfterTimeLimit: 60_000 },
  );
});

s('structured hostile metadata: load, derive and judge never throw anything but a 4xx', async () => {
  let n = 0;
  const seen = { judged: 0, refused: 0 };
  await fc.assert(
    fc.asyncProperty(metadata, fc.boolean(), async (m, withPolicies) => {
      const p = join(dir, `m${n++}.yaml`);
      writeFileSync(p, yaml.dump(m, { lineWidth: -1 }));
      try {
        const t = await deadline(5000, loadStackMetadata({ path: p, setting: 'STACK_METADATA' }));
        const e = deriveExpected(t, p);
        const live = withPolicies ? e.policies.slice(0, 20).map((x) => renderPolicy(x, new Set(t.namespaces))) : [];
        const namespaces = t.namespaces.map((x) => ({ name: x, labels: { 'stacktic.io/namespace': x } }));
        const r = judgeLight(t, e, { policies: live, namespaces }, new PolicyEngine(live, namespaces));
        assert.ok(r.score === null || (r.score >= 0 && r.score <= 100));
        JSON.stringify(r);
        seen.judged++;
      } catch (err) {
        expectScanError(err);
        seen.refused++;
      }
    }),
    { seed: SEED, numRuns: 200, interruptAfterTimeLimit: 60_000 },
  );
  // Not vacuous: both paths are exercised.
  assert.ok(seen.judged > 20 && seen.refused > 20, JSON.stringify(seen));
});

const policyDoc = fc.record({
  apiVersion: fc.constant('networking.k8s.io/v1'),
  kind: fc.constantFrom('NetworkPolicy', 'NetworkPolicy', 'Service', 5),
  metadata: fc.record({ name: fc.oneof(name, fc.constant('a--to--b--egress--ports--80--nr1')), namespace: nsName }),
  spec: fc.oneof(
    fc.constant(null),
    fc.record({
      podSelector: fc.oneof(fc.constant({}), fc.record({ matchLabels: fc.dictionary(name, fc.oneof(name, fc.integer())) })),
      policyTypes: fc.option(fc.subarray(['Ingress', 'Egress', 'Both'] as const), { nil: undefined }),
      ingress: fc.option(
        fc.array(
          fc.oneof(
            fc.constant({}),
            fc.record({
              from: fc.array(fc.record({ namespaceSelector: fc.oneof(fc.constant({}), fc.record({ matchLabels: fc.dictionary(name, name) })) })),
              ports: fc.array(
                fc.record({ protocol: fc.option(fc.constantFrom('TCP', 'UDP', 'ICMP'), { nil: undefined }), port: fc.option(port, { nil: undefined }) }),
              ),
            }),
          ),
          { maxLength: 3 },
        ),
        { nil: undefined },
      ),
    }),
  ),
});

s('a directory of generated policies: loaded or a 4xx naming the file, within 5 s', async () => {
  let n = 0;
  await fc.assert(
    fc.asyncProperty(
      fc.array(
        fc.oneof(
          policyDoc.map((d) => yaml.dump(d)),
          yamlText,
        ),
        { minLength: 1, maxLength: 4 },
      ),
      async (docs) => {
        const d = join(dir, `np${n++}`);
        mkdirSync(d);
        docs.forEach((text, i) => writeFileSync(join(d, `p${i}.yaml`), text));
        try {
          const set = await deadline(5000, loadNetworkPolicyDir({ path: d, setting: 'NETWORKPOLICY_DIR' }));
          for (const p of set.policies) assert.ok(p.origin!.file.startsWith(d));
        } catch (err) {
          expectScanError(err);
        }
      },
    ),
    { seed: SEED, numRuns: 150, interruptAfterTimeLimit: 60_000 },
  );
});

s.after(() => rmSync(dir, { recursive: true, force: true }));
s.run();
