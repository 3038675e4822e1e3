/**
 * Every setting of the network scan, parsed up front (before any cluster call or
 * nmap run): a bad value is a 422 naming the variable.
 *
 *   STACK_METADATA, NETWORKPOLICY_MANIFEST   the topology (lib/topology/settings.ts)
 *   NETWORK_PROBE_RUNNER          cluster (default) | local
 *   SCAN_HOST_MAP (or NETWORK_PROBE_LOCAL_HOSTS) JSON {"name": "ip"} for the local runner (lib/scan/hosts.ts; no DNS query is ever sent)
 *   NETWORK_PROBE_EXTERNAL_TARGET host (IP or DNS name) for the internet layer; unset: the layer is not run
 *   NETWORK_PROBE_CONCURRENCY     sources probed at once (default 10)
 *   NETWORK_PROBE_MAX_NEGATIVE    most unlinked namespace pairs tested (default 200; a seeded sample beyond)
 *   NETWORK_PROBE_SEED            seed of that sample (default 1)
 *   NETWORK_PROBE_HOST_TIMEOUT_MS nmap --host-timeout (default 10000)
 *   NETWORK_PROBE_IMAGE           image providing nmap, for the cluster runner
 *   NETWORK_PROBE_TIMEOUT_MS      how long one in-cluster probe may take (default 60000)
 *   NETWORK_PROBE_MAX_EPHEMERAL   most ephemeral probe containers of ours on one pod; beyond, a probe pod (default 3)
 *   NETWORK_PROBE_SETTLE_MS       a probe pod waits this long before nmap runs, for the enforcer to see it (default 3000)
 */
import { hostMapFromEnv, type HostMap } from '../../lib/scan/hosts.ts';
import { intSetting, invalidSetting } from '../../lib/scan/settings.ts';
import { normalizeHost } from './nmap/hosts.ts';
import { topologySettings, type TopologySettings } from '../../lib/topology/settings.ts';

export interface ProbeSettings {
  /** Image providing `nmap` on PATH (NETWORK_PROBE_IMAGE). */
  image: string;
  /** How long to wait for one probe (ephemeral container or pod) to finish (NETWORK_PROBE_TIMEOUT_MS). */
  timeoutMs: number;
  /** activeDeadlineSeconds of fallback pods: the poll timeout plus 30 s, so a pod we lost track of dies on its own. */
  deadlineSeconds: number;
  /** Sources probed at once (NETWORK_PROBE_CONCURRENCY). */
  concurrency: number;
  /** Ephemeral containers cannot be removed: beyond this many of ours on a pod, probe with a pod instead. */
  maxEphemeralPerPod: number;
  /** A probe pod waits this long before nmap runs, for the enforcer to take the new pod into account (NETWORK_PROBE_SETTLE_MS). */
  settleMs: number;
}

export interface FullModeSettings {
  runner: 'cluster' | 'local';
  /** Explicit name → address mapping for the local runner (lib/scan/hosts.ts). */
  localHosts: HostMap;
  externalTarget?: string;
  concurrency: number;
  maxNegative: number;
  seed: number;
  hostTimeoutMs: number;
  probe: ProbeSettings;
}

export interface NetworkScanSettings {
  topology: TopologySettings;
  /** Explicit kubeconfig file; otherwise in-cluster, KUBECONFIG or ~/.kube/config. */
  kubeconfig?: string;
  /** Full-mode settings. */
  full?: FullModeSettings;
}

/**
 * Default probe image. This name is only a default: NETWORK_PROBE_IMAGE selects
 * the image, which must provide `nmap` on PATH and work as uid 65532. Pin a
 * tag (admission policies commonly refuse `:latest`) and take it from a
 * registry your admission policies allow.
 */
export const DEFAULT_PROBE_IMAGE = 'ghcr.io/stacktic/nmap:7.93';

export function probeSettingsFromEnv(env: NodeJS.ProcessEnv = process.env): ProbeSettings {
  const image = (env.NETWORK_PROBE_IMAGE ?? '').trim() || DEFAULT_PROBE_IMAGE;
  // An image reference: no whitespace or control characters, no leading '-'.
  if (!/^[A-Za-z0-9][A-Za-z0-9._\-/:@]*$/.test(image) || image.length > 512) {
    throw invalidSetting('NETWORK_PROBE_IMAGE', 'an image reference providing nmap (e.g. ghcr.io/org/nmap:7.93)', env.NETWORK_PROBE_IMAGE);
  }
  const timeoutMs = intSetting(env, 'NETWORK_PROBE_TIMEOUT_MS', 60_000, 1_000, 3_600_000);
  const concurrency = intSetting(env, 'NETWORK_PROBE_CONCURRENCY', 10, 1, 100);
  const maxEphemeralPerPod = intSetting(env, 'NETWORK_PROBE_MAX_EPHEMERAL', 3, 0, 50);
  const settleMs = intSetting(env, 'NETWORK_PROBE_SETTLE_MS', 3000, 0, 60_000);
  return { image, timeoutMs, deadlineSeconds: Math.ceil((timeoutMs + settleMs) / 1000) + 30, concurrency, maxEphemeralPerPod, settleMs };
}

/** A host nmap may be given: an IP address or a DNS name, never an option. */
function hostSetting(name: string, raw: string): string {
  try {
    return normalizeHost(raw.trim()).host;
  } catch {
    throw invalidSetting(name, 'an IP address or a DNS name', raw);
  }
}

export function fullSettingsFromEnv(env: NodeJS.ProcessEnv = process.env): FullModeSettings {
  const runner = (env.NETWORK_PROBE_RUNNER ?? '').trim() || 'cluster';
  if (runner !== 'cluster' && runner !== 'local') throw invalidSetting('NETWORK_PROBE_RUNNER', "'cluster' or 'local'", env.NETWORK_PROBE_RUNNER);
  const probe = probeSettingsFromEnv(env);
  const external = env.NETWORK_PROBE_EXTERNAL_TARGET?.trim();
  return {
    runner,
    localHosts: hostMapFromEnv(env, ['NETWORK_PROBE_LOCAL_HOSTS']),
    ...(external ? { externalTarget: hostSetting('NETWORK_PROBE_EXTERNAL_TARGET', external) } : {}),
    concurrency: probe.concurrency,
    maxNegative: intSetting(env, 'NETWORK_PROBE_MAX_NEGATIVE', 200, 0, 10_000),
    seed: intSetting(env, 'NETWORK_PROBE_SEED', 1, 0, 2 ** 31),
    hostTimeoutMs: intSetting(env, 'NETWORK_PROBE_HOST_TIMEOUT_MS', 10_000, 500, 600_000),
    probe,
  };
}

/** Every setting, read once per request before anything else happens. */
export function networkSettingsFromEnv(env: NodeJS.ProcessEnv = process.env): Required<Omit<NetworkScanSettings, 'kubeconfig'>> & Pick<NetworkScanSettings, 'kubeconfig'> {
  return { topology: topologySettings(env), full: fullSettingsFromEnv(env) };
}
