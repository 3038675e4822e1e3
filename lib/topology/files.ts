/**
 * Reading the files a user points us at, with errors that name the file, the
 * setting that points to it, and (for syntax errors) the line and column.
 *
 * Inputs are untrusted: only regular files are read (a FIFO, a device such as
 * /dev/zero, a socket or a directory is refused before it is opened for
 * reading), at most `maxBytes` (STACK_FILE_MAX_BYTES), within `readTimeoutMs`
 * (STACK_FILE_READ_TIMEOUT_MS), as UTF-8 text. Error messages never quote the
 * file's content: parser reasons have quoted text and tags replaced by `…`.
 *
 * Why this file is long: reading, size and depth bounds, and the YAML/JSON error positions are one path every
 * input takes; the formatter's 160-column wrapping pushed it past 400 lines.
 */
import { constants } from 'node:fs';
import { open, stat } from 'node:fs/promises';
import yaml from 'js-yaml';
import { parse as parseJsonc, printParseErrorCode, type ParseError } from 'jsonc-parser';
import { ScanError } from '../errors.ts';
import { jsonDepthOffset, measure, yamlFlowDepthOffset } from './bounds.ts';

/** Limits on reading one input file (parsed from the environment up front, see settings.ts). */
export interface FileLimits {
  /** Largest file read, in bytes (STACK_FILE_MAX_BYTES). */
  maxBytes: number;
  /** Longest a read may take, in ms (STACK_FILE_READ_TIMEOUT_MS). */
  readTimeoutMs: number;
  /** Warnings of one kind kept per file; the rest are counted (STACK_MAX_WARNINGS). */
  maxWarnings: number;
  /** Nodes of a parsed document with every YAML alias expanded (STACK_FILE_MAX_NODES). */
  maxNodes?: number;
  /** Nesting depth of a parsed document (STACK_FILE_MAX_DEPTH). */
  maxDepth?: number;
  /** Components and sub-components of a stack-metadata file (STACK_MAX_COMPONENTS). */
  maxComponents?: number;
}

export const DEFAULT_LIMITS: Readonly<Required<FileLimits>> = Object.freeze({
  maxBytes: 10 * 1024 * 1024,
  readTimeoutMs: 5000,
  maxWarnings: 50,
  maxNodes: 200_000,
  maxDepth: 100,
  maxComponents: 1000,
});
export const MAX_BYTES_SETTING = 'STACK_FILE_MAX_BYTES' as const;
export const READ_TIMEOUT_SETTING = 'STACK_FILE_READ_TIMEOUT_MS' as const;
export const MAX_WARNINGS_SETTING = 'STACK_MAX_WARNINGS' as const;
export const MAX_NODES_SETTING = 'STACK_FILE_MAX_NODES' as const;
export const MAX_DEPTH_SETTING = 'STACK_FILE_MAX_DEPTH' as const;
export const MAX_COMPONENTS_SETTING = 'STACK_MAX_COMPONENTS' as const;
/** Merge keys (`<<: *x`, which copy a mapping's keys rather than share it) per file: js-yaml 4.3's default. */
const MAX_MERGE_KEYS = 10_000;

export interface FileRef {
  path: string;
  /** The environment variable (or parameter) that chose this path. */
  setting: string;
  /** Reading limits; DEFAULT_LIMITS when absent. */
  limits?: FileLimits;
}

function unreadable(ref: FileRef, why: string, code = 'file_unreadable', setting = ref.setting): ScanError {
  return new ScanError(422, {
    code,
    message: `${ref.path} ${why}`,
    file: ref.path,
    setting,
  });
}

function kindOf(st: import('node:fs').Stats): string {
  if (st.isDirectory()) return 'a directory';
  if (st.isFIFO()) return 'a FIFO (named pipe)';
  if (st.isCharacterDevice()) return 'a character device';
  if (st.isBlockDevice()) return 'a block device';
  if (st.isSocket()) return 'a socket';
  return 'not a regular file';
}

/**
 * Reads a regular file as UTF-8 text, within the size cap and the read timeout.
 * Every failure is a 422 naming the file and the setting to change.
 */
