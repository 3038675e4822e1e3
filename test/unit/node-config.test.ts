// The real node's generated configuration (pure): pods must have no route off the bridge and no
// NAT, and containerd must use only the harness's own dirs, CNI config and local pause image.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { cniConflist, containerdToml, IMAGES, NODE_IP, POD_CIDR } from '../../harness/node/index.ts';
import { KUBE_ROUTER, removalScript, splitRule } from '../../harness/node/host.ts';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

// Recorded from a running real node (kubelet, kube-proxy in iptables mode, kube-router with the
// node-it stack's policies): test/fixtures/node/iptables-save.txt.
const SAVE = readFileSync(join(import.meta.dirname, '../fixtures/node/iptables-save.txt'), 'utf8');

const s = suite('real node config');

s('CNI: bridge without gateway or masquerade; only the Service CIDR is routed, via the bridge IP', () => {
  const conf = JSON.parse(cniConflist('/tmp/x', '10.0.0.0/24'));
  const bridge = conf.plugins.find((p: any) => p.type === 'bridge');
  assert.is(bridge.bridge, 'stackscan0');
  assert.is(bridge.isGateway, false);
  assert.is(bridge.isDefaultGateway, false);
  assert.is(bridge.ipMasq, false);
  assert.equal(bridge.ipam.routes, [{ dst: '10.0.0.0/24', gw: NODE_IP }]);
  assert.not.ok(JSON.stringify(bridge.ipam.routes).includes('0.0.0.0/0'));
  assert.is(bridge.ipam.ranges[0][0].subnet, POD_CIDR);
  assert.is(bridge.ipam.dataDir, '/tmp/x/cni/ipam');
});

s('containerd: own root/state/socket, local pause image, restricted oom_score_adj, cgroupfs', () => {
  const t = containerdToml('/tmp/x', '/bin/dir', '/tmp/x/containerd.sock');
  for (const want of [
    'root = "/tmp/x/containerd/root"',
    'state = "/tmp/x/containerd/state"',
    'address = "/tmp/x/containerd.sock"',
    `sandbox = "${IMAGES.pause}"`,
    'restrict_oom_score_adj = true',
    'netns_mounts_under_state_dir = true',
    'SystemdCgroup = false',
    'BinaryName = "/bin/dir/runc"',
    'bin_dirs = ["/bin/dir/cni"]',
    'conf_dir = "/tmp/x/cni/net.d"',
    'stream_server_address = "127.0.0.1"',
  ]) {
    assert.ok(t.includes(want), want);
  }
  assert.ok(Object.values(IMAGES).every((i) => i.startsWith('localhost/')));
});

s('splitRule keeps quoted comments as one argument', () => {
  assert.equal(splitRule('-D INPUT -m comment --comment "kubernetes health check" -j KUBE-NODEPORTS'), [
    '-D',
    'INPUT',
    '-m',
    'comment',
    '--comment',
    'kubernetes health check',
    '-j',
    'KUBE-NODEPORTS',
  ]);
});

s('removal script from a real iptables-save: every KUBE-*/kube-router/harness chain flushed and deleted, every jump into them deleted', () => {
  const { script, byTable } = removalScript(SAVE);
  const chains = [...SAVE.matchAll(/^:(\S+)/gm)].map((m) => m[1]).filter((c) => /KUBE-|STACKSCAN-NODE/.test(c));
  assert.ok(chains.length > 20, `${chains.length} chains`);
  for (const c of chains) {
    assert.ok(script.includes(`-F ${c}\n`), `flush ${c}`);
    assert.ok(script.includes(`-X ${c}\n`), `delete ${c}`);
  }
  const builtinJumps = SAVE.split('\n').filter((l) => /^-A (INPUT|FORWARD|OUTPUT|PREROUTING|POSTROUTING) /.test(l) && /KUBE-|STACKSCAN-NODE/.test(l));
  assert.ok(builtinJumps.length >= 8, `${builtinJumps.length} jumps`);
  for (const l of builtinJumps) assert.ok(script.includes(`-D ${l.slice(3)}\n`), l);
  // rules inside our chains go with the chain (-F), not one by one
  assert.not.ok(/^-D KUBE-/m.test(script));
  assert.equal([...byTable.keys()].sort(), ['filter', 'mangle', 'nat']);
  // every table block is committed
  assert.is(script.match(/^\*/gm)!.length, script.match(/^COMMIT$/gm)!.length);
});

s('kube-router only: its chains go, kube-proxy and kubelet chains stay', () => {
  const { script } = removalScript(SAVE, KUBE_ROUTER);
  assert.ok(/-X KUBE-ROUTER-FORWARD\n/.test(script));
  assert.ok(/-X KUBE-POD-FW-/.test(script) && /-X KUBE-NWPLCY-/.test(script));
  for (const keep of ['KUBE-SERVICES', 'KUBE-FORWARD', 'KUBE-FIREWALL', 'KUBE-KUBELET-CANARY', 'KUBE-POSTROUTING'])
    assert.not.ok(script.includes(`-X ${keep}\n`), keep);
});

s.run();
