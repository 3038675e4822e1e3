/**
 * Renders an expected policy as the NetworkPolicy Stacktic would generate:
 * `podSelector: {}`, stack peers selected by `stacktic.io/namespace`, system
 * peers (kube-system, default) by `kubernetes.io/metadata.name`. Used for the
 * remediation manifest of missing policies, and by the demo and tests.
 */
import type { ExpectedPolicy } from '../../lib/topology/expected.ts';
import type { NetworkPolicy, NetworkPolicyPeer } from './engine.ts';

export const STACK_NAMESPACE_LABEL = 'stacktic.io/namespace';

export interface RenderedPolicy extends NetworkPolicy {
  apiVersion: 'networking.k8s.io/v1';
  kind: 'NetworkPolicy';
  metadata: { name: string; namespace: string; labels: Record<string, string> };
}

function renderPeer(e: ExpectedPolicy, stackNamespaces: ReadonlySet<string>): NetworkPolicyPeer[] | undefined {
  const peer = e.peer!;
  if ('any' in peer) return undefined; // no peer list: any peer
  if ('ipBlock' in peer) return [{ ipBlock: { cidr: peer.ipBlock.cidr, ...(peer.ipBlock.except?.length ? { except: peer.ipBlock.except } : {}) } }];
  const label = stackNamespaces.has(peer.namespace) ? STACK_NAMESPACE_LABEL : 'kubernetes.io/metadata.name';
  return [{ namespaceSelector: { matchLabels: { [label]: peer.namespace } }, podSelector: {} }];
}

export function renderPolicy(e: ExpectedPolicy, stackNamespaces: ReadonlySet<string>): RenderedPolicy {
  const type = e.direction === 'ingress' ? 'Ingress' : 'Egress';
  const base: RenderedPolicy = {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'NetworkPolicy',
    metadata: { name: e.name, namespace: e.namespace, labels: { 'app.kubernetes.io/managed-by': 'stacktic', 'stacktic.io/category': e.category } },
    spec: { podSelector: {}, policyTypes: [type] },
  };
  if (e.category === 'default-deny') return base;
  const peers = renderPeer(e, stackNamespaces);
  const ports = e.ports.map((p) => ({ protocol: p.protocol, port: p.port }));
  const rule = { ...(ports.length ? { ports } : {}), ...(peers ? (e.direction === 'ingress' ? { from: peers } : { to: peers }) : {}) };
  return { ...base, spec: { ...base.spec, [e.direction]: [rule] } };
}
