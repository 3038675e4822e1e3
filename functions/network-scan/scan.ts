/**
 * The network scan: expected NetworkPolicies (manifest or derived from the
 * stack metadata) against the live cluster.
 *   plan    — load topology and expected set (lib/topology); full: the probe plan
 *   execute — list namespaces and NetworkPolicies (lib/kube); full: nmap probes
 *   judge   — judgeLight, judgeProbes (pure)
 *
 * Settings (full mode):
 *   NETWORK_PROBE_RUNNER          cluster (default) | local
 *   NETWORK_PROBE_LOCAL_HOSTS     JSON {"name": "ip"} for the local runner
 *   NETWORK_PROBE_EXTERNAL_TARGET host for the internet layer (unset: layer not run)
 *   NETWORK_PROBE_CONCURRENCY     sources probed at once (default 10)
 *   NETWORK_PROBE_MAX_NEGATIVE    most unlinked namespace pairs tested (default 200; a seeded sample beyond)
 *   NETWORK_PROBE_SEED            seed of that sample (default 1)
 *   NETWORK_PROBE_HOST_TIMEOUT_MS nmap --host-timeout (default 10000)
 */
import { ScanError, toReportError, type ReportError } from '../../lib/errors.ts';
import { listNamespaces, listNetworkPolicies, makeKube, type Kube } from '../../lib/kube/client.ts';
import { apiGet } from '../../lib/kube/raw.ts';
import { intSetting } from '../../lib/scan/settings.ts';
import { executeProbes, localRunner, type ProbeRunner } from './probes/execute.ts';
import { judgeProbes, summarizeProbes } from './probes/judge.ts';
import { planProbes, type PodInfo, type ServiceInfo } from './probes/plan.ts';
import { clusterRunner, probeSettingsFromEnv, type ProbeSettings } from './probes/cluster-runner.ts';
import { mergeScores } from '../../lib/scan/score.ts';
import type { ScanDefinition, ScanOutcome } from '../../lib/scan/scaffold.ts';
import { INTERNET } from '../../lib/topology/expected.ts';
import { loadTopologyAndPolicies, topologySettings, type TopologySettings } from '../../lib/topology/settings.ts';
import { judgeLight, type ClusterSnapshot } from './light.ts';

export interface FullModeSettings {
  runner: 'cluster' | 'local';
  localHosts: Record<string, string>;
  externalTarget?: string;
  concurrency: number;
  maxNegative: number;
  seed: number;
  hostTimeoutMs: number;
  probe?: ProbeSettings;
}

export interface NetworkScanSettings {
  topology: TopologySettings;
  /** Explicit kubeconfig file; otherwise in-cluster, KUBECONFIG or ~/.kube/config. */
  kubeconfig?: string;
  /** Full-mode settings; default: read from the environment per request. */
  full?: FullModeSettings;
}

export function fullSettingsFromEnv(env: NodeJS.ProcessEnv = process.env): FullModeSettings {
  const runner = env.NETWORK_PROBE_RUNNER || 'cluster';
  if (runner !== 'cluster' && runner !== 'local') throw new ScanError(422, { code: 'invalid_setting', message: `NETWORK_PROBE_RUNNER must be 'cluster' or 'local'; got '${runner}'`, setting: 'NETWORK_PROBE_RUNNER' });
  let localHosts: Record<string, string> = {};
  if (env.NETWORK_PROBE_LOCAL_HOSTS) {
    try {
      localHosts = JSON.parse(env.NETWORK_PROBE_LOCAL_HOSTS);
      if (!localHosts || typeof localHosts !== 'object' || Array.isArray(localHosts) || Object.values(localHosts).some((v) => typeof v !== 'string')) throw new Error('not an object of strings');
    } catch (err) {
      throw new ScanError(422, { code: 'invalid_setting', message: `NETWORK_PROBE_LOCAL_HOSTS must be a JSON object mapping host names to IP addresses: ${(err as Error).message}`, setting: 'NETWORK_PROBE_LOCAL_HOSTS' });
    }
  }
  const probe = runner === 'cluster' ? probeSettingsFromEnv(env) : undefined;
  return {
    runner,
    localHosts,
    externalTarget: env.NETWORK_PROBE_EXTERNAL_TARGET || undefined,
    concurrency: probe?.concurrency ?? intSetting(env, 'NETWORK_PROBE_CONCURRENCY', 10, 1, 100),
    maxNegative: intSetting(env, 'NETWORK_PROBE_MAX_NEGATIVE', 200, 0, 10_000),
    seed: intSetting(env, 'NETWORK_PROBE_SEED', 1, 0, 2 ** 31),
    hostTimeoutMs: intSetting(env, 'NETWORK_PROBE_HOST_TIMEOUT_MS', 10_000, 500, 600_000),
    ...(probe ? { probe } : {}),
  };
}

export function networkSettingsFromEnv(env: NodeJS.ProcessEnv = process.env): NetworkScanSettings {
  return { topology: topologySettings(env), full: fullSettingsFromEnv(env) };
}

type Mode = 'light' | 'full';


