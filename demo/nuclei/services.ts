/**
 * Real local services with planted weaknesses for the nuclei scan's demo, bench and
 * integration tests, all on loopback (127.0.0.1, random ports):
 *   - portal  : HTTP with an admin console at /admin, a /.git/config and a /.env that
 *               leak a credential, and a login accepting admin/admin
 *   - docs    : a clean HTTP site (nothing to find)
 *   - shop    : HTTPS with an expired self-signed certificate (openssl), TLS 1.0/1.1 enabled
 *   - legacy  : a closed port, 127.0.0.1:1 (unreachable)
 *   - redis   : Debian's redis-server without a password
 *   - sessions: redis-server with a password (clean)
 * `hostMap` maps the demo stack's names (demo/nuclei/stack-metadata.yaml) to them, in
 * SCAN_HOST_MAP's format. Everything is stopped by `stop()`. The certificate and each redis's
 * pidfile live in a `stack-scan-nuclei-demo-*` directory under the OS temp dir (with an `owner`
 * file: pid and start time of the process that made it), removed on stop. A killed run's redis
 * servers die with it (parent-death signal, through util-linux's setpriv where it is installed);
 * whatever a killed run left is swept by the next start (sweepDemoServices).
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { connect, createServer as createNetServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isRunning, ownerAlive, ownerId, readFileSafe } from '../../harness/proc.ts';

export const DEMO_DIR = import.meta.dirname;
export const DEMO_METADATA = join(DEMO_DIR, 'stack-metadata.yaml');
export const DEMO_APISIX = join(DEMO_DIR, 'apisix-route.yaml');
/** stack-scan's own templates in nuclei's format (the community templates are not available offline). */
export const FIXTURE_TEMPLATES = join(DEMO_DIR, '../../test/fixtures/nuclei/templates');
/** The demo metadata's secret that the portal's .git/config leaks: a report must never show it. */
export const LEAKED_SECRET = 'Portal-Demo-Pass-42';
const HOST = '127.0.0.1';

export async function freePort(host = HOST): Promise<number> {
  const srv = createNetServer();
  await new Promise<void>((res, rej) => srv.once('error', rej).listen(0, host, () => res()));
  const port = (srv.address() as { port: number }).port;
  await new Promise<void>((res) => srv.close(() => res()));
  return port;
}

function listen(srv: Server, host = HOST): Promise<number> {
  return new Promise((res, rej) => srv.once('error', rej).listen(0, host, () => res((srv.address() as { port: number }).port)));
}

function readBody(req: IncomingMessage, max = 4096): Promise<string> {
  return new Promise((res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (c: string) => {
      if (body.length < max) body += c;
    });
    req.on('end', () => res(body));
    req.on('error', () => res(body));
  });
}

const send = (res: ServerResponse, status: number, body: string, type = 'text/html; charset=utf-8') => {
  res.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(body) });
  res.end(body);
};

/** The planted weaknesses. */
export function plantedHandler() {
  return async (req: IncomingMessage, res: ServerResponse) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method === 'GET' && path === '/admin')
      return send(res, 200, '<html><head><title>Admin Console</title></head><body>Admin Console v2.3.1 — users, settings, backups</body></html>');
    if (req.method === 'GET' && path === '/.git/config')
      return send(
        res,
        200,
        `[core]\n\trepositoryformatversion = 0\n\tfilemode = true\n\tbare = false\n[remote "origin"]\n\turl = https://deploy:` +
          `${LEAKED_SECRET}@git.nuclei-demo.test/portal.git\n\tfetch = +refs/heads/*:refs/remotes/origin/*\n`,
        'text/plain',
      );
    if (req.method === 'GET' && path === '/.env')
      return send(res, 200, `APP_NAME=Portal\nAPP_ENV=production\nDB_HOST=portal-db\nDB_PASSWORD=${LEAKED_SECRET}\n`, 'text/plain');
    if (req.method === 'POST' && path === '/login') {
      const form = new URLSearchParams(await readBody(req));
      if (form.get('username') === 'admin' && form.get('password') === 'admin') return send(res, 200, '<html><body>Welcome, admin</body></html>');
      return send(res, 401, '<html><body>Invalid credentials</body></html>');
    }
    if (req.method === 'GET' && path === '/') return send(res, 200, '<html><head><title>Portal</title></head><body>Portal</body></html>');
    return send(res, 404, 'not found', 'text/plain');
  };
}

