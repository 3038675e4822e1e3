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
import { baseName, CATEGORIES, type Category, type ExpectedSet } from '../../../lib/topology/expected.ts';
import type { Topology } from '../../../lib/topology/types.ts';
import { NetworkScanCache, type ExpectedForms, type PolicyMemo } from '../cache.ts';
import type { PolicyEngine } from '../engine.ts';
import { canonical, expectedCanonical, nameOf, nsOf, plainPolicy, rules } from './canonical.ts';
import { isFound, matchNamespace, type NamespaceExpected, type NamespaceUnit } from './match.ts';
import { linkCoverage } from './links.ts';
import { lineFor, RANK, ruleFindings, worst, type SelectorCheck } from './rules.ts';
import { foundValue, lightScore } from './score.ts';
import { SEVERITIES, type ClusterSnapshot, type EmptySelector, type LightReport, type PolicyStatus, type RuleFinding, type Severity } from './types.ts';

/**
 * The plain copy and canonical form of a live policy, kept per uid for its resourceVersion (both from
 * the snapshot's index; uid '' for an object without a server identity, never kept).
 */
function policyMemo(cache: NetworkScanCache, raw: NetworkPolicy, uid: string, resourceVersion: string): PolicyMemo {
  const hit = uid ? cache.policies.get(uid) : undefined;
  if (hit && hit.resourceVersion === resourceVersion) return hit;
  const plain = plainPolicy(raw);
  const m: PolicyMemo = { plain, canon: canonical(plain.spec, nsOf(plain)), base: baseName(nameOf(plain)) };
  return uid ? cache.keep(cache.policies, uid, Object.assign(m, { uid, resourceVersion })) : m;
}

/** The expected set's canonical forms and same-name groups, computed once per expected set (one file version). */
function expectedForms(cache: NetworkScanCache, expected: ExpectedSet, topoNs: ReadonlySet<string>): ExpectedForms {
  const topo = [...topoNs].join('\n');
  const hit = cache.forms.get(expected);
  if (hit && hit.topo === topo) return hit;
  const byNamespace = new Map<string, NamespaceExpected>();
  expected.policies.forEach((e, i) => {
    let ns = byNamespace.get(e.namespace);
    if (!ns) byNamespace.set(e.namespace, (ns = { indices: [], byName: new Map() }));
    ns.indices.push(i);
    const k = `${e.namespace}/${baseName(e.name)}`;
    const list = ns.byName.get(k);
    if (list) list.push(i);
    else ns.byName.set(k, [i]);
  });
  const stackNamespaces = new Set(topoNs);
  for (const e of expected.policies) stackNamespaces.add(e.namespace);
  const forms: ExpectedForms = {
    topo,
    stackNamespaces,
    forms: expected.policies.map((e) => expectedCanonical(e, topoNs)),
    byNamespace,
    units: new Map(),
    results: new Array(expected.policies.length),
    written: new Map(),
  };
  cache.forms.set(expected, forms);
  return forms;
}

