/**
 * Before kubescape runs (once per namespace with the per-namespace strategy), one request of
 * ours to the API server: when it is unreachable, refuses our credentials or stays busy past the
 * retries it asked for (lib/kube/retry.ts), the scan answers as every other scan does (503, 401,
 * … with the reason) instead of starting kubescape, which would retry on its own for a long time
 * and fail once per namespace (`tool_failed` each).
 */
import type { Kube } from '../../lib/kube/client.ts';
import { apiGet } from '../../lib/kube/raw.ts';

export async function checkApiServer(kube: Kube): Promise<void> {
  // Discovery: allowed to every authenticated user, so a 403 here would not say anything about RBAC.
  await apiGet(kube, { verb: 'get', resource: 'the API discovery document (/api)' }, '/api');
}
