// Benchmarks of the nuclei scan.
//
// 1. Overhead (target ≤ 1.2×): nuclei light over the demo targets (demo/nuclei/stack-metadata.yaml
//    + apisix-route.yaml, the demo services on loopback) THROUGH THE SCAN (settings, topology,
//    template catalog and selection, plan, streaming parse, judge, redaction, envelope) vs
//    BARE nuclei given the same target list, template list and arguments (spawn, collect
//    stdout), measured in the same run, alternating order, median of several repetitions.
//    Templates: the community templates of ../shared/nuclei-templates when present (else
//    stack-scan's own, and the output says so).
// 2. Group vs union (needs ../shared): the community stack (test/support/nuclei-community.ts)
//    in full and network mode, run as the scan does (one nuclei per group of targets sharing
//    templates, one after another) vs one nuclei with the union of the groups' templates over
//    every target: wall time, template × target pairs, and the requests the grafana and minio
//    recorders received (the union sends grafana templates to minio).
//
// Traffic: loopback only. Bounded: fixed repetitions, each nuclei killed after 120 s.
//
// Standalone: npx tsx bench/nuclei.ts [repetitions]   (BENCH_DEBUG=1 prints every sample)
// From bench/run.ts: import { main } from './nuclei.ts'; await main();
import './scan-env.ts';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { runScan } from '../lib/scan/scaffold.ts';
import { parseHostMap } from '../lib/scan/hosts.ts';
import { runTool } from '../lib/tools/run.ts';
import { nucleiArgs, runNuclei } from '../functions/nuclei-scan/nuclei.ts';
import { nucleiScan } from '../functions/nuclei-scan/scan.ts';
import { nucleiSettingsFromEnv } from '../functions/nuclei-scan/settings.ts';
import { planTargets, type NucleiMode } from '../functions/nuclei-scan/plan.ts';
import { DEFAULT_EXCLUDED_TAGS, groupPlan, unionOf, type RunGroup } from '../functions/nuclei-scan/select.ts';
import { loadCatalog } from '../functions/nuclei-scan/templates.ts';
import { loadApisixRoutes } from '../functions/nuclei-scan/apisix.ts';
import { loadStackMetadata } from '../lib/topology/stack-metadata.ts';
import { DEMO_METADATA, FIXTURE_TEMPLATES, startDemoServices } from '../demo/nuclei/services.ts';
import { COMMUNITY_DIR, COMMUNITY_METADATA, SHARED_TEMPLATES, startCommunityServices } from '../test/support/nuclei-community.ts';
import { median, round } from './stats.ts';

const KILL_MS = 120_000;
const TARGET = 1.2;

export interface NucleiBench {
  bench: 'nuclei-light';
  templates: 'community' | 'stack-scan fixtures';
  inputs: number;
  runs: number;
  scanMs: number;
  bareMs: number;
  ratio: number;
  targetRatio: number;
  meetsTarget: boolean;
  findings: number;
}

