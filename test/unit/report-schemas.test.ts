// The published report schemas (schema/<scan>-report.schema.json) accept the reports the scans
// build from REAL recorded tool output and real inputs, without a cluster: the kubescape judges on
// recorded kubescape reports, the nuclei judge on recorded nuclei JSONL for every mode, the network
// light judgement of the demo stack against its own generated policies. The integration tests check
// the reports of real runs the same way (test/support/report-schema.ts).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { BUILTIN_EXCLUSIONS } from '../../functions/kubescape-scan/exclusions.ts';
import { judgeFull as ksFull, judgeLight as ksLight, type JudgeInput } from '../../functions/kubescape-scan/judge.ts';
import { PolicyEngine } from '../../functions/network-scan/engine.ts';
import type { NamespaceInfo } from '../../lib/k8s/types.ts';
import { judgeLight as netLight } from '../../functions/network-scan/light/index.ts';
import { renderPolicy } from '../../lib/topology/render.ts';
import { STACK_NAMESPACE_LABEL } from '../../lib/topology/stacktic-rules.ts';
import { loadApisixRoutes } from '../../functions/nuclei-scan/apisix.ts';
import { Judge } from '../../functions/nuclei-scan/judge.ts';
import { MODES, planTargets } from '../../functions/nuclei-scan/plan.ts';
import { parseHostMap } from '../../lib/scan/hosts.ts';
import { runScan, type ScanDefinition, type ScanOutcome } from '../../lib/scan/scaffold.ts';
import { parseKubescapeReport } from '../../functions/kubescape-scan/kubescape.ts';
import { parseNucleiOutput } from '../../functions/nuclei-scan/nuclei.ts';
import { loadNetworkPolicyDir } from '../../lib/topology/expected.ts';
import { loadStackMetadata } from '../../lib/topology/stack-metadata.ts';
import { DEMO_METADATA as KS_METADATA } from '../../demo/kubescape/stack.ts';
import { DEMO_METADATA as NET_METADATA, DEMO_POLICIES } from '../../demo/stack/generate.ts';
import { assertReportValid } from '../support/report-schema.ts';
import { reportProblems } from '../../schema/validate.ts';

const ROOT = join(import.meta.dirname, '../..');
const s = suite('report schemas on reports built from recorded real output');

/** The envelope around an outcome, as the scaffold builds it for every scan. */
const envelope = (name: string, mode: string, outcome: ScanOutcome) =>
  runScan({ name, path: `/${name}_scan`, modes: [mode], defaultMode: mode, run: async () => outcome } as ScanDefinition<string>, mode);

s('kubescape light and full (recorded kubescape reports of the demo stack)', async () => {
  const topology = await loadStackMetadata({ path: KS_METADATA, setting: 'STACK_METADATA' });
  const combined = parseKubescapeReport(JSON.parse(readFileSync(join(ROOT, 'test/fixtures/kubescape/demo-stack.json'), 'utf8')));
  const cluster = parseKubescapeReport(JSON.parse(readFileSync(join(ROOT, 'test/fixtures/kubescape/demo-cluster.json'), 'utf8')));
  const input: JudgeInput = {
    topology,
    observations: topology.namespaces.map((namespace) => ({ namespace, report: combined, failure: null })),
    combined,
    clusterWide: cluster,
    exclusions: BUILTIN_EXCLUSIONS,
    thresholds: { nsa: 70, mitre: 60 },
    forbidden: [],
  };
  const runs = [{ namespaces: topology.namespaces, duration_ms: 1000, exit_code: 0, ok: true }];
  // As functions/kubescape-scan/scan.ts assembles them.
  const light = ksLight(input);
  assertReportValid(
    await envelope('kubescape', 'light', {
      score: light.score,
      summary: { ...light.summary, strategy: 'split', kubescape_runs: 1 },
      results: { ...light.results, runs },
      errors: [],
      sources: {},
    }),
    'kubescape light',
  );
  const full = ksFull(input);
  assert.ok(full.findings.length > 0);
  const report = await envelope('kubescape', 'full', {
    score: full.score,
    summary: { ...full.summary, strategy: 'split', kubescape_runs: 2 },
    results: { ...full.results, runs },
    findings: full.findings,
    errors: [],
    sources: {},
  });
  assertReportValid(report, 'kubescape full');
  // A light report never carries findings; a full summary is not a light one.
  assert.ok(reportProblems({ ...report, scan_type: 'light' }).length > 0);
});

