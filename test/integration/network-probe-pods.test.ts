// The in-cluster network probes against the REAL kube-apiserver (+ Gatekeeper) of the
// test control plane. There is no kubelet: pods are admitted and stored but never run,
// so what is verified here is everything up to running nmap — the ephemeral-container
// patch as the API server applies it, the fallback pod and ServiceAccount as admitted
// (also under the demo's Gatekeeper constraints), RBAC refusals, the timeout path, and
// that cleanup and the sweep leave nothing behind. nmap actually running in a pod and
// its log are only verifiable on a real cluster.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { randomBytes } from 'node:crypto';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type * as k8s from '@kubernetes/client-node';
import { makeKube, type Kube } from '../../lib/kube/client.ts';
import { apiGet, rawRequest, type KubeObject } from '../../lib/kube/raw.ts';
import { nmapArgs } from '../../functions/network-scan/nmap/nmap.ts';
import {
  CREATED_ANNOTATION,
  ephemeralProbeContainer,
  fallbackProbePod,
  PROBE_SELECTOR,
  RUN_LABEL,
  type ProbePod,
} from '../../functions/network-scan/probes/pod-specs.ts';
import { findSourcePod, probeWithEphemeral, probeWithPod } from '../../functions/network-scan/probes/cluster-probe.ts';
import { ScratchRun, sweepExpired } from '../../lib/kube/scratch.ts';
import { EXPIRES_ANNOTATION } from '../../lib/k8s/labels.ts';
import { testCluster } from '../support/cluster.ts';
import { installPolicies, yamlDir } from '../../harness/cluster/gatekeeper.ts';
import { adminKube, apply, namespace, remove, waitFor } from '../support/k8s.ts';

const rand = () => randomBytes(3).toString('hex');
const scratchOf = (kube: Kube, runId: string, ttlMs = 60_000) => new ScratchRun(kube, { purpose: 'network-probe', runId, ttlMs });
const IMAGE = 'ghcr.io/stacktic/nmap:7.93';
const args = nmapArgs([{ id: 't', host: 'minio.minio.svc.cluster.local', port: 9000, protocol: 'TCP' }], { hostTimeoutMs: 5000 });

async function listOurs(kube: Kube, plural: 'pods' | 'serviceaccounts', ns: string, extra = ''): Promise<any[]> {
  const res = await apiGet(kube, { verb: 'list', resource: plural, namespace: ns }, `/api/v1/namespaces/${ns}/${plural}`, {
    labelSelector: PROBE_SELECTOR + extra,
  });
  return res.items;
}

async function getPod(kube: Kube, ns: string, name: string): Promise<k8s.V1Pod> {
  return apiGet(kube, { verb: 'get', resource: 'pods', namespace: ns }, `/api/v1/namespaces/${ns}/pods/${name}`);
}

/** A plain pod standing in for a running pod of the source (it never runs: no kubelet). */
const plainPod = (ns: string, name: string, labels: Record<string, string>): KubeObject => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name, namespace: ns, labels },
  spec: { containers: [{ name: 'app', image: 'registry.k8s.io/pause:3.9' }] },
});

async function createPod(kube: Kube, pod: KubeObject | ProbePod): Promise<k8s.V1Pod> {
  const ns = pod.metadata.namespace!;
  const res = await rawRequest(kube, { verb: 'create', resource: 'pods', namespace: ns }, { method: 'POST', path: `/api/v1/namespaces/${ns}/pods`, body: pod });
  assert.is(res.status, 201, `create pod: ${JSON.stringify(res.body)}`);
  return res.body as k8s.V1Pod;
}

// ---------------------------------------------------------------------------------

const s = suite('network probe pods: real API server');
const NS = `probe-it-${rand()}`;
const RUN = `it${rand()}`;

s.before(async () => {
  await apply(adminKube(), namespace(NS));
});

