/**
 * Environment settings: one valibot schema per scan (and one per shared group), used both to
 * PARSE the environment and to GENERATE the reference docs/configuration.md (`npm run docs:gen`),
 * so the two cannot disagree. A bad value is a 422 `invalid_setting` naming the variable and what
 * is wanted: `NAME must be WANT; got 'VALUE'` (a `secret` setting never echoes its value: `got '…'`).
 *
 * Adding a setting is one line in the schema of the scan that reads it (functions/<scan>/settings.ts,
 * or lib/topology/settings.ts, lib/scan/hosts.ts, lib/scan/serve.ts for shared ones):
 *
 *   export const NUCLEI_SETTINGS = settingsSchema({
 *     NUCLEI_RATE_LIMIT: setting.int({ default: 150, min: 1, max: 10_000, description: 'requests per second (nuclei -rl)', example: '50' }),
 *     NUCLEI_NEW_FLAG:   setting.flag({ default: false, description: 'what it turns on', example: 'on' }),
 *   });
 *   const s = parseSettings(NUCLEI_SETTINGS, env);   // typed: s.NUCLEI_RATE_LIMIT is a number
 *
 * then `npm run docs:gen` and commit docs/configuration.md (test/unit/generated.test.ts fails until
 * then, and also fails, naming file and line, when code reads a variable no schema declares).
 *
 * Kinds: `int`, `score` (0–100, decimals allowed), `choice`, `flag` (on/off), `text` / `optionalText` (with an
 * optional parse/check), `path` (resolved), `custom` (own parser that throws its own 422), `env` (read by a
 * library or set by the platform: documented, not parsed here). Each carries `description`,
 * `example` and a default (a value, or `defaultText` saying what happens when unset).
 */
import { resolve } from 'node:path';
import * as v from 'valibot';
import { ScanError } from '../errors.ts';

export function invalidSetting(name: string, want: string, got: string | undefined): ScanError {
  return new ScanError(422, { code: 'invalid_setting', message: `${name} must be ${want}; got '${got ?? ''}'`, setting: name });
}

/** What the reference says about one setting (kept in the schema's metadata under `setting`). */
export interface SettingDoc {
  description: string;
  /** A valid value, shown in the reference. */
  example: string;
  /** The default as shown in the reference (from `default`, or the `defaultText` given). */
  default: string;
  /** What a valid value is, as the error message says it. */
  want: string;
  /** Never echoed in an error message. */
  secret?: boolean;
  /** Read by a library or set by the platform; documented, not parsed by our schema. */
  external?: boolean;
  /** An older name, read when the newer setting is unset. */
  deprecated?: string;
}

interface Common {
  description: string;
  example: string;
  secret?: boolean;
  deprecated?: string;
}

type Parse<T> = (trimmed: string, raw: string) => T | undefined;

/**
 * One setting: an optional string in, `T` out. Unset or blank gives `def`; a value `parse` refuses
 * (returns undefined) is an issue carrying `want` and the value to show, turned into the 422 by parseSettings.
 */
function make<T, D extends T | undefined>(doc: SettingDoc, def: D, parse: Parse<T>) {
  return v.pipe(
    v.optional(v.string(), ''),
    v.rawTransform<string, T | D>(({ dataset, addIssue, NEVER }) => {
      const raw = dataset.value;
      const trimmed = raw.trim();
      if (trimmed === '') return def;
      const out = parse(trimmed, raw);
      if (out === undefined) {
        addIssue({ message: doc.want, received: doc.secret ? '…' : raw });
        return NEVER;
      }
      return out;
    }),
    v.metadata({ setting: doc }),
  );
}

const shown = (x: unknown) => (typeof x === 'string' ? x : JSON.stringify(x));

