// The local nmap runner with the real nmap: open and closed ports against
// listeners this test starts on loopback, filtered ports in a network
// namespace the test creates (nftables drops a port there), the hard timeout,
// and the errors for a missing binary / a failing nmap.
//
// Traffic: only 127.0.0.0/8 and ::1, on this host and inside the test's own
// namespace. Needs root and `ip netns` for the namespace part and nmap on PATH
// (harness/install-system-deps.sh): under CI=true their absence fails the
// suite with the reason; elsewhere those tests are skipped with the reason.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { createServer, type Server } from 'node:net';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ProbeTarget } from '../../functions/network-scan/nmap/nmap.ts';
import { NmapError, runLocalNmap } from '../../functions/network-scan/nmap/local.ts';

const CI = process.env.CI === 'true';
const NS = `stackscan-test-${process.pid}`;
const DROPPED = [9090, 9091];

function run(cmd: string, args: string[], input?: string): { ok: true } | { ok: false; why: string } {
  try {
    execFileSync(cmd, args, { stdio: ['pipe', 'ignore', 'pipe'], input, timeout: 15_000 });
    return { ok: true };
  } catch (e) {
    const err = e as { stderr?: Buffer; message: string };
    return { ok: false, why: `${cmd} ${args.join(' ')}: ${err.stderr?.toString().trim() || err.message}` };
  }
}

// ---- what this machine offers (decided before tests are registered)
const nmapCheck = run('nmap', ['--version']);
const nmapMissing = nmapCheck.ok
  ? undefined
  : `nmap is not installed (${nmapCheck.why}); install it with harness/install-system-deps.sh or apt-get install nmap`;

function netnsProblem(): string | undefined {
  if (process.getuid?.() !== 0) return 'not root: network namespaces need root (ip netns add)';
  const probe = `${NS}-probe`;
  const add = run('ip', ['netns', 'add', probe]);
  if (!add.ok) return `ip netns does not work here: ${add.why}`;
  run('ip', ['netns', 'del', probe]);
  const nft = run('nft', ['--version']);
  if (!nft.ok) return `nft is not installed (${nft.why}); install nftables`;
  return undefined;
}
const netnsMissing = nmapMissing ?? netnsProblem();

/** Register a test that needs `problem` absent: fail under CI, skip elsewhere. */
function needs(s: ReturnType<typeof suite>, problem: string | undefined, name: string, fn: () => Promise<void>): void {
  if (!problem) s(name, fn);
  else if (CI) {
    s(name, () => {
      throw new Error(`cannot run under CI: ${problem}`);
    });
  } else {
    console.warn(`SKIP nmap-local "${name}": ${problem}`);
    s.skip(name, fn);
  }
}

// ---- helpers
async function listen(host: string, port = 0): Promise<Server> {
  const srv = createServer((c) => c.destroy());
  await new Promise<void>((ok, fail) => {
    srv.once('error', fail);
    srv.listen(port, host, () => ok());
  });
  return srv;
}
const portOf = (s: Server) => (s.address() as { port: number }).port;
async function closedPort(host: string): Promise<number> {
  const srv = await listen(host);
  const port = portOf(srv);
  await new Promise((r) => srv.close(r));
  return port;
}
const tcp = (id: string, host: string, port: number): ProbeTarget => ({ id, host, port, protocol: 'TCP' });
const states = (m: Map<string, { state: string }>) => Object.fromEntries([...m].map(([k, v]) => [k, v.state]));

// ---- suite
const s = suite('nmap-local');
const servers: Server[] = [];
let nsCreated = false;
let nsListener: ChildProcess | undefined;
let tmp: string | undefined;

function deleteNetns(): void {
  if (nsListener && nsListener.exitCode === null) nsListener.kill('SIGKILL');
  if (nsCreated) {
    run('ip', ['netns', 'del', NS]);
    nsCreated = false;
  }
}
process.once('exit', deleteNetns);

