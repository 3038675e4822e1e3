// Benchmark: the NetworkPolicy engine on a deterministic synthetic stack of
// 1,000 policies over 100 namespaces, evaluating the full 100×100 link matrix
// (one representative pod per namespace, one port). Target: < 1 s.
//
// Standalone: npx tsx bench/network-engine.ts
// From bench/run.ts: import { main } from './network-engine.ts'; main();
import { pathToFileURL } from 'node:url';
import { PolicyEngine, type Endpoint } from '../functions/network-scan/engine.ts';
import { prng } from '../functions/network-scan/probes/sample.ts';
import type { NetworkPolicy, NetworkPolicySpec } from '../lib/k8s/networkpolicy.ts';
import type { NamespaceInfo } from '../lib/k8s/types.ts';
import { median, round } from './stats.ts';

/** A synthetic cluster: policies, namespaces, and one representative pod per namespace. */
export interface SyntheticStack {
  readonly policies: NetworkPolicy[];
  readonly namespaces: NamespaceInfo[];
  readonly pods: Endpoint[];
}

const TEAMS = ['alpha', 'beta', 'gamma', 'delta', 'epsilon'];
const TIERS = ['web', 'api', 'db'];

type Rng = () => number;
const pick = <T>(rng: Rng, xs: readonly T[]): T => xs[Math.floor(rng() * xs.length)];

/** Policy spec generators: default-deny, namespace-selector allows, ipBlocks, named ports, expressions. */
const GENERATORS: ReadonlyArray<(rng: Rng) => NetworkPolicySpec> = [
  () => ({ podSelector: {}, policyTypes: ['Ingress'] }),
  () => ({ podSelector: {}, policyTypes: ['Ingress', 'Egress'] }),
  (rng) => ({
    podSelector: { matchLabels: { tier: pick(rng, TIERS) } },
    ingress: [{ from: [{ namespaceSelector: { matchLabels: { team: pick(rng, TEAMS) } } }] }],
  }),
  (rng) => ({
    podSelector: {},
    policyTypes: ['Egress'],
    egress: [
      {
        to: [{ namespaceSelector: { matchExpressions: [{ key: 'team', operator: 'In', values: [pick(rng, TEAMS), pick(rng, TEAMS)] }] } }],
        ports: [{ port: 8080 }],
      },
      { to: [{ namespaceSelector: {}, podSelector: { matchLabels: { 'k8s-app': 'kube-dns' } } }], ports: [{ port: 53, protocol: 'UDP' }] },
    ],
  }),
  (rng) => ({
    podSelector: {},
    policyTypes: ['Egress'],
    egress: [{ to: [{ ipBlock: { cidr: '10.0.0.0/16', except: [`10.0.${Math.floor(rng() * 100)}.0/24`] } }] }],
  }),
  (rng) => ({
    podSelector: { matchLabels: { app: `app-${Math.floor(rng() * 7)}` } },
    ingress: [{ from: [{ namespaceSelector: {} }], ports: [{ port: 'http' }, { port: 9000, endPort: 9100 }] }],
  }),
  (rng) => ({
    podSelector: { matchExpressions: [{ key: 'tier', operator: 'NotIn', values: [pick(rng, TIERS)] }] },
    ingress: [
      { from: [{ namespaceSelector: { matchLabels: { env: 'prod' } }, podSelector: { matchLabels: { tier: pick(rng, TIERS) } } }] },
      { from: [{ ipBlock: { cidr: `10.0.${Math.floor(rng() * 100)}.0/24` } }], ports: [{ port: 8080 }] },
    ],
  }),
  () => ({ podSelector: {}, ingress: [{ from: [{ podSelector: {} }] }] }),
];

/**
 * Builds a deterministic synthetic stack: `namespaceCount` namespaces with
 * team/env labels, `policyCount` policies spread round-robin over them (the
 * first in each namespace a default deny half the time), and one pod each.
 */
