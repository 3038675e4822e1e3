/**
 * The picture in the HTML report: the stack's components (grouped by namespace) and each
 * declared link with its state. A scan that has one builds it from its own report
 * (`ScanDefinition.graph`, e.g. functions/network-scan/graph.ts); the renderer only draws it.
 */

/** Light / offline: is the link's policy there; full: what the probe saw. */
export type LinkState = 'present' | 'missing' | 'drifted' | 'PASS' | 'FAIL' | 'BLOCKED' | 'SECURITY_RISK' | 'UNDECIDED';

export interface GraphNode {
  id: string;
  label: string;
  /** The component type (kafka, postgresql, …). */
  type?: string;
  namespace?: string;
}

export interface GraphEdge {
  from: string;
  to: string;
  /** Shown on the edge, e.g. `5432` or `topic-psql → 5432`. */
  label?: string;
  state: LinkState;
  /** Declared in the metadata (false: an undeclared pair the probes found open). */
  declared: boolean;
  /** One line each: why the state (policy names, verdict reasons). */
  detail: string[];
}

export interface ReportGraph {
  title: string;
  nodes: GraphNode[];
  edges: GraphEdge[];
}

/** Colours per state, shared by the SVG and its legend. */
export const STATE_STYLE: Readonly<Record<LinkState, { color: string; dash?: string; label: string }>> = {
  present: { color: '#2e7d32', label: 'policy present' },
  missing: { color: '#c62828', dash: '6 4', label: 'policy missing' },
  drifted: { color: '#ef6c00', dash: '2 3', label: 'policy drifted' },
  PASS: { color: '#2e7d32', label: 'PASS (open as declared)' },
  FAIL: { color: '#c62828', dash: '6 4', label: 'FAIL (declared, blocked)' },
  BLOCKED: { color: '#546e7a', dash: '2 3', label: 'BLOCKED (undeclared, blocked)' },
  SECURITY_RISK: { color: '#ad1457', dash: '10 3 2 3', label: 'SECURITY_RISK (undeclared, open)' },
  UNDECIDED: { color: '#9e9e9e', dash: '1 3', label: 'could not decide' },
};
