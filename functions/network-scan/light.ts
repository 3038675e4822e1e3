/**
 * Light mode's judgement (pure): the expected NetworkPolicy set against a
 * snapshot of the cluster. Expected set + snapshot in, report out.
 *
 * Matching is by name first (ignoring Stacktic's `--nrNN` sequence suffix). A
 * same-named policy that no longer grants what is expected is drifted. A
 * policy with another name and an equivalent spec (same namespace, policy
 * types, peers and ports) is found, reported as renamed. Policies in stack
 * namespaces that match nothing expected are extra.
 */
import type { Category, Direction, ExpectedPolicy, ExpectedSet, Peer } from '../../lib/topology/expected.ts';
import { CATEGORIES } from '../../lib/topology/expected.ts';
import type { Topology } from '../../lib/topology/types.ts';
import {
  PolicyEngine,
  selectsAnyNamespace,
  type LabelSelector,
  type NamespaceInfo,
  type NetworkPolicy,
  type NetworkPolicyPeer,
  type NetworkPolicyPort,
} from './engine.ts';

export interface ClusterSnapshot {
  policies: NetworkPolicy[];
  /** null when the namespaces could not be listed (selector checks are then skipped). */
  namespaces: NamespaceInfo[] | null;
}

export type PolicyStatus = 'found' | 'renamed' | 'drifted' | 'missing';

export interface ExpectedResult {
  name: string;
  namespace: string;
  category: Category;
  direction: Direction;
  status: PolicyStatus;
  /** The cluster policy that matched (its real name, for renamed or suffixed ones). */
  cluster_name?: string;
  /** Why a same-named policy counts as drifted. */
  drift?: string[];
  link?: { from: string; to: string };
}

export interface EmptySelector {
  policy: string;
  namespace: string;
  direction: Direction;
  selector: LabelSelector;
  message: string;
}

export interface LinkCoverage {
  from: string;
  to: string;
  egress: PolicyStatus | 'not-expected';
  ingress: PolicyStatus | 'not-expected';
  bidirectional: boolean;
  /**
   * Do the live policies actually allow the link (NetworkPolicy engine, for a
   * representative pod without labels on each side: light mode knows no pods)?
   * Absent when the namespaces could not be listed or the link has no port.
   */
  live?: { allowed: boolean; egress: string; ingress: string };
}

export interface LightReport {
  score: number | null;
  summary: {
    expected: number;
    found: number;
    renamed: number;
    drifted: number;
    missing: number;
    extra: number;
    empty_selectors: number;
    links: number;
    links_bidirectional: number;
    links_allowed_live: number | null;
    stack_namespaces: number;
    namespaces_missing: string[];
  };
  results: {
    expected: ExpectedResult[];
    extra: { name: string; namespace: string }[];
    missing_by_namespace: Record<string, { name: string; status: 'missing' | 'drifted' }[]>;
    categories: Record<Category, { expected: number; found: number }>;
    links: LinkCoverage[];
    empty_selectors: EmptySelector[];
  };
}

const SUFFIX = /--nr\d+$/;
export const baseName = (name: string) => name.replace(SUFFIX, '');

const STACK_LABEL = 'stacktic.io/namespace';
const NAME_LABEL = 'kubernetes.io/metadata.name';

const isEmptySelector = (s: LabelSelector | null | undefined) => !s || (Object.keys(s.matchLabels ?? {}).length === 0 && (s.matchExpressions ?? []).length === 0);

