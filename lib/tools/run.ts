/**
 * Run an external program (nmap, kubescape, nuclei) the same way everywhere:
 * no shell, argv only, stdin closed, in its own process group so that an
 * abort or a timeout kills the program AND its children (no orphans), stdout
 * optionally streamed line by line, stderr kept as a bounded tail.
 *
 * Never throws for a program that ran and failed: the caller reads exitCode,
 * timedOut, aborted and missing and decides what to report.
 */
import { accessSync, constants, statSync } from 'node:fs';
import { delimiter, join } from 'node:path';

export interface RunToolOptions {
  signal?: AbortSignal;
  /** Kill the process group after this many ms (SIGTERM, then SIGKILL 2 s later). */
  timeoutMs?: number;
  /** Extra environment variables (the process environment is inherited). */
  env?: Record<string, string>;
  cwd?: string;
  /** Called for every complete stdout line as it arrives. */
  onStdoutLine?: (line: string) => void;
  /** Keep stdout in the result (default true; false when onStdoutLine consumes it). */
  keepStdout?: boolean;
  /** How many characters of stderr to keep (the end). Default 4000. */
  stderrTailChars?: number;
}

export interface ToolResult {
  file: string;
  args: string[];
  exitCode: number | null;
  signal: string | null;
  stdout: string;
  stderrTail: string;
  durationMs: number;
  timedOut: boolean;
  aborted: boolean;
  /** The program was not found or is not executable. */
  missing: boolean;
}

const KILL_GRACE_MS = 2000;

/** Kill a whole process group (negative pid); ignore "no such process". */
export function killGroup(pid: number | undefined, sig: NodeJS.Signals): void {
  if (!pid) return;
  try {
    process.kill(-pid, sig);
  } catch {
    try {
      process.kill(pid, sig);
    } catch {
      /* already gone */
    }
  }
}

export async function runTool(file: string, args: string[], opts: RunToolOptions = {}): Promise<ToolResult> {
  const started = performance.now();
  const tailMax = opts.stderrTailChars ?? 4000;
  const keep = opts.keepStdout ?? true;
  // execa is loaded on the first run, not at start: every function imports this module (cold start).
  const { execa } = await import('execa');
  if (opts.signal?.aborted) {
    return { file, args, exitCode: null, signal: null, stdout: '', stderrTail: '', durationMs: 0, timedOut: false, aborted: true, missing: false };
  }
  const child = execa(file, args, {
    reject: false,
    stdin: 'ignore',
    detached: true, // own process group: the group is killed on abort/timeout
    cleanup: true,
    buffer: false,
    env: opts.env,
    cwd: opts.cwd,
  });
  let stdout = '';
  let partial = '';
  let stderr = '';
  child.stdout?.setEncoding('utf8');
  child.stderr?.setEncoding('utf8');
  child.stdout?.on('data', (chunk: string) => {
    if (keep) stdout += chunk;
    if (opts.onStdoutLine) {
      partial += chunk;
      let nl: number;
      while ((nl = partial.indexOf('\n')) >= 0) {
        const line = partial.slice(0, nl).replace(/\r$/, '');
        partial = partial.slice(nl + 1);
        if (line) opts.onStdoutLine(line);
      }
    }
  });
  child.stderr?.on('data', (chunk: string) => {
    stderr += chunk;
    if (stderr.length > tailMax * 2) stderr = stderr.slice(-tailMax);
  });

  let timedOut = false;
  let aborted = false;
  let hardKill: NodeJS.Timeout | undefined;
  const stop = () => {
    killGroup(child.pid, 'SIGTERM');
    hardKill ??= setTimeout(() => killGroup(child.pid, 'SIGKILL'), KILL_GRACE_MS);
  };
  const timer = opts.timeoutMs
    ? setTimeout(() => {
        timedOut = true;
        stop();
      }, opts.timeoutMs)
    : undefined;
  const onAbort = () => {
    aborted = true;
    stop();
  };
  opts.signal?.addEventListener('abort', onAbort, { once: true });

  const r = await child;
  clearTimeout(timer);
  opts.signal?.removeEventListener('abort', onAbort);
  // Children that outlived the leader (e.g. a tool's helpers) go with the group.
  if (timedOut || aborted) killGroup(child.pid, 'SIGKILL');
  if (hardKill) clearTimeout(hardKill);
  if (opts.onStdoutLine && partial.trim()) opts.onStdoutLine(partial.replace(/\r$/, ''));
  const code = (r as { code?: string }).code;
  return {
    file,
    args,
    exitCode: r.exitCode ?? null,
    signal: r.signal ?? null,
    stdout,
    stderrTail: stderr.slice(-tailMax),
    durationMs: performance.now() - started,
    timedOut,
    aborted,
    missing: code === 'ENOENT' || code === 'EACCES',
  };
}

/** One line for errors[]: what ran, how it ended, the end of what it said. */
export function describeFailure(name: string, r: ToolResult): string {
  const how = r.missing
    ? `${name} was not found or is not executable (${r.file})`
    : r.timedOut
      ? `${name} timed out and was killed`
      : r.aborted
        ? `${name} was cancelled`
        : r.exitCode !== null
          ? `${name} exited with code ${r.exitCode}`
          : `${name} was killed by ${r.signal}`;
  const tail = r.stderrTail.trim().split('\n').slice(-5).join(' | ');
  return tail ? `${how}: ${tail}` : how;
}

/** An existing regular file this process may execute. */
export function isExecutable(p: string): boolean {
  try {
    accessSync(p, constants.X_OK);
    return statSync(p).isFile();
  } catch {
    return false;
  }
}

/** The first executable `name` in PATH's directories, if any. */
export function findOnPath(name: string, env: NodeJS.ProcessEnv = process.env): string | undefined {
  return (env.PATH ?? '')
    .split(delimiter)
    .filter(Boolean)
    .map((d) => join(d, name))
    .find(isExecutable);
}
