/** Score arithmetic every scan shares: 0–100 with one decimal, null when undecided. */

/** Round to one decimal. */
export function round1(x: number): number {
  return Math.round(x * 10) / 10;
}

/** 100 × part / whole, one decimal; null when whole is 0 (nothing to decide on). */
export function percent(part: number, whole: number): number | null {
  return whole > 0 ? round1((100 * part) / whole) : null;
}

/**
 * The mean of the scores that are decided (non-null), one decimal; null when none is.
 * A full mode's score is the mean of its light score and its test score: either alone
 * when the other could not be decided.
 */
export function mergeScores(...scores: (number | null | undefined)[]): number | null {
  const decided = scores.filter((s): s is number => typeof s === 'number' && Number.isFinite(s));
  return decided.length ? round1(decided.reduce((a, b) => a + b, 0) / decided.length) : null;
}
