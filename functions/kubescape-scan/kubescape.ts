/**
 * The real kubescape CLI (v3, built by harness/build.sh kubescape): running it
 * offline against a cluster, and reading its JSON v2 report.
 *
 * The report and kubescape's scoring (pure) are in kubescape-report.ts, re-exported here.
 * Pure part (no I/O): `parseKubescapeReport` (JSON v2 -> typed report, every
 * id-keyed table in a Map), `controlComplianceScore` / `frameworkComplianceScore`
 * (kubescape's own scoring, opa-utils score.go, in float32 as kubescape computes
 * it), `splitByNamespace` (per-namespace framework scores from one
 * multi-namespace report, reproducing what `--include-namespaces <ns>` reports),
 * `kubescapeArgs`.
 *
 * I/O part: `runKubescape` runs the program through lib/tools/run.ts (own
 * process group, killed whole on abort/timeout) in a private temp directory
 * (its output file, HOME and XDG dirs) that is always removed; a directory left
 * by a crashed process is swept by the next run.
 *
 * Offline: `--use-artifacts-from DIR --keep-local` and KS_SKIP_UPDATE_CHECK=true
 * make kubescape talk to nothing but the API server (without them it downloads
 * the policies and checks for a newer version over the Internet).
 */
import { existsSync, readdirSync, rmSync, statSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describeFailure, runTool, type ToolResult } from '../../lib/tools/run.ts';
import { parseKubescapeReport, type KsReport } from './kubescape-report.ts';

export * from './kubescape-report.ts';

// ------------------------------------------------------------------ running (I/O)

export interface KubescapeRunOptions {
  /** The kubescape program. */
  bin: string;
  /** Framework names, e.g. ['nsa', 'mitre']. */
  frameworks: string[];
  kubeconfig?: string;
  /** Policy artifacts (frameworks, exceptions, controls-inputs, attack-tracks); unset: kubescape downloads them. */
  artifactsDir?: string;
  /** `--include-namespaces`; empty/unset: every namespace. */
  includeNamespaces?: string[];
  /** Files or directories of manifests to scan instead of a cluster (no kubeconfig is given then). */
  paths?: string[];
  signal?: AbortSignal;
  timeoutMs?: number;
  /** Where the private temp dir goes (default os.tmpdir()). */
  tmpRoot?: string;
}

export interface KubescapeRun {
  /** The parsed report, when kubescape wrote one that parses. */
  report: KsReport | null;
  /** The raw JSON text (for recording fixtures), when written. */
  raw: string | null;
  tool: ToolResult;
  /** Set when there is no usable report: what kubescape said, or why the report could not be read. */
  failure: string | null;
  /** Lines of kubescape's output that say access was denied (403 / forbidden). */
  forbidden: string[];
}

export const TMP_PREFIX = 'stackscan-kubescape-';
/** A temp dir older than this, whose process is gone, is swept by the next run. */
export const TMP_EXPIRY_MS = 60 * 60_000;

/** The argv for one offline scan. */
export function kubescapeArgs(o: {
  frameworks: string[];
  output: string;
  kubeconfig?: string;
  artifactsDir?: string;
  includeNamespaces?: string[];
  paths?: string[];
}): string[] {
  const args = [
    'scan',
    'framework',
    o.frameworks.join(','),
    ...(o.paths ?? []),
    '--format',
    'json',
    '--format-version',
    'v2',
    '--output',
    o.output,
    '--keep-local',
  ];
  if (o.artifactsDir) args.push('--use-artifacts-from', o.artifactsDir);
  if (o.kubeconfig) args.push('--kubeconfig', o.kubeconfig);
  if (o.includeNamespaces?.length) args.push('--include-namespaces', o.includeNamespaces.join(','));
  return args;
}

/** Lines of kubescape's log that report denied access. */
export function forbiddenLines(text: string): string[] {
  return text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => /\bforbidden\b|\b403\b/i.test(l))
    .slice(0, 20);
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Remove temp dirs of ours left by a process that died (its pid, in the name,
 * is gone) or older than TMP_EXPIRY_MS. Returns how many were removed.
 */
