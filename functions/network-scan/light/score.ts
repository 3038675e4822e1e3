/**
 * The light score: each expected policy counts the value of its worst rule finding when it is found
 * (or renamed), nothing when drifted or missing; a live policy that matched nothing expected counts
 * too when it has a finding worse than info. Score = 100 × value / policies counted, one decimal.
 */
import type { NetworkPolicy } from '../../../lib/k8s/networkpolicy.ts';
import { isFound } from './match.ts';
import { worst } from './rules.ts';
import type { ExpectedResult, LightReport, RuleFinding, Severity } from './types.ts';

/** Score weight of a found policy by the worst finding on it (documented in the README). */
export const SEVERITY_VALUE: Readonly<Record<Severity | 'none', number>> = Object.freeze({ none: 1, info: 1, low: 0.75, medium: 0.5, high: 0.25, critical: 0 });

export function lightScore(
  results: readonly ExpectedResult[],
  claimed: ReadonlyMap<NetworkPolicy, number>,
  extraPolicies: readonly NetworkPolicy[],
  findingsOf: ReadonlyMap<NetworkPolicy, RuleFinding[]>,
): { score: number | null; terms: LightReport['results']['score_terms'] } {
  const worstOfExpected = new Map<number, Severity | 'none'>();
  for (const [p, i] of claimed) worstOfExpected.set(i, worst(findingsOf.get(p) ?? []));
  let value = 0;
  results.forEach((r, i) => {
    if (isFound(r.status)) value += SEVERITY_VALUE[worstOfExpected.get(i) ?? 'none'];
  });
  let extraWithFindings = 0;
  for (const p of extraPolicies) {
    const w = worst(findingsOf.get(p) ?? []);
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
