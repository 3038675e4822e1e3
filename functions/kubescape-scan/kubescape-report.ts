/**
 * kubescape's JSON v2 report (pure, no I/O): `parseKubescapeReport` (JSON v2 -> typed
 * report, every id-keyed table in a Map), `controlComplianceScore` /
 * `frameworkComplianceScore` (kubescape's own scoring, opa-utils score.go, in float32 as
 * kubescape computes it), `splitByNamespace` (per-namespace framework scores from one
 * multi-namespace report, reproducing what `--include-namespaces <ns>` reports).
 *
 * Why this file is long: the report format and kubescape's scoring rules are read and
 * reproduced in one place, so that every score the scan reports can be checked against
 * kubescape's own on recorded real reports (test/unit/kubescape-parse.test.ts).
 */

// ------------------------------------------------------------------ types

export type KsStatus = 'passed' | 'failed' | 'skipped' | 'excluded' | 'irrelevant' | 'unknown';
export type Severity = 'critical' | 'high' | 'medium' | 'low' | 'unknown';

export interface KsCounters {
  passed: number;
  failed: number;
  skipped: number;
  excluded: number;
}

export interface KsControlSummary {
  id: string;
  name: string;
  status: KsStatus;
  subStatus: string | null;
  /** What kubescape says about a skipped control (e.g. "requires the Kubescape operator"). */
  info: string | null;
  complianceScore: number;
  scoreFactor: number;
  severity: Severity;
  counters: KsCounters;
  category: string | null;
}

export interface KsFramework {
  name: string;
  complianceScore: number;
  /** Control ids of this framework, as listed in the report. */
  controls: Map<string, KsControlSummary>;
}

export interface KsObjectRef {
  apiVersion: string;
  kind: string;
  namespace: string | null;
  name: string;
}

export interface KsResource extends KsObjectRef {
  id: string;
  labels: Map<string, string>;
  /**
   * For RBAC relations (subject + role + binding): the role and binding. The
   * resource itself is then the subject (ServiceAccount, User, Group).
   */
  related: KsObjectRef[];
  /** The pod template's containers (`containers`, `initContainers`) and volumes by name, in order: a failed path's `containers[0]` is a name here. */
  pod?: { containers: string[]; initContainers: string[]; volumes: string[] };
}

export interface KsPath {
  failedPath?: string;
  fixPath?: { path: string; value: string };
  deletePath?: string;
  reviewPath?: string;
  fixCommand?: string;
  resourceId?: string;
}

export interface KsRuleResult {
  name: string;
  status: KsStatus;
  paths: KsPath[];
}

export interface KsControlResult {
  controlId: string;
  name: string;
  status: KsStatus;
  subStatus: string | null;
  rules: KsRuleResult[];
}

export interface KsReport {
  kubescapeVersion: string | null;
  formatVersion: string | null;
  frameworks: KsFramework[];
  /** Every control of the scan (union over frameworks). */
  controls: Map<string, KsControlSummary>;
  resources: Map<string, KsResource>;
  /** resource id -> its per-control results. */
  results: Map<string, KsControlResult[]>;
  /** kubescape's own count of resources per namespace (`metadata.targetMetadata`), when present. */
  namespaceResourceCounts: Map<string, number>;
  /** kubescape's overall compliance score over all controls of the scan. */
  complianceScore: number;
}

/** A report that is not kubescape's JSON v2: names the path inside the document. */
export class KubescapeReportError extends Error {
  constructor(
    readonly path: string,
    message: string,
  ) {
    super(`${path}: ${message}`);
    this.name = 'KubescapeReportError';
  }
}

// ------------------------------------------------------------------ parsing (pure)

type Obj = Record<string, unknown>;
const isObj = (x: unknown): x is Obj => typeof x === 'object' && x !== null && !Array.isArray(x);

