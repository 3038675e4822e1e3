// The nuclei part of the demo: starts the demo stack's services on loopback
// (demo/nuclei/services.ts — an HTTP app with an exposed admin panel, .git/config and a
// default login, a clean site, an HTTPS server with an expired self-signed certificate
// and TLS 1.0/1.1, redis without and with a password, a closed port), then runs
// GET /nuclei_scan?mode=light, ?mode=ssl and ?mode=network through the scan's HTTP app with
// the real nuclei (.cache/bin/nuclei), and prints the findings, the templates excluded for
// safety and the known false positives.
// Templates: the community templates of ../shared/nuclei-templates when present (the
// output says so), else stack-scan's own (test/fixtures/nuclei/templates), so the demo
// never needs ../shared.
// Targets come from the project's own demo metadata: demo/nuclei/stack-metadata.yaml and
// demo/nuclei/apisix-route.yaml.
//
// Wired by demo/demo.ts:  import { runNucleiDemo } from './nuclei.ts'; await runNucleiDemo({ log, reportsDir });
// Standalone:             npx tsx demo/nuclei.ts
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { scanApp, type ScanReport } from '../lib/scan/scaffold.ts';
import { nucleiScan } from '../functions/nuclei-scan/scan.ts';
import { DEFAULT_NUCLEI_BIN, nucleiSettingsFromEnv } from '../functions/nuclei-scan/settings.ts';
import type { Finding, TargetResult } from '../functions/nuclei-scan/judge.ts';
import { DEMO_METADATA, FIXTURE_TEMPLATES, redisServerPath, startDemoServices } from './nuclei/services.ts';

const ROOT = join(import.meta.dirname, '..');

export interface NucleiDemoOptions {
  log?: (line: string) => void;
  /** Where to write nuclei-light.json and nuclei-ssl.json (not written when unset). */
  reportsDir?: string;
}

export interface NucleiDemoResult {
  light: ScanReport;
  ssl: ScanReport;
  network: ScanReport;
  templates: 'community' | 'stack-scan';
}

/** ../shared/nuclei-templates (unmodified community templates), when present. */
export const COMMUNITY_TEMPLATES = join(ROOT, '../shared/nuclei-templates');

export async function runNucleiDemo(opts: NucleiDemoOptions = {}): Promise<NucleiDemoResult> {
  const log = opts.log ?? ((l: string) => console.log(l));
  // A fresh clone: build nuclei (cached) and install redis-server/openssl when missing.
  if (!existsSync(DEFAULT_NUCLEI_BIN)) execFileSync('bash', [join(ROOT, 'harness/build.sh'), 'nuclei'], { stdio: 'inherit' });
  if (!redisServerPath()) execFileSync('bash', [join(ROOT, 'harness/install-system-deps.sh')], { stdio: 'inherit' });

  const community = existsSync(join(COMMUNITY_TEMPLATES, 'ssl'));
  const templates = community ? COMMUNITY_TEMPLATES : FIXTURE_TEMPLATES;
  if (community) log(`nuclei demo: community templates from ${COMMUNITY_TEMPLATES} (nuclei-templates, MIT)`);
  else log(`nuclei demo: ../shared/nuclei-templates is absent, so no community-template findings; using stack-scan's own templates (${FIXTURE_TEMPLATES})`);
  const services = await startDemoServices();
  try {
    const settings = nucleiSettingsFromEnv({
      PATH: process.env.PATH,
      STACK_METADATA: DEMO_METADATA,
      NUCLEI_TEMPLATES_DIR: templates,
      SCAN_HOST_MAP: JSON.stringify(services.hostMap),
      SCAN_DNS: 'off',
      NUCLEI_REQUEST_TIMEOUT_S: '3',
      NUCLEI_RETRIES: '0',
    });
    const app = scanApp(nucleiScan(settings));
    log(`nuclei demo stack: ${DEMO_METADATA} (services on 127.0.0.1, mapped with SCAN_HOST_MAP; templates ${templates})`);
    const reports = { templates: community ? 'community' : 'stack-scan' } as NucleiDemoResult;
    for (const mode of ['light', 'ssl', 'network'] as const) {
      const res = await app.request(`/nuclei_scan?mode=${mode}`);
      const r = (await res.json()) as ScanReport;
      if (res.status !== 200) throw new Error(`GET /nuclei_scan?mode=${mode} answered ${res.status}: ${JSON.stringify(r)}`);
      reports[mode] = r;
      const s = r.summary as { targets: number; reached: number; unreachable: number; not_scanned: number; findings: Record<string, number> };
      log(
        `GET /nuclei_scan?mode=${mode}: score ${r.score ?? 'null'}, ${s.targets} targets (${s.reached} reached, ${s.unreachable} unreachable, ` +
          `${s.not_scanned} not scanned), ${r.duration_ms} ms`,
      );
      for (const t of (r.results as { targets: TargetResult[] }).targets)
        log(
          `  target ${t.component}/${t.namespace} ${t.url}: ` +
            `${t.reached === true ? `reached, ${t.findings} finding(s)` : t.reached === false ? `NOT reached (${t.error})` : 'undecided'}`,
        );
      for (const f of (r.findings ?? []) as Finding[])
        log(
          `  [${f.informational ? `${f.severity}, informational` : f.severity}] ${f.template_id} on ${f.component}/${f.namespace} at ${f.matched_at}` +
            `${f.extracted.length ? ` (${f.extracted.join(', ').slice(0, 120)})` : ''}${f.note ? `\n      not scored: ${f.note}` : ''}`,
        );
      for (const x of (r.results as { excluded: { template_id: string; reason: string }[] }).excluded) log(`  not run: ${x.template_id}: ${x.reason}`);
      for (const e of r.errors) log(`  error ${e.code}: ${e.message}`);
      if (opts.reportsDir) {
        mkdirSync(opts.reportsDir, { recursive: true });
        writeFileSync(join(opts.reportsDir, `nuclei-${mode}.json`), `${JSON.stringify(r, null, 2)}\n`);
      }
    }
    return reports;
  } finally {
    await services.stop();
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await runNucleiDemo({ reportsDir: join(ROOT, 'reports') });
}
