/**
 * The network scan's one cache, owned by the scan (each `networkScan()` definition makes one and
 * hands it to the judgement and the engine): what is derived from inputs that did not change since
 * the last scan is not derived again. Nothing else in the network scan keeps state between scans.
 *
 *   per policy version (uid + resourceVersion)
 *     policies      the light judgement's plain copy, canonical form and rule findings of a live policy
 *     compiled      the policy compiled for the PolicyEngine
 *     linkVerdicts  the engine's verdict on a link, per version of the policies of its two
 *                   namespaces and of every namespace's labels (versionId interns those versions)
 *   per expected set (one version of the input files: lib/topology hands out the same object)
 *     forms         the expected policies' canonical forms and same-name groups, per namespace, and
 *                   each namespace's judgement while its live policies are unchanged
 *     linkSides     per topology, each link's candidate expected policies (link coverage)
 *     judgements    the whole light report, per identity of the live objects (snapshotKey)
 *   per report entry (an expected result, rule finding or link coverage: the judgement hands back the
 *   same object while what it was made from is unchanged)
 *     checks        the entry as a check (checks.ts), for OpenReports and `changes` after each run
 *
 * Objects without a server identity (not read from an API server) are never kept per version.
 * Bounded: at most POLICY_MAX entries per policy-version table (cleared when full), at most
 * JUDGEMENTS_MAX reports per expected set; the per-expected-set entries go with their expected set.
 */
import { createHash } from 'node:crypto';
import type { NetworkPolicy } from '../../lib/k8s/networkpolicy.ts';
import type { ExpectedSet } from '../../lib/topology/expected.ts';
import type { CheckMemo } from './checks.ts';
import type { CompiledEntry } from './engine.ts';
import type { Canonical } from './light/canonical.ts';
import type { NamespaceExpected, NamespaceUnit } from './light/match.ts';
import type { ClusterSnapshot, ExpectedResult, LightReport, LinkCoverage, LinkFinding, RuleFinding } from './light/types.ts';

/** What the light judgement derives from one live policy alone. */
export interface PolicyMemo {
  plain: NetworkPolicy;
  canon: Canonical;
  /** The name without Stacktic's `--nrNN` suffix. */
  base: string;
  /** Read with a server identity (uid, resourceVersion): kept in the cache, one object per version. */
  versioned: boolean;
  /** Rule findings depend on the namespaces' labels too: kept with the namespaces they were computed for. */
  findings?: RuleFinding[];
  findingsFor?: string;
}

/**
 * The expected set's canonical forms and, per namespace, its expected policies and same-name
 * groups; and the namespaces' judgements (light/index.ts), kept while their live policies (the
 * plain copies of `policies`, one object per version) and the namespaces' labels are unchanged.
 */
export interface ExpectedForms {
  topo: string;
  forms: Canonical[];
  byNamespace: Map<string, NamespaceExpected>;
  units: Map<string, { nsKeyId: number; live: readonly PolicyMemo[]; unit: NamespaceUnit }>;
  /** The expected results as of the last report, and which namespace judgement each part was written from. */
  results: ExpectedResult[];
  written: Map<string, NamespaceUnit>;
}

/**
 * Each link's candidates, per side: the expected policies whose grants allow it, in the order they
 * are weighed; and the link's last report entry (and finding), reused while its two statuses and its
 * verdict are the same.
 */
export interface LinkSides {
  egress: (readonly number[])[];
  ingress: (readonly number[])[];
  last: ({ egress: string; ingress: string; verdict: LiveVerdict | undefined; cov: LinkCoverage; finding: LinkFinding | undefined } | undefined)[];
  /** The namespaces' judgements and the labels' version `last` was made from. */
  lastUnits: Map<string, object | undefined>;
  lastLabels: number | undefined;
}

/** The engine's verdict on a link, as the report gives it. */
export type LiveVerdict = NonNullable<LinkCoverage['live']>;

/** `uid/resourceVersion`, or undefined for an object without a server identity. */
export function versionKey(p: NetworkPolicy): string | undefined {
  const m = p.metadata;
  return m?.uid && m.resourceVersion ? `${m.uid}/${m.resourceVersion}` : undefined;
}

/** The live objects' identity: every namespace (name, labels) and policy (uid, resourceVersion), hashed. */
export function snapshotKey(snap: ClusterSnapshot): string {
  // One string hashed at once (the same digest as hashing its parts in turn, without a call per object).
  const parts: string[] = [];
  for (const n of snap.namespaces ?? []) parts.push(`n\0${n.name}\0${JSON.stringify(n.labels ?? {})}\n`);
  if (snap.namespaces === null) parts.push('namespaces unknown\n');
  for (const p of snap.policies) {
    const m = p.metadata;
    // Objects without a server identity (not from an API server) are keyed by their content.
    parts.push(m?.uid && m.resourceVersion ? `p\0${m.uid}\0${m.resourceVersion}\n` : `p\0${JSON.stringify(p)}\n`);
  }
  return createHash('sha256').update(parts.join('')).digest('hex');
}

export class NetworkScanCache {
  static readonly POLICY_MAX = 50_000;
  static readonly JUDGEMENTS_MAX = 4;

  readonly policies = new Map<string, PolicyMemo>();
  readonly compiled = new Map<string, CompiledEntry>();
  readonly linkVerdicts = new Map<string, LiveVerdict>();
  readonly forms = new WeakMap<ExpectedSet, ExpectedForms>();
  readonly linkSides = new WeakMap<readonly Canonical[], WeakMap<object, LinkSides>>();
  readonly checks: CheckMemo = new WeakMap();
  private readonly judgements = new WeakMap<object, Map<string, LightReport>>();
  private readonly versionIds = new Map<string, number>();
  private nextVersionId = 0;

  /** A short id for a version string; ids are never reused (the table is cleared when full, the counter is not). */
  versionId(version: string): number {
    let id = this.versionIds.get(version);
    if (id === undefined) id = this.keep(this.versionIds, version, this.nextVersionId++);
    return id;
  }

  /** Keeps `value` under `key` in a per-policy-version table, clearing the table when it is full. */
  keep<V>(table: Map<string, V>, key: string, value: V): V {
    if (table.size >= NetworkScanCache.POLICY_MAX) table.clear();
    table.set(key, value);
    return value;
  }

  /** The light report, reused while the expected set (same file version) and the live objects are unchanged. */
  judgement(expected: object, snap: ClusterSnapshot, judge: () => LightReport): { report: LightReport; cached: boolean } {
    const key = snapshotKey(snap);
    let byKey = this.judgements.get(expected);
    if (!byKey) this.judgements.set(expected, (byKey = new Map()));
    const hit = byKey.get(key);
    if (hit) return { report: hit, cached: true };
    const report = judge();
    byKey.set(key, report);
    while (byKey.size > NetworkScanCache.JUDGEMENTS_MAX) byKey.delete(byKey.keys().next().value!);
    return { report, cached: false };
  }
}
