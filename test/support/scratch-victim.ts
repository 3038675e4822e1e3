// A scan run that is killed: it creates a probe ServiceAccount and a probe pod through a
// ScratchRun with a 1 s expiry, says "ready", and waits to be SIGKILLed (bounded: 60 s).
// Used by test/integration/network-probe-pods.test.ts.
import { makeKube } from '../../lib/kube/client.ts';
import { ScratchRun } from '../../lib/kube/scratch.ts';
import { fallbackProbePod, PROBE_PURPOSE } from '../../functions/network-scan/probes/pod-specs.ts';

const [kubeconfig, ns, runId] = process.argv.slice(2);
const kube = await makeKube(kubeconfig);
const scratch = new ScratchRun(kube, { purpose: PROBE_PURPOSE, runId, ttlMs: 1000 });
const uid = await scratch.acquireServiceAccount(ns);
const pod = fallbackProbePod({ source: { namespace: ns, labels: { app: 'victim' } }, image: 'localhost/none:1', args: ['-V'], runId, deadlineSeconds: 60 });
pod.metadata.ownerReferences = [{ apiVersion: 'v1', kind: 'ServiceAccount', name: pod.spec.serviceAccountName, uid, controller: true }];
const res = await scratch.create(pod as never);
if (!res.object) throw new Error(`victim: create pod failed: ${res.status} ${res.message}`);
process.stdout.write('ready\n');
await new Promise((r) => setTimeout(r, 60_000));
