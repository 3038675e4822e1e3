// The body of `npm run demo` (demo/demo.ts wraps it so that no error ends in a stack trace).
//   0. checks what each part needs from the machine (demo/requirements.ts): as root installs the
//      missing Debian packages (saying what and why); otherwise prints the exact command and leaves
//      out only the parts that need them. Builds what is not built yet (harness/build.sh, cached).
//   1. boots a real kube-apiserver + etcd + Gatekeeper (harness/cluster)
//   2. loads the project's demo stack (demo/stack): namespaces, Services and the NetworkPolicies
//      Stacktic generates for it, a few deliberately missing, drifted or extra, and the Stacktic
//      Gatekeeper templates with the demo constraints; waits for Gatekeeper's first audit
//   3. serves the functions over HTTP and runs every scan through it; CloudEvents; knative/ rendered
//   4. kubescape on its demo workloads, nuclei against local services with planted weaknesses
//   5. as root: network full mode again on a real node where kube-router enforces the policies
//   6. prints one summary table (every part left out says why), writes the JSON reports to reports/
// The local control plane has no kubelet and no CNI: pods never run, so the network scan's full
// mode uses the local nmap runner against loopback listeners standing in for the Services.
// Loopback enforces no NetworkPolicy, which the report says.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
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
import { installPolicies, waitFirstAudit, yamlDir } from '../harness/cluster/gatekeeper.ts';
import { apply, namespace } from '../harness/cluster/objects.ts';
import { PART_LABELS, PARTS, installPackages, planRequirements, probeMachine, type Part } from './requirements.ts';
import { enableStoredReports, reportsDemo, type StoredReports } from './reports.ts';
import { validateReports } from './validate-reports.ts';

const ROOT = join(import.meta.dirname, '..');
const BIN = join(ROOT, '.cache/bin');
// The project's own demo stack, in Stacktic's format, with the policies Stacktic generates for it.
const SAMPLE = join(ROOT, 'demo/stack/stack-metadata.yaml');
const GENERATED = join(ROOT, 'demo/stack/networkpolicy');
const REPORTS = join(ROOT, 'reports');
const log = (line: string) => console.log(line);

const MISSING = ['minio--from--strimzi--ingress--ports--9000', 'postgresql--exception--system--egress--ports--53'];
const DRIFTED = 'shop--to--postgresql--egress--ports--5432';
const UNLABELLED = 'grafana';
/** How long the demo waits for Gatekeeper's first audit of the demo constraints (its interval is 5 s here). */
const AUDIT_WAIT_MS = 60_000;

/** The Go tool modules each part needs, and the binaries that show they are built. */
const MODULES: { module: string; binaries: string[]; parts: Part[] }[] = [
  { module: 'controlplane', binaries: ['etcd', 'kube-apiserver'], parts: ['cluster', 'network-full', 'cloudevents', 'knative', 'kubescape'] },
  { module: 'gatekeeper', binaries: ['gatekeeper'], parts: ['cluster', 'network-full', 'cloudevents', 'knative', 'kubescape'] },
  // Not a program: the OpenReports CRDs copied out of their pinned module (stamped beside them).
  { module: 'openreports', binaries: ['../openreports/crds.stamp'], parts: ['cluster'] },
  { module: 'kustomize', binaries: ['kustomize'], parts: ['knative'] },
  { module: 'kubescape', binaries: ['kubescape'], parts: ['kubescape'] },
  { module: 'nuclei', binaries: ['nuclei'], parts: ['nuclei'] },
];

interface Row {
  part: Part;
  scan: string;
  mode: string;
  score: string;
  detail: string;
}

/** A failure the user can act on: demo/demo.ts prints it as one line with `hint`. */
export class DemoError extends Error {
  constructor(
    message: string,
    readonly hint: string,
  ) {
    super(message);
  }
}

async function listen(host: string, port: number): Promise<Server | undefined> {
  const srv = createServer((s) => s.destroy());
  return new Promise((resolve) => {
    srv.once('error', () => resolve(undefined));
    srv.listen(port, host, () => resolve(srv));
  });
}

