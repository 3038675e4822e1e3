/**
 * Every setting of the kubescape scan, parsed up front (before any cluster call or kubescape run)
 * with KUBESCAPE_SETTINGS (lib/scan/settings.ts; reference: docs/configuration.md): a bad value is
 * a 422 naming the variable. The topology settings are lib/topology/settings.ts's, KUBECONFIG as for
 * every scan, KUBESCAPE_SCAN_TIMEOUT_MS the scaffold's. The repo carries kubescape's policy
 * artifacts in functions/kubescape-scan/artifacts/ (regolibrary v2.0.33, Apache-2.0).
 */
import { findOnPath, isExecutable } from '../../lib/tools/run.ts';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { ScanError } from '../../lib/errors.ts';
import { parseSettings, setting, settingsSchema } from '../../lib/scan/settings.ts';
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
    new ScanError(422, {
      code: 'invalid_setting',
      message: `KUBESCAPE_ARTIFACTS_DIR: ${join(dir, file)} ${why}; copy kubescape's artifacts there (see functions/kubescape-scan/artifacts/)`,
      setting: 'KUBESCAPE_ARTIFACTS_DIR',
      file: join(dir, file),
    });
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
    if (!fw || typeof fw !== 'object' || typeof fw.name !== 'string' || fw.name.toLowerCase() !== f || !Array.isArray(fw.controls))
      throw bad(`${f}.json`, `is not kubescape's ${f.toUpperCase()} framework (name, controls)`);
  }
  for (const f of ['exceptions.json', 'controls-inputs.json', 'attack-tracks.json']) if (existsSync(join(dir, f))) read(f);
}

export const KUBESCAPE_SETTINGS = settingsSchema({
  KUBESCAPE_BIN: setting.optionalText({
    defaultText: '`kubescape` on PATH, else .cache/bin/kubescape built by `bash harness/build.sh kubescape`',
    want: 'the path of an executable kubescape program',
    parse: (s) => (executable(resolve(s)) ? resolve(s) : undefined),
    description: 'the kubescape program',
    example: '/usr/local/bin/kubescape',
  }),
  KUBESCAPE_ARTIFACTS_DIR: setting.optionalText({
    defaultText: 'unset: kubescape downloads them from GitHub on every run (needs Internet access)',
    want: 'a directory holding kubescape policy artifacts (nsa.json, mitre.json, …)',
    parse: (s) => {
      const dir = resolve(s);
      if (!existsSync(dir) || !statSync(dir).isDirectory()) return undefined;
      checkArtifacts(dir); // a broken file is its own 422, naming it
      return dir;
    },
    description:
      "kubescape's policy artifacts (nsa.json, mitre.json, exceptions.json, controls-inputs.json, attack-tracks.json): the scan is then fully " +
      'offline; the repo carries a copy in functions/kubescape-scan/artifacts/',
    example: '/opt/kubescape/artifacts',
  }),
  KUBESCAPE_TIMEOUT_MS: setting.int({
    default: 300_000,
    min: 1000,
    max: 3_600_000,
    description: "one kubescape run's time limit (it is killed with its children)",
    example: '120000',
  }),
  KUBESCAPE_NSA_THRESHOLD: setting.score({ default: 70, description: 'a namespace is flagged below this NSA score', example: '80' }),
  KUBESCAPE_MITRE_THRESHOLD: setting.score({ default: 60, description: 'a namespace is flagged below this MITRE score', example: '75.5' }),
  KUBESCAPE_EXCLUSIONS_FILE: setting.path({
    defaultText: 'unset: only the built-in exclusions',
    description: 'YAML or JSON file of extra exclusions (known operator requirements)',
    example: '/config/kubescape-exclusions.yaml',
  }),
  KUBESCAPE_STRATEGY: setting.choice(['per-namespace', 'split'], {
    default: 'per-namespace',
    want: "'split' or 'per-namespace'",
    description:
      'how per-namespace scores are obtained: `per-namespace` (one run per namespace, KUBESCAPE_CONCURRENCY at a time) or `split` (one run over the ' +
      "stack's namespaces, split by namespace; measured slower, bench/kubescape.ts)",
    example: 'split',
  }),
  KUBESCAPE_CONCURRENCY: setting.int({
    default: 3,
    min: 1,
    max: 16,
    description: 'kubescape runs at once for `per-namespace` (each run is mostly CPU for a few seconds)',
    example: '2',
  }),
  KUBESCAPE_CLUSTER_SCOPE: setting.choice(['true', 'false'], {
    default: 'true',
    lower: true,
    description:
      'full mode: also run one cluster-wide scan to report failures of cluster-scoped objects tied to the stack (ClusterRoleBindings of its ' +
      'ServiceAccounts, its Namespace objects)',
    example: 'false',
  }),
});

export function kubescapeSettingsFromEnv(env: NodeJS.ProcessEnv = process.env): KubescapeSettings {
  const s = parseSettings(KUBESCAPE_SETTINGS, env);
  return {
    topology: topologySettings(env),
    kubeconfig: env.KUBECONFIG?.trim() || undefined,
    bin: s.KUBESCAPE_BIN ?? defaultKubescapeBin(env),
    artifactsDir: s.KUBESCAPE_ARTIFACTS_DIR,
    runTimeoutMs: s.KUBESCAPE_TIMEOUT_MS,
    thresholds: { nsa: s.KUBESCAPE_NSA_THRESHOLD, mitre: s.KUBESCAPE_MITRE_THRESHOLD },
    exclusionsFile: s.KUBESCAPE_EXCLUSIONS_FILE,
    strategy: s.KUBESCAPE_STRATEGY,
    concurrency: s.KUBESCAPE_CONCURRENCY,
    clusterScope: s.KUBESCAPE_CLUSTER_SCOPE === 'true',
  };
}
