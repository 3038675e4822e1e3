/**
 * Link coverage: every declared cross-namespace link (components and sub-components) against the
 * expected set: which expected policy allows its egress side and which its ingress side (by
 * grants, so any source of expected policies works), their status in the cluster, and the live
 * verdict of the NetworkPolicy engine. A link with no expected policy is its own finding.
 */
import type { Direction } from '../../../lib/k8s/types.ts';
import type { ExpectedSet } from '../../../lib/topology/expected.ts';
import type { Link, Topology } from '../../../lib/topology/types.ts';
import type { GrantIndex, NetworkScanCache } from '../cache.ts';
import type { PolicyEngine } from '../engine.ts';
import { splitGrant, type Canonical } from './canonical.ts';
import { isFound, portCovers } from './match.ts';
import type { ExpectedResult, LinkCoverage, LinkFinding, PolicyStatus } from './types.ts';

/** Index of the expected grants: namespace + direction + peer → expected indexes and the ports they grant. Once per expected set. */
function grantIndex(cache: NetworkScanCache, expected: ExpectedSet, wantCanon: readonly Canonical[]): GrantIndex {
  const hit = cache.grants.get(wantCanon);
  if (hit) return hit;
  const index: GrantIndex = new Map();
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
  cache.grants.set(wantCanon, index);
  return index;
}

/**
 * Each declared cross-namespace link against the expected set: which expected
 * policy allows its egress side and which its ingress side (by grants, so any
 * source of expected policies works), their status in the cluster, and the
 * live verdict of the engine.
 */
export function linkCoverage(cache: NetworkScanCache, topo: Topology, expected: ExpectedSet, wantCanon: readonly Canonical[], results: readonly ExpectedResult[], engine: (() => PolicyEngine) | null): { links: LinkCoverage[]; linkFindings: LinkFinding[] } {
  const index = grantIndex(cache, expected, wantCanon);
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
      const v = engine().evaluate({ namespace: l.fromNamespace, labels: {} }, { namespace: l.toNamespace, labels: {} }, l.port, l.protocol);
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
