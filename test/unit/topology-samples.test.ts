// The derivation against Stacktic's real output (../shared/samples/stacktic, not part of the
// repository: skipped with the reason when absent).
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { deriveExpected, loadNetworkPolicyDir } from '../../lib/topology/expected.ts';
import { loadStackMetadata } from '../../lib/topology/stack-metadata.ts';
import { PolicyEngine } from '../../functions/network-scan/engine.ts';
import { judgeLight } from '../../functions/network-scan/light/index.ts';

const SAMPLES = join(import.meta.dirname, '../../../shared/samples/stacktic');
const STRIMZI = join(SAMPLES, 'strimzi_basic_setup');
const LLAMA = join(SAMPLES, 'llama_base');
const ref = (path: string) => ({ path, setting: 'STACK_METADATA' });

/** The 9 generated files whose spec differs from what their name and the derivation say (deliberate findings). */
export const BROKEN_IN_SAMPLE = new Map<string, string>([
  ['cert-manager/cert-manager--exception--app--ingress--ports--443-9402-10250#kube-system', 'grants more: ingress every TCP port from namespace kube-system'],
  ['cert-manager/cert-manager--exception--app--ingress--ports--443-9402-10250#prometheus', 'grants more: ingress every TCP port from namespace prometheus'],
  ['cert-manager/cert-manager--internet--any--egress--ports--80-443', 'grants more: egress every TCP port to everyone'],
  ['grafana/grafana--internet--any--ingress--ports--3000-9090', 'grants more: ingress every TCP port from everyone'],
  ['grafana/grafana--internet--any--egress--ports--80-443-9090', 'lacks: egress TCP/80 to everyone'],
  [
    'ingress-apisix/ingress-apisix--internet--any--ingress--ports--2379-2380-8080-9000-9080-9180-9443',
    'lacks: ingress TCP/2379 from everyone; lacks: ingress TCP/8080 from everyone',
  ],
  ['ingress-apisix/ingress-apisix--internet--any--egress--ports--80-443', 'grants more: egress every TCP port to everyone'],
  ['prometheus/prometheus--internet--any--ingress--ports--3000-9090', 'grants more: ingress every TCP port from everyone'],
  ['prometheus/prometheus--internet--any--egress--ports--80-443', 'grants more: egress every TCP port to everyone'],
]);

const s = suite('topology: real Stacktic samples');

