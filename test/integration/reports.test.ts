// OpenReports after every run, against the real kube-apiserver with the real CRDs from the pinned
// module github.com/openreports/reports-api (harness/cluster/openreports.ts): every object is
// validated by the API server against the CRD's schema. The network scan runs on the project's
// demo stack under namespaces of this suite's own (or-…); scripted changes in the cluster give
// exact `changes`; a local HTTP sink receives io.stacktic.scan.regressed; a synthetic scan gives
// 5,000 findings (the size cap) and two runs finishing at once (one consistent state).
import { createServer, type Server } from 'node:http';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { makeKube } from '../../lib/kube/client.ts';
import { apiGet, rawRequest, type KubeObject } from '../../lib/kube/raw.ts';
import { runScan, scanApp, type ScanDefinition, type ScanReport } from '../../lib/scan/scaffold.ts';
import type { Check } from '../../lib/scan/checks.ts';
import { checkId } from '../../lib/scan/check-id.ts';
import { forgetRuns } from '../../lib/openreports/record.ts';
import { ringName, type RunRecord } from '../../lib/openreports/history.ts';
import type { OrObject } from '../../lib/openreports/objects.ts';
import { deriveExpected } from '../../lib/topology/expected.ts';
import { loadStackMetadata } from '../../lib/topology/stack-metadata.ts';
import { networkScan } from '../../functions/network-scan/scan.ts';
import { networkChecks } from '../../functions/network-scan/checks.ts';
import { renderPolicy } from '../../lib/topology/render.ts';
import { STACK_NAMESPACE_LABEL } from '../../lib/topology/stacktic-rules.ts';
import { installOpenReports, uninstallOpenReports } from '../../harness/cluster/openreports.ts';
import { installPolicies, yamlDir } from '../../harness/cluster/gatekeeper.ts';
import { opaScan } from '../../functions/opa-scan/scan.ts';
import { opaChecks } from '../../functions/opa-scan/checks.ts';
import { DEMO_METADATA } from '../../demo/stack/generate.ts';
import { testCluster } from '../support/cluster.ts';
import { adminKube, apply, namespace, remove, waitFor } from '../support/k8s.ts';

const s = suite('openreports: stored after every run, real API server and CRDs');
const RECORDS_NS = 'or-records';
const NAME = 'stack-scan-network-light';
let stackMeta: string;
let stackNs: string[];
let sink: Server;
let sinkUrl: string;
const events: { type: string; data: any }[] = [];

const env = (over: Record<string, string | undefined>) => {
  const saved = new Map(Object.keys(over).map((k) => [k, process.env[k]]));
  for (const [k, v] of Object.entries(over))
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  return () => {
    for (const [k, v] of saved)
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
  };
};
const ON = () =>
  env({
    STACK_SCAN_REPORTS: 'on',
    STACK_SCAN_REPORTS_NAMESPACE: RECORDS_NS,
    STACK_SCAN_EVENTS_SINK: sinkUrl,
    STACK_SCAN_REGRESSION_THRESHOLD: '5',
    STACK_SCAN_REPORTS_HISTORY: undefined,
  });
const orPath = (ns: string | undefined, name: string) =>
  ns ? `/apis/openreports.io/v1alpha1/namespaces/${ns}/reports/${name}` : `/apis/openreports.io/v1alpha1/clusterreports/${name}`;
const getOr = (ns: string | undefined, name = NAME) =>
  apiGet<OrObject & { metadata: { resourceVersion: string } }>(adminKube(), { verb: 'get', resource: 'reports' }, orPath(ns, name));
async function ring(scan = 'network', mode = 'light'): Promise<RunRecord[]> {
  const cm = await apiGet<{ data: Record<string, string> }>(
    adminKube(),
    { verb: 'get', resource: 'configmaps' },
    `/api/v1/namespaces/${RECORDS_NS}/configmaps/${ringName(scan, mode)}`,
  );
  return JSON.parse(cm.data['runs.json']);
}
const net = () => networkScan({ topology: { metadata: { path: stackMeta, setting: 'STACK_METADATA' } }, kubeconfig: testCluster().kubeconfigPath });
const failingIds = (r: ScanReport) =>
  networkChecks(r)
    .filter((c) => c.result === 'fail')
    .map((c) => c.id)
    .sort();

