// The kubescape scan's pure parts: the Stacktic remediation table (every row), the
// exclusion table (every row) and the user's exclusions file, the component
// mapping, and the settings.
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { ScanError } from '../../lib/errors.ts';
import { loadStackMetadata } from '../../lib/topology/stack-metadata.ts';
import type { Component } from '../../lib/topology/types.ts';
import { componentOf, indexComponents } from '../../functions/kubescape-scan/components.ts';
import { BUILTIN_EXCLUSIONS, exclusionFor, loadExclusionsFile, namedInPaths } from '../../functions/kubescape-scan/exclusions.ts';
import { HIDDEN, REMEDIATIONS, REPORTED_ATTRIBUTES, remediationFor, SECRET_ATTRIBUTE } from '../../functions/kubescape-scan/remediation.ts';
import { BUNDLED_ARTIFACTS_DIR, checkArtifacts, kubescapeSettingsFromEnv } from '../../functions/kubescape-scan/settings.ts';
import { kubescapeScan } from '../../functions/kubescape-scan/scan.ts';
import { scanApp } from '../../lib/scan/scaffold.ts';
import { DEMO_METADATA } from '../../demo/kubescape/stack.ts';

const ROOT = join(import.meta.dirname, '../..');
const SAMPLES = ['llama_base', 'strimzi_basic_setup'].map((s) => join(ROOT, `../shared/samples/stacktic/${s}/stack-metadata.yaml`));
const t = suite('kubescape scan tables');

const comp = (name: string, type: string, namespace: string | null, attributes: Record<string, unknown> = {}): Component => ({
  name,
  type,
  group: '',
  namespace,
  ports: [],
  declaredPorts: [],
  attributes,
  subComponents: [],
  subs: [],
});

t("remediation: every row names real attributes and reports the component's current value", async () => {
  const demo = await loadStackMetadata({ path: DEMO_METADATA, setting: 'STACK_METADATA' });
  const cart = demo.components.find((c) => c.name === 'cart')!;
  const shop = demo.components.find((c) => c.name === 'shop')!;
  const ids = new Set<string>();
  for (const row of REMEDIATIONS) {
    assert.ok(/^C-\d{4}$/.test(row.control), row.control);
    assert.not.ok(ids.has(row.control), `duplicate row ${row.control}`);
    ids.add(row.control);
    assert.ok(row.advice.length > 10);
    for (const c of [cart, shop]) {
      const r = remediationFor(row.control, c)!;
      assert.equal(
        r.attributes.map((a) => a.name),
        row.attributes,
        row.control,
      );
      for (const a of r.attributes) {
        const expected = c.attributes[a.name];
        if (a.name === 'configmap' || a.name === 'env') assert.is(a.current, expected === undefined ? null : HIDDEN, `${row.control} ${a.name} hidden`);
        else assert.is(a.current, expected === undefined ? null : (expected as string | boolean), `${row.control} ${c.name}.${a.name}`);
      }
    }
    assert.equal(
      remediationFor(row.control, null)!.attributes.map((a) => a.current),
      row.attributes.map(() => null),
    );
  }
  assert.is(remediationFor('C-9999', cart), null);
  // Concrete rows read from the demo metadata.
  assert.equal(remediationFor('C-0013', cart)!.attributes, [
    { name: 'securityContext', current: false },
    { name: 'pod_level_security', current: false },
    { name: 'user_id', current: '0' },
  ]);
  assert.equal(remediationFor('C-0270', shop)!.attributes, [
    { name: 'cpu_limit', current: '500m' },
    { name: 'cpu_request', current: '100m' },
  ]);
  assert.equal(remediationFor('C-0012', cart)!.attributes[0], { name: 'configmap', current: HIDDEN });
});

