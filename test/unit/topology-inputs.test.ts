// Hostile and unlucky inputs to the topology loaders (issue 10): non-regular files, size and
// read limits, capped warnings, prototype-key names, value validation, no content in errors.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ScanError } from '../../lib/errors.ts';
import { deriveExpected, INTERNET, loadManifest, loadNetworkPolicyDir } from '../../lib/topology/expected.ts';
import { parseJson, parseYaml, readTextFile } from '../../lib/topology/files.ts';
import { loadTopologyAndPolicies, topologySettings } from '../../lib/topology/settings.ts';
import { loadStackMetadata, parsePortAttribute } from '../../lib/topology/stack-metadata.ts';
import { PolicyEngine } from '../../functions/network-scan/engine.ts';
import { judgeLight } from '../../functions/network-scan/light/index.ts';
import { renderPolicy } from '../../lib/topology/render.ts';

const dir = mkdtempSync(join(tmpdir(), 'stack-scan-topology-'));
const ref = (path: string, setting = 'STACK_METADATA') => ({ path, setting });
const write = (name: string, text: string) => {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
};

async function rejects(p: Promise<unknown> | (() => unknown)): Promise<ScanError> {
  try {
    await (typeof p === 'function' ? p() : p);
  } catch (err) {
    if (!(err instanceof ScanError)) throw err;
    return err;
  }
  throw new Error('expected a rejection');
}

const PROTO = ['constructor', '__proto__', 'toString', 'hasOwnProperty', 'valueOf'];

function metadata(components: Record<string, { type: string; name?: string; namespace?: string; port?: string; links?: string[] }>): string {
  const lines = ['default_context:', '  configuration: { system_name: "hostile" }', '  components:'];
  for (const [key, c] of Object.entries(components)) {
    lines.push(`    ${JSON.stringify(key)}:`, `      type: ${JSON.stringify(c.type)}`);
    if (c.name) lines.push(`      name: ${JSON.stringify(c.name)}`);
    lines.push('      attributes:');
    if (c.namespace !== undefined) lines.push(`        namespace: ${JSON.stringify(c.namespace)}`);
    if (c.port !== undefined) lines.push(`        port: ${JSON.stringify(c.port)}`);
    if (c.links?.length) {
      lines.push('      links_to:');
      for (const l of c.links) lines.push(`        ${JSON.stringify(l)}: { type: "x", attributes: {}, component: { name: ${JSON.stringify(l)}, type: "t" } }`);
    }
  }
  return `${lines.join('\n')}\n`;
}

const files = suite('topology inputs: only regular files, bounded');

files('a FIFO as STACK_METADATA is a prompt 422 naming the setting, not a hang', async () => {
  const fifo = join(dir, 'fifo.yaml');
  execFileSync('mkfifo', [fifo]);
  const t0 = Date.now();
  const err = await rejects(loadStackMetadata(ref(fifo)));
  assert.ok(Date.now() - t0 < 5000, 'no hang: a FIFO is refused before any read');
  assert.equal([err.status, err.info.code, err.info.setting], [422, 'file_not_regular', 'STACK_METADATA']);
  assert.match(err.message, /FIFO/);
});

files('/dev/zero and a directory are refused before reading', async () => {
  const zero = await rejects(loadStackMetadata(ref('/dev/zero')));
  assert.equal([zero.info.code, zero.info.setting], ['file_not_regular', 'STACK_METADATA']);
  assert.match(zero.message, /character device/);
  const d = await rejects(loadStackMetadata(ref(dir)));
  assert.match(d.message, /is a directory/);
});

files('a file over STACK_FILE_MAX_BYTES is a 422 naming that setting', async () => {
  const big = write('big.yaml', `default_context:\n  components: {}\n#${'x'.repeat(5000)}\n`);
  const err = await rejects(loadTopologyAndPolicies(topologySettings({ STACK_METADATA: big, STACK_FILE_MAX_BYTES: '2048' })));
  assert.equal([err.status, err.info.code, err.info.setting], [422, 'file_too_large', 'STACK_FILE_MAX_BYTES']);
  const bad = await rejects(() => topologySettings({ STACK_FILE_MAX_BYTES: '10MB' }));
  assert.equal([bad.status, bad.info.setting], [422, 'STACK_FILE_MAX_BYTES']);
  const badTimeout = await rejects(() => topologySettings({ STACK_FILE_READ_TIMEOUT_MS: '-1' }));
  assert.is(badTimeout.info.setting, 'STACK_FILE_READ_TIMEOUT_MS');
});

files('binary content is refused as not UTF-8, without echoing it', async () => {
  const p = join(dir, 'bin.yaml');
  writeFileSync(p, Buffer.from([0xff, 0xfe, 0x00, 0x53, 0x45, 0x43]));
  const err = await rejects(readTextFile(ref(p)));
  assert.is(err.info.code, 'file_not_text');
});

