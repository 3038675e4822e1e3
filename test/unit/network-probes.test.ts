import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { join } from 'node:path';
import { deriveExpected } from '../../lib/topology/expected.ts';
import { loadStackMetadata } from '../../lib/topology/stack-metadata.ts';
import { endpointPort, planProbes, sample, bySource, targetListens, type ServiceInfo } from '../../functions/network-scan/probes/plan.ts';
import { judgeProbes, summarizeProbes, verdictFor } from '../../functions/network-scan/probes/judge.ts';
import { renderPolicy } from '../../lib/topology/render.ts';
import { STACK_NAMESPACE_LABEL } from '../../lib/topology/stacktic-rules.ts';
import { PolicyEngine } from '../../functions/network-scan/engine.ts';
import { NetworkScanCache } from '../../functions/network-scan/cache.ts';
import { internetEgress } from '../../functions/network-scan/scan.ts';
import type { ProbeResult } from '../../functions/network-scan/nmap/nmap.ts';
import { splitValidTargets } from '../../functions/network-scan/probes/execute.ts';

// The project's own demo stack (demo/stack), in Stacktic's format.
const SHARED = join(import.meta.dirname, '../../demo/stack/stack-metadata.yaml');
const topo = await loadStackMetadata({ path: SHARED, setting: 'STACK_METADATA' });
const stack = new Set(topo.namespaces);
const policies = deriveExpected(topo, SHARED).policies.map((e) => renderPolicy(e, stack));
const namespaces = [
  ...topo.namespaces.map((n) => ({ name: n, labels: { [STACK_NAMESPACE_LABEL]: n } })),
  { name: 'kube-system', labels: {} },
  { name: 'default', labels: {} },
];
const services: ServiceInfo[] = topo.components
  .filter((c) => c.ports.length)
  .map((c) => ({
    name: c.name,
    namespace: c.namespace!,
    ports: c.ports.map((p) => ({ port: p })),
    selector: { 'app.kubernetes.io/name': c.name },
    endpoints: 1,
  }));
services.push({ name: 'kube-dns', namespace: 'kube-system', ports: [{ port: 53 }], selector: { 'k8s-app': 'kube-dns' }, endpoints: 2 });
const base = { topology: topo, engine: new PolicyEngine(policies, namespaces), services, pods: [], internetEgress, maxNegative: 200, seed: 1 };

const s = suite('network full: probe plan and verdicts');

s('the plan covers every layer; the engine agrees with the generated policies', () => {
  const tests = planProbes({ ...base, externalTarget: '192.0.2.10' });
  const layers = (l: string) => tests.filter((t) => t.layer === l);
  assert.is(layers('link').length, 7, 'every link with a port (apisix→kafka and grafana→prometheus have none in the metadata)');
  assert.is(layers('exception').length, 16, 'DNS + kube-api from 8 namespaces');
  assert.is(layers('internet').length, 16);
  assert.is(layers('intra-namespace').length, 4, 'every component with a port');
  assert.ok(layers('negative').length > 10, `negative tests: ${layers('negative').length}`);
  // Generated Stacktic policies allow exactly what the topology expects, except the API exception: its
  // peer is the `default` namespace, but the API server is not a pod there (after the DNAT it is a node or
  // a managed control plane address), so only an ipBlock rule would open it. Seen on the real node too.
  for (const t of tests) {
    if (t.target.component === 'kubernetes') {
      const internet443 = topo.components.some((c) => c.namespace === t.source.namespace && !!internetEgress(c.type)?.ports.includes(443));
      assert.is(t.engine.allowed, internet443, `${t.id}: only an egress rule to everyone on 443 opens the API server`);
    } else assert.is(t.engine.allowed, t.expect === 'open', `${t.id}: engine ${t.engine.allowed}, expected ${t.expect}`);
  }
  const link = tests.find((t) => t.id === 'link:shop->postgresql:5432')!;
  assert.equal(
    [link.target.host, link.source.identity, link.source.labels],
    ['postgresql.postgresql.svc.cluster.local', 'service-selector', { 'app.kubernetes.io/name': 'shop' }],
  );
  assert.is(tests.find((t) => t.layer === 'internet' && t.source.namespace === 'cert-manager' && t.target.port === 443)!.expect, 'open');
  assert.is(
    tests.find((t) => t.layer === 'internet' && t.source.namespace === 'shop' && t.target.port === 443)!.expect,
    'blocked',
    'a flowise component has no internet exception',
  );
});

