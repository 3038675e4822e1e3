// A real, local Kubernetes control plane for tests and the demo, in the style of
// controller-runtime's envtest: the real etcd, kube-apiserver and Gatekeeper
// binaries (built by harness/build.sh into .cache/bin) run as local
// processes on free loopback ports. There is no kubelet and no container runtime,
// so pods are stored but never run; everything else (authn by client certs, RBAC,
// admission, server-side dry-run, CRDs, Gatekeeper's admission webhook and audit)
// is the real thing.
//
// Gatekeeper flags, and why:
//   --operation=webhook --operation=audit --operation=status --operation=generate
//       One out-of-cluster process does what the real deployment splits over two
//       Deployments (webhook pods: webhook; audit pod: audit, status, generate), minus
//       the mutation operations (not scanned). "generate" is required: in v3.23 it is
//       the operation that creates each ConstraintTemplate's constraint CRD
//       (constrainttemplate_controller.go generateCRD); it also creates VAP/VAPB.
//   VAP: --default-create-vap-for-templates=false --default-create-vap-binding-for-constraints=false
//       In v3.23.1 both default to true (beta) and act because "generate" is assigned.
//       With false, no ValidatingAdmissionPolicy is generated unless a template sets
//       generateVAP: true explicitly, and no binding unless a constraint scopes an
//       enforcement action to vap.k8s.io (Gatekeeper's documented opt-in semantics).
//       Reason: the OPA scan reads denials from the webhook
//       (`admission webhook "validation.gatekeeper.sh" denied the request: [<constraint>] ...`).
//       A generated VAP + binding would make the apiserver itself deny CEL-based
//       templates with a different message ("ValidatingAdmissionPolicy '...' denied
//       request"), before and instead of the webhook. --enable-k8s-native-validation
//       stays at its default (true): K8sNativeValidation (CEL) templates are still
//       evaluated, by Gatekeeper's own CEL driver inside the webhook and audit.
//   --debug-use-fake-pod, POD_NAMESPACE=gatekeeper-system, POD_NAME=no-pod
//       Gatekeeper reads its namespace from POD_NAMESPACE and its identity from
//       POD_NAME (pkg/util/pod_info.go); --debug-use-fake-pod makes it use a fake Pod
//       object (name "no-pod", uid "abcd") as the owner of its *PodStatus objects
//       instead of GETting its own Pod, which does not exist out of cluster.
//   --disable-cert-rotation --cert-dir=<dir> (ca.crt, tls.crt, tls.key made here with
//       openssl; IP SAN 127.0.0.1) --host=127.0.0.1 --port=<free>
//       We register the ValidatingWebhookConfiguration ourselves with clientConfig.url
//       and caBundle, so there is no Service and nothing for the rotator to patch.
//   --health-addr=127.0.0.1:<free> (we wait for /readyz), --metrics-addr=0 (the default:
//       controller-runtime metrics off), --prometheus-port=<free> (the prometheus
//       metrics backend is on by default and would otherwise bind :8888).
//   --audit-interval=5 (default 60) so audit results show up quickly;
//   --api-cache-dir=<dir>/gatekeeper-audit (default /tmp/audit, shared between runs otherwise);
//   --shutdown-delay=0 (default 10s, only useful behind a Service);
//   --exempt-namespace=gatekeeper-system (as the real webhook Deployment);
//   --log-denies (each denial is logged to gatekeeper.log).
//   --disable-opa-builtin is not set: nothing here can reach a network anyway.
// The ValidatingWebhookConfiguration mirrors deploy/gatekeeper.yaml of v3.23.1
// (name, webhook names, rules incl. the subresources, namespaceSelector, timeouts),
// except: clientConfig.url instead of a Service, failurePolicy Fail instead of Ignore
// for validation.gatekeeper.sh (a test must never pass because the webhook was not
// called), and kube-system is excluded too.
//
// kube-apiserver: as envtest, the ServiceAccount admission plugin is disabled, because
// without kube-controller-manager no namespace ever gets its "default" ServiceAccount
// and every pod create (even a dry-run) would fail on the lookup. Likewise nothing
// finalizes a deleted namespace: it stays Terminating (harmless in a throwaway cluster),
// no garbage collection happens, and the aggregated ClusterRoles admin/edit/view have no
// rules (the aggregation controller fills them in): bind your own Roles in RBAC tests.
// Gatekeeper talks to the apiserver with the admin kubeconfig (system:masters).
//
// Processes run in their own process groups with their output in <dir>/*.log, a pidfile
// each (<dir>/<name>.pid) and the owning node process in <dir>/owner. stop() (and the
// process exit/SIGINT/SIGTERM hooks installed here) kill them and remove the dir; a
// later start sweeps dirs left by a crashed run (os.tmpdir()/stackscan-cp-*).
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, existsSync, openSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { mkdtemp, mkdir, readFile, writeFile } from 'node:fs/promises';
import { request as httpsRequest } from 'node:https';
import { request as httpRequest } from 'node:http';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import * as k8s from '@kubernetes/client-node';
import yaml from 'js-yaml';
import { killGroup, ownerAlive, ownerId, readFileSafe } from '../proc.ts';

