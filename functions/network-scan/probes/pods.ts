/**
 * Running nmap INSIDE the cluster with a source component's network identity.
 *
 * NetworkPolicies select pods by namespace and labels, so a probe must run
 * either in a pod of the source itself or in a pod carrying the source's
 * selecting labels in the source's namespace:
 *
 * 1. Ephemeral container (preferred): `PATCH pods/{pod}/ephemeralcontainers`
 *    adds a container running nmap to a Running, Ready pod of the source. It
 *    shares the pod's network namespace, hence its IP and identity exactly.
 *    Ephemeral containers cannot be removed from a pod (the API has no delete);
 *    ours run nmap with its own `--host-timeout` and terminate on their own
 *    when nmap exits. They stay listed, terminated, in the pod's spec/status
 *    until the pod is replaced (next rollout). Their names start with
 *    `stack-scan-probe-<runId>` so they can be told apart. If our poll times out,
 *    the container is NOT killed (it cannot be): it keeps running until nmap exits.
 * 2. Fallback pod, when ephemeral containers are forbidden (RBAC or admission,
 *    403) or unsupported (404/405): a short-lived Pod in the source namespace
 *    with the source's labels minus the controller-managed ones (so no
 *    ReplicaSet/StatefulSet/DaemonSet/Job adopts it), a readiness probe that
 *    never passes (so no Service routes to it), `activeDeadlineSeconds` (so the
 *    kubelet kills it even if we die), and a controller ownerReference to our
 *    ServiceAccount (a pod with a controller is never adopted; the garbage
 *    collector also deletes the pod when the ServiceAccount goes).
 *
 * Everything created carries `app.kubernetes.io/managed-by=stack-scan`,
 * `stack-scan.io/purpose=network-probe` and `stack-scan.io/run=<runId>`;
 * probeWithPod deletes its pod (and the ServiceAccount when this process
 * created it and no probe of this process still uses it) in `finally`;
 * sweepProbeObjects removes what a crashed run left.
 *
 * RBAC the scan needs: pods get/list/create/delete, pods/log get,
 * pods/ephemeralcontainers patch, serviceaccounts get/list/create/delete.
 *
 * The probe image is a setting (NETWORK_PROBE_IMAGE); it must provide `nmap`
 * on PATH and run as a non-root user (we force uid/gid 65532). A TCP connect
 * scan (`-sT`) needs no capability (no NET_RAW), so every capability is dropped.
 */
import { intSetting, invalidSetting } from '../../../lib/scan/settings.ts';
import type * as k8s from '@kubernetes/client-node';
import { ScanError, toReportError, type ReportError } from '../../../lib/errors.ts';
import type { Kube } from '../../../lib/kube/client.ts';
import { rawRequest, statusError, type RawResponse } from '../../../lib/kube/raw.ts';
import { PROBE_SERVICE_ACCOUNT } from '../../../lib/k8s/labels.ts';

// ---------------------------------------------------------------- constants

export const MANAGED_BY_LABEL = 'app.kubernetes.io/managed-by';
export const PURPOSE_LABEL = 'stack-scan.io/purpose';
export const RUN_LABEL = 'stack-scan.io/run';
/** Labels on every object a network probe creates. */
export const PROBE_LABELS: Readonly<Record<string, string>> = { [MANAGED_BY_LABEL]: 'stack-scan', [PURPOSE_LABEL]: 'network-probe' };
/** The label selector sweepProbeObjects lists with. */
export const PROBE_SELECTOR = Object.entries(PROBE_LABELS)
  .map(([k, v]) => `${k}=${v}`)
  .join(',');
/** Creation time in ms (creationTimestamp only has seconds). */
export const CREATED_ANNOTATION = 'stack-scan.io/created';
export const SOURCE_ANNOTATION = 'stack-scan.io/source';
export const STRIPPED_ANNOTATION = 'stack-scan.io/stripped-labels';
export const OVERRIDDEN_ANNOTATION = 'stack-scan.io/overridden-labels';

/** Container names start with this (ephemeral containers cannot carry labels). */
export const PROBE_CONTAINER_PREFIX = 'stack-scan-probe';
export const DEFAULT_PROBE_SERVICE_ACCOUNT = PROBE_SERVICE_ACCOUNT;
/** The non-root uid/gid the probe runs as (the "nonroot" user of distroless images). */
export const PROBE_UID = 65532;
export const EPHEMERAL_PATCH_CONTENT_TYPE = 'application/strategic-merge-patch+json';