export async function overhead(runs = 5): Promise<NucleiBench> {
  const community = existsSync(join(SHARED_TEMPLATES, 'ssl'));
  const templatesDir = community ? SHARED_TEMPLATES : FIXTURE_TEMPLATES;
  if (!community) console.log(`(../shared/nuclei-templates is absent: measuring with stack-scan's own templates, ${FIXTURE_TEMPLATES})`);
  const services = await startDemoServices();
  const dir = mkdtempSync(join(tmpdir(), 'stack-scan-nuclei-bench-'));
  try {
    const env = {
      PATH: process.env.PATH,
      STACK_METADATA: DEMO_METADATA,
      NUCLEI_TEMPLATES_DIR: templatesDir,
      SCAN_HOST_MAP: JSON.stringify(services.hostMap),
      SCAN_DNS: 'off',
      NUCLEI_REQUEST_TIMEOUT_S: '3',
      NUCLEI_RETRIES: '0',
    };
    const settings = nucleiSettingsFromEnv(env);
    const def = nucleiScan(settings);
    // The same lists and arguments the scan gives nuclei.
    const topo = await loadStackMetadata(settings.topology.metadata);
    const apisix = await loadApisixRoutes(settings.apisixRoutes!);
    const plan = planTargets(topo, 'light', { hostMap: settings.hostMap, dns: 'off', routeScheme: settings.routeScheme, apisix });
    const catalog = await loadCatalog(templatesDir);
    const { groups } = groupPlan(plan, catalog, { allowTags: new Set(), interactsh: false });
    const bareArgs = groups.map((g, i) => {
      const list = join(dir, `targets-${i}.txt`);
      const tl = join(dir, `templates-${i}.txt`);
      writeFileSync(list, `${g.inputs.join('\n')}\n`);
      writeFileSync(tl, `${g.templates.map((t) => join(catalog.dir, t.path)).join('\n')}\n`);
      return nucleiArgs(
        {
          bin: settings.bin,
          protocols: g.protocols,
          templates: [],
          excludeTags: [...DEFAULT_EXCLUDED_TAGS.keys()],
          rateLimit: settings.rateLimit,
          concurrency: settings.concurrency,
          bulkSize: settings.bulkSize,
          requestTimeoutS: settings.requestTimeoutS,
          retries: settings.retries,
          resolvers: [],
          includeRaw: false,
        },
        list,
        tl,
      );
    });
    const benv = { HOME: dir, XDG_CONFIG_HOME: join(dir, 'config'), XDG_CACHE_HOME: join(dir, 'cache') };

    const timeScan = async () => {
      const t0 = performance.now();
      const r = await runScan(def, 'light');
      const ms = performance.now() - t0;
      if (r.errors.some((e) => e.step.startsWith('nuclei'))) throw new Error(`scan: ${JSON.stringify(r.errors)}`);
      return { ms, findings: (r.findings ?? []).length };
    };
    const timeBare = async () => {
      const t0 = performance.now();
      for (const args of bareArgs) {
        const r = await runTool(settings.bin, args, { timeoutMs: KILL_MS, env: benv, cwd: dir });
        if (r.exitCode !== 0) throw new Error(`bare nuclei exited ${r.exitCode}: ${r.stderrTail.slice(-300)}`);
      }
      return performance.now() - t0;
    };
    // Warm-up (page cache, JIT, the catalog read once per process like a warm function) then alternate.
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
    const result: NucleiBench = {
      bench: 'nuclei-light',
      templates: community ? 'community' : 'stack-scan fixtures',
      inputs: plan.inputs.size,
      runs,
      scanMs: round(scanMs),
      bareMs: round(bareMs),
      ratio: round(ratio, 3),
      targetRatio: TARGET,
      meetsTarget: ratio <= TARGET,
      findings: check.findings,
    };
    console.log(JSON.stringify(result));
    console.log(
      `nuclei-light (${result.templates} templates): ${result.inputs} targets, ${result.findings} findings: scan ${result.scanMs} ms vs bare nuclei ` +
        `${result.bareMs} ms median of ${runs} → ${result.ratio}× — ${result.meetsTarget ? 'meets' : 'MISSES'} the ≤ ${TARGET}× target`,
    );
    return result;
  } finally {
    rmSync(dir, { recursive: true, force: true });
    await services.stop();
  }
}

export interface StrategyFigures {
  mode: NucleiMode;
  strategy: 'group' | 'union';
  nucleiRuns: number;
  /** Σ templates × targets over the runs: the template executions asked of nuclei. */
  pairs: number;
  ms: number;
  findings: number;
  grafanaRequests: number;
  minioRequests: number;
  /** Requests to the minio recorder for a grafana template's paths. */
  grafanaPathsOnMinio: number;
}

