import type { FileRef } from '../../lib/topology/files.ts';
import { loadYamlDocuments } from '../../lib/topology/load.ts';

export interface ApisixRouteHost {
  host: string;
  /** The upstream Service (`<svc>.<ns>.svc.cluster.local` external node, or a backend). */
  service?: { name: string; namespace?: string; port?: number };
}

export interface ApisixRoutes {
  file: string;
  hosts: ApisixRouteHost[];
  /** Hosts named by an ApisixTls (lower case). */
  tlsHosts: Set<string>;
}

type Doc = Record<string, any>;
const isObj = (x: unknown): x is Doc => !!x && typeof x === 'object' && !Array.isArray(x);
const arr = (x: unknown): unknown[] => (Array.isArray(x) ? x : []);

/** Pure: the route hosts, their upstream Services and the TLS hosts from the parsed documents. */
export function readApisixDocs(docs: unknown[], file: string): ApisixRoutes {
  const upstreams = new Map<string, { name: string; namespace?: string; port?: number }>();
  const tlsHosts = new Set<string>();
  const routes: { host: string; upstream?: string; backend?: { name: string; namespace?: string; port?: number } }[] = [];
  for (const d of docs) {
    if (!isObj(d) || !isObj(d.spec)) continue;
    const ns = typeof d.metadata?.namespace === 'string' ? d.metadata.namespace : undefined;
    if (d.kind === 'ApisixUpstream' && typeof d.metadata?.name === 'string') {
      const node = arr(d.spec.externalNodes).find(isObj);
      if (node && typeof node.name === 'string') {
        const m = /^([a-z0-9-]+)\.([a-z0-9-]+)\.svc(?:\.cluster\.local)?\.?$/i.exec(node.name);
        upstreams.set(
          `${ns ?? ''}/${d.metadata.name}`,
          m ? { name: m[1], namespace: m[2], port: Number(node.port) || undefined } : { name: node.name, port: Number(node.port) || undefined },
        );
      }
    } else if (d.kind === 'ApisixTls') {
      for (const h of arr(d.spec.hosts)) if (typeof h === 'string') tlsHosts.add(h.toLowerCase());
    } else if (d.kind === 'ApisixRoute') {
      for (const rule of arr(d.spec.http)) {
        if (!isObj(rule)) continue;
        const up = arr(rule.upstreams).find(isObj);
        const be = arr(rule.backends).find(isObj);
        for (const h of arr(rule.match?.hosts)) {
          if (typeof h !== 'string') continue;
          routes.push({
            host: h.toLowerCase(),
            ...(up && typeof up.name === 'string' ? { upstream: `${ns ?? ''}/${up.name}` } : {}),
            ...(be && typeof be.serviceName === 'string'
              ? { backend: { name: be.serviceName, namespace: ns, port: Number(be.servicePort) || undefined } }
              : {}),
          });
        }
      }
    }
  }
  const hosts: ApisixRouteHost[] = routes.map((r) => {
    const service = r.backend ?? (r.upstream ? upstreams.get(r.upstream) : undefined);
    return { host: r.host, ...(service ? { service } : {}) };
  });
  return { file, hosts, tlsHosts };
}

export async function loadApisixRoutes(ref: FileRef): Promise<ApisixRoutes> {
  // Bounded (aliases, size, depth) and off the main thread when large: lib/topology/files.ts.
  return readApisixDocs(await loadYamlDocuments(ref), ref.path);
}
