// The nmap probe runner used by the network scan's full mode.
//
// One TCP connect scan (`-sT`, no raw packets, no root needed) per address
// family covers all the targets of a source. nmap scans the cross product
// hosts × ports, so results are mapped back for the requested (host, port)
// pairs only; the extra pairs it probes are ignored.
//
// - nmapRuns / nmapArgs: build the invocation(s).
// - parseNmapXml: parse nmap's XML (`-oX -`) with a real XML parser.
// - resultsFor: map parsed results back to target ids.
// - splitNmapLog: nmap's XML and stderr out of a container log (in-cluster probes).
// - The local runner (nmap on this host) is nmap/local.ts.
//
// Why this file is long: nmap's XML format (hosts, ports, extraports, reasons, both
// address families) is parsed and mapped back in one place, pure, next to the
// argument builder whose output it reads; splitting it would scatter one format.
//
// Address families: nmap cannot mix IPv4 and IPv6 in one run (`-6` switches
// the whole run). nmapRuns splits targets into one run per family; IPv6
// literals go to the `-6` run, IPv4 literals and DNS names to the IPv4 run
// (nmap resolves names to their IPv4 address without `-6`; a name with only
// AAAA records then comes back 'unknown', reason "unresolved").
import { canonicalV6, normalizeHost, type AddressFamily } from './hosts.ts';
import { XMLParser, XMLValidator } from 'fast-xml-parser';

// ---------------------------------------------------------------- types

export interface ProbeTarget {
  id: string;
  /** IP literal (IPv6 with or without brackets) or DNS name. */
  host: string;
  port: number;
  protocol: 'TCP';
}

export type NmapPortState = 'open' | 'closed' | 'filtered' | 'unfiltered' | 'open|filtered' | 'closed|filtered';
export type ProbeState = 'open' | 'closed' | 'filtered' | 'unknown';

export interface ProbeResult {
  state: ProbeState;
  /** nmap's reason (conn-refused, syn-ack, no-response, …) or why the state is unknown. */
  reason: string;
  /** The raw nmap state, when nmap reported one for this port. */
  nmapState?: NmapPortState;
}

export interface NmapArgsOptions {
  /** nmap `--host-timeout`: give up on a host after this long (its ports become 'unknown'). */
  hostTimeoutMs: number;
  /** Per-probe timeout: `--max-rtt-timeout` and `--initial-rtt-timeout`. Default 1000, at least 100. */
  connectTimeoutMs?: number;
  /** `--max-retries`. Default 1. */
  maxRetries?: number;
  /** Host discovery: false (default) passes `-Pn` (every host is treated as up). */
  hostDiscovery?: boolean;
  /** `-v`: nmap then also lists hosts found down. Default false. */
  verbose?: boolean;
}

export interface NmapPort {
  protocol: string;
  port: number;
  state: NmapPortState;
  reason: string;
  /** 'port': listed explicitly; 'extraports': from an <extrareasons ports=…> list;
   *  'inferred': from an <extraports> group without a port list (older nmap). */
  source: 'port' | 'extraports' | 'inferred';
}

export interface NmapExtraPorts {
  state: NmapPortState;
  count: number;
  reasons: { reason: string; count: number; protocol?: string; ports?: number[] }[];
}

export interface NmapHost {
  /** First IPv4/IPv6 address. */
  address: string;
  addresses: { addr: string; addrtype: string }[];
  hostnames: { name: string; type: string }[];
  status: { state: string; reason: string };
  timedOut: boolean;
  ports: NmapPort[];
  extraports: NmapExtraPorts[];
}

export interface NmapResult {
  version?: string;
  args?: string;
  /** Ports nmap was asked to scan (from <scaninfo services>), per protocol. */
  scanned: { protocol: string; ports: number[] }[];
  hosts: NmapHost[];
  /** <target status="skipped"> entries: target specifications nmap could not scan. */
  skippedTargets: { specification: string; reason: string }[];
  /** Names nmap reported on stderr as `Failed to resolve "name".` (needs opts.stderr). */
  unresolved: string[];
  finished?: { exit: string; errormsg?: string; elapsedS?: number; summary?: string };
  hostCounts?: { up: number; down: number; total: number };
}

export type { AddressFamily };

export interface NmapRun {
  family: AddressFamily;
  targets: ProbeTarget[];
  args: string[];
}

// ---------------------------------------------------------------- args

export { normalizeHost };

function checkTarget(t: ProbeTarget): void {
  if (t.protocol !== 'TCP') throw new Error(`nmap target ${t.id}: protocol ${String(t.protocol)} is not supported (TCP only)`);
  if (!Number.isInteger(t.port) || t.port < 1 || t.port > 65535) throw new Error(`nmap target ${t.id}: invalid port ${t.port}`);
}

