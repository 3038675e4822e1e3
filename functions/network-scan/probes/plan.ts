/**
 * The probe plan (pure): which TCP connections to test from which source, and
 * what to expect. Each test carries two expectations: the topology's, and the
 * NetworkPolicy engine's prediction from the live policies.
 *
 * | layer           | tests                                              | expectation |
 * | link            | every expected link src → dst:port                 | open        |
 * | exception       | DNS (53 to cluster DNS) and kube-api (443)          | open        |
 * | internet        | 80/443 to a configurable external target           | open only with an internet exception |
 * | intra-namespace | to the component's own service within its namespace | open        |
 * | negative        | pairs of stack namespaces with no link             | blocked     |
 */
import type { PodInfo } from '../../../lib/k8s/types.ts';
import type { Topology } from '../../../lib/topology/types.ts';
import type { Endpoint, PolicyEngine, Verdict } from '../engine.ts';

export type { PodInfo };

export type Layer = 'link' | 'exception' | 'internet' | 'intra-namespace' | 'negative';

export interface ServiceInfo {
  name: string;
  namespace: string;
  clusterIP?: string;
  ports: { port: number; name?: string; protocol?: string; targetPort?: number | string }[];
  selector: Record<string, string>;
  /** Ready endpoint addresses; null when unknown. */
  endpoints: number | null;
  /** The ready endpoints' IPs, when known (used for Services whose endpoints are not pods, e.g. default/kubernetes). */
  endpointIps?: string[];
}

export interface ProbeSource {
  /** The component (or namespace) the probe runs as. */
  component: string;
  namespace: string;
  /** Labels the probe carries: those of a running pod of the component, or the selector of its Service. */
  labels: Record<string, string>;
  /**
   * Where the labels came from, so the report says how the identity was chosen: a running pod,
   * the pod template of the controller behind the Service (all its labels: what the source's pods
   * carry and passed admission with), or the Service's selector alone.
   */
  identity: 'pod' | 'pod-template' | 'service-selector' | 'namespace-only';
  pod?: string;
  /** identity pod-template: `Kind/name` of the controller. */
  template?: string;
}

export interface ProbeTest {
  id: string;
  layer: Layer;
  source: ProbeSource;
  /** `endpoint_port`: where the Service forwards (when it differs): what NetworkPolicy sees. */
  target: { component?: string; namespace?: string; host: string; port: number; protocol: 'TCP'; service?: string; endpoint_port?: number };
  expect: 'open' | 'blocked';
  /** What the live policies allow, per the engine. */
  engine: { allowed: boolean; verdict: Verdict };
  /** Ready endpoints of the Service behind the target: 'no-service' when none exists, null when unknown. */
  serviceEndpoints: number | null | 'no-service';
  /**
   * Whether the API says something listens on the target port: the Service has ready endpoints and
   * a backing pod declares the container port the Service port maps to. null: unknown. A connect
   * scan's `closed` (connection refused) only means "blocked by a rejecting enforcer" when this is true.
   */
  targetListens: boolean | null;
  /** How targetListens was decided: a declared container port of a ready pod, or a selector-less Service's ready endpoint. */
  targetListensVia?: 'pod-port' | 'endpoint';
}

export interface PlanInput {
  topology: Topology;
  /** The NetworkPolicy engine over the live policies, compiled once per scan. */
  engine: PolicyEngine;
  /** null when the Services could not be read (every target's service is then unknown). */
  services: ServiceInfo[] | null;
  /** null when the pods could not be read. */
  pods: PodInfo[] | null;
  /** Pod templates of the stack's controllers (optional; null or absent when unknown). */
  templates?: { kind: string; name: string; namespace: string; labels: Record<string, string> }[] | null;
  /** External host for the internet layer; unset: the layer is not run. */
  externalTarget?: string;
  /** Component types with an internet exception: the egress ports it opens. */
  internetEgress: (type: string) => { ports: readonly number[]; directions: readonly string[] } | undefined;
  /** Most negative pairs to test; beyond it a seeded sample. */
  maxNegative: number;
  seed: number;
}

export { prng, sample } from './sample.ts';
import { sample } from './sample.ts';

function serviceFor(services: ServiceInfo[] | null, component: string, namespace: string, port: number | null): ServiceInfo | undefined {
  const inNs = (services ?? []).filter((s) => s.namespace === namespace);
  return inNs.find((s) => s.name === component) ?? inNs.find((s) => port !== null && s.ports.some((p) => p.port === port)) ?? undefined;
}

