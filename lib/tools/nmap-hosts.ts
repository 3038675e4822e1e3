/**
 * What may be handed to nmap as a target host (pure, no parser loaded): an IP address or a DNS
 * name, never an option, a range, a CIDR block or a list. Apart from nmap.ts so that settings can
 * validate hosts without loading the XML parser.
 */
import { isIP } from 'node:net';

export type AddressFamily = 4 | 6;

const DNS_NAME = /^(?=.{1,253}$)[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,62})(?:\.[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,62}))*\.?$/;

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

/** Host as passed to nmap: IPv6 brackets removed. Throws on anything nmap could
 *  read as an option, a range, a CIDR block or a list. */
export function normalizeHost(host: string): { host: string; family: AddressFamily; isName: boolean } {
  const h = host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
  const ip = isIP(h);
  if (ip === 4) return { host: h, family: 4, isName: false };
  if (ip === 6) {
    if (h.includes('%')) throw new Error(`nmap target host ${JSON.stringify(host)}: scoped IPv6 addresses are not supported`);
    return { host: canonicalV6(h), family: 6, isName: false };
  }
  // A DNS name: letters, digits, '-', '_' in dot-separated labels, and the last
  // label must contain a letter (so nmap's "10.0.0.1-5" octet ranges are refused).
  const last = h.replace(/\.$/, '').split('.').pop() ?? '';
  if (isNumericHostForm(h)) {
    throw new Error(`nmap target host ${JSON.stringify(host)} is a numeric address notation other than a dotted-quad IPv4 or an IPv6 literal; write the address as a.b.c.d or as IPv6`);
  }
  if (!DNS_NAME.test(h) || h.startsWith('-') || !/[A-Za-z]/.test(last)) {
    throw new Error(`nmap target host ${JSON.stringify(host)} is neither an IP address nor a DNS name`);
  }
  return { host: h.toLowerCase(), family: 4, isName: true };
}

/** An IPv6 address in its canonical text form. */
export function canonicalV6(a: string): string {
  return new URL(`http://[${a}]/`).hostname.slice(1, -1);
}

