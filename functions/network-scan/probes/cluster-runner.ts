/**
 * The in-cluster probe runner: for each source, one nmap run (per address
 * family) inside an ephemeral container of a running pod of the source, so the
 * probe carries the source's real identity; when ephemeral containers are
 * forbidden or unsupported, or the source has no running pod, a short-lived
 * probe pod with the source's selecting labels. Verified only on a real
 * cluster (the local control plane has no kubelet): see README.
 */
import { randomBytes } from 'node:crypto';
import type { Kube } from '../../../lib/kube/client.ts';
import { nmapRuns, parseNmapXml, resultsFor, type NmapResult } from '../../../lib/probe/nmap.ts';
import type { ProbeRunner } from './execute.ts';
import { ephemeralProbeContainer, fallbackProbePod, findSourcePod, probeWithEphemeral, probeWithPod, sweepProbeObjects, type ProbeSettings } from './pods.ts';

export { probeSettingsFromEnv, type ProbeSettings } from './pods.ts';

const SWEEP_AFTER_MS = 15 * 60_000;

export function clusterRunner(kube: Kube, settings: ProbeSettings, hostTimeoutMs: number): ProbeRunner {
  const runId = randomBytes(3).toString('hex');
  let swept: Promise<unknown> | undefined;
  return {
    name: 'cluster',
    async run(source, targets) {
      // Once per scan: remove probe objects that a crashed or killed run left behind.
      swept ??= sweepProbeObjects(kube, { olderThanMs: SWEEP_AFTER_MS, exceptRun: runId });
      await swept;
      const parsed: NmapResult[] = [];
      const vias: string[] = [];
      const pod = await findSourcePod(kube, source.namespace, source.labels);
      for (const [i, run] of nmapRuns(targets, { hostTimeoutMs }).entries()) {
        const name = `${source.component}-${i}`.toLowerCase().replace(/[^a-z0-9-]/g, '-').slice(0, 30);
        let outcome = pod ? await probeWithEphemeral(kube, pod, ephemeralProbeContainer({ name, image: settings.image, args: run.args, runId }), { timeoutMs: settings.timeoutMs }) : undefined;
        if (outcome && 'xml' in outcome) vias.push(`ephemeral container in ${pod!.namespace}/${pod!.name}`);
        if (!outcome || ('error' in outcome && (outcome.forbidden || outcome.unsupported))) {
          const spec = fallbackProbePod({ source: { namespace: source.namespace, labels: source.labels, name: source.component }, image: settings.image, args: run.args, runId, deadlineSeconds: settings.deadlineSeconds });
          outcome = await probeWithPod(kube, spec, { timeoutMs: settings.timeoutMs });
          if ('xml' in outcome) vias.push(`probe pod in ${source.namespace}${pod ? ' (ephemeral containers refused)' : ' (no running source pod)'}`);
        }
        if ('error' in outcome) throw new Error(`probe from ${source.namespace}/${source.component} failed: ${outcome.error}`);
        parsed.push(parseNmapXml(outcome.xml, { stderr: outcome.stderr }));
      }
      return { results: resultsFor(targets, parsed), via: vias.join('; ') };
    },
  };
}
