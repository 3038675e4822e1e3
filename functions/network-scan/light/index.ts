/**
 * Light mode's judgement (pure but for the scan's cache): the expected NetworkPolicy set against a
 * snapshot of the cluster. Expected set + snapshot + the scan's PolicyEngine in, report out.
 *
 *   canonical.ts  every policy, expected or live, reduced to one canonical form
 *   match.ts      found, drifted (the difference spelled out), renamed, missing; extra
 *   rules.ts      rule-level findings on every live policy in the stack's namespaces
 *   links.ts      link coverage: every declared link against the expected set and the engine
 *   score.ts      the score
 *   types.ts      the report's shape
 *
 * What depends on one policy version or one expected set alone is kept in the scan's cache
 * (../cache.ts): after a change in the cluster only what changed is worked out again.
 * Keys from user or cluster data live in `Map`s or null-prototype objects.
 */
import { namespaceSelectorCheck } from '../../../lib/k8s/selectors.ts';
import type { NetworkPolicy } from '../../../lib/k8s/networkpolicy.ts';
import { baseName, CATEGORIES, type ExpectedSet } from '../../../lib/topology/expected.ts';
import type { Topology } from '../../../lib/topology/types.ts';
import { NetworkScanCache, versionKey, type ExpectedForms, type PolicyMemo } from '../cache.ts';
import type { PolicyEngine } from '../engine.ts';
import { canonical, expectedCanonical, nameOf, nsOf, plainPolicy, rules, type Canonical } from './canonical.ts';
import { isFound, matchPolicies } from './match.ts';
import { linkCoverage } from './links.ts';
import { lineFor, RANK, ruleFindings, type SelectorCheck } from './rules.ts';
import { lightScore } from './score.ts';
import { SEVERITIES, type ClusterSnapshot, type EmptySelector, type LightReport, type PolicyStatus, type RuleFinding, type Severity } from './types.ts';

/** The plain copy and canonical form of a live policy, kept per uid and resourceVersion. */
function policyMemo(cache: NetworkScanCache, raw: NetworkPolicy): PolicyMemo {
  const key = versionKey(raw);
  const hit = key ? cache.policies.get(key) : undefined;
  if (hit) return hit;
  const plain = plainPolicy(raw);
  const m: PolicyMemo = { plain, canon: canonical(plain.spec, nsOf(plain)), base: baseName(nameOf(plain)) };
  return key ? cache.keep(cache.policies, key, m) : m;
}

/** The expected set's canonical forms and same-name groups, computed once per expected set (one file version). */
function expectedForms(cache: NetworkScanCache, expected: ExpectedSet, topoNs: ReadonlySet<string>): ExpectedForms {
  const topo = [...topoNs].join('\n');
  const hit = cache.forms.get(expected);
  if (hit && hit.topo === topo) return hit;
  const byName = new Map<string, number[]>();
  expected.policies.forEach((e, i) => {
    const k = `${e.namespace}/${baseName(e.name)}`;
    const list = byName.get(k);
    if (list) list.push(i);
    else byName.set(k, [i]);
  });
  const forms: ExpectedForms = { topo, forms: expected.policies.map((e) => expectedCanonical(e, topoNs)), byName };
  cache.forms.set(expected, forms);
  return forms;
}

/**
 * @param engine the scan's PolicyEngine over `snap`, shared with the probe plan (made on first use).
 * @param cache the scan's cache; without one, nothing is kept between calls.
 */
