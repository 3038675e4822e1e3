// Each scan's report as checks (functions/<scan>/checks.ts), on reports built the way the
// scans build them: network light from the demo stack's generated files against a cluster
// as generated (then changed), network full from the probe plan and judge, kubescape from
// the REAL recorded kubescape reports, nuclei from REAL recorded nuclei output, OPA from
// constraint objects as Gatekeeper's audit writes them and the admission verdict table.
// What is proven: every finding becomes a check, ids are stable across two runs and
// distinct for distinct problems, a scripted change moves exactly the checks it touches.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { Check } from '../../lib/scan/checks.ts';
import type { ScanReport } from '../../lib/scan/scaffold.ts';
import { parseHostMap } from '../../lib/scan/hosts.ts';
import { parseKubescapeReport } from '../../functions/kubescape-scan/kubescape.ts';
import { parseNucleiOutput } from '../../functions/nuclei-scan/nuclei.ts';
import type { ProbeResult } from '../../functions/network-scan/nmap/nmap.ts';
import { deriveExpected, loadNetworkPolicyDir } from '../../lib/topology/expected.ts';
import { loadStackMetadata } from '../../lib/topology/stack-metadata.ts';
import { PolicyEngine } from '../../functions/network-scan/engine.ts';
import type { NamespaceInfo } from '../../lib/k8s/types.ts';
import type { NetworkPolicy } from '../../lib/k8s/networkpolicy.ts';
import { judgeLight } from '../../functions/network-scan/light/index.ts';
import { renderPolicy } from '../../lib/topology/render.ts';
import { STACK_NAMESPACE_LABEL } from '../../lib/topology/stacktic-rules.ts';
import { networkChecks, type CheckMemo } from '../../functions/network-scan/checks.ts';
import { uniqueIds } from '../../lib/scan/check-id.ts';
import { planProbes, type ServiceInfo } from '../../functions/network-scan/probes/plan.ts';
import { judgeProbes } from '../../functions/network-scan/probes/judge.ts';
import { internetEgress } from '../../functions/network-scan/scan.ts';
import { BUILTIN_EXCLUSIONS } from '../../functions/kubescape-scan/exclusions.ts';
import { judgeFull as ksJudgeFull } from '../../functions/kubescape-scan/judge.ts';
import { kubescapeChecks } from '../../functions/kubescape-scan/checks.ts';
import { loadApisixRoutes } from '../../functions/nuclei-scan/apisix.ts';
import { Judge } from '../../functions/nuclei-scan/judge.ts';
import { planTargets, type NucleiMode } from '../../functions/nuclei-scan/plan.ts';
import { matchedPath, nucleiChecks } from '../../functions/nuclei-scan/checks.ts';
import { toConstraint, type ConstraintObject, type Inventory } from '../../functions/opa-scan/inventory.ts';
import { judgeLight as opaJudgeLight } from '../../functions/opa-scan/light.ts';
import { judgeFull as opaJudgeFull } from '../../functions/opa-scan/judge.ts';
import type { Executed } from '../../functions/opa-scan/execute.ts';
import { opaChecks } from '../../functions/opa-scan/checks.ts';
import { DEMO_METADATA, DEMO_POLICIES } from '../../demo/stack/generate.ts';
import { DEMO_METADATA as KS_METADATA } from '../../demo/kubescape/stack.ts';

const ROOT = join(import.meta.dirname, '../..');
const envelope = (scan: string, mode: string, o: Partial<ScanReport>): ScanReport => ({
  scan,
  scan_type: mode,
  score: null,
  summary: {},
  errors: [],
  sources: {},
  started_at: new Date().toISOString(),
  duration_ms: 1,
  ...o,
});

