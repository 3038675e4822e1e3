import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { deriveExpected, loadNetworkPolicyDir } from '../../lib/topology/expected.ts';
import { loadStackMetadata } from '../../lib/topology/stack-metadata.ts';
import { PolicyEngine } from '../../functions/network-scan/engine.ts';
import type { NetworkPolicy } from '../../lib/k8s/networkpolicy.ts';
import type { NamespaceInfo } from '../../lib/k8s/types.ts';
import { judgeLight } from '../../functions/network-scan/light/index.ts';
import { NetworkScanCache } from '../../functions/network-scan/cache.ts';
import { peerKey } from '../../functions/network-scan/light/canonical.ts';
import { namePorts } from '../../functions/network-scan/light/rules.ts';
import { SEVERITY_VALUE } from '../../functions/network-scan/light/score.ts';
import type { ClusterSnapshot } from '../../functions/network-scan/light/types.ts';
import { renderPolicy } from '../../lib/topology/render.ts';
import { STACK_NAMESPACE_LABEL } from '../../lib/topology/stacktic-rules.ts';
import { DEMO_METADATA, DEMO_POLICIES } from '../../demo/stack/generate.ts';

const topo = await loadStackMetadata({ path: DEMO_METADATA, setting: 'STACK_METADATA' });
const generated = await loadNetworkPolicyDir({ path: DEMO_POLICIES, setting: 'NETWORKPOLICY_DIR' });
const derived = deriveExpected(topo, DEMO_METADATA);
const stackNs = new Set(topo.namespaces);
const namespaces: NamespaceInfo[] = [
  ...topo.namespaces.map((n) => ({ name: n, labels: { [STACK_NAMESPACE_LABEL]: n } })),
  { name: 'kube-system', labels: {} },
  { name: 'default', labels: {} },
];
/** The cluster as the generated files say, names with their --nrNN suffix. */
const cluster = (): any[] => structuredClone(generated.policies.map((e) => renderPolicy(e, stackNs)));
const judge = (policies: NetworkPolicy[], expected = generated, ns: NamespaceInfo[] | null = namespaces) => {
  const snap: ClusterSnapshot = { policies, namespaces: ns };
  return judgeLight(topo, expected, snap, new PolicyEngine(policies, ns ?? []));
};
const at = (list: NetworkPolicy[], prefix: string) => list.findIndex((p) => p.metadata!.name!.startsWith(prefix));
const result = (r: ReturnType<typeof judge>, name: string) => r.results.expected.find((x) => x.name === name)!;

const s = suite('network light: expected vs cluster');

s('a cluster exactly as generated: everything found; what the generator itself gets wrong is reported', () => {
  for (const expected of [generated, derived]) {
    const r = judge(cluster(), expected);
    assert.is(r.summary.found, expected.policies.length);
    assert.equal([r.summary.missing, r.summary.drifted, r.summary.extra, r.summary.renamed], [0, 0, 0, 0]);
    // Stacktic's prometheus exceptions select namespaces by a label no namespace has here
    // (gmp-system, rabbitmq, and kube-system by stacktic.io/namespace): 3 low findings.
    // The internet--any policies admit everyone on their listed ports, as their names say: info only.
    assert.equal(r.summary.rule_findings, { critical: 0, high: 0, medium: 0, low: 3, info: 7 });
    assert.equal(
      r.results.rule_findings
        .filter((f) => f.kind === 'selector-matches-nothing')
        .map((f) => f.message.replace(/^.*label /, ''))
        .sort(),
      [
        'stacktic.io/namespace=gmp-system; the rule allows nothing',
        'stacktic.io/namespace=kube-system; the rule allows nothing',
        'stacktic.io/namespace=rabbitmq; the rule allows nothing',
      ],
    );
    assert.is(r.score, Math.round((1000 * (68 - 3 * (1 - SEVERITY_VALUE.low))) / 68) / 10, expected.source);
    assert.is(r.score, 98.9);
    assert.is(r.summary.links, 9);
    assert.is(r.summary.links_bidirectional, 7);
    assert.is(r.summary.links_allowed_live, 7, 'the live policies really allow every generated link');
    assert.equal(
      r.results.link_findings.map(
        (f) => `${f.from}${f.from_sub_component ? `/${f.from_sub_component}` : ''}>${f.to}${f.to_sub_component ? `/${f.to_sub_component}` : ''}`,
      ),
      ['apisix>kafka/bridge', 'grafana>prometheus'],
    );
    assert.match(r.results.link_findings[0].message, /no expected policy for its egress from ingress-apisix and ingress to strimzi/);
    assert.is(r.results.link_findings[0].declared_at, 'default_context.components.apisix.links_to.bridge');
    const sub = r.results.links.find((l) => l.from_sub_component === 'orders-events')!;
    assert.equal([sub.egress, sub.ingress, sub.bidirectional, sub.live!.allowed], ['found', 'found', true, true]);
  }
  assert.equal(judge(cluster()).results.expected[0].file?.endsWith('.yaml'), true, 'generated-file source: each result names its file');
});

