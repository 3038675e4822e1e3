// Format and lint: Biome (biome.json, the one configuration) finds nothing, and no source line is over
// 160 characters in TypeScript and JavaScript (the formatter wraps code at 160; strings and comments by hand).
import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';

const ROOT = resolve(import.meta.dirname, '../..');
const s = suite('format and lint');

s('biome ci: formatted, and no lint finding', () => {
  const r = spawnSync(join(ROOT, 'node_modules/.bin/biome'), ['ci', '--colors=off', '.'], { cwd: ROOT, encoding: 'utf8', timeout: 120_000 });
  const out = r.stdout + r.stderr;
  assert.is(r.status, 0, `npx biome ci . found problems (fix them with npx biome check --write .):\n${out.slice(-4000)}`);
  // Warnings and infos do not fail biome ci; they are findings all the same.
  assert.not.match(out, /Found \d+ (warnings?|infos?)/, `npx biome ci . reports findings:\n${out.slice(-4000)}`);
});

s('no line of code is over 160 characters', () => {
  const files = execFileSync('git', ['ls-files', '--cached', '--others', '--exclude-standard', '*.ts', '*.js', '*.mjs'], {
    cwd: ROOT,
    encoding: 'utf8',
  })
    .split('\n')
    .filter((f) => f && !f.startsWith('test/fixtures/'));
  assert.ok(files.length > 100, `${files.length} files`);
  const long: string[] = [];
  for (const f of files) {
    let text: string;
    try {
      text = readFileSync(join(ROOT, f), 'utf8');
    } catch {
      continue; // listed but deleted in the work tree
    }
    text.split('\n').forEach((line, i) => {
      if ([...line].length > 160) long.push(`${f}:${i + 1} (${[...line].length})`);
    });
  }
  assert.equal(long, []);
});

s.run();