/** The contract's invariants: unique ids, one-line messages, string properties, the verdict in properties. */
function wellFormed(checks: Check[], what: string) {
  const ids = new Set(checks.map((c) => c.id));
  assert.is(ids.size, checks.length, `${what}: ids are unique`);
  for (const c of checks) {
    assert.match(c.id, /^[0-9a-f]{20}(-\d+)?$/, c.id);
    assert.ok(['pass', 'fail', 'warn', 'error', 'skip'].includes(c.result), `${what}: ${c.result}`);
    assert.ok(['critical', 'high', 'medium', 'low', 'info'].includes(c.severity), `${what}: ${c.severity}`);
    assert.not.match(c.message, /\n/, `${what}: one-line message`);
    assert.ok(c.message.length > 0 && c.message.length <= 400);
    assert.is(c.properties.verdict, c.verdict, `${what}: the verdict is in the properties`);
    for (const v of Object.values(c.properties)) assert.type(v, 'string');
  }
}
const byId = (cs: Check[]) => new Map(cs.map((c) => [c.id, c]));

// ---------------------------------------------------------------- network
const net = suite('checks: network');
const topo = await loadStackMetadata({ path: DEMO_METADATA, setting: 'STACK_METADATA' });
const generated = await loadNetworkPolicyDir({ path: DEMO_POLICIES, setting: 'NETWORKPOLICY_DIR' });
const stackNs = new Set(topo.namespaces);
const namespaces: NamespaceInfo[] = [...topo.namespaces.map((n) => ({ name: n, labels: { [STACK_NAMESPACE_LABEL]: n } })), { name: 'kube-system', labels: {} }];
const cluster = (): any[] => structuredClone(generated.policies.map((e) => renderPolicy(e, stackNs)));
const lightReport = (policies: NetworkPolicy[]) => {
  const r = judgeLight(topo, generated, { policies, namespaces }, new PolicyEngine(policies, namespaces));
  return envelope('network', 'light', { score: r.score, summary: r.summary, results: r.results, sources: { metadata: DEMO_METADATA } });
};

net('light: every expected policy, extra, rule finding, link finding and link becomes one check; ids stable across runs', () => {
  const report = lightReport(cluster());
  const r = report.results as ReturnType<typeof judgeLight>['results'];
  const a = networkChecks(report);
  const b = networkChecks(lightReport(cluster()));
  wellFormed(a, 'network light');
  assert.is(a.length, r.expected.length + r.extra.length + r.rule_findings.length + r.link_findings.length + r.links.length);
  assert.equal(
    a.map((c) => c.id),
    b.map((c) => c.id),
    'same cluster, same ids in the same order',
  );
  assert.equal(
    a.filter((c) => c.rule === 'present').every((c) => c.result === 'pass'),
    true,
  );
  // Generated files: the location is the file relative to the stack directory, with its line.
  const present = a.find((c) => c.rule === 'present')!;
  assert.ok(present.location && !present.location.file.startsWith('/') && present.location.file.endsWith('.yaml'), JSON.stringify(present.location));
  const selector = a.find((c) => c.rule === 'selector-matches-nothing')!;
  assert.ok(selector.location?.line && selector.location.line > 1, "the offending entry's line");
  assert.is(selector.result, 'fail');
  assert.match(selector.properties.file, /\.yaml:\d+$/);
  const link = a.find((c) => c.rule === 'link-not-generated')!;
  assert.is(link.location!.file, 'stack-metadata.yaml');
  assert.match(link.properties.declared_at, /^default_context\.components\./);
  assert.is(a.filter((c) => c.rule === 'allowed-live' && c.result === 'pass').length, r.links.filter((l) => l.live?.allowed).length);
});

net('ids unique within a report: a repeated id gets -2, -3 on a copy; kept (memoized) checks are shared and never renamed', () => {
  const one = { id: 'abc', policy: 'p', rule: 'r', result: 'pass', severity: 'info', message: 'm', resources: [], properties: {} } as unknown as Check;
  const kept = Object.freeze({ ...one });
  const list = uniqueIds([kept, kept, { ...one, id: 'def' }, kept]);
  assert.equal(
    list.map((c) => c.id),
    ['abc', 'abc-2', 'def', 'abc-3'],
  );
  assert.is(list[0], kept, 'the first keeps the object');
  assert.is(kept.id, 'abc', 'the kept check is not renamed');
  // The scan's memo: a second report of the same entries holds the same frozen check objects.
  const memo: CheckMemo = new WeakMap();
  const report = lightReport(cluster());
  const a = networkChecks(report, memo);
  const b = networkChecks(report, memo);
  // Shared: every check but the renamed copies of a repeated id (the demo stack expects a few policies twice).
  const notShared = a.filter((c, i) => c !== b[i] || !Object.isFrozen(c));
  assert.ok(notShared.length < a.length / 10 && notShared.every((c) => /-\d+$/.test(c.id)), notShared.map((c) => c.id).join(' '));
  assert.equal(
    b.filter((c) => !Object.isFrozen(c)).map((c) => c.id),
    notShared.map((c) => c.id),
  );
  assert.equal(a, networkChecks(report), 'the same checks as without the memo');
});

