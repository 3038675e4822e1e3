// kube-apiserver: as envtest, the ServiceAccount admission plugin is disabled, because
// without kube-controller-manager no namespace ever gets its "default" ServiceAccount
// and every pod create (even a dry-run) would fail on the lookup. Likewise nothing
// finalizes a deleted namespace: it stays Terminating (harmless in a throwaway cluster),
// no garbage collection happens, and the aggregated ClusterRoles admin/edit/view have no
// rules (the aggregation controller fills them in): bind your own Roles in RBAC tests.
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { get } from './http.ts';
import { kubeconfigYaml, type Pki } from './pki.ts';
import type { SpawnComponent } from './processes.ts';
import { waitUntil } from '../proc.ts';

export const SERVICE_CIDR = '10.0.0.0/24';
export const SERVICE_IP = '10.0.0.1';
const TIMEOUT_MS = 60_000;

export interface ApiserverOptions {
  dir: string;
  pki: Pki;
  /** The cluster CA's PEM and path. */
  ca: string;
  caPath: string;
  etcdUrl: string;
  /** Where it listens: 127.0.0.1, or the real node's address. */
  bindAddr: string;
  port: number;
  /** Set when a real node joins (harness/node): Node,RBAC authorization, kubelet client certificate. */
  nodeAddr?: string;
}

/** Starts kube-apiserver, waits for /readyz, writes the admin kubeconfig; returns the server URL and the kubeconfig's path. */
export async function startApiserver(spawnProc: SpawnComponent, o: ApiserverOptions): Promise<{ server: string; kubeconfigPath: string }> {
  const { dir, pki, ca, caPath, etcdUrl, bindAddr, nodeAddr } = o;
  const server = `https://${bindAddr}:${o.port}`;
  const apiserver = spawnProc('kube-apiserver', [
    `--etcd-servers=${etcdUrl}`,
    `--bind-address=${bindAddr}`,
    `--advertise-address=${bindAddr}`,
    `--secure-port=${o.port}`,
    `--cert-dir=${join(dir, 'apiserver-certs')}`,
    `--tls-cert-file=${pki.path('apiserver.crt')}`,
    `--tls-private-key-file=${pki.path('apiserver.key')}`,
    `--client-ca-file=${caPath}`,
    ...(nodeAddr
      ? [
          '--authorization-mode=Node,RBAC',
          '--enable-admission-plugins=NodeRestriction',
          `--kubelet-client-certificate=${pki.path('apiserver-kubelet-client.crt')}`,
          `--kubelet-client-key=${pki.path('apiserver-kubelet-client.key')}`,
          `--kubelet-certificate-authority=${caPath}`,
          '--kubelet-preferred-address-types=InternalIP',
        ]
      : ['--authorization-mode=RBAC']),
    `--service-account-issuer=https://kubernetes.default.svc.cluster.local`,
    `--service-account-key-file=${pki.path('sa.pub')}`,
    `--service-account-signing-key-file=${pki.path('sa.key')}`,
    `--service-cluster-ip-range=${SERVICE_CIDR}`,
    '--allow-privileged=true',
    // No kube-controller-manager, so no "default" ServiceAccount would ever exist (see above);
    // with a real node, kube-controller-manager runs and the plugin stays on.
    ...(nodeAddr ? [] : ['--disable-admission-plugins=ServiceAccount']),
    '--profiling=false',
    '--v=1',
  ]);
  const admin = {
    ca,
    cert: await readFile(pki.path('admin.crt'), 'utf8'),
    key: await readFile(pki.path('admin.key'), 'utf8'),
  };
  await waitUntil(
    'kube-apiserver /readyz',
    TIMEOUT_MS,
    async () => {
      const r = await get(`${server}/readyz`, admin);
      if (r.status !== 200)
        throw new Error(
          `/readyz ${r.status}: ${r.body
            .split('\n')
            .filter((l) => l.includes('[-]'))
            .join('; ')}`,
        );
      return true;
    },
    [apiserver],
  );
  const kubeconfigPath = join(dir, 'kubeconfig');
  await writeFile(kubeconfigPath, kubeconfigYaml(server, ca, 'admin', admin.cert, admin.key), { mode: 0o600 });
  return { server, kubeconfigPath };
}
