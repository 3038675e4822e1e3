// Least privilege, proven against the real kube-apiserver by impersonation (client
// certificates for each function's ServiceAccount identity, issued by the test cluster's CA):
//   1. the RBAC rendered by the real kustomize from knative/overlays/example is applied as is;
//      every scan of every mode, run as its own account on a demo stack, reports no forbidden error;
//   2. for each rule of each (Cluster)Role, a copy of the roles without that rule (bound to a
//      fresh user) makes some scan of that function report a forbidden error: no unused rule.
// Rules that only a kubelet can exercise (nothing runs here) are listed in NEEDS_KUBELET with
// the reason; the test fails if such a rule turns out provable, or any other rule is not.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ReportError } from '../../lib/errors.ts';
import { rawRequest, type KubeObject } from '../../lib/kube/raw.ts';
import { runScan, type ScanDefinition, type ScanReport } from '../../lib/scan/scaffold.ts';
import { deriveExpected } from '../../lib/topology/expected.ts';
import { loadStackMetadata } from '../../lib/topology/stack-metadata.ts';
import { fullSettingsFromEnv, networkScan } from '../../functions/network-scan/scan.ts';
import { renderPolicy } from '../../lib/topology/render.ts';
import { STACK_NAMESPACE_LABEL } from '../../lib/topology/stacktic-rules.ts';
import { opaScan } from '../../functions/opa-scan/scan.ts';
import { kubescapeScan } from '../../functions/kubescape-scan/scan.ts';
import { BUNDLED_ARTIFACTS_DIR, defaultKubescapeBin } from '../../functions/kubescape-scan/settings.ts';
import { DEMO_METADATA } from '../../demo/stack/generate.ts';
import { DEMO_METADATA as KUBESCAPE_DEMO_METADATA, installDemoStack, removeDemoStack } from '../../demo/kubescape/stack.ts';
import { installPolicies, yamlDir } from '../../harness/cluster/gatekeeper.ts';
import {
  EXAMPLE_OVERLAY,
  kustomizeBuild,
  kustomizeMissing,
  NAMESPACE,
  rolesOf,
  serviceAccountGroups,
  serviceAccountUser,
  type Manifest,
} from '../../knative/render.ts';
import { forgetRuns } from '../../lib/openreports/record.ts';
import { ringName } from '../../lib/openreports/history.ts';
import { testCluster } from '../support/cluster.ts';
import { adminKube, apply, namespace, remove, waitFor } from '../support/k8s.ts';
import { assertReportValid } from '../support/report-schema.ts';

const ROOT = join(import.meta.dirname, '../..');
const s = suite('deploy: least-privilege RBAC, proven by impersonation');

/**
 * Rules whose use needs a running container, so a kubelet: nothing runs in the test
 * control plane. The reason is checked too: the test fails if such a rule proves used.
 */
const NEEDS_KUBELET = new Map<string, string>([
  [
    'stack-scan:network-scan:probe#pods/log:get',
    "nmap's output is read from the log of a probe container that has terminated; without a kubelet no probe container ever runs",
  ],
]);

type Mode = 'light' | 'full';
type Runner = (kubeconfig: string, mode: Mode) => Promise<ScanReport>;

/** The API server's RBAC denial ("pods is forbidden: User \"x\" cannot create resource …"). */
const RBAC_DENIAL = /is forbidden: User \\?"[^"\\]*\\?" cannot [a-z]+ resource/;

/** RBAC's escalation check (creating a Role that grants more than the creator holds). */
const ESCALATION = /is attempting to grant RBAC permissions not currently held/;

/**
 * Forbidden entries of a report: errors[] entries the scans name as 403s (kubescape's denials
 * included), and any RBAC denial quoted elsewhere in the report (e.g. a dry-run refused by RBAC
 * shows in the OPA scan's findings).
 */
function forbidden(report: ScanReport): ReportError[] {
  const out = report.errors.filter((e) => e.code === 'forbidden' || e.status === 403 || RBAC_DENIAL.test(e.message) || ESCALATION.test(e.message));
  const rest = JSON.stringify([report.findings ?? [], report.results ?? {}, report.summary]);
  const m = RBAC_DENIAL.exec(rest) ?? ESCALATION.exec(rest);
  if (m) out.push({ step: 'findings/results', code: 'forbidden', message: rest.slice(Math.max(0, m.index - 120), m.index + 200) });
  return out;
}

/**
 * Rules whose removal the scan survives by design (it takes another path), proven needed by
 * that change instead of a forbidden error: the predicate holds with every rule, and not
 * without this one.
 */
