/**
 * Reading and parsing input files without holding the event loop. Parsing is synchronous:
 * js-yaml reads about 10 MB/s, so a file at the 10 MiB cap would hold the event loop for a second
 * (no /healthz, no other scan, no timeout firing). Texts longer than OFF_THREAD_CHARS are parsed
 * on a worker thread, with the same bounds (lib/topology/files.ts, bounds.ts), a time limit
 * (STACK_FILE_READ_TIMEOUT_MS) and a heap limit; the worker is terminated when either is passed.
 * The worker runs this very module (the bundle, once bundled): the module answers a parse job
 * when it is loaded as a worker (below), and serveApp does not listen in a worker.
 */
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { ScanError, type ErrorInfo } from '../errors.ts';
import {
  DEFAULT_LIMITS,
  MAX_NODES_SETTING,
  parseJson,
  parseYaml,
  parseYamlDocuments,
  READ_TIMEOUT_SETTING,
  readTextFile,
  type FileRef,
  type ParsedYaml,
} from './files.ts';

/** Texts longer than this are parsed on a worker thread (about 13 ms of js-yaml on the main thread at most). */
export const OFF_THREAD_CHARS = 128 * 1024;

type Job = { kind: 'yaml' | 'yaml-all' | 'json'; text: string; ref: FileRef; positions: boolean };
type JobResult = { ok: true; value: unknown; warnings?: string[]; duplicateKeys?: number; lines?: number[] } | { ok: false; status: number; info: ErrorInfo };

const WORKER_FLAG = 'stack-scan:parse-worker';

/** Lines of the distinct objects of `value`, in a deterministic walk order (survives a structured clone). */
function linesToList(value: unknown, lines: WeakMap<object, number>): number[] {
  const out: number[] = [];
  walkObjects(value, (o) => out.push(lines.get(o) ?? 0));
  return out;
}

function listToLines(value: unknown, list: number[]): WeakMap<object, number> {
  const lines = new WeakMap<object, number>();
  let i = 0;
  walkObjects(value, (o) => {
    const l = list[i++];
    if (l) lines.set(o, l);
  });
  return lines;
}

function walkObjects(value: unknown, visit: (o: object) => void): void {
  const seen = new Set<object>();
  const pending: unknown[] = [value];
  while (pending.length) {
    const v = pending.pop();
    if (v === null || typeof v !== 'object' || seen.has(v)) continue;
    seen.add(v);
    visit(v);
    const kids = Array.isArray(v) ? v : Object.values(v);
    for (let k = kids.length - 1; k >= 0; k--) pending.push(kids[k]);
  }
}

function runJob(job: Job): JobResult {
  try {
    if (job.kind === 'json') return { ok: true, value: parseJson(job.text, job.ref) };
    if (job.kind === 'yaml-all') return { ok: true, value: parseYamlDocuments(job.text, job.ref) };
    const r = parseYaml(job.text, job.ref, { positions: job.positions });
    return { ok: true, value: r.value, warnings: r.warnings, duplicateKeys: r.duplicateKeys, lines: job.positions ? linesToList(r.value, r.lines) : undefined };
  } catch (err) {
    if (err instanceof ScanError) return { ok: false, status: err.status, info: err.info };
    return {
      ok: false,
      status: 422,
      info: { code: 'file_unparsable', message: `${job.ref.path} could not be parsed`, file: job.ref.path, setting: job.ref.setting },
    };
  }
}

if (!isMainThread && (workerData as Record<string, unknown> | null)?.[WORKER_FLAG]) {
  parentPort!.once('message', (job: Job) => parentPort!.postMessage(runJob(job)));
}

/** Runs one parse job on a fresh worker thread, within the time limit. */
function offThread(job: Job): Promise<JobResult> {
  const limits = { ...DEFAULT_LIMITS, ...(job.ref.limits ?? {}) };
  const url = import.meta.url;
  // Under tsx (tests, `npm start`), the worker registers tsx's loader before importing this .ts module.
  const boot = url.endsWith('.ts')
    ? `import(${JSON.stringify(import.meta.resolve('tsx/esm/api'))}).then((m) => { m.register(); return import(${JSON.stringify(url)}); })`
    : `import(${JSON.stringify(url)})`;
  return new Promise<JobResult>((resolve) => {
    const worker = new Worker(boot, {
      eval: true,
      workerData: { [WORKER_FLAG]: true },
      resourceLimits: { maxOldGenerationSizeMb: 256 },
      stdout: true,
      stderr: true,
    });
    let settled = false;
    const finish = (r: JobResult) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      void worker.terminate();
      resolve(r);
    };
    const fail = (code: string, why: string, setting: string) =>
      finish({ ok: false, status: 422, info: { code, message: `${job.ref.path} ${why}`, file: job.ref.path, setting } });
    // The read timeout covers the parse as well: a worker that takes longer is terminated.
    const timer = setTimeout(
      () =>
        fail(
          'file_parse_timeout',
          `could not be parsed within ${limits.readTimeoutMs} ms; raise ${READ_TIMEOUT_SETTING} or simplify the file`,
          READ_TIMEOUT_SETTING,
        ),
      limits.readTimeoutMs,
    );
    worker.once('message', (r: JobResult) => finish(r));
    worker.once('error', (err: Error & { code?: string }) =>
      err.code === 'ERR_WORKER_OUT_OF_MEMORY'
        ? fail(
            'document_too_large',
            `needs more memory to parse than allowed; raise ${MAX_NODES_SETTING} only with more memory, or simplify the file`,
            MAX_NODES_SETTING,
          )
        : fail('file_unparsable', 'could not be parsed', job.ref.setting),
    );
    worker.once('exit', () => fail('file_unparsable', 'could not be parsed (the parser stopped)', job.ref.setting));
    worker.postMessage(job);
  });
}

async function parseAnywhere(job: Job): Promise<JobResult> {
  if (job.text.length <= OFF_THREAD_CHARS) return runJob(job);
  return offThread(job);
}

function settle(r: JobResult): Extract<JobResult, { ok: true }> {
  if (!r.ok) throw new ScanError(r.status, r.info);
  return r;
}

/** Reads and parses one YAML document (a large file on a worker thread); see parseYaml. */
export async function loadYaml(ref: FileRef, opts: { positions?: boolean } = {}): Promise<ParsedYaml> {
  return parseYamlOffThread(await readTextFile(ref), ref, opts);
}

/** parseYaml, on a worker thread when the text is large. */
export async function parseYamlOffThread(text: string, ref: FileRef, opts: { positions?: boolean } = {}): Promise<ParsedYaml> {
  const job: Job = { kind: 'yaml', text, ref, positions: !!opts.positions };
  if (text.length <= OFF_THREAD_CHARS) return parseYaml(text, ref, opts);
  const r = settle(await offThread(job));
  return { value: r.value, warnings: r.warnings ?? [], duplicateKeys: r.duplicateKeys ?? 0, lines: r.lines ? listToLines(r.value, r.lines) : new WeakMap() };
}

/** Reads and parses every YAML document of a file (a large file on a worker thread). */
export async function loadYamlDocuments(ref: FileRef): Promise<unknown[]> {
  const text = await readTextFile(ref);
  return settle(await parseAnywhere({ kind: 'yaml-all', text, ref, positions: false })).value as unknown[];
}

/** Reads and parses a JSON file (a large file on a worker thread); see parseJson. */
export async function loadJson(ref: FileRef): Promise<unknown> {
  const text = await readTextFile(ref);
  return settle(await parseAnywhere({ kind: 'json', text, ref, positions: false })).value;
}
