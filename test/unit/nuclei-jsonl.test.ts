// nuclei -jsonl parsing and the judge/score, on output RECORDED from real nuclei runs
// against the demo services (test/fixtures/nuclei/record.ts; recorded/recording.json
// says which nuclei, which inputs and arguments). The plan is rebuilt from the demo
// metadata with the host map used for the recording.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { parseHostMap } from '../../lib/scan/hosts.ts';
import { parseNucleiLine, parseNucleiOutput, resolversFromResolvConf, type NucleiEvent } from '../../functions/nuclei-scan/nuclei.ts';
import { loadStackMetadata } from '../../lib/topology/stack-metadata.ts';
import { loadApisixRoutes } from '../../functions/nuclei-scan/apisix.ts';
import { endpointKey, Judge, SEVERITY_WEIGHT } from '../../functions/nuclei-scan/judge.ts';
import { planTargets, type NucleiMode } from '../../functions/nuclei-scan/plan.ts';

const ROOT = join(import.meta.dirname, '../..');
const REC = join(ROOT, 'test/fixtures/nuclei/recorded');
const DEMO = join(ROOT, 'demo/nuclei');
const read = (name: string) => readFileSync(join(REC, `${name}.jsonl`), 'utf8');
const hostMap = readFileSync(join(REC, 'hostmap.json'), 'utf8');

async function judged(mode: NucleiMode, events: NucleiEvent[], includeRaw = false) {
  const topo = await loadStackMetadata({ path: join(DEMO, 'stack-metadata.yaml'), setting: 'STACK_METADATA' });
  const apisix = await loadApisixRoutes({ path: join(DEMO, 'apisix-route.yaml'), setting: 'APISIX_ROUTES' });
  const plan = planTargets(topo, mode, { hostMap: parseHostMap(hostMap), dns: 'off', routeScheme: 'https', apisix });
  const j = new Judge(plan, includeRaw);
  for (const e of events) j.add(e);
  return { plan, judge: j, result: j.result() };
}

const parse = suite('nuclei -jsonl parser on recorded real output');
const PROTOCOL: Record<string, string> = { light: 'http', 'light-evidence': 'http', full: 'http', network: 'tcp', ssl: 'ssl' };