export function judgeLight(topo: Topology, expected: ExpectedSet, snap: ClusterSnapshot, engine: PolicyEngine | (() => PolicyEngine), cache = new NetworkScanCache()): LightReport {
  const stackNs = new Set(topo.namespaces);
  for (const e of expected.policies) stackNs.add(e.namespace);
  const inStack: NetworkPolicy[] = [];
  const canon = new Map<NetworkPolicy, Canonical>();
  const memos = new Map<NetworkPolicy, PolicyMemo>();
  for (const raw of snap.policies) {
    if (!stackNs.has(nsOf(raw))) continue;
    const m = policyMemo(cache, raw);
    inStack.push(m.plain);
    canon.set(m.plain, m.canon);
    memos.set(m.plain, m);
  }
  const nsKey = snap.namespaces ? snap.namespaces.map((n) => `${n.name}\u0000${JSON.stringify(n.labels ?? {})}`).join('\n') : '\u0000unknown';
  const topoNs = new Set(topo.namespaces);
  const want = expectedForms(cache, expected, topoNs);
  const wantCanon = want.forms;

  const { results, claimed } = matchPolicies(expected, want, inStack, canon, (p) => memos.get(p)!.base);
  const extraPolicies = inStack.filter((p) => !claimed.has(p));
  const extra = extraPolicies.map((p) => ({ name: nameOf(p), namespace: nsOf(p) }));

  // Rule-level findings on every live policy in the stack's namespaces.
  const selects: SelectorCheck | null = snap.namespaces ? namespaceSelectorCheck(snap.namespaces) : null;
  const findings: RuleFinding[] = [];
  const findingsOf = new Map<NetworkPolicy, RuleFinding[]>();
  for (const p of inStack) {
    const i = claimed.get(p);
    const e = i === undefined ? undefined : expected.policies[i];
    const m = memos.get(p)!;
    if (m.findingsFor !== nsKey) {
      m.findings = ruleFindings(p, canon.get(p)!, selects);
      m.findingsFor = nsKey;
    }
    // Copies: the lines of the expected file are added below, per run.
    const fs = m.findings!.map((f) => ({ ...f }));
    if (e?.origin) for (const f of fs) Object.assign(f, lineFor(f, e));
    if (fs.length) findingsOf.set(p, fs);
    findings.push(...fs);
  }
  findings.sort((a, b) => RANK[a.severity] - RANK[b.severity]);

  const { score, terms } = lightScore(results, claimed, extraPolicies, findingsOf);

  const count = (s: PolicyStatus) => results.filter((r) => r.status === s).length;
  const categories = Object.fromEntries(CATEGORIES.map((c) => [c, { expected: 0, found: 0 }])) as LightReport['results']['categories'];
  for (const r of results) {
    categories[r.category].expected++;
    if (isFound(r.status)) categories[r.category].found++;
  }
  const missing_by_namespace: LightReport['results']['missing_by_namespace'] = Object.create(null);
  for (const r of results) {
    if (r.status !== 'missing' && r.status !== 'drifted') continue;
    (missing_by_namespace[r.namespace] ??= []).push({ name: r.name, status: r.status });
  }

  const live = snap.namespaces ? { engine: typeof engine === 'function' ? engine : () => engine, policies: snap.policies, nsKey } : null;
  const { links, linkFindings } = linkCoverage(cache, topo, expected, wantCanon, results, live);
  const empty: EmptySelector[] = findings
    .filter((f) => f.kind === 'selector-matches-nothing')
    .map((f) => {
      const p = inStack.find((x) => nameOf(x) === f.policy && nsOf(x) === f.namespace)!;
      const r = rules(p.spec, f.direction)[f.rule!];
      return { policy: f.policy, namespace: f.namespace, direction: f.direction, selector: r.peers![f.peer!].namespaceSelector!, message: f.message };
    });
  const known = snap.namespaces ? new Set(snap.namespaces.map((n) => n.name)) : null;
  const bySeverity = Object.fromEntries(SEVERITIES.map((s) => [s, 0])) as Record<Severity, number>;
  for (const f of findings) bySeverity[f.severity]++;

  return {
    score,
    summary: {
      expected: results.length,
      found: count('found'),
      renamed: count('renamed'),
      drifted: count('drifted'),
      missing: count('missing'),
      extra: extra.length,
      rule_findings: bySeverity,
      empty_selectors: empty.length,
      links: links.length,
      links_bidirectional: links.filter((l) => l.bidirectional).length,
      links_allowed_live: snap.namespaces ? links.filter((l) => l.live?.allowed).length : null,
      links_not_generated: linkFindings.length,
      stack_namespaces: topo.namespaces.length,
      namespaces_missing: known ? topo.namespaces.filter((n) => !known.has(n)) : [],
      unknown_types: (expected.unknownTypes ?? []).map((u) => u.type),
    },
    results: {
      expected: results,
      extra,
      missing_by_namespace,
      categories,
      rule_findings: findings,
      links,
      link_findings: linkFindings,
      empty_selectors: empty,
      score_terms: terms,
    },
  };
}
