/**
 * Serves one or more scan apps with @hono/node-server on PORT (default 8080).
 * Each function's entry point serves its own scan; `npm start` serves every
 * implemented scan in one process, as the APISIX route will, with `GET /`
 * listing them.
 */
import { serve } from '@hono/node-server';
import { Hono } from 'hono';
import { scanApp, type ScanDefinition } from './scaffold.ts';

export function scansApp(defs: ScanDefinition<string>[]): Hono {
  const app = new Hono();
  app.get('/', (c) => c.json({ scans: defs.map((d) => ({ scan: d.name, path: d.path, modes: d.modes, default_mode: d.defaultMode })) }));
  app.get('/healthz', (c) => c.json({ status: 'ok', scans: defs.map((d) => d.name) }));
  for (const def of defs) app.route('/', scanApp(def));
  return app;
}

/** `combined`: serve the index at `/` too (npm start); a function's own entry point serves its scan alone. */
export function serveScans(defs: ScanDefinition<string>[], opts: { combined?: boolean; port?: number } = {}) {
  const port = opts.port ?? Number(process.env.PORT ?? 8080);
  const app = opts.combined ? scansApp(defs) : scanApp(defs[0]);
  const server = serve({ fetch: app.fetch, port, hostname: process.env.HOST ?? '0.0.0.0' }, (info) => {
    console.log(`stack-scan: ${defs.map((d) => d.path).join(', ')} on :${info.port}`);
  });
  const shutdown = () => server.close(() => process.exit(0));
  process.once('SIGTERM', shutdown);
  process.once('SIGINT', shutdown);
  return server;
}
