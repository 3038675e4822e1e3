// Host side of the real node (harness/node): what it changes on this machine, recorded before
// and undone after, synchronously (so the process exit / signal hooks can run it too), and
// swept by a later start when a run was killed.
//
// Recorded in STATE_FILE before anything is changed:
//   - sysctls kubelet, kube-proxy and the harness write (restored to their old values);
//   - host paths the components create outside our dir when they did not exist before
//     (/var/lib/kubelet/device-plugins, /var/log/pods, /var/lib/cni, /run/containerd, …);
//   - cgroup dirs kubepods under each controller when they did not exist before;
//   - the ipset names present before (kube-router's own are destroyed afterwards: its
//     v2.1.0 --cleanup-config leaves them and panics).
// Undone: processes (our pidfiles, every process in the kubepods cgroups, shims whose
// command line names our dir), mounts under our dir, cgroups, iptables/ip6tables rules and
// chains of Kubernetes (KUBE-*), kube-router and the harness (STACKSCAN-NODE), ipsets, the
// bridge, sysctls, host paths, our dir, the state file.
//
// Why this file is long: what the node changes on the host is recorded and undone in one place, so
// the record and the undo (and the sweep of a killed run, which reuses the undo) cannot drift apart.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, rmSync, rmdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { isRunning, ownerAlive, ownerId, procCmdline, readFileSafe } from '../proc.ts';

export const STATE_FILE = '/run/stackscan-node.json';
export const BRIDGE = 'stackscan0';
export const NODE_IP = '10.244.0.1';
export const POD_CIDR = '10.244.0.0/24';
export const HARNESS_CHAIN = 'STACKSCAN-NODE';

/** sysctls (as /proc/sys paths) recorded before the node starts and restored after. */
export const SYSCTLS = [
  'net/ipv4/ip_forward',
  'net/bridge/bridge-nf-call-iptables',
  'net/bridge/bridge-nf-call-ip6tables',
  'net/ipv4/conf/all/route_localnet',
  'vm/overcommit_memory',
  'vm/panic_on_oom',
  'kernel/panic',
  'kernel/panic_on_oops',
  'kernel/keys/root_maxkeys',
  'kernel/keys/root_maxbytes',
  'net/netfilter/nf_conntrack_max',
  'net/netfilter/nf_conntrack_tcp_timeout_established',
  'net/netfilter/nf_conntrack_tcp_timeout_close_wait',
];

/** Host paths the components create outside our dir (removed only if they did not exist before). */
export const HOST_PATHS = [
  '/var/lib/kubelet',
  '/var/log/pods',
  '/var/log/containers',
  '/var/lib/cni',
  '/run/containerd',
  '/usr/libexec/kubernetes',
  '/var/lib/kube-router',
  '/run/kube-router',
  '/etc/cni',
  '/opt/cni',
];

export interface NodeState {
  owner: string;
  dir: string;
  sysctls: Record<string, string>;
  createdPaths: string[];
  createdCgroups: string[];
  ipsetsBefore: string[];
}

const OURS = /KUBE-|kube-router|STACKSCAN-NODE/;
const OUR_SET = /(^|:)(KUBE-|kube-router)/;

function run(cmd: string, args: string[], input?: string): string {
  return execFileSync(cmd, args, { encoding: 'utf8', input, stdio: ['pipe', 'pipe', 'pipe'], timeout: 20_000 });
}

function tryRun(cmd: string, args: string[], input?: string): string | undefined {
  try {
    return run(cmd, args, input);
  } catch {
    return undefined;
  }
}

export function readSysctl(p: string): string | undefined {
  try {
    return readFileSync(join('/proc/sys', p), 'utf8').trim();
  } catch {
    return undefined;
  }
}

export function writeSysctl(p: string, v: string): void {
  writeFileSync(join('/proc/sys', p), `${v}\n`);
}

export function cgroupControllers(): string[] {
  try {
    return readdirSync('/sys/fs/cgroup')
      .map((c) => join('/sys/fs/cgroup', c))
      .filter((d) => {
        try {
          return statSync(d).isDirectory();
        } catch {
          return false;
        }
      });
  } catch {
    return [];
  }
}

export function ipsetNames(): string[] {
  return (tryRun('ipset', ['list', '-n']) ?? '')
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean);
}