const execFileP = promisify(execFile);

export interface ControlPlane {
  /** Temp dir holding certs, kubeconfigs, logs, pidfiles and etcd data; removed by stop(). */
  dir: string;
  /** Admin kubeconfig (client cert CN=admin, O=system:masters). */
  kubeconfigPath: string;
  /** https://127.0.0.1:<port> */
  server: string;
  /** The cluster CA (signs the apiserver serving cert and all client certs). */
  caPath: string;
  /** https://127.0.0.1:<port> of Gatekeeper's webhook server, when started. */
  gatekeeperUrl?: string;
  stop(): Promise<void>;
  /** Writes a kubeconfig for `user` (client cert CN=user, O=groups) and returns its path. */
  userKubeconfig(user: string, groups?: string[]): Promise<string>;
  /**
   * Issues a certificate signed by the cluster CA (CN=cn, O=groups; usages; SANs such as
   * 'IP:10.244.0.1') and returns the paths of its PEM files. Used by harness/node.
   */
  issueCert(name: string, cn: string, groups: string[], usage: ('serverAuth' | 'clientAuth')[], sans?: string[]): Promise<{ cert: string; key: string }>;
  /** The service-account signing key pair (PEM): kube-controller-manager needs the private key. */
  serviceAccountKey: { key: string; pub: string };
  /** The Service CIDR (--service-cluster-ip-range). */
  serviceCidr: string;
}

/**
 * Options for a control plane that a real node (harness/node) joins: the API server listens on
 * `address` (the node's bridge IP, so pods reach it through the `kubernetes` Service) instead of
 * 127.0.0.1, authorizes with Node,RBAC plus NodeRestriction, keeps the ServiceAccount admission
 * plugin (kube-controller-manager creates the default ServiceAccounts), and calls kubelets with
 * a client certificate (group system:masters) verified against the cluster CA.
 */
export interface NodeApiOptions {
  address: string;
}

export interface StartOptions {
  /** Start Gatekeeper too (default true). */
  gatekeeper?: boolean;
  /** Progress lines (what started, how long it took). */
  log?: (line: string) => void;
  /** Where kube-apiserver, etcd and gatekeeper are (default <repo>/.cache/bin). */
  binDir?: string;
  /** Prepare the API server for a real node (harness/node); default: none. */
  node?: NodeApiOptions;
}

export const REPO_ROOT = resolve(import.meta.dirname, '../..');
export const DEFAULT_BIN_DIR = process.env.STACKSCAN_CP_BIN_DIR ?? join(REPO_ROOT, '.cache/bin');
export const BINARIES = ['etcd', 'kube-apiserver', 'gatekeeper'] as const;
const DIR_PREFIX = 'stackscan-cp-';
const SERVICE_CIDR = '10.0.0.0/24';
const SERVICE_IP = '10.0.0.1';
const GK_NAMESPACE = 'gatekeeper-system';
const GK_IGNORE_LABEL = 'admission.gatekeeper.sh/ignore';
const GK_VWC_NAME = 'gatekeeper-validating-webhook-configuration';
const TIMEOUTS = { etcd: 20_000, apiserver: 60_000, crds: 30_000, gatekeeper: 60_000, webhook: 30_000 };

/** The Gatekeeper CRDs written by harness/build.sh next to the binaries. */
export function gatekeeperCrdsPath(binDir = DEFAULT_BIN_DIR): string {
  return join(binDir, '..', 'gatekeeper', 'crds.yaml');
}

// ---------------------------------------------------------------------------------
// process bookkeeping and cleanup

interface Proc {
  name: string;
  child: ChildProcess;
  pid: number;
  logPath: string;
  exited: Promise<void>;
  exit?: { code: number | null; signal: NodeJS.Signals | null };
}

interface Live {
  dir: string;
  procs: Proc[];
  /** Already SIGKILLed and removed by the synchronous exit/signal cleanup. */
  killed?: boolean;
}

const live = new Set<Live>();
let hooksInstalled = false;

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Synchronous last-resort cleanup (process exit / signals): SIGKILL everything, remove dirs. */
function cleanupAllSync(): void {
  for (const l of live) {
    l.killed = true;
    for (const p of l.procs) if (!p.exit) killGroup(p.pid, 'SIGKILL');
    rmSync(l.dir, { recursive: true, force: true });
  }
  live.clear();
}

