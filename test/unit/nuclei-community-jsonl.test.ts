// The parser and the judge on output RECORDED from real nuclei v3.10.0 runs of the
// COMMUNITY templates against real local services (test/fixtures/nuclei/record.ts
// community; recorded/recording.json lists the runs, their inputs, templates and
// arguments): tcp, javascript, ssl and http results, whose host/port/url/matched-at,
// matcher-name and extracted-results forms differ. The plan is rebuilt from the community
// stack with the host map used for the recording. Needs no ../shared (the output is here).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { parseHostMap } from '../../lib/scan/hosts.ts';
import { loadStackMetadata } from '../../lib/topology/stack-metadata.ts';
import { parseNucleiOutput, type NucleiEvent } from '../../functions/nuclei-scan/nuclei.ts';
import { loadApisixRoutes } from '../../functions/nuclei-scan/apisix.ts';
import { Judge, SEVERITY_WEIGHT, type Finding } from '../../functions/nuclei-scan/judge.ts';
import { planTargets, type NucleiMode } from '../../functions/nuclei-scan/plan.ts';

const ROOT = join(import.meta.dirname, '../..');
const REC = join(ROOT, 'test/fixtures/nuclei/recorded');
const STACK = join(ROOT, 'test/fixtures/nuclei/community');
const read = (mode: string) => readFileSync(join(REC, `community-${mode}.jsonl`), 'utf8');
const hostMap = readFileSync(join(REC, 'community-hostmap.json'), 'utf8');
const events = (mode: string) => parseNucleiOutput(read(mode)).events;

async function judged(mode: NucleiMode, evs: NucleiEvent[]) {
  const topo = await loadStackMetadata({ path: join(STACK, 'stack-metadata.yaml'), setting: 'STACK_METADATA' });
  const apisix = await loadApisixRoutes({ path: join(STACK, 'apisix-route.yaml'), setting: 'APISIX_ROUTES' });
  const plan = planTargets(topo, mode, { hostMap: parseHostMap(hostMap), dns: 'off', routeScheme: 'https', apisix });
  const j = new Judge(plan);
  for (const e of evs) j.add(e);
  return { judge: j, result: j.result() };
}
/** Template ids on a component: all, the weighted ones (scored, not info), or the informational ones (false). */
const ids = (fs: Finding[], component: string, weighted?: boolean) =>
  [
    ...new Set(
      fs
        .filter((f) => f.component === component && (weighted === undefined || (weighted ? !f.informational && f.severity !== 'info' : f.informational)))
        .map((f) => f.template_id),
    ),
  ].sort();

const p = suite('nuclei -jsonl parser on recorded community-template output');
// deprecated-tls (several ssl requests) reports its type as `multiprotocol`.
const TYPES: Record<string, string[]> = { light: ['http'], full: ['http'], network: ['tcp', 'javascript'], ssl: ['ssl', 'multiprotocol'] };
for (const [mode, types] of Object.entries(TYPES)) {
  p(`community-${mode}.jsonl: every line parses; template types ${types.join(', ')}`, () => {
    const { events: evs, bad } = parseNucleiOutput(read(mode));
    assert.equal(bad, []);
    assert.ok(evs.length > 0);
    for (const e of evs) {
      assert.ok(types.includes(e.type), `${e.templateId}: ${e.type}`);
      assert.type(e.matcherStatus, 'boolean');
      assert.ok(e.tags.length > 0, e.templateId);
      assert.is(e.request, undefined);
    }
  });
}
p("the four protocols' forms: tcp and javascript host:port URLs, ssl without url, http URL with a path", () => {
  const net = events('network');
  const tcp = net.find((e) => e.matcherStatus && e.templateId === 'exposed-redis')!;
  assert.is(tcp.type, 'tcp');
  assert.match(tcp.url!, /^127\.0\.0\.1:\d+$/);
  assert.is(tcp.matchedAt, tcp.url);
  assert.is(tcp.severity, 'high');
  const js = net.find((e) => e.matcherStatus && e.templateId === 'redis-info')!;
  assert.is(js.type, 'javascript');
  assert.ok(
    js.extracted.some((x) => /^redis_version:\d+\.\d+/.test(x)),
    js.extracted.join(),
  );
  const ssl = events('ssl');
  const weak = ssl.find((e) => e.matcherStatus && e.templateId === 'weak-cipher-suites')!;
  assert.is(weak.url, undefined);
  assert.match(weak.matchedAt!, /^127\.0\.0\.1:\d+$/);
  assert.is(weak.matcherName, 'tls-1.0');
  assert.equal(weak.extracted, ['[tls10 TLS_RSA_WITH_AES_128_CBC_SHA]']);
  const expired = ssl.find((e) => e.matcherStatus && e.templateId === 'expired-ssl')!;
  assert.match(expired.extracted[0], /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d \+0000 UTC$/);
  const http = events('light').find((e) => e.matcherStatus && e.templateId === 'git-config')!;
  assert.match(http.matchedAt!, /^http:\/\/127\.0\.0\.1:\d+\/\.git\/config$/);
  assert.is(http.severity, 'medium');
  // Seen: ssl non-matches that lose the port (port 80, url without port): never attributed to a target.
  assert.ok(ssl.some((e) => !e.matcherStatus && e.port === '80' && e.url === '127.0.0.1'));
});

