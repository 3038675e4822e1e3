/**
 * The network scan: expected NetworkPolicies (generated files, manifest, or derived
 * from the stack metadata) against the live cluster; in full mode, real nmap probes
 * from each source's identity, explained by the NetworkPolicy engine.
 *
 *   settings — every setting parsed first (settings.ts): a bad value is a 422 before any cluster call
 *   plan     — topology and expected set (lib/topology); full: the probe plan (probes/plan.ts, pure)
 *   execute  — namespaces and NetworkPolicies, workloads (lib/kube); full: probes (probes/execute.ts)
 *   judge    — judgeLight, judgeProbes (pure), one PolicyEngine compiled once for both
 *   report   — scores merged with lib/scan/score.ts
 */
import { ScanError, toReportError, type ReportError } from '../../lib/errors.ts';
import { listNamespaces, listNetworkPolicies } from '../../lib/kube/api.ts';
import { makeKube, type Kube } from '../../lib/kube/client.ts';
import { ScratchRun, sweepExpired } from '../../lib/kube/scratch.ts';
import type { ScanDefinition, ScanOutcome } from '../../lib/scan/scaffold.ts';
import { mergeScores } from '../../lib/scan/score.ts';
import { INTERNET } from '../../lib/topology/expected.ts';
import { loadTopologyAndPolicies } from '../../lib/topology/settings.ts';
import { NetworkScanCache } from './cache.ts';
import { PolicyEngine } from './engine.ts';
import { judgeLight } from './light/index.ts';
import type { ClusterSnapshot } from './light/types.ts';
import type { ProbeRunner } from './probes/execute.ts';
import { PROBE_PURPOSE } from './probes/pod-specs.ts';
import { networkSettingsFromEnv, type NetworkScanSettings } from './settings.ts';
import { networkChecks } from './checks.ts';
import { networkGraph } from './graph.ts';
import { NETWORK_REPORT } from './report.ts';

/** Full mode's modules (probe plan, runners, nmap, execa), loaded on the first full scan only: light stays small. */
const fullMode = () =>
  Promise.all([
    import('./probes/cluster-runner.ts'),
    import('./probes/execute.ts'),
    import('./probes/judge.ts'),
    import('./probes/plan.ts'),
    import('./workloads.ts'),
  ]).then(([runner, execute, judge, plan, workloads]) => ({ ...runner, ...execute, ...judge, ...plan, ...workloads }));

export { fullSettingsFromEnv, networkSettingsFromEnv, type FullModeSettings, type NetworkScanSettings } from './settings.ts';

type Mode = 'light' | 'full';

/** Internet exceptions per component type (user data: looked up as own keys only). */
export const internetEgress = (type: string) => (Object.hasOwn(INTERNET, type) ? INTERNET[type] : undefined);

/** Namespaces and NetworkPolicies; an unreachable API server stops the scan (503), a denied list does not. */
async function readPolicies(kube: Kube, errors: ReportError[]) {
  const [namespaces, policies] = await Promise.allSettled([listNamespaces(kube), listNetworkPolicies(kube)]);
  const failures = [namespaces, policies].filter((r): r is PromiseRejectedResult => r.status === 'rejected');
  const unreachable = failures.find((f) => f.reason instanceof ScanError && f.reason.info.code === 'cluster_unreachable');
  if (unreachable) throw unreachable.reason;
  if (namespaces.status === 'rejected') errors.push(toReportError('list namespaces (selector and namespace checks skipped)', namespaces.reason));
  if (policies.status === 'rejected') errors.push(toReportError('list networkpolicies (no comparison possible)', policies.reason));
  return { namespaces: namespaces.status === 'fulfilled' ? namespaces.value : null, policies: policies.status === 'fulfilled' ? policies.value : null };
}

