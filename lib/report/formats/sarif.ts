/**
 * SARIF 2.1.0 (types from @types/sarif): one run per scan. Rules are the checks' policies and
 * rules (expected policy, rule check, constraint, control, template) with help text; each check
 * that did not pass is a result, its level from its severity, located at the Stacktic file and
 * line where the check knows it (relative to the working directory, so code-scanning tools map it
 * onto the repository) else at a logical location (namespace/kind/name). Fingerprints are the
 * checks' stable ids. Passing and skipped checks are counted in the run's properties.
 */
import { isAbsolute, relative, resolve, sep } from 'node:path';
import { pathToFileURL } from 'node:url';
import type * as Sarif from 'sarif';
import type { Check, CheckResult, CheckSeverity } from '../../scan/checks.ts';
import type { RenderOptions, ScanResult } from '../types.ts';
import { sentence } from './text.ts';

const VERSION = '0.1.0';
const INFO_URI = 'https://github.com/stacktic/stack-scan';
const FINGERPRINT = 'stackScanCheckId/v1';

const LEVEL: Readonly<Record<CheckSeverity, Sarif.Result.level>> = { critical: 'error', high: 'error', medium: 'warning', low: 'note', info: 'note' };
/** GitHub code scanning's 0–10 `security-severity`. */
const SECURITY_SEVERITY: Readonly<Record<CheckSeverity, string>> = { critical: '9.5', high: '8.0', medium: '5.5', low: '3.0', info: '0.0' };
const KIND: Readonly<Record<CheckResult, Sarif.Result.kind>> = { fail: 'fail', warn: 'fail', error: 'review', pass: 'pass', skip: 'notApplicable' };

/** A rule is the check (expected policy, link, constraint, control, template); its parts (rule kind, probe) are results of it. */
const ruleId = (c: Check) => c.policy;

/** A location the user's tools can open: relative to SRCROOT when the file is under it, else a file: URI. */
function artifact(file: string, base: string, stackDir: string): Sarif.ArtifactLocation {
  const abs = resolve(stackDir, file);
  const rel = relative(base, abs);
  if (!rel.startsWith('..') && !isAbsolute(rel)) return { uri: rel.split(sep).map(encodeURIComponent).join('/'), uriBaseId: 'SRCROOT' };
  return { uri: pathToFileURL(abs).href };
}

function location(c: Check, base: string, stackDir: string): Sarif.Location[] {
  const locs: Sarif.Location[] = [];
  if (c.location?.file) {
    // A whole-file finding points at its first line (code-scanning views need a region).
    const region: Sarif.Region = c.location.line
      ? { startLine: c.location.line, ...(c.location.column ? { startColumn: c.location.column } : {}) }
      : { startLine: 1 };
    locs.push({ physicalLocation: { artifactLocation: artifact(c.location.file, base, stackDir), region } });
  }
  const logical: Sarif.LogicalLocation[] = c.resources.map((r) => ({
    name: r.name,
    fullyQualifiedName: [r.namespace, r.kind, r.name].filter(Boolean).join('/'),
    kind: 'resource',
  }));
  if (!logical.length && c.namespace) logical.push({ name: c.namespace, fullyQualifiedName: c.namespace, kind: 'namespace' });
  if (logical.length) {
    if (locs.length) locs[0].logicalLocations = logical;
    else locs.push({ logicalLocations: logical });
  }
  return locs;
}

function run(r: ScanResult, base: string, opts: RenderOptions): Sarif.Run {
  const rules: Sarif.ReportingDescriptor[] = [];
  const index = new Map<string, number>();
  const results: Sarif.Result[] = [];
  const counts: Record<CheckResult, number> = { pass: 0, fail: 0, warn: 0, error: 0, skip: 0 };
  for (const c of r.checks) {
    counts[c.result]++;
    if (c.result === 'pass' || c.result === 'skip') continue;
    const id = ruleId(c);
    let i = index.get(id);
    if (i === undefined) {
      i = rules.length;
      index.set(id, i);
      const text = sentence(c.title ? `${c.title}: ${c.policy}` : c.policy);
      rules.push({
        id,
        name: `${r.scan}.${(c.rule || 'check').replace(/[^A-Za-z0-9]+/g, '-')}`,
        shortDescription: { text },
        fullDescription: { text: sentence(c.help ?? text) },
        help: { text: sentence(c.help ?? `${text} ${c.properties.fix ? `Fix: ${c.properties.fix}` : `See docs/cli.md (${r.scan}).`}`) },
        helpUri: `${INFO_URI}/blob/main/docs/cli.md#${r.scan}`,
        defaultConfiguration: { level: LEVEL[c.severity] },
        properties: { tags: ['security', `stack-scan/${r.scan}`], 'security-severity': SECURITY_SEVERITY[c.severity] },
      });
    }
    const locations = location(c, base, r.stackDir ?? base);
    results.push({
      ruleId: id,
      ruleIndex: i,
      kind: KIND[c.result],
      level: c.result === 'error' ? 'none' : LEVEL[c.severity],
      message: { text: sentence(c.message) },
      ...(locations.length ? { locations } : {}),
      fingerprints: { [FINGERPRINT]: c.id },
      partialFingerprints: { [FINGERPRINT]: c.id },
      properties: { verdict: c.verdict, severity: c.severity, result: c.result, ...c.properties },
    });
  }
  const rep = r.report;
  const notifications: Sarif.Notification[] = [
    ...(r.failure ? [{ level: 'error' as const, message: { text: sentence(r.failure.info.message) } }] : []),
    ...(rep?.errors ?? []).map((e) => ({ level: 'warning' as const, message: { text: sentence(`${e.step}: ${e.message}`) } })),
  ];
  return {
    tool: {
      driver: { name: 'stack-scan', fullName: `stack-scan ${r.scan} scan`, version: VERSION, semanticVersion: VERSION, informationUri: INFO_URI, rules },
    },
    automationDetails: { id: `stack-scan/${r.scan}/${r.mode}/` },
    originalUriBaseIds: { SRCROOT: { uri: `${pathToFileURL(base).href.replace(/\/?$/, '/')}` } },
    invocations: [
      {
        executionSuccessful: !r.failure && rep?.score !== null,
        ...(opts.commandLine ? { commandLine: opts.commandLine } : {}),
        ...(rep ? { startTimeUtc: rep.started_at, endTimeUtc: new Date(Date.parse(rep.started_at) + rep.duration_ms).toISOString() } : {}),
        ...(notifications.length ? { toolExecutionNotifications: notifications } : {}),
      },
    ],
    results,
    properties: { scan: r.scan, mode: r.mode, score: rep?.score ?? null, checks: counts },
  };
}

export function sarifLog(results: ScanResult[], opts: RenderOptions = {}): Sarif.Log {
  const base = resolve(opts.baseDir ?? process.cwd());
  return { $schema: 'https://json.schemastore.org/sarif-2.1.0.json', version: '2.1.0', runs: results.map((r) => run(r, base, opts)) };
}

export function renderSarif(results: ScanResult[], opts: RenderOptions = {}): string {
  return `${JSON.stringify(sarifLog(results, opts), null, 2)}\n`;
}
