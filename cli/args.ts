/**
 * The command line's arguments, parsed with node's own util.parseArgs (strict: an unknown or
 * misspelt option is an error, never ignored). It does all this command needs (one positional
 * subcommand, string and boolean options, `--opt=value`), loads nothing, and so keeps a cold
 * `stack-scan network --offline` fast; a framework (commander, citty) would add a dependency and
 * start-up time for help text we write once. Every mistake is a UsageError: the usage line, exit 2.
 */
import { parseArgs } from 'node:util';
import { FORMATS, type Format } from '../lib/report/formats/index.ts';
import { GateUsageError, parseFailBelow, parseFailOn, type GateSpec } from '../lib/report/gate.ts';

export const SCANS = ['network', 'opa', 'kubescape', 'nuclei'] as const;
export type ScanName = (typeof SCANS)[number];

export const USAGE =
  'usage: stack-scan <network|opa|kubescape|nuclei|all> [--mode MODE] [--format table|json|sarif|junit|html] [--output FILE] [--fail-below SCORE] ' +
  '[--fail-on LIST] [--metadata FILE] [--kubeconfig FILE] [--offline [--policies DIR | --manifests DIR]]';

export const HELP = `${USAGE}

Runs stack-scan's scans in this process (no server) and gates a pipeline on them.

  network | opa | kubescape | nuclei   one scan;  all   the four, gated together
  --mode MODE          the scan's mode (network, opa, kubescape: light|full; nuclei: light|full|network|ssl); default the scan's own
  --format F           table (default on a terminal) | json (default otherwise; byte-for-byte the HTTP report) | sarif | junit | html
  --output FILE        write the report there instead of standard output
  --fail-below SCORE   exit 1 when a scan's score is below SCORE (0-100)
  --fail-on LIST       exit 1 on any check with one of these verdicts (SECURITY_RISK, NOT_ENFORCING, MISSING, …) or a
                       failing check of one of these severities or worse (critical, high, medium, low, info), comma-separated
  --metadata FILE      Stacktic's stack-metadata.yaml (else STACK_METADATA, else ./stack-metadata.yaml)
  --kubeconfig FILE    the cluster (else KUBECONFIG, ~/.kube/config, or in-cluster)
  --offline            no cluster: network checks --policies DIR (Stacktic's generated networkpolicy/ folder) against --metadata;
                       kubescape runs on --manifests DIR (rendered manifests) and says why its scores can differ from the cluster's
  --policies DIR       the generated NetworkPolicy folder (offline; online it is NETWORKPOLICY_DIR)
  --manifests DIR      rendered manifests for kubescape --offline
  --quiet              no progress on standard error even on a terminal
  -h, --help           this text;  --version   the version

Exit codes: 0 passed, 1 the gate failed, 2 a scan could not run or could not decide (bad usage, bad input, cluster unreachable).
Other settings are the environment variables the HTTP functions read (docs/cli.md).`;

export class UsageError extends Error {}

export interface CliArgs {
  help?: true;
  version?: true;
  scans: ScanName[];
  all: boolean;
  mode?: string;
  format: Format;
  output?: string;
  gate: GateSpec;
  metadata?: string;
  kubeconfig?: string;
  offline: boolean;
  policies?: string;
  manifests?: string;
  quiet: boolean;
}

export function parseCli(argv: string[], stdoutIsTty: boolean): CliArgs {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      strict: true,
      options: {
        mode: { type: 'string' },
        format: { type: 'string', short: 'f' },
        output: { type: 'string', short: 'o' },
        'fail-below': { type: 'string' },
        'fail-on': { type: 'string' },
        metadata: { type: 'string' },
        kubeconfig: { type: 'string' },
        offline: { type: 'boolean' },
        policies: { type: 'string' },
        manifests: { type: 'string' },
        quiet: { type: 'boolean', short: 'q' },
        help: { type: 'boolean', short: 'h' },
        version: { type: 'boolean' },
      },
    });
  } catch (e) {
    // parseArgs' messages name the option; drop its advice about '--' which does not apply here.
    throw new UsageError((e as Error).message.split('\n')[0].replace(/;? To specify a positional argument.*$/, ''));
  }
  const { values: o, positionals } = parsed;
  const base = { scans: [], all: false, format: 'json' as Format, gate: { verdicts: new Set<string>() }, offline: false, quiet: false };
  if (o.help) return { ...base, help: true };
  if (o.version) return { ...base, version: true };
  if (positionals.length === 0) throw new UsageError('name a scan: network, opa, kubescape, nuclei or all');
  if (positionals.length > 1) throw new UsageError(`one scan at a time (or all); got ${positionals.map((p) => `'${p.slice(0, 30)}'`).join(' ')}`);
  const what = positionals[0];
  const all = what === 'all';
  if (!all && !(SCANS as readonly string[]).includes(what)) throw new UsageError(`unknown scan '${what.slice(0, 30)}'; one of ${SCANS.join(', ')}, all`);
  const scans = all ? [...SCANS] : [what as ScanName];
  const format = (o.format ?? (stdoutIsTty && !o.output ? 'table' : 'json')) as Format;
  if (!(FORMATS as readonly string[]).includes(format))
    throw new UsageError(`--format must be one of ${FORMATS.join(', ')}; got '${String(o.format).slice(0, 30)}'`);
  const gate: GateSpec = { verdicts: new Set() };
  try {
    if (o['fail-below'] !== undefined) gate.failBelow = parseFailBelow(o['fail-below']);
    if (o['fail-on'] !== undefined) Object.assign(gate, parseFailOn(o['fail-on']));
  } catch (e) {
    if (e instanceof GateUsageError) throw new UsageError(e.message);
    throw e;
  }
  const offline = o.offline === true;
  if (offline) {
    if (all || what === 'opa' || what === 'nuclei')
      throw new UsageError(
        `--offline checks files before deploy for network (--policies DIR) and kubescape (--manifests DIR); ${all ? 'all' : what} needs a cluster`,
      );
    if (what === 'kubescape' && !o.manifests)
      throw new UsageError('kubescape --offline needs --manifests DIR (the rendered manifests: files or a directory of YAML)');
    if (what === 'kubescape' && o.policies) throw new UsageError('--policies is for the network scan');
    if (what === 'network' && !o.policies)
      throw new UsageError("network --offline needs --policies DIR (Stacktic's generated networkpolicy/ folder) and --metadata FILE");
    if (what === 'network' && o.manifests) throw new UsageError('--manifests is for kubescape --offline');
    if (o.kubeconfig) throw new UsageError('--kubeconfig and --offline exclude each other');
    if (o.mode && o.mode !== 'offline') throw new UsageError(`--offline has one mode; --mode ${o.mode.slice(0, 20)} needs a cluster`);
  } else {
    if (o.policies && what !== 'network' && !all) throw new UsageError('--policies is for the network scan');
    if (o.manifests) throw new UsageError('--manifests is for kubescape --offline');
  }
  for (const [k, v] of Object.entries(o)) if (typeof v === 'string' && v.trim() === '') throw new UsageError(`--${k} needs a value`);
  return {
    scans,
    all,
    ...(o.mode ? { mode: o.mode } : {}),
    format,
    ...(o.output ? { output: o.output } : {}),
    gate,
    ...(o.metadata ? { metadata: o.metadata } : {}),
    ...(o.kubeconfig ? { kubeconfig: o.kubeconfig } : {}),
    offline,
    ...(o.policies ? { policies: o.policies } : {}),
    ...(o.manifests ? { manifests: o.manifests } : {}),
    quiet: o.quiet === true,
  };
}