for (const name of Object.keys(PROTOCOL)) {
  parse(`${name}.jsonl: every line parses, every event is a ${PROTOCOL[name]} template result`, () => {
    const { events, bad } = parseNucleiOutput(read(name));
    assert.equal(bad, []);
    assert.ok(events.length > 0);
    for (const e of events) {
      assert.ok(e.templateId.startsWith('stackscan-'), e.templateId);
      // nuclei leaves `type` empty on "host was skipped as it was found unresponsive" events.
      if (e.error && e.type === 'unknown') assert.match(e.error, /unresponsive/);
      else assert.is(e.type, PROTOCOL[name]);
      assert.ok(['critical', 'high', 'medium', 'low', 'info', 'unknown'].includes(e.severity), e.severity);
      assert.type(e.matcherStatus, 'boolean');
      assert.ok(Array.isArray(e.tags) && e.tags.includes('stackscan'));
      if (name !== 'light-evidence') assert.is(e.request, undefined, '-or drops requests');
    }
  });
}
parse('light: matches carry name, severity, tags, matched-at, extracted values; misses carry the error cause', () => {
  const { events } = parseNucleiOutput(read('light'));
  const panel = events.find((e) => e.matcherStatus && e.templateId === 'stackscan-admin-panel')!;
  assert.is(panel.name, 'Exposed Admin Panel (stack-scan test template)');
  assert.is(panel.severity, 'medium');
  assert.equal(panel.tags, ['panel', 'exposure', 'stackscan']);
  assert.equal(panel.extracted, ['2.3.1']);
  assert.match(panel.matchedAt!, /^http:\/\/127\.0\.0\.1:\d+\/admin$/);
  assert.equal(panel.references, ['https://owasp.org/www-project-top-ten/2017/A6_2017-Security_Misconfiguration']);
  assert.match(panel.description!, /administration console/);
  const failures = events.filter((e) => !e.matcherStatus && e.error);
  assert.ok(failures.length > 0, 'the closed port gives error events');
  for (const f of failures) assert.type(f.error, 'string');
});
parse('light-evidence: request and response are kept when asked', () => {
  const { events } = parseNucleiOutput(read('light-evidence'));
  const git = events.find((e) => e.matcherStatus && e.templateId === 'stackscan-git-config')!;
  assert.match(git.request!, /^GET \/\.git\/config HTTP\/1\.1/);
  assert.match(git.response!, /repositoryformatversion/);
});
parse('a truncated real line, a non-object, and a line without template-id are rejected with a reason', () => {
  const line = read('light').split('\n')[0];
  const cut = parseNucleiLine(line.slice(0, Math.floor(line.length / 2)));
  assert.is(cut.ok, false);
  assert.match((cut as { reason: string }).reason, /invalid JSON/);
  assert.equal(parseNucleiLine('[INF] Templates loaded'), { ok: false, reason: 'not a JSON object' });
  assert.equal(parseNucleiLine('[]'), { ok: false, reason: 'not a JSON object' });
  const noId = JSON.parse(line);
  delete noId['template-id'];
  assert.equal(parseNucleiLine(JSON.stringify(noId)), { ok: false, reason: 'no template-id' });
  assert.equal(parseNucleiLine('   '), { ok: false, reason: 'empty line' });
});
parse('endpoint keys: URLs with default ports, host:port, IPv6', () => {
  assert.is(endpointKey('http://A.test/x'), 'a.test:80');
  assert.is(endpointKey('https://a.test'), 'a.test:443');
  assert.is(endpointKey('http://127.0.0.1:8080/admin'), '127.0.0.1:8080');
  assert.is(endpointKey('127.0.0.1:6379'), '127.0.0.1:6379');
  assert.is(endpointKey('[::1]:443'), '[::1]:443');
  assert.is(endpointKey('127.0.0.1', '443'), '127.0.0.1:443');
  assert.is(endpointKey(undefined), undefined);
});
parse('resolv.conf: nameservers become -r lines; search/options ignored', () => {
  assert.equal(resolversFromResolvConf('search svc.cluster.local\nnameserver 10.96.0.10\noptions ndots:5\nnameserver fe80::1%eth0\n# nameserver 1.1.1.1\n'), [
    '10.96.0.10:53',
    '[fe80::1]:53',
  ]);
  assert.equal(resolversFromResolvConf(''), []);
});

