/**
 * The kubescape demo stack's workloads (written here, used by the demo, the
 * integration tests and the bench): for the components of
 * demo/kubescape/stack-metadata.yaml, Deployments, StatefulSets, a DaemonSet,
 * ServiceAccounts, Roles and RoleBindings, an operator-like ClusterRole, a
 * Prometheus-like writable volume; some hardened, some not. Pods never run on
 * the local control plane (no kubelet): kubescape scans the specs.
 *
 * Two Roles share the name `reader` (ks-shop and ks-data) on purpose: a
 * multi-namespace kubescape run joins a RoleBinding to every same-named Role.
 */
import { join } from 'node:path';
import type { Kube } from '../../lib/kube/client.ts';
import type { KubeObject } from '../../lib/kube/raw.ts';
import { apply, namespace, remove } from '../../harness/cluster/objects.ts';

export const DEMO_METADATA = join(import.meta.dirname, 'stack-metadata.yaml');
export const DEMO_NAMESPACES = ['ks-argocd', 'ks-data', 'ks-monitoring', 'ks-platform', 'ks-shop'];
export const DEMO_LABELS = { 'stack-scan.io/demo': 'kubescape' };
/** The operator-like ClusterRole and its binding (cluster-scoped, removed by removeDemoStack). */
export const OPERATOR_CLUSTER_ROLE = 'ks-demo-argocd-application-controller';

type Obj = KubeObject & Record<string, any>;
const meta = (name: string, ns?: string, labels: Record<string, string> = {}) => ({
  name,
  ...(ns ? { namespace: ns } : {}),
  labels: { ...DEMO_LABELS, ...labels },
});

interface PodOpts {
  hardened?: boolean;
  /** runAsUser for a non-hardened-but-non-root container (0 = root). */
  user?: number;
  readOnlyRoot?: boolean;
  limits?: boolean;
  privileged?: boolean;
  hostPath?: string;
  capsAdd?: string[];
  volumeMounts?: { name: string; mountPath: string }[];
  volumes?: object[];
  env?: { name: string; value: string }[];
  serviceAccount?: string;
  automount?: boolean;
}

function podSpec(app: string, o: PodOpts) {
  const hardened = o.hardened ?? false;
  const sc: Record<string, unknown> = hardened
    ? {
        runAsNonRoot: true,
        runAsUser: 1000,
        runAsGroup: 1000,
        allowPrivilegeEscalation: false,
        readOnlyRootFilesystem: true,
        privileged: false,
        capabilities: { drop: ['ALL'] },
        seccompProfile: { type: 'RuntimeDefault' },
      }
    : {
        ...(o.user !== undefined ? { runAsUser: o.user, runAsNonRoot: o.user !== 0 } : {}),
        ...(o.readOnlyRoot !== undefined ? { readOnlyRootFilesystem: o.readOnlyRoot } : {}),
        ...(o.privileged ? { privileged: true, allowPrivilegeEscalation: true } : {}),
        ...(o.capsAdd ? { capabilities: { add: o.capsAdd } } : {}),
      };
  const mounts = [...(o.volumeMounts ?? []), ...(o.hostPath ? [{ name: 'host', mountPath: o.hostPath }] : [])];
  const volumes = [...(o.volumes ?? []), ...(o.hostPath ? [{ name: 'host', hostPath: { path: o.hostPath } }] : [])];
  return {
    ...(o.serviceAccount ? { serviceAccountName: o.serviceAccount } : {}),
    ...(o.automount !== undefined ? { automountServiceAccountToken: o.automount } : hardened ? { automountServiceAccountToken: false } : {}),
    ...(hardened
      ? { securityContext: { runAsNonRoot: true, runAsUser: 1000, runAsGroup: 1000, fsGroup: 1000, seccompProfile: { type: 'RuntimeDefault' } } }
      : {}),
    containers: [
      {
        name: app,
        image: `localhost/ks-demo/${app}:1.0.0`,
        imagePullPolicy: 'Never',
        ...(Object.keys(sc).length ? { securityContext: sc } : {}),
        ...(hardened || o.limits ? { resources: { limits: { cpu: '500m', memory: '256Mi' }, requests: { cpu: '100m', memory: '128Mi' } } } : {}),
        ...(hardened ? { readinessProbe: { httpGet: { path: '/ready', port: 8080 } }, livenessProbe: { httpGet: { path: '/live', port: 8080 } } } : {}),
        ...(mounts.length ? { volumeMounts: mounts } : {}),
        ...(o.env ? { env: o.env } : {}),
      },
    ],
    ...(volumes.length ? { volumes } : {}),
  };
}

