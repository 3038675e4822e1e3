// An optional REAL node next to the local control plane (harness/cluster): kubelet, containerd
// + containerd-shim-runc-v2 + runc, CNI (bridge, host-local, loopback, portmap) on a bridge the
// harness creates, kube-controller-manager, kube-scheduler, kube-proxy (iptables mode),
// kube-router in firewall-only mode (the NetworkPolicy enforcer) and CoreDNS as a pod serving
// cluster DNS. Built by `harness/build.sh node`; images from local files by
// harness/node/images.sh (imported with `ctr images import --local`, named localhost/..., never
// pulled). Needs root. Facts and traps: see the README section "real node".
//
// Network: bridge stackscan0 = 10.244.0.1/24 (the node IP; the API server listens there too, so
// pods reach it through the `kubernetes` Service). Pods get 10.244.0.0/24 addresses with NO
// default route: the CNI bridge has isGateway=false and ipMasq=false; host-local only adds a
// route to the Service CIDR via the bridge IP (kube-proxy DNATs it to a pod or the API server).
// A harness chain in FORWARD drops anything from the pod CIDR that would leave by another
// interface, so no pod traffic can leave the machine.
//
// Everything is undone by stop(), by the process exit/signal hooks, or by the next start's
// sweep (harness/node/host.ts).
//
// Why this file is long: it is the node's one start sequence (bridge, control plane, certificates,
// containerd and images, kubelet, controllers, proxy, enforcer, DNS) and its stop, whose steps share
// the run's state and its undo; the host side is host.ts, the process bookkeeping harness/proc.ts.
import { execFile, execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import yaml from 'js-yaml';
import { DEFAULT_BIN_DIR, REPO_ROOT, startControlPlane, type ControlPlane } from '../cluster/index.ts';
import { apply } from '../cluster/objects.ts';
import { makeKube, type Kube } from '../../lib/kube/client.ts';
import { apiGet } from '../../lib/kube/raw.ts';
import { findOnPath } from '../../lib/tools/run.ts';
import { freePorts, sleep, spawnLogged, stopGroups, tail, waitUntil, type Proc } from '../proc.ts';
import {
  BRIDGE,
  HARNESS_CHAIN,
  KUBE_ROUTER,
  NODE_IP,
  POD_CIDR,
  cleanIpsets,
  cleanIptables,
  hostConflicts,
  recordHost,
  sweepNode,
  undoHost,
  writeState,
  writeSysctl,
  type NodeState,
} from './host.ts';

export { BRIDGE, NODE_IP, POD_CIDR, sweepNode };

const execFileP = promisify(execFile);

export const NODE_NAME = 'stackscan-node';
export const CLUSTER_DNS_IP = '10.0.0.10';
export const IMAGES_DIR = join(REPO_ROOT, '.cache/images');
/** Images the harness builds (harness/node/images.sh) and imports; never pulled. */
export const IMAGES = {
  pause: 'localhost/stackscan/pause:1',
  nmap: 'localhost/stackscan/nmap:7.93',
  listen: 'localhost/stackscan/listen:1',
  redis: 'localhost/stackscan/redis:7',
  coredns: 'localhost/stackscan/coredns:1',
} as const;
export const NODE_BINARIES = [
  'kubelet',
  'kube-controller-manager',
  'kube-scheduler',
  'kube-proxy',
  'containerd',
  'containerd-shim-runc-v2',
  'ctr',
  'runc',
  'kube-router',
  'coredns',
  'cni/bridge',
  'cni/host-local',
  'cni/loopback',
  'cni/portmap',
] as const;
const COMMANDS = [
  'iptables',
  'iptables-save',
  'iptables-restore',
  'ip6tables',
  'ip6tables-save',
  'ip6tables-restore',
  'ipset',
  'conntrack',
  'ip',
  'umount',
  'mount',
];
const TIMEOUT = { containerd: 30_000, nodeReady: 90_000, coredns: 90_000, sa: 60_000 };

export interface NodeStartOptions {
  log?: (line: string) => void;
  binDir?: string;
  /** Start Gatekeeper in the control plane too (default false). */
  gatekeeper?: boolean;
  /** Start kube-router, the NetworkPolicy enforcer (default true); node.startEnforcer() starts it later. */
  enforcer?: boolean;
  /** When another live process owns the machine's one node, wait up to this long for it to stop (default 0: fail at once). */
  waitForOtherMs?: number;
}

export interface RealNode {
  name: string;
  ip: string;
  dir: string;
  /** Admin kubeconfig of the control plane the node joined. */
  kubeconfigPath: string;
  images: typeof IMAGES;
  /** Stop / start the NetworkPolicy enforcer (kube-router); stopping also removes its rules and ipsets. */
  stopEnforcer(): Promise<void>;
  startEnforcer(): Promise<void>;
  /** Where each component logs. */
  logs: Record<string, string>;
}

export interface NodeCluster {
  cp: ControlPlane;
  node: RealNode;
  stop(): Promise<void>;
}

/**
 * Why the real node cannot start here, or undefined when it can: not root, not Linux, binaries,
 * images or commands missing, kernel features missing. Each reason says what to run.
 */
export function nodePreflight(binDir = DEFAULT_BIN_DIR, opts: { enforcer?: boolean } = {}): string | undefined {
  if (process.platform !== 'linux') return `the real node needs Linux (this is ${process.platform})`;
  if (process.getuid?.() !== 0) return `the real node needs root (uid ${process.getuid?.()}): it creates a bridge, iptables rules, mounts and cgroups`;
  const missing = NODE_BINARIES.filter((b) => !existsSync(join(binDir, b)) && (b !== 'kube-router' || opts.enforcer !== false));
  if (missing.length) return `missing ${missing.join(', ')} in ${binDir}: run harness/build.sh node (needs Go; a cold build takes 15-25 min)`;
  const cp = ['etcd', 'kube-apiserver'].filter((b) => !existsSync(join(binDir, b)));
  if (cp.length) return `missing ${cp.join(', ')} in ${binDir}: run harness/build.sh controlplane`;
  const imgs = Object.keys(IMAGES).filter((i) => !existsSync(join(IMAGES_DIR, `${i}.tar`)));
  if (imgs.length) return `missing image archives ${imgs.map((i) => `${i}.tar`).join(', ')} in ${IMAGES_DIR}: run harness/node/images.sh`;
  const cmds = COMMANDS.filter((c) => !findOnPath(c));
  if (cmds.length) return `missing commands ${cmds.join(', ')}: run harness/install-system-deps.sh`;
  if (!existsSync('/proc/sys/net/bridge/bridge-nf-call-iptables'))
    return 'the kernel has no bridge netfilter (br_netfilter): kube-proxy and kube-router cannot see bridged pod traffic';
  if (!existsSync('/sys/fs/cgroup/memory') && !existsSync('/sys/fs/cgroup/cgroup.controllers')) return 'no cgroup filesystem under /sys/fs/cgroup';
  if (!existsSync('/proc/sys/net/ipv4/ip_forward')) return 'the kernel has no IPv4 forwarding sysctl';
  return undefined;
}

// ---------------------------------------------------------------------------------------------
// processes

const live = new Set<NodeState>();
let hooks = false;

function installHooks(): void {
  if (hooks) return;
  hooks = true;
  const undoAll = () => {
    for (const st of live) undoHost(st);
    live.clear();
  };
  process.on('exit', undoAll);
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    // First in line, and gone after it ran: the control plane's own hook (or the program's
    // handler) then decides whether the signal terminates the process, as if we were not there.
    const handler = () => {
      undoAll();
      process.removeListener(sig, handler);
      if (process.listenerCount(sig) === 0) process.kill(process.pid, sig);
    };
    process.prependListener(sig, handler);
  }
}