function installHooks(): void {
  if (hooksInstalled) return;
  hooksInstalled = true;
  process.on('exit', cleanupAllSync);
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    const handler = () => {
      cleanupAllSync();
      // If we are the only listener, keep the default behaviour (terminate); otherwise
      // the program's own handler (e.g. test/run.ts) decides, and finds nothing left to stop.
      if (process.listenerCount(sig) === 1) {
        process.removeListener(sig, handler);
        process.kill(process.pid, sig);
      }
    };
    process.on(sig, handler);
  }
}

function procCmdline(pid: number): string | undefined {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ');
  } catch {
    return undefined;
  }
}

/**
 * Remove what crashed runs left behind: for each os.tmpdir()/stackscan-cp-* whose owner
 * process is gone, kill the processes recorded in its pidfiles (only if still alive and
 * their command line is one of our binaries working in that dir), then remove the dir.
 */
export function sweepOrphans(log: (line: string) => void = () => {}): void {
  let entries: string[];
  try {
    entries = readdirSync(tmpdir()).filter((e) => e.startsWith(DIR_PREFIX));
  } catch {
    return;
  }
  for (const e of entries) {
    const dir = join(tmpdir(), e);
    let owner = '';
    try {
      owner = readFileSync(join(dir, 'owner'), 'utf8').trim();
    } catch {
      /* no owner file: being created right now, or half-removed */
    }
    const ownerPid = Number(owner.split(' ')[0]);
    if (!owner) {
      // Created less than a minute ago: possibly another run starting up.
      try {
        const age = Date.now() - statSync(dir).mtimeMs;
        if (age < 60_000) continue;
      } catch {
        continue;
      }
    } else if (ownerPid && isAlive(ownerPid) && ownerAlive(owner)) {
      continue; // a live run (maybe this very process)
    }
    let files: string[] = [];
    try {
      files = readdirSync(dir).filter((f) => f.endsWith('.pid'));
    } catch {
      /* gone */
    }
    for (const f of files) {
      const pid = Number(readFileSafe(join(dir, f)).trim());
      if (!pid || !isAlive(pid)) continue;
      const cmd = procCmdline(pid);
      const name = f.slice(0, -4);
      // Only processes we started: our binary, with arguments pointing into this dir.
      if (cmd === undefined || !cmd.includes(name) || !cmd.includes(dir)) continue;
      log(`sweeping orphaned ${name} (pid ${pid}) from ${dir}`);
      killGroup(pid, 'SIGKILL');
    }
    rmSync(dir, { recursive: true, force: true });
    log(`removed orphaned control-plane dir ${dir}`);
  }
}


// ---------------------------------------------------------------------------------
// helpers

async function freePorts(n: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from({ length: n }, () =>
      new Promise<ReturnType<typeof createServer>>((res, rej) => {
        const s = createServer();
        s.once('error', rej);
        s.listen(0, '127.0.0.1', () => res(s));
      }),
    ),
  );
  const ports = servers.map((s) => (s.address() as { port: number }).port);
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  return ports;
}

function tail(path: string, lines = 40): string {
  const text = readFileSafe(path).trimEnd();
  return text.split('\n').slice(-lines).join('\n');
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** p's value, or false after ms; the timer is cleared so it never holds the process open. */
async function within(p: Promise<boolean>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([p, new Promise<boolean>((r) => (timer = setTimeout(() => r(false), ms)))]);
  } finally {
    clearTimeout(timer);
  }
}

interface TlsClient {
  ca?: string | Buffer;
  cert?: string | Buffer;
  key?: string | Buffer;
}

function get(url: string, tls: TlsClient = {}, timeoutMs = 2000): Promise<{ status: number; body: string }> {
  return new Promise((res, rej) => {
    const u = new URL(url);
    const req = (u.protocol === 'https:' ? httpsRequest : httpRequest)(
      u,
      { method: 'GET', timeout: timeoutMs, ...(u.protocol === 'https:' ? tls : {}) },
      (r) => {
        let body = '';
        r.setEncoding('utf8');
        r.on('data', (c) => (body += c));
        r.on('end', () => res({ status: r.statusCode ?? 0, body }));
        r.on('error', rej);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`timeout after ${timeoutMs}ms`)));
    req.on('error', rej);
    req.end();
  });
}