/**
 * Labels that controllers set on the pods they own, or select them by. A
 * fallback pod carrying them could be adopted by (and then deleted or counted
 * by) the source's controller: they are never copied.
 */
export const CONTROLLER_LABELS: readonly string[] = [
  'pod-template-hash', // Deployment → ReplicaSet
  'rollouts-pod-template-hash', // Argo Rollouts
  'controller-revision-hash', // StatefulSet, DaemonSet
  'pod-template-generation', // DaemonSet
  'statefulset.kubernetes.io/pod-name',
  'apps.kubernetes.io/pod-index', // StatefulSet (1.28+)
  'batch.kubernetes.io/controller-uid',
  'batch.kubernetes.io/job-name',
  'batch.kubernetes.io/job-completion-index',
  'controller-uid', // Job (pre-1.27 spelling)
  'job-name',
];

/** Resources of the fallback pod's container: requests and limits, ephemeral storage too (nmap writes nothing to disk). */
export const PROBE_RESOURCES = {
  requests: { cpu: '50m', memory: '64Mi', 'ephemeral-storage': '16Mi' },
  limits: { cpu: '200m', memory: '256Mi', 'ephemeral-storage': '64Mi' },
} as const;

// ---------------------------------------------------------------- settings

export interface ProbeSettings {
  /** Image providing `nmap` on PATH (NETWORK_PROBE_IMAGE). */
  image: string;
  /** How long to wait for one probe (ephemeral container or pod) to finish (NETWORK_PROBE_TIMEOUT_MS). */
  timeoutMs: number;
  /** activeDeadlineSeconds of fallback pods: the poll timeout plus 30 s, so a pod we lost track of dies on its own. */
  deadlineSeconds: number;
  /** Sources probed at once (NETWORK_PROBE_CONCURRENCY). */
  concurrency: number;
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
  // An image reference: no whitespace or control characters, no leading '-' (it becomes an argument of nothing, but be strict).
  if (!/^[A-Za-z0-9][A-Za-z0-9._\-/:@]*$/.test(image) || image.length > 512) {
    throw invalidSetting('NETWORK_PROBE_IMAGE', 'an image reference providing nmap (e.g. ghcr.io/org/nmap:7.93)', env.NETWORK_PROBE_IMAGE);
  }
  const timeoutMs = intSetting(env, 'NETWORK_PROBE_TIMEOUT_MS', 60_000, 1_000, 3_600_000);
  const concurrency = intSetting(env, 'NETWORK_PROBE_CONCURRENCY', 10, 1, 100);
  return { image, timeoutMs, deadlineSeconds: Math.ceil(timeoutMs / 1000) + 30, concurrency };
}

// ---------------------------------------------------------------- pure builders

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

function checkRunId(runId: string): void {
  if (!DNS_LABEL.test(runId) || runId.length > 20) throw new Error(`probe runId must be 1-20 lowercase letters, digits or '-'; got ${JSON.stringify(runId)}`);
}

function checkCommon(image: string, args: string[]): void {
  if (!image || /\s/.test(image)) throw new Error(`probe image must be a non-empty image reference; got ${JSON.stringify(image)}`);
  if (!Array.isArray(args) || args.some((a) => typeof a !== 'string')) throw new Error('probe args must be an array of strings');
}

/**
 * The name of a probe container: `stack-scan-probe-<runId>-<name>`, or
 * `stack-scan-probe-<runId>` when `name` is empty. `name` tells apart several
 * probes of one run in the same pod (e.g. 'v4' and 'v6' for the two address
 * families): container names must be unique within a pod. A `name` that
 * already starts with `stack-scan-probe-<runId>` is used as is.
 */
export function probeContainerName(runId: string, name: string): string {
  checkRunId(runId);
  const base = `${PROBE_CONTAINER_PREFIX}-${runId}`;
  const full = !name ? base : name === base || name.startsWith(`${base}-`) ? name : `${base}-${name}`;
  if (!DNS_LABEL.test(full) || full.length > 63) throw new Error(`probe container name ${JSON.stringify(full)} is not a DNS label of at most 63 characters`);
  return full;
}

/** Container-level hardening shared by both probe kinds. */
function containerSecurityContext(): k8s.V1SecurityContext {
  return {
    runAsNonRoot: true,
    runAsUser: PROBE_UID,
    runAsGroup: PROBE_UID,
    allowPrivilegeEscalation: false,
    privileged: false,
    readOnlyRootFilesystem: true,
    capabilities: { drop: ['ALL'] },
    seccompProfile: { type: 'RuntimeDefault' },
  };
}