function sh(cmd: string, args: string[]): void {
  try {
    execFileSync(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], timeout: 20_000 });
  } catch (e) {
    const err = e as { stderr?: Buffer; message: string };
    throw new Error(`${cmd} ${args.join(' ')} failed: ${err.stderr?.toString().trim() || err.message}`);
  }
}

// ---------------------------------------------------------------------------------------------
// configuration files

function kubeconfig(server: string, caPath: string, cert: string, key: string): string {
  return yaml.dump({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'stackscan', cluster: { server, 'certificate-authority': caPath } }],
    users: [{ name: 'u', user: { 'client-certificate': cert, 'client-key': key } }],
    contexts: [{ name: 'stackscan', context: { cluster: 'stackscan', user: 'u' } }],
    'current-context': 'stackscan',
  });
}

export function containerdToml(dir: string, binDir: string, sock: string): string {
  const q = JSON.stringify;
  return `version = 3
root = ${q(join(dir, 'containerd/root'))}
state = ${q(join(dir, 'containerd/state'))}
[grpc]
  address = ${q(sock)}
[ttrpc]
  address = ${q(`${sock}.ttrpc`)}
[metrics]
  address = ""
[plugins.'io.containerd.cri.v1.images']
  snapshotter = "overlayfs"
  [plugins.'io.containerd.cri.v1.images'.pinned_images]
    sandbox = ${q(IMAGES.pause)}
[plugins.'io.containerd.cri.v1.runtime']
  restrict_oom_score_adj = true
  netns_mounts_under_state_dir = true
  enable_selinux = false
  disable_apparmor = true
  [plugins.'io.containerd.cri.v1.runtime'.containerd]
    default_runtime_name = "runc"
    [plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc.options]
        BinaryName = ${q(join(binDir, 'runc'))}
        SystemdCgroup = false
  [plugins.'io.containerd.cri.v1.runtime'.cni]
    bin_dirs = [${q(join(binDir, 'cni'))}]
    conf_dir = ${q(join(dir, 'cni/net.d'))}
    max_conf_num = 1
[plugins.'io.containerd.grpc.v1.cri']
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
`;
}

