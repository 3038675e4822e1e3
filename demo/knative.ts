// The demo's Knative part (root only): the four functions as Knative Services on a REAL Knative
// Serving + Traefik + Eventing on the real node (harness/knative). Deploys knative/overlays/local
// with the real kustomize, waits until each function has scaled to zero, calls each scan through
// Traefik (the first request scales it from zero), writes reports/knative-<scan>.json (the report
// as served by Knative), then one event's round trip through the real Broker and one run started
// by a PingSource. Prints per function: scaled-to-zero seen, first-request latency from zero, warm
// latency, and the same bundle's cold start as a plain process (measured in the same run).
import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { makeKube } from '../lib/kube/client.ts';
import { bundle, DIST } from '../knative/bundle.ts';
import { FUNCTIONS } from '../knative/render.ts';
import { IMAGES, startNodeCluster, type NodeCluster } from '../harness/node/index.ts';
import { installPolicies, waitFirstAudit, yamlDir } from '../harness/cluster/gatekeeper.ts';
import { apply, namespace } from '../harness/cluster/objects.ts';
import { installOpenReports } from '../harness/cluster/openreports.ts';
import type { Kube } from '../lib/kube/client.ts';
import { loadNetworkPolicyDir } from '../lib/topology/expected.ts';
import { loadStackMetadata } from '../lib/topology/stack-metadata.ts';
import { renderPolicy } from '../lib/topology/render.ts';
import { STACK_NAMESPACE_LABEL } from '../lib/topology/stacktic-rules.ts';
import { applyAny, importImages, knativePreflight, startKnative, type Knative } from '../harness/knative/index.ts';
import {
  brokerIngress,
  deployFunctions,
  NAMESPACE,
  plainColdStart,
  SCAN_NAME,
  SCAN_PATH,
  sendEvent,
  startSink,
  viaTraefik,
  waitBrokerReady,
  waitReady,
  waitScaledToZero,
  waitTriggersReady,
} from '../harness/knative/functions.ts';

const ROOT = join(import.meta.dirname, '..');
const DEMO_LABELS = { 'app.kubernetes.io/managed-by': 'stack-scan-demo' };

export interface KnativeDemoResult {
  ran: boolean;
  failed: boolean;
  reason?: string;
  /** One row per function and per event round trip, for the demo's final table. */
  rows: { scan: string; mode: string; score: string; detail: string }[];
}

/**
 * The stack the functions scan from inside the cluster: the demo stack's namespaces (labelled) and
 * the NetworkPolicies Stacktic generated for it, one workload per stack namespace (the node's pause
 * image, so kubescape has something to score), the OpenReports CRDs (the functions store their
 * results with their own ServiceAccounts) and the Stacktic Gatekeeper policies, audited once.
 */
async function seedStack(kube: Kube, log: (l: string) => void): Promise<void> {
  const t = Date.now();
  const crds = await installOpenReports(kube);
  const topo = await loadStackMetadata({ path: join(ROOT, 'knative/base/stack-metadata.yaml'), setting: 'STACK_METADATA' });
  const stack = new Set(topo.namespaces);
  for (const ns of topo.namespaces) await apply(kube, namespace(ns, { [STACK_NAMESPACE_LABEL]: ns }));
  const expected = (await loadNetworkPolicyDir({ path: join(ROOT, 'demo/stack/networkpolicy'), setting: 'NETWORKPOLICY_DIR' })).policies;
  for (const e of expected) await apply(kube, renderPolicy(e, stack) as never);
  for (const c of topo.components.filter((x) => x.namespace)) {
    const labels = { 'app.kubernetes.io/name': c.name, ...DEMO_LABELS };
    await apply(kube, {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: c.name, namespace: c.namespace!, labels },
      spec: {
        replicas: 1,
        selector: { matchLabels: { 'app.kubernetes.io/name': c.name } },
        template: {
          metadata: { labels },
          spec: {
            automountServiceAccountToken: false,
            containers: [{ name: c.name, image: IMAGES.pause, imagePullPolicy: 'Never', resources: { requests: { cpu: '1m', memory: '8Mi' } } }],
          },
        },
      },
    } as never);
  }
  const templates = yamlDir(join(ROOT, 'functions/opa-scan/stacktic/templates'));
  const constraints = yamlDir(join(ROOT, 'demo/gatekeeper/constraints'));
  await installPolicies(kube, templates, constraints);
  const auditWhy = await waitFirstAudit(kube, constraints, 90_000);
  log(
    `stack "${topo.stack}" seeded: ${topo.namespaces.length} namespaces, ${expected.length} NetworkPolicies, a pause workload per component, ` +
      `OpenReports CRDs (${crds.length}), Gatekeeper ${templates.length} templates / ${constraints.length} constraints ` +
      `(${auditWhy ?? 'first audit done'}) (${((Date.now() - t) / 1000).toFixed(1)}s)`,
  );
}