s('missing, drifted, renamed, extra and a selector matching nothing: each reported exactly', () => {
  const c = cluster();
  c.splice(at(c, 'minio--from--strimzi--ingress'), 1); // missing: the sub-component link's ingress side
  const d = at(c, 'shop--to--postgresql--egress');
  c[d].spec!.egress![0].ports = [{ protocol: 'TCP', port: 5433 }]; // drifted
  const n = at(c, 'prometheus--to--strimzi--egress');
  c[n] = { ...c[n], metadata: { ...c[n].metadata, name: 'allow-prometheus-to-kafka' } }; // renamed
  c.push({ metadata: { name: 'debug-allow-all', namespace: 'shop' }, spec: { podSelector: {}, ingress: [{}] } }); // extra, admits everyone
  c.push({ metadata: { name: 'unrelated', namespace: 'kube-system' }, spec: { podSelector: {} } }); // outside the stack
  const ns = namespaces.map((x) => (x.name === 'grafana' ? { name: 'grafana', labels: {} } : x)); // grafana lost its stacktic label
  const r = judge(c, generated, ns);

  assert.is(result(r, 'minio--from--strimzi--ingress--ports--9000').status, 'missing');
  const drifted = result(r, 'shop--to--postgresql--egress--ports--5432');
  assert.is(drifted.status, 'drifted');
  assert.equal(drifted.drift, ['grants more: egress TCP/5433 to namespace postgresql', 'lacks: egress TCP/5432 to namespace postgresql']);
  assert.equal(drifted.difference!.wider_peer, false);
  const renamed = result(r, 'prometheus--to--strimzi--egress--ports--9092');
  assert.equal([renamed.status, renamed.cluster_name], ['renamed', 'allow-prometheus-to-kafka']);
  assert.equal(r.results.extra, [{ name: 'debug-allow-all', namespace: 'shop' }]);
  assert.equal([r.summary.missing, r.summary.drifted, r.summary.renamed, r.summary.extra], [1, 1, 1, 1]);
  const allowAll = r.results.rule_findings.filter((f) => f.policy === 'debug-allow-all');
  assert.equal(
    allowAll.map((f) => [f.kind, f.severity, f.message]),
    [['peer-everyone', 'critical', "ingress[0] has no 'from': it admits everyone on every port"]],
  );
  // grafana's own `all` policies select by its stacktic label: present, allowing nothing.
  const empties = r.results.rule_findings
    .filter((f) => f.kind === 'selector-matches-nothing' && f.namespace === 'grafana')
    .map((f) => `${f.namespace}/${f.policy}`)
    .sort();
  assert.equal(empties, ['grafana/grafana--all--grafana--egress--ports--grafana--nr6', 'grafana/grafana--all--grafana--ingress--ports--grafana--nr5']);
  assert.is(r.summary.empty_selectors, 2 + 3, "grafana's two and prometheus' three");
  assert.ok(r.results.empty_selectors.some((e) => /no namespace has label stacktic\.io\/namespace=grafana/.test(e.message)));
  const emptyFinding = r.results.rule_findings.find((f) => f.kind === 'selector-matches-nothing' && f.namespace === 'grafana')!;
  assert.ok(emptyFinding.file!.endsWith('.yaml') && emptyFinding.line === 11, `${emptyFinding.file}:${emptyFinding.line}`);
  assert.equal(Object.keys(r.results.missing_by_namespace).sort(), ['minio', 'shop']);
  // Score: 68 expected, 2 not found, 5 found with a low finding (0.75 each), one extra with a critical one (0, counted).
  const value = 68 - 2 - 5 * (1 - SEVERITY_VALUE.low);
  assert.is(r.score, Math.round((1000 * value) / 69) / 10);
  assert.equal(r.results.score_terms, { policies_counted: 69, value, extra_with_findings: 1 });
  // The links: the sub-component link lost its ingress side, yet nothing else let it in.
  const sub = r.results.links.find((l) => l.from_sub_component === 'orders-events')!;
  assert.equal([sub.egress, sub.ingress, sub.bidirectional, sub.live!.allowed], ['found', 'missing', false, false]);
  // The extra allow-all in shop lets apisix in even where nothing else would: the engine says so.
  assert.match(r.results.links.find((l) => l.from === 'apisix' && l.to === 'shop')!.live!.ingress, /allowed by/);
});

