// Issue 19 item 3: a kubeconfig `user.exec` credential plugin against the real kube-apiserver.
// The plugin (a real program, run by our client) mints a real ServiceAccount token through the
// TokenRequest API, bound to a Secret it creates, and reports `expirationTimestamp` N seconds
// ahead. Deleting that Secret revokes the token for real (the API server then answers 401): the
// tests delete it once the credential has expired, so only a refreshed credential can work.
//
// Lifetimes: a 3 s credential in real time; and the 60 s lifetime of the issue with our client's
// credential clock moved forward (credentialClock: the only clock deciding expiry on our side)
// rather than waiting 60 s: the plugin still reports an expirationTimestamp 60 s ahead of the real
// time, and the credential is refused by the API server once "expired" (its Secret deleted).
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import yaml from 'js-yaml';
import { makeKube } from '../../lib/kube/client.ts';
import { listObjects } from '../../lib/kube/api.ts';
import { credentialClock } from '../../lib/kube/exec-credential.ts';
import { ScanError } from '../../lib/errors.ts';
import { scanApp } from '../../lib/scan/scaffold.ts';
import { networkScan } from '../../functions/network-scan/scan.ts';
import { DEMO_METADATA } from '../../demo/stack/generate.ts';
import { testCluster } from '../support/cluster.ts';
import { adminKube, apply, namespace, remove, waitFor } from '../support/k8s.ts';
import https from 'node:https';

/** The status of GET /api with a bearer token. */
function fetchStatus(server: string, caPath: string, token: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const u = new URL(`${server}/api`);
    const r = https.request(
      { hostname: u.hostname, port: u.port, path: u.pathname, ca: readFileSync(caPath), headers: { authorization: `Bearer ${token}` }, agent: false },
      (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      },
    );
    r.on('error', reject);
    r.end();
  });
}

const s = suite('exec credential plugin: refreshed on expiry and once on a 401 (real API server, real TokenRequest)');
const NS = 'exec-cred';
const SA = 'exec-user';
const dir = mkdtempSync(join(tmpdir(), 'stack-scan-exec-'));

/** The plugin: counts its runs, creates Secret exec-cred-<run>, requests a token bound to it, prints an ExecCredential. */
const PLUGIN = `
import https from 'node:https';
import { readFileSync, writeFileSync, existsSync } from 'node:fs';
const e = process.env;
const state = e.PLUGIN_STATE;
const n = (existsSync(state) ? Number(readFileSync(state, 'utf8')) : 0) + 1;
writeFileSync(state, String(n));
if (!JSON.parse(e.KUBERNETES_EXEC_INFO).spec || JSON.parse(e.KUBERNETES_EXEC_INFO).kind !== 'ExecCredential') process.exit(3);
const opts = { ca: readFileSync(e.PLUGIN_CA), cert: readFileSync(e.PLUGIN_CERT), key: readFileSync(e.PLUGIN_KEY) };
const call = (method, path, body) => new Promise((resolve, reject) => {
  const u = new URL(e.PLUGIN_SERVER + path);
  const r = https.request({ ...opts, method, hostname: u.hostname, port: u.port, path: u.pathname, headers: { 'content-type': 'application/json' } }, (res) => {
    let t = '';
    res.on('data', (d) => (t += d));
    res.on('end', () => (res.statusCode < 300 ? resolve(JSON.parse(t)) : reject(new Error(res.statusCode + ' ' + t))));
  });
  r.on('error', reject); r.end(JSON.stringify(body));
});
const name = 'exec-cred-' + e.PLUGIN_LABEL + '-' + n;
const secret = await call('POST', '/api/v1/namespaces/${NS}/secrets', { apiVersion: 'v1', kind: 'Secret', metadata: { name }, stringData: { run: String(n) } });
const boundObjectRef = { apiVersion: 'v1', kind: 'Secret', name, uid: secret.metadata.uid };
const tr = await call('POST', '/api/v1/namespaces/${NS}/serviceaccounts/${SA}/token', {
  apiVersion: 'authentication.k8s.io/v1', kind: 'TokenRequest', spec: { expirationSeconds: 600, boundObjectRef },
});
const token = existsSync(state + '.broken') ? 'not-a-token' : tr.status.token;
writeFileSync(state + '.token.' + n, tr.status.token);
const lifetime = Number(e.PLUGIN_LIFETIME_S);
const expirationTimestamp = new Date(Date.now() + lifetime * 1000).toISOString();
process.stdout.write(JSON.stringify({ apiVersion: 'client.authentication.k8s.io/v1beta1', kind: 'ExecCredential', status: { token, expirationTimestamp } }));
`;

