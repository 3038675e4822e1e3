/**
 * NetworkPolicy (networking.k8s.io/v1) as every reader of policies sees it: minimal,
 * structural shapes (raw JSON/YAML and @kubernetes/client-node's V1NetworkPolicy both fit;
 * client-node spells the ingress `from` field `_from`), and the semantics all readers share (pure).
 */
import type { Direction, LabelSelector } from './types.ts';

/** An ipBlock peer: a CIDR minus exceptions. */
export interface IPBlock {
  readonly cidr: string;
  readonly except?: readonly string[] | null;
}

/** One `from`/`to` entry of a rule. */
export interface NetworkPolicyPeer {
  readonly podSelector?: LabelSelector | null;
  readonly namespaceSelector?: LabelSelector | null;
  readonly ipBlock?: IPBlock | null;
}

/** One `ports` entry of a rule. `port` is a number or a container port name. */
export interface NetworkPolicyPort {
  readonly protocol?: string | null;
  readonly port?: number | string | null;
  readonly endPort?: number | null;
}

/** An ingress rule; `_from` is how @kubernetes/client-node spells `from`. */
export interface NetworkPolicyIngressRule {
  readonly from?: readonly NetworkPolicyPeer[] | null;
  readonly _from?: readonly NetworkPolicyPeer[] | null;
  readonly ports?: readonly NetworkPolicyPort[] | null;
}

/** An egress rule. */
export interface NetworkPolicyEgressRule {
  readonly to?: readonly NetworkPolicyPeer[] | null;
  readonly ports?: readonly NetworkPolicyPort[] | null;
}

/** The spec of a NetworkPolicy. An absent podSelector is `{}` (all pods), as in the API. */
export interface NetworkPolicySpec {
  readonly podSelector?: LabelSelector | null;
  readonly policyTypes?: readonly string[] | null;
  readonly ingress?: readonly NetworkPolicyIngressRule[] | null;
  readonly egress?: readonly NetworkPolicyEgressRule[] | null;
}

/**
 * A NetworkPolicy. A missing metadata.namespace is taken as "default". `uid` and
 * `resourceVersion` (set on objects read from an API server) identify one version of it.
 */
export interface NetworkPolicy {
  readonly metadata?: { readonly name?: string; readonly namespace?: string; readonly uid?: string; readonly resourceVersion?: string } | null;
  readonly spec?: NetworkPolicySpec | null;
}

/**
 * The directions a NetworkPolicy governs, sorted and unique: its `policyTypes` when given,
 * otherwise Ingress, plus Egress when the spec has egress rules (the API server's defaulting,
 * which tests `len(egress) != 0`). Type names are read case-insensitively.
 */
export function policyDirections(spec: { policyTypes?: unknown; egress?: unknown } | null | undefined): Direction[] {
  const explicit = spec?.policyTypes;
  if (Array.isArray(explicit) && explicit.length) return [...new Set(explicit.map((t) => String(t).toLowerCase() as Direction))].sort();
  return Array.isArray(spec?.egress) && spec.egress.length ? ['egress', 'ingress'] : ['ingress'];
}
