/**
 * The templates directory as data: every nuclei template's id, protocol, severity, tags
 * and whether it needs an out-of-band (interactsh) server, read once per directory and
 * kept (the production directory is a pinned, read-only release). The scan chooses the
 * templates itself from this catalog (select.ts) and hands nuclei the exact list, so
 * what runs, what was excluded and why are known before nuclei starts.
 *
 * Bounded: at most MAX_FILES files are looked at, each at most MAX_TEMPLATE_BYTES; hidden
 * directories and workflows are skipped. Only a template's head (`id`, `info`: the text
 * before its first protocol block) is parsed as YAML, and files are read asynchronously in
 * batches, so a full release (~10,000 templates) is read without blocking the server. A file that is not a template (no `id`, no
 * protocol block) is counted, never an error: a release holds helpers and profiles too.
 * The release's own `.nuclei-ignore` (tags and files nuclei itself leaves out unless
 * asked) is read when present.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';
import yaml from 'js-yaml';

export const MAX_FILES = 50_000;
export const MAX_TEMPLATE_BYTES = 512 * 1024;

/** Top-level keys naming a template's protocol, as nuclei's `-pt` values. */
const PROTOCOL_KEYS: readonly [string, string][] = [
  ['http', 'http'],
  ['requests', 'http'],
  ['tcp', 'tcp'],
  ['network', 'tcp'],
  ['ssl', 'ssl'],
  ['javascript', 'javascript'],
  ['dns', 'dns'],
  ['headless', 'headless'],
  ['code', 'code'],
  ['file', 'file'],
  ['websocket', 'websocket'],
  ['whois', 'whois'],
  ['flow', 'flow'],
];

export interface TemplateInfo {
  id: string;
  /** Path relative to the templates directory, `/`-separated. */
  path: string;
  name: string;
  protocol: string;
  severity: string;
  /** `info.tags`, lower case. */
  tags: string[];
  /** Uses `{{interactsh-url}}` or an interactsh matcher: can only match with an interactsh server. */
  interactsh: boolean;
}

export interface Catalog {
  dir: string;
  templates: TemplateInfo[];
  /** Files that are not templates (helpers, profiles, unparsable YAML). */
  notTemplates: number;
  /** Stopped at MAX_FILES. */
  truncated: boolean;
  /** The release's `.nuclei-ignore`: tags and template paths nuclei leaves out by default. */
  ignore: { tags: string[]; files: Set<string> };
}

const isObj = (x: unknown): x is Record<string, unknown> => !!x && typeof x === 'object' && !Array.isArray(x);

function tagList(x: unknown): string[] {
  const raw = Array.isArray(x) ? x.map(String) : typeof x === 'string' ? x.split(',') : [];
  return [...new Set(raw.map((t) => t.trim().toLowerCase()).filter(Boolean))];
}

/** A top-level protocol (or workflows) key at the start of a line. */
const TOP_KEY = new RegExp(`^(${[...PROTOCOL_KEYS.map(([k]) => k), 'workflows'].join('|')})[ \\t]*:`, 'gm');

/** Pure: one template file's catalog entry, or undefined when it is not a template. */
export function readTemplate(text: string, path: string): TemplateInfo | undefined {
  const keys: { key: string; index: number }[] = [];
  for (const m of text.matchAll(TOP_KEY)) keys.push({ key: m[1], index: m.index! });
  if (!keys.length || keys.some((k) => k.key === 'workflows')) return undefined;
  const protocol = PROTOCOL_KEYS.find(([k]) => keys.some((x) => x.key === k))![1];
  let doc: unknown;
  try {
    // The head: id, info and whatever precedes the first protocol block (small, cheap to parse).
    doc = yaml.load(text.slice(0, keys[0].index), { json: true });
  } catch {
    return undefined;
  }
  if (!isObj(doc) || typeof doc.id !== 'string' || !isObj(doc.info)) return undefined;
  const info = doc.info;
  return {
    id: doc.id,
    path,
    name: typeof info.name === 'string' ? info.name : doc.id,
    protocol,
    severity: typeof info.severity === 'string' ? info.severity.toLowerCase() : 'unknown',
    tags: tagList(info.tags),
    interactsh: /\{\{\s*interactsh-url\s*\}\}|interactsh_(?:protocol|request|response|ip)/.test(text),
  };
}

/** Pure: nuclei's `.nuclei-ignore` (YAML: `tags:` and `files:` lists). */
export function readIgnore(text: string): Catalog['ignore'] {
  try {
    const doc = yaml.load(text);
    if (!isObj(doc)) return { tags: [], files: new Set() };
    return { tags: tagList(doc.tags), files: new Set(Array.isArray(doc.files) ? doc.files.filter((f): f is string => typeof f === 'string') : []) };
  } catch {
    return { tags: [], files: new Set() };
  }
}

function walk(dir: string): { files: string[]; truncated: boolean } {
  const files: string[] = [];
  const stack = [dir];
  while (stack.length) {
    const d = stack.pop()!;
    let entries;
    try {
      entries = readdirSync(d, { withFileTypes: true });
    } catch {
      continue;
    }
    for (const e of entries) {
      if (e.name.startsWith('.')) continue;
      const p = join(d, e.name);
      if (e.isDirectory()) stack.push(p);
      else if (e.isFile() && /\.ya?ml$/i.test(e.name)) {
        if (files.length >= MAX_FILES) return { files, truncated: true };
        files.push(p);
      }
    }
  }
  return { files: files.sort(), truncated: false };
}

const BATCH = 64;

/** Read a templates directory (no cache). */
export async function loadCatalogUncached(dir: string): Promise<Catalog> {
  const { files, truncated } = walk(dir);
  const templates: TemplateInfo[] = [];
  let notTemplates = 0;
  for (let i = 0; i < files.length; i += BATCH) {
    const batch = await Promise.all(
      files.slice(i, i + BATCH).map(async (f) => {
        try {
          if ((await stat(f)).size > MAX_TEMPLATE_BYTES) return undefined;
          return readTemplate(await readFile(f, 'utf8'), relative(dir, f).split(sep).join('/'));
        } catch {
          return undefined;
        }
      }),
    );
    for (const t of batch) {
      if (t) templates.push(t);
      else notTemplates++;
    }
  }
  let ignore: Catalog['ignore'] = { tags: [], files: new Set() };
  try {
    ignore = readIgnore(readFileSync(join(dir, '.nuclei-ignore'), 'utf8'));
  } catch {
    /* no ignore file: nothing extra */
  }
  return { dir, templates, notTemplates, truncated, ignore };
}

/** Keyed by directory and its modification time: a changed mount is read again. Concurrent first reads share one. */
const cache = new Map<string, { mtimeMs: number; catalog: Promise<Catalog> }>();

export function loadCatalog(dir: string): Promise<Catalog> {
  let mtimeMs = 0;
  try {
    mtimeMs = statSync(dir).mtimeMs;
  } catch {
    /* checked by the settings; an empty catalog follows */
  }
  const hit = cache.get(dir);
  if (hit && hit.mtimeMs === mtimeMs) return hit.catalog;
  const catalog = loadCatalogUncached(dir);
  cache.set(dir, { mtimeMs, catalog });
  catalog.catch(() => cache.delete(dir));
  if (cache.size > 8) cache.delete(cache.keys().next().value!);
  return catalog;
}
