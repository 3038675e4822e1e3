// The OPA scan against the real Gatekeeper of the test control plane. Every verdict
// here is produced by real admission: each scenario installs its templates and
// constraints, runs the scan through HTTP, checks the verdicts and uninstalls them.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { join } from 'node:path';
import { scanApp } from '../../lib/scan/scaffold.ts';
import type { KubeObject } from '../../lib/kube/raw.ts';
import { opaScan } from '../../functions/opa-scan/scan.ts';
import { startControlPlane } from '../../harness/cluster/index.ts';
import { testCluster } from '../support/cluster.ts';
import { installPolicies, yamlDocs } from '../../harness/cluster/gatekeeper.ts';
import { adminKube, apply, namespace, remove, waitFor } from '../support/k8s.ts';
import { assertReportValid } from '../support/report-schema.ts';

const LIB = join(import.meta.dirname, '../fixtures/gatekeeper/library');
const STACK = join(import.meta.dirname, '../fixtures/topology/opa-stack.yaml');
const s = suite('opa scan: real Gatekeeper');

const settings = (kubeconfig: string) => ({ topology: { metadata: { path: STACK, setting: 'STACK_METADATA' } }, kubeconfig, concurrency: 8 });
async function scan(mode: 'light' | 'full', kubeconfig = testCluster().kubeconfigPath) {
  const res = await scanApp(opaScan(settings(kubeconfig))).request(`/opa_scan?mode=${mode}`);
  assert.is(res.status, 200);
  const body = await res.json();
  assertReportValid(body, mode);
  return body;
}

/** A template with our own Rego under a kind the generators know. */
function template(kind: string, rego: string): KubeObject {
  return {
    apiVersion: 'templates.gatekeeper.sh/v1',
    kind: 'ConstraintTemplate',
    metadata: { name: kind.toLowerCase() },
    spec: {
      crd: { spec: { names: { kind }, validation: { openAPIV3Schema: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true } } } },
      targets: [{ target: 'admission.k8s.gatekeeper.sh', rego }],
    },
  } as KubeObject;
}
const constraint = (kind: string, name: string, spec: Record<string, unknown> = {}): KubeObject =>
  ({
    apiVersion: 'constraints.gatekeeper.sh/v1beta1',
    kind,
    metadata: { name },
    spec: {
      match: { kinds: [{ apiGroups: [''], kinds: ['Pod'] }], namespaceSelector: { matchExpressions: [{ key: 'stacktic.io/namespace', operator: 'Exists' }] } },
      ...spec,
    },
  }) as KubeObject;

const NEVER = 'package never\nviolation[{"msg": msg}] {\n  false\n  msg := "never"\n}\n';
const ALWAYS = 'package always\nviolation[{"msg": msg}] {\n  msg := "this template denies everything"\n}\n';

async function withPolicies(templates: KubeObject[], constraints: KubeObject[], fn: () => Promise<void>) {
  const kube = adminKube();
  try {
    await installPolicies(kube, templates, constraints);
    await fn();
  } finally {
    for (const c of constraints) await remove(kube, c);
    for (const t of templates) await remove(kube, t);
    // The constraint kinds disappear with their templates; wait so the next scenario starts clean.
    await waitFor('templates removed', async () => {
      const res = await scan('light');
      return templates.every((t) => !res.results.templates.names.includes(t.metadata.name));
    });
  }
}

const finding = (body: any, name: string) => body.findings.find((f: any) => f.constraint === name);

s.before(async () => {
  const kube = adminKube();
  for (const ns of ['opa-it-shop', 'opa-it-db']) await apply(kube, namespace(ns, { 'stacktic.io/namespace': ns }));
});

s('ENFORCING: the library K8sRequiredLabels with its sample constraint', async () => {
  const t = yamlDocs(join(LIB, 'general/requiredlabels/template.yaml'));
  const c = yamlDocs(join(LIB, 'general/requiredlabels/samples/verify-label-key-only/constraint.yaml'));
  await withPolicies(t, c, async () => {
    const body = await scan('full');
    const f = finding(body, 'must-have-pizza');
    assert.is(f.verdict, 'ENFORCING', JSON.stringify(f));
    assert.is(f.valid.admitted, true);
    assert.equal(f.invalid.denied_by, ['must-have-pizza'], JSON.stringify(f.invalid));
    assert.ok(['opa-it-shop', 'opa-it-db'].includes(f.namespace), 'tested in a stack namespace first');
    assert.is(body.summary.enforcement_score, 100);
  });
});

