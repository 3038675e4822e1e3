// Issue 19 item 5: the API server asks for a retry (429 Too Many Requests, or 503, with
// Retry-After, as API Priority and Fairness does). A small proxy in front of the real
// kube-apiserver answers 429 + Retry-After to chosen requests; everything else is the real server.
// Every scan retries through lib/kube after the time asked, a bounded number of times, within
// its time budget, and says how many retries happened (`sources.api_retries`).
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { join } from 'node:path';
import { scanApp } from '../../lib/scan/scaffold.ts';
import { MAX_RETRIES } from '../../lib/kube/retry.ts';
import { opaScan } from '../../functions/opa-scan/scan.ts';
import { networkScan } from '../../functions/network-scan/scan.ts';
import { kubescapeScan } from '../../functions/kubescape-scan/scan.ts';
import { BUNDLED_ARTIFACTS_DIR } from '../../functions/kubescape-scan/settings.ts';
import { DEMO_METADATA } from '../../demo/stack/generate.ts';
import { testCluster } from '../support/cluster.ts';
import { startFaultProxy, type FaultProxy } from '../support/fault-proxy.ts';

const s = suite('API retries: 429 + Retry-After through a proxy in front of the real API server');
const OPA_STACK = join(import.meta.dirname, '../fixtures/topology/opa-stack.yaml');
const busy = (seconds: string) => ({ status: 429, headers: { 'retry-after': seconds } });

let proxy: FaultProxy;
s.before(async () => {
  proxy = await startFaultProxy(testCluster(), () => undefined);
});
s.after(() => proxy.close());

/** The first `n` requests (after `from`) answered 429 Retry-After: `after`. */
function firstBusy(n: number, after = '1') {
  proxy.seen = 0;
  proxy.faulted = 0;
  proxy.fault = (_req, k) => (k <= n ? busy(after) : undefined);
}

s('OPA light: two 429s are retried after the time asked, the report is whole and says 2 retries (was: api_error at once)', async () => {
  firstBusy(2);
  const t0 = Date.now();
  const res = await scanApp(
    opaScan({ topology: { metadata: { path: OPA_STACK, setting: 'STACK_METADATA' } }, kubeconfig: proxy.kubeconfigPath, concurrency: 8 }),
  ).request('/opa_scan?mode=light');
  assert.is(res.status, 200);
  const body = await res.json();
  assert.equal(
    body.errors.filter((e: { code: string }) => /api_error|api_busy/.test(e.code)),
    [],
    JSON.stringify(body.errors),
  );
  assert.is(body.sources.api_retries, 2);
  assert.is(proxy.faulted, 2);
  assert.ok(Date.now() - t0 >= 950, `waited the Retry-After: ${Date.now() - t0} ms`);
});

s('network light: the same through lib/kube; sources.api_retries counts them', async () => {
  firstBusy(3);
  const res = await scanApp(
    networkScan({ topology: { metadata: { path: DEMO_METADATA, setting: 'STACK_METADATA' } }, kubeconfig: proxy.kubeconfigPath }),
  ).request('/network_scan?mode=light');
  assert.is(res.status, 200);
  const body = await res.json();
  assert.equal(
    body.errors.filter((e: { code: string }) => /api_error|api_busy/.test(e.code)),
    [],
    JSON.stringify(body.errors),
  );
  assert.is(body.sources.api_retries, 3);
});

s(`always busy: at most ${MAX_RETRIES} retries per request, then 503 api_busy with the reason`, async () => {
  proxy.seen = 0;
  proxy.faulted = 0;
  proxy.fault = () => busy('0');
  const res = await scanApp(
    networkScan({ topology: { metadata: { path: DEMO_METADATA, setting: 'STACK_METADATA' } }, kubeconfig: proxy.kubeconfigPath }),
  ).request('/network_scan?mode=light');
  const body = await res.json();
  const text = JSON.stringify(body);
  assert.match(text, /api_busy/);
  assert.match(text, new RegExp(`after ${MAX_RETRIES} retries`));
  // Bounded: each API call of the scan at most 1 + MAX_RETRIES times.
  assert.ok(proxy.seen % (MAX_RETRIES + 1) === 0 && proxy.seen <= 10 * (MAX_RETRIES + 1), `requests: ${proxy.seen}`);
});

const kubescapeThroughProxy = () =>
  scanApp(
    kubescapeScan({
      topology: { metadata: { path: DEMO_METADATA, setting: 'STACK_METADATA' } },
      kubeconfig: proxy.kubeconfigPath,
      artifactsDir: BUNDLED_ARTIFACTS_DIR,
      runTimeoutMs: 10_000,
      thresholds: { nsa: 70, mitre: 60 },
      strategy: 'per-namespace',
      concurrency: 2,
      clusterScope: false,
      bin: '/nonexistent/stack-scan/kubescape',
    }),
  ).request('/kubescape_scan?mode=light');

s("kubescape, a Retry-After past the run's time budget: not waited for, 503 at once naming the budget (not tool_failed per namespace)", async () => {
  proxy.fault = () => busy('20');
  process.env.KUBESCAPE_SCAN_TIMEOUT_MS = '10000';
  try {
    const t0 = Date.now();
    const res = await kubescapeThroughProxy();
    assert.ok(Date.now() - t0 < 5000, `answered in ${Date.now() - t0} ms`);
    assert.is(res.status, 503);
    const body = await res.json();
    assert.is(body.error.code, 'api_busy');
    assert.match(body.error.message, /past the run's time budget/);
  } finally {
    delete process.env.KUBESCAPE_SCAN_TIMEOUT_MS;
  }
  // Longer than any wait we make (30 s): not waited for either.
  proxy.fault = () => busy('3600');
  const res = await kubescapeThroughProxy();
  assert.is(res.status, 503);
  assert.match((await res.json()).error.message, /after 3600 s, longer than the 30 s/);
});

s('503 with Retry-After is retried too; a 503 without one is not', async () => {
  firstBusy(0);
  proxy.fault = (_r, k) => (k === 1 ? { status: 503, headers: { 'retry-after': '1' } } : undefined);
  proxy.seen = 0;
  const ok = await (
    await scanApp(
      opaScan({ topology: { metadata: { path: OPA_STACK, setting: 'STACK_METADATA' } }, kubeconfig: proxy.kubeconfigPath, concurrency: 8 }),
    ).request('/opa_scan?mode=light')
  ).json();
  assert.is(ok.sources.api_retries, 1);
  proxy.fault = (_r, k) => (k === 1 ? { status: 503 } : undefined);
  proxy.seen = 0;
  const res = await scanApp(
    networkScan({ topology: { metadata: { path: DEMO_METADATA, setting: 'STACK_METADATA' } }, kubeconfig: proxy.kubeconfigPath }),
  ).request('/network_scan?mode=light');
  const body = await res.json();
  assert.not.equal(body.sources?.api_retries, 1);
});

s.run();
