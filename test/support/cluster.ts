// The control plane started once for the whole test run by harness/cluster/suite.ts
// (prepareTestCluster, called by test/run.ts). Integration tests get it from here:
//
//   import { testCluster } from '../support/cluster.ts';
//   const cp = testCluster(); // cp.kubeconfigPath, cp.userKubeconfig('alice'), ...
//
// Its admin kubeconfig is also in process.env.STACKSCAN_TEST_KUBECONFIG.
import type { ControlPlane } from '../../harness/cluster/index.ts';

export type { ControlPlane };

// On globalThis, so every module instance (whatever the loader) sees the same cluster.
const KEY = Symbol.for('stackscan.testCluster');
type Holder = { [KEY]?: ControlPlane };

export function setTestCluster(cp: ControlPlane | undefined): void {
  (globalThis as Holder)[KEY] = cp;
}

export function testCluster(): ControlPlane {
  const cp = (globalThis as Holder)[KEY];
  if (!cp) {
    throw new Error(
      'no test control plane is running: integration tests must run through test/run.ts ' +
        '(npm test / npx tsx test/run.ts <filter>), which starts it via prepareTestCluster() ' +
        'from harness/cluster/suite.ts; the binaries come from harness/build.sh (needs Go)',
    );
  }
  return cp;
}
