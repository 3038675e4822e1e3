#!/usr/bin/env node
// The `stack-scan` command (package.json "bin"). A published package runs the bundle
// dist/stack-scan.mjs (`npm run build`, made by knative/bundle.ts's esbuild step; plain
// JavaScript, no TypeScript loader); a clone without a build runs the TypeScript source
// through tsx's loader. Both end in cli/main.ts, whose return value is the exit code.
import { existsSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';

const bundle = fileURLToPath(new URL('../dist/stack-scan.mjs', import.meta.url));
let mod;
if (existsSync(bundle)) mod = await import(pathToFileURL(bundle).href);
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
