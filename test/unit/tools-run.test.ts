// runTool against real programs (sh, sleep): exit codes, streaming, stderr tail,
// missing programs, and no orphan after an abort or a timeout.
import { execFileSync } from 'node:child_process';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { describeFailure, runTool } from '../../lib/tools/run.ts';

const t = suite('lib/tools/run');

/** Processes whose command line contains `marker`, other than pgrep itself. */
function alive(marker: string): string[] {
  try {
    return execFileSync('pgrep', ['-f', marker], { encoding: 'utf8' }).trim().split('\n').filter(Boolean);
  } catch {
    return [];
  }
}

async function gone(marker: string, ms = 5000): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (alive(marker).length === 0) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  return false;
}

t('exit code, stdout, stderr tail', async () => {
  const r = await runTool('sh', ['-c', 'echo out; echo err >&2; exit 3']);
  assert.is(r.exitCode, 3);
  assert.is(r.stdout, 'out\n');
  assert.is(r.stderrTail, 'err\n');
  assert.not.ok(r.timedOut || r.aborted || r.missing);
  assert.match(describeFailure('sh', r), 'exited with code 3: err');
});

t('streams complete lines, including a last line without newline', async () => {
  const lines: string[] = [];
  const r = await runTool('sh', ['-c', 'printf "a\\nb\\n"; sleep 0.1; printf "c"'], { onStdoutLine: (l) => lines.push(l), keepStdout: false });
  assert.equal(lines, ['a', 'b', 'c']);
  assert.is(r.stdout, '');
  assert.is(r.exitCode, 0);
});

t('a missing program is reported, not thrown', async () => {
  const r = await runTool('/nonexistent/stack-scan-tool', []);
  assert.ok(r.missing);
  assert.match(describeFailure('tool', r), 'not found');
});

t('timeout kills the program and its children', async () => {
  const marker = `sleep 31.${process.pid}1`;
  const r = await runTool('sh', ['-c', `${marker} & ${marker}; echo never`], { timeoutMs: 300 });
  assert.ok(r.timedOut);
  assert.ok(await gone(marker), `no orphan left: ${alive(marker).join(',')}`);
});

t('abort kills the program and its children', async () => {
  const marker = `sleep 32.${process.pid}2`;
  const ac = new AbortController();
  setTimeout(() => ac.abort(), 200);
  const r = await runTool('sh', ['-c', `${marker} & ${marker}`], { signal: ac.signal });
  assert.ok(r.aborted);
  assert.ok(await gone(marker), `no orphan left: ${alive(marker).join(',')}`);
});

t('an already aborted signal does not start the program', async () => {
  const ac = new AbortController();
  ac.abort();
  const r = await runTool('sh', ['-c', 'exit 0'], { signal: ac.signal });
  assert.ok(r.aborted);
  assert.is(r.exitCode, null);
});

t.run();
