// `npm run demo`: every scan on a real local cluster built here (demo/run.ts does the work).
// This wrapper makes sure that nothing ends in a stack trace: an unexpected error, also one
// thrown while loading the demo's modules or after the demo returned, is one line saying what
// failed and what to run. STACKSCAN_DEMO_DEBUG=1 prints the whole error instead.
const debug = process.env.STACKSCAN_DEMO_DEBUG === '1';

function oneLine(err: unknown): string {
  const msg = err instanceof Error ? err.message : String(err);
  return msg.split('\n').find((l) => l.trim()) ?? 'unknown error';
}

function fail(err: unknown): void {
  const hint = (err as { hint?: string } | undefined)?.hint;
  console.error(`\ndemo failed: ${oneLine(err)}`);
  console.error(hint ? `to fix it: ${hint}, then npm run demo` : 'run it again with the whole error: STACKSCAN_DEMO_DEBUG=1 npm run demo');
  if (debug) console.error(err);
  process.exitCode = 1;
}

process.on('uncaughtException', (err) => {
  fail(err);
  process.exit(1);
});
process.on('unhandledRejection', (err) => {
  fail(err);
  process.exit(1);
});

try {
  const { runDemo } = await import('./run.ts');
  process.exitCode = await runDemo();
} catch (err) {
  fail(err);
}
