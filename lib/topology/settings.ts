/**
 * Where the topology files are, and how they may be read: every scan reads the same settings,
 * TOPOLOGY_SETTINGS below (described in docs/configuration.md, generated from it).
 *
 * The expected NetworkPolicy set comes from the first of:
 *   1. NETWORKPOLICY_MANIFEST, when set (it must then exist);
 *   2. NETWORKPOLICY_DIR, when set (it must then exist);
 *   3. networkpolicy-manifest.json beside stack-metadata.yaml;
 *   4. networkpolicy/ beside stack-metadata.yaml (Stacktic's layout);
 *   5. derivation from the metadata with Stacktic's generator rules.
 * The report's `sources` says which was used and why.
 */
import { existsSync, statSync } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { parseSettings, setting, settingsSchema } from '../scan/settings.ts';
import { deriveExpected, loadManifest, loadNetworkPolicyDir, type ExpectedSet } from './expected.ts';
import { loadYaml } from './load.ts';
import {
  DEFAULT_LIMITS,
  MAX_BYTES_SETTING,
  MAX_COMPONENTS_SETTING,
  MAX_DEPTH_SETTING,
  MAX_NODES_SETTING,
  MAX_WARNINGS_SETTING,
  READ_TIMEOUT_SETTING,
  type FileLimits,
  type FileRef,
} from './files.ts';
import { normaliseMetadata } from './stack-metadata.ts';
import type { Topology } from './types.ts';

export const METADATA_SETTING = 'STACK_METADATA' as const;
export const MANIFEST_SETTING = 'NETWORKPOLICY_MANIFEST' as const;
export const POLICY_DIR_SETTING = 'NETWORKPOLICY_DIR' as const;

export interface TopologySettings {
  metadata: FileRef;
  /** Set when the user named a manifest explicitly: it must then exist. */
  manifest?: FileRef;
  /** Set when the user named a policy directory explicitly: it must then exist. */
  policyDir?: FileRef;
  /** Reading limits for every input file (DEFAULT_LIMITS when absent). */
  limits?: FileLimits;
}

/** Every scan reads these (one line per setting: see lib/scan/settings.ts). */
export const TOPOLOGY_SETTINGS = settingsSchema({
  [METADATA_SETTING]: setting.path({
    default: 'stack-metadata.yaml',
    description: "Stacktic's stack-metadata.yaml: the stack's components, namespaces and links",
    example: '/config/stack-metadata.yaml',
  }),
  [MANIFEST_SETTING]: setting.path({
    defaultText: 'unset: networkpolicy-manifest.json beside the metadata, when it exists',
    description: 'the expected NetworkPolicies as networkpolicy-manifest.json (schema/networkpolicy-manifest.schema.json); when ' + 'set it must exist',
    example: '/config/networkpolicy-manifest.json',
  }),
  [POLICY_DIR_SETTING]: setting.path({
    defaultText: "unset: networkpolicy/ beside the metadata, when it exists (Stacktic's layout)",
    description: "a directory of generated NetworkPolicy YAML (Stacktic's networkpolicy/ folder); when set it must exist",
    example: '/config/networkpolicy',
  }),
  [MAX_BYTES_SETTING]: setting.int({
    default: DEFAULT_LIMITS.maxBytes,
    min: 1024,
    max: 1024 * 1024 * 1024,
    description: 'largest input file read, in bytes (10 MiB by default)',
    example: '1048576',
  }),
  [READ_TIMEOUT_SETTING]: setting.int({
    default: DEFAULT_LIMITS.readTimeoutMs,
    min: 100,
    max: 600_000,
    description: 'longest one input file read may take, in ms',
    example: '2000',
  }),
  [MAX_WARNINGS_SETTING]: setting.int({
    default: DEFAULT_LIMITS.maxWarnings,
    min: 0,
    max: 100_000,
    description: 'warnings of one kind (e.g. duplicate keys) listed per file; the rest are counted',
    example: '10',
  }),
  [MAX_NODES_SETTING]: setting.int({
    default: DEFAULT_LIMITS.maxNodes,
    min: 100,
    max: 50_000_000,
    description: 'nodes of a parsed input file with every YAML alias expanded (bounds "billion laughs"); see docs/reliability.md',
    example: '50000',
  }),
  [MAX_DEPTH_SETTING]: setting.int({
    default: DEFAULT_LIMITS.maxDepth,
    min: 4,
    max: 10_000,
    description: 'nesting depth of a parsed input file',
    example: '64',
  }),
  [MAX_COMPONENTS_SETTING]: setting.int({
    default: DEFAULT_LIMITS.maxComponents,
    min: 1,
    max: 100_000,
    description: 'components and sub-components of the stack metadata (what every scan does grows with them)',
    example: '500',
  }),
});

