// Light mode on a real Stacktic stack nobody here wrote (../shared/samples/stacktic/strimzi_basic_setup:
// its stack-metadata.yaml and the 69 NetworkPolicies Stacktic generated, applied unchanged to the
// real kube-apiserver): every expected policy found, exactly the broken rules flagged; then one
// policy deleted, one with other ports, one with another selector, a superset rule and an
// allow-all: each reported exactly, nothing else changes. Skipped when ../shared is absent.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { scanApp } from '../../lib/scan/scaffold.ts';
import { loadNetworkPolicyDir } from '../../lib/topology/expected.ts';
import { loadStackMetadata } from '../../lib/topology/stack-metadata.ts';
import { networkScan } from '../../functions/network-scan/scan.ts';
import { renderPolicy } from '../../lib/topology/render.ts';
import { STACK_NAMESPACE_LABEL } from '../../lib/topology/stacktic-rules.ts';
import { testCluster } from '../support/cluster.ts';
import { adminKube, deleteNetworkPolicies, apply, namespace, remove } from '../support/k8s.ts';
import { assertReportValid } from '../support/report-schema.ts';

const SAMPLE = join(import.meta.dirname, '../../../shared/samples/stacktic/strimzi_basic_setup');
const s = suite('network light: real API server, Stacktic strimzi sample');
const topology = {
  metadata: { path: join(SAMPLE, 'stack-metadata.yaml'), setting: 'STACK_METADATA' },
  policyDir: { path: join(SAMPLE, 'networkpolicy'), setting: 'NETWORKPOLICY_DIR' },
};

/** The findings the generated files themselves deserve (severity:kind:policy without --nrNN). */
const BASE_FINDINGS = [
  'critical:all-ports:grafana--internet--any--ingress--ports--3000-9090',
  'critical:all-ports:prometheus--internet--any--ingress--ports--3000-9090',
  'high:all-ports:cert-manager--internet--any--egress--ports--80-443',
  'high:all-ports:ingress-apisix--internet--any--egress--ports--80-443',
  'high:all-ports:prometheus--internet--any--egress--ports--80-443',
  'low:name-ports-mismatch:grafana--internet--any--egress--ports--80-443-9090',
  'low:name-ports-mismatch:ingress-apisix--internet--any--ingress--ports--2379-2380-8080-9000-9080-9180-9443',
  'low:selector-matches-nothing:prometheus--exception--app--egress--ports--9093',
  'low:selector-matches-nothing:prometheus--exception--app--egress--ports--9153',
  'low:selector-matches-nothing:prometheus--exception--app--egress--ports--9419',
  'medium:all-ports:cert-manager--exception--app--ingress--ports--443-9402-10250',
  'medium:all-ports:cert-manager--exception--app--ingress--ports--443-9402-10250',
  'medium:name-ports-mismatch:cert-manager--exception--app--ingress--ports--443-9402-10250',
  'medium:name-ports-mismatch:cert-manager--exception--app--ingress--ports--443-9402-10250',
  'medium:name-ports-mismatch:cert-manager--internet--any--egress--ports--80-443',
  'medium:name-ports-mismatch:grafana--internet--any--ingress--ports--3000-9090',
  'medium:name-ports-mismatch:ingress-apisix--internet--any--egress--ports--80-443',
  'medium:name-ports-mismatch:prometheus--internet--any--egress--ports--80-443',
  'medium:name-ports-mismatch:prometheus--internet--any--ingress--ports--3000-9090',
];
const findings = (body: any) =>
  body.results.rule_findings
    .filter((f: any) => f.severity !== 'info')
    .map((f: any) => `${f.severity}:${f.kind}:${f.policy.replace(/--nr\d+$/, '')}`)
    .sort();

async function scan() {
  const app = scanApp(networkScan({ topology, kubeconfig: testCluster().kubeconfigPath }));
  const res = await app.request('/network_scan?mode=light');
  assert.is(res.status, 200);
  const body = await res.json();
  assertReportValid(body, 'light');
  return body;
}