/** Group vs union on the community stack; undefined when ../shared is absent. */
export async function groupVsUnion(runs = 3): Promise<StrategyFigures[] | undefined> {
  if (!existsSync(join(SHARED_TEMPLATES, 'ssl'))) {
    console.log('group vs union: skipped, ../shared/nuclei-templates is absent');
    return undefined;
  }
  const services = await startCommunityServices();
  const out: StrategyFigures[] = [];
  try {
    const topo = await loadStackMetadata({ path: COMMUNITY_METADATA, setting: 'STACK_METADATA' });
    const apisix = await loadApisixRoutes({ path: join(COMMUNITY_DIR, 'apisix-route.yaml'), setting: 'APISIX_ROUTES' });
    const catalog = await loadCatalog(SHARED_TEMPLATES);
    const settings = nucleiSettingsFromEnv({ PATH: process.env.PATH, STACK_METADATA: COMMUNITY_METADATA, NUCLEI_TEMPLATES_DIR: SHARED_TEMPLATES });
    // Paths only grafana's templates ask for (minio's own templates also GET /login).
    const grafanaOnly = (q: { method: string; path: string }) =>
      q.path === '/graph/login' ||
      (q.method === 'POST' && q.path === '/login') ||
      /^\/(public\/plugins|api\/snapshots|dashboard\/snapshot|api\/user\/signup)/.test(q.path);
    const execute = async (groups: RunGroup[]) => {
      let findings = 0;
      for (const g of groups) {
        await runNuclei(
          {
            bin: settings.bin,
            protocols: g.protocols,
            templates: g.templates.map((t) => join(catalog.dir, t.path)),
            excludeTags: [...DEFAULT_EXCLUDED_TAGS.keys()],
            rateLimit: 150,
            concurrency: 25,
            bulkSize: 25,
            requestTimeoutS: 3,
            retries: 0,
            resolvers: [],
            includeRaw: false,
          },
          g.inputs,
          {
            onEvent: (e) => {
              if (e.matcherStatus) findings++;
            },
          },
        );
      }
      return findings;
    };
    for (const mode of ['full', 'network'] as const) {
      const plan = planTargets(topo, mode, { hostMap: parseHostMap(JSON.stringify(services.hostMap)), dns: 'off', routeScheme: 'https', apisix });
      const { groups } = groupPlan(plan, catalog, { allowTags: new Set(), interactsh: false });
      const strategies: [StrategyFigures['strategy'], RunGroup[]][] = [
        ['group', groups],
        ['union', unionOf(groups)],
      ];
      const samples = new Map<string, number[]>();
      const last = new Map<string, Omit<StrategyFigures, 'ms'>>();
      for (let i = 0; i < runs; i++) {
        for (const [strategy, gs] of i % 2 ? [...strategies].reverse() : strategies) {
          services.requests.grafana.length = 0;
          services.requests.storage.length = 0;
          const t0 = performance.now();
          const findings = await execute(gs);
          const ms = performance.now() - t0;
          samples.set(strategy, [...(samples.get(strategy) ?? []), ms]);
          last.set(strategy, {
            mode,
            strategy,
            nucleiRuns: gs.length,
            pairs: gs.reduce((a, g) => a + g.templates.length * g.inputs.length, 0),
            findings,
            grafanaRequests: services.requests.grafana.length,
            minioRequests: services.requests.storage.length,
            grafanaPathsOnMinio: services.requests.storage.filter(grafanaOnly).length,
          });
        }
      }
      for (const [strategy] of strategies) {
        const f = { ...last.get(strategy)!, ms: round(median(samples.get(strategy)!)) };
        out.push(f);
        console.log(JSON.stringify(f));
      }
    }
  } finally {
    await services.stop();
  }
  return out;
}

export async function main(runs = 5): Promise<NucleiBench> {
  const r = await overhead(runs);
  console.log('\n== nuclei: one run per group of targets sharing templates vs one run with the union (community stack)');
  await groupVsUnion(3);
  return r;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const runs = Number(process.argv[2] ?? 5);
  await main(Number.isInteger(runs) && runs > 0 && runs <= 30 ? runs : 5);
}
