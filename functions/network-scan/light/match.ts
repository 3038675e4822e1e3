/**
 * Matching the expected set to the live policies: same name (ignoring `--nrNN`) and same canonical
 * form is found; same name, another form is drifted (the difference spelled out: extra grants, that
 * is wider, missing grants, policy types, podSelector); no such name but a policy of the same form
 * in the namespace is renamed; none of these is missing.
 */
import type { NetworkPolicy } from '../../../lib/k8s/networkpolicy.ts';
import type { Direction } from '../../../lib/k8s/types.ts';
import type { Category, ExpectedSet } from '../../../lib/topology/expected.ts';
import { nameOf, nsOf, PEER_WIDTH, splitGrant, type Canonical } from './canonical.ts';
import type { Drift, ExpectedResult, PolicyStatus, RuleFinding, Severity } from './types.ts';

export const isFound = (s: PolicyStatus) => s === 'found' || s === 'renamed';

function peerCovers(wide: string, narrow: string): boolean {
  if (wide === narrow || wide === 'any') return true;
  return wide === 'all-namespaces' && (narrow.startsWith('ns:') || narrow.startsWith('other:'));
}

export function portCovers(wide: string, narrow: string): boolean {
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

export function describePeer(k: string, d: Direction): string {
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

export function difference(live: Canonical, want: Canonical): Drift {
  const out: Drift = { extra: [], missing: [], other: [], wider_peer: false };
  if (live.pod !== want.pod)
    out.other.push(`podSelector ${live.pod === '{}' ? 'selects every pod' : `is ${live.pod}`}; expected ${want.pod === '{}' ? 'every pod ({})' : want.pod}`);
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

export const driftLines = (d: Drift) => [...d.other, ...d.extra.map((x) => `grants more: ${x}`), ...d.missing.map((x) => `lacks: ${x}`)];

function overlap(a: Canonical, b: Canonical): number {
  let n = a.pod === b.pod ? 1 : 0;
  for (const d of ['ingress', 'egress'] as const) for (const g of a.grants[d]) if (b.grants[d].includes(g)) n += 2;
  return n;
}

/** The expected policies of one namespace: their indexes in the expected set, and its same-name groups (`namespace/name` without `--nrNN`). */
export interface NamespaceExpected {
  indices: number[];
  byName: Map<string, number[]>;
}

/** One namespace's part of the judgement: its expected policies' results, what they claimed, the rule findings of its live policies. */
export interface NamespaceUnit {
  results: Map<number, ExpectedResult>;
  claimed: Map<NetworkPolicy, number>;
  /** Per live policy with findings: copies carrying the lines of the expected policy's file. */
  findingsOf: Map<NetworkPolicy, RuleFinding[]>;
  /** Per expected index that claimed a live policy: the worst finding on it (the score's weight). */
  worstOf: Map<number, Severity | 'none'>;
  /** What the namespace adds to the summary: the found policies' score value, counts by status and category, missing and drifted ones. */
  value: number;
  counts: Record<PolicyStatus, number>;
  categories: Map<Category, { expected: number; found: number }>;
  /** Missing and drifted expected policies in expected order, and the index of the first. */
  missing: { first: number; list: { name: string; status: 'missing' | 'drifted' }[] } | undefined;
}

/**
 * One namespace's matching: the result of each of its expected policies, and which of its live
 * policies each claimed. Names and forms are compared within a namespace only, so the namespaces
 * are matched independently.
 *
 * @param live the namespace's live policies, in snapshot order
 */
export function matchNamespace(
  expected: ExpectedSet,
  wantCanon: readonly Canonical[],
  want: NamespaceExpected,
  live: readonly NetworkPolicy[],
  canon: ReadonlyMap<NetworkPolicy, Canonical>,
  baseOf: (p: NetworkPolicy) => string,
): { results: Map<number, ExpectedResult>; claimed: Map<NetworkPolicy, number> } {
  // Same-named groups on both sides.
  const liveByName = new Map<string, NetworkPolicy[]>();
  for (const p of live) {
    const k = `${nsOf(p)}/${baseOf(p)}`;
    const list = liveByName.get(k);
    if (list) list.push(p);
    else liveByName.set(k, [p]);
  }
  const results = new Map<number, ExpectedResult>();
  for (const i of want.indices) {
    const e = expected.policies[i];
    results.set(i, {
      name: e.name,
      namespace: e.namespace,
      category: e.category,
      direction: e.direction,
      status: 'missing' as PolicyStatus,
      ...(e.link ? { link: e.link } : {}),
      ...(e.origin ? { file: e.origin.file, line: e.origin.line } : {}),
      ...(e.rule ? { rule: e.rule } : {}),
    });
  }
  const claimed = new Map<NetworkPolicy, number>(); // live policy → expected index
  const unmatched: number[] = [];

  for (const [k, idx] of want.byName) {
    const group = [...(liveByName.get(k) ?? [])];
    const rest: number[] = [];
    for (const i of idx) {
      const j = group.findIndex((p) => canon.get(p)!.key === wantCanon[i].key);
      if (j === -1) {
        rest.push(i);
        continue;
      }
      const p = group.splice(j, 1)[0];
      claimed.set(p, i);
      const r = results.get(i)!;
      r.status = 'found';
      if (nameOf(p) !== expected.policies[i].name) r.cluster_name = nameOf(p);
    }
    for (const i of rest) {
      if (!group.length) {
        unmatched.push(i);
        continue;
      }
      let best = 0;
      for (let j = 1; j < group.length; j++) if (overlap(canon.get(group[j])!, wantCanon[i]) > overlap(canon.get(group[best])!, wantCanon[i])) best = j;
      const p = group.splice(best, 1)[0];
      claimed.set(p, i);
      const diff = difference(canon.get(p)!, wantCanon[i]);
      Object.assign(results.get(i)!, { status: 'drifted', cluster_name: nameOf(p), difference: diff, drift: driftLines(diff) });
    }
  }
  // Renamed: an unclaimed live policy in the namespace with the same canonical form.
  const byForm = new Map<string, NetworkPolicy[]>();
  for (const p of live) {
    if (claimed.has(p)) continue;
    const k = canon.get(p)!.key;
    const list = byForm.get(k);
    if (list) list.push(p);
    else byForm.set(k, [p]);
  }
  for (const i of unmatched) {
    const twin = byForm.get(wantCanon[i].key)?.shift();
    if (!twin) continue;
    claimed.set(twin, i);
    const r = results.get(i)!;
    r.status = 'renamed';
    r.cluster_name = nameOf(twin);
  }
  return { results, claimed };
}