s('the ephemeral-container patch is applied as built; without a kubelet the probe times out quickly with a clear error', async () => {
  const kube = adminKube();
  await apply(kube, plainPod(NS, 'source-a', { app: 'flowise' }));
  const c = ephemeralProbeContainer({ name: 'v4', image: IMAGE, args, runId: RUN });
  const t0 = Date.now();
  const out = await probeWithEphemeral(kube, { namespace: NS, name: 'source-a' }, c, { timeoutMs: 1500, pollMs: 200 });
  const took = Date.now() - t0;
  assert.ok('error' in out, JSON.stringify(out));
  if (!('error' in out)) return;
  assert.is(out.timedOut, true);
  assert.not.ok(out.forbidden);
  assert.match(out.error, `ephemeral container stack-scan-probe-${RUN}-v4 in pod ${NS}/source-a did not finish within 1500 ms`);
  assert.match(out.error, 'last state: no status yet');
  assert.ok(took >= 1500 && took < 6000, `took ${took} ms`);

  // What the API server stored: our container, as built (plus server defaults).
  const pod = await getPod(kube, NS, 'source-a');
  const stored = (pod.spec!.ephemeralContainers ?? []).find((e) => e.name === c.name);
  assert.ok(stored, 'ephemeral container in the pod spec');
  assert.is(stored!.image, IMAGE);
  assert.equal(stored!.command, ['nmap']);
  assert.equal(stored!.args, args);
  assert.equal(stored!.securityContext, c.securityContext);
  assert.is(stored!.terminationMessagePolicy, 'FallbackToLogsOnError');
  assert.is(pod.spec!.containers.length, 1, 'the regular containers are untouched');

  // The same name again: refused before patching (no stale log could be read).
  const again = await probeWithEphemeral(kube, { namespace: NS, name: 'source-a' }, c, { timeoutMs: 1500 });
  assert.ok('error' in again && /already has an ephemeral container named/.test(again.error), JSON.stringify(again));
  // A second probe of the run (other address family) gets its own container.
  const v6 = ephemeralProbeContainer({ name: 'v6', image: IMAGE, args, runId: RUN });
  const second = await probeWithEphemeral(kube, { namespace: NS, name: 'source-a' }, v6, { timeoutMs: 300, pollMs: 100 });
  assert.ok('error' in second && second.timedOut, JSON.stringify(second));
  // (strategic merge puts the new entry first: order is not part of the contract)
  assert.equal(((await getPod(kube, NS, 'source-a')).spec!.ephemeralContainers ?? []).map((e) => e.name).sort(), [c.name, v6.name]);
});

s('a pod that does not exist is a plain error, not "unsupported"', async () => {
  const out = await probeWithEphemeral(
    adminKube(),
    { namespace: NS, name: 'no-such-pod' },
    ephemeralProbeContainer({ name: 'x', image: IMAGE, args, runId: RUN }),
    { timeoutMs: 1000 },
  );
  assert.ok('error' in out, JSON.stringify(out));
  if (!('error' in out)) return;
  assert.match(out.error, `pod ${NS}/no-such-pod does not exist`);
  assert.not.ok(out.unsupported);
  assert.not.ok(out.forbidden);
});

s('RBAC without patch on pods/ephemeralcontainers (or create on serviceaccounts): forbidden, so the caller can fall back', async () => {
  const admin = adminKube();
  const user = `probe-limited-${rand()}`;
  await apply(admin, {
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'Role',
    metadata: { name: 'pod-reader', namespace: NS },
    rules: [{ apiGroups: [''], resources: ['pods'], verbs: ['get', 'list'] }],
  } as KubeObject);
  await apply(admin, {
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'RoleBinding',
    metadata: { name: `pod-reader-${user}`, namespace: NS },
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'pod-reader' },
    subjects: [{ kind: 'User', name: user, apiGroup: 'rbac.authorization.k8s.io' }],
  } as KubeObject);
  await apply(admin, plainPod(NS, 'source-b', { app: 'llama' }));
  const limited = await makeKube(await testCluster().userKubeconfig(user));
  // RBAC takes effect asynchronously (authorizer cache): wait until the user can read the pod.
  await waitFor(
    'the Role to take effect',
    async () =>
      (await rawRequest(limited, { verb: 'get', resource: 'pods' }, { method: 'GET', path: `/api/v1/namespaces/${NS}/pods/source-b` })).status === 200,
  );

  const out = await probeWithEphemeral(limited, { namespace: NS, name: 'source-b' }, ephemeralProbeContainer({ name: '', image: IMAGE, args, runId: RUN }), {
    timeoutMs: 5000,
  });
  assert.ok('error' in out && out.forbidden === true, JSON.stringify(out));
  if ('error' in out) assert.match(out.error, /refused \(403\).*pods\/ephemeralcontainers/);
  assert.is((await getPod(admin, NS, 'source-b')).spec!.ephemeralContainers, undefined, 'nothing was added');

  const pod = fallbackProbePod({ source: { namespace: NS, labels: { app: 'llama' } }, image: IMAGE, args, runId: RUN, deadlineSeconds: 60 });
  const viaPod = await probeWithPod(limited, scratchOf(limited, RUN), pod, { timeoutMs: 5000 });
  assert.ok('error' in viaPod && viaPod.forbidden === true, JSON.stringify(viaPod));
  if ('error' in viaPod) assert.match(viaPod.error, /serviceaccounts/);
  assert.is((await listOurs(admin, 'pods', NS)).length, 0);
});