export async function readTextFile(ref: FileRef): Promise<string> {
  const limits = ref.limits ?? DEFAULT_LIMITS;
  let st;
  try {
    st = await stat(ref.path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' || code === 'ENOTDIR' ? 'does not exist' : code === 'EACCES' ? 'is not readable' : `cannot be read (${code ?? 'error'})`;
    throw unreadable(ref, `${why}; set ${ref.setting} to the path of the file`);
  }
  if (!st.isFile()) throw unreadable(ref, `is ${kindOf(st)}, not a regular file; set ${ref.setting} to the path of a regular file`, 'file_not_regular');
  if (st.size > limits.maxBytes)
    throw unreadable(
      ref,
      `is ${st.size} bytes, over the ${limits.maxBytes}-byte limit; raise ${MAX_BYTES_SETTING} or point ${ref.setting} at a smaller file`,
      'file_too_large',
      MAX_BYTES_SETTING,
    );

  // O_NONBLOCK: if the path was swapped for a FIFO after the stat, open does not wait for a writer.
  let fh;
  try {
    fh = await open(ref.path, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw unreadable(ref, `${code === 'EACCES' ? 'is not readable' : `cannot be opened (${code ?? 'error'})`}; set ${ref.setting} to the path of the file`);
  }
  const timer = new AbortController();
  const timeout = setTimeout(() => timer.abort(), limits.readTimeoutMs);
  try {
    const again = await fh.stat();
    if (!again.isFile()) throw unreadable(ref, `is ${kindOf(again)}, not a regular file; set ${ref.setting} to the path of a regular file`, 'file_not_regular');
    const chunks: Buffer[] = [];
    let total = 0;
    // Sized to the file (plus one byte, to see growth), not 1 MiB per file: a folder of small policy files
    // would otherwise cost a megabyte each (RSS a scale-from-zero function pays).
    const buf = Buffer.allocUnsafe(Math.min(limits.maxBytes + 1, Math.max(again.size + 1, 4096), 1 << 20));
    for (;;) {
      if (timer.signal.aborted)
        throw unreadable(
          ref,
          `could not be read within ${limits.readTimeoutMs} ms; raise ${READ_TIMEOUT_SETTING} or check the file system`,
          'file_read_timeout',
          READ_TIMEOUT_SETTING,
        );
      const { bytesRead } = await fh.read(buf, 0, buf.length, null);
      if (bytesRead === 0) break;
      total += bytesRead;
      if (total > limits.maxBytes)
        throw unreadable(
          ref,
          `is over the ${limits.maxBytes}-byte limit; raise ${MAX_BYTES_SETTING} or point ${ref.setting} at a smaller file`,
          'file_too_large',
          MAX_BYTES_SETTING,
        );
      chunks.push(Buffer.from(buf.subarray(0, bytesRead)));
    }
    try {
      return new TextDecoder('utf-8', { fatal: true }).decode(Buffer.concat(chunks, total)).replace(/^\uFEFF/, '');
    } catch {
      throw unreadable(ref, `is not UTF-8 text; set ${ref.setting} to the path of a text file`, 'file_not_text');
    }
  } catch (err) {
    if (err instanceof ScanError) throw err;
    const code = (err as NodeJS.ErrnoException).code;
    throw unreadable(ref, `cannot be read (${code ?? 'error'}); set ${ref.setting} to the path of the file`);
  } finally {
    clearTimeout(timeout);
    await fh.close().catch(() => undefined);
  }
}

/** A parser's reason with any quoted text, tag or alias from the file replaced, and bounded in length. */
export function safeReason(reason: string): string {
  return reason
    .replace(/"[^"]*"?/g, '"…"')
    .replace(/'[^']*'?/g, "'…'")
    .replace(/![^\s,\]}]*/g, '!…')
    .replace(/<[^>]*>?/g, '<…>')
    .slice(0, 200);
}

export interface ParsedYaml {
  value: unknown;
  /** Duplicate mapping keys read leniently (the last value wins), the first `maxWarnings` of them, then one line with the count. */
  warnings: string[];
  /** How many duplicate keys the file has in all. */
  duplicateKeys: number;
  /** The 1-based line where each mapping or sequence of the value starts (with `positions: true`; empty otherwise). */
  lines: WeakMap<object, number>;
}

