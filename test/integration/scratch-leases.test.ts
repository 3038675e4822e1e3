// Issue 19 item 7: leases on what a run creates (lib/kube/scratch.ts), against the real API server.
// Victim runs are real child processes (test/support/scratch-victim.ts) creating a probe
// ServiceAccount and pod with a real 10-minute expiry (a scan's budget), a 1 s heartbeat and a
// 3 s lease (the defaults are 15 s and 45 s: the same mechanism, shorter so the test is quick).
//   - killed with SIGKILL, the next run sweeps them once the lease lapsed: within a minute of the
//     kill (here: seconds), not after the 10-minute expiry;
//   - two live runs side by side, each sweeping after its lease length has passed several times:
//     neither deletes the other's objects (heartbeats renew them).
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { apiGet } from '../../lib/kube/raw.ts';
import { HEARTBEAT_MS, LEASE_SECONDS, sweepExpired } from '../../lib/kube/scratch.ts';
import { HEARTBEAT_ANNOTATION, LEASE_ANNOTATION, MANAGED_BY_KEY, MANAGED_BY_VALUE, RUN_LABEL } from '../../lib/k8s/labels.ts';
import type { Kube } from '../../lib/kube/client.ts';
import { testCluster } from '../support/cluster.ts';
import { adminKube, apply, namespace, remove, waitFor } from '../support/k8s.ts';

const s = suite('scratch leases: killed runs swept within a minute, live runs never');
const rand = () => randomBytes(3).toString('hex');
const VICTIM = join(import.meta.dirname, '../support/scratch-victim.ts');
const SHORT = { ttlMs: 600_000, heartbeatMs: 1000, leaseSeconds: 3 };
const children: ChildProcess[] = [];
const namespaces: string[] = [];

async function ours(kube: Kube, plural: 'pods' | 'serviceaccounts', ns: string, run: string): Promise<any[]> {
  const res = await apiGet(kube, { verb: 'list', resource: plural, namespace: ns }, `/api/v1/namespaces/${ns}/${plural}`, {
    labelSelector: `${MANAGED_BY_KEY}=${MANAGED_BY_VALUE},${RUN_LABEL}=${run}`,
  });
  return res.items;
}

async function victim(ns: string, run: string, opts: Record<string, number>): Promise<{ child: ChildProcess; out: () => string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', VICTIM, testCluster().kubeconfigPath, ns, run, JSON.stringify(opts)], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  children.push(child);
  let out = '';
  child.stdout!.on('data', (c) => (out += c));
  await waitFor(`victim ${run} to create its objects`, async () => out.includes('ready'), 30_000, 100);
  return { child, out: () => out };
}

async function freshNamespace(): Promise<string> {
  const ns = `lease-${rand()}`;
  await apply(adminKube(), namespace(ns));
  namespaces.push(ns);
  return ns;
}

s.after(async () => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  for (const ns of namespaces) await remove(adminKube(), namespace(ns)).catch(() => undefined);
});

s("defaults: a killed run's lease lapses within a minute (heartbeat 15 s, lease 45 s)", () => {
  assert.ok(LEASE_SECONDS * 1000 < 60_000 && HEARTBEAT_MS * 3 <= LEASE_SECONDS * 1000, `${HEARTBEAT_MS} ms / ${LEASE_SECONDS} s`);
});

s('killed (SIGKILL) then a next run at once: swept as soon as the lease lapsed, long before the 10-minute expiry', async () => {
  const kube = adminKube();
  const ns = await freshNamespace();
  const run = `kill${rand()}`;
  const v = await victim(ns, run, SHORT);
  const pod = (await ours(kube, 'pods', ns, run))[0];
  assert.ok(pod.metadata.annotations[HEARTBEAT_ANNOTATION], 'the pod carries a heartbeat');
  assert.is(pod.metadata.annotations[LEASE_ANNOTATION], '3');
  // The heartbeat moves while the run lives.
  const first = pod.metadata.annotations[HEARTBEAT_ANNOTATION];
  await waitFor('a renewed heartbeat', async () => (await ours(kube, 'pods', ns, run))[0].metadata.annotations[HEARTBEAT_ANNOTATION] !== first, 5000, 200);
  v.child.kill('SIGKILL');
  await new Promise((r) => v.child.once('exit', r));
  const killedAt = Date.now();
  // The next run, at once: the lease may not have lapsed yet; it sweeps as soon as it has.
  let swept: { kind: string; namespace?: string; name: string }[] = [];
  await waitFor(
    "the next run to sweep the killed run's objects",
    async () => {
      const r = await sweepExpired(kube, { exceptRun: `next${rand()}` });
      assert.equal(r.errors, []);
      swept = swept.concat(r.deleted.filter((d) => d.namespace === ns));
      return swept.some((d) => d.kind === 'Pod') && swept.some((d) => d.kind === 'ServiceAccount');
    },
    60_000,
    500,
  );
  const after = Date.now() - killedAt;
  assert.ok(after < 60_000, `swept ${after} ms after the kill`);
  assert.ok(after < 10_000, `with a 3 s lease: ${after} ms`);
  assert.equal(await ours(kube, 'pods', ns, run), []);
  assert.equal(await ours(kube, 'serviceaccounts', ns, run), []);
});

s("two live runs side by side: each sweeps after several lease lengths, neither touches the other's objects", async () => {
  const kube = adminKube();
  const [nsA, nsB] = [await freshNamespace(), await freshNamespace()];
  const [runA, runB] = [`live${rand()}`, `live${rand()}`];
  // Each sweeps 8 s after it started: more than twice the 3 s lease since the other's objects were made.
  const [a, b] = await Promise.all([victim(nsA, runA, { ...SHORT, sweepAfterMs: 8000 }), victim(nsB, runB, { ...SHORT, sweepAfterMs: 8000 })]);
  await waitFor('both runs to sweep', async () => a.out().includes('swept') && b.out().includes('swept'), 30_000, 200);
  const result = (out: string) =>
    JSON.parse(/swept (.*)\n/.exec(out)![1]) as { deleted: { namespace?: string }[]; errors: unknown[]; renewals: { renewals: number; failures: number } };
  for (const [name, r, other] of [
    ['A', result(a.out()), nsB],
    ['B', result(b.out()), nsA],
  ] as const) {
    assert.equal(r.errors, [], `${name}: no errors`);
    assert.equal(
      r.deleted.filter((d) => d.namespace === other || d.namespace === nsA || d.namespace === nsB),
      [],
      `${name} deleted nothing of a live run`,
    );
    assert.ok(r.renewals.renewals >= 10 && r.renewals.failures === 0, `${name} renewed its heartbeats: ${JSON.stringify(r.renewals)}`);
  }
  for (const [ns, run] of [
    [nsA, runA],
    [nsB, runB],
  ]) {
    assert.is((await ours(kube, 'pods', ns, run)).length, 1, `${run}'s pod is still there`);
    assert.is((await ours(kube, 'serviceaccounts', ns, run)).length, 1, `${run}'s ServiceAccount is still there`);
  }
  // And the test's own sweep (a third run) leaves them too.
  const third = await sweepExpired(kube, { exceptRun: `third${rand()}` });
  assert.equal(
    third.deleted.filter((d) => d.namespace === nsA || d.namespace === nsB),
    [],
  );
  a.child.kill('SIGKILL');
  b.child.kill('SIGKILL');
});

s.run();
