/**
 * Settings of what a finished run leaves behind (OpenReports objects, run history, regression
 * events): one settings schema (lib/scan/settings.ts), in the reference docs/configuration.md.
 * Read after each run: a bad value is an errors[] entry naming the variable (the answer is still
 * returned), and nothing is stored for that run.
 */
import { readFileSync } from 'node:fs';
import { invalidSetting, parseSettings, setting, settingsSchema } from '../scan/settings.ts';

export interface ReportSettings {
  store: boolean;
  history: number;
  namespace: string;
  maxBytes: number;
  threshold: number;
  sink?: string;
  kubeconfig?: string;
}

const SA_NAMESPACE = '/var/run/secrets/kubernetes.io/serviceaccount/namespace';

function ownNamespace(): string {
  try {
    const ns = readFileSync(SA_NAMESPACE, 'utf8').trim();
    if (ns) return ns;
  } catch {
    /* not in a pod */
  }
  return 'default';
}

const httpUrl = (s: string) => {
  try {
    const u = new URL(s);
    return /^https?:$/.test(u.protocol) ? u.toString() : undefined;
  } catch {
    return undefined;
  }
};

export const REPORT_SETTINGS = settingsSchema({
  STACK_SCAN_REPORTS: setting.flag({
    default: true,
    description:
      'write each completed run as OpenReports objects (Report per namespace, ClusterReport) and a run record (docs/openreports.md); off: `changes` ' +
      'come from memory',
    example: 'off',
  }),
  STACK_SCAN_REPORTS_HISTORY: setting.int({
    default: 20,
    min: 1,
    max: 500,
    description: 'run records kept per scan and mode (the ConfigMap stack-scan-runs-<scan>-<mode>)',
    example: '50',
  }),
  STACK_SCAN_REPORTS_NAMESPACE: setting.optionalText({
    defaultText: "the pod's own namespace, else default",
    description: 'the namespace of the run history ConfigMaps',
    want: 'a namespace name (DNS-1123 label)',
    example: 'stack-scan',
    parse: (s) => (/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(s) && s.length <= 63 ? s : undefined),
  }),
  STACK_SCAN_REPORTS_MAX_BYTES: setting.int({
    default: 900_000,
    min: 50_000,
    max: 1_400_000,
    description: "size budget of one Report or ClusterReport's results; over it the most important are kept and the rest counted in an annotation",
    example: '500000',
  }),
  STACK_SCAN_REPORTS_KUBECONFIG: setting.optionalText({
    defaultText: 'unset: a scan that uses no cluster (nuclei) stores nothing',
    description: 'the cluster to store in for a scan that uses none itself; other scans store in the cluster they scanned, with the same identity',
    example: '/etc/stack-scan/kubeconfig',
  }),
  STACK_SCAN_REGRESSION_THRESHOLD: setting.score({
    default: 5,
    description: 'score points a run may lose against the previous run before it counts as regressed (io.stacktic.scan.regressed)',
    example: '2',
  }),
  STACK_SCAN_EVENTS_SINK: setting.optionalText({
    defaultText: 'K_SINK',
    description: 'where io.stacktic.scan.regressed is POSTed (a Broker URL)',
    want: 'an http(s) URL',
    example: 'http://broker-ingress.knative-eventing.svc.cluster.local/stack-scan/stack-scan',
    parse: httpUrl,
  }),
  K_SINK: setting.env({
    defaultText: 'set by a Knative SinkBinding (knative/components/schedules)',
    description: 'the sink Knative injects; used when STACK_SCAN_EVENTS_SINK is unset',
    example: 'http://broker-ingress.knative-eventing.svc.cluster.local/stack-scan/stack-scan',
  }),
});

export function reportSettingsFromEnv(env: NodeJS.ProcessEnv = process.env): ReportSettings {
  const s = parseSettings(REPORT_SETTINGS, env);
  let sink = s.STACK_SCAN_EVENTS_SINK;
  if (!sink && s.K_SINK) {
    sink = httpUrl(s.K_SINK);
    if (!sink) throw invalidSetting('K_SINK', 'an http(s) URL', s.K_SINK.slice(0, 100));
  }
  return {
    store: s.STACK_SCAN_REPORTS,
    history: s.STACK_SCAN_REPORTS_HISTORY,
    namespace: s.STACK_SCAN_REPORTS_NAMESPACE ?? ownNamespace(),
    maxBytes: s.STACK_SCAN_REPORTS_MAX_BYTES,
    threshold: s.STACK_SCAN_REGRESSION_THRESHOLD,
    ...(sink ? { sink } : {}),
    ...(s.STACK_SCAN_REPORTS_KUBECONFIG ? { kubeconfig: s.STACK_SCAN_REPORTS_KUBECONFIG } : {}),
  };
}