t('remediation: no reported attribute can hold a secret', () => {
  for (const a of REPORTED_ATTRIBUTES) assert.not.ok(SECRET_ATTRIBUTE.test(a), a);
  for (const s of ['admin_password', 'secret_key', 'access_key', 'token', 'huggingface', 'tls_key', 'ca_crt', 'smtp_password', 'password'])
    assert.ok(SECRET_ATTRIBUTE.test(s), s);
});

if (SAMPLES.every(existsSync)) {
  t('remediation: the attribute names are those of real Stacktic metadata (both shared samples)', async () => {
    const seen = new Set<string>();
    for (const s of SAMPLES)
      for (const c of (await loadStackMetadata({ path: s, setting: 'STACK_METADATA' })).components) for (const k of Object.keys(c.attributes)) seen.add(k);
    for (const a of REPORTED_ATTRIBUTES) assert.ok(seen.has(a), `attribute ${a} appears in a real stack-metadata.yaml`);
    // And the real llama component's values come through.
    const llama = (await loadStackMetadata({ path: SAMPLES[0], setting: 'STACK_METADATA' })).components.find((c) => c.name === 'llama')!;
    assert.equal(remediationFor('C-0271', llama)!.attributes, [
      { name: 'mem_limit', current: '8000Mi' },
      { name: 'mem_request', current: '2000Mi' },
    ]);
    assert.equal(remediationFor('C-0018', llama)!.attributes, [{ name: 'probes', current: false }]);
  });
} else {
  console.warn(
    'SKIP kubescape-tables: the real-metadata attribute check: ../shared/samples/stacktic is absent (the shared samples beside the checkout; not part ' +
      'of the repository)',
  );
}

t('exclusions: every built-in row matches its workload by identity (kind, name, container), never by component type alone', () => {
  const types: Record<string, string> = {
    'operator-rbac-argocd': 'argo_cd',
    'operator-rbac-cert-manager': 'cert_manager',
    'operator-rbac-external-secrets': 'external_secrets',
    'operator-rbac-velero': 'velero',
    'root-clickhouse': 'clickhouse',
    'writable-prometheus-tsdb': 'prometheus',
    'writable-grafana-plugins': 'grafana',
    'privileged-csi-driver': 'csi',
  };
  // The workload with the requirement: kind, name and (where the requirement is about one) container.
  const who: Record<string, { kind: string; name: string; containers?: string[] }> = {
    'operator-rbac-argocd': { kind: 'ServiceAccount', name: 'argocd-application-controller' },
    'operator-rbac-cert-manager': { kind: 'ServiceAccount', name: 'cert-manager-cainjector' },
    'operator-rbac-external-secrets': { kind: 'ServiceAccount', name: 'external-secrets-webhook' },
    'operator-rbac-velero': { kind: 'ServiceAccount', name: 'velero' },
    'root-clickhouse': { kind: 'StatefulSet', name: 'chi-demo-0-0', containers: ['clickhouse'] },
    'writable-prometheus-tsdb': { kind: 'StatefulSet', name: 'prometheus-server', containers: ['prometheus-server'] },
    'writable-grafana-plugins': { kind: 'Deployment', name: 'grafana', containers: ['grafana'] },
    'privileged-csi-driver': { kind: 'DaemonSet', name: 'ebs-csi-node', containers: ['csi-driver'] },
  };
  assert.equal(Object.keys(types).sort(), BUILTIN_EXCLUSIONS.map((r) => r.id).sort());
  for (const rule of BUILTIN_EXCLUSIONS) {
    assert.ok(rule.reason.length > 20, `${rule.id} has a reason`);
    assert.ok(rule.match.names.length > 0, `${rule.id} names its workloads`);
    const control = rule.controls[0];
    const w = who[rule.id];
    const component = { name: 'some-component', type: types[rule.id] };
    assert.is(
      exclusionFor({ controlId: control, kind: w.kind, namespace: 'x', name: w.name, component, containers: w.containers }, BUILTIN_EXCLUSIONS)?.id,
      rule.id,
      `${rule.id} matches its workload`,
    );
    // Another workload of the same component type is a finding.
    assert.is(
      exclusionFor({ controlId: control, kind: w.kind, namespace: 'x', name: 'some-workload', component, containers: ['sidecar'] }, BUILTIN_EXCLUSIONS),
      null,
      `${rule.id} never by component type alone`,
    );
    if (w.containers) {
      // The same workload, but the failure is about another container (a sidecar without a securityContext).
      assert.is(
        exclusionFor({ controlId: control, kind: w.kind, namespace: 'x', name: w.name, component, containers: ['sidecar'] }, BUILTIN_EXCLUSIONS),
        null,
        `${rule.id}: only for the container with the requirement`,
      );
      assert.is(
        exclusionFor(
          { controlId: control, kind: w.kind, namespace: 'x', name: w.name, component, containers: [...w.containers, 'sidecar'] },
          BUILTIN_EXCLUSIONS,
        ),
        null,
        `${rule.id}: not when the failure names another container too`,
      );
    }
    assert.is(
      exclusionFor({ controlId: control, kind: 'ConfigMap', namespace: 'x', name: w.name, component, containers: w.containers }, BUILTIN_EXCLUSIONS),
      null,
      `${rule.id}: kind`,
    );
    const otherControl = 'C-0270';
    assert.not.ok(rule.controls.includes(otherControl));
    assert.is(
      exclusionFor({ controlId: otherControl, kind: w.kind, namespace: 'x', name: w.name, component, containers: w.containers }, BUILTIN_EXCLUSIONS),
      null,
      `${rule.id} not for ${otherControl}`,
    );
  }
  // The issue's case: grafana's image renderer (same component type, no securityContext) stays a finding.
  assert.is(
    exclusionFor(
      {
        controlId: 'C-0017',
        kind: 'Deployment',
        namespace: 'mon',
        name: 'grafana-image-renderer',
        component: { name: 'grafana', type: 'grafana' },
        containers: ['grafana-image-renderer'],
      },
      BUILTIN_EXCLUSIONS,
    ),
    null,
  );
  // A plain web app is never excluded.
  assert.is(
    exclusionFor({ controlId: 'C-0013', kind: 'Deployment', namespace: 'shop', name: 'cart', component: { name: 'cart', type: 'webapp' } }, BUILTIN_EXCLUSIONS),
    null,
  );
});