async function policies(apply1: (p: any, name: string) => any | null) {
  const topo = await loadStackMetadata({ path: stackMeta, setting: 'STACK_METADATA' });
  const stack = new Set(topo.namespaces);
  for (const e of deriveExpected(topo, stackMeta).policies) {
    const p = apply1(structuredClone(renderPolicy(e, stack)), e.name);
    if (p) await apply(adminKube(), p);
    else await remove(adminKube(), renderPolicy(e, stack) as any);
  }
}

s.before(async () => {
  const kube = adminKube();
  const dir = mkdtempSync(join(tmpdir(), 'reports-'));
  stackMeta = join(dir, 'stack-metadata.yaml');
  writeFileSync(stackMeta, readFileSync(DEMO_METADATA, 'utf8').replace(/namespace: "([a-z0-9-]+)"/g, 'namespace: "or-$1"'));
  stackNs = (await loadStackMetadata({ path: stackMeta, setting: 'STACK_METADATA' })).namespaces;
  for (const ns of [...stackNs, RECORDS_NS]) await apply(kube, namespace(ns, ns === RECORDS_NS ? {} : { [STACK_NAMESPACE_LABEL]: ns }));
  await policies((p) => p);
  sink = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      events.push({ type: String(req.headers['ce-type']), data: JSON.parse(Buffer.concat(chunks).toString('utf8')) });
      res.writeHead(202).end();
    });
  });
  await new Promise<void>((r) => sink.listen(0, '127.0.0.1', r));
  sinkUrl = `http://127.0.0.1:${(sink.address() as { port: number }).port}/`;
  forgetRuns();
});

s.after(async () => {
  await new Promise((r) => sink.close(r));
  const kube = adminKube();
  for (const ns of [...stackNs, RECORDS_NS]) await remove(kube, namespace(ns));
  await rawRequest(kube, { verb: 'delete', resource: 'clusterreports' }, { method: 'DELETE', path: '/apis/openreports.io/v1alpha1/clusterreports' });
});

s('first run: one Report per namespace and a ClusterReport, accepted by the real CRD schema, summary = results; no previous run', async () => {
  const restore = ON();
  try {
    const r = await runScan(net(), 'light');
    assert.equal(r.errors, [], JSON.stringify(r.errors));
    assert.is(r.changes!.previous, null);
    assert.match(r.changes!.note!, /no previous run of network light/);
    const info = r.sources.openreports as any;
    assert.is(info.stored, true, JSON.stringify(info));
    const checks = networkChecks(r);
    const namespaced = new Set(checks.map((c) => c.namespace).filter(Boolean));
    assert.equal(
      info.reports,
      [...namespaced].sort().map((ns) => `${ns}/${NAME}`),
    );
    let total = 0;
    for (const ns of namespaced) {
      const o = await getOr(ns);
      const mine = checks.filter((c) => c.namespace === ns);
      assert.is(o.results.length, mine.length, `${ns}: every check of the namespace`);
      for (const k of ['pass', 'fail', 'warn', 'error', 'skip'] as const)
        assert.is(o.summary[k], o.results.filter((x) => x.result === k).length, `${ns} summary.${k}`);
      assert.equal(new Set(o.results.map((x) => x.properties.id)), new Set(mine.map((c) => c.id)));
      assert.is(o.source, 'stack-scan-network');
      assert.is(o.metadata.labels['app.kubernetes.io/managed-by'], 'stack-scan');
      total += o.results.length;
    }
    const cr = await getOr(undefined);
    assert.is(cr.metadata.annotations['stack-scan.io/score'], String(r.score));
    assert.is(total + cr.results.length, checks.length);
    assert.equal(JSON.parse(cr.metadata.annotations['stack-scan.io/totals']).fail, checks.filter((c) => c.result === 'fail').length);
    const located = [];
    for (const ns of namespaced) located.push(...(await getOr(ns)).results.filter((x) => x.properties.location));
    assert.ok(located.length > 0 && located.every((x) => x.properties.location === 'stack-metadata.yaml'), 'link findings name the metadata file');
    // The API server validates: a result outside the enum is refused (the schema is really enforced).
    const bad = { ...(await getOr(stackNs[0])), results: [{ policy: 'x', result: 'broken' }] };
    const put = await rawRequest(adminKube(), { verb: 'update', resource: 'reports' }, { method: 'PUT', path: orPath(stackNs[0], NAME), body: bad });
    assert.is(put.status, 422, JSON.stringify(put.body).slice(0, 300));
    const rec = await ring();
    assert.is(rec.length, 1);
    assert.equal(rec[0].failing.map((f) => f[0]).sort(), failingIds(r));
  } finally {
    restore();
  }
});

