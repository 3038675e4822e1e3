/**
 * Every output format of a finished scan, rendered from the same input: per scan its
 * report (byte-for-byte the HTTP body for `json`), its flat check list (lib/scan/checks.ts)
 * and, for the network scan, the picture. Used by the command line and by `?format=`.
 */
import { dirname } from 'node:path';
import type { ErrorInfo } from '../../errors.ts';
import type { Check } from '../../scan/checks.ts';
import type { ScanDefinition, ScanReport } from '../../scan/scaffold.ts';
import type { GateOutcome } from '../gate.ts';
import type { ReportGraph } from '../graph.ts';

export const FORMATS = ['table', 'json', 'sarif', 'junit', 'html'] as const;
export type Format = (typeof FORMATS)[number];

export const CONTENT_TYPES: Readonly<Record<Format, string>> = {
  table: 'text/plain; charset=utf-8',
  json: 'application/json',
  sarif: 'application/sarif+json',
  junit: 'application/xml; charset=utf-8',
  html: 'text/html; charset=utf-8',
};

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

export interface RenderOptions {
  gate?: GateOutcome;
  /** Directory file locations are made relative to (SARIF's SRCROOT); default the working directory. */
  baseDir?: string;
  /** The command line that produced the output, shown in HTML and SARIF invocations. */
  commandLine?: string;
}

export function scanResult(def: Pick<ScanDefinition<string>, 'name' | 'checks' | 'graph'>, report: ScanReport, extra: Check[] = []): ScanResult {
  const metadata = report.sources?.metadata;
  return { scan: def.name, mode: report.scan_type, report, checks: [...(def.checks?.(report) ?? []), ...extra], graph: def.graph?.(report), ...(typeof metadata === 'string' ? { stackDir: dirname(metadata) } : {}) };
}

export async function render(format: Format, results: ScanResult[], opts: RenderOptions = {}): Promise<string> {
  switch (format) {
    case 'json':
      return renderJson(results);
    case 'table':
      return (await import('./table.ts')).renderTable(results, opts);
    case 'sarif':
      return (await import('./sarif.ts')).renderSarif(results, opts);
    case 'junit':
      return (await import('./junit.ts')).renderJunit(results, opts);
    case 'html':
      return (await import('./html.ts')).renderHtml(results, opts);
  }
}

/** One scan: exactly the HTTP body (report, or `{ error: … }`); several: a JSON array of those bodies. */
export function renderJson(results: ScanResult[]): string {
  const bodies = results.map((r) => (r.report ? r.report : { error: { status: r.failure!.status, ...r.failure!.info } }));
  return JSON.stringify(bodies.length === 1 ? bodies[0] : bodies);
}

/** A message ends with a period (SARIF's and JUnit readers' convention), never longer than one line. */
export const sentence = (s: string) => {
  const one = s.replace(/\s*\n\s*/g, ' ').trim();
  return /[.!?]$/.test(one) ? one : `${one}.`;
};