s('findSourcePod: only Running and Ready pods, never our probe pods', async () => {
  const kube = adminKube();
  // No kubelet: a pod's status is only what the API server defaults (Pending).
  assert.is(await findSourcePod(kube, NS, { app: 'flowise' }), undefined);
  // Set the status a kubelet would report, through the real status subresource.
  const setStatus = async (name: string, ready: boolean) => {
    const cur = await getPod(kube, NS, name);
    const status = { phase: 'Running', podIP: '10.244.0.7', conditions: [{ type: 'Ready', status: ready ? 'True' : 'False' }] };
    const res = await rawRequest(
      kube,
      { verb: 'update', resource: 'pods/status', namespace: NS },
      { method: 'PUT', path: `/api/v1/namespaces/${NS}/pods/${name}/status`, body: { ...cur, status } },
    );
    assert.is(res.status, 200, JSON.stringify(res.body));
  };
  await apply(kube, plainPod(NS, 'source-c', { app: 'qdrant', tier: 'db' }));
  await setStatus('source-c', false);
  assert.is(await findSourcePod(kube, NS, { app: 'qdrant' }), undefined, 'not Ready');
  await setStatus('source-c', true);
  // One of our probe pods with the same labels, "Running and Ready": ignored.
  const probePod = fallbackProbePod({ source: { namespace: NS, labels: { app: 'qdrant', tier: 'db' } }, image: IMAGE, args, runId: RUN, deadlineSeconds: 60 });
  probePod.metadata.name = 'aaa-probe'; // sorts first
  const probe = await createPod(kube, probePod);
  await setStatus(probe.metadata!.name!, true);
  try {
    const found = await findSourcePod(kube, NS, { app: 'qdrant', tier: 'db' });
    assert.ok(found, 'found');
    assert.is(found!.name, 'source-c');
    assert.is(found!.namespace, NS);
    assert.is(found!.podIP, '10.244.0.7');
    assert.equal(found!.labels, { app: 'qdrant', tier: 'db' });
    assert.is(found!.hostNetwork, false);
  } finally {
    await remove(kube, { apiVersion: 'v1', kind: 'Pod', metadata: { name: probe.metadata!.name!, namespace: NS } });
  }
});

