// The pure parts of lib/openreports and the PingSource events: changes between runs (exact new /
// fixed / unchanged), regression threshold, the size cap at 5,000 results, the bounded history,
// settings errors naming the variable, the memory fallback when storing is off, and PingSource
// payloads (a run, or a 400 naming the field).
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { Check } from '../../lib/scan/checks.ts';
import { checkId } from '../../lib/scan/check-id.ts';
import { EventRejected, pingScanOf, scanRequestOf } from '../../lib/scan/events.ts';
import { diffRuns, regression } from '../../lib/openreports/changes.ts';
import { pushRecord, type RunRecord } from '../../lib/openreports/history.ts';
import { buildClusterReport, buildReports, capResults, countResults, toResult } from '../../lib/openreports/objects.ts';
import { afterRun, forgetRuns, type FinishedRun } from '../../lib/openreports/record.ts';
import { reportSettingsFromEnv } from '../../lib/openreports/settings.ts';

const check = (i: number, result: Check['result'], nsGiven?: string | null): Check => {
  const ns = nsGiven === null ? undefined : (nsGiven ?? `ns${i % 3}`);
  return {
    id: checkId('t', 'p', 'r', i),
    policy: `p${i}`,
    rule: 'r',
    result,
    verdict: result.toUpperCase(),
    severity: (['critical', 'high', 'medium', 'low', 'info'] as const)[i % 5],
    ...(ns ? { namespace: ns } : {}),
    resources: [{ kind: 'Pod', name: `pod-${i}`, ...(ns ? { namespace: ns } : {}) }],
    message: `check ${i} ${'m'.repeat(150)}`,
    properties: { verdict: result.toUpperCase(), evidence: 'e'.repeat(100) },
  };
};
const record = (checks: Check[], score: number | null, id = 'r1'): RunRecord => ({
  run_id: id,
  started_at: '2026-01-01T00:00:00.000Z',
  duration_ms: 1,
  score,
  counts: countResults(checks),
  checks: checks.length,
  failing: checks.filter((c) => c.result === 'fail').map((c) => [c.id, c.policy, c.rule, c.namespace]),
  namespaces: [],
  hashes: {},
  errors: 0,
});

const c = suite('openreports: changes between runs');
c('first run: no previous run, said so', () => {
  const ch = diffRuns('network', 'light', undefined, [check(1, 'fail')], 80);
  assert.equal([ch.previous, ch.new_failing_count, ch.fixed_count, ch.unchanged, ch.score_delta], [null, 0, 0, 0, null]);
  assert.is(ch.note, 'no previous run of network light to compare with');
  assert.equal(regression(ch, 0), { regressed: false, reasons: [] });
});
c('exact new failing, fixed and unchanged; a finding that changes result counts by its id', () => {
  const before = [check(1, 'fail'), check(2, 'fail'), check(3, 'fail'), check(4, 'pass'), check(5, 'warn')];
  const after = [check(1, 'fail'), check(2, 'pass'), check(4, 'fail'), check(5, 'fail'), check(6, 'fail'), check(7, 'pass')];
  const ch = diffRuns('network', 'light', { ...record(before, 90), from: 'cluster' }, after, 82.5);
  assert.equal(
    ch.new_failing.map((f) => f.policy),
    ['p4', 'p5', 'p6'],
  );
  assert.equal(
    ch.fixed.map((f) => f.policy),
    ['p2', 'p3'],
    'p2 passes now, p3 is no longer reported',
  );
  assert.equal([ch.new_failing_count, ch.fixed_count, ch.unchanged, ch.score_delta], [3, 2, 1, -7.5]);
  assert.equal(ch.previous, { run_id: 'r1', started_at: '2026-01-01T00:00:00.000Z', score: 90, from: 'cluster' });
  assert.equal(regression(ch, 5).reasons, ['3 new failing finding(s)', 'the score fell by 7.5 points (threshold 5)']);
  const onlyScore = diffRuns('x', 'y', { ...record([check(1, 'fail')], 90), from: 'memory' }, [check(1, 'fail')], 86);
  assert.equal(regression(onlyScore, 5).regressed, false, 'a 4-point fall is under a threshold of 5');
  assert.equal(regression(onlyScore, 3).regressed, true);
});