function positionOf(text: string, offset: number): { line: number; column: number } {
  let line = 1;
  let last = -1;
  for (let i = text.indexOf('\n'); i !== -1 && i < offset; i = text.indexOf('\n', i + 1)) {
    line++;
    last = i;
  }
  return { line, column: offset - last };
}

function syntaxError(ref: FileRef, code: 'yaml_syntax' | 'json_syntax', line: number, column: number, reason: string): ScanError {
  return new ScanError(422, {
    code,
    message: `${ref.path}:${line}:${column}: invalid ${code === 'yaml_syntax' ? 'YAML' : 'JSON'}: ${reason}`,
    file: ref.path,
    setting: ref.setting,
    line,
    column,
  });
}

/** Where a second YAML document starts (js-yaml reports "found more" without a position). */
function secondDocument(text: string): { line: number; column: number } {
  const lines = text.split(/\r?\n/);
  let content = false;
  let ended = false;
  for (let i = 0; i < lines.length; i++) {
    const l = lines[i];
    if (/^---(\s|$)/.test(l)) {
      if (content) return { line: i + 1, column: 1 };
      const rest = l.slice(3).trim();
      if (rest && !rest.startsWith('#')) content = true;
      continue;
    }
    if (/^\.\.\.(\s|$)/.test(l)) {
      if (content) ended = true;
      continue;
    }
    const t = l.trim();
    if (!t || t.startsWith('#') || (!content && t.startsWith('%'))) continue;
    if (ended) return { line: i + 1, column: 1 };
    content = true;
  }
  return { line: 1, column: 1 };
}

function yamlError(err: yaml.YAMLException, text: string, ref: FileRef): ScanError {
  const at = err.mark ? { line: err.mark.line + 1, column: err.mark.column + 1 } : undefined;
  // js-yaml 4.3's own depth limit (given ours) and merge-key limit: the same 422s as our bounds.
  if (/nesting exceeded maxDepth/.test(err.reason)) return tooDeep(ref, ref.limits?.maxDepth ?? DEFAULT_LIMITS.maxDepth, at);
  if (/merge keys exceeded/.test(err.reason))
    return new ScanError(422, {
      code: 'document_too_large',
      message: `${ref.path}${at ? `:${at.line}:${at.column}` : ''}: uses more than ${MAX_MERGE_KEYS} merge keys (<<); simplify the file`,
      file: ref.path,
      setting: ref.setting,
      ...(at ?? {}),
    });
  if (/expected a single document/.test(err.reason)) {
    const at = secondDocument(text);
    return syntaxError(ref, 'yaml_syntax', at.line, at.column, 'the file holds more than one YAML document; keep one');
  }
  const line = err.mark ? err.mark.line + 1 : 1;
  const column = err.mark ? err.mark.column + 1 : 1;
  return syntaxError(ref, 'yaml_syntax', line, column, safeReason(err.reason ?? 'syntax error'));
}

function tooDeep(ref: FileRef, maxDepth: number, at?: { line: number; column: number }): ScanError {
  return new ScanError(422, {
    code: 'document_too_deep',
    message: `${ref.path}${at ? `:${at.line}:${at.column}` : ''}: nests deeper than ${maxDepth} levels; raise ${MAX_DEPTH_SETTING} or flatten the file`,
    file: ref.path,
    setting: MAX_DEPTH_SETTING,
    ...(at ? { line: at.line, column: at.column } : {}),
  });
}

/**
 * Refuses a parsed document that expands (YAML aliases) to more than `maxNodes` nodes or nests
 * deeper than `maxDepth`: a 422 naming the file, and the line where known.
 */
