// What is generated from the code (scripts/generated.ts) stays as generated, and covers the code:
//   - docs/configuration.md, schema/<scan>-report.schema.json and schema/openapi.json equal what
//     `npm run docs:gen` writes now;
//   - every environment variable read in functions/ or lib/ is in docs/configuration.md;
//   - every setting has a description, default and example, and the examples parse;
//   - GET /openapi.json of each function and of the combined server is valid OpenAPI 3.1
//     (@seriousme/openapi-schema-validator), every $ref in it resolves, and reports match it;
//   - the report schemas accept a report and refuse what breaks the envelope.
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { Validator } from '@seriousme/openapi-schema-validator';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { openApiDocument } from '../../lib/scan/openapi.ts';
import { eventTypes, scanApp, timeoutSettingName } from '../../lib/scan/scaffold.ts';
import { combinedApp, mount } from '../../lib/scan/serve.ts';
import { parseSettings, settingDocs, settingsSchema } from '../../lib/scan/settings.ts';
import { reportProblems } from '../../schema/validate.ts';
import { documentedSettings, generatedFiles, GROUPS, SCANS } from '../../scripts/generated.ts';

const ROOT = resolve(import.meta.dirname, '../..');
const g = suite('generated: settings reference, report schemas, OpenAPI');

function tsFiles(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...tsFiles(p));
    else if (e.name.endsWith('.ts')) out.push(p);
  }
  return out;
}

/**
 * Every environment variable the code reads, with where: `env.X`, `process.env.X`, `env['X']`,
 * `env[CONST]` (CONST = 'X' anywhere in functions/ or lib/), `intSetting(env, 'X', …)`,
 * `invalidSetting('X', …)`, legacy names given to hostMapFromEnv, and the keys of settings schemas.
 */
