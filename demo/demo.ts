// `npm run demo`: the main job on the embedded local control plane.
//   1. boots a real kube-apiserver + etcd + Gatekeeper (harness/cluster)
//   2. loads a demo stack: the shared Stacktic sample's namespaces, Services and
//      generated NetworkPolicies, with a few deliberately missing, drifted or extra,
//      and the Stacktic Gatekeeper templates and constraints (examples/gatekeeper)
//   3. serves the functions over HTTP and runs every implemented scan through it
//   4. prints a summary table and writes the JSON reports to reports/
//   5. leaves nothing running
// The local control plane has no kubelet and no CNI: pods never run, so the network
// scan's full mode uses the local nmap runner against loopback listeners standing in
// for the Services. Loopback enforces no NetworkPolicy, which the report says.
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { serve } from '@hono/node-server';
import { parseHostMap } from '../lib/scan/hosts.ts';
import { makeKube } from '../lib/kube/client.ts';
import { combinedApp, mount } from '../lib/scan/serve.ts';
import { loadNetworkPolicyDir } from '../lib/topology/expected.ts';
import { loadStackMetadata } from '../lib/topology/stack-metadata.ts';
import { fullSettingsFromEnv, networkScan } from '../functions/network-scan/scan.ts';
import { renderPolicy } from '../lib/topology/render.ts';
import { STACK_NAMESPACE_LABEL } from '../lib/topology/stacktic-rules.ts';
import { opaScan } from '../functions/opa-scan/scan.ts';
import { startControlPlane } from '../harness/cluster/index.ts';
import { installPolicies, yamlDir } from '../harness/cluster/gatekeeper.ts';
import { apply, namespace } from '../harness/cluster/objects.ts';
import { kubescapeDemo } from './kubescape.ts';
import { runNucleiDemo } from './nuclei.ts';
import { nodeNetworkDemo } from './node.ts';
import { deployDemo } from './deploy.ts';
import { knativeDemo } from './knative.ts';
import { enableStoredReports, reportsDemo, type StoredReports } from './reports.ts';
import { validateReports } from './validate-reports.ts';

const ROOT = join(import.meta.dirname, '..');
// The project's own demo stack, in Stacktic's format, with the policies Stacktic generates for it.
const SAMPLE = join(ROOT, 'demo/stack/stack-metadata.yaml');
const GENERATED = join(ROOT, 'demo/stack/networkpolicy');
const REPORTS = join(ROOT, 'reports');
const log = (line: string) => console.log(line);

const MISSING = ['minio--from--strimzi--ingress--ports--9000', 'postgresql--exception--system--egress--ports--53'];
const DRIFTED = 'shop--to--postgresql--egress--ports--5432';
const UNLABELLED = 'grafana';

async function listen(host: string, port: number): Promise<Server | undefined> {
  const srv = createServer((s) => s.destroy());
  return new Promise((resolve) => {
    srv.once('error', () => resolve(undefined));
    srv.listen(port, host, () => resolve(srv));
  });
}