export function buildSyntheticStack(seed = 42, namespaceCount = 100, policyCount = 1000): SyntheticStack {
  const rng = prng(seed);
  const nsName = (i: number) => `ns-${String(i).padStart(3, '0')}`;
  const namespaces: NamespaceInfo[] = Array.from({ length: namespaceCount }, (_, i) => ({
    name: nsName(i),
    labels: { team: pick(rng, TEAMS), ...(rng() < 0.7 ? { env: 'prod' } : {}) },
  }));
  const pods: Endpoint[] = namespaces.map((ns, i) => ({
    namespace: ns.name,
    labels: { app: `app-${i % 7}`, tier: pick(rng, TIERS) },
    ip: `10.0.${i % 256}.10`,
    ports: [
      { name: 'http', port: 8080 },
      { name: 'metrics', port: 9090 },
    ],
  }));
  const policies: NetworkPolicy[] = Array.from({ length: policyCount }, (_, i) => {
    const ns = i % namespaceCount;
    const first = i < namespaceCount;
    const generate = first && rng() < 0.5 ? GENERATORS[rng() < 0.5 ? 0 : 1] : pick(rng, GENERATORS);
    return { metadata: { name: `np-${i}`, namespace: nsName(ns) }, spec: generate(rng) };
  });
  return { policies, namespaces, pods };
}

/** Evaluates every (src, dst) pair; returns how many were allowed. */
export function evaluateMatrix(engine: PolicyEngine, pods: readonly Endpoint[], port: number | string): number {
  let allowed = 0;
  for (const src of pods) for (const dst of pods) if (engine.evaluate(src, dst, port).allowed) allowed++;
  return allowed;
}

/** Benchmark figures (milliseconds are medians over `runs`). */
export interface NetworkEngineBench {
  readonly bench: 'network-engine';
  readonly policies: number;
  readonly namespaces: number;
  readonly evaluations: number;
  readonly allowed: number;
  readonly runs: number;
  readonly buildMs: number;
  readonly matrixMs: number;
  readonly totalMs: number;
  readonly perEvaluationUs: number;
  readonly targetMs: number;
  readonly meetsTarget: boolean;
}

const round3 = (ms: number) => round(ms, 3);

/** Runs the benchmark (fresh engine each run), prints a JSON line and a readable line, returns the figures. */
export function main(runs = 7): NetworkEngineBench {
  const stack = buildSyntheticStack();
  const builds: number[] = [];
  const matrices: number[] = [];
  const totals: number[] = [];
  let allowed = 0;
  for (let r = 0; r < runs; r++) {
    const t0 = performance.now();
    const engine = new PolicyEngine(stack.policies, stack.namespaces);
    const t1 = performance.now();
    allowed = evaluateMatrix(engine, stack.pods, 8080);
    const t2 = performance.now();
    builds.push(t1 - t0);
    matrices.push(t2 - t1);
    totals.push(t2 - t0);
  }
  const evaluations = stack.pods.length ** 2;
  const totalMs = median(totals);
  const result: NetworkEngineBench = {
    bench: 'network-engine',
    policies: stack.policies.length,
    namespaces: stack.namespaces.length,
    evaluations,
    allowed,
    runs,
    buildMs: round3(median(builds)),
    matrixMs: round3(median(matrices)),
    totalMs: round3(totalMs),
    perEvaluationUs: round3((median(matrices) * 1000) / evaluations),
    targetMs: 1000,
    meetsTarget: totalMs < 1000,
  };
  console.log(JSON.stringify(result));
  console.log(
    `network-engine: ${result.policies} policies / ${result.namespaces} namespaces, ` +
      `${evaluations} links (${allowed} allowed) in ${result.totalMs} ms median ` +
      `(build ${result.buildMs} ms + matrix ${result.matrixMs} ms, ${result.perEvaluationUs} µs/link, ${runs} runs) — ` +
      `${result.meetsTarget ? 'meets' : 'MISSES'} the < 1 s target`,
  );
  return result;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) main();
