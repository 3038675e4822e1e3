// The OPA scan's replay, hostile names, restricted accounts, coalescing and sweeping,
// against the real kube-apiserver and Gatekeeper of the test control plane. The
// template kinds here are our own (no generator knows them), so every verdict comes
// from replaying objects Gatekeeper's own audit reported.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { join } from 'node:path';
import type { KubeObject } from '../../lib/k8s/types.ts';
import { rawRequest } from '../../lib/kube/raw.ts';
import { scanApp } from '../../lib/scan/scaffold.ts';
import { opaScan } from '../../functions/opa-scan/scan.ts';
import { installPolicies } from '../../harness/cluster/gatekeeper.ts';
import { testCluster } from '../support/cluster.ts';
import { adminKube, apply, namespace, remove, waitFor } from '../support/k8s.ts';
import { assertReportValid } from '../support/report-schema.ts';

const STACK = join(import.meta.dirname, '../fixtures/topology/opa-stack.yaml');
const NS = 'opa-rp-a';
const HOSTILE = 'constructor';
const EMPTY_NS = 'opa-rp-empty';
const s = suite('opa scan: replay from the cluster (real Gatekeeper)');

const settings = (kubeconfig: string) => ({ topology: { metadata: { path: STACK, setting: 'STACK_METADATA' } }, kubeconfig, concurrency: 8 });
async function scan(mode: 'light' | 'full', kubeconfig = testCluster().kubeconfigPath) {
  const res = await scanApp(opaScan(settings(kubeconfig))).request(`/opa_scan?mode=${mode}`);
  const body = await res.json();
  assert.is(res.status, 200, JSON.stringify(body));
  assertReportValid(body, mode);
  return body;
}
const finding = (body: any, name: string) => body.findings.find((f: any) => f.constraint === name);

/** A template of our own: pods must carry the label `team` (no generator knows this kind). */
const NEEDS_TEAM = 'K8sStackScanTestNeedsTeam';
/** A template that flags every pod whose name does not start with "stack-scan-" (so a fresh-named replay is admitted). */
const NAME_RULE = 'K8sStackScanTestNameRule';
function template(kind: string, rego: string): KubeObject {
  return {
    apiVersion: 'templates.gatekeeper.sh/v1',
    kind: 'ConstraintTemplate',
    metadata: { name: kind.toLowerCase() },
    spec: {
      crd: { spec: { names: { kind }, validation: { openAPIV3Schema: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true } } } },
      targets: [{ target: 'admission.k8s.gatekeeper.sh', rego }],
    },
  };
}
const TEMPLATES = [
  template(NEEDS_TEAM, 'package needsteam\nviolation[{"msg": msg}] {\n  not input.review.object.metadata.labels.team\n  msg := "pods need a team label"\n}\n'),
  template(
    NAME_RULE,
    'package namerule\nviolation[{"msg": msg}] {\n  not startswith(input.review.object.metadata.name, "stack-scan-")\n  msg := "name rule"\n}\n',
  ),
];
const constraint = (kind: string, name: string, namespaces: string[], action = 'deny'): KubeObject => ({
  apiVersion: 'constraints.gatekeeper.sh/v1beta1',
  kind,
  metadata: { name },
  spec: { enforcementAction: action, match: { kinds: [{ apiGroups: [''], kinds: ['Pod'] }], namespaces } },
});
const pod = (name: string, ns: string, labels: Record<string, string> = {}): KubeObject => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name, namespace: ns, labels },
  spec: { containers: [{ name: 'c', image: 'registry.k8s.io/pause:3.10' }] },
});

const PODS = [pod('no-team', NS), pod('has-team', NS, { team: 'a' }), pod('no-team', HOSTILE)];
const CONSTRAINTS = [
  constraint(NEEDS_TEAM, 'rp-needs-team', [NS, HOSTILE]),
  constraint(NAME_RULE, 'rp-name-rule', [NS]),
  constraint(NEEDS_TEAM, 'rp-nothing-to-replay', [EMPTY_NS]),
];

async function auditListed(name: string, kind: string, min: number) {
  const kube = adminKube();
  return waitFor(
    `the audit to list ${min}+ violation(s) of ${name}`,
    async () => {
      const r = await rawRequest(
        kube,
        { verb: 'get', resource: kind },
        { method: 'GET', path: `/apis/constraints.gatekeeper.sh/v1beta1/${kind.toLowerCase()}/${name}` },
      );
      const st = (r.body as any)?.status;
      return st?.auditTimestamp && (st.violations ?? []).length >= min ? st : undefined;
    },
    90_000,
    1000,
  );
}