const t0 = Date.now();
// A fresh clone has no binaries yet: build them (cached; a no-op when up to date), and nmap for the probes.
// Only what the demo runs. The real node (full network mode with real enforcement) needs root: built
// when this is root and Go is here (a cold build takes about 20 minutes more), skipped otherwise.
const wantNode = process.getuid?.() === 0 && process.env.STACKSCAN_DEMO_NODE !== '0';
execFileSync('bash', [join(ROOT, 'harness/build.sh'), 'controlplane', 'gatekeeper', 'kubescape', 'nuclei', ...(wantNode ? ['node'] : [])], { stdio: 'inherit' });
try {
  execFileSync('nmap', ['--version'], { stdio: 'ignore' });
} catch {
  execFileSync('bash', [join(ROOT, 'harness/install-system-deps.sh')], { stdio: 'inherit' });
}
const cp = await startControlPlane({ gatekeeper: true, log: (l) => log(`  ${l}`) });
const listeners: Server[] = [];
let http: ReturnType<typeof serve> | undefined;
let failed = false;
let stored: StoredReports | undefined;
try {
  const kube = await makeKube(cp.kubeconfigPath);
  // OpenReports: every run below stores its results (demo/reports.ts).
  stored = await enableStoredReports({ kubeconfig: cp.kubeconfigPath, log });
  const topo = await loadStackMetadata({ path: SAMPLE, setting: 'STACK_METADATA' });
  log(`demo stack "${topo.stack}": ${topo.namespaces.length} namespaces, ${topo.links.length} links`);

  // Namespaces, one left without its stacktic label; a Service per component.
  const hostMap: Record<string, string> = {};
  let n = 10;
  for (const ns of topo.namespaces) await apply(kube, namespace(ns, ns === UNLABELLED ? {} : { [STACK_NAMESPACE_LABEL]: ns }));
  for (const c of topo.components.filter((x) => x.namespace && x.ports.length)) {
    await apply(kube, { apiVersion: 'v1', kind: 'Service', metadata: { name: c.name, namespace: c.namespace! }, spec: { selector: { 'app.kubernetes.io/name': c.name }, ports: c.ports.map((p) => ({ name: `p${p}`, port: p, protocol: 'TCP' })) } } as any);
    const ip = `127.77.0.${n++}`;
    hostMap[`${c.name}.${c.namespace}.svc.cluster.local`] = ip;
    for (const p of c.ports) {
      const srv = await listen(ip, p);
      if (srv) listeners.push(srv);
    }
  }
  // The API exception (443 to kubernetes.default) reaches the real local API server; cluster DNS has no
  // stand-in here, so the DNS probes stay UNDECIDED (the local runner never sends a DNS query).
  hostMap['kubernetes.default.svc.cluster.local:443'] = new URL(cp.server).host;

  // The generated policies (demo/stack/networkpolicy/, as Stacktic writes them), with deliberate damage.
  const stack = new Set(topo.namespaces);
  const expected = (await loadNetworkPolicyDir({ path: GENERATED, setting: 'NETWORKPOLICY_DIR' })).policies;
  for (const e of expected) {
    if (MISSING.includes(e.name)) continue;
    const p = structuredClone(renderPolicy(e, stack)) as any;
    if (e.name === DRIFTED) p.spec.egress[0].ports = [{ protocol: 'TCP', port: 5433 }];
    await apply(kube, p);
  }
  await apply(kube, { apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', metadata: { name: 'debug-allow-all', namespace: 'shop' }, spec: { podSelector: {}, ingress: [{}] } } as any);
  log(`applied ${expected.length - MISSING.length} of ${expected.length} expected NetworkPolicies (${MISSING.length} missing, 1 drifted, 1 extra; namespace ${UNLABELLED} unlabelled)`);

  const templates = yamlDir(join(ROOT, 'functions/opa-scan/stacktic/templates'));
  const constraints = yamlDir(join(ROOT, 'demo/gatekeeper/constraints'));
  await installPolicies(kube, templates, constraints);
  log(`Gatekeeper: ${templates.length} templates and ${constraints.length} constraints installed and enforced`);

  // Serve every scan as `npm start` does, and call it over HTTP.
  const topology = { metadata: { path: SAMPLE, setting: 'STACK_METADATA' } };
  const full = { ...fullSettingsFromEnv({}), runner: 'local' as const, localHosts: parseHostMap(JSON.stringify(hostMap)), hostTimeoutMs: 3000 };
  const app = combinedApp([mount(networkScan({ topology, kubeconfig: cp.kubeconfigPath, full })), mount(opaScan({ topology, kubeconfig: cp.kubeconfigPath, concurrency: 8 }))]);
  const port: number = await new Promise((resolve) => {
    http = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }, (info) => resolve(info.port));
  });
  const base = `http://127.0.0.1:${port}`;
  log(`serving ${base}: ${JSON.stringify(await (await fetch(`${base}/`)).json())}`);

  mkdirSync(REPORTS, { recursive: true });
  const rows: string[][] = [];
  for (const [path, mode] of [['network_scan', 'light'], ['network_scan', 'full'], ['opa_scan', 'light'], ['opa_scan', 'full']]) {
    const res = await fetch(`${base}/${path}?mode=${mode}`);
    const body: any = await res.json();
    writeFileSync(join(REPORTS, `${path}-${mode}.json`), JSON.stringify(body, null, 2));
    if (res.status !== 200) {
      failed = true;
      rows.push([path, mode, `HTTP ${res.status}`, body.error?.message ?? '']);
      continue;
    }
    const s = body.summary;
    const key =
      path === 'network_scan'
        ? mode === 'light'
          ? `expected ${s.expected}, found ${s.found}, missing ${s.missing}, drifted ${s.drifted}, extra ${s.extra}, empty selectors ${s.empty_selectors}, links ${s.links_bidirectional}/${s.links} bidirectional`
          : `${s.probes.tests} probes: ${Object.entries(s.probes.verdicts).filter(([, v]) => v).map(([k, v]) => `${k} ${v}`).join(', ')}${s.probes.cni_enforcing === false ? ' — CNI not enforcing (loopback)' : ''}`
        : mode === 'light'
          ? `templates ${s.templates}, constraints ${s.constraints}, violations ${s.total_violations}, uncovered ns ${s.uncovered_namespaces.length}, healthy ${s.healthy}`
          : `verdicts: ${Object.entries(s.verdicts).filter(([, v]) => v).map(([k, v]) => `${k} ${v}`).join(', ')}; conflicts ${s.conflicts}`;
    rows.push([path, mode, String(body.score), `${key} (${body.duration_ms} ms, ${body.errors.length} errors)`]);
  }
  const widths = [14, 6, 6];
  console.log(`\n${'scan'.padEnd(widths[0])} ${'mode'.padEnd(widths[1])} ${'score'.padEnd(widths[2])} key counts`);
  for (const r of rows) console.log(`${r[0].padEnd(widths[0])} ${r[1].padEnd(widths[1])} ${r[2].padEnd(widths[2])} ${r[3]}`);

  // The third way of use: CloudEvents to the same server, and what the Knative overlay would create.
  log('\n== CloudEvents and deployment manifests');
  if ((await deployDemo({ base, log })).failed) failed = true;

  // Kubescape: NSA and MITRE per stack namespace, on its own demo workloads in the same cluster.
  log('\n== kubescape (light and full) on the demo workloads');
  const ks = await kubescapeDemo({ kubeconfig: cp.kubeconfigPath, reportsDir: REPORTS, log });
  if (ks.failed) failed = true;

  // Nuclei: light and ssl against local services with planted weaknesses (its own demo stack).
  log('\n== nuclei (light, ssl, network) against local demo services');
  const nuclei = await runNucleiDemo({ log, reportsDir: REPORTS });
  for (const [mode, r] of [['light', nuclei.light], ['ssl', nuclei.ssl], ['network', nuclei.network]] as const) log(`nuclei ${mode}: score ${r.score}, ${(r.findings ?? []).length} findings, ${r.errors.length} errors`);
  // Stored OpenReports, a second run of each scan after a change in the cluster, regression events.
  log('\n== OpenReports: the stored reports, what changed since the last run, regression events');
  if ((await reportsDemo({ kubeconfig: cp.kubeconfigPath, stackMetadata: SAMPLE, stored, log })).failed) failed = true;
  console.log(`\nJSON reports: ${REPORTS}/ (demo took ${((Date.now() - t0) / 1000).toFixed(1)} s)`);
} catch (err) {
  failed = true;
  console.error(`demo failed: ${(err as Error).stack ?? err}`);
} finally {
  http?.close();
  await stored?.stop();
  await Promise.all(listeners.map((s) => new Promise((r) => s.close(r))));
  await cp.stop();
  log('control plane stopped; nothing left running');
}

