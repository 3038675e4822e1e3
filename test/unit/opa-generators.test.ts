// Pure tests of the OPA scan's resource generators: the registry, the base
// resources, comply()/violate() contracts for every generator and every kind it
// builds (with the real gatekeeper-library sample constraints and our demo
// constraints), cross-policy composition, and the regex-to-example helper.
// Enforcement itself is tested against the real Gatekeeper in
// test/integration/opa-generators.test.ts.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync, readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import yaml from 'js-yaml';
import {
  BUILDABLE_KINDS,
  CLUSTER_SCOPED_KINDS,
  PROBE_SERVICE_ACCOUNT,
  baseResource,
  containers,
  isLabelValue,
  parseImage,
  podSpecs,
  podTemplates,
} from '../../functions/opa-scan/generators/base.ts';
import { GENERATORS, complyAll, generatorFor } from '../../functions/opa-scan/generators/index.ts';
import { cpuMilli, memMilli } from '../../functions/opa-scan/generators/quantities.ts';
import { labelValueMatching, labelValueNotMatching } from '../../functions/opa-scan/generators/regex.ts';
import { REQUIRE_NETWORK_POLICY_REASON, latestOrUntagged, underRegistry } from '../../functions/opa-scan/generators/stacktic.ts';
import type { Constraint, Resource } from '../../functions/opa-scan/generators/types.ts';

const ROOT = resolve(import.meta.dirname, '../..');
const LIBRARY = join(ROOT, 'test/fixtures/gatekeeper/library'); // the gatekeeper-library's templates and samples (Apache-2.0, see its README)
const STACKTIC_TEMPLATES = join(ROOT, 'functions/opa-scan/stacktic/templates');
const DEMO_CONSTRAINTS = join(ROOT, 'demo/gatekeeper/constraints');

function walk(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? walk(join(dir, e.name)) : [join(dir, e.name)]));
}

const readYaml = (f: string) => yaml.load(readFileSync(f, 'utf8')) as any;

function toConstraint(doc: any): Constraint {
  return {
    name: doc.metadata.name,
    kind: doc.kind,
    enforcementAction: doc.spec?.enforcementAction ?? 'deny',
    match: doc.spec?.match ?? {},
    parameters: doc.spec?.parameters ?? {},
  };
}

const libraryTemplates = walk(LIBRARY).filter((f) => f.endsWith('/template.yaml'));
const librarySamples = walk(LIBRARY)
  .filter((f) => f.endsWith('/constraint.yaml'))
  .map((f) => ({ file: f, c: toConstraint(readYaml(f)) }));
const stackticTemplates = readdirSync(STACKTIC_TEMPLATES).map((f) => join(STACKTIC_TEMPLATES, f));
/** Our templates with the library's documented semantics, for kinds the carried library lacks (one template + one constraint each). */
const SEMANTICS = join(ROOT, 'test/fixtures/gatekeeper/library-semantics');
const semanticsDocs = readdirSync(SEMANTICS)
  .filter((f) => f.endsWith('.yaml'))
  .map((f) => yaml.loadAll(readFileSync(join(SEMANTICS, f), 'utf8')) as any[]);
const semanticsKinds = semanticsDocs.map((d) => d[0].spec.crd.spec.names.kind as string);
const semanticsSamples = semanticsDocs.map((d) => ({ file: d[1].metadata.name, c: toConstraint(d[1]) }));
const demo = readdirSync(DEMO_CONSTRAINTS).map((f) => ({ file: f, c: toConstraint(readYaml(join(DEMO_CONSTRAINTS, f))) }));

const mk = (kind: string, parameters: Record<string, any> = {}, name = `t-${kind.toLowerCase()}`): Constraint => ({
  name,
  kind,
  enforcementAction: 'deny',
  match: {},
  parameters,
});