s('second run, unchanged cluster: no new, no fixed, every failing one unchanged, objects not rewritten', async () => {
  const restore = ON();
  try {
    const before = await getOr(stackNs[0]);
    const r = await runScan(net(), 'light');
    assert.equal(r.errors, []);
    const c = r.changes!;
    assert.equal(
      [c.new_failing_count, c.fixed_count, c.unchanged, c.score_delta, c.regressed, c.previous!.from],
      [0, 0, failingIds(r).length, 0, false, 'cluster'],
    );
    assert.is((r.sources.openreports as any).unchanged, stackNs.length + 1 - (stackNs.length - (r.sources.openreports as any).reports.length));
    assert.is((await getOr(stackNs[0])).metadata.resourceVersion, before.metadata.resourceVersion);
    assert.is((await ring()).length, 2);
  } finally {
    restore();
  }
});

s('a scripted change: exactly its findings are new, a regression event says so; undone: exactly those are fixed', async () => {
  const restore = ON();
  try {
    const base = await runScan(net(), 'light');
    const removed = 'or-minio/or-minio--from--or-strimzi--ingress--ports--9000';
    const drifted = 'or-shop/or-shop--to--or-postgresql--egress--ports--5432';
    await policies((p, name) =>
      name === 'or-minio--from--or-strimzi--ingress--ports--9000'
        ? null
        : name === 'or-shop--to--or-postgresql--egress--ports--5432'
          ? ((p.spec.egress[0].ports = [{ protocol: 'TCP', port: 5433 }]), p)
          : p,
    );
    await apply(adminKube(), {
      apiVersion: 'networking.k8s.io/v1',
      kind: 'NetworkPolicy',
      metadata: { name: 'debug-allow-all', namespace: 'or-shop' },
      spec: { podSelector: {}, ingress: [{}] },
    } as KubeObject);
    events.length = 0;
    const changed = await runScan(net(), 'light');
    assert.equal(changed.errors, [], JSON.stringify(changed.errors));
    const expectNew = failingIds(changed).filter((id) => !failingIds(base).includes(id));
    const c = changed.changes!;
    assert.equal(c.new_failing.map((f) => f.id).sort(), expectNew);
    assert.is(c.new_failing_count, expectNew.length);
    const what = c.new_failing.map((f) => `${f.policy}|${f.rule}`).sort();
    assert.ok(
      what.includes(`${removed}|present`) && what.includes(`${drifted}|present`) && what.includes('or-shop/debug-allow-all|peer-everyone'),
      what.join('\n'),
    );
    assert.is(c.fixed_count, 0);
    assert.is(c.unchanged, failingIds(base).length);
    assert.is(c.score_delta, Math.round((changed.score! - base.score!) * 100) / 100);
    assert.is(c.regressed, true);
    // The regression event reached the sink, saying what regressed.
    assert.is(events.length, 1);
    assert.is(events[0].type, 'io.stacktic.scan.regressed');
    assert.equal(events[0].data.new_failing.map((f: any) => f.id).sort(), expectNew);
    assert.match(events[0].data.reasons[0], new RegExp(`${expectNew.length} new failing`));
    const shop = await getOr('or-shop');
    assert.ok(shop.results.some((x) => x.policy === 'or-shop/debug-allow-all' && x.result === 'fail'));

    await policies((p) => p);
    await remove(adminKube(), {
      apiVersion: 'networking.k8s.io/v1',
      kind: 'NetworkPolicy',
      metadata: { name: 'debug-allow-all', namespace: 'or-shop' },
    } as KubeObject);
    events.length = 0;
    const back = await runScan(net(), 'light');
    assert.equal(back.changes!.fixed.map((f) => f.id).sort(), expectNew);
    assert.equal([back.changes!.new_failing_count, back.changes!.unchanged, back.changes!.regressed], [0, failingIds(base).length, false]);
    assert.is(events.length, 0, 'no regression, no event');
    assert.not.ok((await getOr('or-shop')).results.some((x) => x.policy === 'or-shop/debug-allow-all'));
  } finally {
    restore();
  }
});

