/**
 * The light score: each expected policy counts the value of its worst rule finding when it is found
 * (or renamed), nothing when drifted or missing; a live policy that matched nothing expected counts
 * too when it has a finding worse than info. Score = 100 × value / policies counted, one decimal.
 */
import { isFound } from './match.ts';
import type { ExpectedResult, LightReport, Severity } from './types.ts';

/** Score weight of a found policy by the worst finding on it (documented in the README). */
export const SEVERITY_VALUE: Readonly<Record<Severity | 'none', number>> = Object.freeze({ none: 1, info: 1, low: 0.75, medium: 0.5, high: 0.25, critical: 0 });

/**
 * The value the found (or renamed) expected policies of `results` contribute. Values are multiples
 * of 0.25, so sums of them are exact in any order: namespaces are summed apart and added up.
 */
export function foundValue(results: Iterable<[number, ExpectedResult]>, worstOfExpected: (i: number) => Severity | 'none'): number {
  let value = 0;
  for (const [i, r] of results) if (isFound(r.status)) value += SEVERITY_VALUE[worstOfExpected(i)];
  return value;
}

/**
 * @param expected how many expected policies there are
 * @param value what the found ones contribute (foundValue)
 * @param extraWorst the worst finding on each live policy that matched nothing expected
 */
export function lightScore(
  expected: number,
  value: number,
  extraWorst: readonly (Severity | 'none')[],
): { score: number | null; terms: LightReport['results']['score_terms'] } {
  let extraWithFindings = 0;
  for (const w of extraWorst) {
    if (w === 'none' || w === 'info') continue;
    extraWithFindings++;
    value += SEVERITY_VALUE[w];
  }
  const counted = expected + extraWithFindings;
  return {
    score: counted ? Math.round((1000 * value) / counted) / 10 : null,
    terms: { policies_counted: counted, value: Math.round(value * 100) / 100, extra_with_findings: extraWithFindings },
  };
}
