// An optional REAL Knative on the real node (harness/node): Knative Serving v0.50.0 with Traefik
// v3.6.12 as its ingress (Traefik's Knative provider), and optionally Knative Eventing v0.50.0
// (the MT channel-based Broker over InMemoryChannel, PingSource). Root only, like the node.
//
// Built from pinned tool modules (harness/go/knative-serving, knative-eventing, traefik: `bash
// harness/build.sh knative-serving knative-eventing traefik`, cached and stamped). The YAML is the
// upstream one, read from the modules' zips in GOMODCACHE at install time (never copied into this
// repository): serving's config/core/** plus the files its symlinks point at (knative.dev/networking's
// config/*.yaml: ingress, certificate, serverlessservice, domain-claim, config-network; and knative.dev/caching's
// config/image.yaml, at the versions serving pins), eventing's config/core,
// config/brokers/mt-channel-broker and config/channels/in-memory-channel. At install time:
//   - `ko://knative.dev/<repo>/cmd/<path>` becomes the local image localhost/stackscan/knative-<repo>-<path>:v0.50.0
//     (harness/knative/images.sh; imported into the node's containerd, never pulled);
//   - CPU requests of the system Deployments are lowered to 10m (they idle; upstream asks ~600m for
//     Serving and ~800m for Eventing, more than a 2-core node can give next to the functions);
//   - config-network ingress-class = Traefik's, config-deployment skips tag resolution for
//     `localhost` (no registry to ask), queue-proxy CPU request 10m, config-autoscaler scales to
//     zero after a 10 s stable window and grace period (default 60 s + 30 s) so tests and demo see it;
//   - the HPAs, and Eventing's job-sink and request-reply Deployments (not built), are left out.
// Why this file is long: it is the one place that knows how Knative is installed here (module
// zips, the install-time changes, a generic server-side apply for kinds the scans never use, and
// Traefik's host process); split, each part would need the others' constants and ordering rules.
// Traefik runs on the host (a process of the node, on the node IP, swept with it): its private
// entry point serves the cluster-local routes behind the Service traefik/traefik-private (an
// EndpointSlice to the node IP), which Knative's routes point at (ExternalName through CoreDNS).
import { execFileSync, spawn } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import yaml from 'js-yaml';
import { DEFAULT_BIN_DIR, REPO_ROOT } from '../cluster/index.ts';
import { apiGet, rawRequest } from '../../lib/kube/raw.ts';
import type { Kube } from '../../lib/kube/client.ts';
import { NODE_IP, nodePreflight, type NodeCluster } from '../node/index.ts';

export const KNATIVE_VERSION = 'v0.50.0';
export const KNATIVE_BIN_DIR = join(DEFAULT_BIN_DIR, 'knative');
export const IMAGES_DIR = join(REPO_ROOT, '.cache/images');
const GO_DIR = join(REPO_ROOT, 'harness/go');
export const SERVING_CMDS = ['controller', 'activator', 'autoscaler', 'webhook', 'queue'] as const;
export const EVENTING_CMDS = [
  'controller',
  'webhook',
  'mtping',
  'broker-ingress',
  'broker-filter',
  'mtchannel-broker',
  'in-memory-channel-controller',
  'in-memory-channel-dispatcher',
] as const;
export const TRAEFIK_CLASS = 'traefik.ingress.networking.knative.dev';
export const TRAEFIK_NS = 'traefik';
const FIELD_MANAGER = 'stack-scan-harness';
const SYSTEM_CPU = '10m';
const TIMEOUT = { crds: 60_000, deployments: 240_000, webhook: 120_000, traefik: 30_000 };

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
type Obj = {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  [k: string]: any;
};

/** The local image of an upstream `ko://knative.dev/<repo>/cmd/<path>` reference. */
export function localImage(repo: string, cmdPath: string): string {
  return `localhost/stackscan/knative-${repo}-${cmdPath.replace(/[/_]/g, '-')}:${KNATIVE_VERSION}`;
}

export interface KnativeParts {
  /** Knative Eventing too (default false). */
  eventing?: boolean;
}

