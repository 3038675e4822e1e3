/**
 * What full mode reads of the cluster's workloads (I/O through lib/kube/api): Services,
 * their ready endpoints (EndpointSlices) and pods. Each list may fail on its own (a
 * restricted account): the others are kept, the failure goes to errors[], and the
 * missing part is `null` — unknown, never "none".
 */
import type * as k8s from '@kubernetes/client-node';
import { toReportError, type ReportError } from '../../lib/errors.ts';
import { listObjects } from '../../lib/kube/api.ts';
import type { Kube } from '../../lib/kube/client.ts';
import type { PodInfo, Protocol } from '../../lib/k8s/types.ts';
import type { ServiceInfo } from './probes/plan.ts';

/** A controller's pod template: its labels are what the source's pods carry (and passed admission with). */
export interface PodTemplateInfo {
  kind: string;
  name: string;
  namespace: string;
  labels: Record<string, string>;
}

export interface Workloads {
  services: ServiceInfo[] | null;
  pods: PodInfo[] | null;
  /** Pod templates of Deployments, StatefulSets and DaemonSets; null when none could be read. */
  templates: PodTemplateInfo[] | null;
  errors: ReportError[];
}

type Controller = { metadata?: { name?: string; namespace?: string }; spec?: { template?: { metadata?: { labels?: Record<string, string> } } } };

const isReady = (p: k8s.V1Pod) => p.status?.phase === 'Running' && (p.status?.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True');

export function toPodInfo(p: k8s.V1Pod): PodInfo {
  return {
    name: p.metadata?.name ?? '',
    namespace: p.metadata?.namespace ?? '',
    labels: { ...(p.metadata?.labels ?? {}) },
    ...(p.status?.podIP ? { ip: p.status.podIP } : {}),
    phase: p.status?.phase ?? 'Unknown',
    ready: isReady(p),
    ports: (p.spec?.containers ?? []).flatMap((c) =>
      (c.ports ?? []).map((x) => ({ name: x.name ?? '', port: x.containerPort, protocol: (x.protocol ?? 'TCP') as Protocol })),
    ),
  };
}

export async function readWorkloads(kube: Kube): Promise<Workloads> {
  const errors: ReportError[] = [];
  const [svcs, slices, pods, ...controllers] = await Promise.allSettled([
    listObjects<k8s.V1Service>(kube, 'Service'),
    listObjects<k8s.V1EndpointSlice>(kube, 'EndpointSlice'),
    listObjects<k8s.V1Pod>(kube, 'Pod'),
    listObjects<Controller>(kube, 'Deployment'),
    listObjects<Controller>(kube, 'StatefulSet'),
    listObjects<Controller>(kube, 'DaemonSet'),
  ]);
  const kinds = ['Deployment', 'StatefulSet', 'DaemonSet'];
  const templates: PodTemplateInfo[] = [];
  controllers.forEach((r, i) => {
    if (r.status === 'rejected')
      errors.push(
        toReportError(`list ${kinds[i].toLowerCase()}s (probe pods for sources without a running pod get only the Service selector's labels)`, r.reason),
      );
    else
      for (const c of r.value)
        templates.push({
          kind: kinds[i],
          name: c.metadata?.name ?? '',
          namespace: c.metadata?.namespace ?? '',
          labels: { ...(c.spec?.template?.metadata?.labels ?? {}) },
        });
  });
  if (svcs.status === 'rejected') errors.push(toReportError('list services (probe targets without their Service: NO_SERVICE cannot be decided)', svcs.reason));
  if (slices.status === 'rejected')
    errors.push(toReportError('list endpointslices (ready endpoints unknown: refused connections are UNDECIDED)', slices.reason));
  if (pods.status === 'rejected') errors.push(toReportError('list pods (probe identities from Service selectors only)', pods.reason));

  let ready: Map<string, number> | null = null;
  const ips = new Map<string, string[]>();
  if (slices.status === 'fulfilled') {
    ready = new Map();
    for (const sl of slices.value) {
      const key = `${sl.metadata?.namespace}/${sl.metadata?.labels?.['kubernetes.io/service-name']}`;
      const addrs = (sl.endpoints ?? []).filter((e) => e.conditions?.ready !== false).flatMap((e) => e.addresses ?? []);
      ready.set(key, (ready.get(key) ?? 0) + addrs.length);
      if (addrs.length) ips.set(key, [...(ips.get(key) ?? []), ...addrs]);
    }
  }
  const services =
    svcs.status === 'fulfilled'
      ? svcs.value.map((s) => ({
          name: s.metadata?.name ?? '',
          namespace: s.metadata?.namespace ?? '',
          ...(s.spec?.clusterIP ? { clusterIP: s.spec.clusterIP } : {}),
          ports: (s.spec?.ports ?? []).map((p) => ({
            port: p.port,
            ...(p.name ? { name: p.name } : {}),
            ...(p.protocol ? { protocol: p.protocol } : {}),
            ...(p.targetPort !== undefined ? { targetPort: p.targetPort as number | string } : {}),
          })),
          selector: { ...(s.spec?.selector ?? {}) },
          endpoints: ready ? (ready.get(`${s.metadata?.namespace}/${s.metadata?.name}`) ?? 0) : null,
          ...(ips.has(`${s.metadata?.namespace}/${s.metadata?.name}`) ? { endpointIps: ips.get(`${s.metadata?.namespace}/${s.metadata?.name}`)! } : {}),
        }))
      : null;
  return {
    services,
    pods: pods.status === 'fulfilled' ? pods.value.map(toPodInfo) : null,
    templates: controllers.some((r) => r.status === 'fulfilled') ? templates : null,
    errors,
  };
}
