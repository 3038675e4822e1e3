/**
 * `?format=json|sarif|junit|html` on every scan's HTTP route (lib/scan/scaffold.ts): JSON stays the
 * default and is untouched; the other formats are rendered from the report's checks
 * (ScanDefinition.checks) by lib/report/formats, loaded on first use only.
 */
import type { Context } from 'hono';
import type { ErrorInfo } from '../errors.ts';
import type { ScanReport } from '../scan/report.ts';
import type { ReportSource } from './types.ts';

export const FORMAT_PARAM = 'format';
export const HTTP_FORMATS = ['json', 'sarif', 'junit', 'html'] as const;
export type HttpFormat = (typeof HTTP_FORMATS)[number];

export const formatParam = {
  description: `one of ${HTTP_FORMATS.join(', ')} (default json)`,
  parse(raw: string | undefined): { ok: true; value: HttpFormat } | { ok: false; error: ErrorInfo } {
    if (raw === undefined || raw === '') return { ok: true, value: 'json' };
    if ((HTTP_FORMATS as readonly string[]).includes(raw)) return { ok: true, value: raw as HttpFormat };
    return {
      ok: false,
      error: {
        code: 'invalid_format',
        message: `format must be one of: ${HTTP_FORMATS.join(', ')}; got '${raw.slice(0, 40)}'`,
        details: [{ path: FORMAT_PARAM, message: `allowed: ${HTTP_FORMATS.join(', ')}` }],
      },
    };
  },
};

export async function renderHttp(c: Context, def: ReportSource, report: ScanReport, format: Exclude<HttpFormat, 'json'>): Promise<Response> {
  const { render, CONTENT_TYPES, scanResult } = await import('./formats/index.ts');
  const text = await render(format, [scanResult(def, report)]);
  return c.body(text, 200, { 'content-type': CONTENT_TYPES[format] });
}