function obj(x: unknown, path: string): Obj {
  if (!isObj(x)) throw new KubescapeReportError(path, `expected an object, got ${x === null ? 'null' : Array.isArray(x) ? 'an array' : typeof x}`);
  return x;
}
function arr(x: unknown, path: string): unknown[] {
  if (x === null || x === undefined) return [];
  if (!Array.isArray(x)) throw new KubescapeReportError(path, `expected an array, got ${typeof x}`);
  return x;
}
function num(x: unknown, path: string, fallback?: number): number {
  if (typeof x === 'number' && Number.isFinite(x)) return x;
  if (x === undefined && fallback !== undefined) return fallback;
  throw new KubescapeReportError(path, `expected a number, got ${JSON.stringify(x)?.slice(0, 40)}`);
}
function str(x: unknown): string | null {
  return typeof x === 'string' && x !== '' ? x : null;
}
function status(x: unknown): KsStatus {
  const s = typeof x === 'string' ? x : isObj(x) && typeof x.status === 'string' ? x.status : '';
  return (['passed', 'failed', 'skipped', 'excluded', 'irrelevant'] as const).includes(s as never) ? (s as KsStatus) : 'unknown';
}

/** kubescape's severity of a control from its base score (opa-utils apis/severity.go). */
export function severityOf(scoreFactor: number): Severity {
  if (scoreFactor >= 9) return 'critical';
  if (scoreFactor >= 7) return 'high';
  if (scoreFactor >= 4) return 'medium';
  if (scoreFactor >= 1) return 'low';
  return 'unknown';
}

function counters(x: unknown, path: string): KsCounters {
  const o = isObj(x) ? x : {};
  return {
    passed: num(o.passedResources, `${path}.passedResources`, 0),
    failed: num(o.failedResources, `${path}.failedResources`, 0),
    skipped: num(o.skippedResources, `${path}.skippedResources`, 0),
    excluded: num(o.excludedResources, `${path}.excludedResources`, 0),
  };
}

function controlSummary(id: string, x: unknown, path: string): KsControlSummary {
  const c = obj(x, path);
  const info = isObj(c.statusInfo) ? c.statusInfo : {};
  const scoreFactor = num(c.scoreFactor, `${path}.scoreFactor`, 0);
  const cat = isObj(c.category) ? str(c.category.name) : null;
  return {
    id: str(c.controlID) ?? id,
    name: str(c.name) ?? id,
    status: status(c.status ?? info.status),
    subStatus: str(info.subStatus),
    info: str(info.info),
    complianceScore: num(c.complianceScore, `${path}.complianceScore`, 0),
    scoreFactor,
    // kubescape v3.0.48 writes the severity; older reports (the v3.0.1 sample) only the base score.
    severity:
      typeof c.severity === 'string' && ['critical', 'high', 'medium', 'low'].includes(c.severity.toLowerCase())
        ? (c.severity.toLowerCase() as Severity)
        : severityOf(scoreFactor),
    counters: counters(c.ResourceCounters, `${path}.ResourceCounters`),
    category: cat,
  };
}

function controlMap(x: unknown, path: string): Map<string, KsControlSummary> {
  const out = new Map<string, KsControlSummary>();
  if (x === undefined || x === null) return out;
  for (const [id, c] of Object.entries(obj(x, path))) out.set(id, controlSummary(id, c, `${path}.${id}`));
  return out;
}

function objectRef(o: Obj): KsObjectRef {
  const meta = isObj(o.metadata) ? o.metadata : {};
  return {
    apiVersion: str(o.apiVersion) ?? '',
    kind: str(o.kind) ?? '',
    namespace: str(o.namespace) ?? str(meta.namespace),
    name: str(o.name) ?? str(meta.name) ?? '',
  };
}

/** Names in a workload's pod spec (Pod, a template, or a CronJob's job template). */
function podOf(o: Obj): KsResource['pod'] | undefined {
  let spec: unknown = o.spec;
  for (const step of ['jobTemplate', 'template'])
    if (isObj(spec) && isObj(spec[step])) spec = isObj((spec[step] as Obj).spec) ? (spec[step] as Obj).spec : undefined;
  if (!isObj(spec) || !Array.isArray(spec.containers)) return undefined;
  const names = (xs: unknown) => (Array.isArray(xs) ? xs.map((c) => (isObj(c) ? (str(c.name) ?? '') : '')) : []);
  return { containers: names(spec.containers), initContainers: names(spec.initContainers), volumes: names(spec.volumes) };
}

