/** Seeded, reproducible sampling for bounded test plans (a scan that tests a sample says which seed). */

/** mulberry32: a small seeded PRNG, so samples are reproducible. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A seeded, reproducible sample of n items (Fisher–Yates on a copy). */
export function sample<T>(items: T[], n: number, seed: number): T[] {
  if (items.length <= n) return items;
  const a = [...items];
  const rnd = prng(seed);
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(rnd() * (i + 1));
    [a[i], a[j]] = [a[j], a[i]];
  }
  return a.slice(0, n);
}
