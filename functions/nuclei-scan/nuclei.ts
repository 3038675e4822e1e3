/**
 * The nuclei engine (github.com/projectdiscovery/nuclei/v3, built by harness/build.sh
 * from harness/go/nuclei): argv construction, a streaming run, and a pure parser of
 * its `-jsonl` lines.
 *
 * One run = one group of targets (`-l` list file) and the exact templates chosen for
 * them (select.ts; `-t` list file), restricted to their protocols (`-pt`). Always offline
 * apart from the targets: `-duc` (no update check, no template download), `-ni` unless an
 * interactsh server is given, `-r <file>` with explicit resolvers (nuclei otherwise asks
 * public resolvers). `-etags` repeats the safety exclusions so nuclei itself refuses them
 * too. `-ms` makes nuclei report every template × target that did NOT match too, with an
 * `error` when the target could not be reached: that is how a scan tells "reached, no
 * finding" from "not reached". `-ot` drops the template text from the output.
 *
 * Nothing from a request reaches argv: inputs and tags are checked here (an input
 * never starts with `-`, has no whitespace), everything else is numbers or our paths.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runTool, type ToolResult } from '../../lib/tools/run.ts';

export type NucleiProtocol = 'http' | 'tcp' | 'ssl' | 'javascript';

/** One parsed `-jsonl` line. */
export interface NucleiEvent {
  templateId: string;
  name: string;
  severity: string;
  tags: string[];
  description?: string;
  references: string[];
  /** nuclei's protocol type of the template (`http`, `tcp`, `ssl`, …). */
  type: string;
  host?: string;
  port?: string;
  scheme?: string;
  url?: string;
  ip?: string;
  matchedAt?: string;
  matcherName?: string;
  extractorName?: string;
  extracted: string[];
  /** true: a match (a finding); false: the template ran without matching (`-ms`). */
  matcherStatus: boolean;
  /** Why the template could not run against the target (`-ms`), e.g. `cause=port closed or filtered`. */
  error?: string;
  request?: string;
  response?: string;
  timestamp?: string;
}

export type ParsedLine = { ok: true; event: NucleiEvent } | { ok: false; reason: string };

const str = (x: unknown): string | undefined => (typeof x === 'string' && x !== '' ? x : typeof x === 'number' ? String(x) : undefined);
const strList = (x: unknown): string[] => {
  if (Array.isArray(x)) return x.map(str).filter((s): s is string => !!s);
  const s = str(x);
  return s
    ? s
        .split(',')
        .map((t) => t.trim())
        .filter(Boolean)
    : [];
};

/** Parse one line of `nuclei -jsonl` output. Pure; never throws. */
export function parseNucleiLine(line: string): ParsedLine {
  const text = line.trim();
  if (!text) return { ok: false, reason: 'empty line' };
  if (!text.startsWith('{')) return { ok: false, reason: 'not a JSON object' };
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    return { ok: false, reason: `invalid JSON: ${(err as Error).message}` };
  }
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) return { ok: false, reason: 'not a JSON object' };
  const o = raw as Record<string, unknown>;
  const templateId = str(o['template-id']);
  if (!templateId) return { ok: false, reason: 'no template-id' };
  const info = (o.info && typeof o.info === 'object' ? o.info : {}) as Record<string, unknown>;
  const ev: NucleiEvent = {
    templateId,
    name: str(info.name) ?? templateId,
    severity: (str(info.severity) ?? 'unknown').toLowerCase(),
    tags: strList(info.tags),
    references: strList(info.reference),
    type: str(o.type) ?? 'unknown',
    extracted: strList(o['extracted-results']),
    matcherStatus: o['matcher-status'] === true,
  };
  const opt: [keyof NucleiEvent, unknown][] = [
    ['description', info.description],
    ['host', o.host],
    ['port', o.port],
    ['scheme', o.scheme],
    ['url', o.url],
    ['ip', o.ip],
    ['matchedAt', o['matched-at']],
    ['matcherName', o['matcher-name']],
    ['extractorName', o['extractor-name']],
    ['error', o.error],
    ['request', o.request],
    ['response', o.response],
    ['timestamp', o.timestamp],
  ];
  for (const [k, val] of opt) {
    const s = str(val);
    if (s !== undefined) (ev as unknown as Record<string, unknown>)[k] = k === 'description' ? s.trim() : s;
  }
  return { ok: true, event: ev };
}