/** Nothing to find: a home page and 404s. */
export function cleanHandler(name = 'Docs') {
  return (req: IncomingMessage, res: ServerResponse) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method === 'GET' && path === '/') return send(res, 200, `<html><head><title>${name}</title></head><body>${name}</body></html>`);
    return send(res, 404, 'not found', 'text/plain');
  };
}

export async function startHttp(
  handler: (req: IncomingMessage, res: ServerResponse) => void | Promise<void>,
): Promise<{ port: number; stop: () => Promise<void> }> {
  const srv = createHttpServer((req, res) => void handler(req, res));
  srv.keepAliveTimeout = 1000;
  const port = await listen(srv);
  return {
    port,
    stop: () =>
      new Promise((r) => {
        srv.closeAllConnections();
        srv.close(() => r());
      }),
  };
}

/** HTTPS with an expired self-signed certificate (made by openssl), TLS 1.0 and 1.1 accepted. */
export async function startWeakTls(): Promise<{ port: number; dir: string; stop: () => Promise<void> }> {
  const dir = stateDir();
  const key = join(dir, 'key.pem');
  const cert = join(dir, 'cert.pem');
  const csr = join(dir, 'cert.csr');
  try {
    execFileSync('openssl', ['req', '-new', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-subj', '/CN=shop.nuclei-demo.test', '-out', csr], {
      stdio: 'pipe',
    });
    // -days -1: notAfter is a day in the past, i.e. the certificate has expired.
    execFileSync('openssl', ['x509', '-req', '-in', csr, '-signkey', key, '-days', '-1', '-sha256', '-out', cert], { stdio: 'pipe' });
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw new Error(`openssl could not make the demo certificate (install it: bash harness/install-system-deps.sh): ${(err as Error).message.split('\n')[0]}`);
  }
  // OpenSSL 3 refuses TLS 1.0/1.1 at the default security level: level 0 re-enables them.
  const srv = createHttpsServer(
    { key: readFileSync(key), cert: readFileSync(cert), minVersion: 'TLSv1', ciphers: 'DEFAULT:@SECLEVEL=0' },
    cleanHandler('Shop'),
  );
  srv.keepAliveTimeout = 1000;
  const port = await listen(srv as unknown as Server);
  return {
    port,
    dir,
    stop: () =>
      new Promise((r) => {
        srv.closeAllConnections();
        srv.close(() => {
          rmSync(dir, { recursive: true, force: true });
          r();
        });
      }),
  };
}

function waitForPort(port: number, deadlineMs: number): Promise<void> {
  const until = Date.now() + deadlineMs;
  return new Promise((resolve, reject) => {
    const attempt = () => {
      const s = connect(port, HOST);
      s.once('connect', () => {
        s.destroy();
        resolve();
      });
      s.once('error', () => {
        s.destroy();
        if (Date.now() > until) reject(new Error(`nothing listens on ${HOST}:${port} after ${deadlineMs} ms`));
        else setTimeout(attempt, 50);
      });
    };
    attempt();
  });
}

const STATE_PREFIX = 'stack-scan-nuclei-demo-';

/** A new state directory under the OS temp dir, with its owner (this process). */
function stateDir(): string {
  const dir = mkdtempSync(join(tmpdir(), STATE_PREFIX));
  writeFileSync(join(dir, 'owner'), ownerId());
  return dir;
}

/**
 * What killed runs left: every `stack-scan-nuclei-demo-*` directory whose owner is gone (or, made
 * before owners were written, older than a day) is removed, after killing each redis-server its
 * pidfiles name whose working directory is still that directory (a recycled pid is never killed;
 * redis rewrites its command line, so that is what names its run).
 * Returns what it swept, one line each.
 */
export function sweepDemoServices(root = tmpdir()): string[] {
  const swept: string[] = [];
  let names: string[];
  try {
    names = readdirSync(root).filter((n) => n.startsWith(STATE_PREFIX));
  } catch {
    return swept;
  }
  for (const name of names.slice(0, 1000)) {
    const dir = join(root, name);
    try {
      const owner = readFileSafe(join(dir, 'owner')).trim();
      if (owner ? ownerAlive(owner) : Date.now() - statSync(dir).mtimeMs < 86_400_000) continue;
      for (const f of readdirSync(dir).filter((n) => n.endsWith('.pid'))) {
        const pid = Number(readFileSafe(join(dir, f)).trim());
        if (Number.isInteger(pid) && pid > 1 && isRunning(pid) && cwdOf(pid) === dir) {
          process.kill(pid, 'SIGKILL');
          swept.push(`redis-server (pid ${pid}) of ${dir}`);
        }
      }
      rmSync(dir, { recursive: true, force: true });
      swept.push(dir);
    } catch {
      /* another run's, or gone meanwhile */
    }
  }
  return swept;
}

