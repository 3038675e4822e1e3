// Benchmark: each function's cold start and memory, bundled (`npm run build`: node dist/<fn>.mjs)
// against the tsx entry (node --import tsx functions/<fn>/main.ts), measured in the same run:
//   - cold start: from spawning the process to the first answer of GET /healthz (the process
//     prints its port; the request is sent at once), median of several starts, alternating;
//   - RSS after one light scan: the process's VmRSS (/proc/<pid>/status) once its first
//     `?mode=light` answered (network, opa and kubescape against the local control plane with
//     the demo stack; nuclei against its demo services on loopback).
// Goal: bundled ≤ 150 ms to the first /healthz answer and ≤ 70 MB RSS after one light scan.
//
// Traffic: loopback only. Bounded: fixed starts, every process killed after 180 s.
//
// Standalone: npx tsx bench/cold-start.ts [starts]   (BENCH_DEBUG=1 prints every sample)
// From bench/run.ts: import { main } from './cold-start.ts'; await main();
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { bundle, DIST } from '../knative/bundle.ts';
import { FUNCTIONS, ROOT } from '../knative/render.ts';
import { startControlPlane } from '../harness/cluster/index.ts';
import { DEMO_METADATA } from '../demo/stack/generate.ts';
import { DEMO_METADATA as NUCLEI_METADATA, FIXTURE_TEMPLATES, startDemoServices } from '../demo/nuclei/services.ts';
import { BUNDLED_ARTIFACTS_DIR } from '../functions/kubescape-scan/settings.ts';
import { median } from './stats.ts';

const KILL_MS = 180_000;
const GOAL_MS = 150;
const GOAL_MB = 70;
const PATHS: Record<string, string> = {
  'network-scan': '/network_scan',
  'opa-scan': '/opa_scan',
  'kubescape-scan': '/kubescape_scan',
  'nuclei-scan': '/nuclei_scan',
};

export interface ColdStartRow {
  fn: string;
  variant: 'bundle' | 'tsx';
  startMs: number;
  idleRssMb: number;
  afterLightRssMb: number | null;
  lightStatus: number | null;
}

const rssMb = (pid: number) => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) / 1024;

/** The machine's floor: a bare Node HTTP server answering /healthz (no framework, no scan). */
const FLOOR =
  `import http from 'node:http'; const s = http.createServer((q, r) => r.end('{"status":"ok"}')); s.listen(0, '127.0.0.1', () => ` +
  `console.log('floor on 127.0.0.1:' + s.address().port));`;

function command(fn: string, variant: 'bundle' | 'tsx'): string[] {
  if (fn === 'floor') return [process.execPath, '--input-type=module', '-e', FLOOR];
  return variant === 'bundle' ? [process.execPath, join(DIST, `${fn}.mjs`)] : [process.execPath, '--import', 'tsx', join(ROOT, 'functions', fn, 'main.ts')];
}

/** Start one function; resolves once its first /healthz answered. */
async function start(fn: string, variant: 'bundle' | 'tsx', env: NodeJS.ProcessEnv): Promise<{ child: ChildProcess; port: number; ms: number }> {
  const [file, ...args] = command(fn, variant);
  const t0 = performance.now();
  const child = spawn(file, args, { cwd: ROOT, env: { ...env, PORT: '0', HOST: '127.0.0.1' }, stdio: ['ignore', 'pipe', 'pipe'] });
  const killer = setTimeout(() => child.kill('SIGKILL'), KILL_MS);
  child.on('exit', () => clearTimeout(killer));
  let err = '';
  child.stderr!.on('data', (d) => (err = (err + d).slice(-2000)));
  const port = await new Promise<number>((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (d) => {
      out += d;
      const m = / on [^\s]+:(\d+)/.exec(out);
      if (m) resolve(Number(m[1]));
    });
    child.on('exit', (code) => reject(new Error(`${fn} (${variant}) exited ${code} before listening: ${err}`)));
  });
  const res = await fetch(`http://127.0.0.1:${port}/healthz`);
  await res.text();
  const ms = performance.now() - t0;
  if (res.status !== 200) throw new Error(`${fn} (${variant}): /healthz answered ${res.status}`);
  return { child, port, ms };
}

async function stop(child: ChildProcess) {
  if (child.exitCode !== null) return;
  const done = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  await Promise.race([done, new Promise((r) => setTimeout(r, 5000))]);
  if (child.exitCode === null) child.kill('SIGKILL');
}

