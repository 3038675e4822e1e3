/**
 * The generator registry: one Generator per constraint template kind.
 * Adding a kind: write it in library.ts / stacktic.ts (or a new file) and list it here.
 */
import type { Constraint, Generator, Resource } from './types.ts';
import { LIBRARY_GENERATORS } from './library.ts';
import { STACKTIC_GENERATORS } from './stacktic.ts';

export const GENERATORS: readonly Generator[] = [...LIBRARY_GENERATORS, ...STACKTIC_GENERATORS];

const BY_KIND = new Map<string, Generator>(GENERATORS.map((g) => [g.kind, g]));
if (BY_KIND.size !== GENERATORS.length) throw new Error('two generators claim the same template kind');

/** The generator for a constraint template kind (e.g. K8sRequiredLabels), or undefined. */
export function generatorFor(kind: string): Generator | undefined {
  return BY_KIND.get(kind);
}

/**
 * Apply `comply` of every constraint (that has a generator) to `r` until a whole
 * round changes nothing, at most `maxRounds` rounds. `stable` is false when the
 * constraints keep undoing each other (they contradict: no resource satisfies all
 * of them). Comparing each comply's output with its input matters: two constraints
 * can undo each other within one round and end the round where it started.
 * Matching (which constraints apply to r) is the caller's job.
 */
export function complyAll(r: Resource, constraints: readonly Constraint[], maxRounds = 6): { resource: Resource; stable: boolean } {
  let cur = r;
  for (let round = 0; round < maxRounds; round++) {
    let changed = false;
    for (const c of constraints) {
      const g = generatorFor(c.kind);
      if (!g || g.auditOnly?.(c)) continue;
      const before = JSON.stringify(cur);
      cur = g.comply(cur, c);
      if (JSON.stringify(cur) !== before) changed = true;
    }
    if (!changed) return { resource: cur, stable: true };
  }
  return { resource: cur, stable: false };
}