t("namedInPaths: container and volume names from a failure's paths", () => {
  const pod = { containers: ['app', 'sidecar'], initContainers: ['init'], volumes: ['data', 'host'] };
  assert.equal(namedInPaths(['spec.template.spec.containers[1].securityContext.readOnlyRootFilesystem', 'spec.template.spec.initContainers[0].image'], pod), {
    containers: ['sidecar', 'init'],
  });
  assert.equal(namedInPaths(['spec.template.spec.volumes[1].hostPath.path'], pod), { volumes: ['host'] });
  assert.equal(namedInPaths(['metadata.name'], pod), {});
  assert.equal(namedInPaths(['spec.containers[4].x'], pod), { containers: ['containers[4]'] }, 'an index the report does not name is not a name that matches');
});

function tmpFile(name: string, text: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'ks-excl-test-'));
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
}

async function rejects(p: Promise<unknown>): Promise<ScanError> {
  try {
    await p;
  } catch (e) {
    assert.instance(e, ScanError);
    return e as ScanError;
  }
  throw new Error('expected a ScanError');
}

t('exclusions file: a valid YAML and JSON file extend the table', async () => {
  const y = tmpFile(
    'ex.yaml',
    'exclusions:\n  - id: backup-agent\n    reason: "reads every Secret to back it up"\n    controls: [C-0015]\n    match: { names: ["^backup-"], ' +
      'kinds: [ServiceAccount] }\n',
  );
  const rules = await loadExclusionsFile(y);
  assert.is(rules.length, 1);
  assert.is(rules[0].source, y);
  assert.is(exclusionFor({ controlId: 'C-0015', kind: 'ServiceAccount', namespace: 'ns', name: 'backup-agent', component: null }, rules)?.id, 'backup-agent');
  assert.is(exclusionFor({ controlId: 'C-0015', kind: 'Deployment', namespace: 'ns', name: 'backup-agent', component: null }, rules), null, 'kind must match');
  const j = tmpFile(
    'ex.json',
    JSON.stringify({
      exclusions: [
        { id: 'constructor', reason: 'a name like constructor is data', controls: ['C-0013'], match: { names: ['^x$'], component_types: ['__proto__'] } },
      ],
    }),
  );
  const r2 = await loadExclusionsFile(j);
  assert.is(
    exclusionFor({ controlId: 'C-0013', kind: 'Deployment', namespace: 'n', name: 'x', component: { name: 'x', type: '__proto__' } }, r2)?.id,
    'constructor',
  );
  for (const f of [y, j]) rmSync(join(f, '..'), { recursive: true });
});

