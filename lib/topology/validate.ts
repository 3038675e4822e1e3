/** valibot parsing whose failure lists every offending path of a file. */
import * as v from 'valibot';
import { ScanError } from '../errors.ts';
import type { FileRef } from './files.ts';

export function validateFile<S extends v.GenericSchema>(schema: S, value: unknown, ref: FileRef, what: string): v.InferOutput<S> {
  const result = v.safeParse(schema, value, { abortEarly: false });
  if (result.success) return result.output;
  const details = result.issues.map((issue) => ({
    path: v.getDotPath(issue) ?? '(root)',
    // Never echo the file's content: valibot's default messages end with "but received <value>".
    message: issue.message.replace(/,? but received .*$/s, ''),
  }));
  throw new ScanError(422, {
    code: 'schema_violation',
    message: `${ref.path} is not a valid ${what}: ${details.length} problem(s): ${details.map((d) => `${d.path}: ${d.message}`).join('; ')}`,
    file: ref.path,
    setting: ref.setting,
    details,
  });
}