function checkBounds(value: unknown, ref: FileRef, lines?: WeakMap<object, number>): void {
  const limits = { ...DEFAULT_LIMITS, ...(ref.limits ?? {}) };
  const m = measure(value, { maxNodes: limits.maxNodes, maxDepth: limits.maxDepth });
  if (!m.exceeded) return;
  const line = lines?.get(m.exceeded.at);
  const where = line ? `${ref.path}:${line}` : ref.path;
  if (m.exceeded.what === 'depth') throw tooDeep(ref, limits.maxDepth, line ? { line, column: 1 } : undefined);
  if (m.exceeded.what === 'cycle')
    throw new ScanError(422, {
      code: 'document_cyclic',
      message: `${where}: an alias refers to a node that contains it; remove the cycle`,
      file: ref.path,
      setting: ref.setting,
      ...(line ? { line } : {}),
    });
  throw new ScanError(422, {
    code: 'document_too_large',
    message:
      `${where}: expands to more than ${limits.maxNodes} nodes` +
      `${m.aliases ? ` (${m.aliases} alias references so far: YAML aliases are counted as often as they are used)` : ''}; raise ${MAX_NODES_SETTING} ` +
      `or simplify the file`,
    file: ref.path,
    setting: MAX_NODES_SETTING,
    ...(line ? { line } : {}),
  });
}

/** js-yaml 4.3's own limits (not in @types/js-yaml 4.0): nesting depth and merge keys. */
const jsYamlBounds = (maxDepth: number): yaml.LoadOptions => ({ maxDepth, maxTotalMergeKeys: MAX_MERGE_KEYS }) as yaml.LoadOptions;

function isStackOverflow(err: unknown): boolean {
  return err instanceof RangeError && /call stack/i.test(err.message);
}

/**
 * Parse one YAML document. Duplicate mapping keys, which real generated
 * Stacktic output has (a ports entry with `port:` three times), are read
 * leniently: the last value wins, as in most YAML readers, and each duplicate
 * is a warning with its line (the first `maxWarnings`, then the count). Any
 * other syntax error is a 422 naming the line and column. The document's expanded
 * size and depth are bounded (STACK_FILE_MAX_NODES, STACK_FILE_MAX_DEPTH).
 */
export function parseYaml(text: string, ref: FileRef, opts: { positions?: boolean } = {}): ParsedYaml {
  const limits = { ...DEFAULT_LIMITS, ...(ref.limits ?? {}) };
  const flowDeep = yamlFlowDepthOffset(text, limits.maxDepth);
  if (flowDeep !== -1) throw tooDeep(ref, limits.maxDepth, positionOf(text, flowDeep));
  // Positions are always kept while parsing: a bounds error names the line.
  const lines = new WeakMap<object, number>();
  const stack: number[] = [];
  const listener = (event: 'open' | 'close', state: { line: number; result: unknown }) => {
    if (event === 'open') stack.push(state.line);
    else {
      const line = stack.pop();
      if (line !== undefined && state.result !== null && typeof state.result === 'object' && !lines.has(state.result)) lines.set(state.result, line + 1);
    }
  };
  const keep = (l: WeakMap<object, number>) => (opts.positions ? l : new WeakMap<object, number>());
  let strictError: yaml.YAMLException | undefined;
  try {
    const value = yaml.load(text, { filename: ref.path, listener, ...jsYamlBounds(limits.maxDepth) });
    checkBounds(value, ref, lines);
    return { value, warnings: [], duplicateKeys: 0, lines: keep(lines) };
  } catch (err) {
    if (err instanceof ScanError) throw err;
    if (isStackOverflow(err)) throw tooDeep(ref, limits.maxDepth);
    if (!(err instanceof yaml.YAMLException)) throw syntaxError(ref, 'yaml_syntax', 1, 1, 'the file could not be parsed');
    strictError = err;
  }
  if (!/duplicated mapping key/.test(strictError.reason)) throw yamlError(strictError, text, ref);
  // Lenient pass: `json: true` makes js-yaml keep the last value of a duplicate key.
  let value: unknown;
  stack.length = 0;
  try {
    value = yaml.load(text, { filename: ref.path, json: true, listener, ...jsYamlBounds(limits.maxDepth) });
  } catch (err) {
    if (err instanceof yaml.YAMLException) throw yamlError(err, text, ref);
    if (isStackOverflow(err)) throw tooDeep(ref, limits.maxDepth);
    throw syntaxError(ref, 'yaml_syntax', 1, 1, 'the file could not be parsed');
  }
  checkBounds(value, ref, lines);
  const dups = duplicateKeyLines(text);
  if (!dups.length && strictError.mark) dups.push({ line: strictError.mark.line + 1, column: strictError.mark.column + 1, key: '' });
  const warnings: string[] = [];
  for (const d of dups.slice(0, limits.maxWarnings))
    warnings.push(`${ref.path}:${d.line}:${d.column}: duplicate key${d.key ? ` '${d.key.slice(0, 40)}'` : ''} (the last value is used)`);
  if (dups.length > limits.maxWarnings)
    warnings.push(
      `${ref.path}: ${dups.length - limits.maxWarnings} more duplicate keys not listed (${dups.length} in all; ${MAX_WARNINGS_SETTING} sets how many ` +
        `are listed)`,
    );
  return { value, warnings, duplicateKeys: dups.length, lines: keep(lines) };
}

