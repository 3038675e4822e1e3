// A Kubernetes NetworkPolicy engine (networking.k8s.io/v1 semantics), pure TypeScript.
//
// Given the cluster's NetworkPolicies and namespaces, decides whether a
// connection `src → dst:port/protocol` is allowed: egress at the source and
// ingress at the destination are evaluated separately and both must allow.
//
// Inputs are plain objects shaped like the Kubernetes JSON: the minimal,
// structural NetworkPolicy types of lib/k8s/networkpolicy.ts, so both raw
// JSON/YAML and @kubernetes/client-node's V1NetworkPolicy objects fit
// (client-node names the ingress `from` field `_from`; both spellings are read).
//
// Not modelled: same-pod and host-network traffic, node/kubelet exceptions,
// Service (ClusterIP/NodePort) translation, the (alpha) AdminNetworkPolicy APIs,
// CNI-specific behaviour such as whether ipBlock applies to pod IPs.
//
// Why this file is long: it is the whole of NetworkPolicy's semantics (peers, ports,
// named ports, policy types, isolation per direction, explanations) in one pure module,
// tested by one truth-table suite; the shared vocabulary it builds on is in lib/k8s.

import { compileIpBlock, parseIp, type IpAddress, type IpBlockMatcher } from '../../lib/k8s/cidr.ts';
import { policyDirections, type NetworkPolicy, type NetworkPolicyPeer, type NetworkPolicyPort } from '../../lib/k8s/networkpolicy.ts';
import { compileSelector, namespaceLabels, type LabelPredicate } from '../../lib/k8s/selectors.ts';
import {
  NAMESPACE_NAME_LABEL,
  type ContainerPortInfo,
  type Direction,
  type LabelSelector,
  type Labels,
  type NamespaceInfo,
  type Protocol,
} from '../../lib/k8s/types.ts';

/**
 * One end of a connection. A pod has a `namespace` (and usually labels, IP
 * and named ports); `namespace` undefined means outside the cluster, matched
 * only by ipBlock peers via `ip`.
 */
export interface Endpoint {
  readonly namespace?: string;
  readonly labels?: Readonly<Record<string, string>>;
  readonly ip?: string;
  readonly ports?: readonly NamedPort[];
}

// ---------------------------------------------------------------------------
// Outputs
// ---------------------------------------------------------------------------

/** Identifies a policy. */
export interface PolicyRef {
  readonly namespace: string;
  readonly name: string;
}

/** The answer for one direction (egress at the source, or ingress at the destination). */
export interface DirectionVerdict {
  /** Traffic passes this side: not isolated, or some selecting policy's rule allows it. */
  readonly allowed: boolean;
  /** Some policy in the pod's namespace selects it with this direction in its policyTypes. */
  readonly isolated: boolean;
  /** Policies that select the pod for this direction. */
  readonly selecting: PolicyRef[];
  /** Selecting policies with at least one rule allowing the connection. */
  readonly allowedBy: PolicyRef[];
  /** Human-readable explanation. */
  readonly reason: string;
}

/** The answer for a connection: allowed iff both egress and ingress allow. */
export interface Verdict {
  readonly allowed: boolean;
  readonly egress: DirectionVerdict;
  readonly ingress: DirectionVerdict;
}

/** A named container port of a pod (the shared ContainerPortInfo). */
export type NamedPort = ContainerPortInfo;

const NO_LABELS: Labels = Object.freeze({});

// ---------------------------------------------------------------------------
// Compiled policies
// ---------------------------------------------------------------------------

type CompiledPeer =
  | { readonly kind: 'ip'; readonly block: IpBlockMatcher }
  /** `ns`: the namespaceSelector, over a namespace's labels (the engine answers it per namespace name, memoised). */
  | { readonly kind: 'pods'; readonly pod?: LabelPredicate; readonly ns?: LabelPredicate }
  | { readonly kind: 'none' };

type CompiledPort =
  | { readonly kind: 'all'; readonly protocol: string }
  | { readonly kind: 'range'; readonly protocol: string; readonly from: number; readonly to: number }
  | { readonly kind: 'named'; readonly protocol: string; readonly name: string };

interface CompiledRule {
  /** null: all peers (no `from`/`to`, or empty). */
  readonly peers: readonly CompiledPeer[] | null;
  /** null: all ports and protocols (no `ports`, or empty). */
  readonly ports: readonly CompiledPort[] | null;
}

