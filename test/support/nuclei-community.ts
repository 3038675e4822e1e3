/**
 * Real local services for the nuclei scan on the COMMUNITY templates
 * (../shared/nuclei-templates), all on 127.0.0.1, random free ports:
 *   - app       : HTTP exposing /.git/config and /.env (node:http)
 *   - grafana,
 *     storage   : HTTP servers that RECORD every request and answer 404: what a template
 *                 sent to a grafana or a minio route is known exactly
 *   - expired   : `openssl s_server -www`, self-signed certificate expired in the past
 *   - legacyTls : the same certificate, TLS 1.0 only with a weak cipher (AES128-SHA, SECLEVEL 0)
 *   - secure    : a valid chain: a local CA (CA:true) signs a leaf for secure.community.test
 *                 and 127.0.0.1, valid for a year (`-cert_chain` sends the CA too)
 *   - cache     : Debian redis-server without a password
 *   - sessions  : redis-server with a password
 *   - db        : Debian PostgreSQL: a throwaway cluster (initdb, then postgres) run as
 *                 `nobody` (initdb refuses root) in a temp dir, password auth (scram-sha-256) and the
 *                 default superuser password `postgres`
 * `hostMap` maps test/fixtures/nuclei/community/stack-metadata.yaml's names to them.
 *
 * Everything lives in a `stack-scan-nuclei-community-*` temp dir holding an `owner` file and,
 * per process, `<name>.pid` and `<name>.log` (harness/proc.ts spawnLogged); `stop()` kills
 * every process group and removes the dir; a dir whose owner died (a killed test run) is
 * swept, its processes killed, at the next start.
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { killGroup, ownerAlive, ownerId, procCmdline, spawnLogged, stopGroups, waitUntil, type Proc } from '../../harness/proc.ts';
import { freePort, redisServerPath, startHttp, startRedis } from '../../demo/nuclei/services.ts';

const HOST = '127.0.0.1';
export const COMMUNITY_DIR = join(import.meta.dirname, '../fixtures/nuclei/community');
export const COMMUNITY_METADATA = join(COMMUNITY_DIR, 'stack-metadata.yaml');
/** ../shared/nuclei-templates (unmodified community templates), when present. */
export const SHARED_TEMPLATES = join(import.meta.dirname, '../../../shared/nuclei-templates');
export const SESSIONS_SECRET = 'Sessions-Community-Secret-9';
const PREFIX = 'stack-scan-nuclei-community-';

export function postgresBinDir(): string | undefined {
  const base = '/usr/lib/postgresql';
  try {
    for (const v of readdirSync(base).sort().reverse()) if (existsSync(join(base, v, 'bin/initdb'))) return join(base, v, 'bin');
  } catch {
    /* not installed */
  }
  return undefined;
}

/** Why the community suites cannot run here, or [] when they can. */
export function communityMissing(nucleiBin: string): string[] {
  const missing: string[] = [];
  if (!existsSync(join(SHARED_TEMPLATES, 'ssl'))) missing.push(`the community templates (${SHARED_TEMPLATES}: ../shared is absent)`);
  if (!existsSync(nucleiBin)) missing.push(`nuclei (${nucleiBin}): run bash harness/build.sh nuclei`);
  if (!redisServerPath()) missing.push('redis-server: run bash harness/install-system-deps.sh');
  if (!postgresBinDir()) missing.push('PostgreSQL (Debian postgresql): run bash harness/install-system-deps.sh');
  try {
    execFileSync('openssl', ['version'], { stdio: 'ignore' });
  } catch {
    missing.push('openssl: run bash harness/install-system-deps.sh');
  }
  return missing;
}

/** Resolves once something accepts a TCP connection on 127.0.0.1:port (fails when `proc` exits). */
function waitForPort(port: number, ms: number, proc: Proc): Promise<true> {
  const accepts = () =>
    new Promise<true>((resolve, reject) => {
      const sock = connect(port, HOST);
      sock.once('connect', () => {
        sock.destroy();
        resolve(true);
      });
      sock.once('error', (e) => {
        sock.destroy();
        reject(e);
      });
    });
  return waitUntil(`${proc.name} on ${HOST}:${port}`, ms, accepts, [proc]);
}

/** Kill and remove the left-overs of runs whose owner process is gone. */
export function sweepCommunityDirs(base = tmpdir()): number {
  let n = 0;
  for (const name of readdirSync(base)) {
    if (!name.startsWith(PREFIX)) continue;
    const dir = join(base, name);
    let owner = '';
    try {
      owner = readFileSync(join(dir, 'owner'), 'utf8').trim();
    } catch {
      /* half-made */
    }
    if (owner && ownerAlive(owner)) continue;
    for (const f of (() => {
      try {
        return readdirSync(dir).filter((x) => x.endsWith('.pid'));
      } catch {
        return [];
      }
    })()) {
      const pid = Number(readFileSync(join(dir, f), 'utf8').trim());
      // Only a process still running from this dir (a recycled pid is someone else's).
      if (pid && procCmdline(pid)?.includes(dir)) killGroup(pid, 'SIGKILL');
    }
    rmSync(dir, { recursive: true, force: true });
    n++;
  }
  return n;
}

