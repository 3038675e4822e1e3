/**
 * Light mode's judgement (pure): the expected NetworkPolicy set against a
 * snapshot of the cluster. Expected set + snapshot + the scan's one compiled
 * PolicyEngine in, report out.
 *
 * Every policy, expected or live, is reduced to a canonical form: its
 * podSelector, its policy types and, per direction, the set of (peer, port)
 * grants, where a peer is a namespace (whichever of `stacktic.io/namespace` or
 * `kubernetes.io/metadata.name` selects it), every namespace, everyone, an
 * ipBlock or something else, and a port is `TCP/443`, a range, a name or
 * `TCP/*` (every port).
 *
 *   found    a live policy of the same name (ignoring `--nrNN`) with the same canonical form
 *   drifted  a live policy of the same name that differs: the extra grants (wider), the
 *            missing grants, the policy types and podSelector are spelled out
 *   renamed  no policy of that name, but one with the same canonical form in the namespace
 *   missing  none of these
 *   extra    a live policy in a stack namespace that matched nothing expected
 *
 * Rule-level findings are judged on every live policy in the stack's
 * namespaces: a ports entry that opens every port, a peer that is everyone, a
 * spec whose ports contradict its own name, a namespaceSelector that matches
 * no namespace. Each names the policy, the rule and, when the expected policy
 * came from a file, the file's line. Link coverage: every declared link
 * (components and sub-components) against the expected set; a link with no
 * expected policy is its own finding.
 *
 * Keys from user or cluster data live in `Map`s or null-prototype objects.
 *
 * Why this file is long: the canonical form, the matching, the rule checks and
 * the link coverage are one pure judgement over the same canonical grants; the
 * report types it returns are part of the scan's documented API.
 */
import { baseName, type Category, type Direction, type ExpectedPolicy, type ExpectedSet } from '../../lib/topology/expected.ts';
import { CATEGORIES } from '../../lib/topology/expected.ts';
import type { Link, Topology } from '../../lib/topology/types.ts';
import { policyDirections } from '../../lib/k8s/networkpolicy.ts';
import { namespaceSelectorCheck } from '../../lib/k8s/selectors.ts';
import { NAMESPACE_NAME_LABEL } from '../../lib/k8s/types.ts';
import type { NetworkPolicy, NetworkPolicyPeer, NetworkPolicyPort, NetworkPolicySpec } from '../../lib/k8s/networkpolicy.ts';
import type { LabelSelector, NamespaceInfo } from '../../lib/k8s/types.ts';
import type { PolicyEngine } from './engine.ts';
import { renderSpec } from '../../lib/topology/render.ts';
import { STACK_NAMESPACE_LABEL } from '../../lib/topology/stacktic-rules.ts';

export { baseName };

export interface ClusterSnapshot {
  policies: NetworkPolicy[];
  /** null when the namespaces could not be listed (selector and live checks are then skipped). */
  namespaces: NamespaceInfo[] | null;
}

export type PolicyStatus = 'found' | 'renamed' | 'drifted' | 'missing';
export type Severity = 'critical' | 'high' | 'medium' | 'low' | 'info';
export const SEVERITIES: readonly Severity[] = ['critical', 'high', 'medium', 'low', 'info'];

export interface Drift {
  /** Grants the live policy has beyond the expected: `ingress TCP/* from namespace kube-system`. */
  extra: string[];
  /** Expected grants the live policy does not give. */
  missing: string[];
  /** Other differences: policy types, podSelector. */
  other: string[];
  /** A live grant reaches wider peers than expected (every namespace, everyone). */
  wider_peer: boolean;
}

export interface ExpectedResult {
  name: string;
  namespace: string;
  category: Category;
  direction: Direction;
  status: PolicyStatus;
  /** The cluster policy that matched (its real name, for renamed or suffixed ones). */
  cluster_name?: string;
  /** Why a same-named policy counts as drifted, one line per difference. */
  drift?: string[];
  difference?: Drift;
  link?: { from: string; to: string };
  /** Where the expected policy was read from (generated-file source). */
  file?: string;
  line?: number;
  /** The derivation rule (stacktic-rules.ts) a derived policy comes from. */
  rule?: string;
}

export type RuleKind = 'all-ports' | 'peer-everyone' | 'name-ports-mismatch' | 'selector-matches-nothing';

export interface RuleFinding {
  kind: RuleKind;
  severity: Severity;
  policy: string;
  namespace: string;
  direction: Direction;
  /** Index of the rule in spec.ingress / spec.egress (absent for findings about the whole policy). */
  rule?: number;
  /** Index of the peer or of the ports entry in that rule. */
  peer?: number;
  port_entry?: number;
  message: string;
  /** The generated file the policy corresponds to, and the line of the offending entry. */
  file?: string;
  line?: number;
}