files('duplicate keys: the first N listed, the rest counted', async () => {
  const text = `a:\n${Array.from({ length: 5000 }, () => '  k: 1').join('\n')}\n`;
  const t0 = Date.now();
  const r = parseYaml(text, { path: 'dups.yaml', setting: 'X', limits: { maxBytes: 1 << 20, readTimeoutMs: 1000, maxWarnings: 10 } });
  assert.ok(Date.now() - t0 < 10_000, 'bounded (1M duplicates took 15 s and 450 MB before)');
  assert.is(r.duplicateKeys, 4999);
  assert.is(r.warnings.length, 11);
  assert.match(r.warnings[10], /4989 more duplicate keys not listed \(4999 in all; STACK_MAX_WARNINGS/);
});

const errs = suite('topology inputs: errors with positions, never content');

errs('a JSON manifest pointing at /proc/self/environ: position, no environment in the body', async () => {
  process.env.STACK_SCAN_TEST_MARKER = 'supersecret-marker-value';
  const err = await rejects(loadManifest(ref('/proc/self/environ', 'NETWORKPOLICY_MANIFEST')));
  assert.is(err.info.code, 'json_syntax');
  assert.type(err.info.line, 'number');
  assert.type(err.info.column, 'number');
  assert.not.match(JSON.stringify(err.info), /supersecret|PATH=|HOME=/);
});

errs('every JSON syntax error has a line and column from the parser', () => {
  const cases: [string, number, number][] = [
    ['{"a": 1,}', 1, 9],
    ['{"a": 1\n "b": 2}', 2, 2],
    ['[1, 2', 1, 6],
    ['{"a": tru}', 1, 7],
    ['"abc', 1, 1],
    ['{"a":1}{"b":2}', 1, 8],
    ['', 1, 1],
    ['// c\n{}', 1, 1],
    ["{'a':1}", 1, 2],
    ['01', 1, 2],
    ['{"a": 1e}', 1, 7],
  ];
  for (const [text, line, column] of cases) {
    const err = (() => {
      try {
        parseJson(text, ref('m.json', 'NETWORKPOLICY_MANIFEST'));
      } catch (e) {
        return e as ScanError;
      }
      throw new Error(`parsed: ${text}`);
    })();
    assert.equal([err.info.code, err.info.line, err.info.column], ['json_syntax', line, column], JSON.stringify(text));
  }
});

errs('YAML errors never quote the file: tags, aliases and quoted text are masked', () => {
  for (const text of ['a: !<tag:SECRET1> x\n', 'a: *SECRET2\n', 'a: "SECRET3\n', 'a: !SECRET4 x\n']) {
    try {
      parseYaml(text, ref('s.yaml'));
      assert.unreachable(text);
    } catch (e) {
      const err = e as ScanError;
      assert.instance(err, ScanError);
      assert.not.match(JSON.stringify(err.info), /SECRET/, text);
      assert.type(err.info.line, 'number');
      assert.type(err.info.column, 'number');
    }
  }
});

errs('a multi-document YAML gets the position of the second document', () => {
  for (const [text, line] of [
    ['a: 1\n---\nb: 2\n', 2],
    ['---\na: 1\n---\nb: 2\n', 3],
    ['# c\na: 1\n...\nb: 2\n', 4],
  ] as const) {
    try {
      parseYaml(text, ref('multi.yaml'));
      assert.unreachable();
    } catch (e) {
      const err = e as ScanError;
      assert.equal([err.info.code, err.info.line, err.info.column], ['yaml_syntax', line, 1], text);
      assert.match(err.message, /more than one YAML document/);
    }
  }
});

const values = suite('topology inputs: values validated, naming the field');

values('namespaces must be DNS-1123 labels', async () => {
  for (const ns of ['../../etc', '$(id)', 'LLAMA', 'lla ma', '-a', 'a'.repeat(64)]) {
    const p = write('ns.yaml', metadata({ web: { type: 'webapp', namespace: ns } }));
    const err = await rejects(loadStackMetadata(ref(p)));
    assert.is(err.info.code, 'schema_violation', ns);
    assert.equal(
      err.info.details!.map((d) => d.path),
      ['default_context.components.web.attributes.namespace'],
      ns,
    );
    assert.not.ok(err.message.replaceAll(p, '').includes(ns), `the value ${ns} is not echoed`); // (the file's own path may contain it)
  }
});

values('ports must be decimal integers 1–65535', async () => {
  for (const port of ['80 -oN x', '0x50', '1e3', '+80', '0', '65536', '80.5', '80;443']) {
    assert.is(parsePortAttribute(port), null, port);
    const p = write('port.yaml', metadata({ web: { type: 'webapp', namespace: 'web', port } }));
    const err = await rejects(loadStackMetadata(ref(p)));
    assert.equal(
      err.info.details!.map((d) => d.path),
      ['default_context.components.web.attributes.port'],
      port,
    );
  }
  assert.equal(parsePortAttribute('80, 443'), [80, 443]);
  assert.equal(parsePortAttribute(5432), [5432]);
  assert.equal(parsePortAttribute(''), []);
  assert.is(parsePortAttribute(8.5), null);
});

const proto = suite('topology inputs: Object prototype keys are ordinary names');

proto('as component keys, names, types and a namespace: load, derive and judge without a crash', async () => {
  // A null-prototype object: `comps['__proto__'] = …` is then an own key, as in the YAML.
  const comps: Record<string, { type: string; name?: string; namespace?: string; port?: string; links?: string[] }> = Object.create(null);
  PROTO.forEach((k, i) => {
    comps[k] = {
      type: PROTO[(i + 1) % PROTO.length],
      name: k,
      namespace: i === 0 ? 'constructor' : `ns${i}`,
      port: String(8000 + i),
      links: [PROTO[(i + 2) % PROTO.length]],
    };
  });
  comps.minio = { type: 'minio', namespace: 'minio', port: '9000', links: ['constructor'] };
  const p = write('proto.yaml', metadata(comps));
  const t = await loadStackMetadata(ref(p));
  assert.equal(t.components.map((c) => c.name).sort(), [...PROTO, 'minio'].sort());
  assert.is(t.components.find((c) => c.name === '__proto__')!.type, 'toString');
  assert.is(t.links.length, 6);
  assert.ok(t.namespaces.includes('constructor'));
  const e = deriveExpected(t, p);
  assert.equal(e.unknownTypes!.map((u) => u.type).sort(), [...PROTO].sort());
  assert.ok(e.policies.some((x) => x.name === 'constructor--all--constructor--ingress--ports--constructor'));
  assert.ok(e.policies.some((x) => x.name === 'minio--to--constructor--egress--ports--8000'));
  assert.is(INTERNET.constructor, undefined);
  // biome-ignore lint/suspicious/noProto: proves the table has no prototype
  assert.is(INTERNET.__proto__, undefined);
  // The cluster: exactly as derived, plus a policy in the `constructor` namespace nobody expects.
  const stack = new Set(t.namespaces);
  const live = e.policies.map((x) => renderPolicy(x, stack));
  live.push({
    apiVersion: 'networking.k8s.io/v1',
    kind: 'NetworkPolicy',
    metadata: { name: 'hasownproperty', namespace: 'constructor' },
    spec: { podSelector: {}, ingress: [{}] },
  });
  const namespaces = [
    ...t.namespaces.map((n) => ({ name: n, labels: { 'stacktic.io/namespace': n, constructor: 'x' } })),
    { name: 'kube-system' },
    { name: 'default' },
  ];
  const r = judgeLight(t, e, { policies: live, namespaces }, new PolicyEngine(live, namespaces));
  assert.is(r.summary.found, e.policies.length);
  assert.equal(r.results.extra, [{ name: 'hasownproperty', namespace: 'constructor' }]);
  assert.ok(r.results.rule_findings.some((f) => f.namespace === 'constructor' && f.kind === 'peer-everyone' && f.severity === 'critical'));
  const missing = judgeLight(t, e, { policies: [], namespaces }, new PolicyEngine([], namespaces));
  assert.is(missing.results.missing_by_namespace.constructor.length, 8, '5 namespace policies and 3 link sides');
  assert.is(Object.getPrototypeOf(missing.results.missing_by_namespace), null);
});

proto('prototype keys inside generated policy files (label keys, values)', async () => {
  const d = join(dir, 'np');
  mkdirSync(d, { recursive: true });
  writeFileSync(
    join(d, 'a.yaml'),
    'apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata:\n  name: constructor\n  namespace: constructor\nspec:\n  podSelector:\n    ' +
      ('matchLabels:\n      __proto__: x\n      constructor: y\n  ingress:\n  - from:\n    - namespaceSelector:\n        matchLabels:\n          ' +
        'toString: valueOf\n'),
  );
  const set = await loadNetworkPolicyDir({ path: d, setting: 'NETWORKPOLICY_DIR' });
  const spec = set.policies[0].origin!.spec as any;
  assert.equal(Object.keys(spec.podSelector.matchLabels), ['__proto__', 'constructor']);
});

proto.after(() => rmSync(dir, { recursive: true, force: true }));
files.run();
errs.run();
values.run();
proto.run();