export async function main(starts = 5): Promise<ColdStartRow[]> {
  const debug = process.env.BENCH_DEBUG === '1';
  const t0 = Date.now();
  const built = await bundle([...FUNCTIONS]);
  console.log(`bundled ${built.length} functions in ${Date.now() - t0} ms: ${built.map((b) => `${b.name} ${(b.bytes / 1024).toFixed(0)} KiB`).join(', ')}`);
  const cp = await startControlPlane({ gatekeeper: false });
  const services = await startDemoServices();
  const kubescapeBin = join(ROOT, '.cache/bin/kubescape');
  const base: NodeJS.ProcessEnv = { PATH: process.env.PATH, HOME: process.env.HOME, KUBECONFIG: cp.kubeconfigPath, STACK_METADATA: DEMO_METADATA };
  const envOf: Record<string, NodeJS.ProcessEnv> = {
    'network-scan': base,
    'opa-scan': base,
    'kubescape-scan': { ...base, KUBESCAPE_ARTIFACTS_DIR: BUNDLED_ARTIFACTS_DIR, ...(existsSync(kubescapeBin) ? { KUBESCAPE_BIN: kubescapeBin } : {}) },
    // In a bundle the functions' default tool paths (relative to their source folder) do not
    // apply: the images set KUBESCAPE_BIN and NUCLEI_BIN, and so does the bench.
    'nuclei-scan': {
      ...base,
      NUCLEI_BIN: join(ROOT, '.cache/bin/nuclei'),
      STACK_METADATA: NUCLEI_METADATA,
      NUCLEI_TEMPLATES_DIR: FIXTURE_TEMPLATES,
      SCAN_HOST_MAP: JSON.stringify(services.hostMap),
      SCAN_DNS: 'off',
      NUCLEI_REQUEST_TIMEOUT_S: '3',
      NUCLEI_RETRIES: '0',
    },
  };
  const rows: ColdStartRow[] = [];
  const floor: number[] = [];
  try {
    for (const fn of FUNCTIONS) {
      const samples = { bundle: [] as number[], tsx: [] as number[] };
      for (let i = 0; i < starts; i++) {
        for (const variant of (i % 2 ? ['tsx', 'bundle'] : ['bundle', 'tsx']) as ('bundle' | 'tsx')[]) {
          const s = await start(fn, variant, envOf[fn]);
          samples[variant].push(s.ms);
          if (variant === 'bundle') {
            const f = await start('floor', 'bundle', base);
            floor.push(f.ms);
            await stop(f.child);
          }
          if (debug) console.log(`  ${fn} ${variant} start ${s.ms.toFixed(0)} ms, RSS ${rssMb(s.child.pid!).toFixed(0)} MB`);
          await stop(s.child);
        }
      }
      for (const variant of ['bundle', 'tsx'] as const) {
        const s = await start(fn, variant, envOf[fn]);
        const idle = rssMb(s.child.pid!);
        let after: number | null = null;
        let status: number | null = null;
        try {
          const res = await fetch(`http://127.0.0.1:${s.port}${PATHS[fn]}?mode=light`, { signal: AbortSignal.timeout(KILL_MS) });
          const body = await res.text();
          status = res.status;
          after = rssMb(s.child.pid!);
          if (debug || res.status !== 200) console.log(`  ${fn} ${variant} light: ${res.status} ${body.slice(0, 200)}`);
        } finally {
          await stop(s.child);
        }
        rows.push({
          fn,
          variant,
          startMs: Math.round(median(samples[variant])),
          idleRssMb: Math.round(idle),
          afterLightRssMb: after === null ? null : Math.round(after),
          lightStatus: status,
        });
      }
    }
  } finally {
    await services.stop?.();
    await cp.stop();
  }
  console.log(
    `${'function'.padEnd(16)}${'variant'.padEnd(9)}${'start→/healthz'.padStart(15)}${'RSS idle'.padStart(10)}${'RSS after light'.padStart(17)}  light`,
  );
  for (const r of rows) {
    console.log(
      `${r.fn.padEnd(16)}${r.variant.padEnd(9)}${`${r.startMs} ms`.padStart(15)}${`${r.idleRssMb} MB`.padStart(10)}` +
        `${`${r.afterLightRssMb ?? '-'} MB`.padStart(17)}  ${r.lightStatus ?? '-'}`,
    );
  }
  console.log(`floor (bare node:http server, same machine, same moment): ${Math.round(median(floor))} ms to /healthz (median of ${floor.length})`);
  for (const fn of FUNCTIONS) {
    const b = rows.find((r) => r.fn === fn && r.variant === 'bundle')!;
    const t = rows.find((r) => r.fn === fn && r.variant === 'tsx')!;
    const okStart = b.startMs <= GOAL_MS;
    const okRss = b.afterLightRssMb !== null && b.afterLightRssMb <= GOAL_MB;
    console.log(
      `${fn}: bundle ${b.startMs} ms (${(t.startMs / b.startMs).toFixed(1)}× faster than tsx) ${okStart ? 'meets' : 'MISSES'} ≤ ${GOAL_MS} ms; after ` +
        `light ${b.afterLightRssMb} MB (tsx ${t.afterLightRssMb} MB) ${okRss ? 'meets' : 'MISSES'} ≤ ${GOAL_MB} MB`,
    );
  }
  return rows;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  await main(Number(process.argv[2]) || 5);
}
