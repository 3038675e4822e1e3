// The kubescape JSON v2 parser and kubescape's scoring, on REAL kubescape output:
// the shared sample (another cluster, frameworks cis + allcontrols, kubescape v3.0.1;
// used when ../shared is present) and the reports recorded from real kubescape v3.0.48
// runs against the local control plane with the demo stack (test/fixtures/kubescape/,
// recorded by test/integration/kubescape-scan.test.ts with KUBESCAPE_RECORD=1).
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import {
  controlComplianceScore,
  controlStatusFromCounters,
  failedControls,
  findFramework,
  forbiddenLines,
  frameworkComplianceScore,
  kubescapeArgs,
  KubescapeReportError,
  namespaceOfResource,
  parseKubescapeReport,
  rescoreFramework,
  sameScore,
  severityOf,
  sweepKubescapeTemp,
  TMP_EXPIRY_MS,
  TMP_PREFIX,
  splitByNamespace,
  validRelation,
  type KsReport,
} from '../../functions/kubescape-scan/kubescape.ts';

const ROOT = join(import.meta.dirname, '../..');
const SAMPLE = join(ROOT, '../shared/samples/kubescape/k3s-v1.27-cis-allcontrols.json');
const FIXTURES = join(ROOT, 'test/fixtures/kubescape');

const t = suite('kubescape report parsing and scoring');

function checkScoring(report: KsReport, label: string) {
  assert.ok(report.frameworks.length > 0, `${label}: frameworks`);
  for (const fw of report.frameworks) {
    // Every control's compliance score is kubescape's formula of its status and counters.
    const scores: number[] = [];
    for (const c of fw.controls.values()) {
      const mine = controlComplianceScore(c.status, c.counters);
      assert.ok(sameScore(mine, c.complianceScore), `${label} ${fw.name} ${c.id}: ${mine} vs kubescape ${c.complianceScore}`);
      const all = c.counters.passed + c.counters.failed + c.counters.skipped + c.counters.excluded;
      if (all > 0) assert.is(controlStatusFromCounters(c.counters), c.status, `${label} ${c.id} status from counters`);
      scores.push(c.complianceScore);
    }
    // The framework's score is the unweighted mean of its controls' scores.
    assert.ok(
      sameScore(frameworkComplianceScore(scores), fw.complianceScore),
      `${label} ${fw.name}: mean ${frameworkComplianceScore(scores)} vs ${fw.complianceScore}`,
    );
    // Recomputing from the per-resource results gives kubescape's score too.
    assert.ok(
      sameScore(rescoreFramework(report, fw.name), fw.complianceScore),
      `${label} ${fw.name}: rescored ${rescoreFramework(report, fw.name)} vs ${fw.complianceScore}`,
    );
  }
  // The per-resource results add up to kubescape's counters, per control.
  for (const c of report.controls.values()) {
    let passed = 0;
    let failed = 0;
    for (const ctrls of report.results.values()) {
      const r = ctrls.find((x) => x.controlId === c.id);
      if (r?.status === 'failed') failed++;
      else if (r?.status === 'passed') passed++;
    }
    assert.is(failed, c.counters.failed, `${label} ${c.id} failed count`);
    assert.is(passed, c.counters.passed, `${label} ${c.id} passed count`);
  }
  // The split by namespace partitions every namespaced resource: counters add up.
  const namespaces = [...new Set([...report.resources.values()].map(namespaceOfResource).filter((n): n is string => !!n))];
  for (const fw of report.frameworks) {
    const split = splitByNamespace(report, fw.name, namespaces);
    for (const [id, c] of fw.controls) {
      const inNs = namespaces.reduce((n, ns) => n + split.get(ns)!.controls.find((x) => x.id === id)!.counters.failed, 0);
      let outside = 0;
      for (const [rid, ctrls] of report.results) {
        const res = report.resources.get(rid)!;
        if (namespaceOfResource(res) === null && ctrls.some((x) => x.controlId === id && x.status === 'failed')) outside++;
      }
      assert.is(inNs + outside, c.counters.failed, `${label} ${fw.name} ${id}: failures per namespace + outside`);
    }
  }
}