if (!existsSync(SAMPLE)) {
  console.warn(`SKIP network-light-strimzi: ${SAMPLE} is absent (the shared samples beside the checkout; not part of the repository)`);
} else {
  const namespaces: string[] = [];
  let policies: any[] = [];

  s.before(async () => {
    const kube = adminKube();
    const topo = await loadStackMetadata(topology.metadata);
    namespaces.push(...topo.namespaces);
    for (const ns of topo.namespaces) {
      await apply(kube, namespace(ns, { [STACK_NAMESPACE_LABEL]: ns }));
      await deleteNetworkPolicies(kube, ns); // another suite's leftovers
    }
    const dir = await loadNetworkPolicyDir(topology.policyDir);
    policies = dir.policies.map((e) => renderPolicy(e, new Set(topo.namespaces)));
    for (const p of policies) await apply(kube, p);
  });

  s.after(async () => {
    const kube = adminKube();
    for (const ns of namespaces) await deleteNetworkPolicies(kube, ns);
  });

  s('the 69 generated policies applied unchanged: every one found, exactly the broken rules flagged', async () => {
    const body = await scan();
    assert.equal(body.errors, []);
    assert.is(body.sources.expected_from, 'networkpolicy-dir');
    assert.equal([body.summary.expected, body.summary.found, body.summary.missing, body.summary.drifted, body.summary.extra], [69, 69, 0, 0, 0]);
    assert.equal(findings(body), BASE_FINDINGS);
    const grafana = body.results.rule_findings.find((f: any) => f.kind === 'all-ports' && f.namespace === 'grafana');
    assert.match(grafana.file, /grafana__internet__any__ingress__ports__3000-9090__nr65__lines16\.yaml$/);
    assert.is(grafana.line, 15);
    assert.equal(
      body.results.link_findings.map(
        (f: any) => `${f.from}${f.from_sub_component ? `/${f.from_sub_component}` : ''}>${f.to}${f.to_sub_component ? `/${f.to_sub_component}` : ''}`,
      ),
      ['jupyterhub>kafka/topic-bucket', 'grafana>prometheus', 'apisix>kafka/bridge', 'prometheus>kafka'],
    );
    assert.is(body.summary.links_bidirectional, 5);
    assert.is(body.score, 90.6);
    assert.ok(
      body.sources.warnings.some((w: string) => /nr65__lines16\.yaml:14:7: duplicate key 'port'/.test(w)),
      'duplicate keys of the generated files listed',
    );
  });

  s('delete, other ports, other selector, a superset rule and an allow-all: each reported exactly', async () => {
    const kube = adminKube();
    const find = (prefix: string) => structuredClone(policies.find((p) => p.metadata.name.startsWith(prefix)));
    await remove(kube, find('strimzi--to--postgresql--egress'));
    const ports = find('mongodb--from--prometheus--ingress');
    ports.spec.ingress[0].ports = [{ protocol: 'TCP', port: 27018 }];
    await apply(kube, ports);
    const selector = find('minio--from--ingress-apisix--ingress');
    selector.spec.ingress[0].from = [{ namespaceSelector: { matchLabels: { [STACK_NAMESPACE_LABEL]: 'ingress-nginx' } } }];
    await apply(kube, selector);
    const superset = find('postgresql--from--strimzi--ingress');
    superset.spec.ingress[0].ports.push({ protocol: 'TCP', port: 22 });
    await apply(kube, superset);
    await apply(kube, {
      apiVersion: 'networking.k8s.io/v1',
      kind: 'NetworkPolicy',
      metadata: { name: 'debug-allow-all', namespace: 'mongodb' },
      spec: { podSelector: {}, ingress: [{}] },
    });

    const body = await scan();
    const changed = body.results.expected.filter((x: any) => x.status !== 'found').map((x: any) => [x.name, x.status, x.drift ?? []]);
    assert.equal(changed, [
      // in file order
      [
        'minio--from--ingress-apisix--ingress--ports--9000',
        'drifted',
        ['grants more: ingress TCP/9000 from namespace ingress-nginx', 'lacks: ingress TCP/9000 from namespace ingress-apisix'],
      ],
      [
        'mongodb--from--prometheus--ingress--ports--27017',
        'drifted',
        ['grants more: ingress TCP/27018 from namespace prometheus', 'lacks: ingress TCP/27017 from namespace prometheus'],
      ],
      ['postgresql--from--strimzi--ingress--ports--5432', 'drifted', ['grants more: ingress TCP/22 from namespace strimzi']],
      ['strimzi--to--postgresql--egress--ports--5432', 'missing', []],
    ]);
    assert.equal(body.results.extra, [{ name: 'debug-allow-all', namespace: 'mongodb' }]);
    assert.equal([body.summary.found, body.summary.missing, body.summary.drifted, body.summary.renamed, body.summary.extra], [65, 1, 3, 0, 1]);
    assert.equal(
      findings(body),
      [
        ...BASE_FINDINGS,
        'critical:peer-everyone:debug-allow-all',
        'low:selector-matches-nothing:minio--from--ingress-apisix--ingress--ports--9000',
        'medium:name-ports-mismatch:mongodb--from--prometheus--ingress--ports--27017',
        'medium:name-ports-mismatch:postgresql--from--strimzi--ingress--ports--5432',
      ].sort(),
    );
    const topicPsql = body.results.links.find((l: any) => l.from_sub_component === 'topic-psql');
    assert.equal([topicPsql.egress, topicPsql.ingress, topicPsql.live.allowed], ['missing', 'drifted', false]);
  });
}

s.run();
