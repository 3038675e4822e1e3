/** Figures every bench reports: the median of a run series, and rounding for the printed ratios. */

/** The median (the mean of the two middle values for an even count). */
export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

/** `n` rounded to `d` decimals. */
export const round = (n: number, d = 2) => Math.round(n * 10 ** d) / 10 ** d;
