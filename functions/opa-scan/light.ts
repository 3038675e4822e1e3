/**
 * OPA scan, light mode judgement (pure): Gatekeeper health, templates,
 * constraints, violations and namespace coverage, from an Inventory.
 *
 * Score: the percentage of audited constraints with zero violations. Constraints
 * whose audit has not written a result yet are listed and left out of the ratio;
 * with none audited the score is null. Gatekeeper not found (every read that could
 * find it answered): score 0. A read that failed (e.g. 403) is never "absent": when
 * it leaves presence or the constraint list unknown, the score is null and the
 * summary says what could not be decided.
 *
 * Health is a statement about what was SEEN: `healthy: true` needs the validating
 * webhook (failurePolicy Fail), its Service (or a URL), at least one ready webhook
 * (controller) pod and one ready audit pod, every Gatekeeper Deployment ready,
 * every template created and every constraint enforced. A problem seen makes it
 * false; a requirement that could not be seen makes it null, with the reason.
 */
import { percent } from '../../lib/scan/score.ts';
import type { AuditedViolation, Inventory } from './inventory.ts';
import { matchesNamespace } from './match.ts';

export interface OpaLightReport {
  score: number | null;
  summary: Record<string, unknown>;
  results: Record<string, unknown>;
}

/** A JSON object from a Map, safe for any key (`__proto__`, `constructor` …). */
export function record<V>(m: ReadonlyMap<string, V>): Record<string, V> {
  const out = Object.create(null) as Record<string, V>;
  for (const [k, v] of m) Object.defineProperty(out, k, { value: v, enumerable: true, writable: true, configurable: true });
  return out;
}

const PERMISSION_HINT = 'the permissions are named in errors[]';

export interface Health {
  healthy: boolean | null;
  problems: string[];
  unverified: string[];
}

export function judgeHealth(inv: Inventory): Health {
  const problems: string[] = [];
  const unverified: string[] = [];
  const s = inv.signals;
  const webhook = s.webhooks.find((w) => w.name === 'validation.gatekeeper.sh') ?? s.webhooks[0];
  if (!webhook) {
    if (inv.incomplete.includes('webhooks')) unverified.push(`the validating webhook configurations could not be read (${PERMISSION_HINT})`);
    else problems.push('no Gatekeeper validating webhook is registered: nothing is enforced at admission');
  } else {
    if (webhook.failurePolicy === 'Ignore') problems.push(`webhook ${webhook.name} has failurePolicy Ignore: requests are admitted when Gatekeeper is down`);
    if (webhook.service) {
      const svc = s.services.find((x) => x.namespace === webhook.service!.namespace && x.name === webhook.service!.name);
      if (svc?.found === false)
        problems.push(`the webhook's Service ${webhook.service.namespace}/${webhook.service.name} does not exist: every admission call fails`);
      else if (!svc || svc.found === null)
        unverified.push(`the webhook's Service ${webhook.service.namespace}/${webhook.service.name} could not be read (${PERMISSION_HINT})`);
    }
  }
  const notReady = s.pods.filter((p) => !p.ready);
  if (notReady.length) problems.push(`${notReady.length} Gatekeeper pod(s) not ready: ${notReady.map((p) => `${p.namespace}/${p.name}`).join(', ')}`);
  for (const role of ['webhook', 'audit'] as const) {
    const what = role === 'webhook' ? 'controller (webhook) pod' : 'audit pod';
    if (s.pods.some((p) => p.role === role && p.ready)) continue;
    if (inv.incomplete.includes('workloads')) unverified.push(`no ready Gatekeeper ${what} was seen: the pods could not be listed (${PERMISSION_HINT})`);
    else if (s.pods.some((p) => p.role === role))
      continue; // seen, not ready: already a problem
    else
      unverified.push(
        `no ready Gatekeeper ${what} was seen (label gatekeeper.sh/operation=${role} in ${inv.namespace ?? 'the Gatekeeper ' + 'namespaces'})` +
          `${webhook && !webhook.service ? `; the webhook is served from ${webhook.target}, outside the pods the scan can see` : ''}`,
      );
  }
  for (const d of s.deployments) if (d.ready < d.desired) problems.push(`deployment ${d.namespace}/${d.name}: ${d.ready}/${d.desired} ready`);
  const notCreated = inv.templates.filter((t) => t.created !== true);
  if (notCreated.length)
    problems.push(
      `${notCreated.length} template(s) not created: ${notCreated.map((t) => `${t.name}${t.errors.length ? ` (${t.errors.join('; ')})` : ''}`).join(', ')}`,
    );
  const notEnforced = inv.constraints.filter((c) => !c.enforced.length || c.enforced.some((e) => !e));
  if (notEnforced.length)
    problems.push(`${notEnforced.length} constraint(s) not reported enforced by every Gatekeeper pod: ${notEnforced.map((c) => c.name).join(', ')}`);
  if (inv.incomplete.includes('templates')) unverified.push(`the constraint templates could not be listed (${PERMISSION_HINT})`);
  return { healthy: problems.length ? false : unverified.length ? null : true, problems, unverified };
}

