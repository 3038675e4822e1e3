/**
 * Everything generated from the code's own definitions, by path (pure: writes nothing):
 *   docs/configuration.md            every setting, from the settings schemas (lib/scan/settings.ts)
 *   schema/<scan>-report.schema.json each scan's report, from functions/<scan>/report.ts
 *   schema/openapi.json              the combined server's OpenAPI 3.1 document (lib/scan/openapi.ts)
 * `npm run docs:gen` writes them (scripts/docs-gen.ts); test/unit/generated.test.ts fails when a
 * committed copy differs.
 *
 * A new group of settings (a new valibot settings schema) is registered in GROUPS below; a new
 * setting in an existing schema needs nothing here.
 */
import { kubescapeScan } from '../functions/kubescape-scan/scan.ts';
import { KUBESCAPE_SETTINGS } from '../functions/kubescape-scan/settings.ts';
import { networkScan } from '../functions/network-scan/scan.ts';
import { NETWORK_SETTINGS } from '../functions/network-scan/settings.ts';
import { nucleiScan } from '../functions/nuclei-scan/scan.ts';
import { NUCLEI_SETTINGS } from '../functions/nuclei-scan/settings.ts';
import { opaScan } from '../functions/opa-scan/scan.ts';
import { OPA_SETTINGS } from '../functions/opa-scan/settings.ts';
import { HOST_SETTINGS } from '../lib/scan/hosts.ts';
import { openApiDocument, reportJsonSchema } from '../lib/scan/openapi.ts';
import { eventTypes, scanTimeoutSchema, type ScanDefinition } from '../lib/scan/scaffold.ts';
import { SERVER_SETTINGS } from '../lib/scan/serve.ts';
import { settingDocs, SYSTEM_SETTINGS, type SettingsSchema } from '../lib/scan/settings.ts';
import { TOPOLOGY_SETTINGS } from '../lib/topology/settings.ts';
import { REPORT_SETTINGS } from '../lib/openreports/settings.ts';

/** Every scan, in the order of the APISIX route. */
export const SCANS: ScanDefinition<string>[] = [networkScan(), opaScan(), kubescapeScan(), nucleiScan()] as ScanDefinition<string>[];

export interface SettingsGroup {
  title: string;
  /** Where the schema is declared. */
  file: string;
  intro: string;
  schema: SettingsSchema;
}

const scanDef = (name: string) => SCANS.find((s) => s.name === name)!;
const withTimeout = (name: string, schema: SettingsSchema): SettingsSchema =>
  ({ ...schema, entries: { ...schema.entries, ...scanTimeoutSchema(scanDef(name)).entries } }) as SettingsSchema;

/** Every settings schema, in the order of the reference. */
const group = (title: string, file: string, schema: SettingsSchema, ...intro: string[]): SettingsGroup => ({ title, file, schema, intro: intro.join(' ') });

export const GROUPS: SettingsGroup[] = [
  group(
    'Topology files (every scan)',
    'lib/topology/settings.ts',
    TOPOLOGY_SETTINGS,
    "Where the stack's description is and how input files are read. The expected NetworkPolicy set comes from the first of:",
    'NETWORKPOLICY_MANIFEST, NETWORKPOLICY_DIR, networkpolicy-manifest.json beside the metadata, networkpolicy/ beside the metadata,',
    "derivation from the metadata with Stacktic's generator rules; the report's `sources` says which.",
  ),
  group(
    'Cluster access and tools (every scan)',
    'lib/scan/settings.ts',
    SYSTEM_SETTINGS,
    'Read by the Kubernetes client and the tool runner, or set by Kubernetes in a pod: documented here, not validated by the scans.',
  ),
  group(
    'Stored results, changes and regression events (every scan)',
    'lib/openreports/settings.ts',
    REPORT_SETTINGS,
    'After every completed run: OpenReports objects, the run history and io.stacktic.scan.regressed (docs/openreports.md).',
    'A bad value is an errors[] entry naming the variable; the answer is still returned.',
  ),
  group(
    'HTTP server',
    'lib/scan/serve.ts',
    SERVER_SETTINGS,
    "Where each function's server and `npm start` listen. A bad value exits with code 2 and one line.",
  ),
  group(
    'Host mapping (nuclei; network full mode with the local runner)',
    'lib/scan/hosts.ts',
    HOST_SETTINGS,
    'Cluster names and route hosts cannot be resolved from outside the cluster, and are never guessed: map them explicitly.',
    'Keys and values are kept in Maps (a host called `constructor` works).',
  ),
  group(
    'network scan',
    'functions/network-scan/settings.ts',
    withTimeout('network', NETWORK_SETTINGS),
    'Light mode compares expected and live NetworkPolicies; full mode probes with nmap from each source.',
  ),
  group(
    'opa scan',
    'functions/opa-scan/settings.ts',
    withTimeout('opa', OPA_SETTINGS),
    'Gatekeeper: presence, health and audit (light); admission tests by dry-run (full).',
  ),
  group(
    'kubescape scan',
    'functions/kubescape-scan/settings.ts',
    withTimeout('kubescape', KUBESCAPE_SETTINGS),
    'NSA and MITRE scores per namespace (light); failed controls with fixes (full).',
  ),
  group(
    'nuclei scan',
    'functions/nuclei-scan/settings.ts',
    withTimeout('nuclei', NUCLEI_SETTINGS),
    "The stack's routes and services scanned with nuclei templates chosen by component type.",
  ),
];

