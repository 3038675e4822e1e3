// etcd for the control plane: one member on loopback ports, data in <dir>/etcd-data, no fsync
// (a throwaway cluster).
import { join } from 'node:path';
import type { SpawnComponent } from './processes.ts';
import { get } from './http.ts';
import { waitUntil } from '../proc.ts';

const TIMEOUT_MS = 20_000;

/** Starts etcd and waits for /health; returns its client URL. */
export async function startEtcd(spawnProc: SpawnComponent, dir: string, clientPort: number, peerPort: number): Promise<string> {
  const etcdUrl = `http://127.0.0.1:${clientPort}`;
  const etcd = spawnProc('etcd', [
    '--name=stackscan',
    `--data-dir=${join(dir, 'etcd-data')}`,
    `--listen-client-urls=${etcdUrl}`,
    `--advertise-client-urls=${etcdUrl}`,
    `--listen-peer-urls=http://127.0.0.1:${peerPort}`,
    `--initial-advertise-peer-urls=http://127.0.0.1:${peerPort}`,
    `--initial-cluster=stackscan=http://127.0.0.1:${peerPort}`,
    '--initial-cluster-state=new',
    '--unsafe-no-fsync',
    '--log-level=warn',
  ]);
  await waitUntil(
    'etcd /health',
    TIMEOUT_MS,
    async () => {
      const r = await get(`${etcdUrl}/health`);
      return r.status === 200 && /"health":\s*"true"/.test(r.body);
    },
    [etcd],
  );
  return etcdUrl;
}