export function sweepKubescapeTemp(root = tmpdir(), now = Date.now()): number {
  let n = 0;
  let entries: string[];
  try {
    entries = readdirSync(root);
  } catch {
    return 0;
  }
  for (const name of entries) {
    if (!name.startsWith(TMP_PREFIX)) continue;
    const pid = Number(name.slice(TMP_PREFIX.length).split('-')[0]);
    const p = join(root, name);
    try {
      const age = now - statSync(p).mtimeMs;
      const orphan = pid !== process.pid && !(Number.isInteger(pid) && pid > 0 && pidAlive(pid));
      if (orphan || age > TMP_EXPIRY_MS) {
        rmSync(p, { recursive: true, force: true });
        n++;
      }
    } catch {
      /* raced with another sweeper */
    }
  }
  return n;
}

/**
 * Run one kubescape scan. Never throws for a failing kubescape: `failure` says
 * what happened (exit code, its last lines, timeout, cancellation), and the
 * report is kept when kubescape wrote one. The temp dir is removed in every case.
 */
export async function runKubescape(o: KubescapeRunOptions): Promise<KubescapeRun> {
  const root = o.tmpRoot ?? tmpdir();
  sweepKubescapeTemp(root);
  const dir = await mkdtemp(join(root, `${TMP_PREFIX}${process.pid}-`));
  try {
    const output = join(dir, 'report.json');
    const args = kubescapeArgs({
      frameworks: o.frameworks,
      output,
      kubeconfig: o.kubeconfig,
      artifactsDir: o.artifactsDir,
      includeNamespaces: o.includeNamespaces,
      paths: o.paths,
    });
    const tool = await runTool(o.bin, args, {
      signal: o.signal,
      timeoutMs: o.timeoutMs,
      // Nothing of kubescape's (config, cache, temp files) outlives the run: TMPDIR, HOME and XDG dirs are the temp dir.
      env: {
        KS_SKIP_UPDATE_CHECK: 'true',
        TMPDIR: dir,
        HOME: dir,
        XDG_CONFIG_HOME: join(dir, '.config'),
        XDG_CACHE_HOME: join(dir, '.cache'),
        XDG_DATA_HOME: join(dir, '.local'),
      },
      cwd: dir,
      stderrTailChars: 8000,
    });
    const said = `${tool.stderrTail}\n${tool.stdout.slice(-8000)}`;
    const forbidden = forbiddenLines(said);
    let raw: string | null = null;
    let report: KsReport | null = null;
    let failure: string | null = null;
    if (existsSync(output) && !tool.aborted && !tool.timedOut) {
      raw = await readFile(output, 'utf8');
      try {
        report = parseKubescapeReport(JSON.parse(raw));
      } catch (e) {
        failure = `kubescape wrote a report that cannot be read: ${(e as Error).message}`;
      }
    }
    if (tool.missing || tool.aborted || tool.timedOut || (tool.exitCode !== 0 && !report)) {
      failure = describeFailure('kubescape', { ...tool, stderrTail: lastLines(said) });
    } else if (!report && !failure) {
      failure = `kubescape exited with code ${tool.exitCode} but wrote no report: ${lastLines(said).trim().split('\n').slice(-5).join(' | ')}`;
    }
    return { report, raw, tool, failure, forbidden };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/**
 * kubescape logs to stdout and stderr, partly as JSON lines; keep the meaningful end
 * of it, JSON log lines as `level: msg (error)`, without ANSI codes, spinners and tables.
 */
export function lastLines(text: string): string {
  return (
    text
      // biome-ignore lint/suspicious/noControlCharactersInRegex: strips ANSI escapes from kubescape's output
      .replace(/\u001b\[[0-9;?]*[A-Za-z]/g, '')
      .split(/\r?\n|\r/)
      .map((l) => l.trim())
      .filter((l) => l && !/^[⠁-⣿\s]+$/.test(l) && !/^[│├╰╭─┼┤┬┴╮╯]/.test(l))
      .map((l) => {
        if (!l.startsWith('{')) return l;
        try {
          const j = JSON.parse(l) as Record<string, unknown>;
          if (typeof j.msg !== 'string') return l;
          const extra = Object.entries(j)
            .filter(([k]) => !['level', 'ts', 'msg'].includes(k))
            .map(([k, v]) => `${k}: ${typeof v === 'string' ? v : JSON.stringify(v)}`);
          return `${j.level ?? 'log'}: ${j.msg}${extra.length ? ` (${extra.join(', ')})` : ''}`;
        } catch {
          return l;
        }
      })
      .slice(-8)
      .join('\n')
  );
}
