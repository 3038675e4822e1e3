// The one test command (`npm test`): every uvu suite under test/unit and
// test/integration, in one process.
//
// Integration suites run against a real kube-apiserver + etcd + Gatekeeper,
// started once for the whole run (harness/cluster) and always torn down.
// Where the binaries are missing, CI (CI=true) fails with the reason; a
// developer machine skips the integration suites and prints the same reason.
//
// Usage: npm test [-- <substring to select files>]
import { readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';

const here = resolve(import.meta.dirname);
// The scans' own suites test the scans: storing OpenReports after each run (lib/openreports) is turned
// on by the suites that test it (reports, deploy-rbac), so every other suite's errors[] stay its own.
process.env.STACK_SCAN_REPORTS ??= 'off';
const filter = process.argv[2] ?? '';

function files(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...files(p));
    else if (e.name.endsWith('.test.ts') && p.includes(filter)) out.push(p);
  }
  return out.sort();
}

const unit = files(join(here, 'unit'));
const integration = files(join(here, 'integration'));

// Count what uvu prints, so the run ends with one plain "N passed, N failed" line.
let printed = '';
const origWrite = process.stdout.write.bind(process.stdout);
process.stdout.write = ((chunk: string | Uint8Array, ...rest: unknown[]) => {
  printed += typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString();
  if (printed.length > 1_000_000) printed = printed.slice(-100_000);
  return (origWrite as (...a: unknown[]) => boolean)(chunk, ...rest);
}) as typeof process.stdout.write;

(globalThis as { UVU_DEFER?: number }).UVU_DEFER = 1;
const g = globalThis as unknown as { UVU_QUEUE: unknown[][]; UVU_INDEX: number };
const uvu = await import('uvu');

let stop: (() => Promise<void>) | undefined;
let exitCode = 0;
const selected = [...unit];

if (integration.length) {
  const { prepareTestCluster } = await import('./support/suite.ts');
  const prepared = await prepareTestCluster();
  if (prepared.ok) {
    stop = prepared.stop;
    selected.push(...integration);
  } else if (process.env.CI === 'true') {
    console.error(`integration tests cannot run: ${prepared.reason}`);
    exitCode = 1;
  } else {
    console.warn(`SKIPPING ${integration.length} integration test files: ${prepared.reason}`);
  }
}

const onSignal = async (sig: NodeJS.Signals) => {
  console.error(`\n${sig}: tearing down the control plane`);
  await stop?.();
  process.exit(130);
};
process.once('SIGINT', onSignal);
process.once('SIGTERM', onSignal);

try {
  if (exitCode === 0) {
    let idx = 0;
    for (const f of selected) {
      g.UVU_INDEX = idx++;
      g.UVU_QUEUE.push([f.slice(here.length + 1)]);
      await import(f);
    }
    await uvu.exec(false);
  }
} finally {
  await stop?.();
}

const num = (label: string) => Number(/\s+(\d+)/.exec(printed.slice(printed.lastIndexOf(label) + label.length))?.[1] ?? 0);
const total = num('Total:');
const passed = num('Passed:');
const skipped = num('Skipped:');
const failed = Math.max(0, total - passed) + (exitCode ? 1 : 0);
origWrite(`${passed} passed, ${failed} failed, ${skipped} skipped\n`);
process.exitCode = failed > 0 || exitCode || process.exitCode ? 1 : 0;
