import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { parseDenials, readAdmission } from '../../lib/kube/admission.ts';
import { constraintMatches, matchesNamespace, namespaceGlob } from '../../functions/opa-scan/match.ts';
import { judgeFull, enforcementScore } from '../../functions/opa-scan/judge.ts';
import type { Executed } from '../../functions/opa-scan/execute.ts';
import { parseWarningHeaders } from '../../lib/kube/raw.ts';

const d = suite('opa: denial parsing');

d('webhook denials, several joined by newlines, attributed to constraints', () => {
  const msg =
    'admission webhook "validation.gatekeeper.sh" denied the request: [must-have-probes] Container <c> in your <Pod> <p> has no ' +
    ('<livenessProbe>\n[psp-privileged] Privileged container is not allowed: c, securityContext: {"privileged": true}\n[pod-limits] container <c> has ' +
      'no resource limits');
  const out = parseDenials(msg);
  assert.equal(
    out.map((x) => x.constraint),
    ['must-have-probes', 'psp-privileged', 'pod-limits'],
  );
  assert.is(out[1].message, 'Privileged container is not allowed: c, securityContext: {"privileged": true}');
  assert.ok(out.every((x) => x.via === 'webhook'));
});

d('a multi-line message stays with its constraint', () => {
  const out = parseDenials('admission webhook "validation.gatekeeper.sh" denied the request: [a] first line\nsecond line\n[b] other');
  assert.equal(out, [
    { constraint: 'a', message: 'first line\nsecond line', via: 'webhook' },
    { constraint: 'b', message: 'other', via: 'webhook' },
  ]);
});

d('native ValidatingAdmissionPolicy denials map the binding to the constraint', () => {
  const msg =
    "ValidatingAdmissionPolicy 'gatekeeper-k8srequiredlabels' with binding 'gatekeeper-ns-must-have-owner' denied request: you must provide labels: " +
    '{"owner"}';
  assert.equal(parseDenials(msg), [
    {
      policy: 'gatekeeper-k8srequiredlabels',
      binding: 'gatekeeper-ns-must-have-owner',
      constraint: 'ns-must-have-owner',
      message: 'you must provide labels: {"owner"}',
      via: 'vap',
    },
  ]);
});

d('admission outcome: admitted, denied, or an error that is no decision', () => {
  assert.equal(readAdmission(201, {}, ['[w1] careful']).warnings, [{ constraint: 'w1', message: 'careful' }]);
  const denied = readAdmission(403, { message: 'admission webhook "validation.gatekeeper.sh" denied the request: [c1] no' }, []);
  assert.equal([denied.admitted, denied.error, denied.denials[0].constraint], [false, undefined, 'c1']);
  const nsMissing = readAdmission(404, { message: 'namespaces "x" not found' }, []);
  assert.match(nsMissing.error!, /404: namespaces "x" not found/);
});

d('warning headers: quoted texts with escapes, several per header', () => {
  assert.equal(parseWarningHeaders(['299 - "[c1] image \\"x:latest\\" uses latest"', '299 - "a", 299 - "b"']), ['[c1] image "x:latest" uses latest', 'a', 'b']);
});

const m = suite('opa: match semantics');

m('namespace globs, exclusions and selectors', () => {
  assert.ok(namespaceGlob('kube-*', 'kube-public'));
  assert.ok(namespaceGlob('*-system', 'gatekeeper-system'));
  assert.not.ok(namespaceGlob('kube-*', 'default'));
  const ns = { name: 'flowise', labels: { 'stacktic.io/namespace': 'flowise' } };
  assert.ok(matchesNamespace({}, ns));
  assert.not.ok(matchesNamespace({ excludedNamespaces: ['flow*'] }, ns));
  assert.ok(matchesNamespace({ namespaceSelector: { matchExpressions: [{ key: 'stacktic.io/namespace', operator: 'Exists' }] } }, ns));
  assert.not.ok(matchesNamespace({ namespaceSelector: { matchLabels: { env: 'prod' } } }, ns));
  assert.ok(matchesNamespace({ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'flowise' } } }, ns));
  assert.not.ok(matchesNamespace({ scope: 'Cluster' }, ns));
});

