/**
 * What each part of `npm run demo` needs from the machine, checked before anything is built.
 *
 *   const probe = probeMachine();                 // I/O: PATH, files, uid, apt-get, go
 *   const plan = planRequirements(probe);         // pure: what to install, what to leave out, why
 *
 * As root (with apt-get), the missing Debian packages are installed by
 * `harness/install-system-deps.sh <package…>` (the demo shows what and why); otherwise the
 * demo prints the exact command and leaves out only the parts that need them. The real node
 * needs root whatever is installed.
 */
import { execFileSync } from 'node:child_process';
import { accessSync, constants, existsSync } from 'node:fs';
import { delimiter, join } from 'node:path';

/** The parts of the demo, in the order of its final table. */
export const PARTS = ['cluster', 'network-full', 'cloudevents', 'knative', 'kubescape', 'nuclei', 'node', 'knative-node'] as const;
export type Part = (typeof PARTS)[number];

export const PART_LABELS: Record<Part, string> = {
  cluster: 'network light, opa light and full (local control plane + Gatekeeper)',
  'network-full': 'network full on loopback (local nmap runner)',
  cloudevents: 'CloudEvents through the combined server',
  knative: 'knative/ rendered by kustomize',
  kubescape: 'kubescape light and full',
  nuclei: 'nuclei light and ssl',
  node: 'network full on a real node',
  'knative-node': 'the four functions on a real Knative (real node)',
};

/** How a requirement is seen to be present. */
export type Check = { command: string } | { file: string } | { anyFile: string[] };

export interface Requirement {
  /** The Debian package that provides it (harness/install-system-deps.sh installs it). */
  pkg: string;
  check: Check;
  why: string;
  parts: Part[];
}

/**
 * Every system package a demo part needs. `cloudevents` and `knative` need only the cluster and
 * kustomize (built with Go).
 */
export const REQUIREMENTS: Requirement[] = [
  {
    pkg: 'openssl',
    check: { command: 'openssl' },
    why: "the local control plane's certificates, and the nuclei demo's expired certificate",
    parts: ['cluster', 'network-full', 'cloudevents', 'kubescape', 'nuclei', 'node', 'knative-node'],
  },
  {
    pkg: 'nmap',
    check: { command: 'nmap' },
    why: "the network scan's probes (full mode) and the real node's nmap image",
    parts: ['network-full', 'node', 'knative-node'],
  },
  {
    pkg: 'redis-server',
    check: { anyFile: ['/usr/bin/redis-server', '/usr/local/bin/redis-server'] },
    why: "the nuclei demo's Redis services (without and with a password)",
    parts: ['nuclei'],
  },
  { pkg: 'iproute2', check: { command: 'ip' }, why: "the real node's bridge and routes", parts: ['node', 'knative-node'] },
  { pkg: 'iptables', check: { command: 'iptables' }, why: 'kube-proxy and kube-router on the real node', parts: ['node', 'knative-node'] },
  { pkg: 'ipset', check: { command: 'ipset' }, why: "kube-router's NetworkPolicy sets on the real node", parts: ['node', 'knative-node'] },
  { pkg: 'conntrack', check: { command: 'conntrack' }, why: 'kube-proxy on the real node', parts: ['node', 'knative-node'] },
  {
    pkg: 'libseccomp-dev',
    check: { anyFile: ['/usr/include/seccomp.h'] },
    why: "runc's build (cgo + libseccomp) for the real node",
    parts: ['node', 'knative-node'],
  },
  { pkg: 'pkg-config', check: { command: 'pkg-config' }, why: "runc's build for the real node", parts: ['node', 'knative-node'] },
  { pkg: 'busybox-static', check: { file: '/bin/busybox' }, why: "the real node's local images (pause, listen)", parts: ['node', 'knative-node'] },
  { pkg: 'redis-tools', check: { anyFile: ['/usr/bin/redis-server'] }, why: "the real node's redis image", parts: ['node', 'knative-node'] },
];

export interface MachineProbe {
  root: boolean;
  /** apt-get is on PATH (a Debian-like machine). */
  apt: boolean;
  /** `go` is on PATH (needed only to build what is not built yet). */
  go: boolean;
  /** Packages whose check failed. */
  missing: string[];
  /** The real node is wanted (STACKSCAN_DEMO_NODE is not 0). */
  wantNode: boolean;
  /** The Knative part is wanted (STACKSCAN_DEMO_KNATIVE is not 0). */
  wantKnative: boolean;
}

