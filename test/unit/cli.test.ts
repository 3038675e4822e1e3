// The `stack-scan` command as a user runs it: the real bin/stack-scan.js in a child process, on the
// project's own demo stack (demo/stack: stack-metadata.yaml and its generated networkpolicy/ folder),
// offline or against a kubeconfig whose API server is a closed port. Every exit code (0 passed,
// 1 gate failed, 2 could not run or decide), the usage line, a bad file named with line and column,
// and never a stack trace.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseCli, USAGE, UsageError } from '../../cli/args.ts';
import { main } from '../../cli/main.ts';
import { evaluateGate, parseFailOn } from '../../lib/report/gate.ts';
import type { ScanResult } from '../../lib/report/formats/index.ts';
import type { Check } from '../../lib/scan/checks.ts';

const ROOT = resolve(import.meta.dirname, '../..');
const BIN = join(ROOT, 'bin/stack-scan.js');
const STACK = join(ROOT, 'demo/stack');
const OFFLINE = ['network', '--offline', '--metadata', join(STACK, 'stack-metadata.yaml'), '--policies', join(STACK, 'networkpolicy')];
const tmp = mkdtempSync(join(tmpdir(), 'stack-scan-cli-'));

function cli(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((done) => {
    execFile(process.execPath, [BIN, ...args], { cwd: tmp, env: { PATH: process.env.PATH, HOME: tmp, ...env }, timeout: 60_000 }, (err, stdout, stderr) => {
      done({ code: err ? ((err as { code?: number }).code ?? -1) : 0, stdout, stderr });
    });
  });
}

const noStack = (s: string) => assert.not.match(s, /\n\s+at .+:\d+:\d+\)?/, `no stack trace in: ${s}`);

const s = suite('stack-scan command line');

s.after(() => rmSync(tmp, { recursive: true, force: true }));

s('exit 0: offline network on the demo stack, no gate condition met; json is the report', async () => {
  const r = await cli([...OFFLINE, '--format', 'json', '--fail-below', '90', '--fail-on', 'critical,SECURITY_RISK']);
  assert.is(r.code, 0, r.stderr);
  const report = JSON.parse(r.stdout);
  assert.is(report.scan, 'network');
  assert.is(report.scan_type, 'offline');
  assert.is(report.summary.found, report.summary.expected);
  assert.ok(report.score >= 90, String(report.score));
  assert.is(r.stderr, '', 'nothing on stderr when it is not a terminal (no progress)');
});

s('exit 1: the gate fails on a score threshold, a verdict, a severity; the reasons on stderr', async () => {
  const below = await cli([...OFFLINE, '--format', 'json', '--fail-below', '99.5']);
  assert.is(below.code, 1);
  assert.match(below.stderr, /network \(offline\): score [\d.]+ is below 99\.5/);
  const verdict = await cli([...OFFLINE, '--format', 'junit', '--fail-on', 'LINK_NOT_GENERATED']);
  assert.is(verdict.code, 1);
  assert.match(verdict.stderr, /2 check\(s\) with verdict LINK_NOT_GENERATED/);
  const severity = await cli([...OFFLINE, '--format', 'table', '--fail-on', 'low']);
  assert.is(severity.code, 1);
  assert.match(severity.stdout, /gate: FAILED\n {2}network \(offline\): \d+ failing check\(s\) of severity low or worse/);
});

