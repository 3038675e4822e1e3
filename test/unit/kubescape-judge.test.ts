// The kubescape scan's judges on REAL kubescape reports recorded from the demo stack
// (test/fixtures/kubescape/, see test/integration/kubescape-scan.test.ts): per-namespace
// rows, overall scores, flags, exclusions and adjusted scores, findings with Stacktic
// remediation, cluster-scope findings, could-not-decide cases, no secret in a report.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { findFramework, parseKubescapeReport, rescoreFramework, splitByNamespace, type KsReport } from '../../functions/kubescape-scan/kubescape.ts';
import { loadStackMetadata } from '../../lib/topology/stack-metadata.ts';
import type { Topology } from '../../lib/topology/types.ts';
import { BUILTIN_EXCLUSIONS } from '../../functions/kubescape-scan/exclusions.ts';
import { forbiddenErrors, judgeFull, judgeLight, tiedToStack, type JudgeInput } from '../../functions/kubescape-scan/judge.ts';
import { DEMO_METADATA, DEMO_NAMESPACES, OPERATOR_CLUSTER_ROLE } from '../../demo/kubescape/stack.ts';

const FIXTURES = join(import.meta.dirname, '../fixtures/kubescape');
const t = suite('kubescape scan judges (recorded real reports)');
const load = (f: string): KsReport => parseKubescapeReport(JSON.parse(readFileSync(join(FIXTURES, f), 'utf8')));

let topology: Topology;
let combined: KsReport;
let cluster: KsReport | null;

t.before(async () => {
  topology = await loadStackMetadata({ path: DEMO_METADATA, setting: 'STACK_METADATA' });
  combined = load('demo-stack.json');
  cluster = existsSync(join(FIXTURES, 'demo-cluster.json')) ? load('demo-cluster.json') : null;
});

const input = (over: Partial<JudgeInput> = {}): JudgeInput => ({
  topology,
  observations: topology.namespaces.map((namespace) => ({ namespace, report: combined, failure: null })),
  combined,
  clusterWide: cluster,
  exclusions: BUILTIN_EXCLUSIONS,
  thresholds: { nsa: 70, mitre: 60 },
  forbidden: [],
  ...over,
});

t("light: one row per stack namespace with kubescape's per-namespace scores and its components", () => {
  assert.equal(topology.namespaces, DEMO_NAMESPACES);
  const j = judgeLight(input());
  assert.equal(
    j.results.namespaces.map((r) => r.namespace),
    DEMO_NAMESPACES,
  );
  for (const r of j.results.namespaces) {
    for (const fw of ['nsa', 'mitre'] as const) {
      const split = splitByNamespace(combined, fw, [r.namespace]).get(r.namespace)!.complianceScore;
      assert.is(r[fw], Math.round(split * 100) / 100, `${r.namespace} ${fw}`);
      assert.ok(r[`${fw}_adjusted`]! >= r[fw]!, `${r.namespace} ${fw} adjusted ≥ raw`);
    }
    assert.ok(r.resources > 0);
    assert.is(r.score, Math.round(((r.nsa_adjusted! + r.mitre_adjusted!) / 2) * 100) / 100);
    assert.is(r.flagged, r.nsa_adjusted! < 70 || r.mitre_adjusted! < 60);
  }
  assert.equal(
    j.results.namespaces.find((r) => r.namespace === 'ks-platform')!.components.map((c) => c.name),
    ['cert-manager', 'external-secrets', 'velero', 'csi-driver'],
  );
  // kubescape's scoring of the stack as a whole: the same from the stack-wide run and from the
  // per-namespace runs; it differs from the number the stack-wide run printed only by kubescape's
  // invalid cross-namespace RoleBinding→Role join (ks-shop/cart-reader → ks-data/reader).
  const own = j.results.overall.kubescape!;
  const perNs = judgeLight(
    input({ combined: null, observations: DEMO_NAMESPACES.map((namespace) => ({ namespace, report: load(`demo-ns-${namespace}.json`), failure: null })) }),
  );
  assert.equal(perNs.results.overall.kubescape, own);
  assert.is(perNs.results.overall.kubescape_reported, undefined);
  for (const r of perNs.results.namespaces)
    for (const k of ['nsa', 'mitre', 'nsa_adjusted', 'mitre_adjusted', 'resources'] as const)
      assert.is(r[k], j.results.namespaces.find((x) => x.namespace === r.namespace)![k], `${r.namespace} ${k}`);
  const printed = j.results.overall.kubescape_reported!;
  assert.is(printed.nsa, Math.round(findFramework(combined, 'NSA')!.complianceScore * 100) / 100);
  assert.is(printed.mitre, Math.round(findFramework(combined, 'MITRE')!.complianceScore * 100) / 100);
  const spuriousIds = new Set(
    [...combined.resources.values()].filter((r) => r.related.some((x) => x.kind === 'Role' && x.namespace !== r.namespace)).map((r) => r.id),
  );
  assert.ok(spuriousIds.size > 0);
  // Without those joins, kubescape's own formula over the stack-wide run gives our number.
  for (const fw of ['NSA', 'MITRE'] as const) {
    const cleaned = { ...combined, results: new Map([...combined.results].filter(([id]) => !spuriousIds.has(id))) };
    assert.is(Math.round(rescoreFramework(cleaned, fw)! * 100) / 100, own[fw.toLowerCase() as 'nsa' | 'mitre'], fw);
  }
  const mean = (xs: number[]) => Math.round((xs.reduce((a, b) => a + b, 0) / xs.length) * 100) / 100;
  assert.is((j.results.overall.mean_over_namespaces as any).mitre, mean(j.results.namespaces.map((r) => r.mitre!)));
  assert.is(j.score, mean(j.results.namespaces.map((r) => r.score!)));
});

