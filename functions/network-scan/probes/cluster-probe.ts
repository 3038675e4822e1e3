/**
 * One in-cluster probe (I/O): nmap in an ephemeral container of a running source
 * pod, or in a short-lived probe pod carrying the source's labels (the objects
 * come from pod-specs.ts; their lifecycle — labels, expiry, the shared probe
 * ServiceAccount, cleanup — from lib/kube/scratch.ts). API access through
 * lib/kube/api.ts.
 *
 * RBAC the scan needs: pods get/list/create/delete, pods/log get,
 * pods/ephemeralcontainers patch, serviceaccounts get/list/create/delete.
 */
import type * as k8s from '@kubernetes/client-node';
import { ScanError } from '../../../lib/errors.ts';
import { selectorString } from '../../../lib/k8s/selectors.ts';
import type { Kube } from '../../../lib/kube/client.ts';
import { getObject, listObjects, patchObject, readPodLog, statusText } from '../../../lib/kube/api.ts';
import type { ScratchRun } from '../../../lib/kube/scratch.ts';
import type { KubeObject } from '../../../lib/k8s/types.ts';
import { splitNmapLog } from '../nmap/nmap.ts';
import { parseAdmissionDenial, type AdmissionDenial } from '../../../lib/kube/admission.ts';
import { EPHEMERAL_PATCH_CONTENT_TYPE, ephemeralContainerPatch, PROBE_CONTAINER_PREFIX, PROBE_LABELS, type ProbePod } from './pod-specs.ts';

export interface PodRef {
  namespace: string;
  name: string;
}

export interface SourcePod extends PodRef {
  labels: Record<string, string>;
  podIP?: string;
  nodeName?: string;
  /** A hostNetwork pod probes with the node's identity: NetworkPolicies do not apply to it. */
  hostNetwork: boolean;
  /** Names of ephemeral containers the pod already has. */
  ephemeralContainers: string[];
}

/** What a probe gives back: nmap's XML and stderr, or why not. */
export type ProbeOutcome =
  | { xml: string; stderr: string; pod: PodRef; container: string; cleanupError?: string }
  | {
      error: string;
      /** 403: RBAC or an admission policy refused; try the other method. */
      forbidden?: boolean;
      /** The API server has no ephemeral containers (404/405/415 on the subresource). */
      unsupported?: boolean;
      /** Did not finish within timeoutMs. */
      timedOut?: boolean;
      /** An admission webhook refused the probe pod: which constraints, with their messages. */
      denial?: AdmissionDenial;
      pod?: PodRef;
      cleanupError?: string;
    };