export function judgeLight(inv: Inventory, stackNamespaces: string[]): OpaLightReport {
  if (inv.installed === null) {
    return {
      score: null,
      summary: {
        installed: null,
        undecided:
          `could not decide whether Gatekeeper is installed: reads that could find it were refused or failed (${PERMISSION_HINT}); nothing ` +
          `was found by the reads that succeeded`,
      },
      results: { signals: inv.signals, incomplete: inv.incomplete },
    };
  }
  if (!inv.installed) {
    return {
      score: 0,
      summary: {
        installed: false,
        finding: 'Gatekeeper is not installed: no constrainttemplates CRD, no gatekeeper.sh validating webhook, no Gatekeeper deployment or pods were found',
      },
      results: { signals: inv.signals },
    };
  }

  const health = judgeHealth(inv);
  const webhook = inv.signals.webhooks.find((w) => w.name === 'validation.gatekeeper.sh') ?? inv.signals.webhooks[0];
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

  const byConstraint = new Map<string, { kind: string; total: number | null; violations: AuditedViolation[] }>();
  const byNamespace = new Map<string, { constraint: string; kind?: string; name?: string; message: string }[]>();
  for (const c of inv.constraints) {
    if (c.totalViolations || c.violations.length) byConstraint.set(c.name, { kind: c.kind, total: c.totalViolations, violations: c.violations });
    for (const v of c.violations) {
      const key = v.namespace ?? '(cluster)';
      let list = byNamespace.get(key);
      if (!list) byNamespace.set(key, (list = []));
      list.push({ constraint: c.name, kind: v.kind, name: v.name, message: v.message });
    }
  }

  const known = new Map(inv.namespaces.map((n) => [n.name, n]));
  const nsUnknown = inv.incomplete.includes('namespaces');
  const coverage = stackNamespaces.map((ns) => {
    const info = known.get(ns);
    const applies = info ? inv.constraints.filter((c) => c.enforcementAction !== 'dryrun' && matchesNamespace(c.match, info)).map((c) => c.name) : [];
    return { namespace: ns, exists: info ? true : nsUnknown ? null : false, constraints: applies };
  });
  const uncovered = coverage.filter((c) => c.exists === true && c.constraints.length === 0).map((c) => c.namespace);

  const constraintsUnknown = inv.incomplete.includes('constraints');
  const audited = inv.constraints.filter((c) => c.totalViolations !== null);
  const clean = audited.filter((c) => c.totalViolations === 0);
  const score = constraintsUnknown ? null : inv.constraints.length === 0 ? 0 : percent(clean.length, audited.length);
  const undecided = constraintsUnknown
    ? `the constraints could not all be listed (${PERMISSION_HINT}): a score over part of them could be wrong`
    : score === null
      ? 'no constraint has an audit result yet; the score needs at least one audit run'
      : undefined;

  return {
    score,
    summary: {
      installed: true,
      namespace: inv.namespace,
      healthy: health.healthy,
      ...(health.healthy === null ? { health_unverified: health.unverified } : {}),
      templates: inv.templates.length,
      constraints: inv.constraints.length,
      constraints_with_violations: audited.length - clean.length,
      constraints_not_audited: inv.constraints.length - audited.length,
      total_violations: audited.reduce((n, c) => n + (c.totalViolations ?? 0), 0),
      stack_namespaces: stackNamespaces.length,
      uncovered_namespaces: uncovered,
      ...(inv.constraints.length === 0 && !constraintsUnknown ? { finding: 'Gatekeeper is installed but no constraint exists: nothing is enforced' } : {}),
      ...(undecided ? { undecided } : {}),
    },
    results: {
      health: {
        problems: health.problems,
        unverified: health.unverified,
        webhook: webhook ?? null,
        pods: inv.signals.pods,
        deployments: inv.signals.deployments,
        services: inv.signals.services,
        crds: inv.signals.crds,
      },
      templates: { total: inv.templates.length, names: inv.templates.map((t) => t.name), items: inv.templates },
      constraints,
      violations: { by_constraint: record(byConstraint), by_namespace: record(byNamespace) },
      namespace_coverage: coverage,
      ...(inv.incomplete.length ? { incomplete: inv.incomplete } : {}),
    },
  };
}