async function readWorkloads(kube: Kube): Promise<{ services: ServiceInfo[]; pods: PodInfo[] }> {
  const [svcs, slices, pods] = await Promise.all([
    apiGet(kube, { verb: 'list', resource: 'services' }, '/api/v1/services'),
    apiGet(kube, { verb: 'list', resource: 'endpointslices.discovery.k8s.io' }, '/apis/discovery.k8s.io/v1/endpointslices'),
    apiGet(kube, { verb: 'list', resource: 'pods' }, '/api/v1/pods'),
  ]);
  const ready = new Map<string, number>();
  for (const sl of slices.items ?? []) {
    const key = `${sl.metadata.namespace}/${sl.metadata.labels?.['kubernetes.io/service-name']}`;
    const n = (sl.endpoints ?? []).filter((e: any) => e.conditions?.ready !== false).reduce((a: number, e: any) => a + (e.addresses?.length ?? 0), 0);
    ready.set(key, (ready.get(key) ?? 0) + n);
  }
  return {
    services: (svcs.items ?? []).map((s: any) => ({
      name: s.metadata.name,
      namespace: s.metadata.namespace,
      clusterIP: s.spec?.clusterIP,
      ports: (s.spec?.ports ?? []).map((p: any) => ({ port: p.port, name: p.name, protocol: p.protocol, targetPort: p.targetPort })),
      selector: s.spec?.selector ?? {},
      endpoints: ready.get(`${s.metadata.namespace}/${s.metadata.name}`) ?? 0,
    })),
    pods: (pods.items ?? []).map((p: any) => ({
      name: p.metadata.name,
      namespace: p.metadata.namespace,
      labels: p.metadata.labels ?? {},
      ip: p.status?.podIP,
      ready: p.status?.phase === 'Running' && (p.status?.conditions ?? []).some((c: any) => c.type === 'Ready' && c.status === 'True'),
      ports: (p.spec?.containers ?? []).flatMap((c: any) => (c.ports ?? []).filter((x: any) => x.name).map((x: any) => ({ name: x.name, port: x.containerPort, protocol: x.protocol }))),
    })),
  };
}

/** Without settings, they are read from the environment on each request, so a bad value is a 422, not a crash. */
export function networkScan(given?: NetworkScanSettings): ScanDefinition<Mode> {
  return {
    name: 'network',
    path: '/network_scan',
    modes: ['light', 'full'],
    defaultMode: 'light',
    async run({ mode, signal }): Promise<ScanOutcome> {
      const settings = given ?? { topology: topologySettings() };
      const { topology, expected } = await loadTopologyAndPolicies(settings.topology);
      const kube = makeKube(settings.kubeconfig);
      const errors: ReportError[] = [];

      const [namespaces, policies] = await Promise.allSettled([listNamespaces(kube), listNetworkPolicies(kube)]);
      const failures = [namespaces, policies].filter((r): r is PromiseRejectedResult => r.status === 'rejected');
      const unreachable = failures.find((f) => f.reason instanceof ScanError && f.reason.info.code === 'cluster_unreachable');
      if (unreachable) throw unreachable.reason;
      if (namespaces.status === 'rejected') errors.push(toReportError('list namespaces (selector and namespace checks skipped)', namespaces.reason));
      if (policies.status === 'rejected') errors.push(toReportError('list networkpolicies (no comparison possible)', policies.reason));

      const sources = {
        expected_from: expected.source,
        expected_file: expected.file,
        metadata: settings.topology.metadata.path,
        cluster: kube.server,
        warnings: topology.warnings,
      };
      if (policies.status === 'rejected') {
        return {
          score: null,
          summary: { expected: expected.policies.length, stack_namespaces: topology.namespaces.length, undecided: 'the cluster NetworkPolicies could not be read; see errors' },
          errors,
          sources,
        };
      }
      const snapshot: ClusterSnapshot = { policies: policies.value, namespaces: namespaces.status === 'fulfilled' ? namespaces.value : null };
      const report = judgeLight(topology, expected, snapshot);
      if (mode === 'light') return { score: report.score, summary: report.summary, results: report.results, errors, sources };

      // Full mode: real TCP probes from each source, explained by the policy engine.
      const full = settings.full ?? fullSettingsFromEnv();
      const { services, pods } = await readWorkloads(kube);
      const tests = planProbes({ topology, policies: snapshot.policies, namespaces: snapshot.namespaces ?? [], services, pods, externalTarget: full.externalTarget, internetEgress: INTERNET, maxNegative: full.maxNegative, seed: full.seed });
      const runner: ProbeRunner = full.runner === 'local' ? localRunner({ hostMap: full.localHosts, hostTimeoutMs: full.hostTimeoutMs }) : clusterRunner(kube, full.probe!, full.hostTimeoutMs);
      const exec = await executeProbes(tests, runner, full.concurrency, signal);
      errors.push(...exec.errors);
      const findings = judgeProbes(tests, exec.results);
      const probes = summarizeProbes(findings);
      const score = mergeScores(report.score, probes.pass_rate);
      return {
        score,
        summary: { ...report.summary, light_score: report.score, probes },
        results: { ...report.results, probe_sources: exec.sources },
        findings,
        errors,
        sources: { ...sources, runner: runner.name, external_target: full.externalTarget ?? null },
      };
    },
  };
}