const o = suite('openreports: objects');
o('one Report per namespace, the rest in the ClusterReport; summary counts exactly the results held', () => {
  const checks = [...Array.from({ length: 30 }, (_, i) => check(i, i % 4 === 0 ? 'fail' : 'pass')), check(100, 'error', null)];
  const input = { scan: 'network', mode: 'light', checks, score: 75, runId: 'abc', startedAt: 'x', maxBytes: 900_000 };
  const reports = buildReports(input);
  assert.equal([...reports.keys()], ['ns0', 'ns1', 'ns2']);
  for (const r of reports.values()) {
    assert.equal(r.summary, countResults(r.results));
    assert.is(r.metadata.name, 'stack-scan-network-light');
    assert.is(r.source, 'stack-scan-network');
  }
  const cluster = buildClusterReport(input);
  assert.equal(
    cluster.results.map((r) => r.policy),
    ['p100'],
  );
  assert.is(cluster.metadata.annotations['stack-scan.io/score'], '75');
  const homeless = buildClusterReport({ ...input, homeless: new Set(['ns1']) });
  assert.is(homeless.results.length, 1 + 10, 'the checks of a namespace without a Report go to the ClusterReport');
  assert.ok(homeless.results.filter((r) => r.properties.namespace === 'ns1').length === 10);
  assert.is(toResult(check(1, 'fail'), 's').properties.id, check(1, 'fail').id);
});
o('5,000 results over the size budget: failing ones first, the rest counted as left out', () => {
  const checks = Array.from({ length: 5000 }, (_, i) => check(i, i % 3 === 0 ? 'fail' : i % 3 === 1 ? 'pass' : 'warn', 'big'));
  const results = checks.map((x) => toResult(x, 's'));
  const { kept, omitted } = capResults(results, 900_000);
  assert.ok(omitted);
  const left = Object.values(omitted!).reduce((a, b) => a + b, 0);
  assert.is(kept.length + left, 5000);
  assert.ok(JSON.stringify(kept).length <= 900_000 + kept.length);
  assert.is(kept.filter((r) => r.result === 'fail').length, checks.filter((x) => x.result === 'fail').length, 'every failing result kept');
  assert.is(omitted!.fail, 0);
  const report = buildReports({ scan: 'a', mode: 'b', checks, score: 1, runId: 'r', startedAt: 'x', maxBytes: 900_000 }).get('big')!;
  assert.equal(report.summary, countResults(report.results));
  const n = Number(report.metadata.annotations['stack-scan.io/results-omitted-count']);
  assert.is(report.results.length + n, 5000);
  assert.match(
    report.metadata.annotations['stack-scan.io/results-omitted'],
    new RegExp(`^${n} of 5000 results left out .*: [0-9]+ pass, [0-9]+ warn; the scan's answer lists them all$`),
  );
  const small = capResults(results.slice(0, 10), 900_000);
  assert.is(small.omitted, null);
});

const h = suite('openreports: run history');
h('newest first, at most N, older records ids only, under the byte budget', () => {
  let rs: RunRecord[] = [];
  const many = Array.from({ length: 3000 }, (_, i) => check(i, 'fail'));
  for (let i = 0; i < 25; i++) rs = pushRecord(rs, record(many, i, `run${i}`), 20, 300_000);
  assert.is(rs.length, 20);
  assert.equal(
    rs.slice(0, 3).map((r) => r.run_id),
    ['run24', 'run23', 'run22'],
  );
  assert.ok(rs[0].failing[0].length === 4 && rs[1].failing.every((f) => f.length === 1));
  assert.ok(JSON.stringify(rs).length <= 300_000, `${JSON.stringify(rs).length}`);
  assert.ok(rs.at(-1)!.ids_truncated && rs.at(-1)!.counts.fail === 3000, 'the oldest lose their ids, never their counts');
});

