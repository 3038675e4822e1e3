/**
 * Base resources for the OPA scan's generators, and helpers that reach every
 * pod spec / container of any workload kind, so one generator handles Pod and
 * Deployment alike.
 *
 * A base resource is as hardened as possible by default, so most constraints
 * are already satisfied before any `comply` runs:
 *  - pod: serviceAccountName stack-scan-probe (the scan creates it for real in
 *    each namespace it tests in), automountServiceAccountToken false,
 *    securityContext runAsNonRoot / runAsUser 65532 / seccompProfile RuntimeDefault;
 *  - container: allowPrivilegeEscalation false, privileged false,
 *    readOnlyRootFilesystem true, capabilities drop ALL; requests and limits for
 *    cpu, memory and ephemeral-storage; tcpSocket liveness + readiness probes;
 *    image registry.k8s.io/pause:3.10 (fixed, non-latest tag).
 * It stays neutral where a constraint asks for something specific (e.g. the
 * `stacktic.io/imageSigned` label is ImageSigningPolicy's comply() job).
 */
import { apiVersionOf, kindInfo } from '../../../lib/k8s/kinds.ts';
import { isLabelValue, PROBE_SERVICE_ACCOUNT, toLabelValue } from '../../../lib/k8s/labels.ts';
import type { Resource } from './types.ts';

export { isLabelValue, PROBE_SERVICE_ACCOUNT, toLabelValue };
export const BASE_IMAGE = 'registry.k8s.io/pause:3.10';
export const BASE_PORT = 8080;
export const NAME_LABEL = 'app.kubernetes.io/name';

/** Resource requests/limits of the base container (canonical Kubernetes quantity forms). */
export const BASE_RESOURCES = {
  requests: { cpu: '10m', memory: '16Mi', 'ephemeral-storage': '16Mi' },
  limits: { cpu: '100m', memory: '64Mi', 'ephemeral-storage': '64Mi' },
} as const;

/** Kinds whose pod template is at spec.template. */
const TEMPLATE_KINDS = new Set(['Deployment', 'StatefulSet', 'DaemonSet', 'ReplicaSet', 'Job', 'ReplicationController']);
export const WORKLOAD_KINDS: readonly string[] = ['Pod', 'Deployment', 'StatefulSet', 'DaemonSet', 'ReplicaSet', 'Job', 'CronJob'];
/** Every kind baseResource can build. */
export const BUILDABLE_KINDS: readonly string[] = [...WORKLOAD_KINDS, 'Namespace', 'Service', 'NetworkPolicy', 'Role', 'ClusterRole', 'Ingress'];

/** Kinds baseResource builds without a namespace (from the shared table of kinds). */
export const CLUSTER_SCOPED_KINDS: ReadonlySet<string> = new Set(BUILDABLE_KINDS.filter((k) => kindInfo(k)?.namespaced === false));

/** A deep copy (resources are plain JSON). */
export function clone<T>(x: T): T {
  return structuredClone(x);
}

function baseContainer(): Record<string, any> {
  return {
    name: 'main',
    image: BASE_IMAGE,
    imagePullPolicy: 'IfNotPresent',
    ports: [{ name: 'http', containerPort: BASE_PORT, protocol: 'TCP' }],
    securityContext: {
      allowPrivilegeEscalation: false,
      privileged: false,
      readOnlyRootFilesystem: true,
      runAsNonRoot: true,
      capabilities: { drop: ['ALL'] },
    },
    resources: clone(BASE_RESOURCES) as Record<string, any>,
    livenessProbe: { tcpSocket: { port: BASE_PORT }, periodSeconds: 10 },
    readinessProbe: { tcpSocket: { port: BASE_PORT }, periodSeconds: 10 },
  };
}

function basePodSpec(restartPolicy?: string): Record<string, any> {
  return {
    serviceAccountName: PROBE_SERVICE_ACCOUNT,
    automountServiceAccountToken: false,
    ...(restartPolicy ? { restartPolicy } : {}),
    securityContext: {
      runAsNonRoot: true,
      runAsUser: 65532,
      runAsGroup: 65532,
      seccompProfile: { type: 'RuntimeDefault' },
    },
    containers: [baseContainer()],
  };
}

