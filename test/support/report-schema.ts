/**
 * Every report a test produces is checked against its published JSON Schema
 * (schema/<scan>-report.schema.json, generated from functions/<scan>/report.ts) by ajv.
 */
import * as assert from 'uvu/assert';
import { reportProblems } from '../../schema/validate.ts';

/** Fails the test, listing the first violations, when the report does not match its scan's schema. */
export function assertReportValid(report: unknown, label = 'report'): void {
  const problems = reportProblems(report);
  if (problems.length) {
    const r = report as { scan?: string; scan_type?: string };
    assert.unreachable(
      `${label} (${r?.scan} ${r?.scan_type}) does not match schema/${r?.scan}-report.schema.json:\n  ` +
        `${problems.slice(0, 12).join('\n  ')}${problems.length > 12 ? `\n  … ${problems.length - 12} more` : ''}`,
    );
  }
}
