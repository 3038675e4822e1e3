// The four functions on the real Knative (harness/knative): deployed from knative/overlays/local
// with the real kustomize, watched until Ready and scaled to zero, called through Traefik, and
// CloudEvents through the real Broker. Used by demo/knative.ts and test/integration/knative-*.test.ts.
import { request as httpRequest, createServer, type Server } from 'node:http';
import { join } from 'node:path';
import { apiGet, rawRequest } from '../../lib/kube/raw.ts';
import type { Kube } from '../../lib/kube/client.ts';
import { FUNCTIONS, KNATIVE_DIR, NAMESPACE, kustomizeBuild, type FunctionName } from '../../knative/render.ts';
import { NODE_IP } from '../node/index.ts';
import { startServerProcess } from '../serve-process.ts';
import { applyAll, getAny } from './index.ts';

export const LOCAL_OVERLAY = join(KNATIVE_DIR, 'overlays/local');
export const SCAN_PATH: Record<FunctionName, string> = {
  'network-scan': 'network_scan',
  'opa-scan': 'opa_scan',
  'kubescape-scan': 'kubescape_scan',
  'nuclei-scan': 'nuclei_scan',
};
export const SCAN_NAME: Record<FunctionName, string> = { 'network-scan': 'network', 'opa-scan': 'opa', 'kubescape-scan': 'kubescape', 'nuclei-scan': 'nuclei' };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The cluster-local host Traefik routes to a function by. */
export const hostOf = (fn: string) => `${fn}.${NAMESPACE}.svc.cluster.local`;

/** The local overlay, rendered by the real kustomize; Broker and Triggers only with Eventing. */
export function localObjects(opts: { eventing: boolean; only?: readonly string[] }) {
  return kustomizeBuild(LOCAL_OVERLAY).filter((o) => {
    if (!opts.eventing && o.apiVersion.startsWith('eventing.knative.dev/')) return false;
    if (opts.only && o.kind === 'Service' && o.apiVersion.startsWith('serving.knative.dev/') && !opts.only.includes(o.metadata.name)) return false;
    if (opts.only && o.kind === 'Trigger' && !opts.only.includes(o.spec?.subscriber?.ref?.name)) return false;
    return true;
  });
}

export async function deployFunctions(kube: Kube, opts: { eventing: boolean; only?: readonly string[]; log?: (l: string) => void }): Promise<void> {
  await applyAll(kube, localObjects(opts) as never, opts.log);
}

export interface KsvcStatus {
  ready: boolean;
  reason?: string;
  latestReadyRevision?: string;
  url?: string;
}

export async function ksvcStatus(kube: Kube, fn: string): Promise<KsvcStatus> {
  const s = await getAny(kube, { apiVersion: 'serving.knative.dev/v1', kind: 'Service', metadata: { name: fn, namespace: NAMESPACE } });
  const c = s?.status?.conditions?.find((x: any) => x.type === 'Ready');
  return {
    ready: c?.status === 'True',
    reason: c ? `${c.reason ?? ''} ${c.message ?? ''}`.trim() : 'no status yet',
    latestReadyRevision: s?.status?.latestReadyRevisionName,
    url: s?.status?.url,
  };
}

export async function waitReady(kube: Kube, fns: readonly string[], timeoutMs = 300_000): Promise<Record<string, number>> {
  const t0 = Date.now();
  const at: Record<string, number> = {};
  const deadline = t0 + timeoutMs;
  while (Object.keys(at).length < fns.length) {
    for (const fn of fns.filter((f) => !(f in at))) if ((await ksvcStatus(kube, fn)).ready) at[fn] = Date.now() - t0;
    if (Object.keys(at).length === fns.length) break;
    if (Date.now() > deadline) {
      const why = await Promise.all(
        fns.filter((f) => !(f in at)).map(async (f) => `${f}: ${(await ksvcStatus(kube, f)).reason}; pods: ${await podStates(kube, f)}`),
      );
      throw new Error(`Knative Services not Ready after ${timeoutMs / 1000}s: ${why.join(' | ')}`);
    }
    await sleep(1000);
  }
  return at;
}

export async function functionPods(kube: Kube, fn: string): Promise<any[]> {
  const l = await apiGet(kube, { verb: 'list', resource: 'pods' }, `/api/v1/namespaces/${NAMESPACE}/pods`, {
    labelSelector: `serving.knative.dev/service=${fn}`,
  });
  return l.items ?? [];
}

export async function podStates(kube: Kube, fn: string): Promise<string> {
  const pods = await functionPods(kube, fn);
  return (
    pods
      .map((p) =>
        (
          `${p.metadata.name} ${p.status?.phase}${p.metadata.deletionTimestamp ? ' (terminating)' : ''} ` +
          `${JSON.stringify(p.status?.containerStatuses?.map((c: any) => ({ [c.name]: c.state })) ?? [])}`
        ).slice(0, 400),
      )
      .join('; ') || 'none'
  );
}