const DEGRADES = new Map<string, { how: string; holds: (r: ScanReport) => boolean }>([
  [
    'stack-scan:network-scan:probe#pods/ephemeralcontainers:patch',
    {
      how: 'without it the probe from a running pod falls back to a probe pod',
      holds: (r) => JSON.stringify(r.errors).includes('ephemeral container stack-scan-probe-'),
    },
  ],
]);

const ruleId = (role: Manifest, rule: any) =>
  `${role.metadata.name}#${[...(rule.resources ?? []), ...(rule.nonResourceURLs ?? [])].join(',')}${rule.verbs.length === 1 ? `:${rule.verbs[0]}` : ''}`;

async function sar(user: string, groups: string[], rule: any, namespace?: string): Promise<boolean> {
  const kube = adminKube();
  const attrs = {
    ...(namespace ? { namespace } : {}),
    verb: rule.verbs[0],
    group: rule.apiGroups?.[0] ?? '',
    resource: String(rule.resources?.[0] ?? '').split('/')[0],
    subresource: String(rule.resources?.[0] ?? '').split('/')[1] ?? '',
    ...(rule.resourceNames ? { name: rule.resourceNames[0] } : {}),
  };
  const res = await rawRequest(
    kube,
    { verb: 'create', resource: 'subjectaccessreviews' },
    {
      method: 'POST',
      path: '/apis/authorization.k8s.io/v1/subjectaccessreviews',
      body: { apiVersion: 'authorization.k8s.io/v1', kind: 'SubjectAccessReview', spec: { user, groups, resourceAttributes: attrs } },
    },
  );
  return (res.body as any)?.status?.allowed === true;
}

/** Bind `roles` (copies named after `user`) to `user`; returns the objects to remove afterwards. */
async function bindAs(user: string, roles: Manifest[]): Promise<KubeObject[]> {
  const kube = adminKube();
  const made: KubeObject[] = [];
  for (const [i, r] of roles.entries()) {
    const name = `${user}-${i}`;
    // A namespaced Role is copied as a ClusterRole too (bound cluster-wide: enough to prove a rule needed).
    const role = { ...structuredClone(r), kind: 'ClusterRole', metadata: { name, labels: { 'app.kubernetes.io/part-of': 'deploy-rbac-test' } } } as KubeObject;
    const binding = {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRoleBinding',
      metadata: { name },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name },
      subjects: [{ apiGroup: 'rbac.authorization.k8s.io', kind: 'User', name: user }],
    } as unknown as KubeObject;
    await apply(kube, role);
    await apply(kube, binding);
    made.push(binding, role);
  }
  // RBAC is read from an informer: wait until the last rule of each role is in effect.
  for (const r of roles) {
    const last = r.rules.at(-1);
    if (last) await waitFor(`RBAC for ${user}`, () => sar(user, [], last), 10_000, 100);
  }
  return made;
}

/** Run `modes` as `kubeconfig`, stopping at the first mode that reports a forbidden error when `untilForbidden`. */
async function forbiddenOf(
  run: Runner,
  kubeconfig: string,
  modes: Mode[],
  untilForbidden: boolean,
): Promise<{ forbidden: Map<Mode, ReportError[]>; reports: Map<Mode, ScanReport> }> {
  const out = new Map<Mode, ReportError[]>();
  const reports = new Map<Mode, ScanReport>();
  for (const mode of modes) {
    const report = await run(kubeconfig, mode);
    reports.set(mode, report);
    const f = forbidden(report);
    out.set(mode, f);
    if (untilForbidden && f.length) break;
  }
  return { forbidden: out, reports };
}