export interface ProbeWaitOptions {
  /** Bound on the whole probe (poll until terminated). */
  timeoutMs: number;
  /** Status poll interval (default 1000 ms). */
  pollMs?: number;
  signal?: AbortSignal;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const msg = (err: unknown) => (err instanceof Error ? err.message : String(err));

function isReady(pod: k8s.V1Pod): boolean {
  return (pod.status?.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True');
}

const isOurs = (labels: Record<string, string> | undefined) => !!labels && Object.entries(PROBE_LABELS).every(([k, v]) => labels[k] === v);

/** How many ephemeral containers of ours a pod already carries (they can never be removed). */
export function ourEphemeralCount(pod: Pick<SourcePod, 'ephemeralContainers'>): number {
  return pod.ephemeralContainers.filter((n) => n.startsWith(`${PROBE_CONTAINER_PREFIX}-`)).length;
}

/**
 * A Running, Ready, not terminating pod in `namespace` matching every label of
 * `selector` (never one of our probe pods). Several match: non-hostNetwork
 * first, then by name, so repeated runs pick the same pod. Undefined when none.
 */
export async function findSourcePod(kube: Kube, namespace: string, selector: Record<string, string>): Promise<SourcePod | undefined> {
  const labelSelector = selectorString(selector);
  const items = (await listObjects<k8s.V1Pod>(kube, 'Pod', { namespace, ...(labelSelector ? { labelSelector } : {}) })).filter(
    (p) => p.status?.phase === 'Running' && isReady(p) && !p.metadata?.deletionTimestamp && !isOurs(p.metadata?.labels),
  );
  items.sort((a, b) => Number(!!a.spec?.hostNetwork) - Number(!!b.spec?.hostNetwork) || a.metadata!.name!.localeCompare(b.metadata!.name!));
  const p = items[0];
  if (!p) return undefined;
  return {
    namespace,
    name: p.metadata!.name!,
    labels: { ...(p.metadata?.labels ?? {}) },
    podIP: p.status?.podIP,
    nodeName: p.spec?.nodeName,
    hostNetwork: !!p.spec?.hostNetwork,
    ephemeralContainers: (p.spec?.ephemeralContainers ?? []).map((c) => c.name),
  };
}

/** Waiting reasons that will not resolve by waiting. */
const FATAL_WAITING = new Set(['InvalidImageName', 'CreateContainerConfigError', 'CreateContainerError', 'RunContainerError', 'ErrImageNeverPull']);

function describeState(s: k8s.V1ContainerStatus | undefined): string {
  if (!s?.state) return 'no status yet';
  if (s.state.waiting) return `waiting: ${s.state.waiting.reason ?? '?'}${s.state.waiting.message ? ` (${s.state.waiting.message})` : ''}`;
  if (s.state.running) return 'running';
  if (s.state.terminated) return `terminated: ${s.state.terminated.reason ?? ''} exit ${s.state.terminated.exitCode}`;
  return 'unknown';
}

const getPod = (kube: Kube, ref: PodRef) => getObject<k8s.V1Pod>(kube, { kind: 'Pod', ...ref });

/** Finish a probe from the terminated container's log. */
function fromLog(log: string, term: k8s.V1ContainerStateTerminated, pod: PodRef, container: string): ProbeOutcome {
  const { xml, stderr } = splitNmapLog(log);
  const where = `${container} in pod ${pod.namespace}/${pod.name}`;
  if (term.exitCode !== 0) {
    return {
      error:
        `nmap in ${where} exited with code ${term.exitCode}${term.reason ? ` (${term.reason})` : ''}: ` +
        `${(stderr || term.message || '(no output)').slice(-2000)}`,
      pod,
    };
  }
  if (!xml.trim()) return { error: `nmap in ${where} printed no XML: ${(stderr || '(empty log)').slice(-2000)}`, pod };
  return { xml, stderr, pod, container };
}

/**
 * Add `container` (from ephemeralProbeContainer) to `pod` and wait until it
 * terminates, at most opts.timeoutMs; then read its log. `forbidden`/
 * `unsupported` in the answer mean: use the fallback pod instead. The
 * container cannot be removed afterwards (the API has no delete for it).
 */
export async function probeWithEphemeral(kube: Kube, pod: PodRef, container: k8s.V1EphemeralContainer, opts: ProbeWaitOptions): Promise<ProbeOutcome> {
  const deadline = Date.now() + opts.timeoutMs;
  const name = container.name;
  const where = `ephemeral container ${name} in pod ${pod.namespace}/${pod.name}`;
  try {
    // A container of that name already there (a retry, a reused runId): the
    // patch would be a no-op and we would read the old container's log.
    const before = await getPod(kube, pod);
    if (!before) return { error: `pod ${pod.namespace}/${pod.name} does not exist`, pod };
    if ((before.spec?.ephemeralContainers ?? []).some((c) => c.name === name)) {
      return { error: `pod ${pod.namespace}/${pod.name} already has an ephemeral container named ${name}; each probe needs its own name`, pod };
    }
    const res = await patchObject(kube, { kind: 'Pod', ...pod }, ephemeralContainerPatch(container), {
      subresource: 'ephemeralcontainers',
      contentType: EPHEMERAL_PATCH_CONTENT_TYPE,
      timeoutMs: Math.max(1000, Math.min(30_000, deadline - Date.now())),
    });
    if (res.status === 403) return { error: `adding ${where} was refused (403): ${statusText(res.response)}`, forbidden: true, pod };
    if (res.status === 404) {
      const details = (res.response.body as { details?: { kind?: string; name?: string } } | undefined)?.details;
      if (details?.kind === 'pods' && details.name === pod.name) return { error: `pod ${pod.namespace}/${pod.name} no longer exists`, pod };
      return { error: `the API server does not serve pods/ephemeralcontainers (404): ${statusText(res.response)}`, unsupported: true, pod };
    }
    if (res.status === 405 || res.status === 415)
      return { error: `the API server does not support ephemeral containers (${res.status}): ${statusText(res.response)}`, unsupported: true, pod };
    if (res.status < 200 || res.status >= 300) return { error: `adding ${where} failed (${res.status}): ${statusText(res.response)}`, pod };

    const pollMs = Math.max(50, opts.pollMs ?? 1000);
    let last: k8s.V1ContainerStatus | undefined;
    while (Date.now() < deadline && !opts.signal?.aborted) {
      const cur = await getPod(kube, pod);
      if (!cur) return { error: `pod ${pod.namespace}/${pod.name} disappeared while ${where} ran`, pod };
      last = (cur.status?.ephemeralContainerStatuses ?? []).find((s) => s.name === name);
      const term = last?.state?.terminated;
      if (term) return fromLog(await readPodLog(kube, pod.namespace, pod.name, name), term, pod, name);
      const waiting = last?.state?.waiting;
      if (waiting?.reason && FATAL_WAITING.has(waiting.reason)) return { error: `${where} cannot start: ${describeState(last)}`, pod };
      await sleep(Math.min(pollMs, Math.max(0, deadline - Date.now())));
    }
    return {
      error:
        `${where} did not finish within ${opts.signal?.aborted ? 'the scan (cancelled)' : `${opts.timeoutMs} ms`} (last state: ` +
        `${describeState(last)}); it cannot be removed and ends when nmap exits`,
      timedOut: true,
      pod,
    };
  } catch (err) {
    return { error: `${where}: ${msg(err)}`, pod };
  }
}

/**
 * Create the fallback pod (from fallbackProbePod) and wait until it has
 * Succeeded or Failed, at most opts.timeoutMs; read its log; delete the pod
 * always (finally). The pod's ServiceAccount comes from the run (created when
 * missing, deleted after the run's last probe in that namespace, if the run
 * created it). An admission denial is reported with the constraints it names.
 */
export async function probeWithPod(kube: Kube, scratch: ScratchRun, podSpec: ProbePod, opts: ProbeWaitOptions): Promise<ProbeOutcome> {
  const deadline = Date.now() + opts.timeoutMs;
  const ns = podSpec.metadata.namespace;
  const saName = podSpec.spec.serviceAccountName;
  let saHeld = false;
  let ref: PodRef | undefined;

  const run = async (): Promise<ProbeOutcome> => {
    let uid: string;
    try {
      uid = await scratch.acquireServiceAccount(ns, saName);
      saHeld = true;
    } catch (err) {
      return { error: `probe ServiceAccount ${ns}/${saName}: ${msg(err)}`, forbidden: err instanceof ScanError && err.status === 403 };
    }
    const body: ProbePod = {
      ...podSpec,
      metadata: {
        ...podSpec.metadata,
        // A controller reference: no ReplicaSet/DaemonSet/… adopts a pod that has one.
        ownerReferences: [{ apiVersion: 'v1', kind: 'ServiceAccount', name: saName, uid, controller: true }],
      },
    };
    const res = await scratch.create(body as unknown as KubeObject);
    if (!res.object) {
      const denial = parseAdmissionDenial(res.message);
      if (denial)
        return {
          error: `the probe pod in ${ns} was refused by admission: ${denial.constraints.map((c) => `[${c.name}] ${c.message}`).join('; ') || denial.message}`,
          denial,
        };
      if (res.status === 403) return { error: `creating the probe pod in ${ns} was refused (403): ${res.message}`, forbidden: true };
      return { error: `creating the probe pod in ${ns} failed (${res.status}): ${res.message}` };
    }
    const pod: PodRef = { namespace: ns, name: res.object.metadata.name };
    ref = pod;
    const container = podSpec.spec.containers[0].name;
    const where = `probe pod ${ns}/${pod.name}`;

    const pollMs = Math.max(50, opts.pollMs ?? 1000);
    let cur: k8s.V1Pod | undefined;
    while (Date.now() < deadline && !opts.signal?.aborted) {
      cur = await getPod(kube, pod);
      if (!cur) return { error: `${where} disappeared before it finished (deleted, or garbage-collected with its ServiceAccount)`, pod };
      const phase = cur.status?.phase;
      const st = (cur.status?.containerStatuses ?? []).find((s) => s.name === container);
      if (phase === 'Succeeded' || phase === 'Failed') {
        const term = st?.state?.terminated;
        if (phase === 'Failed') {
          // DeadlineExceeded, Evicted, OOMKilled, nmap's own error …: say why, with nmap's output when there is some.
          let tail = term?.message ?? '';
          if (term)
            tail =
              (await readPodLog(kube, ns, pod.name, container).then(
                (l) => splitNmapLog(l).stderr,
                () => '',
              )) || tail;
          const why = [cur.status?.reason, cur.status?.message, term ? `container ${describeState(st)}` : undefined].filter(Boolean).join('; ');
          return { error: `${where} failed: ${why || 'no reason given'}${tail ? `: ${tail.slice(-2000)}` : ''}`, pod };
        }
        return fromLog(await readPodLog(kube, ns, pod.name, container), term ?? { exitCode: 0 }, pod, container);
      }
      const waiting = st?.state?.waiting;
      if (waiting?.reason && FATAL_WAITING.has(waiting.reason)) return { error: `${where} cannot start: ${describeState(st)}`, pod };
      await sleep(Math.min(pollMs, Math.max(0, deadline - Date.now())));
    }
    const sched = (cur?.status?.conditions ?? []).find((c) => c.type === 'PodScheduled' && c.status !== 'True');
    const st = (cur?.status?.containerStatuses ?? []).find((s) => s.name === container);
    const state = !cur?.spec?.nodeName
      ? `not scheduled${sched?.reason ? ` (${sched.reason}${sched.message ? `: ${sched.message}` : ''})` : ''}`
      : `phase ${cur?.status?.phase ?? '?'}, ${describeState(st)}`;
    return {
      error: `${where} did not finish within ${opts.signal?.aborted ? 'the scan (cancelled)' : `${opts.timeoutMs} ms`} (last state: ${state})`,
      timedOut: true,
      pod,
    };
  };

  let outcome: ProbeOutcome;
  try {
    outcome = await run();
  } catch (err) {
    outcome = { error: `probe pod in ${ns}: ${msg(err)}`, ...(ref ? { pod: ref } : {}) };
  }
  // Cleanup, whatever happened above.
  const cleanup: string[] = [];
  const created = ref as PodRef | undefined;
  if (created) {
    try {
      await scratch.release({ kind: 'Pod', ...created });
    } catch (err) {
      cleanup.push(`delete pod ${ns}/${created.name}: ${msg(err)} (its activeDeadlineSeconds still ends it; it expires and a later run sweeps it)`);
    }
  }
  if (saHeld) {
    try {
      await scratch.releaseServiceAccount(ns, saName);
    } catch (err) {
      cleanup.push(`delete ServiceAccount ${ns}/${saName}: ${msg(err)} (it expires and a later run sweeps it)`);
    }
  }
  return cleanup.length ? { ...outcome, cleanupError: cleanup.join('; ') } : outcome;
}
