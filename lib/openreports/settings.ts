/**
 * Settings of what a finished run leaves behind (OpenReports objects, run history,
 * regression events). Read after each run: a bad value is an errors[] entry naming the
 * variable (the answer is still returned), and nothing is stored for that run.
 *
 *   STACK_SCAN_REPORTS                 on | off (default on): write Report / ClusterReport objects and run records
 *   STACK_SCAN_REPORTS_HISTORY         run records kept per scan and mode, 1–500 (default 20)
 *   STACK_SCAN_REPORTS_NAMESPACE       where the run records live (default: the pod's own namespace, else `default`)
 *   STACK_SCAN_REPORTS_MAX_BYTES       size budget of one Report / ClusterReport, 50000–1400000 (default 900000)
 *   STACK_SCAN_REGRESSION_THRESHOLD    score points a run may lose before it counts as regressed, 0–100 (default 5)
 *   STACK_SCAN_EVENTS_SINK             where io.stacktic.scan.regressed is POSTed (default K_SINK, set by a SinkBinding)
 *   STACK_SCAN_REPORTS_KUBECONFIG      the cluster to store in for a scan that uses none itself (nuclei); other
 *                                      scans store in the cluster they scanned, with the same identity
 */
import { readFileSync } from 'node:fs';
import { ScanError } from '../errors.ts';
import { invalidSetting, intSetting } from '../scan/settings.ts';

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

export function reportSettingsFromEnv(env: NodeJS.ProcessEnv = process.env): ReportSettings {
  const raw = (env.STACK_SCAN_REPORTS ?? '').trim().toLowerCase();
  if (raw && !['on', 'off', 'true', 'false'].includes(raw)) throw invalidSetting('STACK_SCAN_REPORTS', "'on' or 'off'", env.STACK_SCAN_REPORTS);
  const namespace = (env.STACK_SCAN_REPORTS_NAMESPACE ?? '').trim() || ownNamespace();
  if (!/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(namespace) || namespace.length > 63) throw invalidSetting('STACK_SCAN_REPORTS_NAMESPACE', 'a namespace name (DNS-1123 label)', namespace);
  const thresholdRaw = (env.STACK_SCAN_REGRESSION_THRESHOLD ?? '').trim();
  const threshold = thresholdRaw === '' ? 5 : Number(thresholdRaw);
  if (!/^\d+(\.\d+)?$/.test(thresholdRaw || '5') || !(threshold >= 0 && threshold <= 100)) throw invalidSetting('STACK_SCAN_REGRESSION_THRESHOLD', 'a number of score points from 0 to 100', thresholdRaw);
  const sinkRaw = (env.STACK_SCAN_EVENTS_SINK ?? env.K_SINK ?? '').trim();
  let sink: string | undefined;
  if (sinkRaw) {
    let u: URL | undefined;
    try {
      u = new URL(sinkRaw);
    } catch {
      u = undefined;
    }
    if (!u || !/^https?:$/.test(u.protocol)) throw invalidSetting(env.STACK_SCAN_EVENTS_SINK !== undefined ? 'STACK_SCAN_EVENTS_SINK' : 'K_SINK', 'an http(s) URL', sinkRaw.slice(0, 100));
    sink = u.toString();
  }
  return {
    store: raw === '' || raw === 'on' || raw === 'true',
    history: intSetting(env, 'STACK_SCAN_REPORTS_HISTORY', 20, 1, 500),
    namespace,
    maxBytes: intSetting(env, 'STACK_SCAN_REPORTS_MAX_BYTES', 900_000, 50_000, 1_400_000),
    threshold,
    ...(sink ? { sink } : {}),
    ...(env.STACK_SCAN_REPORTS_KUBECONFIG?.trim() ? { kubeconfig: env.STACK_SCAN_REPORTS_KUBECONFIG.trim() } : {}),
  };
}

/** A settings failure as the ScanError it is (for errors[]). */
export function isSettingError(err: unknown): err is ScanError {
  return err instanceof ScanError && err.info.code === 'invalid_setting';
}