/**
 * An EphemeralContainer running `nmap <args>`. Ephemeral containers may not
 * have resources, ports or probes (the API rejects them), so only the
 * security context is hardened.
 */
export function ephemeralProbeContainer(opts: { name: string; image: string; args: string[]; runId: string }): k8s.V1EphemeralContainer {
  checkCommon(opts.image, opts.args);
  return {
    name: probeContainerName(opts.runId, opts.name),
    image: opts.image,
    imagePullPolicy: 'IfNotPresent',
    command: ['nmap'],
    args: [...opts.args],
    stdin: false,
    tty: false,
    terminationMessagePolicy: 'FallbackToLogsOnError',
    securityContext: containerSecurityContext(),
  };
}

/** Body of `PATCH /api/v1/namespaces/{ns}/pods/{pod}/ephemeralcontainers` (strategic merge: appends by name). */
export function ephemeralContainerPatch(container: k8s.V1EphemeralContainer): { spec: { ephemeralContainers: k8s.V1EphemeralContainer[] } } {
  return { spec: { ephemeralContainers: [container] } };
}

/** A Pod as sent to the API: apiVersion, kind and namespace always set. */
export interface ProbePod extends k8s.V1Pod {
  apiVersion: 'v1';
  kind: 'Pod';
  metadata: k8s.V1ObjectMeta & { namespace: string; labels: Record<string, string>; annotations: Record<string, string> };
  spec: k8s.V1PodSpec & { serviceAccountName: string };
}

export interface FallbackPodOptions {
  /** The source: its namespace and the labels of one of its pods (or its Service's selector). `name` only goes into an annotation. */
  source: { namespace: string; labels: Record<string, string>; name?: string };
  image: string;
  /** nmap arguments (lib/probe/nmap.ts nmapArgs). */
  args: string[];
  runId: string;
  /** activeDeadlineSeconds: the kubelet kills the pod after this long. */
  deadlineSeconds: number;
  /** Default `stack-scan-probe`; probeWithPod creates it when missing. */
  serviceAccountName?: string;
}

/**
 * The fallback probe Pod, to be created by probeWithPod (generateName
 * `stack-scan-probe-<runId>-`). Labels: the source's, minus CONTROLLER_LABELS
 * and minus our own keys, plus PROBE_LABELS and the run label. If the source
 * has a label key we set (typically `app.kubernetes.io/managed-by`), ours wins:
 * the overridden keys are listed in the `stack-scan.io/overridden-labels`
 * annotation (a policy selecting on them would see the probe differently), the
 * stripped ones in `stack-scan.io/stripped-labels`.
 *
 * Admission: the pod copies the source's own labels, so label requirements the
 * source passed are met; image registry/tag rules are met by choosing the
 * image (a setting); "must have readiness and liveness probes" rules are met
 * when they accept exec probes; resources have requests and limits (cpu,
 * memory, ephemeral-storage); the ServiceAccount is never "default"; no
 * privilege, no host namespaces, read-only root filesystem, no token mount.
 */
