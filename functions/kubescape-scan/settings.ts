/**
 * Every setting of the kubescape scan, parsed up front (before any cluster call
 * or kubescape run); a bad value is a 422 naming the variable.
 *
 *   KUBESCAPE_BIN             the kubescape program (default: `kubescape` on PATH, else
 *                             <repo>/.cache/bin/kubescape built by `harness/build.sh kubescape`)
 *   KUBESCAPE_ARTIFACTS_DIR   directory with kubescape's policy artifacts (nsa.json, mitre.json,
 *                             exceptions.json, controls-inputs.json, attack-tracks.json): the scan
 *                             is then fully offline. Unset: kubescape downloads them from GitHub on
 *                             every run (needs Internet access). The repo carries a copy in
 *                             functions/kubescape-scan/artifacts/ (regolibrary v2.0.33, Apache-2.0).
 *   KUBESCAPE_TIMEOUT_MS      one kubescape run's time limit (default 300000; it is killed with its children)
 *   KUBESCAPE_SCAN_TIMEOUT_MS the whole scan's time limit (scaffold; default light 600000, full 900000)
 *   KUBESCAPE_NSA_THRESHOLD   a namespace is flagged below this NSA score (default 70)
 *   KUBESCAPE_MITRE_THRESHOLD a namespace is flagged below this MITRE score (default 60)
 *   KUBESCAPE_EXCLUSIONS_FILE YAML or JSON file of extra exclusions (known operator requirements)
 *   KUBESCAPE_STRATEGY        how per-namespace scores are obtained: `per-namespace` (default: one
 *                             run per namespace, KUBESCAPE_CONCURRENCY at a time) or `split` (one
 *                             run over the stack's namespaces, split by namespace; measured slower:
 *                             bench/kubescape.ts)
 *   KUBESCAPE_CONCURRENCY     kubescape runs at once for `per-namespace` (default 3, 1–16; each
 *                             run is mostly CPU for a few seconds)
 *   KUBESCAPE_CLUSTER_SCOPE   full mode: also run one cluster-wide scan to report failures of
 *                             cluster-scoped objects tied to the stack (ClusterRoleBindings of its
 *                             ServiceAccounts, its Namespace objects): `true` (default) or `false`
 *   KUBECONFIG, STACK_METADATA  as for every scan
 */
import { findOnPath, isExecutable } from '../../lib/tools/run.ts';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { ScanError } from '../../lib/errors.ts';
import { intSetting, invalidSetting } from '../../lib/scan/settings.ts';
import { topologySettings, type TopologySettings } from '../../lib/topology/settings.ts';

export const REPO_ROOT = resolve(import.meta.dirname, '../..');
/** The policy artifacts the repo carries (used by the demo and tests). */
export const BUNDLED_ARTIFACTS_DIR = join(import.meta.dirname, 'artifacts');
export const FRAMEWORKS = ['nsa', 'mitre'] as const;
export type Strategy = 'split' | 'per-namespace';

export interface KubescapeSettings {
  topology: TopologySettings;
  kubeconfig?: string;
  bin: string;
  artifactsDir?: string;
  runTimeoutMs: number;
  thresholds: { nsa: number; mitre: number };
  exclusionsFile?: string;
  strategy: Strategy;
  concurrency: number;
  clusterScope: boolean;
}

const executable = isExecutable;

/** `kubescape` on PATH, else the harness build, else the bare name (reported missing when run). */
export function defaultKubescapeBin(env: NodeJS.ProcessEnv = process.env): string {
  const onPath = findOnPath('kubescape', env);
  if (onPath) return onPath;
  const built = join(REPO_ROOT, '.cache/bin/kubescape');
  return executable(built) ? built : 'kubescape';
}

function scoreSetting(env: NodeJS.ProcessEnv, name: string, def: number): number {
  const raw = env[name]?.trim();
  if (!raw) return def;
  const n = Number(raw);
  if (!/^\d+(\.\d+)?$/.test(raw) || n > 100) throw invalidSetting(name, 'a score from 0 to 100', env[name]);
  return n;
}

/**
 * kubescape silently downloads a framework it cannot read from the artifacts dir
 * (an Internet access an offline scan must never make) and silently ignores a
 * broken exceptions or controls-inputs file (other scores): check them first.
 */
