/** Small helpers for integration tests: the admin client of the test cluster, and the harness's object helpers. */
import { makeKubeSync, type Kube } from '../../lib/kube/client.ts';
import { rawRequest } from '../../lib/kube/raw.ts';
import { testCluster } from './cluster.ts';

export { apply, namespace, remove, waitFor } from '../../harness/cluster/objects.ts';

export function adminKube(): Kube {
  return makeKubeSync(testCluster().kubeconfigPath);
}

/** Delete every NetworkPolicy of a namespace (DELETE on the collection); throws on failure. */
export async function deleteNetworkPolicies(kube: Kube, ns: string): Promise<void> {
  const res = await rawRequest(
    kube,
    { verb: 'deletecollection', resource: 'networkpolicies.networking.k8s.io', namespace: ns },
    { method: 'DELETE', path: `/apis/networking.k8s.io/v1/namespaces/${ns}/networkpolicies` },
  );
  if (res.status >= 300) throw new Error(`delete networkpolicies in ${ns}: ${res.status} ${JSON.stringify(res.body)}`);
}
