/**
 * The shapes every output format reads (lib/report/formats) and the gate (gate.ts) judges: one scan's
 * outcome with its checks and picture. Types and constants only, importing no format and no scaffold.
 */
import type { ErrorInfo } from '../errors.ts';
import type { Check, CheckSeverity } from '../scan/checks.ts';
import type { ScanReport } from '../scan/report.ts';
import type { ReportGraph } from './graph.ts';

export const FORMATS = ['table', 'json', 'sarif', 'junit', 'html'] as const;
export type Format = (typeof FORMATS)[number];

export const CONTENT_TYPES: Readonly<Record<Format, string>> = {
  table: 'text/plain; charset=utf-8',
  json: 'application/json',
  sarif: 'application/sarif+json',
  junit: 'application/xml; charset=utf-8',
  html: 'text/html; charset=utf-8',
};

/** What of a scan definition the formats use: its name, its check adapter and its picture. */
export interface ReportSource {
  name: string;
  checks?(report: ScanReport): Check[];
  graph?(report: ScanReport): ReportGraph | undefined;
}

/** One scan's outcome: a report, or why it could not run (the HTTP error body's status and info). */
export interface ScanResult {
  scan: string;
  mode: string;
  report?: ScanReport;
  failure?: { status: number; info: ErrorInfo };
  checks: Check[];
  graph?: ReportGraph;
  /** The folder the checks' relative file locations are relative to (the metadata file's). */
  stackDir?: string;
}

export interface GateSpec {
  failBelow?: number;
  /** Verdicts, upper case (SECURITY_RISK, NOT_ENFORCING, MISSING, …): any check with one fails the gate. */
  verdicts: Set<string>;
  /** A failing check (result `fail`) at this severity or worse fails the gate. */
  severity?: CheckSeverity;
}

export interface GateOutcome {
  exitCode: 0 | 1 | 2;
  /** One line per reason, scan first. */
  reasons: string[];
  spec: GateSpec;
}

export interface RenderOptions {
  gate?: GateOutcome;
  /** Directory file locations are made relative to (SARIF's SRCROOT); default the working directory. */
  baseDir?: string;
  /** The command line that produced the output, shown in HTML and SARIF invocations. */
  commandLine?: string;
}