/** The file-reading limits from parsed TOPOLOGY_SETTINGS. */
function limitsOf(s: ReturnType<typeof parseSettings<typeof TOPOLOGY_SETTINGS>>): FileLimits {
  return {
    maxBytes: s[MAX_BYTES_SETTING],
    readTimeoutMs: s[READ_TIMEOUT_SETTING],
    maxWarnings: s[MAX_WARNINGS_SETTING],
    maxNodes: s[MAX_NODES_SETTING],
    maxDepth: s[MAX_DEPTH_SETTING],
    maxComponents: s[MAX_COMPONENTS_SETTING],
  };
}

/** The file-reading limits, parsed up front: a bad value is a 422 naming the variable. */
export function fileLimits(env: NodeJS.ProcessEnv = process.env): FileLimits {
  return limitsOf(parseSettings(TOPOLOGY_SETTINGS, env));
}

export function topologySettings(env: NodeJS.ProcessEnv = process.env): TopologySettings {
  const s = parseSettings(TOPOLOGY_SETTINGS, env);
  const limits = limitsOf(s);
  const manifest = s[MANIFEST_SETTING];
  const policyDir = s[POLICY_DIR_SETTING];
  return {
    metadata: { path: s[METADATA_SETTING], setting: METADATA_SETTING, limits },
    ...(manifest ? { manifest: { path: manifest, setting: MANIFEST_SETTING, limits } } : {}),
    ...(policyDir ? { policyDir: { path: policyDir, setting: POLICY_DIR_SETTING, limits } } : {}),
    limits,
  };
}

export interface LoadedTopology {
  topology: Topology;
  expected: ExpectedSet;
}

const withLimits = (ref: FileRef, limits?: FileLimits): FileRef => (ref.limits || !limits ? ref : { ...ref, limits });

export async function loadTopology(settings: TopologySettings): Promise<Topology> {
  return (await loadMetadata(settings)).topology;
}

/** Parsed metadata files by version (path, inode, size, times, limits): a scan repeated on an unchanged file parses nothing. */
const metadataCache = new Map<string, { topology: Topology; document: unknown }>();

/**
 * The topology and the parsed document it was read from (for what the topology does not keep, such as
 * secret attributes to redact), cached by the file's version. Both must be treated as read-only.
 */
export async function loadMetadata(settings: TopologySettings): Promise<{ topology: Topology; document: unknown }> {
  const ref = withLimits(settings.metadata, settings.limits);
  const st = await stat(ref.path).catch(() => null);
  const version = st?.isFile() ? `${ref.path}\0${st.dev}:${st.ino}:${st.size}:${st.mtimeMs}:${st.ctimeMs}\0${JSON.stringify(settings.limits ?? null)}` : null;
  const hit = version === null ? undefined : metadataCache.get(version);
  if (hit) return hit;
  // Scans started together on the same file share one read and parse.
  const pending = version === null ? undefined : metadataLoading.get(version);
  if (pending) return pending;
  const loading = loadMetadataNow(ref, version);
  if (version !== null) {
    metadataLoading.set(version, loading);
    void loading.then(
      () => metadataLoading.delete(version),
      () => metadataLoading.delete(version),
    );
  }
  return loading;
}

const metadataLoading = new Map<string, Promise<{ topology: Topology; document: unknown }>>();

async function loadMetadataNow(ref: FileRef, version: string | null): Promise<{ topology: Topology; document: unknown }> {
  // readTextFile refuses what is not a regular file, with the setting named.
  const { value, warnings } = await loadYaml(ref);
  const loaded = { topology: normaliseMetadata(value, ref, warnings), document: value };
  if (version !== null) {
    metadataCache.set(version, loaded);
    while (metadataCache.size > CACHE_ENTRIES) metadataCache.delete(metadataCache.keys().next().value!);
  }
  return loaded;
}