/** Poll until check() returns true; fail fast if the process exits; clear error on timeout. */
async function waitFor(
  what: string,
  timeoutMs: number,
  check: () => Promise<boolean>,
  proc?: Proc,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  let delay = 50;
  while (Date.now() < deadline) {
    if (proc?.exit) {
      throw new Error(
        `${proc.name} exited (code ${proc.exit.code}, signal ${proc.exit.signal}) while waiting for ${what}. ` +
          `Last lines of ${proc.logPath}:\n${tail(proc.logPath)}`,
      );
    }
    try {
      if (await check()) return;
    } catch (e) {
      last = e instanceof Error ? e.message : String(e);
    }
    await sleep(delay);
    delay = Math.min(delay * 2, 500);
  }
  throw new Error(
    `timed out after ${timeoutMs / 1000}s waiting for ${what}${last ? ` (last error: ${last})` : ''}` +
      (proc ? `. Last lines of ${proc.logPath}:\n${tail(proc.logPath)}` : ''),
  );
}

// ---------------------------------------------------------------------------------
// PKI (openssl CLI)

const OPENSSL = existsSync('/usr/bin/openssl') ? '/usr/bin/openssl' : 'openssl';

async function openssl(args: string[], cwd: string): Promise<void> {
  try {
    await execFileP(OPENSSL, args, { cwd });
  } catch (e) {
    const err = e as { stderr?: string; message: string };
    throw new Error(`openssl ${args.join(' ')} failed: ${err.stderr?.trim() || err.message}`);
  }
}

/** "/O=g1/O=g2/CN=user", with the characters -subj treats specially escaped. */
function subject(cn: string, orgs: string[] = []): string {
  const esc = (s: string) => s.replace(/\\/g, '\\\\').replace(/\//g, '\\/');
  return [...orgs.map((o) => `/O=${esc(o)}`), `/CN=${esc(cn)}`].join('');
}

const MIN_CNF = '[req]\ndistinguished_name = dn\n[dn]\n';

class Pki {
  constructor(readonly dir: string) {}

  path(name: string): string {
    return join(this.dir, name);
  }

  async init(): Promise<void> {
    await mkdir(this.dir, { recursive: true });
    await writeFile(this.path('req.cnf'), MIN_CNF);
    await writeFile(
      this.path('ca.cnf'),
      MIN_CNF +
        '[v3_ca]\nbasicConstraints = critical,CA:TRUE\nkeyUsage = critical,keyCertSign,cRLSign,digitalSignature\n' +
        'subjectKeyIdentifier = hash\n',
    );
  }

  async ecKey(name: string): Promise<void> {
    await openssl(['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', `${name}.key`], this.dir);
  }

  async ca(name: string, cn: string): Promise<void> {
    await this.ecKey(name);
    await openssl(
      ['req', '-x509', '-new', '-key', `${name}.key`, '-subj', `/CN=${cn}`, '-days', '30',
        '-config', 'ca.cnf', '-extensions', 'v3_ca', '-out', `${name}.crt`],
      this.dir,
    );
  }

  /** A leaf cert signed by `ca`: usage "server" (with SANs), "client", or both. */
  async leaf(
    name: string,
    ca: string,
    subj: string,
    usage: ('serverAuth' | 'clientAuth')[],
    sans: string[] = [],
  ): Promise<void> {
    await this.ecKey(name);
    await openssl(['req', '-new', '-key', `${name}.key`, '-subj', subj, '-config', 'req.cnf', '-out', `${name}.csr`], this.dir);
    const ext =
      '[ext]\nbasicConstraints = critical,CA:FALSE\nkeyUsage = critical,digitalSignature,keyEncipherment\n' +
      `extendedKeyUsage = ${usage.join(',')}\nsubjectKeyIdentifier = hash\nauthorityKeyIdentifier = keyid\n` +
      (sans.length ? `subjectAltName = ${sans.join(',')}\n` : '');
    await writeFile(this.path(`${name}.ext`), ext);
    await openssl(
      ['x509', '-req', '-in', `${name}.csr`, '-CA', `${ca}.crt`, '-CAkey', `${ca}.key`,
        '-set_serial', `0x${randomBytes(12).toString('hex')}`, '-days', '30',
        '-extfile', `${name}.ext`, '-extensions', 'ext', '-out', `${name}.crt`],
      this.dir,
    );
  }

  async rsaKeyPair(name: string): Promise<void> {
    await openssl(['genpkey', '-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048', '-out', `${name}.key`], this.dir);
    await openssl(['pkey', '-in', `${name}.key`, '-pubout', '-out', `${name}.pub`], this.dir);
  }
}

function kubeconfigYaml(server: string, caPem: string, user: string, certPem: string, keyPem: string): string {
  const b64 = (s: string) => Buffer.from(s).toString('base64');
  return yaml.dump({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'stackscan', cluster: { server, 'certificate-authority-data': b64(caPem) } }],
    users: [{ name: user, user: { 'client-certificate-data': b64(certPem), 'client-key-data': b64(keyPem) } }],
    contexts: [{ name: 'stackscan', context: { cluster: 'stackscan', user, namespace: 'default' } }],
    'current-context': 'stackscan',
    preferences: {},
  });
}