/** Lines of iptables-save (v4 or v6) that are ours: chains and rules naming KUBE-*, kube-router or STACKSCAN-NODE. */
export function ourIptables(v6 = false): string[] {
  const out = tryRun(v6 ? 'ip6tables-save' : 'iptables-save', []) ?? '';
  return out.split('\n').filter((l) => (l.startsWith(':') || l.startsWith('-A')) && OURS.test(l));
}

/** Record the host's state before the node changes anything; the caller writes STATE_FILE. */
export function recordHost(dir: string): NodeState {
  const sysctls: Record<string, string> = {};
  for (const s of SYSCTLS) {
    const v = readSysctl(s);
    if (v !== undefined) sysctls[s] = v;
  }
  return {
    owner: ownerId(),
    dir,
    sysctls,
    createdPaths: HOST_PATHS.filter((p) => !existsSync(p)),
    createdCgroups: cgroupControllers()
      .map((c) => join(c, 'kubepods'))
      .filter((p) => !existsSync(p)),
    ipsetsBefore: ipsetNames(),
  };
}

export function writeState(st: NodeState): void {
  writeFileSync(STATE_FILE, JSON.stringify(st, null, 2));
}

export function readState(): NodeState | undefined {
  try {
    return JSON.parse(readFileSync(STATE_FILE, 'utf8')) as NodeState;
  } catch {
    return undefined;
  }
}

/** Everything the host has that a new node would clash with: empty when it can start. */
export function hostConflicts(): string[] {
  const out: string[] = [];
  const rules = [...ourIptables(false), ...ourIptables(true)];
  if (rules.length) out.push(`${rules.length} iptables chains/rules of Kubernetes or kube-router already exist (e.g. ${rules[0].slice(0, 80)})`);
  const sets = ipsetNames().filter((n) => OUR_SET.test(n));
  if (sets.length) out.push(`ipsets of kube-router already exist (${sets.slice(0, 3).join(', ')})`);
  if (existsSync(`/sys/class/net/${BRIDGE}`)) out.push(`network interface ${BRIDGE} already exists`);
  return out;
}

// A zombie (exited, not yet reaped by its parent, e.g. this process) is dead.
const alive = isRunning;

function kill(pid: number, sig: NodeJS.Signals = 'SIGKILL'): void {
  try {
    process.kill(pid, sig);
  } catch {
    /* gone */
  }
}

function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

function cgroupProcs(root: string): number[] {
  const pids: number[] = [];
  const walk = (d: string, depth: number) => {
    if (depth > 8) return;
    try {
      for (const l of readFileSync(join(d, 'cgroup.procs'), 'utf8').split('\n')) if (l.trim()) pids.push(Number(l));
    } catch {
      /* none */
    }
    let kids: string[] = [];
    try {
      kids = readdirSync(d, { withFileTypes: true })
        .filter((e) => e.isDirectory())
        .map((e) => join(d, e.name));
    } catch {
      /* gone */
    }
    for (const k of kids) walk(k, depth + 1);
  };
  walk(root, 0);
  return pids;
}

function rmCgroupTree(d: string): void {
  let kids: string[] = [];
  try {
    kids = readdirSync(d, { withFileTypes: true })
      .filter((e) => e.isDirectory())
      .map((e) => join(d, e.name));
  } catch {
    return;
  }
  for (const k of kids) rmCgroupTree(k);
  for (let i = 0; i < 10; i++) {
    try {
      rmdirSync(d);
      return;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return;
      sleepSync(100);
    }
  }
}

/** Processes whose command line mentions `needle` (e.g. our dir): shims, containerd, kubelet. */
function procsMentioning(needle: string): number[] {
  const out: number[] = [];
  for (const e of readdirSync('/proc')) {
    const pid = Number(e);
    if (!pid || pid === process.pid) continue;
    // The raw command line (arguments separated by NUL bytes); undefined: gone.
    if (procCmdline(pid, '\0')?.includes(needle)) out.push(pid);
  }
  return out;
}

/**
 * The iptables-restore --noflush script that removes our rules from an iptables-save dump: rules
 * in other chains that name ours are deleted (-D, verbatim), our chains flushed and deleted.
 * Pure; `match` says which chain names and rule texts are ours.
 */