export interface CompiledPolicy {
  readonly ref: PolicyRef;
  readonly selects: LabelPredicate;
  /** undefined: the policy does not govern this direction. */
  readonly ingress?: readonly CompiledRule[];
  readonly egress?: readonly CompiledRule[];
}

/** A connection's port, normalised: the number and/or name, and protocol. */
interface PortQuery {
  readonly protocol: string;
  readonly number?: number;
  readonly name?: string;
  readonly label: string;
}

const PROTOCOLS: readonly string[] = ['TCP', 'UDP', 'SCTP'];

function normalizeProtocol(p: string | null | undefined): string {
  return (p ?? 'TCP').toUpperCase();
}

/** Digit-only strings are taken as numbers (the API would reject them as port names). */
function asPortNumber(port: number | string): number | undefined {
  if (typeof port === 'number') return port;
  return /^\d+$/.test(port) ? Number(port) : undefined;
}

/** A compiled policy and the warnings its compilation gave: what a cache keeps per policy version. */
export interface CompiledEntry {
  readonly policy: CompiledPolicy & { readonly namespace: string };
  readonly warnings: readonly string[];
}

/** Where the engine keeps compiled policies between engines, per uid for its last resourceVersion (the scan's cache). */
export interface CompileCache {
  /** Per uid: the policy compiled from its last resourceVersion seen. */
  readonly compiled: Map<string, { resourceVersion: string; entry: CompiledEntry }>;
  keep<V>(table: Map<string, V>, key: string, value: V): V;
}

/**
 * Compiles one policy; collects warnings about constructs the API server would reject. The result
 * depends on the policy alone (namespace labels are looked up at evaluation), so it can be kept
 * per policy version.
 */
function compilePolicy(policy: NetworkPolicy): CompiledEntry {
  const compiler = new PolicyCompiler();
  return { policy: compiler.compile(policy), warnings: compiler.warnings };
}

class PolicyCompiler {
  readonly warnings: string[] = [];

  compile(policy: NetworkPolicy): CompiledPolicy & { namespace: string } {
    const namespace = policy.metadata?.namespace ?? 'default';
    const ref: PolicyRef = { namespace, name: policy.metadata?.name ?? '<unnamed>' };
    const spec = policy.spec ?? {};
    const dirs = policyDirections(spec);
    const types = { ingress: dirs.includes('ingress'), egress: dirs.includes('egress') };
    const at = `${ref.namespace}/${ref.name}`;
    return {
      namespace,
      ref,
      selects: this.selector(spec.podSelector ?? {}, `${at} podSelector`),
      ingress: types.ingress ? (spec.ingress ?? []).map((r, i) => this.rule(r.from ?? r._from, r.ports, `${at} ingress[${i}]`)) : undefined,
      egress: types.egress ? (spec.egress ?? []).map((r, i) => this.rule(r.to, r.ports, `${at} egress[${i}]`)) : undefined,
    };
  }

  private rule(peers: readonly NetworkPolicyPeer[] | null | undefined, ports: readonly NetworkPolicyPort[] | null | undefined, at: string): CompiledRule {
    return {
      peers: peers?.length ? peers.map((p, i) => this.peer(p, `${at} peer[${i}]`)) : null,
      ports: ports?.length ? ports.map((p, i) => this.port(p, `${at} ports[${i}]`)) : null,
    };
  }

  private selector(selector: LabelSelector, at: string): LabelPredicate {
    for (const req of selector.matchExpressions ?? []) {
      if (!['In', 'NotIn', 'Exists', 'DoesNotExist'].includes(req.operator)) {
        this.warnings.push(`${at}: unknown operator '${req.operator}' matches nothing`);
      }
    }
    return compileSelector(selector);
  }

  private peer(peer: NetworkPolicyPeer, at: string): CompiledPeer {
    if (peer.ipBlock) {
      if (peer.podSelector || peer.namespaceSelector) {
        this.warnings.push(`${at}: ipBlock combined with a selector; only the ipBlock is used`);
      }
      const block = compileIpBlock(peer.ipBlock.cidr, peer.ipBlock.except ?? []);
      if (!block.valid) this.warnings.push(`${at}: invalid CIDR in ipBlock`);
      return { kind: 'ip', block };
    }
    if (!peer.podSelector && !peer.namespaceSelector) {
      this.warnings.push(`${at}: empty peer matches nothing`);
      return { kind: 'none' };
    }
    return {
      kind: 'pods',
      pod: peer.podSelector ? this.selector(peer.podSelector, `${at} podSelector`) : undefined,
      ns: peer.namespaceSelector ? this.selector(peer.namespaceSelector, `${at} namespaceSelector`) : undefined,
    };
  }