s('NOT_ENFORCING, OVER_ENFORCING and a cross-policy conflict', async () => {
  const t = [template('K8sRequiredLabels', NEVER), template('K8sRequiredProbes', ALWAYS)];
  const c = [
    constraint('K8sRequiredLabels', 'labels-never-denies', { parameters: { labels: [{ key: 'team' }] } }),
    constraint('K8sRequiredProbes', 'probes-deny-all', { parameters: { probes: ['readinessProbe'], probeTypes: ['tcpSocket', 'httpGet', 'exec'] } }),
  ];
  await withPolicies(t, c, async () => {
    const body = await scan('full');
    const never = finding(body, 'labels-never-denies');
    const all = finding(body, 'probes-deny-all');
    assert.is(all.verdict, 'OVER_ENFORCING', JSON.stringify(all));
    // The deny-all constraint also denies the other's valid resource: a conflict, not over-enforcement of labels-never-denies.
    assert.is(never.verdict, 'NOT_ENFORCING', JSON.stringify(never));
    assert.equal(
      never.conflicts.map((x: any) => x.with),
      ['probes-deny-all'],
    );
    assert.ok(body.results.conflicts.some((x: any) => x.constraint === 'labels-never-denies' && x.with === 'probes-deny-all'));
  });
});

s('AUDIT_ONLY for a dryrun action and for a rule that needs cluster state; UNTESTED for an unknown kind', async () => {
  const ROOT_DIR = join(import.meta.dirname, '../..');
  const t = [
    ...yamlDocs(join(LIB, 'general/requiredlabels/template.yaml')),
    template('K8sTotallyUnknownKind', NEVER),
    ...yamlDocs(join(ROOT_DIR, 'functions/opa-scan/stacktic/templates/requirenetworkpolicy.yaml')),
  ];
  const c = [
    constraint('K8sRequiredLabels', 'labels-dryrun', { enforcementAction: 'dryrun', parameters: { labels: [{ key: 'team' }] } }),
    constraint('K8sTotallyUnknownKind', 'unknown-kind'),
    ...yamlDocs(join(ROOT_DIR, 'demo/gatekeeper/constraints/requirenetworkpolicy.yaml')),
  ];
  await withPolicies(t, c, async () => {
    const body = await scan('full');
    const dry = finding(body, 'labels-dryrun');
    assert.is(dry.verdict, 'AUDIT_ONLY');
    assert.match(dry.reason, /dryrun/);
    const unknown = finding(body, 'unknown-kind');
    assert.is(unknown.verdict, 'UNTESTED');
    assert.match(unknown.reason, /no resource generator knows template kind K8sTotallyUnknownKind/);
    const netpol = finding(body, 'stack-require-netpol');
    assert.is(netpol.verdict, 'AUDIT_ONLY');
    assert.match(netpol.reason, /NetworkPolic/);
    assert.not.match(netpol.reason, /dryrun/);
  });
});

s('light mode shows real audit violations written by Gatekeeper', async () => {
  const kube = adminKube();
  // A pod that exists before the constraint: admission never saw it, audit will.
  const pod = {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'no-team-label', namespace: 'opa-it-shop' },
    spec: { containers: [{ name: 'c', image: 'registry.k8s.io/pause:3.10' }] },
  } as KubeObject;
  await apply(kube, pod);
  const t = yamlDocs(join(LIB, 'general/requiredlabels/template.yaml'));
  const c = [constraint('K8sRequiredLabels', 'pods-need-team', { parameters: { labels: [{ key: 'team' }] } })];
  try {
    await withPolicies(t, c, async () => {
      const body = await waitFor(
        'an audit result with violations',
        async () => {
          const b = await scan('light');
          const cons = b.results.constraints.find((x: any) => x.name === 'pods-need-team');
          return cons?.totalViolations > 0 ? b : undefined;
        },
        90_000,
        1000,
      );
      const cons = body.results.constraints.find((x: any) => x.name === 'pods-need-team');
      assert.ok(cons.auditTimestamp, 'audit timestamp');
      assert.is(cons.enforced, true);
      const vs = body.results.violations.by_namespace['opa-it-shop'].filter((x: any) => x.name === 'no-team-label');
      assert.ok(vs.length > 0 && vs.every((v: any) => v.constraint === 'pods-need-team'));
      assert.ok(
        vs.some((v: any) => /team/.test(v.message)),
        JSON.stringify(vs),
      );
      assert.ok(body.results.violations.by_constraint['pods-need-team'].total >= 1);
      assert.ok(body.score < 100);
      assert.equal(body.results.namespace_coverage.find((x: any) => x.namespace === 'opa-it-shop').constraints, ['pods-need-team']);
      // The test control plane runs Gatekeeper as a local process (URL webhook, no pods): health is
      // not provable, and the scan says so instead of calling it healthy.
      assert.is(body.summary.healthy, null, JSON.stringify(body.results.health));
      assert.match(body.summary.health_unverified.join('\n'), /no ready Gatekeeper controller \(webhook\) pod was seen/);
      assert.equal(body.results.health.problems, []);
    });
  } finally {
    await remove(kube, pod);
  }
});

s('Gatekeeper not installed: a finding with score 0, not a crash', async () => {
  const bare = await startControlPlane({ gatekeeper: false });
  try {
    const body = await scan('light', bare.kubeconfigPath);
    assert.is(body.score, 0);
    assert.is(body.summary.installed, false);
    assert.match(body.summary.finding, /Gatekeeper is not installed/);
    const full = await scan('full', bare.kubeconfigPath);
    assert.equal([full.score, full.findings], [0, []]);
  } finally {
    await bare.stop();
  }
});

s.run();
