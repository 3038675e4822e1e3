// Traefik v3.6.12's Knative provider as harness/knative runs it (startTraefik), against a real
// kube-apiserver with Knative Serving's CRDs (from the pinned module's zip), without a node and
// without root: a cluster-local KIngress of Traefik's class gets a router on the private entry
// point, its status says ready with traefik/traefik-private as the private load balancer (what
// Knative's routes point their ExternalName Services at), and a KIngress of another class is
// ignored. Skips with the reason when Traefik is not built (it is optional: docs/knative.md).
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startControlPlane, type ControlPlane } from '../../harness/cluster/index.ts';
import { makeKube, type Kube } from '../../lib/kube/client.ts';
import {
  applyAll,
  applyAny,
  getAny,
  KNATIVE_BIN_DIR,
  localize,
  moduleDir,
  pinnedVersion,
  servingObjects,
  startTraefik,
  TRAEFIK_CLASS,
  type TraefikHandle,
} from '../../harness/knative/index.ts';

const s = suite('Traefik Knative provider (harness/knative) against a real API server');

function missing(): string | undefined {
  if (process.env.STACKSCAN_KNATIVE !== '1') return 'STACKSCAN_KNATIVE is not 1: the Knative suites are optional (docs/knative.md)';
  if (!existsSync(join(KNATIVE_BIN_DIR, 'traefik')))
    return `Traefik is not built (${join(KNATIVE_BIN_DIR, 'traefik')}): bash harness/build.sh traefik (optional, about 5 min cold)`;
  try {
    const dirs = [['knative.dev/serving'], ['knative.dev/networking'], ['knative.dev/caching']].map(([m]) =>
      moduleDir(m, pinnedVersion('knative-serving', m), 'knative-serving', false),
    );
    const gone = dirs.filter((d) => !existsSync(d));
    if (gone.length) return `Knative Serving's module zips are not in GOMODCACHE (${gone.join(', ')}): bash harness/build.sh knative-serving`;
  } catch (e) {
    return `go is not available: ${(e as Error).message.split('\n')[0]}`;
  }
  return undefined;
}

const why = missing();
let cp: ControlPlane | undefined;
let kube: Kube;
let traefik: TraefikHandle | undefined;
let dir = '';

const kingress = (name: string, cls: string) => ({
  apiVersion: 'networking.internal.knative.dev/v1alpha1',
  kind: 'Ingress',
  metadata: { name, namespace: 'demo', annotations: { 'networking.knative.dev/ingress.class': cls } },
  spec: {
    rules: [
      {
        hosts: [`${name}.demo.svc.cluster.local`],
        visibility: 'ClusterLocal',
        http: { paths: [{ splits: [{ serviceName: 'backend', serviceNamespace: 'demo', servicePort: 80, percent: 100 }] }] },
      },
    ],
  },
});

if (why) {
  console.warn(`SKIP test/integration/knative-traefik.test.ts: ${why}`);
  s.skip(`(skipped: ${why})`, () => {});
} else {
  s.before(async () => {
    cp = await startControlPlane({ gatekeeper: false });
    kube = await makeKube(cp.kubeconfigPath);
    await applyAll(
      kube,
      localize(servingObjects()).filter((o) => o.kind === 'CustomResourceDefinition'),
    );
    dir = mkdtempSync(join(tmpdir(), 'stackscan-traefik-'));
    // An EndpointSlice may not name loopback: TEST-NET-1 (RFC 5737) as data only; nothing in this
    // test (no proxy, no node) ever sends to it
    traefik = await startTraefik({ dir, server: cp.server, caPath: cp.caPath, host: '127.0.0.1', endpointIp: '192.0.2.1' }, kube);
    await applyAny(kube, { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'demo' } });
    await applyAny(kube, {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 'backend', namespace: 'demo' },
      spec: { ports: [{ name: 'http', port: 80, targetPort: 8080 }] },
    });
  });
  s.after(async () => {
    await traefik?.stop();
    await cp?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  s("a cluster-local KIngress of Traefik's class: routed on the private entry point, marked ready with traefik-private as its load balancer", async () => {
    await applyAny(kube, kingress('fn', TRAEFIK_CLASS));
    let st: any;
    for (let i = 0; i < 120; i++) {
      st = (await getAny(kube, { apiVersion: 'networking.internal.knative.dev/v1alpha1', kind: 'Ingress', metadata: { name: 'fn', namespace: 'demo' } }))
        ?.status;
      if (st?.conditions?.find((c: any) => c.type === 'Ready')?.status === 'True') break;
      await new Promise((r) => setTimeout(r, 250));
    }
    assert.is(st?.conditions?.find((c: any) => c.type === 'Ready')?.status, 'True', JSON.stringify(st));
    assert.is(st.privateLoadBalancer.ingress[0].domainInternal, 'traefik-private.traefik.svc.cluster.local');
    assert.is(st.publicLoadBalancer.ingress[0].domainInternal, 'traefik.traefik.svc.cluster.local');
    // Traefik applies a provider's configuration after its providers throttle (2 s by default),
    // which may come after the status update: poll, bounded.
    let routers: any[] = [];
    let r: any;
    for (let i = 0; i < 40 && !r; i++) {
      if (i) await new Promise((res) => setTimeout(res, 250));
      routers = await (await fetch(`${traefik!.adminUrl}/api/http/routers`)).json();
      r = routers.find((x) => String(x.rule).includes('fn.demo.svc.cluster.local'));
    }
    assert.ok(r, JSON.stringify(routers).slice(0, 500));
    assert.equal(r.entryPoints, ['private'], 'cluster-local: the private entry point only');
    const services: any[] = await (await fetch(`${traefik!.adminUrl}/api/http/services`)).json();
    const backend = await getAny(kube, { apiVersion: 'v1', kind: 'Service', metadata: { name: 'backend', namespace: 'demo' } });
    assert.ok(JSON.stringify(services).includes(`http://${backend.spec.clusterIP}:80`), 'the split goes to the Service ClusterIP');
    // The public entry point does not serve it; an unknown host is a 404 on the private one.
    const other = await fetch(`${traefik!.privateUrl}/`, { headers: { host: 'nobody.demo.svc.cluster.local' } });
    assert.is(other.status, 404);
  });

  s("Traefik's command line names the node's dir (how the node's sweep recognises it after a kill); no token on it", () => {
    const cmdline = readFileSync(`/proc/${traefik!.pid}/cmdline`, 'utf8');
    assert.ok(cmdline.includes(dir), cmdline.replaceAll('\0', ' ').slice(0, 300));
    assert.is(readFileSync(join(dir, 'traefik.pid'), 'utf8').trim(), String(traefik!.pid));
    assert.not.match(cmdline, /token/i);
  });

  s('a KIngress of another class is ignored (no router, no status)', async () => {
    await applyAny(kube, kingress('other', 'kourier.ingress.networking.knative.dev'));
    await new Promise((r) => setTimeout(r, 3000));
    const routers: any[] = await (await fetch(`${traefik!.adminUrl}/api/http/routers`)).json();
    assert.not.ok(routers.some((x) => String(x.rule).includes('other.demo.svc.cluster.local')));
    const st = (await getAny(kube, { apiVersion: 'networking.internal.knative.dev/v1alpha1', kind: 'Ingress', metadata: { name: 'other', namespace: 'demo' } }))
      ?.status;
    assert.not.ok(st?.conditions?.some((c: any) => c.type === 'Ready' && c.status === 'True'));
  });
}

s.run();