/** Extra parameter sets beyond the samples, to exercise the harder paths. */
const EXTRA: Constraint[] = [
  mk('K8sContainerLimits', { cpu: '50m', memory: '32Mi' }, 'tight-limits'),
  mk('K8sContainerLimits', { memory: '1.5Gi' }, 'mem-only'),
  mk('K8sDisallowedTags', { tags: ['3.10', 'latest'] }, 'no-pause-tag'),
  mk('K8sAllowedRepos', { repos: ['ghcr.io/stacktic/'] }, 'repos-ghcr'),
  mk('K8sRequiredProbes', { probes: ['livenessProbe', 'startupProbe'], probeTypes: ['httpGet'] }, 'probes-http'),
  mk('K8sRequiredLabels', { labels: [{ key: 'team', allowedRegex: '^(alpha|beta)-[0-9]{2}$' }, { key: 'owner' }] }, 'team-label'),
  mk('SecurityContextPolicy', { exemptImages: ['ghcr.io/stacktic/legacy-*'] }, 'scp-exempt'),
  mk('K8sAllowedImageRequirements', { registries: ['ghcr.io/stacktic/'], disallow_latest: false }, 'air-ghcr'),
  mk('K8sAllowedImageRequirements', { disallow_latest: true }, 'air-latest-only'),
];

const ALL_CONSTRAINTS: Constraint[] = [...librarySamples.map((s) => s.c), ...semanticsSamples.map((s) => s.c), ...demo.map((d) => d.c), ...EXTRA];

const base = (kind: string) =>
  baseResource(kind, `gen-${kind.toLowerCase()}`, CLUSTER_SCOPED_KINDS.has(kind) ? undefined : 'stack-a', { 'stack-scan.io/run': 'unit' })!;

// ---------------------------------------------------------------------------
const registry = suite('opa generators: registry');

registry('every library and Stacktic template kind has exactly one generator', () => {
  const kinds = [...libraryTemplates, ...stackticTemplates].map((f) => readYaml(f).spec.crd.spec.names.kind as string);
  assert.is(kinds.length, 11 + 12);
  for (const k of [...kinds, ...semanticsKinds]) assert.is(generatorFor(k)?.kind, k, `generator for ${k}`);
  assert.is(new Set(GENERATORS.map((g) => g.kind)).size, GENERATORS.length);
  // Kinds the carried library lacks are checked against our library-semantics templates.
  assert.equal(GENERATORS.map((g) => g.kind).sort(), [...new Set([...kinds, ...semanticsKinds])].sort());
  assert.is(generatorFor('K8sNoSuchTemplate'), undefined);
});

