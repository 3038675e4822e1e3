// Pure parts of the OPA scan added for replay, hostile names, denied reads and health:
// plan (which method, or why none), replayCopy / pickCompliant, the verdicts with replay
// evidence, the light judge on Inventories with prototype-key names and refused reads,
// and the settings parsed up front.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { ScanError } from '../../lib/errors.ts';
import type { KubeObject } from '../../lib/k8s/types.ts';
import type { ApiResource } from '../../functions/opa-scan/gatekeeper-api.ts';
import type { ConstraintInfo, Inventory } from '../../functions/opa-scan/inventory.ts';
import type { Executed } from '../../functions/opa-scan/execute.ts';
import { countMethods, enforcementScore, judgeFull } from '../../functions/opa-scan/judge.ts';
import { judgeHealth, judgeLight } from '../../functions/opa-scan/light.ts';
import { planFull } from '../../functions/opa-scan/plan.ts';
import { lastChange, pickCompliant, replayCopy } from '../../functions/opa-scan/replay.ts';
import { opaSettingsFromEnv } from '../../functions/opa-scan/settings.ts';

const PROTO_KEYS = ['constructor', '__proto__', 'toString', 'hasOwnProperty', 'valueOf'];
const AUDIT = '2026-01-01T10:00:00Z';

function constraint(over: Partial<ConstraintInfo> = {}): ConstraintInfo {
  return {
    name: 'c1',
    kind: 'K8sCustomThing',
    enforcementAction: 'deny',
    match: { kinds: [{ apiGroups: [''], kinds: ['Pod'] }] },
    parameters: {},
    enforced: [true],
    totalViolations: 0,
    auditTimestamp: AUDIT,
    violations: [],
    ...over,
  };
}
const violation = (name: string, namespace = 'shop', kind = 'Pod') => ({ group: '', version: 'v1', kind, name, namespace, message: `${name} violates` });
const namespaces = [
  { name: 'shop', labels: {} },
  { name: 'kube-system', labels: {} },
];
const plan = (c: ConstraintInfo, extra: Record<string, unknown> = {}) =>
  planFull({ constraints: [c], namespaces, stackNamespaces: ['shop'], runId: 'abc123', ...extra })[0];

const p = suite('opa replay: plan');

p('no generator: replay when the audit listed violations, UNTESTED with the precise reason otherwise', () => {
  const r = plan(constraint({ totalViolations: 1, violations: [violation('bad')] }));
  assert.is(r.method, 'replay');
  assert.is(r.replay!.violations[0].name, 'bad');
  assert.is(r.replay!.complete, true);
  const none = plan(constraint());
  assert.is(none.skip?.verdict, 'UNTESTED');
  assert.match(none.skip!.reason, /no resource generator knows template kind K8sCustomThing, and there is no audited violation to replay/);
  const never = plan(constraint({ auditTimestamp: null, totalViolations: null }));
  assert.match(never.skip!.reason, /the audit has not judged it yet/);
  const off = plan(constraint({ totalViolations: 1, violations: [violation('bad')] }), { replay: false });
  assert.match(off.skip!.reason, /replay of audited objects is off \(OPA_SCAN_REPLAY=off\)/);
});