t('light: thresholds flag namespaces; a missing report or denied access means "could not decide"', () => {
  const all = judgeLight(input({ thresholds: { nsa: 100.01, mitre: 100.01 } }));
  assert.equal(all.results.flagged, DEMO_NAMESPACES);
  assert.ok(all.results.namespaces.every((r) => r.flags.length === 2));
  const none = judgeLight(input({ thresholds: { nsa: 0, mitre: 0 } }));
  assert.equal(none.results.flagged, []);

  const partial = judgeLight(
    input({
      observations: topology.namespaces.map((namespace, i) => ({
        namespace,
        report: i < 2 ? combined : null,
        failure: i < 2 ? null : 'kubescape was cancelled',
      })),
      combined: null,
    }),
  );
  assert.is(partial.results.namespaces.filter((r) => r.score !== null).length, 2);
  assert.match(partial.results.namespaces[4].note!, /not scanned: kubescape was cancelled/);
  assert.is(partial.results.overall.kubescape, null, 'the stack as a whole is not decided from part of it');
  assert.match(partial.results.overall.kubescape_note!, /not decided/);

  const denied = judgeLight(input({ forbidden: ['pods is forbidden: User "x" cannot list resource "pods"'] }));
  assert.is(denied.score, null);
  assert.ok(denied.results.namespaces.every((r) => r.score === null && /denied access/.test(r.note!)));
  const errs = forbiddenErrors(['pods is forbidden: User "x" cannot list resource "pods"']);
  assert.is(errs[0].code, 'forbidden');
  assert.is(errs[0].status, 403);
  assert.match(errs[0].message, /cannot list resource "pods"/);

  // A stack namespace kubescape found nothing in is not scored.
  const extra = judgeLight(
    input({
      topology: { ...topology, namespaces: [...topology.namespaces, 'ks-empty'] },
      observations: [...topology.namespaces, 'ks-empty'].map((namespace) => ({ namespace, report: combined, failure: null })),
    }),
  );
  const empty = extra.results.namespaces.find((r) => r.namespace === 'ks-empty')!;
  assert.is(empty.score, null);
  assert.is(empty.resources, 0);
  assert.match(empty.note!, /no objects/);
});