/** The namespace a selector names, when it names exactly one the way Stacktic does. */
function selectedNamespace(s: LabelSelector): string | undefined {
  const labels = Object.entries(s.matchLabels ?? {});
  const exprs = s.matchExpressions ?? [];
  if (labels.length === 1 && exprs.length === 0 && (labels[0][0] === STACK_LABEL || labels[0][0] === NAME_LABEL)) return labels[0][1];
  if (labels.length === 0 && exprs.length === 1) {
    const e = exprs[0];
    if ((e.key === STACK_LABEL || e.key === NAME_LABEL) && e.operator === 'In' && e.values?.length === 1) return e.values[0];
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
  if (!isEmptySelector(peer.podSelector)) return `other:${JSON.stringify(peer)}`;
  if (!peer.namespaceSelector) return `ns:${policyNamespace}`;
  if (isEmptySelector(peer.namespaceSelector)) return 'all-namespaces';
  const ns = selectedNamespace(peer.namespaceSelector);
  return ns ? `ns:${ns}` : `other:${JSON.stringify(peer)}`;
}

function expectedPeerKey(peer: Peer): string {
  if ('namespace' in peer) return `ns:${peer.namespace}`;
  if ('any' in peer) return 'any';
  return peerKey({ ipBlock: peer.ipBlock }, '');
}

const proto = (p: string | null | undefined) => (p ?? 'TCP').toUpperCase();

function portKey(p: NetworkPolicyPort): string {
  if (p.port === undefined || p.port === null) return `${proto(p.protocol)}/*`;
  return `${proto(p.protocol)}/${p.port}${p.endPort ? `-${p.endPort}` : ''}`;
}

/** Does one rule port entry allow the expected port? */
function portCovers(rule: NetworkPolicyPort, want: { protocol: string; port: number | string }): boolean {
  if (proto(rule.protocol) !== want.protocol) return false;
  if (rule.port === undefined || rule.port === null) return true;
  if (typeof rule.port === 'string' || typeof want.port === 'string') return rule.port === want.port;
  if (rule.endPort) return want.port >= rule.port && want.port <= rule.endPort;
  return rule.port === want.port;
}

/** policyTypes with the API's defaulting: Ingress always, Egress when egress rules exist. */
export function effectiveTypes(p: NetworkPolicy): Direction[] {
  const explicit = p.spec?.policyTypes;
  if (explicit && explicit.length) return explicit.map((t) => t.toLowerCase() as Direction);
  return p.spec?.egress && p.spec.egress.length ? ['ingress', 'egress'] : ['ingress'];
}

interface Rule {
  peers: NetworkPolicyPeer[] | null; // null: no peer list = any peer
  ports: NetworkPolicyPort[] | null; // null: all ports
}

function rules(p: NetworkPolicy, d: Direction): Rule[] {
  const list = d === 'ingress' ? p.spec?.ingress ?? [] : p.spec?.egress ?? [];
  return list.map((r) => {
    const peers = d === 'ingress' ? (r as { from?: NetworkPolicyPeer[]; _from?: NetworkPolicyPeer[] }).from ?? (r as { _from?: NetworkPolicyPeer[] })._from : (r as { to?: NetworkPolicyPeer[] }).to;
    return { peers: peers && peers.length ? [...peers] : null, ports: r.ports && r.ports.length ? [...r.ports] : null };
  });
}

const nsOf = (p: NetworkPolicy) => p.metadata?.namespace ?? 'default';
const nameOf = (p: NetworkPolicy) => p.metadata?.name ?? '';

/** What the expected policy needs that the cluster policy does not grant; empty when it grants it. */
export function driftReasons(p: NetworkPolicy, e: ExpectedPolicy): string[] {
  const out: string[] = [];
  if (!isEmptySelector(p.spec?.podSelector)) out.push('podSelector selects only some pods; expected all pods ({})');
  if (!effectiveTypes(p).includes(e.direction)) out.push(`policyTypes lacks ${e.direction === 'ingress' ? 'Ingress' : 'Egress'}`);
  const rs = rules(p, e.direction);
  if (e.category === 'default-deny') {
    if (rs.length) out.push(`has ${rs.length} ${e.direction} rule(s); a default-deny has none`);
    return out;
  }
  const want = expectedPeerKey(e.peer!);
  const wantPorts = e.ports.map((x) => ({ protocol: x.protocol, port: x.port }));
  const ok = rs.some((r) => {
    const peerOk = r.peers === null || r.peers.some((peer) => {
      const k = peerKey(peer, nsOf(p));
      return k === want || k === 'any' || (k === 'all-namespaces' && want.startsWith('ns:'));
    });
    const portsOk = r.ports === null || (wantPorts.length > 0 && wantPorts.every((w) => r.ports!.some((rp) => portCovers(rp, w))));
    return peerOk && portsOk;
  });
  if (!ok) {
    const ports = wantPorts.length ? wantPorts.map((w) => `${w.protocol}/${w.port}`).join(', ') : 'all ports';
    out.push(`no ${e.direction} rule allows ${want === 'any' ? 'any peer' : want.replace(/^ns:/, 'namespace ')} on ${ports}`);
  }
  return out;
}

/** Flattened (peer, port) grants of one direction, for the strict equivalence a rename needs. */
function grantSet(p: NetworkPolicy, d: Direction): string[] {
  const out = new Set<string>();
  for (const r of rules(p, d)) {
    const peers = r.peers === null ? ['any'] : r.peers.map((x) => peerKey(x, nsOf(p)));
    const ports = r.ports === null ? ['*'] : r.ports.map(portKey);
    for (const a of peers) for (const b of ports) out.add(`${a}|${b}`);
  }
  return [...out].sort();
}

function expectedGrantSet(e: ExpectedPolicy): string[] {
  if (e.category === 'default-deny') return [];
  const peer = expectedPeerKey(e.peer!);
  const ports = e.ports.length ? e.ports.map((x) => portKey({ protocol: x.protocol, port: x.port })) : ['*'];
  return ports.map((x) => `${peer}|${x}`).sort();
}

/** Same namespace, policy types, peers and ports. */
export function equivalent(p: NetworkPolicy, e: ExpectedPolicy): boolean {
  if (nsOf(p) !== e.namespace || !isEmptySelector(p.spec?.podSelector)) return false;
  const types = effectiveTypes(p);
  if (types.length !== 1 || types[0] !== e.direction) return false;
  return JSON.stringify(grantSet(p, e.direction)) === JSON.stringify(expectedGrantSet(e));
}

/** Peers whose namespaceSelector selects no existing namespace: present, but allowing nothing. */
export function emptySelectors(policies: NetworkPolicy[], namespaces: NamespaceInfo[]): EmptySelector[] {
  const out: EmptySelector[] = [];
  for (const p of policies) {
    for (const d of ['ingress', 'egress'] as const) {
      for (const r of rules(p, d)) {
        for (const peer of r.peers ?? []) {
          const sel = peer.namespaceSelector;
          if (!sel || isEmptySelector(sel) || selectsAnyNamespace(sel, namespaces)) continue;
          const labels = Object.entries(sel.matchLabels ?? {}).map(([k, v]) => `${k}=${v}`);
          out.push({
            policy: nameOf(p),
            namespace: nsOf(p),
            direction: d,
            selector: sel,
            message: `${d} peer selects no namespace${labels.length ? `: no namespace has label ${labels.join(', ')}` : ''}; the rule allows nothing`,
          });
        }
      }
    }
  }
  return out;
}

const isFound = (s: PolicyStatus) => s === 'found' || s === 'renamed';

export function judgeLight(topo: Topology, expected: ExpectedSet, snap: ClusterSnapshot): LightReport {
  const stackNs = new Set(topo.namespaces);
  for (const e of expected.policies) stackNs.add(e.namespace);
  const inStack = snap.policies.filter((p) => stackNs.has(nsOf(p)));

  const byName = new Map<string, NetworkPolicy[]>();
  for (const p of inStack) {
    const k = `${nsOf(p)}/${baseName(nameOf(p))}`;
    byName.set(k, [...(byName.get(k) ?? []), p]);
  }
  const claimed = new Set<NetworkPolicy>();
  const results: ExpectedResult[] = [];
  const unmatched: { e: ExpectedPolicy; r: ExpectedResult }[] = [];

  for (const e of expected.policies) {
    const r: ExpectedResult = { name: e.name, namespace: e.namespace, category: e.category, direction: e.direction, status: 'missing', ...(e.link ? { link: e.link } : {}) };
    results.push(r);
    const same = byName.get(`${e.namespace}/${baseName(e.name)}`) ?? [];
    if (!same.length) {
      unmatched.push({ e, r });
      continue;
    }
    same.forEach((p) => claimed.add(p));
    const judged = same.map((p) => ({ p, drift: driftReasons(p, e) }));
    const ok = judged.find((j) => j.drift.length === 0);
    if (ok) {
      r.status = 'found';
      if (nameOf(ok.p) !== e.name) r.cluster_name = nameOf(ok.p);
    } else {
      r.status = 'drifted';
      r.cluster_name = nameOf(judged[0].p);
      r.drift = judged[0].drift;
    }
  }
  for (const { e, r } of unmatched) {
    const twin = inStack.find((p) => !claimed.has(p) && equivalent(p, e));
    if (twin) {
      claimed.add(twin);
      r.status = 'renamed';
      r.cluster_name = nameOf(twin);
    }
  }

  const extra = inStack.filter((p) => !claimed.has(p)).map((p) => ({ name: nameOf(p), namespace: nsOf(p) }));
  const count = (s: PolicyStatus) => results.filter((r) => r.status === s).length;
  const found = results.filter((r) => isFound(r.status)).length;

  const categories = Object.fromEntries(CATEGORIES.map((c) => [c, { expected: 0, found: 0 }])) as LightReport['results']['categories'];
  for (const r of results) {
    categories[r.category].expected++;
    if (isFound(r.status)) categories[r.category].found++;
  }

  const missing_by_namespace: LightReport['results']['missing_by_namespace'] = {};
  for (const r of results) {
    if (r.status !== 'missing' && r.status !== 'drifted') continue;
    (missing_by_namespace[r.namespace] ??= []).push({ name: r.name, status: r.status });
  }

  const links = linkCoverage(topo, results);
  if (snap.namespaces) {
    const engine = new PolicyEngine(snap.policies, snap.namespaces);
    for (const c of links) {
      const l = topo.links.find((x) => x.from === c.from && x.to === c.to);
      if (!l || l.port === null) continue;
      const v = engine.evaluate({ namespace: l.fromNamespace, labels: {} }, { namespace: l.toNamespace, labels: {} }, l.port, l.protocol);
      c.live = { allowed: v.allowed, egress: v.egress.reason, ingress: v.ingress.reason };
    }
  }
  const empty = snap.namespaces ? emptySelectors(inStack, snap.namespaces) : [];
  const known = snap.namespaces ? new Set(snap.namespaces.map((n) => n.name)) : null;

  return {
    score: results.length ? Math.round((1000 * found) / results.length) / 10 : null,
    summary: {
      expected: results.length,
      found: count('found'),
      renamed: count('renamed'),
      drifted: count('drifted'),
      missing: count('missing'),
      extra: extra.length,
      empty_selectors: empty.length,
      links: links.length,
      links_bidirectional: links.filter((l) => l.bidirectional).length,
      links_allowed_live: snap.namespaces ? links.filter((l) => l.live?.allowed).length : null,
      stack_namespaces: topo.namespaces.length,
      namespaces_missing: known ? topo.namespaces.filter((n) => !known.has(n)) : [],
    },
    results: { expected: results, extra, missing_by_namespace, categories, links, empty_selectors: empty },
  };
}

function linkCoverage(topo: Topology, results: ExpectedResult[]): LinkCoverage[] {
  const out = new Map<string, LinkCoverage>();
  for (const l of topo.links) {
    if (l.fromNamespace === l.toNamespace) continue;
    out.set(`${l.from}>${l.to}`, { from: l.from, to: l.to, egress: 'not-expected', ingress: 'not-expected', bidirectional: false });
  }
  for (const r of results) {
    if (!r.link) continue;
    const k = `${r.link.from}>${r.link.to}`;
    const cov = out.get(k) ?? { from: r.link.from, to: r.link.to, egress: 'not-expected', ingress: 'not-expected', bidirectional: false };
    // Several links between the same components: the worst status wins.
    const prev = cov[r.direction];
    if (prev === 'not-expected' || isFound(prev)) cov[r.direction] = r.status;
    out.set(k, cov);
  }
  for (const c of out.values()) c.bidirectional = c.egress !== 'not-expected' && c.ingress !== 'not-expected' && isFound(c.egress) && isFound(c.ingress);
  return [...out.values()];
}