s.before(async () => {
  const kube = adminKube();
  // Not labelled stacktic.io/namespace: the demo constraints of other suites (removed asynchronously) never match here.
  for (const ns of [NS, HOSTILE, EMPTY_NS]) await apply(kube, namespace(ns));
  // The pods exist before the constraints: admission never saw them, the audit will. (Retried: a
  // constraint another suite just deleted can still be enforced for a moment.)
  for (const p of PODS) await waitFor(`pod ${p.metadata.namespace}/${p.metadata.name} created`, async () => (await apply(kube, p), true), 60_000, 1000);
  await installPolicies(kube, TEMPLATES, CONSTRAINTS);
  await Promise.all([auditListed('rp-needs-team', NEEDS_TEAM, 2), auditListed('rp-name-rule', NAME_RULE, 2)]);
  await waitFor(
    'an audit of rp-nothing-to-replay',
    async () => {
      const r = await rawRequest(
        kube,
        { verb: 'get', resource: NEEDS_TEAM },
        { method: 'GET', path: `/apis/constraints.gatekeeper.sh/v1beta1/${NEEDS_TEAM.toLowerCase()}/rp-nothing-to-replay` },
      );
      return (r.body as any)?.status?.auditTimestamp ? true : undefined;
    },
    90_000,
    1000,
  );
});

s.after(async () => {
  const kube = adminKube();
  const quiet = (p: Promise<unknown>) => p.catch(() => undefined);
  for (const c of CONSTRAINTS) await quiet(remove(kube, c));
  for (const t of TEMPLATES) await quiet(remove(kube, t));
  for (const p of PODS) await quiet(remove(kube, p));
  await quiet(
    waitFor('our templates removed', async () => {
      const b = await scan('light');
      return TEMPLATES.every((t) => !b.results.templates.names.includes(t.metadata.name));
    }),
  );
});

s('a kind with no generator and an audited violation: ENFORCING by replay, with the objects named', async () => {
  const body = await scan('full');
  const f = finding(body, 'rp-needs-team');
  assert.is(f.verdict, 'ENFORCING', JSON.stringify(f));
  assert.is(f.evidence.method, 'replay');
  assert.ok([NS, HOSTILE].includes(f.evidence.invalid_object.namespace) && f.evidence.invalid_object.name === 'no-team', JSON.stringify(f.evidence));
  assert.equal(f.evidence.valid_object, { kind: 'Pod', namespace: NS, name: 'has-team' });
  assert.equal(f.invalid.denied_by, ['rp-needs-team']);
  assert.is(f.valid.admitted, true);
  assert.ok(body.summary.decided_by.replay >= 2, JSON.stringify(body.summary.decided_by));
});

s('the audited object is admitted on replay (the rule exempts the fresh name): NOT_ENFORCING', async () => {
  const f = finding(await scan('full'), 'rp-name-rule');
  assert.is(f.verdict, 'NOT_ENFORCING', JSON.stringify(f));
  assert.is(f.evidence.method, 'replay');
  // (the copy may still be denied by rp-needs-team, when it is the pod without a team label)
  assert.not.ok(f.invalid.denied_by.includes('rp-name-rule'), JSON.stringify(f.invalid));
  assert.match(f.reason, /although the audit reports it as a violation/);
});

s('no violation and no generator: UNTESTED with the reason', async () => {
  const f = finding(await scan('full'), 'rp-nothing-to-replay');
  assert.is(f.verdict, 'UNTESTED');
  assert.match(
    f.reason,
    new RegExp(`no resource generator knows template kind ${NEEDS_TEAM}, and there is no audited violation to replay: the audit of .* reported 0 violation`),
  );
});

s('the namespace `constructor` with an audit violation: both modes answer, the violation is listed under it', async () => {
  const light = await scan('light');
  const vs = light.results.violations.by_namespace[HOSTILE];
  assert.ok(Array.isArray(vs) && vs.some((v: any) => v.constraint === 'rp-needs-team' && v.name === 'no-team'), JSON.stringify(light.results.violations));
  const full = await scan('full');
  assert.ok(Array.isArray(full.results.violations.by_namespace[HOSTILE]));
});

s('the same constraint in dryrun: AUDIT_ONLY, the replayed object admitted', async () => {
  const kube = adminKube();
  const dry = constraint(NEEDS_TEAM, 'rp-needs-team', [NS, HOSTILE], 'dryrun');
  await apply(kube, dry);
  try {
    const f = await waitFor('the scan to see the dryrun action', async () => {
      const x = finding(await scan('full'), 'rp-needs-team');
      return x?.enforcementAction === 'dryrun' ? x : undefined;
    });
    assert.is(f.verdict, 'AUDIT_ONLY', JSON.stringify(f));
    assert.is(f.evidence.method, 'replay');
    assert.is(f.invalid.admitted, true);
    assert.match(f.reason, /dryrun.*admitted/);
  } finally {
    await apply(kube, CONSTRAINTS[0]);
  }
});

s('20 concurrent identical full scans run once', async () => {
  const app = scanApp(opaScan(settings(testCluster().kubeconfigPath)));
  const answers = await Promise.all(Array.from({ length: 20 }, () => app.request('/opa_scan?mode=full')));
  const bodies = await Promise.all(answers.map((r) => r.json()));
  assertReportValid(bodies[0], 'coalesced full');
  assert.ok(answers.every((r) => r.status === 200));
  assert.equal(app.scanStats, { runs: 1, coalesced: 19 });
  assert.is(new Set(bodies.map((b) => b.started_at)).size, 1, 'one report shared by all');
});

