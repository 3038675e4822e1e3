/**
 * JUnit XML (built with fast-xml-parser's XMLBuilder): a testsuite per scan, a testcase per check
 * (expected policy, rule, link, probe, constraint, control, template). A failing check is a
 * <failure> carrying its reason; a check that could not be decided, and each error the scan
 * listed, is an <error>; skipped checks are <skipped>. A scan that could not run is one suite
 * with one errored testcase. With a score threshold, the score is a testcase of its own.
 */
import { XMLBuilder } from 'fast-xml-parser';
import type { Check } from '../../scan/checks.ts';
import type { RenderOptions, ScanResult } from '../types.ts';
import { sentence } from './text.ts';

type Node = Record<string, unknown>;

function testcase(scan: string, c: Check): Node {
  const where = c.location ? `${c.location.file}${c.location.line ? `:${c.location.line}` : ''}` : undefined;
  const body = [c.message, where ? `at ${where}` : '', ...Object.entries(c.properties).map(([k, v]) => `${k}: ${v}`)].filter(Boolean).join('\n');
  const node: Node = {
    '@_name': `${c.policy}${c.rule ? ` ${c.rule}` : ''}`,
    '@_classname': `stack-scan.${scan}${c.namespace ? `.${c.namespace}` : ''}`,
    '@_time': '0',
  };
  if (where) node['@_file'] = c.location!.file;
  if (c.result === 'fail') node.failure = { '@_message': sentence(c.message), '@_type': `${c.verdict} ${c.severity}`, '#text': body };
  else if (c.result === 'error') node.error = { '@_message': sentence(c.message), '@_type': c.verdict, '#text': body };
  else if (c.result === 'skip') node.skipped = { '@_message': sentence(c.message) };
  else if (c.result === 'warn') node['system-out'] = `warning (${c.verdict}, ${c.severity}): ${body}`;
  return node;
}

function suite(r: ScanResult, opts: RenderOptions): Node {
  const name = `${r.scan} (${r.mode})`;
  const cases: Node[] = [];
  if (!r.report) {
    const info = r.failure!.info;
    cases.push({
      '@_name': 'scan',
      '@_classname': `stack-scan.${r.scan}`,
      '@_time': '0',
      error: {
        '@_message': sentence(info.message),
        '@_type': info.code,
        '#text': [info.file, info.line ? `line ${info.line}` : '', info.setting].filter(Boolean).join(' '),
      },
    });
  } else {
    for (const c of r.checks) cases.push(testcase(r.scan, c));
    r.report.errors.forEach((e, i) =>
      cases.push({
        '@_name': `error ${i + 1}: ${e.step}`,
        '@_classname': `stack-scan.${r.scan}`,
        '@_time': '0',
        error: { '@_message': sentence(e.message), '@_type': e.code },
      }),
    );
    const below = opts.gate?.spec.failBelow;
    if (below !== undefined) {
      const score = r.report.score;
      const sc: Node = { '@_name': `score at least ${below}`, '@_classname': `stack-scan.${r.scan}`, '@_time': '0' };
      if (score === null) sc.error = { '@_message': 'The scan could not decide (no score).', '@_type': 'undecided' };
      else if (score < below) sc.failure = { '@_message': `Score ${score} is below ${below}.`, '@_type': 'score' };
      cases.push(sc);
    }
  }
  const n = (k: string) => cases.filter((c) => k in c).length;
  return {
    '@_name': name,
    '@_tests': String(cases.length),
    '@_failures': String(n('failure')),
    '@_errors': String(n('error')),
    '@_skipped': String(n('skipped')),
    '@_time': ((r.report?.duration_ms ?? 0) / 1000).toFixed(3),
    ...(r.report ? { '@_timestamp': r.report.started_at.replace(/\.\d+Z$/, '') } : {}),
    properties: {
      property: [
        { '@_name': 'scan', '@_value': r.scan },
        { '@_name': 'mode', '@_value': r.mode },
        { '@_name': 'score', '@_value': String(r.report?.score ?? 'none') },
      ],
    },
    testcase: cases,
  };
}

export function renderJunit(results: ScanResult[], opts: RenderOptions = {}): string {
  const suites = results.map((r) => suite(r, opts));
  const sum = (k: string) => {
    const n = suites.reduce((a, s) => a + Number(s[`@_${k}`]), 0);
    return k === 'time' ? n.toFixed(3) : String(n);
  };
  const doc = {
    '?xml': { '@_version': '1.0', '@_encoding': 'UTF-8' },
    testsuites: {
      '@_name': 'stack-scan',
      '@_tests': sum('tests'),
      '@_failures': sum('failures'),
      '@_errors': sum('errors'),
      '@_skipped': sum('skipped'),
      '@_time': sum('time'),
      testsuite: suites,
    },
  };
  const builder = new XMLBuilder({
    ignoreAttributes: false,
    attributeNamePrefix: '@_',
    textNodeName: '#text',
    format: true,
    suppressEmptyNode: true,
    processEntities: true,
  });
  return builder.build(doc) as string;
}
