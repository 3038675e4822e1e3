/**
 * Raw API requests, for what the generated clients hide: response warnings
 * (Gatekeeper's `warn` action arrives as `Warning:` headers), the exact
 * admission denial text, and server-side dry-run of arbitrary kinds.
 * Connections are kept alive and reused across a scan's requests.
 */
import https from 'node:https';
import http from 'node:http';
import type { Kube } from './client.ts';
import { ApiFailure, kubeError, type CallSite } from './client.ts';
import { ScanError } from '../errors.ts';
import { ExecConfigError } from './exec-credential.ts';
import { currentApiBudget, pause, retryDecision } from './retry.ts';
import { collectionPath, kindInfo } from '../k8s/kinds.ts';
import type { KubeObject } from '../k8s/types.ts';

export interface RawResponse {
  status: number;
  /** Texts of `Warning:` response headers (RFC 7234 299 warnings, quotes removed). */
  warnings: string[];
  body: unknown;
  /** Why a 429/503 was not retried (more), when that was the reason: the error message says it. */
  retryNote?: string;
}

/**
 * Credentials are applied at every request (an exec plugin's credential expires, a token file
 * rotates); the kept-alive agent is per client certificate: a new certificate gets a new agent.
 */
interface Transport {
  url: URL;
  agent: https.Agent | http.Agent;
  /** The certificate and key the agent presents. */
  cert?: unknown;
  key?: unknown;
}
const transports = new WeakMap<Kube, Transport>();

async function options(kube: Kube): Promise<{ base: https.RequestOptions; url: URL }> {
  const base: https.RequestOptions = {};
  await kube.applyTo(base);
  const prev = transports.get(kube);
  if (prev && prev.cert === base.cert && prev.key === base.key) return { base: { ...base, agent: prev.agent }, url: prev.url };
  const url = new URL(kube.server);
  const agentOpts = { keepAlive: true, maxSockets: 32, ca: base.ca, cert: base.cert, key: base.key, rejectUnauthorized: base.rejectUnauthorized };
  const agent = url.protocol === 'https:' ? new https.Agent(agentOpts) : new http.Agent({ keepAlive: true, maxSockets: 32 });
  prev?.agent.destroy();
  transports.set(kube, { url, agent, cert: base.cert, key: base.key });
  return { base: { ...base, agent }, url };
}

/** Parse `299 - "text"` warning header values. */
export function parseWarningHeaders(values: string | string[] | undefined): string[] {
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
  const budget = currentApiBudget();
  let reauthenticated = false;
  for (let attempt = 0; ; ) {
    const res = await once(kube, site, req);
    // A refused credential: renew what can be renewed (exec plugin, files) and try once more.
    if (res.status === 401 && !reauthenticated && kube.invalidate?.()) {
      reauthenticated = true;
      continue;
    }
    const decision = retryDecision(res.status, res.retryAfter, attempt, budget);
    if (!decision.retry) {
      if (decision.reason && (res.status === 429 || res.status === 503)) res.retryNote = decision.reason;
      return res;
    }
    attempt++;
    if (budget) {
      budget.retries++;
      budget.waitedMs += decision.waitMs;
    }
    await pause(decision.waitMs, budget?.signal);
  }
}

async function once(
  kube: Kube,
  site: CallSite,
  req: { method: string; path: string; query?: Record<string, string>; body?: unknown; timeoutMs?: number; contentType?: string },
): Promise<RawResponse & { retryAfter?: string; retryNote?: string }> {
  let base: https.RequestOptions;
  let url: URL;
  try {
    ({ base, url } = await options(kube));
  } catch (err) {
    if (err instanceof ExecConfigError)
      throw new ScanError(503, {
        code: 'credential_plugin_failed',
        message: `${err.message}; the kubeconfig's user.exec plugin must print an ExecCredential`,
        setting: 'KUBECONFIG',
      });
    throw kubeError(site, err, kube.server);
  }
  const qs = req.query ? `?${new URLSearchParams(req.query)}` : '';
  const payload = req.body === undefined ? undefined : Buffer.from(JSON.stringify(req.body));
  const mod = url.protocol === 'https:' ? https : http;
  try {
    return await new Promise<RawResponse & { retryAfter?: string }>((resolve, reject) => {
      const r = mod.request(
        {
          ...base,
          protocol: url.protocol,
          hostname: url.hostname,
          port: url.port,
          method: req.method,
          path: `${url.pathname.replace(/\/$/, '')}${req.path}${qs}`,
          headers: {
            ...(base.headers ?? {}),
            accept: 'application/json',
            ...(payload ? { 'content-type': req.contentType ?? 'application/json', 'content-length': payload.length } : {}),
          },
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
            const ra = res.headers['retry-after'];
            resolve({
              status: res.statusCode ?? 0,
              warnings: parseWarningHeaders(res.headers.warning),
              body,
              ...(ra ? { retryAfter: Array.isArray(ra) ? ra[0] : ra } : {}),
            });
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
export type { KubeObject };
export { collectionPath };

/** Server-side dry-run create (`dryRun=All`): admission runs, nothing is persisted. */
export async function dryRunCreate(kube: Kube, obj: KubeObject): Promise<RawResponse> {
  const path = collectionPath(obj);
  const resource = kindInfo(obj.kind)?.plural ?? obj.kind;
  if (!path) throw new Error(`no API path known for kind ${obj.kind}`);
  return rawRequest(
    kube,
    { verb: 'create (dry-run)', resource, namespace: obj.metadata.namespace },
    { method: 'POST', path, query: { dryRun: 'All', fieldManager: 'stack-scan' }, body: obj },
  );
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
  if (res.retryNote) {
    // The server asked us to come back later, more often or later than the run allows: "could not decide", 503.
    const scope = site.namespace ? `in namespace ${site.namespace}` : 'at cluster scope';
    return new ScanError(503, {
      code: 'api_busy',
      message: `the API server${server ? ` at ${server}` : ''} is busy: it answered ${res.status} to ${site.verb} ${site.resource} ${scope} (${res.retryNote})`,
    });
  }
  return kubeError(site, new ApiFailure(res.status, body), server);
}
