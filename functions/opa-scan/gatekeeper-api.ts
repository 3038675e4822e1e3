/**
 * Gatekeeper's own resources (ConstraintTemplates, and one constraint kind per template,
 * created at run time) as API coordinates for lib/kube/api.ts, plus the OPA scan's bounded
 * reads. Kinds an audit reports that are not in the shared table resolve through
 * discovery.ts. Failures are lib/kube's ScanErrors (verb and resource named).
 */
import type { KindInfo } from '../../lib/k8s/kinds.ts';
import type { KubeObject } from '../../lib/k8s/types.ts';
import { listPage as apiListPage, type Page } from '../../lib/kube/api.ts';
import type { Kube } from '../../lib/kube/client.ts';

export { KindResolver } from './discovery.ts';
export type { Page };

/** Where a kind lives in the API: the shared table's shape, for kinds outside the table too. */
export type ApiResource = KindInfo;

export const CONSTRAINT_TEMPLATES: ApiResource = {
  group: 'templates.gatekeeper.sh',
  version: 'v1',
  kind: 'ConstraintTemplate',
  plural: 'constrainttemplates',
  namespaced: false,
};

/** The constraints of a template kind (cluster-scoped, plural = the lowercase kind). */
export function constraintResource(kind: string): ApiResource {
  return { group: 'constraints.gatekeeper.sh', version: 'v1beta1', kind, plural: kind.toLowerCase(), namespaced: false };
}

export const apiVersionString = (r: Pick<ApiResource, 'group' | 'version'>) => (r.group ? `${r.group}/${r.version}` : r.version);

/** One page (at most `limit`) of a kind, in a namespace or everywhere. 404 (kind not served) is an empty page. */
export async function listPage<T = KubeObject>(
  kube: Kube,
  r: ApiResource,
  opts: { namespace?: string; labelSelector?: string; limit?: number } = {},
): Promise<Page<T>> {
  try {
    return await apiListPage<T>(kube, r, { ...opts, maxPages: 1 });
  } catch (err) {
    if ((err as { status?: number }).status === 404) return { items: [], truncated: false };
    throw err;
  }
}

/** Every object of a kind (pages of 500, at most 20 pages). Used for templates and constraints. */
export async function listAll<T = KubeObject>(kube: Kube, r: ApiResource): Promise<T[]> {
  return (await apiListPage<T>(kube, r, { maxPages: 20 })).items;
}