async function proveFunction(fn: string, objs: Manifest[], run: Runner, modes: Mode[]) {
  const bound = rolesOf(objs, fn);
  assert.ok(bound.length > 0, `${fn} has roles`);
  // 1. the real manifests, the real ServiceAccount identity.
  const kube = adminKube();
  for (const { role, binding } of bound) {
    await apply(kube, role as KubeObject);
    await apply(kube, binding as KubeObject);
  }
  const saUser = serviceAccountUser(fn);
  for (const { role } of bound)
    await waitFor(
      `RBAC for ${saUser}`,
      () => sar(saUser, serviceAccountGroups(), role.rules.at(-1), role.kind === 'Role' ? role.metadata.namespace : undefined),
      10_000,
      100,
    );
  const asSa = await testCluster().userKubeconfig(saUser, serviceAccountGroups());
  const all = await forbiddenOf(run, asSa, modes, false);
  for (const mode of modes) assert.equal(all.forbidden.get(mode), [], `${fn} ${mode} as ${saUser}: no forbidden error`);
  const fullReport = all.reports.get(modes.at(-1)!)!;
  if (process.env.DEPLOY_RBAC_DEBUG)
    console.log(
      fn,
      JSON.stringify({ summary: fullReport.summary, findings: fullReport.findings?.slice(0, 3), errors: fullReport.errors }, null, 1).slice(0, 5000),
    );

  // 2. each rule removed in turn.
  const unproven: string[] = [];
  const proven: string[] = [];
  for (const [ri, { role }] of bound.entries()) {
    for (const [i, rule] of role.rules.entries()) {
      const id = ruleId(role, rule);
      const user = `deploy-rbac-${fn}-${ri}-${i}`;
      const roles = bound.map((b, j) => (j === ri ? { ...b.role, rules: b.role.rules.filter((_: unknown, k: number) => k !== i) } : b.role));
      const made = await bindAs(user, roles);
      try {
        const kc = await testCluster().userKubeconfig(user);
        const degrade = DEGRADES.get(id);
        if (degrade) {
          assert.ok(degrade.holds(fullReport), `${id}: with every rule, ${degrade.how.replace(/^without it /, '')} does not happen`);
          const without = await run(kc, modes.at(-1)!);
          assert.equal(forbidden(without), [], `${id} removed: no forbidden error expected (${degrade.how})`);
          if (!degrade.holds(without)) proven.push(id);
          else unproven.push(id);
          continue;
        }
        const got = await forbiddenOf(run, kc, modes, true);
        const any = [...got.forbidden.values()].flat();
        if (any.length) proven.push(id);
        else unproven.push(id);
      } finally {
        for (const o of made) await remove(kube, o);
      }
    }
  }
  const expectUnproven = unproven.filter((id) => NEEDS_KUBELET.has(id));
  assert.equal(unproven, expectUnproven, `${fn}: every rule is needed (removing it must cause a forbidden error); unused: ${unproven.join(' ')}`);
  for (const id of proven) assert.not.ok(NEEDS_KUBELET.has(id), `${id} proved used: drop it from NEEDS_KUBELET`);
  return { proven, unproven };
}

const WEBHOOK_WITH_SERVICE = {
  apiVersion: 'admissionregistration.k8s.io/v1',
  kind: 'ValidatingWebhookConfiguration',
  metadata: { name: 'deploy-rbac-gatekeeper-service' },
  webhooks: [
    {
      name: 'deploy-rbac.gatekeeper.sh',
      clientConfig: { service: { namespace: 'gatekeeper-system', name: 'gatekeeper-webhook-service', path: '/v1/admit' } },
      rules: [{ apiGroups: ['deploy-rbac.invalid'], apiVersions: ['v1'], operations: ['CREATE'], resources: ['nothing'] }],
      failurePolicy: 'Ignore',
      sideEffects: 'None',
      admissionReviewVersions: ['v1'],
    },
  ],
} as unknown as KubeObject;

const missingKustomize = kustomizeMissing();
const kubescapeBin = defaultKubescapeBin();
const missingKubescape = kubescapeBin === 'kubescape' ? 'kubescape is not built: run `bash harness/build.sh kubescape`' : undefined;

