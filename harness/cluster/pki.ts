/**
 * The control plane's PKI, made with the openssl CLI: the cluster CA, leaf certificates (server,
 * client, or both, with SANs), the service-account key pair, and kubeconfigs with inline client
 * certificates.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import yaml from 'js-yaml';

const execFileP = promisify(execFile);

const OPENSSL = existsSync('/usr/bin/openssl') ? '/usr/bin/openssl' : 'openssl';

async function openssl(args: string[], cwd: string): Promise<void> {
  try {
    await execFileP(OPENSSL, args, { cwd });
  } catch (e) {
    const err = e as { stderr?: string; message: string };
    throw new Error(`openssl ${args.join(' ')} failed: ${err.stderr?.trim() || err.message}`);
  }
}

/** "/O=g1/O=g2/CN=user", with the characters -subj treats specially escaped. */
export function subject(cn: string, orgs: string[] = []): string {
  const esc = (s: string) => s.replace(/\\/g, '\\\\').replace(/\//g, '\\/');
  return [...orgs.map((o) => `/O=${esc(o)}`), `/CN=${esc(cn)}`].join('');
}

const MIN_CNF = '[req]\ndistinguished_name = dn\n[dn]\n';

export class Pki {
  constructor(readonly dir: string) {}

  path(name: string): string {
    return join(this.dir, name);
  }

  async init(): Promise<void> {
    await mkdir(this.dir, { recursive: true });
    await writeFile(this.path('req.cnf'), MIN_CNF);
    await writeFile(
      this.path('ca.cnf'),
      `${MIN_CNF}[v3_ca]\nbasicConstraints = critical,CA:TRUE\nkeyUsage = critical,keyCertSign,cRLSign,digitalSignature\nsubjectKeyIdentifier = hash\n`,
    );
  }

  async ecKey(name: string): Promise<void> {
    await openssl(['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', `${name}.key`], this.dir);
  }

  async ca(name: string, cn: string): Promise<void> {
    await this.ecKey(name);
    await openssl(
      ['req', '-x509', '-new', '-key', `${name}.key`, '-subj', `/CN=${cn}`, '-days', '30', '-config', 'ca.cnf', '-extensions', 'v3_ca', '-out', `${name}.crt`],
      this.dir,
    );
  }

  /** A leaf cert signed by `ca`: usage "server" (with SANs), "client", or both. */
  async leaf(name: string, ca: string, subj: string, usage: ('serverAuth' | 'clientAuth')[], sans: string[] = []): Promise<void> {
    await this.ecKey(name);
    await openssl(['req', '-new', '-key', `${name}.key`, '-subj', subj, '-config', 'req.cnf', '-out', `${name}.csr`], this.dir);
    const ext =
      '[ext]\nbasicConstraints = critical,CA:FALSE\nkeyUsage = critical,digitalSignature,keyEncipherment\n' +
      `extendedKeyUsage = ${usage.join(',')}\nsubjectKeyIdentifier = hash\nauthorityKeyIdentifier = keyid\n` +
      (sans.length ? `subjectAltName = ${sans.join(',')}\n` : '');
    await writeFile(this.path(`${name}.ext`), ext);
    await openssl(
      [
        'x509',
        '-req',
        '-in',
        `${name}.csr`,
        '-CA',
        `${ca}.crt`,
        '-CAkey',
        `${ca}.key`,
        '-set_serial',
        `0x${randomBytes(12).toString('hex')}`,
        '-days',
        '30',
        '-extfile',
        `${name}.ext`,
        '-extensions',
        'ext',
        '-out',
        `${name}.crt`,
      ],
      this.dir,
    );
  }

  async rsaKeyPair(name: string): Promise<void> {
    await openssl(['genpkey', '-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048', '-out', `${name}.key`], this.dir);
    await openssl(['pkey', '-in', `${name}.key`, '-pubout', '-out', `${name}.pub`], this.dir);
  }
}

export function kubeconfigYaml(server: string, caPem: string, user: string, certPem: string, keyPem: string): string {
  const b64 = (s: string) => Buffer.from(s).toString('base64');
  return yaml.dump({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'stackscan', cluster: { server, 'certificate-authority-data': b64(caPem) } }],
    users: [{ name: user, user: { 'client-certificate-data': b64(certPem), 'client-key-data': b64(keyPem) } }],
    contexts: [{ name: 'stackscan', context: { cluster: 'stackscan', user, namespace: 'default' } }],
    'current-context': 'stackscan',
    preferences: {},
  });
}