/** Why Knative cannot start on the real node here, or undefined when it can. Each reason says what to run. */
export function knativePreflight(opts: KnativeParts = {}): string | undefined {
  const node = nodePreflight();
  if (node) return node;
  const bins = [...SERVING_CMDS.map((c) => `serving-${c}`), 'traefik', ...(opts.eventing ? EVENTING_CMDS.map((c) => `eventing-${c}`) : [])];
  const missing = bins.filter((b) => !existsSync(join(KNATIVE_BIN_DIR, b)));
  if (missing.length)
    return (
      `missing ${missing.map((b) => `knative/${b}`).join(', ')} in ${DEFAULT_BIN_DIR}: run bash harness/build.sh knative-serving traefik` +
      `${opts.eventing ? ' knative-eventing' : ''} (about 10 min cold on 2 cores)`
    );
  const mods = [['knative-serving', 'knative.dev/serving'], ...(opts.eventing ? [['knative-eventing', 'knative.dev/eventing']] : [])];
  for (const [dir, mod] of mods) {
    try {
      moduleDir(mod, pinnedVersion(dir, mod), dir, false);
    } catch (e) {
      return (e as Error).message;
    }
  }
  return undefined;
}

// ---------------------------------------------------------------------------------------------
// upstream YAML from the module cache

let gomodcache: string | undefined;
function modCache(): string {
  return (gomodcache ??= process.env.GOMODCACHE || execFileSync('go', ['env', 'GOMODCACHE'], { encoding: 'utf8', timeout: 30_000 }).trim());
}

/** The version harness/go/<dir>/go.mod pins for a module (its require line). */
export function pinnedVersion(dir: string, mod: string): string {
  const gomod = readFileSync(join(GO_DIR, dir, 'go.mod'), 'utf8');
  const m = gomod.match(new RegExp(`^\\s*(?:require\\s+)?${mod.replace(/\./g, '\\.')}\\s+(v\\S+)`, 'm'));
  if (!m) throw new Error(`harness/go/${dir}/go.mod does not pin ${mod}`);
  return m[1];
}

/** A module's extracted zip in GOMODCACHE; downloaded (`go mod download`, the module proxy) when missing and allowed. */
export function moduleDir(mod: string, version: string, goDir: string, download = true): string {
  const esc = mod.replace(/[A-Z]/g, (c) => `!${c.toLowerCase()}`);
  const dir = join(modCache(), `${esc}@${version}`);
  if (existsSync(dir)) return dir;
  if (!download) return dir; // downloaded at install time
  execFileSync('go', ['mod', 'download', `${mod}@${version}`], { cwd: join(GO_DIR, goDir), stdio: ['ignore', 'ignore', 'pipe'], timeout: 300_000 });
  if (!existsSync(dir)) throw new Error(`go mod download ${mod}@${version} did not produce ${dir}`);
  return dir;
}

function yamlFiles(dir: string, skip: (rel: string) => boolean, rel = ''): string[] {
  const out: string[] = [];
  for (const e of readdirSync(join(dir, rel)).sort()) {
    const r = rel ? `${rel}/${e}` : e;
    const st = statSync(join(dir, r));
    if (st.isDirectory()) out.push(...yamlFiles(dir, skip, r));
    else if (/\.ya?ml$/.test(e) && !skip(r)) out.push(join(dir, r));
  }
  return out;
}

function loadFile(path: string): Obj[] {
  const text = readFileSync(path, 'utf8').replace(/ko:\/\/knative\.dev\/(serving|eventing)\/cmd\/([A-Za-z0-9_/]+)/g, (_m, repo: string, p: string) =>
    localImage(repo, p),
  );
  return yaml.loadAll(text).filter((d): d is Obj => !!d && typeof d === 'object' && 'kind' in (d as object));
}

/** Knative Serving's upstream objects, as they would be installed (before localize()). */
export function servingObjects(): Obj[] {
  const v = pinnedVersion('knative-serving', 'knative.dev/serving');
  const serving = moduleDir('knative.dev/serving', v, 'knative-serving');
  const networking = moduleDir('knative.dev/networking', pinnedVersion('knative-serving', 'knative.dev/networking'), 'knative-serving');
  const caching = moduleDir('knative.dev/caching', pinnedVersion('knative-serving', 'knative.dev/caching'), 'knative-serving');
  const files = [
    ...yamlFiles(join(serving, 'config/core'), (r) => /-hpa\.yaml$/.test(r)),
    // The symlinks serving's repository has in config/core (left out of the module zip): every
    // file of networking's config/ (ingress, certificate, serverlessservice, domain-claim: the
    // controller waits for ClusterDomainClaim's informer, config-network).
    ...readdirSync(join(networking, 'config'))
      .filter((f) => f.endsWith('.yaml'))
      .sort()
      .map((f) => join(networking, 'config', f)),
    join(caching, 'config/image.yaml'),
  ];
  return files.flatMap(loadFile);
}