s.after(async () => {
  for (const srv of servers) await new Promise((r) => srv.close(r));
  deleteNetns();
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

needs(s, nmapMissing, 'open and closed ports on 127.0.0.1 (and ::1), names mapped back', async () => {
  const a = await listen('127.0.0.1');
  const b = await listen('127.0.0.1');
  servers.push(a, b);
  const c1 = await closedPort('127.0.0.1');
  const c2 = await closedPort('127.0.0.1');
  const targets = [
    tcp('open-a', '127.0.0.1', portOf(a)),
    tcp('open-b', '127.0.0.1', portOf(b)),
    tcp('closed-1', '127.0.0.1', c1),
    tcp('closed-2', '127.0.0.1', c2),
    tcp('by-name', 'localhost', portOf(a)),
    tcp('other-addr', '127.0.0.2', portOf(a)), // the listener is bound to 127.0.0.1 only
  ];
  const expected: Record<string, string> = {
    'open-a': 'open',
    'open-b': 'open',
    'closed-1': 'closed',
    'closed-2': 'closed',
    'by-name': 'open',
    'other-addr': 'closed',
  };
  let v6 = false;
  try {
    const s6 = await listen('::1');
    servers.push(s6);
    targets.push(tcp('v6-open', '::1', portOf(s6)), tcp('v6-closed', '[::1]', await closedPort('::1')));
    Object.assign(expected, { 'v6-open': 'open', 'v6-closed': 'closed' });
    v6 = true;
  } catch (e) {
    console.warn(`nmap-local: no IPv6 loopback here (${(e as Error).message}); IPv6 part not run`);
  }

  const out = await runLocalNmap(targets, { hostTimeoutMs: 15_000, connectTimeoutMs: 500 });
  assert.equal(states(out.results), expected);
  assert.is(out.results.get('open-a')?.reason, 'syn-ack');
  assert.is(out.results.get('closed-1')?.reason, 'conn-refused');
  assert.equal(
    out.runs.map((r) => r.family),
    v6 ? [4, 6] : [4],
  );
  for (const r of out.runs) {
    assert.is(r.command[0], 'nmap');
    assert.ok(r.command.includes('-sT') && r.command.includes('-Pn'));
    assert.is(r.parsed.finished?.exit, 'success');
  }
});

needs(s, netnsMissing, 'filtered: nftables drop in a network namespace the test creates', async () => {
  const add = run('ip', ['netns', 'add', NS]);
  if (!add.ok) throw new Error(add.why);
  nsCreated = true;
  const lo = run('ip', ['-n', NS, 'link', 'set', 'lo', 'up']);
  if (!lo.ok) throw new Error(lo.why);
  const nft = run(
    'ip',
    ['netns', 'exec', NS, 'nft', '-f', '-'],
    [
      'table inet stackscan_test {',
      '  chain input {',
      '    type filter hook input priority 0; policy accept;',
      `    tcp dport { ${DROPPED.join(', ')} } drop`,
      '  }',
      '}',
      '',
    ].join('\n'),
  );
  if (!nft.ok) throw new Error(nft.why);

  // A listener inside the namespace (its loopback is not the host's).
  nsListener = spawn(
    'ip',
    [
      'netns',
      'exec',
      NS,
      process.execPath,
      '-e',
      `
    const srv = require('node:net').createServer((c) => c.destroy());
    srv.listen(8080, '127.0.0.1', () => console.log('ready'));
    setTimeout(() => process.exit(0), 120000).unref();
  `,
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  await new Promise<void>((ok, fail) => {
    const t = setTimeout(() => fail(new Error('listener in the namespace did not start within 10 s')), 10_000);
    nsListener!.stdout!.once('data', () => (clearTimeout(t), ok()));
    nsListener!.once('exit', (code) => (clearTimeout(t), fail(new Error(`listener in the namespace exited (${code})`))));
  });

  const targets = [
    tcp('drop-1', '127.0.0.1', DROPPED[0]),
    tcp('drop-2', '127.0.0.1', DROPPED[1]),
    tcp('ns-open', '127.0.0.1', 8080),
    tcp('ns-closed', '127.0.0.1', 8081),
    tcp('drop-v6', '::1', DROPPED[0]),
    tcp('closed-v6', '::1', 8081),
  ];
  const started = Date.now();
  const out = await runLocalNmap(targets, { hostTimeoutMs: 15_000, connectTimeoutMs: 400, netns: NS });
  assert.equal(states(out.results), {
    'drop-1': 'filtered',
    'drop-2': 'filtered',
    'ns-open': 'open',
    'ns-closed': 'closed',
    'drop-v6': 'filtered',
    'closed-v6': 'closed',
  });
  assert.is(out.results.get('drop-1')?.reason, 'no-response');
  assert.equal(out.runs[0].command.slice(0, 5), ['ip', 'netns', 'exec', NS, 'nmap']);
  assert.ok(Date.now() - started < 15_000, 'bounded by the timeouts');
});

needs(s, netnsMissing, 'hard timeout kills nmap and says so', async () => {
  assert.ok(nsCreated, 'the namespace from the previous test');
  const started = Date.now();
  const targets = DROPPED.map((p) => tcp(`d${p}`, '127.0.0.1', p));
  try {
    await runLocalNmap(targets, { hostTimeoutMs: 20_000, connectTimeoutMs: 5000, maxRetries: 3, netns: NS, timeoutMs: 400 });
    assert.unreachable('should have timed out');
  } catch (e) {
    assert.instance(e, NmapError);
    assert.is((e as NmapError).kind, 'timeout');
    assert.match((e as Error).message, /timed out after 400 ms and was killed/);
  }
  assert.ok(Date.now() - started < 5000, `killed promptly (${Date.now() - started} ms)`);
});

s('a missing nmap is a clear error naming the binary and the install command', async () => {
  for (const netns of [undefined, ...(netnsMissing ? [] : [NS])]) {
    if (netns && !nsCreated) continue;
    try {
      await runLocalNmap([tcp('x', '127.0.0.1', 1)], { hostTimeoutMs: 1000, nmapPath: '/nonexistent/bin/nmap', ...(netns ? { netns } : {}) });
      assert.unreachable('should have failed');
    } catch (e) {
      assert.instance(e, NmapError);
      assert.is((e as NmapError).kind, 'missing', (e as Error).message);
      assert.match((e as Error).message, /nmap not found \("\/nonexistent\/bin\/nmap"\)/);
      assert.match((e as Error).message, /apt-get install nmap/);
    }
  }
});

s('a failing nmap: exit code and its stderr in the error', async () => {
  tmp = mkdtempSync(join(tmpdir(), 'stackscan-nmap-'));
  const fake = join(tmp, 'nmap');
  writeFileSync(fake, '#!/bin/sh\necho "Unable to open /x: fake failure" >&2\nexit 3\n');
  chmodSync(fake, 0o755);
  try {
    await runLocalNmap([tcp('x', '127.0.0.1', 1)], { hostTimeoutMs: 1000, nmapPath: fake });
    assert.unreachable('should have failed');
  } catch (e) {
    assert.instance(e, NmapError);
    assert.is((e as NmapError).kind, 'failed');
    assert.match((e as Error).message, /exited with code 3/);
    assert.match((e as Error).message, /fake failure/);
  }
  const garbage = join(tmp, 'nmap-garbage');
  writeFileSync(garbage, '#!/bin/sh\necho "<nmaprun><host>"\n');
  chmodSync(garbage, 0o755);
  try {
    await runLocalNmap([tcp('x', '127.0.0.1', 1)], { hostTimeoutMs: 1000, nmapPath: garbage });
    assert.unreachable('should have failed');
  } catch (e) {
    assert.is((e as NmapError).kind, 'bad-output', (e as Error).message);
  }
});

s.run();
