// The four functions served by a REAL Knative (harness/knative): Knative Serving v0.50.0 + Traefik
// v3.6.12 + Knative Eventing v0.50.0 (MT channel-based Broker over InMemoryChannel) on the real
// node, deployed from knative/overlays/local with the real kustomize, images imported from local
// files. It starts its own control plane + node (like node-enforced-scan) and takes several minutes.
//
// It runs with STACKSCAN_KNATIVE=1, as root, with everything built; otherwise it skips with the
// exact reason. .ci/run sets STACKSCAN_KNATIVE=1 as root when the Knative binaries are built or
// their build fits the 90-minute budget. When it runs, its assertions are real.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { randomUUID } from 'node:crypto';
import { makeKube, type Kube } from '../../lib/kube/client.ts';
import { bundle } from '../../knative/bundle.ts';
import { FUNCTIONS, knativeService, NAMESPACE, type Manifest } from '../../knative/render.ts';
import { startNodeCluster, type NodeCluster } from '../../harness/node/index.ts';
import { applyAny, deleteAny, getAny, importImages, knativePreflight, startKnative, type Knative } from '../../harness/knative/index.ts';
import {
  brokerIngress,
  deployFunctions,
  functionPods,
  localObjects,
  podLogs,
  routedHealthz,
  sendEvent,
  startSink,
  viaTraefik,
  waitBrokerReady,
  waitReady,
  waitScaledToZero,
  waitTriggersReady,
} from '../../harness/knative/functions.ts';

const s = suite('real Knative: the four functions scale from zero, events through a real Broker');
const why =
  process.env.STACKSCAN_KNATIVE !== '1'
    ? 'STACKSCAN_KNATIVE is not 1: the Knative suite is optional (a real node + Knative Serving, Traefik and Eventing; several minutes; needs root ' +
      'and `bash harness/build.sh knative-serving traefik knative-eventing`, see docs/knative.md)'
    : knativePreflight({ eventing: true });

let nc: NodeCluster | undefined;
let kn: Knative | undefined;
let kube: Kube;
let rendered: Manifest[];
let sink: Awaited<ReturnType<typeof startSink>> | undefined;
const log: string[] = [];