function resource(x: unknown, path: string): KsResource {
  const r = obj(x, path);
  const id = str(r.resourceID);
  if (!id) throw new KubescapeReportError(`${path}.resourceID`, 'missing');
  const o = isObj(r.object) ? r.object : {};
  const meta = isObj(o.metadata) ? o.metadata : {};
  const labels = new Map<string, string>();
  if (isObj(meta.labels)) for (const [k, v] of Object.entries(meta.labels)) if (typeof v === 'string') labels.set(k, v);
  // RBAC relations carry their role and binding in relatedObjects (an array);
  // workloads may carry one related object (e.g. their Service) as an object.
  const related = Array.isArray(o.relatedObjects) ? o.relatedObjects.filter(isObj).map(objectRef) : [];
  const ref = objectRef(o);
  if (!ref.kind || !ref.name) {
    // Fall back to the id: group/version/namespace/kind/name.
    const parts = id.split('/');
    if (parts.length >= 5) {
      ref.kind ||= parts[3];
      ref.name ||= parts.slice(4).join('/');
      ref.namespace ??= parts[2] || null;
    }
  }
  const pod = podOf(o);
  return { id, ...ref, labels, related, ...(pod ? { pod } : {}) };
}

function pathEntry(x: unknown): KsPath | null {
  if (!isObj(x)) return null;
  const p: KsPath = {};
  if (str(x.failedPath)) p.failedPath = x.failedPath as string;
  if (isObj(x.fixPath) && str(x.fixPath.path))
    p.fixPath = { path: x.fixPath.path as string, value: typeof x.fixPath.value === 'string' ? x.fixPath.value : JSON.stringify(x.fixPath.value) };
  if (str(x.deletePath)) p.deletePath = x.deletePath as string;
  if (str(x.reviewPath)) p.reviewPath = x.reviewPath as string;
  if (str(x.fixCommand)) p.fixCommand = x.fixCommand as string;
  if (str(x.resourceID)) p.resourceId = x.resourceID as string;
  return Object.keys(p).length ? p : null;
}

function controlResult(x: unknown, path: string): KsControlResult {
  const c = obj(x, path);
  const id = str(c.controlID);
  if (!id) throw new KubescapeReportError(`${path}.controlID`, 'missing');
  const st = isObj(c.status) ? c.status : {};
  return {
    controlId: id,
    name: str(c.name) ?? id,
    status: status(c.status),
    subStatus: str(st.subStatus),
    rules: arr(c.rules, `${path}.rules`)
      .filter(isObj)
      .map((r) => ({
        name: str(r.name) ?? '',
        status: status(r.status),
        paths: arr(r.paths, `${path}.rules.paths`)
          .map(pathEntry)
          .filter((p): p is KsPath => p !== null),
      })),
  };
}

/**
 * Reads kubescape's JSON v2 report (`--format json`, formatVersion v2). Throws
 * KubescapeReportError naming the offending path when the document is not one.
 */