t('full: findings per failed control × object with fields and Stacktic remediation; exclusions apart', () => {
  const j = judgeFull(input());
  const f = (ctrl: string, ns: string, name: string) =>
    j.findings.find((x) => x.control_id === ctrl && x.resource.namespace === ns && x.resource.name === name);
  const cart = f('C-0013', 'ks-shop', 'cart')!;
  assert.ok(cart);
  assert.equal(
    cart.remediation!.attributes.map((a) => [a.name, a.current]),
    [
      ['securityContext', false],
      ['pod_level_security', false],
      ['user_id', '0'],
    ],
  );
  assert.ok(cart.fix.length + cart.failed_paths.length > 0);
  const limits = f('C-0270', 'ks-shop', 'cart')!;
  assert.ok(
    limits.fix.some((x) => /resources\.limits\.cpu/.test(x.path)),
    JSON.stringify(limits.fix),
  );
  assert.equal(
    limits.remediation!.attributes.map((a) => a.name),
    ['cpu_limit', 'cpu_request'],
  );
  // Every finding: severity, framework, and a component when the object is one of the stack's.
  for (const x of j.findings) {
    assert.ok(x.frameworks.length > 0 && x.frameworks.every((n) => n === 'NSA' || n === 'MITRE'));
    assert.ok(['critical', 'high', 'medium', 'low', 'unknown'].includes(x.severity));
  }
  // Excluded: reasons, the rule id, never also a finding.
  const ex = j.results.excluded as any[];
  const ids = new Set(ex.map((x) => x.exclusion.id));
  for (const id of [
    'root-clickhouse',
    'writable-prometheus-tsdb',
    'writable-grafana-plugins',
    'privileged-csi-driver',
    'operator-rbac-cert-manager',
    'operator-rbac-external-secrets',
    'operator-rbac-velero',
    'operator-rbac-argocd',
  ])
    assert.ok(ids.has(id), `${id} met`);
  for (const x of ex)
    assert.not.ok(
      j.findings.some(
        (y) =>
          y.control_id === x.control_id &&
          y.resource.kind === x.resource.kind &&
          y.resource.namespace === x.resource.namespace &&
          y.resource.name === x.resource.name,
      ),
    );
  assert.is(j.summary.excluded, ex.length);
  assert.is(j.summary.findings, j.findings.length);
  // Sorted by severity first.
  const order = ['critical', 'high', 'medium', 'low', 'unknown'];
  for (let i = 1; i < j.findings.length; i++) assert.ok(order.indexOf(j.findings[i - 1].severity) <= order.indexOf(j.findings[i].severity));
  // Without exclusions, everything is a finding and adjusted equals kubescape's score.
  const raw = judgeFull(input({ exclusions: [] }));
  assert.is(raw.findings.length, j.findings.length + ex.length);
  for (const r of raw.results.namespaces) assert.equal([r.nsa_adjusted, r.mitre_adjusted], [r.nsa, r.mitre]);
  // No secret from the metadata.
  assert.not.match(JSON.stringify(j), /KsDemoSecret|BEGIN KsDemo/);
});

t("full: grants through the operator-like ClusterRole count per namespace; the cluster-wide run adds the stack's Namespace objects", () => {
  if (!cluster) throw new Error('fixture demo-cluster.json missing');
  const j = judgeFull(input());
  const op = (j.results.excluded as any[]).find(
    (x) => x.control_id === 'C-0035' && x.related?.some((r: any) => r.kind === 'ClusterRole' && r.name === OPERATOR_CLUSTER_ROLE),
  );
  assert.ok(op, 'operator ClusterRole relation');
  assert.is(op.scope, 'namespace');
  assert.is(op.exclusion.id, 'operator-rbac-argocd');
  assert.equal(op.component, { name: 'argo-cd', type: 'argo_cd' });
  const clusterScoped = [...(j.results.excluded as any[]), ...j.findings].filter((x) => x.scope === 'cluster');
  assert.equal(clusterScoped.map((x) => `${x.control_id} ${x.resource.kind} ${x.resource.name}`).sort(), [
    'C-0054 Namespace ks-argocd',
    'C-0054 Namespace ks-data',
    'C-0054 Namespace ks-monitoring',
    'C-0054 Namespace ks-platform',
  ]);
  assert.is(j.summary.cluster_scope_findings, 4);
  // Objects of other namespaces (the test cluster's own) are never reported.
  const stack = new Set(DEMO_NAMESPACES);
  for (const x of j.findings)
    assert.ok(x.resource.kind === 'Namespace' ? stack.has(x.resource.name) : stack.has(x.resource.namespace!), JSON.stringify(x.resource));
  // The invalid cross-namespace join kubescape makes (RoleBinding ks-shop/cart-reader to Role ks-data/reader) is never a finding.
  const spurious = [...combined.resources.values()].filter((r) => r.related.some((x) => x.kind === 'Role' && x.namespace !== r.namespace));
  assert.ok(spurious.length > 0, 'the recorded stack-wide run has such a join');
  for (const r of spurious) {
    assert.is(tiedToStack(r, stack), false);
    assert.not.ok(
      [...j.findings, ...(j.results.excluded as any[])].some((x) => x.related?.some((y: any) => y.kind === 'Role' && y.namespace !== x.resource.namespace)),
    );
  }
  const without = judgeFull(input({ clusterWide: null }));
  assert.not.ok([...without.findings, ...(without.results.excluded as any[])].some((x) => x.scope === 'cluster'));
});

t.run();
