/**
 * The kubescape scan's judges (pure): from kubescape reports and the stack's
 * topology to the per-namespace table (light) and the findings (full).
 *
 * Per-namespace scores are kubescape's own (opa-utils) scoring of the
 * namespace's objects, equal to a `--include-namespaces <ns>` run; the
 * "adjusted" scores count excluded failures (accepted operator requirements)
 * as passed, as kubescape counts an exception. The scan's score is the mean over
 * namespaces of (NSA adjusted + MITRE adjusted) / 2.
 *
 * Why this file is long: light and full judge the same per-namespace table; the formatter's 160-column
 * wrapping pushed it past 400 lines (a split along light/full is the next step).
 */
import type { ReportError } from '../../lib/errors.ts';
import {
  combinedFrameworkScore,
  findFramework,
  namespaceOfResource,
  splitByNamespace,
  validRelation,
  type KsPath,
  type KsReport,
  type KsResource,
  type Severity,
} from './kubescape.ts';
import type { Component, Topology } from '../../lib/topology/types.ts';
import { componentOf, indexComponents, type ComponentIndex } from './components.ts';
import { exclusionFor, namedInPaths, type ExclusionRule } from './exclusions.ts';
import { remediationFor, type Remediation } from './remediation.ts';
import { absentComponents } from './presence.ts';

export const FRAMEWORK_LABELS = { nsa: 'NSA', mitre: 'MITRE' } as const;
export type Fw = keyof typeof FRAMEWORK_LABELS;
const FWS: Fw[] = ['nsa', 'mitre'];

/** One namespace's kubescape outcome: the report that holds its results (its own, or the stack-wide one). */
export interface NamespaceObservation {
  namespace: string;
  report: KsReport | null;
  /** Why there is no report (kubescape failed, timed out, was cancelled). */
  failure: string | null;
}

export interface JudgeInput {
  topology: Pick<Topology, 'namespaces' | 'components'>;
  observations: NamespaceObservation[];
  /** The stack-wide run (`split` strategy): kubescape's own overall scores. */
  combined: KsReport | null;
  /** Full mode: the cluster-wide run, for cluster-scoped objects tied to the stack. */
  clusterWide?: KsReport | null;
  exclusions: readonly ExclusionRule[];
  thresholds: { nsa: number; mitre: number };
  /** kubescape was denied access: nothing can be decided. */
  forbidden: string[];
}

export const round2 = (x: number) => Math.round(x * 100) / 100;

export interface NamespaceRow {
  namespace: string;
  components: { name: string; type: string }[];
  /** kubescape's scores for this namespace alone (equal to `--include-namespaces <ns>`). */
  nsa: number | null;
  mitre: number | null;
  /** The same with excluded failures counted as passed. */
  nsa_adjusted: number | null;
  mitre_adjusted: number | null;
  /** Objects of this namespace that kubescape evaluated. */
  resources: number;
  failed_controls: { nsa: number; mitre: number };
  /** (nsa_adjusted + mitre_adjusted) / 2; null when not decided. */
  score: number | null;
  flagged: boolean;
  flags: string[];
  note?: string;
}

function excludedPredicate(report: KsReport, index: ComponentIndex, rules: readonly ExclusionRule[]) {
  return (controlId: string, resourceId: string): boolean => {
    const r = report.resources.get(resourceId);
    if (!r) return false;
    const paths =
      report.results
        .get(resourceId)
        ?.find((c) => c.controlId === controlId)
        ?.rules.flatMap((x) => x.paths) ?? [];
    return exclusionFor(subjectOf(controlId, r, index, paths), rules) !== null;
  };
}

/** What an exclusion is matched against: the object's identity, and the containers/volumes the failure's paths name. */
function subjectOf(controlId: string, r: KsResource, index: ComponentIndex, paths: KsPath[]) {
  const c = componentOf({ namespace: r.namespace, name: r.name, labels: r.labels }, index);
  const texts = paths.flatMap((p) => [p.failedPath, p.fixPath?.path, p.deletePath, p.reviewPath].filter((x): x is string => !!x));
  return { controlId, kind: r.kind, namespace: r.namespace, name: r.name, component: c ? { name: c.name, type: c.type } : null, ...namedInPaths(texts, r.pod) };
}

function countResources(report: KsReport, ns: string): number {
  let n = 0;
  for (const r of report.resources.values()) if (namespaceOfResource(r) === ns && report.results.has(r.id)) n++;
  return n;
}