/** Builds a Go tool module when Go is here (cached by stamp); the reason its parts are left out otherwise. */
function buildModule(module: string, binaries: string[], haveGo: boolean): string | undefined {
  const built = binaries.every((b) => existsSync(join(BIN, b)));
  if (!haveGo) return built ? undefined : `needs ${binaries.join(', ')} built from Go (go is not on PATH): install Go, then bash harness/build.sh ${module}`;
  try {
    execFileSync('bash', [join(ROOT, 'harness/build.sh'), module], { stdio: 'inherit' });
    return undefined;
  } catch {
    return `the build of ${module} failed (its output is above): bash harness/build.sh ${module}`;
  }
}

/** Runs one part; an error in it is one FAILED row with its first line, and the other parts go on. */
async function part(rows: Row[], p: Part, scan: string, fn: () => Promise<boolean>): Promise<boolean> {
  try {
    return await fn();
  } catch (err) {
    const msg = (err instanceof Error ? err.message : String(err)).split('\n').find((l) => l.trim()) ?? 'unknown error';
    log(`${PART_LABELS[p]} failed: ${msg}`);
    rows.push({ part: p, scan, mode: '', score: 'FAILED', detail: `${msg} (STACKSCAN_DEMO_DEBUG=1 npm run demo shows the whole error)` });
    if (process.env.STACKSCAN_DEMO_DEBUG === '1') console.error(err);
    return false;
  }
}

function printTable(rows: Row[], leftOut: Map<Part, string>, seconds: number): void {
  // What ran, in the order it ran; then every part left out, with why.
  const all: string[][] = rows.filter((r) => !leftOut.has(r.part)).map((r) => [r.scan, r.mode, r.score, r.detail]);
  for (const part of PARTS) {
    const why = leftOut.get(part);
    if (why) all.push([PART_LABELS[part], '', '—', `LEFT OUT: ${why}`]);
  }
  const w = [0, 1, 2].map((i) => Math.max(...all.map((r) => r[i].length), ['scan', 'mode', 'score'][i].length));
  const line = (r: string[]) => `${r[0].padEnd(w[0])}  ${r[1].padEnd(w[1])}  ${r[2].padEnd(w[2])}  ${r[3]}`;
  console.log(`\n== summary (${seconds.toFixed(0)} s)\n${line(['scan', 'mode', 'score', 'result'])}`);
  for (const r of all) console.log(line(r));
}