for (const [set, dir, prefix, mapFile] of [
  ['the demo services', 'demo/nuclei', '', 'hostmap.json'],
  ['the community templates against the community services', 'test/fixtures/nuclei/community', 'community-', 'community-hostmap.json'],
] as const) {
  s(`nuclei, every mode (recorded nuclei -jsonl of ${set})`, async () => {
    const stack = join(ROOT, dir);
    const topo = await loadStackMetadata({ path: join(stack, 'stack-metadata.yaml'), setting: 'STACK_METADATA' });
    const apisix = await loadApisixRoutes({ path: join(stack, 'apisix-route.yaml'), setting: 'APISIX_ROUTES' });
    const hostMap = parseHostMap(readFileSync(join(ROOT, 'test/fixtures/nuclei/recorded', mapFile), 'utf8'));
    for (const mode of MODES) {
      const plan = planTargets(topo, mode, { hostMap, dns: 'off', routeScheme: 'https', apisix });
      const judge = new Judge(plan, false);
      const { events } = parseNucleiOutput(readFileSync(join(ROOT, `test/fixtures/nuclei/recorded/${prefix}${mode}.jsonl`), 'utf8'));
      for (const ev of events) judge.add(ev);
      const j = judge.result();
      // As functions/nuclei-scan/scan.ts assembles them.
      const report = await envelope('nuclei', mode, {
        score: j.score,
        summary: { mode, protocol: plan.protocol, ...j.summary, nuclei_runs: 1, templates_excluded: 1 },
        results: {
          targets: j.targets,
          skipped: plan.skipped,
          excluded: [
            {
              template_id: 'grafana-public-signup',
              path: 'http/misconfiguration/grafana-public-signup.yaml',
              code: 'excluded_tag',
              reason: "tagged 'intrusive'",
              types: ['grafana'],
            },
          ],
          runs: [
            {
              types: ['webapp'],
              protocols: [plan.protocol],
              templates: 3,
              inputs: plan.inputs.size,
              ran: true,
              exit_code: 0,
              duration_ms: 100,
              events: events.length,
              unparsed_lines: 0,
            },
          ],
          unattributed_events: judge.unattributed,
          duration_ms: 100,
        },
        findings: j.findings,
        errors: j.errors,
        sources: {},
      });
      assertReportValid(report, `nuclei ${prefix}${mode}`);
    }
  });
}

s('network light (the demo stack against its own generated policies) and the undecided shape', async () => {
  const topo = await loadStackMetadata({ path: NET_METADATA, setting: 'STACK_METADATA' });
  const generated = await loadNetworkPolicyDir({ path: DEMO_POLICIES, setting: 'NETWORKPOLICY_DIR' });
  const stackNs = new Set(topo.namespaces);
  const namespaces: NamespaceInfo[] = topo.namespaces.map((n) => ({ name: n, labels: { [STACK_NAMESPACE_LABEL]: n } }));
  const policies = generated.policies.map((e) => renderPolicy(e, stackNs)).slice(1);
  const r = netLight(topo, generated, { policies, namespaces }, new PolicyEngine(policies, namespaces));
  assert.is(r.summary.missing, 1);
  assertReportValid(await envelope('network', 'light', { score: r.score, summary: r.summary, results: r.results, errors: [], sources: {} }), 'network light');
  const undecided = await envelope('network', 'full', {
    score: null,
    summary: { expected: 3, stack_namespaces: 2, undecided: 'the cluster NetworkPolicies could not be read; see errors' },
    findings: [],
    errors: [{ step: 'list networkpolicies', code: 'forbidden', message: 'denied', status: 403 }],
    sources: {},
  });
  assertReportValid(undecided, 'network full, undecided');
});

s.run();
