/**
 * The expected NetworkPolicy set: read from `networkpolicy-manifest.json`
 * (our own schema, below, published as schema/networkpolicy-manifest.schema.json)
 * or, when no manifest exists, derived from the topology with Stacktic's
 * generator rules.
 */
import * as v from 'valibot';
import { parseJson, readTextFile, type FileRef } from './files.ts';
import { validateFile } from './validate.ts';
import type { Protocol, Topology } from './types.ts';

export const CATEGORIES = ['link', 'exception', 'internet', 'intra-namespace', 'default-deny'] as const;
export type Category = (typeof CATEGORIES)[number];
export type Direction = 'ingress' | 'egress';

const name = v.pipe(v.string(), v.regex(/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/, 'must be a Kubernetes object name (lowercase letters, digits, - and .)'), v.maxLength(253));
const cidr = v.pipe(v.string(), v.regex(/^[0-9a-fA-F:.]+\/\d{1,3}$/, 'must be a CIDR such as 10.0.0.0/8 or fd00::/8'));

export const PeerSchema = v.union([
  v.strictObject({ namespace: v.pipe(v.string(), v.minLength(1)) }),
  v.strictObject({ ipBlock: v.strictObject({ cidr, except: v.optional(v.array(cidr)) }) }),
  v.strictObject({ any: v.literal(true) }),
]);
export type Peer = v.InferOutput<typeof PeerSchema>;

export const PortSchema = v.strictObject({
  protocol: v.optional(v.picklist(['TCP', 'UDP', 'SCTP']), 'TCP'),
  port: v.union([v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(65535)), v.pipe(v.string(), v.regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/, 'must be a named port'), v.maxLength(15))]),
});

export const ExpectedPolicySchema = v.pipe(
  v.strictObject({
    name,
    namespace: name,
    category: v.picklist(CATEGORIES),
    direction: v.picklist(['ingress', 'egress']),
    peer: v.optional(PeerSchema),
    ports: v.optional(v.array(PortSchema), []),
    link: v.optional(v.strictObject({ from: v.string(), to: v.string() })),
  }),
  v.check((p) => (p.category === 'default-deny') === (p.peer === undefined), 'a default-deny policy has no peer; every other category needs one'),
  v.check((p) => (p.category === 'link') === (p.link !== undefined), 'link is required for category "link" and only allowed there'),
);
export type ExpectedPolicy = v.InferOutput<typeof ExpectedPolicySchema>;

export const ManifestSchema = v.strictObject({
  $schema: v.optional(v.string()),
  version: v.optional(v.literal(1)),
  stack: v.optional(v.string()),
  policies: v.array(ExpectedPolicySchema),
});
export type Manifest = v.InferOutput<typeof ManifestSchema>;

export interface ExpectedSet {
  source: 'manifest' | 'stack-metadata';
  file: string;
  policies: ExpectedPolicy[];
}

export async function loadManifest(ref: FileRef): Promise<ExpectedSet> {
  const value = parseJson(await readTextFile(ref), ref);
  const manifest = validateFile(ManifestSchema, value, ref, 'networkpolicy-manifest.json');
  return { source: 'manifest', file: ref.path, policies: manifest.policies };
}

/** Component types with an internet exception (Stacktic's generator), and on which ports/directions. */
export const INTERNET: Readonly<Record<string, { ports: number[]; directions: Direction[] }>> = {
  apisix: { ports: [80, 443], directions: ['ingress', 'egress'] },
  argo_cd: { ports: [443], directions: ['egress'] },
  cert_manager: { ports: [443], directions: ['egress'] },
  opa: { ports: [443], directions: ['egress'] },
  velero: { ports: [443], directions: ['egress'] },
  keda: { ports: [443], directions: ['egress'] },
  keycloak: { ports: [443], directions: ['egress'] },
  sonarqube: { ports: [443], directions: ['egress'] },
};

const tcp = (port: number, protocol: Protocol = 'TCP') => ({ protocol, port });

/**
 * Stacktic's generator rules. Names follow Stacktic's pattern without the
 * generator's `--nrNN` sequence suffix (matching ignores that suffix).
 */
export function deriveExpected(topo: Topology, file: string): ExpectedSet {
  const out: ExpectedPolicy[] = [];
  for (const ns of topo.namespaces) {
    for (const direction of ['ingress', 'egress'] as const) {
      out.push({ name: `${ns}--default-deny--${direction}`, namespace: ns, category: 'default-deny', direction, ports: [] });
      out.push({ name: `${ns}--all--${ns}--${direction}--ports--${ns}`, namespace: ns, category: 'intra-namespace', direction, peer: { namespace: ns }, ports: [] });
    }
    out.push({ name: `${ns}--exception--system--egress--ports--53`, namespace: ns, category: 'exception', direction: 'egress', peer: { namespace: 'kube-system' }, ports: [tcp(53, 'UDP'), tcp(53)] });
    out.push({ name: `${ns}--exception--system--egress--ports--443`, namespace: ns, category: 'exception', direction: 'egress', peer: { namespace: 'default' }, ports: [tcp(443)] });
  }
  for (const l of topo.links) {
    if (l.fromNamespace === l.toNamespace) continue; // the intra-namespace allow covers it
    const ports = l.port === null ? [] : [tcp(l.port, l.protocol)];
    const p = l.port === null ? 'all' : String(l.port);
    const link = { from: l.from, to: l.to };
    out.push({ name: `${l.from}--to--${l.to}--egress--ports--${p}`, namespace: l.fromNamespace, category: 'link', direction: 'egress', peer: { namespace: l.toNamespace }, ports, link });
    out.push({ name: `${l.to}--from--${l.from}--ingress--ports--${p}`, namespace: l.toNamespace, category: 'link', direction: 'ingress', peer: { namespace: l.fromNamespace }, ports, link });
  }
  for (const c of topo.components) {
    const rule = INTERNET[c.type];
    if (!rule || !c.namespace) continue;
    for (const direction of rule.directions) {
      out.push({ name: `${c.name}--internet--any--${direction}--ports--${rule.ports.join('-')}`, namespace: c.namespace, category: 'internet', direction, peer: { any: true }, ports: rule.ports.map((n) => tcp(n)) });
    }
  }
  // Two links between the same namespaces and port give the same policy name: keep one.
  const byKey = new Map(out.map((p) => [`${p.namespace}/${p.name}`, p]));
  return { source: 'stack-metadata', file, policies: [...byKey.values()] };
}