/** Kept for readers of the earlier report shape. */
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
  from_sub_component?: string;
  to_sub_component?: string;
  from_namespace: string;
  to_namespace: string;
  port: number | null;
  /** Status of the expected policy allowing each side; 'not-expected' when the expected set has none. */
  egress: PolicyStatus | 'not-expected';
  ingress: PolicyStatus | 'not-expected';
  bidirectional: boolean;
  /**
   * Do the live policies allow the link (NetworkPolicy engine, for a pod
   * without labels on each side: light mode knows no pods)? Absent when the
   * namespaces could not be listed or the link has no port.
   */
  live?: { allowed: boolean; egress: string; ingress: string };
}

export interface LinkFinding {
  kind: 'link-not-generated';
  severity: Severity;
  from: string;
  to: string;
  from_sub_component?: string;
  to_sub_component?: string;
  from_namespace: string;
  to_namespace: string;
  port: number | null;
  declared_at: string;
  message: string;
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
    /** Rule-level findings by severity. */
    rule_findings: Record<Severity, number>;
    empty_selectors: number;
    links: number;
    links_bidirectional: number;
    links_allowed_live: number | null;
    links_not_generated: number;
    stack_namespaces: number;
    namespaces_missing: string[];
    unknown_types: string[];
  };
  results: {
    expected: ExpectedResult[];
    extra: { name: string; namespace: string }[];
    missing_by_namespace: Record<string, { name: string; status: 'missing' | 'drifted' }[]>;
    categories: Record<Category, { expected: number; found: number }>;
    rule_findings: RuleFinding[];
    links: LinkCoverage[];
    link_findings: LinkFinding[];
    empty_selectors: EmptySelector[];
    score_terms: { policies_counted: number; value: number; extra_with_findings: number };
  };
}

/** Score weight of a found policy by the worst finding on it (documented in the README). */
export const SEVERITY_VALUE: Readonly<Record<Severity | 'none', number>> = Object.freeze({ none: 1, info: 1, low: 0.75, medium: 0.5, high: 0.25, critical: 0 });

// ---------------------------------------------------------------------------
// Canonical form
// ---------------------------------------------------------------------------

const isEmptySelector = (s: LabelSelector | null | undefined) => !s || (Object.keys(s.matchLabels ?? {}).length === 0 && (s.matchExpressions ?? []).length === 0);

function selectorKey(s: LabelSelector | null | undefined): string {
  if (isEmptySelector(s)) return '{}';
  const labels = Object.keys(s!.matchLabels ?? {})
    .sort()
    .map((k) => [k, Object.getOwnPropertyDescriptor(s!.matchLabels!, k)!.value]);
  const exprs = (s!.matchExpressions ?? []).map((e) => [e.key, e.operator, [...(e.values ?? [])].sort()]).sort((a, b) => (JSON.stringify(a) < JSON.stringify(b) ? -1 : 1));
  return JSON.stringify([labels, exprs]);
}

/** The namespace a selector names, when it names exactly one by either namespace label. */
function selectedNamespace(s: LabelSelector): string | undefined {
  const labels = Object.keys(s.matchLabels ?? {});
  const exprs = s.matchExpressions ?? [];
  if (labels.length === 1 && exprs.length === 0 && (labels[0] === STACK_NAMESPACE_LABEL || labels[0] === NAMESPACE_NAME_LABEL)) return Object.getOwnPropertyDescriptor(s.matchLabels!, labels[0])!.value;
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
  if (!isEmptySelector(peer.podSelector)) return `other:${selectorKey(peer.namespaceSelector)}:${selectorKey(peer.podSelector)}${peer.namespaceSelector ? '' : `@${policyNamespace}`}`;
  if (!peer.namespaceSelector) return `ns:${policyNamespace}`;
  if (isEmptySelector(peer.namespaceSelector)) return 'all-namespaces';
  const ns = selectedNamespace(peer.namespaceSelector);
  return ns !== undefined ? `ns:${ns}` : `other:${selectorKey(peer.namespaceSelector)}`;
}

const proto = (p: string | null | undefined) => (p ?? 'TCP').toUpperCase();

function portKey(p: NetworkPolicyPort): string {
  if (p.port === undefined || p.port === null) return `${proto(p.protocol)}/*`;
  return `${proto(p.protocol)}/${p.port}${p.endPort ? `-${p.endPort}` : ''}`;
}