export const setting = {
  /** A whole number from `min` to `max`. */
  int(o: Common & { default: number; min: number; max: number; defaultText?: string }) {
    const want = `a whole number from ${o.min} to ${o.max}`;
    return make({ ...o, default: o.defaultText ?? String(o.default), want }, o.default, (s) => {
      const n = Number(s);
      return /^\d+$/.test(s) && Number.isSafeInteger(n) && n >= o.min && n <= o.max ? n : undefined;
    });
  },
  /** A score from 0 to 100 (decimals allowed). */
  score(o: Common & { default: number }) {
    return make({ ...o, default: String(o.default), want: 'a score from 0 to 100' }, o.default, (s) => {
      const n = Number(s);
      return /^\d+(\.\d+)?$/.test(s) && n <= 100 ? n : undefined;
    });
  },
  /** One of `values` (compared in lower case with `lower`). */
  choice<const T extends string>(values: readonly [T, ...T[]], o: Common & { default: T; lower?: boolean; want?: string }) {
    const want = o.want ?? values.map((x) => `'${x}'`).join(values.length === 2 ? ' or ' : ', ');
    return make({ ...o, default: o.default, want }, o.default, (s) => {
      const k = o.lower ? s.toLowerCase() : s;
      return (values as readonly string[]).includes(k) ? (k as T) : undefined;
    });
  },
  /** on/off (also true/false, 1/0, yes/no, any case). */
  flag(o: Common & { default: boolean }) {
    return make({ ...o, default: o.default ? 'on' : 'off', want: 'on or off' }, o.default, (s) => {
      const k = s.toLowerCase();
      return ['on', 'true', '1', 'yes'].includes(k) ? true : ['off', 'false', '0', 'no'].includes(k) ? false : undefined;
    });
  },
  /** Free text, trimmed, with a default; `parse` may refuse (undefined) or convert it, described by `want`. */
  text<T = string>(o: Common & { default: T; defaultText?: string; want?: string; parse?: Parse<T> }) {
    return make<T, T>({ ...o, default: o.defaultText ?? shown(o.default), want: o.want ?? 'a non-empty text' }, o.default, o.parse ?? ((s) => s as T));
  },
  /** Free text, trimmed, undefined when unset (`defaultText` says what that means); `parse` as for text. */
  optionalText<T = string>(o: Common & { defaultText: string; want?: string; parse?: Parse<T> }) {
    return make<T, undefined>({ ...o, default: o.defaultText, want: o.want ?? 'a non-empty text' }, undefined, o.parse ?? ((s) => s as T));
  },
  /** A file or directory path, resolved against the working directory. */
  path<const O extends Common & ({ default: string; defaultText?: string } | { default?: undefined; defaultText: string })>(o: O) {
    const def = (o.default === undefined ? undefined : resolve(o.default)) as O['default'] extends string ? string : undefined;
    return make({ ...o, default: o.defaultText ?? o.default ?? 'unset', want: 'a path' }, def, (s) => resolve(s));
  },
  /** A value with its own parser, which throws its own ScanError (e.g. naming a bad key of a JSON value). */
  custom<T>(o: Common & { want: string; defaultText: string; parse: (raw: string) => T }) {
    return make({ ...o, default: o.defaultText }, undefined, (_s, raw) => o.parse(raw));
  },
  /** Read by a library or set by the platform (KUBECONFIG, PATH): documented here, passed through as is. */
  env(o: Common & { defaultText: string }) {
    return make({ ...o, default: o.defaultText, want: 'a value', external: true }, undefined, (s) => s);
  },
};

/** A group of settings: a valibot object schema whose keys are the variables' names. */
export function settingsSchema<const E extends v.ObjectEntries>(entries: E) {
  return v.object(entries);
}

export type SettingsSchema = v.ObjectSchema<v.ObjectEntries, undefined>;

/** Some settings of a group, to parse only those (a bad value elsewhere in the group is then not this caller's error). */
export function pickSettings<S extends SettingsSchema, const K extends keyof S['entries'] & string>(schema: S, keys: readonly K[]) {
  return settingsSchema(Object.fromEntries(keys.map((k) => [k, schema.entries[k]])) as Pick<S['entries'], K>);
}