/** Knative Eventing's upstream objects: core, the MT channel-based Broker, the InMemoryChannel. */
export function eventingObjects(): Obj[] {
  const eventing = moduleDir('knative.dev/eventing', pinnedVersion('knative-eventing', 'knative.dev/eventing'), 'knative-eventing');
  const skip = (r: string) => /hpa\.yaml$|job-sink\.yaml$|request-reply\.yaml$/.test(r);
  // third_party/eventing-integrations-latest: the two image ConfigMaps the controller's Deployment
  // reads its environment from (the release adds them to eventing-core.yaml, hack/release.sh).
  return ['config/core', 'config/brokers/mt-channel-broker', 'config/channels/in-memory-channel', 'third_party/eventing-integrations-latest']
    .flatMap((d) => yamlFiles(join(eventing, d), skip))
    .flatMap(loadFile);
}

/** The install-time changes (see the header): CPU requests, never pull, ConfigMaps for Traefik and a local registry. */
export function localize(objs: Obj[]): Obj[] {
  const out: Obj[] = [];
  for (const o of objs) {
    if (o.kind === 'HorizontalPodAutoscaler' || o.kind === 'PodDisruptionBudget') continue;
    const c = structuredClone(o);
    if (c.kind === 'Deployment' || c.kind === 'StatefulSet' || c.kind === 'DaemonSet') {
      for (const ctr of [...(c.spec.template.spec.containers ?? []), ...(c.spec.template.spec.initContainers ?? [])]) {
        if (String(ctr.image).startsWith('localhost/')) ctr.imagePullPolicy = 'Never';
        ctr.resources ??= {};
        ctr.resources.requests = { ...(ctr.resources.requests ?? {}), cpu: SYSTEM_CPU };
      }
      // One node: no anti-affinity to honour.
      delete c.spec.template.spec.affinity;
    }
    if (c.kind === 'ConfigMap') {
      const d = (c.data ??= {});
      const ns = c.metadata.namespace;
      if (ns === 'knative-serving' && c.metadata.name === 'config-network') d['ingress-class'] = TRAEFIK_CLASS;
      if (ns === 'knative-serving' && c.metadata.name === 'config-deployment') {
        // Upstream's default, said explicitly: the functions' local images are dev.local/… (no
        // registry to resolve their tags with; a localhost/… name would be looked up on Docker Hub).
        d['registries-skipping-tag-resolving'] = 'kind.local,ko.local,dev.local';
        d['queue-sidecar-cpu-request'] = SYSTEM_CPU;
        d['progress-deadline'] = '300s';
      }
      if (ns === 'knative-serving' && c.metadata.name === 'config-autoscaler') {
        d['stable-window'] = '10s';
        d['scale-to-zero-grace-period'] = '10s';
      }
    }
    out.push(c);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// applying any kind: discovery + server-side apply

const resources = new Map<string, Map<string, { plural: string; namespaced: boolean }>>();

async function resourceOf(kube: Kube, apiVersion: string, kind: string): Promise<{ plural: string; namespaced: boolean } | undefined> {
  let m = resources.get(apiVersion);
  if (!m?.has(kind)) {
    const path = apiVersion.includes('/') ? `/apis/${apiVersion}` : `/api/${apiVersion}`;
    const res = await rawRequest(kube, { verb: 'get', resource: 'discovery' }, { method: 'GET', path });
    if (res.status !== 200) return undefined;
    m = new Map();
    for (const r of (res.body as any).resources ?? []) if (!String(r.name).includes('/')) m.set(r.kind, { plural: r.name, namespaced: r.namespaced });
    resources.set(apiVersion, m);
  }
  return m.get(kind);
}

export async function objectPath(kube: Kube, o: Pick<Obj, 'apiVersion' | 'kind' | 'metadata'>): Promise<string> {
  const r = await resourceOf(kube, o.apiVersion, o.kind);
  if (!r) throw new Error(`the API server does not serve ${o.kind} (${o.apiVersion})`);
  const prefix = o.apiVersion.includes('/') ? `/apis/${o.apiVersion}` : `/api/${o.apiVersion}`;
  return `${prefix}${r.namespaced ? `/namespaces/${o.metadata.namespace ?? 'default'}` : ''}/${r.plural}/${o.metadata.name}`;
}

/** Server-side apply of any kind the API server serves (CRDs included, once established). */
export async function applyAny(kube: Kube, o: Obj): Promise<void> {
  const path = await objectPath(kube, o);
  const res = await rawRequest(
    kube,
    { verb: 'apply', resource: o.kind, namespace: o.metadata.namespace },
    {
      method: 'PATCH',
      path,
      query: { fieldManager: FIELD_MANAGER, force: 'true' },
      body: o,
      contentType: 'application/apply-patch+yaml',
      timeoutMs: 30_000,
    },
  );
  if (res.status >= 300)
    throw new Error(
      `apply ${o.kind} ${o.metadata.namespace ? `${o.metadata.namespace}/` : ''}${o.metadata.name}: ${res.status} ` +
        `${JSON.stringify((res.body as any)?.message ?? res.body).slice(0, 600)}`,
    );
}

export async function getAny(kube: Kube, o: Pick<Obj, 'apiVersion' | 'kind' | 'metadata'>): Promise<any | undefined> {
  const res = await rawRequest(kube, { verb: 'get', resource: o.kind }, { method: 'GET', path: await objectPath(kube, o) });
  if (res.status === 404) return undefined;
  if (res.status >= 300) throw new Error(`get ${o.kind} ${o.metadata.name}: ${res.status} ${JSON.stringify(res.body).slice(0, 300)}`);
  return res.body;
}

export async function deleteAny(kube: Kube, o: Pick<Obj, 'apiVersion' | 'kind' | 'metadata'>): Promise<void> {
  const res = await rawRequest(kube, { verb: 'delete', resource: o.kind }, { method: 'DELETE', path: await objectPath(kube, o) });
  if (res.status >= 300 && res.status !== 404) throw new Error(`delete ${o.kind} ${o.metadata.name}: ${res.status} ${JSON.stringify(res.body).slice(0, 300)}`);
}

/** Apply objects in a safe order: namespaces and CRDs first (waited until established), webhook configurations last. */
export async function applyAll(kube: Kube, objs: Obj[], log: (l: string) => void = () => {}): Promise<void> {
  const rank = (o: Obj) => (o.kind === 'Namespace' ? 0 : o.kind === 'CustomResourceDefinition' ? 1 : /WebhookConfiguration$/.test(o.kind) ? 3 : 2);
  const sorted = [...objs].sort((a, b) => rank(a) - rank(b));
  for (const o of sorted.filter((x) => rank(x) < 2)) await applyAny(kube, o);
  const crds = sorted.filter((o) => o.kind === 'CustomResourceDefinition');
  const deadline = Date.now() + TIMEOUT.crds;
  for (const crd of crds) {
    for (;;) {
      const cur = await getAny(kube, crd);
      if (cur?.status?.conditions?.some((c: any) => c.type === 'Established' && c.status === 'True')) break;
      if (Date.now() > deadline) throw new Error(`CRD ${crd.metadata.name} not established after ${TIMEOUT.crds / 1000}s`);
      await sleep(200);
    }
  }
  if (crds.length) {
    resources.clear();
    log(`${crds.length} CRDs established`);
  }
  for (const o of sorted.filter((x) => rank(x) >= 2)) await applyAny(kube, o);
}

/** Wait until every Deployment of a namespace (with replicas > 0) has all replicas available. */
export async function waitDeployments(kube: Kube, ns: string, timeoutMs = TIMEOUT.deployments): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  while (Date.now() < deadline) {
    const list = await apiGet(kube, { verb: 'list', resource: 'deployments' }, `/apis/apps/v1/namespaces/${ns}/deployments`);
    const waiting = (list.items ?? []).filter((d: any) => (d.spec.replicas ?? 1) > 0 && (d.status?.availableReplicas ?? 0) < (d.spec.replicas ?? 1));
    if (!waiting.length && (list.items ?? []).length) return;
    last = waiting.map((d: any) => d.metadata.name).join(', ');
    await sleep(1000);
  }
  const pods = await apiGet(kube, { verb: 'list', resource: 'pods' }, `/api/v1/namespaces/${ns}/pods`);
  const states = (pods.items ?? [])
    .map(
      (p: any) =>
        `${p.metadata.name} ${p.status?.phase} ` +
        `${JSON.stringify(p.status?.containerStatuses?.map((c: any) => c.state) ?? p.status?.conditions ?? {}).slice(0, 300)}`,
    )
    .join('\n  ');
  throw new Error(`timed out after ${timeoutMs / 1000}s waiting for Deployments in ${ns}: ${last}\n  ${states}`);
}

// ---------------------------------------------------------------------------------------------
// images, Traefik

async function freePort(host: string): Promise<number> {
  return new Promise((res, rej) => {
    const s = createServer();
    s.once('error', rej);
    s.listen(0, host, () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => res(p));
    });
  });
}

