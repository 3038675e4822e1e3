/**
 * Renders an expected policy as the NetworkPolicy Stacktic generates:
 * `podSelector: {}`, one rule whose peer is a namespaceSelector on one label
 * (`stacktic.io/namespace` for stack namespaces unless the rule says otherwise,
 * `kubernetes.io/metadata.name` for system namespaces), or no peer list at all
 * for `internet--any`. A policy read from a generated file renders as that
 * file's spec, unchanged. Used for the remediation of missing policies, the
 * judge's comparison, the demo stack's files and the tests.
 */
import yaml from 'js-yaml';
import type { NetworkPolicy, NetworkPolicyPeer, NetworkPolicySpec } from '../k8s/networkpolicy.ts';
import { NAMESPACE_NAME_LABEL } from '../k8s/types.ts';
import type { ExpectedPolicy } from './expected.ts';
import { STACK_NAMESPACE_LABEL } from './stacktic-rules.ts';

export interface RenderedPolicy extends NetworkPolicy {
  apiVersion: 'networking.k8s.io/v1';
  kind: 'NetworkPolicy';
  metadata: { name: string; namespace: string; labels?: Record<string, string> };
  spec: NetworkPolicySpec;
}

function renderPeer(e: ExpectedPolicy, stackNamespaces: ReadonlySet<string>): NetworkPolicyPeer[] | undefined {
  const peer = e.peer!;
  if ('any' in peer) return undefined; // no peer list: any peer
  if ('ipBlock' in peer) return [{ ipBlock: { cidr: peer.ipBlock.cidr, ...(peer.ipBlock.except?.length ? { except: peer.ipBlock.except } : {}) } }];
  const label = peer.label ?? (stackNamespaces.has(peer.namespace) ? STACK_NAMESPACE_LABEL : NAMESPACE_NAME_LABEL);
  return [{ namespaceSelector: { matchLabels: { [label]: peer.namespace } } }];
}

/** The spec only (what the judge compares). */
export function renderSpec(e: ExpectedPolicy, stackNamespaces: ReadonlySet<string>): NetworkPolicySpec {
  if (e.origin) return e.origin.spec as NetworkPolicySpec;
  const type = e.direction === 'ingress' ? 'Ingress' : 'Egress';
  if (e.category === 'default-deny') return { podSelector: {}, policyTypes: [type] };
  const peers = renderPeer(e, stackNamespaces);
  const ports = e.ports.map((p) => ({ protocol: p.protocol, port: p.port }));
  const rule = { ...(peers ? (e.direction === 'ingress' ? { from: peers } : { to: peers }) : {}), ...(ports.length ? { ports } : {}) };
  return { podSelector: {}, policyTypes: [type], [e.direction]: [rule] };
}

/** The whole object; `name` defaults to the file's name (generated-file source), else the expected (suffix-less) name. */
export function renderPolicy(e: ExpectedPolicy, stackNamespaces: ReadonlySet<string>, name = e.origin?.name ?? e.name): RenderedPolicy {
  return {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'NetworkPolicy',
    metadata: { name, namespace: e.namespace },
    spec: renderSpec(e, stackNamespaces),
  };
}

/** YAML text in the layout of Stacktic's generated files (block style, sequences not indented). */
export function renderYaml(p: RenderedPolicy): string {
  return yaml
    .dump(p, { noArrayIndent: true, lineWidth: -1, quotingType: '"', sortKeys: false, flowLevel: -1 })
    .replace(/podSelector: \{\}\n/g, 'podSelector: {}\n');
}