s('bounded history: the last N runs as compact records, newest first', async () => {
  const restore = ON();
  const more = env({ STACK_SCAN_REPORTS_HISTORY: '3' });
  try {
    const ids: string[] = [];
    for (let i = 0; i < 4; i++) ids.push(((await runScan(net(), 'light')).sources.openreports as any).run_id);
    const rec = await ring();
    assert.equal(
      rec.map((x) => x.run_id),
      ids.slice(-3).reverse(),
    );
    assert.ok(
      rec[0].failing.every((f) => f.length >= 3),
      'the latest record names policy and rule',
    );
    assert.ok(
      rec.slice(1).every((x) => x.failing.every((f) => f.length === 1)),
      'older ones ids only',
    );
    assert.equal(Object.keys(rec[0].counts), ['pass', 'fail', 'warn', 'error', 'skip']);
    // The history deleted by hand while this process remembers it: the next run starts it again.
    await remove(adminKube(), { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: ringName('network', 'light'), namespace: RECORDS_NS } } as KubeObject);
    const after = await runScan(net(), 'light');
    assert.equal(after.errors, []);
    assert.equal(
      (await ring()).map((x) => x.run_id),
      [(after.sources.openreports as any).run_id],
    );
  } finally {
    more();
    restore();
  }
});

/** A scan of synthetic findings in one namespace: `n` failing checks, variant `v` in their messages. */
function synthetic(n: number, ns: string, kubeconfig = testCluster().kubeconfigPath): ScanDefinition<'light'> {
  return {
    name: 'synthetic',
    path: '/synthetic',
    modes: ['light'],
    defaultMode: 'light',
    params: { v: 'variant' },
    async run({ params }) {
      await makeKube(kubeconfig); // the cluster this run uses (reports are written there)
      const v = params.v ?? 'a';
      return { score: v === 'a' ? 50 : 60, summary: { n }, findings: Array.from({ length: n }, (_, i) => ({ i, v })), errors: [], sources: {} };
    },
    checks: (r): Check[] =>
      ((r.findings ?? []) as { i: number; v: string }[]).map((f) => ({
        id: checkId('synthetic', 'p', 'r', f.i),
        policy: `policy-${f.i % 50}`,
        rule: `rule-${f.i}`,
        result: f.i % 3 === 0 ? 'pass' : 'fail',
        verdict: 'X',
        severity: (['critical', 'high', 'medium', 'low', 'info'] as const)[f.i % 5],
        namespace: ns,
        resources: [{ apiVersion: 'v1', kind: 'ConfigMap', namespace: ns, name: `object-${f.i}` }],
        message: `variant ${f.v}: finding ${f.i} ${'x'.repeat(200)}`,
        properties: { verdict: 'X', evidence: 'e'.repeat(150) },
      })),
  };
}

s('5,000 findings: the Report is capped under the size limit with a note of how many were left out', async () => {
  const restore = ON();
  try {
    const r = await runScan(synthetic(5000, stackNs[0]), 'light');
    assert.equal(r.errors, [], JSON.stringify(r.errors).slice(0, 500));
    const o = await getOr(stackNs[0], 'stack-scan-synthetic-light');
    const omitted = Number(o.metadata.annotations['stack-scan.io/results-omitted-count']);
    assert.ok(omitted > 0 && o.results.length + omitted === 5000, `${o.results.length} kept + ${omitted} left out`);
    assert.match(o.metadata.annotations['stack-scan.io/results-omitted'], new RegExp(`^${omitted} of 5000 results left out`));
    for (const k of ['pass', 'fail', 'warn', 'error', 'skip'] as const) assert.is(o.summary[k], o.results.filter((x) => x.result === k).length);
    assert.ok(
      o.results.every((x) => x.result === 'fail'),
      'failing results are kept first',
    );
    assert.ok(JSON.stringify(o).length < 1_000_000);
    assert.is(r.changes!.previous, null);
  } finally {
    restore();
  }
});

