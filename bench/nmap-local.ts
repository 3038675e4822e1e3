// Benchmark: the local nmap runner's overhead. 200 TCP probes against loopback
// — 5 hosts (127.0.0.1-5) × 40 ports: on each host 4 listeners this bench
// starts (bound to that address only, 20 in all), everything else refused —
// through runLocalNmap (spawn + XML parse + mapping back) vs ONE bare nmap
// invocation with the same arguments (spawn, collect stdout), measured in the
// same run, alternating order, median of several repetitions.
// Target: runner / bare ≤ 1.3×.
//
// Traffic: loopback only. Bounded: fixed repetitions, each nmap killed after 60 s.
//
// Standalone: npx tsx bench/nmap-local.ts [repetitions]   (BENCH_DEBUG=1 also prints every sample)
// From bench/run.ts: import { main } from './nmap-local.ts'; await main();
import { createServer, type Server } from 'node:net';
import { execFile } from 'node:child_process';
import { pathToFileURL } from 'node:url';
import { nmapArgs, type ProbeTarget } from '../functions/network-scan/nmap/nmap.ts';
import { runLocalNmap } from '../functions/network-scan/nmap/local.ts';
import { median, round } from './stats.ts';

const HOSTS = 5;
const LISTENERS_PER_HOST = 4;
const CLOSED_PORTS = 20;
const KILL_MS = 60_000;
const WARMUP = 3;
const OPTS = { hostTimeoutMs: 30_000, connectTimeoutMs: 500, timeoutMs: KILL_MS };

export interface NmapLocalBench {
  bench: 'nmap-local';
  probes: number;
  hosts: number;
  ports: number;
  open: number;
  closed: number;
  runs: number;
  runnerMs: number;
  bareMs: number;
  ratio: number;
  targetRatio: number;
  meetsTarget: boolean;
  nmapVersion?: string;
}

function listen(host: string, port = 0): Promise<Server> {
  const srv = createServer((c) => c.destroy());
  return new Promise((ok, fail) => {
    srv.once('error', fail);
    srv.listen(port, host, () => ok(srv));
  });
}
const portOf = (s: Server) => (s.address() as { port: number }).port;

function bareNmap(args: string[]): Promise<number> {
  const t0 = performance.now();
  return new Promise((ok, fail) => {
    execFile('nmap', args, { timeout: KILL_MS, killSignal: 'SIGKILL', maxBuffer: 64 * 1024 * 1024 }, (err, stdout) => {
      if (err) fail(err);
      else if (!stdout.includes('</nmaprun>')) fail(new Error('bare nmap: incomplete XML'));
      else ok(performance.now() - t0);
    });
  });
}

export async function main(runs = 11): Promise<NmapLocalBench> {
  const servers: Server[] = [];
  try {
    // Listener ports: distinct across hosts, so the union of ports is 20 + 20.
    const hosts = Array.from({ length: HOSTS }, (_, i) => `127.0.0.${i + 1}`);
    const openPorts = new Set<number>();
    const openByHost = new Map<string, Set<number>>();
    for (const h of hosts) {
      openByHost.set(h, new Set());
      while (openByHost.get(h)!.size < LISTENERS_PER_HOST) {
        const srv = await listen(h);
        const p = portOf(srv);
        if (openPorts.has(p)) {
          srv.close();
          continue;
        }
        servers.push(srv);
        openPorts.add(p);
        openByHost.get(h)!.add(p);
      }
    }
    const closedPorts = new Set<number>();
    for (let tries = 0; closedPorts.size < CLOSED_PORTS && tries < 1000; tries++) {
      const srv = await listen('127.0.0.1');
      const p = portOf(srv);
      await new Promise((r) => srv.close(r));
      if (!openPorts.has(p)) closedPorts.add(p);
    }
    const ports = [...openPorts, ...closedPorts];
    const targets: ProbeTarget[] = hosts.flatMap((h) => ports.map((p) => ({ id: `${h}:${p}`, host: h, port: p, protocol: 'TCP' as const })));
    const args = nmapArgs(targets, OPTS);

    // Correctness once, then warm-up for both paths (JIT, page cache).
    const check = await runLocalNmap(targets, OPTS);
    for (let i = 0; i < WARMUP; i++) {
      await runLocalNmap(targets, OPTS);
      await bareNmap(args);
    }
    let open = 0;
    let closed = 0;
    for (const t of targets) {
      const r = check.results.get(t.id);
      const want = openByHost.get(t.host)!.has(t.port) ? 'open' : 'closed';
      if (r?.state !== want) throw new Error(`bench setup: ${t.id} is ${r?.state} (${r?.reason}), expected ${want}`);
      if (want === 'open') open++;
      else closed++;
    }

    const runner: number[] = [];
    const bare: number[] = [];
    for (let i = 0; i < runs; i++) {
      const timeRunner = async () => {
        const t0 = performance.now();
        const r = await runLocalNmap(targets, OPTS);
        if (r.results.size !== targets.length) throw new Error('runner: missing results');
        runner.push(performance.now() - t0);
      };
      const timeBare = async () => bare.push(await bareNmap(args));
      if (i % 2) {
        await timeBare();
        await timeRunner();
      } else {
        await timeRunner();
        await timeBare();
      }
    }
    if (process.env.BENCH_DEBUG) console.error({ runner: runner.map((x) => round(x)), bare: bare.map((x) => round(x)) });
    const runnerMs = median(runner);
    const bareMs = median(bare);
    const ratio = runnerMs / bareMs;
    const result: NmapLocalBench = {
      bench: 'nmap-local',
      probes: targets.length,
      hosts: HOSTS,
      ports: ports.length,
      open,
      closed,
      runs,
      runnerMs: round(runnerMs),
      bareMs: round(bareMs),
      ratio: round(ratio, 3),
      targetRatio: 1.3,
      meetsTarget: ratio <= 1.3,
      ...(check.runs[0]?.parsed.version ? { nmapVersion: check.runs[0].parsed.version } : {}),
    };
    console.log(JSON.stringify(result));
    console.log(
      `nmap-local: ${result.probes} probes (${HOSTS} hosts × ${result.ports} ports, ${open} open / ${closed} closed): ` +
        `runLocalNmap ${result.runnerMs} ms vs bare nmap ${result.bareMs} ms median of ${runs} → ${result.ratio}× — ` +
        `${result.meetsTarget ? 'meets' : 'MISSES'} the ≤ 1.3× target`,
    );
    return result;
  } finally {
    await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const runs = Number(process.argv[2] ?? 11);
  await main(Number.isInteger(runs) && runs > 0 && runs <= 50 ? runs : 11);
}
