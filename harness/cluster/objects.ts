/** Create, replace, delete and wait for real objects through the API server (tests, demo, benches). */
import type { Kube } from '../../lib/kube/client.ts';
import { collectionPath, rawRequest, type KubeObject } from '../../lib/kube/raw.ts';

/** Create an object; an existing one is replaced (PUT). Throws with the server's message on failure. */
export async function apply(kube: Kube, obj: KubeObject): Promise<void> {
  const path = collectionPath(obj);
  if (!path) throw new Error(`unknown kind ${obj.kind}`);
  const site = { verb: 'create', resource: obj.kind };
  const res = await rawRequest(kube, site, { method: 'POST', path, body: obj });
  if (res.status === 409) {
    const cur = await rawRequest(kube, site, { method: 'GET', path: `${path}/${obj.metadata.name}` });
    const put = await rawRequest(kube, site, {
      method: 'PUT',
      path: `${path}/${obj.metadata.name}`,
      body: { ...obj, metadata: { ...obj.metadata, resourceVersion: (cur.body as any).metadata.resourceVersion } },
    });
    if (put.status >= 300) throw new Error(`replace ${obj.kind} ${obj.metadata.name}: ${put.status} ${JSON.stringify(put.body)}`);
    return;
  }
  if (res.status >= 300) throw new Error(`create ${obj.kind} ${obj.metadata.name}: ${res.status} ${JSON.stringify(res.body)}`);
}

export async function remove(kube: Kube, obj: Pick<KubeObject, 'apiVersion' | 'kind' | 'metadata'>): Promise<void> {
  const path = collectionPath(obj as KubeObject);
  if (!path) throw new Error(`unknown kind ${obj.kind}`);
  const res = await rawRequest(kube, { verb: 'delete', resource: obj.kind }, { method: 'DELETE', path: `${path}/${obj.metadata.name}` });
  if (res.status >= 300 && res.status !== 404) throw new Error(`delete ${obj.kind} ${obj.metadata.name}: ${res.status} ${JSON.stringify(res.body)}`);
}

export const namespace = (name: string, labels: Record<string, string> = {}): KubeObject => ({
  apiVersion: 'v1',
  kind: 'Namespace',
  metadata: { name, labels },
});

/** Poll `fn` until it returns a truthy value, at most `timeoutMs`; bounded. */
export async function waitFor<T>(what: string, fn: () => Promise<T | undefined | false>, timeoutMs = 30_000, everyMs = 250): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (err) {
      last = err;
    }
    await new Promise((r) => setTimeout(r, everyMs));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${(last as Error).message}` : ''}`);
}
