/** Environment settings shared by every scan: a bad value is a 422 naming the variable. */
import { ScanError } from '../errors.ts';

export function invalidSetting(name: string, want: string, got: string | undefined): ScanError {
  return new ScanError(422, { code: 'invalid_setting', message: `${name} must be ${want}; got '${got ?? ''}'`, setting: name });
}

/** A whole number from `min` to `max`, or `def` when the variable is unset or blank. */
export function intSetting(env: NodeJS.ProcessEnv, name: string, def: number, min: number, max: number): number {
  const raw = env[name];
  if (raw === undefined || raw.trim() === '') return def;
  const n = Number(raw.trim());
  if (!/^\d+$/.test(raw.trim()) || !Number.isSafeInteger(n) || n < min || n > max) throw invalidSetting(name, `a whole number from ${min} to ${max}`, raw);
  return n;
}
