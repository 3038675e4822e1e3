// `npm run demo`'s first step (demo/requirements.ts): what each part needs from the machine,
// what is installed as root, what is left out otherwise and why. The decision is pure and tested
// on both cases (root, not root); the probe is tested on a real PATH that lacks nmap.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PARTS, REQUIREMENTS, installCommand, onPath, planRequirements, probeMachine, type MachineProbe } from '../../demo/requirements.ts';

const s = suite('demo: system requirements per part');
const machine = (over: Partial<MachineProbe>): MachineProbe => ({ root: true, apt: true, go: true, missing: [], wantNode: true, wantKnative: true, ...over });

s('root with apt-get: the missing packages are installed, each with why; nothing left out', () => {
  const plan = planRequirements(machine({ missing: ['nmap', 'libseccomp-dev'] }));
  assert.equal(
    plan.install.map((p) => p.pkg),
    ['nmap', 'libseccomp-dev'],
  );
  assert.match(plan.install[0].why, /network scan's probes/);
  assert.match(plan.install[1].why, /runc's build/);
  assert.is(plan.command, undefined);
  assert.equal([...plan.leftOut], []);
});

s('root, after the install: what is still missing is left out (not installed again), naming the package', () => {
  const plan = planRequirements(machine({ missing: ['redis-server'] }), { installed: true });
  assert.equal(plan.install, []);
  assert.is(plan.command, undefined);
  assert.equal([...plan.leftOut.keys()], ['nuclei']);
  assert.match(plan.leftOut.get('nuclei')!, /needs redis-server, still missing after harness\/install-system-deps\.sh/);
});

s('not root: nothing installed; the exact command printed once; only the parts that need the packages left out, and the node (root)', () => {
  const plan = planRequirements(machine({ root: false, missing: ['nmap', 'redis-server', 'libseccomp-dev'] }));
  assert.equal(plan.install, []);
  // libseccomp-dev is only for the real node, which is left out anyway (root): not in the command.
  assert.is(plan.command, 'sudo bash harness/install-system-deps.sh nmap redis-server');
  assert.equal([...plan.leftOut.keys()].sort(), ['knative-node', 'network-full', 'node', 'nuclei']);
  assert.match(plan.leftOut.get('node')!, /needs root/);
  assert.match(plan.leftOut.get('knative-node')!, /runs on the real node, which is left out \(needs root/);
  assert.match(plan.leftOut.get('network-full')!, /needs nmap \(not installed\): sudo bash harness\/install-system-deps\.sh nmap redis-server/);
  assert.not.ok(plan.leftOut.has('cluster'));
});

s('not root with everything installed: only the real node and the Knative on it are left out', () => {
  const plan = planRequirements(machine({ root: false }));
  assert.is(plan.command, undefined);
  assert.equal([...plan.leftOut.keys()], ['node', 'knative-node']);
});

s('root: STACKSCAN_DEMO_KNATIVE=0 leaves out the Knative part only; a package the node needs leaves out both', () => {
  const off = planRequirements(machine({ root: false, wantKnative: false }));
  assert.is(off.leftOut.get('knative-node'), 'STACKSCAN_DEMO_KNATIVE=0');
  const root = planRequirements(machine({ wantKnative: false }));
  assert.equal([...root.leftOut.keys()], ['knative-node']);
  const noIpset = planRequirements(machine({ missing: ['ipset'] }), { installed: true });
  assert.equal([...noIpset.leftOut.keys()].sort(), ['knative-node', 'node']);
  assert.match(noIpset.leftOut.get('knative-node')!, /needs ipset/);
});

s('openssl missing leaves out the cluster parts (the control plane needs it); STACKSCAN_DEMO_NODE=0 leaves out the node', () => {
  const plan = planRequirements(machine({ root: false, missing: ['openssl'], wantNode: false }));
  assert.equal([...plan.leftOut.keys()].sort(), ['cloudevents', 'cluster', 'knative-node', 'kubescape', 'network-full', 'node', 'nuclei']);
  assert.is(plan.leftOut.get('node'), 'STACKSCAN_DEMO_NODE=0');
});

s('root without apt-get: the command says which Debian packages, without sudo', () => {
  const plan = planRequirements(machine({ apt: false, missing: ['nmap'] }));
  assert.equal(plan.install, []);
  assert.match(plan.command!, /^install the Debian packages nmap/);
  assert.is(installCommand(['nmap'], true, true), 'bash harness/install-system-deps.sh nmap');
});

s('every requirement names a package of harness/install-system-deps.sh and parts of the demo', async () => {
  const { readFileSync } = await import('node:fs');
  const script = readFileSync(join(import.meta.dirname, '../../harness/install-system-deps.sh'), 'utf8');
  const all = /^all=\(([^)]*)\)/m.exec(script)![1].split(/\s+/);
  for (const r of REQUIREMENTS) {
    assert.ok(all.includes(r.pkg), r.pkg);
    assert.ok(r.parts.length && r.parts.every((p) => (PARTS as readonly string[]).includes(p)), r.pkg);
  }
});

s('the probe on a real PATH that lacks nmap: nmap is missing, openssl is not', () => {
  const dir = mkdtempSync(join(tmpdir(), 'demo-path-'));
  try {
    const openssl = onPath('openssl');
    if (openssl) symlinkSync(openssl, join(dir, 'openssl'));
    const probe = probeMachine({ PATH: dir });
    assert.ok(probe.missing.includes('nmap'));
    assert.is(probe.missing.includes('openssl'), !openssl);
    assert.is(probe.go, false);
    assert.is(probe.apt, false);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

s('the demo never ends in a stack trace: an error thrown by the demo, or after it returned, is one line and exit code 1', () => {
  const dir = mkdtempSync(join(tmpdir(), 'demo-wrap-'));
  try {
    // The real wrapper (demo/demo.ts) around stand-ins for demo/run.ts.
    copyFileSync(join(import.meta.dirname, '../../demo/demo.ts'), join(dir, 'demo.ts'));
    writeFileSync(join(dir, 'package.json'), '{"type":"module"}');
    const tsx = join(import.meta.dirname, '../../node_modules/.bin/tsx');
    const cases: [string, RegExp][] = [
      [
        "export async function runDemo(): Promise<number> { throw Object.assign(new Error('the local cluster cannot start: x'), { hint: 'bash " +
          "harness/build.sh controlplane' }); }",
        /^demo failed: the local cluster cannot start: x\nto fix it: bash harness\/build\.sh controlplane, then npm run demo$/,
      ],
      [
        "export async function runDemo(): Promise<number> { setTimeout(() => { throw new TypeError('late'); }, 5); return 0; }",
        /^demo failed: late\nrun it again with the whole error: STACKSCAN_DEMO_DEBUG=1 npm run demo$/,
      ],
      [
        "import './missing.ts';\nexport async function runDemo(): Promise<number> { return 0; }",
        /^demo failed: Cannot find module .*missing\.ts.*\nrun it again/,
      ],
    ];
    for (const [run, expected] of cases) {
      writeFileSync(join(dir, 'run.ts'), run);
      const r = spawnSync(tsx, [join(dir, 'demo.ts')], { encoding: 'utf8', timeout: 60_000, env: { ...process.env, STACKSCAN_DEMO_DEBUG: '' } });
      assert.is(r.status, 1, r.stderr);
      assert.match(r.stderr.trim(), expected);
      assert.not.match(r.stderr, /^\s+at /m, 'no stack frame');
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

s.run();
