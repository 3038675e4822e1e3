// The nuclei scan end to end: the REAL nuclei (.cache/bin/nuclei, harness/build.sh nuclei)
// with our templates (test/fixtures/nuclei/templates) against REAL local services on
// loopback started here (demo/nuclei/services.ts): an HTTP app with planted weaknesses,
// a clean HTTP site, an HTTPS server with an expired self-signed certificate and TLS
// 1.0/1.1, Debian's redis-server without and with a password, a closed port.
// Targets come from demo/nuclei/stack-metadata.yaml through SCAN_HOST_MAP, SCAN_DNS=off.
import { readdirSync, readFileSync } from 'node:fs';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { createServer, type Server, type Socket } from 'node:net';
import { runScan, scanApp, type ScanReport } from '../../lib/scan/scaffold.ts';
import { nucleiScan } from '../../functions/nuclei-scan/scan.ts';
import { DEFAULT_NUCLEI_BIN, nucleiSettingsFromEnv, type NucleiScanSettings } from '../../functions/nuclei-scan/settings.ts';
import type { Finding, TargetResult } from '../../functions/nuclei-scan/judge.ts';
import { DEMO_METADATA, FIXTURE_TEMPLATES, LEAKED_SECRET, redisServerPath, startDemoServices, type DemoServices } from '../../demo/nuclei/services.ts';
import { existsSync } from 'node:fs';
import { assertReportValid } from '../support/report-schema.ts';

const test = suite('nuclei scan against real local services');
const missing: string[] = [];
if (!existsSync(DEFAULT_NUCLEI_BIN)) missing.push(`nuclei (${DEFAULT_NUCLEI_BIN}): run bash harness/build.sh nuclei`);
if (!redisServerPath()) missing.push('redis-server: run bash harness/install-system-deps.sh');

let services: DemoServices;
const env = (extra: Record<string, string> = {}) => ({
  PATH: process.env.PATH,
  STACK_METADATA: DEMO_METADATA,
  NUCLEI_TEMPLATES_DIR: FIXTURE_TEMPLATES,
  NUCLEI_BIN: DEFAULT_NUCLEI_BIN,
  SCAN_HOST_MAP: JSON.stringify(services.hostMap),
  SCAN_DNS: 'off',
  NUCLEI_REQUEST_TIMEOUT_S: '3',
  NUCLEI_RETRIES: '0',
  ...extra,
});
const settings = (extra: Record<string, string> = {}): NucleiScanSettings => nucleiSettingsFromEnv(env(extra));
const scan = (mode: 'light' | 'full' | 'network' | 'ssl', extra: Record<string, string> = {}, signal?: AbortSignal) =>
  runScan(nucleiScan(settings(extra)), mode, {}, signal).then((r) => (assertReportValid(r, mode), r));

const findings = (r: ScanReport) => (r.findings ?? []) as Finding[];
const targets = (r: ScanReport) => (r.results as { targets: TargetResult[] }).targets;
const ids = (r: ScanReport, component?: string) =>
  [
    ...new Set(
      findings(r)
        .filter((f) => !component || f.component === component)
        .map((f) => f.template_id),
    ),
  ].sort();
const target = (r: ScanReport, component: string, kind = 'route') => targets(r).find((t) => t.component === component && t.kind === kind)!;

/** Our nuclei processes: their argv holds this process's work dir prefix. */
function nucleiProcesses(): number[] {
  const out: number[] = [];
  for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    try {
      const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
      if (cmd.includes(`stack-scan-nuclei-${process.pid}-`)) out.push(Number(pid));
    } catch {
      /* exited */
    }
  }
  return out;
}