/** Parse a whole recorded output (tests, offline reading). */
export function parseNucleiOutput(text: string): { events: NucleiEvent[]; bad: { line: number; reason: string }[] } {
  const events: NucleiEvent[] = [];
  const bad: { line: number; reason: string }[] = [];
  text.split('\n').forEach((l, i) => {
    if (!l.trim()) return;
    const p = parseNucleiLine(l);
    if (p.ok) events.push(p.event);
    else bad.push({ line: i + 1, reason: p.reason });
  });
  return { events, bad };
}

/** The nameservers of a resolv.conf, as nuclei's `-r` file lines (`ip:53`). Pure. */
export function resolversFromResolvConf(text: string): string[] {
  const out: string[] = [];
  for (const line of text.split('\n')) {
    const m = /^\s*nameserver\s+(\S+)/.exec(line);
    if (!m) continue;
    const ip = m[1].replace(/%.*$/, '');
    if (/^[0-9.]+$/.test(ip)) out.push(`${ip}:53`);
    else if (/^[0-9a-f:]+$/i.test(ip)) out.push(`[${ip}]:53`);
  }
  return [...new Set(out)];
}

/** A nuclei input as we build them: a URL (http/https) or host:port, never starting with `-`. */
const INPUT = /^(?:https?:\/\/)?(?:\[[0-9a-f:.]+\]|[a-z0-9_](?:[a-z0-9_.-]*[a-z0-9_])?)(?::\d{1,5})?(?:\/[\w./~%-]*)?$/i;
const TAG = /^[a-z0-9][a-z0-9_.-]{0,63}$/i;

export function isValidNucleiInput(s: string): boolean {
  return INPUT.test(s) && !s.startsWith('-');
}

export interface NucleiOptions {
  bin: string;
  /** nuclei's `-pt`: the protocols of the templates. */
  protocols: string[];
  /** Template files (absolute paths), written to the `-t` list file. */
  templates: string[];
  /** `-etags`: tags nuclei must refuse even if a listed template carries them. */
  excludeTags: string[];
  rateLimit: number;
  concurrency: number;
  bulkSize: number;
  /** Per-request timeout, seconds (`-timeout`). */
  requestTimeoutS: number;
  retries: number;
  /** `ip:port` lines for `-r`; when empty nuclei gets none and only IP literals should be given. */
  resolvers: string[];
  /** An interactsh server URL (`-iserver`); unset: `-ni`. */
  interactshUrl?: string;
  /** Keep request/response in the output (otherwise `-or`). */
  includeRaw: boolean;
}

const PROTOCOL = /^[a-z]{2,16}$/;

/** Pure: nuclei's argv for a targets list file, a templates list file and (optional) resolvers file. */
export function nucleiArgs(o: NucleiOptions, listFile: string, templatesFile: string, resolversFile?: string): string[] {
  for (const t of o.excludeTags) if (!TAG.test(t)) throw new Error(`invalid nuclei tag '${t}'`);
  for (const p of o.protocols) if (!PROTOCOL.test(p)) throw new Error(`invalid nuclei protocol '${p}'`);
  const args = [
    '-l',
    listFile,
    '-t',
    templatesFile,
    '-pt',
    o.protocols.join(','),
    '-jsonl',
    '-silent',
    '-nc',
    '-duc',
    '-ms',
    '-ot',
    '-rl',
    String(o.rateLimit),
    '-c',
    String(o.concurrency),
    '-bs',
    String(o.bulkSize),
    '-timeout',
    String(o.requestTimeoutS),
    '-retries',
    String(o.retries),
  ];
  if (o.excludeTags.length) args.push('-etags', o.excludeTags.join(','));
  if (!o.includeRaw) args.push('-or');
  if (o.interactshUrl) args.push('-iserver', o.interactshUrl);
  else args.push('-ni');
  if (resolversFile) args.push('-r', resolversFile);
  return args;
}