function deployment(ns: string, name: string, o: PodOpts): Obj {
  const labels = { 'app.kubernetes.io/name': name };
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: meta(name, ns, labels),
    spec: { replicas: 1, selector: { matchLabels: labels }, template: { metadata: { labels }, spec: podSpec(name, o) } },
  };
}

function statefulSet(ns: string, name: string, o: PodOpts, claim?: { name: string; mountPath: string }): Obj {
  const labels = { 'app.kubernetes.io/name': name };
  return {
    apiVersion: 'apps/v1',
    kind: 'StatefulSet',
    metadata: meta(name, ns, labels),
    spec: {
      serviceName: name,
      replicas: 1,
      selector: { matchLabels: labels },
      template: { metadata: { labels }, spec: podSpec(name, { ...o, volumeMounts: [...(o.volumeMounts ?? []), ...(claim ? [claim] : [])] }) },
      ...(claim
        ? { volumeClaimTemplates: [{ metadata: { name: claim.name }, spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '10Gi' } } } }] }
        : {}),
    },
  };
}

const sa = (ns: string, name: string, automount?: boolean): Obj => ({
  apiVersion: 'v1',
  kind: 'ServiceAccount',
  metadata: meta(name, ns),
  ...(automount !== undefined ? { automountServiceAccountToken: automount } : {}),
});
const role = (ns: string, name: string, rules: object[]): Obj => ({
  apiVersion: 'rbac.authorization.k8s.io/v1',
  kind: 'Role',
  metadata: meta(name, ns),
  rules,
});
const roleBinding = (ns: string, name: string, roleName: string, saName: string, roleKind = 'Role'): Obj => ({
  apiVersion: 'rbac.authorization.k8s.io/v1',
  kind: 'RoleBinding',
  metadata: meta(name, ns),
  roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: roleKind, name: roleName },
  subjects: [{ kind: 'ServiceAccount', name: saName, namespace: ns }],
});
const service = (ns: string, name: string, port: number): Obj => ({
  apiVersion: 'v1',
  kind: 'Service',
  metadata: meta(name, ns),
  spec: { selector: { 'app.kubernetes.io/name': name }, ports: [{ name: 'http', port, protocol: 'TCP' }] },
});

const SECRETS_RW = [{ apiGroups: [''], resources: ['secrets'], verbs: ['get', 'list', 'watch', 'create', 'update', 'delete'] }];