s('one nmap invocation per source: tests grouped by source', () => {
  const tests = planProbes(base);
  const groups = bySource(tests);
  assert.is(groups.size, new Set(tests.map((t) => `${t.source.namespace}/${t.source.component}`)).size);
  assert.is([...groups.values()].flat().length, tests.length);
});

s('negative tests: every unlinked pair in small stacks, a seeded reproducible sample in large ones', () => {
  const all = planProbes(base).filter((t) => t.layer === 'negative');
  const a = planProbes({ ...base, maxNegative: 5, seed: 7 })
    .filter((t) => t.layer === 'negative')
    .map((t) => t.id);
  const b = planProbes({ ...base, maxNegative: 5, seed: 7 })
    .filter((t) => t.layer === 'negative')
    .map((t) => t.id);
  const c = planProbes({ ...base, maxNegative: 5, seed: 8 })
    .filter((t) => t.layer === 'negative')
    .map((t) => t.id);
  assert.ok(all.length > 5);
  assert.ok(a.length <= 5 && a.length > 0);
  assert.equal(a, b);
  assert.not.equal(a, c);
  assert.equal(sample([1, 2, 3], 5, 1), [1, 2, 3]);
});

s('verdicts: PASS, FAIL with blocking analysis, SECURITY_RISK, BLOCKED, NO_SERVICE, UNDECIDED', () => {
  // Drop the postgresql ingress policy from the cluster: the engine then explains the block.
  const broken = policies.filter((p) => p.metadata.name !== 'postgresql--from--shop--ingress--ports--5432');
  const tests = planProbes({ ...base, engine: new PolicyEngine(broken, namespaces) });
  const pick = (id: string) => tests.find((t) => t.id === id)!;
  const link = pick('link:shop->postgresql:5432');
  const neg = tests.find((t) => t.layer === 'negative')!;
  const ok = pick('link:shop->minio:9000');
  const results = new Map<string, ProbeResult>([
    [link.id, { state: 'filtered', reason: 'no-response' }],
    [neg.id, { state: 'open', reason: 'syn-ack' }],
    [ok.id, { state: 'open', reason: 'syn-ack' }],
  ]);
  const f = judgeProbes(tests, results);
  const byId = (id: string) => f.find((x) => x.id === id)!;
  assert.is(byId(ok.id).verdict, 'PASS');
  const fail = byId(link.id);
  assert.is(fail.verdict, 'FAIL');
  assert.match(fail.analysis!, /ingress at postgresql: /);
  assert.is(fail.policy_mismatch, true, 'the live policies no longer allow what the topology expects');
  assert.is(byId(neg.id).verdict, 'SECURITY_RISK');
  assert.equal(verdictFor(neg, { state: 'filtered', reason: 'no-response' }).verdict, 'BLOCKED');
  assert.equal(verdictFor({ ...ok, serviceEndpoints: 0 }, { state: 'closed', reason: 'conn-refused' }).verdict, 'NO_SERVICE');
  assert.equal(verdictFor({ ...ok, serviceEndpoints: 'no-service' }, { state: 'closed', reason: 'conn-refused' }).verdict, 'NO_SERVICE');
  // kube-proxy drops traffic to a Service without endpoints: filtered says nothing about the policies.
  assert.equal(verdictFor({ ...neg, serviceEndpoints: 0 }, { state: 'filtered', reason: 'no-response' }).verdict, 'NO_SERVICE');
  assert.equal(verdictFor({ ...neg, serviceEndpoints: 0 }, { state: 'open', reason: 'syn-ack' }).verdict, 'SECURITY_RISK');
  // `closed` is decided by what the API says of the target (kube-router REJECTs look like a reset):
  assert.equal(verdictFor({ ...ok, targetListens: null }, { state: 'closed', reason: 'conn-refused' }).verdict, 'UNDECIDED');
  assert.equal(verdictFor({ ...ok, targetListens: true }, { state: 'closed', reason: 'conn-refused' }).verdict, 'FAIL');
  assert.equal(verdictFor({ ...neg, targetListens: true }, { state: 'closed', reason: 'conn-refused' }).verdict, 'BLOCKED');
  assert.match(verdictFor({ ...neg, targetListens: null, serviceEndpoints: null }, { state: 'closed', reason: 'conn-refused' }).reason, 'could not be read');
  assert.equal(verdictFor(ok, undefined).verdict, 'UNDECIDED');
});

