/**
 * The network scan: expected NetworkPolicies (manifest or derived from the
 * stack metadata) against the live cluster.
 *   plan    — load topology and expected set (lib/topology)
 *   execute — list namespaces and NetworkPolicies (lib/kube)
 *   judge   — judgeLight (pure)
 */
import { ScanError, toReportError, type ReportError } from '../../lib/errors.ts';
import { listNamespaces, listNetworkPolicies, makeKube } from '../../lib/kube/client.ts';
import type { ScanDefinition, ScanOutcome } from '../../lib/scan/scaffold.ts';
import { loadTopologyAndPolicies, topologySettings, type TopologySettings } from '../../lib/topology/settings.ts';
import { judgeLight, type ClusterSnapshot } from './light.ts';

export interface NetworkScanSettings {
  topology: TopologySettings;
  /** Explicit kubeconfig file; otherwise in-cluster, KUBECONFIG or ~/.kube/config. */
  kubeconfig?: string;
}

export function networkSettingsFromEnv(env: NodeJS.ProcessEnv = process.env): NetworkScanSettings {
  return { topology: topologySettings(env) };
}

type Mode = 'light';

export function networkScan(settings: NetworkScanSettings = networkSettingsFromEnv()): ScanDefinition<Mode> {
  return {
    name: 'network',
    path: '/network_scan',
    modes: ['light'],
    defaultMode: 'light',
    async run(): Promise<ScanOutcome> {
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
      return { score: report.score, summary: report.summary, results: report.results, errors, sources };
    },
  };
}
