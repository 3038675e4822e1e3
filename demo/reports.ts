/**
 * OpenReports in the demo (docs/openreports.md). `enableStoredReports` runs first: it installs the
 * OpenReports CRDs from the pinned module (harness/cluster/openreports.ts), turns storing on and
 * starts a local sink for io.stacktic.scan.regressed, so every scan the demo runs afterwards
 * (HTTP, CloudEvents, kubescape, nuclei) writes its Reports. `reportsDemo` runs last: for each scan
 * it runs once more on the unchanged cluster, makes one change in the demo cluster, runs again and
 * prints `changes` (checked: exactly the change's findings are new) and the regression event the
 * sink received; then the stored reports as `kubectl get reports -A` would list them, with the
 * CRD's own printer columns.
 *
 * Wired by demo/demo.ts:
 *   const stored = await enableStoredReports({ kubeconfig, log });  …  await reportsDemo({ …, stored });  …  await stored.stop();
 */
import { createServer } from 'node:http';
import { existsSync } from 'node:fs';
import { makeKube, type Kube } from '../lib/kube/client.ts';
import { apiGet, rawRequest, type KubeObject } from '../lib/kube/raw.ts';
import { runScan, type ScanDefinition, type ScanReport } from '../lib/scan/scaffold.ts';
import type { Changes } from '../lib/openreports/changes.ts';
import { networkScan } from '../functions/network-scan/scan.ts';
import { opaScan } from '../functions/opa-scan/scan.ts';
import { kubescapeScan } from '../functions/kubescape-scan/scan.ts';
import { BUNDLED_ARTIFACTS_DIR, defaultKubescapeBin, kubescapeSettingsFromEnv } from '../functions/kubescape-scan/settings.ts';
import { nucleiScan } from '../functions/nuclei-scan/scan.ts';
import { nucleiSettingsFromEnv } from '../functions/nuclei-scan/settings.ts';
import { installOpenReports } from '../harness/cluster/openreports.ts';
import { apply, namespace, remove } from '../harness/cluster/objects.ts';
import { DEMO_METADATA as KS_METADATA } from './kubescape/stack.ts';
import { DEMO_METADATA as NUCLEI_METADATA, FIXTURE_TEMPLATES, startDemoServices } from './nuclei/services.ts';

type Log = (line: string) => void;
const RECORDS_NAMESPACE = 'stack-scan';

export interface StoredReports {
  events: { type: string; data: any }[];
  stop(): Promise<void>;
}

