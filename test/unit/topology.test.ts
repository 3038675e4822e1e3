import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { join } from 'node:path';
import { ScanError } from '../../lib/errors.ts';
import { deriveExpected, loadManifest, loadNetworkPolicyDir } from '../../lib/topology/expected.ts';
import { loadStackMetadata } from '../../lib/topology/stack-metadata.ts';
import { loadTopologyAndPolicies, topologySettings } from '../../lib/topology/settings.ts';
import { TYPE_RULES } from '../../lib/topology/stacktic-rules.ts';
import { renderSpec } from '../../lib/topology/render.ts';
import { demoPolicyFiles, DEMO_METADATA, DEMO_POLICIES } from '../../demo/stack/generate.ts';
import { readdirSync, readFileSync } from 'node:fs';

const FIX = join(import.meta.dirname, '../fixtures');
const ref = (path: string) => ({ path, setting: 'STACK_METADATA' });

async function rejects(p: Promise<unknown>): Promise<ScanError> {
  try {
    await p;
  } catch (err) {
    assert.instance(err, ScanError);
    return err as ScanError;
  }
  throw new Error('expected a rejection');
}

const meta = suite('topology: stack-metadata.yaml');

meta('the demo stack: components, sub-component links, ports from the metadata only', async () => {
  const t = await loadStackMetadata(ref(DEMO_METADATA));
  assert.is(t.stack, 'demo_shop');
  assert.is(t.domain, 'shop.example.test');
  assert.equal(t.namespaces, ['cert-manager', 'grafana', 'ingress-apisix', 'minio', 'postgresql', 'prometheus', 'shop', 'strimzi']);
  const summary = t.links.map(
    (l) => `${l.from}${l.fromSubComponent ? `/${l.fromSubComponent}` : ''}>${l.to}${l.toSubComponent ? `/${l.toSubComponent}` : ''}:${l.port}`,
  );
  assert.equal(summary, [
    'apisix>shop:3000',
    'apisix>minio:9000',
    'apisix>kafka/bridge:null', // the bridge listens on its own port, which the metadata does not give: never kafka's 9092
    'shop>postgresql/orders:5432', // a database is served on its parent's port
    'shop>minio/shop-assets:9000',
    'kafka/orders-events>minio/events-archive:9000', // declared under sub_components.orders-events.links_to
    'prometheus>postgresql:5432',
    'prometheus>kafka:9092',
    'grafana>prometheus:null', // prometheus declares no port
  ]);
  const sub = t.links.find((l) => l.fromSubComponent === 'orders-events')!;
  assert.equal(
    [sub.fromNamespace, sub.toNamespace, sub.fromType, sub.toType, sub.toSubComponentType, sub.declaredAt],
    ['strimzi', 'minio', 'kafka', 'minio', 'bucket', 'default_context.components.kafka.sub_components.orders-events.links_to.events-archive'],
  );
  assert.ok(t.warnings.some((w) => w.includes('links_to.bridge') && w.includes('listens on its own port') && w.includes("never kafka's")));
  assert.ok(t.warnings.some((w) => w.includes('grafana.links_to.prometheus') && w.includes('declares no port')));
  assert.equal(
    t.routes.map((r) => `${r.host}>${r.component}:${r.port}`),
    ['shop.shop.example.test>shop:3000', 'minio.shop.example.test>minio:9000', 'events.shop.example.test>kafka:null'],
  );
  assert.equal(t.components.find((c) => c.name === 'kafka')!.subs, [
    { name: 'orders-events', type: 'topic' },
    { name: 'bridge', type: 'bridge' },
  ]);
});