export function removalScript(save: string, match: RegExp = OURS): { script: string; byTable: Map<string, { deletes: string[]; chains: string[] }> } {
  let table = '';
  const byTable = new Map<string, { deletes: string[]; chains: string[] }>();
  for (const line of save.split('\n')) {
    if (line.startsWith('*')) {
      table = line.slice(1).trim();
      byTable.set(table, { deletes: [], chains: [] });
      continue;
    }
    const t = byTable.get(table);
    if (!t) continue;
    if (line.startsWith(':')) {
      const chain = line.slice(1).split(' ')[0];
      if (match.test(chain)) t.chains.push(chain);
    } else if (line.startsWith('-A ')) {
      const chain = line.split(' ')[1];
      if (!match.test(chain) && match.test(line)) t.deletes.push(`-D ${line.slice(3)}`);
    }
  }
  let script = '';
  for (const [tbl, t] of byTable) {
    if (!t.deletes.length && !t.chains.length) continue;
    script += `*${tbl}\n${t.deletes.map((d) => `${d}\n`).join('')}`;
    for (const c of t.chains) script += `-F ${c}\n`;
    for (const c of t.chains) script += `-X ${c}\n`;
    script += 'COMMIT\n';
  }
  return { script, byTable };
}

/** Remove our iptables/ip6tables rules and chains (filter, nat, mangle, raw), or only those `match` names. */
export function cleanIptables(match: RegExp = OURS, families: ('v4' | 'v6')[] = ['v4', 'v6']): void {
  for (const fam of families) {
    const v6 = fam === 'v6';
    const save = tryRun(v6 ? 'ip6tables-save' : 'iptables-save', []);
    if (!save) continue;
    const { script, byTable } = removalScript(save, match);
    if (!script) continue;
    if (tryRun(v6 ? 'ip6tables-restore' : 'iptables-restore', ['-w', '5', '--noflush'], script) === undefined) {
      // One bad line fails the whole batch: fall back to one command per line.
      for (const [tbl, t] of byTable) {
        for (const d of t.deletes) tryRun(v6 ? 'ip6tables' : 'iptables', ['-w', '5', '-t', tbl, ...splitRule(d)]);
        for (const c of t.chains) tryRun(v6 ? 'ip6tables' : 'iptables', ['-w', '5', '-t', tbl, '-F', c]);
        for (const c of t.chains) tryRun(v6 ? 'ip6tables' : 'iptables', ['-w', '5', '-t', tbl, '-X', c]);
      }
    }
  }
  // kube-proxy's nftables tables, if any version of it made them.
  if (match === OURS) for (const fam of ['ip', 'ip6']) tryRun('nft', ['delete', 'table', fam, 'kube-proxy']);
}

/** kube-router's own chains and the rules naming them or its ipsets. */
export const KUBE_ROUTER = /KUBE-ROUTER-|KUBE-NWPLCY-|KUBE-POD-FW-|KUBE-SRC-|KUBE-DST-|kube-router/;

