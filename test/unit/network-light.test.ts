import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { join } from 'node:path';
import { deriveExpected } from '../../lib/topology/expected.ts';
import { loadStackMetadata } from '../../lib/topology/stack-metadata.ts';
import type { NamespaceInfo, NetworkPolicy } from '../../functions/network-scan/engine.ts';
import { judgeLight, peerKey } from '../../functions/network-scan/light.ts';
import { renderPolicy, STACK_NAMESPACE_LABEL } from '../../functions/network-scan/render.ts';

const SHARED = join(import.meta.dirname, '../../../shared/samples/stacktic/llama_base/stack-metadata.yaml');
const topo = await loadStackMetadata({ path: SHARED, setting: 'STACK_METADATA' });
const expected = deriveExpected(topo, SHARED);
const stackNs = new Set(topo.namespaces);
const namespaces: NamespaceInfo[] = [
  ...topo.namespaces.map((n) => ({ name: n, labels: { [STACK_NAMESPACE_LABEL]: n } })),
  { name: 'kube-system', labels: {} },
  { name: 'default', labels: {} },
];
/** The cluster as Stacktic would have generated it, with the generator's --nrNN suffixes. */
const generated = (): NetworkPolicy[] =>
  expected.policies.map((e, i) => {
    const p = renderPolicy(e, stackNs);
    return { ...p, metadata: { ...p.metadata, name: `${e.name}--nr${i + 1}` } };
  });
const named = (list: NetworkPolicy[], prefix: string) => list.findIndex((p) => p.metadata!.name!.startsWith(prefix));

const s = suite('network light: expected vs cluster');

s('a cluster exactly as generated scores 100, every link bidirectional', () => {
  const r = judgeLight(topo, expected, { policies: generated(), namespaces });
  assert.is(r.score, 100);
  assert.is(r.summary.found, expected.policies.length);
  assert.equal([r.summary.missing, r.summary.drifted, r.summary.extra, r.summary.empty_selectors], [0, 0, 0, 0]);
  assert.is(r.summary.links, 6);
  assert.is(r.summary.links_bidirectional, 6);
  assert.is(r.summary.links_allowed_live, 6, 'the live policies really allow every link');
  assert.equal(r.results.categories['link'], { expected: 12, found: 12 });
  assert.is(r.results.expected[0].cluster_name, `${expected.policies[0].name}--nr1`);
});

s('missing, drifted, extra, renamed and an empty selector are each reported', () => {
  const cluster = generated();
  // missing: the ingress half of flowise → redis
  cluster.splice(named(cluster, 'redis--from--flowise'), 1);
  // drifted: the flowise → cnpg egress now allows the wrong port
  const i = named(cluster, 'flowise--to--cnpg');
  cluster[i] = { ...cluster[i], spec: { ...cluster[i].spec, egress: [{ to: cluster[i].spec!.egress![0].to, ports: [{ protocol: 'TCP', port: 5433 }] }] } };
  // renamed: same spec, another name
  const j = named(cluster, 'llama--to--minio');
  cluster[j] = { ...cluster[j], metadata: { ...cluster[j].metadata, name: 'allow-llama-to-minio' } };
  // extra
  cluster.push({ metadata: { name: 'debug-allow-all', namespace: 'redis' }, spec: { podSelector: {}, ingress: [{}] } });
  // outside the stack: ignored
  cluster.push({ metadata: { name: 'unrelated', namespace: 'kube-system' }, spec: { podSelector: {} } });
  // minio lacks its stacktic label: every stacktic-label selector for minio selects nothing
  const ns = namespaces.map((n) => (n.name === 'minio' ? { name: 'minio', labels: {} } : n));

  const r = judgeLight(topo, expected, { policies: cluster, namespaces: ns });
  const status = (name: string) => r.results.expected.find((x) => x.name === name)!;
  assert.is(status('redis--from--flowise--ingress--ports--6379').status, 'missing');
  const drifted = status('flowise--to--cnpg--egress--ports--5432');
  assert.is(drifted.status, 'drifted');
  assert.equal(drifted.drift, ['no egress rule allows namespace cnpg on TCP/5432']);
  const renamed = status('llama--to--minio--egress--ports--9000');
  assert.equal([renamed.status, renamed.cluster_name], ['renamed', 'allow-llama-to-minio']);
  assert.equal(r.results.extra, [{ name: 'debug-allow-all', namespace: 'redis' }]);
  assert.equal(r.summary.missing + r.summary.drifted, 2);
  assert.is(r.score, Math.round((1000 * (expected.policies.length - 2)) / expected.policies.length) / 10);
  assert.equal(r.results.missing_by_namespace, {
    redis: [{ name: 'redis--from--flowise--ingress--ports--6379', status: 'missing' }],
    flowise: [{ name: 'flowise--to--cnpg--egress--ports--5432', status: 'drifted' }],
  });
  const flowiseRedis = r.results.links.find((l) => l.from === 'flowise' && l.to === 'redis')!;
  const { live, ...cov } = flowiseRedis;
  assert.equal(cov, { from: 'flowise', to: 'redis', egress: 'found', ingress: 'missing', bidirectional: false });
  // The ingress policy is missing, yet the extra allow-all in redis lets the traffic in: the engine says so.
  assert.is(live!.allowed, true);
  assert.match(live!.ingress, /debug-allow-all/);
  // llama → minio exists on both sides, but minio lost its label: present, yet allowing nothing.
  assert.is(r.results.links.find((l) => l.from === 'llama' && l.to === 'minio')!.live!.allowed, false);
  assert.is(r.results.links.find((l) => l.from === 'flowise' && l.to === 'cnpg')!.live!.allowed, false, 'drifted port');
  assert.is(r.summary.links_bidirectional, 4);
  // minio's peers: llama→minio and flowise→minio egress (2) plus apisix→minio egress (1), and minio's own intra-namespace rules (2)
  const empties = r.results.empty_selectors.map((e) => `${e.namespace}/${e.policy}:${e.direction}`).sort();
  assert.is(empties.length, 5);
  assert.ok(empties.every((e) => e.includes('minio')));
  assert.match(r.results.empty_selectors[0].message, /no namespace has label stacktic\.io\/namespace=minio/);
});

