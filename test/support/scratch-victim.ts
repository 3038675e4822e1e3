// A scan run that is killed: it creates a probe ServiceAccount and a probe pod through a
// ScratchRun (by default with a 1 s expiry), says "ready", and waits to be SIGKILLed (bounded: 60 s).
// Used by test/integration/network-probe-pods.test.ts and scratch-leases.test.ts.
// Optional 4th argument, JSON: { ttlMs, heartbeatMs, leaseSeconds, sweepAfterMs } — a live run with
// a real expiry and a short lease; with sweepAfterMs it sweeps (as a next run would) after that
// long and prints `swept <json of deleted objects>`.
import { makeKube } from '../../lib/kube/client.ts';
import { ScratchRun, sweepExpired } from '../../lib/kube/scratch.ts';
import { fallbackProbePod, PROBE_PURPOSE } from '../../functions/network-scan/probes/pod-specs.ts';

const [kubeconfig, ns, runId, rawOpts] = process.argv.slice(2);
const opts = rawOpts ? (JSON.parse(rawOpts) as { ttlMs?: number; heartbeatMs?: number; leaseSeconds?: number; sweepAfterMs?: number }) : {};
const kube = await makeKube(kubeconfig);
const scratch = new ScratchRun(kube, {
  purpose: PROBE_PURPOSE,
  runId,
  ttlMs: opts.ttlMs ?? 1000,
  heartbeatMs: opts.heartbeatMs,
  leaseSeconds: opts.leaseSeconds,
});
const uid = await scratch.acquireServiceAccount(ns);
const pod = fallbackProbePod({ source: { namespace: ns, labels: { app: 'victim' } }, image: 'localhost/none:1', args: ['-V'], runId, deadlineSeconds: 60 });
pod.metadata.ownerReferences = [{ apiVersion: 'v1', kind: 'ServiceAccount', name: pod.spec.serviceAccountName, uid, controller: true }];
const res = await scratch.create(pod as never);
if (!res.object) throw new Error(`victim: create pod failed: ${res.status} ${res.message}`);
process.stdout.write('ready\n');
if (opts.sweepAfterMs !== undefined) {
  await new Promise((r) => setTimeout(r, opts.sweepAfterMs));
  const swept = await sweepExpired(kube, { exceptRun: runId });
  process.stdout.write(`swept ${JSON.stringify({ deleted: swept.deleted, errors: swept.errors, renewals: scratch.leaseStats })}\n`);
}
await new Promise((r) => setTimeout(r, 60_000));
