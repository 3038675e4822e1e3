// The network scan's light mode against the real kube-apiserver: a Stacktic stack's
// namespaces and generated policies, then one policy deleted, one changed, one extra
// added, one namespace without its stacktic label, and an RBAC-limited user.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { join } from 'node:path';
import { scanApp } from '../../lib/scan/scaffold.ts';
import { deriveExpected } from '../../lib/topology/expected.ts';
import { loadStackMetadata } from '../../lib/topology/stack-metadata.ts';
import { networkScan } from '../../functions/network-scan/scan.ts';
import { renderPolicy, STACK_NAMESPACE_LABEL } from '../../functions/network-scan/render.ts';
import { testCluster } from '../support/cluster.ts';
import { adminKube, apply, namespace } from '../support/k8s.ts';

const SAMPLE = join(import.meta.dirname, '../../../shared/samples/stacktic/llama_base/stack-metadata.yaml');
const s = suite('network light: real API server');
const topoSettings = { metadata: { path: SAMPLE, setting: 'STACK_METADATA' } };

s.before(async () => {
  const kube = adminKube();
  const topo = await loadStackMetadata(topoSettings.metadata);
  const stack = new Set(topo.namespaces);
  for (const ns of topo.namespaces) await apply(kube, namespace(ns, ns === 'redis' ? {} : { [STACK_NAMESPACE_LABEL]: ns }));
  for (const e of deriveExpected(topo, SAMPLE).policies) {
    if (e.name === 'minio--from--llama--ingress--ports--9000') continue; // missing
    const p = renderPolicy(e, stack);
    if (e.name === 'flowise--to--cnpg--egress--ports--5432') (p.spec as any).egress[0].ports = [{ protocol: 'TCP', port: 5433 }]; // drifted
    await apply(kube, p as any);
  }
  await apply(kube, { apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', metadata: { name: 'debug-allow-all', namespace: 'llama' }, spec: { podSelector: {}, ingress: [{}] } }); // extra
});

s('reports missing, drifted, extra and a selector that matches nothing', async () => {
  const app = scanApp(networkScan({ topology: topoSettings, kubeconfig: testCluster().kubeconfigPath }));
  const res = await app.request('/network_scan?mode=light');
  assert.is(res.status, 200);
  const body = await res.json();
  assert.equal(body.errors, []);
  assert.is(body.sources.expected_from, 'stack-metadata');
  assert.is(body.sources.cluster, testCluster().server);
  const by = (name: string) => body.results.expected.find((x: any) => x.name === name);
  assert.is(by('minio--from--llama--ingress--ports--9000').status, 'missing');
  assert.is(by('flowise--to--cnpg--egress--ports--5432').status, 'drifted');
  assert.equal(body.results.extra, [{ name: 'debug-allow-all', namespace: 'llama' }]);
  assert.is(body.summary.missing, 1);
  assert.is(body.summary.drifted, 1);
  assert.is(body.summary.found, body.summary.expected - 2);
  assert.is(body.score, Math.round((1000 * (body.summary.expected - 2)) / body.summary.expected) / 10);
  const empties = body.results.empty_selectors.map((e: any) => `${e.namespace}/${e.policy}`);
  assert.ok(empties.includes('flowise/flowise--to--redis--egress--ports--6379'), empties.join(', '));
  assert.ok(empties.includes('redis/redis--all--redis--ingress--ports--redis'));
  assert.ok(empties.every((e: string) => e.includes('redis')), 'only selectors for the unlabelled namespace');
  const link = body.results.links.find((l: any) => l.from === 'llama' && l.to === 'minio');
  assert.equal([link.egress, link.ingress, link.bidirectional], ['found', 'missing', false]);
});

s('an RBAC-limited user: the 403 names the verb and resource in errors', async () => {
  const kube = adminKube();
  await apply(kube, { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRole', metadata: { name: 'ns-reader' }, rules: [{ apiGroups: [''], resources: ['namespaces'], verbs: ['list', 'get'] }] });
  await apply(kube, { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRoleBinding', metadata: { name: 'ns-reader-limited' }, roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'ns-reader' }, subjects: [{ kind: 'User', name: 'limited', apiGroup: 'rbac.authorization.k8s.io' }] });
  const app = scanApp(networkScan({ topology: topoSettings, kubeconfig: await testCluster().userKubeconfig('limited') }));
  const res = await app.request('/network_scan');
  assert.is(res.status, 200);
  const body = await res.json();
  assert.is(body.score, null);
  assert.is(body.errors.length, 1);
  assert.is(body.errors[0].status, 403);
  assert.match(body.errors[0].message, /grant verb 'list' on 'networkpolicies\.networking\.k8s\.io' at cluster scope/);
});

s.run();
