// Benchmark (issue 19 item 1): the longest stall of a real server's event loop (functions/server.ts,
// every scan) while all four scans read hostile input files, measured from outside: GET /healthz is
// sent every 5 ms during the scans, answered by the server's own HTTP handler, so the longest
// /healthz answer time is the longest time the event loop could not turn (plus a loopback round
// trip, measured alone first: the baseline). Goal: ≤ 100 ms, and every probe answered.
//
// Hostile files: "billion laughs" (aliases ten deep), JSON and YAML nested 5,000 levels, a metadata
// file of 9 MB (over the node cap: refused by the worker), a 9 MB file under the node cap (long
// values: parsed off the main thread and used), metadata at the component cap (1,000 components:
// parsed, normalised, used) and over it (13,000), and a 7 MB JSON manifest.
//
// Traffic: loopback only (the scans' API server is a closed loopback port). Bounded: each case
// ends when its four scans answered, at most 60 s.
//
// Standalone: npx tsx bench/event-loop.ts
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { startServerProcess } from '../harness/serve-process.ts';
import { bundle } from '../knative/bundle.ts';
import { billionLaughs, deepJson, deepYamlFlow } from '../test/support/hostile-input.ts';

const ROOT = join(import.meta.dirname, '..');
const UNREACHABLE = join(ROOT, 'test/fixtures/kubeconfig-unreachable.yaml');
const SCANS = ['/network_scan?mode=light', '/opa_scan?mode=light', '/kubescape_scan?mode=light', '/nuclei_scan?mode=light'];
const GOAL_MS = 100;
const ROUNDS = 3;

function components(n: number, valueBytes = 0): string {
  const rows = ['default_context:', '  components:'];
  const pad = valueBytes ? ` notes: "${'x'.repeat(valueBytes)}",` : '';
  for (let i = 0; i < n; i++) rows.push(`    c${i}: {type: webapp, name: c${i}, attributes: {namespace: ns${i % 20},${pad} port: "${1000 + (i % 60000)}"}}`);
  return `${rows.join('\n')}\n`;
}

const SMALL_METADATA = components(3);

export interface Case {
  name: string;
  files: Record<string, string>;
  env: (dir: string) => Record<string, string>;
}

export function hostileCases(): Case[] {
  const meta = (text: string): Case['files'] => ({ 'stack-metadata.yaml': text });
  const metaEnv = (dir: string) => ({ STACK_METADATA: join(dir, 'stack-metadata.yaml') });
  const bigJson = JSON.stringify({
    policies: Array.from({ length: 60_000 }, (_, i) => ({
      name: `p${i}`,
      namespace: `ns${i % 20}`,
      category: 'link',
      direction: 'ingress',
      ports: [{ port: 80, protocol: 'TCP' }],
    })),
  });
  return [
    { name: 'billion laughs (aliases 10 deep)', files: meta(billionLaughs()), env: metaEnv },
    { name: 'YAML nested 5,000 levels', files: meta(deepYamlFlow(5000)), env: metaEnv },
    {
      name: 'JSON manifest nested 5,000 levels',
      files: { ...meta(SMALL_METADATA), 'networkpolicy-manifest.json': deepJson(5000) },
      env: (d) => ({ ...metaEnv(d), NETWORKPOLICY_MANIFEST: join(d, 'networkpolicy-manifest.json') }),
    },
    { name: '9 MB metadata over the node cap', files: meta(components(90_000)), env: metaEnv },
    { name: '9 MB metadata of long values (parsed, used)', files: meta(components(900, 10_000)), env: metaEnv },
    { name: 'metadata at the component cap (1,000: parsed, used)', files: meta(components(1000)), env: metaEnv },
    { name: 'metadata over the component cap (13,000)', files: meta(components(13_000)), env: metaEnv },
    {
      name: `${(bigJson.length / 1e6).toFixed(1)} MB JSON manifest`,
      files: { ...meta(SMALL_METADATA), 'networkpolicy-manifest.json': bigJson },
      env: (d) => ({ ...metaEnv(d), NETWORKPOLICY_MANIFEST: join(d, 'networkpolicy-manifest.json') }),
    },
  ];
}

function get(port: number, path: string, timeoutMs = 60_000): Promise<{ status: number; ms: number; body: string }> {
  const t0 = performance.now();
  return new Promise((resolve) => {
    const req = http.get({ host: '127.0.0.1', port, path, agent: false, timeout: timeoutMs }, (res) => {
      let body = '';
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, ms: performance.now() - t0, body }));
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve({ status: 0, ms: performance.now() - t0, body: '' }));
  });
}

export interface CaseResult {
  name: string;
  statuses: number[];
  codes: string[];
  scanMs: number;
  probes: number;
  failedProbes: number;
  /** The least over the rounds of the round's longest /healthz answer. */
  maxHealthzMs: number;
  /** The longest /healthz answer of any round (includes other processes' load on a shared machine). */
  worstRoundMs: number;
}

