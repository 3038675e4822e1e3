/**
 * The network scan's one cache, owned by the scan (each `networkScan()` definition makes one and
 * hands it to the judgement and the engine): what is derived from inputs that did not change since
 * the last scan is not derived again. Nothing else in the network scan keeps state between scans.
 *
 *   per policy (uid), for the last resourceVersion read
 *     policies      the light judgement's plain copy, canonical form and rule findings of a live policy
 *     compiled      the policy compiled for the PolicyEngine
 *   per version
 *     versionIds    a short id per version string (a namespace's policy versions, the labels)
 *     linkVerdicts  the engine's verdict on a link, per version of the policies of its two
 *                   namespaces and of every namespace's labels (versionId interns those versions)
 *   per expected set (one version of the input files: lib/topology hands out the same object)
 *     forms         the expected policies' canonical forms and same-name groups, per namespace, and
 *                   each namespace's judgement while its live policies are unchanged
 *     linkSides     per topology, each link's candidate expected policies (link coverage)
 *     judgements    the whole light report, per identity of the live objects (the snapshot's index:
 *                   every policy version in order, every namespace's labels)
 *   per report entry (an expected result, rule finding or link coverage: the judgement hands back the
 *   same object while what it was made from is unchanged)
 *     checks        the entry as a check (checks.ts), for OpenReports and `changes` after each run
 *
 * Objects without a server identity (not read from an API server) are never kept.
 * Bounded: at most POLICY_MAX entries per table (cleared when full), at most
 * JUDGEMENTS_MAX reports per expected set; the per-expected-set entries go with their expected set.
 */
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
  /**
   * The server identity it was read with (uid, resourceVersion): kept in the cache per uid, one object
   * per version. Both absent for an object without one (never kept).
   */
  uid?: string;
  resourceVersion?: string;
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
  /** The topology's namespaces and those of the expected policies. */
  stackNamespaces: ReadonlySet<string>;
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
  /** The namespaces at either end of a link. */
  ends: readonly string[];
  last: ({ egress: string; ingress: string; verdict: LiveVerdict | undefined; cov: LinkCoverage; finding: LinkFinding | undefined } | undefined)[];
  /** The namespaces' judgements and the labels' version `last` was made from. */
  lastUnits: Map<string, object | undefined>;
  lastLabels: number | undefined;
}

/** The engine's verdict on a link, as the report gives it. */
export type LiveVerdict = NonNullable<LinkCoverage['live']>;

/**
 * What the judgement reads of a snapshot's identity, worked out once per snapshot (every part of
 * the judgement asks the cache for it): each policy's uid, resourceVersion and namespace, and the
 * namespaces' names and labels as one string. The strings are those of the objects as read (no
 * string is built per policy).
 */
export interface SnapshotIndex {
  /** Per policy, in snapshot order: its uid, or '' for an object without a server identity (not read from an API server). */
  uids: string[];
  /** Per policy: its resourceVersion; without a server identity, a NUL and its content, so that it is known by what it says. */
  versions: string[];
  /** Per policy: its namespace. */
  namespaces: string[];
  /** Every namespace's name and labels, one line each ('\0unknown' when they could not be listed). */
  nsKey: string;
}

function indexSnapshot(snap: ClusterSnapshot): SnapshotIndex {
  const n = snap.policies.length;
  const uids = new Array<string>(n);
  const versions = new Array<string>(n);
  const namespaces = new Array<string>(n);
  for (let i = 0; i < n; i++) {
    const p = snap.policies[i];
    const m = p.metadata;
    const known = !!(m?.uid && m.resourceVersion);
    uids[i] = known ? m!.uid! : '';
    versions[i] = known ? m!.resourceVersion! : `\0${JSON.stringify(p)}`;
    namespaces[i] = m?.namespace ?? 'default';
  }
  const nsKey = snap.namespaces ? snap.namespaces.map((x) => `${x.name}\u0000${JSON.stringify(x.labels ?? {})}`).join('\n') : '\u0000unknown';
  return { uids, versions, namespaces, nsKey };
}

/** The same live objects: the same namespaces (names, labels) and the same policy versions in the same order. */
function sameObjects(a: SnapshotIndex, b: SnapshotIndex): boolean {
  if (a.nsKey !== b.nsKey || a.uids.length !== b.uids.length) return false;
  for (let i = 0; i < a.uids.length; i++) if (a.versions[i] !== b.versions[i] || a.uids[i] !== b.uids[i]) return false;
  return true;
}

export class NetworkScanCache {
  static readonly POLICY_MAX = 50_000;
  static readonly JUDGEMENTS_MAX = 4;

  readonly policies = new Map<string, PolicyMemo>();
  readonly compiled = new Map<string, { resourceVersion: string; entry: CompiledEntry }>();
  readonly linkVerdicts = new Map<string, LiveVerdict>();
  readonly forms = new WeakMap<ExpectedSet, ExpectedForms>();
  readonly linkSides = new WeakMap<readonly Canonical[], WeakMap<object, LinkSides>>();
  readonly checks: CheckMemo = new WeakMap();
  private readonly judgements = new WeakMap<object, { index: SnapshotIndex; report: LightReport }[]>();
  private readonly indexes = new WeakMap<ClusterSnapshot, SnapshotIndex>();
  private readonly versionIds = new Map<string, number>();
  private nextVersionId = 0;

  /** A short id for a version string; ids are never reused (the table is cleared when full, the counter is not). */
  versionId(version: string): number {
    let id = this.versionIds.get(version);
    if (id === undefined) id = this.keep(this.versionIds, version, this.nextVersionId++);
    return id;
  }

  /** Keeps `value` under `key` in a per-policy or per-version table, clearing the table when it is full. */
  keep<V>(table: Map<string, V>, key: string, value: V): V {
    if (table.size >= NetworkScanCache.POLICY_MAX) table.clear();
    table.set(key, value);
    return value;
  }

  /** The snapshot's index, worked out on the first call for that snapshot object. */
  index(snap: ClusterSnapshot): SnapshotIndex {
    let index = this.indexes.get(snap);
    if (!index) this.indexes.set(snap, (index = indexSnapshot(snap)));
    return index;
  }

  /** The light report, reused while the expected set (same file version) and the live objects are unchanged. */
  judgement(expected: object, snap: ClusterSnapshot, judge: () => LightReport): { report: LightReport; cached: boolean } {
    const index = this.index(snap);
    let kept = this.judgements.get(expected);
    if (!kept) this.judgements.set(expected, (kept = []));
    const hit = kept.find((k) => sameObjects(k.index, index));
    if (hit) return { report: hit.report, cached: true };
    const report = judge();
    kept.push({ index, report });
    if (kept.length > NetworkScanCache.JUDGEMENTS_MAX) kept.shift();
    return { report, cached: false };
  }
}
