/**
 * The control plane's processes: who is live in this process, the exit and signal hooks that
 * kill them, stopping a control plane in order, and sweeping what crashed runs left behind.
 * Each run has a dir os.tmpdir()/stackscan-cp-* with the owning node process in `owner` and a
 * pidfile per component (`<name>.pid`).
 */
import { readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isAlive, killGroup, ownerAlive, procCmdline, readFileSafe, stopGroups, within, type Proc } from '../proc.ts';

export const DIR_PREFIX = 'stackscan-cp-';

export interface Live {
  dir: string;
  procs: Proc[];
  /** Already SIGKILLed and removed by the synchronous exit/signal cleanup. */
  killed?: boolean;
}

export const live = new Set<Live>();
let hooksInstalled = false;

/** Synchronous last-resort cleanup (process exit / signals): SIGKILL everything, remove dirs. */
function cleanupAllSync(): void {
  for (const l of live) {
    l.killed = true;
    for (const p of l.procs) if (!p.exit) killGroup(p.pid, 'SIGKILL');
    rmSync(l.dir, { recursive: true, force: true });
  }
  live.clear();
}

export function installHooks(): void {
  if (hooksInstalled) return;
  hooksInstalled = true;
  process.on('exit', cleanupAllSync);
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    const handler = () => {
      cleanupAllSync();
      // If we are the only listener, keep the default behaviour (terminate); otherwise
      // the program's own handler (e.g. test/run.ts) decides, and finds nothing left to stop.
      if (process.listenerCount(sig) === 1) {
        process.removeListener(sig, handler);
        process.kill(process.pid, sig);
      }
    };
    process.on(sig, handler);
  }
}

/**
 * Remove what crashed runs left behind: for each os.tmpdir()/stackscan-cp-* whose owner
 * process is gone, kill the processes recorded in its pidfiles (only if still alive and
 * their command line is one of our binaries working in that dir), then remove the dir.
 */
export function sweepOrphans(log: (line: string) => void = () => {}): void {
  let entries: string[];
  try {
    entries = readdirSync(tmpdir()).filter((e) => e.startsWith(DIR_PREFIX));
  } catch {
    return;
  }
  for (const e of entries) {
    const dir = join(tmpdir(), e);
    let owner = '';
    try {
      owner = readFileSync(join(dir, 'owner'), 'utf8').trim();
    } catch {
      /* no owner file: being created right now, or half-removed */
    }
    const ownerPid = Number(owner.split(' ')[0]);
    if (!owner) {
      // Created less than a minute ago: possibly another run starting up.
      try {
        const age = Date.now() - statSync(dir).mtimeMs;
        if (age < 60_000) continue;
      } catch {
        continue;
      }
    } else if (ownerPid && isAlive(ownerPid) && ownerAlive(owner)) {
      continue; // a live run (maybe this very process)
    }
    let files: string[] = [];
    try {
      files = readdirSync(dir).filter((f) => f.endsWith('.pid'));
    } catch {
      /* gone */
    }
    for (const f of files) {
      const pid = Number(readFileSafe(join(dir, f)).trim());
      if (!pid || !isAlive(pid)) continue;
      const cmd = procCmdline(pid);
      const name = f.slice(0, -4);
      // Only processes we started: our binary, with arguments pointing into this dir.
      if (cmd === undefined || !cmd.includes(name) || !cmd.includes(dir)) continue;
      log(`sweeping orphaned ${name} (pid ${pid}) from ${dir}`);
      killGroup(pid, 'SIGKILL');
    }
    rmSync(dir, { recursive: true, force: true });
    log(`removed orphaned control-plane dir ${dir}`);
  }
}

export async function stopAll(state: Live): Promise<void> {
  if (state.killed) {
    // The signal/exit hook got there first (SIGKILL + rm); just let node reap them.
    await within(
      Promise.all(state.procs.map((p) => p.exited)).then(() => true),
      5000,
    );
    return;
  }
  const stopProcs = (procs: Proc[], graceMs: number) => stopGroups(procs, graceMs, 5000);
  // Clients first, then the apiserver, then its storage.
  await stopProcs(
    state.procs.filter((p) => p.name === 'gatekeeper'),
    5000,
  );
  await stopProcs(
    state.procs.filter((p) => p.name === 'kube-apiserver'),
    5000,
  );
  await stopProcs(
    state.procs.filter((p) => p.name !== 'gatekeeper' && p.name !== 'kube-apiserver'),
    5000,
  );
  live.delete(state);
  rmSync(state.dir, { recursive: true, force: true });
}

/** Starts one of the control plane's binaries (by name) in the run's dir; see harness/proc.ts spawnLogged. */
export type SpawnComponent = (name: string, args: string[], env?: NodeJS.ProcessEnv) => Proc;