export function checkArtifacts(dir: string): void {
  // Checked once per version of the files (name, size, mtime): every request parses settings, and
  // the artifacts are about 600 KB of JSON.
  const version = ARTIFACT_FILES.map((f) => {
    try {
      const st = statSync(join(dir, f));
      return `${f}:${st.size}:${st.mtimeMs}`;
    } catch {
      return `${f}:-`;
    }
  }).join('|');
  if (checked.get(dir) === version) return;
  checkArtifactFiles(dir);
  checked.set(dir, version);
}

const ARTIFACT_FILES = [...FRAMEWORKS.map((f) => `${f}.json`), 'exceptions.json', 'controls-inputs.json', 'attack-tracks.json'];
/** Artifact directories that passed checkArtifactFiles, with the version of their files then. */
const checked = new Map<string, string>();

function checkArtifactFiles(dir: string): void {
  const bad = (file: string, why: string) =>
    new ScanError(422, { code: 'invalid_setting', message: `KUBESCAPE_ARTIFACTS_DIR: ${join(dir, file)} ${why}; copy kubescape's artifacts there (see functions/kubescape-scan/artifacts/)`, setting: 'KUBESCAPE_ARTIFACTS_DIR', file: join(dir, file) });
  const read = (file: string): unknown => {
    let text: string;
    try {
      text = readFileSync(join(dir, file), 'utf8');
    } catch {
      throw bad(file, 'is missing or unreadable');
    }
    try {
      return JSON.parse(text);
    } catch (e) {
      throw bad(file, `is not valid JSON (${(e as Error).message.split('\n')[0].slice(0, 120)})`);
    }
  };
  for (const f of FRAMEWORKS) {
    const fw = read(`${f}.json`) as { name?: unknown; controls?: unknown } | null;
    if (!fw || typeof fw !== 'object' || typeof fw.name !== 'string' || fw.name.toLowerCase() !== f || !Array.isArray(fw.controls)) throw bad(`${f}.json`, `is not kubescape's ${f.toUpperCase()} framework (name, controls)`);
  }
  for (const f of ['exceptions.json', 'controls-inputs.json', 'attack-tracks.json']) if (existsSync(join(dir, f))) read(f);
}

export function kubescapeSettingsFromEnv(env: NodeJS.ProcessEnv = process.env): KubescapeSettings {
  let bin: string;
  const rawBin = env.KUBESCAPE_BIN?.trim();
  if (rawBin) {
    bin = resolve(rawBin);
    if (!executable(bin)) throw invalidSetting('KUBESCAPE_BIN', 'the path of an executable kubescape program', rawBin);
  } else bin = defaultKubescapeBin(env);

  let artifactsDir: string | undefined;
  const rawArt = env.KUBESCAPE_ARTIFACTS_DIR?.trim();
  if (rawArt) {
    artifactsDir = resolve(rawArt);
    if (!existsSync(artifactsDir) || !statSync(artifactsDir).isDirectory()) throw invalidSetting('KUBESCAPE_ARTIFACTS_DIR', 'a directory holding kubescape policy artifacts (nsa.json, mitre.json, …)', rawArt);
    checkArtifacts(artifactsDir);
  }

  const rawStrategy = env.KUBESCAPE_STRATEGY?.trim() || 'per-namespace';
  if (rawStrategy !== 'split' && rawStrategy !== 'per-namespace') throw invalidSetting('KUBESCAPE_STRATEGY', "'split' or 'per-namespace'", env.KUBESCAPE_STRATEGY);

  const rawScope = env.KUBESCAPE_CLUSTER_SCOPE?.trim().toLowerCase() || 'true';
  if (rawScope !== 'true' && rawScope !== 'false') throw invalidSetting('KUBESCAPE_CLUSTER_SCOPE', "'true' or 'false'", env.KUBESCAPE_CLUSTER_SCOPE);

  const rawExcl = env.KUBESCAPE_EXCLUSIONS_FILE?.trim();
  return {
    topology: topologySettings(env),
    kubeconfig: env.KUBECONFIG?.trim() || undefined,
    bin,
    artifactsDir,
    runTimeoutMs: intSetting(env, 'KUBESCAPE_TIMEOUT_MS', 300_000, 1000, 3_600_000),
    thresholds: { nsa: scoreSetting(env, 'KUBESCAPE_NSA_THRESHOLD', 70), mitre: scoreSetting(env, 'KUBESCAPE_MITRE_THRESHOLD', 60) },
    exclusionsFile: rawExcl ? resolve(rawExcl) : undefined,
    strategy: rawStrategy,
    concurrency: intSetting(env, 'KUBESCAPE_CONCURRENCY', 3, 1, 16),
    clusterScope: rawScope === 'true',
  };
}
