/**
 * Typed API access for the scans: get, list, create, patch, delete, dry-run and logs
 * of any kind in the shared table (lib/k8s/kinds.ts), with response warnings, over
 * the kept-alive raw transport. Failures become ScanErrors naming the verb and the
 * resource a person must grant (kubeError). Nothing untyped leaves this module: callers
 * name the shape they expect (`getObject<V1Pod>`), defaulting to KubeObject.
 */
import { ScanError } from '../errors.ts';
import { apiPrefix, collectionPath, kindInfo } from '../k8s/kinds.ts';
import type { KubeObject } from '../k8s/types.ts';
import type { CallSite, Kube } from './client.ts';
import { rawRequest, statusError, type RawResponse } from './raw.ts';

export interface ObjectRef {
  kind: string;
  namespace?: string;
  name: string;
}

/** A resource name for error messages: `pods`, `networkpolicies.networking.k8s.io`. */
export function resourceName(kind: string): string {
  const k = kindInfo(kind);
  if (!k) return kind;
  return k.group ? `${k.plural}.${k.group}` : k.plural;
}

function info(kind: string) {
  const k = kindInfo(kind);
  if (!k) throw new ScanError(500, { code: 'internal', message: `no API path known for kind ${kind}` });
  return k;
}

/** The path of a collection: namespaced (`namespace` given), across all namespaces, or cluster-scoped. */
export function listPath(kind: string, namespace?: string): string {
  const k = info(kind);
  const prefix = apiPrefix(k.group ? `${k.group}/${k.version}` : k.version);
  return k.namespaced && namespace !== undefined ? `${prefix}/namespaces/${encodeURIComponent(namespace)}/${k.plural}` : `${prefix}/${k.plural}`;
}

export function objectPath(ref: ObjectRef, subresource?: string): string {
  const k = info(ref.kind);
  if (k.namespaced && ref.namespace === undefined) throw new ScanError(500, { code: 'internal', message: `${ref.kind} ${ref.name} needs a namespace` });
  return `${listPath(ref.kind, k.namespaced ? ref.namespace : undefined)}/${encodeURIComponent(ref.name)}${subresource ? `/${subresource}` : ''}`;
}

function site(verb: string, kind: string, namespace?: string): CallSite {
  return { verb, resource: resourceName(kind), ...(namespace !== undefined ? { namespace } : {}) };
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
}

/** LIST objects of a kind (all pages). */
export async function listObjects<T = KubeObject>(kube: Kube, kind: string, opts: ListOptions = {}): Promise<T[]> {
  const s = site('list', kind, opts.namespace);
  const items: T[] = [];
  let cont: string | undefined;
  // Bounded: at most 1,000 pages of 500.
  for (let page = 0; page < 1000; page++) {
    const query: Record<string, string> = { limit: '500' };
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
  return items;
}

export interface WriteResult<T> {
  status: number;
  object?: T;
  warnings: string[];
  /** The raw answer, for admission denials (its message) and other non-2xx statuses. */
  response: RawResponse;
}

/** POST an object. Non-2xx answers are returned, not thrown (a denial is a result). */
export async function createObject<T = KubeObject>(kube: Kube, obj: KubeObject, opts: { dryRun?: boolean } = {}): Promise<WriteResult<T>> {
  const path = collectionPath(obj);
  if (!path) throw new ScanError(500, { code: 'internal', message: `no API path known for kind ${obj.kind}` });
  const s = site(opts.dryRun ? 'create (dry-run)' : 'create', obj.kind, obj.metadata.namespace);
  const res = await rawRequest(kube, s, { method: 'POST', path, query: { fieldManager: 'stack-scan', ...(opts.dryRun ? { dryRun: 'All' } : {}) }, body: obj });
  return { status: res.status, warnings: res.warnings, response: res, ...(res.status < 300 ? { object: res.body as T } : {}) };
}

/** PATCH an object or a subresource (e.g. `ephemeralcontainers`). Non-2xx answers are returned. */
export async function patchObject<T = KubeObject>(kube: Kube, ref: ObjectRef, body: unknown, opts: { contentType: string; subresource?: string; timeoutMs?: number }): Promise<WriteResult<T>> {
  const s = site('patch', opts.subresource ? `${ref.kind}/${opts.subresource}` : ref.kind, ref.namespace);
  const res = await rawRequest(kube, s, { method: 'PATCH', path: objectPath(ref, opts.subresource), query: { fieldManager: 'stack-scan' }, body, contentType: opts.contentType, ...(opts.timeoutMs ? { timeoutMs: opts.timeoutMs } : {}) });
  return { status: res.status, warnings: res.warnings, response: res, ...(res.status < 300 ? { object: res.body as T } : {}) };
}

/** DELETE an object (background propagation); false when it was already gone. Throws on other failures. */
export async function deleteObject(kube: Kube, ref: ObjectRef): Promise<boolean> {
  const s = site('delete', ref.kind, ref.namespace);
  const res = await rawRequest(kube, s, { method: 'DELETE', path: objectPath(ref), body: { kind: 'DeleteOptions', apiVersion: 'v1', propagationPolicy: 'Background' } });
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