/** Parse the environment with a settings schema; the first bad value (in declaration order) is a 422 naming it. */
export function parseSettings<S extends SettingsSchema>(schema: S, env: NodeJS.ProcessEnv = process.env): v.InferOutput<S> {
  const r = v.safeParse(schema, env);
  if (r.success) return r.output;
  const issue = r.issues[0];
  const name = String(issue.path?.[0]?.key ?? '?');
  throw invalidSetting(name, issue.message, issue.received === '…' ? '…' : env[name]);
}

/** The documentation of each setting of a schema, in declaration order. */
export function settingDocs(schema: SettingsSchema): [string, SettingDoc][] {
  const out: [string, SettingDoc][] = [];
  for (const [name, entry] of Object.entries(schema.entries)) {
    const meta = (entry as { pipe?: { type: string; metadata?: { setting?: SettingDoc } }[] }).pipe?.find((p) => p.type === 'metadata' && p.metadata?.setting);
    if (meta?.metadata?.setting) out.push([name, meta.metadata.setting]);
  }
  return out;
}

/** A whole number from `min` to `max`, or `def` when the variable is unset or blank (one setting, without a schema). */
export function intSetting(env: NodeJS.ProcessEnv, name: string, def: number, min: number, max: number): number {
  return parseSettings(settingsSchema({ [name]: setting.int({ default: def, min, max, description: '', example: '' }) }), env)[name] as number;
}

/**
 * `<NAME>_SCAN_TIMEOUT_MS` (lib/scan/scaffold.ts): one number of ms for every mode, or `mode=ms`
 * pairs separated by commas (`light=60000,full=900000`). Parses to a map mode → ms (an empty map when unset).
 */
export function scanTimeoutSetting(modes: readonly string[], defaults: Record<string, number>) {
  const want = `a number of milliseconds from 1000 to 86400000, or mode=ms pairs separated by commas (modes: ${modes.join(', ')})`;
  const num = (s: string) => (/^\d+$/.test(s) && Number(s) >= 1000 && Number(s) <= 86_400_000 ? Number(s) : undefined);
  return make<Map<string, number>, Map<string, number>>(
    {
      description:
        `the scan's total time per request; when spent, the scan returns what it has with a \`timeout\` error (and ` +
        `scratch objects it created expire after it)`,
      example: modes.length > 1 ? `${modes[0]}=60000,${modes[1]}=900000` : '60000',
      default: modes.map((m) => `${m} ${defaults[m] ?? 600_000}`).join(', '),
      want,
    },
    new Map(),
    (s) => {
      if (!s.includes('=')) {
        const n = num(s);
        return n === undefined ? undefined : new Map(modes.map((m) => [m, n]));
      }
      const byMode = new Map<string, number>();
      for (const part of s.split(',')) {
        const [k, val, ...rest] = part.split('=').map((x) => x.trim());
        const n = val === undefined ? undefined : num(val);
        if (rest.length || !k || n === undefined || !modes.includes(k)) return undefined;
        byMode.set(k, n);
      }
      return byMode;
    },
  );
}

/** Read by libraries or set by the platform, for every scan (documented, passed through). */
export const SYSTEM_SETTINGS = settingsSchema({
  KUBECONFIG: setting.env({
    description: 'the kubeconfig used to reach the cluster when not running in a pod (as kubectl reads it)',
    defaultText: 'in a pod: its ServiceAccount; otherwise ~/.kube/config',
    example: '/home/me/.kube/config',
  }),
  KUBERNETES_SERVICE_HOST: setting.env({
    description: 'set by Kubernetes in every pod: with the ServiceAccount token, selects the in-cluster connection',
    defaultText: 'set by Kubernetes',
    example: '10.96.0.1',
  }),
  KUBERNETES_SERVICE_PORT: setting.env({
    description: 'set by Kubernetes in every pod: the API server port for the in-cluster connection',
    defaultText: '443',
    example: '443',
  }),
  PATH: setting.env({
    description: 'where tools (kubescape, nuclei, nmap) are looked up when their own setting is unset',
    defaultText: 'the process PATH',
    example: '/usr/local/bin:/usr/bin',
  }),
});