meta('edge cases: sub-component links, missing ports, components without a namespace', async () => {
  const t = await loadStackMetadata(ref(join(FIX, 'topology/edge-cases.yaml')));
  assert.is(t.stack, 'Edge Stack');
  assert.equal(t.namespaces, ['cache', 'cert-manager', 'ingress-apisix', 'pg', 'web']);
  const floating = t.components.find((c) => c.name === 'floating')!;
  assert.is(floating.namespace, null);
  assert.equal(floating.ports, [9000]);
  const web = t.components.find((c) => c.name === 'web')!;
  assert.equal(web.ports, [8080]);
  assert.is(web.attributes.network_policy, false);
  const pgLink = t.links.find((l) => l.to === 'pg')!;
  // cnpg declares no port: its default (5432) is a scan target, never a link port.
  assert.equal([pgLink.toSubComponent, pgLink.fromNamespace, pgLink.toNamespace, pgLink.port], ['orders-db', 'web', 'pg', null]);
  assert.equal(t.components.find((c) => c.name === 'pg')!.ports, [5432]);
  assert.ok(t.warnings.some((w) => w.includes('components.pg.attributes.port is missing') && w.includes('expected policies do not')));
  const cacheLink = t.links.find((l) => l.to === 'cache')!;
  assert.is(cacheLink.port, null, 'unknown type without a port: no port, never a guess');
  assert.ok(t.warnings.some((w) => w.includes('links_to.cache') && w.includes('declares no port')));
  assert.ok(t.warnings.some((w) => w.includes("target 'ghost' is not a component")));
  assert.ok(t.warnings.some((w) => w.includes('links_to.floating') && w.includes('floating has no namespace')));
  assert.ok(t.warnings.some((w) => w.includes('components.floating.attributes.namespace is missing')));
  assert.equal(t.routes, [{ host: 'www.example.test', component: 'web', namespace: 'web', port: 8080 }]);
});

meta('duplicate keys are read leniently: last value wins, each reported with its line and column', async () => {
  const t = await loadStackMetadata(ref(join(FIX, 'topology/duplicate-keys.yaml')));
  assert.equal(t.components[0].ports, [8080]);
  const dups = t.warnings.filter((w) => w.includes("duplicate key 'port'"));
  assert.is(dups.length, 2);
  assert.ok(dups[0].includes('duplicate-keys.yaml:9:9:'), dups[0]);
  assert.ok(dups[1].includes('duplicate-keys.yaml:10:9:'), dups[1]);
});

meta('missing file names the path and the setting', async () => {
  const err = await rejects(loadStackMetadata(ref('/nonexistent/stack-metadata.yaml')));
  assert.is(err.status, 422);
  assert.is(err.info.file, '/nonexistent/stack-metadata.yaml');
  assert.is(err.info.setting, 'STACK_METADATA');
  assert.match(err.message, /does not exist; set STACK_METADATA/);
});

meta('unparsable YAML gives file, line, column and reason', async () => {
  const err = await rejects(loadStackMetadata(ref(join(FIX, 'topology/bad-syntax.yaml'))));
  assert.is(err.info.code, 'yaml_syntax');
  assert.is(err.info.line, 5);
  assert.type(err.info.column, 'number');
  assert.match(err.message, /bad-syntax\.yaml:5:\d+: invalid YAML: /);
});

meta('schema violations list every offending path', async () => {
  const err = await rejects(loadStackMetadata(ref(join(FIX, 'topology/bad-schema.yaml'))));
  assert.is(err.info.code, 'schema_violation');
  const paths = err.info.details!.map((d) => d.path).sort();
  assert.equal(paths, ['default_context.components.api.type', 'default_context.components.db.links_to.x.component', 'default_context.components.db.type']);
});

const exp = suite('topology: expected NetworkPolicies');

