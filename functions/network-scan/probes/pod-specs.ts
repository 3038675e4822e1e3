/**
 * The probe objects (pure builders): running nmap INSIDE the cluster with a source component's network identity.
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
import type * as k8s from '@kubernetes/client-node';
import { CREATED_ANNOTATION, MANAGED_BY, MANAGED_BY_KEY, PROBE_SERVICE_ACCOUNT, PURPOSE_LABEL, RUN_LABEL } from '../../../lib/k8s/labels.ts';
import { selectorString } from '../../../lib/k8s/selectors.ts';

export { PURPOSE_LABEL, RUN_LABEL };

// ---------------------------------------------------------------- constants

export const MANAGED_BY_LABEL = MANAGED_BY_KEY;
/** The purpose of everything a network probe creates (the ScratchRun's purpose too). */
export const PROBE_PURPOSE = 'network-probe';
/** Labels on every object a network probe creates. */
export const PROBE_LABELS: Readonly<Record<string, string>> = { ...MANAGED_BY, [PURPOSE_LABEL]: PROBE_PURPOSE };
/** The label selector of the network scan's probe objects. */
export const PROBE_SELECTOR = selectorString(PROBE_LABELS);
export { CREATED_ANNOTATION };
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
  /** nmap arguments (nmap/nmap.ts nmapArgs). */
  args: string[];
  runId: string;
  /** activeDeadlineSeconds: the kubelet kills the pod after this long. */
  deadlineSeconds: number;
  /** Default `stack-scan-probe`; probeWithPod creates it when missing. */
  serviceAccountName?: string;
  /**
   * Wait this long before nmap runs (an init container, default 0): an enforcer such as kube-router
   * adds a NEW pod's address to its rules a moment after the pod starts; probing earlier sees a path
   * that is neither yet allowed nor yet restricted (seen on the real node).
   */
  settleMs?: number;
}

/**
 * The settle step, with nothing but the probe image: nmap connect-probing two ports of the pod's own
 * loopback with `--scan-delay` between them (loopback is never subject to NetworkPolicy). nmap waits the
 * delay twice for two ports (measured: 5.0 s for 2500 ms), hence half of `ms`.
 */
export function settleArgs(ms: number): string[] {
  return ['-sT', '-Pn', '-n', '-p', '1-2', '--max-retries', '0', '--scan-delay', `${Math.max(1, Math.round(ms / 2))}ms`, '127.0.0.1'];
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
  if (!Number.isSafeInteger(opts.deadlineSeconds) || opts.deadlineSeconds < 1)
    throw new Error(`deadlineSeconds must be a positive whole number; got ${opts.deadlineSeconds}`);
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
      ...(opts.settleMs && opts.settleMs > 0
        ? {
            initContainers: [
              {
                name: 'settle',
                image: opts.image,
                imagePullPolicy: 'IfNotPresent',
                command: ['nmap'],
                args: settleArgs(opts.settleMs),
                terminationMessagePolicy: 'FallbackToLogsOnError',
                securityContext: containerSecurityContext(),
                resources: { requests: { ...PROBE_RESOURCES.requests }, limits: { ...PROBE_RESOURCES.limits } },
              },
            ],
          }
        : {}),
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
