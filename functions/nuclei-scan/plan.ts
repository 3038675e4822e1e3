/**
 * Target planning (pure): which URLs / host:ports nuclei scans in each mode, taken only
 * from the topology (stack-metadata.yaml, and apisix-route.yaml when present), each
 * carrying the component and namespace it belongs to.
 *
 *   light   — the APISIX routes (externally exposed), HTTP, LIGHT_TAGS
 *   full    — the routes plus every component's internal Service
 *             (`http://<svc>.<ns>.svc.cluster.local:<port>`) that speaks HTTP, with the
 *             light tags plus the per-type tags of tags.ts
 *   network — the TCP ports of database/queue components (tags.ts `speaks: 'tcp'`), TCP
 *   ssl     — the HTTPS routes only, `host:443`, SSL_TAGS
 *
 * Addresses: a name is mapped through SCAN_HOST_MAP (lib/scan/hosts.ts); with SCAN_DNS=off
 * an unmapped name is not scanned and is reported as unresolved. No DNS query is made here.
 */
import type { NucleiProtocol } from './nuclei.ts';
import { isValidNucleiInput } from './nuclei.ts';
import { hostPort, isHostLabels, isHostName, resolveTarget, type DnsMode, type HostMap } from '../../lib/scan/hosts.ts';
import type { Component, Topology } from '../../lib/topology/types.ts';
import type { ApisixRoutes } from './apisix.ts';
import { LIGHT_TAGS, SSL_TAGS, techRow } from './tags.ts';

export type NucleiMode = 'light' | 'full' | 'network' | 'ssl';
export const MODES = ['light', 'full', 'network', 'ssl'] as const;
export const MODE_PROTOCOL: Readonly<Record<NucleiMode, NucleiProtocol>> = { light: 'http', full: 'http', network: 'tcp', ssl: 'ssl' };

export interface Target {
  id: string;
  component: string;
  namespace: string | null;
  type: string;
  kind: 'route' | 'service';
  /** The address as the topology names it (URL for HTTP, host:port otherwise). */
  url: string;
  protocol: NucleiProtocol;
  /** Templates chosen for this target's component type. */
  tags: string[];
  /** What nuclei is given (after SCAN_HOST_MAP); absent when the target cannot be addressed. */
  input?: string;
  /** Why there is no input. */
  unresolved?: string;
  /** e.g. the port is the type's upstream default because the metadata gives none. */
  note?: string;
}

export interface Skipped {
  component: string;
  namespace: string | null;
  reason: string;
}

export interface Plan {
  mode: NucleiMode;
  protocol: NucleiProtocol;
  /** The union of the targets' selector tags (informative: the templates per target are chosen by select.ts). */
  tags: string[];
  targets: Target[];
  skipped: Skipped[];
  /** nuclei input → the targets it stands for (several names may map to one address). */
  inputs: Map<string, string[]>;
}

export interface PlanOptions {
  hostMap: HostMap;
  dns: DnsMode;
  /** Scheme of routes when no apisix-route.yaml says which are TLS. */
  routeScheme: 'https' | 'http';
  apisix?: ApisixRoutes;
}

interface RouteRef {
  host: string;
  component: string;
  namespace: string | null;
  type: string;
  scheme: 'https' | 'http';
}

const uniq = (xs: Iterable<string>) => [...new Set(xs)];

/** Every route host once, from the metadata and apisix-route.yaml, with its scheme. */
export function routeRefs(topo: Topology, opts: Pick<PlanOptions, 'apisix' | 'routeScheme'>): RouteRef[] {
  const byName = new Map(topo.components.map((c) => [c.name, c] as const));
  const out = new Map<string, RouteRef>();
  const scheme = (host: string): 'https' | 'http' => (opts.apisix ? (opts.apisix.tlsHosts.has(host) ? 'https' : 'http') : opts.routeScheme);
  for (const r of topo.routes) {
    const host = r.host.toLowerCase();
    if (!out.has(host))
      out.set(host, { host, component: r.component, namespace: r.namespace, type: byName.get(r.component)?.type ?? 'unknown', scheme: scheme(host) });
  }
  for (const h of opts.apisix?.hosts ?? []) {
    if (out.has(h.host)) continue;
    const svc = h.service;
    const comp = svc ? topo.components.find((c) => c.name === svc.name && (!svc.namespace || c.namespace === svc.namespace)) : undefined;
    out.set(h.host, {
      host: h.host,
      component: comp?.name ?? svc?.name ?? 'unknown',
      namespace: comp?.namespace ?? svc?.namespace ?? null,
      type: comp?.type ?? 'unknown',
      scheme: scheme(h.host),
    });
  }
  return [...out.values()];
}

function urlOf(scheme: string, host: string, port: number): string {
  const hp = hostPort(host, port);
  const std = (scheme === 'https' && port === 443) || (scheme === 'http' && port === 80);
  return `${scheme}://${std ? (hp.startsWith('[') ? hp.slice(0, hp.lastIndexOf(':')) : host) : hp}`;
}