s('exit 2: bad usage prints one reason and the usage line', async () => {
  for (const args of [
    [],
    ['firewall'],
    ['network', '--bogus'],
    ['network', '--format', 'pdf'],
    ['network', '--fail-below', '120'],
    ['network', '--fail-on', 'high;drop'],
    ['opa', '--offline'],
    ['network', '--offline'],
    ['network', 'opa'],
    ['network', '--mode', 'turbo', '--kubeconfig', join(ROOT, 'test/fixtures/kubeconfig-unreachable.yaml')],
  ]) {
    const r = await cli(args);
    assert.is(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
    const lines = r.stderr.trimEnd().split('\n');
    assert.is(lines.length, 2, r.stderr);
    assert.match(lines[0], /^stack-scan: /);
    assert.is(lines[1], USAGE);
    assert.is(r.stdout, '');
  }
});

s('exit 2: an invalid or unreadable file is one line naming the file, line and column; nothing echoed', async () => {
  const bad = join(tmp, 'stack-metadata.yaml');
  writeFileSync(bad, 'stack:\n  name: [secret-value-42,\n  oops: }\n');
  const r = await cli(['network', '--offline', '--metadata', bad, '--policies', join(STACK, 'networkpolicy')]);
  assert.is(r.code, 2);
  assert.is(r.stderr.trimEnd().split('\n').length, 1, r.stderr);
  assert.match(r.stderr, new RegExp(`^stack-scan: ${bad.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:\\d+:\\d+: `));
  assert.not.match(r.stderr, /secret-value-42/);
  noStack(r.stderr);
  const missing = await cli(['network', '--offline', '--metadata', join(STACK, 'stack-metadata.yaml'), '--policies', join(tmp, 'nope')]);
  assert.is(missing.code, 2);
  assert.match(missing.stderr, /^stack-scan: .*nope does not exist; set --policies/);
  assert.is(missing.stderr.trimEnd().split('\n').length, 1);
});

s('exit 2: the cluster is unreachable: the report says why, in every format', async () => {
  const kc = join(ROOT, 'test/fixtures/kubeconfig-unreachable.yaml');
  const json = await cli(['network', '--kubeconfig', kc, '--metadata', join(STACK, 'stack-metadata.yaml'), '--format', 'json']);
  assert.is(json.code, 2, json.stderr);
  assert.is(JSON.parse(json.stdout).error.code, 'cluster_unreachable');
  assert.match(json.stderr, /network \(light\): could not run: .*unreachable/);
  noStack(json.stderr);
  const table = await cli(['network', '--kubeconfig', kc, '--metadata', join(STACK, 'stack-metadata.yaml'), '--format', 'table', '--fail-below', '10']);
  assert.is(table.code, 2);
  assert.match(table.stdout, /gate: could not decide/);
});

s('--output writes the file; an unwritable one is exit 2', async () => {
  const out = join(tmp, 'report.sarif');
  const r = await cli([...OFFLINE, '--format', 'sarif', '--output', out]);
  assert.is(r.code, 0, r.stderr);
  assert.is(r.stdout, '');
  assert.is(JSON.parse(readFileSync(out, 'utf8')).version, '2.1.0');
  const bad = await cli([...OFFLINE, '--output', join(tmp, 'no/such/dir/x.json')]);
  assert.is(bad.code, 2);
  assert.match(bad.stderr, /cannot write --output/);
});

s('all: the four scans gated together; one that cannot run makes it exit 2, the JSON is an array of their bodies', async () => {
  const kc = join(ROOT, 'test/fixtures/kubeconfig-unreachable.yaml');
  const r = await cli(['all', '--kubeconfig', kc, '--metadata', join(STACK, 'stack-metadata.yaml'), '--format', 'json', '--fail-below', '50'], {
    NUCLEI_TEMPLATES_DIR: '',
  });
  assert.is(r.code, 2, r.stderr);
  const bodies = JSON.parse(r.stdout);
  assert.is(bodies.length, 4);
  assert.equal(
    bodies.slice(0, 2).map((b: any) => b.error.code),
    ['cluster_unreachable', 'cluster_unreachable'],
  );
  assert.ok(bodies[2].scan === 'kubescape' || bodies[2].error, 'kubescape: a report or why it could not run');
  assert.match(r.stderr, /network \(light\): could not run: .*unreachable/);
  assert.match(r.stderr, /opa \(light\): could not run: .*unreachable/);
  // A bad setting is a mistake to fix before anything runs: one line naming it.
  const bad = await cli(['all', '--kubeconfig', kc, '--metadata', join(STACK, 'stack-metadata.yaml')], { KUBESCAPE_BIN: join(tmp, 'no-kubescape') });
  assert.is(bad.code, 2);
  assert.match(bad.stderr, /^stack-scan: KUBESCAPE_BIN must be the path of an executable kubescape program; got '.*no-kubescape'\n$/);
  noStack(r.stderr);
});

s('progress: on a terminal stderr shows the step and counts; otherwise nothing', async () => {
  const run = async (isTTY: boolean) => {
    let out = '';
    let err = '';
    const code = await main({
      argv: [...OFFLINE, '--format', 'json'],
      env: {},
      stdout: { write: (x: string) => (out += x), isTTY: false },
      stderr: { write: (x: string) => (err += x), isTTY },
    });
    return { code, out, err };
  };
  const tty = await run(true);
  assert.is(tty.code, 0);
  // biome-ignore lint/suspicious/noControlCharactersInRegex: the progress line's terminal escape
  assert.match(tty.err, /^\r\x1b\[Knetwork \(offline\): starting/);
  assert.match(tty.err, /network \(offline\): done 2\/2/);
  assert.ok(tty.err.endsWith('\r\x1b[K'), 'the line is cleared at the end');
  assert.is(JSON.parse(tty.out).scan, 'network', 'stdout holds only the report');
  const pipe = await run(false);
  assert.is(pipe.err, '');
});

s('kubescape --offline: usage, and when kubescape fails it could not decide (exit 2)', async () => {
  const none = await cli(['kubescape', '--offline']);
  assert.is(none.code, 2);
  assert.match(none.stderr, /kubescape --offline needs --manifests DIR/);
  const manifests = join(tmp, 'manifests');
  mkdirSync(manifests, { recursive: true });
  writeFileSync(join(manifests, 'ns.yaml'), 'apiVersion: v1\nkind: Namespace\nmetadata:\n  name: ks-shop\n');
  const r = await cli(
    ['kubescape', '--offline', '--manifests', manifests, '--metadata', join(ROOT, 'demo/kubescape/stack-metadata.yaml'), '--format', 'json'],
    { KUBESCAPE_BIN: '/bin/false' },
  );
  assert.is(r.code, 2, r.stderr);
  const report = JSON.parse(r.stdout);
  assert.is(report.scan_type, 'offline');
  assert.is(report.score, null);
  assert.is(report.errors[0].code, 'tool_failed');
  assert.match(report.errors[0].message, /exited with code 1/);
  assert.match(r.stderr, /kubescape \(offline\): could not decide/);
});

s('--help and --version exit 0', async () => {
  const h = await cli(['--help']);
  assert.is(h.code, 0);
  assert.match(h.stdout, /Exit codes: 0 passed, 1 the gate failed, 2/);
  assert.match((await cli(['--version'])).stdout, /^stack-scan \d+\.\d+\.\d+/);
});

s('arguments: defaults and mistakes (pure)', () => {
  assert.is(parseCli(['network'], true).format, 'table');
  assert.is(parseCli(['network'], false).format, 'json');
  assert.is(parseCli(['network', '-o', 'x.html', '--format', 'html'], true).format, 'html');
  assert.equal(parseCli(['all'], false).scans, ['network', 'opa', 'kubescape', 'nuclei']);
  const g = parseCli(['opa', '--fail-on', 'NOT_ENFORCING, high ,security_risk,low,all-ports'], false).gate;
  assert.equal([...g.verdicts], ['NOT_ENFORCING', 'SECURITY_RISK', 'ALL-PORTS']);
  assert.is(g.severity, 'low');
  assert.throws(
    () => parseCli(['network', '--fail-on', ','], false),
    (e: unknown) => e instanceof UsageError,
  );
  assert.throws(() => parseCli(['network', '--offline', '--policies', 'd', '--kubeconfig', 'k'], false), /exclude each other/);
});

const check = (over: Partial<Check>): Check => ({
  id: 'x',
  policy: 'p',
  rule: 'r',
  result: 'fail',
  verdict: 'FAIL',
  severity: 'medium',
  resources: [],
  message: 'm',
  properties: {},
  ...over,
});
const result = (score: number | null, checks: Check[]): ScanResult => ({
  scan: 'opa',
  mode: 'light',
  checks,
  report: {
    scan: 'opa',
    scan_type: 'light',
    score,
    summary: {},
    errors: score === null ? [{ step: 'list', code: 'forbidden', message: 'denied' }] : [],
    sources: {},
    started_at: '',
    duration_ms: 0,
  },
});

s('gate: severities count failing checks at or above; verdicts any result; undecided wins (pure)', () => {
  const spec = { ...parseFailOn('high,NOT_ENFORCING') };
  assert.is(evaluateGate([result(80, [check({ severity: 'medium' }), check({ severity: 'critical', result: 'warn' })])], spec).exitCode, 0);
  assert.is(evaluateGate([result(80, [check({ severity: 'high' })])], spec).exitCode, 1);
  assert.is(evaluateGate([result(80, [check({ verdict: 'NOT_ENFORCING', result: 'warn', severity: 'info' })])], spec).exitCode, 1);
  const undecided = evaluateGate([result(null, []), result(10, [check({ severity: 'critical' })])], { ...spec, failBelow: 50 });
  assert.is(undecided.exitCode, 2);
  assert.match(undecided.reasons[0], /could not decide \(no score\): list: denied/);
  assert.is(
    evaluateGate([{ scan: 'nuclei', mode: 'light', checks: [], failure: { status: 503, info: { code: 'x', message: 'down' } } }], { verdicts: new Set() })
      .exitCode,
    2,
  );
  assert.is(evaluateGate([result(0, [check({ severity: 'critical' })])], { verdicts: new Set() }).exitCode, 0, 'no gate given: exit 0');
});

s.run();
