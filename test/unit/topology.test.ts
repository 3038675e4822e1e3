import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { join } from 'node:path';
import { ScanError } from '../../lib/errors.ts';
import { deriveExpected, loadManifest } from '../../lib/topology/expected.ts';
import { loadStackMetadata } from '../../lib/topology/stack-metadata.ts';
import { loadTopologyAndPolicies, topologySettings } from '../../lib/topology/settings.ts';

const SHARED = join(import.meta.dirname, '../../../shared/samples/stacktic/llama_base/stack-metadata.yaml');
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

meta('reads the real Llama_base sample', async () => {
  const t = await loadStackMetadata(ref(SHARED));
  assert.is(t.stack, 'Llama Sample');
  assert.is(t.domain, 'my_domain');
  assert.equal(t.namespaces, ['argocd', 'cert-manager', 'cnpg', 'flowise', 'ingress-apisix', 'llama', 'minio', 'qdrant', 'redis']);
  const flowise = t.components.find((c) => c.name === 'flowise')!;
  assert.equal([flowise.type, flowise.namespace, flowise.ports], ['flowise', 'flowise', [3000]]);
  assert.equal(t.components.find((c) => c.name === 'cnpg')!.subComponents, ['flowise']);
  const summary = t.links.map((l) => `${l.from}>${l.to}${l.toSubComponent ? `(${l.toSubComponent})` : ''}:${l.toNamespace}:${l.port}`);
  assert.equal(summary, [
    'llama>minio(bucket-llama):minio:9000',
    'flowise>minio(bucket-flowise):minio:9000',
    'flowise>cnpg(flowise):cnpg:5432',
    'flowise>redis:redis:6379',
    'apisix>flowise:flowise:3000',
    'apisix>minio:minio:9000',
  ]);
  assert.equal(t.routes, [
    { host: 'flowise.my_domain', component: 'flowise', namespace: 'flowise', port: 3000 },
    { host: 'minio.my_domain', component: 'minio', namespace: 'minio', port: 9000 },
  ]);
  // redis declares no port: the documented default is used and reported.
  assert.ok(t.warnings.some((w) => w.includes('components.redis.attributes.port is missing') && w.includes('6379')));
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
  assert.equal(pgLink, { from: 'web', to: 'pg', toSubComponent: 'orders-db', type: 'web-db', fromNamespace: 'web', toNamespace: 'pg', port: 5432, protocol: 'TCP' });
  const cacheLink = t.links.find((l) => l.to === 'cache')!;
  assert.is(cacheLink.port, null, 'unknown type without a port: no port, never a guess');
  assert.ok(t.warnings.some((w) => w.includes('links_to.cache') && w.includes('declares no port')));
  assert.ok(t.warnings.some((w) => w.includes("target 'ghost' is not a component")));
  assert.ok(t.warnings.some((w) => w.includes('links_to.floating') && w.includes('floating has no namespace')));
  assert.ok(t.warnings.some((w) => w.includes('components.floating.attributes.namespace is missing')));
  assert.equal(t.routes, [{ host: 'www.example.test', component: 'web', namespace: 'web', port: 8080 }]);
});

meta('duplicate keys are read leniently: last value wins, each reported with its line', async () => {
  const t = await loadStackMetadata(ref(join(FIX, 'topology/duplicate-keys.yaml')));
  assert.equal(t.components[0].ports, [8080]);
  const dups = t.warnings.filter((w) => w.includes("duplicate key 'port'"));
  assert.is(dups.length, 2);
  assert.ok(dups[0].includes('duplicate-keys.yaml:9:'));
  assert.ok(dups[1].includes('duplicate-keys.yaml:10:'));
});

meta('missing file names the path and the setting', async () => {
  const err = await rejects(loadStackMetadata(ref('/nonexistent/stack-metadata.yaml')));
  assert.is(err.status, 422);
  assert.is(err.info.file, '/nonexistent/stack-metadata.yaml');
  assert.is(err.info.setting, 'STACK_METADATA');
  assert.match(err.message, /does not exist; set STACK_METADATA/);
});

meta('unparsable YAML gives file, line and reason', async () => {
  const err = await rejects(loadStackMetadata(ref(join(FIX, 'topology/bad-syntax.yaml'))));
  assert.is(err.info.code, 'yaml_syntax');
  assert.is(err.info.line, 5);
  assert.match(err.message, /bad-syntax\.yaml:5:\d+: invalid YAML: /);
});

meta('schema violations list every offending path', async () => {
  const err = await rejects(loadStackMetadata(ref(join(FIX, 'topology/bad-schema.yaml'))));
  assert.is(err.info.code, 'schema_violation');
  const paths = err.info.details!.map((d) => d.path).sort();
  assert.equal(paths, ['default_context.components.api.type', 'default_context.components.db.links_to.x.component', 'default_context.components.db.type']);
});

const exp = suite('topology: expected NetworkPolicies');

