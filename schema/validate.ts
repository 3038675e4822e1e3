/**
 * Checks a report against its published JSON Schema (schema/<scan>-report.schema.json) with ajv,
 * a maintained JSON Schema validator (draft 2020-12, with ajv-formats for `date-time`). Used by
 * the tests (test/support/report-schema.ts) and the demo on every report they produce.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';

const compiled = new Map<string, ValidateFunction>();

function validatorFor(scan: string): ValidateFunction {
  let fn = compiled.get(scan);
  if (!fn) {
    const ajv = new Ajv2020({ allErrors: true, strict: false, discriminator: true });
    addFormats.default(ajv);
    fn = ajv.compile(JSON.parse(readFileSync(join(import.meta.dirname, `${scan}-report.schema.json`), 'utf8')));
    compiled.set(scan, fn);
  }
  return fn;
}

/** The schema violations of a report (empty when valid), each as `path: message`, the shortest first. */
export function reportProblems(report: unknown): string[] {
  const scan = (report as { scan?: unknown } | null)?.scan;
  if (typeof scan !== 'string' || !/^[a-z]+$/.test(scan)) return [`/scan: not a scan name (${JSON.stringify(scan)?.slice(0, 40)})`];
  let validate: ValidateFunction;
  try {
    validate = validatorFor(scan);
  } catch (e) {
    return [`no schema for the ${scan} scan: ${(e as Error).message}`];
  }
  if (validate(report)) return [];
  const seen = new Set<string>();
  const out: string[] = [];
  for (const e of validate.errors ?? []) {
    const line =
      `${e.instancePath || '/'}: ${e.message}` +
      `${e.params && 'additionalProperty' in e.params ? ` '${String(e.params.additionalProperty)}'` : ''}` +
      `${e.params && 'allowedValues' in e.params ? ` ${JSON.stringify(e.params.allowedValues)}` : ''}`;
    if (!seen.has(line)) out.push(line), seen.add(line);
  }
  return out.sort((a, b) => a.length - b.length);
}