p('violations only where the webhook does not look are not replayed; a truncated audit list is marked incomplete', () => {
  const hidden = plan(constraint({ totalViolations: 1, violations: [violation('sys', 'kube-system')] }));
  assert.is(hidden.skip?.verdict, 'UNTESTED');
  assert.match(hidden.skip!.reason, /namespaces Gatekeeper's webhook does not see \(kube-system\)/);
  const truncated = plan(constraint({ totalViolations: 40, violations: [violation('a'), violation('b')] }));
  assert.is(truncated.replay!.complete, false);
  const dry = plan(constraint({ enforcementAction: 'dryrun' }));
  assert.is(dry.skip?.verdict, 'AUDIT_ONLY');
  assert.is(plan(constraint({ enforcementAction: 'dryrun', totalViolations: 1, violations: [violation('x')] })).method, 'replay');
});

p('generators stay first; a generator that cannot build a test falls back to replay when violations exist', () => {
  const labels = constraint({ kind: 'K8sRequiredLabels', parameters: { labels: [{ key: 'team' }] } });
  assert.is(plan(labels).method, 'generator');
  const empty = constraint({ kind: 'K8sRequiredLabels', parameters: { labels: [] }, totalViolations: 1, violations: [violation('old')] });
  const r = plan(empty);
  assert.is(r.method, 'replay');
  assert.match(r.replay!.generatorSkipped!, /the generator for K8sRequiredLabels cannot test it/);
});

const r = suite('opa replay: copies and compliant objects');

const pod = (name: string, labels: Record<string, string> = {}, changed = '2026-01-01T09:00:00Z'): KubeObject => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: {
    name,
    namespace: 'shop',
    labels,
    uid: 'u',
    resourceVersion: '7',
    creationTimestamp: '2026-01-01T08:00:00Z',
    managedFields: [{ manager: 'kubectl', time: changed }],
    ownerReferences: [{ kind: 'ReplicaSet' }],
    generateName: 'web-',
  },
  spec: { containers: [{ name: 'c', image: 'x' }], ephemeralContainers: [{ name: 'debug' }] },
  status: { phase: 'Running' },
});

r('replayCopy strips what the server set and what it allocated, under a fresh name', () => {
  const c = replayCopy(pod('web-1'), 'stack-scan-abc-1-x');
  assert.equal(Object.keys(c.metadata).sort(), ['labels', 'name', 'namespace']);
  assert.is(c.metadata.name, 'stack-scan-abc-1-x');
  assert.is(c.status, undefined);
  assert.is(c.spec.ephemeralContainers, undefined);
  const svc = replayCopy(
    {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 's' },
      spec: { clusterIP: '10.0.0.5', clusterIPs: ['10.0.0.5'], ports: [{ port: 80, nodePort: 30080 }] },
    },
    'n',
  );
  assert.equal(svc.spec, { ports: [{ port: 80 }] });
  const job = replayCopy(
    {
      apiVersion: 'batch/v1',
      kind: 'Job',
      metadata: { name: 'j' },
      spec: { selector: { matchLabels: { 'controller-uid': 'x' } }, template: { metadata: { labels: { 'controller-uid': 'x', 'job-name': 'j', app: 'a' } } } },
    },
    'n',
  );
  assert.equal(job.spec, { template: { metadata: { labels: { app: 'a' } } } });
});

r('pickCompliant: matched, not a listed violation, unchanged since the audit, not ours', () => {
  const api: ApiResource = { group: '', version: 'v1', kind: 'Pod', plural: 'pods', namespaced: true };
  const c = constraint({
    match: { kinds: [{ apiGroups: [''], kinds: ['Pod'] }], labelSelector: { matchLabels: { tier: 'web' } } },
    violations: [violation('bad')],
    totalViolations: 1,
  });
  const items = [
    pod('bad', { tier: 'web' }),
    pod('other-tier', { tier: 'db' }),
    pod('late', { tier: 'web' }, '2026-01-01T11:00:00Z'),
    pod('ours', { tier: 'web', 'app.kubernetes.io/managed-by': 'stack-scan' }),
    pod('good', { tier: 'web' }),
  ];
  assert.is(pickCompliant(c, items, api, { name: 'shop', labels: {} }, AUDIT)?.metadata.name, 'good');
  assert.is(pickCompliant(c, items.slice(0, 4), api, { name: 'shop', labels: {} }, AUDIT), undefined);
  assert.is(lastChange(pod('x', {}, '2026-01-01T09:30:00Z')), Date.parse('2026-01-01T09:30:00Z'));
});

const j = suite('opa replay: verdicts');