/** Build (cached) and import image archives into the node's containerd. */
export function importImages(nc: NodeCluster, archives: string[], log: (l: string) => void = () => {}): void {
  const t0 = Date.now();
  execFileSync('bash', [join(REPO_ROOT, 'harness/knative/images.sh'), ...archives], { stdio: ['ignore', 'pipe', 'pipe'], timeout: 900_000 });
  const ctr = join(DEFAULT_BIN_DIR, 'ctr');
  for (const a of archives) {
    execFileSync(
      ctr,
      [
        '--address',
        join(nc.node.dir, 'containerd.sock'),
        '-n',
        'k8s.io',
        'images',
        'import',
        '--local',
        join(IMAGES_DIR, `${a === 'functions' ? 'functions' : `knative-${a}`}.tar`),
      ],
      { stdio: ['ignore', 'pipe', 'pipe'], timeout: 300_000 },
    );
  }
  log(`images ${archives.join(', ')} built/imported into the node's containerd (${((Date.now() - t0) / 1000).toFixed(1)}s)`);
}

export interface TraefikHandle {
  /** http://127.0.0.1:<port>: /ping and Traefik's read-only API (loopback only). */
  adminUrl: string;
  /** http://<node ip>:<port> of the private entry point (cluster-local routes). */
  privateUrl: string;
  publicUrl: string;
  pid: number;
  logPath: string;
  stop(): Promise<void>;
}

