// The network scan's full mode on a REAL node (harness/node), for `npm run demo`: the stack's
// workloads run as real pods behind their Services, kube-router enforces the generated
// NetworkPolicies, and nmap runs inside the source pods (ephemeral containers) through the API
// server. Returns { ok: false, reason } without starting anything where the node cannot start
// (not root, binaries or images missing, kernel features missing): the caller then keeps the
// control-plane-only demo and prints the reason.
//
//   import { nodeNetworkDemo } from './node.ts';
//   const r = await nodeNetworkDemo({ metadataPath, log, damage });
//   if (r.ok) print(r.summary) else log(`real node not used: ${r.reason}`);
import { makeKube } from '../lib/kube/client.ts';
import { scanApp } from '../lib/scan/scaffold.ts';
import { loadStackMetadata } from '../lib/topology/stack-metadata.ts';
import { fullSettingsFromEnv, networkScan } from '../functions/network-scan/scan.ts';
import { nodePreflight, startNodeCluster } from '../harness/node/index.ts';
import { deployStack, waitStackReady, type StackOptions } from '../harness/node/stack.ts';

export interface NodeDemoOptions {
  /** The stack-metadata.yaml to deploy and scan. */
  metadataPath: string;
  log?: (line: string) => void;
  /** Deliberate damage: policies to leave out, extra objects (e.g. an allow-all), replicas. */
  damage?: StackOptions;
}

export type NodeDemoResult = { ok: true; status: number; report: any; summary: string; durationMs: number } | { ok: false; reason: string };

export async function nodeNetworkDemo(opts: NodeDemoOptions): Promise<NodeDemoResult> {
  const log = opts.log ?? (() => {});
  const why = nodePreflight();
  if (why) return { ok: false, reason: why };
  const t0 = Date.now();
  const nc = await startNodeCluster({ log: (l) => log(`  node: ${l}`) });
  try {
    const kube = await makeKube(nc.cp.kubeconfigPath);
    const topo = await loadStackMetadata({ path: opts.metadataPath, setting: 'STACK_METADATA' });
    const { running, policies } = await deployStack(kube, topo, opts.metadataPath, opts.damage);
    log(`  node: ${running.length} workloads deployed as real pods, ${policies} NetworkPolicies applied; waiting for readiness`);
    await waitStackReady(kube, running);
    const full = { ...fullSettingsFromEnv({ NETWORK_PROBE_IMAGE: nc.node.images.nmap }), hostTimeoutMs: 5000 };
    const app = scanApp(
      networkScan({ topology: { metadata: { path: opts.metadataPath, setting: 'STACK_METADATA' } }, kubeconfig: nc.cp.kubeconfigPath, full }),
    );
    const res = await app.request('/network_scan?mode=full');
    const report: any = await res.json();
    const p = report.summary?.probes;
    const summary = p
      ? `${p.tests} probes on a real node (kube-router enforcing): ${Object.entries(p.verdicts)
          .filter(([, v]) => v)
          .map(([k, v]) => `${k} ${v}`)
          .join(', ')}; cni_enforcing=${p.cni_enforcing}`
      : `HTTP ${res.status}: ${report.error?.message ?? ''}`;
    return { ok: true, status: res.status, report, summary, durationMs: Date.now() - t0 };
  } finally {
    await nc.stop();
  }
}