s('most negative tests open: the CNI is probably not enforcing', () => {
  const tests = planProbes(base);
  const results = new Map<string, ProbeResult>(tests.map((t) => [t.id, { state: 'open', reason: 'syn-ack' }]));
  const sum = summarizeProbes(judgeProbes(tests, results));
  assert.is(sum.cni_enforcing, false);
  assert.match(sum.cni_message!, /CNI is probably not enforcing NetworkPolicy/);
  const good = new Map<string, ProbeResult>(tests.map((t) => [t.id, { state: t.expect === 'open' ? 'open' : 'filtered', reason: 'x' }]));
  const ok = summarizeProbes(judgeProbes(tests, good));
  assert.equal([ok.cni_enforcing, ok.pass_rate], [true, 100]);
});

s('services or pods that could not be read are unknown, never "no service"', () => {
  const tests = planProbes({ ...base, services: null, pods: null });
  assert.ok(tests.length > 0);
  assert.ok(tests.filter((t) => t.layer !== 'internet').every((t) => t.serviceEndpoints === null && t.targetListens === null));
  const t = tests.find((x) => x.layer === 'link')!;
  assert.is(verdictFor(t, { state: 'closed', reason: 'conn-refused' }).verdict, 'UNDECIDED');
});

s("a source without a running pod probes with its controller's pod template labels, else the Service selector", () => {
  const tpl = {
    kind: 'Deployment',
    name: 'shop',
    namespace: 'shop',
    labels: { 'app.kubernetes.io/name': 'shop', 'stacktic.io/imageSigned': 'true', 'app.kubernetes.io/part-of': 'demo' },
  };
  const withTpl = planProbes({ ...base, templates: [tpl] }).find((t) => t.id === 'link:shop->postgresql:5432')!;
  assert.equal([withTpl.source.identity, withTpl.source.template, withTpl.source.labels], ['pod-template', 'Deployment/shop', tpl.labels]);
  const other = planProbes({ ...base, templates: [{ ...tpl, labels: { 'app.kubernetes.io/name': 'other' } }] }).find(
    (t) => t.id === 'link:shop->postgresql:5432',
  )!;
  assert.is(other.source.identity, 'service-selector');
});

s('one bad target is rejected alone, with its reason', () => {
  const { valid, results } = splitValidTargets([
    { id: 'a', host: 'redis.redis.svc.cluster.local', port: 6379, protocol: 'TCP' },
    { id: 'b', host: 'bad name.ns.svc.cluster.local', port: 80, protocol: 'TCP' },
    { id: 'c', host: '-iL', port: 80, protocol: 'TCP' },
    { id: 'd', host: '10.0.0.7', port: 70000, protocol: 'TCP' },
    { id: 'e', host: '10.0.0.8', port: 443, protocol: 'TCP' },
  ]);
  assert.equal(
    valid.map((t) => t.id),
    ['a', 'e'],
  );
  assert.equal([...results.keys()], ['b', 'c', 'd']);
  for (const r of results.values()) assert.equal([r.state, r.reason.startsWith('target rejected: ')], ['unknown', true]);
});

s('the engine judges the endpoint port (after the DNAT), and the API server by its endpoint address', () => {
  const svc: ServiceInfo = { name: 'web', namespace: 'shop', ports: [{ port: 80, targetPort: 'http' }], selector: { app: 'web' }, endpoints: 1 };
  assert.is(endpointPort(svc, 80, [{ name: 'http', port: 8080 }]), 8080);
  assert.is(endpointPort({ ...svc, ports: [{ port: 80, targetPort: 8081 }] }, 80, undefined), 8081);
  assert.is(endpointPort({ ...svc, ports: [{ port: 80 }] }, 80, undefined), 80);
  const api: ServiceInfo = {
    name: 'kubernetes',
    namespace: 'default',
    ports: [{ port: 443, targetPort: 6443 }],
    selector: {},
    endpoints: 1,
    endpointIps: ['10.244.0.1'],
  };
  const t = planProbes({ ...base, services: [...services, api] }).find((x) => x.id === 'exception:shop->kubernetes:443')!;
  assert.equal([t.target.endpoint_port, t.targetListens, t.targetListensVia, t.engine.allowed], [6443, true, 'endpoint', false]);
  assert.match(verdictFor(t, { state: 'closed', reason: 'conn-refused' }).reason, 'without a selector) has a ready endpoint');
});

