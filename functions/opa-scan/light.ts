/**
 * OPA scan, light mode judgement (pure): Gatekeeper health, templates,
 * constraints, violations and namespace coverage, from an Inventory.
 *
 * Score: the percentage of audited constraints with zero violations (the
 * seed's rule). Constraints whose audit has not written a result yet are
 * listed and left out of the ratio; with none audited the score is null.
 * Gatekeeper not found, or found with no constraints: score 0.
 */
import type { Inventory } from './inventory.ts';
import { matchesNamespace } from './match.ts';

export interface OpaLightReport {
  score: number | null;
  summary: Record<string, unknown>;
  results: Record<string, unknown>;
}

export function judgeLight(inv: Inventory, stackNamespaces: string[]): OpaLightReport {
  if (inv.namespace === null) {
    return {
      score: 0,
      summary: { installed: false, finding: 'Gatekeeper is not installed: no constrainttemplates CRD, no gatekeeper.sh validating webhook, no Gatekeeper deployment or pods were found' },
      results: { signals: inv.signals },
    };
  }

  const unhealthy: string[] = [];
  const webhook = inv.signals.webhooks.find((w) => w.name === 'validation.gatekeeper.sh') ?? inv.signals.webhooks[0];
  if (!webhook) unhealthy.push('no Gatekeeper validating webhook is registered: nothing is enforced at admission');
  else if (webhook.failurePolicy === 'Ignore') unhealthy.push(`webhook ${webhook.name} has failurePolicy Ignore: requests are admitted when Gatekeeper is down`);
  const notReady = inv.signals.pods.filter((p) => !p.ready);
  if (notReady.length) unhealthy.push(`${notReady.length} Gatekeeper pod(s) not ready: ${notReady.map((p) => p.name).join(', ')}`);
  for (const d of inv.signals.deployments) if (d.ready < d.desired) unhealthy.push(`deployment ${d.namespace}/${d.name}: ${d.ready}/${d.desired} ready`);
  const notCreated = inv.templates.filter((t) => t.created !== true);
  if (notCreated.length) unhealthy.push(`${notCreated.length} template(s) not created: ${notCreated.map((t) => `${t.name}${t.errors.length ? ` (${t.errors.join('; ')})` : ''}`).join(', ')}`);
  const notEnforced = inv.constraints.filter((c) => !c.enforced.length || c.enforced.some((e) => !e));
  if (notEnforced.length) unhealthy.push(`${notEnforced.length} constraint(s) not reported enforced by every Gatekeeper pod: ${notEnforced.map((c) => c.name).join(', ')}`);

  const constraints = inv.constraints.map((c) => ({
    name: c.name,
    kind: c.kind,
    enforcementAction: c.enforcementAction,
    match: {
      kinds: c.match.kinds ?? [],
      namespaces: c.match.namespaces ?? [],
      excludedNamespaces: c.match.excludedNamespaces ?? [],
      labelSelector: c.match.labelSelector ?? null,
      namespaceSelector: c.match.namespaceSelector ?? null,
    },
    enforced: c.enforced.length > 0 && c.enforced.every(Boolean),
    totalViolations: c.totalViolations,
    auditTimestamp: c.auditTimestamp,
  }));

  const byConstraint: Record<string, { kind: string; total: number | null; violations: Inventory['constraints'][number]['violations'] }> = {};
  const byNamespace: Record<string, { constraint: string; kind?: string; name?: string; message: string }[]> = {};
  for (const c of inv.constraints) {
    if (c.totalViolations || c.violations.length) byConstraint[c.name] = { kind: c.kind, total: c.totalViolations, violations: c.violations };
    for (const v of c.violations) (byNamespace[v.namespace ?? '(cluster)'] ??= []).push({ constraint: c.name, kind: v.kind, name: v.name, message: v.message });
  }

  const known = new Map(inv.namespaces.map((n) => [n.name, n]));
  const coverage = stackNamespaces.map((ns) => {
    const info = known.get(ns);
    const applies = info ? inv.constraints.filter((c) => c.enforcementAction !== 'dryrun' && matchesNamespace(c.match, info)).map((c) => c.name) : [];
    return { namespace: ns, exists: !!info, constraints: applies };
  });
  const uncovered = coverage.filter((c) => c.exists && c.constraints.length === 0).map((c) => c.namespace);

  const audited = inv.constraints.filter((c) => c.totalViolations !== null);
  const clean = audited.filter((c) => c.totalViolations === 0);
  const score = inv.constraints.length === 0 ? 0 : audited.length ? Math.round((1000 * clean.length) / audited.length) / 10 : null;

  return {
    score,
    summary: {
      installed: true,
      namespace: inv.namespace,
      healthy: unhealthy.length === 0,
      templates: inv.templates.length,
      constraints: inv.constraints.length,
      constraints_with_violations: audited.length - clean.length,
      constraints_not_audited: inv.constraints.length - audited.length,
      total_violations: audited.reduce((n, c) => n + (c.totalViolations ?? 0), 0),
      stack_namespaces: stackNamespaces.length,
      uncovered_namespaces: uncovered,
      ...(inv.constraints.length === 0 ? { finding: 'Gatekeeper is installed but no constraint exists: nothing is enforced' } : {}),
      ...(score === null ? { undecided: 'no constraint has an audit result yet; the score needs at least one audit run' } : {}),
    },
    results: {
      health: { problems: unhealthy, webhook: webhook ?? null, pods: inv.signals.pods, deployments: inv.signals.deployments, crds: inv.signals.crds },
      templates: { total: inv.templates.length, names: inv.templates.map((t) => t.name), items: inv.templates },
      constraints,
      violations: { by_constraint: byConstraint, by_namespace: byNamespace },
      namespace_coverage: coverage,
    },
  };
}