function judgeNamespace(
  expected: ExpectedSet,
  want: ExpectedForms,
  ns: string,
  live: readonly PolicyMemo[],
  nsKey: string,
  selects: SelectorCheck | null,
): NamespaceUnit {
  const memos = new Map(live.map((m) => [m.plain, m]));
  const canon = new Map(live.map((m) => [m.plain, m.canon]));
  const { results, claimed } = matchNamespace(
    expected,
    want.forms,
    want.byNamespace.get(ns) ?? NO_EXPECTED,
    live.map((m) => m.plain),
    canon,
    (p) => memos.get(p)!.base,
  );
  const findingsOf = new Map<NetworkPolicy, RuleFinding[]>();
  for (const m of live) {
    const p = m.plain;
    const i = claimed.get(p);
    const e = i === undefined ? undefined : expected.policies[i];
    if (m.findingsFor !== nsKey) {
      m.findings = ruleFindings(p, m.canon, selects);
      m.findingsFor = nsKey;
    }
    // Copies: the lines of the expected file are added here, per expected policy.
    const fs = m.findings!.map((f) => ({ ...f }));
    if (e?.origin) for (const f of fs) Object.assign(f, lineFor(f, e));
    if (fs.length) findingsOf.set(p, fs);
  }
  const worstOf = new Map<number, Severity | 'none'>();
  for (const [p, i] of claimed) worstOf.set(i, worst(findingsOf.get(p) ?? []));
  const counts: Record<PolicyStatus, number> = { found: 0, renamed: 0, drifted: 0, missing: 0 };
  const categories = new Map<Category, { expected: number; found: number }>();
  let missing: NamespaceUnit['missing'];
  for (const [i, r] of results) {
    counts[r.status]++;
    let c = categories.get(r.category);
    if (!c) categories.set(r.category, (c = { expected: 0, found: 0 }));
    c.expected++;
    if (isFound(r.status)) c.found++;
    if (r.status === 'missing' || r.status === 'drifted') (missing ??= { first: i, list: [] }).list.push({ name: r.name, status: r.status });
  }
  const value = foundValue(results, (i) => worstOf.get(i) ?? 'none');
  return { results, claimed, findingsOf, worstOf, value, counts, categories, missing };
}

const NO_EXPECTED: NamespaceExpected = { indices: [], byName: new Map() };

/**
 * A namespace's unit, kept per expected set (and topology) while the versions of the namespace's
 * live policies and the namespaces' labels are unchanged; a namespace holding a policy without a
 * server identity is judged each time.
 */
function namespaceUnit(want: ExpectedForms, ns: string, live: readonly PolicyMemo[], nsKeyId: number, judge: () => NamespaceUnit): NamespaceUnit {
  // The memos are the cache's, one object per policy version (policyMemo): the same objects in the
  // same order are the same versions.
  const hit = want.units.get(ns);
  if (hit && hit.nsKeyId === nsKeyId && hit.live.length === live.length && hit.live.every((m, j) => m === live[j])) return hit.unit;
  const unit = judge();
  if (live.every((m) => m.uid !== undefined)) want.units.set(ns, { nsKeyId, live, unit });
  else want.units.delete(ns);
  return unit;
}

/**
 * @param engine a PolicyEngine over `snap` (full mode's, shared with the probe plan); without one,
 *   the link verdicts not kept in the cache are evaluated by an engine over their namespaces only.
 * @param cache the scan's cache; without one, nothing is kept between calls.
 */
