/**
 * Serving. Each function's `app.ts` exports its Hono app (`export default app`) and its
 * definition; its `main.ts` only calls `serveApp(app)`. `npm start` (functions/server.ts)
 * mounts every function's app in one process, as the APISIX route does in a cluster,
 * and owns `/`, `/healthz` and the JSON 404/405 for paths no function serves.
 */
import { serve } from '@hono/node-server';
import { Hono } from 'hono';
import { errorBody, notFoundBody, scanApp, type ScanDefinition } from './scaffold.ts';

export interface MountedScan {
  definition: ScanDefinition<string>;
  app: Hono;
}

export function combinedApp(scans: MountedScan[]): Hono {
  const app = new Hono();
  const list = () => scans.map(({ definition: d }) => ({ scan: d.name, path: d.path, modes: d.modes, default_mode: d.defaultMode }));
  app.get('/', (c) => c.json({ scans: list() }));
  app.get('/healthz', (c) => c.json({ status: 'ok', scans: scans.map((s) => s.definition.name) }));
  for (const s of scans) {
    // Each function's own routes (its scan path and its 405s); its /healthz is shadowed by ours.
    app.route('/', s.app);
  }
  const hint = `scans: ${scans.map((s) => `GET ${s.definition.path}?mode=${s.definition.defaultMode}`).join(', ')}`;
  app.all('/', (c) => c.json(errorBody(405, { code: 'method_not_allowed', message: `${c.req.method} is not allowed on /; ${hint}` }), 405, { Allow: 'GET' }));
  app.notFound((c) => c.json(notFoundBody(c.req.method, c.req.path, hint), 404));
  app.onError((err, c) => {
    console.error('stack-scan: unhandled error:', err);
    return c.json(errorBody(500, { code: 'internal', message: err.message }), 500);
  });
  return app;
}

/** Listen address from PORT and HOST: a bad value exits with one line, not a stack trace. */
export function listenSettings(env: NodeJS.ProcessEnv = process.env): { port: number; hostname: string } {
  const rawPort = env.PORT?.trim() || '8080';
  const port = Number(rawPort);
  if (!/^\d+$/.test(rawPort) || port < 0 || port > 65535) throw new Error(`PORT must be a whole number from 0 to 65535; got '${env.PORT}'`);
  return { port, hostname: env.HOST?.trim() || '0.0.0.0' };
}

export function serveApp(app: Hono, label: string) {
  let listen;
  try {
    listen = listenSettings();
  } catch (e) {
    console.error(`stack-scan: ${(e as Error).message}`);
    process.exit(2);
  }
  const server = serve({ fetch: app.fetch, port: listen.port, hostname: listen.hostname }, (info) => {
    console.log(`stack-scan: ${label} on ${listen.hostname}:${info.port}`);
  });
  server.on('error', (e: NodeJS.ErrnoException) => {
    console.error(`stack-scan: cannot listen on ${listen.hostname}:${listen.port} (HOST, PORT): ${e.code ?? ''} ${e.message}`);
    process.exit(2);
  });
  const shutdown = () => server.close(() => process.exit(0));
  process.once('SIGTERM', shutdown);
  process.once('SIGINT', shutdown);
  return server;
}

/** A definition with its app, for combinedApp (the demo and tests build definitions with explicit settings). */
export function mount(definition: ScanDefinition<string>): MountedScan {
  return { definition, app: scanApp(definition) };
}