  private port(p: NetworkPolicyPort, at: string): CompiledPort {
    const protocol = normalizeProtocol(p.protocol);
    if (!PROTOCOLS.includes(protocol)) this.warnings.push(`${at}: unknown protocol '${p.protocol}'`);
    if (p.port === undefined || p.port === null) return { kind: 'all', protocol };
    const number = asPortNumber(p.port);
    if (number === undefined) {
      if (p.endPort != null) this.warnings.push(`${at}: endPort ignored with named port '${p.port}'`);
      return { kind: 'named', protocol, name: String(p.port) };
    }
    const to = p.endPort ?? number;
    if (to < number) this.warnings.push(`${at}: endPort ${to} < port ${number} matches nothing`);
    return { kind: 'range', protocol, from: number, to };
  }
}

// ---------------------------------------------------------------------------
// Matching
// ---------------------------------------------------------------------------

function containerPortProtocol(p: NamedPort): string {
  return normalizeProtocol(p.protocol);
}

/**
 * Does a rule port admit the connection? Named rule ports resolve against the
 * destination pod's container ports (ingress and egress alike); they never
 * match a destination outside the cluster.
 */
function portMatches(port: CompiledPort, q: PortQuery, dst: Endpoint): boolean {
  if (port.protocol !== q.protocol) return false;
  switch (port.kind) {
    case 'all':
      return true;
    case 'range':
      return q.number !== undefined && q.number >= port.from && q.number <= port.to;
    case 'named':
      if (dst.namespace === undefined) return false;
      if (q.name === port.name) return true;
      return q.number !== undefined && (dst.ports ?? []).some((c) => c.name === port.name && c.port === q.number && containerPortProtocol(c) === port.protocol);
  }
}

/** Does a namespaceSelector select the namespace of this name? (The engine's, memoised.) */
type NamespaceMatch = (selector: LabelPredicate, namespace: string) => boolean;

/** Does a peer match the remote end? Selectors only match pods; ipBlock only matches by IP. */
function peerMatches(peer: CompiledPeer, policyNs: string, remote: Endpoint, remoteIp: IpAddress | undefined, nsMatch: NamespaceMatch): boolean {
  switch (peer.kind) {
    case 'ip':
      return remoteIp !== undefined && peer.block.contains(remoteIp);
    case 'pods': {
      const ns = remote.namespace;
      if (ns === undefined) return false;
      const nsOk = peer.ns ? nsMatch(peer.ns, ns) : ns === policyNs;
      return nsOk && (!peer.pod || peer.pod(remote.labels ?? NO_LABELS));
    }
    case 'none':
      return false;
  }
}

interface Connection {
  readonly nsMatch: NamespaceMatch;
  readonly remote: Endpoint;
  readonly remoteIp: IpAddress | undefined;
  readonly dst: Endpoint;
  readonly query: PortQuery;
}

function ruleAllows(rule: CompiledRule, policyNs: string, c: Connection): boolean {
  const portOk = rule.ports === null || rule.ports.some((p) => portMatches(p, c.query, c.dst));
  return portOk && (rule.peers === null || rule.peers.some((p) => peerMatches(p, policyNs, c.remote, c.remoteIp, c.nsMatch)));
}

/** Indexes of the policy's rules for `direction` that allow the connection. */
function allowingRules(policy: CompiledPolicy, direction: Direction, c: Connection): number[] {
  const rules = policy[direction] ?? [];
  const hits: number[] = [];
  for (let i = 0; i < rules.length; i++) if (ruleAllows(rules[i], policy.ref.namespace, c)) hits.push(i);
  return hits;
}

// ---------------------------------------------------------------------------
// Descriptions
// ---------------------------------------------------------------------------

function describeLabels(labels: Labels | undefined): string {
  const entries = Object.entries(labels ?? {});
  return `{${entries.map(([k, v]) => `${k}=${v}`).join(',')}}`;
}