function traefikObjects(host: string, publicPort: number, privatePort: number): Obj[] {
  const svc = (name: string, port: number): Obj[] => [
    {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name, namespace: TRAEFIK_NS, labels: { 'app.kubernetes.io/name': 'traefik' } },
      spec: { ports: [{ name: 'http', port: 80, targetPort: port, protocol: 'TCP' }] },
    },
    {
      apiVersion: 'discovery.k8s.io/v1',
      kind: 'EndpointSlice',
      metadata: {
        name: `${name}-node`,
        namespace: TRAEFIK_NS,
        labels: { 'kubernetes.io/service-name': name, 'endpointslice.kubernetes.io/managed-by': FIELD_MANAGER },
      },
      addressType: 'IPv4',
      endpoints: [{ addresses: [host], conditions: { ready: true } }],
      ports: [{ name: 'http', port, protocol: 'TCP' }],
    },
  ];
  return [
    { apiVersion: 'v1', kind: 'Namespace', metadata: { name: TRAEFIK_NS } },
    { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'traefik', namespace: TRAEFIK_NS } },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRole',
      metadata: { name: 'stackscan-traefik-knative' },
      rules: [
        { apiGroups: ['networking.internal.knative.dev'], resources: ['ingresses'], verbs: ['get', 'list', 'watch'] },
        { apiGroups: ['networking.internal.knative.dev'], resources: ['ingresses/status'], verbs: ['update', 'patch'] },
        { apiGroups: [''], resources: ['services', 'endpoints', 'secrets'], verbs: ['get', 'list', 'watch'] },
      ],
    },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRoleBinding',
      metadata: { name: 'stackscan-traefik-knative' },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'stackscan-traefik-knative' },
      subjects: [{ kind: 'ServiceAccount', name: 'traefik', namespace: TRAEFIK_NS }],
    },
    ...svc('traefik', publicPort),
    ...svc('traefik-private', privatePort),
  ];
}

/**
 * Traefik on the host, on the node IP, with its Knative provider: reads KIngress objects of
 * Traefik's class as the ServiceAccount traefik/traefik (a bound token from the TokenRequest API,
 * passed in the environment), marks them ready with traefik/traefik (public) and
 * traefik/traefik-private (cluster-local) as their load balancers. Its command line names the
 * node's dir, so a killed run's sweep kills it with the node.
 */