// ---------------------------------------------------------------------------------
// the control plane

export async function startControlPlane(opts: StartOptions = {}): Promise<ControlPlane> {
  const log = opts.log ?? (() => {});
  const binDir = opts.binDir ?? DEFAULT_BIN_DIR;
  const withGatekeeper = opts.gatekeeper !== false;
  const needed = withGatekeeper ? BINARIES : BINARIES.filter((b) => b !== 'gatekeeper');
  const missing = needed.filter((b) => !existsSync(join(binDir, b)));
  if (missing.length) {
    throw new Error(`missing ${missing.join(', ')} in ${binDir}: run harness/build.sh (needs Go)`);
  }
  const crdsPath = gatekeeperCrdsPath(binDir);
  if (withGatekeeper && !existsSync(crdsPath)) {
    throw new Error(`missing ${crdsPath}: run harness/build.sh (needs Go)`);
  }

  installHooks();
  sweepOrphans(log);

  const t0 = Date.now();
  const secs = (from = t0) => `${((Date.now() - from) / 1000).toFixed(1)}s`;
  const dir = await mkdtemp(join(tmpdir(), DIR_PREFIX));
  await writeFile(join(dir, 'owner'), ownerId() + '\n');
  const state: Live = { dir, procs: [] };
  live.add(state);

  let stopped: Promise<void> | undefined;
  const stop = (): Promise<void> => (stopped ??= stopAll(state));

  const spawnProc = (name: string, args: string[], env: NodeJS.ProcessEnv = {}): Proc => {
    if (state.killed || stopped) throw new Error(`control plane in ${dir} was stopped while starting`);
    const logPath = join(dir, `${name}.log`);
    const fd = openSync(logPath, 'a');
    let child: ChildProcess;
    try {
      child = spawn(join(binDir, name), args, {
        cwd: dir,
        detached: true, // own process group: stop() kills the whole group
        stdio: ['ignore', fd, fd],
        env: { ...process.env, ...env },
      });
    } finally {
      closeSync(fd);
    }
    if (child.pid === undefined) throw new Error(`could not start ${join(binDir, name)}`);
    child.unref(); // a forgotten stop() must not keep node alive; the exit hook kills it
    const proc: Proc = {
      name,
      child,
      pid: child.pid,
      logPath,
      exited: new Promise<void>((res) => {
        child.once('exit', (code, signal) => {
          proc.exit = { code, signal };
          res();
        });
      }),
    };
    child.once('error', (e) => {
      proc.exit ??= { code: -1, signal: null };
      log(`${name}: ${e.message}`);
    });
    writeFileSyncSafe(join(dir, `${name}.pid`), `${child.pid}\n`);
    state.procs.push(proc);
    return proc;
  };

  try {
    // --- PKI
    const pki = new Pki(join(dir, 'pki'));
    await pki.init();
    await pki.ca('ca', 'stackscan-kubernetes-ca');
    const nodeAddr = opts.node?.address;
    if (nodeAddr !== undefined && !/^\d{1,3}(\.\d{1,3}){3}$/.test(nodeAddr)) throw new Error(`node.address must be an IPv4 address; got ${JSON.stringify(nodeAddr)}`);
    const bindAddr = nodeAddr ?? '127.0.0.1';
    await Promise.all([
      pki.leaf('apiserver', 'ca', '/CN=kube-apiserver', ['serverAuth'], [
        'IP:127.0.0.1', `IP:${SERVICE_IP}`, ...(nodeAddr ? [`IP:${nodeAddr}`] : []), 'DNS:localhost', 'DNS:kubernetes', 'DNS:kubernetes.default',
        'DNS:kubernetes.default.svc', 'DNS:kubernetes.default.svc.cluster.local',
      ]),
      pki.leaf('admin', 'ca', subject('admin', ['system:masters']), ['clientAuth']),
      pki.rsaKeyPair('sa'),
      withGatekeeper ? pki.ca('gatekeeper-ca', 'gatekeeper-ca') : undefined,
      nodeAddr ? pki.leaf('apiserver-kubelet-client', 'ca', subject('kube-apiserver-kubelet-client', ['system:masters']), ['clientAuth']) : undefined,
    ]);
    const caPath = pki.path('ca.crt');
    const ca = await readFile(caPath, 'utf8');
    log(`certificates ready (${secs()})`);

    const [etcdClient, etcdPeer, apiPort, gkPort, gkHealth, gkProm] = await freePorts(6);

    // --- etcd
    const t1 = Date.now();
    const etcdUrl = `http://127.0.0.1:${etcdClient}`;
    const etcd = spawnProc('etcd', [
      '--name=stackscan',
      `--data-dir=${join(dir, 'etcd-data')}`,
      `--listen-client-urls=${etcdUrl}`,
      `--advertise-client-urls=${etcdUrl}`,
      `--listen-peer-urls=http://127.0.0.1:${etcdPeer}`,
      `--initial-advertise-peer-urls=http://127.0.0.1:${etcdPeer}`,
      `--initial-cluster=stackscan=http://127.0.0.1:${etcdPeer}`,
      '--initial-cluster-state=new',
      '--unsafe-no-fsync',
      '--log-level=warn',
    ]);
    await waitFor('etcd /health', TIMEOUTS.etcd, async () => {
      const r = await get(`${etcdUrl}/health`);
      return r.status === 200 && /"health":\s*"true"/.test(r.body);
    }, etcd);
    log(`etcd ready on ${etcdUrl} (${secs(t1)})`);

    // --- kube-apiserver
    const t2 = Date.now();
    const server = `https://${bindAddr}:${apiPort}`;
    const apiserver = spawnProc('kube-apiserver', [
      `--etcd-servers=${etcdUrl}`,
      `--bind-address=${bindAddr}`,
      `--advertise-address=${bindAddr}`,
      `--secure-port=${apiPort}`,
      `--cert-dir=${join(dir, 'apiserver-certs')}`,
      `--tls-cert-file=${pki.path('apiserver.crt')}`,
      `--tls-private-key-file=${pki.path('apiserver.key')}`,
      `--client-ca-file=${caPath}`,
      ...(nodeAddr
        ? [
            '--authorization-mode=Node,RBAC',
            '--enable-admission-plugins=NodeRestriction',
            `--kubelet-client-certificate=${pki.path('apiserver-kubelet-client.crt')}`,
            `--kubelet-client-key=${pki.path('apiserver-kubelet-client.key')}`,
            `--kubelet-certificate-authority=${caPath}`,
            '--kubelet-preferred-address-types=InternalIP',
          ]
        : ['--authorization-mode=RBAC']),
      `--service-account-issuer=https://kubernetes.default.svc.cluster.local`,
      `--service-account-key-file=${pki.path('sa.pub')}`,
      `--service-account-signing-key-file=${pki.path('sa.key')}`,
      `--service-cluster-ip-range=${SERVICE_CIDR}`,
      '--allow-privileged=true',
      // No kube-controller-manager, so no "default" ServiceAccount would ever exist (see top);
      // with a real node, kube-controller-manager runs and the plugin stays on.
      ...(nodeAddr ? [] : ['--disable-admission-plugins=ServiceAccount']),
      '--profiling=false',
      '--v=1',
    ]);
    const admin = {
      ca,
      cert: await readFile(pki.path('admin.crt'), 'utf8'),
      key: await readFile(pki.path('admin.key'), 'utf8'),
    };
    await waitFor('kube-apiserver /readyz', TIMEOUTS.apiserver, async () => {
      const r = await get(`${server}/readyz`, admin);
      if (r.status !== 200) throw new Error(`/readyz ${r.status}: ${r.body.split('\n').filter((l) => l.includes('[-]')).join('; ')}`);
      return true;
    }, apiserver);
    const kubeconfigPath = join(dir, 'kubeconfig');
    await writeFile(kubeconfigPath, kubeconfigYaml(server, ca, 'admin', admin.cert, admin.key), { mode: 0o600 });
    log(`kube-apiserver ready on ${server} (${secs(t2)})`);

    const kc = new k8s.KubeConfig();
    kc.loadFromFile(kubeconfigPath);

    // --- Gatekeeper
    let gatekeeperUrl: string | undefined;
    if (withGatekeeper) {
      const t3 = Date.now();
      await installCrds(kc, crdsPath);
      log(`Gatekeeper CRDs established (${secs(t3)})`);

      const core = kc.makeApiClient(k8s.CoreV1Api);
      await core.createNamespace({
        body: { metadata: { name: GK_NAMESPACE, labels: { [GK_IGNORE_LABEL]: 'no-self-managing' } } },
      });

      const certDir = join(dir, 'gatekeeper-certs');
      const auditDir = join(dir, 'gatekeeper-audit'); // must exist: audit fails on every run otherwise
      await mkdir(certDir);
      await mkdir(auditDir);
      await pki.leaf('gatekeeper', 'gatekeeper-ca', `/O=gatekeeper/CN=gatekeeper-webhook-service.${GK_NAMESPACE}.svc`,
        ['serverAuth', 'clientAuth'],
        ['IP:127.0.0.1', 'DNS:localhost', `DNS:gatekeeper-webhook-service.${GK_NAMESPACE}.svc`]);
      const gkCa = await readFile(pki.path('gatekeeper-ca.crt'), 'utf8');
      await writeFile(join(certDir, 'ca.crt'), gkCa);
      await writeFile(join(certDir, 'tls.crt'), await readFile(pki.path('gatekeeper.crt')));
      await writeFile(join(certDir, 'tls.key'), await readFile(pki.path('gatekeeper.key')), { mode: 0o600 });

      const t4 = Date.now();
      const gk = spawnProc('gatekeeper', [
        '--operation=webhook',
        '--operation=audit',
        '--operation=status',
        '--operation=generate',
        '--debug-use-fake-pod',
        '--disable-cert-rotation',
        `--cert-dir=${certDir}`,
        '--host=127.0.0.1',
        `--port=${gkPort}`,
        `--health-addr=127.0.0.1:${gkHealth}`,
        '--metrics-addr=0',
        `--prometheus-port=${gkProm}`,
        '--default-create-vap-for-templates=false',
        '--default-create-vap-binding-for-constraints=false',
        '--audit-interval=5',
        `--api-cache-dir=${auditDir}`,
        '--shutdown-delay=0',
        `--exempt-namespace=${GK_NAMESPACE}`,
        '--log-denies',
      ], {
        KUBECONFIG: kubeconfigPath,
        POD_NAMESPACE: GK_NAMESPACE,
        POD_NAME: 'no-pod',
        NAMESPACE: GK_NAMESPACE,
        CONTAINER_NAME: 'manager',
      });
      await waitFor('gatekeeper /readyz', TIMEOUTS.gatekeeper, async () => {
        const r = await get(`http://127.0.0.1:${gkHealth}/readyz`);
        if (r.status !== 200) throw new Error(`/readyz ${r.status}: ${r.body.trim().slice(0, 300)}`);
        return true;
      }, gk);
      gatekeeperUrl = `https://127.0.0.1:${gkPort}`;
      log(`gatekeeper ready on ${gatekeeperUrl} (${secs(t4)})`);

      await registerWebhook(kc, gatekeeperUrl, gkCa);
      // Prove the apiserver -> webhook path (TLS, caBundle, URL) works before returning:
      // Gatekeeper's check-ignore-label webhook must deny this dry-run.
      await waitFor('the Gatekeeper admission webhook to be called', TIMEOUTS.webhook, async () => {
        try {
          await core.createNamespace({
            body: { metadata: { name: 'stackscan-webhook-probe', labels: { [GK_IGNORE_LABEL]: 'x' } } },
            dryRun: 'All',
          });
          throw new Error('dry-run namespace with the ignore label was admitted (webhook not active yet)');
        } catch (e) {
          if (e instanceof k8s.ApiException && /check-ignore-label\.gatekeeper\.sh/.test(JSON.stringify(e.body))) return true;
          throw e;
        }
      }, gk);
      log(`gatekeeper admission webhook active (${secs(t3)} for Gatekeeper)`);
    }

    log(`control plane ready in ${secs()} (${dir})`);

    const cp: ControlPlane = {
      dir,
      kubeconfigPath,
      server,
      caPath,
      gatekeeperUrl,
      stop,
      async userKubeconfig(user: string, groups: string[] = []): Promise<string> {
        if (!user) throw new Error('userKubeconfig: user must not be empty');
        const base = `user-${user.replace(/[^A-Za-z0-9_.-]/g, '_')}-${randomBytes(3).toString('hex')}`;
        await pki.leaf(base, 'ca', subject(user, groups), ['clientAuth']);
        const p = join(dir, `${base}.kubeconfig`);
        await writeFile(
          p,
          kubeconfigYaml(server, ca, user, await readFile(pki.path(`${base}.crt`), 'utf8'), await readFile(pki.path(`${base}.key`), 'utf8')),
          { mode: 0o600 },
        );
        return p;
      },
      async issueCert(name, cn, groups, usage, sans = []) {
        if (!/^[A-Za-z0-9_.-]+$/.test(name)) throw new Error(`issueCert: name must be a file name; got ${JSON.stringify(name)}`);
        await pki.leaf(name, 'ca', subject(cn, groups), usage, sans);
        return { cert: pki.path(`${name}.crt`), key: pki.path(`${name}.key`) };
      },
      serviceAccountKey: { key: pki.path('sa.key'), pub: pki.path('sa.pub') },
      serviceCidr: SERVICE_CIDR,
    };
    return cp;
  } catch (e) {
    await stop().catch(() => {});
    throw e;
  }
}

