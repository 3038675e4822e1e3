/**
 * Writing report objects (I/O): raw JSON (client-node's typed serializer would drop fields),
 * create or replace by name, bounded in time and concurrency. Each failure is an errors[]
 * entry naming the verb, resource and namespace to grant; none stops the others.
 */
import pLimit from 'p-limit';
import { toReportError, type ReportError } from '../errors.ts';
import type { KindInfo } from '../k8s/kinds.ts';
import type { Kube } from '../kube/client.ts';
import { objectPath } from '../kube/api.ts';
import { rawRequest, statusError } from '../kube/raw.ts';
import type { OrObject } from './objects.ts';

export const REPORT_KIND: KindInfo = { kind: 'Report', group: 'openreports.io', version: 'v1alpha1', plural: 'reports', namespaced: true };
export const CLUSTER_REPORT_KIND: KindInfo = {
  kind: 'ClusterReport',
  group: 'openreports.io',
  version: 'v1alpha1',
  plural: 'clusterreports',
  namespaced: false,
};

const kindOf = (o: Pick<OrObject, 'kind'>) => (o.kind === 'Report' ? REPORT_KIND : CLUSTER_REPORT_KIND);
const resource = (k: KindInfo) => `${k.plural}.${k.group}`;

export type WriteOutcome = 'written' | 'namespace-missing' | 'crd-missing';

/** Is a 404 about the namespace (it does not exist) rather than the object? */
function namespaceMissing(body: unknown, ns?: string): boolean {
  const d = (body as { details?: { kind?: string; name?: string } })?.details;
  return !!ns && d?.kind === 'namespaces' && d.name === ns;
}

/** The API answers 404 for every path of a resource it does not serve (the CRD is not installed). */
function notServed(body: unknown): boolean {
  const b = body as { details?: unknown; message?: string } | string | undefined;
  if (typeof b === 'string') return /404 page not found/.test(b);
  return !!b && !b.details && /the server could not find the requested resource/i.test(b.message ?? '');
}

/**
 * Create or replace the object in one request: server-side apply (fieldManager stack-scan, forced).
 * The whole object is sent, so what this run no longer says (a result, an annotation) is removed;
 * `results` has no list-type in the CRD, so it is replaced as a whole. Custom resources refuse an
 * update without a resourceVersion; apply needs none.
 */
export async function upsert(kube: Kube, obj: OrObject): Promise<WriteOutcome> {
  const k = kindOf(obj);
  const ns = obj.metadata.namespace;
  const ref = { kind: k, namespace: ns, name: obj.metadata.name };
  const body = { ...obj, metadata: { ...obj.metadata } };
  delete body.metadata.resourceVersion;
  const site = { verb: 'patch', resource: resource(k), namespace: ns };
  const res = await rawRequest(kube, site, {
    method: 'PATCH',
    path: objectPath(ref),
    query: { fieldManager: 'stack-scan', force: 'true' },
    body,
    contentType: 'application/apply-patch+yaml',
  });
  if (res.status < 300) return 'written';
  if (res.status === 404 && namespaceMissing(res.body, ns)) return 'namespace-missing';
  if (res.status === 404 && notServed(res.body)) return 'crd-missing';
  throw statusError(site, res, kube.server);
}

export async function deleteReport(kube: Kube, namespace: string, name: string): Promise<void> {
  const site = { verb: 'delete', resource: resource(REPORT_KIND), namespace };
  const res = await rawRequest(kube, site, { method: 'DELETE', path: objectPath({ kind: REPORT_KIND, namespace, name }) });
  if (res.status >= 300 && res.status !== 404) throw statusError(site, res, kube.server);
}

export interface WriteAll {
  written: string[];
  missingNamespaces: string[];
  crdMissing: boolean;
  errors: ReportError[];
}

/** Write many objects, 8 at a time; each failure is one errors[] entry. */
export async function writeObjects(kube: Kube, objects: OrObject[]): Promise<WriteAll> {
  const out: WriteAll = { written: [], missingNamespaces: [], crdMissing: false, errors: [] };
  const limit = pLimit(8);
  await Promise.all(
    objects.map((o) =>
      limit(async () => {
        const where = o.metadata.namespace ? `${o.metadata.namespace}/${o.metadata.name}` : o.metadata.name;
        try {
          const r = await upsert(kube, o);
          if (r === 'written') out.written.push(where);
          else if (r === 'namespace-missing') out.missingNamespaces.push(o.metadata.namespace!);
          else out.crdMissing = true;
        } catch (err) {
          out.errors.push(toReportError(`store ${o.kind} ${where}`, err));
        }
      }),
    ),
  );
  out.written.sort();
  out.missingNamespaces.sort();
  return out;
}