/**
 * A hardened resource of `kind`, or undefined for a kind it cannot build.
 * `labels` go on the object (and on the pod template of workloads), plus
 * `app.kubernetes.io/name` (from `labels`, else derived from `name`), which
 * workload selectors and the base NetworkPolicy/Service use.
 * `namespace` is ignored for cluster-scoped kinds.
 */
export function baseResource(kind: string, name: string, namespace: string | undefined, labels: Record<string, string>): Resource | undefined {
  const apiVersion = BUILDABLE_KINDS.includes(kind) ? apiVersionOf(kind) : undefined;
  if (!apiVersion) return undefined;
  const appName = labels[NAME_LABEL] ?? toLabelValue(name);
  const allLabels = { ...labels, [NAME_LABEL]: appName };
  const metadata: Resource['metadata'] = { name, labels: { ...allLabels } };
  if (!CLUSTER_SCOPED_KINDS.has(kind) && namespace !== undefined) metadata.namespace = namespace;
  const selector = { matchLabels: { [NAME_LABEL]: appName } };
  const template = (restartPolicy?: string) => ({ metadata: { labels: { ...allLabels } }, spec: basePodSpec(restartPolicy) });
  const r: Resource = { apiVersion, kind, metadata };
  switch (kind) {
    case 'Pod':
      r.spec = basePodSpec();
      break;
    case 'Deployment':
    case 'ReplicaSet':
      r.spec = { replicas: 1, selector, template: template() };
      break;
    case 'DaemonSet':
      r.spec = { selector, template: template() };
      break;
    case 'StatefulSet':
      r.spec = { replicas: 1, serviceName: name, selector, template: template() };
      break;
    case 'Job':
      r.spec = { backoffLimit: 0, template: template('Never') };
      break;
    case 'CronJob':
      r.spec = { schedule: '0 3 * * *', concurrencyPolicy: 'Forbid', jobTemplate: { spec: { backoffLimit: 0, template: template('Never') } } };
      break;
    case 'Namespace':
      break;
    case 'Service':
      r.spec = { type: 'ClusterIP', selector: { [NAME_LABEL]: appName }, ports: [{ name: 'http', port: 80, targetPort: BASE_PORT, protocol: 'TCP' }] };
      break;
    case 'NetworkPolicy':
      r.spec = {
        podSelector: { matchLabels: { [NAME_LABEL]: appName } },
        policyTypes: ['Ingress', 'Egress'],
        ingress: [{ from: [{ podSelector: { matchLabels: { [NAME_LABEL]: appName } } }], ports: [{ protocol: 'TCP', port: BASE_PORT }] }],
        egress: [
          {
            to: [
              { namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'kube-system' } }, podSelector: { matchLabels: { 'k8s-app': 'kube-dns' } } },
            ],
            ports: [
              { protocol: 'UDP', port: 53 },
              { protocol: 'TCP', port: 53 },
            ],
          },
        ],
      };
      break;
    case 'Ingress':
      r.spec = {
        rules: [
          {
            host: `${appName.toLowerCase()}.stack-scan.invalid`,
            http: { paths: [{ path: '/', pathType: 'Prefix', backend: { service: { name: appName.toLowerCase(), port: { number: 80 } } } }] },
          },
        ],
      };
      break;
    case 'Role':
    case 'ClusterRole':
      r.rules = [{ apiGroups: [''], resources: ['configmaps'], verbs: ['get', 'list', 'watch'] }];
      break;
  }
  return r;
}

/** The pod template objects ({metadata, spec}) of a workload; empty for a Pod and non-workloads. */
export function podTemplates(r: Resource): Record<string, any>[] {
  if (TEMPLATE_KINDS.has(r.kind)) return r.spec?.template ? [r.spec.template] : [];
  if (r.kind === 'CronJob') return r.spec?.jobTemplate?.spec?.template ? [r.spec.jobTemplate.spec.template] : [];
  return [];
}