/** A TCP server that accepts and never answers: nuclei waits on it until its timeout. */
async function tarpit(): Promise<{ port: number; stop: () => Promise<void> }> {
  const socks = new Set<Socket>();
  const srv: Server = createServer((s) => {
    socks.add(s);
    s.on('error', () => undefined);
    s.on('close', () => socks.delete(s));
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
  return {
    port: (srv.address() as { port: number }).port,
    stop: () =>
      new Promise((r) => {
        for (const s of socks) s.destroy();
        srv.close(() => r());
      }),
  };
}

async function waitFor(cond: () => boolean, ms: number): Promise<boolean> {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    if (cond()) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  return cond();
}

test.before(async () => {
  if (missing.length) return;
  services = await startDemoServices();
});
test.after(async () => {
  await services?.stop();
});

const HTTP_WEAKNESSES = ['stackscan-admin-panel', 'stackscan-default-login', 'stackscan-git-config'];
const TLS_WEAKNESSES = ['stackscan-deprecated-tls', 'stackscan-expired-ssl', 'stackscan-self-signed-ssl'];

if (missing.length) {
  const reason = `nuclei integration tests need: ${missing.join('; ')}`;
  if (process.env.CI === 'true') test('nuclei and redis-server are available', () => assert.unreachable(reason));
  else console.log(`SKIP ${reason}`);
} else {
  test('light: the planted HTTP weaknesses on the admin route, nothing on the clean and TLS routes, the closed one unreachable', async () => {
    const r = await scan('light');
    assert.equal(ids(r, 'portal'), HTTP_WEAKNESSES);
    assert.equal(ids(r), HTTP_WEAKNESSES, 'no TLS or redis finding in light mode');
    for (const f of findings(r)) {
      assert.is(f.namespace, 'portal');
      assert.is(f.target, 'http://admin.nuclei-demo.test');
      assert.ok(f.matched_at.startsWith(`http://127.0.0.1:${services.ports.portal}`), f.matched_at);
      assert.not.ok('request' in f || 'response' in f, 'no request/response unless asked');
    }
    const panel = findings(r).find((f) => f.template_id === 'stackscan-admin-panel')!;
    assert.is(panel.severity, 'medium');
    assert.equal(panel.extracted, ['2.3.1']);
    assert.ok(panel.tags.includes('panel'));
    assert.ok(panel.references.length === 1);
    assert.is(target(r, 'docs').reached, true);
    assert.is(target(r, 'docs').findings, 0);
    assert.is(target(r, 'shop').reached, true, 'the HTTPS route answers HTTP');
    assert.is(target(r, 'shop').findings, 0);
    assert.is(target(r, 'legacy').reached, false);
    assert.ok(
      r.errors.some((e) => e.code === 'unreachable' && e.message.includes('legacy (legacy) at http://legacy.nuclei-demo.test')),
      JSON.stringify(r.errors),
    );
    assert.is(r.summary.reached, 3);
    assert.is(r.summary.unreachable, 1);
    assert.equal(r.summary.findings, { critical: 0, high: 2, medium: 1, low: 0, info: 0, unknown: 0 });
    // portal: 100 - (20 + 20 + 8) = 52; docs 100; shop 100 → mean 84, capped at 70 by the high findings.
    assert.is(r.score, 70);
    const text = JSON.stringify(r);
    assert.not.ok(text.includes(LEAKED_SECRET), 'the metadata secret leaked by .git/config is redacted');
    assert.ok(
      findings(r)
        .find((f) => f.template_id === 'stackscan-git-config')!
        .extracted[0].includes('[redacted]'),
    );
    assert.equal(nucleiProcesses(), []);
  });

  test('ssl: the expired, self-signed, TLS 1.0/1.1 weaknesses on the HTTPS route only', async () => {
    const r = await scan('ssl');
    assert.equal(ids(r), TLS_WEAKNESSES);
    assert.ok(findings(r).every((f) => f.component === 'shop' && f.namespace === 'shop' && f.target === 'shop.nuclei-demo.test:443'));
    const versions = findings(r)
      .filter((f) => f.template_id === 'stackscan-deprecated-tls')
      .flatMap((f) => f.extracted)
      .sort();
    assert.equal(versions, ['tls10', 'tls11']);
    assert.is(r.summary.targets, 1);
    assert.is(r.summary.reached, 1);
    assert.equal((r.results as { skipped: { component: string }[] }).skipped.map((s) => s.component).sort(), ['docs', 'legacy', 'portal']);
    assert.is(r.errors.length, 0, JSON.stringify(r.errors));
  });

  test('network: unauthenticated redis found; the password-protected one reached and clean; no HTTP/TLS template', async () => {
    const r = await scan('network');
    assert.equal(ids(r), ['stackscan-redis-unauth']);
    const f = findings(r)[0];
    assert.is(f.component, 'redis');
    assert.is(f.namespace, 'redis');
    assert.match(f.extracted[0], /^\d+\.\d+/);
    assert.is(target(r, 'redis', 'service').reached, true);
    assert.is(target(r, 'sessions', 'service').reached, true);
    assert.is(target(r, 'sessions', 'service').findings, 0);
    assert.is(r.errors.length, 0, JSON.stringify(r.errors));
    assert.not.ok(JSON.stringify(r).includes('Sessions-Demo-Secret-7'));
  });

  test('full: routes and internal services; HTTP weaknesses on both portal targets, unmapped Services reported, TCP types left out', async () => {
    const r = await scan('full');
    assert.equal(ids(r), HTTP_WEAKNESSES);
    assert.equal(ids(r, 'portal'), HTTP_WEAKNESSES);
    const portalTargets = new Set(findings(r).map((f) => f.target));
    assert.equal([...portalTargets].sort(), ['http://admin.nuclei-demo.test', 'http://portal.portal.svc.cluster.local:8080']);
    assert.is(target(r, 'docs', 'service').reached, true, 'docs Service maps to the same address as its route: one input, two targets');
    assert.is(target(r, 'docs', 'service').findings, 0);
    assert.is(target(r, 'shop', 'service').reached, false);
    assert.ok(r.errors.some((e) => e.code === 'unresolved' && e.message.includes('shop.shop.svc.cluster.local')));
    assert.ok(r.errors.some((e) => e.code === 'unreachable' && e.message.includes('legacy')));
    assert.not.ok(targets(r).some((t) => t.component === 'redis' || t.component === 'sessions'));
  });

  test('evidence=true adds request and response to findings, secrets still redacted', async () => {
    const r = await runScan(nucleiScan(settings()), 'light', { evidence: 'true' });
    assertReportValid(r, 'light with evidence');
    const git = findings(r).find((f) => f.template_id === 'stackscan-git-config')!;
    assert.match(git.request!, /GET \/\.git\/config/);
    assert.match(git.response!, /repositoryformatversion/);
    assert.not.ok(JSON.stringify(r).includes(LEAKED_SECRET));
  });

  test('over HTTP: the envelope; a bad setting is a 422 naming it, an unset templates dir a 503 naming it; evidence must be true/false', async () => {
    const saved = { ...process.env };
    try {
      Object.assign(process.env, env());
      const app = scanApp(nucleiScan());
      const res = await app.request('/nuclei_scan?mode=ssl');
      assert.is(res.status, 200);
      const body = (await res.json()) as ScanReport;
      assertReportValid(body, 'ssl over HTTP');
      assert.is(body.scan, 'nuclei');
      assert.is(body.scan_type, 'ssl');
      assert.ok(body.score !== null && body.score < 100);
      const bad = await app.request('/nuclei_scan?mode=ssl&evidence=maybe');
      assert.is(bad.status, 400);
      process.env.NUCLEI_RATE_LIMIT = 'fast';
      const r422 = await app.request('/nuclei_scan?mode=ssl');
      assert.is(r422.status, 422);
      assert.is(((await r422.json()) as { error: { setting: string } }).error.setting, 'NUCLEI_RATE_LIMIT');
      delete process.env.NUCLEI_RATE_LIMIT;
      delete process.env.NUCLEI_TEMPLATES_DIR;
      const unset = await app.request('/nuclei_scan?mode=ssl');
      assert.is(unset.status, 503);
      assert.is(((await unset.json()) as { error: { setting: string } }).error.setting, 'NUCLEI_TEMPLATES_DIR');
    } finally {
      for (const k of Object.keys(process.env)) if (!(k in saved)) delete process.env[k];
      Object.assign(process.env, saved);
    }
  });

  test('two identical requests in flight share one nuclei run', async () => {
    const app = scanApp(nucleiScan(() => settings()));
    const [a, b] = await Promise.all([app.request('/nuclei_scan?mode=network'), app.request('/nuclei_scan?mode=network')]);
    assert.is(a.status, 200);
    assert.is(b.status, 200);
    assert.is(app.scanStats!.runs, 1);
    assert.is(app.scanStats!.coalesced, 1);
    assert.equal(await a.json(), await b.json());
  });

  test('cancellation kills nuclei (no process left) and returns what was found with a cancelled error', async () => {
    const pit = await tarpit();
    try {
      // redis points at a server that never answers; nuclei would wait 30 s per read.
      const map = { ...services.hostMap, 'redis.redis.svc.cluster.local:6379': `127.0.0.1:${pit.port}` };
      const ac = new AbortController();
      const started = Date.now();
      const pending = scan('network', { SCAN_HOST_MAP: JSON.stringify(map), NUCLEI_REQUEST_TIMEOUT_S: '30' }, ac.signal);
      assert.ok(await waitFor(() => nucleiProcesses().length > 0, 20_000), 'nuclei started');
      await new Promise((r) => setTimeout(r, 1000));
      ac.abort();
      const r = await pending;
      assert.ok(Date.now() - started < 20_000, 'returned promptly');
      assert.ok(
        r.errors.some((e) => e.code === 'cancelled' && e.step === 'nuclei'),
        JSON.stringify(r.errors),
      );
      assert.is(r.summary.partial, true);
      assert.ok(await waitFor(() => nucleiProcesses().length === 0, 5000), `nuclei processes left: ${nucleiProcesses()}`);
    } finally {
      await pit.stop();
    }
  });

  test('the scan timeout (NUCLEI_SCAN_TIMEOUT_MS) kills nuclei and answers with a timeout error', async () => {
    const pit = await tarpit();
    const saved = process.env.NUCLEI_SCAN_TIMEOUT_MS;
    try {
      const map = { ...services.hostMap, 'redis.redis.svc.cluster.local:6379': `127.0.0.1:${pit.port}` };
      process.env.NUCLEI_SCAN_TIMEOUT_MS = 'network=3000';
      const app = scanApp(nucleiScan(() => settings({ SCAN_HOST_MAP: JSON.stringify(map), NUCLEI_REQUEST_TIMEOUT_S: '30' })));
      const res = await app.request('/nuclei_scan?mode=network');
      assert.is(res.status, 200);
      const r = (await res.json()) as ScanReport;
      assertReportValid(r, 'timed out');
      assert.ok(
        r.errors.some((e) => e.code === 'timeout'),
        JSON.stringify(r.errors),
      );
      assert.ok(await waitFor(() => nucleiProcesses().length === 0, 5000));
    } finally {
      if (saved === undefined) delete process.env.NUCLEI_SCAN_TIMEOUT_MS;
      else process.env.NUCLEI_SCAN_TIMEOUT_MS = saved;
      await pit.stop();
    }
  });

  test('the client disconnecting kills nuclei', async () => {
    const pit = await tarpit();
    try {
      const map = { ...services.hostMap, 'redis.redis.svc.cluster.local:6379': `127.0.0.1:${pit.port}` };
      const app = scanApp(nucleiScan(() => settings({ SCAN_HOST_MAP: JSON.stringify(map), NUCLEI_REQUEST_TIMEOUT_S: '30' })));
      const ac = new AbortController();
      const pending = Promise.resolve(app.request('/nuclei_scan?mode=network', { signal: ac.signal })).catch(() => undefined);
      assert.ok(await waitFor(() => nucleiProcesses().length > 0, 20_000), 'nuclei started');
      ac.abort();
      await pending;
      assert.ok(await waitFor(() => nucleiProcesses().length === 0, 5000), `nuclei processes left: ${nucleiProcesses()}`);
    } finally {
      await pit.stop();
    }
  });
}

test.run();
