// Benchmark (issue 19 item 4): memory of a real server process (functions/server.ts) while a client
// sends a 100 MB chunked CloudEvent to POST /. The body must be refused (413) as soon as it passes
// the 1 MiB limit and never be held: goal RSS growth ≤ 20 MB over the process's RSS just before
// (baseline measured in the same run, after one small event has loaded the HTTP adapter and SDK).
// Also: a declared Content-Length of 100 MB is refused before any of the body is read.
//
// Traffic: loopback only. Bounded: the upload stops at 100 MB or when the server answers; 60 s cap.
//
// Standalone: npx tsx bench/body-limit.ts
import http from 'node:http';
import { pathToFileURL } from 'node:url';
import { startServerProcess } from '../harness/serve-process.ts';

const TOTAL = 100 * 1024 * 1024;
const CHUNK = 64 * 1024;
const GOAL_MB = 20;

export interface BodyLimitResult {
  baselineMb: number;
  peakMb: number;
  growthMb: number;
  status: number | null;
  sentMb: number;
  declaredStatus: number | null;
}

/** POST a body of `total` bytes in chunks; resolves with the status (or null) and the bytes written before the server answered or closed. */
function upload(port: number, total: number, declared: boolean): Promise<{ status: number | null; sent: number }> {
  return new Promise((resolve) => {
    let sent = 0;
    let status: number | null = null;
    let done = false;
    const finish = () => {
      if (done) return;
      done = true;
      clearTimeout(cap);
      req.destroy();
      resolve({ status, sent });
    };
    const cap = setTimeout(finish, 60_000);
    const req = http.request(
      {
        host: '127.0.0.1',
        port,
        method: 'POST',
        path: '/',
        headers: { 'content-type': 'application/cloudevents+json', ...(declared ? { 'content-length': String(total) } : { 'transfer-encoding': 'chunked' }) },
      },
      (res) => {
        status = res.statusCode ?? null;
        res.resume();
        res.on('end', finish);
        res.on('error', finish);
      },
    );
    // The server answers 413 and closes: the client's next write fails (EPIPE) while the answer may still be read.
    req.on('error', () => setTimeout(finish, 300));
    req.on('close', () => setTimeout(finish, 300));
    const chunk = Buffer.alloc(CHUNK, 0x20);
    const pump = () => {
      while (!done && status === null && sent < total) {
        sent += CHUNK;
        if (!req.write(chunk)) return void req.once('drain', pump);
      }
      if (sent >= total && !done) req.end();
    };
    req.write('{"specversion":"1.0","id":"x","source":"/bench","type":"io.stacktic.scan.requested","data":"');
    pump();
  });
}

export async function measureBodyLimit(): Promise<BodyLimitResult> {
  const server = await startServerProcess({}, { killAfterMs: 120_000 });
  try {
    // Warm-up: the HTTP adapter and the CloudEvents SDK are loaded by a first small event.
    await fetch(`${server.url}/`, {
      method: 'POST',
      headers: { 'content-type': 'application/cloudevents+json' },
      body: '{"specversion":"1.0","id":"w","source":"/bench","type":"x"}',
    });
    await new Promise((r) => setTimeout(r, 300));
    const baselineMb = Math.max(server.rssMb(), server.rssMb());
    let peakMb = baselineMb;
    const sampler = setInterval(() => (peakMb = Math.max(peakMb, server.rssMb())), 10);
    const chunked = await upload(server.port, TOTAL, false);
    await new Promise((r) => setTimeout(r, 300));
    clearInterval(sampler);
    peakMb = Math.max(peakMb, server.rssMb());
    const declared = await upload(server.port, TOTAL, true);
    return { baselineMb, peakMb, growthMb: peakMb - baselineMb, status: chunked.status, sentMb: chunked.sent / 1024 / 1024, declaredStatus: declared.status };
  } finally {
    await server.stop();
  }
}

export async function main(): Promise<BodyLimitResult> {
  const r = await measureBodyLimit();
  console.log(
    `100 MB chunked body to POST /: answered ${r.status} after ${r.sentMb.toFixed(1)} MB sent; RSS ${r.baselineMb.toFixed(1)} → peak ` +
      `${r.peakMb.toFixed(1)} MB: growth ${r.growthMb.toFixed(1)} MB (goal ≤ ${GOAL_MB} MB) ${r.growthMb <= GOAL_MB ? 'OK' : 'OVER'}`,
  );
  console.log(`100 MB declared Content-Length: answered ${r.declaredStatus}`);
  return r;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) await main();
