// The layout's rules, checked on the source itself (lib/, functions/, harness/; and what lib/ imports):
//
//   1. A scan never imports another scan: each functions/<scan>/ builds from itself plus lib/.
//      (functions/server.ts, the combined server, is not a scan: it mounts them all.)
//   2. lib/ imports nothing outside lib/ (no scan, harness, demo, bench, test, knative, schema).
//   3. harness/ imports no scan: the local cluster and node serve every scan's tests alike.
//   4. Every module in lib/ outside lib/k8s (the shared Kubernetes vocabulary, exempt) is shared:
//        a. imported directly by the scaffold (lib/scan/scaffold.ts), or
//        b. imported directly by at least two consumers, where a consumer is one scan
//           (all files of functions/<scan>/ count as one) or the harness (harness/: it may not
//           import a scan, rule 3, so what a scan and the harness both need belongs in lib/), or
//        c. imported directly by a lib module that is itself shared by a, b or c (it is part of
//           that module's implementation), computed to a fixed point.
//      Imports from bench/, demo/, test/ do not count: they may import a scan directly.
//      An adapter for one scan lives with that scan.
//   5. No import cycles among the files of lib/, functions/ and harness/. Every import counts as an
//      edge: static `import`/`export … from`, type-only imports (`import type`: a cycle of types is
//      still two modules that cannot be read apart) and dynamic `import()` (a module loaded later
//      is still a dependency).
//   6. No file in lib/, functions/ or harness/ is over 400 lines without saying why at its top
//      ("Why this file is long:" in its first 60 lines).
//
// Imports are read with a small lexer that skips comments, strings and template literals, so an
// import statement quoted in a comment or a string is not an edge. Each rule is a pure function over
// the import graph, and each has a self-check below proving it would catch a violation.
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';

const ROOT = resolve(import.meta.dirname, '../..');
const s = suite('architecture');

/**
 * KNOWN PENDING EXCEPTIONS to rule 4 (lib modules used by a single scan), to be moved with their scan.
 * Each entry says why it is still here. Remove an entry when its module moves.
 */
const PENDING_SINGLE_SCAN_LIB: ReadonlyMap<string, string> = new Map<string, string>([
  // (none: the nuclei adapter moved to functions/nuclei-scan/nuclei.ts)
]);

type Graph = ReadonlyMap<string, readonly string[]>;

function tsFiles(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...tsFiles(p));
    else if (e.name.endsWith('.ts')) out.push(p);
  }
  return out;
}

/** The source with comments removed and the contents of strings and templates blanked (their quotes kept). */
export function codeOnly(src: string): string {
  let out = '';
  let i = 0;
  const n = src.length;
  const templates: number[] = []; // brace depth at which each open `${` returns to its template
  let depth = 0;
  let prev = ''; // last significant code character (for telling a regex from a division)
  const template = () => {
    // inside a template literal, from after its opening backtick or after a closing `}` of `${…}`
    while (i < n) {
      const c = src[i];
      if (c === '\\') {
        i += 2;
        continue;
      }
      if (c === '`') {
        out += '`';
        i++;
        prev = '`';
        return;
      }
      if (c === '$' && src[i + 1] === '{') {
        out += '${';
        i += 2;
        templates.push(depth);
        depth++;
        prev = '{';
        return;
      }
      i++;
    }
  };
  while (i < n) {
    const c = src[i];
    const d = src[i + 1];
    if (c === '/' && d === '/') {
      while (i < n && src[i] !== '\n') i++;
      continue;
    }
    if (c === '/' && d === '*') {
      const end = src.indexOf('*/', i + 2);
      i = end === -1 ? n : end + 2;
      out += ' ';
      continue;
    }
    if (c === "'" || c === '"') {
      let j = i + 1;
      while (j < n && src[j] !== c && src[j] !== '\n') j += src[j] === '\\' ? 2 : 1;
      // Keep the contents of a string: import specifiers are strings. Statements are matched at line starts below.
      out += src.slice(i, j + 1);
      i = j + 1;
      prev = c;
      continue;
    }
    if (c === '`') {
      out += '`';
      i++;
      template();
      continue;
    }
    if (c === '/' && (prev === '' || '(,=:[!&|?{};+-*%<>~^'.includes(prev))) {
      // a regular expression literal
      let j = i + 1;
      let inClass = false;
      while (j < n && src[j] !== '\n') {
        if (src[j] === '\\') j += 2;
        else if (src[j] === '[') (inClass = true), j++;
        else if (src[j] === ']') (inClass = false), j++;
        else if (src[j] === '/' && !inClass) break;
        else j++;
      }
      out += '/re/';
      i = j + 1;
      prev = '/';
      continue;
    }
    if (c === '{') depth++;
    if (c === '}') {
      depth--;
      if (templates.length && templates[templates.length - 1] === depth) {
        templates.pop();
        out += '}';
        i++;
        template();
        continue;
      }
    }
    out += c;
    if (!/\s/.test(c)) prev = c;
    i++;
  }
  return out;
}

