// Full network mode against a REAL node (harness/node): kubelet + containerd + runc + CNI bridge,
// kube-proxy, CoreDNS, and kube-router enforcing NetworkPolicy. The stack's workloads run as real
// pods; the cluster runner runs nmap in ephemeral containers of the source pods (logs read
// through the API server) or in a probe pod when the source has no running pod (admin: 0 replicas).
//
// This suite starts its OWN control plane + node (not the shared test control plane): the node
// needs an API server on the bridge IP with the Node authorizer and the ServiceAccount admission
// plugin, and root-owned host state (bridge, iptables, cgroups) that must not leak into other
// suites. It skips (outside CI) with the exact reason when the node cannot start here, and fails
// under CI=true.
//
// kube-router REJECTs (ICMP port unreachable): nmap's connect scan reports a blocked port as
// `closed` (conn-refused), the same as a port where nothing listens. The test tells them apart
// with what the API says (ready endpoints of the target Service) and checks the scan's verdicts
// against that truth; where today's judge reads `closed` as "reachable", the difference is listed
// (JUDGE_GAP) and asserted to be exactly that case.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { join } from 'node:path';
import { scanApp } from '../../lib/scan/scaffold.ts';
import { loadStackMetadata } from '../../lib/topology/stack-metadata.ts';
import { deriveExpected } from '../../lib/topology/expected.ts';
import { makeKube, type Kube } from '../../lib/kube/client.ts';
import { apiGet } from '../../lib/kube/raw.ts';
import { fullSettingsFromEnv, networkScan } from '../../functions/network-scan/scan.ts';
import { deployStack, readyEndpoints as stackReadyEndpoints, waitStackReady } from '../../harness/node/stack.ts';
import { nodePreflight, startNodeCluster, type NodeCluster } from '../../harness/node/index.ts';
import { ourIptables, ipsetNames } from '../../harness/node/host.ts';
import { existsSync } from 'node:fs';
import { assertReportValid } from '../support/report-schema.ts';

const STACK = join(import.meta.dirname, '../fixtures/node/stack.yaml');
/** The generated ingress policy that lets api into db: left out, so api -> db is a FAIL blocked at db's ingress. */
let REMOVED = '';
const s = suite('real node: full network mode with real enforcement');
const why = nodePreflight();
const CI = process.env.CI === 'true';

let nc: NodeCluster | undefined;
let kube: Kube;
const log: string[] = [];

type Finding = {
  id: string;
  layer: string;
  expect: string;
  engine_predicts: string;
  result: string;
  reason: string;
  verdict: string;
  analysis?: string;
  policy_mismatch?: boolean;
  source: { namespace: string; component: string };
  target: { namespace?: string; service?: string; port: number };
};

function f2(findings: Finding[], id: string): Finding {
  const x = findings.find((y) => y.id === id);
  assert.ok(x, `finding ${id}`);
  return x!;
}

async function readyEndpoints(ns: string, svc: string): Promise<number> {
  return stackReadyEndpoints(kube, ns, svc);
}

async function runScan(): Promise<any> {
  const full = { ...fullSettingsFromEnv({ NETWORK_PROBE_IMAGE: nc!.node.images.nmap, NETWORK_PROBE_TIMEOUT_MS: '60000' }), hostTimeoutMs: 5000 };
  const app = scanApp(networkScan({ topology: { metadata: { path: STACK, setting: 'STACK_METADATA' } }, kubeconfig: nc!.cp.kubeconfigPath, full }));
  const res = await app.request('/network_scan?mode=full');
  assert.is(res.status, 200);
  const body = await res.json();
  assertReportValid(body, 'full, cluster runner');
  return body;
}

/**
 * The truth of one probe, from nmap's result and what the API says about the target: a Service
 * without ready endpoints is NO_SERVICE whatever nmap says (kube-proxy rejects it, or the
 * enforcer drops it first); `open` is reachable; `closed` or `filtered` on a target with ready
 * endpoints listening on the port is blocked. kube-router REJECTs with ICMP port-unreachable:
 * nmap reports `closed` (conn-refused) when the ICMP arrives and `filtered` when the kernel's
 * ICMP rate limit (net.ipv4.icmp_ratelimit, per destination) suppressed it, so both occur.
 */