/** Every document of a multi-document YAML file (`---` separated), each bounded as parseYaml bounds one. */
export function parseYamlDocuments(text: string, ref: FileRef): unknown[] {
  const limits = { ...DEFAULT_LIMITS, ...(ref.limits ?? {}) };
  const flowDeep = yamlFlowDepthOffset(text, limits.maxDepth);
  if (flowDeep !== -1) throw tooDeep(ref, limits.maxDepth, positionOf(text, flowDeep));
  let docs: unknown[];
  try {
    docs = yaml.loadAll(text, undefined, { filename: ref.path, ...jsYamlBounds(limits.maxDepth) });
  } catch (err) {
    if (err instanceof yaml.YAMLException) throw yamlError(err, text, ref);
    if (isStackOverflow(err)) throw tooDeep(ref, limits.maxDepth);
    throw syntaxError(ref, 'yaml_syntax', 1, 1, 'the file could not be parsed');
  }
  // The documents together: one bound per file.
  checkBounds(docs, ref);
  return docs;
}

/** Lines that repeat a key already seen in the same block mapping (same indent, no shallower line between). */
function duplicateKeyLines(text: string): { line: number; column: number; key: string }[] {
  const out: { line: number; column: number; key: string }[] = [];
  // A stack of open mappings: indent → keys seen.
  const stack: { indent: number; keys: Set<string> }[] = [];
  const rows = text.split(/\r?\n/);
  for (let i = 0; i < rows.length; i++) {
    const raw = rows[i];
    const m = /^(\s*)(- )?([^\s#'"\-{[][^:#]*?|'[^']*'|"[^"]*"):(\s|$)/.exec(raw);
    if (!m) continue;
    const indent = m[1].length + (m[2] ? 2 : 0);
    while (stack.length && (stack[stack.length - 1].indent > indent || (m[2] && stack[stack.length - 1].indent === indent))) stack.pop();
    let top = stack[stack.length - 1];
    if (!top || top.indent < indent) {
      top = { indent, keys: new Set() };
      stack.push(top);
    }
    const key = m[3].replace(/^['"]|['"]$/g, '');
    if (top.keys.has(key)) out.push({ line: i + 1, column: indent + 1, key });
    top.keys.add(key);
  }
  return out;
}

/**
 * Parse JSON; a syntax error names the file, line and column, from a parser
 * that reports positions (jsonc-parser in strict mode: no comments, no
 * trailing commas), never from the text of an error message.
 */
export function parseJson(text: string, ref: FileRef): unknown {
  const maxDepth = ref.limits?.maxDepth ?? DEFAULT_LIMITS.maxDepth;
  const deep = jsonDepthOffset(text, maxDepth);
  if (deep !== -1) throw tooDeep(ref, maxDepth, positionOf(text, deep));
  const errors: ParseError[] = [];
  parseJsonc(text, errors, { disallowComments: true, allowTrailingComma: false, allowEmptyContent: false });
  if (errors.length) {
    const first = errors[0];
    const at = positionOf(text, first.offset);
    throw syntaxError(ref, 'json_syntax', at.line, at.column, jsonReason(printParseErrorCode(first.error)));
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    // jsonc-parser is the stricter of the two in practice; should they disagree, still give a position.
    throw syntaxError(ref, 'json_syntax', 1, 1, 'the file is not valid JSON');
  }
  checkBounds(value, ref);
  return value;
}

function jsonReason(code: string): string {
  const words = code.replace(/([a-z])([A-Z])/g, '$1 $2').toLowerCase();
  return words.replace(/^invalid symbol$/, 'unexpected character').replace(/^value expected$/, 'a value is expected here');
}
