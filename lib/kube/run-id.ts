import { randomBytes } from 'node:crypto';

/**
 * A fresh run id, 6 lowercase hex digits (a valid label value and name part): on a run's scratch objects
 * (scratch.ts) and on its record in the run history (lib/openreports).
 */
export function newRunId(): string {
  return randomBytes(3).toString('hex');
}
