/**
 * What may be handed to nmap as a target host (pure, no parser loaded): an IP address or a DNS
 * name, never an option, a range, a CIDR block or a list. Apart from nmap.ts so that settings can
 * validate hosts without loading the XML parser.
 */
import { isIP } from 'node:net';
import { isNumericHostForm } from '../../../lib/scan/hosts.ts';

export type AddressFamily = 4 | 6;

const DNS_NAME = /^(?=.{1,253}$)[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,62})(?:\.[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,62}))*\.?$/;

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
    throw new Error(
      `nmap target host ${JSON.stringify(host)} is a numeric address notation other than a dotted-quad IPv4 or an IPv6 literal; write the address as ` +
        `a.b.c.d or as IPv6`,
    );
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
