/** Small helpers for integration tests: the admin client of the test cluster, and the harness's object helpers. */
import { makeKube, type Kube } from '../../lib/kube/client.ts';
import { testCluster } from './cluster.ts';

export { apply, namespace, remove, waitFor } from '../../harness/cluster/objects.ts';

export function adminKube(): Kube {
  return makeKube(testCluster().kubeconfigPath);
}