if (why) {
  console.warn(`SKIP test/integration/knative.test.ts: ${why}`);
  s.skip(`(skipped: ${why})`, () => {});
} else {
  s.before(async () => {
    await bundle([...FUNCTIONS]);
    nc = await startNodeCluster({ log: (l) => log.push(l), waitForOtherMs: 600_000 });
    kube = await makeKube(nc.cp.kubeconfigPath);
    importImages(nc, ['functions'], (l) => log.push(l));
    kn = await startKnative(nc, kube, { eventing: true, log: (l) => log.push(l) });
    rendered = localObjects({ eventing: true });
    await deployFunctions(kube, { eventing: true });
  });
  s.after(async () => {
    await sink?.close();
    await kn?.stop();
    await nc?.stop();
    if (process.env.KNATIVE_TEST_DEBUG) console.log(log.join('\n'));
  });

  s('the four Services become Ready; their pods run with the shipped security context, ServiceAccount, resources and volumes', async () => {
    await waitReady(kube, FUNCTIONS, 420_000);
    for (const fn of FUNCTIONS) {
      let pods = (await functionPods(kube, fn)).filter((p) => p.status?.phase === 'Running' && !p.metadata.deletionTimestamp);
      if (!pods.length) {
        // Scaled down already: one request brings a pod back.
        assert.is((await viaTraefik(kn!.traefik.privateUrl, fn, '/healthz')).status, 200, `${fn} /healthz through Traefik`);
        pods = (await functionPods(kube, fn)).filter((p) => p.status?.phase === 'Running');
      }
      assert.ok(pods.length, `${fn} has a running pod`);
      const pod = pods[0];
      const want = knativeService(rendered, fn).spec.template.spec;
      const wc = want.containers[0];
      const c = pod.spec.containers.find((x: any) => x.name === wc.name);
      assert.ok(c, `${fn}: container ${wc.name} in the pod`);
      assert.is(pod.spec.serviceAccountName, want.serviceAccountName, `${fn}: ServiceAccount`);
      assert.equal(c.securityContext, wc.securityContext, `${fn}: the shipped securityContext, as is`);
      assert.equal(c.resources, wc.resources, `${fn}: the overlay's requests and the shipped limits`);
      for (const m of wc.volumeMounts ?? [])
        assert.ok(
          c.volumeMounts.some((x: any) => x.mountPath === m.mountPath),
          `${fn}: mount ${m.mountPath}`,
        );
      // The token is mounted where the ServiceAccount allows it (the function reads the API with it:
      // the scans below prove it), and absent for nuclei-scan, whose ServiceAccount has no API access
      // and sets automountServiceAccountToken: false.
      const sa = rendered.find((o) => o.kind === 'ServiceAccount' && o.metadata.name === want.serviceAccountName) as any;
      const automount = sa?.automountServiceAccountToken !== false;
      assert.is(
        (c.volumeMounts ?? []).some((x: any) => x.mountPath === '/var/run/secrets/kubernetes.io/serviceaccount'),
        automount,
        `${fn}: ServiceAccount token ${automount ? 'mounted' : 'not mounted'}`,
      );
      const st = pod.status.containerStatuses.find((x: any) => x.name === wc.name);
      assert.ok(st?.ready, `${fn}: container ready`);
      assert.is(
        pod.spec.containers.find((x: any) => x.name === 'queue-proxy')?.image,
        'localhost/stackscan/knative-serving-queue:v0.50.0',
        `${fn}: Knative's queue-proxy sidecar`,
      );
    }
  });

  s('scale to zero and back: no pod left, then the first request through Traefik starts one and returns the report', async () => {
    const fn = 'opa-scan';
    await waitScaledToZero(kube, fn, 240_000);
    assert.is((await functionPods(kube, fn)).length, 0);
    const r = await viaTraefik(kn!.traefik.privateUrl, fn, '/opa_scan?mode=light');
    assert.is(r.status, 200, r.body.slice(0, 300));
    const rep = JSON.parse(r.body);
    assert.type(rep.score, 'number');
    assert.ok(Array.isArray(rep.errors));
    assert.ok((await functionPods(kube, fn)).length >= 1, 'a pod again');
  });

  s('a scan inside the cluster sees only what its ServiceAccount allows: a removed rule shows as a forbidden error in errors[]', async () => {
    const fn = 'network-scan';
    const base = kn!.traefik.privateUrl;
    const ok = JSON.parse((await viaTraefik(base, fn, '/network_scan?mode=light')).body);
    const forbidden = (rep: any) => (rep.errors ?? []).filter((e: any) => e.code === 'forbidden' || e.status === 403 || /forbidden/i.test(e.message ?? ''));
    assert.equal(forbidden(ok), [], `with the shipped RBAC: no forbidden error (${JSON.stringify(ok.errors).slice(0, 400)})`);
    const role = rendered.find((o) => o.kind === 'ClusterRole' && o.metadata.name === 'stack-scan:network-scan:read')!;
    const without = structuredClone(role);
    without.rules = without.rules.filter((r: any) => !(r.resources ?? []).includes('networkpolicies'));
    await applyAny(kube, without as never);
    try {
      let rep: any;
      // RBAC changes apply at once; bounded retries in case the authorizer cache lags.
      for (let i = 0; i < 10; i++) {
        rep = JSON.parse((await viaTraefik(base, fn, '/network_scan?mode=light')).body);
        if (forbidden(rep).length) break;
        await new Promise((r) => setTimeout(r, 1000));
      }
      const f = forbidden(rep);
      assert.ok(f.length, `a forbidden error without "list networkpolicies": ${JSON.stringify(rep.errors).slice(0, 400)}`);
      assert.match(JSON.stringify(f), /networkpolicies/);
      assert.match(JSON.stringify(f), /system:serviceaccount:stack-scan:network-scan/);
    } finally {
      await applyAny(kube, role as never);
    }
  });

  s("a request longer than the Service's timeoutSeconds is cut (504) at that time", async () => {
    // The shipped functions promise timeoutSeconds 600 (their scans end below it); the cut itself is
    // checked on a copy of kubescape-scan (a scan that takes longer than 3 s) with timeoutSeconds 3.
    const ks = structuredClone(knativeService(rendered, 'kubescape-scan'));
    ks.metadata = {
      name: 'timeout-check',
      namespace: NAMESPACE,
      labels: { 'networking.knative.dev/visibility': 'cluster-local', 'app.kubernetes.io/part-of': 'stack-scan' },
    };
    ks.spec.template.spec.timeoutSeconds = 3;
    delete ks.spec.template.metadata?.name;
    await applyAny(kube, ks as never);
    try {
      await waitReady(kube, ['timeout-check'], 240_000);
      const base = kn!.traefik.privateUrl;
      assert.is((await routedHealthz(base, 'timeout-check')).status, 200, 'warm first (once Traefik routes it)');
      const r = await viaTraefik(base, 'timeout-check', '/kubescape_scan?mode=light');
      assert.is(r.status, 504, `cut with 504 (got ${r.status}: ${r.body.slice(0, 200)})`);
      assert.ok(r.ms >= 2900 && r.ms < 15_000, `cut near 3 s (${r.ms.toFixed(0)} ms)`);
    } finally {
      await deleteAny(kube, { apiVersion: 'serving.knative.dev/v1', kind: 'Service', metadata: { name: 'timeout-check', namespace: NAMESPACE } });
    }
  });

  s('an event through the Broker reaches the right function, and its result event is delivered through the Broker', async () => {
    sink = await startSink();
    await applyAny(kube, {
      apiVersion: 'eventing.knative.dev/v1',
      kind: 'Trigger',
      metadata: { name: 'test-results', namespace: NAMESPACE },
      spec: { broker: 'stack-scan', filter: { attributes: { type: 'io.stacktic.scan.completed' } }, subscriber: { uri: sink.url } },
    });
    await waitBrokerReady(kube);
    await waitTriggersReady(kube, ['test-results', ...FUNCTIONS]);
    const ingress = await brokerIngress(kube);
    const id = randomUUID();
    const sent = await sendEvent(ingress, { id, type: 'io.stacktic.scan.requested', source: '/tests/knative', scan: 'opa', data: { mode: 'light' } });
    if (sent.status !== 202)
      assert.unreachable(
        `the Broker's ingress answered ${sent.status} after ${sent.attempts} attempts: ${sent.body}\n` +
          `${await podLogs(kube, 'knative-eventing', 'eventing.knative.dev/brokerRole=ingress')}\n` +
          `${await podLogs(kube, 'knative-eventing', 'messaging.knative.dev/role=dispatcher')}`,
      );
    const reply = await sink.wait((e) => e.attrs.inresponseto === id, 300_000, `the reply to ${id}`);
    assert.is(reply.attrs.type, 'io.stacktic.scan.completed');
    assert.is(reply.attrs.source, '/stack-scan/opa', 'answered by opa-scan (the Trigger for scan=opa), no other');
    assert.is(reply.attrs.scan, 'opa');
    const data = JSON.parse(reply.body);
    assert.type(data.score, 'number');
    await new Promise((r) => setTimeout(r, 2000));
    assert.is(sink.events.filter((e) => e.attrs.inresponseto === id).length, 1, 'one reply, from one function');
    const trig = await getAny(kube, { apiVersion: 'eventing.knative.dev/v1', kind: 'Trigger', metadata: { name: 'opa-scan', namespace: NAMESPACE } });
    assert.match(String(trig.status?.subscriberUri), /opa-scan\.stack-scan\.svc\.cluster\.local/);
  });
}

s.run();
