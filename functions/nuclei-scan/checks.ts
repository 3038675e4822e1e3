/**
 * The nuclei scan's report as checks (lib/scan/checks.ts), for every mode.
 *
 * | report entry       | policy                      | rule                            | result                                               |
 * | results.targets[]  | `reachability`              | the target's address            | reached → pass; unreachable or nothing decisive → error |
 * |                    |                             |                                 |   (could not decide); not scanned (no address) → skip |
 * | findings[]         | the template id             | the matcher name (or `match`)   | critical … low → fail; info, unknown → warn;          |
 * |                    |                             |                                 |   a known false positive (`informational`) → warn     |
 *
 * Ids: template, matcher and where it matched: the target as the topology names it, the path of the
 * matched-at URL (never its host and port: SCAN_HOST_MAP may map the target elsewhere from one run to
 * the next), and the extracted values (another exposed version is another problem).
 */
import { checkId, oneLine, props, severityOf, uniqueIds } from '../../lib/scan/check-id.ts';
import type { Check, CheckResult } from '../../lib/scan/checks.ts';
import type { ScanReport } from '../../lib/scan/scaffold.ts';
import type { Finding, TargetResult } from './judge.ts';

const SCAN = 'nuclei';

function targetCheck(t: TargetResult, unresolved: ReadonlySet<string>): Check {
  // An address that could not be resolved was never given to nuclei: skipped, not undecided.
  const result: CheckResult = t.reached === true ? 'pass' : unresolved.has(t.url) ? 'skip' : 'error';
  const verdict = t.reached === true ? 'REACHED' : result === 'skip' ? 'NOT_SCANNED' : t.reached === null ? 'UNDECIDED' : 'UNREACHABLE';
  return {
    id: checkId(SCAN, 'reachability', t.url, t.component, t.namespace),
    policy: 'reachability',
    rule: t.url,
    result,
    verdict,
    severity: 'info',
    ...(t.namespace ? { namespace: t.namespace } : {}),
    resources: t.namespace ? [{ apiVersion: 'v1', kind: 'Service', namespace: t.namespace, name: t.component }] : [],
    message: oneLine(
      t.reached === true
        ? `${t.component} at ${t.url} was reached (${t.findings} template(s) matched)`
        : `${t.component} at ${t.url}: ${t.error ?? 'not reached'}`,
    ),
    properties: props({ verdict, kind: t.kind, protocol: t.protocol, scanned_as: t.scanned_as, tags: t.tags, note: t.note }),
  };
}

/** The part of a matched-at address that names the problem, not where the target happened to be mapped. */
export function matchedPath(at: string): string {
  try {
    const u = new URL(at);
    if (u.host) return `${u.pathname}${u.search}`;
  } catch {
    /* host:port */
  }
  return /^[^/]*:\d+$/.test(at) ? '' : at;
}

function findingCheck(f: Finding): Check {
  const rule = f.matcher_name ?? 'match';
  const severity = severityOf(f.severity);
  return {
    id: checkId(SCAN, f.template_id, rule, f.component, f.namespace, f.target, matchedPath(f.matched_at), [...f.extracted].sort().join('\u0001')),
    policy: f.template_id,
    rule,
    title: f.name,
    ...(f.description ? { help: oneLine(f.description) } : {}),
    result: severity === 'info' || f.informational ? 'warn' : 'fail',
    verdict: f.severity.toUpperCase(),
    severity,
    ...(f.namespace ? { namespace: f.namespace } : {}),
    resources: f.namespace ? [{ apiVersion: 'v1', kind: 'Service', namespace: f.namespace, name: f.component }] : [],
    message: oneLine(`${f.name} (${f.template_id}) at ${f.matched_at}${f.informational ? ` (informational: ${f.note})` : ''}`),
    properties: props({
      verdict: f.severity.toUpperCase(),
      informational: f.informational,
      note: f.note,
      component: f.component,
      target: f.target,
      matched_at: f.matched_at,
      tags: f.tags,
      references: f.references.slice(0, 5),
      evidence: f.extracted.slice(0, 10),
    }),
  };
}

export function nucleiChecks(report: ScanReport): Check[] {
  const results = (report.results ?? {}) as { targets?: TargetResult[] };
  const unresolved = new Set(
    report.errors.filter((e) => e.code === 'unresolved' && e.step?.startsWith('address ')).map((e) => e.step!.slice('address '.length)),
  );
  return uniqueIds([...(results.targets ?? []).map((t) => targetCheck(t, unresolved)), ...((report.findings ?? []) as Finding[]).map(findingCheck)]);
}