t('exclusions file: errors name the file, the setting and the field, never echo a stack', async () => {
  const cases: [string, string, RegExp][] = [
    ['missing reason', 'exclusions:\n  - id: a\n    controls: [C-0015]\n    match: { names: [x] }\n', /exclusions\.0\.reason/],
    ['bad control', 'exclusions:\n  - id: a\n    reason: r\n    controls: [C0015]\n    match: { names: [x] }\n', /exclusions\.0\.controls\.0.*control id/],
    ['empty match', 'exclusions:\n  - id: a\n    reason: r\n    controls: [C-0015]\n    match: {}\n', /exclusions\.0\.match\.names/],
    [
      'component type alone',
      'exclusions:\n  - id: a\n    reason: r\n    controls: [C-0015]\n    match: { component_types: [grafana] }\n',
      /exclusions\.0\.match\.names/,
    ],
    [
      'bad container regex',
      'exclusions:\n  - id: a\n    reason: r\n    controls: [C-0015]\n    match: { names: [x], containers: ["(x"] }\n',
      /exclusions\[0\]\.match\.containers\[0\] is not a valid regular expression/,
    ],
    [
      'bad regex',
      'exclusions:\n  - id: a\n    reason: r\n    controls: [C-0015]\n    match: { names: ["(unclosed"] }\n',
      /exclusions\[0\]\.match\.names\[0\] is not a valid regular expression/,
    ],
    [
      'builtin id',
      'exclusions:\n  - id: root-clickhouse\n    reason: r\n    controls: [C-0015]\n    match: { names: [x] }\n',
      /root-clickhouse' is used twice/,
    ],
    ['unknown field', 'exclusions:\n  - id: a\n    reason: r\n    controls: [C-0015]\n    match: { names: [x] }\n    because: typo\n', /because/],
  ];
  for (const [label, text, re] of cases) {
    const p = tmpFile('ex.yaml', text);
    const e = await rejects(loadExclusionsFile(p));
    assert.is(e.status, 422, label);
    assert.is(e.info.file, p, label);
    assert.is(e.info.setting, 'KUBESCAPE_EXCLUSIONS_FILE', label);
    assert.match(e.message, re, label);
    assert.not.match(e.message, /\n\s+at /, `${label}: no stack`);
    rmSync(join(p, '..'), { recursive: true });
  }
  const syntax = tmpFile('ex.yaml', 'exclusions:\n  - id: [unclosed\n');
  const e = await rejects(loadExclusionsFile(syntax));
  assert.is(e.info.code, 'yaml_syntax');
  assert.ok(e.info.line! >= 2 && e.info.column! >= 1, `line ${e.info.line} column ${e.info.column}`);
  const missing = await rejects(loadExclusionsFile('/nonexistent/ks-exclusions.yaml'));
  assert.match(missing.message, /does not exist; set KUBESCAPE_EXCLUSIONS_FILE/);
});