export async function enableStoredReports(opts: { kubeconfig: string; log: Log }): Promise<StoredReports> {
  const kube = await makeKube(opts.kubeconfig);
  const crds = await installOpenReports(kube);
  await apply(kube, namespace(RECORDS_NAMESPACE));
  const events: StoredReports['events'] = [];
  const sink = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      try {
        events.push({ type: String(req.headers['ce-type']), data: JSON.parse(Buffer.concat(chunks).toString('utf8')) });
      } catch {
        /* not ours */
      }
      res.writeHead(202).end();
    });
  });
  await new Promise<void>((r) => sink.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(sink.address() as { port: number }).port}/`;
  const vars: Record<string, string> = {
    STACK_SCAN_REPORTS: 'on',
    STACK_SCAN_REPORTS_NAMESPACE: RECORDS_NAMESPACE,
    STACK_SCAN_EVENTS_SINK: url,
    STACK_SCAN_REPORTS_KUBECONFIG: opts.kubeconfig,
    STACK_SCAN_REGRESSION_THRESHOLD: '5',
  };
  const saved = new Map(Object.keys(vars).map((k) => [k, process.env[k]]));
  Object.assign(process.env, vars);
  opts.log(
    `OpenReports: CRDs ${crds.join(', ')} installed (github.com/openreports/reports-api); every run below stores its Reports; regression events go to ${url}`,
  );
  return {
    events,
    stop: async () => {
      for (const [k, v] of saved)
        if (v === undefined) delete process.env[k];
        else process.env[k] = v;
      await new Promise((r) => sink.close(r));
    },
  };
}

/** `kubectl get <plural> -A`: the CRD's printer columns (priority 0, as kubectl shows by default). */
async function printerTable(kube: Kube, plural: 'reports' | 'clusterreports'): Promise<string[]> {
  const crd = await apiGet<any>(
    kube,
    { verb: 'get', resource: 'customresourcedefinitions' },
    `/apis/apiextensions.k8s.io/v1/customresourcedefinitions/${plural}.openreports.io`,
  );
  const cols: { name: string; jsonPath: string; type: string; priority?: number }[] = crd.spec.versions
    .find((v: any) => v.served)
    .additionalPrinterColumns.filter((c: any) => !c.priority);
  const list = await apiGet<{ items: any[] }>(kube, { verb: 'list', resource: plural }, `/apis/openreports.io/v1alpha1/${plural}`);
  const at = (o: any, path: string) =>
    path
      .split('.')
      .filter(Boolean)
      .reduce((x, k) => x?.[k], o);
  const age = (t: string) => {
    const s = Math.max(0, Math.round((Date.now() - Date.parse(t)) / 1000));
    return s < 120 ? `${s}s` : `${Math.round(s / 60)}m`;
  };
  const head = [...(crd.spec.scope === 'Namespaced' ? ['NAMESPACE'] : []), 'NAME', ...cols.map((c) => c.name.toUpperCase())];
  const rows = list.items
    .sort((a, b) => `${a.metadata.namespace ?? ''}/${a.metadata.name}`.localeCompare(`${b.metadata.namespace ?? ''}/${b.metadata.name}`))
    .map((o) => [
      ...(crd.spec.scope === 'Namespaced' ? [o.metadata.namespace] : []),
      o.metadata.name,
      ...cols.map((c) => (c.type === 'date' ? age(at(o, c.jsonPath)) : String(at(o, c.jsonPath) ?? ''))),
    ]);
  const w = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  return [head, ...rows].map((r) =>
    r
      .map((c, i) => c.padEnd(w[i]))
      .join('   ')
      .trimEnd(),
  );
}

function printChanges(log: Log, c: Changes) {
  log(
    `    changes vs run ${c.previous?.run_id ?? '-'} (${c.previous?.from ?? 'none'}): ${c.new_failing_count} new failing, ${c.fixed_count} fixed, ` +
      `${c.unchanged} unchanged, score delta ${c.score_delta ?? 'n/a'}${c.regressed ? ` — REGRESSED: ${c.regression!.join('; ')}` : ''}`,
  );
  for (const f of c.new_failing) log(`      + [${f.severity}] ${f.namespace ? `${f.namespace}: ` : ''}${f.policy} · ${f.rule}: ${f.message}`);
  for (const f of c.fixed) log(`      - fixed ${f.namespace ? `${f.namespace}: ` : ''}${f.policy} · ${f.rule}`);
}

interface Step {
  title: string;
  def: ScanDefinition<string>;
  mode: string;
  params?: () => Record<string, string>;
  change: () => Promise<string>;
  /** Which new failing findings the change causes (each must match; at least one). */
  expect: RegExp;
  after?: ScanDefinition<string>;
  /** The scan's demo above ran with other settings (nuclei: other templates): one run first, so "again" compares like with like. */
  prime?: boolean;
}

export async function reportsDemo(opts: { kubeconfig: string; stackMetadata: string; stored: StoredReports; log: Log }): Promise<{ failed: boolean }> {
  const { log, stored } = opts;
  const kube = await makeKube(opts.kubeconfig);
  let failed = false;
  const topology = (path: string) => ({ metadata: { path, setting: 'STACK_METADATA' } });
  const nuclei = await startDemoServices();
  try {
    const nucleiDef = (docsServes: 'docs' | 'portal') =>
      nucleiScan(
        nucleiSettingsFromEnv({
          PATH: process.env.PATH,
          STACK_METADATA: NUCLEI_METADATA,
          NUCLEI_TEMPLATES_DIR: FIXTURE_TEMPLATES,
          SCAN_HOST_MAP: JSON.stringify({
            ...nuclei.hostMap,
            ...(docsServes === 'portal' ? { 'docs.nuclei-demo.test:80': nuclei.hostMap['admin.nuclei-demo.test:80'] } : {}),
          }),
          SCAN_DNS: 'off',
          NUCLEI_REQUEST_TIMEOUT_S: '3',
          NUCLEI_RETRIES: '0',
        }),
      );
    const steps: Step[] = [
      {
        title: 'network light',
        def: networkScan({ topology: topology(opts.stackMetadata), kubeconfig: opts.kubeconfig }),
        mode: 'light',
        change: async () => {
          const list = await apiGet<{ items: KubeObject[] }>(
            kube,
            { verb: 'list', resource: 'networkpolicies' },
            '/apis/networking.k8s.io/v1/namespaces/shop/networkpolicies',
          );
          const p = list.items.find((x) => x.metadata.name.startsWith('shop--to--minio--egress--ports--9000'))!;
          await remove(kube, {
            apiVersion: 'networking.k8s.io/v1',
            kind: 'NetworkPolicy',
            metadata: { name: p.metadata.name, namespace: 'shop' },
          } as KubeObject);
          return `deleted NetworkPolicy shop/${p.metadata.name} (the shop → minio egress)`;
        },
        expect: /shop--to--minio|link shop -> minio/,
      },
      {
        title: 'opa light',
        def: opaScan({ topology: topology(opts.stackMetadata), kubeconfig: opts.kubeconfig, concurrency: 8 }),
        mode: 'light',
        change: async () => {
          await rawRequest(
            kube,
            { verb: 'patch', resource: 'namespaces' },
            {
              method: 'PATCH',
              path: '/api/v1/namespaces/minio',
              contentType: 'application/merge-patch+json',
              body: { metadata: { labels: { 'stacktic.io/namespace': null } } },
            },
          );
          return 'removed the stacktic.io/namespace label of namespace minio (the constraints select on it)';
        },
        expect: /namespace-coverage · enforced-constraint/,
      },
      ...(defaultKubescapeBin() !== 'kubescape' && existsSync(defaultKubescapeBin())
        ? [
            {
              title: 'kubescape full',
              def: kubescapeScan({
                ...kubescapeSettingsFromEnv({ ...process.env, KUBECONFIG: '', STACK_METADATA: KS_METADATA, KUBESCAPE_ARTIFACTS_DIR: BUNDLED_ARTIFACTS_DIR }),
                kubeconfig: opts.kubeconfig,
              }),
              mode: 'full',
              change: async () => {
                await apply(kube, {
                  apiVersion: 'apps/v1',
                  kind: 'Deployment',
                  metadata: { name: 'careless-demo', namespace: 'ks-shop', labels: { app: 'careless-demo', 'stack-scan.io/demo': 'kubescape' } },
                  spec: {
                    selector: { matchLabels: { app: 'careless-demo' } },
                    template: {
                      metadata: { labels: { app: 'careless-demo' } },
                      spec: { hostNetwork: true, containers: [{ name: 'app', image: 'nginx:latest', securityContext: { privileged: true } }] },
                    },
                  },
                } as unknown as KubeObject);
                return 'created Deployment ks-shop/careless-demo (privileged, hostNetwork, no limits, no probes)';
              },
              expect: /careless-demo|NSA · threshold|MITRE · threshold/,
            } satisfies Step,
          ]
        : []),
      {
        title: 'nuclei light',
        def: nucleiDef('docs'),
        mode: 'light',
        change: async () => 'the docs route (docs.nuclei-demo.test) now serves the portal app (admin console, .git/config, default login)',
        expect: /docs/,
        after: nucleiDef('portal'),
        prime: true,
      },
    ];
    for (const s of steps) {
      log(`\n  ${s.title}:`);
      if (s.prime) await runScan(s.def, s.mode);
      const again: ScanReport = await runScan(s.def, s.mode);
      log(`    run again (the demo changed nothing since the last run): score ${again.score}`);
      printChanges(log, again.changes!);
      const what = await s.change();
      log(`    change: ${what}`);
      const before = stored.events.length;
      const after: ScanReport = await runScan(s.after ?? s.def, s.mode);
      log(`    run after the change: score ${after.score}, ${after.errors.length} errors`);
      for (const e of after.errors) log(`      error ${e.code}: ${e.message}`);
      const c = after.changes!;
      printChanges(log, c);
      const lines = c.new_failing.map((f) => `${f.namespace ? `${f.namespace}: ` : ''}${f.policy} · ${f.rule}: ${f.message}`);
      const exact = c.new_failing_count > 0 && c.new_failing_count === c.new_failing.length && lines.every((l) => s.expect.test(l)) && c.fixed_count === 0;
      if (!exact) {
        failed = true;
        log(`    NOT EXACT: the new failing findings should all come from the change (${s.expect})`);
      }
      const ev = stored.events.slice(before).filter((e) => e.type === 'io.stacktic.scan.regressed');
      if (ev.length === 1)
        log(
          `    event io.stacktic.scan.regressed received: ${ev[0].data.scan} ${ev[0].data.mode}, ${ev[0].data.reasons.join('; ')}, ` +
            `${ev[0].data.new_failing.length} finding(s) listed`,
        );
      else {
        failed = true;
        log(`    expected one io.stacktic.scan.regressed event, received ${ev.length}`);
      }
      // The scans' own errors are theirs (nuclei's legacy target is closed on purpose); storing must not add any.
      const storing = [...again.errors, ...after.errors].filter((e) =>
        /^(store|write the run history|read the run history|delete the stale|send io\.stacktic|report settings)/.test(e.step),
      );
      for (const e of storing) log(`    storing error: ${e.step}: ${e.message}`);
      if (storing.length) failed = true;
    }
  } finally {
    await nuclei.stop();
  }
  log('\n  $ kubectl get reports -A');
  for (const l of await printerTable(kube, 'reports')) log(`  ${l}`);
  log('\n  $ kubectl get clusterreports');
  for (const l of await printerTable(kube, 'clusterreports')) log(`  ${l}`);
  const ring = await apiGet<{ data: Record<string, string> }>(
    kube,
    { verb: 'get', resource: 'configmaps' },
    `/api/v1/namespaces/${RECORDS_NAMESPACE}/configmaps/stack-scan-runs-network-light`,
  );
  const runs = JSON.parse(ring.data['runs.json']) as { run_id: string; score: number | null; counts: Record<string, number>; started_at: string }[];
  log(
    `\n  run history ${RECORDS_NAMESPACE}/stack-scan-runs-network-light: ${runs.map((r) => `${r.run_id} score ${r.score} fail ${r.counts.fail}`).join(' | ')}`,
  );
  return { failed };
}