s('the fallback pod is admitted with the spec as built (read back)', async () => {
  const kube = adminKube();
  const built = fallbackProbePod({
    source: { namespace: NS, labels: { app: 'flowise', 'app.kubernetes.io/name': 'flowise', 'pod-template-hash': '7d9c6b5f4' }, name: 'flowise-7d9c6b5f4-x' },
    image: IMAGE,
    args,
    runId: RUN,
    deadlineSeconds: 45,
  });
  const created = await createPod(kube, built);
  try {
    const p = await getPod(kube, NS, created.metadata!.name!);
    assert.ok(p.metadata!.name!.startsWith(`stack-scan-probe-${RUN}-`));
    assert.equal(p.metadata!.labels, built.metadata.labels);
    assert.not.ok('pod-template-hash' in p.metadata!.labels!);
    assert.is(p.metadata!.annotations!['stack-scan.io/stripped-labels'], 'pod-template-hash');
    const sp = p.spec!;
    assert.is(sp.activeDeadlineSeconds, 45);
    assert.is(sp.restartPolicy, 'Never');
    assert.is(sp.automountServiceAccountToken, false);
    assert.is(sp.serviceAccountName, 'stack-scan-probe');
    assert.equal(sp.securityContext, built.spec.securityContext);
    const c = sp.containers[0];
    const b = built.spec.containers[0];
    assert.equal(c.command, ['nmap']);
    assert.equal(c.args, args);
    assert.equal(c.securityContext, b.securityContext);
    assert.equal(c.resources, b.resources);
    assert.equal(c.readinessProbe!.exec, { command: ['false'] });
    assert.is(c.livenessProbe!.initialDelaySeconds, 45 + 60);
  } finally {
    await remove(kube, { apiVersion: 'v1', kind: 'Pod', metadata: { name: created.metadata!.name!, namespace: NS } });
  }
});

s('probeWithPod without a kubelet: times out quickly with a clear error; pod and ServiceAccount existed as intended and are gone after', async () => {
  const kube = adminKube();
  const run = `tp${rand()}`;
  const pod = fallbackProbePod({ source: { namespace: NS, labels: { app: 'minio' } }, image: IMAGE, args, runId: run, deadlineSeconds: 60 });
  const t0 = Date.now();
  const probing = probeWithPod(kube, scratchOf(kube, run), pod, { timeoutMs: 2500, pollMs: 200 });
  // While it runs: the pod exists, owned by (hence never adopted by anything but) our ServiceAccount.
  const seen = await waitFor('the probe pod', async () => (await listOurs(kube, 'pods', NS, `,${RUN_LABEL}=${run}`))[0], 2500, 50);
  const sa = (await listOurs(kube, 'serviceaccounts', NS, `,${RUN_LABEL}=${run}`))[0];
  const out = await probing;
  const took = Date.now() - t0;

  assert.ok(sa, 'the ServiceAccount existed during the probe');
  assert.is(sa.metadata.name, 'stack-scan-probe');
  assert.is(sa.automountServiceAccountToken, false);
  assert.ok(sa.metadata.annotations[CREATED_ANNOTATION]);
  assert.ok(Date.parse(sa.metadata.annotations[EXPIRES_ANNOTATION]) > Date.now(), 'the ServiceAccount carries an expiry');
  assert.ok(Date.parse(seen.metadata.annotations[EXPIRES_ANNOTATION]) > Date.now(), 'the pod carries an expiry');
  assert.equal(seen.metadata.ownerReferences, [{ apiVersion: 'v1', kind: 'ServiceAccount', name: 'stack-scan-probe', uid: sa.metadata.uid, controller: true }]);
  assert.ok(seen.metadata.annotations[CREATED_ANNOTATION]);

  assert.ok('error' in out, JSON.stringify(out));
  if (!('error' in out)) return;
  assert.is(out.timedOut, true);
  assert.match(out.error, `probe pod ${NS}/${seen.metadata.name} did not finish within 2500 ms (last state: not scheduled)`);
  assert.is(out.cleanupError, undefined);
  assert.ok(took < 8000, `took ${took} ms`);
  assert.equal(await listOurs(kube, 'pods', NS, `,${RUN_LABEL}=${run}`), []);
  assert.equal(await listOurs(kube, 'serviceaccounts', NS, `,${RUN_LABEL}=${run}`), []);
});

