// The nuclei demo's redis servers (demo/nuclei/services.ts) do not outlive a killed run: a run
// killed with SIGKILL takes its redis with it (parent-death signal through util-linux's setpriv),
// and what a killed run left is swept by the next start (its state directory, and any redis whose
// working directory is still that directory). Real redis-server processes on loopback.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { freePort, redisServerPath, sweepDemoServices } from '../../demo/nuclei/services.ts';
import { isRunning, ownerId } from '../../harness/proc.ts';

const ROOT = join(import.meta.dirname, '../..');
const s = suite('nuclei demo services: nothing outlives a killed run');
const redis = redisServerPath();
const HAVE_SETPRIV = existsSync('/usr/bin/setpriv') || existsSync('/bin/setpriv');

async function until(what: string, ok: () => boolean, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > end) throw new Error(`not within ${ms} ms: ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** The state directories of the nuclei demo under the OS temp dir owned by `pid`. */
function dirsOf(pid: number): string[] {
  return readdirSync(tmpdir())
    .filter((n) => n.startsWith('stack-scan-nuclei-demo-'))
    .map((n) => join(tmpdir(), n))
    .filter((d) => {
      try {
        return readFileSync(join(d, 'owner'), 'utf8').startsWith(`${pid} `);
      } catch {
        return false;
      }
    });
}

const pidsIn = (dir: string) =>
  readdirSync(dir)
    .filter((n) => n.endsWith('.pid'))
    .map((n) => Number(readFileSync(join(dir, n), 'utf8')));

if (!redis) {
  const why = 'redis-server is not installed: run bash harness/install-system-deps.sh';
  if (process.env.CI === 'true') s('redis-server is available (CI requires it)', () => assert.unreachable(why));
  else {
    console.warn(`SKIP test/integration/demo-services-sweep.test.ts: ${why}`);
    s.skip(`(skipped: ${why})`, () => {});
  }
} else {
  s('a run killed with SIGKILL takes its redis with it; the next start removes its state directory', async () => {
    const code = `import { startRedis } from ${JSON.stringify(join(ROOT, 'demo/nuclei/services.ts'))};
      const r = await startRedis(); console.log('ready ' + r.port); setInterval(() => {}, 1000);`;
    const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
    try {
      let out = '';
      child.stdout!.on('data', (d) => (out += d));
      await until('the child started redis', () => out.includes('ready '), 30_000);
      const [dir] = dirsOf(child.pid!);
      assert.ok(dir, 'a state directory with the child as owner');
      const [pid] = pidsIn(dir);
      assert.ok(isRunning(pid), 'its redis runs');
      child.kill('SIGKILL');
      await until('the child is gone', () => child.exitCode !== null || child.signalCode !== null);
      if (HAVE_SETPRIV) await until('redis died with its parent', () => !isRunning(pid));
      const swept = sweepDemoServices();
      assert.ok(!existsSync(dir), `swept: ${swept.join('; ')}`);
      assert.ok(!isRunning(pid), 'no redis left after the sweep');
    } finally {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    }
  });

  s("the sweep kills a leftover redis whose working directory is a dead owner's, and nothing else", async () => {
    const root = mkdtempSync(join(tmpdir(), 'stack-scan-sweep-test-'));
    const dead = join(root, 'stack-scan-nuclei-demo-dead');
    const mine = join(root, 'stack-scan-nuclei-demo-mine');
    const started: number[] = [];
    try {
      mkdirSync(dead);
      mkdirSync(mine);
      // An owner that no longer exists (no process has that pid and start time), and this process.
      writeFileSync(join(dead, 'owner'), '2147483646 1');
      writeFileSync(join(mine, 'owner'), ownerId());
      const port = await freePort();
      // Started directly, without a parent-death signal: as on a machine without setpriv.
      const leftover = spawn(redis, ['--dir', dead, '--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], {
        cwd: dead,
        stdio: 'ignore',
      });
      started.push(leftover.pid!);
      writeFileSync(join(dead, `redis-${port}.pid`), String(leftover.pid));
      // A pidfile naming a process that is not that directory's redis (this test): never killed.
      writeFileSync(join(dead, 'other.pid'), String(process.pid));
      await until('the leftover redis runs', () => isRunning(leftover.pid!));
      const swept = sweepDemoServices(root);
      assert.ok(
        swept.some((l) => l.includes(`pid ${leftover.pid}`)),
        swept.join('; '),
      );
      await until('the leftover redis is gone', () => !isRunning(leftover.pid!));
      assert.ok(!existsSync(dead), "the dead owner's directory is removed");
      assert.ok(existsSync(mine), "a live owner's directory is left alone");
    } finally {
      for (const pid of started) if (isRunning(pid)) process.kill(pid, 'SIGKILL');
      rmSync(root, { recursive: true, force: true });
    }
  });
}

s.run();