export function fallbackProbePod(opts: FallbackPodOptions): ProbePod {
  checkRunId(opts.runId);
  checkCommon(opts.image, opts.args);
  if (!Number.isSafeInteger(opts.deadlineSeconds) || opts.deadlineSeconds < 1) throw new Error(`deadlineSeconds must be a positive whole number; got ${opts.deadlineSeconds}`);
  const ns = opts.source.namespace;
  if (!DNS_LABEL.test(ns)) throw new Error(`source namespace ${JSON.stringify(ns)} is not a valid namespace name`);
  const sa = opts.serviceAccountName ?? DEFAULT_PROBE_SERVICE_ACCOUNT;
  if (sa === 'default') throw new Error('the probe ServiceAccount must not be "default"');

  const ours: Record<string, string> = { ...PROBE_LABELS, [RUN_LABEL]: opts.runId };
  const labels: Record<string, string> = {};
  const stripped: string[] = [];
  const overridden: string[] = [];
  for (const [k, v] of Object.entries(opts.source.labels)) {
    if (CONTROLLER_LABELS.includes(k)) stripped.push(k);
    else if (k in ours) {
      if (ours[k] !== v) overridden.push(k);
    } else labels[k] = v;
  }
  Object.assign(labels, ours);

  const annotations: Record<string, string> = {};
  if (opts.source.name) annotations[SOURCE_ANNOTATION] = `${ns}/${opts.source.name}`;
  if (stripped.length) annotations[STRIPPED_ANNOTATION] = stripped.sort().join(',');
  if (overridden.length) annotations[OVERRIDDEN_ANNOTATION] = overridden.sort().join(',');

  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { generateName: `${PROBE_CONTAINER_PREFIX}-${opts.runId}-`, namespace: ns, labels, annotations },
    spec: {
      restartPolicy: 'Never',
      activeDeadlineSeconds: opts.deadlineSeconds,
      serviceAccountName: sa,
      automountServiceAccountToken: false,
      enableServiceLinks: false,
      hostNetwork: false,
      hostPID: false,
      hostIPC: false,
      terminationGracePeriodSeconds: 5,
      securityContext: { runAsNonRoot: true, runAsUser: PROBE_UID, runAsGroup: PROBE_UID, seccompProfile: { type: 'RuntimeDefault' } },
      containers: [
        {
          name: 'nmap',
          image: opts.image,
          imagePullPolicy: 'IfNotPresent',
          command: ['nmap'],
          args: [...opts.args],
          terminationMessagePolicy: 'FallbackToLogsOnError',
          securityContext: containerSecurityContext(),
          resources: { requests: { ...PROBE_RESOURCES.requests }, limits: { ...PROBE_RESOURCES.limits } },
          // Never passes (`false` exits 1; without a `false` binary the exec fails,
          // which is a failure too): the pod never becomes Ready, so no Service
          // that selects the source's labels ever routes traffic to it.
          readinessProbe: { exec: { command: ['false'] }, periodSeconds: 10, failureThreshold: 1 },
          // Only there for admission rules requiring a liveness probe: its first
          // check would come after activeDeadlineSeconds, so it never runs and
          // can never kill nmap mid-scan.
          livenessProbe: { exec: { command: ['true'] }, initialDelaySeconds: opts.deadlineSeconds + 60, periodSeconds: 60, failureThreshold: 3 },
        },
      ],
    },
  };
}

/**
 * Split a container log (stdout and stderr interleaved line by line, as the
 * kubelet stores them) into nmap's XML (stdout, `-oX -`) and the rest
 * (stderr: warnings, `Failed to resolve "x".`). nmap's XML puts every element
 * on lines starting with `<`, except the text of `<output>` elements, which is
 * kept whole; other lines between `<?xml` and `</nmaprun>` are stderr.
 */
export function splitNmapLog(log: string): { xml: string; stderr: string } {
  const lines = log.split('\n');
  const start = lines.findIndex((l) => /^\s*<(\?xml|nmaprun\b)/.test(l));
  if (start < 0) return { xml: '', stderr: log.trim() };
  let end = -1;
  for (let i = lines.length - 1; i >= start; i--) {
    if (lines[i].includes('</nmaprun>')) {
      end = i;
      break;
    }
  }
  if (end < 0) end = lines.length - 1; // truncated: the parser says so
  const xml: string[] = [];
  const err: string[] = [...lines.slice(0, start)];
  let inOutput = false;
  for (let i = start; i <= end; i++) {
    const l = lines[i];
    if (inOutput) {
      xml.push(l);
      if (l.includes('</output>')) inOutput = false;
    } else if (/^\s*</.test(l)) {
      xml.push(l);
      if (/<output\b/.test(l) && !l.includes('</output>') && !/<output\b[^>]*\/>/.test(l)) inOutput = true;
    } else err.push(l);
  }
  err.push(...lines.slice(end + 1));
  return { xml: xml.join('\n') + '\n', stderr: err.filter((l) => l.trim()).join('\n') };
}

// ---------------------------------------------------------------- I/O

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
      pod?: PodRef;
      cleanupError?: string;
    };

