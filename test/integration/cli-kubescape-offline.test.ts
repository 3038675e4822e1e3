// `stack-scan kubescape --offline --manifests DIR` with the REAL kubescape (harness/build.sh kubescape):
// the kubescape demo stack's objects (demo/kubescape/stack.ts) rendered to YAML files and scanned
// offline, then the same objects applied to the local control plane and scanned in full mode. Every
// stack namespace is scored on both sides; where a score differs, the offline report says why
// (skipped controls, objects the cluster adds, namespaces without objects); a control that fails on a
// file's object fails on the same object in the cluster. Skipped (with the build command) without kubescape.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import yaml from 'js-yaml';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { kubescapeOfflineScan } from '../../functions/kubescape-scan/offline.ts';
import { kubescapeScan } from '../../functions/kubescape-scan/scan.ts';
import { BUNDLED_ARTIFACTS_DIR, type KubescapeSettings } from '../../functions/kubescape-scan/settings.ts';
import { DEMO_METADATA, DEMO_NAMESPACES, demoObjects, installDemoStack, removeDemoStack } from '../../demo/kubescape/stack.ts';
import { runScan } from '../../lib/scan/scaffold.ts';
import { testCluster } from '../support/cluster.ts';
import { HAVE_KUBESCAPE, KUBESCAPE_BIN } from '../support/kubescape.ts';
import { adminKube } from '../support/k8s.ts';

const s = suite('stack-scan kubescape --offline: real kubescape on rendered manifests vs the cluster');

const settings = (over: Partial<KubescapeSettings> = {}): KubescapeSettings => ({
  topology: { metadata: { path: DEMO_METADATA, setting: 'STACK_METADATA' } },
  bin: KUBESCAPE_BIN,
  artifactsDir: BUNDLED_ARTIFACTS_DIR,
  runTimeoutMs: 300_000,
  thresholds: { nsa: 70, mitre: 60 },
  strategy: 'per-namespace',
  concurrency: 3,
  clusterScope: false,
  ...over,
});

if (!HAVE_KUBESCAPE) {
  console.warn('cli-kubescape-offline: skipping: kubescape is not built (bash harness/build.sh kubescape)');
} else {
  const dir = mkdtempSync(join(tmpdir(), 'stack-scan-manifests-'));
  s.before(async () => {
    const objs = [...DEMO_NAMESPACES.map((n) => ({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: n } })), ...demoObjects()];
    writeFileSync(join(dir, 'stack.yaml'), objs.map((o) => yaml.dump(o)).join('---\n'));
    await installDemoStack(adminKube());
  });
  s.after(async () => {
    rmSync(dir, { recursive: true, force: true });
    await removeDemoStack(adminKube());
  });

  s('offline and in-cluster: every namespace scored; a different score comes with its reasons; failures on file objects fail in the cluster', async () => {
    const offline: any = await runScan(kubescapeOfflineScan({ manifests: dir, settings: settings() }), 'offline');
    assert.equal(offline.errors, []);
    assert.is(offline.sources.cluster, null);
    const live: any = await runScan(kubescapeScan(settings({ kubeconfig: testCluster().kubeconfigPath })), 'full');
    const score = (r: any, ns: string) => r.results.namespaces.find((n: any) => n.namespace === ns);
    const diff = offline.results.offline_differences;
    for (const ns of DEMO_NAMESPACES) {
      const [a, b] = [score(offline, ns), score(live, ns)];
      assert.ok(a && b, ns);
      assert.ok(diff.objects_per_namespace[ns] > 0, `${ns}: objects in the files`);
      if (JSON.stringify(a.nsa) !== JSON.stringify(b.nsa) || JSON.stringify(a.mitre) !== JSON.stringify(b.mitre))
        assert.ok(diff.why.length > 0, `${ns}: scores differ and the report says why`);
    }
    // The controls kubescape evaluates only in a cluster (API server, audit logs, kubelet, …): named, and none was evaluated on the files.
    const clusterOnly = diff.cluster_only_controls.map((c: any) => c.id);
    for (const id of ['C-0005', 'C-0067', 'C-0069']) assert.ok(clusterOnly.includes(id), id);
    assert.match(diff.why[0], /evaluated only in a cluster/);
    const key = (f: any) => `${f.control_id}|${f.resource.kind}|${f.resource.namespace}|${f.resource.name}`;
    const liveFailures = new Set(live.findings.map(key));
    const offFailures = offline.findings.map(key);
    assert.ok(offFailures.length > 0);
    const notLive = offFailures.filter((k: string) => !liveFailures.has(k));
    assert.equal(notLive, [], 'what fails on the files fails in the cluster');
  });
}

s.run();