let pluginCert: { cert: string; key: string };

/** A kubeconfig whose user is the plugin, with its own run counter. */
function execKubeconfig(label: string, lifetimeS: number): { path: string; runs: () => number; revoke: (run: number) => Promise<void>; state: string } {
  const cp = testCluster();
  const state = join(dir, `${label}.runs`);
  const path = join(dir, `${label}.kubeconfig`);
  const doc = {
    apiVersion: 'v1',
    kind: 'Config',
    'current-context': 'c',
    contexts: [{ name: 'c', context: { cluster: 'k', user: 'u' } }],
    clusters: [{ name: 'k', cluster: { server: cp.server, 'certificate-authority-data': readFileSync(cp.caPath).toString('base64') } }],
    users: [
      {
        name: 'u',
        user: {
          exec: {
            apiVersion: 'client.authentication.k8s.io/v1beta1',
            command: process.execPath,
            args: [join(dir, 'plugin.mjs')],
            env: Object.entries({
              PLUGIN_LABEL: label,
              PLUGIN_STATE: state,
              PLUGIN_CA: cp.caPath,
              PLUGIN_CERT: pluginCert.cert,
              PLUGIN_KEY: pluginCert.key,
              PLUGIN_SERVER: cp.server,
              PLUGIN_LIFETIME_S: String(lifetimeS),
            }).map(([name, value]) => ({ name, value })),
            interactiveMode: 'Never',
          },
        },
      },
    ],
  };
  writeFileSync(path, yaml.dump(doc));
  const runs = () => {
    try {
      return Number(readFileSync(state, 'utf8'));
    } catch {
      return 0;
    }
  };
  // Deleting the Secret a token is bound to makes the API server refuse the token (401), once its
  // authentication cache (10 s for a success) has let go: wait until the server refuses it.
  const revoke = async (run: number) => {
    await remove(adminKube(), { apiVersion: 'v1', kind: 'Secret', metadata: { name: `exec-cred-${label}-${run}`, namespace: NS } });
    const token = readFileSync(`${state}.token.${run}`, 'utf8');
    await waitFor(`the API server to refuse token ${run} of ${label}`, async () => (await fetchStatus(cp.server, cp.caPath, token)) === 401, 20_000, 500);
  };
  return { path, runs, revoke, state };
}

const listNs = async (path: string) => (await listObjects(await makeKube(path), 'Namespace')).map((n) => n.metadata.name);

s.before(async () => {
  const kube = adminKube();
  await apply(kube, namespace(NS));
  await apply(kube, { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: SA, namespace: NS } });
  await apply(kube, {
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'ClusterRoleBinding',
    metadata: { name: 'exec-user-admin' },
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'cluster-admin' },
    subjects: [{ kind: 'ServiceAccount', name: SA, namespace: NS }],
  } as never);
  pluginCert = await testCluster().issueCert('exec-plugin', 'exec-plugin', ['system:masters'], ['clientAuth']);
  writeFileSync(join(dir, 'plugin.mjs'), PLUGIN);
});