net('light: a scripted change moves exactly the checks it touches, under the same ids', () => {
  const before = byId(networkChecks(lightReport(cluster())));
  const c = cluster();
  const at = (prefix: string) => c.findIndex((p) => p.metadata!.name!.startsWith(prefix));
  c.splice(at('minio--from--strimzi--ingress'), 1); // missing
  c[at('shop--to--postgresql--egress')].spec!.egress![0].ports = [{ protocol: 'TCP', port: 5433 }]; // drifted
  // extra + critical rule finding
  c.push({ metadata: { name: 'debug-allow-all', namespace: 'shop' }, spec: { podSelector: {}, ingress: [{}] } } as NetworkPolicy);
  const after = byId(networkChecks(lightReport(c)));
  const changed = [...after.values()]
    .filter((x) => before.get(x.id)?.result !== x.result)
    .map((x) => `${x.policy}|${x.rule}|${x.result}`)
    .sort();
  assert.ok(changed.includes('minio/minio--from--strimzi--ingress--ports--9000|present|fail'), changed.join('\n'));
  assert.ok(changed.includes('shop/shop--to--postgresql--egress--ports--5432|present|fail'));
  assert.ok(changed.includes('shop/debug-allow-all|expected|warn'));
  assert.ok(changed.includes('shop/debug-allow-all|peer-everyone|fail'));
  // The live link checks the drift and the removal break, and nothing else.
  for (const x of changed) assert.match(x, /minio|shop/, x);
  const missing = [...after.values()].find((x) => x.policy === 'minio/minio--from--strimzi--ingress--ports--9000')!;
  assert.equal([missing.verdict, missing.severity, missing.properties.stacktic_attribute], ['MISSING', 'high', 'network_policy']);
  const drifted = [...after.values()].find((x) => x.policy === 'shop/shop--to--postgresql--egress--ports--5432')!;
  assert.match(drifted.properties.drift, /grants more: egress TCP\/5433/);
  assert.ok(before.has(drifted.id), 'same id before and after the drift');
});

net('full: each probe finding is a check; UNDECIDED → error, NO_SERVICE → skip, SECURITY_RISK → fail', () => {
  const policies = deriveExpected(topo, DEMO_METADATA).policies.map((e) => renderPolicy(e, stackNs)) as NetworkPolicy[];
  const services: ServiceInfo[] = topo.components
    .filter((x) => x.ports.length)
    .map((x) => ({
      name: x.name,
      namespace: x.namespace!,
      ports: x.ports.map((p) => ({ port: p })),
      selector: { 'app.kubernetes.io/name': x.name },
      endpoints: 1,
    }));
  const tests = planProbes({ topology: topo, engine: new PolicyEngine(policies, namespaces), services, pods: [], internetEgress, maxNegative: 50, seed: 1 });
  const results = new Map<string, ProbeResult>();
  tests.forEach((t, i) => {
    const state = i % 7 === 3 ? 'unknown' : t.expect === 'open' ? 'open' : i % 5 === 0 ? 'open' : 'filtered';
    results.set(t.id, { host: t.target.host, port: t.target.port, state, reason: state === 'unknown' ? 'nmap failed' : 'syn-ack' } as ProbeResult);
  });
  const findings = judgeProbes(tests, results);
  const report = envelope('network', 'full', { results: {}, findings });
  const a = networkChecks(report);
  wellFormed(a, 'network full');
  assert.is(a.length, findings.length);
  assert.equal(
    a.map((c) => c.id),
    networkChecks(envelope('network', 'full', { results: {}, findings: judgeProbes(tests, results) })).map((c) => c.id),
  );
  const of = (v: string) => a.filter((c) => c.verdict === v).map((c) => c.result);
  assert.ok(of('UNDECIDED').length > 0 && of('UNDECIDED').every((r) => r === 'error'));
  assert.ok(of('SECURITY_RISK').length > 0 && of('SECURITY_RISK').every((r) => r === 'fail'));
  assert.ok(of('PASS').every((r) => r === 'pass'));
  assert.ok(a.every((c) => c.policy.startsWith('probe/') && c.rule.includes('->')));
  assert.ok(
    a.filter((c) => c.policy === 'probe/exception' || c.policy === 'probe/internet').every((c) => topo.namespaces.includes(c.namespace!)),
    'DNS, API and internet probes belong to their stack namespace',
  );
});