function writeFileSyncSafe(p: string, data: string): void {
  try {
    // sync so the pidfile exists before anything else can go wrong
    writeFileSync(p, data);
  } catch {
    /* the dir may already be gone during a failed start */
  }
}

async function stopAll(state: Live): Promise<void> {
  if (state.killed) {
    // The signal/exit hook got there first (SIGKILL + rm); just let node reap them.
    await within(Promise.all(state.procs.map((p) => p.exited)).then(() => true), 5000);
    return;
  }
  const stopProcs = async (procs: Proc[], graceMs: number) => {
    const running = procs.filter((p) => !p.exit);
    for (const p of running) killGroup(p.pid, 'SIGTERM');
    const all = Promise.all(running.map((p) => p.exited)).then(() => true);
    if (!(await within(all, graceMs))) {
      for (const p of running) if (!p.exit) killGroup(p.pid, 'SIGKILL');
      await within(all, 5000);
    }
  };
  // Clients first, then the apiserver, then its storage.
  await stopProcs(state.procs.filter((p) => p.name === 'gatekeeper'), 5000);
  await stopProcs(state.procs.filter((p) => p.name === 'kube-apiserver'), 5000);
  await stopProcs(state.procs.filter((p) => p.name !== 'gatekeeper' && p.name !== 'kube-apiserver'), 5000);
  live.delete(state);
  rmSync(state.dir, { recursive: true, force: true });
}

