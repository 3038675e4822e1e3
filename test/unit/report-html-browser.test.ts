// The HTML report in a real browser: Debian's headless Chromium driven by playwright-core. No console
// error, no request leaves the file, every declared link drawn with its state (light: the demo stack
// offline; full: probe verdicts PASS / FAIL and an undeclared SECURITY_RISK pair), the findings filter
// works; a screenshot of each goes to test/output/. Where Chromium is missing the suite is skipped and
// says how to install it. STACK_SCAN_DOCS_SCREENSHOT=1 also refreshes docs/img/cli-html-report.png
// (from Stacktic's strimzi sample when ../shared is there).
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { networkGraph } from '../../functions/network-scan/graph.ts';
import { networkOfflineScan } from '../../functions/network-scan/offline.ts';
import { render, scanResult } from '../../lib/report/formats/index.ts';
import { evaluateGate } from '../../lib/report/gate.ts';
import { runScan, type ScanReport } from '../../lib/scan/scaffold.ts';

const ROOT = resolve(import.meta.dirname, '../..');
const OUT = join(ROOT, 'test/output');
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const STRIMZI = join(ROOT, '../shared/samples/stacktic/strimzi_basic_setup');
const s = suite('HTML report in headless Chromium');

const def = (dir: string) => networkOfflineScan({ metadata: join(dir, 'stack-metadata.yaml'), policies: join(dir, 'networkpolicy') });

interface Seen {
  errors: string[];
  requests: string[];
  edges: { state: string; from: string; to: string; stroke: string | null }[];
  shown: string;
}

async function open(html: string, name: string, act?: (page: import('playwright-core').Page) => Promise<void>, shot = join(OUT, `${name}.png`)): Promise<Seen> {
  const { chromium } = await import('playwright-core');
  mkdirSync(OUT, { recursive: true });
  const file = join(OUT, `${name}.html`);
  writeFileSync(file, html);
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'], timeout: 60_000 });
  try {
    const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
    const errors: string[] = [];
    const requests: string[] = [];
    page.on('console', (m) => m.type() === 'error' && errors.push(m.text()));
    page.on('pageerror', (e) => errors.push(String(e)));
    page.on('request', (r) => r.url() !== pathToFileURL(file).href && requests.push(r.url()));
    await page.goto(pathToFileURL(file).href, { timeout: 30_000 });
    const edges = await page.$$eval('svg.topology g.edge', (gs) =>
      gs.map((g) => ({
        state: g.getAttribute('data-state')!,
        from: g.getAttribute('data-from')!,
        to: g.getAttribute('data-to')!,
        stroke: g.querySelector('path')?.getAttribute('stroke') ?? null,
      })),
    );
    await act?.(page);
    const shown = (await page.textContent('#shown')) ?? '';
    await page.screenshot({ path: shot });
    return { errors, requests, edges, shown };
  } finally {
    await browser.close();
  }
}

if (!existsSync(CHROMIUM)) {
  console.warn(`report-html-browser: skipping: no Chromium at ${CHROMIUM}; install it with: apt-get install -y chromium (or set CHROMIUM_PATH)`);
} else {
  s('light (offline demo stack): links drawn by policy state, no console error, no request, the filter narrows the table', async () => {
    const d = def(join(ROOT, 'demo/stack'));
    const r = scanResult(d, await runScan(d, 'offline'));
    const html = await render('html', [r], { gate: evaluateGate([r], { verdicts: new Set(['LINK_NOT_GENERATED']) }) });
    const seen = await open(html, 'html-report-light', async (page) => {
      await page.selectOption('#fr', 'fail');
      await page.fill('#q', 'kafka/bridge');
    });
    assert.equal(seen.errors, []);
    assert.equal(seen.requests, []);
    assert.is(seen.edges.length, 9);
    const missing = seen.edges
      .filter((e) => e.state === 'missing')
      .map((e) => `${e.from}>${e.to}`)
      .sort();
    assert.equal(missing, ['apisix>kafka', 'grafana>prometheus']);
    assert.ok(seen.edges.filter((e) => e.state === 'present').every((e) => e.stroke === '#2e7d32'));
    assert.ok(seen.edges.filter((e) => e.state === 'missing').every((e) => e.stroke === '#c62828'));
    const failing = r.checks.filter((c) => c.result === 'fail' && `${c.policy} ${c.message}`.toLowerCase().includes('kafka/bridge')).length;
    assert.ok(failing > 0);
    assert.is(seen.shown, `${failing} of ${r.checks.length}`);
  });

  s('full: declared links by probe verdict, an undeclared open pair as SECURITY_RISK', async () => {
    const d = def(join(ROOT, 'demo/stack'));
    const light = await runScan(d, 'offline');
    const links = (light.results as { links: { from: string; to: string; from_namespace: string; to_namespace: string; port: number | null }[] }).links.filter(
      (l) => l.port !== null,
    );
    const probe = (l: (typeof links)[number], verdict: string, layer = 'link') => ({
      id: `${layer}:${l.from}->${l.to}:${l.port}`,
      layer,
      source: { component: l.from, namespace: l.from_namespace, identity: `${l.from_namespace}/x` },
      target: { component: l.to, namespace: l.to_namespace, host: `${l.to}.${l.to_namespace}`, port: l.port!, protocol: 'TCP' },
      expect: layer === 'link' ? 'open' : 'blocked',
      engine_predicts: 'open',
      result: 'open',
      reason: 'r',
      verdict,
    });
    const findings = [
      probe(links[0], 'PASS'),
      probe(links[1], 'FAIL'),
      ...links.slice(2).map((l) => probe(l, 'PASS')),
      { ...probe({ ...links[0], from: 'grafana', from_namespace: 'grafana' }, 'SECURITY_RISK', 'negative') },
    ];
    const full: ScanReport = { ...light, scan_type: 'full', findings };
    const r = { ...scanResult(d, full), graph: networkGraph(full) };
    const seen = await open(await render('html', [r]), 'html-report-full');
    assert.equal(seen.errors, []);
    const states = seen.edges.map((e) => e.state);
    assert.is(states.filter((x) => x === 'FAIL').length, 1);
    assert.is(states.filter((x) => x === 'SECURITY_RISK').length, 1);
    assert.is(states.filter((x) => x === 'PASS').length, links.length - 1);
    assert.is(states.filter((x) => x === 'UNDECIDED').length, 9 - links.length, 'links without a port had no probe');
  });

  if (process.env.STACK_SCAN_DOCS_SCREENSHOT === '1' && existsSync(STRIMZI)) {
    s('docs screenshot: the strimzi sample offline', async () => {
      const d = def(STRIMZI);
      const r = scanResult(d, await runScan(d, 'offline'));
      mkdirSync(join(ROOT, 'docs/img'), { recursive: true });
      const seen = await open(
        await render('html', [r], {
          gate: evaluateGate([r], { verdicts: new Set(), severity: 'critical' }),
          commandLine: 'stack-scan network --offline --metadata stack-metadata.yaml --policies networkpolicy --format html --fail-on critical',
        }),
        'html-report-strimzi',
        undefined,
        join(ROOT, 'docs/img/cli-html-report.png'),
      );
      assert.equal(seen.errors, []);
    });
  }
}

s.run();
