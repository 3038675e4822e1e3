// The network scan's light mode against the real kube-apiserver on the project's own demo stack
// (demo/stack: Stacktic's format, with the policies Stacktic generates for it): the generated
// policies with one deleted, one changed, one extra, one namespace without its stacktic label,
// and an RBAC-limited user.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { scanApp } from '../../lib/scan/scaffold.ts';
import { loadNetworkPolicyDir } from '../../lib/topology/expected.ts';
import { loadStackMetadata } from '../../lib/topology/stack-metadata.ts';
import { networkScan } from '../../functions/network-scan/scan.ts';
import { renderPolicy } from '../../lib/topology/render.ts';
import { STACK_NAMESPACE_LABEL } from '../../lib/topology/stacktic-rules.ts';
import { DEMO_METADATA, DEMO_POLICIES } from '../../demo/stack/generate.ts';
import { testCluster } from '../support/cluster.ts';
import { adminKube, deleteNetworkPolicies, apply, namespace } from '../support/k8s.ts';
import { assertReportValid } from '../support/report-schema.ts';

const s = suite('network light: real API server, demo stack');
const topoSettings = { metadata: { path: DEMO_METADATA, setting: 'STACK_METADATA' } };
const MISSING = 'minio--from--strimzi--ingress--ports--9000';
const DRIFTED = 'shop--to--postgresql--egress--ports--5432';

s.before(async () => {
  const kube = adminKube();
  const topo = await loadStackMetadata(topoSettings.metadata);
  const stack = new Set(topo.namespaces);
  for (const ns of topo.namespaces) {
    await apply(kube, namespace(ns, ns === 'grafana' ? {} : { [STACK_NAMESPACE_LABEL]: ns }));
    await deleteNetworkPolicies(kube, ns); // another suite's leftovers
  }
  for (const e of (await loadNetworkPolicyDir({ path: DEMO_POLICIES, setting: 'NETWORKPOLICY_DIR' })).policies) {
    if (e.name === MISSING) continue;
    const p = structuredClone(renderPolicy(e, stack));
    if (e.name === DRIFTED) (p.spec as any).egress[0].ports = [{ protocol: 'TCP', port: 5433 }];
    await apply(kube, p as any);
  }
  await apply(kube, {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'NetworkPolicy',
    metadata: { name: 'debug-allow-all', namespace: 'shop' },
    spec: { podSelector: {}, ingress: [{}] },
  });
});

s.after(async () => {
  const kube = adminKube();
  const topo = await loadStackMetadata(topoSettings.metadata);
  for (const ns of topo.namespaces) await deleteNetworkPolicies(kube, ns);
});

s('reports missing, drifted, extra, an allow-all and the selectors that match nothing', async () => {
  const app = scanApp(networkScan({ topology: topoSettings, kubeconfig: testCluster().kubeconfigPath }));
  const res = await app.request('/network_scan?mode=light');
  assert.is(res.status, 200);
  const body = await res.json();
  assertReportValid(body, 'light');
  assert.equal(body.errors, []);
  assert.equal([body.sources.expected_from, body.sources.expected_because], ['networkpolicy-dir', 'networkpolicy/ found beside the metadata']);
  assert.is(body.sources.cluster, testCluster().server);
  const by = (name: string) => body.results.expected.find((x: any) => x.name === name);
  assert.is(by(MISSING).status, 'missing');
  assert.equal(
    [by(DRIFTED).status, by(DRIFTED).drift],
    ['drifted', ['grants more: egress TCP/5433 to namespace postgresql', 'lacks: egress TCP/5432 to namespace postgresql']],
  );
  assert.equal(body.results.extra, [{ name: 'debug-allow-all', namespace: 'shop' }]);
  assert.equal([body.summary.missing, body.summary.drifted, body.summary.renamed, body.summary.found], [1, 1, 0, body.summary.expected - 2]);
  const kinds = body.results.rule_findings
    .filter((f: any) => f.severity !== 'info')
    .map((f: any) => `${f.severity}:${f.kind}:${f.namespace}/${f.policy}`)
    .sort();
  assert.equal(kinds, [
    'critical:peer-everyone:shop/debug-allow-all',
    'low:selector-matches-nothing:grafana/grafana--all--grafana--egress--ports--grafana--nr6',
    'low:selector-matches-nothing:grafana/grafana--all--grafana--ingress--ports--grafana--nr5',
    'low:selector-matches-nothing:prometheus/prometheus--exception--app--egress--ports--9093--nr59',
    'low:selector-matches-nothing:prometheus/prometheus--exception--app--egress--ports--9153--nr58',
    'low:selector-matches-nothing:prometheus/prometheus--exception--app--egress--ports--9419--nr60',
    'medium:name-ports-mismatch:shop/shop--to--postgresql--egress--ports--5432--nr46',
  ]);
  assert.is(body.score, Math.round((1000 * (body.summary.expected - 2 - 5 * 0.25)) / (body.summary.expected + 1)) / 10);
  const link = body.results.links.find((l: any) => l.from_sub_component === 'orders-events');
  assert.equal([link.egress, link.ingress, link.bidirectional, link.live.allowed], ['found', 'missing', false, false]);
  assert.equal(
    body.results.link_findings.map((f: any) => `${f.from}>${f.to}`),
    ['apisix>kafka', 'grafana>prometheus'],
  );
});

s('an RBAC-limited user: the 403 names the verb and resource in errors', async () => {
  const kube = adminKube();
  await apply(kube, {
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'ClusterRole',
    metadata: { name: 'ns-reader' },
    rules: [{ apiGroups: [''], resources: ['namespaces'], verbs: ['list', 'get'] }],
  });
  await apply(kube, {
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'ClusterRoleBinding',
    metadata: { name: 'ns-reader-limited' },
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'ns-reader' },
    subjects: [{ kind: 'User', name: 'limited', apiGroup: 'rbac.authorization.k8s.io' }],
  });
  const app = scanApp(networkScan({ topology: topoSettings, kubeconfig: await testCluster().userKubeconfig('limited') }));
  const res = await app.request('/network_scan');
  assert.is(res.status, 200);
  const body = await res.json();
  assertReportValid(body, 'light, namespaces denied');
  assert.is(body.score, null);
  assert.is(body.errors.length, 1);
  assert.is(body.errors[0].status, 403);
  assert.match(body.errors[0].message, /grant verb 'list' on 'networkpolicies\.networking\.k8s\.io' at cluster scope/);
});

s.run();