s('a same-named superset is drifted, with the extra ports and the wider peer spelled out', () => {
  const c = cluster();
  const i = at(c, 'shop--to--minio--egress');
  c[i].spec = {
    podSelector: {},
    policyTypes: ['Egress'],
    egress: [
      {
        to: [{ namespaceSelector: {} }],
        ports: [
          { protocol: 'TCP', port: 9000 },
          { protocol: 'TCP', port: 22 },
        ],
      },
    ],
  };
  const j = at(c, 'minio--exception--app--ingress--ports--9001');
  c[j].spec!.ingress![0].ports = [{ protocol: 'TCP' }]; // all ports, as in Stacktic's broken files
  const r = judge(c);
  const sup = result(r, 'shop--to--minio--egress--ports--9000');
  assert.is(sup.status, 'drifted');
  assert.equal(sup.drift, ['grants more: egress TCP/22 to every pod in every namespace', 'grants more: egress TCP/9000 to every pod in every namespace']);
  assert.is(sup.difference!.wider_peer, true);
  const all = result(r, 'minio--exception--app--ingress--ports--9001');
  assert.equal(all.drift, ['grants more: ingress every TCP port from namespace ingress-apisix']);
  const f = r.results.rule_findings.filter((x) => x.policy.startsWith('minio--exception--app'));
  assert.equal(
    f.map((x) => `${x.kind}:${x.severity}:${x.line}`),
    ['all-ports:medium:16', 'name-ports-mismatch:medium:4'],
  );
  assert.match(f[1].message, /the name promises ingress ports 9001; the spec grants every port/);
  assert.equal(
    r.results.rule_findings.filter((x) => x.policy.startsWith('shop--to--minio')).map((x) => `${x.kind}:${x.severity}`),
    ['peer-everyone:medium', 'name-ports-mismatch:medium'],
  );
});

s('a same-named subset is drifted with the missing ports; a contradicting name is a finding', () => {
  const c = cluster();
  const i = at(c, 'grafana--internet--any--egress');
  c[i].spec!.egress![0].ports = [
    { protocol: 'TCP', port: 443 },
    { protocol: 'TCP', port: 9090 },
  ];
  const r = judge(c);
  assert.equal(result(r, 'grafana--internet--any--egress--ports--80-443-9090').drift, ['lacks: egress TCP/80 to everyone']);
  const f = r.results.rule_findings.find((x) => x.kind === 'name-ports-mismatch')!;
  assert.equal([f.severity, f.message], ['low', 'the name promises egress ports 80, 443, 9090; the spec grants not ports 80 the name lists']);
});

