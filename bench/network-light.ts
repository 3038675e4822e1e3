/**
 * Network light mode at scale, against the local control plane: 100 namespaces, 1,000 links and
 * 2,600 NetworkPolicies (exactly what the derivation expects for the generated stack), each light
 * run measured against a baseline in the same run: a bare LIST of the same NetworkPolicies and
 * namespaces (the two calls light mode makes). Target: light mode ≤ 1.3× the bare LIST.
 * Medians of 15 runs per case (`npx tsx bench/network-light.ts [runs]`): fewer vary by a tenth on this machine.
 */
import './scan-env.ts';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import yaml from 'js-yaml';
import pLimit from 'p-limit';
import { listNamespaces, listNetworkPolicies } from '../lib/kube/api.ts';
import { makeKube } from '../lib/kube/client.ts';
import { runScan } from '../lib/scan/scaffold.ts';
import { deriveExpected, loadNetworkPolicyDir } from '../lib/topology/expected.ts';
import { loadStackMetadata } from '../lib/topology/stack-metadata.ts';
import { networkScan } from '../functions/network-scan/scan.ts';
import { renderPolicy } from '../lib/topology/render.ts';
import { STACK_NAMESPACE_LABEL } from '../lib/topology/stacktic-rules.ts';
import { startControlPlane } from '../harness/cluster/index.ts';
import { apply, namespace } from '../harness/cluster/objects.ts';
import { median } from './stats.ts';

export interface NetworkLightBenchRow {
  namespaces: number;
  links: number;
  policies: number;
  lightMs: number;
  changedMs: number;
  listMs: number;
  ratio: number;
  changedRatio: number;
}

/** A Stacktic-layout stack: `n` components in their own namespaces, each linked to the next `linksEach`. */
export function benchMetadata(n = 100, linksEach = 10): string {
  const type = (i: number) => (i < 20 ? 'grafana' : i < 40 ? 'cert_manager' : 'postgresql');
  const comp = (i: number) => ({
    group: 'bench',
    type: type(i),
    name: `c${i}`,
    attributes: { namespace: `bench-${i}`, port: String(10000 + i) },
    links_to: {},
    links_from: {},
    parent: null,
  });
  const components: Record<string, unknown> = {};
  for (let i = 0; i < n; i++) {
    const links: Record<string, unknown> = {};
    for (let k = 1; k <= linksEach; k++) {
      const j = (i + k) % n;
      links[`c${j}`] = { group: 'bench-link', type: `${type(i)}-${type(j)}`, attributes: {}, component: comp(j), from_component: null };
    }
    components[`c${i}`] = { ...comp(i), links_to: links, sub_components: {} };
  }
  return yaml.dump({ default_context: { project_slug: 'bench', components, configuration: { system_name: 'bench' } } }, { lineWidth: -1 });
}