const judge = suite('nuclei judge and score on recorded real output');
judge('light: portal findings, docs and shop reached clean, legacy unreachable, score capped at 70 by high findings', async () => {
  const { result: r, judge: j } = await judged('light', parseNucleiOutput(read('light')).events);
  assert.is(j.unattributed, 0);
  const by = new Map(r.targets.map((t) => [t.component, t]));
  assert.is(by.get('portal')!.reached, true);
  assert.is(by.get('portal')!.findings, 3);
  assert.is(by.get('docs')!.reached, true);
  assert.is(by.get('docs')!.findings, 0);
  assert.is(by.get('shop')!.reached, true);
  assert.is(by.get('legacy')!.reached, false);
  assert.equal([...new Set(r.findings.map((f) => f.template_id))].sort(), ['stackscan-admin-panel', 'stackscan-default-login', 'stackscan-git-config']);
  assert.ok(r.findings.every((f) => f.component === 'portal' && f.namespace === 'portal' && f.target === 'http://admin.nuclei-demo.test'));
  assert.ok(r.errors.some((e) => e.code === 'unreachable' && /legacy/.test(e.message)));
  assert.is(r.summary.templates_run, 3);
  // portal 100 − (20 + 20 + 8) = 52, docs 100, shop 100 → mean 84 → capped at 70 (high findings).
  assert.is(r.score, 70);
});
judge('ssl: three TLS findings on shop; no high → the mean itself (100 − 3 − 3 − 8 = 86)', async () => {
  const { result: r } = await judged('ssl', parseNucleiOutput(read('ssl')).events);
  assert.equal([...new Set(r.findings.map((f) => f.template_id))].sort(), ['stackscan-deprecated-tls', 'stackscan-expired-ssl', 'stackscan-self-signed-ssl']);
  assert.equal(r.summary.findings, { critical: 0, high: 0, medium: 2, low: 2, info: 0, unknown: 0 });
  assert.is(r.score, 100 - SEVERITY_WEIGHT.low * 2 - SEVERITY_WEIGHT.medium);
});
judge('network: redis unauth (high) on redis, sessions reached and clean → mean 90 capped at 70', async () => {
  const { result: r } = await judged('network', parseNucleiOutput(read('network')).events);
  assert.equal(
    r.findings.map((f) => `${f.component}:${f.template_id}`),
    ['redis:stackscan-redis-unauth'],
  );
  assert.is(r.targets.find((t) => t.component === 'sessions')!.reached, true);
  assert.is(r.score, 70);
});
judge('full: a finding on an address two targets share is reported for each', async () => {
  const { result: r } = await judged('full', parseNucleiOutput(read('full')).events);
  const targets = new Set(r.findings.map((f) => f.target));
  assert.ok(targets.has('http://admin.nuclei-demo.test') && targets.has('http://portal.portal.svc.cluster.local:8080'));
  const docs = r.targets.filter((t) => t.component === 'docs');
  assert.is(docs.length, 2);
  assert.ok(docs.every((t) => t.reached === true && t.findings === 0));
  assert.ok(r.errors.some((e) => e.code === 'unresolved' && /shop\.shop\.svc\.cluster\.local/.test(e.message)));
});
judge('a critical finding caps the score at 40; no reached target gives null', async () => {
  const events = parseNucleiOutput(read('network')).events.map((e) => (e.matcherStatus ? { ...e, severity: 'critical' } : e));
  assert.is((await judged('network', events)).result.score, 40);
  const onlyErrors = parseNucleiOutput(read('light')).events.filter((e) => e.error);
  const r = (await judged('light', onlyErrors)).result;
  assert.is(r.score, null);
  assert.is(r.summary.reached, 0);
  assert.is(r.targets.filter((t) => t.reached === null).length, 3, 'targets nuclei said nothing about are undecided');
});
judge('a non-match without error AND without ip (seen from nuclei on a closed port) decides nothing', async () => {
  const closed = parseNucleiOutput(read('light')).events.filter((e) => e.url === 'http://127.0.0.1:1');
  assert.ok(closed.length > 0);
  assert.ok(
    closed.every((e) => !e.ip && !e.matcherStatus),
    'nuclei never names a dialled ip for the closed port',
  );
  const noError = closed.map(({ error: _e, ...rest }) => rest as NucleiEvent);
  const r = (await judged('light', noError)).result;
  assert.is(r.targets.find((t) => t.component === 'legacy')!.reached, null);
  const withErrors = (await judged('light', closed)).result;
  assert.is(withErrors.targets.find((t) => t.component === 'legacy')!.reached, closed.some((e) => e.error) ? false : null);
});
judge('duplicate events (the same match reported twice) count once', async () => {
  const events = parseNucleiOutput(read('light')).events;
  const twice = [...events, ...events.filter((e) => e.matcherStatus)];
  const a = (await judged('light', events)).result;
  const b = (await judged('light', twice)).result;
  assert.is(b.findings.length, a.findings.length);
  assert.is(b.score, a.score);
});
judge('evidence is only copied into findings when asked', async () => {
  const events = parseNucleiOutput(read('light-evidence')).events;
  const without = (await judged('light', events, false)).result;
  assert.ok(without.findings.every((f) => f.request === undefined && f.response === undefined));
  const withRaw = (await judged('light', events, true)).result;
  assert.ok(withRaw.findings.every((f) => typeof f.request === 'string' && f.request.length <= 4096));
});

parse.run();
judge.run();
