/**
 * Link coverage: every declared cross-namespace link (components and sub-components) against the
 * expected set: which expected policy allows its egress side and which its ingress side (by
 * grants, so any source of expected policies works), their status in the cluster, and the live
 * verdict of the NetworkPolicy engine. A link with no expected policy is its own finding.
 */
import type { NetworkPolicy } from '../../../lib/k8s/networkpolicy.ts';
import type { Direction, NamespaceInfo } from '../../../lib/k8s/types.ts';
import type { ExpectedSet } from '../../../lib/topology/expected.ts';
import type { Link, Topology } from '../../../lib/topology/types.ts';
import type { LinkSides, LiveVerdict, NetworkScanCache, PolicyMemo } from '../cache.ts';
import { PolicyEngine } from '../engine.ts';
import { splitGrant, type Canonical } from './canonical.ts';
import { isFound, portCovers } from './match.ts';
import type { ExpectedResult, LinkCoverage, LinkFinding, PolicyStatus } from './types.ts';

type Side = PolicyStatus | 'not-expected';

/**
 * The candidates of every declared link (by grants, so any source of expected policies works):
 * for a side, the expected policies in its namespace whose grants name the peer namespace, every
 * namespace or everyone, on a port covering the link's. Once per expected set and topology.
 */
function linkSides(cache: NetworkScanCache, topo: Topology, expected: ExpectedSet, wantCanon: readonly Canonical[]): LinkSides {
  let byTopo = cache.linkSides.get(wantCanon);
  const hit = byTopo?.get(topo);
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
  const candidates = (ns: string, d: Direction, peerNs: string, port: number | null): number[] => {
    const want = port === null ? '*/*' : `TCP/${port}`;
    const out: number[] = [];
    for (const peer of [`ns:${peerNs}`, 'all-namespaces', 'any'])
      for (const { i, port: p } of index.get(`${ns}\n${d}\n${peer}`) ?? []) if (portCovers(p, want)) out.push(i);
    return out;
  };
  const ends = new Set<string>();
  for (const l of topo.links) ends.add(l.fromNamespace).add(l.toNamespace);
  const sides: LinkSides = { egress: [], ingress: [], ends: [...ends], last: [], lastUnits: new Map(), lastLabels: undefined };
  for (const l of topo.links) {
    sides.egress.push(l.fromNamespace === l.toNamespace ? [] : candidates(l.fromNamespace, 'egress', l.toNamespace, l.port));
    sides.ingress.push(l.fromNamespace === l.toNamespace ? [] : candidates(l.toNamespace, 'ingress', l.fromNamespace, l.port));
  }
  if (!byTopo) cache.linkSides.set(wantCanon, (byTopo = new WeakMap()));
  byTopo.set(topo, sides);
  return sides;
}

/** A side's status: the first found (or renamed) candidate's, else the first candidate's; 'not-expected' without one. */
function sideStatus(candidates: readonly number[], results: readonly ExpectedResult[]): PolicyStatus | 'not-expected' {
  let best: PolicyStatus | 'not-expected' = 'not-expected';
  for (const i of candidates) {
    const s = results[i].status;
    if (best === 'not-expected' || (isFound(s) && !isFound(best))) best = s;
  }
  return best;
}

/**
 * The versions a link's live verdict depends on: every namespace's labels (peers select
 * namespaces) and the policies of the link's two namespaces (egress at the source, ingress at the
 * destination), each interned to a short id by the cache. A namespace holding a policy without a
 * server identity has no version: its links are evaluated each time.
 */
function namespaceVersions(cache: NetworkScanCache, live: LiveInputs, labels: number): { labels: number; of: (ns: string) => number | undefined } {
  const ids = new Map<string, number | undefined>();
  return {
    labels,
    of: (ns) => {
      if (ids.has(ns)) return ids.get(ns);
      // The namespace's policies in snapshot order, as the engine indexes them.
      const memos = live.ofNamespace(ns)?.memos ?? [];
      const versioned = memos.every((m) => m.uid !== undefined);
      const id = versioned ? cache.versionId(`${ns}\u0000${memos.map((m) => `${m.uid}/${m.resourceVersion}`).join(',')}`) : undefined;
      ids.set(ns, id);
      return id;
    },
  };
}

/** What linkCoverage needs for the live verdicts; null when the namespaces could not be listed. */
export interface LiveInputs {
  /**
   * The scan's engine over every policy, when it has one. Without one, an engine is compiled (from
   * the cache's compiled policies) over the namespaces of the links whose verdict is not kept:
   * `evaluate` reads only the policies of the two ends' namespaces, so its verdicts are the same.
   */
  engine?: PolicyEngine;
  namespaces: readonly NamespaceInfo[];
  /** A stack namespace's live policies in snapshot order: the judgement's memos and the objects as read. */
  ofNamespace(ns: string): { memos: readonly PolicyMemo[]; raws: readonly NetworkPolicy[] } | undefined;
}

/**
 * Each declared cross-namespace link against the expected set: which expected
 * policy allows its egress side and which its ingress side, their status in the
 * cluster, and the live verdict of the engine (kept per version of what it depends on).
 */