// ---------------------------------------------------------------- kubescape (real recorded reports)
const ks = suite('checks: kubescape (recorded real reports)');
ks('full: every finding and every excluded finding is a check; thresholds per namespace and framework; ids stable', async () => {
  const ksTopo = await loadStackMetadata({ path: KS_METADATA, setting: 'STACK_METADATA' });
  const load = (f: string) => parseKubescapeReport(JSON.parse(readFileSync(join(ROOT, 'test/fixtures/kubescape', f), 'utf8')));
  const run = () => {
    const combined = load('demo-stack.json');
    const j = ksJudgeFull({
      topology: ksTopo,
      observations: ksTopo.namespaces.map((namespace) => ({ namespace, report: combined, failure: null })),
      combined,
      clusterWide: load('demo-cluster.json'),
      exclusions: BUILTIN_EXCLUSIONS,
      thresholds: { nsa: 70, mitre: 60 },
      forbidden: [],
    });
    return { j, checks: kubescapeChecks(envelope('kubescape', 'full', { score: j.score, summary: j.summary, results: j.results, findings: j.findings })) };
  };
  const { j, checks: a } = run();
  const b = run().checks;
  wellFormed(a, 'kubescape');
  const excluded = (j.results as unknown as { excluded: unknown[] }).excluded.length;
  assert.ok(j.findings.length > 10 && excluded > 0);
  assert.is(a.length, j.findings.length + excluded + 2 * j.results.namespaces.length);
  assert.equal(a.map((c) => c.id).sort(), b.map((c) => c.id).sort());
  assert.is(a.filter((c) => c.verdict === 'FAILED').length, j.findings.length);
  assert.ok(a.filter((c) => c.verdict === 'EXCLUDED').every((c) => c.result === 'skip' && c.properties.exclusion));
  const withAttr = a.find((c) => c.verdict === 'FAILED' && c.properties.stacktic_attribute)!;
  assert.ok(withAttr, 'a finding names the Stacktic attribute to set');
  assert.ok(a.filter((c) => c.rule === 'threshold').every((c) => c.namespace && ['pass', 'fail'].includes(c.result)));
  // Same control on another object: another id.
  const f = a.filter((c) => c.policy === withAttr.policy);
  assert.is(new Set(f.map((c) => c.id)).size, f.length);
});

