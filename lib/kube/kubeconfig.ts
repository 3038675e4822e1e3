/**
 * Reading a kubeconfig without @kubernetes/client-node, for the common cases: one file, its
 * current context's cluster (server, CA, insecure-skip-tls-verify) and user (client
 * certificate and key, token or tokenFile), inline data or file paths relative to the
 * kubeconfig; and the in-cluster service account. client-node costs about 20 MB of memory
 * and hundreds of ms to load, which every scale-from-zero request pays; anything this reader
 * does not handle (several files in KUBECONFIG, exec or auth-provider plugins, …) returns
 * undefined and the caller falls back to client-node, so no kubeconfig stops working.
 */
import { existsSync, readFileSync } from 'node:fs';
import type { RequestOptions } from 'node:https';
import { dirname, isAbsolute, resolve } from 'node:path';
import yaml from 'js-yaml';

export interface Connection {
  server: string;
  /** Fills TLS material and the Authorization header into request options. */
  apply(opts: RequestOptions): void;
}

const SA_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';

type Named<T> = { name?: unknown } & T;
type Obj = Record<string, unknown>;

const isObj = (x: unknown): x is Obj => !!x && typeof x === 'object' && !Array.isArray(x);

function pick(list: unknown, name: unknown, key: string): Obj | undefined {
  if (!Array.isArray(list)) return undefined;
  const hit = (list as Named<Obj>[]).find((e) => isObj(e) && e.name === name);
  const inner = hit?.[key];
  return isObj(inner) ? inner : undefined;
}

/**
 * The connection a single kubeconfig file describes, or undefined when it needs more than this
 * reader knows (the caller then uses client-node). Throws only for a file that cannot be read or parsed.
 */
export function readKubeconfig(path: string): Connection | undefined {
  const doc = yaml.load(readFileSync(path, 'utf8'));
  if (!isObj(doc)) return undefined;
  const ctxName = doc['current-context'];
  const ctx = pick(doc.contexts, ctxName, 'context');
  if (!ctx) return undefined;
  const cluster = pick(doc.clusters, ctx.cluster, 'cluster');
  const user = ctx.user === undefined ? {} : pick(doc.users, ctx.user, 'user');
  if (!cluster || !user || typeof cluster.server !== 'string') return undefined;
  // Plugins, impersonation, proxies, basic auth: client-node knows them.
  const known = new Set(['client-certificate', 'client-certificate-data', 'client-key', 'client-key-data', 'token', 'tokenFile']);
  if (Object.keys(user).some((k) => !known.has(k))) return undefined;
  if (Object.keys(cluster).some((k) => !['server', 'certificate-authority', 'certificate-authority-data', 'insecure-skip-tls-verify'].includes(k))) return undefined;
  const base = dirname(path);
  const file = (p: unknown) => (typeof p === 'string' ? readFileSync(isAbsolute(p) ? p : resolve(base, p)) : undefined);
  const data = (d: unknown) => (typeof d === 'string' ? Buffer.from(d, 'base64') : undefined);
  const ca = data(cluster['certificate-authority-data']) ?? file(cluster['certificate-authority']);
  const cert = data(user['client-certificate-data']) ?? file(user['client-certificate']);
  const key = data(user['client-key-data']) ?? file(user['client-key']);
  const tokenFile = typeof user.tokenFile === 'string' ? (isAbsolute(user.tokenFile) ? user.tokenFile : resolve(base, user.tokenFile)) : undefined;
  const token = typeof user.token === 'string' ? user.token : undefined;
  const insecure = cluster['insecure-skip-tls-verify'] === true;
  return {
    server: cluster.server,
    apply(opts) {
      if (ca) opts.ca = ca;
      if (cert) opts.cert = cert;
      if (key) opts.key = key;
      if (insecure) opts.rejectUnauthorized = false;
      const bearer = tokenFile ? readFileSync(tokenFile, 'utf8').trim() : token;
      if (bearer) opts.headers = { ...(opts.headers ?? {}), Authorization: `Bearer ${bearer}` };
    },
  };
}

/** The in-cluster service account (KUBERNETES_SERVICE_HOST/PORT, its token and CA), or undefined outside a pod. */
export function inClusterConnection(env: NodeJS.ProcessEnv = process.env): Connection | undefined {
  const host = env.KUBERNETES_SERVICE_HOST;
  const port = env.KUBERNETES_SERVICE_PORT ?? '443';
  if (!host || !existsSync(`${SA_DIR}/token`)) return undefined;
  const server = `https://${host.includes(':') ? `[${host}]` : host}:${port}`;
  return {
    server,
    apply(opts) {
      if (existsSync(`${SA_DIR}/ca.crt`)) opts.ca = readFileSync(`${SA_DIR}/ca.crt`);
      opts.headers = { ...(opts.headers ?? {}), Authorization: `Bearer ${readFileSync(`${SA_DIR}/token`, 'utf8').trim()}` };
    },
  };
}
