/**
 * Probe execution: one nmap invocation per source covering all of that
 * source's targets, sources run concurrently with a bound.
 *
 * Runners:
 *  - cluster (default in a pod): an ephemeral container in a running pod of the
 *    source, falling back to a short-lived probe pod with the source's labels
 *    (probes/cluster-probe.ts, its pod specs in probes/pod-specs.ts);
 *  - local: nmap on this host (tests, and users scanning from outside the
 *    cluster). Cluster DNS names cannot be resolved from outside, so the local
 *    runner only probes names mapped to addresses by SCAN_HOST_MAP (or NETWORK_PROBE_LOCAL_HOSTS)
 *    (JSON object name → IP) and IP literals; any other name is UNDECIDED and no
 *    DNS query is sent.
 */
import pLimit from 'p-limit';
import { toReportError, type ReportError } from '../../../lib/errors.ts';
import { normalizeHost, type ProbeResult, type ProbeTarget } from '../nmap/nmap.ts';
import { runLocalNmap } from '../nmap/local.ts';
import { resolveTarget, type HostMap } from '../../../lib/scan/hosts.ts';
import { bySource, type ProbeSource, type ProbeTest } from './plan.ts';

export interface ProbeRunner {
  name: string;
  /**
   * Probe every target from `source`. Every target gets a result (unknown with the reason when
   * it could not be probed); `error` says what went wrong for the report's errors[].
   */
  run(source: ProbeSource, targets: ProbeTarget[], signal?: AbortSignal): Promise<{ results: Map<string, ProbeResult>; via: string; error?: string }>;
}

/**
 * Targets nmap may be given, and a result for each one that may not: a host that is
 * neither an IP address nor a DNS name is UNDECIDED alone, never its whole source.
 */
export function splitValidTargets(targets: ProbeTarget[]): { valid: ProbeTarget[]; results: Map<string, ProbeResult> } {
  const valid: ProbeTarget[] = [];
  const results = new Map<string, ProbeResult>();
  for (const t of targets) {
    try {
      normalizeHost(t.host);
      if (t.protocol !== 'TCP' || !Number.isInteger(t.port) || t.port < 1 || t.port > 65535) throw new Error(`invalid port ${t.port}/${t.protocol}`);
      valid.push(t);
    } catch (err) {
      results.set(t.id, { state: 'unknown', reason: `target rejected: ${(err as Error).message}` });
    }
  }
  return { valid, results };
}

export interface LocalRunnerOptions {
  hostMap: HostMap;
  hostTimeoutMs: number;
  connectTimeoutMs?: number;
  nmapPath?: string;
}

export function localRunner(opts: LocalRunnerOptions): ProbeRunner {
  return {
    name: 'local',
    async run(_source, targets, signal) {
      const { valid, results } = splitValidTargets(targets);
      const mapped: ProbeTarget[] = [];
      for (const t of valid) {
        // The local runner never sends a DNS query: mapped names and IP literals only.
        const r = resolveTarget(opts.hostMap, t.host, t.port, 'off');
        if (r.kind !== 'address') {
          results.set(t.id, {
            state: 'unknown',
            reason: `cannot resolve ${t.host} from outside the cluster without sending a DNS query; map it in ${opts.hostMap.setting}`,
          });
          continue;
        }
        mapped.push({ ...t, host: r.host, port: r.port });
      }
      const out = await runLocalNmap(mapped, { hostTimeoutMs: opts.hostTimeoutMs, connectTimeoutMs: opts.connectTimeoutMs, nmapPath: opts.nmapPath, signal });
      for (const [id, r] of out.results) results.set(id, r);
      return { results, via: 'local nmap' };
    },
  };
}

export interface Execution {
  results: Map<string, ProbeResult>;
  errors: ReportError[];
  /** Per source: how it was probed and how long it took. */
  sources: { source: string; via: string; targets: number; duration_ms: number; error?: string }[];
}

export async function executeProbes(
  tests: ProbeTest[],
  runner: ProbeRunner,
  concurrency: number,
  signal?: AbortSignal,
  progress?: (done: number, total: number) => void,
): Promise<Execution> {
  const limit = pLimit(concurrency);
  let done = 0;
  progress?.(0, tests.length);
  const results = new Map<string, ProbeResult>();
  const errors: ReportError[] = [];
  const sources: Execution['sources'] = [];
  await Promise.all(
    [...bySource(tests)].map(([key, group]) =>
      limit(async () => {
        const t0 = Date.now();
        const targets: ProbeTarget[] = group.map((t) => ({ id: t.id, host: t.target.host, port: t.target.port, protocol: 'TCP' }));
        try {
          const out = await runner.run(group[0].source, targets, signal);
          for (const [id, r] of out.results) results.set(id, r);
          if (out.error) errors.push({ step: `probe from ${key}`, code: 'probe_failed', message: out.error });
          sources.push({ source: key, via: out.via, targets: targets.length, duration_ms: Date.now() - t0, ...(out.error ? { error: out.error } : {}) });
        } catch (err) {
          const e = toReportError(`probe from ${key}`, err);
          errors.push(e);
          sources.push({ source: key, via: runner.name, targets: targets.length, duration_ms: Date.now() - t0, error: e.message });
        }
        done += group.length;
        progress?.(done, tests.length);
      }),
    ),
  );
  sources.sort((a, b) => a.source.localeCompare(b.source));
  return { results, errors, sources };
}