/** Every pod spec of `r` (live references, mutate them on a copy): Pod → spec, workloads → their pod template's spec. */
export function podSpecs(r: Resource): Record<string, any>[] {
  if (r.kind === 'Pod') return r.spec ? [r.spec] : [];
  return podTemplates(r)
    .map((t) => t.spec)
    .filter(Boolean);
}

export type ContainerField = 'containers' | 'initContainers' | 'ephemeralContainers';

/** Containers of every pod spec of `r`: containers, then initContainers, then ephemeralContainers (live references). */
export function containers(r: Resource, fields: readonly ContainerField[] = ['containers', 'initContainers', 'ephemeralContainers']): Record<string, any>[] {
  const out: Record<string, any>[] = [];
  for (const s of podSpecs(r)) for (const f of fields) for (const c of s[f] ?? []) out.push(c);
  return out;
}

/** The container's securityContext, created if absent. */
export function securityContext(c: Record<string, any>): Record<string, any> {
  c.securityContext ??= {};
  return c.securityContext;
}

/**
 * allowPrivilegeEscalation explicitly false, and privileged cleared: the API
 * rejects allowPrivilegeEscalation false together with privileged true.
 */
export function forbidEscalation(c: Record<string, any>): void {
  const sc = securityContext(c);
  sc.allowPrivilegeEscalation = false;
  if (sc.privileged === true) sc.privileged = false;
}

/** The object's labels, created if absent. */
export function labelsOf(meta: Record<string, any>): Record<string, string> {
  meta.labels ??= {};
  return meta.labels;
}

/**
 * Whether `image` is exempt by a gatekeeper-library style `exemptImages` list:
 * an exact entry, or an entry ending in `*` as a prefix.
 */
export function isExemptImage(image: unknown, exemptImages: unknown): boolean {
  if (typeof image !== 'string' || !Array.isArray(exemptImages)) return false;
  return exemptImages.some((e) => typeof e === 'string' && (e.endsWith('*') ? image.startsWith(e.slice(0, -1)) : e === image));
}

export interface ImageRef {
  /** Everything before the tag/digest: [registry/]path. */
  name: string;
  tag?: string;
  digest?: string;
}

/** Split an image reference into name, tag and digest (a `:` in the last path segment starts the tag). */
export function parseImage(ref: string): ImageRef {
  let rest = ref;
  let digest: string | undefined;
  const at = rest.indexOf('@');
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
  }
  const slash = rest.lastIndexOf('/');
  const colon = rest.lastIndexOf(':');
  if (colon > slash) return { name: rest.slice(0, colon), tag: rest.slice(colon + 1), ...(digest ? { digest } : {}) };
  return { name: rest, ...(digest ? { digest } : {}) };
}

export function formatImage(i: ImageRef): string {
  return `${i.name}${i.tag !== undefined ? `:${i.tag}` : ''}${i.digest ? `@${i.digest}` : ''}`;
}

const IMAGE_REF = new RegExp(
  [
    String.raw`^(?:[a-zA-Z0-9](?:[a-zA-Z0-9.-]*[a-zA-Z0-9])?(?::[0-9]+)?\/)?`, // registry host and port
    String.raw`[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*`, // path
    '(?::[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?', // tag
    '(?:@[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-fA-F0-9]{32,})?$', // digest
  ].join(''),
);

/** Whether `ref` is a syntactically valid container image reference (docker reference grammar, simplified). */
export function isImageRef(ref: string): boolean {
  return ref.length > 0 && ref.length <= 255 && IMAGE_REF.test(ref);
}

/** Parameters of a constraint, typed loosely (constraint parameters are user input). */
export function param<T>(params: Record<string, any> | undefined, key: string): T | undefined {
  const v = params?.[key];
  return v === undefined || v === null ? undefined : (v as T);
}

/** A string array parameter (non-strings dropped); undefined when absent. */
export function stringList(params: Record<string, any> | undefined, key: string): string[] | undefined {
  const v = params?.[key];
  if (!Array.isArray(v)) return undefined;
  return v.filter((x): x is string => typeof x === 'string');
}