s('two expected policies of one name (443 to kube-system and to default) are matched by spec', () => {
  const c = cluster();
  const a = at(c, 'shop--exception--system--egress--ports--443');
  const b = c.findIndex((p, k) => k > a && p.metadata!.name!.startsWith('shop--exception--system--egress--ports--443'));
  [c[a], c[b]] = [c[b], c[a]];
  assert.is(judge(c).summary.found, 68);
  c[b].spec!.egress![0].to = [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'kube-public' } } }];
  const r = judge(c);
  const drifted = r.results.expected.filter((x) => x.status === 'drifted');
  assert.is(drifted.length, 1);
  assert.equal(drifted[0].drift, [
    'grants more: egress TCP/443 to namespace kube-public',
    `lacks: egress TCP/443 to namespace ${drifted[0].drift![1].includes('default') ? 'default' : 'kube-system'}`,
  ]);
});

s('without the namespace list, selector and live checks are skipped, not guessed', () => {
  const r = judge(cluster(), generated, null);
  assert.is(r.summary.empty_selectors, 0);
  assert.is(r.summary.links_allowed_live, null);
  assert.equal(r.summary.namespaces_missing, []);
});

s('an empty expected set gives no score rather than a guess', () => {
  const r = judgeLight(
    { ...topo, namespaces: [], links: [] },
    { source: 'manifest', file: 'x', policies: [] },
    { policies: [], namespaces },
    new PolicyEngine([], namespaces),
  );
  assert.is(r.score, null);
});

s('live link verdicts without the full engine equal those with it, even for a link end outside the stack namespaces', () => {
  // A topology made by hand that leaves the shop namespace out, and an expected set without shop's
  // policies: shop is then no stack namespace, but its live policies still decide the links to it.
  const handMade = { ...topo, namespaces: topo.namespaces.filter((n) => n !== 'shop') };
  const expected = { ...generated, policies: generated.policies.filter((e) => e.namespace !== 'shop') };
  const policies = cluster();
  const snap: ClusterSnapshot = { policies, namespaces };
  const full = judgeLight(handMade, expected, snap, new PolicyEngine(policies, namespaces));
  const own = judgeLight(handMade, expected, snap, undefined, new NetworkScanCache());
  const toShop = own.results.links.filter((l) => l.to_namespace === 'shop' || l.from_namespace === 'shop');
  assert.ok(toShop.length > 0 && toShop.every((l) => l.live), 'links to and from shop are evaluated');
  assert.equal(
    own.results.links.map((l) => l.live),
    full.results.links.map((l) => l.live),
  );
});

s('peer keys and name ports', () => {
  assert.is(peerKey({ namespaceSelector: { matchLabels: { [STACK_NAMESPACE_LABEL]: 'a' } } }, 'x'), 'ns:a');
  assert.is(peerKey({ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'a' } }, podSelector: {} }, 'x'), 'ns:a');
  assert.is(peerKey({ namespaceSelector: { matchExpressions: [{ key: 'kubernetes.io/metadata.name', operator: 'In', values: ['a'] }] } }, 'x'), 'ns:a');
  assert.is(peerKey({ podSelector: {} }, 'x'), 'ns:x');
  assert.is(peerKey({ namespaceSelector: {} }, 'x'), 'all-namespaces');
  assert.is(peerKey({ ipBlock: { cidr: '0.0.0.0/0' } }, 'x'), 'any');
  assert.is(peerKey({ ipBlock: { cidr: '0.0.0.0/0', except: ['10.0.0.0/8'] } }, 'x'), 'ip:0.0.0.0/0!10.0.0.0/8');
  assert.match(peerKey({ podSelector: { matchLabels: { app: 'a' } } }, 'x'), /^other:/);
  assert.equal(namePorts('cert-manager--exception--app--ingress--ports--443-9402-10250--nr9'), { direction: 'ingress', ports: [443, 9402, 10250] });
  assert.is(namePorts('minio--all--minio--ingress--ports--minio--nr54'), null);
});

s.run();
