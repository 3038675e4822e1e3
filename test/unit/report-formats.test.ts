// The formats of a finished scan, checked by real consumers: SARIF by Microsoft's SARIF validator
// (@microsoft/sarif-multitool's `validate`, the binary its npm package ships), JUnit by a JUnit
// parser (junit2json), JSON byte-for-byte against the HTTP body, `?format=` on the HTTP route.
// Input: the offline network scan of the project's demo stack and, when ../shared is there, of
// Stacktic's real strimzi sample (with its malformed generated files).
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { parse as parseJunit } from 'junit2json';
import type * as Sarif from 'sarif';
import { networkOfflineScan } from '../../functions/network-scan/offline.ts';
import { evaluateGate } from '../../lib/report/gate.ts';
import { render, renderJson, scanResult, type ScanResult } from '../../lib/report/formats/index.ts';
import { runScan, scanApp } from '../../lib/scan/scaffold.ts';

const ROOT = resolve(import.meta.dirname, '../..');
const DEMO = join(ROOT, 'demo/stack');
const STRIMZI = join(ROOT, '../shared/samples/stacktic/strimzi_basic_setup');
const tmp = mkdtempSync(join(tmpdir(), 'stack-scan-formats-'));
const run = promisify(execFile);

const def = (dir: string) => networkOfflineScan({ metadata: join(dir, 'stack-metadata.yaml'), policies: join(dir, 'networkpolicy') });
async function offline(dir: string): Promise<ScanResult> {
  const d = def(dir);
  return scanResult(d, await runScan(d, 'offline'));
}

const MULTITOOL = (() => {
  try {
    return join(dirname(createRequire(import.meta.url).resolve('@microsoft/sarif-multitool-linux/package.json')), 'Sarif.Multitool');
  } catch {
    return null;
  }
})();

/** The validator's own findings on a log (its output is SARIF too). */
async function validate(text: string, name: string): Promise<Sarif.Result[]> {
  const input = join(tmp, `${name}.sarif`);
  const output = join(tmp, `${name}.validation.sarif`);
  writeFileSync(input, text);
  await run(MULTITOOL!, ['validate', input, '--output', output], { timeout: 120_000, env: { ...process.env, DOTNET_CLI_TELEMETRY_OPTOUT: '1' } });
  const log = JSON.parse(readFileSync(output, 'utf8')) as Sarif.Log;
  return log.runs.flatMap((r) => r.results ?? []);
}

const s = suite('report formats');
s.after(() => rmSync(tmp, { recursive: true, force: true }));

s('SARIF of the demo stack: valid per the SARIF validator, one run, rules with help, stable fingerprints', async () => {
  if (!MULTITOOL) return console.warn('report-formats: skipping the SARIF validator: npm install @microsoft/sarif-multitool');
  const r = await offline(DEMO);
  const text = await render('sarif', [r], { baseDir: ROOT });
  assert.equal(await validate(text, 'demo'), []);
  const log = JSON.parse(text) as Sarif.Log;
  assert.is(log.runs.length, 1);
  const results = log.runs[0].results!;
  const failing = r.checks.filter((c) => c.result !== 'pass' && c.result !== 'skip');
  assert.is(results.length, failing.length);
  for (const rule of log.runs[0].tool.driver.rules!) assert.ok(rule.help?.text && rule.shortDescription?.text, rule.id);
  assert.equal(
    results.map((x) => x.partialFingerprints!['stackScanCheckId/v1']),
    failing.map((c) => c.id),
  );
  // The same inputs give the same fingerprints: code-scanning tools follow a finding across runs.
  const again = JSON.parse(await render('sarif', [await offline(DEMO)], { baseDir: ROOT })) as Sarif.Log;
  assert.equal(
    again.runs[0].results!.map((x) => x.fingerprints),
    results.map((x) => x.fingerprints),
  );
  const sel = results.find((x) => x.ruleId?.includes('prometheus--exception--app--egress--ports--9093'))!;
  assert.is(sel.level, 'note');
  assert.equal(sel.locations![0].physicalLocation!.artifactLocation, {
    uri: 'demo/stack/networkpolicy/networkpolicy__demo_shop__prometheus__exception__app__egress__ports__9093__nr59__lines18.yaml',
    uriBaseId: 'SRCROOT',
  });
  assert.is(sel.locations![0].physicalLocation!.region!.startLine, 11);
  assert.is(sel.locations![0].logicalLocations![0].fullyQualifiedName, 'prometheus/NetworkPolicy/prometheus--exception--app--egress--ports--9093--nr59');
});

s('SARIF of the strimzi sample: valid; the malformed generated files at their line and column; levels from severity', async () => {
  if (!MULTITOOL) return console.warn('report-formats: skipping the SARIF validator: npm install @microsoft/sarif-multitool');
  if (!existsSync(STRIMZI)) return console.warn(`report-formats: skipping the strimzi sample: ${STRIMZI} is absent (../shared is not part of the repository)`);
  const r = await offline(STRIMZI);
  const text = await render('sarif', [r], { baseDir: STRIMZI });
  assert.equal(await validate(text, 'strimzi'), []);
  const results = (JSON.parse(text) as Sarif.Log).runs[0].results!;
  const dup = results.filter((x) => x.properties?.verdict === 'MALFORMED');
  assert.is(dup.length, 9);
  const grafana = dup.find((x) =>
    x.locations![0].physicalLocation!.artifactLocation!.uri!.includes('grafana__internet__any__ingress__ports__3000-9090__nr65__lines16.yaml'),
  )!;
  assert.equal(grafana.locations![0].physicalLocation!.region, { startLine: 14, startColumn: 7 });
  assert.match(grafana.message.text!, /duplicate key 'port'/);
  const allPorts = results.filter((x) => x.properties?.verdict === 'ALL-PORTS' && x.level === 'error');
  assert.is(allPorts.length, 5, 'critical and high findings are errors');
  assert.ok(
    results.every((x) => x.locations?.length),
    'every result is located (file or logical)',
  );
});

