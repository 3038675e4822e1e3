// The light kubeconfig reader (lib/kube/kubeconfig.ts): what it reads itself, and what it leaves to
// client-node (undefined), on kubeconfigs written here in the real format.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import type { RequestOptions } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import yaml from 'js-yaml';
import { readKubeconfig } from '../../lib/kube/kubeconfig.ts';
import { makeKube } from '../../lib/kube/client.ts';

const s = suite('kubeconfig reader');
const dir = mkdtempSync(join(tmpdir(), 'stack-scan-kc-'));
const b64 = (t: string) => Buffer.from(t).toString('base64');

function write(
  name: string,
  user: Record<string, unknown>,
  cluster: Record<string, unknown> = { server: 'https://127.0.0.1:6443', 'certificate-authority-data': b64('CA') },
): string {
  const p = join(dir, name);
  writeFileSync(
    p,
    yaml.dump({
      apiVersion: 'v1',
      kind: 'Config',
      'current-context': 'c',
      contexts: [
        { name: 'other', context: { cluster: 'x', user: 'y' } },
        { name: 'c', context: { cluster: 'k', user: 'u' } },
      ],
      clusters: [{ name: 'k', cluster }],
      users: [{ name: 'u', user }],
    }),
  );
  return p;
}

s('inline client certificate: server, CA, cert and key from the current context', () => {
  const c = readKubeconfig(write('inline.yaml', { 'client-certificate-data': b64('CERT'), 'client-key-data': b64('KEY') }))!;
  assert.is(c.server, 'https://127.0.0.1:6443');
  const o: RequestOptions = {};
  c.apply(o);
  assert.equal([String(o.ca), String(o.cert), String(o.key), o.headers], ['CA', 'CERT', 'KEY', undefined]);
});

s('file paths relative to the kubeconfig, a token file read at each use, insecure', () => {
  writeFileSync(join(dir, 'ca.crt'), 'CAFILE');
  writeFileSync(join(dir, 'token'), 'tok-1\n');
  const c = readKubeconfig(
    write('files.yaml', { tokenFile: 'token' }, { server: 'https://k:6443', 'certificate-authority': 'ca.crt', 'insecure-skip-tls-verify': true }),
  )!;
  const o: RequestOptions = {};
  c.apply(o);
  assert.equal([String(o.ca), o.rejectUnauthorized, (o.headers as Record<string, string>).Authorization], ['CAFILE', false, 'Bearer tok-1']);
  writeFileSync(join(dir, 'token'), 'tok-2\n');
  const o2: RequestOptions = {};
  c.apply(o2);
  assert.is((o2.headers as Record<string, string>).Authorization, 'Bearer tok-2', 'a rotated token is read again');
});

s('exec plugins are read here (run at first use); auth providers and unknown fields are left to client-node', () => {
  const exec = readKubeconfig(write('exec.yaml', { exec: { apiVersion: 'client.authentication.k8s.io/v1beta1', command: 'aws', args: ['eks', 'get-token'] } }));
  assert.ok(exec?.exec, 'an exec source');
  assert.is(exec!.exec!.runs, 0, 'not run before the first request');
  assert.is(readKubeconfig(write('auth.yaml', { 'auth-provider': { name: 'gcp' } })), undefined);
  assert.is(readKubeconfig(write('proxy.yaml', { token: 't' }, { server: 'https://k', 'proxy-url': 'http://p' })), undefined);
});

s('makeKube: the light reader for a simple file; a missing file is a 503 naming KUBECONFIG', async () => {
  const k = await makeKube(write('simple.yaml', { token: 'abc' }));
  assert.is(k.server, 'https://127.0.0.1:6443');
  const o: RequestOptions = {};
  await k.applyTo(o);
  assert.is((o.headers as Record<string, string>).Authorization, 'Bearer abc');
  try {
    await makeKube(join(dir, 'nope.yaml'));
    assert.unreachable('missing file');
  } catch (e) {
    assert.equal([(e as { status: number }).status, (e as { info: { setting: string } }).info.setting], [503, 'KUBECONFIG']);
  }
});

s('makeKube falls back to client-node for an exec plugin (same server, no error at load)', async () => {
  const k = await makeKube(write('exec2.yaml', { exec: { apiVersion: 'client.authentication.k8s.io/v1', command: 'true' } }));
  assert.is(k.server, 'https://127.0.0.1:6443');
});

s.after(() => rmSync(dir, { recursive: true, force: true }));
s.run();