export interface Overall {
  /** The mean over scored namespaces (the seed's overall), raw and adjusted. */
  mean_over_namespaces: { nsa: number | null; mitre: number | null; nsa_adjusted: number | null; mitre_adjusted: number | null };
  /**
   * kubescape's scoring of the stack's namespaces together (all their objects as one scan),
   * from the runs made: equal to one `--include-namespaces <all>` run less kubescape's invalid
   * cross-namespace RoleBinding→Role joins.
   */
  kubescape: { nsa: number | null; mitre: number | null } | null;
  /** Strategy split only: the number that stack-wide kubescape run printed itself (joins included). */
  kubescape_reported?: { nsa: number | null; mitre: number | null };
  kubescape_note?: string;
}

export interface LightJudgement {
  score: number | null;
  summary: Record<string, unknown>;
  results: Record<string, unknown> & {
    namespaces: NamespaceRow[];
    overall: Overall;
    flagged: string[];
    cluster_scope: string;
    absent_components: import('./presence.ts').AbsentComponent[];
  };
}

export const CLUSTER_SCOPE_NOTE =
  "kubescape run with --include-namespaces evaluates the namespace's objects and the RBAC grants of its ServiceAccounts (also through " +
  ('ClusterRoleBindings), but leaves out objects without a namespace: the Namespace objects themselves (so C-0054 "Cluster internal networking" passes ' +
    ("in every per-namespace score), Nodes, webhooks, and grants to the stack's subjects made by RoleBindings of other namespaces. Full mode reports " +
      'those tied to the stack from one cluster-wide run (scope "cluster", not in the per-namespace scores).'));

export function judgeLight(input: JudgeInput): LightJudgement {
  const index = indexComponents(input.topology.components as Component[]);
  const rows: NamespaceRow[] = [];
  const denied = input.forbidden.length > 0;
  for (const ns of input.topology.namespaces) {
    const obs = input.observations.find((o) => o.namespace === ns);
    const components = (index.get(ns) ?? []).map((c) => ({ name: c.name, type: c.type }));
    const row: NamespaceRow = {
      namespace: ns,
      components,
      nsa: null,
      mitre: null,
      nsa_adjusted: null,
      mitre_adjusted: null,
      resources: 0,
      failed_controls: { nsa: 0, mitre: 0 },
      score: null,
      flagged: false,
      flags: [],
    };
    if (!obs?.report) {
      row.note = `not scanned: ${obs?.failure ?? 'no kubescape report'}`;
      rows.push(row);
      continue;
    }
    const report = obs.report;
    const excluded = excludedPredicate(report, index, input.exclusions);
    for (const fw of FWS) {
      const raw = splitByNamespace(report, fw, [ns]).get(ns);
      const adj = splitByNamespace(report, fw, [ns], { treatAsPassed: excluded }).get(ns);
      if (!raw || !adj) continue;
      row[fw] = round2(raw.complianceScore);
      row[`${fw}_adjusted`] = round2(adj.complianceScore);
      row.failed_controls[fw] = raw.controls.filter((c) => c.status === 'failed').length;
    }
    row.resources = countResources(report, ns);
    if (denied) {
      row.note = 'could not decide: kubescape was denied access to part of the cluster (see errors)';
    } else if (row.resources === 0) {
      // No object evaluated: kubescape's framework numbers for it are vacuous (nothing failed), never a compliance figure.
      row.nsa = row.mitre = row.nsa_adjusted = row.mitre_adjusted = null;
      row.note = 'kubescape found no objects in this namespace (missing, empty, or not readable): no NSA/MITRE numbers, not scored';
    } else if (row.nsa_adjusted !== null && row.mitre_adjusted !== null) {
      row.score = round2((row.nsa_adjusted + row.mitre_adjusted) / 2);
      if (row.nsa_adjusted < input.thresholds.nsa) row.flags.push(`NSA ${row.nsa_adjusted} < ${input.thresholds.nsa}`);
      if (row.mitre_adjusted < input.thresholds.mitre) row.flags.push(`MITRE ${row.mitre_adjusted} < ${input.thresholds.mitre}`);
      row.flagged = row.flags.length > 0;
    } else {
      row.note = 'the report lacks the NSA or MITRE framework';
    }
    rows.push(row);
  }

  const decided = rows.filter((r) => r.score !== null);
  const mean = (xs: number[]) => (xs.length ? round2(xs.reduce((a, b) => a + b, 0) / xs.length) : null);
  const overallMean = {
    nsa: mean(decided.map((r) => r.nsa!)),
    mitre: mean(decided.map((r) => r.mitre!)),
    nsa_adjusted: mean(decided.map((r) => r.nsa_adjusted!)),
    mitre_adjusted: mean(decided.map((r) => r.mitre_adjusted!)),
  };
  // kubescape's scoring of the stack's namespaces together, from whatever runs were made.
  const reports = [...new Set(input.observations.map((o) => o.report).filter((r): r is KsReport => !!r))];
  const complete =
    !denied && input.observations.length > 0 && input.topology.namespaces.every((ns) => input.observations.some((o) => o.namespace === ns && o.report));
  const stackScore = (fw: Fw) => {
    const v = combinedFrameworkScore(reports, fw, input.topology.namespaces);
    return v === null ? null : round2(v);
  };
  const own = complete ? { nsa: stackScore('nsa'), mitre: stackScore('mitre') } : null;
  const reported = input.combined && !denied ? { nsa: fwScore(input.combined, 'nsa'), mitre: fwScore(input.combined, 'mitre') } : null;
  const score = denied ? null : mean(decided.map((r) => r.score!));
  const flagged = rows.filter((r) => r.flagged).map((r) => r.namespace);
  // Declared components with no workload in their namespace (only where the namespace was read).
  const absent = denied ? [] : absentComponents(index, new Map(input.observations.filter((o) => o.report).map((o) => [o.namespace, o.report!])));
  return {
    score,
    summary: {
      namespaces: rows.length,
      scored_namespaces: decided.length,
      flagged_namespaces: flagged,
      nsa_mean: overallMean.nsa,
      mitre_mean: overallMean.mitre,
      kubescape_nsa: own?.nsa ?? null,
      kubescape_mitre: own?.mitre ?? null,
      thresholds: input.thresholds,
      absent_components: absent.map((a) => `${a.namespace}/${a.component}`),
    },
    results: {
      namespaces: rows,
      absent_components: absent,
      overall: {
        mean_over_namespaces: overallMean,
        kubescape: own,
        ...(reported ? { kubescape_reported: reported } : {}),
        ...(own ? {} : { kubescape_note: denied ? 'not decided: access denied' : 'not decided: some namespaces have no kubescape report' }),
      },
      flagged,
      cluster_scope: CLUSTER_SCOPE_NOTE,
    },
  };
}

