/**
 * kubeconfig `user.exec` credential plugins (client.authentication.k8s.io v1 / v1beta1: EKS
 * `aws eks get-token`, GKE `gke-gcloud-auth-plugin`, OIDC `kubelogin`, …), run by us rather than
 * by client-node so that a long-running server keeps working:
 *
 *   - the plugin is run on first use, and again once its credential's `expirationTimestamp` has
 *     passed (a credential without one is kept until the API server refuses it);
 *   - after a 401 the caller calls `invalidate()`: the next use runs the plugin again (the raw
 *     client retries the request once with the fresh credential, never in a loop);
 *   - concurrent requests share one run of the plugin.
 *
 * The plugin gets KUBERNETES_EXEC_INFO (`spec.interactive: false`; the cluster when
 * `provideClusterInfo`), the kubeconfig's `env` entries, stdin closed, a 60 s limit and 1 MiB of
 * output. A relative command with a slash is relative to the kubeconfig's directory, as in kubectl.
 * Failures name the kubeconfig and the plugin's command, never the credential.
 */
import { execFile } from 'node:child_process';
import { dirname, isAbsolute, resolve } from 'node:path';

export interface ExecConfig {
  command: string;
  args: string[];
  env: [string, string][];
  apiVersion: string;
  provideClusterInfo: boolean;
}

export interface ExecCredential {
  token?: string;
  cert?: Buffer;
  key?: Buffer;
  /** ms since the epoch; undefined: no expiry given. */
  expiresAt?: number;
}

/** The clock credentials expire by (tests move it to show a 60 s lifetime without waiting 60 s). */
export const credentialClock = { now: () => Date.now() };

const RUN_TIMEOUT_MS = 60_000;
const MAX_OUTPUT = 1024 * 1024;

type Obj = Record<string, unknown>;
const isObj = (x: unknown): x is Obj => !!x && typeof x === 'object' && !Array.isArray(x);

export class ExecConfigError extends Error {}

/** The exec section of a kubeconfig user, validated; throws ExecConfigError naming the field. */
export function readExecConfig(exec: unknown, kubeconfigPath: string): ExecConfig {
  if (!isObj(exec)) throw new ExecConfigError('user.exec must be a mapping');
  const command = exec.command;
  if (typeof command !== 'string' || !command.trim()) throw new ExecConfigError('user.exec.command must be a non-empty string');
  const args = exec.args ?? [];
  if (!Array.isArray(args) || args.some((a) => typeof a !== 'string')) throw new ExecConfigError('user.exec.args must be a list of strings');
  const envList = exec.env ?? [];
  if (!Array.isArray(envList) || envList.some((e) => !isObj(e) || typeof e.name !== 'string' || typeof e.value !== 'string'))
    throw new ExecConfigError('user.exec.env must be a list of {name, value} strings');
  const apiVersion = typeof exec.apiVersion === 'string' ? exec.apiVersion : 'client.authentication.k8s.io/v1';
  if (!/^client\.authentication\.k8s\.io\/(v1|v1beta1)$/.test(apiVersion))
    throw new ExecConfigError(`user.exec.apiVersion must be client.authentication.k8s.io/v1 or v1beta1`);
  const cmd = command.includes('/') && !isAbsolute(command) ? resolve(dirname(kubeconfigPath), command) : command;
  return {
    command: cmd,
    args: args as string[],
    env: (envList as Obj[]).map((e) => [e.name as string, e.value as string]),
    apiVersion,
    provideClusterInfo: exec.provideClusterInfo === true,
  };
}

function run(cfg: ExecConfig, cluster: Obj | undefined): Promise<string> {
  const info = { apiVersion: cfg.apiVersion, kind: 'ExecCredential', spec: { interactive: false, ...(cfg.provideClusterInfo && cluster ? { cluster } : {}) } };
  const env = { ...process.env, ...Object.fromEntries(cfg.env), KUBERNETES_EXEC_INFO: JSON.stringify(info) };
  return new Promise((resolvePromise, reject) => {
    const child = execFile(
      cfg.command,
      cfg.args,
      { env, timeout: RUN_TIMEOUT_MS, maxBuffer: MAX_OUTPUT, encoding: 'utf8', killSignal: 'SIGKILL' },
      (err, stdout, stderr) => {
        if (err) {
          const e = err as NodeJS.ErrnoException & { killed?: boolean; code?: string | number };
          const why =
            e.code === 'ENOENT'
              ? 'was not found (install it or fix user.exec.command)'
              : e.killed
                ? `did not finish within ${RUN_TIMEOUT_MS / 1000} s`
                : `failed (exit ${e.code ?? '?'}${stderr ? `: ${String(stderr).trim().split('\n').slice(-1)[0].slice(0, 200)}` : ''})`;
          return reject(new ExecConfigError(`the credential plugin '${cfg.command}' ${why}`));
        }
        resolvePromise(stdout);
      },
    );
    child.stdin?.end();
  });
}

/** Parse the plugin's ExecCredential; throws ExecConfigError naming what is missing. */
export function parseExecCredential(stdout: string, cfg: Pick<ExecConfig, 'command'>): ExecCredential {
  let doc: unknown;
  try {
    doc = JSON.parse(stdout);
  } catch {
    throw new ExecConfigError(`the credential plugin '${cfg.command}' did not print an ExecCredential (JSON)`);
  }
  const status = isObj(doc) ? doc.status : undefined;
  if (!isObj(doc) || doc.kind !== 'ExecCredential' || !isObj(status))
    throw new ExecConfigError(`the credential plugin '${cfg.command}' printed no ExecCredential with a status`);
  const token = typeof status.token === 'string' && status.token ? status.token : undefined;
  const certData = typeof status.clientCertificateData === 'string' ? status.clientCertificateData : undefined;
  const keyData = typeof status.clientKeyData === 'string' ? status.clientKeyData : undefined;
  if (!token && !(certData && keyData))
    throw new ExecConfigError(`the credential plugin '${cfg.command}' returned neither status.token nor status.clientCertificateData and clientKeyData`);
  let expiresAt: number | undefined;
  if (status.expirationTimestamp !== undefined) {
    expiresAt = typeof status.expirationTimestamp === 'string' ? Date.parse(status.expirationTimestamp) : NaN;
    if (!Number.isFinite(expiresAt))
      throw new ExecConfigError(`the credential plugin '${cfg.command}' returned an expirationTimestamp that is not an RFC 3339 time`);
  }
  return { token, ...(certData && keyData ? { cert: Buffer.from(certData), key: Buffer.from(keyData) } : {}), expiresAt };
}

/** One user's plugin with its cached credential. */
export class ExecCredentialSource {
  private current?: ExecCredential;
  private pending?: Promise<ExecCredential>;
  /** How many times the plugin ran (reports and tests). */
  runs = 0;

  constructor(
    private readonly cfg: ExecConfig,
    private readonly cluster?: Obj,
  ) {}

  /** The credential, running the plugin when there is none or it has expired. */
  async get(): Promise<ExecCredential> {
    const c = this.current;
    if (c && (c.expiresAt === undefined || credentialClock.now() < c.expiresAt)) return c;
    this.pending ??= (async () => {
      try {
        this.runs++;
        const cred = parseExecCredential(await run(this.cfg, this.cluster), this.cfg);
        this.current = cred;
        return cred;
      } finally {
        this.pending = undefined;
      }
    })();
    return this.pending;
  }

  /** The API server refused the credential (401): the next get() runs the plugin again. */
  invalidate(used?: ExecCredential): void {
    if (!used || used === this.current) this.current = undefined;
  }
}
