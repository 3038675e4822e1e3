/** Small helpers for integration tests: the admin client of the test cluster, and the harness's object helpers. */
import * as k8s from '@kubernetes/client-node';
import { makeKubeWith, type Kube } from '../../lib/kube/client.ts';
import { testCluster } from './cluster.ts';

export { apply, namespace, remove, waitFor } from '../../harness/cluster/objects.ts';

export function adminKube(): Kube {
  return makeKubeWith(k8s, testCluster().kubeconfigPath);
}
