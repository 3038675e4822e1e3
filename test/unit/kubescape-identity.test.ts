// Issue 19 item 8, on the REAL kubescape reports recorded from the demo stack (test/fixtures/kubescape):
//   - exclusions match the workload with the requirement by identity: a second workload of the same
//     component type (grafana's image renderer, no securityContext: kubescape's own result for the
//     grafana Deployment, copied under the renderer's name and container) stays a finding;
//   - a namespace where kubescape found no objects has no NSA/MITRE numbers (null, with the reason);
//   - a component declared in the metadata whose workloads are absent from its namespace is named.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { parseKubescapeReport, type KsReport } from '../../functions/kubescape-scan/kubescape.ts';
import { loadStackMetadata } from '../../lib/topology/stack-metadata.ts';
import type { Component, Topology } from '../../lib/topology/types.ts';
import { BUILTIN_EXCLUSIONS } from '../../functions/kubescape-scan/exclusions.ts';
import { judgeFull, judgeLight, type JudgeInput } from '../../functions/kubescape-scan/judge.ts';
import { DEMO_METADATA } from '../../demo/kubescape/stack.ts';

const FIXTURES = join(import.meta.dirname, '../fixtures/kubescape');
const t = suite('kubescape: exclusions by identity, empty namespaces, absent components (recorded real reports)');
const raw = (f: string) => JSON.parse(readFileSync(join(FIXTURES, f), 'utf8'));

let topology: Topology;
t.before(async () => {
  topology = await loadStackMetadata({ path: DEMO_METADATA, setting: 'STACK_METADATA' });
});

const input = (topo: Topology, reports: Map<string, KsReport>, over: Partial<JudgeInput> = {}): JudgeInput => ({
  topology: topo,
  observations: topo.namespaces.map((namespace) => ({ namespace, report: reports.get(namespace) ?? null, failure: reports.has(namespace) ? null : 'not run' })),
  combined: null,
  clusterWide: null,
  exclusions: BUILTIN_EXCLUSIONS,
  thresholds: { nsa: 70, mitre: 60 },
  forbidden: [],
  ...over,
});

/** The ks-monitoring report with a second grafana workload: kubescape's grafana Deployment result, renamed. */
function withRenderer(): KsReport {
  const doc = raw('demo-ns-ks-monitoring.json');
  const id = 'apps/v1/ks-monitoring/Deployment/grafana';
  const rid = 'apps/v1/ks-monitoring/Deployment/grafana-image-renderer';
  const res = structuredClone(doc.resources.find((r: any) => r.resourceID === id));
  res.resourceID = rid;
  res.object.metadata.name = 'grafana-image-renderer';
  res.object.spec.template.spec.containers[0].name = 'grafana-image-renderer';
  delete res.object.spec.template.spec.containers[0].securityContext;
  doc.resources.push(res);
  const result = structuredClone(doc.results.find((r: any) => r.resourceID === id));
  result.resourceID = rid;
  for (const c of result.controls) for (const rule of c.rules ?? []) for (const p of rule.paths ?? []) p.resourceID = rid;
  doc.results.push(result);
  return parseKubescapeReport(doc);
}

t("grafana's own C-0017 is excluded; the image renderer of the same component type stays a finding", () => {
  const reports = new Map([['ks-monitoring', withRenderer()]]);
  const j = judgeFull(input(topology, reports));
  const find = (list: any[], name: string) => list.find((x) => x.control_id === 'C-0017' && x.resource.name === name);
  const excluded = j.results.excluded as any[];
  assert.ok(find(excluded, 'grafana'), 'grafana (its container grafana) excluded');
  assert.is(find(excluded, 'grafana').exclusion.id, 'writable-grafana-plugins');
  const renderer = find(j.findings, 'grafana-image-renderer');
  assert.ok(renderer, 'the renderer is a finding');
  assert.equal(renderer.component, { name: 'grafana', type: 'grafana' }, 'of the same component type');
  assert.not.ok(find(excluded, 'grafana-image-renderer'));
  // And in the adjusted scores: the renderer's failure is not counted as passed.
  const light = judgeLight(input(topology, reports));
  const row = light.results.namespaces.find((r) => r.namespace === 'ks-monitoring')!;
  const onlyGrafana = judgeLight(
    input(topology, new Map([['ks-monitoring', parseKubescapeReport(raw('demo-ns-ks-monitoring.json'))]])),
  ).results.namespaces.find((r) => r.namespace === 'ks-monitoring')!;
  assert.ok(row.nsa_adjusted! <= onlyGrafana.nsa_adjusted!, `${row.nsa_adjusted} vs ${onlyGrafana.nsa_adjusted}`);
});

t('a namespace where kubescape found no objects: NSA/MITRE null with the reason, never a number', () => {
  const topo = { ...topology, namespaces: [...topology.namespaces, 'ks-empty'] };
  const monitoring = parseKubescapeReport(raw('demo-ns-ks-monitoring.json'));
  // kubescape's report of a run that found nothing in ks-empty: the same run's report, no object of ks-empty in it.
  const j = judgeLight(
    input(
      topo,
      new Map([
        ['ks-monitoring', monitoring],
        ['ks-empty', monitoring],
      ]),
    ),
  );
  const empty = j.results.namespaces.find((r) => r.namespace === 'ks-empty')!;
  assert.equal([empty.nsa, empty.mitre, empty.nsa_adjusted, empty.mitre_adjusted, empty.score], [null, null, null, null, null]);
  assert.is(empty.resources, 0);
  assert.match(empty.note!, /no objects.*no NSA\/MITRE numbers/);
  assert.ok(typeof j.results.namespaces.find((r) => r.namespace === 'ks-monitoring')!.nsa === 'number');
});

t('a declared component whose workloads are absent from its namespace is named; present ones are not', () => {
  const all = new Map(topology.namespaces.map((ns) => [ns, parseKubescapeReport(raw(`demo-ns-${ns}.json`))]));
  assert.equal(judgeLight(input(topology, all)).results.absent_components, [], 'every demo component has its workload');
  const redis: Component = { ...(topology.components.find((c) => c.name === 'postgresql') as Component), name: 'redis', type: 'redis' };
  const topo = { ...topology, components: [...topology.components, redis] };
  const j = judgeLight(input(topo, all));
  assert.equal(
    j.results.absent_components.map((a) => [a.namespace, a.component, a.type]),
    [['ks-data', 'redis', 'redis']],
  );
  assert.match(j.results.absent_components[0].reason, /no workload/);
  assert.equal(j.summary.absent_components, ['ks-data/redis']);
  // Not decided where the namespace was not read, or access was denied.
  assert.equal(judgeLight(input(topo, new Map([...all].filter(([ns]) => ns !== 'ks-data')))).results.absent_components, []);
  assert.equal(judgeLight(input(topo, all, { forbidden: ['pods is forbidden'] })).results.absent_components, []);
});

t.run();