const adm = (admitted: boolean, deniedBy: string[] = [], warnings: string[] = []) => ({
  admitted,
  status: admitted ? 201 : 403,
  denials: deniedBy.map((c) => ({ constraint: c, message: `${c} says no`, via: 'webhook' as const })),
  warnings: warnings.map((c) => ({ constraint: c, message: 'w' })),
});
const ref = (name: string) => ({ kind: 'Pod', namespace: 'shop', name });
function replayed(name: string, invalid: ReturnType<typeof adm>, valid?: ReturnType<typeof adm>, action = 'deny'): Executed {
  return {
    plan: {
      constraint: name,
      kind: 'K8sCustomThing',
      enforcementAction: action,
      method: 'replay',
      resourceKind: 'Pod',
      namespace: 'shop',
      invalid: {} as never,
      ...(valid ? { valid: {} as never } : {}),
      sources: { invalid: ref('bad'), ...(valid ? { valid: ref('good') } : { validUntested: 'no compliant Pod' }) },
    },
    invalid,
    ...(valid ? { valid } : {}),
  };
}

j('replay evidence: the verdict table, the objects named, the method counted', () => {
  const { findings } = judgeFull([
    replayed('enf', adm(false, ['enf']), adm(true)),
    replayed('enf-alone', adm(false, ['enf-alone'])),
    replayed('not', adm(true), adm(true)),
    replayed('over', adm(false, ['over']), adm(false, ['over'])),
    replayed('dry', adm(true), undefined, 'dryrun'),
    { plan: { constraint: 'u', kind: 'K', enforcementAction: 'deny', skip: { verdict: 'UNTESTED', reason: 'no generator' } } },
  ]);
  assert.equal(
    findings.map((f) => f.verdict),
    ['ENFORCING', 'ENFORCING', 'NOT_ENFORCING', 'OVER_ENFORCING', 'AUDIT_ONLY', 'UNTESTED'],
  );
  assert.equal(findings[0].evidence, { method: 'replay', invalid_object: ref('bad'), valid_object: ref('good') });
  assert.match(findings[0].reason, /the compliant Pod shop\/good \(replayed\) was admitted and the audited Pod shop\/bad \(replayed\) denied/);
  assert.is(findings[1].evidence!.valid_untested, 'no compliant Pod');
  assert.match(findings[1].reason, /valid side was not tested: no compliant Pod/);
  assert.match(findings[2].reason, /although the audit reports it as a violation/);
  assert.match(findings[4].reason, /dryrun.*admitted/);
  assert.equal(countMethods(findings), { generator: 0, replay: 5, action: 0, undecided: 1 });
  assert.is(enforcementScore(findings), 50);
});

const l = suite('opa light: hostile names, refused reads, health');

function inventory(over: Partial<Inventory> = {}): Inventory {
  return {
    namespace: 'gatekeeper-system',
    installed: true,
    signals: {
      crds: true,
      webhooks: [
        {
          configuration: 'gk',
          name: 'validation.gatekeeper.sh',
          failurePolicy: 'Fail',
          target: 'service gatekeeper-system/gatekeeper-webhook-service',
          service: { namespace: 'gatekeeper-system', name: 'gatekeeper-webhook-service' },
          namespace: 'gatekeeper-system',
        },
      ],
      deployments: [],
      pods: [],
      services: [{ namespace: 'gatekeeper-system', name: 'gatekeeper-webhook-service', found: true }],
    },
    templates: [{ name: 't', kind: 'K', created: true, errors: [] }],
    constraints: [],
    namespaces: [],
    incomplete: [],
    errors: [],
    ...over,
  };
}

l('namespaces, constraint names and kinds that are Object prototype keys', () => {
  const constraints = PROTO_KEYS.map((k) =>
    constraint({ name: k, kind: k, totalViolations: 1, violations: [{ kind: 'Pod', name: k, namespace: k, message: `${k} bad` }] }),
  );
  const inv = inventory({ constraints, namespaces: PROTO_KEYS.map((name) => ({ name, labels: {} })) });
  const rep = judgeLight(inv, PROTO_KEYS);
  const v = JSON.parse(JSON.stringify(rep.results.violations));
  for (const k of PROTO_KEYS) {
    assert.is(v.by_namespace[k].length, 1, k);
    assert.is(v.by_namespace[k][0].constraint, k);
    assert.is(v.by_constraint[k].total, 1);
  }
  assert.is(rep.score, 0);
  const plans = planFull({ constraints, namespaces: inv.namespaces, stackNamespaces: PROTO_KEYS, runId: 'r' });
  assert.ok(
    plans.every((x) => x.method === 'replay'),
    JSON.stringify(plans.map((x) => x.skip)),
  );
});

