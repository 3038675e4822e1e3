// The generators against the REAL Gatekeeper (v3.23.1) of the test control plane:
//
//  1. every gatekeeper-library template with each of its sample constraints: the
//     library's own example_allowed* are admitted and example_disallowed* denied
//     (server-side dry-run), and our generated valid resource is admitted while the
//     invalid one is denied by that constraint;
//  2. every Stacktic template with its demo constraint, ALL active together on a
//     stack namespace: for every kind the generator builds and the constraint
//     matches, the valid resource (comply of every demo constraint that matches the
//     kind: cross-policy) is admitted and the invalid one is denied by exactly the
//     constraint it was made to violate (plus documented, unavoidable overlaps);
//  3. RequireNetworkPolicy (audit-only for the scan) with NetworkPolicies synced
//     into Gatekeeper's inventory: the same pod is admitted in a namespace whose
//     NetworkPolicy selects it and denied in one without.
//
// Isolation: each library sample constraint gets a labelSelector on a per-case
// label (and, for namespaced kinds, `namespaces: [<lib namespace>]` instead of the
// sample's "default"), so the samples do not overlap each other, the Stacktic
// constraints or other suites. The Stacktic demo constraints are applied unchanged;
// they only touch namespaces labelled stacktic.io/namespace, i.e. ours. Library
// files that are not example_allowed*/example_disallowed* (update.yaml, *_ephemeral,
// disallowed_all.yaml) are not submitted: the API rejects ephemeralContainers on
// create, and UPDATE reviews are not creates.
import { groupOf } from '../../lib/k8s/kinds.ts';
import { matchesKind } from '../../functions/opa-scan/match.ts';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { randomBytes } from 'node:crypto';
import { readFileSync, readdirSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import yaml from 'js-yaml';
import { testCluster } from '../support/cluster.ts';
import { makeKube, type Kube } from '../../lib/kube/client.ts';
import { dryRunCreate, rawRequest, type KubeObject, type RawResponse } from '../../lib/kube/raw.ts';
import { CLUSTER_SCOPED_KINDS, PROBE_SERVICE_ACCOUNT, baseResource } from '../../functions/opa-scan/generators/base.ts';
import { complyAll, generatorFor } from '../../functions/opa-scan/generators/index.ts';
import type { Constraint, Match, Resource } from '../../functions/opa-scan/generators/types.ts';

const ROOT = resolve(import.meta.dirname, '../..');
const LIBRARY = join(ROOT, 'test/fixtures/gatekeeper/library'); // the gatekeeper-library's templates and samples (Apache-2.0, see its README)
const STACKTIC_TEMPLATES = join(ROOT, 'functions/opa-scan/stacktic/templates');
const DEMO_CONSTRAINTS = join(ROOT, 'demo/gatekeeper/constraints');

const RUN = randomBytes(3).toString('hex');
const LIB_NS = `opagen-lib-${RUN}`;
const STK_NS = `opagen-stk-${RUN}`;
const BARE_NS = `opagen-bare-${RUN}`;
const CASE_LABEL = 'stack-scan.test/case';
const SYNCSET = `opagen-netpol-${RUN}`;
const CLUSTERROLE_CASE = 'wildcard-clusterroles';
const CLUSTERROLE_CONSTRAINT = `opagen-wildcard-clusterroles-${RUN}`;
const TIMEOUT = 90_000;

const s = suite('opa generators vs real Gatekeeper');

// ---------------------------------------------------------------------------
// plumbing

let kube: Kube;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const readYaml = (f: string) => yaml.load(readFileSync(f, 'utf8')) as any;

function walk(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? walk(join(dir, e.name)) : [join(dir, e.name)]));
}

async function api(method: string, path: string, body?: unknown): Promise<RawResponse> {
  return rawRequest(kube, { verb: method.toLowerCase(), resource: path }, { method, path, body });
}

async function create(path: string, body: unknown): Promise<void> {
  const r = await api('POST', path, body);
  if (r.status >= 300) throw new Error(`POST ${path} → ${r.status}: ${JSON.stringify(r.body)}`);
}

async function eventually<T>(what: string, fn: () => Promise<T | undefined>, timeoutMs = TIMEOUT): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  while (Date.now() < deadline) {
    try {
      const v = await fn();
      if (v !== undefined) return v;
    } catch (e) {
      last = (e as Error).message;
    }
    await sleep(300);
  }
  throw new Error(`timed out after ${timeoutMs / 1000}s waiting for ${what}${last ? `: ${last}` : ''}`);
}

