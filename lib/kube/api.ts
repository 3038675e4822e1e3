/**
 * Typed API access for the scans: get, list, create, patch, delete, dry-run and logs
 * of any kind in the shared table (lib/k8s/kinds.ts), with response warnings, over
 * the kept-alive raw transport. Failures become ScanErrors naming the verb and the
 * resource a person must grant (kubeError). Nothing untyped leaves this module: callers
 * name the shape they expect (`getObject<V1Pod>`), defaulting to KubeObject.
 */
import { ScanError } from '../errors.ts';
import { apiPrefix, collectionPath, kindInfo, type KindInfo } from '../k8s/kinds.ts';
import type { KubeObject } from '../k8s/types.ts';
import type { V1Namespace, V1NetworkPolicy } from '@kubernetes/client-node';
import type { CallSite, Kube } from './client.ts';
import { rawRequest, statusError, type RawResponse } from './raw.ts';

/** A kind of the shared table by name, or any kind's API coordinates (Gatekeeper's, or found by discovery). */
export type KindRef = string | KindInfo;

export interface ObjectRef {
  kind: KindRef;
  namespace?: string;
  name: string;
}

const kindName = (kind: KindRef) => (typeof kind === 'string' ? kind : kind.kind);

/** A resource name for error messages and RBAC: `pods`, `networkpolicies.networking.k8s.io`. */
export function resourceName(kind: KindRef): string {
  const k = typeof kind === 'string' ? kindInfo(kind) : kind;
  if (!k) return kindName(kind);
  return k.group ? `${k.plural}.${k.group}` : k.plural;
}

function info(kind: KindRef): KindInfo {
  const k = typeof kind === 'string' ? kindInfo(kind) : kind;
  if (!k) throw new ScanError(500, { code: 'internal', message: `no API path known for kind ${kindName(kind)}` });
  return k;
}

/** The path of a collection: namespaced (`namespace` given), across all namespaces, or cluster-scoped. */
export function listPath(kind: KindRef, namespace?: string): string {
  const k = info(kind);
  const prefix = apiPrefix(k.group ? `${k.group}/${k.version}` : k.version);
  return k.namespaced && namespace !== undefined ? `${prefix}/namespaces/${encodeURIComponent(namespace)}/${k.plural}` : `${prefix}/${k.plural}`;
}

export function objectPath(ref: ObjectRef, subresource?: string): string {
  const k = info(ref.kind);
  if (k.namespaced && ref.namespace === undefined) throw new ScanError(500, { code: 'internal', message: `${k.kind} ${ref.name} needs a namespace` });
  return `${listPath(ref.kind, k.namespaced ? ref.namespace : undefined)}/${encodeURIComponent(ref.name)}${subresource ? `/${subresource}` : ''}`;
}

function site(verb: string, kind: KindRef, namespace?: string): CallSite {
  const namespaced = typeof kind === 'string' ? kindInfo(kind)?.namespaced !== false : kind.namespaced;
  return { verb, resource: resourceName(kind), ...(namespace !== undefined && namespaced ? { namespace } : {}) };
}

/** GET one object; undefined when it does not exist (404). */
export async function getObject<T = KubeObject>(kube: Kube, ref: ObjectRef): Promise<T | undefined> {
  const s = site('get', ref.kind, ref.namespace);
  const res = await rawRequest(kube, s, { method: 'GET', path: objectPath(ref) });
  if (res.status === 404) return undefined;
  if (res.status !== 200) throw statusError(s, res, kube.server);
  return res.body as T;
}

export interface ListOptions {
  /** Omit for every namespace (or a cluster-scoped kind). */
  namespace?: string;
  labelSelector?: string;
  fieldSelector?: string;
  /** Objects per page (default 500). */
  limit?: number;
  /** At most this many pages (default 1,000). */
  maxPages?: number;
}

export interface Page<T> {
  items: T[];
  /** More objects exist than were read. */
  truncated: boolean;
}

/** LIST objects of a kind: all pages up to `maxPages`. */
export async function listObjects<T = KubeObject>(kube: Kube, kind: KindRef, opts: ListOptions = {}): Promise<T[]> {
  return (await listPage<T>(kube, kind, opts)).items;
}

/** LIST objects of a kind, saying whether `maxPages` cut the list short. */
export async function listPage<T = KubeObject>(kube: Kube, kind: KindRef, opts: ListOptions = {}): Promise<Page<T>> {
  const s = site('list', kind, opts.namespace);
  const items: T[] = [];
  let cont: string | undefined;
  const maxPages = opts.maxPages ?? 1000;
  for (let page = 0; page < maxPages; page++) {
    const query: Record<string, string> = { limit: String(opts.limit ?? 500) };
    if (opts.labelSelector) query.labelSelector = opts.labelSelector;
    if (opts.fieldSelector) query.fieldSelector = opts.fieldSelector;
    if (cont) query.continue = cont;
    const res = await rawRequest(kube, s, { method: 'GET', path: listPath(kind, opts.namespace), query });
    if (res.status !== 200) throw statusError(s, res, kube.server);
    const body = res.body as { items?: T[]; metadata?: { continue?: string } };
    items.push(...(body.items ?? []));
    cont = body.metadata?.continue;
    if (!cont) break;
  }
  return { items, truncated: !!cont };
}

