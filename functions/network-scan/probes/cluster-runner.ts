/**
 * The in-cluster probe runner: for each source, one nmap run (per address
 * family) inside an ephemeral container of a running pod of the source, so the
 * probe carries the source's real identity; when ephemeral containers are
 * forbidden or unsupported, when the pod already carries `maxEphemeralPerPod`
 * of ours (they can never be removed), or when the source has no running pod, a
 * short-lived probe pod with the source's selecting labels.
 *
 * Everything is created through one ScratchRun (labels, expiry = the scan's
 * total timeout, cleanup); objects left by a killed run are swept by the next.
 * A target that fails validation is UNDECIDED alone; a probe that cannot run
 * (admission denial, timeout) makes that source's targets UNDECIDED with the reason.
 */
import type { Kube } from '../../../lib/kube/client.ts';
import type { ScratchRun } from '../../../lib/kube/scratch.ts';
import { nmapRuns, parseNmapXml, resultsFor, type NmapResult, type ProbeResult, type ProbeTarget } from '../nmap/nmap.ts';
import type { ProbeSettings } from '../settings.ts';
import { findSourcePod, ourEphemeralCount, probeWithEphemeral, probeWithPod, type ProbeOutcome } from './cluster-probe.ts';
import { splitValidTargets, type ProbeRunner } from './execute.ts';
import { ephemeralProbeContainer, fallbackProbePod } from './pod-specs.ts';

export function clusterRunner(kube: Kube, scratch: ScratchRun, settings: ProbeSettings, hostTimeoutMs: number): ProbeRunner {
  return {
    name: 'cluster',
    async run(source, targets, signal) {
      const { valid, results } = splitValidTargets(targets);
      if (!valid.length) return { results, via: 'none (no valid target)' };
      const vias: string[] = [];
      const parsed: NmapResult[] = [];
      const failures: string[] = [];
      const pod = await findSourcePod(kube, source.namespace, source.labels);
      let ephemeralLeft = pod ? Math.max(0, settings.maxEphemeralPerPod - ourEphemeralCount(pod)) : 0;
      const runs = nmapRuns(valid, { hostTimeoutMs });
      for (const [i, run] of runs.entries()) {
        const name =
          `${source.component}-${i}`
            .toLowerCase()
            .replace(/[^a-z0-9-]/g, '-')
            .replace(/^-+|-+$/g, '')
            .slice(0, 30) || `p${i}`;
        let outcome: ProbeOutcome | undefined;
        let why = pod ? '' : ' (no running source pod)';
        if (pod && ephemeralLeft > 0) {
          ephemeralLeft--;
          outcome = await probeWithEphemeral(kube, pod, ephemeralProbeContainer({ name, image: settings.image, args: run.args, runId: scratch.runId }), {
            timeoutMs: settings.timeoutMs,
            signal,
          });
          if ('xml' in outcome) vias.push(`ephemeral container in ${pod.namespace}/${pod.name}`);
          if ('error' in outcome && (outcome.forbidden || outcome.unsupported)) why = ' (ephemeral containers refused)';
        } else if (pod)
          why =
            ` (pod ${pod.namespace}/${pod.name} already has ${settings.maxEphemeralPerPod} ephemeral probe containers of ours: ` +
            `NETWORK_PROBE_MAX_EPHEMERAL)`;
        if (!outcome || ('error' in outcome && (outcome.forbidden || outcome.unsupported))) {
          const spec = fallbackProbePod({
            source: { namespace: source.namespace, labels: source.labels, name: source.component },
            image: settings.image,
            args: run.args,
            runId: scratch.runId,
            deadlineSeconds: settings.deadlineSeconds,
            settleMs: settings.settleMs,
          });
          outcome = await probeWithPod(kube, scratch, spec, { timeoutMs: settings.timeoutMs + settings.settleMs, signal });
          if ('xml' in outcome) vias.push(`probe pod in ${source.namespace}${why}`);
        }
        if ('error' in outcome) {
          failures.push(outcome.error + (outcome.cleanupError ? `; cleanup: ${outcome.cleanupError}` : ''));
          for (const t of run.targets)
            results.set(t.id, { state: 'unknown', reason: `probe from ${source.namespace}/${source.component} could not run: ${outcome.error}` });
          continue;
        }
        parsed.push(parseNmapXml(outcome.xml, { stderr: outcome.stderr }));
      }
      const ran = valid.filter((t) => !results.has(t.id));
      if (parsed.length) for (const [id, r] of resultsFor(ran, parsed)) results.set(id, r as ProbeResult);
      return { results, via: vias.join('; ') || 'none', ...(failures.length ? { error: failures.join(' | ') } : {}) };
    },
  };
}

export type { ProbeTarget };