/** Relative import specifiers of a source text (static, type-only, re-exports, dynamic). */
export function importSpecifiers(src: string): string[] {
  const code = codeOnly(src);
  const specs: string[] = [];
  const patterns = [
    /^[ \t]*(?:import|export)\b[^;'"`]*?\bfrom\s*(['"])(\.{1,2}\/[^'"]+)\1/gm, // import … from / export … from
    /^[ \t]*import\s*(['"])(\.{1,2}\/[^'"]+)\1/gm, // import './side-effect.ts'
    /\bimport\s*\(\s*(['"])(\.{1,2}\/[^'"]+)\1\s*\)/g, // import('./later.ts')
  ];
  for (const re of patterns) for (const m of code.matchAll(re)) specs.push(m[2]);
  return specs;
}

/** The import graph of the given files: root-relative path → root-relative paths it imports. */
function graphOf(files: string[]): Map<string, string[]> {
  const g = new Map<string, string[]>();
  for (const f of files) {
    g.set(
      relative(ROOT, f),
      importSpecifiers(readFileSync(f, 'utf8')).map((sp) => relative(ROOT, resolve(dirname(f), sp))),
    );
  }
  return g;
}

// ---------------------------------------------------------------------------
// The rules, pure over a graph
// ---------------------------------------------------------------------------

/** `functions/<scan>/…` → the scan; anything else (lib, harness, functions/server.ts) → undefined. */
const scanOf = (p: string) => /^functions\/([^/]+)\//.exec(p)?.[1];

function crossScanImports(g: Graph): string[] {
  const bad: string[] = [];
  for (const [f, targets] of g) {
    const from = scanOf(f);
    if (!from) continue;
    for (const t of targets) {
      const to = scanOf(t);
      if (to && to !== from) bad.push(`${f} imports ${t}`);
    }
  }
  return bad;
}

function libImportsOutside(g: Graph): string[] {
  const bad: string[] = [];
  for (const [f, targets] of g) if (f.startsWith('lib/')) for (const t of targets) if (!t.startsWith('lib/')) bad.push(`${f} imports ${t}`);
  return bad;
}

function harnessImportsScan(g: Graph): string[] {
  const bad: string[] = [];
  for (const [f, targets] of g) if (f.startsWith('harness/')) for (const t of targets) if (scanOf(t)) bad.push(`${f} imports ${t}`);
  return bad;
}

/** Rule 4: lib modules (outside lib/k8s) that are not shared, with who imports them. */
function unsharedLib(g: Graph): string[] {
  const libs = [...g.keys()].filter((f) => f.startsWith('lib/') && !f.startsWith('lib/k8s/'));
  const importers = new Map<string, string[]>();
  for (const [f, targets] of g) for (const t of new Set(targets)) (importers.get(t) ?? importers.set(t, []).get(t)!).push(f);
  const shared = new Set<string>();
  for (let changed = true; changed; ) {
    changed = false;
    for (const m of libs) {
      if (shared.has(m)) continue;
      const by = importers.get(m) ?? [];
      const consumers = new Set(by.map((f) => scanOf(f) ?? (f.startsWith('harness/') ? 'harness' : undefined)).filter(Boolean));
      if (by.includes('lib/scan/scaffold.ts') || consumers.size >= 2 || by.some((f) => shared.has(f))) {
        shared.add(m);
        changed = true;
      }
    }
  }
  return libs.filter((m) => !shared.has(m)).map((m) => `${m} (imported by ${(importers.get(m) ?? []).join(', ') || 'nothing'})`);
}

/** Rule 5: every import cycle, as the strongly connected components (Tarjan) with more than one file, or a self-import. */
function cycles(g: Graph): string[][] {
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const on = new Set<string>();
  const out: string[][] = [];
  let next = 0;
  const visit = (v: string) => {
    index.set(v, next);
    low.set(v, next++);
    stack.push(v);
    on.add(v);
    for (const w of g.get(v) ?? []) {
      if (!g.has(w)) continue;
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (on.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) === index.get(v)) {
      const comp: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        on.delete(w);
        comp.push(w);
      } while (w !== v);
      if (comp.length > 1 || (g.get(v) ?? []).includes(v)) out.push(comp.sort());
    }
  };
  for (const v of g.keys()) if (!index.has(v)) visit(v);
  return out;
}

function longWithoutReason(files: ReadonlyMap<string, string>): string[] {
  const bad: string[] = [];
  for (const [f, text] of files) {
    const lines = text.split('\n');
    if (lines.length > 400 && !lines.slice(0, 60).some((l) => /Why this file is long:/.test(l))) bad.push(`${f} (${lines.length} lines)`);
  }
  return bad;
}

// ---------------------------------------------------------------------------
// The repository
// ---------------------------------------------------------------------------

const checked = ['lib', 'functions', 'harness'].flatMap((d) => tsFiles(join(ROOT, d)));
const graph = graphOf(checked);
const scans = readdirSync(join(ROOT, 'functions'), { withFileTypes: true })
  .filter((e) => e.isDirectory())
  .map((e) => e.name);

s('there are scans, lib modules and harness files to check', () => {
  assert.ok(scans.includes('network-scan') && scans.includes('opa-scan') && scans.includes('kubescape-scan'), scans.join(','));
  assert.ok([...graph.keys()].some((f) => f.startsWith('lib/scan/')));
  assert.ok([...graph.keys()].some((f) => f.startsWith('harness/cluster/')));
  // the graph has edges: the scaffold imports the errors module
  assert.ok(graph.get('lib/scan/scaffold.ts')?.includes('lib/errors.ts'));
});

s('1. no scan imports another scan', () => {
  assert.equal(crossScanImports(graph), []);
});

s('2. lib/ imports nothing outside lib/', () => {
  assert.equal(libImportsOutside(graph), []);
});

s('3. harness/ imports no scan', () => {
  assert.equal(harnessImportsScan(graph), []);
});

s('4. every lib module outside lib/k8s is shared (by two consumers, the scaffold, or a shared lib module)', () => {
  const bad = unsharedLib(graph).filter((m) => !PENDING_SINGLE_SCAN_LIB.has(m.split(' ')[0]));
  assert.equal(bad, []);
});

s('4. the pending exceptions still exist and are still single-scan (else remove the entry)', () => {
  const unshared = new Set(unsharedLib(graph).map((m) => m.split(' ')[0]));
  for (const m of PENDING_SINGLE_SCAN_LIB.keys())
    if (graph.has(m)) assert.ok(unshared.has(m), `${m} is now shared or used by nothing single: remove its allowlist entry`);
});

s('5. no import cycles in lib/, functions/, harness/', () => {
  assert.equal(cycles(graph), []);
});

s('6. files over 400 lines say why at their top', () => {
  assert.equal(longWithoutReason(new Map(checked.map((f) => [relative(ROOT, f), readFileSync(f, 'utf8')]))), []);
});

// ---------------------------------------------------------------------------
// Self-checks: each rule catches a violation
// ---------------------------------------------------------------------------

s('self-check: the lexer sees every import form and ignores comments, strings and templates', () => {
  const src = [
    "import a from './a.ts';",
    "import type { B } from '../b.ts';",
    'import {',
    '  c,',
    "} from './c.ts';",
    "export { d } from './d.ts';",
    "export * from './e.ts';",
    "import './f.ts';",
    "const g = () => import('./g.ts');",
    "// import x from './comment.ts';",
    "/* import y from './block.ts'; */",
    'const s = "import z from \'./string.ts\'";',
    // biome-ignore lint/suspicious/noTemplateCurlyInString: the checker must skip a template literal's text (a test input)
    "const t = `\nimport w from './template.ts';\n${1}`;",
    "const r = /import q from '.\\/regex.ts'/;",
    "import pkg from 'node:fs';",
  ].join('\n');
  assert.equal(importSpecifiers(src).sort(), ['../b.ts', './a.ts', './c.ts', './d.ts', './e.ts', './f.ts', './g.ts']);
});

s('self-check: rule 1 catches a scan importing another', () => {
  const g: Graph = new Map([
    ['functions/opa-scan/x.ts', ['functions/network-scan/engine.ts', 'lib/errors.ts']],
    ['functions/server.ts', ['functions/opa-scan/x.ts']],
  ]);
  assert.equal(crossScanImports(g), ['functions/opa-scan/x.ts imports functions/network-scan/engine.ts']);
});

s('self-check: rules 2 and 3 catch lib/ and harness/ reaching out', () => {
  const g: Graph = new Map([
    ['lib/a.ts', ['functions/network-scan/engine.ts', 'harness/proc.ts', 'test/support/k8s.ts', 'lib/b.ts']],
    ['harness/h.ts', ['functions/opa-scan/scan.ts', 'lib/a.ts']],
  ]);
  assert.equal(libImportsOutside(g).length, 3);
  assert.equal(harnessImportsScan(g), ['harness/h.ts imports functions/opa-scan/scan.ts']);
});

s('self-check: rule 4 catches a lib module used by one scan, and accepts each way of being shared', () => {
  const g: Graph = new Map<string, string[]>([
    ['functions/a-scan/x.ts', ['lib/one.ts', 'lib/two.ts', 'lib/h.ts', 'lib/k8s/v.ts']],
    ['functions/a-scan/y.ts', ['lib/one.ts']], // a second file of the same scan: still one consumer
    ['functions/b-scan/x.ts', ['lib/two.ts']],
    ['harness/n.ts', ['lib/h.ts']],
    ['lib/scan/scaffold.ts', ['lib/s.ts']],
    ['lib/two.ts', ['lib/inner.ts']],
    ['lib/one.ts', ['lib/inner-of-one.ts']],
    ['lib/s.ts', []],
    ['lib/h.ts', []],
    ['lib/inner.ts', []],
    ['lib/inner-of-one.ts', []],
    ['lib/unused.ts', []],
    ['lib/k8s/v.ts', []],
  ]);
  const bad = unsharedLib(g).map((m) => m.split(' ')[0]);
  assert.equal(bad.filter((m) => m !== 'lib/scan/scaffold.ts').sort(), ['lib/inner-of-one.ts', 'lib/one.ts', 'lib/unused.ts']);
});

s('self-check: rule 5 catches cycles (two files, longer, self-import; static and dynamic alike)', () => {
  const g: Graph = new Map([
    ['lib/kube/api.ts', ['lib/kube/client.ts']],
    ['lib/kube/client.ts', ['lib/kube/api.ts']],
    ['lib/a.ts', ['lib/b.ts']],
    ['lib/b.ts', ['lib/c.ts']],
    ['lib/c.ts', ['lib/a.ts']],
    ['lib/self.ts', ['lib/self.ts']],
    ['lib/ok.ts', ['lib/a.ts']],
  ]);
  assert.equal(
    cycles(g)
      .map((c) => c.join(' '))
      .sort(),
    ['lib/a.ts lib/b.ts lib/c.ts', 'lib/kube/api.ts lib/kube/client.ts', 'lib/self.ts'],
  );
  // through the lexer: a dynamic import closes a cycle too
  const viaLexer: Graph = new Map([
    ['lib/p.ts', importSpecifiers("const q = await import('./q.ts');").map((x) => `lib/${x.slice(2)}`)],
    ['lib/q.ts', importSpecifiers("import type { P } from './p.ts';").map((x) => `lib/${x.slice(2)}`)],
  ]);
  assert.equal(cycles(viaLexer), [['lib/p.ts', 'lib/q.ts']]);
});

s('self-check: rule 6 catches a long file without its reason', () => {
  const long = Array.from({ length: 401 }, () => 'x').join('\n');
  const bad = longWithoutReason(
    new Map([
      ['lib/long.ts', long],
      ['lib/why.ts', `// Why this file is long: one table.\n${long}`],
      ['lib/short.ts', 'x'],
    ]),
  );
  assert.equal(bad, ['lib/long.ts (401 lines)']);
});

s.run();