export interface WriteResult<T> {
  status: number;
  object?: T;
  warnings: string[];
  /** The raw answer, for admission denials (its message) and other non-2xx statuses. */
  response: RawResponse;
}

/**
 * POST an object (its kind from the shared table, or `opts.kind` for any other). Non-2xx
 * answers are returned, not thrown (a denial is a result).
 */
export async function createObject<T = KubeObject>(kube: Kube, obj: KubeObject, opts: { dryRun?: boolean; kind?: KindInfo } = {}): Promise<WriteResult<T>> {
  const path = opts.kind ? listPath(opts.kind, opts.kind.namespaced ? (obj.metadata.namespace ?? 'default') : undefined) : collectionPath(obj);
  if (!path) throw new ScanError(500, { code: 'internal', message: `no API path known for kind ${obj.kind}` });
  const s = site(opts.dryRun ? 'create (dry-run)' : 'create', opts.kind ?? obj.kind, obj.metadata.namespace);
  const res = await rawRequest(kube, s, { method: 'POST', path, query: { fieldManager: 'stack-scan', ...(opts.dryRun ? { dryRun: 'All' } : {}) }, body: obj });
  return { status: res.status, warnings: res.warnings, response: res, ...(res.status < 300 ? { object: res.body as T } : {}) };
}

/** PATCH an object or a subresource (e.g. `ephemeralcontainers`). Non-2xx answers are returned. */
export async function patchObject<T = KubeObject>(
  kube: Kube,
  ref: ObjectRef,
  body: unknown,
  opts: { contentType: string; subresource?: string; timeoutMs?: number },
): Promise<WriteResult<T>> {
  const s = site('patch', opts.subresource ? `${ref.kind}/${opts.subresource}` : ref.kind, ref.namespace);
  const res = await rawRequest(kube, s, {
    method: 'PATCH',
    path: objectPath(ref, opts.subresource),
    query: { fieldManager: 'stack-scan' },
    body,
    contentType: opts.contentType,
    ...(opts.timeoutMs ? { timeoutMs: opts.timeoutMs } : {}),
  });
  return { status: res.status, warnings: res.warnings, response: res, ...(res.status < 300 ? { object: res.body as T } : {}) };
}

/** DELETE an object (background propagation); false when it was already gone. Throws on other failures. */
export async function deleteObject(kube: Kube, ref: ObjectRef): Promise<boolean> {
  const s = site('delete', ref.kind, ref.namespace);
  const res = await rawRequest(kube, s, {
    method: 'DELETE',
    path: objectPath(ref),
    body: { kind: 'DeleteOptions', apiVersion: 'v1', propagationPolicy: 'Background' },
  });
  if (res.status === 404) return false;
  if (res.status >= 300) throw statusError(s, res, kube.server);
  return true;
}

/** A container's log as text. */
export async function readPodLog(kube: Kube, namespace: string, pod: string, container: string): Promise<string> {
  const s: CallSite = { verb: 'get', resource: 'pods/log', namespace };
  const res = await rawRequest(kube, s, { method: 'GET', path: objectPath({ kind: 'Pod', namespace, name: pod }, 'log'), query: { container } });
  if (res.status !== 200) throw statusError(s, res, kube.server);
  // rawRequest JSON-parses what it can; a log that happens to be JSON is turned back into text.
  return typeof res.body === 'string' ? res.body : res.body === undefined ? '' : JSON.stringify(res.body);
}

/** The `message` of a Status answer, or the text, for reports. */
export function statusText(res: RawResponse): string {
  const b = res.body as { message?: unknown } | string | undefined;
  if (typeof b === 'string') return b.slice(0, 500);
  if (b && typeof b === 'object' && typeof b.message === 'string') return b.message;
  return `HTTP ${res.status}`;
}

export async function listNamespaces(kube: Kube): Promise<{ name: string; labels: Record<string, string> }[]> {
  const items = await listObjects<V1Namespace>(kube, 'Namespace');
  return items.map((ns) => ({ name: ns.metadata!.name!, labels: { ...(ns.metadata?.labels ?? {}) } }));
}

/** Every NetworkPolicy in the cluster (raw JSON: ingress peers under `from`). */
export async function listNetworkPolicies(kube: Kube): Promise<V1NetworkPolicy[]> {
  return listObjects<V1NetworkPolicy>(kube, 'NetworkPolicy');
}