// ---------------------------------------------------------------- nuclei (real recorded output)
const nu = suite('checks: nuclei (recorded real output)');
for (const mode of ['light', 'full', 'network', 'ssl'] as NucleiMode[]) {
  nu(`${mode}: every target and every finding is a check; ids stable; unreachable → error, unresolved → skip`, async () => {
    const rec = join(ROOT, 'test/fixtures/nuclei/recorded');
    const metaDir = join(ROOT, 'demo/nuclei');
    const t = await loadStackMetadata({ path: join(metaDir, 'stack-metadata.yaml'), setting: 'STACK_METADATA' });
    const apisix = await loadApisixRoutes({ path: join(metaDir, 'apisix-route.yaml'), setting: 'APISIX_ROUTES' });
    const run = () => {
      const plan = planTargets(t, mode, { hostMap: parseHostMap(readFileSync(join(rec, 'hostmap.json'), 'utf8')), dns: 'off', routeScheme: 'https', apisix });
      const judge = new Judge(plan);
      for (const e of parseNucleiOutput(readFileSync(join(rec, `${mode}.jsonl`), 'utf8')).events) judge.add(e);
      const j = judge.result();
      return {
        j,
        checks: nucleiChecks(
          envelope('nuclei', mode, { score: j.score, summary: j.summary, results: { targets: j.targets }, findings: j.findings, errors: j.errors }),
        ),
      };
    };
    const { j, checks: a } = run();
    wellFormed(a, `nuclei ${mode}`);
    assert.is(a.length, j.targets.length + j.findings.length);
    assert.equal(
      a.map((c) => c.id),
      run().checks.map((c) => c.id),
    );
    assert.ok(j.findings.length > 0);
    for (const c of a.filter((x) => x.policy !== 'reachability')) assert.ok(['fail', 'warn'].includes(c.result));
    for (const tr of j.targets) {
      const c = a.find((x) => x.policy === 'reachability' && x.rule === tr.url && x.properties.verdict && x.message.startsWith(tr.component))!;
      assert.is(
        c.result,
        tr.reached === true ? 'pass' : j.errors.some((e) => e.code === 'unresolved' && e.step === `address ${tr.url}`) ? 'skip' : 'error',
        tr.url,
      );
    }
  });
}

nu('ids do not depend on where SCAN_HOST_MAP put the target (its port changes between runs)', () => {
  const f = {
    template_id: 't',
    name: 'n',
    severity: 'high',
    tags: [],
    matched_at: 'http://127.0.0.1:41841/admin?x=1',
    target: 'http://admin.example',
    component: 'portal',
    namespace: 'portal',
    references: [],
    extracted: [],
  };
  const a = nucleiChecks(envelope('nuclei', 'light', { results: { targets: [] }, findings: [f] }))[0];
  const b = nucleiChecks(envelope('nuclei', 'light', { results: { targets: [] }, findings: [{ ...f, matched_at: 'http://127.0.0.1:50000/admin?x=1' }] }))[0];
  const c = nucleiChecks(envelope('nuclei', 'light', { results: { targets: [] }, findings: [{ ...f, matched_at: 'http://127.0.0.1:50000/.git/config' }] }))[0];
  assert.is(a.id, b.id);
  assert.is.not(a.id, c.id);
  assert.is(matchedPath('127.0.0.1:6379'), '');
});

// ---------------------------------------------------------------- opa
const opa = suite('checks: opa');
const constraintObj = (kind: string, name: string, status: ConstraintObject['status'], action = 'deny'): ConstraintObject =>
  ({
    apiVersion: 'constraints.gatekeeper.sh/v1beta1',
    kind,
    metadata: { name },
    spec: { enforcementAction: action, match: { kinds: [{ apiGroups: [''], kinds: ['Pod'] }] } },
    status,
  }) as ConstraintObject;
const inventory = (violations: number): Inventory => ({
  namespace: 'gatekeeper-system',
  installed: true,
  signals: { crds: true, webhooks: [], deployments: [], pods: [], services: [] },
  templates: [],
  constraints: [
    toConstraint(
      constraintObj('K8sRequiredLabels', 'must-have-owner', {
        byPod: [{ enforced: true }],
        totalViolations: violations,
        auditTimestamp: '2026-01-01T00:00:00Z',
        violations: Array.from({ length: violations }, (_, i) => ({
          kind: 'Pod',
          name: `p${i}`,
          namespace: i % 2 ? 'shop' : 'minio',
          message: `you must provide labels: {"owner"} (${Date.now()})`,
        })),
      }),
      'K8sRequiredLabels',
    ),
    toConstraint(constraintObj('K8sPSPPrivileged', 'no-privileged', { byPod: [{ enforced: true }], totalViolations: 0 }), 'K8sPSPPrivileged'),
    toConstraint(constraintObj('K8sAllowedRepos', 'repos', { byPod: [{ enforced: true }] }, 'warn'), 'K8sAllowedRepos'),
  ],
  namespaces: [
    { name: 'shop', labels: {} },
    { name: 'minio', labels: {} },
  ],
  incomplete: [],
  errors: [],
});
const adm = (admitted: boolean, deniedBy: string[] = []) => ({
  admitted,
  status: admitted ? 201 : 403,
  denials: deniedBy.map((c) => ({ constraint: c, message: `${c} says no`, via: 'webhook' as const })),
  warnings: [],
});
const exec = (name: string, kind: string, valid: ReturnType<typeof adm>, invalid: ReturnType<typeof adm>, ns = 'shop'): Executed => ({
  plan: {
    constraint: name,
    kind,
    enforcementAction: 'deny',
    resourceKind: 'Pod',
    namespace: ns,
    method: 'generator',
    valid: {} as never,
    invalid: {} as never,
  },
  valid,
  invalid,
});

