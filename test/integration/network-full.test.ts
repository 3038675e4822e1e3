// The network scan's full mode end to end: the real API server holds the stack's
// namespaces, Services and generated policies; real nmap (the local runner) probes
// loopback listeners standing in for the Services. Loopback enforces no
// NetworkPolicy, so unlinked pairs that answer are SECURITY_RISKs: that is the truth
// of this network, and the engine's prediction shows what the policies intend.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { parseHostMap } from '../../lib/scan/hosts.ts';
import { scanApp } from '../../lib/scan/scaffold.ts';
import { deriveExpected } from '../../lib/topology/expected.ts';
import { loadStackMetadata } from '../../lib/topology/stack-metadata.ts';
import { fullSettingsFromEnv, networkScan } from '../../functions/network-scan/scan.ts';
import { renderPolicy } from '../../lib/topology/render.ts';
import { STACK_NAMESPACE_LABEL } from '../../lib/topology/stacktic-rules.ts';
import { testCluster } from '../support/cluster.ts';
import { adminKube, apply, namespace } from '../support/k8s.ts';
import { assertReportValid } from '../support/report-schema.ts';

const STACK = join(import.meta.dirname, '../fixtures/topology/net-stack.yaml');
const s = suite('network full: real API server and real nmap');
const servers: Server[] = [];
const hosts: Record<string, string> = {
  'web.net-it-web.svc.cluster.local': '127.88.0.1',
  'api.net-it-api.svc.cluster.local': '127.88.0.2',
  'db.net-it-db.svc.cluster.local': '127.88.0.3',
};

s.before(async () => {
  const kube = adminKube();
  const topo = await loadStackMetadata({ path: STACK, setting: 'STACK_METADATA' });
  for (const ns of topo.namespaces) await apply(kube, namespace(ns, { [STACK_NAMESPACE_LABEL]: ns }));
  for (const c of topo.components) {
    await apply(kube, {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: c.name, namespace: c.namespace! },
      spec: { selector: { app: c.name }, ports: [{ port: c.ports[0], protocol: 'TCP' }] },
    } as any);
  }
  // Named as Stacktic names its files (a --nrNN suffix), so same-named rules (443 to kube-system and to default) are two policies.
  for (const [i, e] of deriveExpected(topo, STACK).policies.entries())
    await apply(kube, renderPolicy(e, new Set(topo.namespaces), `${e.name}--nr${i + 1}`) as any);
  // web and api listen; db does not (its Service has no endpoints either).
  for (const [host, port] of [
    ['127.88.0.1', 18080],
    ['127.88.0.2', 18081],
  ] as const) {
    const srv = createServer((c) => c.destroy());
    await new Promise<void>((r) => srv.listen(port, host, () => r()));
    servers.push(srv);
  }
});

s.after(async () => {
  await Promise.all(servers.map((srv) => new Promise((r) => srv.close(r))));
});

s('probes every layer with one nmap run per source and gives verdicts', async () => {
  const full = { ...fullSettingsFromEnv({}), runner: 'local' as const, localHosts: parseHostMap(JSON.stringify(hosts)), hostTimeoutMs: 3000 };
  const app = scanApp(networkScan({ topology: { metadata: { path: STACK, setting: 'STACK_METADATA' } }, kubeconfig: testCluster().kubeconfigPath, full }));
  const res = await app.request('/network_scan?mode=full');
  assert.is(res.status, 200);
  const body = await res.json();
  assertReportValid(body, 'full, local runner');
  assert.equal(body.errors, []);
  assert.is(body.sources.runner, 'local');
  assert.is(
    body.summary.light_score,
    100,
    JSON.stringify({ summary: body.summary, not_found: body.results.expected.filter((e: any) => e.status !== 'found'), findings: body.results.findings }),
  );
  const f = (id: string) => body.findings.find((x: any) => x.id === id);

  const webApi = f('link:web->api:18081');
  assert.equal([webApi.result, webApi.verdict, webApi.engine_predicts], ['open', 'PASS', 'open']);
  const apiDb = f('link:api->db:15432');
  assert.equal([apiDb.result, apiDb.verdict], ['closed', 'NO_SERVICE']);
  assert.match(apiDb.reason, /no ready endpoints/);
  // db → web is not linked: the policies block it, loopback does not.
  const neg = f('negative:db->web:18080');
  assert.equal([neg.expect, neg.engine_predicts, neg.result, neg.verdict], ['blocked', 'blocked', 'open', 'SECURITY_RISK']);
  // Cluster DNS names that are not mapped are never resolved from here.
  const dns = body.findings.find((x: any) => x.layer === 'exception' && x.target.port === 53);
  assert.is(dns.verdict, 'UNDECIDED');
  assert.match(dns.reason, /without sending a DNS query/);
  // one nmap run per source
  assert.equal(body.results.probe_sources.map((x: any) => x.source).sort(), ['net-it-api/api', 'net-it-db/db', 'net-it-web/web']);
  assert.ok(body.results.probe_sources.every((x: any) => x.via === 'local nmap'));
  const v = body.summary.probes.verdicts;
  assert.is(v.PASS + v.FAIL + v.SECURITY_RISK + v.BLOCKED + v.NO_SERVICE + v.UNDECIDED, body.findings.length);
  assert.ok(typeof body.score === 'number');
});

