/**
 * Every setting of the nuclei scan, parsed up front (before any file is read for the scan or
 * nuclei runs) with NUCLEI_SETTINGS (lib/scan/settings.ts; reference: docs/configuration.md): a bad
 * value, or a templates directory that does not exist or holds no template, is a 422 naming the
 * variable; an unset templates directory or a missing engine a 503 naming the setting that
 * provides it (checked last: the scan cannot run here). How the templates
 * reach the function, what is excluded and NUCLEI_ALLOW_TAGS: docs/nuclei-templates.md. The topology settings are lib/topology/settings.ts's,
 * SCAN_HOST_MAP and SCAN_DNS lib/scan/hosts.ts's, NUCLEI_SCAN_TIMEOUT_MS the scaffold's.
 */
import { findOnPath, isExecutable } from '../../lib/tools/run.ts';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { delimiter, dirname, isAbsolute, join, resolve } from 'node:path';
import { ScanError } from '../../lib/errors.ts';
import { dnsModeFromEnv, hostMapFromEnv, type DnsMode, type HostMap } from '../../lib/scan/hosts.ts';
import { parseSettings, setting, settingsSchema } from '../../lib/scan/settings.ts';
import type { FileRef } from '../../lib/topology/files.ts';
import { topologySettings, type TopologySettings } from '../../lib/topology/settings.ts';

export const TEMPLATES_SETTING = 'NUCLEI_TEMPLATES_DIR' as const;
export const BIN_SETTING = 'NUCLEI_BIN' as const;
export const APISIX_SETTING = 'APISIX_ROUTES' as const;
const ROOT = resolve(import.meta.dirname, '../..');
export const DEFAULT_NUCLEI_BIN = join(ROOT, '.cache/bin/nuclei');

export interface NucleiScanSettings {
  topology: TopologySettings;
  apisixRoutes?: FileRef;
  templatesDir: string;
  bin: string;
  rateLimit: number;
  concurrency: number;
  bulkSize: number;
  requestTimeoutS: number;
  retries: number;
  interactshUrl?: string;
  /** NUCLEI_ALLOW_TAGS. */
  allowTags: Set<string>;
  routeScheme: 'https' | 'http';
  hostMap: HostMap;
  dns: DnsMode;
  /** resolv.conf read for SCAN_DNS=system (tests may point elsewhere). */
  resolvConf: string;
}

/** At least one template (.yaml/.yml) within a bounded walk. */
function hasTemplate(dir: string): boolean {
  const stack = [dir];
  let visited = 0;
  while (stack.length && visited < 5000) {
    const d = stack.pop()!;
    visited++;
    let entries;
    try {
      entries = readdirSync(d, { withFileTypes: true });
    } catch {
      continue;
    }
    for (const e of entries) {
      if (e.isFile() && /\.ya?ml$/i.test(e.name)) return true;
      if (e.isDirectory() && !e.name.startsWith('.')) stack.push(join(d, e.name));
    }
  }
  return false;
}

export function checkTemplatesDir(raw: string | undefined): string {
  if (!raw?.trim()) {
    throw new ScanError(503, {
      code: 'not_configured',
      message:
        `${TEMPLATES_SETTING} is not set: the nuclei scan needs a templates directory (production: a pinned nuclei-templates release, mounted ` +
        `or in the image; docs/nuclei-templates.md); nothing is downloaded at run time`,
      setting: TEMPLATES_SETTING,
    });
  }
  const dir = resolve(raw.trim());
  let st;
  try {
    st = statSync(dir);
  } catch {
    throw new ScanError(422, {
      code: 'invalid_setting',
      message: `${TEMPLATES_SETTING} points to ${dir}, which does not exist`,
      setting: TEMPLATES_SETTING,
      file: dir,
    });
  }
  if (!st.isDirectory())
    throw new ScanError(422, {
      code: 'invalid_setting',
      message: `${TEMPLATES_SETTING} points to ${dir}, which is not a directory`,
      setting: TEMPLATES_SETTING,
      file: dir,
    });
  if (!hasTemplate(dir))
    throw new ScanError(422, {
      code: 'invalid_setting',
      message: `${TEMPLATES_SETTING} points to ${dir}, which holds no nuclei template (.yaml)`,
      setting: TEMPLATES_SETTING,
      file: dir,
    });
  return dir;
}

const executable = isExecutable;

export function findNucleiBin(raw: string | undefined, env: NodeJS.ProcessEnv): string {
  if (raw?.trim()) {
    const p = raw.trim();
    const full =
      isAbsolute(p) || p.includes('/')
        ? resolve(p)
        : (env.PATH ?? '')
            .split(delimiter)
            .map((d) => join(d, p))
            .find(executable);
    if (full && executable(full)) return full;
    throw new ScanError(503, {
      code: 'tool_missing',
      message: `${BIN_SETTING}='${p}' is not an executable file; build nuclei with: bash harness/build.sh nuclei`,
      setting: BIN_SETTING,
    });
  }
  if (executable(DEFAULT_NUCLEI_BIN)) return DEFAULT_NUCLEI_BIN;
  const onPath = findOnPath('nuclei', env);
  if (onPath) return onPath;
  throw new ScanError(503, {
    code: 'tool_missing',
    message: `nuclei was not found (${DEFAULT_NUCLEI_BIN} or PATH); build it with: bash harness/build.sh nuclei, or set ${BIN_SETTING}`,
    setting: BIN_SETTING,
  });
}

