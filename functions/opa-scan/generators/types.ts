/**
 * Resource generators for the OPA scan's full mode. One generator per
 * constraint template kind. For a constraint C the scan builds:
 *   valid   = base resource, then `comply` of EVERY active constraint that
 *             matches it (cross-policy aware), repeated until stable;
 *   invalid = `violate(valid, C)`: the valid one changed to violate only C.
 * Both are submitted with a server-side dry-run.
 *
 * Adding a kind: write a `Generator` in this folder and list it in index.ts.
 */
import type { KubeObject, LabelSelector } from '../../../lib/k8s/types.ts';

export type { LabelSelector };

export type Resource = KubeObject & { spec?: any; [k: string]: any };

export interface MatchKind {
  apiGroups?: string[];
  kinds?: string[];
}

/** A constraint's `spec.match` (Gatekeeper). */
export interface Match {
  kinds?: MatchKind[];
  namespaces?: string[];
  excludedNamespaces?: string[];
  labelSelector?: LabelSelector;
  namespaceSelector?: LabelSelector;
  scope?: '*' | 'Cluster' | 'Namespaced';
  name?: string;
}

export interface Constraint {
  name: string;
  /** The template kind, e.g. K8sRequiredLabels. */
  kind: string;
  /** deny | dryrun | warn (also scoped actions: the effective admission action). */
  enforcementAction: string;
  match: Match;
  parameters: Record<string, any>;
}

export type ViolateResult = Resource | { untestable: string };

export interface Generator {
  /** Constraint template kind this generator understands. */
  kind: string;
  /**
   * Resource kinds the generator can build and violate, in order of preference.
   * The scan picks the first one the constraint's match.kinds allows.
   */
  resourceKinds: readonly string[];
  /** A reason when the constraint cannot be tested by admission (needs cluster state). */
  auditOnly?(c: Constraint): string | undefined;
  /** Return r changed (a copy) so that it satisfies c. Must not undo other constraints' changes needlessly. */
  comply(r: Resource, c: Constraint): Resource;
  /** Return the compliant r changed (a copy) so that it violates c, touching as little as possible. */
  violate(r: Resource, c: Constraint): ViolateResult;
}