s('drift reasons: policy types, pod selector, a default-deny that allows', () => {
  const cluster = generated();
  const a = named(cluster, 'flowise--default-deny--egress');
  cluster[a] = { ...cluster[a], spec: { podSelector: {}, policyTypes: ['Egress'], egress: [{}] } };
  const b = named(cluster, 'redis--all--redis--ingress');
  cluster[b] = { ...cluster[b], spec: { ...cluster[b].spec, podSelector: { matchLabels: { app: 'redis' } } } };
  const c = named(cluster, 'argo-cd--internet--any--egress');
  cluster[c] = { ...cluster[c], spec: { ...cluster[c].spec, policyTypes: ['Ingress'] } };
  const r = judgeLight(topo, expected, { policies: cluster, namespaces });
  const drift = (prefix: string) => r.results.expected.find((x) => x.name.startsWith(prefix))!.drift;
  assert.equal(drift('flowise--default-deny--egress'), ['has 1 egress rule(s); a default-deny has none']);
  assert.equal(drift('redis--all--redis--ingress'), ['podSelector selects only some pods; expected all pods ({})']);
  assert.equal(drift('argo-cd--internet--any--egress'), ['policyTypes lacks Egress']);
  assert.is(r.summary.drifted, 3);
});

s('a broader live policy still grants what is expected (no drift)', () => {
  const cluster = generated();
  const i = named(cluster, 'flowise--to--redis');
  cluster[i] = { ...cluster[i], spec: { podSelector: {}, policyTypes: ['Egress'], egress: [{ to: [{ namespaceSelector: {} }], ports: [{ protocol: 'TCP', port: 6000, endPort: 7000 }] }] } };
  const r = judgeLight(topo, expected, { policies: cluster, namespaces });
  assert.is(r.results.expected.find((x) => x.name.startsWith('flowise--to--redis'))!.status, 'found');
});

s('without the namespace list, selector checks are skipped, not guessed', () => {
  const r = judgeLight(topo, expected, { policies: generated(), namespaces: null });
  assert.is(r.summary.empty_selectors, 0);
  assert.equal(r.summary.namespaces_missing, []);
});

s('an empty expected set gives no score rather than a guess', () => {
  const r = judgeLight({ ...topo, namespaces: [], links: [] }, { source: 'manifest', file: 'x', policies: [] }, { policies: [], namespaces });
  assert.is(r.score, null);
});

s('peer keys: Stacktic and metadata-name selectors name the same namespace', () => {
  assert.is(peerKey({ namespaceSelector: { matchLabels: { [STACK_NAMESPACE_LABEL]: 'a' } } }, 'x'), 'ns:a');
  assert.is(peerKey({ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'a' } }, podSelector: {} }, 'x'), 'ns:a');
  assert.is(peerKey({ namespaceSelector: { matchExpressions: [{ key: 'kubernetes.io/metadata.name', operator: 'In', values: ['a'] }] } }, 'x'), 'ns:a');
  assert.is(peerKey({ podSelector: {} }, 'x'), 'ns:x');
  assert.is(peerKey({ ipBlock: { cidr: '0.0.0.0/0' } }, 'x'), 'any');
  assert.is(peerKey({ ipBlock: { cidr: '0.0.0.0/0', except: ['10.0.0.0/8'] } }, 'x'), 'ip:0.0.0.0/0!10.0.0.0/8');
  assert.match(peerKey({ podSelector: { matchLabels: { app: 'a' } } }, 'x'), /^other:/);
});

s.run();
