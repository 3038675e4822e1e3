/**
 * Kubescape light-mode benchmark on the demo stack (demo/kubescape/, 5 namespaces)
 * against the real kubescape and a local control plane. Strategies for the
 * per-namespace scores, each measured in the same run as the seed's way (one
 * kubescape invocation per namespace, one after another):
 *   split               one run over the stack's namespaces, split by namespace
 *   per-namespace ×N    one run per namespace, N at a time (N = 2, 3 (the default), 4)
 * Each is light mode end to end (runScan), median of `runs`; the scores of every
 * strategy must be identical to the seed's. Goal: light ≤ 0.6× the seed's way.
 */
import './scan-env.ts';
import { makeKube } from '../lib/kube/client.ts';
import { runScan } from '../lib/scan/scaffold.ts';
import { kubescapeScan } from '../functions/kubescape-scan/scan.ts';
import { BUNDLED_ARTIFACTS_DIR, defaultKubescapeBin, type KubescapeSettings, type Strategy } from '../functions/kubescape-scan/settings.ts';
import { startControlPlane } from '../harness/cluster/index.ts';
import { DEMO_METADATA, installDemoStack } from '../demo/kubescape/stack.ts';
import { median } from './stats.ts';

export interface KubescapeBenchRow {
  strategy: string;
  kubescapeRuns: number;
  medianMs: number;
  ratioToSeed: number;
  sameScores: boolean;
  peakRssMb?: number;
}

export async function main(runs = 3): Promise<KubescapeBenchRow[]> {
  const bin = defaultKubescapeBin();
  if (bin === 'kubescape') console.warn('kubescape: using `kubescape` from PATH (or missing: bash harness/build.sh kubescape)');
  const cp = await startControlPlane({ gatekeeper: false });
  try {
    await installDemoStack(await makeKube(cp.kubeconfigPath));
    const base: Omit<KubescapeSettings, 'strategy' | 'concurrency'> = {
      topology: { metadata: { path: DEMO_METADATA, setting: 'STACK_METADATA' } },
      kubeconfig: cp.kubeconfigPath,
      bin,
      artifactsDir: BUNDLED_ARTIFACTS_DIR,
      runTimeoutMs: 300_000,
      thresholds: { nsa: 70, mitre: 60 },
      clusterScope: false,
    };
    const strategies: [string, Strategy, number][] = [
      ['seed (per-namespace, sequential)', 'per-namespace', 1],
      ['split (one run, split by namespace)', 'split', 1],
      ['per-namespace ×2', 'per-namespace', 2],
      ['per-namespace ×3 (default)', 'per-namespace', 3],
      ['per-namespace ×4', 'per-namespace', 4],
    ];
    const times = new Map<string, number[]>();
    const scores = new Map<string, string>();
    const kRuns = new Map<string, number>();
    // Interleaved rounds, so machine load drifts hit every strategy alike.
    for (let i = 0; i < runs; i++) {
      for (const [label, strategy, concurrency] of strategies) {
        const t0 = performance.now();
        const r: any = await runScan(kubescapeScan({ ...base, strategy, concurrency }), 'light');
        const ms = performance.now() - t0;
        if (r.errors.length) throw new Error(`${label}: ${JSON.stringify(r.errors)}`);
        times.set(label, [...(times.get(label) ?? []), ms]);
        scores.set(label, JSON.stringify(r.results.namespaces.map((x: any) => [x.namespace, x.nsa, x.mitre])));
        kRuns.set(label, r.summary.kubescape_runs);
      }
    }
    const seedLabel = strategies[0][0];
    const seedMs = median(times.get(seedLabel)!);
    const rows: KubescapeBenchRow[] = strategies.map(([label]) => {
      const m = median(times.get(label)!);
      return {
        strategy: label,
        kubescapeRuns: kRuns.get(label)!,
        medianMs: Math.round(m),
        ratioToSeed: Math.round((m / seedMs) * 100) / 100,
        sameScores: scores.get(label) === scores.get(seedLabel),
      };
    });
    console.log(`kubescape light mode on the demo stack (5 namespaces), median of ${runs}; seed ${Math.round(seedMs)} ms; scores ${scores.get(seedLabel)}`);
    for (const r of rows) {
      console.log(JSON.stringify({ bench: 'kubescape-light', ...r }));
      console.log(
        `  ${r.strategy.padEnd(38)} ${String(r.kubescapeRuns).padStart(2)} run(s) ${String(r.medianMs).padStart(6)} ms  ${r.ratioToSeed}× seed  ` +
          `scores ${r.sameScores ? 'identical' : 'DIFFER'}`,
      );
    }
    const chosen = rows.find((r) => r.strategy.includes('(default)'))!;
    console.log(
      `default strategy ${chosen.strategy}: ${chosen.ratioToSeed}× the seed's way — ` +
        `${chosen.ratioToSeed <= 0.6 && chosen.sameScores ? 'meets' : 'MISSES'} the ≤ 0.6× goal with identical scores`,
    );
    return rows;
  } finally {
    await cp.stop();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await main(Number(process.argv[2] ?? 3));
