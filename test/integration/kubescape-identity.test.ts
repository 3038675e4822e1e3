// Issue 19 item 8 with the real kubescape on the real API server: the demo stack plus
//   - grafana's image renderer: a second Deployment of the grafana component (same component type),
//     its container without a securityContext (kubescape fails C-0017 on it, as on grafana);
//   - a declared namespace with no objects (ks-empty, its component declared but not deployed);
//   - a declared component whose workload is absent (redis in ks-data).
// The renderer's failure is a finding while grafana's (the requirement the exclusion is for) is
// excluded; ks-empty has no NSA/MITRE numbers; both absent components are named.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { runScan } from '../../lib/scan/scaffold.ts';
import { kubescapeScan } from '../../functions/kubescape-scan/scan.ts';
import { BUNDLED_ARTIFACTS_DIR } from '../../functions/kubescape-scan/settings.ts';
import { DEMO_LABELS, DEMO_METADATA, installDemoStack, removeDemoStack } from '../../demo/kubescape/stack.ts';
import { testCluster } from '../support/cluster.ts';
import { HAVE_KUBESCAPE, KUBESCAPE_BIN } from '../support/kubescape.ts';
import { adminKube, apply, namespace, remove } from '../support/k8s.ts';

const s = suite('kubescape: exclusions by workload identity, empty namespaces, absent components (real kubescape)');

const RENDERER = {
  apiVersion: 'apps/v1',
  kind: 'Deployment',
  metadata: { name: 'grafana-image-renderer', namespace: 'ks-monitoring', labels: { ...DEMO_LABELS, 'app.kubernetes.io/name': 'grafana' } },
  spec: {
    selector: { matchLabels: { 'app.kubernetes.io/name': 'grafana-image-renderer' } },
    template: {
      metadata: { labels: { 'app.kubernetes.io/name': 'grafana-image-renderer' } },
      spec: {
        containers: [
          {
            name: 'grafana-image-renderer',
            image: 'localhost/ks-demo/grafana-image-renderer:1.0.0',
            imagePullPolicy: 'Never',
            resources: { limits: { cpu: '200m', memory: '128Mi' } },
          },
        ],
      },
    },
  },
};

if (!HAVE_KUBESCAPE) {
  console.warn('kubescape-identity: SKIPPING: kubescape is not built (bash harness/build.sh kubescape) or set KUBESCAPE_BIN');
} else {
  const dir = mkdtempSync(join(tmpdir(), 'stack-scan-ks-identity-'));
  const metadata = join(dir, 'stack-metadata.yaml');

  s.before(async () => {
    const kube = adminKube();
    await installDemoStack(kube);
    await apply(kube, RENDERER as never);
    await apply(kube, namespace('ks-empty', DEMO_LABELS));
    const extra = [
      '    redis:',
      '      group: "database"',
      '      type: "redis"',
      '      name: "redis"',
      '      attributes:',
      '        namespace: "ks-data"',
      '    queue:',
      '      group: "apps"',
      '      type: "rabbitmq"',
      '      name: "queue"',
      '      attributes:',
      '        namespace: "ks-empty"',
    ];
    writeFileSync(metadata, `${readFileSync(DEMO_METADATA, 'utf8').trimEnd()}\n${extra.join('\n')}\n`);
  });
  s.after(async () => {
    await remove(adminKube(), RENDERER as never);
    await removeDemoStack(adminKube());
    rmSync(dir, { recursive: true, force: true });
  });

  s('the renderer stays a finding, grafana is excluded; ks-empty has no numbers; absent components named', async () => {
    const report: any = await runScan(
      kubescapeScan({
        topology: { metadata: { path: metadata, setting: 'STACK_METADATA' } },
        kubeconfig: testCluster().kubeconfigPath,
        bin: KUBESCAPE_BIN,
        artifactsDir: BUNDLED_ARTIFACTS_DIR,
        runTimeoutMs: 180_000,
        thresholds: { nsa: 70, mitre: 60 },
        strategy: 'per-namespace',
        concurrency: 3,
        clusterScope: false,
      }),
      'full',
    );
    assert.equal(report.errors, [], JSON.stringify(report.errors));
    const c17 = (list: any[], name: string) => list.find((x) => x.control_id === 'C-0017' && x.resource.name === name);
    const renderer = c17(report.findings, 'grafana-image-renderer');
    assert.ok(renderer, 'the renderer (same component type, no securityContext) is a finding');
    assert.equal(renderer.component, { name: 'grafana', type: 'grafana' });
    assert.not.ok(c17(report.results.excluded, 'grafana-image-renderer'));
    assert.is(c17(report.results.excluded, 'grafana')?.exclusion.id, 'writable-grafana-plugins', 'grafana itself: the requirement the exclusion is for');
    assert.not.ok(c17(report.findings, 'grafana'));
    const empty = report.results.namespaces.find((r: any) => r.namespace === 'ks-empty');
    assert.equal([empty.nsa, empty.mitre, empty.nsa_adjusted, empty.mitre_adjusted, empty.score], [null, null, null, null, null], JSON.stringify(empty));
    assert.match(empty.note, /no objects/);
    assert.equal(report.results.absent_components.map((a: any) => `${a.namespace}/${a.component}`).sort(), ['ks-data/redis', 'ks-empty/queue']);
  });
}

s.run();