s('JUnit: parsed by junit2json; a suite per scan, a case per check, failures with their reason', async () => {
  const r = await offline(DEMO);
  const gate = evaluateGate([r], { verdicts: new Set(), failBelow: 99.5 });
  const xml = await render('junit', [r], { gate });
  const parsed = await parseJunit(xml);
  assert.ok(parsed && 'testsuite' in parsed, 'a <testsuites> document');
  const suites = (
    parsed as {
      testsuite: {
        name: string;
        tests: number;
        failures: number;
        testcase: { name: string; failure?: { message: string; inner?: string }[]; skipped?: unknown[] }[];
      }[];
    }
  ).testsuite;
  assert.is(suites.length, 1);
  assert.is(suites[0].name, 'network (offline)');
  assert.is(suites[0].tests, r.checks.length + 1, 'every check and the score threshold');
  const failing = suites[0].testcase.filter((c) => c.failure);
  assert.is(failing.length, r.checks.filter((c) => c.result === 'fail').length + 1);
  assert.is(suites[0].failures, failing.length);
  const score = suites[0].testcase.find((c) => c.name === 'score at least 99.5')!;
  assert.match(score.failure![0].message, /^Score [\d.]+ is below 99\.5\.$/);
  const link = failing.find((c) => c.name.startsWith('link apisix -> kafka/bridge'))!;
  assert.match(link.failure![0].inner!, /no expected policy for its egress/);
  assert.is(suites[0].testcase.filter((c) => c.skipped).length, r.checks.filter((c) => c.result === 'skip').length);
});

s('JUnit: a scan that could not run is an errored case; an undecided scan too', async () => {
  const xml = await render('junit', [
    {
      scan: 'opa',
      mode: 'light',
      checks: [],
      failure: { status: 503, info: { code: 'cluster_unreachable', message: 'the API server <x> & co is unreachable' } },
    },
  ]);
  const parsed = (await parseJunit(xml)) as { errors: number; testsuite: { testcase: { error?: { message: string; type: string }[] }[] }[] };
  assert.is(parsed.errors, 1);
  assert.equal(parsed.testsuite[0].testcase[0].error![0], { message: 'the API server <x> & co is unreachable.', type: 'cluster_unreachable' });
});

s('JSON: the command line prints the HTTP body byte for byte', async () => {
  const d = def(DEMO);
  const http = await (await scanApp(d).request('/network_scan')).text();
  const report = JSON.parse(http);
  // The same report object renders to the same bytes.
  assert.is(renderJson([scanResult(d, report)]), http);
  // And a separate CLI run differs only in its start time and duration.
  const { stdout } = await run(
    process.execPath,
    [
      join(ROOT, 'bin/stack-scan.js'),
      'network',
      '--offline',
      '--metadata',
      join(DEMO, 'stack-metadata.yaml'),
      '--policies',
      join(DEMO, 'networkpolicy'),
      '--format',
      'json',
    ],
    { cwd: tmp },
  );
  // … and in what each process remembers of its own last run (`changes`, the run id: lib/openreports).
  const norm = (t: string) => {
    const o = JSON.parse(t);
    delete o.changes;
    delete o.sources?.openreports?.run_id;
    return JSON.stringify(o)
      .replace(/"started_at":"[^"]+"/, '"started_at":"T"')
      .replace(/"duration_ms":\d+/, '"duration_ms":0');
  };
  assert.is(norm(stdout), norm(http));
});

s('HTTP: ?format=sarif|junit|html with their content types; json stays the default; a bad format is a 400', async () => {
  const app = scanApp(def(DEMO));
  const sarif = await app.request('/network_scan?format=sarif');
  assert.is(sarif.status, 200);
  assert.is(sarif.headers.get('content-type'), 'application/sarif+json');
  assert.is(((await sarif.json()) as Sarif.Log).runs[0].tool.driver.name, 'stack-scan');
  const junit = await app.request('/network_scan?format=junit');
  assert.match(junit.headers.get('content-type')!, /^application\/xml/);
  assert.ok(await parseJunit(await junit.text()));
  const htmlRes = await app.request('/network_scan?format=html');
  assert.match(htmlRes.headers.get('content-type')!, /^text\/html/);
  assert.match(await htmlRes.text(), /<svg class="topology"/);
  const json = await app.request('/network_scan?format=json');
  assert.is(json.headers.get('content-type'), 'application/json');
  const bad = await app.request('/network_scan?format=pdf');
  assert.is(bad.status, 400);
  assert.is(((await bad.json()) as { error: { code: string } }).error.code, 'invalid_format');
});

s('HTML: self-contained (no URL loaded), escaped, with the graph of declared links by state', async () => {
  const r = await offline(DEMO);
  r.checks[0].message = '<script>alert(1)</script>';
  const page = await render('html', [r]);
  assert.not.match(page, /<script>alert/);
  assert.not.match(page.replace(/xmlns="http:\/\/www\.w3\.org\/2000\/svg"/g, ''), /(src|href)="(https?:)?\/\//);
  assert.match(page, /Content-Security-Policy" content="default-src 'none'/);
  const states = [...page.matchAll(/<g class="edge" data-state="([^"]+)"/g)].map((m) => m[1]);
  assert.is(states.length, 9);
  assert.is(states.filter((x) => x === 'missing').length, 2);
  assert.is(states.filter((x) => x === 'present').length, 7);
});

s.run();
