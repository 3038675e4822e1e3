/**
 * The network scan's picture for the HTML report (lib/report/graph.ts): the stack's components
 * joined by their declared links, each drawn by its state. Light and offline: are the link's
 * expected policies there (present / missing / drifted, from `results.links`); full: what the
 * link's probes saw (PASS / FAIL / UNDECIDED), plus each undeclared pair the probes found open
 * (SECURITY_RISK). Reads only the report.
 */
import type { GraphEdge, GraphNode, LinkState, ReportGraph } from '../../lib/report/graph.ts';
import type { ScanReport } from '../../lib/scan/scaffold.ts';
import type { LinkCoverage } from './light/types.ts';
import type { ProbeFinding } from './probes/judge.ts';

const side = (s: LinkCoverage['egress']) => (s === 'not-expected' ? 'no policy expected' : s);

function lightState(l: LinkCoverage): LinkState {
  const both = [l.egress, l.ingress];
  if (both.some((s) => s === 'missing' || s === 'not-expected')) return 'missing';
  if (both.includes('drifted')) return 'drifted';
  return 'present';
}

/** Worst first: a FAIL on any probe of the link makes the link FAIL. */
const FULL_RANK: LinkState[] = ['FAIL', 'SECURITY_RISK', 'UNDECIDED', 'BLOCKED', 'PASS'];

export function networkGraph(report: ScanReport): ReportGraph | undefined {
  const links = (report.results as { links?: LinkCoverage[] } | undefined)?.links;
  if (!links) return undefined;
  const nodes = new Map<string, GraphNode>();
  const node = (id: string, namespace?: string) => {
    if (!nodes.has(id)) nodes.set(id, { id, label: id, ...(namespace ? { namespace } : {}) });
  };
  const findings = (report.findings ?? []) as ProbeFinding[];
  const full = report.scan_type === 'full' && findings.length > 0;
  const byPair = new Map<string, ProbeFinding[]>();
  for (const f of findings) {
    if (f.layer !== 'link' || !f.target.component) continue;
    const k = `${f.source.component}\0${f.target.component}\0${f.target.port}`;
    const list = byPair.get(k);
    if (list) list.push(f);
    else byPair.set(k, [f]);
  }
  const edges: GraphEdge[] = [];
  for (const l of links) {
    node(l.from, l.from_namespace);
    node(l.to, l.to_namespace);
    const sub = [l.from_sub_component, l.to_sub_component].filter(Boolean).join(' → ');
    const label = [sub, l.port === null ? 'any port' : String(l.port)].filter(Boolean).join(' : ');
    const detail = [`egress policy (${l.from_namespace}): ${side(l.egress)}`, `ingress policy (${l.to_namespace}): ${side(l.ingress)}`];
    if (l.live) detail.push(`policies ${l.live.allowed ? 'allow' : 'do not allow'} it: egress ${l.live.egress}; ingress ${l.live.ingress}`);
    let state = lightState(l);
    if (full) {
      const probes = byPair.get(`${l.from}\0${l.to}\0${l.port}`) ?? [];
      if (probes.length) {
        const vs = probes.map((p) => (p.verdict === 'NO_SERVICE' ? 'UNDECIDED' : p.verdict) as LinkState);
        state = FULL_RANK.find((s) => vs.includes(s)) ?? 'UNDECIDED';
        for (const p of probes) detail.push(`probe from ${p.source.identity}: ${p.verdict} (${p.reason})${p.analysis ? `: ${p.analysis}` : ''}`);
      } else {
        state = 'UNDECIDED';
        detail.push('no probe ran for this link');
      }
    }
    edges.push({ from: l.from, to: l.to, ...(label ? { label } : {}), state, declared: true, detail });
  }
  if (full) {
    for (const f of findings) {
      if (f.layer !== 'negative' || f.verdict !== 'SECURITY_RISK') continue;
      const to = f.target.component ?? `namespace ${f.target.namespace ?? f.target.host}`;
      node(f.source.component, f.source.namespace);
      node(to, f.target.namespace);
      edges.push({
        from: f.source.component,
        to,
        label: String(f.target.port),
        state: 'SECURITY_RISK',
        declared: false,
        detail: [`undeclared, yet open: ${f.reason}`, ...(f.analysis ? [f.analysis] : [])],
      });
    }
  }
  return {
    title:
      `${report.scan_type === 'full' ? 'Declared links as probed' : 'Declared links and their NetworkPolicies'} (${edges.length} links, ` +
      `${nodes.size} components)`,
    nodes: [...nodes.values()],
    edges,
  };
}
