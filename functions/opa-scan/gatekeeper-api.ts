/**
 * Typed access to what lib/kube/api.ts cannot name from its table of kinds:
 * Gatekeeper's own resources (ConstraintTemplates, and one constraint kind per
 * template, created at run time) and, for replay, any kind an audit reported
 * (resolved through API discovery, once per group/version and run).
 * Kinds of the shared table (lib/k8s/kinds.ts) resolve from the table, without a request.
 * Lists are ONE page (bounded): the scan never needs every object of a kind.
 * Failures become the same ScanErrors as lib/kube/api.ts (verb and resource named).
 */
import { kindInfo, type KindInfo } from '../../lib/k8s/kinds.ts';
import type { KubeObject } from '../../lib/k8s/types.ts';
import type { CallSite, Kube } from '../../lib/kube/client.ts';
import { rawRequest, statusError, type RawResponse } from '../../lib/kube/raw.ts';

/** Where a kind lives in the API: the shared table's shape, for kinds outside the table too. */
export type ApiResource = KindInfo;

export const CONSTRAINT_TEMPLATES: ApiResource = { group: 'templates.gatekeeper.sh', version: 'v1', kind: 'ConstraintTemplate', plural: 'constrainttemplates', namespaced: false };

/** The constraints of a template kind (cluster-scoped, plural = the lowercase kind). */
export function constraintResource(kind: string): ApiResource {
  return { group: 'constraints.gatekeeper.sh', version: 'v1beta1', kind, plural: kind.toLowerCase(), namespaced: false };
}

/** `pods`, `k8srequiredlabels.constraints.gatekeeper.sh`: what RBAC calls the resource. */
export function rbacName(r: Pick<ApiResource, 'group' | 'plural'>): string {
  return r.group ? `${r.plural}.${r.group}` : r.plural;
}

export const apiVersionString = (r: Pick<ApiResource, 'group' | 'version'>) => (r.group ? `${r.group}/${r.version}` : r.version);

function collection(r: ApiResource, namespace?: string): string {
  const prefix = r.group ? `/apis/${r.group}/${r.version}` : `/api/${r.version}`;
  return r.namespaced && namespace !== undefined ? `${prefix}/namespaces/${encodeURIComponent(namespace)}/${r.plural}` : `${prefix}/${r.plural}`;
}

const site = (verb: string, r: ApiResource, namespace?: string): CallSite => ({ verb, resource: rbacName(r), ...(namespace !== undefined && r.namespaced ? { namespace } : {}) });

export interface Page<T> {
  items: T[];
  /** More objects exist than this page holds. */
  truncated: boolean;
}

/** One page (at most `limit`) of a kind, in a namespace or everywhere. 404 (kind not served) is an empty page. */
export async function listPage<T = KubeObject>(kube: Kube, r: ApiResource, opts: { namespace?: string; labelSelector?: string; limit?: number } = {}): Promise<Page<T>> {
  const s = site('list', r, opts.namespace);
  const query: Record<string, string> = { limit: String(opts.limit ?? 500) };
  if (opts.labelSelector) query.labelSelector = opts.labelSelector;
  const res = await rawRequest(kube, s, { method: 'GET', path: collection(r, opts.namespace), query });
  if (res.status === 404) return { items: [], truncated: false };
  if (res.status !== 200) throw statusError(s, res, kube.server);
  const body = res.body as { items?: T[]; metadata?: { continue?: string } };
  return { items: body.items ?? [], truncated: !!body.metadata?.continue };
}

/** Every object of a kind (pages of 500, at most 20 pages). Used for templates and constraints. */
export async function listAll<T = KubeObject>(kube: Kube, r: ApiResource): Promise<T[]> {
  const s = site('list', r);
  const out: T[] = [];
  let cont: string | undefined;
  for (let page = 0; page < 20; page++) {
    const res = await rawRequest(kube, s, { method: 'GET', path: collection(r), query: { limit: '500', ...(cont ? { continue: cont } : {}) } });
    if (res.status !== 200) throw statusError(s, res, kube.server);
    const body = res.body as { items?: T[]; metadata?: { continue?: string } };
    out.push(...(body.items ?? []));
    cont = body.metadata?.continue;
    if (!cont) break;
  }
  return out;
}

/** GET one object; undefined when it does not exist. */
export async function getOne<T = KubeObject>(kube: Kube, r: ApiResource, name: string, namespace?: string): Promise<T | undefined> {
  const s = site('get', r, namespace);
  const res = await rawRequest(kube, s, { method: 'GET', path: `${collection(r, namespace)}/${encodeURIComponent(name)}` });
  if (res.status === 404) return undefined;
  if (res.status !== 200) throw statusError(s, res, kube.server);
  return res.body as T;
}

/** Server-side dry-run create (`dryRun=All`). The answer is returned whatever its status (a denial is a result). */
export async function dryRun(kube: Kube, r: ApiResource, obj: KubeObject): Promise<RawResponse> {
  const ns = obj.metadata.namespace;
  return rawRequest(kube, site('create (dry-run)', r, ns), { method: 'POST', path: collection(r, ns), query: { dryRun: 'All', fieldManager: 'stack-scan' }, body: obj });
}

interface DiscoveryList {
  resources?: { name: string; kind: string; namespaced: boolean }[];
}

/**
 * Resolves kinds to API resources: from the shared table when the group matches,
 * otherwise by discovery of the group/version (one request per group/version, cached).
 */
export class KindResolver {
  private readonly groups = new Map<string, Promise<Map<string, ApiResource>>>();
  constructor(private readonly kube: Kube) {}

  async resolve(group: string, version: string, kind: string): Promise<ApiResource | undefined> {
    const k = kindInfo(kind);
    if (k && k.group === group && k.version === version) return { group, version, kind, plural: k.plural, namespaced: k.namespaced };
    const key = `${group}/${version}`;
    let p = this.groups.get(key);
    if (!p) {
      p = this.discover(group, version);
      this.groups.set(key, p);
    }
    return (await p).get(kind);
  }

  private async discover(group: string, version: string): Promise<Map<string, ApiResource>> {
    const path = group ? `/apis/${group}/${version}` : `/api/${version}`;
    const s: CallSite = { verb: 'get', resource: `discovery ${path}` };
    const res = await rawRequest(this.kube, s, { method: 'GET', path });
    const out = new Map<string, ApiResource>();
    if (res.status === 404) return out;
    if (res.status !== 200) throw statusError(s, res, this.kube.server);
    for (const r of (res.body as DiscoveryList).resources ?? []) {
      if (r.name.includes('/')) continue; // subresources
      out.set(r.kind, { group, version, kind: r.kind, plural: r.name, namespaced: r.namespaced });
    }
    return out;
  }
}