s('concurrent probes in one namespace share the ServiceAccount; the last one deletes it', async () => {
  const kube = adminKube();
  const run = `cc${rand()}`;
  const mk = (app: string) => fallbackProbePod({ source: { namespace: NS, labels: { app } }, image: IMAGE, args, runId: run, deadlineSeconds: 60 });
  const scratch = scratchOf(kube, run);
  const outs = await Promise.all([
    probeWithPod(kube, scratch, mk('a'), { timeoutMs: 800, pollMs: 100 }),
    probeWithPod(kube, scratch, mk('b'), { timeoutMs: 1600, pollMs: 100 }),
    probeWithPod(kube, scratch, mk('c'), { timeoutMs: 2400, pollMs: 100 }),
  ]);
  assert.equal(await scratch.cleanup(), [], 'nothing left to clean up');
  for (const o of outs) assert.ok('error' in o && o.timedOut && !o.cleanupError, JSON.stringify(o));
  assert.equal(await listOurs(kube, 'pods', NS, `,${RUN_LABEL}=${run}`), []);
  assert.equal(await listOurs(kube, 'serviceaccounts', NS, `,${RUN_LABEL}=${run}`), []);
});

s('sweepExpired: removes what expired (also objects from before expiries existed), spares the current run and the unexpired', async () => {
  const kube = adminKube();
  const old = `old${rand()}`;
  const cur = `cur${rand()}`;
  const hourAgo = new Date(Date.now() - 3600_000).toISOString();
  const stamp = (p: ProbePod, expires: string | undefined, created = hourAgo) => {
    p.metadata.annotations[CREATED_ANNOTATION] = created;
    if (expires) p.metadata.annotations[EXPIRES_ANNOTATION] = expires;
    return p;
  };
  const mk = (runId: string) => fallbackProbePod({ source: { namespace: NS, labels: { app: 'redis' } }, image: IMAGE, args, runId, deadlineSeconds: 60 });
  await createPod(kube, stamp(mk(old), hourAgo));
  await apply(kube, {
    apiVersion: 'v1',
    kind: 'ServiceAccount',
    metadata: {
      name: `sa-${old}`,
      namespace: NS,
      labels: { ...mk(old).metadata.labels },
      annotations: { [CREATED_ANNOTATION]: hourAgo, [EXPIRES_ANNOTATION]: hourAgo },
    },
  });
  const legacy = `legacy${rand()}`;
  await createPod(kube, stamp(mk(legacy), undefined));
  await createPod(kube, stamp(mk(cur), hourAgo));
  const young = `young${rand()}`;
  await createPod(kube, stamp(mk(young), new Date(Date.now() + 600_000).toISOString(), new Date().toISOString()));

  const first = await sweepExpired(kube, { exceptRun: cur });
  assert.equal(first.errors, []);
  const mine = (r: typeof first) => r.deleted.filter((d) => d.namespace === NS);
  assert.equal(
    mine(first).map((d) => d.kind),
    ['Pod', 'Pod', 'ServiceAccount'],
  );
  assert.equal(await listOurs(kube, 'pods', NS, `,${RUN_LABEL}=${old}`), []);
  assert.equal(await listOurs(kube, 'pods', NS, `,${RUN_LABEL}=${legacy}`), []);
  assert.equal(await listOurs(kube, 'serviceaccounts', NS, `,${RUN_LABEL}=${old}`), []);
  assert.is((await listOurs(kube, 'pods', NS, `,${RUN_LABEL}=${cur}`)).length, 1, 'the current run is spared');
  assert.is((await listOurs(kube, 'pods', NS, `,${RUN_LABEL}=${young}`)).length, 1, 'the unexpired pod is spared');

  // An hour later, with no run in progress, everything of ours has expired.
  const later = await sweepExpired(kube, { now: Date.now() + 3600_000 });
  assert.equal(later.errors, []);
  assert.equal(
    mine(later).map((d) => d.kind),
    ['Pod', 'Pod'],
  );
  assert.equal(await listOurs(kube, 'pods', NS), []);
  assert.equal(await listOurs(kube, 'serviceaccounts', NS), []);
});