const stopProc = (p: Proc) => stopGroups([p], 3000, 2000);

const ossl = (args: string[]) => execFileSync('openssl', args, { stdio: 'pipe' });

/** Certificates: an expired self-signed one, a CA and a leaf it signed. Paths in `dir`. */
function makeCerts(dir: string): { expiredKey: string; expiredCert: string; caCert: string; leafKey: string; leafCert: string } {
  const p = (n: string) => join(dir, n);
  ossl(['req', '-new', '-newkey', 'rsa:2048', '-nodes', '-keyout', p('expired.key'), '-subj', '/CN=expired.community.test', '-out', p('expired.csr')]);
  writeFileSync(p('expired.ext'), 'subjectAltName=DNS:expired.community.test\n');
  // -days -1: notAfter is in the past.
  ossl([
    'x509',
    '-req',
    '-in',
    p('expired.csr'),
    '-signkey',
    p('expired.key'),
    '-days',
    '-1',
    '-sha256',
    '-extfile',
    p('expired.ext'),
    '-out',
    p('expired.pem'),
  ]);
  ossl([
    'req',
    '-x509',
    '-new',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-keyout',
    p('ca.key'),
    '-subj',
    '/CN=stack-scan community test CA',
    '-days',
    '365',
    '-sha256',
    '-addext',
    'basicConstraints=critical,CA:true',
    '-addext',
    'keyUsage=critical,keyCertSign,cRLSign',
    '-out',
    p('ca.pem'),
  ]);
  ossl(['req', '-new', '-newkey', 'rsa:2048', '-nodes', '-keyout', p('leaf.key'), '-subj', '/CN=secure.community.test', '-out', p('leaf.csr')]);
  writeFileSync(
    p('leaf.ext'),
    'basicConstraints=CA:false\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n' +
      'subjectAltName=DNS:secure.community.test,IP:127.0.0.1\n',
  );
  ossl([
    'x509',
    '-req',
    '-in',
    p('leaf.csr'),
    '-CA',
    p('ca.pem'),
    '-CAkey',
    p('ca.key'),
    '-CAcreateserial',
    '-days',
    '365',
    '-sha256',
    '-extfile',
    p('leaf.ext'),
    '-out',
    p('leaf.pem'),
  ]);
  return { expiredKey: p('expired.key'), expiredCert: p('expired.pem'), caCert: p('ca.pem'), leafKey: p('leaf.key'), leafCert: p('leaf.pem') };
}

async function sServer(dir: string, name: string, args: string[]): Promise<{ port: number; proc: Proc }> {
  const port = await freePort();
  const proc = spawnLogged(dir, name, 'openssl', ['s_server', '-www', '-accept', `${HOST}:${port}`, ...args]);
  await waitForPort(port, 10_000, proc);
  return { port, proc };
}

/** A throwaway PostgreSQL cluster as `nobody`, SCRAM password auth (PostgreSQL's default), superuser postgres/postgres. */
async function startPostgres(dir: string): Promise<{ port: number; proc: Proc }> {
  const bin = postgresBinDir();
  if (!bin) throw new Error('PostgreSQL is not installed: run bash harness/install-system-deps.sh');
  const pg = join(dir, 'pg');
  mkdirSync(pg, { mode: 0o700 });
  const root = process.getuid?.() === 0;
  const asUser = root ? { uid: 65534, gid: 65534 } : {};
  if (asUser.uid !== undefined) chownSync(pg, asUser.uid, asUser.gid!);
  writeFileSync(join(pg, 'pw'), 'postgres\n', { mode: 0o644 });
  if (asUser.uid !== undefined) chownSync(join(pg, 'pw'), asUser.uid, asUser.gid!);
  execFileSync(
    join(bin, 'initdb'),
    ['-D', join(pg, 'data'), '-U', 'postgres', `--pwfile=${join(pg, 'pw')}`, '--auth=scram-sha-256', '-E', 'UTF8', '--no-sync', '--no-instructions'],
    { stdio: 'pipe', cwd: pg, ...asUser },
  );
  const port = await freePort();
  const args = ['-D', join(pg, 'data'), '-k', pg, '-p', String(port), '-c', `listen_addresses=${HOST}`, '-c', 'fsync=off', '-c', 'max_connections=50'];
  // postgres refuses to run as root: setpriv drops to nobody (the pid stays the group leader's).
  const proc = root
    ? spawnLogged(dir, 'postgres', 'setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', join(bin, 'postgres'), ...args])
    : spawnLogged(dir, 'postgres', join(bin, 'postgres'), args);
  await waitForPort(port, 30_000, proc);
  return { port, proc };
}

