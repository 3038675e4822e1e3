/**
 * Every setting of the nuclei scan, parsed up front (before any file is read for the
 * scan or nuclei runs): a bad value, or a missing or empty templates directory, is a 422
 * naming the variable; a missing engine a 503 naming the setting that provides it.
 *
 *   STACK_METADATA            stack-metadata.yaml (default ./stack-metadata.yaml)
 *   APISIX_ROUTES             Stacktic's apisix-route.yaml (default: the file of that name beside
 *                             the metadata, when it exists): TLS hosts and extra route hosts
 *   NUCLEI_TEMPLATES_DIR      templates directory (required; production: a pinned nuclei-templates
 *                             release, mounted or in an image layer; docs/nuclei-templates.md).
 *                             Unset, missing, or holding no template: 422 naming it
 *   NUCLEI_ALLOW_TAGS         comma list of tags excluded by default that may run (select.ts
 *                             DEFAULT_EXCLUDED_TAGS: intrusive, dos, fuzz, bruteforce; or a tag of
 *                             the release's .nuclei-ignore). Default: none
 *   NUCLEI_BIN                the nuclei program (default .cache/bin/nuclei, else `nuclei` on PATH)
 *   NUCLEI_RATE_LIMIT         requests per second (-rl, default 150)
 *   NUCLEI_CONCURRENCY        templates in parallel (-c, default 25)
 *   NUCLEI_BULK_SIZE          targets in parallel per template (-bs, default 25)
 *   NUCLEI_REQUEST_TIMEOUT_S  per-request timeout in seconds (-timeout, default 10)
 *   NUCLEI_RETRIES            retries per request (-retries, default 1)
 *   NUCLEI_INTERACTSH_URL     interactsh server for out-of-band templates (default: none, -ni, and
 *                             the templates that need one are reported as not run)
 *   NUCLEI_ROUTE_SCHEME       https (default) | http: route scheme when no apisix-route.yaml says
 *   NUCLEI_SCAN_TIMEOUT_MS    total time per mode (lib/scan/scaffold.ts; defaults in scan.ts)
 *   SCAN_HOST_MAP, SCAN_DNS   explicit host mapping and DNS policy (lib/scan/hosts.ts)
 */
import { findOnPath, isExecutable } from '../../lib/tools/run.ts';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { delimiter, dirname, isAbsolute, join, resolve } from 'node:path';
import { ScanError } from '../../lib/errors.ts';
import { dnsModeFromEnv, hostMapFromEnv, type DnsMode, type HostMap } from '../../lib/scan/hosts.ts';
import { intSetting, invalidSetting } from '../../lib/scan/settings.ts';
import type { FileRef } from '../../lib/topology/files.ts';
import { topologySettings, type TopologySettings } from '../../lib/topology/settings.ts';

export const TEMPLATES_SETTING = 'NUCLEI_TEMPLATES_DIR';
export const BIN_SETTING = 'NUCLEI_BIN';
export const APISIX_SETTING = 'APISIX_ROUTES';
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
    throw new ScanError(422, {
      code: 'not_configured',
      message: `${TEMPLATES_SETTING} is not set: the nuclei scan needs a templates directory (production: a pinned nuclei-templates release, mounted or in the image; docs/nuclei-templates.md); nothing is downloaded at run time`,
      setting: TEMPLATES_SETTING,
    });
  }
  const dir = resolve(raw.trim());
  let st;
  try {
    st = statSync(dir);
  } catch {
    throw new ScanError(422, { code: 'invalid_setting', message: `${TEMPLATES_SETTING} points to ${dir}, which does not exist`, setting: TEMPLATES_SETTING, file: dir });
  }
  if (!st.isDirectory()) throw new ScanError(422, { code: 'invalid_setting', message: `${TEMPLATES_SETTING} points to ${dir}, which is not a directory`, setting: TEMPLATES_SETTING, file: dir });
  if (!hasTemplate(dir)) throw new ScanError(422, { code: 'invalid_setting', message: `${TEMPLATES_SETTING} points to ${dir}, which holds no nuclei template (.yaml)`, setting: TEMPLATES_SETTING, file: dir });
  return dir;
}

