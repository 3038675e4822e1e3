// Benchmark: the nuclei scan's overhead. nuclei light over the demo targets
// (demo/nuclei/stack-metadata.yaml + apisix-route.yaml, the demo services on loopback,
// our templates) THROUGH THE SCAN (settings, topology, plan, streaming parse, judge,
// redaction, envelope) vs BARE nuclei with the same target list, templates and arguments
// (spawn, collect stdout), measured in the same run, alternating order, median of
// several repetitions. Target: scan / bare ≤ 1.2×.
//
// Traffic: loopback only. Bounded: fixed repetitions, each nuclei killed after 120 s.
//
// Standalone: npx tsx bench/nuclei.ts [repetitions]   (BENCH_DEBUG=1 prints every sample)
// From bench/run.ts: import { main } from './nuclei.ts'; await main();
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { runScan } from '../lib/scan/scaffold.ts';
import { runTool } from '../lib/tools/run.ts';
import { nucleiArgs } from '../functions/nuclei-scan/nuclei.ts';
import { nucleiScan } from '../functions/nuclei-scan/scan.ts';
import { nucleiSettingsFromEnv } from '../functions/nuclei-scan/settings.ts';
import { planTargets } from '../functions/nuclei-scan/plan.ts';
import { loadApisixRoutes } from '../functions/nuclei-scan/apisix.ts';
import { loadStackMetadata } from '../lib/topology/stack-metadata.ts';
import { DEMO_APISIX, DEMO_METADATA, FIXTURE_TEMPLATES, startDemoServices } from '../demo/nuclei/services.ts';
import { median, round } from './stats.ts';

const KILL_MS = 120_000;
const TARGET = 1.2;

export interface NucleiBench {
  bench: 'nuclei-light';
  inputs: number;
  runs: number;
  scanMs: number;
  bareMs: number;
  ratio: number;
  targetRatio: number;
  meetsTarget: boolean;
  findings: number;
}


export async function main(runs = 5): Promise<NucleiBench> {
  const services = await startDemoServices();
  const dir = mkdtempSync(join(tmpdir(), 'stack-scan-nuclei-bench-'));
  try {
    const env = { PATH: process.env.PATH, STACK_METADATA: DEMO_METADATA, NUCLEI_TEMPLATES_DIR: FIXTURE_TEMPLATES, SCAN_HOST_MAP: JSON.stringify(services.hostMap), SCAN_DNS: 'off', NUCLEI_REQUEST_TIMEOUT_S: '3', NUCLEI_RETRIES: '0' };
    const settings = nucleiSettingsFromEnv(env);
    const def = nucleiScan(settings);
    // The same list and arguments the scan gives nuclei.
    const topo = await loadStackMetadata(settings.topology.metadata);
    const apisix = await loadApisixRoutes(settings.apisixRoutes!);
    const plan = planTargets(topo, 'light', { hostMap: settings.hostMap, dns: 'off', routeScheme: settings.routeScheme, apisix });
    const list = join(dir, 'targets.txt');
    writeFileSync(list, [...plan.inputs.keys()].join('\n') + '\n');
    const args = nucleiArgs(
      { bin: settings.bin, templatesDir: settings.templatesDir, protocol: plan.protocol, tags: plan.tags, rateLimit: settings.rateLimit, concurrency: settings.concurrency, bulkSize: settings.bulkSize, requestTimeoutS: settings.requestTimeoutS, retries: settings.retries, resolvers: [], includeRaw: false },
      list,
    );
    const benv = { HOME: dir, XDG_CONFIG_HOME: join(dir, 'config'), XDG_CACHE_HOME: join(dir, 'cache') };

    const timeScan = async () => {
      const t0 = performance.now();
      const r = await runScan(def, 'light');
      const ms = performance.now() - t0;
      if (r.errors.some((e) => e.step === 'nuclei')) throw new Error(`scan: ${JSON.stringify(r.errors)}`);
      return { ms, findings: (r.findings ?? []).length };
    };
    const timeBare = async () => {
      const t0 = performance.now();
      const r = await runTool(settings.bin, args, { timeoutMs: KILL_MS, env: benv, cwd: dir });
      const ms = performance.now() - t0;
      if (r.exitCode !== 0) throw new Error(`bare nuclei exited ${r.exitCode}: ${r.stderrTail.slice(-300)}`);
      return ms;
    };
    // Warm-up (page cache, JIT) then alternate.
    const check = await timeScan();
    await timeBare();
    const scan: number[] = [];
    const bare: number[] = [];
    for (let i = 0; i < runs; i++) {
      if (i % 2) {
        bare.push(await timeBare());
        scan.push((await timeScan()).ms);
      } else {
        scan.push((await timeScan()).ms);
        bare.push(await timeBare());
      }
    }
    if (process.env.BENCH_DEBUG) console.error({ scan: scan.map((x) => round(x)), bare: bare.map((x) => round(x)) });
    const scanMs = median(scan);
    const bareMs = median(bare);
    const ratio = scanMs / bareMs;
    const result: NucleiBench = { bench: 'nuclei-light', inputs: plan.inputs.size, runs, scanMs: round(scanMs), bareMs: round(bareMs), ratio: round(ratio, 3), targetRatio: TARGET, meetsTarget: ratio <= TARGET, findings: check.findings };
    console.log(JSON.stringify(result));
    console.log(`nuclei-light: ${result.inputs} targets, ${result.findings} findings: scan ${result.scanMs} ms vs bare nuclei ${result.bareMs} ms median of ${runs} → ${result.ratio}× — ${result.meetsTarget ? 'meets' : 'MISSES'} the ≤ ${TARGET}× target`);
    return result;
  } finally {
    rmSync(dir, { recursive: true, force: true });
    await services.stop();
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const runs = Number(process.argv[2] ?? 5);
  await main(Number.isInteger(runs) && runs > 0 && runs <= 30 ? runs : 5);
}