/** Split an iptables-save rule into arguments (double quotes group, as iptables-save writes them). */
export function splitRule(rule: string): string[] {
  const out: string[] = [];
  const re = /"((?:[^"\\]|\\.)*)"|(\S+)/g;
  let m: RegExpExecArray | null;
  while ((m = re.exec(rule))) out.push(m[1] !== undefined ? m[1].replace(/\\"/g, '"') : m[2]);
  return out;
}

export function cleanIpsets(before: string[]): void {
  const keep = new Set(before);
  const sets = ipsetNames().filter((n) => OUR_SET.test(n) && !keep.has(n));
  // Sets referenced by other sets (list:set) must go first: flush all, then destroy, twice.
  for (const s of sets) tryRun('ipset', ['flush', s]);
  for (let pass = 0; pass < 3; pass++) for (const s of ipsetNames().filter((n) => sets.includes(n))) tryRun('ipset', ['destroy', s]);
}

function mountsUnder(prefixes: string[]): string[] {
  let info = '';
  try {
    info = readFileSync('/proc/self/mountinfo', 'utf8');
  } catch {
    return [];
  }
  const decode = (s: string) => s.replace(/\\(\d{3})/g, (_, o) => String.fromCharCode(parseInt(o, 8)));
  return info
    .split('\n')
    .map((l) => decode(l.split(' ')[4] ?? ''))
    .filter((mp) => mp && prefixes.some((p) => mp === p || mp.startsWith(`${p}/`)))
    .sort((a, b) => b.length - a.length);
}

/**
 * Undo everything a node run did, from its recorded state. Synchronous and idempotent;
 * never throws (each step is best effort); returns what it could not undo.
 */
export function undoHost(st: NodeState, log: (l: string) => void = () => {}): string[] {
  const left: string[] = [];
  // 1. processes: ours by pidfile, then every process in the kubepods cgroups, then
  //    anything whose command line names our dir (containerd shims re-parent to init).
  const pidfiles = (() => {
    try {
      return readdirSync(st.dir).filter((f) => f.endsWith('.pid'));
    } catch {
      return [];
    }
  })();
  const victims = new Set<number>();
  for (const f of pidfiles) {
    const pid = Number(readFileSafe(join(st.dir, f)).trim());
    if (pid && alive(pid) && readFileSafe(`/proc/${pid}/cmdline`).includes(st.dir)) victims.add(pid);
  }
  for (const c of st.createdCgroups) for (const pid of cgroupProcs(c)) victims.add(pid);
  for (const pid of procsMentioning(st.dir)) victims.add(pid);
  for (const pid of victims) {
    try {
      process.kill(-pid, 'SIGKILL');
    } catch {
      /* not a group leader */
    }
    kill(pid);
  }
  for (let i = 0; i < 50 && [...victims].some(alive); i++) sleepSync(100);
  for (const pid of victims) if (alive(pid)) left.push(`process ${pid} did not die`);
  // Containers started after the first pass (a shim racing us): once more.
  for (const c of st.createdCgroups) for (const pid of cgroupProcs(c)) kill(pid);
  if (victims.size) log(`killed ${victims.size} node processes (components, shims, containers)`);

  // 2. mounts under our dir and under host paths we created
  const mps = mountsUnder([st.dir, ...st.createdPaths]);
  for (const mp of mps) if (tryRun('umount', ['-l', mp]) === undefined && tryRun('umount', ['-f', mp]) === undefined) left.push(`mount ${mp}`);
  if (mps.length) log(`unmounted ${mps.length} mounts`);

  // 3. cgroups
  for (const c of st.createdCgroups) rmCgroupTree(c);
  for (const c of st.createdCgroups) if (existsSync(c)) left.push(`cgroup ${c}`);

  // 4. iptables, ipsets (after kube-router is dead: it would re-add them)
  cleanIptables();
  const rules = [...ourIptables(false), ...ourIptables(true)];
  if (rules.length) left.push(`${rules.length} iptables lines: ${rules.slice(0, 3).join(' | ')}`);
  cleanIpsets(st.ipsetsBefore);
  const sets = ipsetNames().filter((n) => OUR_SET.test(n) && !st.ipsetsBefore.includes(n));
  if (sets.length) left.push(`ipsets ${sets.join(', ')}`);

  // 5. the bridge (pod veths went with their network namespaces)
  if (existsSync(`/sys/class/net/${BRIDGE}`)) tryRun('ip', ['link', 'del', BRIDGE]);
  if (existsSync(`/sys/class/net/${BRIDGE}`)) left.push(`interface ${BRIDGE}`);

  // 6. sysctls
  for (const [k, v] of Object.entries(st.sysctls)) {
    if (readSysctl(k) === v) continue;
    try {
      writeSysctl(k, v);
    } catch (e) {
      left.push(`sysctl ${k}=${v}: ${(e as Error).message}`);
    }
  }

  // 7. host paths we created, our dir, the state file
  for (const p of st.createdPaths) if (!mountsUnder([p]).length) rmSync(p, { recursive: true, force: true });
  if (!mountsUnder([st.dir]).length) rmSync(st.dir, { recursive: true, force: true });
  else left.push(`dir ${st.dir} (still has mounts)`);
  if (!left.length) rmSync(STATE_FILE, { force: true });
  return left;
}

/** Sweep a killed run: when STATE_FILE names an owner that is gone, undo it. Throws when a live run owns the node. */
export function sweepNode(log: (l: string) => void = () => {}): void {
  const st = readState();
  if (!st) return;
  if (ownerAlive(st.owner)) {
    if (st.owner === ownerId()) throw new Error('a real node is already running in this process: stop it first');
    throw new Error(`a real node is running for process ${st.owner.split(' ')[0]} (${STATE_FILE}): only one node at a time on this machine`);
  }
  log(`sweeping a real node left by a killed run (process ${st.owner.split(' ')[0]}, ${st.dir})`);
  const left = undoHost(st, log);
  if (left.length) throw new Error(`could not undo a killed run's node completely: ${left.join('; ')}`);
}