export function parseKubescapeReport(json: unknown): KsReport {
  const root = obj(json, '(root)');
  const sd = obj(root.summaryDetails, 'summaryDetails');
  const frameworks = arr(sd.frameworks, 'summaryDetails.frameworks').map((f, i) => {
    const fo = obj(f, `summaryDetails.frameworks[${i}]`);
    const name = str(fo.name);
    if (!name) throw new KubescapeReportError(`summaryDetails.frameworks[${i}].name`, 'missing');
    return {
      name,
      complianceScore: num(fo.complianceScore, `summaryDetails.frameworks[${i}].complianceScore`),
      controls: controlMap(fo.controls, `summaryDetails.frameworks[${i}].controls`),
    };
  });
  const controls = controlMap(sd.controls, 'summaryDetails.controls');
  const resources = new Map<string, KsResource>();
  arr(root.resources, 'resources').forEach((r, i) => {
    const res = resource(r, `resources[${i}]`);
    resources.set(res.id, res);
  });
  const results = new Map<string, KsControlResult[]>();
  arr(root.results, 'results').forEach((r, i) => {
    const ro = obj(r, `results[${i}]`);
    const id = str(ro.resourceID);
    if (!id) throw new KubescapeReportError(`results[${i}].resourceID`, 'missing');
    results.set(
      id,
      arr(ro.controls, `results[${i}].controls`).map((c, j) => controlResult(c, `results[${i}].controls[${j}]`)),
    );
  });
  const meta = isObj(root.metadata) ? root.metadata : {};
  const scan = isObj(meta.scanMetadata) ? meta.scanMetadata : {};
  const target = isObj(meta.targetMetadata) ? meta.targetMetadata : {};
  const ctx = isObj(target.clusterContextMetadata) ? target.clusterContextMetadata : {};
  const nsCounts = new Map<string, number>();
  if (isObj(ctx.namespaceToNumberOfResources))
    for (const [k, v] of Object.entries(ctx.namespaceToNumberOfResources)) if (typeof v === 'number') nsCounts.set(k, v);
  return {
    kubescapeVersion: str(scan.kubescapeVersion),
    formatVersion: str(scan.formatVersion),
    frameworks,
    controls,
    resources,
    results,
    namespaceResourceCounts: nsCounts,
    complianceScore: num(sd.complianceScore, 'summaryDetails.complianceScore', 0),
  };
}

/** A framework of the report by name, case-insensitively (`nsa` finds `NSA`). */
export function findFramework(report: KsReport, name: string): KsFramework | undefined {
  return report.frameworks.find((f) => f.name.toLowerCase() === name.toLowerCase());
}

// ------------------------------------------------------------------ scoring (pure)

const f32 = Math.fround;

/**
 * kubescape's compliance score of one control (opa-utils score.go
 * GetControlComplianceScore): 100 when its status is passed, otherwise
 * passed ÷ all its resources × 100, and 0 without resources. float32 as in Go.
 */
export function controlComplianceScore(st: KsStatus, c: KsCounters): number {
  if (st === 'passed') return 100;
  const all = c.passed + c.failed + c.skipped + c.excluded;
  if (all === 0) return 0;
  return f32(f32(c.passed / all) * 100);
}

/** A control's status from its resources (opa-utils reportsummary calculateStatus). */
export function controlStatusFromCounters(c: KsCounters): KsStatus {
  if (c.failed) return 'failed';
  if (c.skipped) return 'skipped';
  return 'passed';
}

/** A framework's compliance score: the unweighted mean of its controls' scores (float32 sum). */
export function frameworkComplianceScore(controlScores: number[]): number {
  if (!controlScores.length) return 0;
  let sum = 0;
  for (const s of controlScores) sum = f32(sum + s);
  return f32(sum / controlScores.length);
}

/** Two kubescape scores are the same when they agree to 1/1000 of a point (float32 sums depend on order). */
export function sameScore(a: number | null, b: number | null): boolean {
  if (a === null || b === null) return a === b;
  return Math.abs(a - b) < 1e-3;
}

export interface NamespaceControlScore {
  id: string;
  status: KsStatus;
  counters: KsCounters;
  complianceScore: number;
}

export interface NamespaceFrameworkScore {
  framework: string;
  complianceScore: number;
  controls: NamespaceControlScore[];
}

export interface SplitOptions {
  /**
   * A failure to count as passed, as kubescape counts a resource covered by an
   * exception (our exclusions: accepted operator requirements).
   */
  treatAsPassed?: (controlId: string, resourceId: string) => boolean;
}

/**
 * The namespace a resource counts for when kubescape is run with
 * `--include-namespaces <ns>`, or null when such a run would not contain it:
 * objects without a namespace (Namespace objects themselves, Nodes, ClusterRoles
 * on their own, webhooks), and RBAC relations (subject + role + binding) whose
 * Role or RoleBinding lies in another namespace than the subject. A relation
 * through a ClusterRoleBinding or to a ClusterRole counts for its subject's
 * namespace (kubescape lists those in a per-namespace run too; verified on
 * recorded runs). A multi-namespace run joins a RoleBinding to every same-named
 * Role of any scanned namespace: those joins are never valid Kubernetes and are
 * left out.
 */
