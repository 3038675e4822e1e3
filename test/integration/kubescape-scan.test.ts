// The kubescape scan with the REAL kubescape (v3.0.48, harness/build.sh kubescape) against
// the local control plane, on the demo stack's workloads (demo/kubescape/stack.ts):
// per-namespace scores equal kubescape's own `--include-namespaces <ns>` runs (both
// strategies), full-mode findings with Stacktic remediation, every exclusion row seen on
// real failures, failures of kubescape reported with what it said, cancellation and
// timeout leave no process and no temp file, identical requests share one run.
//
// KUBESCAPE_RECORD=1 also writes the real reports to test/fixtures/kubescape/ (the
// parser tests in test/unit/kubescape-parse.test.ts read them).
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { runScan, ScanAbort, scanApp } from '../../lib/scan/scaffold.ts';
import { findFramework, runKubescape, sameScore, TMP_PREFIX } from '../../functions/kubescape-scan/kubescape.ts';
import { kubescapeScan } from '../../functions/kubescape-scan/scan.ts';
import { BUNDLED_ARTIFACTS_DIR, type KubescapeSettings } from '../../functions/kubescape-scan/settings.ts';
import { DEMO_METADATA, DEMO_NAMESPACES, installDemoStack, OPERATOR_CLUSTER_ROLE, removeDemoStack } from '../../demo/kubescape/stack.ts';
import { testCluster } from '../support/cluster.ts';
import { HAVE_KUBESCAPE, KUBESCAPE_BIN } from '../support/kubescape.ts';
import { adminKube } from '../support/k8s.ts';
import { assertReportValid } from '../support/report-schema.ts';

const ROOT = join(import.meta.dirname, '../..');
const FIXTURES = join(ROOT, 'test/fixtures/kubescape');

const s = suite('kubescape scan: real kubescape, local control plane');

function settings(over: Partial<KubescapeSettings> = {}): KubescapeSettings {
  return {
    topology: { metadata: { path: DEMO_METADATA, setting: 'STACK_METADATA' } },
    kubeconfig: testCluster().kubeconfigPath,
    bin: KUBESCAPE_BIN,
    artifactsDir: BUNDLED_ARTIFACTS_DIR,
    runTimeoutMs: 180_000,
    thresholds: { nsa: 70, mitre: 60 },
    strategy: 'per-namespace',
    concurrency: 3,
    clusterScope: true,
    ...over,
  };
}

/** kubescape processes started by this test process (their --output is inside one of our temp dirs). */
function kubescapeProcesses(): string[] {
  try {
    return execFileSync('pgrep', ['-f', `${TMP_PREFIX}${process.pid}-`], { encoding: 'utf8' })
      .trim()
      .split('\n')
      .filter(Boolean);
  } catch {
    return [];
  }
}
const ourTempDirs = () => readdirSync(tmpdir()).filter((n) => n.startsWith(`${TMP_PREFIX}${process.pid}-`));

async function noLeftovers(what: string) {
  const end = Date.now() + 5000;
  while (Date.now() < end && (kubescapeProcesses().length || ourTempDirs().length)) await new Promise((r) => setTimeout(r, 100));
  assert.equal(kubescapeProcesses(), [], `${what}: no kubescape process left`);
  assert.equal(ourTempDirs(), [], `${what}: no temp dir left`);
}

const row = (body: any, ns: string) => body.results.namespaces.find((r: any) => r.namespace === ns);