m('kinds, label selectors, Namespace objects and cluster-scoped objects', () => {
  const podMatch = { match: { kinds: [{ apiGroups: [''], kinds: ['Pod'] }], labelSelector: { matchLabels: { tier: 'web' } } } };
  const ns = { name: 'a', labels: {} };
  assert.ok(constraintMatches(podMatch, { group: '', kind: 'Pod', namespace: ns, labels: { tier: 'web' } }));
  assert.not.ok(constraintMatches(podMatch, { group: '', kind: 'Pod', namespace: ns, labels: {} }));
  assert.not.ok(constraintMatches(podMatch, { group: 'apps', kind: 'Deployment', namespace: ns, labels: { tier: 'web' } }));
  const nsMatch = { match: { kinds: [{ apiGroups: [''], kinds: ['Namespace'] }], namespaceSelector: { matchLabels: { team: 'x' } } } };
  assert.ok(constraintMatches(nsMatch, { group: '', kind: 'Namespace', labels: { team: 'x' }, name: 'n' }));
  assert.not.ok(constraintMatches(nsMatch, { group: '', kind: 'Namespace', labels: {}, name: 'n' }));
  assert.ok(
    constraintMatches(
      { match: { kinds: [{ apiGroups: ['*'], kinds: ['ClusterRole'] }] } },
      { group: 'rbac.authorization.k8s.io', kind: 'ClusterRole', labels: {} },
    ),
  );
  // Gatekeeper ignores namespace criteria for cluster-scoped objects (verified against the real webhook).
  assert.ok(
    constraintMatches(
      { match: { namespaces: ['a'], namespaceSelector: { matchLabels: { x: 'y' } } } },
      { group: 'rbac.authorization.k8s.io', kind: 'ClusterRole', labels: {} },
    ),
  );
  assert.not.ok(constraintMatches({ match: { scope: 'Namespaced' } }, { group: 'rbac.authorization.k8s.io', kind: 'ClusterRole', labels: {} }));
});

const j = suite('opa: verdicts');

const adm = (admitted: boolean, deniedBy: string[] = [], warnings: string[] = []) => ({
  admitted,
  status: admitted ? 201 : 403,
  denials: deniedBy.map((c) => ({ constraint: c, message: `${c} says no`, via: 'webhook' as const })),
  warnings: warnings.map((c) => ({ constraint: c, message: 'w' })),
});
const run = (name: string, valid: ReturnType<typeof adm>, invalid: ReturnType<typeof adm>, action = 'deny'): Executed => ({
  plan: { constraint: name, kind: 'K', enforcementAction: action, resourceKind: 'Pod', namespace: 'ns', valid: {} as never, invalid: {} as never },
  valid,
  invalid,
});

j('the verdict table, attributed to the constraint under test', () => {
  const { findings, conflicts } = judgeFull([
    run('enf', adm(true), adm(false, ['enf'])),
    run('not', adm(true), adm(true)),
    run('over', adm(false, ['over']), adm(false, ['over'])),
    run('broken', adm(false, ['broken']), adm(true)),
    run('conflict', adm(false, ['other']), adm(false, ['conflict', 'other'])),
    run('warned', adm(true), adm(true, [], ['warned']), 'warn'),
    { plan: { constraint: 'dry', kind: 'K', enforcementAction: 'dryrun', skip: { verdict: 'AUDIT_ONLY', reason: 'enforcementAction is dryrun' } } },
  ]);
  assert.equal(
    findings.map((f) => f.verdict),
    ['ENFORCING', 'NOT_ENFORCING', 'OVER_ENFORCING', 'BROKEN', 'ENFORCING', 'AUDIT_ONLY', 'AUDIT_ONLY'],
  );
  assert.equal(conflicts, [{ constraint: 'conflict', with: 'other', message: 'other says no' }]);
  assert.match(findings[4].reason, /also denied by other \(cross-policy conflict\)/);
  assert.is(findings[5].warned, true);
  assert.is(enforcementScore(findings), 40);
});

j('a dry-run that failed for another reason is UNTESTED, never a guess', () => {
  const { findings } = judgeFull([
    run('x', adm(true), { admitted: false, status: 404, denials: [], warnings: [], error: '404: namespaces "gone" not found' } as never),
  ]);
  assert.is(findings[0].verdict, 'UNTESTED');
  assert.match(findings[0].reason, /namespaces "gone" not found/);
  assert.is(enforcementScore(findings), null);
});

d.run();
m.run();
j.run();
