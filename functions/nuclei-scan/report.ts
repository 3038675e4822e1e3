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
    informational: describe(count, 'findings that are known false positives in their situation (false-positives.ts): reported, not scored'),
    templates_run: count,
    nuclei_runs: describe(count, 'nuclei processes run: one per group of targets sharing their templates'),
    templates_excluded: describe(count, 'templates the selection picked but did not run (results.excluded says why)'),
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
  excluded: describe(
    v.array(
      atLeast({
        template_id: str,
        path: describe(str, 'relative to NUCLEI_TEMPLATES_DIR'),
        code: v.picklist(['excluded_tag', 'nuclei_ignore', 'needs_interactsh']),
        reason: str,
        types: describe(strs, 'the component types it would have run against'),
      }),
    ),
    "templates not run for safety (intrusive, dos, fuzz, bruteforce; the release's .nuclei-ignore) or for want of an interactsh server; " +
      'NUCLEI_ALLOW_TAGS / NUCLEI_INTERACTSH_URL allow them',
  ),
  runs: v.array(
    atLeast({
      types: strs,
      protocols: strs,
      templates: count,
      inputs: count,
      ran: v.boolean(),
      exit_code: opt(nullable(v.number())),
      duration_ms: opt(count),
      events: opt(count),
      unparsed_lines: opt(count),
    }),
  ),
  unattributed_events: count,
  duration_ms: count,
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
  evidence: describe(str, 'what nuclei saw: template type, where it matched, matcher, extracted values'),
  informational: opt(describe(v.literal(true), 'a known false positive here: reported, kept out of the score and the counts (note says why)')),
  note: opt(str),
  request: opt(describe(str, 'with ?evidence=true only (4 KB at most)')),
  response: opt(describe(str, 'with ?evidence=true only (4 KB at most)')),
});

export const NUCLEI_REPORT: ReportSchemas = Object.fromEntries(MODES.map((m): [string, ModeReport] => [m, { summary: summary(m), results, finding }]));
