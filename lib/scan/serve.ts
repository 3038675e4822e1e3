/**
 * Serving. Each function's `app.ts` exports its Hono app (`export default app`) and its
 * definition; its `main.ts` only calls `serveApp(app)`. `npm start` (functions/server.ts)
 * mounts every function's app in one process, as the APISIX route does in a cluster,
 * and owns `/`, `/healthz` and the JSON 404/405 for paths no function serves.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { isMainThread } from 'node:worker_threads';
import type { AddressInfo } from 'node:net';
import { Hono } from 'hono';
import { EventRejected, pingScanOf, receiveEvent, REQUESTED_TYPE, SCAN_EXTENSION, scanOf } from './events.ts';
import { readBody, RequestRefused } from './event-checks.ts';
import { errorBody } from '../errors.ts';
import { eventTypes, notFoundBody, scanApp, type ScanDefinition } from './scaffold.ts';
import { parseSettings, setting, settingsSchema } from './settings.ts';

export interface MountedScan {
  definition: ScanDefinition<string>;
  app: Hono;
}

export function combinedApp(scans: MountedScan[]): Hono {
  const app = new Hono();
  const list = () => scans.map(({ definition: d }) => ({ scan: d.name, path: d.path, modes: d.modes, default_mode: d.defaultMode }));
  const byName = new Map(scans.map((s) => [s.definition.name, s]));
  const names = scans.map((s) => s.definition.name).join(', ');
  const hint =
    `scans: ${scans.map((s) => `GET ${s.definition.path}?mode=` + `${s.definition.defaultMode}`).join(', ')}; or POST / a CloudEvent ` +
    `${REQUESTED_TYPE} with extension ${SCAN_EXTENSION} = one of ${names}`;
  app.get('/', (c) => c.json({ scans: list() }));
  app.get('/healthz', (c) => c.json({ status: 'ok', scans: scans.map((s) => s.definition.name) }));
  // Every scan's paths in one OpenAPI 3.1 document (lib/scan/openapi.ts, loaded on the first request for it).
  let openapi: Promise<object> | undefined;
  app.get('/openapi.json', async (c) =>
    c.json(
      await (openapi ??= import('./openapi.ts').then((m) =>
        m.openApiDocument(
          scans.map((s) => s.definition),
          { combined: true, events: eventTypes() },
        ),
      )),
    ),
  );
  // CloudEvents: routed by the event's `scan` extension to that function's own POST /.
  app.post('/', async (c) => {
    const raw = c.req.raw;
    let target: MountedScan | undefined;
    let body: Uint8Array<ArrayBuffer>;
    try {
      // Refused as soon as the limit is passed: never read whole first.
      body = await readBody(raw).catch((err) => {
        throw err instanceof RequestRefused ? new EventRejected(err.problem.code, err.problem.message, err.problem.details, err.problem.status) : err;
      });
      const { event } = await receiveEvent(new Request(raw.url, { method: 'POST', headers: raw.headers, body }));
      const scan = scanOf(event) ?? pingScanOf(event);
      if (scan === undefined)
        throw new EventRejected(
          'missing_scan',
          `the event has no '${SCAN_EXTENSION}' extension attribute; this server runs several scans: set it to one of ${names}`,
          [{ path: SCAN_EXTENSION, message: `one of ${names}` }],
        );
      target = byName.get(scan);
      if (!target)
        throw new EventRejected('unknown_scan', `no scan '${scan.slice(0, 60)}' here; the ${SCAN_EXTENSION} extension must be one of ${names}`, [
          { path: SCAN_EXTENSION, message: `one of ${names}` },
        ]);
    } catch (err) {
      if (err instanceof EventRejected) return c.json(err.body(), err.status, err.status === 413 ? { Connection: 'close' } : {});
      throw err;
    }
    return target.app.fetch(new Request(raw.url, { method: 'POST', headers: raw.headers, body, signal: raw.signal }));
  });
  app.all('/', (c) =>
    c.json(errorBody(405, { code: 'method_not_allowed', message: `${c.req.method} is not allowed on /; ${hint}` }), 405, { Allow: 'GET, POST' }),
  );
  for (const s of scans) {
    // Each function's own routes (its scan path and its 405s); its /healthz and / are shadowed by ours.
    app.route('/', s.app);
  }
  app.notFound((c) => c.json(notFoundBody(c.req.method, c.req.path, hint), 404));
  app.onError((err, c) => {
    console.error('stack-scan: unhandled error:', err);
    return c.json(errorBody(500, { code: 'internal', message: err.message }), 500);
  });
  return app;
}

/** Where the HTTP server listens (each function's main.ts and `npm start`). */
export const SERVER_SETTINGS = settingsSchema({
  PORT: setting.int({ default: 8080, min: 0, max: 65535, description: 'the TCP port the HTTP server listens on (0: any free port)', example: '9090' }),
  HOST: setting.text({ default: '0.0.0.0', description: 'the address the HTTP server listens on', example: '127.0.0.1' }),
});

/** Listen address from PORT and HOST: a bad value exits with one line, not a stack trace. */
export function listenSettings(env: NodeJS.ProcessEnv = process.env): { port: number; hostname: string } {
  const s = parseSettings(SERVER_SETTINGS, env);
  return { port: s.PORT, hostname: s.HOST };
}

/**
 * Serve an app on PORT/HOST. `GET /healthz` is answered by the HTTP server itself: Knative's
 * probes (and the cold-start clock) never wait for the request adapter, fetch's Request and
 * Response (undici) or anything a scan loads; every other request goes to the app through
 * @hono/node-server's listener, imported on the first one.
 */
export function serveApp(app: Hono, label: string) {
  // A worker thread loading the bundle (lib/topology/files.ts parses large files on one) serves nothing.
  if (!isMainThread) return undefined;
  let listen;
  try {
    listen = listenSettings();
  } catch (e) {
    console.error(`stack-scan: ${(e as Error).message}`);
    process.exit(2);
  }
  const health = JSON.stringify({ status: 'ok', serves: label });
  let listener: Promise<(req: IncomingMessage, res: ServerResponse) => unknown> | undefined;
  const server = createServer((req, res) => {
    if (req.method === 'GET' && (req.url === '/healthz' || req.url?.startsWith('/healthz?'))) {
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(health) });
      res.end(health);
      return;
    }
    listener ??= import('@hono/node-server').then((m) => m.getRequestListener(app.fetch));
    listener.then(
      (l) => l(req, res),
      (err: Error) => {
        console.error('stack-scan: cannot load the HTTP adapter:', err);
        res.writeHead(500, { 'content-type': 'application/json' });
        res.end(JSON.stringify(errorBody(500, { code: 'internal', message: 'the HTTP adapter could not be loaded' })));
      },
    );
  });
  server.on('error', (e: NodeJS.ErrnoException) => {
    console.error(`stack-scan: cannot listen on ${listen.hostname}:${listen.port} (HOST, PORT): ${e.code ?? ''} ${e.message}`);
    process.exit(2);
  });
  server.listen(listen.port, listen.hostname, () => {
    const port = (server.address() as AddressInfo).port;
    console.log(`stack-scan: ${label} on ${listen.hostname}:${port}`);
  });
  const shutdown = () => {
    server.close(() => process.exit(0));
    server.closeIdleConnections();
  };
  process.once('SIGTERM', shutdown);
  process.once('SIGINT', shutdown);
  return server;
}

/** A definition with its app, for combinedApp (the demo and tests build definitions with explicit settings). */
export function mount(definition: ScanDefinition<string>): MountedScan {
  return { definition, app: scanApp(definition) };
}
