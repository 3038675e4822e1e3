/**
 * Probe execution: one nmap invocation per source covering all of that
 * source's targets, sources run concurrently with a bound.
 *
 * Runners:
 *  - cluster (default in a pod): an ephemeral container in a running pod of the
 *    source, falling back to a short-lived probe pod with the source's labels
 *    (functions/network-scan/probes/pods.ts);
 *  - local: nmap on this host (tests, and users scanning from outside the
 *    cluster). Cluster DNS names cannot be resolved from outside, so the local
 *    runner only probes names mapped to addresses by NETWORK_PROBE_LOCAL_HOSTS
 *    (JSON object name → IP) and IP literals; any other name is UNDECIDED and no
 *    DNS query is sent.
 */
import pLimit from 'p-limit';
import { toReportError, type ReportError } from '../../../lib/errors.ts';
import { normalizeHost, runLocalNmap, type ProbeResult, type ProbeTarget } from '../../../lib/probe/nmap.ts';
import { bySource, type ProbeSource, type ProbeTest } from './plan.ts';

export interface ProbeRunner {
  name: string;
  run(source: ProbeSource, targets: ProbeTarget[], signal?: AbortSignal): Promise<{ results: Map<string, ProbeResult>; via: string }>;
}

export interface LocalRunnerOptions {
  hostMap: Record<string, string>;
  hostTimeoutMs: number;
  connectTimeoutMs?: number;
  nmapPath?: string;
}

export function localRunner(opts: LocalRunnerOptions): ProbeRunner {
  return {
    name: 'local',
    async run(_source, targets, signal) {
      const results = new Map<string, ProbeResult>();
      const mapped: ProbeTarget[] = [];
      for (const t of targets) {
        const host = opts.hostMap[t.host] ?? t.host;
        if (normalizeHost(host).isName) {
          results.set(t.id, { state: 'unknown', reason: `cannot resolve ${t.host} from outside the cluster without sending a DNS query; map it in NETWORK_PROBE_LOCAL_HOSTS` });
          continue;
        }
        mapped.push({ ...t, host });
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

export async function executeProbes(tests: ProbeTest[], runner: ProbeRunner, concurrency: number, signal?: AbortSignal): Promise<Execution> {
  const limit = pLimit(concurrency);
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
          sources.push({ source: key, via: out.via, targets: targets.length, duration_ms: Date.now() - t0 });
        } catch (err) {
          const e = toReportError(`probe from ${key}`, err);
          errors.push(e);
          sources.push({ source: key, via: runner.name, targets: targets.length, duration_ms: Date.now() - t0, error: e.message });
        }
      }),
    ),
  );
  sources.sort((a, b) => a.source.localeCompare(b.source));
  return { results, errors, sources };
}
