/**
 * Explicit host mapping shared by the scans that reach services themselves (nuclei,
 * and the network scan's local runner): cluster names such as
 * `redis.redis.svc.cluster.local` or route hosts such as `flowise.example.com` cannot
 * be resolved from outside the cluster, and we never guess them.
 *
 *   SCAN_HOST_MAP  JSON object; a key is a host name (`"grafana.grafana.svc.cluster.local"`,
 *                  every port) or `host:port` (that port only, wins over the bare name);
 *                  a value is an IP literal (`"127.0.0.1"`, `"::1"`) keeping the port, or
 *                  `ip:port` / `[ipv6]:port` replacing it. Never a name.
 *   SCAN_DNS       `system` (default): names not in the map are resolved with the
 *                  nameservers of /etc/resolv.conf (in a pod: the cluster DNS);
 *                  `off`: no DNS query at all — only mapped names and IP literals are
 *                  scanned, any other target is reported as not resolvable.
 *
 * Keys and values are kept in Maps (a host called `constructor` works).
 */
import { isIP } from 'node:net';
import { invalidSetting, parseSettings, pickSettings, setting, settingsSchema } from './settings.ts';

export const HOST_MAP_SETTING = 'SCAN_HOST_MAP' as const;
export const DNS_SETTING = 'SCAN_DNS' as const;

export interface MappedAddress {
  /** An IP literal (IPv6 without brackets). */
  ip: string;
  /** Replaces the target's port when set. */
  port?: number;
}

export interface HostMap {
  /** Lower-cased `host:port` keys. */
  byHostPort: Map<string, MappedAddress>;
  /** Lower-cased host keys. */
  byHost: Map<string, MappedAddress>;
  /** The setting it was read from (for messages). */
  setting: string;
}

export type DnsMode = 'system' | 'off';

export type Resolution =
  | { kind: 'address'; host: string; port: number; via: 'map' | 'literal' }
  /** A name left to the resolver (SCAN_DNS=system). */
  | { kind: 'name'; host: string; port: number }
  | { kind: 'unresolved'; reason: string };

/**
 * A host in a numeric notation other than the two literals we accept (dotted-quad IPv4, IPv6):
 * `0x7f000001`, `2130706433`, `0177.0.0.1`, `127.1`, `1.0x7f000001`, `1.2.3.4.`. Resolvers
 * (inet_aton, getaddrinfo) and nmap read these as IPv4 addresses, so a "name" of this shape is
 * an address in disguise. The rule is the URL standard's: a host whose last label is a number
 * (decimal digits, or 0x and hex digits) is an IPv4 address, and only the dotted quad is
 * accepted as one.
 */
export function isNumericHostForm(host: string): boolean {
  const h = host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
  if (isIP(h)) return false;
  const labels = h.split('.');
  if (labels.length > 1 && labels[labels.length - 1] === '') labels.pop();
  const last = labels[labels.length - 1] ?? '';
  return /^(?:0x[0-9a-f]*|[0-9]+)$/i.test(last) || /^[0-9.]+$/.test(h);
}

/** Host names as they appear in metadata: letters, digits, `-`, `_` (real Stacktic domains use it), dots; never a leading `-`. */
const HOST_NAME = /^(?=.{1,253}$)[a-z0-9_](?:[a-z0-9_-]{0,62})(?:\.[a-z0-9_](?:[a-z0-9_-]{0,62}))*\.?$/i;

/**
 * A DNS name: never an address in another notation (`0x7f000001`, `2130706433`, `127.1`, a name
 * of digits and dots), which resolvers read as IPv4; only dotted-quad IPv4 and IPv6 literals
 * are addresses (isIP).
 */
export function isHostName(s: string): boolean {
  return isHostLabels(s) && !isNumericHostForm(s);
}

/** Letters, digits, `-`, `_` in dot-separated labels (e.g. one label of a longer name: `123` is a valid namespace). */
export function isHostLabels(s: string): boolean {
  return HOST_NAME.test(s) && !s.split('.').some((l) => l.endsWith('-'));
}

/** `host:port` with IPv6 in brackets. */
export function hostPort(host: string, port: number): string {
  return isIP(host) === 6 ? `[${host}]:${port}` : `${host}:${port}`;
}

export function emptyHostMap(setting: string = HOST_MAP_SETTING): HostMap {
  return { byHostPort: new Map(), byHost: new Map(), setting };
}

function parsePort(s: string): number | undefined {
  if (!/^\d{1,5}$/.test(s)) return undefined;
  const n = Number(s);
  return n >= 1 && n <= 65535 ? n : undefined;
}

/** `1.2.3.4`, `::1`, `1.2.3.4:80`, `[::1]:80` → address; anything else undefined. */
function parseAddress(s: string): MappedAddress | undefined {
  if (isIP(s)) return { ip: s };
  const v6 = /^\[([^\]]+)\]:(\d+)$/.exec(s);
  if (v6) {
    const port = parsePort(v6[2]);
    return isIP(v6[1]) === 6 && port ? { ip: v6[1], port } : undefined;
  }
  const i = s.lastIndexOf(':');
  if (i <= 0) return undefined;
  const ip = s.slice(0, i);
  const port = parsePort(s.slice(i + 1));
  return isIP(ip) === 4 && port ? { ip, port } : undefined;
}