export interface ProbeWaitOptions {
  /** Bound on the whole probe (poll until terminated). */
  timeoutMs: number;
  /** Status poll interval (default 1000 ms). */
  pollMs?: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const msg = (err: unknown) => (err instanceof Error ? err.message : String(err));
const path = (ns: string, rest = '') => `/api/v1/namespaces/${encodeURIComponent(ns)}${rest}`;

function statusText(res: RawResponse): string {
  const b = res.body as { message?: string } | string | undefined;
  if (b && typeof b === 'object' && b.message) return b.message;
  if (typeof b === 'string' && b) return b.slice(0, 500);
  return `HTTP ${res.status}`;
}

function isReady(pod: k8s.V1Pod): boolean {
  return (pod.status?.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True');
}

const isOurs = (labels: Record<string, string> | undefined) => !!labels && Object.entries(PROBE_LABELS).every(([k, v]) => labels[k] === v);

/**
 * A Running, Ready, not terminating pod in `namespace` matching every label of
 * `selector` (never one of our probe pods). Several match: non-hostNetwork
 * first, then by name, so repeated runs pick the same pod. Undefined when none.
 */
export async function findSourcePod(kube: Kube, namespace: string, selector: Record<string, string>): Promise<SourcePod | undefined> {
  const site = { verb: 'list', resource: 'pods', namespace };
  const labelSelector = Object.entries(selector)
    .map(([k, v]) => `${k}=${v}`)
    .join(',');
  const res = await rawRequest(kube, site, { method: 'GET', path: path(namespace, '/pods'), query: labelSelector ? { labelSelector } : undefined });
  if (res.status !== 200) throw statusError(site, res, kube.server);
  const items = ((res.body as { items?: k8s.V1Pod[] }).items ?? []).filter(
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
const FATAL_WAITING = new Set(['InvalidImageName', 'CreateContainerConfigError', 'CreateContainerError', 'RunContainerError']);

function describeState(s: k8s.V1ContainerStatus | undefined): string {
  if (!s?.state) return 'no status yet';
  if (s.state.waiting) return `waiting: ${s.state.waiting.reason ?? '?'}${s.state.waiting.message ? ` (${s.state.waiting.message})` : ''}`;
  if (s.state.running) return 'running';
  if (s.state.terminated) return `terminated: ${s.state.terminated.reason ?? ''} exit ${s.state.terminated.exitCode}`;
  return 'unknown';
}

async function getPod(kube: Kube, ref: PodRef): Promise<k8s.V1Pod | undefined> {
  const site = { verb: 'get', resource: 'pods', namespace: ref.namespace };
  const res = await rawRequest(kube, site, { method: 'GET', path: path(ref.namespace, `/pods/${encodeURIComponent(ref.name)}`) });
  if (res.status === 404) return undefined;
  if (res.status !== 200) throw statusError(site, res, kube.server);
  return res.body as k8s.V1Pod;
}

async function readLog(kube: Kube, ref: PodRef, container: string): Promise<string> {
  const site = { verb: 'get', resource: 'pods/log', namespace: ref.namespace };
  const res = await rawRequest(kube, site, { method: 'GET', path: path(ref.namespace, `/pods/${encodeURIComponent(ref.name)}/log`), query: { container } });
  if (res.status !== 200) throw statusError(site, res, kube.server);
  // rawRequest JSON-parses what it can; nmap's XML is never valid JSON.
  return typeof res.body === 'string' ? res.body : res.body === undefined ? '' : JSON.stringify(res.body);
}

/** Finish a probe from the terminated container's log. */
function fromLog(log: string, term: k8s.V1ContainerStateTerminated, pod: PodRef, container: string): ProbeOutcome {
  const { xml, stderr } = splitNmapLog(log);
  const where = `${container} in pod ${pod.namespace}/${pod.name}`;
  if (term.exitCode !== 0) {
    return { error: `nmap in ${where} exited with code ${term.exitCode}${term.reason ? ` (${term.reason})` : ''}: ${(stderr || term.message || '(no output)').slice(-2000)}`, pod };
  }
  if (!xml.trim()) return { error: `nmap in ${where} printed no XML: ${(stderr || '(empty log)').slice(-2000)}`, pod };
  return { xml, stderr, pod, container };
}

/**
 * Add `container` (from ephemeralProbeContainer) to `pod` and wait until it
 * terminates, at most opts.timeoutMs; then read its log. `forbidden`/
 * `unsupported` in the answer mean: use the fallback pod instead. The
 * container cannot be removed afterwards (see the top of this file).
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
    const site = { verb: 'patch', resource: 'pods/ephemeralcontainers', namespace: pod.namespace };
    const res = await rawRequest(kube, site, {
      method: 'PATCH',
      path: path(pod.namespace, `/pods/${encodeURIComponent(pod.name)}/ephemeralcontainers`),
      query: { fieldManager: 'stack-scan' },
      body: ephemeralContainerPatch(container),
      contentType: EPHEMERAL_PATCH_CONTENT_TYPE,
      timeoutMs: Math.max(1000, Math.min(30_000, deadline - Date.now())),
    });
    if (res.status === 403) return { error: `adding ${where} was refused (403): ${statusText(res)}`, forbidden: true, pod };
    if (res.status === 404) {
      const details = (res.body as { details?: { kind?: string; name?: string } } | undefined)?.details;
      if (details?.kind === 'pods' && details.name === pod.name) return { error: `pod ${pod.namespace}/${pod.name} no longer exists`, pod };
      return { error: `the API server does not serve pods/ephemeralcontainers (404): ${statusText(res)}`, unsupported: true, pod };
    }
    if (res.status === 405 || res.status === 415) return { error: `the API server does not support ephemeral containers (${res.status}): ${statusText(res)}`, unsupported: true, pod };
    if (res.status < 200 || res.status >= 300) return { error: `adding ${where} failed (${res.status}): ${statusText(res)}`, pod };

    const pollMs = Math.max(50, opts.pollMs ?? 1000);
    let last: k8s.V1ContainerStatus | undefined;
    while (Date.now() < deadline) {
      const cur = await getPod(kube, pod);
      if (!cur) return { error: `pod ${pod.namespace}/${pod.name} disappeared while ${where} ran`, pod };
      last = (cur.status?.ephemeralContainerStatuses ?? []).find((s) => s.name === name);
      const term = last?.state?.terminated;
      if (term) return fromLog(await readLog(kube, pod, name), term, pod, name);
      const waiting = last?.state?.waiting;
      if (waiting?.reason && FATAL_WAITING.has(waiting.reason)) return { error: `${where} cannot start: ${describeState(last)}`, pod };
      await sleep(Math.min(pollMs, Math.max(0, deadline - Date.now())));
    }
    return {
      error: `${where} did not finish within ${opts.timeoutMs} ms (last state: ${describeState(last)}); it cannot be removed and ends when nmap exits`,
      timedOut: true,
      pod,
    };
  } catch (err) {
    return { error: `${where}: ${msg(err)}`, pod };
  }
}

// ---- the probe ServiceAccount, shared by the probes of this process per namespace

interface SaEntry {
  count: number;
  ready: Promise<{ uid: string; created: boolean }>;
}
const saEntries = new Map<string, SaEntry>();
const saDeleting = new Map<string, Promise<void>>();

async function ensureServiceAccount(kube: Kube, ns: string, name: string, labels: Record<string, string>): Promise<{ uid: string; created: boolean }> {
  const site = { verb: 'create', resource: 'serviceaccounts', namespace: ns };
  const body = {
    apiVersion: 'v1',
    kind: 'ServiceAccount',
    metadata: { name, namespace: ns, labels, annotations: { [CREATED_ANNOTATION]: new Date().toISOString() } },
    automountServiceAccountToken: false,
  };
  const res = await rawRequest(kube, site, { method: 'POST', path: path(ns, '/serviceaccounts'), query: { fieldManager: 'stack-scan' }, body });
  if (res.status === 201 || res.status === 200) return { uid: (res.body as k8s.V1ServiceAccount).metadata!.uid!, created: true };
  if (res.status !== 409) throw statusError(site, res, kube.server);
  const getSite = { verb: 'get', resource: 'serviceaccounts', namespace: ns };
  const cur = await rawRequest(kube, getSite, { method: 'GET', path: path(ns, `/serviceaccounts/${encodeURIComponent(name)}`) });
  if (cur.status !== 200) throw statusError(getSite, cur, kube.server);
  return { uid: (cur.body as k8s.V1ServiceAccount).metadata!.uid!, created: false };
}

async function deleteObject(kube: Kube, ns: string, plural: 'pods' | 'serviceaccounts', name: string): Promise<void> {
  const site = { verb: 'delete', resource: plural, namespace: ns };
  const res = await rawRequest(kube, site, { method: 'DELETE', path: path(ns, `/${plural}/${encodeURIComponent(name)}`), body: { kind: 'DeleteOptions', apiVersion: 'v1', propagationPolicy: 'Background' } });
  if (res.status >= 300 && res.status !== 404) throw statusError(site, res, kube.server);
}

async function acquireServiceAccount(kube: Kube, ns: string, name: string, labels: Record<string, string>): Promise<{ uid: string; key: string }> {
  const key = `${kube.server}|${ns}|${name}`;
  // A deletion by the last user of this process must finish before we create it again (bounded: each round awaits one deletion).
  for (let i = 0; i < 10 && !saEntries.has(key) && saDeleting.has(key); i++) await saDeleting.get(key);
  let e = saEntries.get(key);
  if (!e) {
    e = { count: 0, ready: ensureServiceAccount(kube, ns, name, labels) };
    saEntries.set(key, e);
  }
  e.count++;
  try {
    const { uid } = await e.ready;
    return { uid, key };
  } catch (err) {
    e.count--;
    if (saEntries.get(key) === e && e.count === 0) saEntries.delete(key);
    throw err;
  }
}

/** The last user of this process deletes the ServiceAccount, if this process created it. */
async function releaseServiceAccount(kube: Kube, key: string, ns: string, name: string): Promise<void> {
  const e = saEntries.get(key);
  if (!e) return;
  e.count--;
  if (e.count > 0) return;
  saEntries.delete(key);
  const { created } = await e.ready;
  if (!created) return;
  const p = deleteObject(kube, ns, 'serviceaccounts', name);
  saDeleting.set(key, p.catch(() => {}));
  try {
    await p;
  } finally {
    saDeleting.delete(key);
  }
}

/**
 * Create the fallback pod (from fallbackProbePod) and wait until it has
 * Succeeded or Failed, at most opts.timeoutMs; read its log; delete the pod
 * always (finally). The pod's ServiceAccount is created when missing and
 * deleted after the last probe of this process that uses it, if this process
 * created it.
 */
export async function probeWithPod(kube: Kube, podSpec: ProbePod, opts: ProbeWaitOptions): Promise<ProbeOutcome> {
  const deadline = Date.now() + opts.timeoutMs;
  const ns = podSpec.metadata.namespace;
  const saName = podSpec.spec.serviceAccountName;
  const saLabels = Object.fromEntries(Object.entries(podSpec.metadata.labels).filter(([k]) => k in PROBE_LABELS || k === RUN_LABEL));
  let sa: { uid: string; key: string } | undefined;
  let ref: PodRef | undefined;

  const run = async (): Promise<ProbeOutcome> => {
    try {
      sa = await acquireServiceAccount(kube, ns, saName, saLabels);
    } catch (err) {
      return { error: `probe ServiceAccount ${ns}/${saName}: ${msg(err)}`, forbidden: err instanceof ScanError && err.status === 403 };
    }
    const body: ProbePod = {
      ...podSpec,
      metadata: {
        ...podSpec.metadata,
        annotations: { ...podSpec.metadata.annotations, [CREATED_ANNOTATION]: new Date().toISOString() },
        // A controller reference: no ReplicaSet/DaemonSet/… adopts a pod that has one.
        ownerReferences: [{ apiVersion: 'v1', kind: 'ServiceAccount', name: saName, uid: sa.uid, controller: true }],
      },
    };
    const site = { verb: 'create', resource: 'pods', namespace: ns };
    const res = await rawRequest(kube, site, { method: 'POST', path: path(ns, '/pods'), query: { fieldManager: 'stack-scan' }, body });
    if (res.status === 403) return { error: `creating the probe pod in ${ns} was refused (403): ${statusText(res)}`, forbidden: true };
    if (res.status !== 201 && res.status !== 200) return { error: `creating the probe pod in ${ns} failed (${res.status}): ${statusText(res)}` };
    const pod: PodRef = { namespace: ns, name: (res.body as k8s.V1Pod).metadata!.name! };
    ref = pod;
    const container = podSpec.spec.containers[0].name;
    const where = `probe pod ${ns}/${pod.name}`;

    const pollMs = Math.max(50, opts.pollMs ?? 1000);
    let cur: k8s.V1Pod | undefined;
    while (Date.now() < deadline) {
      cur = await getPod(kube, pod);
      if (!cur) return { error: `${where} disappeared before it finished (deleted, or garbage-collected with its ServiceAccount)`, pod };
      const phase = cur.status?.phase;
      const st = (cur.status?.containerStatuses ?? []).find((s) => s.name === container);
      if (phase === 'Succeeded' || phase === 'Failed') {
        const term = st?.state?.terminated;
        if (phase === 'Failed') {
          // DeadlineExceeded, Evicted, OOMKilled, nmap's own error …: say why, with nmap's output when there is some.
          let tail = term?.message ?? '';
          if (term) tail = (await readLog(kube, pod, container).then((l) => splitNmapLog(l).stderr, () => '')) || tail;
          const why = [cur.status?.reason, cur.status?.message, term ? `container ${describeState(st)}` : undefined].filter(Boolean).join('; ');
          return { error: `${where} failed: ${why || 'no reason given'}${tail ? `: ${tail.slice(-2000)}` : ''}`, pod };
        }
        return fromLog(await readLog(kube, pod, container), term ?? { exitCode: 0 }, pod, container);
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
    return { error: `${where} did not finish within ${opts.timeoutMs} ms (last state: ${state})`, timedOut: true, pod };
  };

  let outcome: ProbeOutcome;
  try {
    outcome = await run();
  } catch (err) {
    outcome = { error: `probe pod in ${ns}: ${msg(err)}`, ...(ref ? { pod: ref } : {}) };
  }
  // Cleanup, whatever happened above (run() catches nothing it does not rethrow here).
  const cleanup: string[] = [];
  const created = ref as PodRef | undefined;
  if (created) {
    try {
      await deleteObject(kube, ns, 'pods', created.name);
    } catch (err) {
      cleanup.push(`delete pod ${ns}/${created.name}: ${msg(err)} (its activeDeadlineSeconds still ends it; a later sweep deletes it)`);
    }
  }
  const held = sa as { uid: string; key: string } | undefined;
  if (held) {
    try {
      await releaseServiceAccount(kube, held.key, ns, saName);
    } catch (err) {
      cleanup.push(`delete ServiceAccount ${ns}/${saName}: ${msg(err)} (a later sweep deletes it)`);
    }
  }
  return cleanup.length ? { ...outcome, cleanupError: cleanup.join('; ') } : outcome;
}

export interface SweepOptions {
  /** Delete probe objects older than this. */
  olderThanMs: number;
  /** Never delete objects of this run (the one in progress). */
  exceptRun?: string;
  /** Delete this run's objects whatever their age. */
  run?: string;
}

export interface SweepResult {
  deleted: { kind: 'Pod' | 'ServiceAccount'; namespace: string; name: string }[];
  errors: ReportError[];
}

function ageMs(meta: k8s.V1ObjectMeta | undefined, now: number): number {
  const created = Date.parse(meta?.annotations?.[CREATED_ANNOTATION] ?? '') || Date.parse(String(meta?.creationTimestamp ?? ''));
  return Number.isFinite(created) ? now - created : Infinity;
}

/**
 * Delete probe pods, then probe ServiceAccounts, in all namespaces: those
 * labelled PROBE_SELECTOR and older than olderThanMs, or of opts.run; never
 * those of opts.exceptRun. Ephemeral containers are not swept: they cannot be
 * removed, and end on their own when nmap exits. Failures go to `errors`.
 */
export async function sweepProbeObjects(kube: Kube, opts: SweepOptions): Promise<SweepResult> {
  const out: SweepResult = { deleted: [], errors: [] };
  const now = Date.now();
  for (const [kind, plural] of [['Pod', 'pods'], ['ServiceAccount', 'serviceaccounts']] as const) {
    const site = { verb: 'list', resource: plural };
    let items: { metadata?: k8s.V1ObjectMeta }[];
    try {
      const res = await rawRequest(kube, site, { method: 'GET', path: `/api/v1/${plural}`, query: { labelSelector: PROBE_SELECTOR } });
      if (res.status !== 200) throw statusError(site, res, kube.server);
      items = (res.body as { items?: { metadata?: k8s.V1ObjectMeta }[] }).items ?? [];
    } catch (err) {
      out.errors.push(toReportError(`sweep: list ${plural}`, err));
      continue;
    }
    const doomed = items.filter((o) => {
      const run = o.metadata?.labels?.[RUN_LABEL];
      if (opts.exceptRun !== undefined && run === opts.exceptRun) return false;
      if (opts.run !== undefined && run === opts.run) return true;
      return ageMs(o.metadata, now) > opts.olderThanMs;
    });
    await Promise.all(
      doomed.map(async (o) => {
        const ns = o.metadata!.namespace!;
        const name = o.metadata!.name!;
        try {
          await deleteObject(kube, ns, plural, name);
          out.deleted.push({ kind, namespace: ns, name });
        } catch (err) {
          out.errors.push(toReportError(`sweep: delete ${kind} ${ns}/${name}`, err));
        }
      }),
    );
  }
  out.deleted.sort((a, b) => a.kind.localeCompare(b.kind) || a.namespace.localeCompare(b.namespace) || a.name.localeCompare(b.name));
  return out;
}
