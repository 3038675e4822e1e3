/**
 * Every output format of a finished scan, rendered from the same input: per scan its report
 * (byte-for-byte the HTTP body for `json`), its flat check list (lib/scan/checks.ts) and, for the
 * network scan, the picture. Used by the command line and by `?format=`. Each format's module is
 * loaded when it is asked for.
 */
import { dirname } from 'node:path';
import type { Check } from '../../scan/checks.ts';
import type { ScanReport } from '../../scan/report.ts';
import type { Format, RenderOptions, ReportSource, ScanResult } from '../types.ts';

export { CONTENT_TYPES, FORMATS, type Format, type RenderOptions, type ReportSource, type ScanResult } from '../types.ts';

export function scanResult(def: ReportSource, report: ScanReport, extra: Check[] = []): ScanResult {
  const metadata = report.sources?.metadata;
  return {
    scan: def.name,
    mode: report.scan_type,
    report,
    checks: [...(def.checks?.(report) ?? []), ...extra],
    graph: def.graph?.(report),
    ...(typeof metadata === 'string' ? { stackDir: dirname(metadata) } : {}),
  };
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