t('component mapping: labels, name prefix (longest), sole component, none', () => {
  const index = indexComponents([
    comp('shop', 'webapp', 'apps'),
    comp('shop-api', 'webapp', 'apps'),
    comp('cart', 'webapp', 'apps'),
    comp('db', 'postgresql', 'data'),
    comp('constructor', 'x', '__proto__'),
  ]);
  const labels = (o: Record<string, string>) => new Map(Object.entries(o));
  assert.is(componentOf({ namespace: 'apps', name: 'anything', labels: labels({ 'app.kubernetes.io/name': 'cart' }) }, index)?.name, 'cart');
  assert.is(componentOf({ namespace: 'apps', name: 'shop-api-7d9f' }, index)?.name, 'shop-api');
  assert.is(componentOf({ namespace: 'apps', name: 'shop' }, index)?.name, 'shop');
  assert.is(componentOf({ namespace: 'apps', name: 'unrelated' }, index), null);
  assert.is(componentOf({ namespace: 'data', name: 'postgres-0' }, index)?.name, 'db', "the namespace's only component");
  assert.is(componentOf({ namespace: null, name: 'shop' }, index), null);
  assert.is(componentOf({ namespace: 'other', name: 'shop' }, index), null);
  assert.is(componentOf({ namespace: '__proto__', name: 'x' }, index)?.name, 'constructor');
  assert.is(componentOf({ namespace: 'constructor', name: 'x' }, index), null);
});

t('settings: defaults, and every bad value is a 422 naming the variable', () => {
  const s = kubescapeSettingsFromEnv({ PATH: '/nonexistent' });
  assert.is(s.strategy, 'per-namespace');
  assert.is(s.concurrency, 3);
  assert.is(s.runTimeoutMs, 300_000);
  assert.equal(s.thresholds, { nsa: 70, mitre: 60 });
  assert.is(s.clusterScope, true);
  assert.is(s.artifactsDir, undefined);
  assert.ok(s.bin.endsWith('kubescape'));
  const ok = kubescapeSettingsFromEnv({
    KUBESCAPE_ARTIFACTS_DIR: BUNDLED_ARTIFACTS_DIR,
    KUBESCAPE_NSA_THRESHOLD: '75.5',
    KUBESCAPE_STRATEGY: 'split',
    KUBESCAPE_CONCURRENCY: '4',
    KUBESCAPE_CLUSTER_SCOPE: 'false',
    KUBESCAPE_BIN: '/bin/sh',
  });
  assert.equal(
    [ok.artifactsDir, ok.thresholds.nsa, ok.strategy, ok.concurrency, ok.clusterScope, ok.bin],
    [BUNDLED_ARTIFACTS_DIR, 75.5, 'split', 4, false, '/bin/sh'],
  );
  const bad: [string, string][] = [
    ['KUBESCAPE_BIN', '/nonexistent/kubescape'],
    ['KUBESCAPE_ARTIFACTS_DIR', '/nonexistent/artifacts'],
    ['KUBESCAPE_ARTIFACTS_DIR', ROOT],
    ['KUBESCAPE_TIMEOUT_MS', '10'],
    ['KUBESCAPE_TIMEOUT_MS', 'soon'],
    ['KUBESCAPE_NSA_THRESHOLD', '101'],
    ['KUBESCAPE_MITRE_THRESHOLD', '-1'],
    ['KUBESCAPE_STRATEGY', 'fast'],
    ['KUBESCAPE_CONCURRENCY', '0'],
    ['KUBESCAPE_CLUSTER_SCOPE', 'yes'],
  ];
  for (const [name, value] of bad) {
    try {
      kubescapeSettingsFromEnv({ [name]: value });
      assert.unreachable(`${name}=${value} accepted`);
    } catch (e) {
      assert.instance(e, ScanError, `${name}=${value}`);
      assert.is((e as ScanError).status, 422);
      assert.is((e as ScanError).info.setting, name);
      assert.match((e as ScanError).message, name);
    }
  }
});