l('refused reads: never "not installed"; a partial constraint list gives no score', () => {
  const denied = inventory({
    installed: null,
    namespace: null,
    signals: { crds: null, webhooks: [], deployments: [], pods: [], services: [] },
    templates: [],
    incomplete: ['presence', 'templates', 'constraints', 'webhooks'],
  });
  const rep = judgeLight(denied, []);
  assert.is(rep.score, null);
  assert.is(rep.summary.installed, null);
  assert.match(String(rep.summary.undecided), /could not decide whether Gatekeeper is installed/);
  assert.not.match(JSON.stringify(rep), /not installed/);
  const partial = judgeLight(inventory({ incomplete: ['constraints'] }), []);
  assert.is(partial.score, null);
  assert.match(String(partial.summary.undecided), /could not all be listed/);
});

l('health: true only when webhook, Service, a ready webhook pod and a ready audit pod were seen', () => {
  const podOf = (name: string, role: 'webhook' | 'audit', ready = true) => ({ name, namespace: 'gatekeeper-system', ready, phase: 'Running', role });
  assert.equal(judgeHealth(inventory({ signals: { ...inventory().signals, pods: [podOf('w', 'webhook'), podOf('a', 'audit')] } })).healthy, true);
  const unseen = judgeHealth(inventory());
  assert.is(unseen.healthy, null);
  assert.match(unseen.unverified.join('\n'), /no ready Gatekeeper controller \(webhook\) pod was seen/);
  assert.match(unseen.unverified.join('\n'), /no ready Gatekeeper audit pod was seen/);
  const down = judgeHealth(inventory({ signals: { ...inventory().signals, pods: [podOf('w', 'webhook', false), podOf('a', 'audit')] } }));
  assert.is(down.healthy, false);
  const noSvc = judgeHealth(
    inventory({
      signals: {
        ...inventory().signals,
        pods: [podOf('w', 'webhook'), podOf('a', 'audit')],
        services: [{ namespace: 'gatekeeper-system', name: 'gatekeeper-webhook-service', found: false }],
      },
    }),
  );
  assert.is(noSvc.healthy, false);
  assert.match(noSvc.problems.join('\n'), /Service gatekeeper-system\/gatekeeper-webhook-service does not exist/);
  const cannot = judgeHealth(inventory({ incomplete: ['workloads'] }));
  assert.is(cannot.healthy, null);
  assert.match(cannot.unverified.join('\n'), /could not be listed/);
});

const st = suite('opa settings');

st('every setting is parsed up front; a bad value is a 422 naming it', () => {
  const bad = (env: Record<string, string>, name: string) => {
    try {
      opaSettingsFromEnv(env);
      assert.unreachable(`${name} should be refused`);
    } catch (e) {
      assert.instance(e, ScanError);
      assert.is((e as ScanError).status, 422);
      assert.is((e as ScanError).info.setting, name);
    }
  };
  bad({ OPA_SCAN_REPLAY: 'maybe' }, 'OPA_SCAN_REPLAY');
  bad({ GATEKEEPER_NAMESPACE: '../etc' }, 'GATEKEEPER_NAMESPACE');
  bad({ OPA_SCAN_CONCURRENCY: '0' }, 'OPA_SCAN_CONCURRENCY');
  const ok = opaSettingsFromEnv({ OPA_SCAN_REPLAY: 'off', GATEKEEPER_NAMESPACE: 'policy' });
  assert.equal([ok.replay, ok.gatekeeperNamespace, ok.concurrency], [false, 'policy', 8]);
});

p.run();
r.run();
j.run();
l.run();
st.run();