/** Parse the JSON mapping; a bad value is a 422 naming the setting (and the bad key, never the whole text). */
export function parseHostMap(raw: string | undefined, setting: string = HOST_MAP_SETTING): HostMap {
  const map = emptyHostMap(setting);
  if (raw === undefined || raw.trim() === '') return map;
  const want = HOST_MAP_WANT;
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch (err) {
    throw invalidSetting(setting, `${want} (${(err as Error).message})`, '…');
  }
  if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed))
    throw invalidSetting(setting, want, typeof parsed === 'object' ? (Array.isArray(parsed) ? 'an array' : 'null') : typeof parsed);
  for (const [key, value] of Object.entries(parsed as Record<string, unknown>)) {
    const k = key.trim().toLowerCase();
    let host = k;
    let port: number | undefined;
    const m = /^(.*):(\d+)$/.exec(k);
    if (m && !isIP(k)) {
      host = m[1].replace(/^\[(.*)\]$/, '$1');
      port = parsePort(m[2]);
      if (!port) throw invalidSetting(setting, `${want}; key '${key}' has an invalid port`, '…');
    }
    if (!isIP(host) && isNumericHostForm(host))
      throw invalidSetting(setting, `${want}; key '${key}' is an address in a numeric notation other than a dotted-quad IPv4 or IPv6 literal`, '…');
    if (!isHostName(host) && !isIP(host)) throw invalidSetting(setting, `${want}; key '${key}' is not a host name`, '…');
    if (typeof value !== 'string') throw invalidSetting(setting, `${want}; the value of '${key}' is not a string`, '…');
    const addr = parseAddress(value.trim());
    if (!addr) throw invalidSetting(setting, `${want}; the value of '${key}' is not an IP address (names are never resolved from this setting)`, '…');
    if (port) map.byHostPort.set(`${host}:${port}`, addr);
    else map.byHost.set(host, addr);
  }
  return map;
}

const HOST_MAP_WANT = 'a JSON object mapping host names (or host:port) to IP addresses (or ip:port), e.g. {"redis.redis.svc.cluster.local":"127.0.0.1"}';

/** Read by the scans that reach services themselves (nuclei; the network scan's local runner). */
export const HOST_SETTINGS = settingsSchema({
  [HOST_MAP_SETTING]: setting.custom({
    description:
      'explicit host mapping: a key is a host name (every port) or host:port (that port only); a value is an IP ' +
      'literal (keeps the port) or ip:port / [ipv6]:port. Never a name: nothing is resolved from this setting',
    want: HOST_MAP_WANT,
    defaultText: 'unset: no mapping',
    example: '{"grafana.grafana.svc.cluster.local":"127.0.0.1:3000"}',
    parse: (raw) => parseHostMap(raw, HOST_MAP_SETTING),
  }),
  [DNS_SETTING]: setting.choice(['system', 'off'], {
    default: 'system',
    want: "'system' (resolve names with /etc/resolv.conf's nameservers) or 'off' (no DNS query; only SCAN_HOST_MAP names and IP literals)",
    description:
      '`system`: names not in SCAN_HOST_MAP are resolved with the nameservers of /etc/resolv.conf (in a pod: the ' +
      'cluster DNS); `off`: no DNS query at all, any other target is reported as not resolvable',
    example: 'off',
  }),
});

/**
 * The host map from SCAN_HOST_MAP; `legacy` names older settings with the same
 * meaning (e.g. NETWORK_PROBE_LOCAL_HOSTS, declared in that scan's schema), read when SCAN_HOST_MAP is unset.
 */
export function hostMapFromEnv(env: NodeJS.ProcessEnv = process.env, legacy: string[] = []): HostMap {
  const map = parseSettings(pickSettings(HOST_SETTINGS, [HOST_MAP_SETTING]), env)[HOST_MAP_SETTING];
  if (map) return map;
  for (const name of legacy) if (env[name]?.trim()) return parseHostMap(env[name], name);
  return emptyHostMap();
}

export function dnsModeFromEnv(env: NodeJS.ProcessEnv = process.env): DnsMode {
  return parseSettings(pickSettings(HOST_SETTINGS, [DNS_SETTING]), env)[DNS_SETTING];
}

/**
 * Where to send traffic for `host:port`: the mapped address, the IP literal itself,
 * the name (left to the resolver when DNS is allowed), or unresolved with a reason.
 * Pure: sends no query.
 */
export function resolveTarget(map: HostMap, host: string, port: number, dns: DnsMode): Resolution {
  const h = host.toLowerCase().replace(/\.$/, '');
  const bare = h.replace(/^\[(.*)\]$/, '$1');
  const mapped = map.byHostPort.get(`${bare}:${port}`) ?? map.byHost.get(bare);
  if (mapped) return { kind: 'address', host: mapped.ip, port: mapped.port ?? port, via: 'map' };
  if (isIP(bare)) return { kind: 'address', host: bare, port, via: 'literal' };
  if (isNumericHostForm(bare))
    return { kind: 'unresolved', reason: `'${host}' is an address in a numeric notation other than dotted-quad IPv4 or IPv6: write the address as a.b.c.d` };
  if (!isHostName(bare)) return { kind: 'unresolved', reason: `'${host}' is not a valid host name` };
  if (dns === 'off')
    return {
      kind: 'unresolved',
      reason: `${bare} is not in ${map.setting} and ${DNS_SETTING}=off: no DNS query is sent; map it to an address in ${map.setting}`,
    };
  return { kind: 'name', host: bare, port };
}
