/**
 * `stack-scan`: the scans in this process, their report in a format a pipeline reads, and a
 * gate on it (exit 0 passed, 1 the gate failed, 2 could not run or decide). Nothing here
 * prints a stack trace: a bad flag is the usage line, a bad file one line naming it.
 */
import { writeFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { ScanError } from '../lib/errors.ts';
import { evaluateGate } from '../lib/report/gate.ts';
import { render, scanResult, type ScanResult } from '../lib/report/formats/index.ts';
import type { ProgressFn, ScanDefinition } from '../lib/scan/run.ts';
import { HELP, parseCli, USAGE, UsageError, type CliArgs, type ScanName } from './args.ts';
import { progressLine } from './progress.ts';

export interface Io {
  argv: string[];
  env: NodeJS.ProcessEnv;
  stdout: { write(s: string): unknown; isTTY?: boolean };
  stderr: { write(s: string): unknown; isTTY?: boolean };
}

const VERSION = '0.1.0';

/** The definition of one scan (each module loaded only when its scan runs). */
async function definition(name: ScanName, args: CliArgs): Promise<ScanDefinition<string>> {
  if (args.offline && name === 'kubescape') {
    const { kubescapeOfflineScan } = await import('../functions/kubescape-scan/offline.ts');
    return kubescapeOfflineScan({ manifests: resolve(args.manifests!) }) as ScanDefinition<string>;
  }
  if (args.offline) {
    const { networkOfflineScan } = await import('../functions/network-scan/offline.ts');
    const { fileLimits } = await import('../lib/topology/settings.ts');
    return networkOfflineScan({
      metadata: resolve(args.metadata ?? 'stack-metadata.yaml'),
      policies: resolve(args.policies!),
      limits: fileLimits(),
    }) as ScanDefinition<string>;
  }
  switch (name) {
    case 'network':
      return (await import('../functions/network-scan/scan.ts')).networkScan() as ScanDefinition<string>;
    case 'opa':
      return (await import('../functions/opa-scan/scan.ts')).opaScan() as ScanDefinition<string>;
    case 'kubescape':
      return (await import('../functions/kubescape-scan/scan.ts')).kubescapeScan() as ScanDefinition<string>;
    case 'nuclei':
      return (await import('../functions/nuclei-scan/scan.ts')).nucleiScan() as ScanDefinition<string>;
  }
}

/** `file:line:col: message` for a ScanError about a file, else its message. */
function oneLine(info: ScanError['info']): string {
  // Messages about a file usually name it already (with its line and column): no second prefix then.
  const at = info.file && !info.message.includes(info.file) ? `${info.file}${info.line ? `:${info.line}${info.column ? `:${info.column}` : ''}` : ''}: ` : '';
  return `${at}${info.message}${info.details?.length && info.details[0].path ? ` (${info.details[0].path}: ${info.details[0].message})` : ''}`.replace(
    /\s*\n\s*/g,
    ' ',
  );
}

export async function main(io: Io): Promise<number> {
  let args: CliArgs;
  try {
    args = parseCli(io.argv, io.stdout.isTTY === true);
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    io.stderr.write(`stack-scan: ${e.message}\n${USAGE}\n`);
    return 2;
  }
  if (args.help) {
    io.stdout.write(`${HELP}\n`);
    return 0;
  }
  if (args.version) {
    io.stdout.write(`stack-scan ${VERSION}\n`);
    return 0;
  }
  // The scans read their settings from the environment, as the HTTP functions do: the flags set those.
  if (args.metadata) io.env.STACK_METADATA = resolve(args.metadata);
  if (args.kubeconfig) io.env.KUBECONFIG = resolve(args.kubeconfig);
  if (args.policies && !args.offline) io.env.NETWORKPOLICY_DIR = resolve(args.policies);

  const { runScan, scanTimeoutMs, ScanAbort } = await import('../lib/scan/run.ts');
  // Ctrl-C stops the running scan (it hands back what it has, its report says so) and the ones after it.
  let current: AbortController | undefined;
  let interrupted = false;
  const onSignal = () => {
    interrupted = true;
    current?.abort(new ScanAbort('cancelled', 'interrupted (SIGINT); the report holds what was done by then'));
  };
  process.once('SIGINT', onSignal);
  const show = !args.quiet && io.stderr.isTTY === true ? progressLine(io.stderr) : undefined;
  const results: ScanResult[] = [];
  try {
    for (const name of args.scans) {
      if (interrupted) break;
      let def: ScanDefinition<string>;
      try {
        def = await definition(name, args);
      } catch (e) {
        return fatal(io, e);
      }
      const mode = args.mode ?? def.defaultMode;
      if (!def.modes.includes(mode)) {
        if (!args.all || args.mode === undefined) {
          io.stderr.write(`stack-scan: --mode must be one of ${def.modes.join(', ')} for ${name}; got '${mode.slice(0, 20)}'\n${USAGE}\n`);
          return 2;
        }
      }
      const runMode = def.modes.includes(mode) ? mode : def.defaultMode;
      const progress: ProgressFn | undefined = show ? (p) => show(`${name} (${runMode})`, p) : undefined;
      progress?.({ step: 'starting' });
      try {
        const timeout = scanTimeoutMs(def, runMode);
        const controller = (current = new AbortController());
        const timer = setTimeout(
          () => controller.abort(new ScanAbort('timeout', `the ${name} scan exceeded its total time of ${timeout} ms; the report holds what was done by then`)),
          timeout,
        );
        timer.unref();
        const report = await runScan(def, runMode, {}, controller.signal, timeout, progress).finally(() => clearTimeout(timer));
        results.push(scanResult(def, report));
      } catch (e) {
        if (e instanceof ScanError) {
          // A bad input file stops everything: one line naming it.
          if (e.status === 422 || e.status === 400) return fatal(io, e);
          results.push({ scan: name, mode: runMode, failure: { status: e.status, info: e.info }, checks: [] });
        } else {
          results.push({
            scan: name,
            mode: runMode,
            failure: { status: 500, info: { code: 'internal', message: `${name} scan failed: ${e instanceof Error ? e.message : String(e)}` } },
            checks: [],
          });
        }
      } finally {
        show?.clear();
      }
    }
  } finally {
    process.removeListener('SIGINT', onSignal);
  }
  const gate = evaluateGate(results, args.gate);
  const commandLine = `stack-scan ${io.argv.join(' ')}`;
  const text = await render(args.format, results, { gate, commandLine });
  if (args.output) {
    try {
      await writeFile(resolve(args.output), text);
    } catch (e) {
      io.stderr.write(`stack-scan: cannot write --output ${args.output}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}\n`);
      return 2;
    }
  } else io.stdout.write(text);
  // Outside the table, the gate's verdict goes to standard error (a CI log shows why it failed).
  if (args.format !== 'table' || args.output) {
    for (const why of gate.reasons) io.stderr.write(`stack-scan: ${why}\n`);
    if (gate.exitCode === 1) io.stderr.write('stack-scan: gate failed\n');
  }
  return gate.exitCode;
}

function fatal(io: Io, e: unknown): number {
  if (e instanceof ScanError) io.stderr.write(`stack-scan: ${oneLine(e.info)}\n`);
  else io.stderr.write(`stack-scan: ${e instanceof Error ? e.message.split('\n')[0] : String(e)}\n`);
  return 2;
}
