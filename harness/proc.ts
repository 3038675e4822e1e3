/**
 * Process bookkeeping the harness's control plane (harness/cluster) and real node (harness/node)
 * share: starting a component in its own process group with its output in `<dir>/<name>.log` and
 * its pid in `<dir>/<name>.pid`, stopping process groups, waiting for a component with its log
 * tail on failure, free loopback ports, who owns a run (pid plus start time, so a recycled pid is
 * not mistaken for the owner), and reading /proc. Killing a whole process group is
 * lib/tools/run.ts's killGroup.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { killGroup } from '../lib/tools/run.ts';

export { killGroup };

/** The start time of a process (field 22 of /proc/<pid>/stat), or undefined when it is gone. */
export function procStartTime(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  } catch {
    return undefined;
  }
}

/** Owner identity: pid plus start time. */
export function ownerId(pid = process.pid): string {
  return `${pid} ${procStartTime(pid) ?? ''}`.trim();
}

/** Whether the process an ownerId names is still that process. */
export function ownerAlive(owner: string): boolean {
  const pid = Number(owner.split(' ')[0]);
  return !!pid && ownerId(pid) === owner;
}

/** A file's text, or '' when it cannot be read. */
export function readFileSafe(p: string): string {
  try {
    return readFileSync(p, 'utf8');
  } catch {
    return '';
  }
}

/** The last `lines` lines of a log file ('' when it cannot be read). */
export function tail(path: string, lines = 40): string {
  return readFileSafe(path).trimEnd().split('\n').slice(-lines).join('\n');
}

/** Whether a process exists (signal 0; EPERM: it exists, owned by someone else). A zombie counts. */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Whether a process is running: exists and is not a zombie (exited, not yet reaped by its parent). */
export function isRunning(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    if (stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z')) return false;
  } catch {
    return false;
  }
  return isAlive(pid);
}

/** A process's command line with its arguments joined by `sep`, or undefined when it is gone. */
export function procCmdline(pid: number, sep = ' '): string | undefined {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(sep);
  } catch {
    return undefined;
  }
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** p's value, or false after ms; the timer is cleared so it never holds the process open. */
export async function within(p: Promise<boolean>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([p, new Promise<boolean>((r) => (timer = setTimeout(() => r(false), ms)))]);
  } finally {
    clearTimeout(timer);
  }
}

/** `n` free TCP ports on 127.0.0.1 (listened on, then released). */
export async function freePorts(n: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from(
      { length: n },
      () =>
        new Promise<ReturnType<typeof createServer>>((res, rej) => {
          const s = createServer();
          s.once('error', rej);
          s.listen(0, '127.0.0.1', () => res(s));
        }),
    ),
  );
  const ports = servers.map((s) => (s.address() as { port: number }).port);
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  return ports;
}

/** A component the harness started. */
export interface Proc {
  name: string;
  child: ChildProcess;
  pid: number;
  logPath: string;
  exited: Promise<void>;
  exit?: { code: number | null; signal: NodeJS.Signals | null };
}

export interface SpawnOptions {
  env?: NodeJS.ProcessEnv;
  /** Told when the process cannot be started (ENOENT, EACCES, …). */
  onError?: (message: string) => void;
  /** Ignore a pidfile that cannot be written (the dir may be gone during a failed start); default: throw. */
  pidfileBestEffort?: boolean;
}

/**
 * Starts `file` in `dir` in its own process group (stopGroups kills the whole group), its output
 * appended to `<dir>/<name>.log`, its pid written to `<dir>/<name>.pid` (synchronously, before
 * anything else can go wrong). Unreferenced: a forgotten stop must not keep node alive (the
 * owners' exit hooks kill it).
 */
export function spawnLogged(dir: string, name: string, file: string, args: string[], opts: SpawnOptions = {}): Proc {
  const logPath = join(dir, `${name}.log`);
  const fd = openSync(logPath, 'a');
  let child: ChildProcess;
  try {
    child = spawn(file, args, { cwd: dir, detached: true, stdio: ['ignore', fd, fd], env: { ...process.env, ...opts.env } });
  } finally {
    closeSync(fd);
  }
  if (child.pid === undefined) throw new Error(`could not start ${file}`);
  child.unref();
  const proc: Proc = {
    name,
    child,
    pid: child.pid,
    logPath,
    exited: new Promise<void>((res) => {
      child.once('exit', (code, signal) => {
        proc.exit = { code, signal };
        res();
      });
    }),
  };
  child.once('error', (e) => {
    proc.exit ??= { code: -1, signal: null };
    opts.onError?.(`${name}: ${e.message}`);
  });
  try {
    writeFileSync(join(dir, `${name}.pid`), `${child.pid}\n`);
  } catch (e) {
    if (!opts.pidfileBestEffort) throw e;
  }
  return proc;
}

/** SIGTERM to each running process group, SIGKILL to what is left after `graceMs`, then wait up to `killWaitMs`. */
export async function stopGroups(procs: readonly Proc[], graceMs: number, killWaitMs: number): Promise<void> {
  const running = procs.filter((p) => !p.exit);
  for (const p of running) killGroup(p.pid, 'SIGTERM');
  const all = Promise.all(running.map((p) => p.exited)).then(() => true);
  if (!(await within(all, graceMs))) {
    for (const p of running) if (!p.exit) killGroup(p.pid, 'SIGKILL');
    await within(all, killWaitMs);
  }
}

/**
 * Polls `fn` until it returns a value (backing off from 50 ms to 500 ms). Fails at once when one of
 * `procs` exits, and on timeout, with the last error and the component's log tail.
 */
export async function waitUntil<T>(what: string, timeoutMs: number, fn: () => Promise<T | undefined | false>, procs: readonly Proc[] = []): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  let delay = 50;
  while (Date.now() < deadline) {
    const dead = procs.find((p) => p.exit);
    if (dead)
      throw new Error(
        `${dead.name} exited (code ${dead.exit!.code}, signal ${dead.exit!.signal}) while waiting for ${what}. Last lines of ${dead.logPath}:\n` +
          `${tail(dead.logPath)}`,
      );
    try {
      const v = await fn();
      if (v) return v;
    } catch (e) {
      last = e instanceof Error ? e.message : String(e);
    }
    await sleep(delay);
    delay = Math.min(delay * 2, 500);
  }
  throw new Error(
    `timed out after ${timeoutMs / 1000}s waiting for ${what}${last ? ` (last error: ${last})` : ''}` +
      `${procs.length ? `. Last lines of ${procs[0].logPath}:\n${tail(procs[0].logPath)}` : ''}`,
  );
}
