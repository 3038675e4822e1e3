/**
 * The local nmap runner: nmap on this host (or inside a network namespace with
 * `ip netns exec`), one run per address family, through runTool (own process
 * group, hard timeout, abort kills nmap and its children). Used by the network
 * scan's local runner, the tests and the benches.
 */
import { runTool } from '../../../lib/tools/run.ts';
import {
  nmapRuns,
  normalizeHost,
  parseNmapXml,
  resultsFor,
  type AddressFamily,
  type NmapArgsOptions,
  type NmapResult,
  type NmapRun,
  type ProbeResult,
  type ProbeTarget,
} from './nmap.ts';

export interface LocalNmapOptions extends NmapArgsOptions {
  /** nmap binary (default "nmap" from PATH). */
  nmapPath?: string;
  /** Run inside this network namespace: `ip netns exec <netns> nmap …` (needs root). */
  netns?: string;
  /** Kill nmap (SIGTERM, then SIGKILL after 2 s) after this long. Default: see defaultKillTimeoutMs. */
  timeoutMs?: number;
  /** Abort: kills nmap. */
  signal?: AbortSignal;
}

export interface LocalNmapRunInfo {
  family: AddressFamily;
  command: string[];
  durationMs: number;
  stderr: string;
  parsed: NmapResult;
}

export interface LocalNmapResult {
  results: Map<string, ProbeResult>;
  runs: LocalNmapRunInfo[];
}

export type NmapErrorKind = 'missing' | 'timeout' | 'failed' | 'bad-output' | 'aborted';

export class NmapError extends Error {
  constructor(
    message: string,
    readonly kind: NmapErrorKind,
    readonly command: string[],
    readonly stderr = '',
  ) {
    super(message);
    this.name = 'NmapError';
  }
}

/** Default hard timeout: nmap scans hosts in groups, each bounded by the host
 *  timeout; allow one group per 8 hosts (at least two), plus 10 s of slack. */
export function defaultKillTimeoutMs(hostCount: number, hostTimeoutMs: number): number {
  return hostTimeoutMs * Math.max(2, Math.ceil(hostCount / 8)) + 10_000;
}

const NETNS_NAME = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,254}$/;
const INSTALL_HINT = 'install it with `apt-get install nmap` (Debian/Ubuntu) or pass opts.nmapPath';

/**
 * Run nmap on this host over all targets (one run per address family, run
 * concurrently) and map the results back. Rejects with NmapError when nmap is
 * missing ('missing'), is killed on timeout ('timeout'), exits non-zero or
 * reports exit="error" ('failed', message includes nmap's stderr), or prints
 * something that is not nmap XML ('bad-output').
 */
export async function runLocalNmap(targets: ProbeTarget[], opts: LocalNmapOptions): Promise<LocalNmapResult> {
  if (targets.length === 0) return { results: new Map(), runs: [] };
  const ids = new Set<string>();
  for (const t of targets) {
    if (ids.has(t.id)) throw new Error(`runLocalNmap: duplicate target id ${t.id}`);
    ids.add(t.id);
  }
  if (opts.netns !== undefined && !NETNS_NAME.test(opts.netns)) throw new Error(`runLocalNmap: invalid netns name ${JSON.stringify(opts.netns)}`);
  const runs = nmapRuns(targets, opts);
  const infos = await Promise.all(runs.map((r) => execNmap(r, opts)));
  return {
    results: resultsFor(
      targets,
      infos.map((i) => i.parsed),
    ),
    runs: infos,
  };
}

async function execNmap(run: NmapRun, opts: LocalNmapOptions): Promise<LocalNmapRunInfo> {
  const nmap = opts.nmapPath ?? 'nmap';
  const command = opts.netns ? ['ip', 'netns', 'exec', opts.netns, nmap, ...run.args] : [nmap, ...run.args];
  const hostCount = new Set(run.targets.map((t) => normalizeHost(t.host).host)).size;
  const timeout = opts.timeoutMs ?? defaultKillTimeoutMs(hostCount, opts.hostTimeoutMs);
  const r = await runTool(command[0], command.slice(1), { timeoutMs: timeout, ...(opts.signal ? { signal: opts.signal } : {}) });
  const { stdout, durationMs } = r;
  const stderr = r.stderrTail;
  const shown = command.join(' ');
  if (r.missing || /exec of ".*" failed: No such file or directory/.test(stderr)) {
    if (opts.netns && r.missing) {
      throw new NmapError(
        `ip (iproute2) not found, needed to run nmap in netns ${opts.netns}: install it with \`apt-get install iproute2\``,
        'missing',
        command,
        stderr,
      );
    }
    throw new NmapError(`nmap not found (${JSON.stringify(nmap)}${opts.nmapPath ? '' : ' on PATH'}): ${INSTALL_HINT}`, 'missing', command, stderr);
  }
  if (r.timedOut)
    throw new NmapError(`nmap timed out after ${timeout} ms and was killed: ${shown}${stderr ? `\nstderr: ${stderr.trim()}` : ''}`, 'timeout', command, stderr);
  if (r.aborted) throw new NmapError(`nmap aborted: ${shown}`, 'aborted', command, stderr);
  if (r.exitCode !== 0) {
    const why = r.exitCode !== null ? `exited with code ${r.exitCode}` : `was killed by ${r.signal}`;
    throw new NmapError(`nmap ${why}: ${shown}\nstderr: ${stderr.trim() || '(empty)'}`, 'failed', command, stderr);
  }
  let parsed: NmapResult;
  try {
    parsed = parseNmapXml(stdout, { stderr });
  } catch (e) {
    throw new NmapError(
      `nmap output could not be parsed: ${(e as Error).message}\ncommand: ${shown}\nstderr: ${stderr.trim() || '(empty)'}`,
      'bad-output',
      command,
      stderr,
    );
  }
  if (parsed.finished && parsed.finished.exit !== 'success') {
    throw new NmapError(
      `nmap reported exit="${parsed.finished.exit}": ${parsed.finished.errormsg ?? '(no message)'}\nstderr: ${stderr.trim() || '(empty)'}`,
      'failed',
      command,
      stderr,
    );
  }
  return { family: run.family, command, durationMs, stderr, parsed };
}