/** Compact port list for `-p`: sorted, consecutive ports as ranges ("80,443,8000-8002"). */
export function portList(ports: Iterable<number>): string {
  const sorted = [...new Set(ports)].sort((a, b) => a - b);
  const parts: string[] = [];
  for (let i = 0; i < sorted.length; ) {
    let j = i;
    while (j + 1 < sorted.length && sorted[j + 1] === sorted[j] + 1) j++;
    parts.push(j === i ? `${sorted[i]}` : `${sorted[i]}-${sorted[j]}`);
    i = j + 1;
  }
  return parts.join(',');
}

function ms(n: number, name: string): string {
  if (!Number.isFinite(n) || n <= 0) throw new Error(`nmap option ${name} must be a positive number of milliseconds, got ${n}`);
  return `${Math.ceil(n)}ms`;
}

/**
 * The arguments (without the `nmap` program name) of ONE TCP connect scan over
 * all `targets`: hosts × union of ports. All targets must be of one address
 * family (see nmapRuns to split). Targets are validated so that no host string
 * can be read by nmap as an option or a range.
 */
export function nmapArgs(targets: ProbeTarget[], opts: NmapArgsOptions): string[] {
  if (targets.length === 0) throw new Error('nmapArgs: no targets');
  const hosts: string[] = [];
  const seen = new Set<string>();
  const ports = new Set<number>();
  let family: AddressFamily | undefined;
  for (const t of targets) {
    checkTarget(t);
    const n = normalizeHost(t.host);
    if (family !== undefined && n.family !== family) {
      throw new Error('nmapArgs: IPv4 and IPv6 targets cannot be mixed in one nmap run; use nmapRuns() to split them per family');
    }
    family = n.family;
    if (!seen.has(n.host)) {
      seen.add(n.host);
      hosts.push(n.host);
    }
    ports.add(t.port);
  }
  const connect = Math.max(100, opts.connectTimeoutMs ?? 1000);
  const retries = opts.maxRetries ?? 1;
  if (!Number.isInteger(retries) || retries < 0 || retries > 10) throw new Error(`nmap option maxRetries must be an integer 0..10, got ${retries}`);
  return [
    '-sT',
    ...(opts.hostDiscovery ? [] : ['-Pn']),
    '-n',
    ...(family === 6 ? ['-6'] : []),
    ...(opts.verbose ? ['-v'] : []),
    '--reason',
    '--max-retries',
    String(retries),
    '--initial-rtt-timeout',
    ms(connect, 'connectTimeoutMs'),
    '--max-rtt-timeout',
    ms(connect, 'connectTimeoutMs'),
    '--host-timeout',
    ms(opts.hostTimeoutMs, 'hostTimeoutMs'),
    '-p',
    portList(ports),
    '-oX',
    '-',
    ...hosts,
  ];
}

/** Split targets per address family, one nmap invocation each (IPv4 first). */
export function nmapRuns(targets: ProbeTarget[], opts: NmapArgsOptions): NmapRun[] {
  const byFamily = new Map<AddressFamily, ProbeTarget[]>();
  for (const t of targets) {
    const f = normalizeHost(t.host).family;
    byFamily.set(f, [...(byFamily.get(f) ?? []), t]);
  }
  return ([4, 6] as const).filter((f) => byFamily.has(f)).map((f) => ({ family: f, targets: byFamily.get(f)!, args: nmapArgs(byFamily.get(f)!, opts) }));
}

// ---------------------------------------------------------------- parse

const ARRAY_TAGS = new Set(['host', 'port', 'address', 'hostname', 'extraports', 'extrareasons', 'scaninfo', 'target', 'hosthint']);
const parser = new XMLParser({
  ignoreAttributes: false,
  attributeNamePrefix: '@_',
  parseAttributeValue: false,
  parseTagValue: false,
  ignoreDeclaration: true,
  ignorePiTags: true,
  isArray: (name) => ARRAY_TAGS.has(name),
});

type XNode = Record<string, unknown>;
const PORT_STATES = new Set<string>(['open', 'closed', 'filtered', 'unfiltered', 'open|filtered', 'closed|filtered']);

