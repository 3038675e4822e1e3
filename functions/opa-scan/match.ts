/**
 * Gatekeeper's `spec.match` semantics (pure): does a constraint apply to an
 * object of a kind, in a namespace with labels, carrying labels?
 */
import { matchesSelector, namespaceLabels } from '../../lib/k8s/selectors.ts';
import type { NamespaceInfo } from '../../lib/k8s/types.ts';
import type { Constraint, Match } from './generators/types.ts';

/** Gatekeeper namespace patterns allow a trailing `*` (prefix) and a leading `*` (suffix). */
export function namespaceGlob(pattern: string, ns: string): boolean {
  if (pattern === '*') return true;
  if (pattern.endsWith('*')) return ns.startsWith(pattern.slice(0, -1));
  if (pattern.startsWith('*')) return ns.endsWith(pattern.slice(1));
  return pattern === ns;
}

/** A namespace and its labels (the shared lib/k8s vocabulary). */
export type NamespaceLabels = NamespaceInfo;

/** Does the match's namespace scope include this namespace (kinds and labels aside)? */
export function matchesNamespace(m: Match, ns: NamespaceLabels): boolean {
  if (m.scope === 'Cluster') return false;
  if (m.namespaces?.length && !m.namespaces.some((p) => namespaceGlob(p, ns.name))) return false;
  if (m.excludedNamespaces?.some((p) => namespaceGlob(p, ns.name))) return false;
  if (m.namespaceSelector && !matchesSelector(m.namespaceSelector, namespaceLabels(ns))) return false;
  return true;
}

export function matchesKind(m: Match, group: string, kind: string): boolean {
  if (!m.kinds?.length) return true;
  return m.kinds.some(
    (k) =>
      (!k.apiGroups?.length || k.apiGroups.includes('*') || k.apiGroups.includes(group)) &&
      (!k.kinds?.length || k.kinds.includes('*') || k.kinds.includes(kind)),
  );
}

export interface Target {
  group: string;
  kind: string;
  /** The object's namespace; undefined for cluster-scoped objects. */
  namespace?: NamespaceLabels;
  labels: Record<string, string>;
  name?: string;
}

/**
 * Full match: kind, scope, namespace (for a Namespace object, Gatekeeper
 * matches namespaces/namespaceSelector against the object itself), labels.
 */
export function constraintMatches(c: Pick<Constraint, 'match'>, t: Target): boolean {
  const m = c.match;
  if (!matchesKind(m, t.group, t.kind)) return false;
  if (m.name && t.name && !namespaceGlob(m.name, t.name)) return false;
  if (m.labelSelector && !matchesSelector(m.labelSelector, t.labels)) return false;
  if (t.kind === 'Namespace' && t.group === '') {
    const self = { name: t.name ?? '', labels: t.labels };
    if (m.scope === 'Namespaced') return false;
    return matchesNamespace({ ...m, scope: undefined }, self);
  }
  if (!t.namespace) {
    // Cluster-scoped objects other than Namespaces: Gatekeeper ignores namespaces,
    // excludedNamespaces and namespaceSelector for them (pkg/mutation/match).
    return m.scope !== 'Namespaced';
  }
  return matchesNamespace(m, t.namespace);
}
