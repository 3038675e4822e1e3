/**
 * The demo's last check: every JSON report it wrote to reports/ matches its scan's published
 * JSON Schema (schema/<scan>-report.schema.json, checked by ajv through schema/validate.ts).
 * Error bodies (a non-200 answer, already counted as a failure where it was written) are skipped.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { reportProblems } from '../schema/validate.ts';

/** Checks each reports/*.json; prints one line per report and returns false when any is invalid. */
export function validateReports(dir: string, log: (s: string) => void = console.log): boolean {
  let files: string[];
  try {
    files = readdirSync(dir)
      .filter((f) => f.endsWith('.json'))
      .sort();
  } catch {
    return true;
  }
  let ok = true;
  let checked = 0;
  for (const f of files) {
    let body: unknown;
    try {
      body = JSON.parse(readFileSync(join(dir, f), 'utf8'));
    } catch (e) {
      log(`report ${f}: not JSON (${(e as Error).message})`);
      ok = false;
      continue;
    }
    if (!body || typeof body !== 'object' || !('scan' in body)) continue;
    checked++;
    const problems = reportProblems(body);
    if (problems.length) {
      ok = false;
      log(`report ${f} does NOT match schema/${(body as { scan: string }).scan}-report.schema.json:\n  ${problems.slice(0, 10).join('\n  ')}`);
    }
  }
  log(
    ok
      ? `${checked} JSON reports match their published schemas (schema/*-report.schema.json)`
      : 'some JSON reports do not match their published schemas (above)',
  );
  return ok;
}
