/**
 * `npm run docs:gen`: writes every generated file (scripts/generated.ts) and the manifest schema
 * (schema/gen-schema.ts). `--check` writes nothing and exits 1 naming each file that differs.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { manifestJsonSchema } from '../schema/gen-schema.ts';
import { generatedFiles } from './generated.ts';

const ROOT = resolve(import.meta.dirname, '..');
const check = process.argv.includes('--check');
const files = generatedFiles();
files.set('schema/networkpolicy-manifest.schema.json', manifestJsonSchema());
let stale = 0;
for (const [rel, text] of files) {
  const path = join(ROOT, rel);
  let current: string | undefined;
  try {
    current = readFileSync(path, 'utf8');
  } catch {
    current = undefined;
  }
  if (current === text) continue;
  if (check) {
    console.error(`${rel} is out of date: run npm run docs:gen and commit it`);
    stale++;
  } else {
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, text);
    console.log(`wrote ${rel}`);
  }
}
process.exit(stale ? 1 : 0);
