/**
 * The one Kubernetes client factory, and the translation of API failures into
 * errors a person can act on.
 *
 * Config: the in-cluster service account when running in a pod, otherwise
 * KUBECONFIG or ~/.kube/config. A scan may pass an explicit kubeconfig path.
 *
 * @kubernetes/client-node is heavy (about 20 MB and hundreds of ms to load, paid by every
 * scale-from-zero request): kubeconfigs are read by lib/kube/kubeconfig.ts, and client-node is
 * imported only for what that reader does not handle (several files in KUBECONFIG, exec or
 * auth-provider plugins, …). API calls go through lib/kube/raw.ts either way.
 */
import { existsSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import type * as K8s from '@kubernetes/client-node';
import type { RequestOptions } from 'node:https';
import { ScanError } from '../errors.ts';
import { inClusterConnection, readKubeconfig, type Connection } from './kubeconfig.ts';
import { noteKube } from './used.ts';

const SA_TOKEN = '/var/run/secrets/kubernetes.io/serviceaccount/token';

function noCluster(why: string): ScanError {
  return new ScanError(503, { code: 'cluster_unconfigured', message: `no Kubernetes cluster is reachable: ${why}`, setting: 'KUBECONFIG' });
}

/** What client.ts needs of @kubernetes/client-node (lib/kube/client-node.ts re-exports it). */
type ClientNode = Pick<typeof K8s, 'KubeConfig'>;
let clientNodeModule: Promise<ClientNode> | undefined;
/** @kubernetes/client-node's KubeConfig, imported once, on first use. */
function clientNode(): Promise<ClientNode> {
  return (clientNodeModule ??= import('./client-node.ts'));
}

/**
 * A non-2xx answer of the API server, shaped as client-node's ApiException (code, body,
 * headers), so raw requests fail like generated-client calls without loading client-node.
 */
export class ApiFailure extends Error {
  constructor(
    readonly code: number,
    readonly body: unknown,
    readonly headers: Record<string, string> = {},
  ) {
    super(`HTTP-Code: ${code}`);
    this.name = 'ApiFailure';
  }
}

/** client-node's ApiException or our ApiFailure: a numeric HTTP code and a body. */
function isApiException(err: unknown): err is { code: number; body: unknown } {
  return err instanceof Error && typeof (err as { code?: unknown }).code === 'number' && 'body' in err;
}

/**
 * Where the configuration comes from: the in-cluster service account (in a pod, without
 * KUBECONFIG and without an explicit path), or kubeconfig files. Throws 503 when none exists
 * (client-node would fall back to http://localhost:8080; say plainly that nothing is configured).
 */
function configSource(kubeconfigPath?: string): { inCluster: true } | { inCluster: false; files: string[] } {
  if (!kubeconfigPath && !process.env.KUBECONFIG && process.env.KUBERNETES_SERVICE_HOST && existsSync(SA_TOKEN)) return { inCluster: true };
  const file = kubeconfigPath ?? (process.env.KUBECONFIG || join(homedir(), '.kube', 'config'));
  const files = file.split(':').filter(Boolean);
  if (!files.some((f) => existsSync(f))) {
    throw noCluster(
      kubeconfigPath || process.env.KUBECONFIG
        ? `the kubeconfig ${file} does not exist (set KUBECONFIG to a readable kubeconfig)`
        : 'not running in a pod, KUBECONFIG is unset and ~/.kube/config does not exist',
    );
  }
  return { inCluster: false, files };
}

function invalidKubeconfig(file: string | undefined, err: unknown): ScanError {
  return new ScanError(422, {
    code: 'kubeconfig_invalid',
    message: `cannot load the kubeconfig ${file ?? '~/.kube/config'}: ${(err as Error).message.split('\n')[0]}`,
    file,
    setting: 'KUBECONFIG',
  });
}

export interface Kube {
  server: string;
  /** Fills TLS material and the Authorization header into request options (lib/kube/raw.ts), at each request. */
  applyTo(opts: RequestOptions): Promise<void>;
  /** After a 401: renew what can be renewed (exec plugin, files); true when one retry can help. */
  invalidate?(): boolean;
  /** How many times the exec credential plugin ran (undefined: no plugin, or one client-node runs). */
  execRuns?(): number;
}

/** Without client-node, when the light reader handles the configuration; undefined otherwise. */
function lightKube(src: ReturnType<typeof configSource>): Kube | undefined {
  let c: Connection | undefined;
  if (src.inCluster) c = inClusterConnection();
  else if (src.files.length === 1) {
    try {
      c = readKubeconfig(src.files[0]);
    } catch (err) {
      throw invalidKubeconfig(src.files[0], err);
    }
  }
  return (
    c && {
      server: c.server,
      applyTo: async (o) => c.apply(o),
      invalidate: c.invalidate && (() => c.invalidate!()),
      ...(c.exec ? { execRuns: () => c.exec!.runs } : {}),
    }
  );
}

/** Through client-node, for what the light reader leaves (several files, exec or auth-provider plugins, …). */
async function clientNodeKube(src: ReturnType<typeof configSource>, kubeconfigPath?: string): Promise<Kube> {
  const kc = new (await clientNode()).KubeConfig();
  try {
    if (src.inCluster) kc.loadFromCluster();
    else if (kubeconfigPath) kc.loadFromFile(kubeconfigPath);
    else kc.loadFromDefault();
  } catch (err) {
    throw invalidKubeconfig(kubeconfigPath ?? process.env.KUBECONFIG, err);
  }
  const cluster = kc.getCurrentCluster();
  if (!cluster) throw noCluster(`the kubeconfig ${kubeconfigPath ?? process.env.KUBECONFIG ?? '~/.kube/config'} has no current cluster`);
  return { server: cluster.server, applyTo: (o) => kc.applyToHTTPSOptions(o) };
}

/** A client for tests and the harness (simple kubeconfigs only): synchronous. */
export function makeKubeSync(kubeconfigPath: string): Kube {
  const k = lightKube(configSource(kubeconfigPath));
  if (!k) throw new Error(`makeKubeSync: ${kubeconfigPath} needs client-node (use makeKube)`);
  return k;
}

/**
 * The client for a kubeconfig (or the in-cluster account), reused across requests while the files it
 * was made from are unchanged (their mtimes): consecutive scans keep their kept-alive connections to
 * the API server instead of a new TLS handshake each. At most 16 are kept.
 */
export async function makeKube(kubeconfigPath?: string): Promise<Kube> {
  const src = configSource(kubeconfigPath);
  const key = `${kubeconfigPath ?? ''}\n${process.env.KUBECONFIG ?? ''}\n${process.env.KUBERNETES_SERVICE_HOST ?? ''}`;
  const stamp = (src.inCluster ? [SA_TOKEN] : src.files)
    .map((f) => {
      try {
        return `${f}@${statSync(f).mtimeMs}`;
      } catch {
        return `${f}@missing`;
      }
    })
    .join('|');
  const hit = kubes.get(key);
  if (hit && hit.stamp === stamp) {
    noteKube(hit.kube);
    return hit.kube;
  }
  const kube = lightKube(src) ?? (await clientNodeKube(src, kubeconfigPath));
  kubes.delete(key);
  kubes.set(key, { stamp, kube });
  if (kubes.size > 16) kubes.delete(kubes.keys().next().value!);
  noteKube(kube);
  return kube;
}

const kubes = new Map<string, { stamp: string; kube: Kube }>();

/** What a call does, so a failure can name the verb and resource a person must grant. */
export interface CallSite {
  verb: string;
  /** `resource.group`, e.g. `networkpolicies.networking.k8s.io`, or `namespaces`. */
  resource: string;
  namespace?: string;
}

const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'EHOSTUNREACH',
  'ETIMEDOUT',
  'ECONNRESET',
  'EAI_AGAIN',
  'CERT_HAS_EXPIRED',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
]);