const templatePath = (name = '') => `/apis/templates.gatekeeper.sh/v1/constrainttemplates${name ? `/${name}` : ''}`;
const constraintPath = (kind: string, name = '') => `/apis/constraints.gatekeeper.sh/v1beta1/${kind.toLowerCase()}${name ? `/${name}` : ''}`;

/** The constraints a Gatekeeper denial names: each line of the message starts with "[<constraint>] ". */
function deniedBy(r: RawResponse): string[] {
  const msg = String((r.body as { message?: string })?.message ?? '');
  const marker = 'admission webhook "validation.gatekeeper.sh" denied the request: ';
  const at = msg.indexOf(marker);
  if (at < 0) return [];
  const names = new Set<string>();
  for (const line of msg.slice(at + marker.length).split('\n')) {
    const m = /^\[([^\]\s]+)\] /.exec(line);
    if (m) names.add(m[1]);
  }
  return [...names].sort();
}

const describe = (r: RawResponse) => `${r.status} ${String((r.body as { message?: string })?.message ?? JSON.stringify(r.body)).slice(0, 600)}`;

async function expectAdmitted(obj: KubeObject, what: string): Promise<void> {
  const r = await dryRunCreate(kube, obj);
  assert.ok(r.status >= 200 && r.status < 300, `${what} should be admitted, got ${describe(r)}`);
}

/** Expect a Gatekeeper denial; returns the constraints it names. */
async function expectDenied(obj: KubeObject, constraint: string, what: string): Promise<string[]> {
  const r = await dryRunCreate(kube, obj);
  assert.is(r.status, 403, `${what} should be denied by [${constraint}], got ${describe(r)}`);
  const names = deniedBy(r);
  assert.ok(names.includes(constraint), `${what}: the denial should name [${constraint}]: ${describe(r)}`);
  return names;
}

function kindMatches(m: Match, kind: string): boolean {
  return matchesKind(m, groupOf(kind) ?? '', kind);
}

function toConstraint(doc: any): Constraint {
  return {
    name: doc.metadata.name,
    kind: doc.kind,
    enforcementAction: doc.spec?.enforcementAction ?? 'deny',
    match: doc.spec?.match ?? {},
    parameters: doc.spec?.parameters ?? {},
  };
}

// ---------------------------------------------------------------------------
// what gets applied

interface LibraryCase {
  id: string; // sample dir
  template: string; // template dir
  doc: any; // the adapted constraint
  constraint: Constraint;
  allowed: string[];
  disallowed: string[];
}

const libraryTemplates = walk(LIBRARY)
  .filter((f) => f.endsWith('/template.yaml'))
  .map(readYaml);
const libraryCases: LibraryCase[] = [];
{
  const taken = new Set<string>();
  for (const f of walk(LIBRARY)
    .filter((x) => x.endsWith('/constraint.yaml'))
    .sort()) {
    const dir = dirname(f);
    const id = basename(dir);
    const doc = readYaml(f);
    const key = `${doc.kind}/${doc.metadata.name}`;
    if (taken.has(key)) doc.metadata.name = `${doc.metadata.name}-${id}`.slice(0, 63); // samples of one template can share a name
    taken.add(`${doc.kind}/${doc.metadata.name}`);
    const match = (doc.spec.match ??= {});
    const namespaced = !(match.kinds ?? []).some((k: any) => (k.kinds ?? []).includes('Namespace'));
    if (namespaced) match.namespaces = [LIB_NS];
    match.labelSelector = { matchLabels: { [CASE_LABEL]: id } };
    const files = readdirSync(dir).sort();
    libraryCases.push({
      id,
      template: basename(dirname(dirname(dir))),
      doc,
      constraint: toConstraint(doc),
      allowed: files.filter((x) => x.startsWith('example_allowed')).map((x) => join(dir, x)),
      disallowed: files.filter((x) => x.startsWith('example_disallowed')).map((x) => join(dir, x)),
    });
  }
}

