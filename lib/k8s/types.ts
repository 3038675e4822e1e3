/**
 * The Kubernetes vocabulary every scan shares, written once: plain, structural shapes
 * (raw JSON, YAML and @kubernetes/client-node objects all fit).
 */

/** Transport protocols NetworkPolicy and container ports can name. */
export type Protocol = 'TCP' | 'UDP' | 'SCTP';
export const PROTOCOLS: readonly Protocol[] = ['TCP', 'UDP', 'SCTP'];

/** Which side of a connection a NetworkPolicy governs. */
export type Direction = 'ingress' | 'egress';

export type Labels = Readonly<Record<string, string>>;

/** A label selector requirement: key, operator (In, NotIn, Exists, DoesNotExist), values. */
export interface LabelSelectorRequirement {
  readonly key: string;
  readonly operator: string;
  readonly values?: readonly string[] | null;
}

/** A Kubernetes label selector; `{}` matches everything. */
export interface LabelSelector {
  readonly matchLabels?: Readonly<Record<string, string>> | null;
  readonly matchExpressions?: readonly LabelSelectorRequirement[] | null;
}

/** A namespace and its labels (`kubernetes.io/metadata.name` is implied when missing). */
export interface NamespaceInfo {
  readonly name: string;
  readonly labels?: Labels | null;
}

/** A container port of a pod. Protocol defaults to TCP. */
export interface ContainerPortInfo {
  readonly name: string;
  readonly port: number;
  readonly protocol?: Protocol;
}

/** What the scans need to know of a pod. */
export interface PodInfo {
  name: string;
  namespace: string;
  labels: Record<string, string>;
  ip?: string;
  phase?: string;
  ready: boolean;
  ports: ContainerPortInfo[];
}

export interface ObjectMeta {
  name: string;
  namespace?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  [k: string]: unknown;
}

/** Any Kubernetes object as JSON. */
export interface KubeObject {
  apiVersion: string;
  kind: string;
  metadata: ObjectMeta;
  [k: string]: unknown;
}

export const NAMESPACE_NAME_LABEL = 'kubernetes.io/metadata.name';