exp('derived from the sample with Stacktic generator rules', async () => {
  const t = await loadStackMetadata(ref(SHARED));
  const e = deriveExpected(t, SHARED);
  assert.is(e.source, 'stack-metadata');
  const by = (cat: string) => e.policies.filter((p) => p.category === cat);
  assert.is(by('default-deny').length, 18, 'ingress + egress deny in 9 namespaces');
  assert.is(by('intra-namespace').length, 18);
  assert.is(by('exception').length, 18, 'DNS and API egress per namespace');
  assert.is(by('link').length, 12, '6 links, egress + ingress each');
  // apisix 80/443 both ways; argo_cd and cert_manager egress 443.
  assert.equal(by('internet').map((p) => `${p.namespace}:${p.direction}:${p.ports.map((x) => x.port).join('-')}`).sort(), [
    'argocd:egress:443',
    'cert-manager:egress:443',
    'ingress-apisix:egress:80-443',
    'ingress-apisix:ingress:80-443',
  ]);
  const egress = e.policies.find((p) => p.name === 'flowise--to--redis--egress--ports--6379')!;
  assert.equal(egress, { name: 'flowise--to--redis--egress--ports--6379', namespace: 'flowise', category: 'link', direction: 'egress', peer: { namespace: 'redis' }, ports: [{ protocol: 'TCP', port: 6379 }], link: { from: 'flowise', to: 'redis' } });
  const ingress = e.policies.find((p) => p.name === 'redis--from--flowise--ingress--ports--6379')!;
  assert.equal([ingress.namespace, ingress.peer], ['redis', { namespace: 'flowise' }]);
  const dns = e.policies.find((p) => p.name === 'redis--exception--system--egress--ports--53')!;
  assert.equal([dns.peer, dns.ports], [{ namespace: 'kube-system' }, [{ protocol: 'UDP', port: 53 }, { protocol: 'TCP', port: 53 }]]);
  assert.equal(e.policies.find((p) => p.name === 'redis--exception--system--egress--ports--443')!.peer, { namespace: 'default' });
});

exp('a link without a port expects any port', async () => {
  const t = await loadStackMetadata(ref(join(FIX, 'topology/edge-cases.yaml')));
  const e = deriveExpected(t, 'x');
  const p = e.policies.find((x) => x.name === 'web--to--cache--egress--ports--all')!;
  assert.equal(p.ports, []);
});

exp('manifest: a valid file loads with defaults applied', async () => {
  const e = await loadManifest({ path: join(FIX, 'manifest/valid.json'), setting: 'NETWORKPOLICY_MANIFEST' });
  assert.is(e.source, 'manifest');
  assert.is(e.policies.length, 5);
  assert.equal(e.policies[0].ports, []);
  assert.equal(e.policies[2].ports, [{ protocol: 'UDP', port: 53 }, { protocol: 'TCP', port: 53 }]);
});

exp('manifest: every schema violation is listed by path', async () => {
  const err = await rejects(loadManifest({ path: join(FIX, 'manifest/invalid.json'), setting: 'NETWORKPOLICY_MANIFEST' }));
  assert.is(err.info.code, 'schema_violation');
  assert.is(err.info.setting, 'NETWORKPOLICY_MANIFEST');
  const paths = new Set(err.info.details!.map((d) => d.path));
  for (const p of ['policies.0.name', 'policies.0.ports.0.protocol', 'policies.0.ports.0.port', 'policies.1.direction', 'policies.2.peer.ipBlock.cidr', 'policies.2.extra']) {
    assert.ok(paths.has(p), `missing ${p} in ${[...paths].join(', ')}`);
  }
  assert.ok(err.info.details!.some((d) => d.path === 'policies.3' && /link is required/.test(d.message)), 'link category without link');
  assert.ok(err.info.details!.some((d) => d.path === 'policies.4' && /default-deny policy has no peer/.test(d.message)), 'default-deny with a peer');
});

exp('manifest: malformed JSON names file, line and column', async () => {
  const err = await rejects(loadManifest({ path: join(FIX, 'manifest/malformed.json'), setting: 'NETWORKPOLICY_MANIFEST' }));
  assert.is(err.info.code, 'json_syntax');
  assert.is(err.info.line, 3);
  assert.match(err.message, /malformed\.json:3:\d+: invalid JSON/);
});

exp('settings: an explicit manifest must exist; otherwise derive and say so', async () => {
  const err = await rejects(loadTopologyAndPolicies(topologySettings({ STACK_METADATA: SHARED, NETWORKPOLICY_MANIFEST: '/nope/networkpolicy-manifest.json' })));
  assert.is(err.info.setting, 'NETWORKPOLICY_MANIFEST');
  const { expected } = await loadTopologyAndPolicies(topologySettings({ STACK_METADATA: SHARED }));
  assert.is(expected.source, 'stack-metadata');
});

meta.run();
exp.run();