s('a bad setting is a 422 naming the variable', async () => {
  const prev = process.env.NETWORK_PROBE_CONCURRENCY;
  process.env.NETWORK_PROBE_CONCURRENCY = 'lots';
  try {
    const app = scanApp(networkScan({ topology: { metadata: { path: STACK, setting: 'STACK_METADATA' } }, kubeconfig: testCluster().kubeconfigPath }));
    const res = await app.request('/network_scan?mode=full');
    assert.is(res.status, 422);
    assert.is((await res.json()).error.setting, 'NETWORK_PROBE_CONCURRENCY');
  } finally {
    if (prev === undefined) delete process.env.NETWORK_PROBE_CONCURRENCY;
    else process.env.NETWORK_PROBE_CONCURRENCY = prev;
  }
});

s('NETWORK_PROBE_EXTERNAL_TARGET that is not a host (argument injection) is a 422 before any probe', async () => {
  for (const bad of ['-iL /etc/shadow', '--script=x', '10.0.0.1 -oN out']) {
    const prev = process.env.NETWORK_PROBE_EXTERNAL_TARGET;
    process.env.NETWORK_PROBE_EXTERNAL_TARGET = bad;
    try {
      const app = scanApp(networkScan({ topology: { metadata: { path: STACK, setting: 'STACK_METADATA' } }, kubeconfig: testCluster().kubeconfigPath }));
      const res = await app.request('/network_scan?mode=full');
      assert.is(res.status, 422, bad);
      const body = await res.json();
      assert.is(body.error.setting, 'NETWORK_PROBE_EXTERNAL_TARGET');
    } finally {
      if (prev === undefined) delete process.env.NETWORK_PROBE_EXTERNAL_TARGET;
      else process.env.NETWORK_PROBE_EXTERNAL_TARGET = prev;
    }
  }
});

s(
  'an account that may read policies but not workloads: the full report keeps the light part, names each denied read, and decides nothing it cannot see',
  async () => {
    const kube = adminKube();
    const user = 'netpol-only';
    await apply(kube, {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRole',
      metadata: { name: 'netpol-reader' },
      rules: [
        { apiGroups: [''], resources: ['namespaces'], verbs: ['list', 'get'] },
        { apiGroups: ['networking.k8s.io'], resources: ['networkpolicies'], verbs: ['list', 'get'] },
      ],
    } as any);
    await apply(kube, {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRoleBinding',
      metadata: { name: 'netpol-reader-only' },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'netpol-reader' },
      subjects: [{ kind: 'User', name: user, apiGroup: 'rbac.authorization.k8s.io' }],
    } as any);
    const full = { ...fullSettingsFromEnv({}), runner: 'local' as const, localHosts: parseHostMap(JSON.stringify(hosts)), hostTimeoutMs: 3000 };
    const kubeconfig = await testCluster().userKubeconfig(user);
    const app = scanApp(networkScan({ topology: { metadata: { path: STACK, setting: 'STACK_METADATA' } }, kubeconfig, full }));
    let body: any;
    // RBAC takes effect asynchronously: wait (bounded) until the light part is readable.
    for (let i = 0; i < 40; i++) {
      const res = await app.request('/network_scan?mode=full');
      assert.is(res.status, 200);
      body = await res.json();
      if (body.summary.light_score !== undefined && body.summary.light_score !== null) break;
      await new Promise((r) => setTimeout(r, 250));
    }
    assertReportValid(body, 'full, workloads denied');
    assert.is(body.summary.light_score, 100, 'the light part that succeeded is kept');
    const denied = body.errors.filter((e: any) => e.status === 403).map((e: any) => e.step);
    for (const what of ['list services', 'list endpointslices', 'list pods'])
      assert.ok(
        denied.some((d: string) => d.startsWith(what)),
        `${what} in ${denied.join(' | ')}`,
      );
    assert.ok(body.findings.length > 0);
    assert.is(body.findings.filter((f: any) => f.verdict === 'NO_SERVICE').length, 0, 'an unreadable Service is unknown, never "no service"');
    const apiDb = body.findings.find((x: any) => x.id === 'link:api->db:15432');
    assert.equal([apiDb.result, apiDb.verdict], ['closed', 'UNDECIDED']);
    assert.match(apiDb.reason, /could not be read/);
  },
);

s.run();
