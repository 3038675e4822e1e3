/**
 * Judging nuclei's events (pure): attribute every event to the planned target(s) it
 * came from, decide which targets were reached, collect findings, score.
 *
 * Reached: a match, or a template run without an error that names the address nuclei
 * connected to (`ip`; `-ms` reports non-matches too). Seen in real output: a non-match on
 * a closed port sometimes comes without an error but also without `ip`, so such events
 * decide nothing. Unreachable: errors only (e.g. `port closed or filtered`, `host was
 * skipped as it was found unresponsive`); errors about the template itself are ignored
 * and an error quoting the target's answer counts as reached (TEMPLATE_ERROR, ANSWERED).
 * Nothing decisive: undecided (null).
 *
 * Score (documented in the README): severity weights critical 40, high 20, medium 8,
 * low 3, info/unknown 0. Each reached target scores max(0, 100 − Σ weights of its
 * distinct findings (one per template)); the scan's score is the mean over reached
 * targets, capped at 40 when any critical finding exists and at 70 when any high one
 * does. null when no target was reached. A finding of a known false positive
 * (false-positives.ts) is kept, marked `informational` with the reason, and counts
 * neither in the score nor in `summary.findings` (it is in `summary.informational`).
 */
import type { ReportError } from '../../lib/errors.ts';
import type { NucleiEvent } from './nuclei.ts';
import type { Plan } from './plan.ts';
import { falsePositiveRule } from './false-positives.ts';

export const SEVERITIES = ['critical', 'high', 'medium', 'low', 'info', 'unknown'] as const;
export type Severity = (typeof SEVERITIES)[number];
export const SEVERITY_WEIGHT: Readonly<Record<Severity, number>> = { critical: 40, high: 20, medium: 8, low: 3, info: 0, unknown: 0 };
export const CAP_CRITICAL = 40;
export const CAP_HIGH = 70;

export interface Finding {
  template_id: string;
  name: string;
  severity: Severity;
  tags: string[];
  /** Where nuclei matched (the scanned address). */
  matched_at: string;
  /** The topology's address of the target. */
  target: string;
  component: string;
  namespace: string | null;
  description?: string;
  references: string[];
  extracted: string[];
  matcher_name?: string;
  /** One line saying what nuclei saw: matcher, extracted values, where. */
  evidence: string;
  /** A known false positive in this situation: reported, not scored (`note` says why). */
  informational?: true;
  note?: string;
  request?: string;
  response?: string;
}

export interface TargetResult {
  component: string;
  namespace: string | null;
  kind: 'route' | 'service';
  url: string;
  scanned_as?: string;
  protocol: string;
  tags: string[];
  /** true reached, false unreachable or not scanned, null nuclei reported nothing for it. */
  reached: boolean | null;
  findings: number;
  error?: string;
  note?: string;
}

