// The layout's rules, checked on the source itself:
//   - a scan never imports another scan: each functions/<scan>/ builds from itself plus lib/;
//   - lib/ never imports a scan;
//   - no file in functions/ or lib/ is over 400 lines without saying why at its top.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';

const ROOT = resolve(import.meta.dirname, '../..');
const s = suite('architecture');

function tsFiles(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...tsFiles(p));
    else if (e.name.endsWith('.ts')) out.push(p);
  }
  return out;
}

/** Relative import specifiers of a file (static and dynamic), resolved to absolute paths. */
function imports(file: string): string[] {
  const src = readFileSync(file, 'utf8');
  const specs = [...src.matchAll(/(?:\bfrom\s+|\bimport\s*\(\s*|\bimport\s+)['"](\.{1,2}\/[^'"]+)['"]/g)].map((m) => m[1]);
  return specs.map((sp) => resolve(dirname(file), sp));
}

const scans = readdirSync(join(ROOT, 'functions'), { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => e.name);
const scanOf = (abs: string) => {
  const rel = relative(join(ROOT, 'functions'), abs);
  return rel.startsWith('..') ? undefined : rel.split('/')[0];
};

s('there are scans to check', () => {
  assert.ok(scans.includes('network-scan') && scans.includes('opa-scan'), scans.join(','));
});

s('no scan imports another scan', () => {
  const bad: string[] = [];
  for (const scan of scans) {
    for (const f of tsFiles(join(ROOT, 'functions', scan))) {
      for (const target of imports(f)) {
        const other = scanOf(target);
        if (other && other !== scan && scans.includes(other)) bad.push(`${relative(ROOT, f)} imports ${relative(ROOT, target)}`);
      }
    }
  }
  assert.equal(bad, []);
});

s('lib/ never imports a scan, the harness, the demo or the tests', () => {
  const bad: string[] = [];
  for (const f of tsFiles(join(ROOT, 'lib'))) {
    for (const target of imports(f)) {
      const rel = relative(ROOT, target);
      if (!rel.startsWith('lib/') && !rel.startsWith('node_modules')) bad.push(`${relative(ROOT, f)} imports ${rel}`);
    }
  }
  assert.equal(bad, []);
});

s('the checker sees cross-scan imports (it would catch one)', () => {
  const probe = join(ROOT, 'functions/opa-scan/x.ts');
  assert.is(scanOf(resolve(dirname(probe), '../network-scan/engine.ts')), 'network-scan');
});

s('files over 400 lines in functions/ and lib/ say why at their top', () => {
  const bad: string[] = [];
  for (const f of [...tsFiles(join(ROOT, 'functions')), ...tsFiles(join(ROOT, 'lib'))]) {
    if (!statSync(f).isFile()) continue;
    const lines = readFileSync(f, 'utf8').split('\n');
    if (lines.length > 400 && !lines.slice(0, 60).some((l) => /Why this file is long:/.test(l))) bad.push(`${relative(ROOT, f)} (${lines.length} lines)`);
  }
  assert.equal(bad, []);
});

s.run();