export function judgeLight(topo: Topology, expected: ExpectedSet, snap: ClusterSnapshot, engine?: PolicyEngine, cache = new NetworkScanCache()): LightReport {
  const topoNs = new Set(topo.namespaces);
  const want = expectedForms(cache, expected, topoNs);
  const stackNs = want.stackNamespaces;
  // The live policies in the stack's namespaces, in snapshot order, as the cache's memos (plain copy,
  // canonical form), and per namespace (with the objects as read, for the engine).
  const index = cache.index(snap);
  const inStack: PolicyMemo[] = [];
  const inStackNs: string[] = [];
  const liveByNs = new Map<string, { memos: PolicyMemo[]; raws: NetworkPolicy[] }>();
  /** The policy at `i` of the snapshot, added to its namespace's group; its memo. */
  const addLive = (i: number, ns: string): PolicyMemo => {
    const m = policyMemo(cache, snap.policies[i], index.uids[i], index.versions[i]);
    let group = liveByNs.get(ns);
    if (!group) liveByNs.set(ns, (group = { memos: [], raws: [] }));
    group.memos.push(m);
    group.raws.push(snap.policies[i]);
    return m;
  };
  for (let i = 0; i < snap.policies.length; i++) {
    const ns = index.namespaces[i];
    if (!stackNs.has(ns)) continue;
    inStack.push(addLive(i, ns));
    inStackNs.push(ns);
  }
  const nsKey = index.nsKey;

  // Each namespace judged on its own (matching and rule findings), reused while its live policies'
  // versions and the namespaces' labels are unchanged.
  const selects: SelectorCheck | null = snap.namespaces ? namespaceSelectorCheck(snap.namespaces) : null;
  const nsKeyId = cache.versionId(`labels\u0000${nsKey}`);
  const units = new Map<string, NamespaceUnit>();
  for (const ns of stackNs) {
    const live = liveByNs.get(ns)?.memos ?? [];
    const unit = namespaceUnit(want, ns, live, nsKeyId, () => judgeNamespace(expected, want, ns, live, nsKey, selects));
    units.set(ns, unit);
    // The expected results, patched where a namespace's judgement changed; each report gets a copy.
    if (want.written.get(ns) !== unit) {
      for (const [i, r] of unit.results) want.results[i] = r;
      want.written.set(ns, unit);
    }
  }
  const results = want.results.slice();
  // The live policies no expected one claimed, and the rule-level findings on every live policy in
  // the stack's namespaces, in snapshot order (findings worst first).
  const extraPolicies: { m: PolicyMemo; unit: NamespaceUnit }[] = [];
  const findings: RuleFinding[] = [];
  for (let j = 0; j < inStack.length; j++) {
    const m = inStack[j];
    const unit = units.get(inStackNs[j])!;
    if (!unit.claimed.has(m.plain)) extraPolicies.push({ m, unit });
    const fs = unit.findingsOf.get(m.plain);
    if (fs) for (const f of fs) findings.push(f);
  }
  const extra = extraPolicies.map(({ m }) => ({ name: nameOf(m.plain), namespace: nsOf(m.plain) }));
  findings.sort((a, b) => RANK[a.severity] - RANK[b.severity]);

  // The summary, added up from the namespaces' parts (missing ones in the order of their first index).
  let value = 0;
  const counts: Record<PolicyStatus, number> = { found: 0, renamed: 0, drifted: 0, missing: 0 };
  const categories = Object.fromEntries(CATEGORIES.map((c) => [c, { expected: 0, found: 0 }])) as LightReport['results']['categories'];
  const withMissing: NonNullable<NamespaceUnit['missing']>[] = [];
  const nsOfMissing = new Map<object, string>();
  for (const [ns, u] of units) {
    value += u.value;
    for (const k of ['found', 'renamed', 'drifted', 'missing'] as const) counts[k] += u.counts[k];
    for (const [c, n] of u.categories) {
      categories[c].expected += n.expected;
      categories[c].found += n.found;
    }
    if (u.missing) {
      withMissing.push(u.missing);
      nsOfMissing.set(u.missing, ns);
    }
  }
  const missing_by_namespace: LightReport['results']['missing_by_namespace'] = Object.create(null);
  for (const m of withMissing.sort((a, b) => a.first - b.first)) missing_by_namespace[nsOfMissing.get(m)!] = m.list.slice();
  const { score, terms } = lightScore(
    results.length,
    value,
    extraPolicies.map(({ m, unit }) => worst(unit.findingsOf.get(m.plain) ?? [])),
  );

  // Link ends are stack namespaces (a component's namespace is the topology's); one that is not (a
  // topology made by hand) has its policies read from the snapshot, in snapshot order, when asked.
  const outside = new Set<string>();
  const ofNamespace = (ns: string) => {
    if (!stackNs.has(ns) && !outside.has(ns)) {
      outside.add(ns);
      for (let i = 0; i < snap.policies.length; i++) if (index.namespaces[i] === ns) addLive(i, ns);
    }
    return liveByNs.get(ns);
  };
  const live = snap.namespaces ? { engine, namespaces: snap.namespaces, ofNamespace } : null;
  const { links, linkFindings } = linkCoverage(cache, topo, expected, want.forms, results, live, {
    labels: nsKeyId,
    unitOf: (ns) => (want.units.get(ns)?.unit === units.get(ns) ? units.get(ns) : undefined),
  });
  const empty: EmptySelector[] = findings
    .filter((f) => f.kind === 'selector-matches-nothing')
    .map((f) => {
      const p = inStack.find((x) => nameOf(x.plain) === f.policy && nsOf(x.plain) === f.namespace)!.plain;
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
      found: counts.found,
      renamed: counts.renamed,
      drifted: counts.drifted,
      missing: counts.missing,
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