t('through HTTP, a bad setting is a 422 naming the variable, before anything runs', async () => {
  const saved = process.env.KUBESCAPE_STRATEGY;
  process.env.KUBESCAPE_STRATEGY = 'fastest';
  try {
    const res = await scanApp(kubescapeScan()).request('/kubescape_scan?mode=full');
    assert.is(res.status, 422);
    const body: any = await res.json();
    assert.is(body.error.setting, 'KUBESCAPE_STRATEGY');
    assert.match(body.error.message, /KUBESCAPE_STRATEGY must be 'split' or 'per-namespace'; got 'fastest'/);
    const bad = await scanApp(kubescapeScan()).request('/kubescape_scan?mode=medium');
    assert.is(bad.status, 400);
  } finally {
    if (saved === undefined) delete process.env.KUBESCAPE_STRATEGY;
    else process.env.KUBESCAPE_STRATEGY = saved;
  }
});

t('artifacts that kubescape would replace by a download or silently ignore are refused, naming the file', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ks-art-test-'));
  try {
    cpSync(BUNDLED_ARTIFACTS_DIR, dir, { recursive: true });
    checkArtifacts(dir);
    const cases: [string, string, RegExp][] = [
      ['nsa.json', '{"name": "NSA"', /nsa\.json is not valid JSON/],
      ['mitre.json', '{"name": "NSA", "controls": []}', /mitre\.json is not kubescape's MITRE framework/],
      ['exceptions.json', '[{', /exceptions\.json is not valid JSON/],
      ['controls-inputs.json', 'nope', /controls-inputs\.json is not valid JSON/],
    ];
    for (const [file, text, re] of cases) {
      const good = readFileSync(join(dir, file), 'utf8');
      writeFileSync(join(dir, file), text);
      try {
        kubescapeSettingsFromEnv({ KUBESCAPE_ARTIFACTS_DIR: dir });
        assert.unreachable(file);
      } catch (e) {
        assert.instance(e, ScanError, file);
        assert.is((e as ScanError).info.setting, 'KUBESCAPE_ARTIFACTS_DIR');
        assert.is((e as ScanError).info.file, join(dir, file));
        assert.match((e as ScanError).message, re);
      }
      writeFileSync(join(dir, file), good);
    }
    rmSync(join(dir, 'mitre.json'));
    assert.throws(() => kubescapeSettingsFromEnv({ KUBESCAPE_ARTIFACTS_DIR: dir }), /mitre\.json is missing/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

t('an unreachable API server: one 503 naming the server (kubescape never starts: no tool_failed per namespace)', async () => {
  const settings = {
    topology: { metadata: { path: DEMO_METADATA, setting: 'STACK_METADATA' } },
    kubeconfig: join(ROOT, 'test/fixtures/kubeconfig-unreachable.yaml'),
    artifactsDir: BUNDLED_ARTIFACTS_DIR,
    runTimeoutMs: 10_000,
    thresholds: { nsa: 70, mitre: 60 },
    strategy: 'per-namespace' as const,
    concurrency: 2,
    clusterScope: true,
    bin: '/nonexistent/stack-scan/kubescape',
  };
  const res = await scanApp(kubescapeScan(settings)).request('/kubescape_scan?mode=light');
  assert.is(res.status, 503);
  const body = await res.json();
  assert.is(body.error.code, 'cluster_unreachable');
  assert.match(body.error.message, /127\.0\.0\.1:9/);
});

// A missing kubescape needs a reachable API server now: test/integration/kubescape-scan.test.ts.

t('the bundled artifacts are complete and licensed', () => {
  for (const f of ['nsa.json', 'mitre.json', 'exceptions.json', 'controls-inputs.json', 'attack-tracks.json', 'LICENSE'])
    assert.ok(existsSync(join(BUNDLED_ARTIFACTS_DIR, f)), f);
});

t.run();