// Kinds the carried library lacks: our templates with the library's documented semantics
// (test/fixtures/gatekeeper/library-semantics); a real library template, when present, wins.
{
  const dir = join(ROOT, 'test/fixtures/gatekeeper/library-semantics');
  const have = new Set(libraryTemplates.map((t: any) => t.spec.crd.spec.names.kind));
  for (const f of readdirSync(dir)
    .filter((x) => x.endsWith('.yaml'))
    .sort()) {
    const [template, doc] = yaml.loadAll(readFileSync(join(dir, f), 'utf8')) as any[];
    if (have.has(template.spec.crd.spec.names.kind)) continue;
    libraryTemplates.push(template);
    const id = `semantics-${basename(f, '.yaml')}`;
    const match = (doc.spec.match ??= {});
    match.namespaces = [LIB_NS];
    match.labelSelector = { matchLabels: { [CASE_LABEL]: id } };
    libraryCases.push({ id, template: basename(f, '.yaml'), doc, constraint: toConstraint(doc), allowed: [], disallowed: [] });
  }
}

const stackticTemplates = readdirSync(STACKTIC_TEMPLATES).map((f) => readYaml(join(STACKTIC_TEMPLATES, f)));
const demoDocs = readdirSync(DEMO_CONSTRAINTS).map((f) => readYaml(join(DEMO_CONSTRAINTS, f)));
const demo = demoDocs.map(toConstraint);
/** A test-only constraint: the demo matches Roles only, this one ClusterRoles (label-scoped, as namespaceSelector cannot scope them). */
const clusterRoleDoc = {
  apiVersion: 'constraints.gatekeeper.sh/v1beta1',
  kind: 'DisallowWildcardRBAC',
  metadata: { name: CLUSTERROLE_CONSTRAINT },
  spec: {
    enforcementAction: 'deny',
    match: {
      kinds: [{ apiGroups: ['rbac.authorization.k8s.io'], kinds: ['ClusterRole'] }],
      labelSelector: { matchLabels: { [CASE_LABEL]: CLUSTERROLE_CASE } },
    },
  },
};
const allConstraintDocs = [...libraryCases.map((c) => c.doc), ...demoDocs, clusterRoleDoc];
const allTemplates = [...libraryTemplates, ...stackticTemplates];

/**
 * Violations that cannot be separated: the invalid resource for the key also breaks
 * these constraints. DisallowDangerousSettings is violated with a `:latest` image
 * (a privileged container would need allowPrivilegeEscalation unset, which
 * SecurityContextPolicy forbids), and the demo K8sAllowedImageRequirements sets
 * disallow_latest.
 */
const SHARED_VIOLATIONS: Record<string, string[]> = { 'stack-no-dangerous-settings': ['stack-allowed-images'] };

/** Library samples whose generator must report untestable, and why. */
const EXPECTED_UNTESTABLE: Record<string, RegExp> = { full_wildcard: /exempt by exemptImages \["\*"\]/ };

// ---------------------------------------------------------------------------

