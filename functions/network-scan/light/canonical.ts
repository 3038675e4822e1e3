/**
 * The canonical form every policy, expected or live, is reduced to: its podSelector, its policy
 * types and, per direction, the sorted set of `peer|port` grants. A peer is a namespace
 * (`ns:<name>`, whichever of `stacktic.io/namespace` or `kubernetes.io/metadata.name` selects it),
 * every namespace (`all-namespaces`), everyone (`any`), an ipBlock (`ip:…`) or something else
 * (`other:…`); a port is `TCP/443`, a range `TCP/8000-8080`, a name, or `TCP/*` (every port).
 * Also the plain copy of a live policy the judgement works on (one shape for its hot loops).
 */
import {
  policyDirections,
  type NetworkPolicy,
  type NetworkPolicyPeer,
  type NetworkPolicyPort,
  type NetworkPolicySpec,
} from '../../../lib/k8s/networkpolicy.ts';
import { NAMESPACE_NAME_LABEL, type Direction, type LabelSelector } from '../../../lib/k8s/types.ts';
import type { ExpectedPolicy } from '../../../lib/topology/expected.ts';
import { renderSpec } from '../../../lib/topology/render.ts';
import { STACK_NAMESPACE_LABEL } from '../../../lib/topology/stacktic-rules.ts';

export const isEmptySelector = (s: LabelSelector | null | undefined) =>
  !s || (Object.keys(s.matchLabels ?? {}).length === 0 && (s.matchExpressions ?? []).length === 0);

export function selectorKey(s: LabelSelector | null | undefined): string {
  if (isEmptySelector(s)) return '{}';
  const labels = Object.keys(s!.matchLabels ?? {})
    .sort()
    .map((k) => [k, Object.getOwnPropertyDescriptor(s!.matchLabels!, k)!.value]);
  const exprs = (s!.matchExpressions ?? [])
    .map((e) => [e.key, e.operator, [...(e.values ?? [])].sort()])
    .sort((a, b) => (JSON.stringify(a) < JSON.stringify(b) ? -1 : 1));
  return JSON.stringify([labels, exprs]);
}

/** The namespace a selector names, when it names exactly one by either namespace label. */
function selectedNamespace(s: LabelSelector): string | undefined {
  const labels = Object.keys(s.matchLabels ?? {});
  const exprs = s.matchExpressions ?? [];
  if (labels.length === 1 && exprs.length === 0 && (labels[0] === STACK_NAMESPACE_LABEL || labels[0] === NAMESPACE_NAME_LABEL))
    return Object.getOwnPropertyDescriptor(s.matchLabels!, labels[0])!.value;
  if (labels.length === 0 && exprs.length === 1) {
    const e = exprs[0];
    if ((e.key === STACK_NAMESPACE_LABEL || e.key === NAMESPACE_NAME_LABEL) && e.operator === 'In' && e.values?.length === 1) return e.values[0];
  }
  return undefined;
}

/** A canonical key for what a peer selects. */
export function peerKey(peer: NetworkPolicyPeer, policyNamespace: string): string {
  if (peer.ipBlock) {
    const except = [...(peer.ipBlock.except ?? [])].sort();
    if (!except.length && (peer.ipBlock.cidr === '0.0.0.0/0' || peer.ipBlock.cidr === '::/0')) return 'any';
    return `ip:${peer.ipBlock.cidr}${except.length ? `!${except.join(',')}` : ''}`;
  }
  if (!isEmptySelector(peer.podSelector))
    return `other:${selectorKey(peer.namespaceSelector)}:${selectorKey(peer.podSelector)}${peer.namespaceSelector ? '' : `@${policyNamespace}`}`;
  if (!peer.namespaceSelector) return `ns:${policyNamespace}`;
  if (isEmptySelector(peer.namespaceSelector)) return 'all-namespaces';
  const ns = selectedNamespace(peer.namespaceSelector);
  return ns !== undefined ? `ns:${ns}` : `other:${selectorKey(peer.namespaceSelector)}`;
}

export const proto = (p: string | null | undefined) => (p ?? 'TCP').toUpperCase();

export function portKey(p: NetworkPolicyPort): string {
  if (p.port === undefined || p.port === null) return `${proto(p.protocol)}/*`;
  return `${proto(p.protocol)}/${p.port}${p.endPort ? `-${p.endPort}` : ''}`;
}

export interface Rule {
  peers: NetworkPolicyPeer[] | null; // null: no peer list = any peer
  ports: NetworkPolicyPort[] | null; // null: all ports
}

export function rules(spec: NetworkPolicySpec | null | undefined, d: Direction): Rule[] {
  const list = d === 'ingress' ? (spec?.ingress ?? []) : (spec?.egress ?? []);
  return list.map((r) => {
    const raw = r ?? {};
    const peers =
      d === 'ingress'
        ? ((raw as { from?: NetworkPolicyPeer[] }).from ?? (raw as { _from?: NetworkPolicyPeer[] })._from)
        : (raw as { to?: NetworkPolicyPeer[] }).to;
    return { peers: peers?.length ? [...peers] : null, ports: raw.ports?.length ? [...raw.ports] : null };
  });
}