function describeEndpoint(e: Endpoint): string {
  if (e.namespace === undefined) return `external ${e.ip ?? '<no ip>'}`;
  return `pod ${e.namespace}/${describeLabels(e.labels)}${e.ip ? ` (${e.ip})` : ''}`;
}

function describeRef(r: PolicyRef): string {
  return `${r.namespace}/${r.name}`;
}

function listNames(refs: readonly PolicyRef[]): string {
  const names = refs.slice(0, 5).map((r) => r.name);
  return refs.length > 5 ? `${names.join(', ')}, …` : names.join(', ');
}

function plural(n: number, one: string, many: string): string {
  return `${n} ${n === 1 ? one : many}`;
}

// ---------------------------------------------------------------------------
// Engine
// ---------------------------------------------------------------------------

/**
 * Evaluates connections against a fixed set of NetworkPolicies and namespaces.
 * Policies are compiled and indexed per namespace and direction at
 * construction; `evaluate` only touches policies in the two pods' namespaces.
 */
export class PolicyEngine {
  /** Problems in the input the API server would have rejected, and how they were read. */
  readonly warnings: readonly string[];
  private readonly nsLabels = new Map<string, Labels>();
  private readonly byDirection: Record<Direction, Map<string, CompiledPolicy[]>> = {
    ingress: new Map(),
    egress: new Map(),
  };
  private readonly ipCache = new Map<string, IpAddress | undefined>();
  /** namespaceSelector → namespace name → selected? */
  private readonly nsMemo = new Map<LabelPredicate, Map<string, boolean>>();
  private readonly nsMatch: NamespaceMatch = (selector, name) => {
    let memo = this.nsMemo.get(selector);
    if (!memo) this.nsMemo.set(selector, (memo = new Map()));
    let hit = memo.get(name);
    if (hit === undefined) memo.set(name, (hit = selector(this.labelsOfNamespace(name))));
    return hit;
  };

  /**
   * @param policies NetworkPolicies (plain JSON or client-node V1NetworkPolicy).
   * @param namespaces Existing namespaces and their labels; a pod in a namespace
   *   not listed is given only the automatic `kubernetes.io/metadata.name` label.
   * @param cache where compiled policies are kept per uid (for the resourceVersion they were compiled
   *   from) between engines (the scan's cache); without one, every policy is compiled.
   */
  constructor(policies: readonly NetworkPolicy[], namespaces: readonly NamespaceInfo[], cache?: CompileCache) {
    for (const ns of namespaces) this.nsLabels.set(ns.name, namespaceLabels(ns));
    const warnings: string[] = [];
    for (const policy of policies) {
      const m = policy.metadata;
      const uid = cache && m?.uid && m.resourceVersion ? m.uid : undefined;
      const kept = uid ? cache!.compiled.get(uid) : undefined;
      let entry = kept?.resourceVersion === m?.resourceVersion ? kept?.entry : undefined;
      if (!entry) {
        entry = compilePolicy(policy);
        if (uid) cache!.keep(cache!.compiled, uid, { resourceVersion: m!.resourceVersion!, entry });
      }
      this.index(entry.policy);
      warnings.push(...entry.warnings);
    }
    this.warnings = warnings;
  }

  /**
   * Decides whether `src` may open a connection to `dst` on `port`
   * (a number, or a name resolved against `dst.ports`). `protocol` defaults to
   * the named port's protocol, else TCP. Allowed iff egress at `src` and
   * ingress at `dst` both allow.
   */
  evaluate(src: Endpoint, dst: Endpoint, port: number | string, protocol?: Protocol): Verdict {
    const query = this.portQuery(dst, port, protocol);
    const egress = this.evaluateDirection('egress', src, { nsMatch: this.nsMatch, remote: dst, remoteIp: this.ip(dst), dst, query });
    const ingress = this.evaluateDirection('ingress', dst, { nsMatch: this.nsMatch, remote: src, remoteIp: this.ip(src), dst, query });
    return { allowed: egress.allowed && ingress.allowed, egress, ingress };
  }

  /** Policies that select `pod` for `direction` (they make it isolated in that direction). */
  selectingPolicies(pod: Endpoint, direction: Direction): PolicyRef[] {
    return this.selecting(pod, direction).map((p) => p.ref);
  }