if (existsSync(SAMPLE)) {
  const sample = parseKubescapeReport(JSON.parse(readFileSync(SAMPLE, 'utf8')));

  t('shared sample: frameworks, controls, resources, results', () => {
    assert.equal(
      sample.frameworks.map((f) => f.name),
      ['cis-v1.23-t1.0.1', 'AllControls'],
    );
    assert.ok(sameScore(findFramework(sample, 'allcontrols')!.complianceScore, 72.1609));
    assert.ok(sameScore(sample.frameworks[0].complianceScore, 58.887928));
    assert.is(sample.resources.size, 227);
    assert.is(sample.results.size, 227);
    assert.is(sample.kubescapeVersion, 'v3.0.1');
    assert.is(sample.formatVersion, 'v2');
    assert.is(sample.namespaceResourceCounts.get('kube-system'), 78);
    const coredns = sample.resources.get('apps/v1/kube-system/Deployment/coredns')!;
    assert.equal([coredns.kind, coredns.namespace, coredns.name], ['Deployment', 'kube-system', 'coredns']);
    assert.is(coredns.labels.get('k8s-app'), 'kube-dns');
    const c13 = sample.controls.get('C-0013')!;
    assert.equal([c13.name, c13.status, c13.severity, c13.category], ['Non-root containers', 'failed', 'medium', 'Workload']);
    assert.equal(c13.counters, { passed: 2, failed: 5, skipped: 0, excluded: 0 });
    const skipped = sample.controls.get('C-0001')!;
    assert.is(skipped.status, 'skipped');
    assert.is(skipped.subStatus, 'configuration');
  });

  t('shared sample: RBAC relations carry their role and binding', () => {
    const id =
      '/kube-system/ServiceAccount/disruption-controller' +
      '/rbac.authorization.k8s.io/v1//ClusterRole/system:controller:disruption-controller' +
      '/rbac.authorization.k8s.io/v1//ClusterRoleBinding/system:controller:disruption-controller';
    const r = sample.resources.get(id)!;
    assert.equal([r.kind, r.namespace, r.name], ['ServiceAccount', 'kube-system', 'disruption-controller']);
    assert.equal(r.related.map((x) => x.kind).sort(), ['ClusterRole', 'ClusterRoleBinding']);
    assert.is(namespaceOfResource(r), 'kube-system', "a grant through a ClusterRoleBinding counts for its subject's namespace");
    const roleInOtherNs = {
      ...r,
      related: [
        { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'Role', namespace: 'other', name: 'x' },
        { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'RoleBinding', namespace: 'kube-system', name: 'y' },
      ],
    };
    assert.is(namespaceOfResource(roleInOtherNs), null, 'a RoleBinding joined to a Role of another namespace is no valid grant');
    assert.is(validRelation(roleInOtherNs), false);
    assert.is(validRelation(r), true);
    assert.is(
      namespaceOfResource(
        sample.resources.get('/v1//Node/k3d-k3dlocal-server-0') ?? sample.resources.get([...sample.resources.keys()].find((k) => k.includes('/Node/'))!)!,
      ),
      null,
    );
  });

  t("shared sample: failed paths, fix paths with kubescape's value, delete paths", () => {
    const failed = failedControls(sample);
    assert.is(
      failed.length,
      [...sample.controls.values()].reduce((n, c) => n + c.counters.failed, 0),
    );
    const job = failed.find((f) => f.controlId === 'C-0013' && f.resourceId === 'batch/v1/kube-system/Job/helm-install-traefik-crd')!;
    assert.ok(job);
    assert.ok(job.paths.some((p) => p.fixPath?.path === 'spec.template.spec.containers[0].securityContext.runAsNonRoot' && p.fixPath.value === 'true'));
    assert.ok(
      failed.some((f) => f.paths.some((p) => p.deletePath)),
      'some failure has a deletePath',
    );
    assert.ok(
      failed.some((f) => f.paths.some((p) => p.failedPath)),
      'some failure has a failedPath',
    );
    assert.ok(
      failed.some((f) => f.paths.some((p) => p.reviewPath)),
      'some failure has a reviewPath',
    );
  });

  t("shared sample: kubescape's scoring reproduced (controls, frameworks, per-resource, split)", () => {
    checkScoring(sample, 'sample');
  });
} else {
  console.warn(`SKIP kubescape-parse: the shared-sample tests: ${SAMPLE} is absent (the shared samples beside the checkout; not part of the repository)`);
}

const recorded = existsSync(FIXTURES) ? readdirSync(FIXTURES).filter((f) => f.endsWith('.json') && !f.endsWith('.expect.json')) : [];

t('recorded fixtures exist (real kubescape v3.0.48 runs on the demo stack)', () => {
  assert.ok(recorded.includes('demo-stack.json'), `test/fixtures/kubescape/demo-stack.json missing (${recorded.join(', ')})`);
  assert.ok(
    recorded.some((f) => f.startsWith('demo-ns-')),
    'per-namespace recordings',
  );
});

for (const f of recorded) {
  t(`recorded ${f}: parses and kubescape's scoring is reproduced`, () => {
    const report = parseKubescapeReport(JSON.parse(readFileSync(join(FIXTURES, f), 'utf8')));
    assert.is(report.kubescapeVersion, 'v3.0.48');
    assert.equal(report.frameworks.map((x) => x.name).sort(), ['MITRE', 'NSA']);
    // v3.0.48 writes each control's severity: it agrees with the base-score rule used for older reports.
    const raw = JSON.parse(readFileSync(join(FIXTURES, f), 'utf8')).summaryDetails.controls;
    for (const c of report.controls.values()) {
      assert.is(c.severity, String(raw[c.id].severity).toLowerCase(), `${c.id} severity written`);
      assert.is(c.severity, severityOf(c.scoreFactor), `${c.id} severity from base score ${c.scoreFactor}`);
    }
    checkScoring(report, f);
  });
}