opa('light and full: constraints, each audited violation, coverage and admission verdicts; ids stable, messages out of the id', () => {
  const run = (violations: number) => {
    const light = opaJudgeLight(inventory(violations), ['shop', 'minio', 'gone']);
    const { findings } = opaJudgeFull([
      exec('must-have-owner', 'K8sRequiredLabels', adm(true), adm(false, ['must-have-owner'])),
      exec('no-privileged', 'K8sPSPPrivileged', adm(true), adm(true)),
      exec('over', 'K8sX', adm(false, ['over']), adm(false, ['over'])),
      { ...exec('late', 'K8sY', adm(true), adm(true)), aborted: true },
    ]);
    return { light, findings, checks: opaChecks(envelope('opa', 'full', { score: light.score, summary: light.summary, results: light.results, findings })) };
  };
  const { light, findings, checks: a } = run(3);
  wellFormed(a, 'opa');
  // installed + healthy + 3 constraints + 3 violations + 3 namespaces + 4 admission findings
  assert.is(a.length, 2 + 3 + 3 + 3 + findings.length);
  assert.equal(
    a.map((c) => c.id),
    run(3).checks.map((c) => c.id),
    'violation messages carry a time: ids do not',
  );
  const v = (name: string) => a.find((c) => c.rule === 'admission' && c.policy.endsWith(`/${name}`))!;
  assert.equal([v('must-have-owner').result, v('no-privileged').result, v('over').result, v('late').result], ['pass', 'fail', 'fail', 'error']);
  assert.equal([v('no-privileged').verdict, v('no-privileged').severity], ['NOT_ENFORCING', 'high']);
  const violations = a.filter((c) => c.rule === 'violation');
  assert.equal(
    violations.map((c) => c.namespace),
    ['minio', 'shop', 'minio'],
  );
  assert.ok(violations.every((c) => c.result === 'fail' && c.resources[0].kind === 'Pod'));
  const cov = new Map(a.filter((c) => c.policy === 'namespace-coverage').map((c) => [c.namespace, c.result]));
  assert.equal([cov.get('shop'), cov.get('minio'), cov.get('gone')], ['pass', 'pass', 'skip']);
  assert.is(a.find((c) => c.policy === 'K8sAllowedRepos/repos' && c.rule === 'audit')!.result, 'skip', 'not audited yet');
  assert.ok(light.score !== null);
  // One violation fixed: its check disappears; the others keep their ids.
  const fewer = run(2).checks;
  const gone = a.filter((c) => !fewer.some((x) => x.id === c.id)).map((c) => `${c.rule}:${c.resources[0].name}`);
  assert.equal(gone, ['violation:p2']);
});

opa('Gatekeeper absent or undecidable: one check says so', () => {
  const absent = opaChecks(envelope('opa', 'light', opaJudgeLight({ ...inventory(0), installed: false }, ['shop'])));
  assert.equal(
    absent.map((c) => [c.rule, c.result, c.severity]),
    [['installed', 'fail', 'critical']],
  );
  const unknown = opaChecks(envelope('opa', 'light', opaJudgeLight({ ...inventory(0), installed: null }, ['shop'])));
  assert.equal(
    unknown.map((c) => [c.rule, c.result]),
    [['installed', 'error']],
  );
});

net.run();
ks.run();
nu.run();
opa.run();
