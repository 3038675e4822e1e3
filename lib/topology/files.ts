/**
 * Reading the files a user points us at, with errors that name the file, the
 * setting that points to it, and (for syntax errors) the line and the reason.
 */
import { readFile } from 'node:fs/promises';
import yaml from 'js-yaml';
import { ScanError } from '../errors.ts';

export interface FileRef {
  path: string;
  /** The environment variable (or parameter) that chose this path. */
  setting: string;
}

export async function readTextFile(ref: FileRef): Promise<string> {
  try {
    return await readFile(ref.path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'does not exist' : code === 'EACCES' ? 'is not readable' : code === 'EISDIR' ? 'is a directory' : `cannot be read (${code ?? String(err)})`;
    throw new ScanError(422, {
      code: 'file_unreadable',
      message: `${ref.path} ${why}; set ${ref.setting} to the path of the file`,
      file: ref.path,
      setting: ref.setting,
    });
  }
}

export interface ParsedYaml {
  value: unknown;
  /** Duplicate mapping keys that were read leniently (the last value wins). */
  warnings: string[];
}

/**
 * Parse YAML. Duplicate mapping keys, which real generated Stacktic output
 * sometimes has (a ports entry with `port:` three times), are read leniently:
 * the last value wins, as in most YAML readers, and each duplicate is reported
 * as a warning with its line. Any other syntax error is a 422 naming the line.
 */
export function parseYaml(text: string, ref: FileRef): ParsedYaml {
  const warnings: string[] = [];
  let strictError: yaml.YAMLException | undefined;
  try {
    return { value: yaml.load(text, { filename: ref.path }), warnings };
  } catch (err) {
    if (!(err instanceof yaml.YAMLException)) throw err;
    strictError = err;
  }
  if (!/duplicated mapping key/.test(strictError.reason)) throw yamlError(strictError, ref);
  // Lenient pass: `json: true` makes js-yaml keep the last value of a duplicate key.
  // Report every duplicate by re-running strict parsing with each one removed from view.
  for (const line of duplicateKeyLines(text)) warnings.push(`${ref.path}:${line.line}: duplicate key '${line.key}' (the last value is used)`);
  try {
    return { value: yaml.load(text, { filename: ref.path, json: true }), warnings };
  } catch (err) {
    if (err instanceof yaml.YAMLException) throw yamlError(err, ref);
    throw err;
  }
}

function yamlError(err: yaml.YAMLException, ref: FileRef): ScanError {
  const line = err.mark ? err.mark.line + 1 : undefined;
  const column = err.mark ? err.mark.column + 1 : undefined;
  return new ScanError(422, {
    code: 'yaml_syntax',
    message: `${ref.path}${line ? `:${line}:${column}` : ''}: invalid YAML: ${err.reason}`,
    file: ref.path,
    setting: ref.setting,
    line,
    column,
  });
}

/** Lines that repeat a key already seen in the same block mapping (same indent, no shallower line between). */
function duplicateKeyLines(text: string): { line: number; key: string }[] {
  const out: { line: number; key: string }[] = [];
  // A stack of open mappings: indent → keys seen.
  const stack: { indent: number; keys: Set<string> }[] = [];
  text.split(/\r?\n/).forEach((raw, i) => {
    const m = /^(\s*)(- )?([^\s#'"][^:#]*?|'[^']*'|"[^"]*"):(\s|$)/.exec(raw);
    if (!m) return;
    const indent = m[1].length + (m[2] ? 2 : 0);
    while (stack.length && (stack[stack.length - 1].indent > indent || (m[2] && stack[stack.length - 1].indent === indent))) stack.pop();
    let top = stack[stack.length - 1];
    if (!top || top.indent < indent) {
      top = { indent, keys: new Set() };
      stack.push(top);
    }
    const key = m[3].replace(/^['"]|['"]$/g, '');
    if (top.keys.has(key)) out.push({ line: i + 1, key });
    top.keys.add(key);
  });
  return out;
}

/** Parse JSON; a syntax error names the file, line and column. */
export function parseJson(text: string, ref: FileRef): unknown {
  try {
    return JSON.parse(text);
  } catch (err) {
    const msg = (err as Error).message;
    const pos = /position (\d+)/.exec(msg);
    let line: number | undefined;
    let column: number | undefined;
    if (pos) {
      const before = text.slice(0, Number(pos[1]));
      line = before.split('\n').length;
      column = before.length - before.lastIndexOf('\n');
    }
    throw new ScanError(422, {
      code: 'json_syntax',
      message: `${ref.path}${line ? `:${line}:${column}` : ''}: invalid JSON: ${msg.replace(/^Unexpected/, 'unexpected')}`,
      file: ref.path,
      setting: ref.setting,
      line,
      column,
    });
  }
}