export function linkCoverage(
  cache: NetworkScanCache,
  topo: Topology,
  expected: ExpectedSet,
  wantCanon: readonly Canonical[],
  results: readonly ExpectedResult[],
  live: LiveInputs | null,
  judged: { labels: number; unitOf: (ns: string) => object | undefined },
): { links: LinkCoverage[]; linkFindings: LinkFinding[] } {
  const sides = linkSides(cache, topo, expected, wantCanon);
  let versions: ReturnType<typeof namespaceVersions> | undefined;
  // A link's entry depends only on its two namespaces' judgements (the statuses of their expected
  // policies, the versions of their live policies) and on the namespaces' labels: while these are
  // the same objects as at the last run, the entry is the last one.
  const sameLabels = sides.lastLabels === judged.labels;
  const unchanged = (ns: string) => sameLabels && judged.unitOf(ns) !== undefined && judged.unitOf(ns) === sides.lastUnits.get(ns);
  const links: LinkCoverage[] = [];
  const linkFindings: LinkFinding[] = [];
  const pending: { li: number; l: Link & { port: number }; egress: Side; ingress: Side; key: string | undefined }[] = [];
  /** The link's entry, reused while its statuses and verdict are the same objects as last time. */
  const entry = (li: number, l: Link, egress: Side, ingress: Side, verdict: LiveVerdict | undefined) => {
    const last = sides.last[li];
    if (last && last.egress === egress && last.ingress === ingress && last.verdict === verdict) return last;
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
    if (verdict) cov.live = { ...verdict };
    const made = {
      egress,
      ingress,
      verdict,
      cov,
      finding: egress === 'not-expected' || ingress === 'not-expected' ? notGenerated(l, egress, ingress) : undefined,
    };
    sides.last[li] = made;
    return made;
  };
  const slots: (ReturnType<typeof entry> | undefined)[] = new Array(topo.links.length);
  topo.links.forEach((l, li) => {
    if (l.fromNamespace === l.toNamespace) return;
    const last = sides.last[li];
    if (last && unchanged(l.fromNamespace) && unchanged(l.toNamespace)) {
      slots[li] = last;
      return;
    }
    const egress = sideStatus(sides.egress[li], results);
    const ingress = sideStatus(sides.ingress[li], results);
    if (live && l.port !== null) {
      versions ??= namespaceVersions(cache, live, judged.labels);
      const from = versions.of(l.fromNamespace);
      const to = versions.of(l.toNamespace);
      const key = from === undefined || to === undefined ? undefined : `${versions.labels}|${from}|${to}|${l.port}|${l.protocol ?? ''}`;
      const verdict = key === undefined ? undefined : cache.linkVerdicts.get(key);
      if (verdict) slots[li] = entry(li, l, egress, ingress, verdict);
      else pending.push({ li, l: l as Link & { port: number }, egress, ingress, key });
    } else slots[li] = entry(li, l, egress, ingress, undefined);
  });
  if (live && pending.length) {
    let engine = live.engine;
    if (!engine) {
      const ends = new Set<string>();
      for (const { l } of pending) ends.add(l.fromNamespace).add(l.toNamespace);
      engine = new PolicyEngine(
        [...ends].flatMap((ns) => live.ofNamespace(ns)?.raws ?? []),
        live.namespaces,
        cache,
      );
    }
    for (const { li, l, egress, ingress, key } of pending) {
      const v = engine.evaluate({ namespace: l.fromNamespace, labels: {} }, { namespace: l.toNamespace, labels: {} }, l.port, l.protocol);
      // An allowing side is named by its policies (cheap); a denying side gets the engine's full reason.
      const why = (x: typeof v.egress) => (x.allowed && x.isolated ? `allowed by ${x.allowedBy.map((r) => `${r.namespace}/${r.name}`).join(', ')}` : x.reason);
      const verdict: LiveVerdict = { allowed: v.allowed, egress: why(v.egress), ingress: why(v.ingress) };
      if (key !== undefined) cache.keep(cache.linkVerdicts, key, verdict);
      slots[li] = entry(li, l, egress, ingress, verdict);
    }
  }
  for (const e of slots) {
    if (!e) continue;
    links.push(e.cov);
    if (e.finding) linkFindings.push(e.finding);
  }
  sides.lastLabels = judged.labels;
  for (const ns of sides.ends) sides.lastUnits.set(ns, judged.unitOf(ns));
  return { links, linkFindings };
}

function notGenerated(l: Link, egress: string, ingress: string): LinkFinding {
  const sides = [egress === 'not-expected' ? `egress from ${l.fromNamespace}` : '', ingress === 'not-expected' ? `ingress to ${l.toNamespace}` : '']
    .filter(Boolean)
    .join(' and ');
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
    message:
      `declared link ${what} (${l.port === null ? 'no port in the metadata' : `port ${l.port}`}) has no expected policy for its ${sides}: with ` +
      `both namespaces isolated, the traffic is blocked${l.port === null ? "; declare the target's port so Stacktic generates the link policies" : ''}`,
  };
}