registry('Stacktic templates: name = lowercase kind = rego package, classic rego field, admission target', () => {
  for (const f of stackticTemplates) {
    const t = readYaml(f);
    const kind = t.spec.crd.spec.names.kind as string;
    assert.is(t.apiVersion, 'templates.gatekeeper.sh/v1');
    assert.is(t.metadata.name, kind.toLowerCase(), f);
    assert.is(t.spec.targets[0].target, 'admission.k8s.gatekeeper.sh');
    assert.match(t.spec.targets[0].rego, new RegExp(`^package ${kind.toLowerCase()}\\n`), f);
    assert.match(t.spec.targets[0].rego, /violation\[\{"msg": msg\}\] \{/);
  }
});

registry('one deny demo constraint per Stacktic template, limited to stack namespaces', () => {
  const templateKinds = stackticTemplates.map((f) => readYaml(f).spec.crd.spec.names.kind).sort();
  assert.equal(demo.map((d) => d.c.kind).sort(), templateKinds);
  for (const { c, file } of demo) {
    assert.is(c.enforcementAction, 'deny', file);
    assert.equal(c.match.namespaceSelector, { matchExpressions: [{ key: 'stacktic.io/namespace', operator: 'Exists' }] }, file);
    assert.ok(c.match.kinds?.length, file);
  }
});

registry('every generator builds only kinds baseResource can build', () => {
  for (const g of GENERATORS) {
    assert.ok(g.resourceKinds.length > 0, g.kind);
    for (const k of g.resourceKinds) assert.ok(BUILDABLE_KINDS.includes(k), `${g.kind} → ${k}`);
  }
});

// ---------------------------------------------------------------------------
const bases = suite('opa generators: base resources');

bases('every buildable kind: apiVersion, kind, name, namespace only when namespaced, caller labels plus app.kubernetes.io/name', () => {
  for (const kind of BUILDABLE_KINDS) {
    const r = base(kind);
    assert.is(r.kind, kind);
    assert.type(r.apiVersion, 'string');
    assert.is(r.metadata.name, `gen-${kind.toLowerCase()}`);
    assert.is(r.metadata.namespace, CLUSTER_SCOPED_KINDS.has(kind) ? undefined : 'stack-a', kind);
    assert.is(r.metadata.labels?.['stack-scan.io/run'], 'unit');
    assert.is(r.metadata.labels?.['app.kubernetes.io/name'], `gen-${kind.toLowerCase()}`);
  }
  assert.is(baseResource('ConfigMap', 'x', 'ns', {}), undefined);
  assert.is(baseResource('Namespace', 'n1', 'ignored', {})!.metadata.namespace, undefined);
});

bases('workloads: one hardened pod spec each, reachable through podSpecs/containers; selector matches template labels', () => {
  for (const kind of ['Pod', 'Deployment', 'StatefulSet', 'DaemonSet', 'ReplicaSet', 'Job', 'CronJob']) {
    const r = base(kind);
    const specs = podSpecs(r);
    assert.is(specs.length, 1, kind);
    const s = specs[0];
    assert.is(s.serviceAccountName, PROBE_SERVICE_ACCOUNT);
    assert.is(s.automountServiceAccountToken, false);
    assert.equal(s.securityContext, { runAsNonRoot: true, runAsUser: 65532, runAsGroup: 65532, seccompProfile: { type: 'RuntimeDefault' } });
    const cs = containers(r);
    assert.is(cs.length, 1);
    const c = cs[0];
    assert.is(c.image, 'registry.k8s.io/pause:3.10');
    assert.equal(c.securityContext.capabilities, { drop: ['ALL'] });
    assert.is(c.securityContext.allowPrivilegeEscalation, false);
    assert.is(c.securityContext.privileged, false);
    assert.is(c.securityContext.readOnlyRootFilesystem, true);
    for (const res of ['cpu', 'memory', 'ephemeral-storage']) {
      assert.type(c.resources.requests[res], 'string');
      assert.type(c.resources.limits[res], 'string');
    }
    assert.ok(c.livenessProbe.tcpSocket && c.readinessProbe.tcpSocket);
    if (kind !== 'Pod') {
      const t = podTemplates(r)[0];
      assert.is(t.metadata.labels['stack-scan.io/run'], 'unit');
      if (r.spec.selector) for (const [k, v] of Object.entries(r.spec.selector.matchLabels)) assert.is(t.metadata.labels[k], v);
    }
  }
  // containers() includes initContainers
  const p = base('Pod');
  p.spec.initContainers = [{ name: 'init', image: 'registry.k8s.io/pause:3.10' }];
  assert.equal(
    containers(p).map((c) => c.name),
    ['main', 'init'],
  );
  assert.equal(
    containers(p, ['initContainers']).map((c) => c.name),
    ['init'],
  );
});

bases('a long name still gives a valid app.kubernetes.io/name label value', () => {
  const r = baseResource('Pod', `${'a'.repeat(70)}-x`, 'ns', {})!;
  assert.ok(isLabelValue(r.metadata.labels!['app.kubernetes.io/name']));
});

// ---------------------------------------------------------------------------
const contract = suite('opa generators: comply/violate contract');

contract('for every constraint and every kind its generator builds: comply is idempotent, pure and keeps a valid object; violate changes it', () => {
  let checked = 0;
  let untestable = 0;
  for (const c of ALL_CONSTRAINTS) {
    const g = generatorFor(c.kind)!;
    for (const kind of g.resourceKinds) {
      const b = base(kind);
      const snapshot = JSON.stringify(b);
      const once = g.comply(b, c);
      assert.is(JSON.stringify(b), snapshot, `${c.name}/${kind}: comply mutated its input`);
      assert.equal(g.comply(once, c), once, `${c.name}/${kind}: comply is not idempotent`);
      assert.is(once.kind, kind);
      assert.is(once.apiVersion, b.apiVersion);
      assert.is(once.metadata.name, b.metadata.name);
      assert.is(once.metadata.namespace, b.metadata.namespace);
      const onceSnap = JSON.stringify(once);
      const bad = g.violate(once, c);
      assert.is(JSON.stringify(once), onceSnap, `${c.name}/${kind}: violate mutated its input`);
      if ('untestable' in bad) {
        assert.type(bad.untestable, 'string');
        assert.ok((bad.untestable as string).length > 20, `${c.name}/${kind}: a reason`);
        untestable++;
      } else {
        assert.is.not(JSON.stringify(bad), onceSnap, `${c.name}/${kind}: violate changed nothing`);
        assert.is(bad.kind, kind);
        assert.is(bad.metadata.name, b.metadata.name);
      }
      checked++;
    }
  }
  assert.ok(checked > 100, `checked ${checked}`);
  // the library's full_wildcard sample (exemptImages ["*"]) and RequireNetworkPolicy (×7 kinds)
  assert.is(untestable, 1 + 7);
});

contract('base resources already satisfy the demo constraints except the label ones (comply changes only labels there)', () => {
  for (const { c } of demo) {
    const g = generatorFor(c.kind)!;
    const b = base(g.resourceKinds[0]);
    const after = g.comply(b, c);
    if (['ImageSigningPolicy', 'RequiredLabelsPolicy'].includes(c.kind)) {
      assert.is.not(JSON.stringify(after.metadata.labels), JSON.stringify(b.metadata.labels), c.kind);
      assert.equal({ ...after, metadata: b.metadata }, b, `${c.kind} changed more than labels`);
    } else assert.equal(after, b, `${c.kind} changed a base resource`);
  }
});

// ---------------------------------------------------------------------------
const specific = suite('opa generators: what violate() changes');

const sample = (kind: string, file?: string) => librarySamples.find((s) => s.c.kind === kind && (!file || s.file.includes(file)))!.c;
const violated = (c: Constraint, r: Resource) => {
  const v = generatorFor(c.kind)!.violate(r, c);
  if ('untestable' in v) throw new Error(`unexpectedly untestable: ${v.untestable}`);
  return v;
};

specific('pod-security generators flip exactly the field their template checks', () => {
  const pod = base('Pod');
  assert.is(
    violated(sample('K8sPSPReadOnlyRootFilesystem', 'psp-readonlyrootfilesystem'), pod).spec.containers[0].securityContext.readOnlyRootFilesystem,
    false,
  );
  assert.is(violated(sample('K8sPSPAllowPrivilegeEscalationContainer'), pod).spec.containers[0].securityContext.allowPrivilegeEscalation, true);
  const priv = violated(sample('K8sPSPPrivilegedContainer'), pod).spec.containers[0].securityContext;
  assert.is(priv.privileged, true);
  assert.is(priv.allowPrivilegeEscalation, undefined, 'privileged + allowPrivilegeEscalation false is invalid for the API');
  assert.is(violated(sample('K8sPSPHostNamespace'), pod).spec.hostIPC, true);
  assert.is(violated(sample('K8sPSPAutomountServiceAccountTokenPod'), pod).spec.automountServiceAccountToken, true);
});

specific('exemptImages: violate picks a non-exempt container, and says untestable when all are exempt', () => {
  const c = sample('K8sPSPPrivilegedContainer'); // exemptImages: safeimages.com/*
  const pod = base('Pod');
  pod.spec.containers.unshift({ ...structuredClone(pod.spec.containers[0]), name: 'safe', image: 'safeimages.com/nginx:1.0' });
  const v = violated(c, pod);
  assert.is(v.spec.containers[0].securityContext.privileged, false);
  assert.is(v.spec.containers[1].securityContext.privileged, true);
  const all = generatorFor('K8sPSPReadOnlyRootFilesystem')!.violate(base('Pod'), mk('K8sPSPReadOnlyRootFilesystem', { exemptImages: ['*'] }));
  assert.ok('untestable' in all && /exempt/.test(all.untestable as string));
});

specific('K8sContainerLimits: comply caps limits (and requests) at the maximum; violate goes above it', () => {
  const tight = EXTRA.find((c) => c.name === 'tight-limits')!;
  const ok = generatorFor('K8sContainerLimits')!.comply(base('Pod'), tight);
  const res = ok.spec.containers[0].resources;
  assert.equal(res.limits, { cpu: '50m', memory: '32Mi', 'ephemeral-storage': '64Mi' });
  assert.ok(memMilli(res.requests.memory)! <= memMilli(res.limits.memory)!);
  assert.ok(cpuMilli(res.requests.cpu)! <= cpuMilli(res.limits.cpu)!);
  assert.is(violated(tight, ok).spec.containers[0].resources.limits.memory, '64Mi');
  assert.is(violated(sample('K8sContainerLimits', 'container-must-have-limits'), base('Pod')).spec.containers[0].resources.limits.memory, '2Gi');
  const memOnly = generatorFor('K8sContainerLimits')!.comply(base('Pod'), EXTRA.find((c) => c.name === 'mem-only')!);
  assert.is(memOnly.spec.containers[0].resources.limits.memory, '64Mi', 'already under 1.5Gi: untouched');
});

specific('K8sContainerLimits quantity parsing follows the template (millicores, millibytes)', () => {
  assert.is(cpuMilli('100m'), 100);
  assert.is(cpuMilli('2'), 2000);
  assert.is(cpuMilli('0.5'), 500);
  assert.is(cpuMilli(1), 1000);
  assert.is(cpuMilli('1e3'), undefined);
  assert.is(memMilli('1Gi'), 1024 ** 3 * 1000);
  assert.is(memMilli('100M'), 100e9);
  assert.is(memMilli('512'), 512000);
  assert.is(memMilli('1.5Gi'), 1.5 * 1024 ** 3 * 1000);
  assert.is(memMilli('lots'), undefined);
});

specific('K8sDisallowedTags and DisallowDangerousSettings: latest / untagged detection and the tag violate() sets', () => {
  const c = sample('K8sDisallowedTags');
  assert.is(violated(c, base('Pod')).spec.containers[0].image, 'registry.k8s.io/pause:latest');
  const noPause = EXTRA.find((x) => x.name === 'no-pause-tag')!;
  assert.is(generatorFor('K8sDisallowedTags')!.comply(base('Pod'), noPause).spec.containers[0].image, 'registry.k8s.io/pause:3.9');
  assert.ok(latestOrUntagged('nginx'));
  assert.ok(latestOrUntagged('registry:5000/nginx'));
  assert.ok(latestOrUntagged('nginx:latest'));
  assert.not.ok(latestOrUntagged('nginx:1.27'));
  assert.not.ok(latestOrUntagged(`nginx@sha256:${'a'.repeat(64)}`));
  assert.equal(parseImage('registry:5000/a/b:1.0'), { name: 'registry:5000/a/b', tag: '1.0' });
});

specific('K8sRequiredLabels: the sample allowedRegex gets a matching value; violate sets a non-matching one', () => {
  const c = sample('K8sRequiredLabels', 'all-must-have-owner');
  const ns = generatorFor('K8sRequiredLabels')!.comply(base('Namespace'), c);
  const owner = ns.metadata.labels!.owner;
  assert.ok(/^[a-zA-Z]+.agilebank.demo$/.test(owner), owner);
  assert.ok(isLabelValue(owner));
  const bad = violated(c, ns);
  assert.type(bad.metadata.labels!.owner, 'string');
  assert.not.ok(/^[a-zA-Z]+.agilebank.demo$/.test(bad.metadata.labels!.owner));
  // key-only requirement: violate removes the key
  const pizza = sample('K8sRequiredLabels', 'verify-label-key-only');
  const p = generatorFor('K8sRequiredLabels')!.comply(base('Pod'), pizza);
  assert.type(p.metadata.labels!.pizza, 'string');
  assert.is(violated(pizza, p).metadata.labels!.pizza, undefined);
});

specific('Stacktic generators: the one field each violate() changes', () => {
  const d = (kind: string) => demo.find((x) => x.c.kind === kind)!.c;
  const valid = (kind: string, on = 'Deployment') => generatorFor(kind)!.comply(base(on), d(kind));
  const c0 = (r: Resource) => containers(r)[0];
  assert.is(c0(violated(d('SecurityContextPolicy'), valid('SecurityContextPolicy'))).securityContext.runAsNonRoot, false);
  const noEphemeral = c0(violated(d('ResourcePolicy'), valid('ResourcePolicy'))).resources;
  assert.is(noEphemeral.requests['ephemeral-storage'], undefined);
  assert.is(noEphemeral.limits['ephemeral-storage'], undefined, 'else the API defaults the request from the limit');
  assert.is(c0(violated(d('ProbesPolicy'), valid('ProbesPolicy'))).livenessProbe, undefined);
  assert.is(c0(violated(d('DisallowDangerousSettings'), valid('DisallowDangerousSettings'))).image, 'registry.k8s.io/pause:latest');
  assert.is(c0(violated(d('K8sAllowedImageRequirements'), valid('K8sAllowedImageRequirements'))).image, 'docker.io/library/busybox:1.36');
  const signed = valid('ImageSigningPolicy');
  assert.is(signed.metadata.labels!['stacktic.io/imageSigned'], 'true');
  assert.is(podTemplates(signed)[0].metadata.labels['stacktic.io/imageSigned'], 'true');
  assert.is(violated(d('ImageSigningPolicy'), signed).metadata.labels!['stacktic.io/imageSigned'], 'false');
  assert.is(violated(d('BlockNamespaceDeployments'), valid('BlockNamespaceDeployments')).metadata.labels!['app.kubernetes.io/name'], undefined);
  assert.is(podSpecs(violated(d('DisallowDefaultServiceAccount'), valid('DisallowDefaultServiceAccount')))[0].serviceAccountName, 'default');
  assert.equal(violated(d('DisallowWildcardRBAC'), valid('DisallowWildcardRBAC', 'Role')).rules[0].verbs, ['*']);
  assert.is(violated(d('RequiredLabelsPolicy'), valid('RequiredLabelsPolicy')).metadata.labels!['app.kubernetes.io/part-of'], undefined);
  const np = violated(d('BlockWideOpenNetworkPolicy'), valid('BlockWideOpenNetworkPolicy', 'NetworkPolicy'));
  assert.equal(np.spec.ingress.at(-1), {});
  const rnp = generatorFor('RequireNetworkPolicy')!;
  assert.is(rnp.auditOnly!(d('RequireNetworkPolicy')), REQUIRE_NETWORK_POLICY_REASON);
});

specific('BlockWideOpenNetworkPolicy comply closes rules without peers and all-namespace peers', () => {
  const g = generatorFor('BlockWideOpenNetworkPolicy')!;
  const np = base('NetworkPolicy');
  np.spec.ingress.push({ ports: [{ port: 80 }] });
  np.spec.egress.push({ to: [{ namespaceSelector: {} }] });
  const ok = g.comply(np, mk('BlockWideOpenNetworkPolicy'));
  assert.equal(ok.spec.ingress[1], { ports: [{ port: 80 }], from: [{ podSelector: {} }] });
  assert.equal(ok.spec.egress[1], { to: [{ podSelector: {} }] });
  assert.equal(ok.spec.ingress[0], np.spec.ingress[0], 'a scoped rule is kept');
});

specific('DisallowWildcardRBAC comply replaces wildcards only', () => {
  const r = base('ClusterRole');
  r.rules = [{ apiGroups: ['*'], resources: ['pods', '*/scale'], verbs: ['*'] }];
  const ok = generatorFor('DisallowWildcardRBAC')!.comply(r, mk('DisallowWildcardRBAC'));
  assert.equal(ok.rules, [{ apiGroups: [''], resources: ['pods'], verbs: ['get', 'list', 'watch'] }]);
});

specific('K8sAllowedImageRequirements registry match is path-boundary aware', () => {
  assert.ok(underRegistry('registry.k8s.io/pause:3.10', 'registry.k8s.io'));
  assert.not.ok(underRegistry('registry.k8s.io.evil.example/pause:3.10', 'registry.k8s.io'));
  assert.ok(underRegistry('ghcr.io/stacktic/x:1', 'ghcr.io/stacktic'));
  assert.not.ok(underRegistry('ghcr.io/stacktic-x/y:1', 'ghcr.io/stacktic'));
});

specific('untestable constraints say why', () => {
  const reason = (c: Constraint, kind = 'Pod') => {
    const g = generatorFor(c.kind)!;
    const v = g.violate(g.comply(base(kind), c), c);
    return 'untestable' in v ? (v.untestable as string) : undefined;
  };
  assert.match(reason(mk('K8sAllowedRepos', { repos: [] }))!, /repos is empty/);
  assert.match(reason(mk('K8sRequiredProbes', { probes: ['livenessProbe'], probeTypes: [] }))!, /probeTypes is empty/);
  assert.match(reason(mk('K8sRequiredProbes', { probes: ['healthProbe'], probeTypes: ['exec'] }))!, /not a container probe field/);
  assert.match(reason(mk('K8sRequiredLabels', { labels: [{ key: 'x', allowedRegex: '\\p{L}+' }] }))!, /does not support/);
  assert.match(reason(mk('K8sRequiredLabels', { labels: [{ key: 'x', allowedRegex: '^ +$' }] }))!, /no valid label value/);
  assert.match(reason(mk('K8sAllowedImageRequirements', {}))!, /allows every image/);
  assert.match(reason(mk('RequiredLabelsPolicy', { labels: [] }))!, /empty/);
  assert.match(reason(mk('BlockNamespaceDeployments', { requiredLabelKeys: ['a'] }), 'Job')!, /does not judge a Job/);
});

// ---------------------------------------------------------------------------
const composition = suite('opa generators: cross-policy composition');

composition('one Pod made to satisfy library and Stacktic constraints at once keeps every specific requirement', () => {
  const set: Constraint[] = [
    mk('K8sAllowedRepos', { repos: ['ghcr.io/stacktic/'] }),
    mk('K8sDisallowedTags', { tags: ['3.10', 'latest'] }),
    mk('K8sContainerLimits', { cpu: '50m', memory: '32Mi' }),
    mk('K8sRequiredProbes', { probes: ['readinessProbe', 'livenessProbe'], probeTypes: ['httpGet'] }),
    mk('K8sRequiredLabels', { labels: [{ key: 'owner', allowedRegex: '^[a-zA-Z]+.agilebank.demo$' }, { key: 'app.kubernetes.io/name' }] }),
    mk('K8sPSPHostNamespace'),
    mk('K8sPSPAutomountServiceAccountTokenPod'),
    ...demo.map((d) => d.c),
  ];
  const pod = base('Pod');
  pod.spec.hostPID = true;
  pod.spec.containers[0].securityContext = { privileged: true };
  delete pod.spec.containers[0].resources;
  delete pod.spec.containers[0].livenessProbe;
  delete pod.spec.serviceAccountName;
  const { resource: r, stable } = complyAll(pod, set);
  assert.ok(stable, 'the set is satisfiable: composition converges');
  const c = r.spec.containers[0];
  // K8sAllowedRepos + K8sAllowedImageRequirements (ghcr.io/stacktic is allowed by both) + tags
  assert.ok(c.image.startsWith('ghcr.io/stacktic/'), c.image);
  assert.not.ok(/:3\.10$|:latest$/.test(c.image), c.image);
  assert.ok(parseImage(c.image).tag, c.image);
  // K8sContainerLimits + ResourcePolicy
  assert.ok(cpuMilli(c.resources.limits.cpu)! <= 50);
  assert.ok(memMilli(c.resources.limits.memory)! <= memMilli('32Mi')!);
  assert.ok(cpuMilli(c.resources.requests.cpu)! <= cpuMilli(c.resources.limits.cpu)!);
  assert.ok(memMilli(c.resources.requests.memory)! <= memMilli(c.resources.limits.memory)!);
  assert.type(c.resources.requests['ephemeral-storage'], 'string');
  // K8sRequiredProbes (httpGet only) + ProbesPolicy
  for (const p of ['readinessProbe', 'livenessProbe']) {
    assert.ok(c[p].httpGet, p);
    assert.is(c[p].tcpSocket, undefined, `${p}: one handler only`);
  }
  // labels
  const labels = r.metadata.labels!;
  assert.ok(/^[a-zA-Z]+.agilebank.demo$/.test(labels.owner));
  assert.is(labels['stacktic.io/imageSigned'], 'true');
  assert.type(labels['app.kubernetes.io/part-of'], 'string');
  assert.type(labels['app.kubernetes.io/name'], 'string');
  // security context (SecurityContextPolicy + DisallowDangerousSettings + host namespaces + SA)
  assert.is(c.securityContext.privileged, false);
  assert.is(c.securityContext.allowPrivilegeEscalation, false);
  assert.is(c.securityContext.readOnlyRootFilesystem, true);
  assert.is(r.spec.securityContext.runAsNonRoot, true);
  assert.is(r.spec.hostPID, false);
  assert.is(r.spec.automountServiceAccountToken, false);
  assert.is(r.spec.serviceAccountName, PROBE_SERVICE_ACCOUNT);
});

composition('contradictory constraints do not converge (reported as unstable, not looped forever)', () => {
  const set = [mk('K8sAllowedRepos', { repos: ['registry.k8s.io/pause:3.10'] }), mk('K8sDisallowedTags', { tags: ['3.10'] })];
  const { stable } = complyAll(base('Pod'), set);
  assert.is(stable, false);
});

// ---------------------------------------------------------------------------
const regex = suite('opa generators: regex → label value');

regex('values match their pattern and are valid label values', () => {
  const patterns = [
    '^[a-zA-Z]+.agilebank.demo$',
    '^(alpha|beta)-[0-9]{2}$',
    'team-\\d+',
    '^[a-z0-9]([-a-z0-9]*[a-z0-9])?$',
    '(?i)^PROD$',
    '^v\\d+\\.\\d+\\.\\d+$',
    '^(?P<env>dev|prod)_[a-f0-9]{8}$',
    '^[^-_.][a-z]{3,5}$',
    '\\bowner\\b',
    '^x{2,}y?$',
  ];
  for (const p of patterns) {
    const ex = labelValueMatching(p);
    assert.ok('value' in ex, `${p}: ${'reason' in ex ? ex.reason : ''}`);
    const v = (ex as { value: string }).value;
    const flags = p.startsWith('(?i)') ? 'i' : '';
    assert.ok(new RegExp(p.replace('(?i)', '').replace('(?P<', '(?<'), flags).test(v), `${p} → ${v}`);
    assert.ok(isLabelValue(v), `${p} → ${v}`);
  }
});

regex('unsatisfiable or unsupported patterns give a reason, and a non-matching value exists when possible', () => {
  for (const p of ['^[a-z]{64,}$', '^ $', '\\p{Lu}', '(?<=a)b', '^a(?i)b$', '[', '^-+$']) {
    const ex = labelValueMatching(p);
    assert.ok('reason' in ex, p);
    assert.match((ex as { reason: string }).reason, /allowedRegex/);
  }
  const nm = labelValueNotMatching('^[a-zA-Z]+.agilebank.demo$')!;
  assert.not.ok(/^[a-zA-Z]+.agilebank.demo$/.test(nm));
  assert.ok(isLabelValue(nm));
  assert.is(labelValueNotMatching('.*'), undefined, 'every value matches .*');
});

registry.run();
bases.run();
contract.run();
specific.run();
composition.run();
regex.run();
