/** The readable summary (the command line's default on a terminal): per scan its score, counts, worst checks and errors; then the gate. */
import type { Check } from '../../scan/checks.ts';
import { SEVERITY_ORDER } from '../gate.ts';
import type { RenderOptions, ScanResult } from '../types.ts';

const MAX_LISTED = 20;

/** The summary's scalar counts, one line (nested counts such as rule_findings by severity are flattened). */
function counts(summary: Record<string, unknown>): string {
  const parts: string[] = [];
  for (const [k, v] of Object.entries(summary)) {
    if (typeof v === 'number' || typeof v === 'boolean') parts.push(`${k.replace(/_/g, ' ')} ${v}`);
    else if (v && typeof v === 'object' && !Array.isArray(v)) {
      const inner = Object.entries(v)
        .filter(([, x]) => typeof x === 'number' && x > 0)
        .map(([ik, x]) => `${ik} ${x}`);
      if (inner.length) parts.push(`${k.replace(/_/g, ' ')}: ${inner.join(', ')}`);
    }
  }
  return parts.join(' · ');
}

const rank = (c: Check) => SEVERITY_ORDER.indexOf(c.severity);

export function renderTable(results: ScanResult[], opts: RenderOptions = {}): string {
  const out: string[] = [];
  for (const r of results) {
    const head = `${r.scan} (${r.mode})`;
    if (!r.report) {
      out.push(
        `${head}: could not run — ${r.failure!.info.message}` +
          `${r.failure!.info.file ? ` [${r.failure!.info.file}${r.failure!.info.line ? `:${r.failure!.info.line}` : ''}]` : ''}`,
        '',
      );
      continue;
    }
    const rep = r.report;
    out.push(`${head}: score ${rep.score ?? 'none (could not decide)'} in ${rep.duration_ms} ms`);
    const line = counts(rep.summary);
    if (line) out.push(`  ${line}`);
    const by = new Map<string, number>();
    for (const c of r.checks) by.set(c.result, (by.get(c.result) ?? 0) + 1);
    out.push(`  checks: ${r.checks.length}${by.size ? ` (${[...by].map(([k, n]) => `${k} ${n}`).join(', ')})` : ''}`);
    const bad = r.checks.filter((c) => c.result === 'fail' || c.result === 'error' || c.result === 'warn').sort((a, b) => rank(a) - rank(b));
    for (const c of bad.slice(0, MAX_LISTED)) {
      const where = c.location ? ` [${c.location.file}${c.location.line ? `:${c.location.line}` : ''}]` : c.namespace ? ` [${c.namespace}]` : '';
      out.push(`  ${c.severity.padEnd(8)} ${c.verdict.padEnd(14)} ${c.policy}${c.rule ? ` ${c.rule}` : ''}${where}`);
      out.push(`           ${c.message}`);
    }
    if (bad.length > MAX_LISTED) out.push(`  … and ${bad.length - MAX_LISTED} more (see --format json, sarif, junit or html)`);
    for (const e of rep.errors) out.push(`  error: ${e.step}: ${e.message}`);
    out.push('');
  }
  if (opts.gate) {
    const g = opts.gate;
    out.push(g.exitCode === 0 ? 'gate: passed' : `gate: ${g.exitCode === 1 ? 'FAILED' : 'could not decide'}`);
    for (const why of g.reasons) out.push(`  ${why}`);
  }
  return `${out.join('\n')}\n`;
}
