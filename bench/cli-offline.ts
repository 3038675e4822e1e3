// Benchmark: `stack-scan network --offline` on Stacktic's strimzi sample (69 generated policies),
// the whole process cold (spawn to exit, JSON to a pipe), against `node -e 0` measured in the same
// run, alternating. Three ways it runs:
//   - clone, cold: bin/stack-scan.js through tsx with its transform cache disabled (TSX_DISABLE_CACHE=1),
//     as on the first run after a clone;
//   - clone, warm: the same with tsx's cache (every later run);
//   - package: the esbuild bundle (dist/stack-scan.mjs beside bin/, as `npm run build` makes it for
//     a published package: no TypeScript loader; a clone after `npm run build` runs the same bundle,
//     plus bin's check that no source is newer).
// Goal: clone cold < 1 s. Falls back to the demo stack when ../shared is absent.
//
// Standalone: npx tsx bench/cli-offline.ts [runs]   From bench/run.ts: await main();
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { bundle } from '../knative/bundle.ts';
import { median, round } from './stats.ts';

const ROOT = resolve(import.meta.dirname, '..');
const GOAL_MS = 1000;

function time(cmd: string[], env: NodeJS.ProcessEnv = {}): number {
  const t0 = process.hrtime.bigint();
  const r = spawnSync(cmd[0], cmd.slice(1), { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'], timeout: 60_000, maxBuffer: 64 << 20 });
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  if (r.status !== 0 && r.status !== 1) throw new Error(`${cmd.join(' ')} exited ${r.status}: ${r.stderr}`);
  return ms;
}

export async function main(runs = Number(process.argv[2]) || 7) {
  const strimzi = join(ROOT, '../shared/samples/stacktic/strimzi_basic_setup');
  const stack = existsSync(strimzi) ? strimzi : join(ROOT, 'demo/stack');
  const args = ['network', '--offline', '--metadata', join(stack, 'stack-metadata.yaml'), '--policies', join(stack, 'networkpolicy'), '--format', 'json'];
  const pkg = mkdtempSync(join(tmpdir(), 'stack-scan-pkg-'));
  try {
    mkdirSync(join(pkg, 'bin'));
    copyFileSync(join(ROOT, 'bin/stack-scan.js'), join(pkg, 'bin/stack-scan.js'));
    await bundle(['stack-scan'], join(pkg, 'dist'));
    const variants: [string, string[], NodeJS.ProcessEnv][] = [
      ['node -e 0', [process.execPath, '-e', '0'], {}],
      ['clone, cold (tsx, no cache)', [process.execPath, join(ROOT, 'bin/stack-scan.js'), ...args], { TSX_DISABLE_CACHE: '1' }],
      ['clone, warm (tsx cache)', [process.execPath, join(ROOT, 'bin/stack-scan.js'), ...args], {}],
      ['package (bundle)', [process.execPath, join(pkg, 'bin/stack-scan.js'), ...args], {}],
    ];
    time(variants[2][1]); // fill tsx's cache once
    const samples = new Map(variants.map(([n]) => [n, [] as number[]]));
    for (let i = 0; i < runs; i++) for (const [n, cmd, env] of variants) samples.get(n)!.push(time(cmd, env));
    const base = median(samples.get('node -e 0')!);
    console.log(`input: ${stack === strimzi ? 'strimzi sample' : 'demo stack'}; median of ${runs} runs each, alternating`);
    for (const [n] of variants) {
      const m = median(samples.get(n)!);
      console.log(
        `  ${n.padEnd(30)} ${m.toFixed(0).padStart(5)} ms  ${round(m / base, 1)}× node -e 0` +
          `${n.startsWith('clone, cold') ? `  (goal < ${GOAL_MS} ms: ${m < GOAL_MS ? 'met' : 'NOT met'})` : ''}`,
      );
    }
  } finally {
    rmSync(pkg, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await main();
