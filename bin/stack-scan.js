#!/usr/bin/env node
// The `stack-scan` command (package.json "bin"). It runs the bundle dist/stack-scan.mjs when there
// is one (a published package ships it, `npm run build` makes it: plain JavaScript, no TypeScript
// loader, the fastest start); in a clone whose sources are newer than that bundle, or that has none,
// it runs the TypeScript sources through tsx's loader instead. Both end in cli/main.ts, whose return
// value is the exit code.
import { existsSync, readdirSync, statSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const bundle = `${root}dist/stack-scan.mjs`;

/** Newest modification time of the TypeScript sources the bundle is made from (a clone only). */
function newestSource() {
  let newest = 0;
  const walk = (dir) => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const p = `${dir}/${e.name}`;
      if (e.isDirectory()) walk(p);
      else if (e.name.endsWith('.ts')) newest = Math.max(newest, statSync(p).mtimeMs);
    }
  };
  for (const d of ['cli', 'lib', 'functions']) if (existsSync(`${root}${d}`)) walk(`${root}${d}`);
  return newest;
}

const clone = existsSync(`${root}cli/main.ts`);
const useBundle = existsSync(bundle) && (!clone || statSync(bundle).mtimeMs >= newestSource());
let mod;
if (useBundle) mod = await import(pathToFileURL(bundle).href);
else {
  const { register } = await import('tsx/esm/api');
  register();
  mod = await import('../cli/main.ts');
}
try {
  process.exitCode = await mod.main({ argv: process.argv.slice(2), env: process.env, stdout: process.stdout, stderr: process.stderr });
} catch (e) {
  // A bug, not a user mistake: still one line, never a stack (STACK_SCAN_DEBUG=1 shows it).
  process.stderr.write(`stack-scan: internal error: ${e instanceof Error ? e.message : String(e)}\n`);
  if (process.env.STACK_SCAN_DEBUG) process.stderr.write(`${e instanceof Error ? e.stack : ''}\n`);
  process.exitCode = 2;
}