function attr(n: unknown, name: string): string | undefined {
  if (n && typeof n === 'object') {
    const v = (n as XNode)[`@_${name}`];
    if (v !== undefined && v !== null) return String(v);
  }
  return undefined;
}
function kids(n: unknown, name: string): XNode[] {
  if (!n || typeof n !== 'object') return [];
  const v = (n as XNode)[name];
  if (v === undefined || v === null || v === '') return [];
  return (Array.isArray(v) ? v : [v]).filter((x): x is XNode => typeof x === 'object' && x !== null);
}
function kid(n: unknown, name: string): XNode | undefined {
  return kids(n, name)[0];
}
function portState(s: string | undefined, where: string): NmapPortState {
  if (s && PORT_STATES.has(s)) return s as NmapPortState;
  throw new Error(`nmap XML: unknown port state ${JSON.stringify(s)} in ${where}`);
}

/** Expand an nmap port list ("1-5,8080", may carry "T:"/"U:" protocol prefixes). */
export function expandPortList(spec: string): number[] {
  const out: number[] = [];
  for (let part of spec.split(',')) {
    part = part.trim().replace(/^[A-Z]:/, '');
    if (!part) continue;
    const m = /^(\d+)(?:-(\d+))?$/.exec(part);
    if (!m) throw new Error(`nmap XML: cannot read port list ${JSON.stringify(spec)}`);
    const a = Number(m[1]);
    const b = m[2] === undefined ? a : Number(m[2]);
    if (b < a || b > 65535) throw new Error(`nmap XML: bad port range ${part}`);
    for (let p = a; p <= b; p++) out.push(p);
  }
  return out;
}

/**
 * Parse nmap XML output (`-oX`). Throws when the document is not well-formed
 * XML or is not an nmap run (e.g. truncated because nmap was killed).
 * `opts.stderr`: nmap's stderr, to pick up names it failed to resolve.
 */
export function parseNmapXml(xml: string, opts: { stderr?: string } = {}): NmapResult {
  // nmap closes <nmaprun> last: anything else is truncated (nmap killed) or
  // not nmap output. The full validator runs only then, for a precise message.
  if (!/<\/nmaprun>\s*$/.test(xml)) {
    const valid = XMLValidator.validate(xml);
    if (valid !== true) throw new Error(`nmap XML is not well-formed (truncated output?): ${valid.err.msg} at line ${valid.err.line}`);
  }
  let doc: XNode;
  try {
    doc = parser.parse(xml) as XNode;
  } catch (e) {
    throw new Error(`nmap XML is not well-formed: ${(e as Error).message}`);
  }
  const run = kid(doc, 'nmaprun');
  if (!run) throw new Error('nmap XML: no <nmaprun> element');

  const scanned = kids(run, 'scaninfo')
    .filter((s) => attr(s, 'services') !== undefined)
    .map((s) => ({ protocol: attr(s, 'protocol') ?? 'tcp', ports: expandPortList(attr(s, 'services')!) }));

  const hosts: NmapHost[] = kids(run, 'host').map((h) => {
    const addresses = kids(h, 'address').map((a) => ({ addr: attr(a, 'addr') ?? '', addrtype: attr(a, 'addrtype') ?? 'ipv4' }));
    const ip = addresses.find((a) => a.addrtype === 'ipv4' || a.addrtype === 'ipv6');
    const address = ip ? (ip.addrtype === 'ipv6' ? canonicalV6(ip.addr) : ip.addr) : '';
    const hostnames = kids(kid(h, 'hostnames'), 'hostname').map((n) => ({ name: attr(n, 'name') ?? '', type: attr(n, 'type') ?? '' }));
    const st = kid(h, 'status');
    const portsNode = kid(h, 'ports');
    const where = `host ${address}`;
    const ports: NmapPort[] = kids(portsNode, 'port').map((p) => {
      const s = kid(p, 'state');
      return {
        protocol: attr(p, 'protocol') ?? 'tcp',
        port: Number(attr(p, 'portid')),
        state: portState(attr(s, 'state'), where),
        reason: attr(s, 'reason') ?? '',
        source: 'port' as const,
      };
    });
    const extraports: NmapExtraPorts[] = kids(portsNode, 'extraports').map((e) => ({
      state: portState(attr(e, 'state'), where),
      count: Number(attr(e, 'count') ?? 0),
      reasons: kids(e, 'extrareasons').map((r) => {
        const list = attr(r, 'ports');
        return {
          reason: attr(r, 'reason') ?? '',
          count: Number(attr(r, 'count') ?? 0),
          ...(attr(r, 'proto') ? { protocol: attr(r, 'proto') } : {}),
          ...(list !== undefined ? { ports: expandPortList(list) } : {}),
        };
      }),
    }));
    // Ports folded into <extraports> with an explicit list (nmap ≥ 7.9x).
    const listed = new Set(ports.map((p) => `${p.protocol}/${p.port}`));
    for (const e of extraports) {
      for (const r of e.reasons) {
        for (const port of r.ports ?? []) {
          const protocol = r.protocol ?? 'tcp';
          if (listed.has(`${protocol}/${port}`)) continue;
          listed.add(`${protocol}/${port}`);
          ports.push({ protocol, port, state: e.state, reason: r.reason, source: 'extraports' });
        }
      }
    }
    // Older nmap: <extraports> without port lists. With exactly one such group,
    // every scanned port not listed otherwise is in it.
    const unlisted = extraports.filter((e) => e.reasons.every((r) => r.ports === undefined));
    if (unlisted.length === 1 && scanned.length > 0) {
      const e = unlisted[0];
      for (const s of scanned) {
        for (const port of s.ports) {
          if (listed.has(`${s.protocol}/${port}`)) continue;
          listed.add(`${s.protocol}/${port}`);
          ports.push({ protocol: s.protocol, port, state: e.state, reason: extraReason(e), source: 'inferred' });
        }
      }
    }
    ports.sort((a, b) => a.port - b.port || a.protocol.localeCompare(b.protocol));
    return {
      address,
      addresses,
      hostnames,
      status: { state: attr(st, 'state') ?? 'unknown', reason: attr(st, 'reason') ?? '' },
      timedOut: attr(h, 'timedout') === 'true',
      ports,
      extraports,
    };
  });

  const skippedTargets = kids(run, 'target')
    .filter((t) => attr(t, 'status') === 'skipped')
    .map((t) => ({ specification: attr(t, 'specification') ?? '', reason: attr(t, 'reason') ?? '' }));

  const unresolved = [...(opts.stderr ?? '').matchAll(/^Failed to resolve "(.*)"\.?\s*$/gm)].map((m) => m[1].toLowerCase());

  const runstats = kid(run, 'runstats');
  const fin = kid(runstats, 'finished');
  const hs = kid(runstats, 'hosts');
  const elapsed = attr(fin, 'elapsed');
  return {
    version: attr(run, 'version'),
    args: decodeCharRefs(attr(run, 'args')),
    scanned,
    hosts,
    skippedTargets,
    unresolved,
    ...(fin
      ? {
          finished: {
            exit: attr(fin, 'exit') ?? 'unknown',
            ...(attr(fin, 'errormsg') !== undefined ? { errormsg: attr(fin, 'errormsg') } : {}),
            ...(elapsed !== undefined ? { elapsedS: Number(elapsed) } : {}),
            ...(attr(fin, 'summary') !== undefined ? { summary: attr(fin, 'summary') } : {}),
          },
        }
      : {}),
    ...(hs ? { hostCounts: { up: Number(attr(hs, 'up') ?? 0), down: Number(attr(hs, 'down') ?? 0), total: Number(attr(hs, 'total') ?? 0) } } : {}),
  };
}

