/**
 * The CI gate of the command line: `--fail-below SCORE` and `--fail-on LIST` over the finished
 * scans' scores and checks. Exit codes (docs/cli.md):
 *   0  every scan ran and decided, and no gate condition was met
 *   1  a gate condition was met (score below the threshold, a listed verdict, a failing check at or above a listed severity)
 *   2  a scan could not run or could not decide (score null); this wins over 1, since nothing can be vouched for
 */
import type { CheckSeverity } from '../scan/checks.ts';
import type { GateOutcome, GateSpec, ScanResult } from './types.ts';

export const SEVERITY_ORDER: readonly CheckSeverity[] = ['critical', 'high', 'medium', 'low', 'info'];

export type { GateOutcome, GateSpec };

export class GateUsageError extends Error {}

/** `SECURITY_RISK,NOT_ENFORCING,high`: severities by name (case-insensitive), anything else a verdict. */
export function parseFailOn(list: string): Pick<GateSpec, 'verdicts' | 'severity'> {
  const verdicts = new Set<string>();
  let severity: CheckSeverity | undefined;
  for (const raw of list.split(',')) {
    const t = raw.trim();
    if (!t) continue;
    const lower = t.toLowerCase() as CheckSeverity;
    if (SEVERITY_ORDER.includes(lower)) {
      if (!severity || SEVERITY_ORDER.indexOf(lower) > SEVERITY_ORDER.indexOf(severity)) severity = lower;
      continue;
    }
    if (!/^[A-Za-z][A-Za-z_-]{0,39}$/.test(t))
      throw new GateUsageError(
        `--fail-on: '${t.slice(0, 40)}' is neither a severity (${SEVERITY_ORDER.join(', ')}) nor a verdict (letters, _ and -, e.g. SECURITY_RISK, ALL-PORTS)`,
      );
    verdicts.add(t.toUpperCase());
  }
  if (!verdicts.size && !severity)
    throw new GateUsageError('--fail-on: give verdicts and/or severities separated by commas, e.g. SECURITY_RISK,NOT_ENFORCING,high');
  return { verdicts, ...(severity ? { severity } : {}) };
}

export function parseFailBelow(raw: string): number {
  const n = Number(raw);
  if (!/^\d+(\.\d+)?$/.test(raw.trim()) || n < 0 || n > 100) throw new GateUsageError(`--fail-below: a score from 0 to 100; got '${raw.slice(0, 40)}'`);
  return n;
}

export function evaluateGate(results: ScanResult[], spec: GateSpec): GateOutcome {
  const undecided: string[] = [];
  const failed: string[] = [];
  for (const r of results) {
    const name = `${r.scan} (${r.mode})`;
    if (!r.report) {
      undecided.push(`${name}: could not run: ${r.failure?.info.message ?? 'unknown error'}`);
      continue;
    }
    if (r.report.score === null) {
      const errs = r.report.errors;
      const why = errs.length ? `${errs[0].step}: ${errs[0].message}${errs.length > 1 ? ` (and ${errs.length - 1} more errors)` : ''}` : '';
      undecided.push(`${name}: could not decide (no score)${why ? `: ${why}` : ''}`);
      continue;
    }
    if (spec.failBelow !== undefined && r.report.score < spec.failBelow) failed.push(`${name}: score ${r.report.score} is below ${spec.failBelow}`);
    const byVerdict = new Map<string, number>();
    let atSeverity = 0;
    for (const c of r.checks) {
      const v = c.verdict.toUpperCase();
      if (spec.verdicts.has(v)) byVerdict.set(v, (byVerdict.get(v) ?? 0) + 1);
      if (spec.severity && c.result === 'fail' && SEVERITY_ORDER.indexOf(c.severity) <= SEVERITY_ORDER.indexOf(spec.severity)) atSeverity++;
    }
    for (const [v, n] of byVerdict) failed.push(`${name}: ${n} check(s) with verdict ${v}`);
    if (atSeverity) failed.push(`${name}: ${atSeverity} failing check(s) of severity ${spec.severity} or worse`);
  }
  return { exitCode: undecided.length ? 2 : failed.length ? 1 : 0, reasons: [...undecided, ...failed], spec };
}