if (missingKustomize) {
  if (process.env.CI === 'true') s('kustomize binary present', () => assert.unreachable(missingKustomize));
  else console.warn(`deploy-rbac: SKIPPING: ${missingKustomize}`);
} else {
  let objs: Manifest[];
  let stackMeta: string;
  let stackNamespaces: string[];
  const policies = { templates: yamlDir(join(ROOT, 'functions/opa-scan/stacktic/templates')), constraints: yamlDir(join(ROOT, 'demo/gatekeeper/constraints')) };

  s.before(async () => {
    objs = kustomizeBuild(EXAMPLE_OVERLAY);
    const kube = adminKube();
    // Storing results on, the run history in the functions' own namespace (as in a pod there).
    const saved = [process.env.STACK_SCAN_REPORTS, process.env.STACK_SCAN_REPORTS_NAMESPACE];
    process.env.STACK_SCAN_REPORTS = 'on';
    process.env.STACK_SCAN_REPORTS_NAMESPACE = NAMESPACE;
    restoreEnv = () => {
      for (const [k, v] of [
        ['STACK_SCAN_REPORTS', saved[0]],
        ['STACK_SCAN_REPORTS_NAMESPACE', saved[1]],
      ] as const)
        if (v === undefined) delete process.env[k];
        else process.env[k] = v;
    };
    await apply(kube, namespace(NAMESPACE));
    // The demo stack under namespaces of this suite's own (dr-…), so no other suite is disturbed.
    const dir = mkdtempSync(join(tmpdir(), 'deploy-rbac-'));
    stackMeta = join(dir, 'stack-metadata.yaml');
    writeFileSync(stackMeta, readFileSync(DEMO_METADATA, 'utf8').replace(/namespace: "([a-z0-9-]+)"/g, 'namespace: "dr-$1"'));
    const topo = await loadStackMetadata({ path: stackMeta, setting: 'STACK_METADATA' });
    stackNamespaces = topo.namespaces;
    assert.ok(stackNamespaces.length > 3 && stackNamespaces.every((n) => n.startsWith('dr-')), stackNamespaces.join(','));
    const stack = new Set(stackNamespaces);
    for (const ns of stackNamespaces) await apply(kube, namespace(ns, { [STACK_NAMESPACE_LABEL]: ns }));
    for (const e of deriveExpected(topo, stackMeta).policies) await apply(kube, structuredClone(renderPolicy(e, stack)) as any);
    const labels = (c: string) => ({ 'app.kubernetes.io/name': c, 'app.kubernetes.io/part-of': 'deploy-rbac-test' });
    for (const c of topo.components.filter((c) => c.namespace)) {
      await apply(kube, {
        apiVersion: 'v1',
        kind: 'Service',
        metadata: { name: c.name, namespace: c.namespace! },
        spec: { selector: labels(c.name), ports: (c.ports.length ? c.ports : [80]).map((p) => ({ name: `p${p}`, port: p, protocol: 'TCP' })) },
      } as any);
      await apply(kube, {
        apiVersion: 'apps/v1',
        kind: 'Deployment',
        metadata: { name: c.name, namespace: c.namespace!, labels: labels(c.name) },
        spec: {
          selector: { matchLabels: labels(c.name) },
          template: { metadata: { labels: labels(c.name) }, spec: { containers: [{ name: 'app', image: 'registry.k8s.io/pause:3.10' }] } },
        },
      } as any);
    }
    // One running source pod (its status set as a kubelet would), so the ephemeral-container path is taken.
    const first = topo.components.find((c) => c.namespace)!;
    const pod = {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: `${first.name}-0`, namespace: first.namespace!, labels: labels(first.name) },
      spec: { nodeName: 'no-node', containers: [{ name: 'app', image: 'registry.k8s.io/pause:3.10' }] },
    };
    await apply(kube, pod as any);
    const now = new Date().toISOString();
    const st = await rawRequest(
      kube,
      { verb: 'patch', resource: 'pods/status' },
      {
        method: 'PATCH',
        path: `/api/v1/namespaces/${first.namespace}/pods/${first.name}-0/status`,
        contentType: 'application/merge-patch+json',
        body: {
          status: {
            phase: 'Running',
            podIP: '10.244.9.9',
            podIPs: [{ ip: '10.244.9.9' }],
            conditions: [{ type: 'Ready', status: 'True', lastTransitionTime: now }],
            containerStatuses: [
              { name: 'app', ready: true, restartCount: 0, image: 'registry.k8s.io/pause:3.10', imageID: '', state: { running: { startedAt: now } } },
            ],
          },
        },
      },
    );
    assert.ok(st.status < 300, `pod status: ${st.status} ${JSON.stringify(st.body)}`);
  });

  let restoreEnv: (() => void) | undefined;
  async function freshReports(scan: string, mode: Mode) {
    const kube = adminKube();
    forgetRuns();
    const name = `stack-scan-${scan}-${mode}`;
    await rawRequest(
      kube,
      { verb: 'delete', resource: 'configmaps' },
      { method: 'DELETE', path: `/api/v1/namespaces/${NAMESPACE}/configmaps/${ringName(scan, mode)}` },
    );
    await rawRequest(kube, { verb: 'delete', resource: 'clusterreports' }, { method: 'DELETE', path: `/apis/openreports.io/v1alpha1/clusterreports/${name}` });
    // Every Report of this scan and mode, wherever an earlier run wrote it (the kubescape stack has its own namespaces).
    const all = await rawRequest(
      kube,
      { verb: 'list', resource: 'reports' },
      { method: 'GET', path: '/apis/openreports.io/v1alpha1/reports', query: { labelSelector: `stack-scan.io/scan=${scan},stack-scan.io/mode=${mode}` } },
    );
    for (const r of (all.body as { items?: KubeObject[] }).items ?? [])
      await rawRequest(
        kube,
        { verb: 'delete', resource: 'reports' },
        { method: 'DELETE', path: `/apis/openreports.io/v1alpha1/namespaces/${r.metadata.namespace}/reports/${r.metadata.name}` },
      );
    if (mode === 'full') {
      const seeded = [
        {
          run_id: 'seeded',
          started_at: new Date(0).toISOString(),
          duration_ms: 0,
          score: null,
          counts: { pass: 0, fail: 0, warn: 0, error: 0, skip: 0 },
          checks: 0,
          failing: [],
          namespaces: ['dr-stale'],
          hashes: {},
          errors: 0,
        },
      ];
      await apply(kube, {
        apiVersion: 'v1',
        kind: 'ConfigMap',
        metadata: { name: ringName(scan, mode), namespace: NAMESPACE },
        data: { 'runs.json': JSON.stringify(seeded) },
      } as unknown as KubeObject);
    }
  }

  s.after(async () => {
    restoreEnv?.();
    const kube = adminKube();
    await remove(kube, WEBHOOK_WITH_SERVICE).catch(() => {});
    for (const c of policies.constraints) await remove(kube, c).catch(() => {});
    for (const t of policies.templates) await remove(kube, t).catch(() => {});
    for (const o of objs?.filter((o) => /Role/.test(o.kind)) ?? []) await remove(kube, o as KubeObject).catch(() => {});
  });

  const topology = () => ({ metadata: { path: stackMeta, setting: 'STACK_METADATA' } });
  /**
   * Each run stores its results (lib/openreports) from a clean slate, so every verb of the
   * reports' roles is exercised: light starts with no history and no report (create), full
   * with a history whose last run wrote a Report in a namespace this run has nothing for
   * (update of the history, delete of that Report).
   */
  const report = async (def: ScanDefinition<Mode>, mode: Mode) => {
    await freshReports(def.name, mode);
    const r = await runScan(def, mode);
    assertReportValid(r, `${def.name} ${mode} as its own account`);
    return r;
  };

  s('network-scan: light and full (cluster runner) as its own account', async () => {
    const full = fullSettingsFromEnv({
      NETWORK_PROBE_RUNNER: 'cluster',
      NETWORK_PROBE_TIMEOUT_MS: '1000',
      NETWORK_PROBE_MAX_NEGATIVE: '3',
      NETWORK_PROBE_CONCURRENCY: '10',
    });
    const run: Runner = (kubeconfig, mode) => report(networkScan({ topology: topology(), kubeconfig, full }), mode);
    const r = await proveFunction('network-scan', objs, run, ['light', 'full']);
    console.log(`network-scan: ${r.proven.length} rules proven needed; not provable here: ${r.unproven.join(', ') || 'none'}`);
  });

  s('opa-scan: light and full against the demo Gatekeeper policies as its own account', async () => {
    await installPolicies(adminKube(), policies.templates, policies.constraints);
    // The harness's Gatekeeper webhook is a URL; a real install names its Service, which the
    // scan then reads. One more Gatekeeper-named webhook that names a Service and matches nothing.
    await apply(adminKube(), WEBHOOK_WITH_SERVICE);
    const run: Runner = (kubeconfig, mode) => report(opaScan({ topology: topology(), kubeconfig, concurrency: 8 }), mode);
    const r = await proveFunction('opa-scan', objs, run, ['light', 'full']);
    console.log(`opa-scan: ${r.proven.length} rules proven needed`);
  });

  if (missingKubescape) {
    if (process.env.CI === 'true') s('kubescape binary present', () => assert.unreachable(missingKubescape));
    else console.warn(`deploy-rbac: SKIPPING kubescape-scan: ${missingKubescape}`);
  } else {
    s('kubescape-scan: light and full on the kubescape demo stack as its own account', async () => {
      await installDemoStack(adminKube());
      try {
        const run: Runner = (kubeconfig, mode) =>
          report(
            kubescapeScan({
              topology: { metadata: { path: KUBESCAPE_DEMO_METADATA, setting: 'STACK_METADATA' } },
              kubeconfig,
              bin: kubescapeBin,
              artifactsDir: BUNDLED_ARTIFACTS_DIR,
              runTimeoutMs: 180_000,
              thresholds: { nsa: 70, mitre: 60 },
              strategy: 'split',
              concurrency: 2,
              clusterScope: true,
            }),
            mode,
          );
        const r = await proveFunction('kubescape-scan', objs, run, ['light', 'full']);
        console.log(`kubescape-scan: ${r.proven.length} rules proven needed`);
      } finally {
        await removeDemoStack(adminKube());
      }
    });
  }

  s('nuclei-scan: no API access at all (no role, no mounted token)', () => {
    assert.equal(rolesOf(objs, 'nuclei-scan'), []);
    const sa = objs.find((o) => o.kind === 'ServiceAccount' && o.metadata.name === 'nuclei-scan')!;
    assert.is(sa.automountServiceAccountToken, false);
  });
}

s.run();