s('the light judgement is reused only while the expected set and every live object are unchanged', () => {
  const expected = {};
  const cache = new NetworkScanCache();
  const pol = (rv: string) => ({ metadata: { name: 'p', namespace: 'shop', uid: 'u1', resourceVersion: rv }, spec: {} });
  const ns = [{ name: 'shop', labels: { 'stacktic.io/namespace': 'shop' } }];
  let calls = 0;
  const judge = () => ({ n: ++calls }) as never;
  assert.is(cache.judgement(expected, { policies: [pol('1')], namespaces: ns }, judge).cached, false);
  assert.is(cache.judgement(expected, { policies: [pol('1')], namespaces: ns }, judge).cached, true);
  assert.is(cache.judgement(expected, { policies: [pol('2')], namespaces: ns }, judge).cached, false, 'a new resourceVersion');
  assert.is(cache.judgement(expected, { policies: [pol('2')], namespaces: [{ name: 'shop', labels: {} }] }, judge).cached, false, 'a namespace label changed');
  assert.is(cache.judgement(expected, { policies: [pol('2')], namespaces: null }, judge).cached, false, 'namespaces unreadable');
  assert.is(cache.judgement({}, { policies: [pol('2')], namespaces: ns }, judge).cached, false, 'another expected set (file version)');
  assert.is(calls, 5);
  // Objects without a server identity (no uid) are known by their content.
  const bare = (spec: object) => ({ policies: [{ metadata: { name: 'a', namespace: 'shop' }, spec }], namespaces: ns });
  assert.is(cache.judgement(expected, bare({}), judge).cached, false);
  assert.is(cache.judgement(expected, bare({}), judge).cached, true, 'the same content');
  assert.is(cache.judgement(expected, bare({ policyTypes: ['Ingress'] }), judge).cached, false, 'another content');
  assert.is(cache.judgement(expected, { policies: [pol('2'), pol('2')], namespaces: ns }, judge).cached, false, 'one more policy');
  assert.is(calls, 8);
});

s('targetListens: ready endpoints and a declared container port (by number or name)', () => {
  const svc: ServiceInfo = { name: 'redis', namespace: 'redis', ports: [{ port: 6379, targetPort: 'redis' }], selector: { app: 'redis' }, endpoints: 1 };
  const pod = { name: 'redis-0', namespace: 'redis', labels: { app: 'redis' }, ready: true, ports: [{ name: 'redis', port: 6379, protocol: 'TCP' as const }] };
  assert.is(targetListens(svc, 6379, [pod]), true);
  assert.is(targetListens({ ...svc, ports: [{ port: 6379, targetPort: 6379 }] }, 6379, [pod]), true);
  assert.is(targetListens({ ...svc, ports: [{ port: 6379, targetPort: 7000 }] }, 6379, [pod]), null);
  assert.is(targetListens({ ...svc, endpoints: 0 }, 6379, [pod]), false);
  assert.is(targetListens(svc, 6379, null), null);
  assert.is(targetListens(svc, 6379, [{ ...pod, ready: false }]), null);
  // A Service without a selector (default/kubernetes): its published ready endpoint is the listener.
  assert.is(targetListens({ name: 'kubernetes', namespace: 'default', ports: [{ port: 443, targetPort: 6443 }], selector: {}, endpoints: 1 }, 443, []), true);
});

s('component types that are prototype keys do not crash the plan', () => {
  for (const type of ['constructor', '__proto__', 'toString', 'hasOwnProperty', 'valueOf']) {
    assert.is(internetEgress(type), undefined, type);
  }
});

s.run();