const executable = isExecutable;

export function findNucleiBin(raw: string | undefined, env: NodeJS.ProcessEnv): string {
  if (raw?.trim()) {
    const p = raw.trim();
    const full = isAbsolute(p) || p.includes('/') ? resolve(p) : (env.PATH ?? '').split(delimiter).map((d) => join(d, p)).find(executable);
    if (full && executable(full)) return full;
    throw new ScanError(503, { code: 'tool_missing', message: `${BIN_SETTING}='${p}' is not an executable file; build nuclei with: bash harness/build.sh nuclei`, setting: BIN_SETTING });
  }
  if (executable(DEFAULT_NUCLEI_BIN)) return DEFAULT_NUCLEI_BIN;
  const onPath = findOnPath('nuclei', env);
  if (onPath) return onPath;
  throw new ScanError(503, { code: 'tool_missing', message: `nuclei was not found (${DEFAULT_NUCLEI_BIN} or PATH); build it with: bash harness/build.sh nuclei, or set ${BIN_SETTING}`, setting: BIN_SETTING });
}

export function nucleiSettingsFromEnv(env: NodeJS.ProcessEnv = process.env): NucleiScanSettings {
  const topology = topologySettings(env);
  const rateLimit = intSetting(env, 'NUCLEI_RATE_LIMIT', 150, 1, 10_000);
  const concurrency = intSetting(env, 'NUCLEI_CONCURRENCY', 25, 1, 500);
  const bulkSize = intSetting(env, 'NUCLEI_BULK_SIZE', 25, 1, 500);
  const requestTimeoutS = intSetting(env, 'NUCLEI_REQUEST_TIMEOUT_S', 10, 1, 300);
  const retries = intSetting(env, 'NUCLEI_RETRIES', 1, 0, 10);
  const interactsh = env.NUCLEI_INTERACTSH_URL?.trim();
  if (interactsh && !/^https?:\/\/[a-z0-9.-]+(:\d+)?\/?$/i.test(interactsh)) throw invalidSetting('NUCLEI_INTERACTSH_URL', 'an http(s) URL of an interactsh server, e.g. https://interactsh.example.com', interactsh);
  const allowTags = new Set<string>();
  for (const raw of (env.NUCLEI_ALLOW_TAGS ?? '').split(',')) {
    const t = raw.trim().toLowerCase();
    if (!t) continue;
    if (!/^[a-z0-9][a-z0-9_.-]{0,63}$/.test(t)) throw invalidSetting('NUCLEI_ALLOW_TAGS', 'a comma-separated list of nuclei tags, e.g. intrusive', env.NUCLEI_ALLOW_TAGS!.slice(0, 80));
    allowTags.add(t);
  }
  const scheme = env.NUCLEI_ROUTE_SCHEME?.trim() || 'https';
  if (scheme !== 'https' && scheme !== 'http') throw invalidSetting('NUCLEI_ROUTE_SCHEME', "'https' or 'http'", scheme);
  const hostMap = hostMapFromEnv(env);
  const dns = dnsModeFromEnv(env);
  let apisixRoutes: FileRef | undefined;
  if (env[APISIX_SETTING]?.trim()) apisixRoutes = { path: resolve(env[APISIX_SETTING]!.trim()), setting: APISIX_SETTING };
  else {
    const beside = join(dirname(topology.metadata.path), 'apisix-route.yaml');
    if (existsSync(beside)) apisixRoutes = { path: beside, setting: APISIX_SETTING };
  }
  // Checked last: configuration errors above are reported first, then what is missing.
  const templatesDir = checkTemplatesDir(env[TEMPLATES_SETTING]);
  const bin = findNucleiBin(env[BIN_SETTING], env);
  return {
    topology,
    ...(apisixRoutes ? { apisixRoutes } : {}),
    templatesDir,
    bin,
    rateLimit,
    concurrency,
    bulkSize,
    requestTimeoutS,
    retries,
    ...(interactsh ? { interactshUrl: interactsh } : {}),
    allowTags,
    routeScheme: scheme,
    hostMap,
    dns,
    resolvConf: '/etc/resolv.conf',
  };
}