  private index(policy: CompiledPolicy & { namespace: string }): void {
    for (const direction of ['ingress', 'egress'] as const) {
      if (!policy[direction]) continue;
      const map = this.byDirection[direction];
      const list = map.get(policy.namespace) ?? [];
      list.push(policy);
      map.set(policy.namespace, list);
    }
  }

  private labelsOfNamespace(name: string): Labels {
    return this.nsLabels.get(name) ?? { [NAMESPACE_NAME_LABEL]: name };
  }

  private ip(e: Endpoint): IpAddress | undefined {
    if (e.ip === undefined) return undefined;
    if (!this.ipCache.has(e.ip)) this.ipCache.set(e.ip, parseIp(e.ip));
    return this.ipCache.get(e.ip);
  }

  private portQuery(dst: Endpoint, port: number | string, protocol: Protocol | undefined): PortQuery {
    const number = asPortNumber(port);
    if (number !== undefined) {
      const proto = normalizeProtocol(protocol);
      return { protocol: proto, number, label: `${proto}/${number}` };
    }
    const name = String(port);
    const named = (dst.ports ?? []).find((c) => c.name === name && (!protocol || containerPortProtocol(c) === normalizeProtocol(protocol)));
    const proto = normalizeProtocol(protocol ?? named?.protocol);
    const label = `${proto}/${name}${named ? `(${named.port})` : ''}`;
    return { protocol: proto, number: named?.port, name, label };
  }

  private selecting(pod: Endpoint, direction: Direction): CompiledPolicy[] {
    const hits: CompiledPolicy[] = [];
    if (pod.namespace === undefined) return hits;
    const labels = pod.labels ?? NO_LABELS;
    for (const p of this.byDirection[direction].get(pod.namespace) ?? []) if (p.selects(labels)) hits.push(p);
    return hits;
  }

  private evaluateDirection(direction: Direction, pod: Endpoint, c: Connection): DirectionVerdict {
    const side = direction === 'egress' ? 'source' : 'destination';
    if (pod.namespace === undefined) return notIsolated(() => `not isolated: ${side} is outside the cluster`);
    const namespace = pod.namespace;
    const selecting = this.selecting(pod, direction);
    if (selecting.length === 0) {
      return notIsolated(() => `not isolated: no policy in ns '${namespace}' selects the ${side} pod for ${direction}`);
    }
    const allowing: Allowing[] = [];
    for (const policy of selecting) {
      const rules = allowingRules(policy, direction, c);
      if (rules.length > 0) allowing.push({ ref: policy.ref, rules });
    }
    const refs = selecting.map((p) => p.ref);
    return isolatedVerdict({ direction, namespace, selecting: refs, allowing, c });
  }
}

interface Allowing {
  readonly ref: PolicyRef;
  readonly rules: readonly number[];
}

/** Verdict for an isolated pod; the reason is built lazily (an enumerable getter, so JSON includes it). */
function isolatedVerdict(v: { direction: Direction; namespace: string; selecting: PolicyRef[]; allowing: Allowing[]; c: Connection }): DirectionVerdict {
  return {
    allowed: v.allowing.length > 0,
    isolated: true,
    selecting: v.selecting,
    allowedBy: v.allowing.map((a) => a.ref),
    get reason() {
      return isolatedReason(v.direction, v.namespace, v.selecting, v.allowing, v.c);
    },
  };
}

function isolatedReason(direction: Direction, namespace: string, selecting: readonly PolicyRef[], allowing: readonly Allowing[], c: Connection): string {
  const what = `${c.query.label} ${direction === 'egress' ? 'to' : 'from'} ${describeEndpoint(c.remote)}`;
  if (allowing.length === 0) {
    const policies = plural(selecting.length, 'selecting policy', 'selecting policies');
    return `no ${direction} rule of ${policies} in ns '${namespace}' (${listNames(selecting)}) allows ${what}`;
  }
  const by = allowing.map((a) => `${describeRef(a.ref)} ${a.rules.map((i) => `${direction}[${i}]`).join(', ')}`);
  return `${what} allowed by ${by.join('; ')}`;
}

/** Verdict for a pod no policy isolates in this direction (reason built lazily). */
function notIsolated(reason: () => string): DirectionVerdict {
  return {
    allowed: true,
    isolated: false,
    selecting: [],
    allowedBy: [],
    get reason() {
      return reason();
    },
  };
}
