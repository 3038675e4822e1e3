/**
 * The combined server (functions/server.ts) as a real child process on a free loopback port, for
 * tests and benchmarks that must see what a client sees (status codes, a stalled event loop) and
 * what the process costs (its RSS from /proc). Bounded: the child is SIGKILLed after `killAfterMs`.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

const ROOT = join(import.meta.dirname, '..');

export interface ServerProcess {
  child: ChildProcess;
  pid: number;
  port: number;
  url: string;
  /** Current resident set size in MB (/proc/<pid>/status VmRSS). */
  rssMb(): number;
  stop(): Promise<void>;
}

export function rssMbOf(pid: number): number {
  try {
    return Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) / 1024;
  } catch {
    return 0;
  }
}

export async function startServerProcess(env: NodeJS.ProcessEnv = {}, opts: { killAfterMs?: number; entry?: string } = {}): Promise<ServerProcess> {
  const entry = opts.entry ?? join(ROOT, 'functions', 'server.ts');
  // A bundle (dist/*.mjs, what the images run) starts with node alone; a .ts entry through tsx.
  const args = entry.endsWith('.ts') ? ['--import', 'tsx', entry] : [entry];
  const child = spawn(process.execPath, args, { cwd: ROOT, env: { ...process.env, ...env, PORT: '0', HOST: '127.0.0.1' }, stdio: ['ignore', 'pipe', 'pipe'] });
  const killer = setTimeout(() => child.kill('SIGKILL'), opts.killAfterMs ?? 300_000);
  child.on('exit', () => clearTimeout(killer));
  let err = '';
  child.stderr!.on('data', (d) => (err = (err + d).slice(-4000)));
  const port = await new Promise<number>((resolve, reject) => {
    let out = '';
    const t = setTimeout(() => reject(new Error(`the server did not start within 30 s: ${err}`)), 30_000);
    child.stdout!.on('data', (d) => {
      out += d;
      const m = /on 127\.0\.0\.1:(\d+)/.exec(out);
      if (m) {
        clearTimeout(t);
        resolve(Number(m[1]));
      }
    });
    child.on('exit', (code) => {
      clearTimeout(t);
      reject(new Error(`the server exited (${code}): ${err}`));
    });
  });
  const pid = child.pid!;
  return {
    child,
    pid,
    port,
    url: `http://127.0.0.1:${port}`,
    rssMb: () => rssMbOf(pid),
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
        setTimeout(() => child.kill('SIGKILL'), 5000).unref();
      }),
  };
}
