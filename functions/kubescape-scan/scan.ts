/**
 * The kubescape scan: how each namespace of the stack complies with the NSA/CISA
 * and MITRE ATT&CK frameworks, from the real kubescape (offline, against the
 * API server only). Light: per-namespace scores, overall scores, flagged
 * namespaces. Full: plus one finding per failed control × object, with the
 * Kubernetes field to change and the Stacktic attribute that fixes it, and the
 * accepted operator requirements (exclusions) apart. Settings: settings.ts.
 */
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import type { ReportError } from '../../lib/errors.ts';
import { makeKube } from '../../lib/kube/client.ts';
import type { ScanOutcome } from '../../lib/scan/report.ts';
import { abortError, type ScanDefinition } from '../../lib/scan/run.ts';
import { loadTopology } from '../../lib/topology/settings.ts';
import { BUILTIN_EXCLUSIONS, loadExclusionsFile, type ExclusionRule } from './exclusions.ts';
import { executeKubescape } from './execute.ts';
import { checkApiServer } from './preflight.ts';
import { forbiddenErrors, judgeFull, judgeLight } from './judge.ts';
import { kubescapeSettingsFromEnv, type KubescapeSettings } from './settings.ts';
import { kubescapeChecks } from './checks.ts';
import { KUBESCAPE_REPORT } from './report.ts';

type Mode = 'light' | 'full';

/** The kubeconfig kubescape gets: explicit, else KUBECONFIG, else ~/.kube/config (kubescape's HOME is a temp dir). */
function kubeconfigFor(s: KubescapeSettings): string | undefined {
  if (s.kubeconfig) return s.kubeconfig;
  const home = join(homedir(), '.kube', 'config');
  return existsSync(home) ? home : undefined;
}

/** Without settings, they are read from the environment on each request, so a bad value is a 422, not a crash. */
export function kubescapeScan(given?: KubescapeSettings): ScanDefinition<Mode> {
  return {
    name: 'kubescape',
    path: '/kubescape_scan',
    report: KUBESCAPE_REPORT,
    modes: ['light', 'full'],
    defaultMode: 'light',
    checks: kubescapeChecks,
    timeoutMs: { light: 600_000, full: 900_000 },
    async run({ mode, signal, progress }): Promise<ScanOutcome> {
      const settings = given ?? kubescapeSettingsFromEnv();
      const exclusions: ExclusionRule[] = [...BUILTIN_EXCLUSIONS, ...(settings.exclusionsFile ? await loadExclusionsFile(settings.exclusionsFile) : [])];
      const topology = await loadTopology(settings.topology);
      const kubeconfig = kubeconfigFor(settings);
      const kube = await makeKube(kubeconfig);
      const server = kube.server;
      await checkApiServer(kube); // unreachable, refused or busy: a 503/401 with the reason, not one tool_failed per namespace
      const executed = await executeKubescape(topology.namespaces, {
        bin: settings.bin,
        kubeconfig,
        artifactsDir: settings.artifactsDir,
        runTimeoutMs: settings.runTimeoutMs,
        strategy: settings.strategy,
        concurrency: settings.concurrency,
        signal,
        clusterWide: mode === 'full' && settings.clusterScope,
        ...(progress ? { progress: (done: number, total: number) => progress({ step: 'namespaces', done, total }) } : {}),
      });
      const input = {
        topology,
        observations: executed.observations,
        combined: executed.combined,
        clusterWide: executed.clusterWide,
        exclusions,
        thresholds: settings.thresholds,
        forbidden: executed.forbidden,
      };
      const judged = mode === 'full' ? judgeFull(input) : judgeLight(input);
      const errors: ReportError[] = [...executed.errors, ...forbiddenErrors(executed.forbidden)];
      if (signal.aborted && !errors.some((e) => e.code === 'timeout' || e.code === 'cancelled')) errors.push(abortError(signal, 'kubescape'));
      return {
        score: judged.score,
        summary: { ...judged.summary, strategy: settings.strategy, kubescape_runs: executed.runs.length },
        results: { ...judged.results, runs: executed.runs },
        ...(mode === 'full' ? { findings: (judged as ReturnType<typeof judgeFull>).findings } : {}),
        errors,
        sources: {
          metadata: settings.topology.metadata.path,
          cluster: server,
          kubescape: {
            bin: settings.bin,
            version: executed.kubescapeVersion,
            frameworks: ['NSA', 'MITRE'],
            artifacts: settings.artifactsDir ?? 'downloaded by kubescape (KUBESCAPE_ARTIFACTS_DIR unset)',
          },
          exclusions: { builtin: BUILTIN_EXCLUSIONS.length, file: settings.exclusionsFile ?? null, rules: exclusions.length },
          warnings: topology.warnings.length,
        },
      };
    },
  };
}