s.after(async () => {
  credentialClock.now = () => Date.now();
  await remove(adminKube(), { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRoleBinding', metadata: { name: 'exec-user-admin' } }).catch(
    () => undefined,
  );
  rmSync(dir, { recursive: true, force: true });
});

s('the plugin token works, and a revoked one is refused by the API server (the test is real)', async () => {
  const kc = execKubeconfig('sanity', 600);
  assert.ok((await listNs(kc.path)).includes(NS));
  assert.is(kc.runs(), 1, 'the plugin ran once');
  // Revoked, with the plugin broken: the one re-run after the 401 yields a bad token, so the 401 stands.
  writeFileSync(`${kc.state}.broken`, '');
  await kc.revoke(1);
  try {
    await listNs(kc.path);
    assert.unreachable('a revoked token must be refused');
  } catch (e) {
    assert.instance(e, ScanError);
    assert.is((e as ScanError).status, 401);
  }
  assert.is(kc.runs(), 2, 'after a 401 the plugin runs once more, not in a loop');
  rmSync(`${kc.state}.broken`);
});

s('a credential that expired (3 s lifetime, real time) is replaced: the plugin runs again, requests keep working', async () => {
  const kc = execKubeconfig('short', 3);
  await listNs(kc.path);
  await listNs(kc.path);
  assert.is(kc.runs(), 1, 'cached while valid');
  await new Promise((r) => setTimeout(r, 3300));
  await kc.revoke(1); // the expired credential is now refused by the server too
  assert.ok((await listNs(kc.path)).includes(NS));
  assert.is(kc.runs(), 2, 're-run on expiry (a 401 retry would also have made it 2: see the next test for expiry alone)');
});

s('60 s lifetime: used until expirationTimestamp, then re-run before the request (no 401 needed)', async () => {
  const kc = execKubeconfig('sixty', 60);
  const t0 = Date.now();
  credentialClock.now = () => Date.now();
  await listNs(kc.path);
  assert.is(kc.runs(), 1);
  credentialClock.now = () => Date.now() + 30_000;
  await listNs(kc.path);
  assert.is(kc.runs(), 1, 'still valid at +30 s');
  credentialClock.now = () => Date.now() + 61_000;
  // Not revoked: the old token still works on the server, so a second run proves expiry alone triggered it.
  await listNs(kc.path);
  assert.is(kc.runs(), 2, 'run again once past expirationTimestamp');
  // The second credential expires 60 s after its real minting time: back to the real clock.
  credentialClock.now = () => Date.now();
  await kc.revoke(1);
  await listNs(kc.path);
  assert.is(kc.runs(), 2, 'the new credential is in use (the old one is revoked)');
  credentialClock.now = () => Date.now();
  assert.ok(Date.now() - t0 < 30_000);
});

s('a credential refused before its expiry (401) is renewed once and the request retried', async () => {
  const kc = execKubeconfig('revoked', 60);
  await listNs(kc.path);
  await kc.revoke(1);
  assert.ok((await listNs(kc.path)).includes(NS));
  assert.is(kc.runs(), 2);
});

s('a server keeps working across expiry: two network scans, the credential expired and revoked between them', async () => {
  const kc = execKubeconfig('scan', 3);
  const app = scanApp(networkScan({ topology: { metadata: { path: DEMO_METADATA, setting: 'STACK_METADATA' } }, kubeconfig: kc.path }));
  const first = await (await app.request('/network_scan?mode=light')).json();
  assert.is(first.errors.filter((e: { code: string }) => e.code === 'unauthenticated').length, 0, JSON.stringify(first.errors));
  assert.is(first.sources.cluster, testCluster().server);
  const runsAfterFirst = kc.runs();
  await new Promise((r) => setTimeout(r, 3300));
  await kc.revoke(runsAfterFirst);
  const res = await app.request('/network_scan?mode=light');
  assert.is(res.status, 200);
  const second = await res.json();
  assert.equal(
    second.errors.filter((e: { code: string }) => e.code === 'unauthenticated'),
    [],
  );
  assert.is(kc.runs(), runsAfterFirst + 1);
});

s.run();