t('recorded: splitting the stack-wide run equals every per-namespace run of kubescape', () => {
  const combinedFile = join(FIXTURES, 'demo-stack.json');
  if (!existsSync(combinedFile)) throw new Error('fixture demo-stack.json missing');
  const combined = parseKubescapeReport(JSON.parse(readFileSync(combinedFile, 'utf8')));
  const perNs = recorded.filter((x) => x.startsWith('demo-ns-'));
  assert.ok(perNs.length >= 5);
  for (const file of perNs) {
    const ns = file.slice('demo-ns-'.length, -'.json'.length);
    const own = parseKubescapeReport(JSON.parse(readFileSync(join(FIXTURES, file), 'utf8')));
    for (const fw of ['NSA', 'MITRE']) {
      const split = splitByNamespace(combined, fw, [ns]).get(ns)!.complianceScore;
      const expected = findFramework(own, fw)!.complianceScore;
      assert.ok(sameScore(split, expected), `${ns} ${fw}: split ${split} vs kubescape --include-namespaces ${ns}: ${expected}`);
    }
  }
});

t('malformed reports are rejected naming the path', () => {
  assert.throws(
    () => parseKubescapeReport([]),
    (e: unknown) => e instanceof KubescapeReportError && e.path === '(root)',
  );
  assert.throws(
    () => parseKubescapeReport({}),
    (e: unknown) => e instanceof KubescapeReportError && e.path === 'summaryDetails',
  );
  assert.throws(
    () => parseKubescapeReport({ summaryDetails: { frameworks: [{ name: 'NSA', complianceScore: 'high' }] } }),
    (e: unknown) => e instanceof KubescapeReportError && e.path === 'summaryDetails.frameworks[0].complianceScore',
  );
  assert.throws(
    () => parseKubescapeReport({ summaryDetails: { frameworks: [] }, results: [{ controls: [] }] }),
    (e: unknown) => e instanceof KubescapeReportError && e.path === 'results[0].resourceID',
  );
  // Keys like __proto__ and constructor are data, not prototype.
  const r = parseKubescapeReport({
    summaryDetails: {
      frameworks: [],
      controls: {
        __proto__: { controlID: '__proto__', name: 'x', status: 'passed', ResourceCounters: {}, scoreFactor: 1 },
        constructor: { controlID: 'constructor', status: 'failed', scoreFactor: 9 },
      },
    },
  });
  assert.is(r.controls.get('constructor')!.severity, 'critical');
});

t('temp dirs left by a dead process, or expired, are swept; live ones are kept', () => {
  const root = mkdtempSync(join(tmpdir(), 'ks-sweep-test-'));
  try {
    const dead = join(root, `${TMP_PREFIX}2147483646-abc`); // no such pid
    const live = join(root, `${TMP_PREFIX}${process.pid}-def`);
    const expired = join(root, `${TMP_PREFIX}${process.pid}-ghi`);
    const other = join(root, 'something-else');
    for (const d of [dead, live, expired, other]) mkdirSync(d);
    writeFileSync(join(dead, 'report.json'), '{}');
    const old = new Date(Date.now() - TMP_EXPIRY_MS - 60_000);
    utimesSync(expired, old, old);
    assert.is(sweepKubescapeTemp(root), 2);
    assert.equal(readdirSync(root).sort(), ['something-else', `${TMP_PREFIX}${process.pid}-def`]);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

t('severity from the base score, argv, forbidden lines', () => {
  assert.equal([9, 8, 7, 6, 4, 3, 1, 0.5].map(severityOf), ['critical', 'high', 'high', 'medium', 'medium', 'low', 'low', 'unknown']);
  assert.equal(kubescapeArgs({ frameworks: ['nsa', 'mitre'], output: '/tmp/x.json', kubeconfig: '/k', artifactsDir: '/a', includeNamespaces: ['a', 'b'] }), [
    'scan',
    'framework',
    'nsa,mitre',
    '--format',
    'json',
    '--format-version',
    'v2',
    '--output',
    '/tmp/x.json',
    '--keep-local',
    '--use-artifacts-from',
    '/a',
    '--kubeconfig',
    '/k',
    '--include-namespaces',
    'a,b',
  ]);
  assert.equal(forbiddenLines('ok\nfailed to list pods: pods is forbidden: User "x" cannot list resource\nfine'), [
    'failed to list pods: pods is forbidden: User "x" cannot list resource',
  ]);
});

t.run();
