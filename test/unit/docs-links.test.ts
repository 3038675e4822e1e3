// The documentation holds together: every relative link in README.md, docs/**/*.md,
// harness/README.md, bench/README.md and test/README.md resolves to a file of the repository,
// and every #anchor to a heading of the target (GitHub's slugs); links never leave the
// repository; the README stays a five-minute read (at most 300 lines).
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';

const ROOT = resolve(import.meta.dirname, '../..');

function walk(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? walk(join(dir, e.name)) : e.name.endsWith('.md') ? [join(dir, e.name)] : [],
  );
}

export const DOCS = [
  join(ROOT, 'README.md'),
  ...walk(join(ROOT, 'docs')),
  join(ROOT, 'harness/README.md'),
  join(ROOT, 'bench/README.md'),
  join(ROOT, 'test/README.md'),
];

/** Lines outside fenced code blocks, with inline code spans blanked (links in code are not links). */
function prose(md: string): { line: number; text: string }[] {
  const out: { line: number; text: string }[] = [];
  let fence: string | undefined;
  md.split('\n').forEach((text, i) => {
    const m = /^\s*(```+|~~~+)/.exec(text);
    if (m) {
      if (!fence) fence = m[1][0];
      else if (m[1][0] === fence) fence = undefined;
      return;
    }
    if (!fence) out.push({ line: i + 1, text: text.replace(/`[^`]*`/g, (c) => ' '.repeat(c.length)) });
  });
  return out;
}

/** GitHub's anchor for a heading text: lower case, punctuation dropped, spaces to hyphens. */
export function slug(heading: string): string {
  const text = heading
    .replace(/!?\[([^\]]*)\]\([^)]*\)/g, '$1') // links: their text
    .replace(/`([^`]*)`/g, '$1') // code spans: their content
    .replace(/<[^>]+>/g, ''); // inline HTML
  return text
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\p{M} _-]/gu, '')
    .replace(/ /g, '-');
}

/** Every anchor a Markdown file offers (headings, with GitHub's -1, -2 for repeats). */
export function anchors(md: string): Set<string> {
  const seen = new Map<string, number>();
  const out = new Set<string>();
  const lines = md.split('\n');
  let fence: string | undefined;
  for (const text of lines) {
    const f = /^\s*(```+|~~~+)/.exec(text);
    if (f) {
      if (!fence) fence = f[1][0];
      else if (f[1][0] === fence) fence = undefined;
      continue;
    }
    if (fence) continue;
    const h = /^ {0,3}#{1,6}\s+(.*?)\s*#*\s*$/.exec(text);
    if (!h) continue;
    const base = slug(h[1]);
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    out.add(n ? `${base}-${n}` : base);
  }
  return out;
}

/** The Markdown links of a file: [text](target) and [text]: target definitions, outside code. */
export function links(md: string): { line: number; target: string }[] {
  const out: { line: number; target: string }[] = [];
  for (const { line, text } of prose(md)) {
    for (const m of text.matchAll(/\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)) out.push({ line, target: m[1] });
    const def = /^\s*\[[^\]]+\]:\s*<?(\S+?)>?(\s|$)/.exec(text);
    if (def) out.push({ line, target: def[1] });
  }
  return out;
}

const s = suite('docs: links and length');
const rel = (p: string) => relative(ROOT, p).split(sep).join('/');

s('the documentation files exist', () => {
  for (const f of [
    'README.md',
    'docs/configuration.md',
    'docs/api.md',
    'docs/network.md',
    'docs/opa.md',
    'docs/kubescape.md',
    'docs/nuclei.md',
    'docs/deployment.md',
    'docs/dependencies.md',
    'harness/README.md',
    'bench/README.md',
    'test/README.md',
  ]) {
    assert.ok(existsSync(join(ROOT, f)), `${f} is missing`);
  }
});

s('the README is at most 300 lines', () => {
  const n = readFileSync(join(ROOT, 'README.md'), 'utf8').replace(/\n$/, '').split('\n').length;
  assert.ok(n <= 300, `README.md has ${n} lines`);
});

s('every relative link resolves to a file of the repository, and every #anchor to a heading', () => {
  const problems: string[] = [];
  const anchorCache = new Map<string, Set<string>>();
  const anchorsOf = (file: string) => {
    let a = anchorCache.get(file);
    if (!a) anchorCache.set(file, (a = anchors(readFileSync(file, 'utf8'))));
    return a;
  };
  let checked = 0;
  for (const file of DOCS) {
    if (!existsSync(file)) continue;
    for (const { line, target } of links(readFileSync(file, 'utf8'))) {
      if (/^[a-z][a-z0-9+.-]*:/i.test(target)) continue; // https:, mailto:, …
      checked++;
      const at = `${rel(file)}:${line}: ${target}`;
      const [pathPart, anchor] = target.split('#', 2) as [string, string | undefined];
      const dest = pathPart ? resolve(dirname(file), decodeURIComponent(pathPart)) : file;
      if (dest !== ROOT && !dest.startsWith(ROOT + sep)) {
        problems.push(`${at}: leaves the repository`);
        continue;
      }
      if (!existsSync(dest)) {
        problems.push(`${at}: no such file`);
        continue;
      }
      if (anchor !== undefined) {
        if (statSync(dest).isDirectory() || !dest.endsWith('.md')) problems.push(`${at}: an anchor into a file that is not Markdown`);
        else if (!anchorsOf(dest).has(anchor)) problems.push(`${at}: no heading with anchor #${anchor} in ${rel(dest)}`);
      }
    }
  }
  assert.ok(checked > 40, `only ${checked} relative links found: the extraction is broken`);
  assert.equal(problems, []);
});

s('every repository path the documentation names in code spans exists (files move; the docs must follow)', () => {
  const problems: string[] = [];
  for (const file of DOCS) {
    if (!existsSync(file)) continue;
    readFileSync(file, 'utf8')
      .split('\n')
      .forEach((text, i) => {
        for (const m of text.matchAll(/`((?:functions|lib|harness|demo|test|bench|knative|schema|docs)\/[^`\s]*)`/g)) {
          const p = m[1].replace(/[.,:;)]+$/, '');
          if (/[<>{}*…|]/.test(p)) continue; // a pattern, not a path
          if (!existsSync(join(ROOT, p))) problems.push(`${rel(file)}:${i + 1}: ${p}`);
        }
      });
  }
  assert.equal(problems, []);
});

s('the checker itself: GitHub slugs, repeated headings, links in code are ignored', () => {
  assert.is(slug("4. What each function's account may do"), '4-what-each-functions-account-may-do');
  assert.is(slug('A real node in the local cluster (optional; root)'), 'a-real-node-in-the-local-cluster-optional-root');
  assert.is(slug('Undo and sweep (`harness/node/host.ts`)'), 'undo-and-sweep-harnessnodehostts');
  assert.is(slug('System packages: `install-system-deps.sh`'), 'system-packages-install-system-depssh');
  assert.equal([...anchors('# A\n## Settings\n```sh\n# not a heading\n```\n## Settings\n')], ['a', 'settings', 'settings-1']);
  assert.equal(
    links('see [x](a.md#b) and `[y](c.md)`\n```\n[z](d.md)\n```\n[w]: e.md\n').map((l) => l.target),
    ['a.md#b', 'e.md'],
  );
});

s.run();