/** Every setting name in the reference. */
export function documentedSettings(): Set<string> {
  return new Set(GROUPS.flatMap((g) => settingDocs(g.schema).map(([name]) => name)));
}

const cell = (s: string) => s.replace(/\|/g, '\\|').replace(/\n/g, ' ');
/** A value in code quotes; a sentence (the default said in words) as it is. */
const code = (s: string) => (s.includes('`') || / \S/.test(s) ? cell(s) : `\`${cell(s)}\``);

export function configurationMd(): string {
  const out: string[] = [
    '# Configuration reference',
    '',
    '<!-- Generated by `npm run docs:gen` from the settings schemas: do not edit by hand. -->',
    '',
    'Every scan is configured by environment variables, read on each request before anything else happens. A bad value is answered',
    'with HTTP 422 and a JSON body naming the variable and what it must be (`{"error": {"code": "invalid_setting", "setting": "NAME", "message": ' +
      '"NAME must be …; got \'…\'"}}`);',
    'a value marked secret is never echoed. A setting that is unset or blank takes its default.',
    '',
    'This page is generated from the valibot schemas that also parse the settings (see the top of `lib/scan/settings.ts` for how to add one).',
    'In a cluster the settings are set on each Knative service (`knative/`); with `npm start` in the environment of the one process.',
    '',
  ];
  for (const g of GROUPS) {
    out.push(
      `## ${g.title}`,
      '',
      `Declared in \`${g.file}\`. ${g.intro}`,
      '',
      '| Setting | Default | Example | Valid values | Description |',
      '| --- | --- | --- | --- | --- |',
    );
    for (const [name, d] of settingDocs(g.schema)) {
      const notes = [d.deprecated ? `Deprecated: use ${d.deprecated}.` : '', d.secret ? 'Secret: never echoed.' : ''].filter(Boolean).join(' ');
      out.push(
        `| \`${name}\` | ${code(d.default)} | ${code(d.example)} | ${d.external ? '(not validated)' : cell(d.want)} | ` +
          `${cell(d.description)}${notes ? `${d.description.endsWith('.') ? '' : '.'} ${notes}` : ''} |`,
      );
    }
    out.push('');
  }
  out.push(
    '## Per-scan time limit',
    '',
    '`<NAME>_SCAN_TIMEOUT_MS` (listed with each scan above) is one number of milliseconds for every mode, or `mode=ms` pairs separated by commas.',
    'When it is spent the scan stops, returns what it has, and lists a `timeout` error in `errors[]`; a scan that ' +
      'does not stop within 15 s after that is answered with a 504.',
    '',
  );
  return out.join('\n');
}

/** Every generated file, by path relative to the repository root. */
export function generatedFiles(): Map<string, string> {
  const files = new Map<string, string>();
  files.set('docs/configuration.md', configurationMd());
  for (const s of SCANS) files.set(`schema/${s.name}-report.schema.json`, `${JSON.stringify(reportJsonSchema(s), null, 2)}\n`);
  files.set('schema/openapi.json', `${JSON.stringify(openApiDocument(SCANS, { combined: true, events: eventTypes() }), null, 2)}\n`);
  return files;
}