/** Wait until a function has no pod at all (Knative scaled it to zero); returns how long it took. */
export async function waitScaledToZero(kube: Kube, fn: string, timeoutMs = 180_000): Promise<number> {
  const t0 = Date.now();
  while (Date.now() - t0 < timeoutMs) {
    if (!(await functionPods(kube, fn)).length) return Date.now() - t0;
    await sleep(1000);
  }
  throw new Error(`${fn} did not scale to zero within ${timeoutMs / 1000}s: pods ${await podStates(kube, fn)}`);
}

export interface Answer {
  status: number;
  body: string;
  headers: Record<string, string | string[] | undefined>;
  ms: number;
}

/** One HTTP request through Traefik (the Host header picks the Knative route). */
export function viaTraefik(
  base: string,
  fn: string,
  path: string,
  opts: { method?: string; headers?: Record<string, string>; body?: string; timeoutMs?: number } = {},
): Promise<Answer> {
  const url = new URL(path, base);
  const t0 = performance.now();
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      {
        hostname: url.hostname,
        port: url.port,
        path: `${url.pathname}${url.search}`,
        method: opts.method ?? 'GET',
        headers: { host: hostOf(fn), ...(opts.headers ?? {}), ...(opts.body ? { 'content-length': Buffer.byteLength(opts.body) } : {}) },
        timeout: opts.timeoutMs ?? 660_000,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8'), headers: res.headers, ms: performance.now() - t0 }),
        );
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`no answer from ${fn} through Traefik within ${(opts.timeoutMs ?? 660_000) / 1000}s`)));
    req.on('error', reject);
    if (opts.body) req.write(opts.body);
    req.end();
  });
}

/**
 * `/healthz` of a function through Traefik once Traefik routes it: a Service is Ready when its
 * KIngress is, and Traefik applies the route a moment later (its providers throttle, 2 s), answering
 * 404 until then. Polled every 250 ms, at most `timeoutMs`; the last answer when it never routed.
 */
export async function routedHealthz(base: string, fn: string, timeoutMs = 30_000): Promise<Answer> {
  const deadline = Date.now() + timeoutMs;
  for (let i = 0; ; i++) {
    const r = await viaTraefik(base, fn, '/healthz', { timeoutMs: 660_000 });
    if (r.status !== 404 || Date.now() > deadline || i >= 400) return r;
    await sleep(250);
  }
}

/** The same bundle started as a plain process (harness/serve-process.ts): ms from spawn to its first /healthz 200. */
export async function plainColdStart(bundle: string, env: Record<string, string> = {}): Promise<number> {
  const t0 = performance.now();
  const srv = await startServerProcess({ HOME: '/tmp', NODE_ENV: 'production', ...env }, { entry: bundle, killAfterMs: 60_000 });
  try {
    for (let i = 0; i < 600; i++) {
      try {
        if ((await fetch(`${srv.url}/healthz`)).ok) return performance.now() - t0;
      } catch {
        /* not yet */
      }
      await sleep(10);
    }
    throw new Error(`${bundle} did not answer /healthz within 6 s of printing its port`);
  } finally {
    await srv.stop();
  }
}

// ---------------------------------------------------------------------------------------------
// events

export interface SinkEvent {
  headers: Record<string, string>;
  body: string;
  at: number;
  /** ce-* attributes (binary mode) or the structured event's attributes. */
  attrs: Record<string, unknown>;
}

/** An HTTP sink on the node IP (reachable from pods): records every CloudEvent the Broker delivers. */
export async function startSink(): Promise<{
  url: string;
  events: SinkEvent[];
  wait(pred: (e: SinkEvent) => boolean, timeoutMs: number, what: string): Promise<SinkEvent>;
  close(): Promise<void>;
}> {
  const events: SinkEvent[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => {
      chunks.push(c);
      if (chunks.reduce((n, x) => n + x.length, 0) > 4 * 1024 * 1024) req.destroy();
    });
    req.on('end', () => {
      const headers: Record<string, string> = {};
      for (const [k, v] of Object.entries(req.headers)) if (typeof v === 'string') headers[k] = v;
      const body = Buffer.concat(chunks).toString('utf8');
      let attrs: Record<string, unknown> = {};
      if (/^application\/cloudevents\+json/.test(headers['content-type'] ?? '')) {
        try {
          attrs = JSON.parse(body);
        } catch {
          /* keep empty */
        }
      } else for (const [k, v] of Object.entries(headers)) if (k.startsWith('ce-')) attrs[k.slice(3)] = v;
      if (events.length < 1000) events.push({ headers, body, at: Date.now(), attrs });
      res.writeHead(202).end();
    });
  });
  const port: number = await new Promise((res, rej) => {
    server.once('error', rej);
    server.listen(0, NODE_IP, () => res((server.address() as { port: number }).port));
  });
  return {
    url: `http://${NODE_IP}:${port}/`,
    events,
    async wait(pred, timeoutMs, what) {
      const t0 = Date.now();
      while (Date.now() - t0 < timeoutMs) {
        const e = events.find(pred);
        if (e) return e;
        await sleep(250);
      }
      throw new Error(`no ${what} within ${timeoutMs / 1000}s (${events.length} events seen: ${events.map((e) => e.attrs.type).join(', ') || 'none'})`);
    },
    close: () => new Promise((r) => server.close(() => r())),
  };
}

