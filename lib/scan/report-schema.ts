/**
 * The report every scan answers (lib/scan/scaffold.ts `ScanReport`) as valibot schemas, from which
 * `npm run docs:gen` writes schema/<scan>-report.schema.json (JSON Schema) and lib/scan/openapi.ts
 * builds the OpenAPI document served at GET /openapi.json. Each scan declares its own part (summary,
 * results, findings per mode) in functions/<scan>/report.ts; the envelope, the errors[] entry and
 * the HTTP error body are here.
 *
 * Precise where the shape is fixed (the envelope, summaries: closed objects), open where it is
 * open-ended by nature (`sources`, objects copied from the cluster or a tool): such parts say so
 * in their description. Test reports are checked against the JSON Schemas (test/support/report-schema.ts).
 */
import * as v from 'valibot';

/** Part of a scan's report for one mode. */
export interface ModeReport {
  summary: v.GenericSchema;
  /** Mode-specific detail; absent from the report when the scan could not get that far. */
  results?: v.GenericSchema;
  /** One finding (the report's `findings` is an array of them); without it the mode has no findings. */
  finding?: v.GenericSchema;
}

export type ReportSchemas = Record<string, ModeReport>;

export const describe = <S extends v.GenericSchema>(schema: S, text: string) => v.pipe(schema, v.description(text));

/** An object whose keys and values are not fixed (e.g. copied from the cluster): said so in the schema. */
export const open = (text: string) => describe(v.record(v.string(), v.unknown()), `Open-ended: ${text}`);

/** An object with these keys at least (more may come: open-ended). */
export const atLeast = <E extends v.ObjectEntries>(entries: E, text?: string) => (text ? describe(v.object(entries), text) : v.object(entries));

export const closed = <E extends v.ObjectEntries>(entries: E, text?: string) => (text ? describe(v.strictObject(entries), text) : v.strictObject(entries));

export const int = v.pipe(v.number(), v.integer());
export const count = v.pipe(v.number(), v.integer(), v.minValue(0));
export const percent = v.pipe(v.number(), v.minValue(0), v.maxValue(100));
export const str = v.string();
export const strs = v.array(v.string());
export const nullable = v.nullable;
export const opt = v.optional;

/** Counts by key (severity, verdict): every listed key present. */
export const counts = <const K extends string>(keys: readonly K[]) =>
  v.strictObject(Object.fromEntries(keys.map((k) => [k, count])) as Record<K, typeof count>);

export const ReportErrorSchema = closed(
  {
    step: describe(str, 'which step failed; the scan went on without it'),
    code: describe(str, 'a stable machine code, e.g. forbidden, timeout, cancelled, tool_failed'),
    message: str,
    status: opt(int),
  },
  'A part of the scan that failed: the report keeps what succeeded.',
);

export const ErrorDetailSchema = closed({ path: opt(str), message: str });

/** The JSON body of every 4xx/5xx answer (lib/scan/scaffold.ts errorBody). */
export const ErrorBodySchema = closed(
  {
    error: closed({
      status: describe(int, 'the HTTP status, repeated'),
      code: describe(
        str,
        'a stable machine code, e.g. unknown_parameter, invalid_mode, invalid_setting, not_configured, tool_missing, ' +
          'cluster_unreachable, scan_timeout, internal',
      ),
      message: describe(str, 'what is wrong and what to do; never a stack trace or file contents'),
      file: opt(describe(str, 'the file the error is about')),
      setting: opt(describe(str, 'the environment variable or query parameter to change')),
      line: opt(int),
      column: opt(int),
      details: opt(v.array(ErrorDetailSchema)),
    }),
  },
  'The body of every error answer.',
);

const isoTime = v.pipe(v.string(), v.isoTimestamp());

const ChangedFindingSchema = closed({
  id: describe(str, "the check's stable id"),
  policy: str,
  rule: str,
  namespace: opt(str),
  severity: opt(v.picklist(['critical', 'high', 'medium', 'low', 'info'])),
  message: opt(str),
});

/** `changes` (lib/openreports/changes.ts): this run against the previous run of the same scan and mode. */
export const ChangesSchema = closed(
  {
    previous: describe(
      v.nullable(
        closed({
          run_id: str,
          started_at: str,
          score: v.nullable(v.number()),
          from: describe(v.picklist(['cluster', 'memory']), "the run history in the cluster, or this process's memory"),
        }),
      ),
      'the run compared with; null on the first run',
    ),
    note: opt(describe(str, 'why there is nothing to compare with')),
    new_failing: describe(v.array(ChangedFindingSchema), 'failing now, not before (at most 50 listed)'),
    new_failing_count: count,
    fixed: describe(v.array(ChangedFindingSchema), 'failing before, not now (at most 50 listed)'),
    fixed_count: count,
    unchanged: describe(count, 'failing in both runs'),
    score_delta: v.nullable(v.number()),
    previous_ids_truncated: opt(v.boolean()),
    regressed: opt(describe(v.boolean(), 'new failing findings, or a score fall beyond STACK_SCAN_REGRESSION_THRESHOLD')),
    regression: opt(strs),
  },
  'What changed since the previous run of the same scan and mode (docs/openreports.md).',
);

/** One scan's report: one variant per mode, chosen by `scan_type`. */
export function reportSchema(scan: string, modes: ReportSchemas) {
  const variants = Object.entries(modes).map(([mode, m]) =>
    v.strictObject({
      scan: v.literal(scan),
      scan_type: describe(v.literal(mode), 'the mode that ran'),
      score: describe(v.nullable(percent), '0–100, or null when the scan could not decide (the reason is in errors or summary.undecided)'),
      summary: m.summary,
      ...(m.results ? { results: v.optional(m.results) } : {}),
      ...(m.finding ? { findings: v.optional(v.array(m.finding)) } : {}),
      errors: v.array(ReportErrorSchema),
      started_at: describe(isoTime, 'when the scan started (ISO 8601, UTC)'),
      duration_ms: count,
      sources: open('where the inputs came from: files, cluster, settings, tool versions'),
      changes: v.optional(ChangesSchema),
    }),
  );
  return v.variant('scan_type', variants as unknown as v.VariantOptions<'scan_type'>);
}
