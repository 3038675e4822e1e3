/**
 * The kubescape part of the demo: installs the kubescape demo stack
 * (demo/kubescape/) into the running control plane, serves the kubescape scan
 * over HTTP, calls it in light and full mode, prints the per-namespace table
 * and writes the JSON reports. Offline: the policy artifacts the repo carries
 * (functions/kubescape-scan/artifacts), no download, no ../shared.
 *
 *   import { kubescapeDemo } from './kubescape.ts';
 *   const { failed } = await kubescapeDemo({ kubeconfig: cp.kubeconfigPath, reportsDir, log });
 *
 * Standalone: `npx tsx demo/kubescape.ts` (builds kubescape if needed, starts its own control plane).
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { serve } from '@hono/node-server';
import { makeKube } from '../lib/kube/client.ts';
import { scanApp } from '../lib/scan/scaffold.ts';
import { kubescapeScan } from '../functions/kubescape-scan/scan.ts';
import { BUNDLED_ARTIFACTS_DIR, kubescapeSettingsFromEnv } from '../functions/kubescape-scan/settings.ts';
import { DEMO_METADATA, installDemoStack } from './kubescape/stack.ts';

export interface KubescapeDemoOptions {
  /** Admin kubeconfig of the cluster to scan (the demo's local control plane). */
  kubeconfig: string;
  /** Where the JSON reports go (kubescape_scan-light.json, kubescape_scan-full.json). */
  reportsDir: string;
  log?: (line: string) => void;
}

export interface KubescapeDemoResult {
  failed: boolean;
  /** [mode, score, key counts] per call, for the demo's summary table. */
  rows: [string, string, string][];
}

function table(body: any): string[] {
  const head = ['namespace', 'components', 'NSA', 'MITRE', 'NSA adj', 'MITRE adj', 'objects', 'flag'];
  const rows = body.results.namespaces.map((r: any) => [
    r.namespace,
    r.components.map((c: any) => c.name).join(','),
    String(r.nsa ?? '-'),
    String(r.mitre ?? '-'),
    String(r.nsa_adjusted ?? '-'),
    String(r.mitre_adjusted ?? '-'),
    String(r.resources),
    r.flagged ? `FLAGGED (${r.flags.join('; ')})` : (r.note ?? ''),
  ]);
  const o = body.results.overall;
  rows.push([
    '(mean)',
    '',
    String(o.mean_over_namespaces.nsa ?? '-'),
    String(o.mean_over_namespaces.mitre ?? '-'),
    String(o.mean_over_namespaces.nsa_adjusted ?? '-'),
    String(o.mean_over_namespaces.mitre_adjusted ?? '-'),
    '',
    '',
  ]);
  rows.push(['(kubescape overall)', '', String(o.kubescape?.nsa ?? '-'), String(o.kubescape?.mitre ?? '-'), '', '', '', '']);
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r: string[]) => r[i].length)));
  const line = (r: string[]) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]))).join('  ');
  return [line(head), ...rows.map(line)];
}

export async function kubescapeDemo(opts: KubescapeDemoOptions): Promise<KubescapeDemoResult> {
  const log = opts.log ?? ((l: string) => console.log(l));
  const n = await installDemoStack(await makeKube(opts.kubeconfig));
  log(`kubescape demo stack: ${n} objects in 5 namespaces (hardened and careless workloads, operators, an operator-like ClusterRole)`);
  const settings = {
    ...kubescapeSettingsFromEnv({ ...process.env, KUBECONFIG: '', STACK_METADATA: DEMO_METADATA, KUBESCAPE_ARTIFACTS_DIR: BUNDLED_ARTIFACTS_DIR }),
    kubeconfig: opts.kubeconfig,
  };
  const app = scanApp(kubescapeScan(settings));
  let server: ReturnType<typeof serve> | undefined;
  const port: number = await new Promise((resolve) => {
    server = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }, (info) => resolve(info.port));
  });
  const out: KubescapeDemoResult = { failed: false, rows: [] };
  try {
    mkdirSync(opts.reportsDir, { recursive: true });
    for (const mode of ['light', 'full'] as const) {
      const res = await fetch(`http://127.0.0.1:${port}/kubescape_scan?mode=${mode}`);
      const body: any = await res.json();
      writeFileSync(join(opts.reportsDir, `kubescape_scan-${mode}.json`), JSON.stringify(body, null, 2));
      if (res.status !== 200) {
        out.failed = true;
        out.rows.push([mode, `HTTP ${res.status}`, body.error?.message ?? '']);
        continue;
      }
      if (body.errors.length) out.failed = true;
      log(
        `\nkubescape_scan?mode=${mode}: score ${body.score} (${body.duration_ms} ms, ${body.summary.kubescape_runs} kubescape run(s), strategy ` +
          `${body.summary.strategy}, ${body.errors.length} errors)`,
      );
      for (const l of table(body)) log(`  ${l}`);
      for (const e of body.errors) log(`  error: ${e.step}: ${e.message}`);
      let key =
        `flagged ${body.summary.flagged_namespaces.length}/${body.summary.namespaces}, NSA mean ${body.summary.nsa_mean}, MITRE mean ` +
        `${body.summary.mitre_mean}`;
      if (mode === 'full') {
        const s = body.summary;
        key += `; ${s.findings} findings (${Object.entries(s.findings_by_severity)
          .filter(([, v]) => v)
          .map(([k, v]) => `${k} ${v}`)
          .join(', ')}), ${s.with_stacktic_remediation} with a Stacktic attribute, ${s.excluded} excluded`;
        const ex = new Map<string, number>();
        for (const x of body.results.excluded) ex.set(x.exclusion.id, (ex.get(x.exclusion.id) ?? 0) + 1);
        log(`  excluded (accepted operator requirements): ${[...ex].map(([k, v]) => `${k} ${v}`).join(', ')}`);
        const sample = body.findings.find((f: any) => f.remediation?.attributes.length && f.fix.length);
        if (sample)
          log(
            `  e.g. ${sample.control_id} ${sample.control} on ${sample.resource.kind} ${sample.resource.namespace}/${sample.resource.name}: set ` +
              `${sample.fix.map((x: any) => `${x.path}=${x.value}`).join(', ')}; Stacktic: ` +
              `${sample.remediation.attributes.map((a: any) => `${sample.component?.name ?? '?'}.${a.name} (now ${a.current})`).join(', ')}`,
          );
      }
      log(`  ${key}`);
      out.rows.push([mode, String(body.score), `${key} (${body.duration_ms} ms)`]);
    }
  } finally {
    server?.close();
  }
  return out;
}

// Standalone.
if (import.meta.url === `file://${process.argv[1]}`) {
  const root = join(import.meta.dirname, '..');
  execFileSync('bash', [join(root, 'harness/build.sh'), 'controlplane', 'kubescape'], { stdio: 'inherit' });
  const { startControlPlane } = await import('../harness/cluster/index.ts');
  const cp = await startControlPlane({ gatekeeper: false, log: (l) => console.log(`  ${l}`) });
  try {
    const r = await kubescapeDemo({ kubeconfig: cp.kubeconfigPath, reportsDir: join(root, 'reports') });
    process.exitCode = r.failed ? 1 : 0;
  } finally {
    await cp.stop();
  }
}
