/**
 * Which Stacktic component a Kubernetes object belongs to (pure). In the
 * object's namespace: a component named by one of its labels
 * (app.kubernetes.io/name, app.kubernetes.io/instance, app, stacktic.io/component),
 * else the component whose name is the object's name or its prefix (longest
 * wins), else the namespace's only component. Otherwise none.
 */
import type { Component } from '../../lib/topology/types.ts';

export const COMPONENT_LABELS = ['stacktic.io/component', 'app.kubernetes.io/name', 'app.kubernetes.io/instance', 'app'];

export interface ObjectIdentity {
  namespace: string | null;
  name: string;
  labels?: Map<string, string>;
}

export type ComponentIndex = Map<string, Component[]>;

export function indexComponents(components: Component[]): ComponentIndex {
  const byNs: ComponentIndex = new Map();
  for (const c of components) {
    if (!c.namespace) continue;
    const list = byNs.get(c.namespace) ?? [];
    list.push(c);
    byNs.set(c.namespace, list);
  }
  return byNs;
}

export function componentOf(obj: ObjectIdentity, index: ComponentIndex): Component | null {
  if (!obj.namespace) return null;
  const candidates = index.get(obj.namespace) ?? [];
  if (!candidates.length) return null;
  for (const label of COMPONENT_LABELS) {
    const v = obj.labels?.get(label);
    if (!v) continue;
    const hit = candidates.find((c) => c.name === v);
    if (hit) return hit;
  }
  let best: Component | null = null;
  for (const c of candidates) {
    if ((obj.name === c.name || obj.name.startsWith(`${c.name}-`)) && (!best || c.name.length > best.name.length)) best = c;
  }
  if (best) return best;
  return candidates.length === 1 ? candidates[0] : null;
}