s('two runs finishing at once: one consistent state (every object and the latest record from the same run)', async () => {
  const restore = ON();
  try {
    for (let round = 0; round < 3; round++) {
      forgetRuns(); // two processes: neither trusts the other's last write
      const [a, b] = await Promise.all([runScan(synthetic(300, stackNs[1]), 'light', { v: 'a' }), runScan(synthetic(300, stackNs[1]), 'light', { v: 'b' })]);
      assert.equal([...a.errors, ...b.errors], []);
      const rec = await ring('synthetic', 'light');
      const winner = rec[0].run_id === (a.sources.openreports as any).run_id ? 'a' : 'b';
      assert.equal(
        new Set(rec.slice(0, 2).map((x) => x.run_id)),
        new Set([(a.sources.openreports as any).run_id, (b.sources.openreports as any).run_id]),
        'both runs recorded',
      );
      const o = await getOr(stackNs[1], 'stack-scan-synthetic-light');
      assert.ok(
        o.results.every((x) => x.message.startsWith(`variant ${winner}:`)),
        `round ${round}: the Report holds run ${winner} only`,
      );
      const cr = await getOr(undefined, 'stack-scan-synthetic-light');
      assert.is(cr.metadata.annotations['stack-scan.io/score'], winner === 'a' ? '50' : '60');
    }
  } finally {
    restore();
  }
});

s('opa full against the real Gatekeeper: every finding a check with the same id in two runs, all stored', async () => {
  const restore = ON();
  const ROOT = join(import.meta.dirname, '../..');
  const templates = yamlDir(join(ROOT, 'functions/opa-scan/stacktic/templates'));
  const constraints = yamlDir(join(ROOT, 'demo/gatekeeper/constraints'));
  try {
    await installPolicies(adminKube(), templates, constraints);
    const def = opaScan({ topology: { metadata: { path: stackMeta, setting: 'STACK_METADATA' } }, kubeconfig: testCluster().kubeconfigPath, concurrency: 8 });
    const a = await runScan(def, 'full');
    const b = await runScan(def, 'full');
    assert.equal(a.errors, [], JSON.stringify(a.errors).slice(0, 400));
    const ca = opaChecks(a);
    const cb = opaChecks(b);
    assert.ok((a.findings ?? []).length >= constraints.length, `${(a.findings ?? []).length} admission findings`);
    assert.is(ca.filter((c) => c.rule === 'admission').length, (a.findings ?? []).length, 'every admission finding is a check');
    // Gatekeeper's audit may write new violations between the two runs (each its own check): the rest is the same cluster.
    const only = (x: typeof ca, y: typeof ca) =>
      x
        .filter((c) => c.rule !== 'violation' && !y.some((d) => d.id === c.id))
        .map((c) => `${c.policy}|${c.rule}|${c.namespace}|${c.result}|${c.message.slice(0, 120)}`);
    assert.equal([only(ca, cb), only(cb, ca)], [[], []], 'same cluster, same ids');
    assert.ok(
      b.changes!.new_failing.every((f) => f.rule === 'violation' || f.rule === 'audit') &&
        b.changes!.fixed.every((f) => f.rule === 'violation' || f.rule === 'audit'),
      JSON.stringify(b.changes),
    );
    const stored = new Set<string>();
    for (const ns of new Set(cb.map((c) => c.namespace).filter(Boolean)))
      for (const r of (await getOr(ns, 'stack-scan-opa-full')).results) stored.add(r.properties.id);
    for (const r of (await getOr(undefined, 'stack-scan-opa-full')).results) stored.add(r.properties.id);
    assert.equal([...stored].sort(), cb.map((c) => c.id).sort(), 'every check of the last run stored once, in its namespace or the ClusterReport');
  } finally {
    for (const c of constraints) await remove(adminKube(), c).catch(() => {});
    for (const t of templates) await remove(adminKube(), t).catch(() => {});
    restore();
  }
});