export interface Canonical {
  pod: string;
  types: Direction[];
  /** Sorted, unique `peer|port` grants per direction. */
  grants: Record<Direction, string[]>;
  /** The parsed rules per direction (reused by the rule checks). */
  rules: Record<Direction, Rule[]>;
  key: string;
}

const NO_RULES: Rule[] = [];

function sortedUnique(xs: string[]): string[] {
  if (xs.length < 2) return xs;
  xs.sort();
  let w = 1;
  for (let r = 1; r < xs.length; r++) if (xs[r] !== xs[w - 1]) xs[w++] = xs[r];
  xs.length = w;
  return xs;
}

export function canonical(spec: NetworkPolicySpec | null | undefined, ns: string): Canonical {
  const types = policyDirections(spec);
  const grants: Record<Direction, string[]> = { ingress: [], egress: [] };
  const parsed: Record<Direction, Rule[]> = { ingress: NO_RULES, egress: NO_RULES };
  for (const d of types) {
    const rs = rules(spec, d);
    parsed[d] = rs;
    const out = grants[d];
    for (const r of rs) {
      const peers = r.peers === null ? ['any'] : r.peers.map((x) => peerKey(x, ns));
      const ports = r.ports === null ? ['*/*'] : r.ports.map(portKey);
      for (const a of peers) for (const b of ports) out.push(`${a}|${b}`);
    }
    sortedUnique(out);
  }
  const pod = selectorKey(spec?.podSelector);
  const key = `${pod}\u0001${types.join(',')}\u0001${grants.ingress.join('\u0002')}\u0001${grants.egress.join('\u0002')}`;
  return { pod, types, grants, rules: parsed, key };
}

/** The canonical form of an expected policy: from the spec it renders to, as for a live policy. */
export function expectedCanonical(e: ExpectedPolicy, stackNs: ReadonlySet<string>): Canonical {
  // One path for every source (the form is computed once per file version: expectedForms).
  return canonical(renderSpec(e, stackNs), e.namespace);
}

export const PEER_WIDTH = (k: string) => (k === 'any' ? 2 : k === 'all-namespaces' ? 1 : 0);

export function splitGrant(g: string): [string, string] {
  const i = g.lastIndexOf('|');
  return [g.slice(0, i), g.slice(i + 1)];
}

/**
 * A plain, minimal copy of a policy (client-node objects carry many undefined
 * fields and server metadata): the judgement's hot loops then see one shape.
 */
function plainSelector(s: LabelSelector | null | undefined): LabelSelector | undefined {
  if (!s) return undefined;
  const out: { matchLabels?: Record<string, string>; matchExpressions?: LabelSelector['matchExpressions'] } = {};
  if (s.matchLabels && Object.keys(s.matchLabels).length) out.matchLabels = s.matchLabels as Record<string, string>;
  if (s.matchExpressions?.length) out.matchExpressions = s.matchExpressions;
  return out;
}

export function plainPolicy(p: NetworkPolicy): NetworkPolicy {
  const spec = p.spec;
  const peer = (x: NetworkPolicyPeer): NetworkPolicyPeer => {
    const out: { podSelector?: LabelSelector; namespaceSelector?: LabelSelector; ipBlock?: NetworkPolicyPeer['ipBlock'] } = {};
    if (x.podSelector) out.podSelector = plainSelector(x.podSelector);
    if (x.namespaceSelector) out.namespaceSelector = plainSelector(x.namespaceSelector);
    if (x.ipBlock) out.ipBlock = x.ipBlock;
    return out;
  };
  const port = (x: NetworkPolicyPort): NetworkPolicyPort => {
    const out: { protocol?: string; port?: number | string; endPort?: number } = {};
    if (x.protocol) out.protocol = x.protocol;
    if (x.port !== undefined && x.port !== null) out.port = x.port;
    if (x.endPort) out.endPort = x.endPort;
    return out;
  };
  const rule = (r: Record<string, unknown> | null | undefined, d: Direction) => {
    const raw = (r ?? {}) as { from?: NetworkPolicyPeer[]; _from?: NetworkPolicyPeer[]; to?: NetworkPolicyPeer[]; ports?: NetworkPolicyPort[] };
    const peers = d === 'ingress' ? (raw.from ?? raw._from) : raw.to;
    return { ...(peers ? { [d === 'ingress' ? 'from' : 'to']: peers.map(peer) } : {}), ...(raw.ports ? { ports: raw.ports.map(port) } : {}) };
  };
  return {
    metadata: { name: p.metadata?.name ?? '', namespace: p.metadata?.namespace ?? 'default' },
    spec: spec
      ? {
          podSelector: plainSelector(spec.podSelector) ?? {},
          ...(spec.policyTypes ? { policyTypes: spec.policyTypes } : {}),
          ...(spec.ingress ? { ingress: spec.ingress.map((r) => rule(r as Record<string, unknown>, 'ingress')) } : {}),
          ...(spec.egress ? { egress: spec.egress.map((r) => rule(r as Record<string, unknown>, 'egress')) } : {}),
        }
      : null,
  };
}

export const nsOf = (p: NetworkPolicy) => p.metadata?.namespace ?? 'default';
export const nameOf = (p: NetworkPolicy) => p.metadata?.name ?? '';