export const NUCLEI_SETTINGS = settingsSchema({
  [APISIX_SETTING]: setting.path({
    defaultText: 'apisix-route.yaml beside the metadata, when it exists',
    description: "Stacktic's apisix-route.yaml: TLS hosts and extra route hosts",
    example: '/config/apisix-route.yaml',
  }),
  [TEMPLATES_SETTING]: setting.optionalText({
    defaultText: 'required (unset: 503); nothing is downloaded at run time',
    want: 'a directory holding nuclei templates (.yaml)',
    description:
      'the nuclei templates directory (production: a pinned nuclei-templates release in the image or a mounted volume, docs/nuclei-templates.md); ' +
      'missing or holding no template: 422',
    example: '/opt/nuclei-templates',
  }),
  [BIN_SETTING]: setting.optionalText({
    want: 'an executable nuclei program: a path, or a name on PATH',
    defaultText: '.cache/bin/nuclei, else `nuclei` on PATH',
    description: 'the nuclei program (not found: 503)',
    example: '/usr/local/bin/nuclei',
  }),
  NUCLEI_RATE_LIMIT: setting.int({ default: 150, min: 1, max: 10_000, description: 'requests per second (nuclei -rl)', example: '50' }),
  NUCLEI_CONCURRENCY: setting.int({ default: 25, min: 1, max: 500, description: 'templates in parallel (nuclei -c)', example: '10' }),
  NUCLEI_BULK_SIZE: setting.int({ default: 25, min: 1, max: 500, description: 'targets in parallel per template (nuclei -bs)', example: '10' }),
  NUCLEI_REQUEST_TIMEOUT_S: setting.int({ default: 10, min: 1, max: 300, description: 'per-request timeout in seconds (nuclei -timeout)', example: '5' }),
  NUCLEI_RETRIES: setting.int({ default: 1, min: 0, max: 10, description: 'retries per request (nuclei -retries)', example: '0' }),
  NUCLEI_INTERACTSH_URL: setting.optionalText({
    defaultText: 'unset: out-of-band templates are off (nuclei -ni)',
    want: 'an http(s) URL of an interactsh server, e.g. https://interactsh.example.com',
    parse: (s) => (/^https?:\/\/[a-z0-9.-]+(:\d+)?\/?$/i.test(s) ? s : undefined),
    description: 'an interactsh server for out-of-band templates',
    example: 'https://interactsh.example.com',
  }),
  NUCLEI_ALLOW_TAGS: setting.optionalText({
    defaultText: "unset: templates tagged intrusive, dos, fuzz or bruteforce (and the release's .nuclei-ignore tags) never run",
    want: 'a comma-separated list of nuclei tags, e.g. intrusive',
    parse: (raw) => {
      const tags = raw
        .split(',')
        .map((t) => t.trim().toLowerCase())
        .filter(Boolean);
      return tags.length && tags.every((t) => /^[a-z0-9][a-z0-9_.-]{0,63}$/.test(t)) ? tags : undefined;
    },
    description:
      'tags excluded by default that may run (functions/nuclei-scan/select.ts DEFAULT_EXCLUDED_TAGS); the report lists every template still excluded and why',
    example: 'intrusive',
  }),
  NUCLEI_ROUTE_SCHEME: setting.choice(['https', 'http'], {
    default: 'https',
    description: 'the scheme of route hosts when no apisix-route.yaml says',
    example: 'http',
  }),
});

export function nucleiSettingsFromEnv(env: NodeJS.ProcessEnv = process.env): NucleiScanSettings {
  const topology = topologySettings(env);
  const s = parseSettings(NUCLEI_SETTINGS, env);
  const hostMap = hostMapFromEnv(env);
  const dns = dnsModeFromEnv(env);
  let apisixRoutes: FileRef | undefined;
  if (s[APISIX_SETTING]) apisixRoutes = { path: s[APISIX_SETTING], setting: APISIX_SETTING };
  else {
    const beside = join(dirname(topology.metadata.path), 'apisix-route.yaml');
    if (existsSync(beside)) apisixRoutes = { path: beside, setting: APISIX_SETTING };
  }
  // Checked last: configuration errors above are reported first, then what is missing.
  const templatesDir = checkTemplatesDir(env[TEMPLATES_SETTING]);
  const bin = findNucleiBin(env[BIN_SETTING], env);
  const interactsh = s.NUCLEI_INTERACTSH_URL;
  return {
    topology,
    ...(apisixRoutes ? { apisixRoutes } : {}),
    templatesDir,
    bin,
    rateLimit: s.NUCLEI_RATE_LIMIT,
    concurrency: s.NUCLEI_CONCURRENCY,
    bulkSize: s.NUCLEI_BULK_SIZE,
    requestTimeoutS: s.NUCLEI_REQUEST_TIMEOUT_S,
    retries: s.NUCLEI_RETRIES,
    ...(interactsh ? { interactshUrl: interactsh } : {}),
    allowTags: new Set(s.NUCLEI_ALLOW_TAGS ?? []),
    routeScheme: s.NUCLEI_ROUTE_SCHEME,
    hostMap,
    dns,
    resolvConf: '/etc/resolv.conf',
  };
}