function fwScore(report: KsReport, fw: Fw): number | null {
  const f = findFramework(report, fw);
  return f ? round2(f.complianceScore) : null;
}

// ------------------------------------------------------------------ full

export interface Finding {
  control_id: string;
  control: string;
  frameworks: string[];
  severity: Severity;
  resource: { kind: string; namespace: string | null; name: string; api_version: string };
  /** For RBAC relations: the role and binding that grant it. */
  related?: { kind: string; namespace: string | null; name: string }[];
  component: { name: string; type: string } | null;
  /**
   * `namespace`: counted in the namespace's scores; `cluster`: a cluster-scoped object tied to the stack
   * (from the cluster-wide run, not in the per-namespace scores).
   */
  scope: 'namespace' | 'cluster';
  /** The Kubernetes fields to change, with the value kubescape suggests. */
  fix: { path: string; value: string }[];
  failed_paths: string[];
  delete_paths: string[];
  review_paths: string[];
  remediation: Remediation | null;
}

export interface ExcludedFinding extends Finding {
  exclusion: { id: string; reason: string; source: string };
}

function frameworksOf(report: KsReport, controlId: string): string[] {
  return FWS.filter((fw) => findFramework(report, fw)?.controls.has(controlId)).map((fw) => FRAMEWORK_LABELS[fw]);
}

function pathsOf(paths: KsPath[]) {
  const uniq = (xs: string[]) => [...new Set(xs)];
  const fixSeen = new Set<string>();
  const fix: { path: string; value: string }[] = [];
  for (const p of paths) {
    if (!p.fixPath) continue;
    const k = `${p.fixPath.path}=${p.fixPath.value}`;
    if (fixSeen.has(k)) continue;
    fixSeen.add(k);
    fix.push(p.fixPath);
  }
  return {
    fix,
    failed_paths: uniq(paths.flatMap((p) => (p.failedPath ? [p.failedPath] : []))),
    delete_paths: uniq(paths.flatMap((p) => (p.deletePath ? [p.deletePath] : []))),
    review_paths: uniq(paths.flatMap((p) => (p.reviewPath ? [p.reviewPath] : []))),
  };
}