const st = suite('openreports: settings and the memory fallback');
st('bad settings name the variable', () => {
  for (const [k, v] of [
    ['STACK_SCAN_REPORTS', 'maybe'],
    ['STACK_SCAN_REPORTS_HISTORY', '0'],
    ['STACK_SCAN_REGRESSION_THRESHOLD', '-1'],
    ['STACK_SCAN_EVENTS_SINK', 'ftp://x'],
    ['STACK_SCAN_REPORTS_NAMESPACE', 'Bad_NS'],
  ]) {
    try {
      reportSettingsFromEnv({ [k]: v });
      assert.unreachable(k);
    } catch (err: any) {
      assert.is(err.info?.setting, k, `${k}=${v}`);
    }
  }
  assert.equal(reportSettingsFromEnv({ STACK_SCAN_REPORTS_NAMESPACE: 'x' }), { store: true, history: 20, namespace: 'x', maxBytes: 900_000, threshold: 5 });
});
st("storing off: changes from this process's memory; a bad setting is an errors[] entry, the answer stays", async () => {
  forgetRuns();
  const run = (score: number, checks: Check[]): FinishedRun =>
    ({ scan: 'mem', scan_type: 'light', score, started_at: new Date().toISOString(), duration_ms: 1, errors: [], sources: {}, _c: checks }) as FinishedRun & {
      _c: Check[];
    };
  const checksOf = (r: FinishedRun) => (r as FinishedRun & { _c: Check[] })._c;
  const first = run(90, [check(1, 'fail')]);
  await afterRun(first, checksOf, undefined, { STACK_SCAN_REPORTS: 'off' });
  assert.is(first.changes!.previous, null);
  assert.match(String((first.sources.openreports as any).why_not), /STACK_SCAN_REPORTS=off/);
  const second = run(80, [check(1, 'fail'), check(2, 'fail')]);
  await afterRun(second, checksOf, undefined, { STACK_SCAN_REPORTS: 'sometimes' });
  assert.equal(
    [second.changes!.previous!.from, second.changes!.new_failing_count, second.changes!.unchanged, second.changes!.score_delta, second.changes!.regressed],
    ['memory', 1, 1, -10, true],
  );
  assert.equal(
    second.errors.map((e) => e.code),
    ['invalid_setting'],
  );
  assert.match(second.errors[0].message, /STACK_SCAN_REPORTS/);
});

const p = suite('PingSource events');
const def = { name: 'network', modes: ['light', 'full'] as const };
const ping = (data: unknown, extra: Record<string, unknown> = {}) =>
  ({ specversion: '1.0', id: '1', source: '/ping', type: 'dev.knative.sources.ping', data, ...extra }) as any;
p('data {scan, mode} runs that mode; as bytes or a string too; the scan extension may name the scan', () => {
  assert.is(scanRequestOf(ping({ scan: 'network', mode: 'full' }), def).mode, 'full');
  assert.is(scanRequestOf(ping('{"scan":"network","mode":"light"}'), def).mode, 'light');
  assert.is(scanRequestOf(ping(new TextEncoder().encode('{"scan":"network","mode":"light"}')), def).mode, 'light');
  assert.is(scanRequestOf(ping({ mode: 'light' }, { scan: 'network' }), def).mode, 'light');
  assert.is(pingScanOf(ping({ scan: 'opa', mode: 'light' })), 'opa');
  assert.is(pingScanOf(ping('not json')), undefined);
});
p('a bad payload is a 400 naming the field', () => {
  const cases: [unknown, string, string][] = [
    [undefined, 'missing_data', 'data'],
    ['{not json', 'invalid_data', 'data'],
    [[1], 'invalid_data', 'data'],
    [{ mode: 'light' }, 'missing_scan', 'data.scan'],
    [{ scan: 'opa', mode: 'light' }, 'wrong_scan', 'data.scan'],
    [{ scan: 'network' }, 'missing_mode', 'data.mode'],
    [{ scan: 'network', mode: 'hourly' }, 'invalid_mode', 'data.mode'],
    [{ scan: 'network', mode: 'light', every: '1h' }, 'unknown_parameter', 'data.every'],
  ];
  for (const [data, code, path] of cases) {
    try {
      scanRequestOf(ping(data), def);
      assert.unreachable(JSON.stringify(data));
    } catch (err) {
      assert.instance(err, EventRejected);
      const body = (err as EventRejected).body();
      assert.equal([body.error.status, body.error.code, body.error.details?.[0].path], [400, code, path], JSON.stringify(data));
    }
  }
});

c.run();
o.run();
h.run();
st.run();
p.run();