if (!HAVE_KUBESCAPE) {
  const reason = `kubescape is not built: run \`bash harness/build.sh kubescape\` (about 9 min cold) or set KUBESCAPE_BIN`;
  if (process.env.CI === 'true') {
    s('kubescape binary present', () => assert.unreachable(reason));
  } else console.warn(`kubescape-scan: SKIPPING: ${reason}`);
} else {
  let light: any;
  let full: any;
  const own = new Map<string, { nsa: number; mitre: number }>();

  s.before(async () => {
    await installDemoStack(adminKube());
  });
  s.after(async () => {
    await removeDemoStack(adminKube());
  });

  s('each namespace alone, by kubescape itself (--include-namespaces <ns>); recorded with KUBESCAPE_RECORD=1', async () => {
    const record = process.env.KUBESCAPE_RECORD === '1';
    if (record) mkdirSync(FIXTURES, { recursive: true });
    for (const ns of DEMO_NAMESPACES) {
      const run = await runKubescape({
        bin: KUBESCAPE_BIN,
        frameworks: ['nsa', 'mitre'],
        kubeconfig: testCluster().kubeconfigPath,
        artifactsDir: BUNDLED_ARTIFACTS_DIR,
        includeNamespaces: [ns],
        timeoutMs: 180_000,
      });
      assert.is(run.failure, null, `${ns}: ${run.failure}`);
      own.set(ns, { nsa: findFramework(run.report!, 'nsa')!.complianceScore, mitre: findFramework(run.report!, 'mitre')!.complianceScore });
      if (record) writeFileSync(join(FIXTURES, `demo-ns-${ns}.json`), run.raw!);
    }
    if (record) {
      const all = await runKubescape({
        bin: KUBESCAPE_BIN,
        frameworks: ['nsa', 'mitre'],
        kubeconfig: testCluster().kubeconfigPath,
        artifactsDir: BUNDLED_ARTIFACTS_DIR,
        includeNamespaces: DEMO_NAMESPACES,
        timeoutMs: 180_000,
      });
      assert.is(all.failure, null);
      writeFileSync(join(FIXTURES, 'demo-stack.json'), all.raw!);
      const cluster = await runKubescape({
        bin: KUBESCAPE_BIN,
        frameworks: ['nsa', 'mitre'],
        kubeconfig: testCluster().kubeconfigPath,
        artifactsDir: BUNDLED_ARTIFACTS_DIR,
        timeoutMs: 180_000,
      });
      assert.is(cluster.failure, null);
      writeFileSync(join(FIXTURES, 'demo-cluster.json'), cluster.raw!);
    }
    await noLeftovers('per-namespace runs');
  });

  s("light (default: per-namespace, 3 at a time): every namespace's NSA and MITRE equal kubescape's own per-namespace run", async () => {
    const res = await scanApp(kubescapeScan(settings())).request('/kubescape_scan?mode=light');
    assert.is(res.status, 200);
    light = await res.json();
    assertReportValid(light, 'light');
    assert.equal(light.errors, []);
    assert.is(light.summary.kubescape_runs, DEMO_NAMESPACES.length);
    assert.equal(
      light.results.namespaces.map((r: any) => r.namespace),
      DEMO_NAMESPACES,
    );
    for (const ns of DEMO_NAMESPACES) {
      const r = row(light, ns);
      const k = own.get(ns)!;
      assert.ok(sameScore(r.nsa, Math.round(k.nsa * 100) / 100), `${ns} NSA ${r.nsa} vs kubescape ${k.nsa}`);
      assert.ok(sameScore(r.mitre, Math.round(k.mitre * 100) / 100), `${ns} MITRE ${r.mitre} vs kubescape ${k.mitre}`);
      assert.ok(r.resources > 0, `${ns} scanned objects`);
      assert.ok(r.score !== null);
    }
    // Components from the metadata, overall scores both ways, thresholds.
    assert.equal(row(light, 'ks-shop').components, [
      { name: 'shop', type: 'webapp' },
      { name: 'cart', type: 'webapp' },
    ]);
    assert.ok(typeof light.results.overall.kubescape.nsa === 'number' && typeof light.results.overall.kubescape.mitre === 'number');
    const mean = (xs: number[]) => Math.round((xs.reduce((a, b) => a + b, 0) / xs.length) * 100) / 100;
    assert.is(light.results.overall.mean_over_namespaces.nsa, mean(DEMO_NAMESPACES.map((ns) => row(light, ns).nsa)));
    for (const r of light.results.namespaces) assert.is(r.flagged, r.nsa_adjusted < 70 || r.mitre_adjusted < 60, r.namespace);
    assert.match(light.results.cluster_scope, /objects without a namespace/);
    assert.is(light.findings, undefined);
    assert.is(light.sources.kubescape.version, 'v3.0.48');
    await noLeftovers('light');
  });

  s('light (split: one run over the stack, split by namespace): the same scores', async () => {
    const res = await scanApp(kubescapeScan(settings({ strategy: 'split' }))).request('/kubescape_scan?mode=light');
    const body: any = await res.json();
    assertReportValid(body, 'light split');
    assert.equal(body.errors, []);
    assert.is(body.summary.kubescape_runs, 1);
    assert.equal(body.results.overall.kubescape, light.results.overall.kubescape);
    assert.ok(typeof body.results.overall.kubescape_reported.nsa === 'number', 'the number kubescape printed for the stack-wide run');
    for (const ns of DEMO_NAMESPACES) {
      for (const k of ['nsa', 'mitre', 'nsa_adjusted', 'mitre_adjusted', 'resources']) assert.is(row(body, ns)[k], row(light, ns)[k], `${ns} ${k}`);
    }
    assert.is(body.score, light.score);
  });

  s('full: findings with the field to change and the Stacktic remediation; exclusions apart, with reasons', async () => {
    const res = await scanApp(kubescapeScan(settings())).request('/kubescape_scan?mode=full');
    full = await res.json();
    assertReportValid(full, 'full');
    assert.equal(full.errors, []);
    assert.is(full.summary.kubescape_runs, DEMO_NAMESPACES.length + 1, 'per namespace + cluster-wide');
    const f = (ctrl: string, ns: string, name: string, list = full.findings) =>
      list.find((x: any) => x.control_id === ctrl && x.resource.namespace === ns && x.resource.name === name);
    // The careless cart runs as root: C-0013 with kubescape's fix and the component's attributes.
    const cartRoot = f('C-0013', 'ks-shop', 'cart');
    assert.ok(cartRoot, 'cart C-0013');
    assert.equal(cartRoot.component, { name: 'cart', type: 'webapp' });
    assert.equal(cartRoot.frameworks, ['NSA']);
    assert.is(cartRoot.severity, 'medium');
    assert.equal(cartRoot.resource.kind, 'Deployment');
    assert.ok(cartRoot.fix.length + cartRoot.failed_paths.length > 0, 'a field to change');
    assert.equal(cartRoot.remediation.attributes, [
      { name: 'securityContext', current: false },
      { name: 'pod_level_security', current: false },
      { name: 'user_id', current: '0' },
    ]);
    for (const ctrl of ['C-0016', 'C-0017', 'C-0270', 'C-0271']) assert.ok(f(ctrl, 'ks-shop', 'cart'), `cart ${ctrl}`);
    // The hardened shop passes those.
    for (const ctrl of ['C-0013', 'C-0016', 'C-0017', 'C-0270', 'C-0271', 'C-0034', 'C-0055']) assert.not.ok(f(ctrl, 'ks-shop', 'shop'), `shop passes ${ctrl}`);
    // cart's Role: secrets and exec.
    const rbac = full.findings.filter((x: any) => x.resource.namespace === 'ks-shop' && x.resource.name === 'cart' && x.resource.kind === 'ServiceAccount');
    assert.ok(
      rbac.some((x: any) => x.control_id === 'C-0015'),
      'cart can list Secrets',
    );
    assert.ok(rbac.every((x: any) => x.remediation.attributes[0].name === 'rbac' && x.remediation.attributes[0].current === false));
    assert.ok(rbac.every((x: any) => x.related.some((r: any) => r.kind === 'Role' && r.namespace === 'ks-shop')));
    // Every finding's remediation row, when present, names real attributes; fields come from kubescape.
    for (const x of full.findings) if (x.remediation) for (const a of x.remediation.attributes) assert.ok(typeof a.name === 'string');
    // Exclusions: each built-in row met on a real failure, with its reason, not in findings.
    const ex = full.results.excluded;
    const exOf = (id: string) => ex.filter((x: any) => x.exclusion.id === id);
    assert.ok(
      exOf('root-clickhouse').some((x: any) => x.control_id === 'C-0013' && x.resource.name === 'clickhouse'),
      'clickhouse root',
    );
    assert.ok(
      exOf('writable-prometheus-tsdb').some((x: any) => x.control_id === 'C-0017' && x.resource.name === 'prometheus'),
      'prometheus writable',
    );
    assert.ok(
      exOf('writable-grafana-plugins').some((x: any) => x.control_id === 'C-0017' && x.resource.name === 'grafana'),
      'grafana writable',
    );
    assert.ok(
      exOf('privileged-csi-driver').some((x: any) => x.control_id === 'C-0057' && x.resource.name === 'csi-driver-node'),
      'csi privileged',
    );
    for (const id of ['operator-rbac-cert-manager', 'operator-rbac-external-secrets', 'operator-rbac-velero'])
      assert.ok(
        exOf(id).some((x: any) => x.control_id === 'C-0015' || x.control_id === 'C-0035'),
        id,
      );
    const argo = exOf('operator-rbac-argocd');
    // The operator-like ClusterRole, bound by a ClusterRoleBinding to Argo CD's ServiceAccount: kubescape
    // evaluates that grant in the namespace's own run too.
    assert.ok(
      argo.some(
        (x: any) =>
          x.scope === 'namespace' && x.control_id === 'C-0035' && x.related?.some((r: any) => r.kind === 'ClusterRole' && r.name === OPERATOR_CLUSTER_ROLE),
      ),
      'operator ClusterRole',
    );
    // The cluster-wide run adds the stack's Namespace objects: C-0054 where no NetworkPolicy exists (ks-shop has one).
    const c54 = full.findings
      .filter((x: any) => x.scope === 'cluster' && x.control_id === 'C-0054')
      .map((x: any) => x.resource.name)
      .sort();
    assert.equal(c54, ['ks-argocd', 'ks-data', 'ks-monitoring', 'ks-platform']);
    assert.equal(full.findings.find((x: any) => x.control_id === 'C-0054').remediation.attributes[0].name, 'network_policy');
    assert.ok(
      argo.some((x: any) => x.scope === 'namespace' && x.resource.name === 'argocd-server'),
      'argocd-server namespaced Role',
    );
    for (const x of ex) assert.ok(x.exclusion.reason.length > 20);
    assert.not.ok(
      full.findings.some((x: any) =>
        ex.some(
          (y: any) =>
            y.control_id === x.control_id &&
            y.resource.name === x.resource.name &&
            y.resource.namespace === x.resource.namespace &&
            y.resource.kind === x.resource.kind,
        ),
      ),
    );
    // Exclusions raise the adjusted score, never the kubescape one.
    const data = row(full, 'ks-data');
    assert.ok(data.nsa_adjusted > data.nsa, `ks-data NSA adjusted ${data.nsa_adjusted} > ${data.nsa}`);
    assert.is(data.nsa, row(light, 'ks-data').nsa);
    // No secret of the metadata anywhere in the reports.
    for (const body of [light, full]) assert.not.match(JSON.stringify(body), /KsDemoSecret|BEGIN KsDemo/);
  });

  s('identical requests in flight share one kubescape run', async () => {
    const app = scanApp(kubescapeScan(settings()));
    const [a, b] = await Promise.all([app.request('/kubescape_scan?mode=light'), app.request('/kubescape_scan?mode=light')]);
    const [ja, jb]: any[] = await Promise.all([a.json(), b.json()]);
    assertReportValid(ja, 'coalesced');
    assert.is(app.scanStats!.runs, 1);
    assert.is(app.scanStats!.coalesced, 1);
    assert.equal(ja.results.namespaces, jb.results.namespaces);
  });

  s('cancellation (every client gone) and timeout kill kubescape and leave no temp file; the report keeps what finished', async () => {
    // Client disconnect through HTTP.
    const app = scanApp(kubescapeScan(settings()));
    const ac = new AbortController();
    const pending = Promise.resolve(app.request('/kubescape_scan?mode=light', { signal: ac.signal })).catch(() => null);
    const end = Date.now() + 20_000;
    while (Date.now() < end && !kubescapeProcesses().length) await new Promise((r) => setTimeout(r, 50));
    assert.ok(kubescapeProcesses().length > 0, 'kubescape started');
    ac.abort();
    await pending;
    await noLeftovers('client disconnect');

    // The scan's total time (KUBESCAPE_SCAN_TIMEOUT_MS, enforced by the scaffold) through HTTP.
    process.env.KUBESCAPE_SCAN_TIMEOUT_MS = '1000';
    try {
      const res = await scanApp(kubescapeScan(settings({ strategy: 'split' }))).request('/kubescape_scan?mode=light');
      assert.is(res.status, 200);
      const body: any = await res.json();
      assertReportValid(body, 'timed out');
      assert.ok(
        body.errors.some((e: any) => e.code === 'timeout' && /KUBESCAPE_SCAN_TIMEOUT_MS/.test(e.message)),
        JSON.stringify(body.errors),
      );
      assert.is(body.score, null);
    } finally {
      delete process.env.KUBESCAPE_SCAN_TIMEOUT_MS;
    }
    await noLeftovers('total timeout');

    // Timeout, per-namespace one at a time: the namespaces done before it stay in the report.
    const tc = new AbortController();
    const def = kubescapeScan(settings({ strategy: 'per-namespace', concurrency: 1 }));
    const running = runScan(def, 'light', {}, tc.signal);
    const until = Date.now() + 120_000;
    // Each kubescape run has its own temp dir: a second one means the first namespace is done.
    const dirs = new Set<string>();
    while (Date.now() < until && dirs.size < 2) {
      for (const d of ourTempDirs()) dirs.add(d);
      await new Promise((r) => setTimeout(r, 20));
    }
    assert.ok(dirs.size >= 2, 'a second kubescape run started');
    tc.abort(new ScanAbort('timeout', 'the scan exceeded its total time (test)'));
    const report: any = await running;
    await noLeftovers('timeout');
    assert.ok(
      report.errors.some((e: any) => e.code === 'timeout' || e.code === 'cancelled'),
      JSON.stringify(report.errors),
    );
    const done = report.results.namespaces.filter((r: any) => r.nsa !== null);
    assert.ok(done.length >= 1 && done.length < DEMO_NAMESPACES.length, `partial: ${done.map((r: any) => r.namespace)}`);
    for (const r of done) assert.is(r.nsa, row(light, r.namespace).nsa);
    for (const r of report.results.namespaces.filter((x: any) => x.nsa === null)) assert.match(r.note, /not scanned/);
  });

  s('a failing kubescape: unreachable API server, per-run timeout: its words in errors[], no score; bad artifacts never reach it', async () => {
    // Broken artifacts would make kubescape download policies from the Internet (or silently ignore
    // exceptions): the settings refuse them first, naming the file.
    const dir = mkdtempSync(join(tmpdir(), 'ks-bad-artifacts-'));
    writeFileSync(join(dir, 'nsa.json'), '{"this is": "not a framework"');
    writeFileSync(join(dir, 'mitre.json'), '{}');
    try {
      const prev = process.env.KUBESCAPE_ARTIFACTS_DIR;
      process.env.KUBESCAPE_ARTIFACTS_DIR = dir;
      try {
        const r = await scanApp(kubescapeScan()).request('/kubescape_scan?mode=light');
        assert.is(r.status, 422);
        const body: any = await r.json();
        assert.is(body.error.setting, 'KUBESCAPE_ARTIFACTS_DIR');
        assert.is(body.error.file, join(dir, 'nsa.json'));
        assert.match(body.error.message, /nsa\.json is not valid JSON/);
      } finally {
        if (prev === undefined) delete process.env.KUBESCAPE_ARTIFACTS_DIR;
        else process.env.KUBESCAPE_ARTIFACTS_DIR = prev;
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    assert.equal(kubescapeProcesses(), [], 'kubescape never started');
    // Unreachable: one 503 naming the server, as every scan answers; kubescape never starts.
    const unreachable = await scanApp(
      kubescapeScan(settings({ strategy: 'per-namespace', kubeconfig: join(ROOT, 'test/fixtures/kubeconfig-unreachable.yaml'), runTimeoutMs: 60_000 })),
    ).request('/kubescape_scan?mode=light');
    assert.is(unreachable.status, 503);
    const ub: any = await unreachable.json();
    assert.is(ub.error.code, 'cluster_unreachable');
    assert.match(ub.error.message, /127\.0\.0\.1:9/);
    assert.equal(kubescapeProcesses(), [], 'kubescape never started');
    // A missing kubescape (the API server reachable): every run in errors[] with the command that builds it, nothing decided.
    const missing = await runScan(kubescapeScan(settings({ bin: '/nonexistent/stack-scan/kubescape', strategy: 'per-namespace' })), 'full');
    assertReportValid(missing, 'missing');
    assert.is(missing.score, null);
    assert.ok(missing.errors.length >= 2 && missing.errors.every((e) => e.code === 'tool_missing'), JSON.stringify(missing.errors));
    assert.match(
      missing.errors[0].message,
      /kubescape was not found or is not executable \(\/nonexistent\/stack-scan\/kubescape\).*bash harness\/build\.sh kubescape/,
    );
    // 50 ms: far less than kubescape's own start (a 166 MB binary), so the run always times out.
    const slow: any = await runScan(kubescapeScan(settings({ runTimeoutMs: 50 })), 'light');
    assertReportValid(slow, 'slow');
    assert.ok(slow.errors.length >= 1, JSON.stringify(slow.errors));
    assert.is(slow.errors[0].code, 'timeout');
    assert.match(slow.errors[0].message, /KUBESCAPE_TIMEOUT_MS/);
    await noLeftovers('failures');
  });

  s('denied access (403) is "could not decide", naming what was denied', async () => {
    const kc = await testCluster().userKubeconfig('ks-nobody', []);
    const body: any = await runScan(kubescapeScan(settings({ strategy: 'split', kubeconfig: kc })), 'light');
    assertReportValid(body, 'denied');
    assert.is(body.score, null, JSON.stringify(body.errors));
    const denied = body.errors.find((e: any) => e.code === 'forbidden');
    assert.ok(denied, JSON.stringify(body.errors));
    assert.match(denied.message, /forbidden/i);
    assert.match(denied.message, /ks-nobody|cannot list/);
    for (const r of body.results.namespaces) assert.is(r.score, null);
  });
}

s.run();