const j = suite('nuclei judge on recorded community-template output');
j(
  'ssl: expired and self-signed on both expired-cert servers, the weak cipher on TLS 1.0 only, revoked informational, the private CA untrusted; score 94',
  async () => {
    const { result: r, judge } = await judged('ssl', events('ssl'));
    assert.equal(ids(r.findings, 'expired', true), ['expired-ssl', 'self-signed-ssl']);
    assert.equal(ids(r.findings, 'legacy-tls', true), ['expired-ssl', 'self-signed-ssl', 'weak-cipher-suites']);
    assert.equal(ids(r.findings, 'secure', true), ['untrusted-root-certificate']);
    for (const c of ['expired', 'legacy-tls']) assert.equal(ids(r.findings, c, false), ['revoked-ssl-certificate']);
    assert.ok(ids(r.findings, 'legacy-tls').includes('deprecated-tls'));
    assert.not.ok(ids(r.findings, 'expired').includes('deprecated-tls'));
    const revoked = r.findings.find((f) => f.template_id === 'revoked-ssl-certificate')!;
    assert.match(revoked.note!, /expired certificate as revoked/);
    assert.is(r.summary.informational, 2);
    assert.equal(r.summary.findings, { critical: 0, high: 0, medium: 0, low: 6, info: r.summary.findings.info, unknown: 0 });
    assert.ok(r.targets.every((t) => t.reached === true));
    assert.ok(judge.unattributed > 0, 'the port-80 non-matches');
    // expired 100 − 3 − 3 = 94, legacy-tls 91, secure 97 → 94; revoked (low) would have cost 3 more on two targets.
    assert.is(r.score, Math.round((100 - 2 * SEVERITY_WEIGHT.low + 100 - 3 * SEVERITY_WEIGHT.low + 100 - SEVERITY_WEIGHT.low) / 3));
    assert.is(r.score, 94);
  },
);
j(
  'network: open redis high (weak-credentials and require-auth informational), protected redis reached and clean, PostgreSQL default login high; capped at 70',
  async () => {
    const { result: r } = await judged('network', events('network'));
    assert.equal(ids(r.findings, 'cache', true), ['exposed-redis']);
    assert.ok(ids(r.findings, 'cache').includes('redis-info'));
    assert.equal(ids(r.findings, 'cache', false), ['redis-require-auth', 'redis-weak-credentials']);
    assert.is(r.findings.filter((f) => f.template_id === 'redis-weak-credentials').length, 1, 'five identical hits (one per payload) are one finding');
    assert.equal(ids(r.findings, 'sessions', true), []);
    assert.ok(ids(r.findings, 'sessions').includes('redis-detect'), 'NOAUTH: detected, protected');
    assert.equal(ids(r.findings, 'sessions', false), ['redis-require-auth']);
    assert.equal(ids(r.findings, 'db', true), ['postgres-weak-credentials']);
    assert.ok(ids(r.findings, 'db').includes('pgsql-detect'), 'the SCRAM-SHA-256 prompt');
    // nuclei v3.10.0's postgres ExecuteQuery sends a startup parameter PostgreSQL refuses
    // (`executionId`, 42704): pgsql-version-detect never matches, even with the right password.
    assert.not.ok(ids(r.findings, 'db').includes('pgsql-version-detect'));
    const pg = r.findings.find((f) => f.template_id === 'postgres-weak-credentials')!;
    assert.equal([pg.component, pg.namespace, pg.severity, pg.target], ['db', 'db', 'high', 'db.db.svc.cluster.local:5432']);
    assert.match(pg.evidence, /^javascript template postgres-weak-credentials matched at 127\.0\.0\.1:\d+$/);
    assert.ok(
      r.targets.every((t) => t.reached === true),
      JSON.stringify(r.targets),
    );
    assert.equal(r.summary.findings.high, 2, 'exposed-redis and postgres-weak-credentials; weak-credentials on the open redis is not counted again');
    // cache 80, sessions 100, db 80 → 87, capped at 70 by the high findings.
    assert.is(r.score, 70);
  },
);
j(
  'light: .git/config (medium) and .env (high) on the app; the HTTP routes reached; template errors (unresolved {{DN}}) do not make a target unreachable',
  async () => {
    const evs = events('light');
    assert.ok(evs.some((e) => e.error && /unresolved variables/.test(e.error)));
    const { result: r } = await judged('light', evs);
    assert.equal(ids(r.findings, 'app'), ['git-config', 'laravel-env']);
    assert.equal(
      r.findings.map((f) => f.component).filter((c) => c !== 'app'),
      [],
    );
    const env = r.findings.find((f) => f.template_id === 'laravel-env')!;
    assert.is(env.target, 'http://app.community.test');
    assert.match(env.matched_at, /\/\.env$/);
    for (const c of ['app', 'grafana', 'storage']) assert.is(r.targets.find((t) => t.component === c)!.reached, true, c);
    // The TLS routes are single-threaded `openssl s_server -www`: under nuclei's parallel HTTP
    // requests it sometimes drops connections ("use of closed network connection"). A route
    // where every request failed is reported unreachable with nuclei's error, never undecided.
    for (const t of r.targets.filter((x) => ['expired', 'legacy-tls', 'secure'].includes(x.component))) {
      assert.ok(t.reached === true || (t.reached === false && !!t.error), JSON.stringify(t));
    }
    assert.is(r.score, 70);
  },
);
j('an out-of-band template run with -ni (nuclei sends nothing, reports "interactsh client not initialized") decides nothing', async () => {
  const app = events('light').find((e) => e.matcherStatus && e.templateId === 'git-config')!;
  const oob: NucleiEvent = {
    ...app,
    templateId: 'CVE-2020-10770',
    matcherStatus: false,
    error: 'interactsh client not initialized',
    ip: undefined,
    matchedAt: undefined,
  };
  const { result: r } = await judged('light', [oob]);
  assert.is(r.targets.find((t) => t.component === 'app')!.reached, null);
  assert.equal(
    r.errors.filter((e) => e.code === 'unreachable'),
    [],
  );
});

p.run();
j.run();
