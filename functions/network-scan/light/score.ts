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
 * @param worstOfExpected the worst finding on the live policy an expected policy (by index) matched
 * @param extraWorst the worst finding on each live policy that matched nothing expected
 */
export function lightScore(
  results: readonly ExpectedResult[],
  worstOfExpected: (i: number) => Severity | 'none',
  extraWorst: readonly (Severity | 'none')[],
): { score: number | null; terms: LightReport['results']['score_terms'] } {
  let value = 0;
  results.forEach((r, i) => {
    if (isFound(r.status)) value += SEVERITY_VALUE[worstOfExpected(i)];
  });
  let extraWithFindings = 0;
  for (const w of extraWorst) {
    if (w === 'none' || w === 'info') continue;
    extraWithFindings++;
    value += SEVERITY_VALUE[w];
  }
  const counted = results.length + extraWithFindings;
  return {
    score: counted ? Math.round((1000 * value) / counted) / 10 : null,
    terms: { policies_counted: counted, value: Math.round(value * 100) / 100, extra_with_findings: extraWithFindings },
  };
}