export interface RecordedRequest {
  method: string;
  path: string;
}

export interface CommunityServices {
  dir: string;
  hostMap: Record<string, string>;
  ports: Record<'app' | 'grafana' | 'storage' | 'expired' | 'legacyTls' | 'secure' | 'cache' | 'sessions' | 'db', number>;
  /** Every request the recording servers received, by component. */
  requests: { grafana: RecordedRequest[]; storage: RecordedRequest[] };
  stop: () => Promise<void>;
}

const send = (res: ServerResponse, status: number, body: string) => {
  res.writeHead(status, { 'content-type': 'text/plain', 'content-length': Buffer.byteLength(body) });
  res.end(body);
};

function exposedHandler(req: IncomingMessage, res: ServerResponse) {
  const path = (req.url ?? '/').split('?')[0];
  if (req.method === 'GET' && path === '/.git/config')
    return send(res, 200, '[core]\n\trepositoryformatversion = 0\n\tbare = false\n[remote "origin"]\n\turl = https://git.community.test/app.git\n');
  if (req.method === 'GET' && path === '/.env') return send(res, 200, 'APP_NAME=App\nAPP_ENV=production\nDB_HOST=db\n');
  return send(res, 404, 'not found');
}

function recorder(into: RecordedRequest[]) {
  return (req: IncomingMessage, res: ServerResponse) => {
    if (into.length < 100_000) into.push({ method: req.method ?? '?', path: req.url ?? '' });
    req.resume();
    req.on('end', () => send(res, 404, 'not found'));
  };
}

export async function startCommunityServices(): Promise<CommunityServices> {
  sweepCommunityDirs();
  const dir = mkdtempSync(join(tmpdir(), PREFIX));
  chmodSync(dir, 0o711); // PostgreSQL runs as nobody in dir/pg: it must traverse dir
  writeFileSync(join(dir, 'owner'), `${ownerId()}\n`);
  const stops: (() => Promise<void>)[] = [];
  const stopAll = async () => {
    await Promise.all(stops.map((s) => s().catch(() => undefined)));
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    const requests = { grafana: [] as RecordedRequest[], storage: [] as RecordedRequest[] };
    const app = await startHttp(exposedHandler);
    stops.push(app.stop);
    const grafana = await startHttp(recorder(requests.grafana));
    stops.push(grafana.stop);
    const storage = await startHttp(recorder(requests.storage));
    stops.push(storage.stop);
    const c = makeCerts(dir);
    const expired = await sServer(dir, 'tls-expired', ['-cert', c.expiredCert, '-key', c.expiredKey]);
    stops.push(() => stopProc(expired.proc));
    const legacyTls = await sServer(dir, 'tls-legacy', ['-cert', c.expiredCert, '-key', c.expiredKey, '-tls1', '-cipher', 'AES128-SHA:@SECLEVEL=0']);
    stops.push(() => stopProc(legacyTls.proc));
    const secure = await sServer(dir, 'tls-secure', ['-cert', c.leafCert, '-key', c.leafKey, '-cert_chain', c.caCert]);
    stops.push(() => stopProc(secure.proc));
    const cache = await startRedis();
    stops.push(cache.stop);
    const sessions = await startRedis(SESSIONS_SECRET);
    stops.push(sessions.stop);
    const db = await startPostgres(dir);
    stops.push(() => stopProc(db.proc));
    const at = (p: number) => `${HOST}:${p}`;
    return {
      dir,
      hostMap: {
        'app.community.test:80': at(app.port),
        'grafana.community.test:80': at(grafana.port),
        'minio.community.test:80': at(storage.port),
        'expired.community.test:443': at(expired.port),
        'legacy-tls.community.test:443': at(legacyTls.port),
        'secure.community.test:443': at(secure.port),
        'cache.cache.svc.cluster.local:6379': at(cache.port),
        'sessions.sessions.svc.cluster.local:6379': at(sessions.port),
        'db.db.svc.cluster.local:5432': at(db.port),
        // full mode also scans the internal Services of the HTTP components
        'app.app.svc.cluster.local:8080': at(app.port),
        'grafana.monitoring.svc.cluster.local:3000': at(grafana.port),
        'storage.minio.svc.cluster.local:9000': at(storage.port),
      },
      ports: {
        app: app.port,
        grafana: grafana.port,
        storage: storage.port,
        expired: expired.port,
        legacyTls: legacyTls.port,
        secure: secure.port,
        cache: cache.port,
        sessions: sessions.port,
        db: db.port,
      },
      requests,
      stop: stopAll,
    };
  } catch (err) {
    await stopAll();
    throw err;
  }
}