/** Without settings, they are read from the environment on each request, so a bad value is a 422, not a crash. */
export function networkScan(given?: NetworkScanSettings): ScanDefinition<Mode> {
  // The scan's one cache (light judgements, canonical forms, compiled policies): see cache.ts.
  const cache = new NetworkScanCache();
  return {
    name: 'network',
    path: '/network_scan',
    report: NETWORK_REPORT,
    modes: ['light', 'full'],
    defaultMode: 'light',
    checks: (report) => networkChecks(report, cache.checks),
    graph: networkGraph,
    timeoutMs: { light: 120_000, full: 900_000 },
    async run({ mode, signal, timeoutMs: ttlMs, progress }): Promise<ScanOutcome> {
      const settings = given ?? networkSettingsFromEnv();
      const full = mode === 'full' ? (settings.full ?? networkSettingsFromEnv().full) : undefined;

      const { topology, expected } = await loadTopologyAndPolicies(settings.topology);
      const kube = await makeKube(settings.kubeconfig);
      const errors: ReportError[] = [];
      const { namespaces, policies } = await readPolicies(kube, errors);
      const sources = {
        expected_from: expected.source,
        expected_file: expected.file,
        expected_because: expected.reason ?? null,
        metadata: settings.topology.metadata.path,
        cluster: kube.server,
        warnings: topology.warnings,
      };
      if (policies === null) {
        return {
          score: null,
          summary: {
            expected: expected.policies.length,
            stack_namespaces: topology.namespaces.length,
            undecided: 'the cluster NetworkPolicies could not be read; see errors',
          },
          ...(mode === 'full' ? { findings: [] } : {}),
          errors,
          sources,
        };
      }
      const snapshot: ClusterSnapshot = { policies, namespaces };
      // The light judgement is a pure function of the expected set and the live objects: an unchanged
      // cluster (same uids and resourceVersions) reuses the last judgement instead of recomputing it.
      // Light mode compiles only what it needs (an engine over the namespaces whose link verdicts
      // changed); full mode's engine covers every policy, and the light judgement uses it too.
      const engine = mode === 'full' && full ? new PolicyEngine(policies, namespaces ?? [], cache) : undefined;
      const judged = cache.judgement(expected, snapshot, () => judgeLight(topology, expected, snapshot, engine, cache));
      const report = judged.report;
      if (mode === 'light' || !full)
        return {
          score: report.score,
          summary: report.summary,
          results: report.results,
          errors,
          sources: { ...sources, judgement: judged.cached ? 'reused (cluster unchanged since the last scan)' : 'computed' },
        };

      // Full mode: real TCP probes from each source, explained by the same engine.
      const { clusterRunner, executeProbes, localRunner, judgeProbes, summarizeProbes, planProbes, readWorkloads } = await fullMode();
      const workloads = await readWorkloads(kube);
      errors.push(...workloads.errors);
      const tests = planProbes({
        topology,
        engine: engine!,
        services: workloads.services,
        pods: workloads.pods,
        templates: workloads.templates,
        externalTarget: full.externalTarget,
        internetEgress,
        maxNegative: full.maxNegative,
        seed: full.seed,
      });
      const scratch = new ScratchRun(kube, { purpose: PROBE_PURPOSE, ttlMs });
      let swept = 0;
      let runner: ProbeRunner;
      if (full.runner === 'local') runner = localRunner({ hostMap: full.localHosts, hostTimeoutMs: full.hostTimeoutMs });
      else {
        const sweep = await sweepExpired(kube, { exceptRun: scratch.runId });
        swept = sweep.deleted.length;
        errors.push(...sweep.errors);
        runner = clusterRunner(kube, scratch, full.probe, full.hostTimeoutMs);
      }
      let exec;
      try {
        exec = await executeProbes(tests, runner, full.concurrency, signal, progress && ((done, total) => progress({ step: 'probes', done, total })));
      } finally {
        errors.push(...(await scratch.cleanup()));
      }
      errors.push(...exec.errors);
      const findings = judgeProbes(tests, exec.results);
      const probes = summarizeProbes(findings);
      return {
        score: mergeScores(report.score, probes.pass_rate),
        summary: { ...report.summary, light_score: report.score, probes, expired_swept: swept },
        results: { ...report.results, probe_sources: exec.sources },
        findings,
        errors,
        sources: { ...sources, runner: runner.name, external_target: full.externalTarget ?? null },
      };
    },
  };
}