/** Runs every case against its own server process; the longest /healthz answer during each case's scans (least over the rounds). */
export async function measureHostile(cases = hostileCases(), entry?: string, rounds = ROUNDS): Promise<{ baselineMs: number; results: CaseResult[] }> {
  const results: CaseResult[] = [];
  let baselineMs = Infinity;
  for (const c of cases) {
    const dir = mkdtempSync(join(tmpdir(), 'stack-scan-hostile-'));
    try {
      // First benign files: one round of scans loads every module (under tsx, transpiling TypeScript
      // holds the event loop on first import: a cost of the dev entry, not of an input).
      for (const f of Object.keys(c.files)) writeFileSync(join(dir, f), f.endsWith('.json') ? '{"policies": []}' : SMALL_METADATA);
      const server = await startServerProcess(
        { ...c.env(dir), KUBECONFIG: UNREACHABLE, NUCLEI_BIN: '/nonexistent/nuclei', KUBESCAPE_BIN: '/nonexistent/kubescape' },
        { killAfterMs: 120_000, entry },
      );
      try {
        // Warm-up (the HTTP adapter, every scan's modules), and the loopback round trip alone.
        await get(server.port, '/');
        await Promise.all(SCANS.map((p) => get(server.port, p)));
        for (let i = 0; i < 20; i++) baselineMs = Math.min(baselineMs, (await get(server.port, '/healthz')).ms);
        // ROUNDS rounds, each on a freshly written file (a new version: nothing cached). The stall
        // an input causes recurs in every round; a stall from other processes on this shared
        // machine (the server not scheduled) does not: the case's figure is the least of the rounds' maxima.
        let probes = 0;
        let failed = 0;
        let max = Infinity;
        let scanMs = 0;
        let answers: { status: number; body: string }[] = [];
        let worstRound = 0;
        for (let round = 0; round < rounds; round++) {
          await new Promise((r) => setTimeout(r, 1100)); // a new mtime for the file cache
          for (const [f, text] of Object.entries(c.files)) writeFileSync(join(dir, f), text);
          let done = false;
          let roundMax = 0;
          const prober = (async () => {
            while (!done) {
              const r = await get(server.port, '/healthz', 5000);
              probes++;
              if (r.status !== 200) failed++;
              roundMax = Math.max(roundMax, r.ms);
              await new Promise((res) => setTimeout(res, 5));
            }
          })();
          const t0 = performance.now();
          answers = await Promise.all(SCANS.map((p) => get(server.port, p)));
          scanMs = Math.max(scanMs, performance.now() - t0);
          done = true;
          await prober;
          max = Math.min(max, roundMax);
          worstRound = Math.max(worstRound, roundMax);
        }
        const codes = answers.map((a) => {
          try {
            return String(JSON.parse(a.body).error?.code ?? 'report');
          } catch {
            return 'unparsable';
          }
        });
        results.push({
          name: c.name,
          statuses: answers.map((a) => a.status),
          codes,
          scanMs,
          probes,
          failedProbes: failed,
          maxHealthzMs: max,
          worstRoundMs: worstRound,
        });
      } finally {
        await server.stop();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
  return { baselineMs, results };
}

export async function main() {
  // The bundled server, as the images run it (knative/bundle.ts): under tsx, each module's first
  // import is transpiled on the event loop, a cost of the dev entry that no input causes.
  const outdir = mkdtempSync(join(tmpdir(), 'stack-scan-bundle-'));
  const [built] = await bundle(['server'], outdir);
  let measured;
  try {
    measured = await measureHostile(hostileCases(), built.outfile);
  } finally {
    rmSync(outdir, { recursive: true, force: true });
  }
  const { baselineMs, results } = measured;
  console.log('server: the bundle (dist/server.mjs built into a temp dir)');
  console.log(`loopback /healthz round trip alone: ${baselineMs.toFixed(1)} ms`);
  for (const r of results) {
    console.log(
      `${r.name.padEnd(48)} scans ${r.statuses.join('/')} (${r.codes.join(', ')}) in ${r.scanMs.toFixed(0)} ms; /healthz ${r.probes - r.failedProbes}/` +
        `${r.probes} answered, longest ${r.maxHealthzMs.toFixed(1)} ms (worst round ${r.worstRoundMs.toFixed(1)} ms)`,
    );
  }
  const worst = Math.max(...results.map((r) => r.maxHealthzMs));
  console.log(`longest event-loop stall seen (longest /healthz answer): ${worst.toFixed(1)} ms (goal ≤ ${GOAL_MS} ms) ${worst <= GOAL_MS ? 'OK' : 'OVER'}`);
  return { baselineMs, results, worst };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) await main();
