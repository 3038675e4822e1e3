// IP address and CIDR arithmetic for NetworkPolicy ipBlock peers, in BigInt.
//
// IPv4 ("10.0.0.1", four decimal octets, no leading zeros) and IPv6 (full,
// "::"-compressed, and with an embedded dotted IPv4 tail such as
// "::ffff:10.0.0.1"). An IPv4-mapped IPv6 *address* (::ffff:a.b.c.d) is
// treated as the IPv4 address, as Go's net.IP does; CIDRs keep their family.
// Zone suffixes ("%eth0") are rejected.

/** Address family. */
export type IpFamily = 4 | 6;

/** A parsed address: family plus its value as an unsigned integer. */
export interface IpAddress {
  readonly family: IpFamily;
  readonly value: bigint;
}

/** A parsed CIDR: family, prefix length, network address (host bits cleared) and network mask. */
export interface Cidr {
  readonly family: IpFamily;
  readonly prefix: number;
  readonly network: bigint;
  readonly mask: bigint;
}

const BITS: Record<IpFamily, number> = { 4: 32, 6: 128 };
const V4_MAPPED_PREFIX = 0xffffn << 32n;

function parseIpv4Value(text: string): bigint | undefined {
  const parts = text.split('.');
  if (parts.length !== 4) return undefined;
  let value = 0n;
  for (const part of parts) {
    if (!/^(0|[1-9]\d{0,2})$/.test(part)) return undefined;
    const octet = Number(part);
    if (octet > 255) return undefined;
    value = (value << 8n) | BigInt(octet);
  }
  return value;
}

/** Parses colon-separated hex groups (one side of "::"); a dotted IPv4 tail counts as two groups. */
function parseGroups(text: string, allowV4Tail: boolean): bigint[] | undefined {
  if (text === '') return [];
  const parts = text.split(':');
  const groups: bigint[] = [];
  for (const [i, part] of parts.entries()) {
    if (allowV4Tail && i === parts.length - 1 && part.includes('.')) {
      const v4 = parseIpv4Value(part);
      if (v4 === undefined) return undefined;
      groups.push(v4 >> 16n, v4 & 0xffffn);
    } else if (/^[0-9a-fA-F]{1,4}$/.test(part)) {
      groups.push(BigInt(`0x${part}`));
    } else {
      return undefined;
    }
  }
  return groups;
}

function parseIpv6Value(text: string): bigint | undefined {
  const halves = text.split('::');
  if (halves.length > 2) return undefined;
  const compressed = halves.length === 2;
  const head = parseGroups(halves[0], !compressed);
  const tail = compressed ? parseGroups(halves[1], true) : [];
  if (!head || !tail) return undefined;
  const given = head.length + tail.length;
  if (compressed ? given > 7 : given !== 8) return undefined;
  const zeros: bigint[] = Array(8 - given).fill(0n);
  return [...head, ...zeros, ...tail].reduce((acc, g) => (acc << 16n) | g, 0n);
}

/** Parses an IP address literal without normalising IPv4-mapped IPv6. */
function parseRawIp(text: string): IpAddress | undefined {
  const t = text.trim();
  if (t.includes(':')) {
    const value = parseIpv6Value(t);
    return value === undefined ? undefined : { family: 6, value };
  }
  const value = parseIpv4Value(t);
  return value === undefined ? undefined : { family: 4, value };
}

/**
 * Parses an IPv4 or IPv6 address. IPv4-mapped IPv6 addresses (::ffff:a.b.c.d)
 * become IPv4. Returns undefined for anything that is not a valid literal.
 */
export function parseIp(text: string): IpAddress | undefined {
  const ip = parseRawIp(text);
  if (ip?.family === 6 && ip.value >> 32n === 0xffffn) {
    return { family: 4, value: ip.value - V4_MAPPED_PREFIX };
  }
  return ip;
}

function hostMask(family: IpFamily, prefix: number): bigint {
  return (1n << BigInt(BITS[family] - prefix)) - 1n;
}

/**
 * Parses "address/prefix". Host bits are cleared (like Go's net.ParseCIDR),
 * so "10.0.0.7/8" is 10.0.0.0/8. Returns undefined when malformed.
 */
export function parseCidr(text: string): Cidr | undefined {
  const m = /^([^/]+)\/(\d{1,3})$/.exec(text.trim());
  if (!m) return undefined;
  const ip = parseRawIp(m[1]);
  const prefix = Number(m[2]);
  if (!ip || prefix > BITS[ip.family]) return undefined;
  const mask = ((1n << BigInt(BITS[ip.family])) - 1n) ^ hostMask(ip.family, prefix);
  return { family: ip.family, prefix, network: ip.value & mask, mask };
}

/** True when `ip` lies inside `cidr` (same family only). */
export function cidrContains(cidr: Cidr, ip: IpAddress): boolean {
  return cidr.family === ip.family && (ip.value & cidr.mask) === cidr.network;
}

/** A compiled ipBlock: the CIDR minus its exceptions. `valid` is false if any CIDR failed to parse. */
export interface IpBlockMatcher {
  readonly valid: boolean;
  contains(ip: IpAddress): boolean;
}

/**
 * Compiles an ipBlock {cidr, except}. An unparsable `cidr` matches nothing;
 * an unparsable `except` entry is skipped (both mark the matcher invalid).
 */
export function compileIpBlock(cidr: string, except: readonly string[] = []): IpBlockMatcher {
  const base = parseCidr(cidr);
  const parsedExcepts = except.map(parseCidr);
  const excepts = parsedExcepts.filter((c): c is Cidr => c !== undefined);
  const valid = base !== undefined && excepts.length === parsedExcepts.length;
  return {
    valid,
    contains: (ip) => base !== undefined && cidrContains(base, ip) && !excepts.some((e) => cidrContains(e, ip)),
  };
}

/** Formats an address back to text (IPv6 in RFC 5952 compressed form). */
export function formatIp(ip: IpAddress): string {
  if (ip.family === 4) {
    return [24n, 16n, 8n, 0n].map((s) => String((ip.value >> s) & 0xffn)).join('.');
  }
  const groups = Array.from({ length: 8 }, (_, i) => Number((ip.value >> BigInt(112 - 16 * i)) & 0xffffn));
  const [start, len] = longestZeroRun(groups);
  const hex = (gs: number[]) => gs.map((g) => g.toString(16)).join(':');
  if (len < 2) return hex(groups);
  return `${hex(groups.slice(0, start))}::${hex(groups.slice(start + len))}`;
}

function longestZeroRun(groups: number[]): [start: number, length: number] {
  let best: [number, number] = [-1, 0];
  let runStart = -1;
  groups.forEach((g, i) => {
    if (g !== 0) return void (runStart = -1);
    if (runStart < 0) runStart = i;
    const len = i - runStart + 1;
    if (len > best[1]) best = [runStart, len];
  });
  return best;
}