export interface RequirementPlan {
  /** Root with apt-get: install these first (package and why). */
  install: { pkg: string; why: string }[];
  /** Not installable here: the exact command the user should run (once), else undefined. */
  command?: string;
  /** Parts left out, and why. */
  leftOut: Map<Part, string>;
}

const uniq = <T>(xs: T[]) => [...new Set(xs)];

/** The command that installs `pkgs` (for a person to run). */
export function installCommand(pkgs: string[], root: boolean, apt: boolean): string {
  if (!apt) return `install the Debian packages ${pkgs.join(' ')} (or your distribution's equivalents) with your package manager`;
  return `${root ? '' : 'sudo '}bash harness/install-system-deps.sh ${pkgs.join(' ')}`;
}

/**
 * Pure: from what the machine has, what the demo installs (root with apt-get) or leaves out
 * (anything else), with the reason per part. After an install, call it again with a fresh
 * probe and `installed: true`: what is still missing is then left out, not installed again.
 */
export function planRequirements(probe: MachineProbe, opts: { installed?: boolean } = {}): RequirementPlan {
  const leftOut = new Map<Part, string>();
  if (!probe.wantNode) leftOut.set('node', 'STACKSCAN_DEMO_NODE=0');
  else if (!probe.root) leftOut.set('node', 'needs root (it creates a bridge, iptables rules, mounts and cgroups): run the demo as root to include it');
  if (!probe.wantKnative) leftOut.set('knative-node', 'STACKSCAN_DEMO_KNATIVE=0');
  else if (leftOut.has('node')) leftOut.set('knative-node', `runs on the real node, which is left out (${leftOut.get('node')})`);
  const needed = REQUIREMENTS.filter((r) => probe.missing.includes(r.pkg) && r.parts.some((p) => !leftOut.has(p)));
  if (!needed.length) return { install: [], leftOut };
  const pkgs = uniq(needed.map((r) => r.pkg));
  if (probe.root && probe.apt && !opts.installed) {
    return {
      install: pkgs.map((pkg) => ({
        pkg,
        why: needed
          .filter((r) => r.pkg === pkg)
          .map((r) => r.why)
          .join('; '),
      })),
      leftOut,
    };
  }
  const command = opts.installed ? undefined : installCommand(pkgs, probe.root, probe.apt);
  for (const part of PARTS) {
    if (leftOut.has(part)) continue;
    const lacking = needed.filter((r) => r.parts.includes(part));
    if (!lacking.length) continue;
    const what = lacking.map((r) => r.pkg).join(', ');
    leftOut.set(part, opts.installed ? `needs ${what}, still missing after harness/install-system-deps.sh` : `needs ${what} (not installed): ${command}`);
  }
  return { install: [], command, leftOut };
}

/** An executable named `name` on PATH, else undefined. */
export function onPath(name: string, path = process.env.PATH ?? ''): string | undefined {
  for (const dir of path.split(delimiter).filter(Boolean)) {
    const p = join(dir, name);
    try {
      accessSync(p, constants.X_OK);
      return p;
    } catch {
      /* next */
    }
  }
  return undefined;
}

export function present(check: Check, path = process.env.PATH ?? ''): boolean {
  if ('command' in check) return onPath(check.command, path) !== undefined;
  if ('file' in check) return existsSync(check.file);
  return check.anyFile.some((f) => existsSync(f));
}

/** I/O: what this machine has. */
export function probeMachine(env: NodeJS.ProcessEnv = process.env): MachineProbe {
  const path = env.PATH ?? '';
  return {
    root: process.getuid?.() === 0,
    apt: onPath('apt-get', path) !== undefined,
    go: onPath('go', path) !== undefined,
    missing: uniq(REQUIREMENTS.filter((r) => !present(r.check, path)).map((r) => r.pkg)),
    wantNode: env.STACKSCAN_DEMO_NODE !== '0',
    wantKnative: env.STACKSCAN_DEMO_KNATIVE !== '0',
  };
}

/** I/O: install `pkgs` with harness/install-system-deps.sh (root only); false when it failed. */
export function installPackages(root: string, pkgs: string[]): boolean {
  try {
    execFileSync('bash', [join(root, 'harness/install-system-deps.sh'), ...pkgs], { stdio: 'inherit' });
    return true;
  } catch {
    return false;
  }
}