/** The Broker's ingress address as the host reaches it (the ClusterIP of broker-ingress, through kube-proxy). */
export async function brokerIngress(kube: Kube, broker = 'stack-scan'): Promise<string> {
  const b = await getAny(kube, { apiVersion: 'eventing.knative.dev/v1', kind: 'Broker', metadata: { name: broker, namespace: NAMESPACE } });
  const url = b?.status?.address?.url as string | undefined;
  if (!url) throw new Error(`Broker ${broker} has no address yet: ${JSON.stringify(b?.status?.conditions ?? [])}`);
  const u = new URL(url);
  const [svc, ns] = u.hostname.split('.');
  const s = await apiGet(kube, { verb: 'get', resource: 'services' }, `/api/v1/namespaces/${ns}/services/${svc}`);
  return `http://${s.spec.clusterIP}${u.port ? `:${u.port}` : ''}${u.pathname}`;
}

export async function waitBrokerReady(kube: Kube, timeoutMs = 180_000, broker = 'stack-scan'): Promise<void> {
  const t0 = Date.now();
  for (;;) {
    const b = await getAny(kube, { apiVersion: 'eventing.knative.dev/v1', kind: 'Broker', metadata: { name: broker, namespace: NAMESPACE } });
    if (b?.status?.conditions?.find((c: any) => c.type === 'Ready')?.status === 'True') return;
    if (Date.now() - t0 > timeoutMs) throw new Error(`Broker ${broker} not Ready after ${timeoutMs / 1000}s: ${JSON.stringify(b?.status?.conditions ?? [])}`);
    await sleep(1000);
  }
}

export async function waitTriggersReady(kube: Kube, names: string[], timeoutMs = 180_000): Promise<void> {
  const t0 = Date.now();
  for (const n of names) {
    for (;;) {
      const t = await getAny(kube, { apiVersion: 'eventing.knative.dev/v1', kind: 'Trigger', metadata: { name: n, namespace: NAMESPACE } });
      if (t?.status?.conditions?.find((c: any) => c.type === 'Ready')?.status === 'True') break;
      if (Date.now() - t0 > timeoutMs) throw new Error(`Trigger ${n} not Ready after ${timeoutMs / 1000}s: ${JSON.stringify(t?.status?.conditions ?? [])}`);
      await sleep(1000);
    }
  }
}

/** POST one binary-mode CloudEvent to the Broker's ingress. */
/**
 * POST one CloudEvent (binary mode) to a Broker's ingress. A 5xx is retried, bounded (a sender to a
 * Broker retries: the ingress answers 5xx while the Broker's channel is not subscribed yet); the
 * last status, its body and how many attempts it took are returned.
 */
export async function sendEvent(
  ingress: string,
  ev: { id: string; type: string; source: string; scan?: string; data: unknown },
  opts: { attempts?: number; delayMs?: number } = {},
): Promise<{ status: number; body: string; attempts: number }> {
  const attempts = opts.attempts ?? 10;
  let last = { status: 0, body: '', attempts: 0 };
  for (let i = 1; i <= attempts; i++) {
    const res = await fetch(ingress, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'ce-specversion': '1.0',
        'ce-id': ev.id,
        'ce-type': ev.type,
        'ce-source': ev.source,
        ...(ev.scan ? { 'ce-scan': ev.scan } : {}),
      },
      body: JSON.stringify(ev.data),
      signal: AbortSignal.timeout(30_000),
    });
    last = { status: res.status, body: (await res.text()).slice(0, 500), attempts: i };
    if (res.status < 500) return last;
    await sleep(opts.delayMs ?? 1000);
  }
  return last;
}

/** The last lines of the logs of the pods matching a label selector (for a failure's message). */
export async function podLogs(kube: Kube, ns: string, labelSelector: string, tailLines = 15): Promise<string> {
  const pods = await apiGet(kube, { verb: 'list', resource: 'pods' }, `/api/v1/namespaces/${ns}/pods`, { labelSelector });
  const out: string[] = [];
  for (const p of pods.items ?? []) {
    const res = await rawRequest(
      kube,
      { verb: 'get', resource: 'pods/log' },
      { method: 'GET', path: `/api/v1/namespaces/${ns}/pods/${p.metadata.name}/log?tailLines=${tailLines}` },
    );
    out.push(`${p.metadata.name}:\n${typeof res.body === 'string' ? res.body : JSON.stringify(res.body)}`.slice(0, 4000));
  }
  return out.join('\n') || `no pod matches ${labelSelector} in ${ns}`;
}

export { FUNCTIONS, NAMESPACE };