s.before(async () => {
  kube = await makeKube(testCluster().kubeconfigPath);
  for (const [ns, labels] of [
    [LIB_NS, {}],
    [STK_NS, { 'stacktic.io/namespace': STK_NS }],
    [BARE_NS, { 'stacktic.io/namespace': BARE_NS }],
  ] as const) {
    await create('/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns, labels } });
    await create(`/api/v1/namespaces/${ns}/serviceaccounts`, {
      apiVersion: 'v1',
      kind: 'ServiceAccount',
      metadata: { name: PROBE_SERVICE_ACCOUNT },
      automountServiceAccountToken: false,
    });
  }
  // STK_NS: a default-deny NetworkPolicy selecting every pod (RequireNetworkPolicy's coverage); BARE_NS has none.
  await create(`/apis/networking.k8s.io/v1/namespaces/${STK_NS}/networkpolicies`, {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'NetworkPolicy',
    metadata: { name: 'default-deny' },
    spec: { podSelector: {}, policyTypes: ['Ingress', 'Egress'] },
  });
  await create('/apis/syncset.gatekeeper.sh/v1alpha1/syncsets', {
    apiVersion: 'syncset.gatekeeper.sh/v1alpha1',
    kind: 'SyncSet',
    metadata: { name: SYNCSET },
    spec: { gvks: [{ group: 'networking.k8s.io', version: 'v1', kind: 'NetworkPolicy' }] },
  });

  await Promise.all(allTemplates.map((t) => create(templatePath(), t)));
  await Promise.all(
    allTemplates.map((t) =>
      eventually(`ConstraintTemplate ${t.metadata.name} to be created`, async () => {
        const r = await api('GET', templatePath(t.metadata.name));
        const st = (r.body as any)?.status;
        const errors = (st?.byPod ?? []).flatMap((p: any) => p.errors ?? []);
        if (errors.length) throw new Error(`template ${t.metadata.name} errors: ${JSON.stringify(errors)}`);
        return st?.created === true ? true : undefined;
      }),
    ),
  );
  // The constraint CRD is served only some time after the template is created.
  await Promise.all(
    allConstraintDocs.map((c) =>
      eventually(`the ${c.kind} CRD to accept constraint ${c.metadata.name}`, async () => {
        const r = await api('POST', constraintPath(c.kind), c);
        if (r.status === 201 || r.status === 200) return true;
        throw new Error(describe(r));
      }),
    ),
  );
  await Promise.all(
    allConstraintDocs.map((c) =>
      eventually(`constraint ${c.kind}/${c.metadata.name} to be enforced`, async () => {
        const r = await api('GET', constraintPath(c.kind, c.metadata.name));
        const byPod: any[] = (r.body as any)?.status?.byPod ?? [];
        const errors = byPod.flatMap((p) => p.errors ?? []);
        if (errors.length) throw new Error(`constraint errors: ${JSON.stringify(errors)}`);
        return byPod.length && byPod.every((p) => p.enforced === true) ? true : undefined;
      }),
    ),
  );
});

s.after(async () => {
  if (!kube) return;
  const quiet = (p: Promise<unknown>) => p.catch(() => undefined);
  await Promise.all(allConstraintDocs.map((c) => quiet(api('DELETE', constraintPath(c.kind, c.metadata.name)))));
  await Promise.all(allTemplates.map((t) => quiet(api('DELETE', templatePath(t.metadata.name)))));
  await quiet(api('DELETE', `/apis/syncset.gatekeeper.sh/v1alpha1/syncsets/${SYNCSET}`));
  for (const ns of [LIB_NS, STK_NS, BARE_NS]) await quiet(api('DELETE', `/api/v1/namespaces/${ns}`)); // stays Terminating without kube-controller-manager
  // Templates gone means their constraint CRDs and constraints are gone: nothing of ours is enforced any more.
  await quiet(
    eventually(
      'our ConstraintTemplates to be deleted',
      async () => {
        const left = await Promise.all(allTemplates.map(async (t) => (await api('GET', templatePath(t.metadata.name))).status !== 404));
        return left.some(Boolean) ? undefined : true;
      },
      60_000,
    ),
  );
});

// ---------------------------------------------------------------------------
// 1. gatekeeper-library

/** A library example, placed in the case's namespace and labelled for its case. */
function example(file: string, c: LibraryCase): KubeObject {
  const obj = readYaml(file) as KubeObject;
  obj.metadata.labels = { ...(obj.metadata.labels ?? {}), [CASE_LABEL]: c.id };
  if (!CLUSTER_SCOPED_KINDS.has(obj.kind)) obj.metadata.namespace = LIB_NS;
  return obj;
}

for (const c of libraryCases) {
  if (c.allowed.length + c.disallowed.length) {
    s(`library ${c.template}/${c.id}: example_allowed admitted, example_disallowed denied by [${c.constraint.name}]`, async () => {
      for (const f of c.allowed) await expectAdmitted(example(f, c), basename(f));
      for (const f of c.disallowed) await expectDenied(example(f, c), c.constraint.name, basename(f));
    });
  }

  s(`library ${c.template}/${c.id}: generated valid admitted, invalid denied by [${c.constraint.name}]`, async () => {
    const g = generatorFor(c.constraint.kind);
    assert.ok(g, `a generator for ${c.constraint.kind}`);
    const kind = g!.resourceKinds.find((k) => kindMatches(c.constraint.match, k));
    assert.ok(kind, `${c.constraint.kind} builds ${g!.resourceKinds.join(', ')}; the sample matches ${JSON.stringify(c.constraint.match.kinds)}`);
    const name = `opagen-${RUN}-${c.id}`
      .replace(/[^a-z0-9-]/g, '-')
      .slice(0, 55)
      .replace(/[^a-z0-9]+$/, '');
    const b = baseResource(kind!, name, LIB_NS, { [CASE_LABEL]: c.id })!;
    const { resource: valid, stable } = complyAll(b, [c.constraint]);
    assert.ok(stable);
    const invalid = g!.violate(valid, c.constraint);
    if (EXPECTED_UNTESTABLE[c.id]) {
      assert.ok('untestable' in invalid, `${c.id} should be untestable`);
      assert.match((invalid as { untestable: string }).untestable, EXPECTED_UNTESTABLE[c.id]);
      await expectAdmitted(valid, `${c.id}: valid ${kind}`); // the constraint exempts everything: nothing is denied
      const anyPod = structuredClone(valid);
      anyPod.spec.containers[0].securityContext.readOnlyRootFilesystem = false;
      await expectAdmitted(anyPod, `${c.id}: a writable root filesystem, exempt by "*"`);
      return;
    }
    assert.not.ok('untestable' in invalid, `unexpectedly untestable: ${JSON.stringify(invalid)}`);
    await expectAdmitted(valid, `${c.id}: valid ${kind}`);
    const bad = { ...(invalid as Resource), metadata: { ...(invalid as Resource).metadata, name: `${name}-x` } };
    const names = await expectDenied(bad, c.constraint.name, `${c.id}: invalid ${kind}`);
    assert.equal(names, [c.constraint.name], 'only this constraint is violated');
  });
}

// ---------------------------------------------------------------------------
// 2. Stacktic templates + demo constraints, all active together

function validFor(kind: string, name: string, ns: string): { resource: Resource; applied: string[] } {
  const b = baseResource(kind, name, CLUSTER_SCOPED_KINDS.has(kind) ? undefined : ns, {})!;
  const applicable = demo.filter((d) => kindMatches(d.match, kind));
  const { resource, stable } = complyAll(b, applicable);
  assert.ok(stable, `comply of ${applicable.map((a) => a.name).join(', ')} converges for a ${kind}`);
  return { resource, applied: applicable.map((a) => a.name) };
}

let counter = 0;
for (const c of demo) {
  const g = generatorFor(c.kind);
  if (c.kind === 'RequireNetworkPolicy') continue; // section 3
  s(`stacktic ${c.kind} [${c.name}]: for every kind it builds and matches, valid admitted, invalid denied by it alone`, async () => {
    assert.ok(g, `a generator for ${c.kind}`);
    const kinds = g!.resourceKinds.filter((k) => kindMatches(c.match, k));
    assert.ok(kinds.length > 0, `${c.kind}: no kind to test`);
    for (const kind of kinds) {
      const name = `opagen-${RUN}-${++counter}`;
      const { resource: valid } = validFor(kind, name, STK_NS);
      await expectAdmitted(valid, `${c.name}: valid ${kind}`);
      const invalid = g!.violate(valid, c);
      assert.not.ok('untestable' in invalid, `${c.name}/${kind}: ${JSON.stringify(invalid)}`);
      const bad = { ...(invalid as Resource), metadata: { ...(invalid as Resource).metadata, name: `${name}-x` } };
      const names = await expectDenied(bad, c.name, `${c.name}: invalid ${kind}`);
      assert.equal(names, [c.name, ...(SHARED_VIOLATIONS[c.name] ?? [])].sort(), `${c.name}/${kind}: constraints the invalid ${kind} violates`);
    }
  });
}

s('stacktic DisallowWildcardRBAC on ClusterRoles (test-only, label-scoped constraint)', async () => {
  const g = generatorFor('DisallowWildcardRBAC')!;
  const c = toConstraint(clusterRoleDoc);
  const valid = g.comply(baseResource('ClusterRole', `opagen-${RUN}-cr`, undefined, { [CASE_LABEL]: CLUSTERROLE_CASE })!, c);
  await expectAdmitted(valid, 'valid ClusterRole');
  const invalid = g.violate(valid, c) as Resource;
  const names = await expectDenied(
    { ...invalid, metadata: { ...invalid.metadata, name: `opagen-${RUN}-cr-x` } },
    CLUSTERROLE_CONSTRAINT,
    'wildcard ClusterRole',
  );
  assert.equal(names, [CLUSTERROLE_CONSTRAINT]);
});

s('stacktic templates: the documented edge rules hold in the real Gatekeeper', async () => {
  const n = () => `opagen-${RUN}-edge-${++counter}`;
  const pod = () => validFor('Pod', n(), STK_NS).resource;
  const denied = async (r: Resource, expected: string[], what: string) => assert.equal(await expectDenied(r, expected[0], what), [...expected].sort(), what);

  // images: digest-pinned passes; registry entries are path-boundary aware
  const pinned = pod();
  pinned.spec.containers[0].image = `registry.k8s.io/pause@sha256:${'0123456789abcdef'.repeat(4)}`;
  await expectAdmitted(pinned, 'a digest-pinned image');
  const lookalike = pod();
  lookalike.spec.containers[0].image = 'registry.k8s.io.evil.example/pause:3.10';
  await denied(lookalike, ['stack-allowed-images'], 'registry.k8s.io.evil.example is not registry.k8s.io');
  const untagged = pod();
  untagged.spec.containers[0].image = 'ghcr.io/stacktic/app';
  await denied(untagged, ['stack-no-dangerous-settings', 'stack-allowed-images'], 'an untagged image');

  // security context: container runAsNonRoot unset falls back to the pod's; allowPrivilegeEscalation must be explicit
  const podLevel = pod();
  delete podLevel.spec.containers[0].securityContext.runAsNonRoot;
  await expectAdmitted(podLevel, 'runAsNonRoot set on the pod only');
  const noApe = pod();
  delete noApe.spec.containers[0].securityContext.allowPrivilegeEscalation;
  await denied(noApe, ['stack-security-context', 'stack-no-dangerous-settings'], 'allowPrivilegeEscalation unset');
  const init = pod();
  init.spec.initContainers = [{ ...structuredClone(init.spec.containers[0]), name: 'init', livenessProbe: undefined, readinessProbe: undefined }];
  delete init.spec.initContainers[0].resources.limits.cpu;
  await denied(init, ['stack-resources'], 'an initContainer without a cpu limit');

  // service account: absent means default
  const noSa = pod();
  delete noSa.spec.serviceAccountName;
  await denied(noSa, ['stack-no-default-sa'], 'no serviceAccountName');

  // image signing: the pod template needs the label too
  const dep = validFor('Deployment', n(), STK_NS).resource;
  delete dep.spec.template.metadata.labels['stacktic.io/imageSigned'];
  await denied(dep, ['stack-images-signed'], 'a Deployment whose pod template is not labelled');

  // RBAC: a partial wildcard counts
  const role = validFor('Role', n(), STK_NS).resource;
  role.rules[0].resources = ['deployments/*'];
  await denied(role, ['stack-no-wildcard-rbac'], 'resources deployments/*');

  // NetworkPolicy peers
  const np = () => validFor('NetworkPolicy', n(), STK_NS).resource;
  const allNs = np();
  allNs.spec.egress.push({ to: [{ namespaceSelector: {} }], ports: [{ protocol: 'TCP', port: 443 }] });
  await denied(allNs, ['stack-no-wide-open-netpol'], 'an egress peer selecting every namespace');
  const noTo = np();
  noTo.spec.egress.push({ ports: [{ protocol: 'TCP', port: 443 }] });
  await denied(noTo, ['stack-no-wide-open-netpol'], 'an egress rule without peers');
  const scoped = np();
  scoped.spec.ingress.push({ from: [{ namespaceSelector: {}, podSelector: { matchLabels: { 'app.kubernetes.io/name': 'prometheus' } } }] });
  scoped.spec.egress.push({ to: [{ ipBlock: { cidr: '0.0.0.0/0' } }], ports: [{ protocol: 'TCP', port: 443 }] });
  await expectAdmitted(scoped, 'labelled pods of any namespace, and an ipBlock (not judged)');
});

// ---------------------------------------------------------------------------
// 3. RequireNetworkPolicy: audit-only for the scan, but the template works with synced NetworkPolicies

s(
  'stacktic RequireNetworkPolicy: audit-only for the scan; with NetworkPolicy sync, admitted where a policy selects the pod, denied where none does',
  async () => {
    const c = demo.find((d) => d.kind === 'RequireNetworkPolicy')!;
    const g = generatorFor('RequireNetworkPolicy')!;
    assert.match(g.auditOnly!(c)!, /cluster state/);
    const v = g.violate(g.comply(baseResource('Pod', 'x', STK_NS, {})!, c), c);
    assert.ok('untestable' in v);

    for (const kind of ['Pod', 'Deployment', 'CronJob']) {
      const covered = validFor(kind, `opagen-${RUN}-rnp-${kind.toLowerCase()}`, STK_NS).resource;
      // the SyncSet fills the inventory asynchronously: wait (bounded) until the pod counts as covered
      await eventually(`the ${kind} in ${STK_NS} to be admitted (NetworkPolicy synced into data.inventory)`, async () => {
        const r = await dryRunCreate(kube, covered);
        if (r.status < 300) return true;
        throw new Error(describe(r));
      });
      const uncovered = validFor(kind, `opagen-${RUN}-rnp-${kind.toLowerCase()}`, BARE_NS).resource;
      const names = await expectDenied(uncovered, c.name, `${kind} in ${BARE_NS} (no NetworkPolicy)`);
      assert.equal(names, [c.name]);
    }
  },
);

s.run();