async function installCrds(kc: k8s.KubeConfig, crdsPath: string): Promise<void> {
  // k8s.loadAllYaml, not yaml.loadAll: the typed client serializes by its model's field
  // names, so a raw object would lose e.g. x-kubernetes-preserve-unknown-fields.
  const docs = k8s
    .loadAllYaml(await readFile(crdsPath, 'utf8'))
    .filter((d): d is k8s.V1CustomResourceDefinition => !!d && (d as { kind?: string }).kind === 'CustomResourceDefinition');
  if (!docs.length) throw new Error(`no CustomResourceDefinition in ${crdsPath}`);
  const ext = kc.makeApiClient(k8s.ApiextensionsV1Api);
  await Promise.all(docs.map((body) => ext.createCustomResourceDefinition({ body })));
  const pending = new Set(docs.map((d) => d.metadata!.name!));
  await waitFor(`${pending.size} Gatekeeper CRDs to be Established`, TIMEOUTS.crds, async () => {
    for (const name of [...pending]) {
      const crd = await ext.readCustomResourceDefinition({ name });
      if (crd.status?.conditions?.some((c) => c.type === 'Established' && c.status === 'True')) pending.delete(name);
    }
    if (pending.size) throw new Error(`not yet Established: ${[...pending].join(', ')}`);
    return true;
  });
}

