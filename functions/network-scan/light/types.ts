/**
 * The light report's shape (part of the network scan's documented API): per expected policy its
 * status in the cluster, rule-level findings on live policies, link coverage, and the summary.
 */
import type { Category, Direction } from '../../../lib/topology/expected.ts';
import type { NetworkPolicy } from '../../../lib/k8s/networkpolicy.ts';
import type { LabelSelector, NamespaceInfo } from '../../../lib/k8s/types.ts';

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