function cwdOf(pid: number): string | undefined {
  try {
    return readlinkSync(`/proc/${pid}/cwd`);
  } catch {
    return undefined;
  }
}

const SETPRIV = ['/usr/bin/setpriv', '/bin/setpriv'].find((p) => existsSync(p));

export function redisServerPath(): string | undefined {
  for (const p of ['/usr/bin/redis-server', '/usr/local/bin/redis-server']) {
    try {
      execFileSync(p, ['--version'], { stdio: 'ignore' });
      return p;
    } catch {
      /* next */
    }
  }
  return undefined;
}

/**
 * Debian's redis-server on loopback, no persistence; with `password`, AUTH is required. Its state
 * directory (`--dir`, also its working directory) holds its pidfile; it gets SIGKILL when this process dies.
 */
export async function startRedis(password?: string): Promise<{ port: number; stop: () => Promise<void> }> {
  const bin = redisServerPath();
  if (!bin) throw new Error('redis-server is not installed: run bash harness/install-system-deps.sh');
  const port = await freePort();
  const dir = stateDir();
  const args = [
    '--dir',
    dir,
    '--port',
    String(port),
    '--bind',
    HOST,
    '--save',
    '',
    '--appendonly',
    'no',
    '--protected-mode',
    'no',
    '--daemonize',
    'no',
    '--loglevel',
    'warning',
  ];
  if (password) args.push('--requirepass', password);
  const child: ChildProcess = SETPRIV
    ? spawn(SETPRIV, ['--pdeathsig', 'SIGKILL', '--', bin, ...args], { stdio: 'ignore', cwd: dir })
    : spawn(bin, args, { stdio: 'ignore', cwd: dir });
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  if (child.pid) writeFileSync(join(dir, `redis-${port}.pid`), String(child.pid));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    const t = setTimeout(() => child.kill('SIGKILL'), 3000);
    await exited;
    clearTimeout(t);
    rmSync(dir, { recursive: true, force: true });
  };
  await waitForPort(port, 10_000).catch(async (e) => {
    child.kill('SIGKILL');
    await stop();
    throw e;
  });
  return { port, stop };
}

export interface DemoServices {
  /** SCAN_HOST_MAP entries for demo/nuclei/stack-metadata.yaml. */
  hostMap: Record<string, string>;
  ports: Record<'portal' | 'portalInternal' | 'docs' | 'shop' | 'legacy' | 'redis' | 'sessions', number>;
  stop: () => Promise<void>;
}

export async function startDemoServices(): Promise<DemoServices> {
  sweepDemoServices();
  const stops: (() => Promise<void>)[] = [];
  try {
    const portal = await startHttp(plantedHandler());
    stops.push(portal.stop);
    const portalInternal = await startHttp(plantedHandler());
    stops.push(portalInternal.stop);
    const docs = await startHttp(cleanHandler());
    stops.push(docs.stop);
    const shop = await startWeakTls();
    stops.push(shop.stop);
    const redis = await startRedis();
    stops.push(redis.stop);
    const sessions = await startRedis('Sessions-Demo-Secret-7');
    stops.push(sessions.stop);
    // Closed: port 1 is privileged and outside the ephemeral range, so no other process
    // (or a TCP self-connect from an ephemeral port) makes it answer; a freed random port could.
    const legacy = 1;
    const at = (p: number) => `${HOST}:${p}`;
    return {
      hostMap: {
        'admin.nuclei-demo.test:80': at(portal.port),
        'portal.portal.svc.cluster.local:8080': at(portalInternal.port),
        'docs.nuclei-demo.test:80': at(docs.port),
        'docs.docs.svc.cluster.local:8080': at(docs.port),
        'shop.nuclei-demo.test:443': at(shop.port),
        'legacy.nuclei-demo.test:80': at(legacy),
        'redis.redis.svc.cluster.local:6379': at(redis.port),
        'sessions.sessions.svc.cluster.local:6379': at(sessions.port),
      },
      ports: { portal: portal.port, portalInternal: portalInternal.port, docs: docs.port, shop: shop.port, legacy, redis: redis.port, sessions: sessions.port },
      stop: async () => {
        await Promise.all(stops.map((s) => s().catch(() => undefined)));
      },
    };
  } catch (err) {
    await Promise.all(stops.map((s) => s().catch(() => undefined)));
    throw err;
  }
}