exp('derived for the demo stack with the generator table', async () => {
  const t = await loadStackMetadata(ref(DEMO_METADATA));
  const e = deriveExpected(t, DEMO_METADATA);
  assert.is(e.source, 'stack-metadata');
  const by = (cat: string) => e.policies.filter((p) => p.category === cat);
  assert.is(by('default-deny').length, 0, 'Stacktic writes no default-deny: the `all` policies isolate');
  assert.is(by('intra-namespace').length, 16, 'all ingress + all egress in 8 namespaces');
  // 3 system exceptions per namespace; cert-manager 2, prometheus 3 app exceptions; apisix → minio console 2.
  assert.is(by('exception').length, 24 + 2 + 3 + 2);
  assert.is(by('link').length, 14, '7 links with a port, egress + ingress each');
  assert.equal(
    by('internet')
      .map((p) => `${p.namespace}:${p.direction}:${p.ports.map((x) => x.port).join('-')}`)
      .sort(),
    [
      'cert-manager:egress:80-443',
      'grafana:egress:80-443-9090',
      'grafana:ingress:3000-9090',
      'ingress-apisix:egress:80-443',
      'ingress-apisix:ingress:2379-2380-8080-9000-9080-9180-9443',
      'prometheus:egress:80-443',
      'prometheus:ingress:3000-9090',
    ],
  );
  const egress = e.policies.find((p) => p.name === 'strimzi--to--minio--egress--ports--9000')!;
  assert.equal(
    [egress.namespace, egress.peer, egress.ports, egress.link],
    ['strimzi', { namespace: 'minio', label: 'stacktic.io/namespace' }, [{ protocol: 'TCP', port: 9000 }], { from: 'kafka', to: 'minio' }],
  );
  const dns = e.policies.find((p) => p.name === 'shop--exception--system--egress--ports--53')!;
  assert.equal(
    [dns.peer, dns.ports],
    [
      { namespace: 'kube-system', label: 'kubernetes.io/metadata.name' },
      [
        { protocol: 'TCP', port: 53 },
        { protocol: 'UDP', port: 53 },
      ],
    ],
  );
  assert.equal(
    e.policies.filter((p) => p.name === 'shop--exception--system--egress--ports--443').map((p) => (p.peer as { namespace: string }).namespace),
    ['kube-system', 'default'],
  );
  assert.equal(e.unknownTypes, [{ type: 'flowise', components: ['shop'] }]);
  assert.ok(e.warnings!.some((w) => w.includes("component type 'flowise' (shop) is not in the derivation table")));
});

exp('demo/stack/networkpolicy/ is exactly what the derivation generates (npx tsx demo/stack/generate.ts)', async () => {
  const want = await demoPolicyFiles();
  const have = readdirSync(DEMO_POLICIES).sort();
  assert.equal(have, [...want.keys()].sort());
  for (const f of have) assert.is(readFileSync(join(DEMO_POLICIES, f), 'utf8'), want.get(f), f);
  // And the directory loader reads each back to the derived spec.
  const t = await loadStackMetadata(ref(DEMO_METADATA));
  const derived = deriveExpected(t, DEMO_METADATA).policies;
  const dir = await loadNetworkPolicyDir({ path: DEMO_POLICIES, setting: 'NETWORKPOLICY_DIR' });
  assert.is(dir.policies.length, derived.length);
  assert.equal(dir.warnings, []);
  const stack = new Set(t.namespaces);
  for (const d of dir.policies) {
    const twins = derived.filter((x) => x.namespace === d.namespace && x.name === d.name);
    assert.ok(
      twins.some((x) => JSON.stringify(renderSpec(x, stack)) === JSON.stringify(d.origin!.spec)),
      d.name,
    );
  }
});

exp('a link whose target declares no port gets no link policy (as Stacktic)', async () => {
  const t = await loadStackMetadata(ref(join(FIX, 'topology/edge-cases.yaml')));
  const e = deriveExpected(t, 'x');
  assert.not.ok(e.policies.some((p) => p.category === 'link' && (p.name.includes('--cache--') || p.name.includes('--pg--'))));
  // gw (apisix) → web (port 8080): both link policies.
  assert.ok(e.policies.some((p) => p.name === 'ingress-apisix--to--web--egress--ports--8080'));
  assert.ok(e.policies.some((p) => p.name === 'web--from--ingress-apisix--ingress--ports--8080'));
});

