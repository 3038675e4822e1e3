// Offline before deploy agrees with the cluster after: Stacktic's strimzi sample (its metadata and the
// 69 generated NetworkPolicies) judged offline by `stack-scan network --offline`, then the same files
// applied unchanged to the real kube-apiserver and scanned in light mode over HTTP and by the command
// line against that cluster. Same counts, score, rule findings (with their files and lines) and, per
// declared link, the same answer to "do the policies allow it". The command line's JSON is the HTTP
// body (bar start time and duration) and its exit codes gate on it. Skipped when ../shared is absent.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { networkOfflineScan } from '../../functions/network-scan/offline.ts';
import { renderPolicy } from '../../lib/topology/render.ts';
import { STACK_NAMESPACE_LABEL } from '../../lib/topology/stacktic-rules.ts';
import { networkScan } from '../../functions/network-scan/scan.ts';
import { runScan, scanApp } from '../../lib/scan/scaffold.ts';
import { loadNetworkPolicyDir } from '../../lib/topology/expected.ts';
import { loadStackMetadata } from '../../lib/topology/stack-metadata.ts';
import { testCluster } from '../support/cluster.ts';
import { adminKube, apply, deleteNetworkPolicies, namespace } from '../support/k8s.ts';

const ROOT = resolve(import.meta.dirname, '../..');
const SAMPLE = join(ROOT, '../shared/samples/stacktic/strimzi_basic_setup');
const METADATA = join(SAMPLE, 'stack-metadata.yaml');
const POLICIES = join(SAMPLE, 'networkpolicy');
const s = suite('stack-scan network --offline vs the in-cluster light scan (strimzi sample)');

function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((done) => {
    execFile(
      process.execPath,
      [join(ROOT, 'bin/stack-scan.js'), ...args],
      { env: { PATH: process.env.PATH, HOME: process.env.HOME }, timeout: 120_000, maxBuffer: 64 << 20 },
      (err, stdout, stderr) => done({ code: err ? ((err as { code?: number }).code ?? -1) : 0, stdout, stderr }),
    );
  });
}

/** What both must agree on. */
function essence(r: any) {
  return {
    score: r.score,
    counts: [
      'expected',
      'found',
      'renamed',
      'drifted',
      'missing',
      'extra',
      'rule_findings',
      'empty_selectors',
      'links',
      'links_bidirectional',
      'links_allowed_live',
      'links_not_generated',
      'namespaces_missing',
    ].map((k) => [k, r.summary[k]]),
    expected: r.results.expected.map((x: any) => `${x.namespace}/${x.name}:${x.status}`),
    rules: r.results.rule_findings.map((f: any) => `${f.severity}:${f.kind}:${f.namespace}/${f.policy}:${f.file}:${f.line}`).sort(),
    links: r.results.links.map(
      (l: any) => `${l.from}/${l.from_sub_component ?? ''}>${l.to}/${l.to_sub_component ?? ''}:${l.port}:${l.egress}:${l.ingress}:${l.live?.allowed}`,
    ),
    link_findings: r.results.link_findings.map((f: any) => f.message),
  };
}

if (!existsSync(SAMPLE)) {
  console.warn(`cli-offline-strimzi: skipping: ${SAMPLE} is absent (../shared is not part of the repository)`);
} else {
  const namespaces: string[] = [];
  s.before(async () => {
    const kube = adminKube();
    const topo = await loadStackMetadata({ path: METADATA, setting: 'STACK_METADATA' });
    namespaces.push(...topo.namespaces);
    for (const ns of topo.namespaces) {
      await apply(kube, namespace(ns, { [STACK_NAMESPACE_LABEL]: ns }));
      await deleteNetworkPolicies(kube, ns);
    }
    const dir = await loadNetworkPolicyDir({ path: POLICIES, setting: 'NETWORKPOLICY_DIR' });
    for (const e of dir.policies) await apply(kube, renderPolicy(e, new Set(topo.namespaces)) as any);
  });
  s.after(async () => {
    const kube = adminKube();
    for (const ns of namespaces) await deleteNetworkPolicies(kube, ns);
  });

  s('offline (no cluster) and in-cluster light (the same files applied) agree; offline also names the malformed files', async () => {
    const offline: any = await runScan(networkOfflineScan({ metadata: METADATA, policies: POLICIES }), 'offline');
    const app = scanApp(
      networkScan({
        topology: { metadata: { path: METADATA, setting: 'STACK_METADATA' }, policyDir: { path: POLICIES, setting: 'NETWORKPOLICY_DIR' } },
        kubeconfig: testCluster().kubeconfigPath,
      }),
    );
    const res = await app.request('/network_scan?mode=light');
    assert.is(res.status, 200);
    const live: any = await res.json();
    assert.equal(live.errors, []);
    assert.equal(essence(offline), essence(live));
    assert.is(offline.score, 90.6);
    assert.is(offline.summary.links_allowed_live, 5);
    assert.is(offline.summary.malformed_files, 8);
    assert.ok(offline.results.malformed.some((m: any) => /nr65__lines16\.yaml$/.test(m.file) && m.line === 14 && m.column === 7));
    assert.is(offline.summary.generated_vs_metadata.missing, 0);
  });

  s('the command line against the cluster: JSON is the HTTP body; exit 0 without a gate, 1 on critical, SARIF at the files', async () => {
    const kc = testCluster().kubeconfigPath;
    const base = ['network', '--kubeconfig', kc, '--metadata', METADATA, '--policies', POLICIES];
    const r = await cli([...base, '--format', 'json']);
    assert.is(r.code, 0, r.stderr);
    const app = scanApp(
      networkScan({
        topology: { metadata: { path: METADATA, setting: 'STACK_METADATA' }, policyDir: { path: POLICIES, setting: 'NETWORKPOLICY_DIR' } },
        kubeconfig: kc,
      }),
    );
    const http = await (await app.request('/network_scan?mode=light')).text();
    // Byte for byte but for the run's own times, judgement reuse, and what each process remembers of its
    // own last run and stores (`changes`, `sources.openreports`: lib/openreports), which differ between two
    // processes (the test runner turns storing off in its own process only).
    const norm = (t: string) => {
      const o = JSON.parse(t);
      delete o.changes;
      delete o.sources?.openreports;
      return JSON.stringify(o)
        .replace(/"started_at":"[^"]+"/, '"started_at":"T"')
        .replace(/"duration_ms":\d+/, '"duration_ms":0')
        .replace(/"judgement":"[^"]+"/, '"judgement":"J"');
    };
    assert.is(norm(r.stdout), norm(http));
    const gated = await cli([...base, '--format', 'sarif', '--fail-on', 'critical']);
    assert.is(gated.code, 1);
    assert.match(gated.stderr, /network \(light\): 2 failing check\(s\) of severity critical or worse/);
    const sarif = JSON.parse(gated.stdout);
    const crit = sarif.runs[0].results.filter((x: any) => x.properties.severity === 'critical');
    assert.is(crit.length, 2);
    assert.match(
      crit[0].locations[0].physicalLocation.artifactLocation.uri,
      /networkpolicy__basic_kafka_setup__(grafana|prometheus)__internet__any__ingress__ports__3000-9090__nr6\d__lines16\.yaml$/,
    );
    assert.is(crit[0].locations[0].physicalLocation.region.startLine, 15);
  });
}

s.run();