s('an expired scratch object of an earlier (killed) run is swept and counted', async () => {
  const kube = adminKube();
  const past = new Date(Date.now() - 60_000).toISOString();
  const sa: KubeObject = {
    apiVersion: 'v1',
    kind: 'ServiceAccount',
    metadata: {
      name: 'stack-scan-leftover',
      namespace: NS,
      labels: { 'app.kubernetes.io/managed-by': 'stack-scan', 'stack-scan.io/purpose': 'opa-dry-run', 'stack-scan.io/run': 'dead00' },
      annotations: { 'stack-scan.io/expires': past },
    },
  };
  await apply(kube, sa);
  const body = await scan('full');
  assert.ok(body.summary.orphans_swept >= 1, JSON.stringify(body.summary));
  const r = await rawRequest(
    kube,
    { verb: 'get', resource: 'serviceaccounts' },
    { method: 'GET', path: `/api/v1/namespaces/${NS}/serviceaccounts/stack-scan-leftover` },
  );
  assert.is(r.status, 404);
  const left = await rawRequest(
    kube,
    { verb: 'list', resource: 'serviceaccounts' },
    { method: 'GET', path: `/api/v1/namespaces/${NS}/serviceaccounts`, query: { labelSelector: 'app.kubernetes.io/managed-by=stack-scan' } },
  );
  assert.equal(
    (left.body as any).items.map((x: any) => x.metadata.name),
    [],
    'nothing of ours is left after a run',
  );
});

// ---------------------------------------------------------------------------
// restricted accounts

async function grant(user: string, rules: unknown[]) {
  const kube = adminKube();
  await apply(kube, { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRole', metadata: { name: `opa-it-${user}` }, rules } as KubeObject);
  await apply(kube, {
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'ClusterRoleBinding',
    metadata: { name: `opa-it-${user}` },
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: `opa-it-${user}` },
    subjects: [{ kind: 'User', name: user, apiGroup: 'rbac.authorization.k8s.io' }],
  } as KubeObject);
  return testCluster().userKubeconfig(user);
}

s('an account that may not read Gatekeeper: score null, the permission named, never "not installed"', async () => {
  const kc = await grant('opa-nobody', [{ apiGroups: [''], resources: ['namespaces'], verbs: ['list'] }]);
  for (const mode of ['light', 'full'] as const) {
    const body = await scan(mode, kc);
    assert.is(body.score, null, mode);
    assert.is(body.summary.installed, null, mode);
    assert.not.match(JSON.stringify(body), /not installed/);
    const msgs = body.errors.map((e: any) => e.message).join('\n');
    assert.match(msgs, /grant verb 'list' on 'constrainttemplates\.templates\.gatekeeper\.sh'/);
    assert.match(msgs, /grant verb 'list' on 'validatingwebhookconfigurations\.admissionregistration\.k8s\.io'/);
    assert.ok(
      body.errors.every((e: any) => e.code === 'forbidden'),
      JSON.stringify(body.errors),
    );
  }
});

s('an account that may read Gatekeeper but not the constraints of one kind: no score over a partial list', async () => {
  const kc = await grant('opa-partial', [
    { apiGroups: [''], resources: ['namespaces', 'pods', 'services'], verbs: ['get', 'list'] },
    { apiGroups: ['apps'], resources: ['deployments'], verbs: ['list'] },
    { apiGroups: ['apiextensions.k8s.io'], resources: ['customresourcedefinitions'], verbs: ['get'] },
    { apiGroups: ['admissionregistration.k8s.io'], resources: ['validatingwebhookconfigurations'], verbs: ['list'] },
    { apiGroups: ['templates.gatekeeper.sh'], resources: ['constrainttemplates'], verbs: ['list'] },
    { apiGroups: ['constraints.gatekeeper.sh'], resources: [NAME_RULE.toLowerCase()], verbs: ['list'] },
  ]);
  const body = await scan('light', kc);
  assert.is(body.summary.installed, true);
  assert.is(body.score, null);
  assert.match(body.summary.undecided, /could not all be listed/);
  assert.match(
    body.errors.map((e: any) => e.message).join('\n'),
    new RegExp(`grant verb 'list' on '${NEEDS_TEAM.toLowerCase()}\\.constraints\\.gatekeeper\\.sh'`),
  );
});

s('an account that may read the constraints but not the audited pods: replay says which permission it lacks', async () => {
  const kc = await grant('opa-nopods', [
    { apiGroups: [''], resources: ['namespaces'], verbs: ['list'] },
    { apiGroups: ['apiextensions.k8s.io'], resources: ['customresourcedefinitions'], verbs: ['get'] },
    { apiGroups: ['admissionregistration.k8s.io'], resources: ['validatingwebhookconfigurations'], verbs: ['list'] },
    { apiGroups: ['templates.gatekeeper.sh'], resources: ['constrainttemplates'], verbs: ['list'] },
    { apiGroups: ['constraints.gatekeeper.sh'], resources: ['*'], verbs: ['list'] },
  ]);
  const body = await scan('full', kc);
  const f = finding(body, 'rp-needs-team');
  assert.is(f.verdict, 'UNTESTED', JSON.stringify(f));
  assert.match(f.reason, /grant verb 'get' on 'pods'/);
});

s.run();
