/**
 * Full network mode on the REAL node (harness/node), test stack test/fixtures/node/stack.yaml:
 * the scan's wall time vs the slowest single source's probe (one nmap run, from
 * results.probe_sources[].duration_ms, which includes creating the ephemeral container or
 * probe pod and reading its log through the API server). Goal: wall ≤ 1.5× the slowest source.
 * Skips with the reason where the node cannot start (not root, binaries missing, …).
 */
import './scan-env.ts';
import { join } from 'node:path';
import { makeKube } from '../lib/kube/client.ts';
import { scanApp } from '../lib/scan/scaffold.ts';
import { loadStackMetadata } from '../lib/topology/stack-metadata.ts';
import { fullSettingsFromEnv, networkScan } from '../functions/network-scan/scan.ts';
import { nodePreflight, startNodeCluster } from '../harness/node/index.ts';
import { deployStack, waitStackReady } from '../harness/node/stack.ts';

const STACK = join(import.meta.dirname, '../test/fixtures/node/stack.yaml');

export async function main(): Promise<{ wallMs: number; slowestMs: number; ratio: number } | undefined> {
  const why = nodePreflight();
  if (why) {
    console.log(`skipped: ${why}`);
    return undefined;
  }
  const nc = await startNodeCluster();
  try {
    const kube = await makeKube(nc.cp.kubeconfigPath);
    const topo = await loadStackMetadata({ path: STACK, setting: 'STACK_METADATA' });
    const { running } = await deployStack(kube, topo, STACK);
    await waitStackReady(kube, running);
    const full = { ...fullSettingsFromEnv({ NETWORK_PROBE_IMAGE: nc.node.images.nmap }), hostTimeoutMs: 5000 };
    const app = scanApp(networkScan({ topology: { metadata: { path: STACK, setting: 'STACK_METADATA' } }, kubeconfig: nc.cp.kubeconfigPath, full }));
    // One warm-up run (first ephemeral container per pod, image already imported), then the measured run.
    await (await app.request('/network_scan?mode=full')).json();
    const t0 = performance.now();
    const body: any = await (await app.request('/network_scan?mode=full')).json();
    const wallMs = performance.now() - t0;
    const slowestMs = Math.max(...body.results.probe_sources.map((s: { duration_ms: number }) => s.duration_ms));
    const ratio = wallMs / slowestMs;
    console.log(
      `${body.summary.probes.tests} probes from ${body.results.probe_sources.length} sources: wall ${wallMs.toFixed(0)} ms, slowest source ` +
        `${slowestMs} ms, ratio ${ratio.toFixed(2)}× (goal ≤ 1.5×)`,
    );
    return { wallMs, slowestMs, ratio };
  } finally {
    await nc.stop();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await main();