s('a run killed with SIGKILL leaves labelled, expiring objects; the next run sweeps them all', async () => {
  const kube = adminKube();
  const run = `kill${rand()}`;
  const script = join(import.meta.dirname, '../support/scratch-victim.ts');
  const child = spawn(process.execPath, ['--import', 'tsx', script, testCluster().kubeconfigPath, NS, run], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.on('data', (c) => (out += c));
  await waitFor('the victim to create its objects', async () => out.includes('ready'), 30_000, 100);
  child.kill('SIGKILL');
  await new Promise((r) => child.once('exit', r));
  assert.is((await listOurs(kube, 'pods', NS, `,${RUN_LABEL}=${run}`)).length, 1, 'the killed run left its pod');
  assert.is((await listOurs(kube, 'serviceaccounts', NS, `,${RUN_LABEL}=${run}`)).length, 1, 'and its ServiceAccount');
  // Its objects expire after the victim's own timeout (1 s); the next run's sweep removes them.
  await new Promise((r) => setTimeout(r, 1200));
  const next = await sweepExpired(kube, { exceptRun: `next${rand()}` });
  assert.equal(next.errors, []);
  assert.ok(
    next.deleted.some((d) => d.kind === 'Pod' && d.namespace === NS),
    JSON.stringify(next.deleted),
  );
  assert.equal(await listOurs(kube, 'pods', NS, `,${RUN_LABEL}=${run}`), []);
  assert.equal(await listOurs(kube, 'serviceaccounts', NS, `,${RUN_LABEL}=${run}`), []);
});

s('a sweep without cluster-wide list rights reports the 403 instead of throwing', async () => {
  const limited = await makeKube(await testCluster().userKubeconfig(`nobody-${rand()}`));
  const out = await sweepExpired(limited);
  assert.equal(out.deleted, []);
  assert.equal(
    out.errors.map((e) => [e.step, e.status]),
    [
      ['sweep: list Pods of earlier runs', 403],
      ['sweep: list ServiceAccounts of earlier runs', 403],
    ],
  );
});

s.run();

// ---------------------------------------------------------------------------------
// The Stacktic templates and the demo's Gatekeeper constraints applied for real.

const DEMO = {
  templates: join(import.meta.dirname, '../../functions/opa-scan/stacktic/templates'),
  constraints: join(import.meta.dirname, '../../demo/gatekeeper/constraints'),
};
const g = suite('network probe pods: admitted by the demo Gatekeeper constraints');
const GNS = `probe-gk-${rand()}`;
const GRUN = `gk${rand()}`;
// A source pod of the stack as the constraints require it (labels the source itself must carry).
const SOURCE_LABELS: Record<string, string> = {
  'app.kubernetes.io/name': 'flowise',
  'app.kubernetes.io/part-of': 'llama-stack',
  'stacktic.io/imageSigned': 'true',
  app: 'flowise',
  'pod-template-hash': '7d9c6b5f4',
};
const SYNCSET = {
  apiVersion: 'syncset.gatekeeper.sh/v1alpha1',
  kind: 'SyncSet',
  metadata: { name: `stack-scan-probe-it-${GRUN}` },
  spec: { gvks: [{ group: 'networking.k8s.io', version: 'v1', kind: 'NetworkPolicy' }] },
};
let templates: KubeObject[] = [];
let constraints: KubeObject[] = [];
const preexisting = new Set<string>(); // templates and constraints that were there before: left in place

// With the settle init container, as the cluster runner builds it: every container is admitted.
const gkPod = (labels = SOURCE_LABELS) =>
  fallbackProbePod({ source: { namespace: GNS, labels }, image: IMAGE, args, runId: GRUN, deadlineSeconds: 60, settleMs: 3000 });

async function dryRun(kube: Kube, pod: ProbePod) {
  return rawRequest(
    kube,
    { verb: 'create (dry-run)', resource: 'pods', namespace: GNS },
    { method: 'POST', path: `/api/v1/namespaces/${GNS}/pods`, query: { dryRun: 'All' }, body: pod },
  );
}

g.before(async () => {
  // The demo policies are written by another engineer: fail with the reason if they are absent.
  for (const d of [DEMO.templates, DEMO.constraints]) {
    if (!existsSync(d)) throw new Error(`the demo Gatekeeper policies are missing: ${d} does not exist`);
  }
  templates = yamlDir(DEMO.templates);
  constraints = yamlDir(DEMO.constraints);
  assert.ok(templates.length > 0 && constraints.length > 0, 'demo templates and constraints present');
  const kube = adminKube();
  for (const o of [...templates, ...constraints]) {
    const path =
      o.kind === 'ConstraintTemplate'
        ? `/apis/templates.gatekeeper.sh/v1/constrainttemplates/${o.metadata.name}`
        : `/apis/constraints.gatekeeper.sh/v1beta1/${o.kind.toLowerCase()}/${o.metadata.name}`;
    const res = await rawRequest(kube, { verb: 'get', resource: o.kind }, { method: 'GET', path });
    if (res.status === 200) preexisting.add(`${o.kind}/${o.metadata.name}`);
  }
  // RequireNetworkPolicy reads NetworkPolicies from Gatekeeper's inventory: sync them.
  const ss = await rawRequest(
    kube,
    { verb: 'create', resource: 'syncsets.syncset.gatekeeper.sh' },
    { method: 'POST', path: '/apis/syncset.gatekeeper.sh/v1alpha1/syncsets', body: SYNCSET },
  );
  assert.ok(ss.status === 201 || ss.status === 409, `SyncSet: ${JSON.stringify(ss.body)}`);
  await apply(kube, namespace(GNS, { 'stacktic.io/namespace': GNS }));
  // The policy the source's pods need anyway (RequireNetworkPolicy); the probe pod, with the source's labels, is selected by it too.
  await apply(kube, {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'NetworkPolicy',
    metadata: { name: 'flowise-default', namespace: GNS },
    spec: { podSelector: { matchLabels: { 'app.kubernetes.io/name': 'flowise' } }, policyTypes: ['Ingress'] },
  } as KubeObject);
  await installPolicies(kube, templates, constraints, 90_000);
  // Wait (bounded) until NetworkPolicies are in Gatekeeper's inventory: until then RequireNetworkPolicy denies every stack pod.
  await waitFor(
    'NetworkPolicies synced into Gatekeeper (the dry-run no longer fails for lack of one)',
    async () => {
      const res = await dryRun(kube, gkPod());
      return !JSON.stringify(res.body).includes('no NetworkPolicy in namespace');
    },
    60_000,
    500,
  );
});

g.after(async () => {
  const kube = adminKube();
  const ours = (o: KubeObject) => !preexisting.has(`${o.kind}/${o.metadata.name}`);
  for (const c of constraints.filter(ours)) await remove(kube, c);
  for (const t of templates.filter(ours)) await remove(kube, t);
  await rawRequest(
    kube,
    { verb: 'delete', resource: 'syncsets.syncset.gatekeeper.sh' },
    { method: 'DELETE', path: `/apis/syncset.gatekeeper.sh/v1alpha1/syncsets/${SYNCSET.metadata.name}` },
  );
  // Their constraint kinds go with the templates; wait so later suites start without them.
  await waitFor(
    'the demo templates removed',
    async () => {
      for (const t of templates.filter(ours)) {
        const res = await rawRequest(
          kube,
          { verb: 'get', resource: 'constrainttemplates' },
          { method: 'GET', path: `/apis/templates.gatekeeper.sh/v1/constrainttemplates/${t.metadata.name}` },
        );
        if (res.status !== 404) return false;
      }
      return true;
    },
    60_000,
  );
});

g('every constraint is enforced, and each denies what it should (so the admission below is meaningful)', async () => {
  const kube = adminKube();
  for (const c of constraints) {
    const cur = await apiGet(
      kube,
      { verb: 'get', resource: 'constraints' },
      `/apis/constraints.gatekeeper.sh/v1beta1/${c.kind.toLowerCase()}/${c.metadata.name}`,
    );
    assert.is(cur.spec.enforcementAction ?? 'deny', 'deny', c.metadata.name);
    assert.ok(
      cur.status.byPod.every((p: any) => p.enforced),
      `${c.metadata.name} enforced`,
    );
  }
  // Negative controls: the same probe pod without a label the source carries, or with a :latest image.
  const { 'stacktic.io/imageSigned': _signed, ...unsigned } = SOURCE_LABELS;
  const denied = await dryRun(kube, gkPod(unsigned));
  assert.is(denied.status, 403, JSON.stringify(denied.body));
  assert.match(JSON.stringify(denied.body), 'stack-images-signed');
  const latest = gkPod();
  latest.spec.containers[0].image = 'ghcr.io/stacktic/nmap:latest';
  const deniedLatest = await dryRun(kube, latest);
  assert.is(deniedLatest.status, 403);
  assert.match(JSON.stringify(deniedLatest.body), 'stack-allowed-images');
});

g('the fallback pod (and its ServiceAccount) are admitted: no denial', async () => {
  const kube = adminKube();
  const res = await dryRun(kube, gkPod());
  assert.is(res.status, 201, `denied: ${JSON.stringify(res.body)}`);
  assert.equal(res.warnings, []);
  // For real, through probeWithPod: admission passes, then the (kubelet-less) timeout.
  const out = await probeWithPod(kube, scratchOf(kube, `gk${rand()}`), gkPod(), { timeoutMs: 1500, pollMs: 200 });
  assert.ok('error' in out && out.timedOut === true && !out.forbidden, JSON.stringify(out));
  assert.equal(await listOurs(kube, 'pods', GNS), []);
  assert.equal(await listOurs(kube, 'serviceaccounts', GNS), []);
});

g('a probe pod refused by admission is reported as a denial naming the constraints (probes UNDECIDED), not as an internal error', async () => {
  const kube = adminKube();
  const { 'stacktic.io/imageSigned': _signed, ...unsigned } = SOURCE_LABELS;
  const out = await probeWithPod(kube, scratchOf(kube, `gd${rand()}`), gkPod(unsigned), { timeoutMs: 1500, pollMs: 200 });
  assert.ok('error' in out, JSON.stringify(out));
  if (!('error' in out)) return;
  assert.ok(out.denial, JSON.stringify(out));
  assert.ok(
    out.denial!.constraints.some((c) => c.name === 'stack-images-signed'),
    JSON.stringify(out.denial),
  );
  assert.match(out.error, 'refused by admission: [stack-images-signed]');
  assert.not.ok(out.forbidden, 'a denial is not an RBAC refusal: no fallback loop');
  assert.equal(await listOurs(kube, 'pods', GNS), []);
  assert.equal(await listOurs(kube, 'serviceaccounts', GNS), [], 'the ServiceAccount is released after a denial too');
});

g('the ephemeral probe container is admitted into a stack pod; a non-hardened one is denied (forbidden → fallback)', async () => {
  const kube = adminKube();
  // A stack pod that passes the constraints stands in for the source's pod.
  const source = await createPod(kube, { ...gkPod(), metadata: { ...gkPod().metadata, generateName: undefined, name: 'flowise-source' } } as ProbePod);
  const ref = { namespace: GNS, name: source.metadata!.name! };
  try {
    const ok = await probeWithEphemeral(kube, ref, ephemeralProbeContainer({ name: 'v4', image: IMAGE, args, runId: GRUN }), { timeoutMs: 1000, pollMs: 200 });
    assert.ok('error' in ok && ok.timedOut === true && !ok.forbidden, JSON.stringify(ok));
    const bad = { ...ephemeralProbeContainer({ name: 'bad', image: 'ghcr.io/stacktic/nmap:latest', args, runId: GRUN }), securityContext: {} };
    const denied = await probeWithEphemeral(kube, ref, bad, { timeoutMs: 1000 });
    assert.ok('error' in denied && denied.forbidden === true, JSON.stringify(denied));
    if ('error' in denied) {
      assert.match(denied.error, 'admission webhook "validation.gatekeeper.sh" denied the request');
      assert.match(denied.error, 'stack-allowed-images');
      assert.match(denied.error, 'stack-security-context');
    }
    const names = ((await getPod(kube, GNS, ref.name)).spec!.ephemeralContainers ?? []).map((e) => e.name);
    assert.equal(names, [`stack-scan-probe-${GRUN}-v4`]);
  } finally {
    await remove(kube, { apiVersion: 'v1', kind: 'Pod', metadata: { name: ref.name, namespace: GNS } });
  }
  assert.equal(await listOurs(kube, 'pods', GNS), []);
});

g.run();
