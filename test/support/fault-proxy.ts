/**
 * A small HTTPS proxy in front of the real API server that injects faults (issue 19 item 5): it
 * terminates TLS with a certificate of the cluster CA (so clients keep verifying the server), and
 * forwards every request it does not answer itself to the real kube-apiserver with a client
 * certificate of its own (system:masters). `fault(req, n)` decides per request (n counts from 1):
 * return a status and headers to answer instead, or undefined to forward.
 */
import https from 'node:https';
import type { IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import yaml from 'js-yaml';
import type { ControlPlane } from './cluster.ts';

export type Fault = { status: number; headers?: Record<string, string>; body?: unknown } | undefined;

export interface FaultProxy {
  server: string;
  kubeconfigPath: string;
  /** Requests seen, and how many were answered by a fault. */
  seen: number;
  faulted: number;
  fault: (req: IncomingMessage, n: number) => Fault;
  close(): Promise<void>;
}

let serial = 0;

export async function startFaultProxy(cp: ControlPlane, fault: FaultProxy['fault']): Promise<FaultProxy> {
  const id = `fault-proxy-${process.pid}-${++serial}`;
  const serving = await cp.issueCert(`${id}-serving`, '127.0.0.1', [], ['serverAuth'], ['IP:127.0.0.1']);
  const client = await cp.issueCert(`${id}-client`, 'fault-proxy', ['system:masters'], ['clientAuth']);
  const ca = readFileSync(cp.caPath);
  const upstream = new URL(cp.server);
  const agent = new https.Agent({ keepAlive: true, ca, cert: readFileSync(client.cert), key: readFileSync(client.key) });
  const proxy: FaultProxy = {
    server: '',
    kubeconfigPath: '',
    seen: 0,
    faulted: 0,
    fault,
    close: () =>
      new Promise<void>((r) => {
        agent.destroy();
        srv.close(() => r());
        srv.closeAllConnections();
      }),
  };
  const srv = https.createServer({ cert: readFileSync(serving.cert), key: readFileSync(serving.key) }, (req, res) => {
    const n = ++proxy.seen;
    const f = proxy.fault(req, n);
    if (f) {
      proxy.faulted++;
      req.resume();
      const body = JSON.stringify(
        f.body ?? {
          kind: 'Status',
          apiVersion: 'v1',
          status: 'Failure',
          message: 'too many requests, please try again later',
          reason: 'TooManyRequests',
          code: f.status,
        },
      );
      res.writeHead(f.status, { 'content-type': 'application/json', ...(f.headers ?? {}) });
      res.end(body);
      return;
    }
    const headers = { ...req.headers };
    delete headers.authorization;
    headers.host = upstream.host;
    const up = https.request({ hostname: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers, agent }, (ur) => {
      res.writeHead(ur.statusCode ?? 502, ur.headers);
      ur.pipe(res);
    });
    up.on('error', () => {
      if (!res.headersSent) res.writeHead(502);
      res.end();
    });
    req.pipe(up);
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
  proxy.server = `https://127.0.0.1:${(srv.address() as AddressInfo).port}`;
  proxy.kubeconfigPath = join(cp.dir, `${id}.kubeconfig`);
  writeFileSync(
    proxy.kubeconfigPath,
    yaml.dump({
      apiVersion: 'v1',
      kind: 'Config',
      'current-context': 'proxy',
      contexts: [{ name: 'proxy', context: { cluster: 'proxy', user: 'anyone' } }],
      clusters: [{ name: 'proxy', cluster: { server: proxy.server, 'certificate-authority-data': ca.toString('base64') } }],
      users: [{ name: 'anyone', user: { token: 'the-proxy-authenticates-upstream' } }],
    }),
  );
  return proxy;
}
