// stop() leaves nothing behind: a second, small control plane (no Gatekeeper) is
// started next to the shared one, stopped, and its processes and temp dir must be gone.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as k8s from '@kubernetes/client-node';
import { startControlPlane } from '../../harness/cluster/index.ts';
import { testCluster } from '../support/cluster.ts';

const s = suite('controlplane teardown');

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code !== 'ESRCH';
  }
}

s('stop() kills every process of a control plane and removes its temp dir', async () => {
  const shared = testCluster();
  const cp = await startControlPlane({ gatekeeper: false });
  let pids: { name: string; pid: number }[] = [];
  try {
    assert.is.not(cp.dir, shared.dir);
    assert.is.not(cp.server, shared.server);
    assert.is(cp.gatekeeperUrl, undefined);
    pids = readdirSync(cp.dir)
      .filter((f) => f.endsWith('.pid'))
      .map((f) => ({ name: f.slice(0, -4), pid: Number(readFileSync(join(cp.dir, f), 'utf8').trim()) }));
    assert.equal(pids.map((p) => p.name).sort(), ['etcd', 'kube-apiserver']);
    for (const p of pids) assert.ok(alive(p.pid), `${p.name} (pid ${p.pid}) should be running`);

    const kc = new k8s.KubeConfig();
    kc.loadFromFile(cp.kubeconfigPath);
    const v = await kc.makeApiClient(k8s.VersionApi).getCode();
    assert.is(v.gitVersion, 'v1.36.3');
  } finally {
    await cp.stop();
  }

  for (const p of pids) assert.not.ok(alive(p.pid), `${p.name} (pid ${p.pid}) is still running after stop()`);
  assert.not.ok(existsSync(cp.dir), `${cp.dir} still exists after stop()`);
  await cp.stop(); // idempotent

  // The shared control plane is untouched.
  const kc = new k8s.KubeConfig();
  kc.loadFromFile(shared.kubeconfigPath);
  assert.is((await kc.makeApiClient(k8s.VersionApi).getCode()).gitVersion, 'v1.36.3');
});

s.run();