/** `host:port` (lower case) of a URL or host:port string; the scheme gives the default port. */
export function endpointKey(s: string | undefined, fallbackPort?: string): string | undefined {
  if (!s) return undefined;
  const url = /^([a-z][a-z0-9+.-]*):\/\/(\[[^\]]+\]|[^/:?#\s]+)(?::(\d+))?/i.exec(s);
  if (url) {
    const port = url[3] ?? (url[1].toLowerCase() === 'https' ? '443' : url[1].toLowerCase() === 'http' ? '80' : fallbackPort);
    return port ? `${url[2].toLowerCase()}:${Number(port)}` : undefined;
  }
  const hp = /^(\[[^\]]+\]|[^/:?#\s]+):(\d+)(?:$|[/?#])/.exec(s);
  if (hp) return `${hp[1].toLowerCase()}:${Number(hp[2])}`;
  if (fallbackPort && /^[^/:?#\s]+$/.test(s)) return `${s.toLowerCase()}:${Number(fallbackPort)}`;
  if (fallbackPort && /^\[[^\]]+\]$/.test(s)) return `${s.toLowerCase()}:${Number(fallbackPort)}`;
  return undefined;
}

/** The nuclei input an event belongs to, trying its url, matched-at, host(+port) and ip(+port). */
export function attribute(ev: NucleiEvent, byKey: Map<string, string>): string | undefined {
  const ipKey = ev.ip && ev.port ? (ev.ip.includes(':') ? `[${ev.ip}]` : ev.ip) : undefined;
  const candidates = [
    endpointKey(ev.url, ev.port),
    endpointKey(ev.matchedAt, ev.port),
    endpointKey(ev.host, ev.port),
    ipKey ? endpointKey(ipKey, ev.port) : undefined,
  ];
  for (const k of candidates) {
    if (k && byKey.has(k)) return byKey.get(k);
  }
  return undefined;
}

/**
 * Errors about the template, not the target (seen with nuclei v3.10.0 on the community
 * templates): `{{DN}}`/`{{SD}}` are empty for an IP target ("unresolved variables"), an
 * out-of-band template without interactsh ("interactsh client not initialized"; nuclei
 * then sends nothing). They decide nothing about reachability.
 */
const TEMPLATE_ERROR = /unresolved variables|interactsh client not initialized/i;
/** Errors that quote the target's own answer: it was reached (redis `NOAUTH`). */
const ANSWERED = /\bNOAUTH\b/;

interface InputState {
  ok: number;
  errors: number;
  firstError?: string;
  matches: NucleiEvent[];
}

/** Accumulates streamed events; `result()` is the judgement at any point (also after an abort). */
export class Judge {
  private readonly byKey = new Map<string, string>();
  private readonly state = new Map<string, InputState>();
  readonly templates = new Set<string>();
  unattributed = 0;
  constructor(
    readonly plan: Plan,
    private readonly includeRaw = false,
    /** Inputs not scanned because no template applies to them, with the reason. */
    private readonly noTemplates: ReadonlyMap<string, string> = new Map(),
  ) {
    for (const input of plan.inputs.keys()) {
      const k = endpointKey(input);
      if (k) this.byKey.set(k, input);
      this.state.set(input, { ok: 0, errors: 0, matches: [] });
    }
  }

  add(ev: NucleiEvent): void {
    this.templates.add(ev.templateId);
    const input = attribute(ev, this.byKey);
    const st = input ? this.state.get(input) : undefined;
    if (!st) {
      this.unattributed++;
      return;
    }
    if (ev.matcherStatus) st.matches.push(ev);
    else if (ev.error && ANSWERED.test(ev.error)) st.ok++;
    else if (ev.error && TEMPLATE_ERROR.test(ev.error)) return;
    else if (ev.error) {
      st.errors++;
      st.firstError ??= ev.error;
    } else if (ev.ip) st.ok++;
  }

  result(): Judgement {
    return judge(this.plan, this.state, this.templates.size, this.includeRaw, this.noTemplates);
  }
}

export interface Judgement {
  score: number | null;
  summary: {
    targets: number;
    reached: number;
    unreachable: number;
    not_scanned: number;
    undecided: number;
    findings: Record<Severity, number>;
    findings_total: number;
    /** Findings that are known false positives here (not scored). */
    informational: number;
    templates_run: number;
  };
  targets: TargetResult[];
  findings: Finding[];
  errors: ReportError[];
}

function severityOf(s: string): Severity {
  return (SEVERITIES as readonly string[]).includes(s) ? (s as Severity) : 'unknown';
}

/** Pure: the evidence line of a match. */
export function evidenceOf(ev: NucleiEvent): string {
  const parts: string[] = [];
  if (ev.matcherName) parts.push(`matcher '${ev.matcherName}'`);
  if (ev.extracted.length) parts.push(`extracted ${ev.extracted.map((x) => (x.length > 200 ? `${x.slice(0, 200)}…` : x)).join(', ')}`);
  const at = ev.matchedAt ?? ev.url ?? ev.host;
  return `${ev.type} template ${ev.templateId} matched${at ? ` at ${at}` : ''}${parts.length ? `: ${parts.join('; ')}` : ''}`;
}

function judge(plan: Plan, state: Map<string, InputState>, templatesRun: number, includeRaw: boolean, noTemplates: ReadonlyMap<string, string>): Judgement {
  const findings: Finding[] = [];
  const errors: ReportError[] = [];
  const targets: TargetResult[] = [];
  const counts = Object.fromEntries(SEVERITIES.map((s) => [s, 0])) as Record<Severity, number>;
  const targetScores: number[] = [];
  let reached = 0;
  let unreachable = 0;
  let notScanned = 0;
  let undecided = 0;
  let informational = 0;

  for (const t of plan.targets) {
    const base = {
      component: t.component,
      namespace: t.namespace,
      kind: t.kind,
      url: t.url,
      protocol: t.protocol,
      tags: t.tags,
      ...(t.note ? { note: t.note } : {}),
    };
    if (!t.input) {
      notScanned++;
      targets.push({ ...base, reached: false, findings: 0, error: t.unresolved });
      errors.push({
        step: `address ${t.url}`,
        code: 'unresolved',
        message: `${t.component} (${t.namespace ?? 'no namespace'}) at ${t.url} was not scanned: ${t.unresolved}`,
      });
      continue;
    }
    const st = state.get(t.input)!;
    const isReached = st.ok > 0 || st.matches.length > 0;
    const seen = new Set<string>();
    const perTemplate = new Map<string, Severity>();
    const matchedHere = new Set(st.matches.map((e) => e.templateId));
    for (const ev of st.matches) {
      const key = `${ev.templateId}\u0000${ev.matcherName ?? ''}\u0000${ev.matchedAt ?? ''}\u0000${ev.extracted.join('\u0000')}`;
      if (seen.has(key)) continue;
      seen.add(key);
      const severity = severityOf(ev.severity);
      const fp = falsePositiveRule(ev.templateId, matchedHere);
      if (fp) informational++;
      else {
        perTemplate.set(ev.templateId, severity);
        counts[severity]++;
      }
      findings.push({
        template_id: ev.templateId,
        name: ev.name,
        severity,
        tags: ev.tags,
        matched_at: ev.matchedAt ?? ev.url ?? ev.host ?? t.input,
        target: t.url,
        component: t.component,
        namespace: t.namespace,
        ...(ev.description ? { description: ev.description } : {}),
        references: ev.references,
        extracted: ev.extracted,
        ...(ev.matcherName ? { matcher_name: ev.matcherName } : {}),
        evidence: evidenceOf(ev),
        ...(fp ? { informational: true as const, note: fp.reason } : {}),
        ...(includeRaw && ev.request ? { request: ev.request.slice(0, 4096) } : {}),
        ...(includeRaw && ev.response ? { response: ev.response.slice(0, 4096) } : {}),
      });
    }
    let error: string | undefined;
    if (isReached) {
      reached++;
      targetScores.push(Math.max(0, 100 - [...perTemplate.values()].reduce((a, s) => a + SEVERITY_WEIGHT[s], 0)));
    } else if (noTemplates.has(t.input)) {
      undecided++;
      error = noTemplates.get(t.input);
    } else if (st.errors > 0) {
      unreachable++;
      error = st.firstError;
      errors.push({
        step: `reach ${t.url}`,
        code: 'unreachable',
        message: `${t.component} (${t.namespace ?? 'no namespace'}) at ${t.url} could not be reached by nuclei: ${st.firstError}`,
      });
    } else {
      undecided++;
      error = 'nuclei reported nothing decisive for this target (no template connected to it, and no error)';
    }
    targets.push({
      ...base,
      ...(t.input !== t.url ? { scanned_as: t.input } : {}),
      reached: isReached ? true : st.errors > 0 ? false : null,
      findings: perTemplate.size,
      ...(error ? { error } : {}),
    });
  }

  let score: number | null = null;
  if (targetScores.length) {
    score = Math.round(targetScores.reduce((a, b) => a + b, 0) / targetScores.length);
    if (counts.critical > 0) score = Math.min(score, CAP_CRITICAL);
    else if (counts.high > 0) score = Math.min(score, CAP_HIGH);
  }
  return {
    score,
    summary: {
      targets: plan.targets.length,
      reached,
      unreachable,
      not_scanned: notScanned,
      undecided,
      findings: counts,
      findings_total: findings.length,
      informational,
      templates_run: templatesRun,
    },
    targets,
    findings,
    errors,
  };
}