export interface TraefikPlace {
  /** The node's dir (Traefik's files, log and pidfile go there; its command line names it). */
  dir: string;
  /** The API server's URL and CA. */
  server: string;
  caPath: string;
  /** Where Traefik listens and what its Services' EndpointSlices point at (default the node IP). */
  host?: string;
  /** The EndpointSlices' address when `host` cannot be one (loopback): default `host`. */
  endpointIp?: string;
}

export const traefikPlace = (nc: NodeCluster): TraefikPlace => ({ dir: nc.node.dir, server: nc.cp.server, caPath: nc.cp.caPath });

export async function startTraefik(place: TraefikPlace, kube: Kube, log: (l: string) => void = () => {}): Promise<TraefikHandle> {
  const host = place.host ?? NODE_IP;
  const [publicPort, privatePort, pingPort] = [await freePort(host), await freePort(host), await freePort('127.0.0.1')];
  for (const o of traefikObjects(place.endpointIp ?? host, publicPort, privatePort)) await applyAny(kube, o);
  const tr = await rawRequest(
    kube,
    { verb: 'create', resource: 'serviceaccounts/token' },
    {
      method: 'POST',
      path: `/api/v1/namespaces/${TRAEFIK_NS}/serviceaccounts/traefik/token`,
      body: { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenRequest', spec: { expirationSeconds: 86400 } },
    },
  );
  if (tr.status >= 300) throw new Error(`TokenRequest for traefik/traefik: ${tr.status} ${JSON.stringify(tr.body).slice(0, 300)}`);
  const token = (tr.body as any).status.token as string;
  const dir = join(place.dir, 'traefik');
  mkdirSync(dir, { recursive: true });
  // Traefik takes its static configuration from one source only (its command line here), so a
  // TRAEFIK_* environment variable would be ignored; and a token on the command line would be
  // readable by every local user. Its Knative provider reads KUBECONFIG: a 0600 file with the
  // bound token and the API server's CA.
  const kubeconfig = join(dir, 'kubeconfig');
  writeFileSync(
    kubeconfig,
    yaml.dump({
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [{ name: 'c', cluster: { server: place.server, 'certificate-authority-data': readFileSync(place.caPath).toString('base64') } }],
      users: [{ name: 'traefik', user: { token } }],
      contexts: [{ name: 'traefik', context: { cluster: 'c', user: 'traefik' } }],
      'current-context': 'traefik',
    }),
    { mode: 0o600 },
  );
  const logPath = join(place.dir, 'traefik.log');
  const fd = openSync(logPath, 'a');
  const args = [
    `--entryPoints.web.address=${host}:${publicPort}`,
    `--entryPoints.private.address=${host}:${privatePort}`,
    // Loopback only: /ping, and Traefik's read-only API (/api/http/routers: what it routes).
    `--entryPoints.traefik.address=127.0.0.1:${pingPort}`,
    // A scan may run up to its Service's timeoutSeconds (600): Traefik's 60 s read timeout would cut it.
    ...['web', 'private'].flatMap((e) => [
      `--entryPoints.${e}.transport.respondingTimeouts.readTimeout=0s`,
      `--entryPoints.${e}.transport.respondingTimeouts.writeTimeout=0s`,
    ]),
    '--ping=true',
    '--api=true',
    '--api.insecure=true',
    '--api.dashboard=false',
    '--experimental.knative=true',
    '--providers.knative=true',
    '--providers.knative.publicEntrypoints=web',
    `--providers.knative.publicService.name=traefik`,
    `--providers.knative.publicService.namespace=${TRAEFIK_NS}`,
    '--providers.knative.privateEntrypoints=private',
    `--providers.knative.privateService.name=traefik-private`,
    `--providers.knative.privateService.namespace=${TRAEFIK_NS}`,
    '--global.checkNewVersion=false',
    '--global.sendAnonymousUsage=false',
    '--log.level=INFO',
    // Its log file, in the node's dir: also what lets the node's sweep recognise this process by
    // its pidfile after a kill (the sweep checks that the command line names the dir).
    `--log.filePath=${logPath}`,
  ];
  let child;
  try {
    child = spawn(join(KNATIVE_BIN_DIR, 'traefik'), args, {
      cwd: dir,
      detached: true,
      stdio: ['ignore', fd, fd],
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', KUBECONFIG: kubeconfig },
    });
  } finally {
    closeSync(fd);
  }
  if (child.pid === undefined) throw new Error('could not start traefik');
  child.unref();
  const pid = child.pid;
  let exited = false;
  child.once('exit', () => (exited = true));
  writeFileSync(join(place.dir, 'traefik.pid'), `${pid}\n`);
  const deadline = Date.now() + TIMEOUT.traefik;
  for (;;) {
    if (exited) throw new Error(`traefik exited at start: ${readFileSync(logPath, 'utf8').split('\n').slice(-15).join('\n')}`);
    try {
      if ((await fetch(`http://127.0.0.1:${pingPort}/ping`)).ok) break;
    } catch {
      /* not yet */
    }
    if (Date.now() > deadline)
      throw new Error(`traefik did not answer /ping within ${TIMEOUT.traefik / 1000}s: ${readFileSync(logPath, 'utf8').split('\n').slice(-15).join('\n')}`);
    await sleep(250);
  }
  log(`traefik (Knative provider) on ${host}: public :${publicPort}, cluster-local :${privatePort}`);
  return {
    adminUrl: `http://127.0.0.1:${pingPort}`,
    publicUrl: `http://${host}:${publicPort}`,
    privateUrl: `http://${host}:${privatePort}`,
    pid,
    logPath,
    async stop() {
      try {
        process.kill(-pid, 'SIGTERM');
      } catch {
        /* gone */
      }
      for (let i = 0; i < 40 && !exited; i++) await sleep(50);
      if (!exited)
        try {
          process.kill(-pid, 'SIGKILL');
        } catch {
          /* gone */
        }
    },
  };
}

// ---------------------------------------------------------------------------------------------
// start

export interface Knative {
  traefik: TraefikHandle;
  eventing: boolean;
  /** How long each part took to come up, in ms. */
  timings: Record<string, number>;
  stop(): Promise<void>;
}

/**
 * Install Knative Serving (+ Eventing) on a running real node and start Traefik. stop() stops
 * Traefik; everything else lives in the node's cluster and goes with it (nc.stop(), or the sweep).
 */
export async function startKnative(nc: NodeCluster, kube: Kube, opts: KnativeParts & { log?: (l: string) => void } = {}): Promise<Knative> {
  const log = opts.log ?? (() => {});
  const why = knativePreflight(opts);
  if (why) throw new Error(`Knative cannot start on the real node: ${why}`);
  const timings: Record<string, number> = {};
  let t = Date.now();
  importImages(nc, ['serving', ...(opts.eventing ? ['eventing'] : [])], log);
  timings.images = Date.now() - t;

  t = Date.now();
  const serving = localize(servingObjects());
  await applyAll(kube, serving, log);
  const traefik = await startTraefik(traefikPlace(nc), kube, log);
  try {
    await waitDeployments(kube, 'knative-serving');
    await waitWebhook(kube, 'webhook.serving.knative.dev');
    timings.serving = Date.now() - t;
    log(
      `Knative Serving ${KNATIVE_VERSION} ready: ${serving.length} objects, controller, activator, autoscaler, webhook (` +
        `${(timings.serving / 1000).toFixed(1)}s)`,
    );
    if (opts.eventing) {
      t = Date.now();
      const ev = localize(eventingObjects());
      await applyAll(kube, ev, log);
      await waitDeployments(kube, 'knative-eventing');
      await waitWebhook(kube, 'webhook.eventing.knative.dev');
      timings.eventing = Date.now() - t;
      log(
        `Knative Eventing ${KNATIVE_VERSION} ready: ${ev.length} objects, MT channel-based Broker over InMemoryChannel, PingSource (` +
          `${(timings.eventing / 1000).toFixed(1)}s)`,
      );
    }
  } catch (e) {
    await traefik.stop();
    throw e;
  }
  return { traefik, eventing: !!opts.eventing, timings, stop: () => traefik.stop() };
}

/** Wait until a Knative webhook has written its CA into its MutatingWebhookConfiguration (it serves then). */
async function waitWebhook(kube: Kube, name: string): Promise<void> {
  const deadline = Date.now() + TIMEOUT.webhook;
  for (;;) {
    const res = await rawRequest(
      kube,
      { verb: 'get', resource: 'mutatingwebhookconfigurations' },
      { method: 'GET', path: `/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations/${name}` },
    );
    if (res.status === 200 && (res.body as any).webhooks?.every((w: any) => w.clientConfig?.caBundle)) return;
    if (Date.now() > deadline) throw new Error(`the webhook ${name} did not get its certificate within ${TIMEOUT.webhook / 1000}s`);
    await sleep(500);
  }
}