/** Every namespaced object of the demo stack. */
export function demoObjects(): Obj[] {
  return [
    // ks-shop: a hardened web app (own SA, NetworkPolicy, probes, limits) and a careless one.
    sa('ks-shop', 'shop', false),
    deployment('ks-shop', 'shop', { hardened: true, serviceAccount: 'shop' }),
    service('ks-shop', 'shop', 8080),
    {
      apiVersion: 'networking.k8s.io/v1',
      kind: 'NetworkPolicy',
      metadata: meta('shop', 'ks-shop'),
      spec: {
        podSelector: { matchLabels: { 'app.kubernetes.io/name': 'shop' } },
        policyTypes: ['Ingress', 'Egress'],
        ingress: [{ from: [{ podSelector: {} }], ports: [{ port: 8080, protocol: 'TCP' }] }],
        egress: [],
      },
    },
    sa('ks-shop', 'cart'),
    deployment('ks-shop', 'cart', { serviceAccount: 'cart', user: 0, env: [{ name: 'API_TOKEN', value: 'not-a-real-credential' }] }),
    service('ks-shop', 'cart', 8081),
    role('ks-shop', 'reader', [
      { apiGroups: [''], resources: ['secrets', 'pods'], verbs: ['get', 'list', 'delete'] },
      { apiGroups: [''], resources: ['pods/exec'], verbs: ['create'] },
    ]),
    roleBinding('ks-shop', 'cart-reader', 'reader', 'cart'),

    // ks-data: a partly hardened PostgreSQL and a ClickHouse that runs as root.
    sa('ks-data', 'postgresql'),
    statefulSet('ks-data', 'postgresql', { user: 1001, limits: true, serviceAccount: 'postgresql' }, { name: 'data', mountPath: '/var/lib/postgresql/data' }),
    role('ks-data', 'reader', [{ apiGroups: [''], resources: ['configmaps'], verbs: ['get'] }]),
    roleBinding('ks-data', 'pg-reader', 'reader', 'postgresql'),
    statefulSet('ks-data', 'clickhouse', { user: 0, limits: true }, { name: 'data', mountPath: '/var/lib/clickhouse' }),

    // ks-monitoring: Prometheus with its writable TSDB volume, Grafana with writable plugins.
    sa('ks-monitoring', 'prometheus'),
    statefulSet(
      'ks-monitoring',
      'prometheus',
      { user: 65534, readOnlyRoot: false, limits: true, serviceAccount: 'prometheus' },
      { name: 'prometheus-db', mountPath: '/prometheus' },
    ),
    deployment('ks-monitoring', 'grafana', {
      user: 472,
      limits: true,
      volumes: [{ name: 'plugins', emptyDir: {} }],
      volumeMounts: [{ name: 'plugins', mountPath: '/var/lib/grafana' }],
    }),

    // ks-argocd: the application controller, bound cluster-wide to an operator-like ClusterRole (below),
    // and the server with a namespaced Role on Secrets.
    sa('ks-argocd', 'argocd-application-controller'),
    deployment('ks-argocd', 'argocd-application-controller', { user: 999, limits: true, serviceAccount: 'argocd-application-controller' }),
    sa('ks-argocd', 'argocd-server'),
    deployment('ks-argocd', 'argocd-server', { user: 999, limits: true, serviceAccount: 'argocd-server' }),
    role('ks-argocd', 'argocd-server', SECRETS_RW),
    roleBinding('ks-argocd', 'argocd-server', 'argocd-server', 'argocd-server'),

    // ks-platform: operators with elevated RBAC, and a privileged CSI node plugin.
    sa('ks-platform', 'cert-manager'),
    deployment('ks-platform', 'cert-manager', { user: 1000, limits: true, serviceAccount: 'cert-manager' }),
    role('ks-platform', 'cert-manager', SECRETS_RW),
    roleBinding('ks-platform', 'cert-manager', 'cert-manager', 'cert-manager'),
    sa('ks-platform', 'external-secrets'),
    deployment('ks-platform', 'external-secrets', { user: 1000, limits: true, serviceAccount: 'external-secrets' }),
    role('ks-platform', 'external-secrets', SECRETS_RW),
    roleBinding('ks-platform', 'external-secrets', 'external-secrets', 'external-secrets'),
    sa('ks-platform', 'velero'),
    deployment('ks-platform', 'velero', { user: 1000, limits: true, serviceAccount: 'velero' }),
    role('ks-platform', 'velero', [{ apiGroups: ['*'], resources: ['*'], verbs: ['*'] }]),
    roleBinding('ks-platform', 'velero', 'velero', 'velero'),
    {
      apiVersion: 'apps/v1',
      kind: 'DaemonSet',
      metadata: meta('csi-driver-node', 'ks-platform', { 'app.kubernetes.io/name': 'csi-driver' }),
      spec: {
        selector: { matchLabels: { 'app.kubernetes.io/name': 'csi-driver' } },
        template: {
          metadata: { labels: { 'app.kubernetes.io/name': 'csi-driver' } },
          spec: podSpec('csi-driver', { privileged: true, user: 0, hostPath: '/var/lib/kubelet', capsAdd: ['SYS_ADMIN'], limits: true }),
        },
      },
    },
  ];
}

/** The cluster-scoped objects: an operator-like ClusterRole bound to Argo CD's controller. */
export function demoClusterObjects(): Obj[] {
  return [
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRole',
      metadata: meta(OPERATOR_CLUSTER_ROLE),
      rules: [
        { apiGroups: ['*'], resources: ['*'], verbs: ['*'] },
        { nonResourceURLs: ['*'], verbs: ['*'] },
      ],
    },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRoleBinding',
      metadata: meta(OPERATOR_CLUSTER_ROLE),
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: OPERATOR_CLUSTER_ROLE },
      subjects: [{ kind: 'ServiceAccount', name: 'argocd-application-controller', namespace: 'ks-argocd' }],
    },
  ];
}

/** Create (or replace) the demo stack in a cluster. */
export async function installDemoStack(kube: Kube): Promise<number> {
  for (const ns of DEMO_NAMESPACES) await apply(kube, namespace(ns, DEMO_LABELS));
  const objs = [...demoObjects(), ...demoClusterObjects()];
  for (const o of objs) await apply(kube, o);
  return objs.length;
}

/** Remove the demo stack's objects (namespaces stay: the local control plane has no namespace controller to finalize them). */
export async function removeDemoStack(kube: Kube): Promise<void> {
  for (const o of [...demoClusterObjects(), ...demoObjects()].reverse()) await remove(kube, o);
}