export function cniConflist(dir: string, serviceCidr: string): string {
  return JSON.stringify(
    {
      cniVersion: '1.0.0',
      name: 'stackscan',
      plugins: [
        {
          type: 'bridge',
          bridge: BRIDGE,
          isGateway: false, // no default route in pods: nothing can leave the bridge
          isDefaultGateway: false,
          ipMasq: false,
          hairpinMode: true,
          ipam: {
            type: 'host-local',
            dataDir: join(dir, 'cni/ipam'),
            ranges: [[{ subnet: POD_CIDR, rangeStart: '10.244.0.10', rangeEnd: '10.244.0.250', gateway: NODE_IP }]],
            // Only the Service CIDR, via the bridge IP (kube-proxy DNATs it).
            routes: [{ dst: serviceCidr, gw: NODE_IP }],
          },
        },
        { type: 'portmap', capabilities: { portMappings: true } },
      ],
    },
    null,
    2,
  );
}

// ---------------------------------------------------------------------------------------------
// start

/**
 * Start a control plane prepared for a real node, and the node. Throws (after undoing what it
 * did) with the component's log tail when something does not come up; call nodePreflight()
 * first to skip cleanly where the node cannot run.
 */
export async function startNodeCluster(opts: NodeStartOptions = {}): Promise<NodeCluster> {
  const log = opts.log ?? (() => {});
  const binDir = opts.binDir ?? DEFAULT_BIN_DIR;
  const why = nodePreflight(binDir, { enforcer: opts.enforcer });
  if (why) throw new Error(`the real node cannot start: ${why}`);
  const t0 = Date.now();
  const secs = (from = t0) => `${((Date.now() - from) / 1000).toFixed(1)}s`;

  installHooks();
  const waitUntilMs = Date.now() + (opts.waitForOtherMs ?? 0);
  for (let announced = false; ; ) {
    try {
      sweepNode(log);
      break;
    } catch (e) {
      const busy = /a real node is running for process/.test((e as Error).message);
      if (!busy || Date.now() > waitUntilMs) throw e;
      if (!announced) log(`${(e as Error).message}: waiting for it to stop`);
      announced = true;
      await sleep(2000);
    }
  }
  const conflicts = hostConflicts();
  if (conflicts.length) throw new Error(`the real node cannot start: ${conflicts.join('; ')}`);

  const dir = await mkdtemp(join(tmpdir(), 'stackscan-node-'));
  const st = recordHost(dir);
  writeState(st);
  live.add(st);
  const procs: Proc[] = [];
  let cp: ControlPlane | undefined;
  let stopping: Promise<void> | undefined;

  // Each in the node's dir (its log, its pidfile): the sweep of a killed run finds the node's
  // processes by their command lines naming that dir (host.ts undoHost).
  const spawnProc = (name: string, file: string, args: string[], env: NodeJS.ProcessEnv = {}): Proc => {
    const proc = spawnLogged(dir, name, file, args, { env });
    procs.push(proc);
    return proc;
  };
  const stopProc = (p: Proc, graceMs = 3000) => stopGroups([p], graceMs, 3000);

  const stop = (): Promise<void> =>
    (stopping ??= (async () => {
      // Components first (so nothing restarts containers), then the runtime, then the control plane.
      for (const n of ['kube-router', 'kube-proxy', 'kube-scheduler', 'kube-controller-manager', 'kubelet']) {
        const p = procs.find((x) => x.name === n && !x.exit);
        if (p) await stopProc(p);
      }
      const ctrd = procs.find((x) => x.name === 'containerd');
      const left = undoHost(st, log); // kills containers and shims (and containerd), unmounts, cleans
      if (ctrd) await Promise.race([ctrd.exited, sleep(3000)]);
      live.delete(st);
      await cp?.stop();
      if (left.length) throw new Error(`the real node was stopped, but some host changes could not be undone: ${left.join('; ')}`);
      log('real node stopped and undone (processes, mounts, cgroups, iptables, ipsets, bridge, sysctls, dirs)');
    })());

  try {
    // --- host network: the bridge (node IP), forwarding, bridge netfilter, the no-egress guard
    writeSysctl('net/ipv4/ip_forward', '1');
    writeSysctl('net/bridge/bridge-nf-call-iptables', '1');
    if (existsSync('/proc/sys/net/bridge/bridge-nf-call-ip6tables')) writeSysctl('net/bridge/bridge-nf-call-ip6tables', '1');
    sh('ip', ['link', 'add', 'name', BRIDGE, 'type', 'bridge']);
    sh('ip', ['addr', 'add', `${NODE_IP}/24`, 'dev', BRIDGE]);
    sh('ip', ['link', 'set', BRIDGE, 'up']);
    // In mangle FORWARD, which runs before filter FORWARD, where kube-router ACCEPTs what a
    // policy allows before any later rule is seen; nobody else inserts into mangle FORWARD.
    sh('iptables', ['-w', '5', '-t', 'mangle', '-N', HARNESS_CHAIN]);
    sh('iptables', [
      '-w',
      '5',
      '-t',
      'mangle',
      '-A',
      HARNESS_CHAIN,
      '-s',
      POD_CIDR,
      '!',
      '-o',
      BRIDGE,
      '-m',
      'comment',
      '--comment',
      'stack-scan real node: pod traffic never leaves the bridge',
      '-j',
      'DROP',
    ]);
    sh('iptables', ['-w', '5', '-t', 'mangle', '-I', 'FORWARD', '1', '-j', HARNESS_CHAIN]);
    log(`bridge ${BRIDGE} ${NODE_IP}/24 up; pod egress off the bridge dropped (${secs()})`);

    // --- control plane on the node IP
    cp = await startControlPlane({ gatekeeper: opts.gatekeeper ?? false, log, binDir, node: { address: NODE_IP } });
    const kube = await makeKube(cp.kubeconfigPath);
    const caPath = cp.caPath;

    // --- certificates and kubeconfigs
    // Each component's kubeconfig, in the node's dir: the sweep of a killed run recognises the node's
    // processes by their command lines naming that dir (cp.userKubeconfig would write into the cp dir).
    const server = cp.server;
    const kc = async (name: string, cn: string, groups: string[]) => {
      const c = await cp!.issueCert(name, cn, groups, ['clientAuth']);
      const p = join(dir, `${name}.kubeconfig`);
      await writeFile(p, kubeconfig(server, caPath, c.cert, c.key), { mode: 0o600 });
      return p;
    };
    const [kubeletKc, kcmKc, schedKc, proxyKc, routerKc, serving] = await Promise.all([
      kc('kubelet', `system:node:${NODE_NAME}`, ['system:nodes']),
      kc('kube-controller-manager', 'system:kube-controller-manager', []),
      kc('kube-scheduler', 'system:kube-scheduler', []),
      kc('kube-proxy', 'system:kube-proxy', []),
      // kube-router reads pods, namespaces, nodes, networkpolicies and writes node annotations:
      // a harness-only tool, given the admin group rather than a hand-made ClusterRole.
      kc('kube-router', 'stackscan:kube-router', ['system:masters']),
      cp.issueCert('kubelet-serving', `system:node:${NODE_NAME}`, ['system:nodes'], ['serverAuth'], [`IP:${NODE_IP}`, `DNS:${NODE_NAME}`]),
    ]);

    // --- containerd, and the local images
    const t1 = Date.now();
    const sock = join(dir, 'containerd.sock');
    mkdirSync(join(dir, 'cni/net.d'), { recursive: true });
    writeFileSync(join(dir, 'cni/net.d/10-stackscan.conflist'), cniConflist(dir, cp.serviceCidr));
    writeFileSync(join(dir, 'containerd.toml'), containerdToml(dir, binDir, sock));
    const pathEnv = { PATH: `${binDir}:${process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin'}` };
    const containerd = spawnProc('containerd', join(binDir, 'containerd'), ['--config', join(dir, 'containerd.toml'), '--log-level', 'warn'], pathEnv);
    await waitUntil(
      'containerd to serve',
      TIMEOUT.containerd,
      async () => {
        await execFileP(join(binDir, 'ctr'), ['--address', sock, 'version'], { timeout: 5000 });
        return true;
      },
      [containerd],
    );
    for (const img of Object.keys(IMAGES)) {
      await execFileP(join(binDir, 'ctr'), ['--address', sock, '-n', 'k8s.io', 'images', 'import', '--local', join(IMAGES_DIR, `${img}.tar`)], {
        timeout: 120_000,
      }).catch((e) => {
        throw new Error(`ctr images import ${img}.tar failed: ${(e as { stderr?: string }).stderr?.trim() || (e as Error).message}`);
      });
    }
    log(`containerd ready, ${Object.keys(IMAGES).length} local images imported (${secs(t1)})`);

    // --- kubelet
    const t2 = Date.now();
    const [kubeletHealthz, kcmPort, schedPort, proxyHealth, proxyMetrics] = await freePorts(5);
    const kubeletCfg = {
      apiVersion: 'kubelet.config.k8s.io/v1beta1',
      kind: 'KubeletConfiguration',
      address: NODE_IP,
      port: 10250,
      readOnlyPort: 0,
      healthzBindAddress: '127.0.0.1',
      healthzPort: kubeletHealthz,
      tlsCertFile: serving.cert,
      tlsPrivateKeyFile: serving.key,
      authentication: { anonymous: { enabled: false }, webhook: { enabled: true }, x509: { clientCAFile: caPath } },
      authorization: { mode: 'Webhook' },
      cgroupDriver: 'cgroupfs',
      failCgroupV1: false,
      failSwapOn: false,
      oomScoreAdj: 0, // no CAP_SYS_RESOURCE here: nothing may lower oom_score_adj
      clusterDNS: [CLUSTER_DNS_IP],
      clusterDomain: 'cluster.local',
      containerRuntimeEndpoint: `unix://${sock}`,
      imageServiceEndpoint: `unix://${sock}`,
      podLogsDir: join(dir, 'pod-logs'),
      resolvConf: join(dir, 'resolv.conf'),
      evictionHard: { 'memory.available': '100Mi', 'nodefs.available': '1%', 'nodefs.inodesFree': '1%', 'imagefs.available': '1%' },
      imageGCHighThresholdPercent: 100,
      imageGCLowThresholdPercent: 99,
      serializeImagePulls: false,
      rotateCertificates: false,
      serverTLSBootstrap: false,
      maxPods: 110,
      nodeStatusUpdateFrequency: '4s',
      syncFrequency: '10s',
      fileCheckFrequency: '20s',
      shutdownGracePeriod: '0s',
    };
    // Pods with dnsPolicy Default (CoreDNS) get this: no upstream resolver, nothing leaves the machine.
    writeFileSync(join(dir, 'resolv.conf'), 'nameserver 127.0.0.1\noptions ndots:1\n');
    writeFileSync(join(dir, 'kubelet.yaml'), yaml.dump(kubeletCfg));
    const kubelet = spawnProc(
      'kubelet',
      join(binDir, 'kubelet'),
      [
        `--config=${join(dir, 'kubelet.yaml')}`,
        `--kubeconfig=${kubeletKc}`,
        `--root-dir=${join(dir, 'kubelet')}`,
        `--cert-dir=${join(dir, 'kubelet-pki')}`,
        `--hostname-override=${NODE_NAME}`,
        `--node-ip=${NODE_IP}`,
        '--v=1',
      ],
      pathEnv,
    );

    // --- controller manager and scheduler
    const flexDir = join(dir, 'flexvolume');
    const kcm = spawnProc('kube-controller-manager', join(binDir, 'kube-controller-manager'), [
      `--kubeconfig=${kcmKc}`,
      `--authentication-kubeconfig=${kcmKc}`,
      `--authorization-kubeconfig=${kcmKc}`,
      '--bind-address=127.0.0.1',
      `--secure-port=${kcmPort}`,
      '--leader-elect=false',
      `--service-account-private-key-file=${cp.serviceAccountKey.key}`,
      `--root-ca-file=${caPath}`,
      '--use-service-account-credentials=true', // each controller as its own ServiceAccount, as kubeadm
      '--allocate-node-cidrs=true',
      `--cluster-cidr=${POD_CIDR}`,
      '--node-cidr-mask-size=24',
      `--service-cluster-ip-range=${cp.serviceCidr}`,
      `--flex-volume-plugin-dir=${flexDir}`,
      '--v=1',
    ]);
    const sched = spawnProc('kube-scheduler', join(binDir, 'kube-scheduler'), [
      `--kubeconfig=${schedKc}`,
      `--authentication-kubeconfig=${schedKc}`,
      `--authorization-kubeconfig=${schedKc}`,
      '--bind-address=127.0.0.1',
      `--secure-port=${schedPort}`,
      '--leader-elect=false',
      '--v=1',
    ]);

    await waitUntil(
      `node ${NODE_NAME} to be Ready`,
      TIMEOUT.nodeReady,
      async () => {
        const n = await apiGet(kube, { verb: 'get', resource: 'nodes' }, `/api/v1/nodes/${NODE_NAME}`);
        const ready = n.status?.conditions?.find((c: { type: string }) => c.type === 'Ready');
        if (ready?.status !== 'True') throw new Error(`Ready=${ready?.status ?? 'unknown'}: ${ready?.message ?? ''}`);
        return true;
      },
      [kubelet, kcm, sched, containerd],
    );
    log(`kubelet registered ${NODE_NAME}, Ready (${secs(t2)})`);

    // --- kube-proxy (iptables mode)
    const proxyCfg = {
      apiVersion: 'kubeproxy.config.k8s.io/v1alpha1',
      kind: 'KubeProxyConfiguration',
      clientConnection: { kubeconfig: proxyKc },
      mode: 'iptables',
      oomScoreAdj: 0, // no CAP_SYS_RESOURCE here
      clusterCIDR: POD_CIDR,
      hostnameOverride: NODE_NAME,
      bindAddress: NODE_IP,
      healthzBindAddress: `127.0.0.1:${proxyHealth}`,
      metricsBindAddress: `127.0.0.1:${proxyMetrics}`,
      nodePortAddresses: [`${NODE_IP}/32`],
      // Leave the host's conntrack sysctls alone.
      conntrack: { maxPerCore: 0, min: 0, tcpEstablishedTimeout: '0s', tcpCloseWaitTimeout: '0s' },
      iptables: { localhostNodePorts: false, syncPeriod: '5s', minSyncPeriod: '0s' },
    };
    writeFileSync(join(dir, 'kube-proxy.yaml'), yaml.dump(proxyCfg));
    spawnProc('kube-proxy', join(binDir, 'kube-proxy'), [`--config=${join(dir, 'kube-proxy.yaml')}`, '--v=1']);

    // --- kube-router: NetworkPolicy only
    const routerArgs = [
      `--kubeconfig=${routerKc}`,
      '--run-firewall=true',
      '--run-router=false',
      '--run-service-proxy=false',
      '--run-loadbalancer=false',
      `--service-cluster-ip-range=${cp.serviceCidr}`,
      '--health-port=0',
      '--metrics-port=0',
      `--hostname-override=${NODE_NAME}`,
      '--iptables-sync-period=5s',
      '--v=1',
    ];
    let router: Proc | undefined = opts.enforcer === false ? undefined : spawnProc('kube-router', join(binDir, 'kube-router'), routerArgs, pathEnv);

    // --- CoreDNS as a pod in kube-system behind the kube-dns Service
    const t3 = Date.now();
    for (const o of coreDnsObjects(cp.serviceCidr)) await apply(kube, o as never);
    await waitUntil(
      'CoreDNS to be Ready (kube-dns endpoints)',
      TIMEOUT.coredns,
      async () => {
        if (!(await readyEndpoints(kube, 'kube-system', 'kube-dns'))) {
          const pods = await apiGet(kube, { verb: 'list', resource: 'pods' }, '/api/v1/namespaces/kube-system/pods', { labelSelector: 'k8s-app=kube-dns' });
          throw new Error(
            `no ready endpoint; pods: ${
              (pods.items ?? [])
                .map((p: any) => `${p.metadata.name} ${p.status?.phase} ${JSON.stringify(p.status?.containerStatuses?.[0]?.state ?? {})}`)
                .join('; ') || 'none'
            }`,
          );
        }
        return true;
      },
      procs.filter((p) => p.name !== 'kube-router'),
    );
    log(`CoreDNS ready at ${CLUSTER_DNS_IP} (kube-dns) (${secs(t3)})`);
    await waitUntil('the default ServiceAccount', TIMEOUT.sa, async () => {
      await apiGet(kube, { verb: 'get', resource: 'serviceaccounts' }, '/api/v1/namespaces/default/serviceaccounts/default');
      return true;
    });
    log(`real node ready in ${secs()} (${dir})`);

    const logs = Object.fromEntries(procs.map((p) => [p.name, p.logPath]));
    const node: RealNode = {
      name: NODE_NAME,
      ip: NODE_IP,
      dir,
      kubeconfigPath: cp.kubeconfigPath,
      images: IMAGES,
      logs,
      async stopEnforcer() {
        if (router) await stopProc(router);
        router = undefined;
        // Its own cleanup is broken in v2.1.0: remove its chains, rules and ipsets ourselves.
        cleanIptables(KUBE_ROUTER);
        cleanIpsets(st.ipsetsBefore);
        log('kube-router stopped, its iptables rules and ipsets removed: NetworkPolicy is NOT enforced now');
      },
      async startEnforcer() {
        if (router && !router.exit) return;
        router = spawnProc('kube-router', join(binDir, 'kube-router'), routerArgs, pathEnv);
        logs['kube-router'] = router.logPath;
        await sleep(3000);
        if (router.exit) throw new Error(`kube-router exited: ${tail(router.logPath)}`);
        log('kube-router started again');
      },
    };
    return { cp, node, stop };
  } catch (e) {
    // Keep the components' logs (the node dir is removed): they say why it did not come up.
    const keep = join(tmpdir(), `stackscan-node-logs-${Date.now()}`);
    try {
      mkdirSync(keep, { recursive: true });
      for (const p of procs) copyFileSync(p.logPath, join(keep, `${p.name}.log`));
      if (cp) for (const f of ['kube-apiserver.log', 'etcd.log']) if (existsSync(join(cp.dir, f))) copyFileSync(join(cp.dir, f), join(keep, f));
    } catch {
      /* best effort */
    }
    await stop().catch((e2) => log(`cleanup after a failed start: ${(e2 as Error).message}`));
    (e as Error).message += ` (component logs kept in ${keep})`;
    throw e;
  }
}