s('forbidden: the answer comes back with the reason in errors[]', async () => {
  const restore = ON();
  const kube = adminKube();
  const user = 'or-reader';
  const role = {
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'ClusterRole',
    metadata: { name: user },
    rules: [
      { apiGroups: [''], resources: ['namespaces'], verbs: ['list'] },
      { apiGroups: ['networking.k8s.io'], resources: ['networkpolicies'], verbs: ['list'] },
    ],
  } as unknown as KubeObject;
  const binding = {
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'ClusterRoleBinding',
    metadata: { name: user },
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: user },
    subjects: [{ apiGroup: 'rbac.authorization.k8s.io', kind: 'User', name: user }],
  } as unknown as KubeObject;
  await apply(kube, role);
  await apply(kube, binding);
  try {
    forgetRuns();
    const kc = await testCluster().userKubeconfig(user);
    const def = networkScan({ topology: { metadata: { path: stackMeta, setting: 'STACK_METADATA' } }, kubeconfig: kc });
    const r = await waitFor(
      'RBAC for or-reader',
      async () => {
        const x = await runScan(def, 'light');
        return x.score !== null && x;
      },
      10_000,
      200,
    );
    assert.ok(typeof r.score === 'number');
    assert.ok(
      r.errors.length >= 1 &&
        r.errors.every((e) => e.status === 403 && /forbidden: grant verb '(get|update|create)' on '(configmaps|reports\.openreports\.io)'/.test(e.message)),
      JSON.stringify(r.errors),
    );
    assert.is(r.changes!.previous, null, 'the history could not be read: this process remembers nothing yet');
    const again = await runScan(def, 'light');
    assert.is(again.changes!.previous!.from, 'memory', "then this process's own memory");
  } finally {
    await remove(kube, binding);
    await remove(kube, role);
    restore();
  }
});

s('CRD missing: the answer comes back with the reason in errors[]; reinstalled: stored again', async () => {
  const restore = ON();
  const kube = adminKube();
  await uninstallOpenReports(kube);
  try {
    forgetRuns();
    const r = await runScan(net(), 'light');
    assert.ok(typeof r.score === 'number');
    assert.equal(
      r.errors.map((e) => e.code),
      ['openreports_crd_missing'],
    );
    assert.match(r.errors[0].message, /reports\.openreports\.io.*not installed/);
    assert.is((r.sources.openreports as any).stored, false);
    assert.ok(r.changes!.previous, 'the run history (ConfigMaps) is still there');
  } finally {
    await installOpenReports(kube);
    restore();
  }
  const restore2 = ON();
  try {
    forgetRuns();
    const r = await runScan(net(), 'light');
    assert.equal(r.errors, []);
    assert.ok((await getOr(stackNs[0])).results.length > 0);
  } finally {
    restore2();
  }
});

s('a PingSource event runs the scan; its reply carries changes; a bad payload is a 400 naming the field', async () => {
  const restore = ON();
  try {
    const app = scanApp(net());
    const ping = (data: string) =>
      app.request('/', {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'ce-specversion': '1.0',
          'ce-id': `p-${Math.random()}`,
          'ce-source': '/apis/v1/namespaces/stack-scan/pingsources/network-light',
          'ce-type': 'dev.knative.sources.ping',
        },
        body: data,
      });
    const ok = await ping('{"scan":"network","mode":"light"}');
    assert.is(ok.status, 200);
    assert.is(ok.headers.get('ce-type'), 'io.stacktic.scan.completed');
    const body = await ok.json();
    assert.ok(body.changes?.previous, JSON.stringify(body.changes).slice(0, 200));
    const bad = await ping('{"scan":"network","mode":"hourly"}');
    assert.is(bad.status, 400);
    const err = await bad.json();
    assert.equal([err.error.code, err.error.details[0].path], ['invalid_mode', 'data.mode']);
    const other = await ping('{"scan":"opa","mode":"light"}');
    assert.equal([(await other.json()).error.details[0].path, other.status], ['data.scan', 400]);
  } finally {
    restore();
  }
});

s.run();
