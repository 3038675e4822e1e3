/**
 * Reading a kubeconfig without @kubernetes/client-node, for the common cases: one file, its
 * current context's cluster (server, CA, insecure-skip-tls-verify) and user (client
 * certificate and key, token or tokenFile), inline data or file paths relative to the
 * kubeconfig, exec credential plugins (lib/kube/exec-credential.ts: run again when their
 * credential expires or is refused); and the in-cluster service account. client-node costs about
 * 20 MB of memory and hundreds of ms to load, which every scale-from-zero request pays; anything
 * this reader does not handle (several files in KUBECONFIG, auth-provider plugins, …) returns
 * undefined and the caller falls back to client-node, so no kubeconfig stops working.
 *
 * Credentials that can change are read at each use: a token file, the in-cluster token, an exec
 * plugin's credential until its expiry; certificate files again after the API server refused them.
 */
import { existsSync, readFileSync } from 'node:fs';
import type { RequestOptions } from 'node:https';
import { dirname, isAbsolute, resolve } from 'node:path';
import { parseYaml } from '../topology/files.ts';
import { ExecCredentialSource, readExecConfig } from './exec-credential.ts';

export interface Connection {
  server: string;
  /** Fills TLS material and the Authorization header into request options (async for an exec plugin). */
  apply(opts: RequestOptions): void | Promise<void>;
  /**
   * The API server refused the credentials (401): renewable ones (an exec plugin's, files) are
   * renewed at the next apply. Returns whether one retry can help.
   */
  invalidate?(): boolean;
  /** The exec plugin, when the user has one (how often it ran). */
  exec?: ExecCredentialSource;
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
  // Bounded like every input (aliases, size, depth): lib/topology/files.ts.
  const doc = parseYaml(readFileSync(path, 'utf8'), { path, setting: 'KUBECONFIG' }).value;
  if (!isObj(doc)) return undefined;
  const ctxName = doc['current-context'];
  const ctx = pick(doc.contexts, ctxName, 'context');
  if (!ctx) return undefined;
  const cluster = pick(doc.clusters, ctx.cluster, 'cluster');
  const user = ctx.user === undefined ? {} : pick(doc.users, ctx.user, 'user');
  if (!cluster || !user || typeof cluster.server !== 'string') return undefined;
  // Plugins, impersonation, proxies, basic auth: client-node knows them.
  const known = new Set(['client-certificate', 'client-certificate-data', 'client-key', 'client-key-data', 'token', 'tokenFile', 'exec']);
  if (Object.keys(user).some((k) => !known.has(k))) return undefined;
  if (Object.keys(cluster).some((k) => !['server', 'certificate-authority', 'certificate-authority-data', 'insecure-skip-tls-verify'].includes(k)))
    return undefined;
  const base = dirname(path);
  const file = (p: unknown) => (typeof p === 'string' ? readFileSync(isAbsolute(p) ? p : resolve(base, p)) : undefined);
  const data = (d: unknown) => (typeof d === 'string' ? Buffer.from(d, 'base64') : undefined);
  const ca = data(cluster['certificate-authority-data']) ?? file(cluster['certificate-authority']);
  const certFromFiles = () => ({
    cert: data(user['client-certificate-data']) ?? file(user['client-certificate']),
    key: data(user['client-key-data']) ?? file(user['client-key']),
  });
  let pair = certFromFiles();
  const certFiles = typeof user['client-certificate'] === 'string' || typeof user['client-key'] === 'string';
  const tokenFile = typeof user.tokenFile === 'string' ? (isAbsolute(user.tokenFile) ? user.tokenFile : resolve(base, user.tokenFile)) : undefined;
  const token = typeof user.token === 'string' ? user.token : undefined;
  const insecure = cluster['insecure-skip-tls-verify'] === true;
  const exec =
    user.exec === undefined
      ? undefined
      : new ExecCredentialSource(readExecConfig(user.exec, path), {
          server: cluster.server,
          'insecure-skip-tls-verify': insecure,
          ...(ca ? { 'certificate-authority-data': ca.toString('base64') } : {}),
        });
  const fill = (opts: RequestOptions, cred?: { token?: string; cert?: Buffer; key?: Buffer }) => {
    if (ca) opts.ca = ca;
    const cert = cred?.cert ?? pair.cert;
    const key = cred?.key ?? pair.key;
    if (cert) opts.cert = cert;
    if (key) opts.key = key;
    if (insecure) opts.rejectUnauthorized = false;
    const bearer = cred?.token ?? (tokenFile ? readFileSync(tokenFile, 'utf8').trim() : token);
    if (bearer) opts.headers = { ...(opts.headers ?? {}), Authorization: `Bearer ${bearer}` };
  };
  return {
    server: cluster.server,
    exec,
    apply(opts) {
      if (!exec) return fill(opts);
      return exec.get().then((cred) => fill(opts, cred));
    },
    invalidate() {
      if (exec) exec.invalidate();
      if (certFiles) pair = certFromFiles();
      return !!exec || certFiles || !!tokenFile;
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
    // The kubelet rotates the projected token: the next apply reads the new one.
    invalidate: () => true,
  };
}