export const WORKDIR_PREFIX = 'stack-scan-nuclei-';
/** Work directories older than this are left-overs of a killed process and are swept. */
export const WORKDIR_EXPIRY_MS = 60 * 60_000;

/** Remove our expired work directories under `base` (a crash's left-overs). */
export async function sweepWorkDirs(base = tmpdir(), now = Date.now()): Promise<number> {
  let n = 0;
  let names: string[] = [];
  try {
    names = await readdir(base);
  } catch {
    return 0;
  }
  for (const name of names) {
    if (!name.startsWith(WORKDIR_PREFIX)) continue;
    const p = join(base, name);
    try {
      const s = await stat(p);
      if (now - s.mtimeMs > WORKDIR_EXPIRY_MS) {
        await rm(p, { recursive: true, force: true });
        n++;
      }
    } catch {
      /* gone meanwhile */
    }
  }
  return n;
}

export interface NucleiRun {
  tool: ToolResult;
  /** Lines that were not nuclei results (kept short). */
  badLines: number;
  events: number;
}

/**
 * Run nuclei once over `inputs`, calling `onEvent` for every result line as it
 * streams. Its files (list, resolvers, nuclei's own config) live in a work directory
 * named `stack-scan-nuclei-*` that is removed afterwards (and swept after an hour if
 * this process died). Abort with `signal`: runTool kills nuclei's process group.
 */
export interface NucleiRunHooks {
  onEvent: (e: NucleiEvent) => void;
  signal?: AbortSignal;
  /** Every stdout line as nuclei wrote it (recording fixtures). */
  onRawLine?: (line: string) => void;
}

export async function runNuclei(o: NucleiOptions, inputs: string[], hooks: NucleiRunHooks): Promise<NucleiRun> {
  const { onEvent, signal, onRawLine } = hooks;
  for (const i of inputs) if (!isValidNucleiInput(i)) throw new Error(`invalid nuclei input '${i.slice(0, 80)}'`);
  for (const t of o.templates) if (/[\n\r]/.test(t) || t.startsWith('-')) throw new Error(`invalid template path '${t.slice(0, 80)}'`);
  await sweepWorkDirs();
  const dir = join(tmpdir(), `${WORKDIR_PREFIX}${process.pid}-${randomBytes(4).toString('hex')}`);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  try {
    const listFile = join(dir, 'targets.txt');
    await writeFile(listFile, `${inputs.join('\n')}\n`, { mode: 0o600 });
    const templatesFile = join(dir, 'templates.txt');
    await writeFile(templatesFile, `${o.templates.join('\n')}\n`, { mode: 0o600 });
    let resolversFile: string | undefined;
    if (o.resolvers.length) {
      resolversFile = join(dir, 'resolvers.txt');
      await writeFile(resolversFile, `${o.resolvers.join('\n')}\n`, { mode: 0o600 });
    }
    let events = 0;
    let badLines = 0;
    const tool = await runTool(o.bin, nucleiArgs(o, listFile, templatesFile, resolversFile), {
      signal,
      keepStdout: false,
      cwd: dir,
      // nuclei writes its config and caches under $HOME/.config: keep them in our work dir.
      env: { HOME: dir, XDG_CONFIG_HOME: join(dir, 'config'), XDG_CACHE_HOME: join(dir, 'cache') },
      onStdoutLine: (line) => {
        onRawLine?.(line);
        const p = parseNucleiLine(line);
        if (p.ok) {
          events++;
          onEvent(p.event);
        } else badLines++;
      },
    });
    return { tool, badLines, events };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