/** CoreDNS, as kubeadm deploys it (minus upstream forwarding: nothing may leave the machine). */
function coreDnsObjects(serviceCidr: string): object[] {
  void serviceCidr;
  const labels = { 'k8s-app': 'kube-dns' };
  const corefile = `.:53 {
    errors
    health :8080
    ready :8181
    kubernetes cluster.local in-addr.arpa ip6.arpa {
       pods insecure
       fallthrough in-addr.arpa ip6.arpa
       ttl 5
    }
    cache 5
    loadbalance
}
`;
  return [
    { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'coredns', namespace: 'kube-system' } },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRole',
      metadata: { name: 'system:coredns' },
      rules: [
        { apiGroups: [''], resources: ['endpoints', 'services', 'pods', 'namespaces'], verbs: ['list', 'watch'] },
        { apiGroups: ['discovery.k8s.io'], resources: ['endpointslices'], verbs: ['list', 'watch'] },
      ],
    },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRoleBinding',
      metadata: { name: 'system:coredns' },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'system:coredns' },
      subjects: [{ kind: 'ServiceAccount', name: 'coredns', namespace: 'kube-system' }],
    },
    { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'coredns', namespace: 'kube-system' }, data: { Corefile: corefile } },
    {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'coredns', namespace: 'kube-system', labels },
      spec: {
        replicas: 1,
        selector: { matchLabels: labels },
        template: {
          metadata: { labels },
          spec: {
            serviceAccountName: 'coredns',
            dnsPolicy: 'Default',
            containers: [
              {
                name: 'coredns',
                image: IMAGES.coredns,
                imagePullPolicy: 'Never',
                args: ['-conf', '/etc/coredns/Corefile'],
                ports: [
                  { name: 'dns', containerPort: 53, protocol: 'UDP' },
                  { name: 'dns-tcp', containerPort: 53, protocol: 'TCP' },
                ],
                readinessProbe: { httpGet: { path: '/ready', port: 8181 }, periodSeconds: 2 },
                securityContext: {
                  runAsUser: 0,
                  allowPrivilegeEscalation: false,
                  capabilities: { drop: ['ALL'], add: ['NET_BIND_SERVICE'] },
                  readOnlyRootFilesystem: true,
                },
                volumeMounts: [{ name: 'config', mountPath: '/etc/coredns', readOnly: true }],
              },
            ],
            volumes: [{ name: 'config', configMap: { name: 'coredns' } }],
          },
        },
      },
    },
    {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 'kube-dns', namespace: 'kube-system', labels },
      spec: {
        selector: labels,
        clusterIP: CLUSTER_DNS_IP,
        ports: [
          { name: 'dns', port: 53, protocol: 'UDP' },
          { name: 'dns-tcp', port: 53, protocol: 'TCP' },
        ],
      },
    },
  ];
}

export type { Kube };

/** Ready endpoints of a Service, from its EndpointSlices. */
export async function readyEndpoints(kube: Kube, ns: string, svc: string): Promise<number> {
  const sl = await apiGet(kube, { verb: 'list', resource: 'endpointslices' }, `/apis/discovery.k8s.io/v1/namespaces/${ns}/endpointslices`, {
    labelSelector: `kubernetes.io/service-name=${svc}`,
  });
  return (sl.items ?? [])
    .flatMap((x: { endpoints?: { conditions?: { ready?: boolean } }[] }) => x.endpoints ?? [])
    .filter((e: { conditions?: { ready?: boolean } }) => e.conditions?.ready).length;
}