async function registerWebhook(kc: k8s.KubeConfig, url: string, caPem: string): Promise<void> {
  const caBundle = Buffer.from(caPem).toString('base64');
  const admission = kc.makeApiClient(k8s.AdmissionregistrationV1Api);
  await admission.createValidatingWebhookConfiguration({
    body: {
      metadata: { name: GK_VWC_NAME, labels: { 'gatekeeper.sh/system': 'yes' } },
      webhooks: [
        {
          name: 'validation.gatekeeper.sh',
          admissionReviewVersions: ['v1', 'v1beta1'],
          clientConfig: { url: `${url}/v1/admit`, caBundle },
          failurePolicy: 'Fail',
          matchPolicy: 'Exact',
          sideEffects: 'None',
          timeoutSeconds: 3,
          namespaceSelector: {
            matchExpressions: [
              { key: GK_IGNORE_LABEL, operator: 'DoesNotExist' },
              { key: 'kubernetes.io/metadata.name', operator: 'NotIn', values: [GK_NAMESPACE, 'kube-system'] },
            ],
          },
          rules: [
            {
              apiGroups: ['*'],
              apiVersions: ['*'],
              operations: ['CREATE', 'UPDATE'],
              resources: [
                '*', 'pods/ephemeralcontainers', 'pods/exec', 'pods/log', 'pods/eviction', 'pods/portforward',
                'pods/proxy', 'pods/attach', 'pods/binding', 'pods/resize', 'deployments/scale',
                'replicasets/scale', 'statefulsets/scale', 'replicationcontrollers/scale', 'services/proxy',
                'nodes/proxy', 'services/status',
              ],
            },
          ],
        },
        {
          name: 'check-ignore-label.gatekeeper.sh',
          admissionReviewVersions: ['v1', 'v1beta1'],
          clientConfig: { url: `${url}/v1/admitlabel`, caBundle },
          failurePolicy: 'Fail',
          matchPolicy: 'Exact',
          sideEffects: 'None',
          timeoutSeconds: 3,
          namespaceSelector: {
            matchExpressions: [{ key: 'kubernetes.io/metadata.name', operator: 'NotIn', values: [GK_NAMESPACE] }],
          },
          rules: [{ apiGroups: [''], apiVersions: ['*'], operations: ['CREATE', 'UPDATE'], resources: ['namespaces'] }],
        },
      ],
    },
  });
}
