/** NetworkPolicy semantics every reader of policies needs (pure). */
import type { Direction } from './types.ts';

/**
 * The directions a NetworkPolicy governs, sorted and unique: its `policyTypes` when given,
 * otherwise Ingress, plus Egress when the spec has egress rules (the API server's defaulting,
 * which tests `len(egress) != 0`). Type names are read case-insensitively.
 */
export function policyDirections(spec: { policyTypes?: unknown; egress?: unknown } | null | undefined): Direction[] {
  const explicit = spec?.policyTypes;
  if (Array.isArray(explicit) && explicit.length) return [...new Set(explicit.map((t) => String(t).toLowerCase() as Direction))].sort();
  return Array.isArray(spec?.egress) && spec.egress.length ? ['egress', 'ingress'] : ['ingress'];
}