// Full network mode on a real node: real pods, kube-router enforcing the generated policies, nmap in the
// source pods. Without it (not root, or STACKSCAN_DEMO_NODE=0) the table above is loopback only.
if (!failed && process.env.STACKSCAN_DEMO_NODE === '0') log('\nreal node not used: STACKSCAN_DEMO_NODE=0');
else if (!failed) {
  log('\n== network full on a real node (kubelet, containerd, kube-router enforcing NetworkPolicy)');
  process.env.STACK_SCAN_REPORTS ??= 'off'; // the node's own cluster has no OpenReports CRDs
  const node = await nodeNetworkDemo({ metadataPath: SAMPLE, log });
  if (node.ok) {
    writeFileSync(join(REPORTS, 'network_scan-full-node.json'), JSON.stringify(node.report, null, 2));
    log(`network_scan   full   ${String(node.report.score).padEnd(6)} ${node.summary} (${(node.durationMs / 1000).toFixed(1)} s with the node's start and stop)`);
    if (node.status !== 200) failed = true;
  } else log(`real node not used: ${node.reason} — the network full row above is the loopback demo (no enforcement)`);
}
// The four functions as Knative Services on a real Knative on the real node (root only): demo/knative.ts.
if (!failed) {
  log('\n== the four functions on a real Knative (Serving + Traefik + Eventing on the real node)');
  const kn = await knativeDemo({ log, reportsDir: REPORTS });
  if (!kn.ran) log(`Knative part skipped: ${kn.reason}`);
  else if (kn.failed) failed = true;
}
if (!validateReports(REPORTS, log)) failed = true;
process.exitCode = failed ? 1 : 0;