exp('every known type in the table has evidence; unknown types are not guessed', () => {
  for (const [type, rules] of TYPE_RULES) for (const r of rules) assert.ok(r.evidence.length > 0, `${type}/${r.id}`);
  assert.is(TYPE_RULES.get('constructor'), undefined);
  assert.is(TYPE_RULES.get('argo_cd'), undefined);
});

exp('manifest: a valid file loads with defaults applied', async () => {
  const e = await loadManifest({ path: join(FIX, 'manifest/valid.json'), setting: 'NETWORKPOLICY_MANIFEST' });
  assert.is(e.source, 'manifest');
  assert.is(e.policies.length, 5);
  assert.equal(e.policies[0].ports, []);
  assert.equal(e.policies[2].ports, [
    { protocol: 'UDP', port: 53 },
    { protocol: 'TCP', port: 53 },
  ]);
});

exp('manifest: every schema violation is listed by path, never with the value', async () => {
  const err = await rejects(loadManifest({ path: join(FIX, 'manifest/invalid.json'), setting: 'NETWORKPOLICY_MANIFEST' }));
  assert.is(err.info.code, 'schema_violation');
  assert.is(err.info.setting, 'NETWORKPOLICY_MANIFEST');
  const paths = new Set(err.info.details!.map((d) => d.path));
  for (const p of [
    'policies.0.name',
    'policies.0.ports.0.protocol',
    'policies.0.ports.0.port',
    'policies.1.direction',
    'policies.2.peer.ipBlock.cidr',
    'policies.2.extra',
  ]) {
    assert.ok(paths.has(p), `missing ${p} in ${[...paths].join(', ')}`);
  }
  assert.ok(
    err.info.details!.some((d) => d.path === 'policies.3' && /link is required/.test(d.message)),
    'link category without link',
  );
  assert.ok(
    err.info.details!.some((d) => d.path === 'policies.4' && /default-deny policy has no peer/.test(d.message)),
    'default-deny with a peer',
  );
  assert.not.match(err.message, /but received/);
});

exp('manifest: malformed JSON names file, line and column', async () => {
  const err = await rejects(loadManifest({ path: join(FIX, 'manifest/malformed.json'), setting: 'NETWORKPOLICY_MANIFEST' }));
  assert.is(err.info.code, 'json_syntax');
  assert.is(err.info.line, 3);
  assert.type(err.info.column, 'number');
  assert.match(err.message, /malformed\.json:3:\d+: invalid JSON/);
});

exp('settings: precedence manifest > directory > beside files > derivation, with the reason', async () => {
  const err = await rejects(
    loadTopologyAndPolicies(topologySettings({ STACK_METADATA: DEMO_METADATA, NETWORKPOLICY_MANIFEST: '/nope/networkpolicy-manifest.json' })),
  );
  assert.is(err.info.setting, 'NETWORKPOLICY_MANIFEST');
  const dirErr = await rejects(loadTopologyAndPolicies(topologySettings({ STACK_METADATA: DEMO_METADATA, NETWORKPOLICY_DIR: '/nope/networkpolicy' })));
  assert.is(dirErr.info.setting, 'NETWORKPOLICY_DIR');
  const beside = await loadTopologyAndPolicies(topologySettings({ STACK_METADATA: DEMO_METADATA }));
  assert.equal([beside.expected.source, beside.expected.reason], ['networkpolicy-dir', 'networkpolicy/ found beside the metadata']);
  const manifest = await loadTopologyAndPolicies(
    topologySettings({ STACK_METADATA: DEMO_METADATA, NETWORKPOLICY_MANIFEST: join(FIX, 'manifest/valid.json'), NETWORKPOLICY_DIR: DEMO_POLICIES }),
  );
  assert.is(manifest.expected.source, 'manifest');
  const derived = await loadTopologyAndPolicies(topologySettings({ STACK_METADATA: join(FIX, 'topology/edge-cases.yaml') }));
  assert.is(derived.expected.source, 'stack-metadata');
  assert.match(derived.expected.reason!, /derived from the metadata/);
});

meta.run();
exp.run();