/** nmap writes "--" in its args attribute as "-&#45;"; the parser leaves numeric references alone. */
function decodeCharRefs(s: string | undefined): string | undefined {
  return s?.replace(/&#(x[0-9a-fA-F]+|\d+);/g, (_, n: string) => String.fromCodePoint(n.startsWith('x') ? parseInt(n.slice(1), 16) : Number(n)));
}

function extraReason(e: NmapExtraPorts): string {
  return [...new Set(e.reasons.map((r) => r.reason))].join('/') || e.state;
}

// ---------------------------------------------------------------- map back

function toProbeState(s: NmapPortState): ProbeState {
  // Connect scans only yield open/closed/filtered; the ambiguous states of
  // other scan types are reported as unknown, with the raw state in the reason.
  return s === 'open' || s === 'closed' || s === 'filtered' ? s : 'unknown';
}

function findHost(parsed: NmapResult[], host: string): { host?: NmapHost; run?: NmapResult } {
  const n = normalizeHost(host);
  for (const run of parsed) {
    if (n.isName) {
      const h = run.hosts.find((x) => x.hostnames.some((hn) => hn.type === 'user' && hn.name.toLowerCase().replace(/\.$/, '') === n.host.replace(/\.$/, '')));
      if (h) return { host: h, run };
    } else {
      const same = run.hosts.filter((x) => x.address === n.host);
      // An IP given literally has no user hostname; prefer that entry when the
      // same address was also reached through a name.
      const h = same.find((x) => !x.hostnames.some((hn) => hn.type === 'user')) ?? same[0];
      if (h) return { host: h, run };
    }
  }
  return {};
}

/**
 * Map parsed nmap results back to the requested targets: one entry per target
 * id, for its own (host, port) only. DNS names are matched through the
 * hostname nmap records as given by the user (type="user"); IP literals
 * through the address.
 */
export function resultsFor(targets: ProbeTarget[], parsed: NmapResult | NmapResult[]): Map<string, ProbeResult> {
  const runs = Array.isArray(parsed) ? parsed : [parsed];
  const out = new Map<string, ProbeResult>();
  for (const t of targets) out.set(t.id, resultFor(t, runs));
  return out;
}

function resultFor(t: ProbeTarget, runs: NmapResult[]): ProbeResult {
  let n: ReturnType<typeof normalizeHost>;
  try {
    n = normalizeHost(t.host);
  } catch (e) {
    return { state: 'unknown', reason: `invalid target: ${(e as Error).message}` };
  }
  const failed = runs.find((r) => r.finished && r.finished.exit !== 'success');
  const { host, run } = findHost(runs, t.host);
  if (!host) {
    if (n.isName && runs.some((r) => r.unresolved.includes(n.host.replace(/\.$/, '')) || r.unresolved.includes(n.host))) {
      return { state: 'unknown', reason: `unresolved: nmap failed to resolve ${n.host}` };
    }
    const skipped = runs.flatMap((r) => r.skippedTargets).find((s) => s.specification.toLowerCase() === n.host);
    if (skipped) return { state: 'unknown', reason: `target skipped by nmap (${skipped.reason})` };
    if (failed) return { state: 'unknown', reason: `nmap error: ${failed.finished?.errormsg ?? failed.finished?.exit}` };
    return { state: 'unknown', reason: 'host not in nmap output' };
  }
  if (host.status.state !== 'up') {
    return { state: 'unknown', reason: `host ${host.status.state} (${host.status.reason || 'no reason given'})` };
  }
  const p = host.ports.find((x) => x.protocol === 'tcp' && x.port === t.port);
  if (p) {
    const state = toProbeState(p.state);
    return { state, reason: state === 'unknown' ? `${p.state} (${p.reason})` : p.reason, nmapState: p.state };
  }
  if (host.timedOut) return { state: 'unknown', reason: 'host-timeout' };
  // No <scaninfo> to infer from: a single <extraports> group without port
  // lists still holds every port not listed explicitly.
  const unlisted = host.extraports.filter((e) => e.reasons.every((r) => r.ports === undefined));
  const scannedHere = run?.scanned.find((s) => s.protocol === 'tcp');
  if (unlisted.length === 1 && (!scannedHere || scannedHere.ports.includes(t.port))) {
    const e = unlisted[0];
    const state = toProbeState(e.state);
    const reason = extraReason(e);
    return { state, reason: state === 'unknown' ? `${e.state} (${reason})` : reason, nmapState: e.state };
  }
  if (unlisted.length > 1) return { state: 'unknown', reason: 'port folded into several <extraports> groups without port lists' };
  if (failed) return { state: 'unknown', reason: `nmap error: ${failed.finished?.errormsg ?? failed.finished?.exit}` };
  return { state: 'unknown', reason: 'port not in nmap output' };
}

/**
 * Split a container log (stdout and stderr interleaved line by line, as the
 * kubelet stores them) into nmap's XML (stdout, `-oX -`) and the rest
 * (stderr: warnings, `Failed to resolve "x".`). nmap's XML puts every element
 * on lines starting with `<`, except the text of `<output>` elements, which is
 * kept whole; other lines between `<?xml` and `</nmaprun>` are stderr.
 */
export function splitNmapLog(log: string): { xml: string; stderr: string } {
  const lines = log.split('\n');
  const start = lines.findIndex((l) => /^\s*<(\?xml|nmaprun\b)/.test(l));
  if (start < 0) return { xml: '', stderr: log.trim() };
  let end = -1;
  for (let i = lines.length - 1; i >= start; i--) {
    if (lines[i].includes('</nmaprun>')) {
      end = i;
      break;
    }
  }
  if (end < 0) end = lines.length - 1; // truncated: the parser says so
  const xml: string[] = [];
  const err: string[] = [...lines.slice(0, start)];
  let inOutput = false;
  for (let i = start; i <= end; i++) {
    const l = lines[i];
    if (inOutput) {
      xml.push(l);
      if (l.includes('</output>')) inOutput = false;
    } else if (/^\s*</.test(l)) {
      xml.push(l);
      if (/<output\b/.test(l) && !l.includes('</output>') && !/<output\b[^>]*\/>/.test(l)) inOutput = true;
    } else err.push(l);
  }
  err.push(...lines.slice(end + 1));
  return { xml: `${xml.join('\n')}\n`, stderr: err.filter((l) => l.trim()).join('\n') };
}
