/**
 * The nuclei scan's report, the same shape in every mode (lib/scan/report-schema.ts), from
 * judge.ts and scan.ts. Published as schema/nuclei-report.schema.json; the tests check every
 * report against it. Values that look like secrets of the metadata are redacted (secrets.ts).
 */
import * as v from 'valibot';
import { atLeast, closed, count, describe, nullable, opt, str, strs, type ModeReport, type ReportSchemas } from '../../lib/scan/report-schema.ts';
import { MODES } from './plan.ts';

const SEVERITIES = ['critical', 'high', 'medium', 'low', 'info', 'unknown'] as const;
const protocol = v.picklist(['http', 'tcp', 'ssl']);

const summary = (mode: string) =>
  closed({
    mode: v.literal(mode),
    protocol,
    targets: count,
    reached: count,
    unreachable: count,
    not_scanned: count,
    undecided: count,
    findings: closed(Object.fromEntries(SEVERITIES.map((s) => [s, count]))),
    findings_total: count,
    templates_run: count,
    partial: opt(describe(v.literal(true), 'nuclei was stopped (timeout or cancelled): the findings are what it reported by then')),
  });

const results = atLeast({
  targets: v.array(
    atLeast({
      component: str,
      namespace: nullable(str),
      kind: v.picklist(['route', 'service']),
      url: str,
      scanned_as: opt(str),
      protocol: str,
      tags: strs,
      reached: describe(nullable(v.boolean()), 'true reached, false unreachable or not scanned, null when nuclei reported nothing for it'),
      findings: count,
      error: opt(str),
      note: opt(str),
    }),
  ),
  skipped: v.array(atLeast({ component: str, namespace: nullable(str), reason: str })),
  run: atLeast({
    protocol,
    tags: strs,
    inputs: count,
    ran: v.boolean(),
    exit_code: opt(nullable(v.number())),
    duration_ms: count,
    events: opt(count),
    unparsed_lines: opt(count),
    unattributed_events: opt(count),
  }),
});

const finding = atLeast({
  template_id: str,
  name: str,
  severity: v.picklist(SEVERITIES),
  tags: strs,
  matched_at: describe(str, 'where nuclei matched (the scanned address)'),
  target: describe(str, "the topology's address of the target"),
  component: str,
  namespace: nullable(str),
  description: opt(str),
  references: strs,
  extracted: strs,
  matcher_name: opt(str),
  request: opt(describe(str, 'with ?evidence=true only (4 KB at most)')),
  response: opt(describe(str, 'with ?evidence=true only (4 KB at most)')),
});

export const NUCLEI_REPORT: ReportSchemas = Object.fromEntries(MODES.map((m): [string, ModeReport] => [m, { summary: summary(m), results, finding }]));
