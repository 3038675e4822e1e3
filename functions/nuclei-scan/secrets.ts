/**
 * Secrets from the metadata (passwords, tokens, keys: Stacktic puts them in component
 * and link attributes) must never appear in a report or a log line, even when a
 * scanned service leaks them back (a `.git/config` with credentials, a banner).
 * Pure: collect the values, then replace every occurrence with `[redacted]`.
 */
const SECRET_KEY = /pass|secret|token|api_?key|private_?key|access_?key|_key$|credential|^auth|huggingface/i;
const NOT_SECRET = new Set(['true', 'false', 'null', 'none', 'default value', 'xxx', 'changeme-not-set']);
export const REDACTED = '[redacted]';

/** Every string value under a secret-like key, anywhere in the parsed metadata. */
export function collectSecrets(doc: unknown): string[] {
  const out = new Set<string>();
  const walk = (x: unknown, depth: number, underSecret: boolean) => {
    if (depth > 64 || x === null || x === undefined) return;
    if (typeof x === 'string' || typeof x === 'number') {
      const s = String(x).trim();
      if (underSecret && s.length >= 4 && !NOT_SECRET.has(s.toLowerCase())) out.add(s);
      return;
    }
    if (Array.isArray(x)) {
      for (const v of x) walk(v, depth + 1, underSecret);
      return;
    }
    if (typeof x === 'object') for (const [k, v] of Object.entries(x as Record<string, unknown>)) walk(v, depth + 1, underSecret || SECRET_KEY.test(k));
  };
  walk(doc, 0, false);
  // Longest first, so a secret containing another is replaced whole.
  return [...out].sort((a, b) => b.length - a.length);
}

export function redact(s: string, secrets: readonly string[]): string {
  let out = s;
  for (const sec of secrets) if (out.includes(sec)) out = out.split(sec).join(REDACTED);
  return out;
}

/** A deep copy with every string redacted (objects are plain JSON data). */
export function redactDeep<T>(value: T, secrets: readonly string[]): T {
  if (!secrets.length) return value;
  const walk = (x: unknown): unknown => {
    if (typeof x === 'string') return redact(x, secrets);
    if (Array.isArray(x)) return x.map(walk);
    if (x && typeof x === 'object') {
      const o: Record<string, unknown> = {};
      // defineProperty: a key named __proto__ stays an own property.
      for (const [k, v] of Object.entries(x as Record<string, unknown>))
        Object.defineProperty(o, k, { value: walk(v), enumerable: true, writable: true, configurable: true });
      return o;
    }
    return x;
  };
  return walk(value) as T;
}
