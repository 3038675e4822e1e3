/**
 * Helpers the scans' check adapters (functions/<scan>/checks.ts) share: the stable id
 * and the path a check's location names.
 *
 * An id is the first 20 hex digits of sha256 over the scan, the policy, the rule and
 * the identity of what is checked (namespace, object, link, target), each part
 * separated by a NUL. Messages, evidence, times, counts and scores never go in: the
 * same problem keeps its id from one run to the next, whatever its wording.
 */
import { createHash } from 'node:crypto';
import { dirname, isAbsolute, relative, sep } from 'node:path';
import type { Check, CheckSeverity } from './checks.ts';

export function checkId(scan: string, policy: string, rule: string, ...identity: (string | number | null | undefined)[]): string {
  const h = createHash('sha256');
  h.update(`${scan}\0${policy}\0${rule}`);
  for (const part of identity) h.update(`\0${part ?? ''}`);
  return h.digest('hex').slice(0, 20);
}

/** A path relative to the stack directory (the metadata file's folder) when it lies inside it. */
export function stackRelative(file: string, metadata: unknown): string {
  if (typeof metadata !== 'string' || !isAbsolute(file)) return file;
  const rel = relative(dirname(metadata), file);
  return rel && !rel.startsWith('..') && !isAbsolute(rel) ? rel.split(sep).join('/') : file;
}

/** Tool severities (critical … info, unknown, none) onto the contract's five. */
export function severityOf(s: unknown): CheckSeverity {
  return s === 'critical' || s === 'high' || s === 'medium' || s === 'low' ? s : 'info';
}

/** Properties hold strings only: drops undefined and empty values, joins lists. */
export function props(entries: Record<string, string | number | boolean | null | undefined | readonly string[]>): Record<string, string> {
  const out: Record<string, string> = Object.create(null);
  for (const [k, v] of Object.entries(entries)) {
    if (v === undefined || v === null || v === '') continue;
    if (Array.isArray(v)) {
      if (v.length) out[k] = v.join('; ');
    } else out[k] = String(v);
  }
  return out;
}

/** One line: newlines folded, at most 400 characters. */
export function oneLine(s: string, max = 400): string {
  const flat = s.replace(/\s*\n\s*/g, ' ').trim();
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat;
}

/**
 * Ids are unique within a report: two checks that hash alike (a tool reporting the same
 * problem twice) keep the first id; the next get `-2`, `-3`, … in report order. A renamed
 * check is a copy in the list (a check is never changed: adapters may hand out kept ones).
 */
export function uniqueIds(checks: Check[]): Check[] {
  const seen = new Set<string>();
  // How often an id was seen, from its second time on (a report seldom has any).
  let again: Map<string, number> | undefined;
  for (let i = 0; i < checks.length; i++) {
    const c = checks[i];
    if (!seen.has(c.id)) {
      seen.add(c.id);
      continue;
    }
    again ??= new Map();
    const n = (again.get(c.id) ?? 1) + 1;
    again.set(c.id, n);
    checks[i] = { ...c, id: `${c.id}-${n}` };
  }
  return checks;
}