const isDir = (p: string) => {
  try {
    return statSync(p).isDirectory();
  } catch {
    return false;
  }
};

/** The expected NetworkPolicy set by the precedence above, with the reason it was chosen. */
export async function loadExpected(settings: TopologySettings, topology: Topology): Promise<ExpectedSet> {
  const limits = settings.limits;
  if (settings.manifest) return { ...(await loadManifest(withLimits(settings.manifest, limits))), reason: `${MANIFEST_SETTING} is set` };
  if (settings.policyDir) return { ...(await loadNetworkPolicyDir(withLimits(settings.policyDir, limits))), reason: `${POLICY_DIR_SETTING} is set` };
  const here = dirname(settings.metadata.path);
  const manifest = join(here, 'networkpolicy-manifest.json');
  if (existsSync(manifest))
    return { ...(await loadManifest({ path: manifest, setting: MANIFEST_SETTING, limits })), reason: 'networkpolicy-manifest.json found beside the metadata' };
  const dir = join(here, 'networkpolicy');
  if (isDir(dir))
    return { ...(await loadNetworkPolicyDir({ path: dir, setting: POLICY_DIR_SETTING, limits })), reason: 'networkpolicy/ found beside the metadata' };
  return {
    ...deriveExpected(topology, settings.metadata.path),
    reason: `no manifest or policy directory (set ${MANIFEST_SETTING} or ${POLICY_DIR_SETTING}); derived from the metadata with Stacktic's generator rules`,
  };
}

/**
 * What the loaded files were, for the cache: path, inode, size and times of the
 * metadata, of the manifest or policy directory the precedence could pick, and
 * of every file in that directory. Any change to any of them is a new version.
 */
async function versionOf(settings: TopologySettings): Promise<string | null> {
  const here = dirname(settings.metadata.path);
  const paths = [settings.metadata.path, settings.manifest?.path ?? join(here, 'networkpolicy-manifest.json')];
  const dir = settings.policyDir?.path ?? join(here, 'networkpolicy');
  const parts: string[] = [JSON.stringify([settings.manifest?.path, settings.policyDir?.path, settings.limits])];
  const stamp = async (p: string) => {
    try {
      const st = await stat(p);
      parts.push(`${p}\0${st.dev}:${st.ino}:${st.size}:${st.mtimeMs}:${st.ctimeMs}`);
      return st;
    } catch {
      parts.push(`${p}\0-`);
      return null;
    }
  };
  // Concurrently: one round trip to the file system per scan, not one per file (the parts are sorted below).
  const [, , d] = await Promise.all([...paths.map(stamp), stamp(dir)]);
  if (d?.isDirectory()) {
    let names: string[];
    try {
      names = (await readdir(dir)).filter((n) => /\.ya?ml$/i.test(n)).sort();
    } catch {
      return null;
    }
    await Promise.all(
      names.map(async (n) => {
        const st = await stat(join(dir, n)).catch(() => null);
        parts.push(`${n}\0${st ? `${st.ino}:${st.size}:${st.mtimeMs}:${st.ctimeMs}` : '-'}`);
      }),
    );
  }
  return parts.sort().join('\n');
}

/** Loaded topologies by file version (a few entries): a scan repeated on unchanged files parses nothing. */
const cache = new Map<string, LoadedTopology>();
const CACHE_ENTRIES = 4;

/**
 * The topology plus the expected NetworkPolicy set. The expected set's
 * warnings (duplicate keys in generated files, unknown component types) are
 * appended to the topology's, so every report lists them in `sources.warnings`.
 * The result is cached by file version (see versionOf) and must be treated as
 * read-only by callers.
 */
export async function loadTopologyAndPolicies(settings: TopologySettings): Promise<LoadedTopology> {
  const version = await versionOf(settings);
  const hit = version === null ? undefined : cache.get(version);
  if (hit) return hit;
  const metadata = await loadTopology(settings);
  const expected = await loadExpected(settings, metadata);
  // A copy: the cached metadata's own warnings stay as they are.
  const topology = expected.warnings?.length ? { ...metadata, warnings: [...metadata.warnings, ...expected.warnings] } : metadata;
  const loaded = { topology, expected };
  if (version !== null) {
    cache.set(version, loaded);
    while (cache.size > CACHE_ENTRIES) cache.delete(cache.keys().next().value!);
  }
  return loaded;
}
