/**
 * Raw API requests, for what the generated clients hide: response warnings
 * (Gatekeeper's `warn` action arrives as `Warning:` headers), the exact
 * admission denial text, and server-side dry-run of arbitrary kinds.
 * Connections are kept alive and reused across a scan's requests.
 */
import https from 'node:https';
import http from 'node:http';
import { ApiException } from '@kubernetes/client-node';
import type { Kube } from './client.ts';
import { kubeError, type CallSite } from './client.ts';

export interface RawResponse {
  status: number;
  /** Texts of `Warning:` response headers (RFC 7234 299 warnings, quotes removed). */
  warnings: string[];
  body: unknown;
}

const agents = new WeakMap<Kube, Promise<{ base: https.RequestOptions; url: URL }>>();

async function options(kube: Kube) {
  let p = agents.get(kube);
  if (!p) {
    p = (async () => {
      const base: https.RequestOptions = {};
      await kube.config.applyToHTTPSOptions(base);
      const url = new URL(kube.server);
      const agentOpts = { keepAlive: true, maxSockets: 32, ca: base.ca, cert: base.cert, key: base.key, rejectUnauthorized: base.rejectUnauthorized };
      base.agent = url.protocol === 'https:' ? new https.Agent(agentOpts) : new http.Agent({ keepAlive: true, maxSockets: 32 });
      return { base, url };
    })();
    agents.set(kube, p);
  }
  return p;
}

/** Parse `299 - "text"` warning header values. */
export function parseWarnings(values: string | string[] | undefined): string[] {
  const list = Array.isArray(values) ? values : values ? [values] : [];
  const out: string[] = [];
  for (const v of list) {
    // A header can hold several comma-separated warnings; texts are quoted with \" escapes.
    const re = /\d{3}\s+\S+\s+"((?:[^"\\]|\\.)*)"/g;
    let m: RegExpExecArray | null;
    let any = false;
    while ((m = re.exec(v))) {
      out.push(m[1].replace(/\\(.)/g, '$1'));
      any = true;
    }
    if (!any) out.push(v);
  }
  return out;
}

export async function rawRequest(
  kube: Kube,
  site: CallSite,
  req: {
    method: string;
    path: string;
    query?: Record<string, string>;
    body?: unknown;
    timeoutMs?: number;
    /** Content type of the JSON body (default application/json), e.g. application/strategic-merge-patch+json for PATCH. */
    contentType?: string;
  },
): Promise<RawResponse> {
  const { base, url } = await options(kube);
  const qs = req.query ? `?${new URLSearchParams(req.query)}` : '';
  const payload = req.body === undefined ? undefined : Buffer.from(JSON.stringify(req.body));
  const mod = url.protocol === 'https:' ? https : http;
  try {
    return await new Promise<RawResponse>((resolve, reject) => {
      const r = mod.request(
        {
          ...base,
          protocol: url.protocol,
          hostname: url.hostname,
          port: url.port,
          method: req.method,
          path: `${url.pathname.replace(/\/$/, '')}${req.path}${qs}`,
          headers: { ...(base.headers ?? {}), accept: 'application/json', ...(payload ? { 'content-type': req.contentType ?? 'application/json', 'content-length': payload.length } : {}) },
          timeout: req.timeoutMs ?? 30_000,
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => {
            const text = Buffer.concat(chunks).toString('utf8');
            let body: unknown = text;
            try {
              body = text ? JSON.parse(text) : undefined;
            } catch {
              /* keep text */
            }
            resolve({ status: res.statusCode ?? 0, warnings: parseWarnings(res.headers.warning), body });
          });
          res.on('error', reject);
        },
      );
      r.on('timeout', () => r.destroy(Object.assign(new Error(`request timed out after ${req.timeoutMs ?? 30_000} ms`), { code: 'ETIMEDOUT' })));
      r.on('error', reject);
      if (payload) r.write(payload);
      r.end();
    });
  } catch (err) {
    throw kubeError(site, err, kube.server);
  }
}