function findingOf(report: KsReport, r: KsResource, controlId: string, paths: KsPath[], scope: Finding['scope'], index: ComponentIndex): Finding {
  const summary = report.controls.get(controlId);
  const c = componentOf({ namespace: r.namespace, name: r.name, labels: r.labels }, index);
  return {
    control_id: controlId,
    control: summary?.name ?? controlId,
    frameworks: frameworksOf(report, controlId),
    severity: summary?.severity ?? 'unknown',
    resource: { kind: r.kind, namespace: r.namespace, name: r.name, api_version: r.apiVersion },
    ...(r.related.length ? { related: r.related.map((x) => ({ kind: x.kind, namespace: x.namespace, name: x.name })) } : {}),
    component: c ? { name: c.name, type: c.type } : null,
    scope,
    ...pathsOf(paths),
    remediation: remediationFor(controlId, c),
  };
}

/**
 * Is an object of the cluster-wide run tied to the stack while no per-namespace
 * run can contain it? The stack's Namespace objects, and grants to a stack
 * subject by a RoleBinding of another namespace (a valid relation).
 */
export function tiedToStack(r: KsResource, stack: Set<string>): boolean {
  if (r.kind === 'Namespace') return !r.namespace && stack.has(r.name);
  if (r.namespace && stack.has(r.namespace) && r.related.length) return namespaceOfResource(r) === null && validRelation(r);
  return false;
}

const SEVERITY_ORDER: Record<Severity, number> = { critical: 0, high: 1, medium: 2, low: 3, unknown: 4 };

export interface FullJudgement extends LightJudgement {
  findings: Finding[];
}

export function judgeFull(input: JudgeInput): FullJudgement {
  const light = judgeLight(input);
  const index = indexComponents(input.topology.components as Component[]);
  const findings: Finding[] = [];
  const excluded: ExcludedFinding[] = [];
  const stack = new Set(input.topology.namespaces);
  const seen = new Set<string>();
  const add = (report: KsReport, r: KsResource, controlId: string, paths: KsPath[], scope: Finding['scope']) => {
    const key = `${controlId}|${r.id}`;
    if (seen.has(key)) return;
    seen.add(key);
    const f = findingOf(report, r, controlId, paths, scope, index);
    const rule = exclusionFor(subjectOf(controlId, r, index, paths), input.exclusions);
    if (rule) excluded.push({ ...f, exclusion: { id: rule.id, reason: rule.reason, source: rule.source } });
    else findings.push(f);
  };
  for (const obs of input.observations) {
    if (!obs.report) continue;
    for (const [rid, ctrls] of obs.report.results) {
      const r = obs.report.resources.get(rid);
      if (!r || namespaceOfResource(r) !== obs.namespace) continue;
      for (const c of ctrls) {
        if (c.status !== 'failed' || !frameworksOf(obs.report, c.controlId).length) continue;
        add(
          obs.report,
          r,
          c.controlId,
          c.rules.flatMap((x) => x.paths),
          'namespace',
        );
      }
    }
  }
  const cw = input.clusterWide;
  if (cw) {
    for (const [rid, ctrls] of cw.results) {
      const r = cw.resources.get(rid);
      if (!r || !tiedToStack(r, stack)) continue;
      for (const c of ctrls) {
        if (c.status !== 'failed' || !frameworksOf(cw, c.controlId).length) continue;
        add(
          cw,
          r,
          c.controlId,
          c.rules.flatMap((x) => x.paths),
          'cluster',
        );
      }
    }
  }
  const order = (a: Finding, b: Finding) =>
    SEVERITY_ORDER[a.severity] - SEVERITY_ORDER[b.severity] ||
    (a.resource.namespace ?? '').localeCompare(b.resource.namespace ?? '') ||
    a.control_id.localeCompare(b.control_id) ||
    a.resource.name.localeCompare(b.resource.name);
  findings.sort(order);
  excluded.sort(order);
  const bySeverity: Record<string, number> = { critical: 0, high: 0, medium: 0, low: 0, unknown: 0 };
  for (const f of findings) bySeverity[f.severity]++;
  return {
    ...light,
    summary: {
      ...light.summary,
      findings: findings.length,
      findings_by_severity: bySeverity,
      cluster_scope_findings: findings.filter((f) => f.scope === 'cluster').length,
      excluded: excluded.length,
      with_stacktic_remediation: findings.filter((f) => f.remediation?.attributes.length).length,
    },
    results: { ...light.results, excluded, cluster_scope_scanned: !!cw },
    findings,
  };
}

/** errors[] entries for kubescape denying access, naming what was denied. */
export function forbiddenErrors(lines: string[]): ReportError[] {
  if (!lines.length) return [];
  return [
    {
      step: 'kubescape',
      code: 'forbidden',
      status: 403,
      message:
        `kubescape was denied access, so the scores cannot be decided; grant the scan's identity get/list on what is named: ` +
        `${lines.slice(0, 5).join(' | ')}`,
    },
  ];
}