export function namespaceOfResource(r: KsResource): string | null {
  if (!r.namespace) return null;
  for (const rel of r.related) {
    if ((rel.kind === 'Role' || rel.kind === 'RoleBinding') && rel.namespace !== r.namespace) return null;
  }
  return r.namespace;
}

/** An RBAC relation Kubernetes can really have: a Role is only bound by a RoleBinding of its own namespace. */
export function validRelation(r: KsResource): boolean {
  const role = r.related.find((x) => x.kind === 'Role');
  const binding = r.related.find((x) => x.kind === 'RoleBinding' || x.kind === 'ClusterRoleBinding');
  if (role && (binding?.kind !== 'RoleBinding' || binding.namespace !== role.namespace)) return false;
  return true;
}

/** Count one resource's result for a control: a failure the caller treats as passed (an exclusion) counts as passed. */
function count(
  k: { passed: number; failed: number; skipped: number; excluded: number },
  status: KsStatus,
  controlId: string,
  rid: string,
  opts: SplitOptions,
): void {
  const st = status === 'failed' && opts.treatAsPassed?.(controlId, rid) ? 'passed' : status;
  if (st === 'failed') k.failed++;
  else if (st === 'skipped') k.skipped++;
  else if (st === 'excluded') k.excluded++;
  else k.passed++;
}

/**
 * Per-namespace framework scores from one report made with
 * `--include-namespaces ns1,ns2,…`, equal to what kubescape reports for each
 * namespace alone: each control's status and score recomputed from the results
 * of that namespace's resources only. A control kubescape skipped as a whole (no
 * resources, e.g. "requires the Kubescape operator") stays skipped.
 */
export function splitByNamespace(report: KsReport, frameworkName: string, namespaces: string[], opts: SplitOptions = {}): Map<string, NamespaceFrameworkScore> {
  const fw = findFramework(report, frameworkName);
  const out = new Map<string, NamespaceFrameworkScore>();
  if (!fw) return out;
  const wanted = new Set(namespaces);
  // control id -> namespace -> counters
  const per = new Map<string, Map<string, KsCounters>>();
  for (const [rid, ctrls] of report.results) {
    const res = report.resources.get(rid);
    const ns = res ? namespaceOfResource(res) : null;
    if (!ns || !wanted.has(ns)) continue;
    for (const c of ctrls) {
      if (!fw.controls.has(c.controlId)) continue;
      let byNs = per.get(c.controlId);
      if (!byNs) per.set(c.controlId, (byNs = new Map()));
      let k = byNs.get(ns);
      if (!k) byNs.set(ns, (k = { passed: 0, failed: 0, skipped: 0, excluded: 0 }));
      count(k, c.status, c.controlId, rid, opts);
    }
  }
  for (const ns of namespaces) {
    const controls: NamespaceControlScore[] = [];
    for (const [id, summary] of fw.controls) {
      const whole = summary.counters;
      const wholeAll = whole.passed + whole.failed + whole.skipped + whole.excluded;
      let st: KsStatus;
      let k: KsCounters;
      if (wholeAll === 0 && summary.status !== 'passed' && summary.status !== 'failed') {
        // Skipped for a reason that does not depend on resources.
        st = summary.status;
        k = { passed: 0, failed: 0, skipped: 0, excluded: 0 };
      } else {
        k = per.get(id)?.get(ns) ?? { passed: 0, failed: 0, skipped: 0, excluded: 0 };
        st = controlStatusFromCounters(k);
      }
      controls.push({ id, status: st, counters: k, complianceScore: controlComplianceScore(st, k) });
    }
    out.set(ns, { framework: fw.name, complianceScore: frameworkComplianceScore(controls.map((c) => c.complianceScore)), controls });
  }
  return out;
}