function sourceFor(component: string, namespace: string, input: PlanInput): ProbeSource {
  const svc = serviceFor(input.services, component, namespace, null);
  const sel = svc?.selector ?? {};
  const pod = (input.pods ?? []).find(
    (p) => p.namespace === namespace && p.ready && Object.keys(sel).length > 0 && Object.entries(sel).every(([k, v]) => p.labels[k] === v),
  );
  if (pod) return { component, namespace, labels: pod.labels, identity: 'pod', pod: pod.name };
  const tpl = Object.keys(sel).length
    ? (input.templates ?? [])
        .filter((t) => t.namespace === namespace && Object.entries(sel).every(([k, v]) => t.labels[k] === v))
        .sort((a, b) => `${a.kind}/${a.name}`.localeCompare(`${b.kind}/${b.name}`))[0]
    : undefined;
  if (tpl) return { component, namespace, labels: tpl.labels, identity: 'pod-template', template: `${tpl.kind}/${tpl.name}` };
  if (Object.keys(sel).length) return { component, namespace, labels: sel, identity: 'service-selector' };
  return { component, namespace, labels: {}, identity: 'namespace-only' };
}

const selects = (sel: Record<string, string>, p: PodInfo) => Object.keys(sel).length > 0 && Object.entries(sel).every(([k, v]) => p.labels[k] === v);

/** Does a ready pod behind `svc` declare the container port that service port `port` maps to? */
export function targetListens(svc: ServiceInfo | undefined, port: number, pods: PodInfo[] | null): boolean | null {
  if (!svc || pods === null || svc.endpoints === null) return null;
  if (svc.endpoints === 0) return false;
  const sp = svc.ports.find((p) => p.port === port && (p.protocol ?? 'TCP') === 'TCP');
  if (!sp) return null;
  // A Service without a selector publishes its endpoints by hand (e.g. default/kubernetes: the
  // API server itself): a ready endpoint is the listener.
  if (Object.keys(svc.selector).length === 0) return true;
  const target = sp.targetPort ?? sp.port;
  const backing = pods.filter((p) => p.namespace === svc.namespace && p.ready && selects(svc.selector, p));
  if (!backing.length) return null;
  return backing.some((p) =>
    p.ports.some(
      (cp) => (typeof target === 'number' || /^\d+$/.test(target) ? cp.port === Number(target) : cp.name === target) && (cp.protocol ?? 'TCP') === 'TCP',
    ),
  )
    ? true
    : null;
}

/** The port a Service port forwards to (its targetPort: a number, or a container port name of the backing pod). */
export function endpointPort(svc: ServiceInfo, port: number, podPorts: readonly { name: string; port: number }[] | undefined): number {
  const t = svc.ports.find((p) => p.port === port && (p.protocol ?? 'TCP') === 'TCP')?.targetPort;
  if (t === undefined) return port;
  if (typeof t === 'number') return t;
  if (/^\d+$/.test(t)) return Number(t);
  return podPorts?.find((p) => p.name === t)?.port ?? port;
}

function dstEndpoint(svc: ServiceInfo | undefined, namespace: string, pods: PodInfo[] | null): Endpoint {
  const sel = svc?.selector ?? {};
  const pod = (pods ?? []).find((p) => p.namespace === namespace && Object.keys(sel).length > 0 && Object.entries(sel).every(([k, v]) => p.labels[k] === v));
  return { namespace, labels: pod?.labels ?? sel, ip: pod?.ip, ports: pod?.ports };
}

