// A Stacktic stack as REAL workloads on the real node (harness/node): per component a Deployment
// (the local listen image serving the component's ports over TCP/HTTP, or redis for redis
// components) and a Service; the stack's namespaces labelled as Stacktic does; the generated
// NetworkPolicies (optionally minus some, plus extras). Used by the node tests, demo and bench.
import type { Kube } from '../../lib/kube/client.ts';
import type { Topology } from '../../lib/topology/types.ts';
import { deriveExpected } from '../../lib/topology/expected.ts';
import { renderPolicy } from '../../lib/topology/render.ts';
import { STACK_NAMESPACE_LABEL } from '../../lib/topology/stacktic-rules.ts';
import { apply, namespace, waitFor } from '../cluster/objects.ts';
import { IMAGES, readyEndpoints } from './index.ts';

export { readyEndpoints };

export interface StackOptions {
  /** Expected policy names not to apply (a removed policy). */
  skipPolicies?: string[];
  /** Extra objects applied after the policies (e.g. an allow-all NetworkPolicy). */
  extra?: object[];
  /** Replicas per component name (default 1; 0 = a source with no running pod). */
  replicas?: Record<string, number>;
  /** Namespaces left without the Stacktic label. */
  unlabelled?: string[];
}

export function workload(name: string, ns: string, ports: number[], replicas: number, redis: boolean): object[] {
  const labels = { 'app.kubernetes.io/name': name };
  const image = redis && ports.includes(6379) ? IMAGES.redis : IMAGES.listen;
  const listenPorts = redis && ports.includes(6379) ? [6379] : ports;
  return [
    {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name, namespace: ns, labels },
      spec: {
        replicas,
        selector: { matchLabels: labels },
        template: {
          metadata: { labels },
          spec: {
            automountServiceAccountToken: false,
            containers: [
              {
                name: 'main',
                image,
                imagePullPolicy: 'Never',
                env: [{ name: 'PORTS', value: listenPorts.join(' ') }],
                ports: listenPorts.map((p) => ({ name: `p${p}`, containerPort: p, protocol: 'TCP' })),
                readinessProbe: { tcpSocket: { port: listenPorts[0] }, periodSeconds: 2 },
                resources: { requests: { cpu: '5m', memory: '8Mi' }, limits: { memory: '64Mi' } },
                securityContext: { runAsNonRoot: true, runAsUser: 65532, allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } },
              },
            ],
          },
        },
      },
    },
    {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name, namespace: ns, labels },
      spec: { selector: labels, ports: ports.map((p) => ({ name: `p${p}`, port: p, targetPort: p, protocol: 'TCP' })) },
    },
  ];
}

/** Apply the stack; returns the components that should have a ready pod. */
export async function deployStack(
  kube: Kube,
  topo: Topology,
  metadataPath: string,
  opts: StackOptions = {},
): Promise<{ running: { name: string; namespace: string }[]; policies: number }> {
  for (const ns of topo.namespaces) await apply(kube, namespace(ns, opts.unlabelled?.includes(ns) ? {} : { [STACK_NAMESPACE_LABEL]: ns }));
  const running: { name: string; namespace: string }[] = [];
  for (const c of topo.components.filter((x) => x.namespace && x.ports.length)) {
    const replicas = opts.replicas?.[c.name] ?? 1;
    for (const o of workload(c.name, c.namespace!, c.ports, replicas, /redis/i.test(c.type))) await apply(kube, o as never);
    if (replicas > 0) running.push({ name: c.name, namespace: c.namespace! });
  }
  const stack = new Set(topo.namespaces);
  let n = 0;
  for (const e of deriveExpected(topo, metadataPath).policies) {
    if (opts.skipPolicies?.includes(e.name)) continue;
    await apply(kube, renderPolicy(e, stack) as never);
    n++;
  }
  for (const o of opts.extra ?? []) await apply(kube, o as never);
  return { running, policies: n };
}

/** Wait until every running component's Service has a ready endpoint, then for kube-router to catch up. */
export async function waitStackReady(kube: Kube, running: { name: string; namespace: string }[], timeoutMs = 120_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (const c of running) {
    await waitFor(
      `${c.namespace}/${c.name} to have a ready endpoint`,
      async () => (await readyEndpoints(kube, c.namespace, c.name)) > 0,
      Math.max(1000, deadline - Date.now()),
      500,
    );
  }
  await new Promise((r) => setTimeout(r, 3000)); // kube-router applies policy changes within ~2 s
}