export async function runDemo(): Promise<number> {
  const t0 = Date.now();
  const rows: Row[] = [];
  let failed = false;

  // 0. What each part needs from the machine.
  let probe = probeMachine();
  let plan = planRequirements(probe);
  if (plan.install.length) {
    log('== system packages the demo needs and this machine lacks (installing as root):');
    for (const p of plan.install) log(`  ${p.pkg}: ${p.why}`);
    if (
      !installPackages(
        ROOT,
        plan.install.map((p) => p.pkg),
      )
    )
      log('  harness/install-system-deps.sh failed (its output is above)');
    probe = probeMachine();
    plan = planRequirements(probe, { installed: true });
  } else if (plan.command) {
    log(`== system packages missing (not root: not installed). To include every part, run:\n  ${plan.command}`);
  }
  const leftOut = plan.leftOut;
  for (const [part, why] of leftOut) log(`  left out: ${PART_LABELS[part]}: ${why}`);
  if (leftOut.has('cluster'))
    throw new DemoError(`the local cluster cannot start: ${leftOut.get('cluster')}`, plan.command ?? 'bash harness/install-system-deps.sh');

  // A fresh clone has no binaries yet: build them (cached; a no-op when up to date). The real node comes last.
  for (const m of MODULES) {
    if (m.parts.every((p) => leftOut.has(p))) continue;
    const why = buildModule(m.module, m.binaries, probe.go);
    if (why) {
      for (const p of m.parts.filter((x) => !leftOut.has(x))) {
        leftOut.set(p, why);
        log(`  left out: ${PART_LABELS[p]}: ${why}`);
      }
    }
  }
  if (leftOut.has('cluster')) throw new DemoError(`the local cluster cannot start: ${leftOut.get('cluster')}`, 'bash harness/build.sh controlplane gatekeeper');

  const cp = await startControlPlane({ gatekeeper: true, log: (l) => log(`  ${l}`) });
  const listeners: Server[] = [];
  let http: ReturnType<typeof serve> | undefined;
  let stored: StoredReports | undefined;
  try {
    const kube = await makeKube(cp.kubeconfigPath);
    // OpenReports: every run against this cluster stores its results (demo/reports.ts).
    stored = await enableStoredReports({ kubeconfig: cp.kubeconfigPath, log });
    const topo = await loadStackMetadata({ path: SAMPLE, setting: 'STACK_METADATA' });
    log(`demo stack "${topo.stack}": ${topo.namespaces.length} namespaces, ${topo.links.length} links`);

    // Namespaces, one left without its stacktic label; a Service per component.
    const hostMap: Record<string, string> = {};
    let n = 10;
    for (const ns of topo.namespaces) await apply(kube, namespace(ns, ns === UNLABELLED ? {} : { [STACK_NAMESPACE_LABEL]: ns }));
    for (const c of topo.components.filter((x) => x.namespace && x.ports.length)) {
      await apply(kube, {
        apiVersion: 'v1',
        kind: 'Service',
        metadata: { name: c.name, namespace: c.namespace! },
        spec: { selector: { 'app.kubernetes.io/name': c.name }, ports: c.ports.map((p) => ({ name: `p${p}`, port: p, protocol: 'TCP' })) },
      } as any);
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
    await apply(kube, {
      apiVersion: 'networking.k8s.io/v1',
      kind: 'NetworkPolicy',
      metadata: { name: 'debug-allow-all', namespace: 'shop' },
      spec: { podSelector: {}, ingress: [{}] },
    } as any);
    log(
      `applied ${expected.length - MISSING.length} of ${expected.length} expected NetworkPolicies (${MISSING.length} missing, 1 drifted, 1 extra; ` +
        `namespace ${UNLABELLED} unlabelled)`,
    );

    const templates = yamlDir(join(ROOT, 'functions/opa-scan/stacktic/templates'));
    const constraints = yamlDir(join(ROOT, 'demo/gatekeeper/constraints'));
    await installPolicies(kube, templates, constraints);
    log(`Gatekeeper: ${templates.length} templates and ${constraints.length} constraints installed and enforced`);
    // The OPA light score is the share of AUDITED constraints without violations: before the first
    // audit it is null (nothing decided). Wait for that audit, bounded.
    const ta = Date.now();
    const auditWhy = await waitFirstAudit(kube, constraints, AUDIT_WAIT_MS);
    log(
      auditWhy
        ? `Gatekeeper audit: ${auditWhy}; the OPA light score stays null until it has`
        : `Gatekeeper's first audit reported on every constraint after ${((Date.now() - ta) / 1000).toFixed(1)} s`,
    );

    // Serve every scan as `npm start` does, and call it over HTTP.
    const topology = { metadata: { path: SAMPLE, setting: 'STACK_METADATA' } };
    const full = { ...fullSettingsFromEnv({}), runner: 'local' as const, localHosts: parseHostMap(JSON.stringify(hostMap)), hostTimeoutMs: 3000 };
    const app = combinedApp([
      mount(networkScan({ topology, kubeconfig: cp.kubeconfigPath, full })),
      mount(opaScan({ topology, kubeconfig: cp.kubeconfigPath, concurrency: 8 })),
    ]);
    const port: number = await new Promise((resolve) => {
      http = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }, (info) => resolve(info.port));
    });
    const base = `http://127.0.0.1:${port}`;
    log(`serving ${base}: ${JSON.stringify(await (await fetch(`${base}/`)).json())}`);

    mkdirSync(REPORTS, { recursive: true });
    const calls: [string, string, Part][] = [
      ['network_scan', 'light', 'cluster'],
      ['network_scan', 'full', 'network-full'],
      ['opa_scan', 'light', 'cluster'],
      ['opa_scan', 'full', 'cluster'],
    ];
    for (const [path, mode, part] of calls) {
      if (leftOut.has(part)) continue;
      const res = await fetch(`${base}/${path}?mode=${mode}`);
      const body: any = await res.json();
      writeFileSync(join(REPORTS, `${path}-${mode}.json`), JSON.stringify(body, null, 2));
      if (res.status !== 200) {
        failed = true;
        rows.push({ part, scan: path, mode, score: `HTTP ${res.status}`, detail: body.error?.message ?? '' });
        continue;
      }
      const s = body.summary;
      const key =
        path === 'network_scan'
          ? mode === 'light'
            ? `expected ${s.expected}, found ${s.found}, missing ${s.missing}, drifted ${s.drifted}, extra ${s.extra}, empty selectors ` +
              `${s.empty_selectors}, links ${s.links_bidirectional}/${s.links} bidirectional`
            : `${s.probes.tests} probes: ${Object.entries(s.probes.verdicts)
                .filter(([, v]) => v)
                .map(([k, v]) => `${k} ${v}`)
                .join(', ')}${s.probes.cni_enforcing === false ? ' — CNI not enforcing (loopback)' : ''}`
          : mode === 'light'
            ? `templates ${s.templates}, constraints ${s.constraints}, violations ${s.total_violations}, not audited ${s.constraints_not_audited}, ` +
              `uncovered ns ${s.uncovered_namespaces.length}, healthy ${s.healthy}`
            : `verdicts: ${Object.entries(s.verdicts)
                .filter(([, v]) => v)
                .map(([k, v]) => `${k} ${v}`)
                .join(', ')}; conflicts ${s.conflicts}`;
      const row = { part, scan: path, mode, score: String(body.score), detail: `${key} (${body.duration_ms} ms, ${body.errors.length} errors)` };
      rows.push(row);
      log(`${row.scan} ${row.mode}: score ${row.score}: ${row.detail}`);
    }

    // The third way of use: CloudEvents to the same server, and what the Knative overlay would create.
    log('\n== CloudEvents and deployment manifests');
    const { deployDemo } = await import('./deploy.ts');
    const dep = await deployDemo({ base, log, render: !leftOut.has('knative') });
    if (dep.failed) failed = true;
    rows.push({ part: 'cloudevents', scan: 'CloudEvents', mode: 'light', score: dep.failed ? 'FAILED' : 'ok', detail: dep.events });
    if (!leftOut.has('knative')) {
      if (dep.knative.ok) rows.push({ part: 'knative', scan: 'knative/', mode: '', score: 'ok', detail: dep.knative.detail });
      else leftOut.set('knative', dep.knative.detail);
    }

    // Kubescape: NSA and MITRE per stack namespace, on its own demo workloads in the same cluster.
    if (!leftOut.has('kubescape')) {
      log('\n== kubescape (light and full) on the demo workloads');
      const ok = await part(rows, 'kubescape', 'kubescape_scan', async () => {
        const { kubescapeDemo } = await import('./kubescape.ts');
        const ks = await kubescapeDemo({ kubeconfig: cp.kubeconfigPath, reportsDir: REPORTS, log });
        for (const [mode, score, detail] of ks.rows) rows.push({ part: 'kubescape', scan: 'kubescape_scan', mode, score, detail });
        return !ks.failed;
      });
      if (!ok) failed = true;
    }

    // Stored OpenReports, a second run of each scan after a change in the cluster, regression events.
    log('\n== OpenReports: the stored reports, what changed since the last run, regression events');
    const rep = await reportsDemo({ kubeconfig: cp.kubeconfigPath, stackMetadata: SAMPLE, stored, log });
    if (rep.failed) failed = true;
    rows.push({
      part: 'cluster',
      scan: 'OpenReports',
      mode: '',
      score: rep.failed ? 'FAILED' : 'ok',
      detail: 'reports stored per namespace, changes since the last run, a regression event per scan',
    });
  } finally {
    http?.close();
    await stored?.stop();
    await Promise.all(listeners.map((s) => new Promise((r) => s.close(r))));
    await cp.stop();
    log('control plane stopped; nothing left running');
  }

  // Nuclei: light and ssl against local services with planted weaknesses (its own demo stack, no cluster).
  if (!leftOut.has('nuclei')) {
    log('\n== nuclei (light, ssl, network) against local demo services');
    const ok = await part(rows, 'nuclei', 'nuclei_scan', async () => {
      const { runNucleiDemo } = await import('./nuclei.ts');
      const nuclei = await runNucleiDemo({ log, reportsDir: REPORTS });
      for (const [mode, r] of [
        ['light', nuclei.light],
        ['ssl', nuclei.ssl],
        ['network', nuclei.network],
      ] as const) {
        const s = r.summary as { targets: number; reached: number };
        rows.push({
          part: 'nuclei',
          scan: 'nuclei_scan',
          mode,
          score: String(r.score),
          detail: `${(r.findings ?? []).length} findings on ${s.reached}/${s.targets} targets reached (${r.duration_ms} ms, ${r.errors.length} errors)`,
        });
      }
      return true;
    });
    if (!ok) failed = true;
  }

  // Full network mode on a real node: real pods, kube-router enforcing the generated policies, nmap in the
  // source pods. Root only; built here (a cold build takes about 20 minutes).
  if (!leftOut.has('node')) {
    log('\n== network full on a real node (kubelet, containerd, kube-router enforcing NetworkPolicy)');
    const why = buildModule('node', ['kubelet', 'runc', 'containerd', 'kube-router', 'coredns'], probe.go);
    if (why) leftOut.set('node', why);
    else {
      const ok = await part(rows, 'node', 'network_scan', async () => {
        const { nodeNetworkDemo } = await import('./node.ts');
        process.env.STACK_SCAN_REPORTS ??= 'off'; // the node's own cluster has no OpenReports CRDs
        const node = await nodeNetworkDemo({ metadataPath: SAMPLE, log });
        if (!node.ok) {
          leftOut.set('node', node.reason);
          return true;
        }
        writeFileSync(join(REPORTS, 'network_scan-full-node.json'), JSON.stringify(node.report, null, 2));
        rows.push({
          part: 'node',
          scan: 'network_scan',
          mode: 'full',
          score: String(node.report.score),
          detail: `${node.summary} (${(node.durationMs / 1000).toFixed(1)} s with the node's start and stop)`,
        });
        return node.status === 200;
      });
      if (!ok) failed = true;
    }
  }

  // The four functions as Knative Services on a real Knative on the real node (root): demo/knative.ts.
  if (!leftOut.has('knative-node')) {
    if (leftOut.has('node')) leftOut.set('knative-node', `runs on the real node, which is left out (${leftOut.get('node')})`);
    else if (failed) leftOut.set('knative-node', 'not started: an earlier part failed (above)');
    else {
      log('\n== the four functions on a real Knative (Serving + Traefik + Eventing on the real node)');
      const { knativeDemo } = await import('./knative.ts');
      const kn = await knativeDemo({ log, reportsDir: REPORTS });
      if (!kn.ran) leftOut.set('knative-node', kn.reason ?? 'not run');
      for (const r of kn.rows) rows.push({ part: 'knative-node', ...r });
      if (kn.ran && kn.failed) {
        failed = true;
        if (!kn.rows.length) rows.push({ part: 'knative-node', scan: 'Knative', mode: '', score: 'FAILED', detail: 'see the log above' });
      }
    }
  }

  // Every JSON report written matches its scan's published schema (schema/<scan>-report.schema.json).
  if (!validateReports(REPORTS, log)) failed = true;
  printTable(rows, leftOut, (Date.now() - t0) / 1000);
  console.log(
    `\nJSON reports: ${REPORTS}/${leftOut.size ? `; ${leftOut.size} part(s) left out, each with its reason above` : ''}` +
      `${plan.command ? `\nto include them: ${plan.command}` : ''}`,
  );
  return failed ? 1 : 0;
}
