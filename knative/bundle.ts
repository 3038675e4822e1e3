/**
 * `npm run build`: one ESM entry per function (dist/<function>.mjs, from functions/<function>/main.ts)
 * and the combined server (dist/server.mjs), bundled by esbuild for Node 20, each with its folder of
 * chunks beside it (dist/<function>.chunks/); the container images (Containerfile) run these.
 * Heavy modules (@kubernetes/client-node, the cloudevents SDK, full mode's probes, nmap and execa,
 * OpenReports, the report formats, the OpenAPI document) are imported dynamically by the code on
 * first use, and code splitting puts each in its own chunk file: Node reads and compiles a chunk only
 * when it is imported. In one file, V8 had to parse all of it at start (about 1.6 MB, two thirds of
 * the cold start), and minified code wraps each module in an arrow function, which V8 parses eagerly:
 * a parse zone of about 15 MB that the process kept as RSS (docs/reliability.md, "Cold start and memory").
 *
 * Trap: @kubernetes/client-node's dependencies call `require("stream")` etc.; in an ESM bundle
 * that needs a real `require`, given by the banner (createRequire), or the bundle crashes at
 * start with `Dynamic require of "stream" is not supported`.
 *
 *   npm run build                  all functions, the server and the command line (dist/stack-scan.mjs)
 *   npx tsx knative/bundle.ts network-scan opa-scan   some of them
 */
import { build, type Metafile } from 'esbuild';
import { mkdirSync, rmSync } from 'node:fs';
import { join, relative } from 'node:path';
import { pathToFileURL } from 'node:url';
import { FUNCTIONS, ROOT } from './render.ts';

export const DIST = join(ROOT, 'dist');
export const BANNER = "import { createRequire as __stackScanCreateRequire } from 'node:module'; const require = __stackScanCreateRequire(import.meta.url);";

export interface Bundle {
  name: string;
  entry: string;
  outfile: string;
  /** The entry file's size (what is read and compiled at start). */
  bytes: number;
  /** The folder of its chunks (loaded on first use), beside the entry: `<name>.chunks`. */
  chunkDir: string;
  /** Entry and chunks together. */
  totalBytes: number;
}

/** The folder of an entry's chunks, beside it (the images copy both). */
export const chunkDirOf = (name: string) => `${name}.chunks`;

/** The command line's bundle (bin/stack-scan.js runs it when present: a published package needs no TypeScript loader). */
export const CLI_BUNDLE = 'stack-scan';

export function entries(names: string[] = [...FUNCTIONS, 'server', CLI_BUNDLE]): { name: string; entry: string }[] {
  return names.map((name) => ({
    name,
    entry: name === 'server' ? join(ROOT, 'functions/server.ts') : name === CLI_BUNDLE ? join(ROOT, 'cli/main.ts') : join(ROOT, 'functions', name, 'main.ts'),
  }));
}

export async function bundle(names?: string[], outdir = DIST): Promise<Bundle[]> {
  mkdirSync(outdir, { recursive: true });
  const out: Bundle[] = [];
  for (const { name, entry } of entries(names)) {
    const outfile = join(outdir, `${name}.mjs`);
    const chunkDir = join(outdir, chunkDirOf(name));
    rmSync(outfile, { force: true });
    rmSync(chunkDir, { recursive: true, force: true });
    const res = await build({
      entryPoints: { [name]: entry },
      outdir,
      outExtension: { '.js': '.mjs' },
      // Each entry its own chunk folder: an image copies its function's entry and folder only.
      splitting: true,
      chunkNames: `${chunkDirOf(name)}/[name]-[hash]`,
      bundle: true,
      platform: 'node',
      format: 'esm',
      target: 'node20',
      // Prefer packages' ESM builds: jsonc-parser's `main` is a UMD file whose require()s of its
      // own modules esbuild cannot follow (`Cannot find module './impl/format'` at start).
      mainFields: ['module', 'main'],
      minify: true,
      keepNames: true,
      sourcemap: 'linked',
      legalComments: 'linked',
      banner: { js: BANNER },
      metafile: true,
      logLevel: 'warning',
    });
    const meta = res.metafile as Metafile;
    const files = Object.entries(meta.outputs).filter(([f]) => f.endsWith('.mjs'));
    const bytes = files.find(([f]) => !f.includes(`${chunkDirOf(name)}/`))?.[1].bytes ?? 0;
    out.push({ name, entry: relative(ROOT, entry), outfile, bytes, chunkDir, totalBytes: files.reduce((n, [, o]) => n + o.bytes, 0) });
  }
  return out;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const names = process.argv.slice(2);
  const t0 = Date.now();
  const done = await bundle(names.length ? names : undefined);
  for (const b of done)
    console.log(
      `${relative(ROOT, b.outfile).padEnd(28)} ${(b.bytes / 1024).toFixed(0).padStart(6)} KiB (with ${relative(ROOT, b.chunkDir)}/: ` +
        `${(b.totalBytes / 1024).toFixed(0)} KiB)  from ${b.entry}`,
    );
  console.log(`bundled ${done.length} in ${Date.now() - t0} ms`);
}