if (!existsSync(STRIMZI) || !existsSync(LLAMA)) {
  console.warn(`SKIP topology-samples: ${SAMPLES} is absent (the shared samples beside the checkout; not part of the repository)`);
} else {
  s('strimzi: the sub-component links are read, ports from the metadata only', async () => {
    const t = await loadStackMetadata(ref(join(STRIMZI, 'stack-metadata.yaml')));
    assert.equal(t.namespaces, ['cert-manager', 'grafana', 'ingress-apisix', 'jupyterhub', 'minio', 'mongodb', 'postgresql', 'prometheus', 'strimzi']);
    assert.equal(
      t.links.map((l) => `${l.from}${l.fromSubComponent ? `/${l.fromSubComponent}` : ''}>${l.to}${l.toSubComponent ? `/${l.toSubComponent}` : ''}:${l.port}`),
      [
        'jupyterhub>kafka/topic-bucket:null',
        'grafana>prometheus:null',
        'kafka/topic-mongo>mongodb/mongo-db:27017',
        'kafka/topic-bucket>minio/data-bucket:9000',
        'kafka/topic-psql>postgresql/database:5432',
        'apisix>minio:9000',
        'apisix>kafka/bridge:null',
        'prometheus>mongodb:27017',
        'prometheus>kafka:null',
      ],
    );
  });

  s('strimzi: every one of the 69 generated files loads, with its duplicate-key warnings', async () => {
    const dir = await loadNetworkPolicyDir({ path: join(STRIMZI, 'networkpolicy'), setting: 'NETWORKPOLICY_DIR' });
    assert.is(readdirSync(join(STRIMZI, 'networkpolicy')).length, 69);
    assert.is(dir.policies.length, 69);
    const dupFiles = new Set(dir.warnings!.map((w) => w.split(':')[0].split('/').pop()));
    // cert-manager app ×2 and internet egress, grafana internet ×2, apisix internet egress, prometheus internet ×2.
    assert.is(dupFiles.size, 8);
    assert.ok(
      dir.warnings!.every((w) => /\.yaml:\d+:\d+: duplicate key 'port' \(the last value is used\)$/.test(w)),
      dir.warnings!.join('\n'),
    );
    const grafana = dir.policies.find((p) => p.name === 'grafana--internet--any--egress--ports--80-443-9090')!;
    assert.equal(grafana.origin!.spec, {
      podSelector: {},
      policyTypes: ['Egress'],
      egress: [
        {
          ports: [
            { protocol: 'TCP', port: 9090 },
            { protocol: 'TCP', port: 443 },
          ],
        },
      ],
    });
    assert.is(grafana.origin!.portLines.egress[0][0], 12, 'the line of `- protocol: TCP`');
    assert.is(grafana.origin!.line, 4);
  });

  s('strimzi: the derivation gives the generated set; each difference is one of the 9 broken files', async () => {
    const t = await loadStackMetadata(ref(join(STRIMZI, 'stack-metadata.yaml')));
    const derived = deriveExpected(t, 'strimzi');
    const dir = await loadNetworkPolicyDir({ path: join(STRIMZI, 'networkpolicy'), setting: 'NETWORKPOLICY_DIR' });
    assert.equal(derived.unknownTypes, []);
    const key = (p: { namespace: string; name: string }) => `${p.namespace}/${p.name}`;
    assert.equal(derived.policies.map(key).sort(), dir.policies.map(key).sort(), 'the same 69 names (without --nrNN)');
    // The cluster as generated, judged against the derivation: everything found but the broken files.
    const live = dir.policies.map((p) => ({ metadata: { name: p.origin!.name, namespace: p.namespace }, spec: p.origin!.spec as any }));
    const namespaces = [
      ...t.namespaces.map((n) => ({ name: n, labels: { 'stacktic.io/namespace': n } })),
      { name: 'kube-system', labels: {} },
      { name: 'default', labels: {} },
    ];
    const r = judgeLight(t, derived, { policies: live, namespaces }, new PolicyEngine(live, namespaces));
    const drifted = r.results.expected.filter((x) => x.status !== 'found');
    assert.ok(drifted.every((d) => d.status === 'drifted'));
    const got = drifted.map((d) => `${d.namespace}/${d.name}: ${d.drift!.join('; ')}`).sort();
    const want = [...BROKEN_IN_SAMPLE].map(([k, v]) => `${k.replace(/#.*$/, '')}: ${v}`).sort();
    assert.equal(got, want);
    assert.equal([r.summary.missing, r.summary.extra, r.summary.renamed], [0, 0, 0]);
  });

  s('llama_base: reads, with unknown types reported rather than guessed', async () => {
    const t = await loadStackMetadata(ref(join(LLAMA, 'stack-metadata.yaml')));
    assert.is(t.stack, 'Llama Sample');
    assert.equal(t.namespaces, ['argocd', 'cert-manager', 'cnpg', 'flowise', 'ingress-apisix', 'llama', 'minio', 'qdrant', 'redis']);
    assert.equal(
      t.links.map((l) => `${l.from}>${l.to}${l.toSubComponent ? `(${l.toSubComponent})` : ''}:${l.toNamespace}:${l.port}`),
      [
        'llama>minio(bucket-llama):minio:9000',
        'flowise>minio(bucket-flowise):minio:9000',
        'flowise>cnpg(flowise):cnpg:5432',
        'flowise>redis:redis:null',
        'apisix>flowise:flowise:3000',
        'apisix>minio:minio:9000',
      ],
    );
    assert.equal(t.components.find((c) => c.name === 'redis')!.ports, [6379], 'a documented default for scans that need a target');
    const e = deriveExpected(t, 'llama');
    assert.equal(e.unknownTypes!.map((u) => u.type).sort(), ['argo_cd', 'cnpg', 'flowise', 'llama', 'qdrant', 'redis']);
    assert.is(e.policies.filter((p) => p.category === 'link').length, 10, '5 links with a port');
    assert.ok(
      e.policies.some((p) => p.name === 'ingress-apisix--exception--app--egress--ports--9001'),
      'apisix → minio console',
    );
  });
}

s.run();