/** Where kinds live in the API, for the kinds scans create or dry-run. */
export const KIND_PATHS: Record<string, { prefix: string; plural: string; namespaced: boolean }> = {
  Pod: { prefix: '/api/v1', plural: 'pods', namespaced: true },
  Service: { prefix: '/api/v1', plural: 'services', namespaced: true },
  ServiceAccount: { prefix: '/api/v1', plural: 'serviceaccounts', namespaced: true },
  ConfigMap: { prefix: '/api/v1', plural: 'configmaps', namespaced: true },
  Namespace: { prefix: '/api/v1', plural: 'namespaces', namespaced: false },
  Deployment: { prefix: '/apis/apps/v1', plural: 'deployments', namespaced: true },
  StatefulSet: { prefix: '/apis/apps/v1', plural: 'statefulsets', namespaced: true },
  DaemonSet: { prefix: '/apis/apps/v1', plural: 'daemonsets', namespaced: true },
  ReplicaSet: { prefix: '/apis/apps/v1', plural: 'replicasets', namespaced: true },
  Job: { prefix: '/apis/batch/v1', plural: 'jobs', namespaced: true },
  CronJob: { prefix: '/apis/batch/v1', plural: 'cronjobs', namespaced: true },
  NetworkPolicy: { prefix: '/apis/networking.k8s.io/v1', plural: 'networkpolicies', namespaced: true },
  Ingress: { prefix: '/apis/networking.k8s.io/v1', plural: 'ingresses', namespaced: true },
  Role: { prefix: '/apis/rbac.authorization.k8s.io/v1', plural: 'roles', namespaced: true },
  ClusterRole: { prefix: '/apis/rbac.authorization.k8s.io/v1', plural: 'clusterroles', namespaced: false },
  RoleBinding: { prefix: '/apis/rbac.authorization.k8s.io/v1', plural: 'rolebindings', namespaced: true },
  ClusterRoleBinding: { prefix: '/apis/rbac.authorization.k8s.io/v1', plural: 'clusterrolebindings', namespaced: false },
};

export interface KubeObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; [k: string]: unknown };
  [k: string]: unknown;
}

/** The collection path for creating `obj`; undefined for a kind we do not know. */
export function collectionPath(obj: KubeObject): string | undefined {
  // Gatekeeper's own kinds: templates, and constraints (cluster-scoped, plural = lowercase kind).
  if (obj.apiVersion.startsWith('templates.gatekeeper.sh/') && obj.kind === 'ConstraintTemplate') return `/apis/${obj.apiVersion}/constrainttemplates`;
  if (obj.apiVersion.startsWith('constraints.gatekeeper.sh/')) return `/apis/${obj.apiVersion}/${obj.kind.toLowerCase()}`;
  const k = KIND_PATHS[obj.kind];
  if (!k) return undefined;
  return k.namespaced ? `${k.prefix}/namespaces/${obj.metadata.namespace ?? 'default'}/${k.plural}` : `${k.prefix}/${k.plural}`;
}

/** Server-side dry-run create (`dryRun=All`): admission runs, nothing is persisted. */
export async function dryRunCreate(kube: Kube, obj: KubeObject): Promise<RawResponse> {
  const path = collectionPath(obj);
  const resource = KIND_PATHS[obj.kind]?.plural ?? obj.kind;
  if (!path) throw new Error(`no API path known for kind ${obj.kind}`);
  return rawRequest(kube, { verb: 'create (dry-run)', resource, namespace: obj.metadata.namespace }, { method: 'POST', path, query: { dryRun: 'All', fieldManager: 'stack-scan' }, body: obj });
}

/** GET a path and return its JSON; a non-2xx answer becomes a ScanError naming verb and resource. */
export async function apiGet<T = any>(kube: Kube, site: CallSite, path: string, query?: Record<string, string>): Promise<T> {
  const res = await rawRequest(kube, site, { method: 'GET', path, query });
  if (res.status >= 200 && res.status < 300) return res.body as T;
  throw statusError(site, res, kube.server);
}

/** A non-2xx raw response as the same ScanError a client-node call would give. */
export function statusError(site: CallSite, res: RawResponse, server?: string) {
  const body = typeof res.body === 'string' ? res.body : JSON.stringify(res.body ?? '');
  return kubeError(site, Object.assign(new ApiException(res.status, 'request failed', body, {})), server);
}