/**
 * kubescape's scoring of several namespaces together (the stack as a whole),
 * from one or more reports (a stack-wide run, or one run per namespace): every
 * control re-scored from the results of the objects of those namespaces
 * (namespaceOfResource; each object once). Equal to what a single
 * `--include-namespaces ns1,ns2,…` run reports, less kubescape's invalid joins of
 * a RoleBinding to a same-named Role of another namespace. null when no report
 * has the framework.
 */
export function combinedFrameworkScore(reports: KsReport[], frameworkName: string, namespaces: string[], opts: SplitOptions = {}): number | null {
  const fws = reports.map((r) => findFramework(r, frameworkName)).filter((f): f is KsFramework => !!f);
  if (!fws.length) return null;
  const wanted = new Set(namespaces);
  const per = new Map<string, KsCounters>();
  const seen = new Set<string>();
  for (const report of reports) {
    const fw = findFramework(report, frameworkName);
    if (!fw) continue;
    for (const [rid, ctrls] of report.results) {
      if (seen.has(rid)) continue;
      const res = report.resources.get(rid);
      const ns = res ? namespaceOfResource(res) : null;
      if (!ns || !wanted.has(ns)) continue;
      seen.add(rid);
      for (const c of ctrls) {
        if (!fw.controls.has(c.controlId)) continue;
        let k = per.get(c.controlId);
        if (!k) per.set(c.controlId, (k = { passed: 0, failed: 0, skipped: 0, excluded: 0 }));
        count(k, c.status, c.controlId, rid, opts);
      }
    }
  }
  const scores: number[] = [];
  for (const [id, summary] of fws[0].controls) {
    const anyResources = fws.some((f) => {
      const c = f.controls.get(id)?.counters;
      return !!c && c.passed + c.failed + c.skipped + c.excluded > 0;
    });
    if (!anyResources && summary.status !== 'passed' && summary.status !== 'failed') {
      scores.push(controlComplianceScore(summary.status, { passed: 0, failed: 0, skipped: 0, excluded: 0 }));
      continue;
    }
    const k = per.get(id) ?? { passed: 0, failed: 0, skipped: 0, excluded: 0 };
    scores.push(controlComplianceScore(controlStatusFromCounters(k), k));
  }
  return frameworkComplianceScore(scores);
}

/**
 * The framework scores of a report with some failures counted as passed (our
 * exclusions); with no exclusions this equals kubescape's own score.
 */
export function rescoreFramework(report: KsReport, frameworkName: string, opts: SplitOptions = {}): number | null {
  const fw = findFramework(report, frameworkName);
  if (!fw) return null;
  const scores: number[] = [];
  for (const [id, summary] of fw.controls) {
    const whole = summary.counters;
    if (whole.passed + whole.failed + whole.skipped + whole.excluded === 0) {
      scores.push(summary.complianceScore);
      continue;
    }
    const k: KsCounters = { passed: 0, failed: 0, skipped: 0, excluded: 0 };
    for (const [rid, ctrls] of report.results) {
      const c = ctrls.find((x) => x.controlId === id);
      if (!c) continue;
      let st = c.status;
      if (st === 'failed' && opts.treatAsPassed?.(id, rid)) st = 'passed';
      if (st === 'failed') k.failed++;
      else if (st === 'skipped') k.skipped++;
      else if (st === 'excluded') k.excluded++;
      else k.passed++;
    }
    scores.push(controlComplianceScore(controlStatusFromCounters(k), k));
  }
  return frameworkComplianceScore(scores);
}

export interface FailedControl {
  resourceId: string;
  controlId: string;
  paths: KsPath[];
}

/** Every failed control × resource of a report, with the paths kubescape gives. */
export function failedControls(report: KsReport): FailedControl[] {
  const out: FailedControl[] = [];
  for (const [rid, ctrls] of report.results) {
    for (const c of ctrls) {
      if (c.status !== 'failed') continue;
      out.push({ resourceId: rid, controlId: c.controlId, paths: c.rules.flatMap((r) => r.paths) });
    }
  }
  return out;
}