export function settingsReadInCode(): Map<string, string> {
  const files = [...tsFiles(join(ROOT, 'functions')), ...tsFiles(join(ROOT, 'lib'))];
  const constants = new Map<string, string>();
  for (const f of files) for (const m of readFileSync(f, 'utf8').matchAll(/\bconst ([A-Z][A-Z0-9_]*) = '([A-Z][A-Z0-9_]*)'/g)) constants.set(m[1], m[2]);
  const found = new Map<string, string>();
  const add = (name: string | undefined, where: string) => {
    if (name && !found.has(name)) found.set(name, where);
  };
  const patterns: [RegExp, (m: RegExpMatchArray) => string | undefined][] = [
    [/\b(?:process\.)?env\??\.([A-Z][A-Z0-9_]*)\b/g, (m) => m[1]],
    [/\benv(?:\?\.)?\[\s*['"`]([A-Z][A-Z0-9_]*)['"`]\s*\]/g, (m) => m[1]],
    [/\benv(?:\?\.)?\[\s*([A-Z][A-Z0-9_]*)\s*\]/g, (m) => constants.get(m[1]) ?? `${m[1]} (a constant not found)`],
    [/\b(?:intSetting|invalidSetting)\(\s*(?:env\s*,\s*)?['"]([A-Z][A-Z0-9_]*)['"]/g, (m) => m[1]],
    [/\bhostMapFromEnv\([^)]*\[([^\]]*)\]/g, (m) => /'([A-Z][A-Z0-9_]*)'/.exec(m[1])?.[1]],
    [/^\s*\[?([A-Z][A-Z0-9_]*)\]?:\s*setting\.\w+\(/gm, (m) => constants.get(m[1]) ?? m[1]],
  ];
  for (const f of files) {
    const lines = readFileSync(f, 'utf8').split('\n');
    lines.forEach((line, i) => {
      for (const [re, name] of patterns) for (const m of line.matchAll(re)) add(name(m), `${relative(ROOT, f)}:${i + 1}`);
    });
  }
  for (const s of SCANS) add(timeoutSettingName(s), 'lib/scan/scaffold.ts (timeoutSettingName)');
  return found;
}

g('the committed generated files are what npm run docs:gen writes now', () => {
  const stale: string[] = [];
  for (const [rel, text] of generatedFiles()) {
    let current = '';
    try {
      current = readFileSync(join(ROOT, rel), 'utf8');
    } catch {}
    if (current !== text) stale.push(rel);
  }
  assert.equal(
    stale,
    [],
    `stale generated files: ${stale.join(', ')}\n  fix: run \`npm run docs:gen\` and commit them (after a merge too: never edit them by hand)`,
  );
});

g('every setting read in functions/ or lib/ is in docs/configuration.md', () => {
  const read = settingsReadInCode();
  assert.ok(read.size >= 40, `the scan of the code found ${read.size} settings: the patterns are broken`);
  const documented = documentedSettings();
  const doc = readFileSync(join(ROOT, 'docs/configuration.md'), 'utf8');
  const missing = [...read].filter(([name]) => !documented.has(name) || !doc.includes(`| \`${name}\` |`));
  assert.equal(
    missing.map(([name, where]) => `${name} (read at ${where})`),
    [],
    'settings read in code but not in the reference docs/configuration.md.\n' +
      "  fix: declare each in its scan's settings schema, one line such as\n" +
      "    MY_SETTING: setting.int({ default: 5, min: 1, max: 10, description: '…', example: '3' }),\n" +
      '  (the kinds are at the top of lib/scan/settings.ts), and parse it with parseSettings(SCHEMA, env) instead of reading env directly;\n' +
      '  a new settings schema is also registered in GROUPS in scripts/generated.ts. Then run `npm run docs:gen` and commit docs/configuration.md.',
  );
});

g('every environment variable the Knative manifests set is a documented setting (a typo would be ignored silently)', () => {
  const yamls = (dir: string): string[] =>
    readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? yamls(join(dir, e.name)) : /\.ya?ml$/.test(e.name) ? [join(dir, e.name)] : []));
  const documented = documentedSettings();
  // HOME: for the tools' caches on a read-only root filesystem (the process's own, not a setting of ours).
  const notOurs = new Set(['HOME']);
  const unknown: string[] = [];
  for (const f of yamls(join(ROOT, 'knative'))) {
    for (const m of readFileSync(f, 'utf8').matchAll(/^\s*- name: ([A-Z][A-Z0-9_]*)\s*$/gm)) {
      if (!documented.has(m[1]) && !notOurs.has(m[1])) unknown.push(`${m[1]} (${relative(ROOT, f)})`);
    }
  }
  assert.equal(unknown, [], 'set in knative/ but not a setting in docs/configuration.md: a typo, or a setting to declare');
});

g('the code scan finds what it must (it would catch a new read)', () => {
  const read = settingsReadInCode();
  for (const name of [
    'KUBECONFIG',
    'STACK_METADATA',
    'SCAN_HOST_MAP',
    'NETWORK_PROBE_LOCAL_HOSTS',
    'NUCLEI_TEMPLATES_DIR',
    'PORT',
    'OPA_SCAN_TIMEOUT_MS',
    'KUBERNETES_SERVICE_HOST',
  ])
    assert.ok(read.has(name), name);
});

g('every setting has a description, a default and an example; every example parses', () => {
  const seen = new Set<string>();
  for (const group of GROUPS) {
    for (const [name, d] of settingDocs(group.schema)) {
      assert.not.ok(seen.has(name), `${name} is declared twice`);
      seen.add(name);
      assert.ok(d.description.length > 10 && d.example && d.default, `${name}: description, example and default`);
      // Settings that check the file system (an executable, a directory) are exercised by their own tests.
      if (/BIN|ARTIFACTS_DIR/.test(name)) continue;
      const one = settingsSchema({ [name]: group.schema.entries[name] });
      try {
        parseSettings(one, { [name]: d.example });
      } catch (e) {
        assert.unreachable(`${name}: its example '${d.example}' does not parse: ${(e as Error).message}`);
      }
    }
  }
});

/** Every `$ref` of the document points at something in it. */
function unresolvedRefs(doc: unknown): string[] {
  const bad: string[] = [];
  const at = (pointer: string) =>
    pointer
      .slice(2)
      .split('/')
      .reduce<unknown>((o, k) => (o && typeof o === 'object' ? (o as Record<string, unknown>)[k.replace(/~1/g, '/').replace(/~0/g, '~')] : undefined), doc);
  const walk = (x: unknown) => {
    if (Array.isArray(x)) x.forEach(walk);
    else if (x && typeof x === 'object') {
      for (const [k, val] of Object.entries(x)) {
        if (k === '$ref' && typeof val === 'string' && (!val.startsWith('#/') || at(val) === undefined)) bad.push(val);
        else walk(val);
      }
    }
  };
  walk(doc);
  return bad;
}

async function checkOpenApi(doc: unknown, label: string) {
  const validator = new Validator();
  const res = await validator.validate(doc as Parameters<Validator['validate']>[0]);
  if (!res.valid) assert.unreachable(`${label}: not valid OpenAPI: ${String(JSON.stringify(res.errors)).slice(0, 2000)}`);
  assert.is(validator.version, '3.1', label);
  assert.equal(unresolvedRefs(doc), [], `${label}: unresolved $ref`);
}

g('GET /openapi.json of every function is valid OpenAPI 3.1 with its scan path, modes, params and errors', async () => {
  for (const def of SCANS) {
    const res = await scanApp(def).request('/openapi.json');
    assert.is(res.status, 200, def.name);
    const doc: any = await res.json();
    await checkOpenApi(doc, def.name);
    const get = doc.paths[def.path].get;
    assert.equal(get.parameters.find((p: any) => p.name === 'mode').schema.enum, [...def.modes]);
    for (const p of Object.keys(def.params ?? {}))
      assert.ok(
        get.parameters.some((x: any) => x.name === p),
        `${def.name}: parameter ${p}`,
      );
    for (const status of ['200', '400', '404', '422', '500', '503', '504']) assert.ok(get.responses[status], `${def.name}: ${status}`);
    assert.ok(doc.paths[def.path].head.responses['405']);
    assert.ok(doc.paths['/'].post.requestBody && doc.paths['/healthz'].get, def.name);
  }
});

g('GET /openapi.json of the combined server: every scan, and the same document as schema/openapi.json', async () => {
  const app = combinedApp(SCANS.map(mount));
  const res = await app.request('/openapi.json');
  assert.is(res.status, 200);
  const doc: any = await res.json();
  await checkOpenApi(doc, 'combined');
  for (const def of SCANS) assert.ok(doc.paths[def.path]?.get, def.path);
  assert.ok(doc.paths['/'].get, 'GET / lists the scans');
  assert.equal(doc, JSON.parse(readFileSync(join(ROOT, 'schema/openapi.json'), 'utf8')));
  assert.equal(doc, openApiDocument(SCANS, { combined: true, events: eventTypes() }));
});

const undecided = {
  scan: 'network',
  scan_type: 'light',
  score: null,
  summary: { expected: 3, stack_namespaces: 2, undecided: 'the cluster NetworkPolicies could not be read; see errors' },
  errors: [{ step: 'list networkpolicies (no comparison possible)', code: 'forbidden', message: 'denied', status: 403 }],
  started_at: new Date(0).toISOString(),
  duration_ms: 12,
  sources: { metadata: '/x/stack-metadata.yaml', anything: { open: true } },
};

g('report schemas: a valid report passes; a broken envelope, summary or unknown scan is named', () => {
  assert.equal(reportProblems(undecided), []);
  const broken = (patch: object) => reportProblems({ ...undecided, ...patch });
  assert.match(broken({ score: 101 }).join('\n'), /\/score/);
  assert.match(broken({ started_at: 'yesterday' }).join('\n'), /\/started_at/);
  assert.match(broken({ summary: { ...undecided.summary, surprise: 1 } }).join('\n'), /\/summary/);
  assert.match(broken({ findings: [] }).join('\n'), /findings/, 'light network reports have no findings');
  assert.match(broken({ errors: [{ step: 'x' }] }).join('\n'), /\/errors\/0/);
  assert.match(reportProblems({ scan: 'nope' }).join('\n'), /no schema for the nope scan/);
});

g('the OpenAPI document describes the same reports (checked with ajv through its components)', () => {
  const doc = openApiDocument(SCANS, { combined: true, events: eventTypes() });
  const ajv = new Ajv2020({ strict: false, allErrors: true });
  addFormats.default(ajv);
  ajv.addSchema({ ...(doc as object), $id: 'https://stack-scan.local/openapi.json' });
  const check = ajv.getSchema('https://stack-scan.local/openapi.json#/components/schemas/NetworkReport')!;
  assert.ok(check(undecided), JSON.stringify(check.errors));
  assert.not.ok(check({ ...undecided, score: -1 }));
  const errorBody = ajv.getSchema('https://stack-scan.local/openapi.json#/components/schemas/ErrorBody')!;
  assert.ok(errorBody({ error: { status: 422, code: 'invalid_setting', message: 'X must be y', setting: 'X' } }));
});

g.run();