export async function main(runs = Number(process.argv[2]) || 15): Promise<NetworkLightBenchRow> {
  const dir = mkdtempSync(join(tmpdir(), 'stack-scan-bench-light-'));
  const cp = await startControlPlane({ gatekeeper: false });
  try {
    const path = join(dir, 'stack-metadata.yaml');
    writeFileSync(path, benchMetadata());
    const topo = await loadStackMetadata({ path, setting: 'STACK_METADATA' });
    const expected = deriveExpected(topo, path).policies;
    const kube = await makeKube(cp.kubeconfigPath);
    const limit = pLimit(16);
    await Promise.all(topo.namespaces.map((ns) => limit(() => apply(kube, namespace(ns, { [STACK_NAMESPACE_LABEL]: ns })))));
    const stack = new Set(topo.namespaces);
    await Promise.all(expected.map((e, i) => limit(() => apply(kube, { ...renderPolicy(e, stack, `${e.name}--nr${i}`) } as any))));

    const def = networkScan({ topology: { metadata: { path, setting: 'STACK_METADATA' } }, kubeconfig: cp.kubeconfigPath });
    const light: number[] = [];
    const changed: number[] = [];
    const list: number[] = [];
    let policies = 0;
    // One policy gets a new annotation before each "changed" run: a new resourceVersion, so the
    // judgement is recomputed (as after any change in the cluster); the other runs see an unchanged cluster.
    const touch = async (i: number) => {
      const e = expected[0];
      const obj = { ...renderPolicy(e, stack, `${e.name}--nr0`) } as any;
      obj.metadata = { ...obj.metadata, annotations: { 'bench/touch': String(i) } };
      await apply(kube, obj);
    };
    for (let i = 0; i < runs + 1; i++) {
      await touch(i);
      const t0 = performance.now();
      const first = await runScan(def, 'light');
      const t1 = performance.now();
      const report = await runScan(def, 'light');
      const t2 = performance.now();
      const [, ps] = await Promise.all([listNamespaces(kube), listNetworkPolicies(kube)]);
      const t3 = performance.now();
      for (const r of [first, report]) {
        const sum = r.summary as { expected: number; found: number };
        if (sum.found !== sum.expected || r.errors.length)
          throw new Error(`bench stack not as expected: ${sum.found} of ${sum.expected} found, ${JSON.stringify(r.errors)}`);
      }
      if ((first.sources as { judgement?: string }).judgement !== 'computed' || !(report.sources as { judgement?: string }).judgement?.startsWith('reused'))
        throw new Error('bench: the judgement was not recomputed after a change, or not reused without one');
      policies = ps.length;
      if (i === 0) continue; // warm-up
      changed.push(t1 - t0);
      light.push(t2 - t1);
      list.push(t3 - t2);
    }
    const row = {
      namespaces: topo.namespaces.length,
      links: topo.links.length,
      policies,
      lightMs: Math.round(median(light)),
      changedMs: Math.round(median(changed)),
      listMs: Math.round(median(list)),
      ratio: Math.round((median(light) / median(list)) * 100) / 100,
      changedRatio: Math.round((median(changed) / median(list)) * 100) / 100,
    };
    console.log(JSON.stringify({ bench: 'network-light', ...row }));
    console.log(`network-light: ${row.namespaces} namespaces, ${row.links} links, ${row.policies} policies; bare LIST ${row.listMs} ms`);
    console.log(
      `  unchanged cluster (judgement reused): light mode ${row.lightMs} ms → ${row.ratio}× — ${row.ratio <= 1.3 ? 'meets' : 'MISSES'} the ≤ 1.3× target`,
    );
    console.log(
      `  after a change (judgement recomputed): light mode ${row.changedMs} ms → ${row.changedRatio}× — ` +
        `${row.changedRatio <= 1.3 ? 'meets' : 'MISSES'} the ≤ 1.3× target`,
    );

    // The project's own demo stack (Stacktic's layout, 8 namespaces, 68 generated policy files), applied
    // unchanged: the expected set comes from its networkpolicy/ folder. Same two measurements.
    const demoMeta = join(import.meta.dirname, '../demo/stack/stack-metadata.yaml');
    const demoTopo = await loadStackMetadata({ path: demoMeta, setting: 'STACK_METADATA' });
    const demoSet = await loadNetworkPolicyDir({ path: join(import.meta.dirname, '../demo/stack/networkpolicy'), setting: 'NETWORKPOLICY_DIR' });
    const demoNs = new Set(demoTopo.namespaces);
    for (const ns of demoTopo.namespaces) await apply(kube, namespace(ns, { [STACK_NAMESPACE_LABEL]: ns }));
    for (const e of demoSet.policies) await apply(kube, renderPolicy(e, demoNs) as any);
    const demoDef = networkScan({ topology: { metadata: { path: demoMeta, setting: 'STACK_METADATA' } }, kubeconfig: cp.kubeconfigPath });
    const dl: number[] = [];
    const dc: number[] = [];
    const dlist: number[] = [];
    for (let i = 0; i < runs + 1; i++) {
      const e = demoSet.policies[0];
      await apply(kube, { ...renderPolicy(e, demoNs), metadata: { ...renderPolicy(e, demoNs).metadata, annotations: { 'bench/touch': String(i) } } } as any);
      const t0 = performance.now();
      const first = await runScan(demoDef, 'light');
      const t1 = performance.now();
      await runScan(demoDef, 'light');
      const t2 = performance.now();
      await Promise.all([listNamespaces(kube), listNetworkPolicies(kube)]);
      const t3 = performance.now();
      const sum = first.summary as { expected: number; found: number };
      if (sum.found !== sum.expected) throw new Error(`demo stack: ${sum.found} of ${sum.expected} found`);
      if (i === 0) continue;
      dc.push(t1 - t0);
      dl.push(t2 - t1);
      dlist.push(t3 - t2);
    }
    const demoRow = {
      policies: demoSet.policies.length,
      ratio: Math.round((median(dl) / median(dlist)) * 100) / 100,
      changedRatio: Math.round((median(dc) / median(dlist)) * 100) / 100,
    };
    console.log(JSON.stringify({ bench: 'network-light-demo-stack', ...demoRow }));
    console.log(
      `demo stack (${demoRow.policies} generated policies, ${demoTopo.namespaces.length} namespaces) in the same cluster: unchanged ` +
        `${demoRow.ratio}×, after a change ${demoRow.changedRatio}× a bare LIST (target ≤ 1.3×)`,
    );
    return row;
  } finally {
    await cp.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] && import.meta.url === `file://${process.argv[1]}`) await main();