interface Rule {
  peers: NetworkPolicyPeer[] | null; // null: no peer list = any peer
  ports: NetworkPolicyPort[] | null; // null: all ports
}

function rules(spec: NetworkPolicySpec | null | undefined, d: Direction): Rule[] {
  const list = d === 'ingress' ? spec?.ingress ?? [] : spec?.egress ?? [];
  return list.map((r) => {
    const raw = r ?? {};
    const peers = d === 'ingress' ? (raw as { from?: NetworkPolicyPeer[] }).from ?? (raw as { _from?: NetworkPolicyPeer[] })._from : (raw as { to?: NetworkPolicyPeer[] }).to;
    return { peers: peers && peers.length ? [...peers] : null, ports: raw.ports && raw.ports.length ? [...raw.ports] : null };
  });
}

interface Canonical {
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

function canonical(spec: NetworkPolicySpec | null | undefined, ns: string): Canonical {
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
function expectedCanonical(e: ExpectedPolicy, stackNs: ReadonlySet<string>): Canonical {
  // One path for every source (the form is computed once per file version: expectedForms).
  return canonical(renderSpec(e, stackNs), e.namespace);
}

const PEER_WIDTH = (k: string) => (k === 'any' ? 2 : k === 'all-namespaces' ? 1 : 0);

function peerCovers(wide: string, narrow: string): boolean {
  if (wide === narrow || wide === 'any') return true;
  return wide === 'all-namespaces' && (narrow.startsWith('ns:') || narrow.startsWith('other:'));
}

function portCovers(wide: string, narrow: string): boolean {
  if (wide === narrow || wide === '*/*') return true;
  const [wp, wv] = wide.split('/');
  const [np, nv] = narrow.split('/');
  if (wp !== np && np !== '*') return false;
  if (wv === '*') return np !== '*';
  const range = /^(\d+)-(\d+)$/.exec(wv);
  const n = /^\d+$/.test(nv) ? Number(nv) : NaN;
  return !!range && n >= Number(range[1]) && n <= Number(range[2]);
}

function grantCovered(g: string, by: readonly string[]): boolean {
  if (by.includes(g)) return true;
  const [peer, port] = splitGrant(g);
  for (const o of by) {
    const [op, oq] = splitGrant(o);
    if (peerCovers(op, peer) && portCovers(oq, port)) return true;
  }
  return false;
}

function splitGrant(g: string): [string, string] {
  const i = g.lastIndexOf('|');
  return [g.slice(0, i), g.slice(i + 1)];
}

function describePeer(k: string, d: Direction): string {
  const to = d === 'ingress' ? 'from' : 'to';
  if (k === 'any') return `${to} everyone`;
  if (k === 'all-namespaces') return `${to} every pod in every namespace`;
  if (k.startsWith('ns:')) return `${to} namespace ${k.slice(3)}`;
  if (k.startsWith('ip:')) return `${to} ${k.slice(3)}`;
  return `${to} peer ${k.slice(6)}`;
}

function describePort(k: string): string {
  if (k === '*/*') return 'every port';
  const [p, v] = k.split('/');
  return v === '*' ? `every ${p} port` : k;
}

const describeGrant = (g: string, d: Direction) => {
  const [peer, port] = splitGrant(g);
  return `${d} ${describePort(port)} ${describePeer(peer, d)}`;
};

function difference(live: Canonical, want: Canonical): Drift {
  const out: Drift = { extra: [], missing: [], other: [], wider_peer: false };
  if (live.pod !== want.pod) out.other.push(`podSelector ${live.pod === '{}' ? 'selects every pod' : `is ${live.pod}`}; expected ${want.pod === '{}' ? 'every pod ({})' : want.pod}`);
  for (const d of want.types) if (!live.types.includes(d)) out.other.push(`policyTypes lacks ${d === 'ingress' ? 'Ingress' : 'Egress'}`);
  for (const d of live.types) if (!want.types.includes(d)) out.other.push(`policyTypes adds ${d === 'ingress' ? 'Ingress' : 'Egress'}`);
  for (const d of ['ingress', 'egress'] as const) {
    for (const g of live.grants[d]) {
      if (grantCovered(g, want.grants[d])) continue;
      out.extra.push(describeGrant(g, d));
      const [peer] = splitGrant(g);
      if (PEER_WIDTH(peer) > 0 && want.grants[d].every((w) => PEER_WIDTH(splitGrant(w)[0]) < PEER_WIDTH(peer))) out.wider_peer = true;
    }
    for (const g of want.grants[d]) if (!grantCovered(g, live.grants[d])) out.missing.push(describeGrant(g, d));
  }
  return out;
}

const driftLines = (d: Drift) => [...d.other, ...d.extra.map((x) => `grants more: ${x}`), ...d.missing.map((x) => `lacks: ${x}`)];

function overlap(a: Canonical, b: Canonical): number {
  let n = a.pod === b.pod ? 1 : 0;
  for (const d of ['ingress', 'egress'] as const) for (const g of a.grants[d]) if (b.grants[d].includes(g)) n += 2;
  return n;
}

/**
 * A plain, minimal copy of a policy (client-node objects carry many undefined
 * fields and server metadata): the judgement's hot loops then see one shape.
 */
function plainSelector(s: LabelSelector | null | undefined): LabelSelector | undefined {
  if (!s) return undefined;
  const out: { matchLabels?: Record<string, string>; matchExpressions?: LabelSelector['matchExpressions'] } = {};
  if (s.matchLabels && Object.keys(s.matchLabels).length) out.matchLabels = s.matchLabels as Record<string, string>;
  if (s.matchExpressions && s.matchExpressions.length) out.matchExpressions = s.matchExpressions;
  return out;
}

function plainPolicy(p: NetworkPolicy): NetworkPolicy {
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
    const peers = d === 'ingress' ? raw.from ?? raw._from : raw.to;
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

const nsOf = (p: NetworkPolicy) => p.metadata?.namespace ?? 'default';
const nameOf = (p: NetworkPolicy) => p.metadata?.name ?? '';

// ---------------------------------------------------------------------------
// Rule-level findings
// ---------------------------------------------------------------------------

/** The ports a Stacktic name promises (`…--ports--443-9402-10250`), or null when the name gives none. */
export function namePorts(name: string): { direction: Direction; ports: number[] } | null {
  const m = /--(ingress|egress)--ports--(\d{1,5}(?:-\d{1,5})*)$/.exec(baseName(name));
  if (!m) return null;
  return { direction: m[1] as Direction, ports: m[2].split('-').map(Number) };
}

interface SelectorCheck {
  (sel: LabelSelector): boolean;
}

function ruleFindings(p: NetworkPolicy, c: Canonical, selectsSomething: SelectorCheck | null): RuleFinding[] {
  const out: RuleFinding[] = [];
  const base = { policy: nameOf(p), namespace: nsOf(p) };
  const internet = base.policy.includes('--internet--');
  for (const d of c.types) {
    const from = d === 'ingress' ? 'from' : 'to';
    c.rules[d].forEach((r, i) => {
      const everyone = r.peers === null || r.peers.some((x) => PEER_WIDTH(peerKey(x, base.namespace)) > 0);
      if (r.peers === null) {
        out.push({ ...base, kind: 'peer-everyone', severity: r.ports === null ? (d === 'ingress' ? 'critical' : 'high') : internet ? 'info' : d === 'ingress' ? 'high' : 'medium', direction: d, rule: i, message: `${d}[${i}] has no '${from}': it ${d === 'ingress' ? 'admits' : 'reaches'} everyone${r.ports === null ? ' on every port' : ''}${internet && r.ports !== null ? ' (as its internet--any name says)' : ''}` });
      } else {
        r.peers.forEach((x, j) => {
          const k = peerKey(x, base.namespace);
          if (PEER_WIDTH(k) === 0) return;
          const what = k === 'any' ? 'everyone (ipBlock of every address)' : 'every pod in every namespace (empty namespaceSelector)';
          out.push({ ...base, kind: 'peer-everyone', severity: r.ports === null ? (d === 'ingress' ? 'critical' : 'high') : internet ? 'info' : d === 'ingress' ? 'high' : 'medium', direction: d, rule: i, peer: j, message: `${d}[${i}].${from}[${j}] selects ${what}${r.ports === null ? ' on every port' : ''}` });
        });
      }
      (r.ports ?? []).forEach((port, j) => {
        if (port.port !== undefined && port.port !== null) return;
        const who = everyone ? describePeer('any', d) : r.peers!.map((x) => describePeer(peerKey(x, base.namespace), d)).join(', ');
        out.push({ ...base, kind: 'all-ports', severity: everyone ? (d === 'ingress' ? 'critical' : 'high') : 'medium', direction: d, rule: i, port_entry: j, message: `${d}[${i}].ports[${j}] names protocol ${proto(port.protocol)} and no port: it opens every ${proto(port.protocol)} port ${who}` });
      });
      if (selectsSomething) {
        (r.peers ?? []).forEach((x, j) => {
          const sel = x.namespaceSelector;
          if (!sel || isEmptySelector(sel) || selectsSomething(sel)) return;
          const labels = Object.keys(sel.matchLabels ?? {}).map((k) => `${k}=${Object.getOwnPropertyDescriptor(sel.matchLabels!, k)!.value}`);
          out.push({ ...base, kind: 'selector-matches-nothing', severity: 'low', direction: d, rule: i, peer: j, message: `${d}[${i}].${from}[${j}] selects no namespace${labels.length ? `: no namespace has label ${labels.join(', ')}` : ''}; the rule allows nothing` });
        });
      }
    });
  }
  const promised = base.policy.includes('--ports--') ? namePorts(base.policy) : null;
  if (promised && c.types.includes(promised.direction)) {
    const rs = c.rules[promised.direction];
    const all = rs.some((r) => r.ports === null || r.ports.some((x) => x.port === undefined || x.port === null));
    const granted = new Set<number>();
    for (const r of rs) for (const x of r.ports ?? []) if (typeof x.port === 'number') for (let n = x.port; n <= (x.endPort ?? x.port) && n - x.port < 65536; n++) granted.add(n);
    const want = new Set(promised.ports);
    const extra = [...granted].filter((n) => !want.has(n)).sort((a, b) => a - b);
    const missing = all ? [] : promised.ports.filter((n) => !granted.has(n));
    if (all || extra.length || missing.length) {
      const parts = [...(all ? ['every port'] : []), ...(extra.length ? [`ports ${extra.join(', ')} the name does not list`] : []), ...(missing.length ? [`not ports ${missing.join(', ')} the name lists`] : [])];
      out.push({ ...base, kind: 'name-ports-mismatch', severity: all || extra.length ? 'medium' : 'low', direction: promised.direction, message: `the name promises ${promised.direction} ports ${promised.ports.join(', ')}; the spec grants ${parts.join(' and ')}` });
    }
  }
  return out;
}

function lineFor(f: RuleFinding, e: ExpectedPolicy | undefined): { file?: string; line?: number } {
  const o = e?.origin;
  if (!o) return {};
  const line = (f.rule !== undefined && f.port_entry !== undefined && o.portLines[f.direction][f.rule]?.[f.port_entry]) || (f.rule !== undefined && o.ruleLines[f.direction][f.rule]) || o.line;
  return { file: o.file, line };
}

const RANK: Readonly<Record<Severity, number>> = { critical: 0, high: 1, medium: 2, low: 3, info: 4 };
const worst = (fs: RuleFinding[]): Severity | 'none' => fs.reduce<Severity | 'none'>((w, f) => (w === 'none' || RANK[f.severity] < RANK[w] ? f.severity : w), 'none');

// ---------------------------------------------------------------------------
// The judgement
// ---------------------------------------------------------------------------

const isFound = (s: PolicyStatus) => s === 'found' || s === 'renamed';

/**
 * What the judgement derives from one live policy alone (its plain copy, canonical form and rule
 * findings), kept per uid and resourceVersion: after a change in the cluster only the changed
 * policies are worked out again. Findings also depend on the namespaces' labels (selectors that
 * match nothing), so they are kept with the namespaces they were computed for. Bounded.
 */
interface PolicyMemo {
  plain: NetworkPolicy;
  canon: Canonical;
  findings?: RuleFinding[];
  findingsFor?: string;
}
const POLICY_MEMO = new Map<string, PolicyMemo>();
const POLICY_MEMO_MAX = 50_000;

function policyMemo(raw: NetworkPolicy): PolicyMemo {
  const meta = raw.metadata as { uid?: string; resourceVersion?: string } | null | undefined;
  const key = meta?.uid && meta.resourceVersion ? `${meta.uid}/${meta.resourceVersion}` : undefined;
  const hit = key ? POLICY_MEMO.get(key) : undefined;
  if (hit) return hit;
  const plain = plainPolicy(raw);
  const m: PolicyMemo = { plain, canon: canonical(plain.spec, nsOf(plain)) };
  if (key) {
    if (POLICY_MEMO.size >= POLICY_MEMO_MAX) POLICY_MEMO.clear();
    POLICY_MEMO.set(key, m);
  }
  return m;
}

/**
 * @param engine the scan's PolicyEngine, compiled once over `snap` and shared with the probe plan.
 */
export function judgeLight(topo: Topology, expected: ExpectedSet, snap: ClusterSnapshot, engine: PolicyEngine): LightReport {
  const stackNs = new Set(topo.namespaces);
  for (const e of expected.policies) stackNs.add(e.namespace);
  const inStack: NetworkPolicy[] = [];
  const canon = new Map<NetworkPolicy, Canonical>();
  const memos = new Map<NetworkPolicy, PolicyMemo>();
  for (const raw of snap.policies) {
    if (!stackNs.has(nsOf(raw))) continue;
    const m = policyMemo(raw);
    inStack.push(m.plain);
    canon.set(m.plain, m.canon);
    memos.set(m.plain, m);
  }
  const nsKey = snap.namespaces ? snap.namespaces.map((n) => `${n.name}\u0000${JSON.stringify(n.labels ?? {})}`).join('\n') : '\u0000unknown';
  const topoNs = new Set(topo.namespaces);
  const wantCanon = expectedForms(expected, topoNs);

  // Same-named groups on both sides.
  const liveByName = new Map<string, NetworkPolicy[]>();
  for (const p of inStack) {
    const k = `${nsOf(p)}/${baseName(nameOf(p))}`;
    const list = liveByName.get(k);
    if (list) list.push(p);
    else liveByName.set(k, [p]);
  }
  const wantByName = new Map<string, number[]>();
  expected.policies.forEach((e, i) => {
    const k = `${e.namespace}/${baseName(e.name)}`;
    const list = wantByName.get(k);
    if (list) list.push(i);
    else wantByName.set(k, [i]);
  });

  const results: ExpectedResult[] = expected.policies.map((e) => ({
    name: e.name,
    namespace: e.namespace,
    category: e.category,
    direction: e.direction,
    status: 'missing' as PolicyStatus,
    ...(e.link ? { link: e.link } : {}),
    ...(e.origin ? { file: e.origin.file, line: e.origin.line } : {}),
    ...(e.rule ? { rule: e.rule } : {}),
  }));
  const claimed = new Map<NetworkPolicy, number>(); // live policy → expected index
  const unmatched: number[] = [];

  for (const [k, idx] of wantByName) {
    const live = [...(liveByName.get(k) ?? [])];
    const rest: number[] = [];
    for (const i of idx) {
      const j = live.findIndex((p) => canon.get(p)!.key === wantCanon[i].key);
      if (j === -1) {
        rest.push(i);
        continue;
      }
      const p = live.splice(j, 1)[0];
      claimed.set(p, i);
      results[i].status = 'found';
      if (nameOf(p) !== expected.policies[i].name) results[i].cluster_name = nameOf(p);
    }
    for (const i of rest) {
      if (!live.length) {
        unmatched.push(i);
        continue;
      }
      let best = 0;
      for (let j = 1; j < live.length; j++) if (overlap(canon.get(live[j])!, wantCanon[i]) > overlap(canon.get(live[best])!, wantCanon[i])) best = j;
      const p = live.splice(best, 1)[0];
      claimed.set(p, i);
      const diff = difference(canon.get(p)!, wantCanon[i]);
      Object.assign(results[i], { status: 'drifted', cluster_name: nameOf(p), difference: diff, drift: driftLines(diff) });
    }
  }
  // Renamed: an unclaimed live policy in the same namespace with the same canonical form.
  const byForm = new Map<string, NetworkPolicy[]>();
  for (const p of inStack) {
    if (claimed.has(p)) continue;
    const k = `${nsOf(p)}\n${canon.get(p)!.key}`;
    const list = byForm.get(k);
    if (list) list.push(p);
    else byForm.set(k, [p]);
  }
  for (const i of unmatched) {
    const twin = byForm.get(`${expected.policies[i].namespace}\n${wantCanon[i].key}`)?.shift();
    if (!twin) continue;
    claimed.set(twin, i);
    results[i].status = 'renamed';
    results[i].cluster_name = nameOf(twin);
  }
  const extraPolicies = inStack.filter((p) => !claimed.has(p));
  const extra = extraPolicies.map((p) => ({ name: nameOf(p), namespace: nsOf(p) }));

  // Rule-level findings on every live policy in the stack's namespaces.
  const selects: SelectorCheck | null = snap.namespaces ? namespaceSelectorCheck(snap.namespaces) : null;
  const findings: RuleFinding[] = [];
  const findingsOf = new Map<NetworkPolicy, RuleFinding[]>();
  for (const p of inStack) {
    const i = claimed.get(p);
    const e = i === undefined ? undefined : expected.policies[i];
    const m = memos.get(p)!;
    if (m.findingsFor !== nsKey) {
      m.findings = ruleFindings(p, canon.get(p)!, selects);
      m.findingsFor = nsKey;
    }
    // Copies: the lines of the expected file are added below, per run.
    const fs = m.findings!.map((f) => ({ ...f }));
    if (e?.origin) for (const f of fs) Object.assign(f, lineFor(f, e));
    if (fs.length) findingsOf.set(p, fs);
    findings.push(...fs);
  }
  findings.sort((a, b) => RANK[a.severity] - RANK[b.severity]);

  // Score: each expected policy counts its worst finding's value when found; extras with findings count too.
  const worstOfExpected = new Map<number, Severity | 'none'>();
  for (const [p, i] of claimed) worstOfExpected.set(i, worst(findingsOf.get(p) ?? []));
  let value = 0;
  results.forEach((r, i) => {
    if (isFound(r.status)) value += SEVERITY_VALUE[worstOfExpected.get(i) ?? 'none'];
  });
  let extraWithFindings = 0;
  for (const p of extraPolicies) {
    const w = worst(findingsOf.get(p) ?? []);
    if (w === 'none' || w === 'info') continue;
    extraWithFindings++;
    value += SEVERITY_VALUE[w];
  }
  const counted = results.length + extraWithFindings;

  const count = (s: PolicyStatus) => results.filter((r) => r.status === s).length;
  const categories = Object.fromEntries(CATEGORIES.map((c) => [c, { expected: 0, found: 0 }])) as LightReport['results']['categories'];
  for (const r of results) {
    categories[r.category].expected++;
    if (isFound(r.status)) categories[r.category].found++;
  }
  const missing_by_namespace: LightReport['results']['missing_by_namespace'] = Object.create(null);
  for (const r of results) {
    if (r.status !== 'missing' && r.status !== 'drifted') continue;
    (missing_by_namespace[r.namespace] ??= []).push({ name: r.name, status: r.status });
  }

  const { links, linkFindings } = linkCoverage(topo, expected, wantCanon, results, snap.namespaces ? engine : null);
  const empty: EmptySelector[] = findings
    .filter((f) => f.kind === 'selector-matches-nothing')
    .map((f) => {
      const p = inStack.find((x) => nameOf(x) === f.policy && nsOf(x) === f.namespace)!;
      const r = rules(p.spec, f.direction)[f.rule!];
      return { policy: f.policy, namespace: f.namespace, direction: f.direction, selector: r.peers![f.peer!].namespaceSelector!, message: f.message };
    });
  const known = snap.namespaces ? new Set(snap.namespaces.map((n) => n.name)) : null;
  const bySeverity = Object.fromEntries(SEVERITIES.map((s) => [s, 0])) as Record<Severity, number>;
  for (const f of findings) bySeverity[f.severity]++;

  return {
    score: counted ? Math.round((1000 * value) / counted) / 10 : null,
    summary: {
      expected: results.length,
      found: count('found'),
      renamed: count('renamed'),
      drifted: count('drifted'),
      missing: count('missing'),
      extra: extra.length,
      rule_findings: bySeverity,
      empty_selectors: empty.length,
      links: links.length,
      links_bidirectional: links.filter((l) => l.bidirectional).length,
      links_allowed_live: snap.namespaces ? links.filter((l) => l.live?.allowed).length : null,
      links_not_generated: linkFindings.length,
      stack_namespaces: topo.namespaces.length,
      namespaces_missing: known ? topo.namespaces.filter((n) => !known.has(n)) : [],
      unknown_types: (expected.unknownTypes ?? []).map((u) => u.type),
    },
    results: {
      expected: results,
      extra,
      missing_by_namespace,
      categories,
      rule_findings: findings,
      links,
      link_findings: linkFindings,
      empty_selectors: empty,
      score_terms: { policies_counted: counted, value: Math.round(value * 100) / 100, extra_with_findings: extraWithFindings },
    },
  };
}

/** The expected set's canonical forms, computed once per expected set (one file version). */
const FORMS = new WeakMap<ExpectedSet, { topo: string; forms: Canonical[] }>();
function expectedForms(expected: ExpectedSet, topoNs: ReadonlySet<string>): Canonical[] {
  const topo = [...topoNs].join('\n');
  const hit = FORMS.get(expected);
  if (hit && hit.topo === topo) return hit.forms;
  const forms = expected.policies.map((e) => expectedCanonical(e, topoNs));
  FORMS.set(expected, { topo, forms });
  return forms;
}

/** Index of the expected grants: namespace + direction + peer → expected indexes and the ports they grant. Once per expected set. */
const GRANT_INDEX = new WeakMap<Canonical[], Map<string, { i: number; port: string }[]>>();
function grantIndex(expected: ExpectedSet, wantCanon: Canonical[]): Map<string, { i: number; port: string }[]> {
  const hit = GRANT_INDEX.get(wantCanon);
  if (hit) return hit;
  const index = new Map<string, { i: number; port: string }[]>();
  wantCanon.forEach((c, i) => {
    const ns = expected.policies[i].namespace;
    for (const d of c.types) {
      for (const g of c.grants[d]) {
        const [peer, port] = splitGrant(g);
        const k = `${ns}\n${d}\n${peer}`;
        const list = index.get(k);
        if (list) list.push({ i, port });
        else index.set(k, [{ i, port }]);
      }
    }
  });
  GRANT_INDEX.set(wantCanon, index);
  return index;
}

/**
 * Each declared cross-namespace link against the expected set: which expected
 * policy allows its egress side and which its ingress side (by grants, so any
 * source of expected policies works), their status in the cluster, and the
 * live verdict of the engine.
 */
function linkCoverage(topo: Topology, expected: ExpectedSet, wantCanon: Canonical[], results: ExpectedResult[], engine: PolicyEngine | null): { links: LinkCoverage[]; linkFindings: LinkFinding[] } {
  const index = grantIndex(expected, wantCanon);
  const side = (ns: string, d: Direction, peerNs: string, port: number | null): PolicyStatus | 'not-expected' => {
    const want = port === null ? '*/*' : `TCP/${port}`;
    let best: PolicyStatus | 'not-expected' = 'not-expected';
    for (const peer of [`ns:${peerNs}`, 'all-namespaces', 'any']) {
      for (const { i, port: p } of index.get(`${ns}\n${d}\n${peer}`) ?? []) {
        if (!portCovers(p, want)) continue;
        const s = results[i].status;
        if (best === 'not-expected' || (isFound(s) && !isFound(best))) best = s;
      }
    }
    return best;
  };
  const links: LinkCoverage[] = [];
  const linkFindings: LinkFinding[] = [];
  for (const l of topo.links) {
    if (l.fromNamespace === l.toNamespace) continue;
    const egress = side(l.fromNamespace, 'egress', l.toNamespace, l.port);
    const ingress = side(l.toNamespace, 'ingress', l.fromNamespace, l.port);
    const cov: LinkCoverage = {
      from: l.from,
      to: l.to,
      ...(l.fromSubComponent ? { from_sub_component: l.fromSubComponent } : {}),
      ...(l.toSubComponent ? { to_sub_component: l.toSubComponent } : {}),
      from_namespace: l.fromNamespace,
      to_namespace: l.toNamespace,
      port: l.port,
      egress,
      ingress,
      bidirectional: egress !== 'not-expected' && ingress !== 'not-expected' && isFound(egress) && isFound(ingress),
    };
    if (engine && l.port !== null) {
      const v = engine.evaluate({ namespace: l.fromNamespace, labels: {} }, { namespace: l.toNamespace, labels: {} }, l.port, l.protocol);
      // An allowing side is named by its policies (cheap); a denying side gets the engine's full reason.
      const why = (x: typeof v.egress) => (x.allowed && x.isolated ? `allowed by ${x.allowedBy.map((r) => `${r.namespace}/${r.name}`).join(', ')}` : x.reason);
      cov.live = { allowed: v.allowed, egress: why(v.egress), ingress: why(v.ingress) };
    }
    links.push(cov);
    if (egress === 'not-expected' || ingress === 'not-expected') linkFindings.push(notGenerated(l, egress, ingress));
  }
  return { links, linkFindings };
}

function notGenerated(l: Link, egress: string, ingress: string): LinkFinding {
  const sides = [egress === 'not-expected' ? `egress from ${l.fromNamespace}` : '', ingress === 'not-expected' ? `ingress to ${l.toNamespace}` : ''].filter(Boolean).join(' and ');
  const what = `${l.from}${l.fromSubComponent ? `/${l.fromSubComponent}` : ''} → ${l.to}${l.toSubComponent ? `/${l.toSubComponent}` : ''}`;
  return {
    kind: 'link-not-generated',
    severity: 'low',
    from: l.from,
    to: l.to,
    ...(l.fromSubComponent ? { from_sub_component: l.fromSubComponent } : {}),
    ...(l.toSubComponent ? { to_sub_component: l.toSubComponent } : {}),
    from_namespace: l.fromNamespace,
    to_namespace: l.toNamespace,
    port: l.port,
    declared_at: l.declaredAt,
    message: `declared link ${what} (${l.port === null ? 'no port in the metadata' : `port ${l.port}`}) has no expected policy for its ${sides}: with both namespaces isolated, the traffic is blocked${l.port === null ? '; declare the target\'s port so Stacktic generates the link policies' : ''}`,
  };
}
