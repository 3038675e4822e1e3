/**
 * Every setting of the OPA scan, parsed up front (before any cluster call): a bad
 * value is a 422 naming the variable.
 *
 *   STACK_METADATA          the topology (lib/topology/settings.ts)
 *   GATEKEEPER_NAMESPACE    where Gatekeeper runs, when not in gatekeeper-system, opa or gatekeeper (a DNS-1123 label)
 *   OPA_SCAN_CONCURRENCY    dry-run requests in flight at once (default 8, 1–64)
 *   OPA_SCAN_REPLAY         replay audited objects for constraints without a generator: on (default) | off
 *   OPA_SCAN_TIMEOUT_MS     the scan's total time (lib/scan/scaffold.ts); scratch objects expire after it
 */
import { isDns1123Label } from '../../lib/k8s/labels.ts';
import { intSetting, invalidSetting } from '../../lib/scan/settings.ts';
import { topologySettings, type TopologySettings } from '../../lib/topology/settings.ts';

export interface OpaScanSettings {
  topology: TopologySettings;
  /** Explicit kubeconfig file; otherwise in-cluster, KUBECONFIG or ~/.kube/config. */
  kubeconfig?: string;
  gatekeeperNamespace?: string;
  /** Dry-run requests in flight at once. */
  concurrency: number;
  /** Replay audited objects where no generator exists (default true). */
  replay?: boolean;
}

export function opaSettingsFromEnv(env: NodeJS.ProcessEnv = process.env): OpaScanSettings {
  const concurrency = intSetting(env, 'OPA_SCAN_CONCURRENCY', 8, 1, 64);
  const ns = env.GATEKEEPER_NAMESPACE?.trim();
  if (ns && !isDns1123Label(ns)) throw invalidSetting('GATEKEEPER_NAMESPACE', 'a namespace name (DNS-1123 label: lowercase letters, digits and -, at most 63)', env.GATEKEEPER_NAMESPACE);
  const replayRaw = env.OPA_SCAN_REPLAY?.trim().toLowerCase();
  let replay = true;
  if (replayRaw) {
    if (['on', 'true', '1', 'yes'].includes(replayRaw)) replay = true;
    else if (['off', 'false', '0', 'no'].includes(replayRaw)) replay = false;
    else throw invalidSetting('OPA_SCAN_REPLAY', 'on or off', env.OPA_SCAN_REPLAY);
  }
  return { topology: topologySettings(env), ...(ns ? { gatekeeperNamespace: ns } : {}), concurrency, replay };
}