function statusMessage(body: unknown): string | undefined {
  if (typeof body === 'string') {
    try {
      return statusMessage(JSON.parse(body));
    } catch {
      return body.slice(0, 300) || undefined;
    }
  }
  if (body && typeof body === 'object' && 'message' in body) return String((body as { message: unknown }).message);
  return undefined;
}

/** Turn anything a client-node call throws into a ScanError with an actionable message. */
export function kubeError(site: CallSite, err: unknown, server?: string): ScanError {
  if (err instanceof ScanError) return err;
  const scope = site.namespace ? `in namespace ${site.namespace}` : 'at cluster scope';
  if (isApiException(err)) {
    const msg = statusMessage(err.body);
    if (err.code === 401)
      return new ScanError(401, {
        code: 'unauthenticated',
        message: `the API server rejected our credentials (401) while trying to ${site.verb} ${site.resource}: ${msg ?? 'Unauthorized'}`,
      });
    if (err.code === 403)
      return new ScanError(403, {
        code: 'forbidden',
        message: `forbidden: grant verb '${site.verb}' on '${site.resource}' ${scope} to the scan's service account${msg ? ` (${msg})` : ''}`,
      });
    if (err.code === 404) return new ScanError(404, { code: 'not_found', message: `${site.resource} not found ${scope}${msg ? `: ${msg}` : ''}` });
    return new ScanError(502, {
      code: 'api_error',
      message: `API server answered ${err.code} to ${site.verb} ${site.resource} ${scope}${msg ? `: ${msg}` : ''}`,
    });
  }
  const code = (err as { code?: string }).code;
  if ((code && NETWORK_CODES.has(code)) || (err as { type?: string }).type === 'system' || (err as Error).name === 'AbortError') {
    return new ScanError(503, {
      code: 'cluster_unreachable',
      message:
        `the Kubernetes API server${server ? ` at ${server}` : ''} is unreachable (${code ?? (err as Error).message}) while trying to ` +
        `${site.verb} ${site.resource}`,
    });
  }
  return new ScanError(500, { code: 'internal', message: `${site.verb} ${site.resource} failed: ${(err as Error).message ?? String(err)}` });
}