function truth(f: Finding, endpoints: Map<string, number>): 'open' | 'blocked' | 'no-service' | 'unknown' {
  const n = f.target.service ? (endpoints.get(`${f.target.namespace}/${f.target.service}`) ?? 0) : 0;
  if (f.result === 'open') return 'open';
  if (f.result !== 'closed' && f.result !== 'filtered') return 'unknown';
  return n > 0 ? 'blocked' : 'no-service';
}

function trueVerdict(f: Finding, t: ReturnType<typeof truth>): string {
  if (t === 'no-service') return 'NO_SERVICE';
  if (t === 'unknown') return 'UNDECIDED';
  if (f.expect === 'open') return t === 'open' ? 'PASS' : 'FAIL';
  return t === 'open' ? 'SECURITY_RISK' : 'BLOCKED';
}

if (why) {
  if (CI) {
    s('the real node can start (CI requires it)', () => {
      assert.unreachable(`the real node cannot start: ${why}`);
    });
  } else {
    console.warn(`SKIP test/integration/node-enforced-scan.test.ts: ${why}`);
    s.skip(`(skipped: ${why})`, () => {});
  }
} else {
  s.before(async () => {
    nc = await startNodeCluster({ log: (l) => log.push(l), waitForOtherMs: 300_000 });
    kube = await makeKube(nc.cp.kubeconfigPath);
    const topo = await loadStackMetadata({ path: STACK, setting: 'STACK_METADATA' });
    const ingress = deriveExpected(topo, STACK).policies.filter((e) => e.category === 'link' && e.direction === 'ingress' && e.namespace === 'node-it-db');
    assert.is(ingress.length, 1, JSON.stringify(ingress.map((e) => e.name)));
    REMOVED = ingress[0].name;
    const { running } = await deployStack(kube, topo, STACK, {
      skipPolicies: [REMOVED],
      replicas: { admin: 0 }, // a source with no running pod: the probe-pod fallback
      // An extra allow-all on both sides of db -> web: a path the stack says is closed.
      extra: [
        {
          apiVersion: 'networking.k8s.io/v1',
          kind: 'NetworkPolicy',
          metadata: { name: 'debug-allow-all-egress', namespace: 'node-it-db' },
          spec: { podSelector: {}, policyTypes: ['Egress'], egress: [{}] },
        },
        {
          apiVersion: 'networking.k8s.io/v1',
          kind: 'NetworkPolicy',
          metadata: { name: 'debug-allow-all-ingress', namespace: 'node-it-web' },
          spec: { podSelector: {}, policyTypes: ['Ingress'], ingress: [{}] },
        },
      ],
    });
    assert.equal(running.map((r) => r.name).sort(), ['api', 'db', 'web']);
    await waitStackReady(kube, running);
  });

  s.after(async () => {
    await nc?.stop();
    if (process.env.NODE_IT_VERBOSE) console.log(log.join('\n'));
  });

  s('enforced: every probe matches real enforcement; verdicts checked against the API truth', async () => {
    const body = await runScan();
    const findings: Finding[] = body.findings;
    assert.ok(findings.length >= 15, `${findings.length} findings`);
    const endpoints = new Map<string, number>();
    for (const f of findings)
      if (f.target.service && f.target.namespace)
        endpoints.set(`${f.target.namespace}/${f.target.service}`, await readyEndpoints(f.target.namespace, f.target.service));
    const f = (id: string) => {
      const x = findings.find((y) => y.id === id);
      assert.ok(x, `finding ${id} (have ${findings.map((y) => y.id).join(', ')})`);
      return x!;
    };
    const table = findings.map(
      (x) => `${x.id}: ${x.result} (${x.reason}) verdict ${x.verdict}, truth ${trueVerdict(x, truth(x, endpoints))}, engine ${x.engine_predicts}`,
    );
    console.log(`  real-node probes (enforced):\n    ${table.join('\n    ')}`);
    console.log(`  probe sources: ${JSON.stringify(body.results.probe_sources)}`);
    assert.equal(body.errors, [], JSON.stringify(body.errors));

    const real = (id: string) => truth(f(id), endpoints);
    // the real network
    assert.is(f('link:web->api:8081').result, 'open'); // allowed and listening
    assert.is(real('link:api->db:6379'), 'blocked'); // its ingress rule removed: kube-router REJECT
    assert.is(f('negative:db->web:8080').result, 'open'); // the extra allow-alls open it
    assert.is(real('negative:web->db:6379'), 'blocked'); // default deny
    for (const x of findings.filter((y) => y.layer === 'exception' && y.target.port === 53)) assert.is(x.result, 'open', `${x.id}: DNS to CoreDNS`);
    // The kube-api exception allows egress to pods in `default` on 443; the API server is no pod
    // (host network, 10.244.0.1:<port> after kube-proxy's DNAT): blocked unless egress is open to all.
    assert.is(real('exception:web->kubernetes:443'), 'blocked');
    assert.is(real('exception:db->kubernetes:443'), 'open'); // db has the extra allow-all egress

    // truth per probe: each verdict kind produced by real enforcement
    const T = (id: string) => trueVerdict(f(id), truth(f(id), endpoints));
    assert.is(T('link:web->api:8081'), 'PASS');
    assert.is(T('link:api->db:6379'), 'FAIL');
    assert.is(T('negative:db->web:8080'), 'SECURITY_RISK');
    assert.is(T('negative:web->db:6379'), 'BLOCKED');
    assert.is(T('negative:web->admin:9000'), 'NO_SERVICE');
    assert.is(T('intra-namespace:admin->admin:9000'), 'NO_SERVICE');
    // where today's judge already agrees
    assert.is(f('link:web->api:8081').verdict, 'PASS');
    assert.is(f('negative:db->web:8080').verdict, 'SECURITY_RISK');
    assert.match(f('negative:db->web:8080').analysis ?? '', /allow/i);

    // engine vs reality. The live policies predict the opposite of the topology for api -> db, so
    // policy_mismatch says so.
    assert.is(f('link:api->db:6379').engine_predicts, 'blocked');
    assert.is(f('link:api->db:6379').policy_mismatch, true);
    assert.match(f('link:api->db:6379').analysis ?? '', /ingress at node-it-db/);
    const race: string[] = [];
    for (const x of findings) {
      const t = truth(x, endpoints);
      if (t !== 'open' && t !== 'blocked') continue;
      if (x.layer === 'exception' && x.target.port === 443) continue; // the API server is not a pod in `default`: see above
      if (t === x.engine_predicts) continue;
      // admin has no running pod: its probe pod starts nmap at once, before kube-router has
      // programmed the new pod's egress chain (it does within ~1-2 s): open where the engine
      // says blocked. Enforcement at the target's ingress is already there.
      if (x.source.namespace === 'node-it-admin' && t === 'open' && x.engine_predicts === 'blocked') {
        race.push(x.id);
        continue;
      }
      assert.unreachable(`${x.id}: engine predicts ${x.engine_predicts}, the network says ${t}`);
    }
    console.log(`  ENFORCER_RACE (probe pod probed before kube-router enforced its egress): ${race.join(', ') || 'none this run'}`);

    // Where today's judge differs from the truth: only (a) `closed` on a target with ready
    // endpoints, read as "reachable, nothing listens" (a REJECT), or (b) `filtered` on a Service
    // without endpoints, read as blocked/FAIL instead of NO_SERVICE.
    const gaps = findings.filter((x) => x.verdict !== trueVerdict(x, truth(x, endpoints)));
    console.log(
      `  JUDGE_GAP (${gaps.length}): ${gaps.map((x) => `${x.id} judged ${x.verdict} (${x.result}), truth ${trueVerdict(x, truth(x, endpoints))}`).join('; ')}`,
    );
    for (const x of gaps) {
      const t = truth(x, endpoints);
      assert.ok((x.result === 'closed' && t === 'blocked') || (x.result === 'filtered' && t === 'no-service'), `${x.id}: ${x.result} judged ${x.verdict}`);
    }

    // paths: ephemeral containers in running source pods; a probe pod for admin (no running pod)
    const via = new Map<string, string>(body.results.probe_sources.map((x: any) => [x.source, x.via]));
    assert.match(via.get('node-it-web/web') ?? '', /ephemeral container in node-it-web\/web-/);
    assert.match(via.get('node-it-admin/admin') ?? '', /probe pod in node-it-admin \(no running source pod\)/);

    // cleanup: no probe pod left; ephemeral containers stay in the source pods (the API cannot remove them), terminated
    const probePods = await apiGet(kube, { verb: 'list', resource: 'pods' }, '/api/v1/pods', { labelSelector: 'app.kubernetes.io/managed-by=stack-scan' });
    assert.is((probePods.items ?? []).filter((p: any) => !p.metadata.deletionTimestamp).length, 0);
    const webPods = await apiGet(kube, { verb: 'list', resource: 'pods' }, '/api/v1/namespaces/node-it-web/pods');
    const eph = (webPods.items ?? []).flatMap((p: any) => p.spec.ephemeralContainers ?? []);
    assert.ok(eph.length >= 1 && eph.every((c: any) => c.name.startsWith('stack-scan-probe-')), JSON.stringify(eph.map((c: any) => c.name)));
  });

  s('kube-router stopped: the same stack is open everywhere, and the scan says the CNI is not enforcing', async () => {
    await nc!.node.stopEnforcer();
    assert.equal(
      ourIptables().filter((l) => /KUBE-ROUTER|KUBE-NWPLCY|KUBE-POD-FW/.test(l)),
      [],
    );
    const body = await runScan();
    const findings: Finding[] = body.findings;
    const endpoints = new Map<string, number>();
    for (const x of findings)
      if (x.target.service && x.target.namespace)
        endpoints.set(`${x.target.namespace}/${x.target.service}`, await readyEndpoints(x.target.namespace, x.target.service));
    console.log(
      `  without enforcement: ${findings.map((x) => `${x.id} ${x.result} ${x.verdict}`).join('; ')}; cni_enforcing=${body.summary.probes.cni_enforcing}`,
    );
    // every negative whose target has a ready pod is now open
    const neg = findings.filter((x) => x.layer === 'negative' && truth(x, endpoints) !== 'no-service');
    assert.ok(neg.length >= 3, `${neg.length} negatives with a ready target`);
    for (const x of neg) assert.is(x.result, 'open', x.id);
    assert.is(f2(findings, 'link:api->db:6379').result, 'open'); // the missing ingress rule no longer matters
    // The diagnosis from the truth: all decided negatives open -> not enforcing. The scan says so
    // unless its judge still counts `filtered` probes to Services without endpoints as BLOCKED
    // (JUDGE_GAP b), which dilutes the open share.
    const miscounted = findings.filter(
      (x) => x.layer === 'negative' && x.result === 'filtered' && truth(x, endpoints) === 'no-service' && x.verdict === 'BLOCKED',
    );
    if (body.summary.probes.cni_enforcing === false) assert.match(body.summary.probes.cni_message, /not enforcing/);
    else {
      console.log(
        `  JUDGE_GAP: cni_enforcing=${body.summary.probes.cni_enforcing} because ${miscounted.length} negatives to Services without endpoints were ` +
          `judged BLOCKED: ${miscounted.map((x) => x.id).join(', ')}`,
      );
      assert.ok(miscounted.length > 0 && neg.length / (neg.length + miscounted.length) <= 0.8, 'cni_enforcing is wrong for another reason than JUDGE_GAP b');
    }
    await nc!.node.startEnforcer();
  });

  s('stop() undoes everything on the host', async () => {
    const dir = nc!.node.dir;
    await nc!.stop();
    nc = undefined;
    assert.equal([...ourIptables(false), ...ourIptables(true)], []);
    assert.equal(
      ipsetNames().filter((n) => /KUBE-|kube-router/.test(n)),
      [],
    );
    assert.not.ok(existsSync('/sys/class/net/stackscan0'), 'bridge removed');
    assert.not.ok(existsSync(dir), 'node dir removed');
    assert.not.ok(existsSync('/run/stackscan-node.json'), 'state file removed');
  });
}

s.run();
