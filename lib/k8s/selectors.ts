/** Label selectors with Kubernetes semantics (pure). */
import { NAMESPACE_NAME_LABEL, type LabelSelector, type LabelSelectorRequirement, type Labels, type NamespaceInfo } from './types.ts';

export type LabelPredicate = (labels: Labels) => boolean;

const NO_LABELS: Labels = Object.freeze({});

function has(labels: Labels, key: string): boolean {
  return Object.hasOwn(labels, key);
}

function compileRequirement(req: LabelSelectorRequirement): LabelPredicate {
  const { key } = req;
  const values = new Set(req.values ?? []);
  switch (req.operator) {
    case 'In':
      return (l) => has(l, key) && values.has(l[key]);
    case 'NotIn':
      return (l) => !has(l, key) || !values.has(l[key]);
    case 'Exists':
      return (l) => has(l, key);
    case 'DoesNotExist':
      return (l) => !has(l, key);
    default:
      return () => false; // invalid operator: the API server would reject it; match nothing
  }
}

/** Compiles a selector into a predicate: matchLabels AND every matchExpression. */
export function compileSelector(selector: LabelSelector): LabelPredicate {
  const pairs = Object.entries(selector.matchLabels ?? {});
  const reqs = (selector.matchExpressions ?? []).map(compileRequirement);
  if (pairs.length === 0 && reqs.length === 0) return () => true;
  return (l) => pairs.every(([k, v]) => has(l, k) && l[k] === v) && reqs.every((r) => r(l));
}

/**
 * True when `labels` satisfy `selector` (Kubernetes semantics): every
 * matchLabels pair and every matchExpression must hold; `{}` matches all;
 * `NotIn` and `DoesNotExist` match when the key is absent; an unknown
 * operator matches nothing.
 */
export function matchesSelector(selector: LabelSelector, labels: Labels | undefined | null): boolean {
  return compileSelector(selector)(labels ?? NO_LABELS);
}

/** Namespace labels including the automatic `kubernetes.io/metadata.name` label. */
export function namespaceLabels(ns: NamespaceInfo): Labels {
  const labels = ns.labels ?? NO_LABELS;
  return has(labels, NAMESPACE_NAME_LABEL) ? labels : { ...labels, [NAMESPACE_NAME_LABEL]: ns.name };
}

/**
 * True when `selector` (a namespaceSelector) matches at least one of
 * `namespaces`, counting the automatic `kubernetes.io/metadata.name` label.
 */
export function selectsAnyNamespace(selector: LabelSelector, namespaces: readonly NamespaceInfo[]): boolean {
  const match = compileSelector(selector);
  return namespaces.some((ns) => match(namespaceLabels(ns)));
}

/**
 * selectsAnyNamespace for many selectors over one set of namespaces: the namespaces' labels are
 * computed once and each distinct selector is answered once.
 */
export function namespaceSelectorCheck(namespaces: readonly NamespaceInfo[]): (selector: LabelSelector) => boolean {
  const labels = namespaces.map(namespaceLabels);
  const cache = new Map<string, boolean>();
  return (selector) => {
    const k = JSON.stringify(selector);
    let v = cache.get(k);
    if (v === undefined) {
      const match = compileSelector(selector);
      cache.set(k, (v = labels.some((l) => match(l))));
    }
    return v;
  };
}

/** `k=v,k2=v2` for a label selector query parameter. */
export function selectorString(labels: Labels): string {
  return Object.entries(labels)
    .map(([k, v]) => `${k}=${v}`)
    .join(',');
}