export async function knativeDemo(opts: { log: (l: string) => void; reportsDir: string }): Promise<KnativeDemoResult> {
  const { log } = opts;
  if (process.getuid?.() !== 0) return { ran: false, failed: false, rows: [], reason: `Knative on the real node needs root (uid ${process.getuid?.()})` };
  if (process.env.STACKSCAN_DEMO_KNATIVE === '0') return { ran: false, failed: false, rows: [], reason: 'STACKSCAN_DEMO_KNATIVE=0' };
  // Cached: a no-op when built; a cold build of Knative + Traefik takes about 10 minutes more.
  try {
    execFileSync('bash', [join(ROOT, 'harness/build.sh'), 'kustomize', 'knative-serving', 'traefik', 'knative-eventing'], { stdio: 'inherit' });
  } catch (e) {
    return { ran: false, failed: false, rows: [], reason: `could not build Knative: ${(e as Error).message.split('\n')[0]}` };
  }
  const why = knativePreflight({ eventing: true });
  if (why) return { ran: false, failed: false, rows: [], reason: why };

  const t0 = Date.now();
  mkdirSync(opts.reportsDir, { recursive: true });
  await bundle([...FUNCTIONS]);
  let nc: NodeCluster | undefined;
  let kn: Knative | undefined;
  let sink: Awaited<ReturnType<typeof startSink>> | undefined;
  let failed = false;
  const summary: KnativeDemoResult['rows'] = [];
  try {
    nc = await startNodeCluster({ gatekeeper: true, log: (l) => log(`  ${l}`) });
    const kube = await makeKube(nc.cp.kubeconfigPath);
    await seedStack(kube, (l) => log(`  ${l}`));
    importImages(nc, ['functions'], (l) => log(`  ${l}`));
    kn = await startKnative(nc, kube, { eventing: true, log: (l) => log(`  ${l}`) });
    const base = kn.traefik.privateUrl;

    await deployFunctions(kube, { eventing: true });
    const ready = await waitReady(kube, FUNCTIONS);
    log(`deployed knative/overlays/local: ${FUNCTIONS.map((f) => `${f} Ready in ${(ready[f] / 1000).toFixed(0)}s`).join(', ')}`);

    // The same bundles as plain processes (spawn -> first /healthz), while the functions scale down.
    const plain: Record<string, number> = {};
    for (const f of FUNCTIONS) plain[f] = await plainColdStart(join(DIST, `${f}.mjs`), { STACK_METADATA: join(ROOT, 'knative/base/stack-metadata.yaml') });
    const zero: Record<string, number> = {};
    await Promise.all(FUNCTIONS.map(async (f) => (zero[f] = await waitScaledToZero(kube, f))));
    log(`all four scaled to zero (no pod left) after ${FUNCTIONS.map((f) => `${f} ${(zero[f] / 1000).toFixed(0)}s`).join(', ')}`);

    const rows: string[][] = [];
    for (const f of FUNCTIONS) {
      const path = `/${SCAN_PATH[f]}?mode=light`;
      const cold = await viaTraefik(base, f, path);
      writeFileSync(join(opts.reportsDir, `knative-${SCAN_NAME[f]}.json`), cold.body);
      const warm = await viaTraefik(base, f, path);
      const hz = await viaTraefik(base, f, '/healthz');
      let rep: any = {};
      try {
        rep = JSON.parse(cold.body);
      } catch {
        /* not JSON: shown below */
      }
      if (cold.status !== 200) failed = true;
      summary.push({
        scan: SCAN_PATH[f],
        mode: 'light, Knative',
        score: cold.status === 200 ? String(rep.score) : `HTTP ${cold.status}`,
        detail:
          `scaled from zero: first answer ${(cold.ms / 1000).toFixed(2)} s, warm ${(warm.ms / 1000).toFixed(2)} s; ` +
          `the bundle as a plain process ${(plain[f] / 1000).toFixed(2)} s to /healthz`,
      });
      rows.push([
        f,
        'yes',
        `${(cold.ms / 1000).toFixed(2)}s`,
        `${(warm.ms / 1000).toFixed(2)}s`,
        `${hz.ms.toFixed(0)}ms`,
        `${(plain[f] / 1000).toFixed(2)}s`,
        cold.status === 200 ? `HTTP 200, score ${rep.score}, ${rep.errors?.length ?? '?'} errors` : `HTTP ${cold.status} ${cold.body.slice(0, 120)}`,
      ]);
    }
    const head = ['function', 'zero', 'first (from 0)', 'warm', 'warm /healthz', 'plain cold start', 'report'];
    const w = [16, 5, 15, 8, 14, 17];
    log(`\n${head.map((h, i) => h.padEnd(w[i] ?? 0)).join(' ')}`);
    for (const r of rows) log(r.map((c, i) => c.padEnd(w[i] ?? 0)).join(' '));
    log('first (from 0): the scan request that scaled the function from zero, through Traefik and the activator; warm: the same request again;');
    log('plain cold start: the same bundle spawned as a process until its first /healthz answer. Cold-start overhead = first - warm.');
    for (const r of rows) {
      const first = Number.parseFloat(r[2]);
      const warmS = Number.parseFloat(r[3]);
      const p = Number.parseFloat(r[5]);
      log(`  ${r[0]}: cold-start overhead ${(first - warmS).toFixed(2)}s vs plain process ${p.toFixed(2)}s (ratio ${((first - warmS) / p).toFixed(1)}x)`);
    }
    log(`reports: ${opts.reportsDir}/knative-<scan>.json`);

    // --- Eventing: one request event's round trip, and one scheduled run (PingSource).
    log('\n== CloudEvents through the real Broker (MT channel-based, InMemoryChannel)');
    sink = await startSink();
    await applyAny(kube, {
      apiVersion: 'eventing.knative.dev/v1',
      kind: 'Trigger',
      metadata: { name: 'stackscan-demo-results', namespace: NAMESPACE, labels: DEMO_LABELS },
      spec: { broker: 'stack-scan', subscriber: { uri: sink.url } },
    });
    await waitBrokerReady(kube);
    await waitTriggersReady(kube, ['stackscan-demo-results', ...FUNCTIONS]);
    const ingress = await brokerIngress(kube);
    const id = randomUUID();
    const tSend = Date.now();
    const sent = await sendEvent(ingress, { id, type: 'io.stacktic.scan.requested', source: '/stack-scan/demo', scan: 'opa', data: { mode: 'light' } });
    if (sent.status !== 202) throw new Error(`the Broker's ingress answered ${sent.status} after ${sent.attempts} attempt(s): ${sent.body}`);
    const st = `${sent.status}${sent.attempts > 1 ? ` (after ${sent.attempts} attempts)` : ''}`;
    const reply = await sink.wait((e) => e.attrs.inresponseto === id, 300_000, `reply to event ${id}`);
    log(
      `io.stacktic.scan.requested (scan=opa, id ${id.slice(0, 8)}) -> Broker ingress ${st}; Trigger opa-scan -> opa-scan; reply ${reply.attrs.type} ` +
        `from ${reply.attrs.source} delivered back through the Broker in ${((reply.at - tSend) / 1000).toFixed(2)}s`,
    );
    if (reply.attrs.type !== 'io.stacktic.scan.completed') failed = true;
    summary.push({
      scan: 'Broker',
      mode: 'event',
      score: reply.attrs.type === 'io.stacktic.scan.completed' ? 'ok' : 'FAILED',
      detail: `scan.requested -> Trigger -> opa-scan -> ${reply.attrs.type} back in ${((reply.at - tSend) / 1000).toFixed(2)} s`,
    });

    await applyAny(kube, {
      apiVersion: 'eventing.knative.dev/v1',
      kind: 'Trigger',
      metadata: { name: 'stackscan-demo-scheduled', namespace: NAMESPACE, labels: DEMO_LABELS },
      spec: {
        broker: 'stack-scan',
        filter: { attributes: { type: 'dev.knative.sources.ping', scan: 'opa' } },
        subscriber: { ref: { apiVersion: 'serving.knative.dev/v1', kind: 'Service', name: 'opa-scan' } },
      },
    });
    await waitTriggersReady(kube, ['stackscan-demo-scheduled']);
    const tPing = Date.now();
    await applyAny(kube, {
      apiVersion: 'sources.knative.dev/v1',
      kind: 'PingSource',
      metadata: { name: 'stackscan-demo-every-minute', namespace: NAMESPACE, labels: DEMO_LABELS },
      spec: {
        schedule: '* * * * *',
        contentType: 'application/json',
        data: '{"mode":"light"}',
        ceOverrides: { extensions: { scan: 'opa' } },
        sink: { ref: { apiVersion: 'eventing.knative.dev/v1', kind: 'Broker', name: 'stack-scan' } },
      },
    });
    const ping = await sink.wait((e) => e.attrs.type === 'dev.knative.sources.ping' && e.at >= tPing, 150_000, 'PingSource event');
    const done = await sink.wait((e) => e.attrs.inresponseto === ping.attrs.id, 300_000, `reply to the scheduled event ${ping.attrs.id}`);
    log(
      `PingSource "* * * * *" fired after ${((ping.at - tPing) / 1000).toFixed(0)}s; Trigger stackscan-demo-scheduled -> opa-scan; ${done.attrs.type} ` +
        `back through the Broker ${((done.at - ping.at) / 1000).toFixed(2)}s later`,
    );
    if (done.attrs.type !== 'io.stacktic.scan.completed') failed = true;
    summary.push({
      scan: 'PingSource',
      mode: 'schedule',
      score: done.attrs.type === 'io.stacktic.scan.completed' ? 'ok' : 'FAILED',
      detail: `"* * * * *" fired after ${((ping.at - tPing) / 1000).toFixed(0)} s -> opa-scan -> ${done.attrs.type} through the Broker`,
    });
    log(`Knative part took ${((Date.now() - t0) / 1000).toFixed(0)}s (node, Knative, functions, scans, events)`);
  } catch (e) {
    failed = true;
    log(`Knative demo failed: ${(e as Error).stack ?? e}`);
  } finally {
    await sink?.close();
    await kn?.stop();
    await nc?.stop();
    log('Knative, Traefik and the real node stopped; nothing left running');
  }
  return { ran: true, failed, rows: summary };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const r = await knativeDemo({ log: console.log, reportsDir: join(ROOT, 'reports') });
  if (!r.ran) console.log(`Knative demo skipped: ${r.reason}`);
  process.exitCode = r.failed ? 1 : 0;
}
