// A real, local Kubernetes control plane for tests and the demo, in the style of
// controller-runtime's envtest: the real etcd, kube-apiserver and Gatekeeper
// binaries (built by harness/build.sh into .cache/bin) run as local
// processes on free loopback ports. There is no kubelet and no container runtime,
// so pods are stored but never run; everything else (authn by client certs, RBAC,
// admission, server-side dry-run, CRDs, Gatekeeper's admission webhook and audit)
// is the real thing.
//
// Its parts: pki.ts (certificates and kubeconfigs, openssl), etcd.ts, apiserver.ts (and why
// its flags), gatekeeper-process.ts (and why its flags), processes.ts (hooks, stop, sweep), on
// the process bookkeeping the node harness shares (harness/proc.ts).
//
// Processes run in their own process groups with their output in <dir>/*.log, a pidfile
// each (<dir>/<name>.pid) and the owning node process in <dir>/owner. stop() (and the
// process exit/SIGINT/SIGTERM hooks of processes.ts) kill them and remove the dir; a
// later start sweeps dirs left by a crashed run (os.tmpdir()/stackscan-cp-*).
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import * as k8s from '@kubernetes/client-node';
import { freePorts, ownerId, spawnLogged } from '../proc.ts';
import { SERVICE_CIDR, SERVICE_IP, startApiserver } from './apiserver.ts';
import { startEtcd } from './etcd.ts';
import { startGatekeeper } from './gatekeeper-process.ts';
import { kubeconfigYaml, Pki, subject } from './pki.ts';
import { DIR_PREFIX, installHooks, live, stopAll, sweepOrphans, type Live, type SpawnComponent } from './processes.ts';

export { sweepOrphans };

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

/** The Gatekeeper CRDs written by harness/build.sh next to the binaries. */
export function gatekeeperCrdsPath(binDir = DEFAULT_BIN_DIR): string {
  return join(binDir, '..', 'gatekeeper', 'crds.yaml');
}

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
  await writeFile(join(dir, 'owner'), `${ownerId()}\n`);
  const state: Live = { dir, procs: [] };
  live.add(state);

  let stopped: Promise<void> | undefined;
  const stop = (): Promise<void> => (stopped ??= stopAll(state));

  const spawnProc: SpawnComponent = (name, args, env = {}) => {
    if (state.killed || stopped) throw new Error(`control plane in ${dir} was stopped while starting`);
    const proc = spawnLogged(dir, name, join(binDir, name), args, { env, onError: log, pidfileBestEffort: true });
    state.procs.push(proc);
    return proc;
  };

  try {
    // --- PKI
    const pki = new Pki(join(dir, 'pki'));
    await pki.init();
    await pki.ca('ca', 'stackscan-kubernetes-ca');
    const nodeAddr = opts.node?.address;
    if (nodeAddr !== undefined && !/^\d{1,3}(\.\d{1,3}){3}$/.test(nodeAddr))
      throw new Error(`node.address must be an IPv4 address; got ${JSON.stringify(nodeAddr)}`);
    const bindAddr = nodeAddr ?? '127.0.0.1';
    await Promise.all([
      pki.leaf(
        'apiserver',
        'ca',
        '/CN=kube-apiserver',
        ['serverAuth'],
        [
          'IP:127.0.0.1',
          `IP:${SERVICE_IP}`,
          ...(nodeAddr ? [`IP:${nodeAddr}`] : []),
          'DNS:localhost',
          'DNS:kubernetes',
          'DNS:kubernetes.default',
          'DNS:kubernetes.default.svc',
          'DNS:kubernetes.default.svc.cluster.local',
        ],
      ),
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
    const etcdUrl = await startEtcd(spawnProc, dir, etcdClient, etcdPeer);
    log(`etcd ready on ${etcdUrl} (${secs(t1)})`);

    // --- kube-apiserver
    const t2 = Date.now();
    const { server, kubeconfigPath } = await startApiserver(spawnProc, { dir, pki, ca, caPath, etcdUrl, bindAddr, nodeAddr, port: apiPort });
    log(`kube-apiserver ready on ${server} (${secs(t2)})`);

    const kc = new k8s.KubeConfig();
    kc.loadFromFile(kubeconfigPath);

    // --- Gatekeeper
    const gatekeeperUrl = withGatekeeper
      ? await startGatekeeper(spawnProc, {
          dir,
          pki,
          kc,
          kubeconfigPath,
          crdsPath,
          ports: { webhook: gkPort, health: gkHealth, prometheus: gkProm },
          log,
          secs,
        })
      : undefined;

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
        await writeFile(p, kubeconfigYaml(server, ca, user, await readFile(pki.path(`${base}.crt`), 'utf8'), await readFile(pki.path(`${base}.key`), 'utf8')), {
          mode: 0o600,
        });
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
