/**
 * Rule-level findings, judged on every live policy in the stack's namespaces: a ports entry that
 * opens every port, a peer that is everyone, a spec whose ports contradict its own name, a
 * namespaceSelector that matches no namespace. Each names the policy, the rule and, when the
 * expected policy came from a file, the file's line.
 */
import type { NetworkPolicy } from '../../../lib/k8s/networkpolicy.ts';
import type { Direction, LabelSelector } from '../../../lib/k8s/types.ts';
import { baseName, type ExpectedPolicy } from '../../../lib/topology/expected.ts';
import { isEmptySelector, nameOf, nsOf, PEER_WIDTH, peerKey, proto, type Canonical } from './canonical.ts';
import { describePeer } from './match.ts';
import type { RuleFinding, Severity } from './types.ts';

/** The ports a Stacktic name promises (`…--ports--443-9402-10250`), or null when the name gives none. */
export function namePorts(name: string): { direction: Direction; ports: number[] } | null {
  const m = /--(ingress|egress)--ports--(\d{1,5}(?:-\d{1,5})*)$/.exec(baseName(name));
  if (!m) return null;
  return { direction: m[1] as Direction, ports: m[2].split('-').map(Number) };
}

export type SelectorCheck = (sel: LabelSelector) => boolean;

export function ruleFindings(p: NetworkPolicy, c: Canonical, selectsSomething: SelectorCheck | null): RuleFinding[] {
  const out: RuleFinding[] = [];
  const base = { policy: nameOf(p), namespace: nsOf(p) };
  const internet = base.policy.includes('--internet--');
  for (const d of c.types) {
    const from = d === 'ingress' ? 'from' : 'to';
    c.rules[d].forEach((r, i) => {
      const everyone = r.peers === null || r.peers.some((x) => PEER_WIDTH(peerKey(x, base.namespace)) > 0);
      if (r.peers === null) {
        out.push({
          ...base,
          kind: 'peer-everyone',
          severity: r.ports === null ? (d === 'ingress' ? 'critical' : 'high') : internet ? 'info' : d === 'ingress' ? 'high' : 'medium',
          direction: d,
          rule: i,
          message:
            `${d}[${i}] has no '${from}': it ${d === 'ingress' ? 'admits' : 'reaches'} everyone${r.ports === null ? ' on every port' : ''}` +
            `${internet && r.ports !== null ? ' (as its internet--any name says)' : ''}`,
        });
      } else {
        r.peers.forEach((x, j) => {
          const k = peerKey(x, base.namespace);
          if (PEER_WIDTH(k) === 0) return;
          const what = k === 'any' ? 'everyone (ipBlock of every address)' : 'every pod in every namespace (empty namespaceSelector)';
          out.push({
            ...base,
            kind: 'peer-everyone',
            severity: r.ports === null ? (d === 'ingress' ? 'critical' : 'high') : internet ? 'info' : d === 'ingress' ? 'high' : 'medium',
            direction: d,
            rule: i,
            peer: j,
            message: `${d}[${i}].${from}[${j}] selects ${what}${r.ports === null ? ' on every port' : ''}`,
          });
        });
      }
      (r.ports ?? []).forEach((port, j) => {
        if (port.port !== undefined && port.port !== null) return;
        const who = everyone ? describePeer('any', d) : r.peers!.map((x) => describePeer(peerKey(x, base.namespace), d)).join(', ');
        out.push({
          ...base,
          kind: 'all-ports',
          severity: everyone ? (d === 'ingress' ? 'critical' : 'high') : 'medium',
          direction: d,
          rule: i,
          port_entry: j,
          message: `${d}[${i}].ports[${j}] names protocol ${proto(port.protocol)} and no port: it opens every ${proto(port.protocol)} port ${who}`,
        });
      });
      if (selectsSomething) {
        (r.peers ?? []).forEach((x, j) => {
          const sel = x.namespaceSelector;
          if (!sel || isEmptySelector(sel) || selectsSomething(sel)) return;
          const labels = Object.keys(sel.matchLabels ?? {}).map((k) => `${k}=${Object.getOwnPropertyDescriptor(sel.matchLabels!, k)!.value}`);
          out.push({
            ...base,
            kind: 'selector-matches-nothing',
            severity: 'low',
            direction: d,
            rule: i,
            peer: j,
            message:
              `${d}[${i}].${from}[${j}] selects no namespace${labels.length ? `: no namespace has label ${labels.join(', ')}` : ''}; the rule ` +
              `allows nothing`,
          });
        });
      }
    });
  }
  const promised = base.policy.includes('--ports--') ? namePorts(base.policy) : null;
  if (promised && c.types.includes(promised.direction)) {
    const rs = c.rules[promised.direction];
    const all = rs.some((r) => r.ports === null || r.ports.some((x) => x.port === undefined || x.port === null));
    const granted = new Set<number>();
    for (const r of rs)
      for (const x of r.ports ?? []) if (typeof x.port === 'number') for (let n = x.port; n <= (x.endPort ?? x.port) && n - x.port < 65536; n++) granted.add(n);
    const want = new Set(promised.ports);
    const extra = [...granted].filter((n) => !want.has(n)).sort((a, b) => a - b);
    const missing = all ? [] : promised.ports.filter((n) => !granted.has(n));
    if (all || extra.length || missing.length) {
      const parts = [
        ...(all ? ['every port'] : []),
        ...(extra.length ? [`ports ${extra.join(', ')} the name does not list`] : []),
        ...(missing.length ? [`not ports ${missing.join(', ')} the name lists`] : []),
      ];
      out.push({
        ...base,
        kind: 'name-ports-mismatch',
        severity: all || extra.length ? 'medium' : 'low',
        direction: promised.direction,
        message: `the name promises ${promised.direction} ports ${promised.ports.join(', ')}; the spec grants ${parts.join(' and ')}`,
      });
    }
  }
  return out;
}

export function lineFor(f: RuleFinding, e: ExpectedPolicy | undefined): { file?: string; line?: number } {
  const o = e?.origin;
  if (!o) return {};
  const line =
    (f.rule !== undefined && f.port_entry !== undefined && o.portLines[f.direction][f.rule]?.[f.port_entry]) ||
    (f.rule !== undefined && o.ruleLines[f.direction][f.rule]) ||
    o.line;
  return { file: o.file, line };
}

export const RANK: Readonly<Record<Severity, number>> = { critical: 0, high: 1, medium: 2, low: 3, info: 4 };
export const worst = (fs: RuleFinding[]): Severity | 'none' =>
  fs.reduce<Severity | 'none'>((w, f) => (w === 'none' || RANK[f.severity] < RANK[w] ? f.severity : w), 'none');
