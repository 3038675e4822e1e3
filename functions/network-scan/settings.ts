/**
 * Every setting of the network scan, parsed up front (before any cluster call or nmap run) with
 * NETWORK_SETTINGS (lib/scan/settings.ts; reference: docs/configuration.md): a bad value is a 422
 * naming the variable. The topology settings are lib/topology/settings.ts's, SCAN_HOST_MAP
 * lib/scan/hosts.ts's, NETWORK_SCAN_TIMEOUT_MS the scaffold's.
 */
import { hostMapFromEnv, type HostMap } from '../../lib/scan/hosts.ts';
import { parseSettings, pickSettings, setting, settingsSchema } from '../../lib/scan/settings.ts';
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

/** An image reference: no whitespace or control characters, no leading '-'. */
const IMAGE_REF = /^[A-Za-z0-9][A-Za-z0-9._\-/:@]*$/;

export const NETWORK_SETTINGS = settingsSchema({
  NETWORK_PROBE_RUNNER: setting.choice(['cluster', 'local'], {
    default: 'cluster',
    description:
      "full mode: `cluster` probes from inside the cluster (ephemeral containers or probe pods with each source's " +
      'identity); `local` runs nmap from this process (with SCAN_HOST_MAP)',
    example: 'local',
  }),
  NETWORK_PROBE_LOCAL_HOSTS: setting.optionalText({
    description: 'older name of SCAN_HOST_MAP for the local runner, read (same format) only when SCAN_HOST_MAP is unset',
    deprecated: 'SCAN_HOST_MAP',
    want: 'a JSON object as for SCAN_HOST_MAP',
    defaultText: 'unset',
    example: '{"redis.redis.svc.cluster.local":"127.0.0.1"}',
  }),
  NETWORK_PROBE_EXTERNAL_TARGET: setting.optionalText({
    defaultText: 'unset: the internet layer is not probed',
    want:
      'a dotted-quad IPv4 address, an IPv6 address or a DNS name (other numeric notations such as 0x7f000001, 2130706433 or 127.1 are refused: ' +
      'resolvers and nmap read them as IPv4)',
    parse: (s) => {
      try {
        return normalizeHost(s).host;
      } catch {
        return undefined;
      }
    },
    description: 'full mode: a host outside the cluster (IP address or DNS name) probed for the internet layer',
    example: '192.0.2.10',
  }),
  NETWORK_PROBE_CONCURRENCY: setting.int({ default: 10, min: 1, max: 100, description: 'full mode: sources probed at once', example: '4' }),
  NETWORK_PROBE_MAX_NEGATIVE: setting.int({
    default: 200,
    min: 0,
    max: 10_000,
    description: 'full mode: most unlinked namespace pairs tested (a seeded sample beyond)',
    example: '50',
  }),
  NETWORK_PROBE_SEED: setting.int({ default: 1, min: 0, max: 2 ** 31, description: 'full mode: seed of that sample', example: '42' }),
  NETWORK_PROBE_HOST_TIMEOUT_MS: setting.int({ default: 10_000, min: 500, max: 600_000, description: 'full mode: nmap --host-timeout', example: '5000' }),
  NETWORK_PROBE_IMAGE: setting.text({
    default: DEFAULT_PROBE_IMAGE,
    want: 'an image reference providing nmap (e.g. ghcr.io/org/nmap:7.93)',
    parse: (s) => (IMAGE_REF.test(s) && s.length <= 512 ? s : undefined),
    description: 'cluster runner: the image providing `nmap` on PATH, run as uid 65532; pin a tag from a registry your admission policies allow',
    example: 'registry.example.com/tools/nmap:7.93',
  }),
  NETWORK_PROBE_TIMEOUT_MS: setting.int({
    default: 60_000,
    min: 1_000,
    max: 3_600_000,
    description: 'cluster runner: how long one in-cluster probe may take',
    example: '120000',
  }),
  NETWORK_PROBE_MAX_EPHEMERAL: setting.int({
    default: 3,
    min: 0,
    max: 50,
    description: 'cluster runner: most ephemeral probe containers of ours on one pod (they cannot be removed); beyond, a probe ' + 'pod',
    example: '0',
  }),
  NETWORK_PROBE_SETTLE_MS: setting.int({
    default: 3000,
    min: 0,
    max: 60_000,
    description: 'cluster runner: a probe pod waits this long before nmap runs, for the enforcer to see it',
    example: '1000',
  }),
});

export function probeSettingsFromEnv(env: NodeJS.ProcessEnv = process.env): ProbeSettings {
  const s = parseSettings(
    pickSettings(NETWORK_SETTINGS, [
      'NETWORK_PROBE_IMAGE',
      'NETWORK_PROBE_TIMEOUT_MS',
      'NETWORK_PROBE_CONCURRENCY',
      'NETWORK_PROBE_MAX_EPHEMERAL',
      'NETWORK_PROBE_SETTLE_MS',
    ]),
    env,
  );
  const timeoutMs = s.NETWORK_PROBE_TIMEOUT_MS;
  const settleMs = s.NETWORK_PROBE_SETTLE_MS;
  return {
    image: s.NETWORK_PROBE_IMAGE,
    timeoutMs,
    deadlineSeconds: Math.ceil((timeoutMs + settleMs) / 1000) + 30,
    concurrency: s.NETWORK_PROBE_CONCURRENCY,
    maxEphemeralPerPod: s.NETWORK_PROBE_MAX_EPHEMERAL,
    settleMs,
  };
}

export function fullSettingsFromEnv(env: NodeJS.ProcessEnv = process.env): FullModeSettings {
  const s = parseSettings(NETWORK_SETTINGS, env);
  const probe = probeSettingsFromEnv(env);
  const external = s.NETWORK_PROBE_EXTERNAL_TARGET;
  return {
    runner: s.NETWORK_PROBE_RUNNER,
    localHosts: hostMapFromEnv(env, ['NETWORK_PROBE_LOCAL_HOSTS']),
    ...(external ? { externalTarget: external } : {}),
    concurrency: probe.concurrency,
    maxNegative: s.NETWORK_PROBE_MAX_NEGATIVE,
    seed: s.NETWORK_PROBE_SEED,
    hostTimeoutMs: s.NETWORK_PROBE_HOST_TIMEOUT_MS,
    probe,
  };
}

/** Every setting, read once per request before anything else happens. */
export function networkSettingsFromEnv(
  env: NodeJS.ProcessEnv = process.env,
): Required<Omit<NetworkScanSettings, 'kubeconfig'>> & Pick<NetworkScanSettings, 'kubeconfig'> {
  return { topology: topologySettings(env), full: fullSettingsFromEnv(env) };
}