export function planProbes(input: PlanInput): ProbeTest[] {
  const engine = input.engine;
  const tests: ProbeTest[] = [];
  const comps = input.topology.components.filter((c) => c.namespace);
  const add = (
    layer: Layer,
    source: ProbeSource,
    target: ProbeTest['target'],
    expect: 'open' | 'blocked',
    dst: Endpoint,
    svc: ServiceInfo | undefined | 'external',
  ) => {
    // NetworkPolicy is enforced after the Service's DNAT: on the endpoint's port, not the Service port.
    const port = svc && svc !== 'external' ? endpointPort(svc, target.port, dst.ports) : target.port;
    if (port !== target.port) target = { ...target, endpoint_port: port };
    const verdict = engine.evaluate({ namespace: source.namespace, labels: source.labels }, dst, port, 'TCP');
    tests.push({
      id: `${layer}:${source.component}->${target.component ?? target.host}:${target.port}`,
      layer,
      source,
      target,
      expect,
      engine: { allowed: verdict.allowed, verdict },
      serviceEndpoints: svc === 'external' ? null : svc ? svc.endpoints : input.services === null ? null : 'no-service',
      targetListens: svc === 'external' ? null : targetListens(svc, target.port, input.pods),
      ...(svc && svc !== 'external' ? { targetListensVia: Object.keys(svc.selector).length ? ('pod-port' as const) : ('endpoint' as const) } : {}),
    });
  };
  const svcTarget = (component: string, namespace: string, port: number) => {
    const svc = serviceFor(input.services, component, namespace, port);
    const host = svc ? `${svc.name}.${namespace}.svc.cluster.local` : `${component}.${namespace}.svc.cluster.local`;
    return { svc, target: { component, namespace, host, port, protocol: 'TCP' as const, ...(svc ? { service: svc.name } : {}) } };
  };

  // link
  for (const l of input.topology.links) {
    if (l.port === null) continue;
    const { svc, target } = svcTarget(l.to, l.toNamespace, l.port);
    add('link', sourceFor(l.from, l.fromNamespace, input), target, 'open', dstEndpoint(svc, l.toNamespace, input.pods), svc);
  }
  // exception: DNS and the kube-api, once per stack namespace (from its first component)
  const firstByNs = new Map<string, (typeof comps)[number]>();
  for (const c of comps) if (!firstByNs.has(c.namespace!)) firstByNs.set(c.namespace!, c);
  const dns = (input.services ?? []).find((s) => s.namespace === 'kube-system' && (s.name === 'kube-dns' || s.name === 'coredns'));
  const api = (input.services ?? []).find((s) => s.namespace === 'default' && s.name === 'kubernetes');
  for (const [ns, c] of firstByNs) {
    const src = sourceFor(c.name, ns, input);
    const dnsName = dns?.name ?? 'kube-dns';
    add(
      'exception',
      src,
      {
        component: dnsName,
        namespace: 'kube-system',
        host: `${dnsName}.kube-system.svc.cluster.local`,
        port: 53,
        protocol: 'TCP',
        ...(dns ? { service: dns.name } : {}),
      },
      'open',
      dstEndpoint(dns, 'kube-system', input.pods),
      dns,
    );
    // The API server is not a pod in `default`: after the DNAT it is the endpoint's address (a node or a
    // managed control plane), which only ipBlock (or allow-all) egress rules can match.
    add(
      'exception',
      src,
      {
        component: 'kubernetes',
        namespace: 'default',
        host: 'kubernetes.default.svc.cluster.local',
        port: 443,
        protocol: 'TCP',
        ...(api ? { service: 'kubernetes' } : {}),
      },
      'open',
      api?.endpointIps?.length ? { ip: api.endpointIps[0] } : {},
      api,
    );
    if (input.externalTarget) {
      for (const port of [80, 443]) {
        const allowed = comps.some(
          (x) => x.namespace === ns && !!input.internetEgress(x.type)?.directions.includes('egress') && !!input.internetEgress(x.type)?.ports.includes(port),
        );
        add('internet', src, { host: input.externalTarget, port, protocol: 'TCP' }, allowed ? 'open' : 'blocked', { ip: input.externalTarget }, 'external');
      }
    }
  }
  // intra-namespace: each component to its own service port
  for (const c of comps) {
    const port = c.ports[0];
    if (port === undefined) continue;
    const { svc, target } = svcTarget(c.name, c.namespace!, port);
    add('intra-namespace', sourceFor(c.name, c.namespace!, input), target, 'open', dstEndpoint(svc, c.namespace!, input.pods), svc);
  }
  // negative: namespace pairs with no link either way, to the destination's first component with a port
  const linked = new Set(input.topology.links.flatMap((l) => [`${l.fromNamespace}>${l.toNamespace}`, `${l.toNamespace}>${l.fromNamespace}`]));
  const pairs: [string, string][] = [];
  const nss = [...firstByNs.keys()];
  for (const a of nss) for (const b of nss) if (a !== b && !linked.has(`${a}>${b}`)) pairs.push([a, b]);
  for (const [a, b] of sample(pairs, input.maxNegative, input.seed)) {
    const dst = comps.find((c) => c.namespace === b && c.ports.length);
    if (!dst) continue;
    const { svc, target } = svcTarget(dst.name, b, dst.ports[0]);
    add('negative', sourceFor(firstByNs.get(a)!.name, a, input), target, 'blocked', dstEndpoint(svc, b, input.pods), svc);
  }
  return tests;
}

/** Group tests by source, for one nmap invocation per source. */
export function bySource(tests: ProbeTest[]): Map<string, ProbeTest[]> {
  const out = new Map<string, ProbeTest[]>();
  for (const t of tests) {
    const k = `${t.source.namespace}/${t.source.component}`;
    out.set(k, [...(out.get(k) ?? []), t]);
  }
  return out;
}
