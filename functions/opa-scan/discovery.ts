/**
 * Kinds outside the shared table (lib/k8s/kinds.ts), resolved through API discovery:
 * one request per group/version, cached for the resolver's life (one scan run).
 */
import { kindInfo, type KindInfo } from '../../lib/k8s/kinds.ts';
import type { CallSite, Kube } from '../../lib/kube/client.ts';
import { rawRequest, statusError } from '../../lib/kube/raw.ts';

interface DiscoveryList {
  resources?: { name: string; kind: string; namespaced: boolean }[];
}

/**
 * Resolves kinds to API resources: from the shared table when the group matches,
 * otherwise by discovery of the group/version (one request per group/version, cached).
 */
export class KindResolver {
  private readonly groups = new Map<string, Promise<Map<string, KindInfo>>>();
  constructor(private readonly kube: Kube) {}

  async resolve(group: string, version: string, kind: string): Promise<KindInfo | undefined> {
    const k = kindInfo(kind);
    if (k && k.group === group && k.version === version) return { group, version, kind, plural: k.plural, namespaced: k.namespaced };
    const key = `${group}/${version}`;
    let p = this.groups.get(key);
    if (!p) {
      p = this.discover(group, version);
      this.groups.set(key, p);
    }
    return (await p).get(kind);
  }

  private async discover(group: string, version: string): Promise<Map<string, KindInfo>> {
    const path = group ? `/apis/${group}/${version}` : `/api/${version}`;
    const s: CallSite = { verb: 'get', resource: `discovery ${path}` };
    const res = await rawRequest(this.kube, s, { method: 'GET', path });
    const out = new Map<string, KindInfo>();
    if (res.status === 404) return out;
    if (res.status !== 200) throw statusError(s, res, this.kube.server);
    for (const r of (res.body as DiscoveryList).resources ?? []) {
      if (r.name.includes('/')) continue; // subresources
      out.set(r.kind, { group, version, kind: r.kind, plural: r.name, namespaced: r.namespaced });
    }
    return out;
  }
}
