/**
 * Components the metadata declares whose workloads kubescape did not find in their namespace
 * (pure). A declared database with no StatefulSet is not "compliant": it is absent, and the
 * report names it. Decided only where the namespace's report exists and access was not denied
 * (otherwise absence cannot be told from "could not read").
 */
import { namespaceOfResource, type KsReport } from './kubescape.ts';
import type { Component } from '../../lib/topology/types.ts';
import { componentOf, type ComponentIndex } from './components.ts';

/** Kinds that run a component's code. */
export const WORKLOAD_KINDS = new Set(['Deployment', 'StatefulSet', 'DaemonSet', 'ReplicaSet', 'Pod', 'Job', 'CronJob']);

export interface AbsentComponent {
  component: string;
  type: string;
  namespace: string;
  reason: string;
}

/** For each namespace with a report: the declared components no workload of the report belongs to. */
export function absentComponents(index: ComponentIndex, reports: Map<string, KsReport>): AbsentComponent[] {
  const out: AbsentComponent[] = [];
  for (const [ns, report] of reports) {
    const declared: Component[] = index.get(ns) ?? [];
    if (!declared.length) continue;
    const present = new Set<string>();
    for (const r of report.resources.values()) {
      if (!WORKLOAD_KINDS.has(r.kind) || namespaceOfResource(r) !== ns) continue;
      const c = componentOf({ namespace: r.namespace, name: r.name, labels: r.labels }, index);
      if (c) present.add(c.name);
    }
    for (const c of declared) {
      if (!present.has(c.name))
        out.push({
          component: c.name,
          type: c.type,
          namespace: ns,
          reason:
            `declared in the metadata, but kubescape found no workload of it (${[...WORKLOAD_KINDS].join(', ')}) in namespace ${ns}: not ` +
            `deployed, named differently, or not readable`,
        });
    }
  }
  return out;
}
