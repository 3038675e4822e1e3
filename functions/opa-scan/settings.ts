/**
 * Every setting of the OPA scan, parsed up front (before any cluster call) with OPA_SETTINGS
 * (lib/scan/settings.ts; reference: docs/configuration.md): a bad value is a 422 naming the variable.
 * The topology settings are lib/topology/settings.ts's; OPA_SCAN_TIMEOUT_MS is the scaffold's, and
 * scratch objects expire after it.
 */
import { isDns1123Label } from '../../lib/k8s/labels.ts';
import { parseSettings, setting, settingsSchema } from '../../lib/scan/settings.ts';
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

export const OPA_SETTINGS = settingsSchema({
  GATEKEEPER_NAMESPACE: setting.optionalText({
    defaultText: 'unset: looked for in gatekeeper-system, opa and gatekeeper',
    want: 'a namespace name (DNS-1123 label: lowercase letters, digits and -, at most 63)',
    parse: (s) => (isDns1123Label(s) ? s : undefined),
    description: 'the namespace Gatekeeper runs in, when it is none of the usual ones',
    example: 'policy-system',
  }),
  OPA_SCAN_CONCURRENCY: setting.int({ default: 8, min: 1, max: 64, description: 'dry-run admission requests in flight at once (full mode)', example: '4' }),
  OPA_SCAN_REPLAY: setting.flag({
    default: true,
    description: 'full mode: replay objects the audit found violating, for constraints no generator covers',
    example: 'off',
  }),
});

export function opaSettingsFromEnv(env: NodeJS.ProcessEnv = process.env): OpaScanSettings {
  const s = parseSettings(OPA_SETTINGS, env);
  const ns = s.GATEKEEPER_NAMESPACE;
  return { topology: topologySettings(env), ...(ns ? { gatekeeperNamespace: ns } : {}), concurrency: s.OPA_SCAN_CONCURRENCY, replay: s.OPA_SCAN_REPLAY };
}