function address(t: Omit<Target, 'input' | 'unresolved'>, host: string, port: number, scheme: string | null, opts: PlanOptions): Target {
  const r = resolveTarget(opts.hostMap, host, port, opts.dns);
  if (r.kind === 'unresolved') return { ...t, unresolved: r.reason };
  const input = scheme ? urlOf(scheme, r.host, r.port) : hostPort(r.host, r.port);
  if (!isValidNucleiInput(input)) return { ...t, unresolved: `'${input}' is not a valid scan target` };
  return { ...t, input };
}

function httpTags(type: string): string[] {
  return uniq([...LIGHT_TAGS, ...(techRow(type)?.http ?? [])]);
}

export function planTargets(topo: Topology, mode: NucleiMode, opts: PlanOptions): Plan {
  const protocol = MODE_PROTOCOL[mode];
  const targets: Target[] = [];
  const skipped: Skipped[] = [];
  const routes = routeRefs(topo, opts);

  const addRoute = (r: RouteRef, tags: string[]) => {
    if (!isHostName(r.host)) {
      skipped.push({ component: r.component, namespace: r.namespace, reason: `route host '${r.host}' is not a valid host name` });
      return;
    }
    const port = r.scheme === 'https' ? 443 : 80;
    const base = { id: `route:${r.host}`, component: r.component, namespace: r.namespace, type: r.type, kind: 'route' as const, protocol, tags };
    if (protocol === 'ssl') targets.push(address({ ...base, url: hostPort(r.host, port) }, r.host, port, null, opts));
    else targets.push(address({ ...base, url: urlOf(r.scheme, r.host, port) }, r.host, port, r.scheme, opts));
  };

  const service = (c: Component): string | undefined => {
    if (!c.namespace) {
      skipped.push({ component: c.name, namespace: null, reason: 'no namespace in the metadata: its Service name is unknown' });
      return undefined;
    }
    if (!isHostLabels(c.name) || !isHostLabels(c.namespace)) {
      skipped.push({ component: c.name, namespace: c.namespace, reason: 'the component or namespace name is not a valid host name label' });
      return undefined;
    }
    return `${c.name}.${c.namespace}.svc.cluster.local`.toLowerCase();
  };

  if (mode === 'light' || mode === 'full' || mode === 'ssl') {
    if (!routes.length) skipped.push({ component: '*', namespace: null, reason: 'the metadata declares no APISIX route (apisix links with a subdomain)' });
    for (const r of routes) {
      if (mode === 'ssl' && r.scheme !== 'https') {
        skipped.push({
          component: r.component,
          namespace: r.namespace,
          reason: `route ${r.host} is served over plain HTTP (no ApisixTls for it in ${opts.apisix?.file ?? 'apisix-route.yaml'})`,
        });
        continue;
      }
      addRoute(r, mode === 'ssl' ? [...SSL_TAGS] : mode === 'light' ? [...LIGHT_TAGS] : httpTags(r.type));
    }
  }

  if (mode === 'full' || mode === 'network') {
    for (const c of topo.components) {
      if (c.type === 'apisix') continue; // the gateway: reached through its routes
      const row = techRow(c.type);
      const speaks = row?.speaks ?? 'http';
      const defaulted = !c.ports.length && row?.defaultPort !== undefined;
      const own = defaulted ? [row!.defaultPort!] : c.ports;
      const ports =
        mode === 'full'
          ? speaks === 'http'
            ? [...own, ...(row?.httpPorts ?? [])]
            : [...(row?.httpPorts ?? [])]
          : speaks === 'tcp'
            ? [...own, ...(row?.networkPorts ?? [])]
            : [];
      if (!ports.length) {
        const why =
          mode === 'network'
            ? speaks === 'http'
              ? `type '${c.type}' is not a database/queue type (functions/nuclei-scan/tags.ts)`
              : 'no port in the metadata'
            : speaks === 'tcp'
              ? `type '${c.type}' speaks TCP, not HTTP: scanned in network mode`
              : 'no port in the metadata';
        skipped.push({ component: c.name, namespace: c.namespace, reason: why });
        continue;
      }
      const host = service(c);
      if (!host) continue;
      const tags = mode === 'full' ? httpTags(c.type) : uniq(row?.network ?? []);
      for (const port of uniq(ports.map(String)).map(Number)) {
        const note = defaulted && port === row!.defaultPort ? `the metadata gives no port: ${c.type}'s upstream default ${port} is used` : undefined;
        const base = {
          id: `service:${c.namespace}/${c.name}:${port}`,
          component: c.name,
          namespace: c.namespace,
          type: c.type,
          kind: 'service' as const,
          protocol,
          tags,
          ...(note ? { note } : {}),
        };
        if (mode === 'full') targets.push(address({ ...base, url: urlOf('http', host, port) }, host, port, 'http', opts));
        else targets.push(address({ ...base, url: hostPort(host, port) }, host, port, null, opts));
      }
    }
  }

  const inputs = new Map<string, string[]>();
  for (const t of targets) {
    if (!t.input) continue;
    const list = inputs.get(t.input) ?? [];
    list.push(t.id);
    inputs.set(t.input, list);
  }
  const tags = uniq(targets.filter((t) => t.input).flatMap((t) => t.tags)).sort();
  return { mode, protocol, tags, targets, skipped, inputs };
}
