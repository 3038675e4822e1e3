/**
 * Exclusions: failed controls that are known, accepted requirements of an
 * operator or platform component, not misconfigurations. A data table, which a
 * user extends with a file (KUBESCAPE_EXCLUSIONS_FILE, YAML or JSON):
 *
 *   exclusions:
 *     - id: my-backup-agent                 # unique, names the rule in the report
 *       reason: "the backup agent reads every Secret to back it up"
 *       controls: [C-0015, C-0035]          # kubescape control ids
 *       match:                              # every given field must match (at least one of them)
 *         component_types: [velero]         # Stacktic component type
 *         names: ["^velero"]                # regex on the object's or its component's name
 *         kinds: [ServiceAccount]           # optional
 *         namespaces: [backup]              # optional
 *
 * An excluded failure is reported under `results.excluded` with its reason and
 * counted as kubescape counts an exception (passed) in the adjusted scores; it
 * is never dropped.
 */
import * as v from 'valibot';
import { ScanError } from '../../lib/errors.ts';
import { loadYaml } from '../../lib/topology/load.ts';
import { validateFile } from '../../lib/topology/validate.ts';

export interface ExclusionRule {
  id: string;
  reason: string;
  controls: string[];
  match: { componentTypes?: string[]; names?: RegExp[]; kinds?: string[]; namespaces?: string[] };
  /** `builtin` or the file it came from. */
  source: string;
}

const RBAC_CONTROLS = ['C-0002', 'C-0007', 'C-0015', 'C-0031', 'C-0034', 'C-0035', 'C-0037', 'C-0053'];

/** The built-in table. */
export const BUILTIN_EXCLUSIONS: readonly ExclusionRule[] = [
  {
    id: 'operator-rbac-argocd',
    reason: 'Argo CD applies arbitrary manifests to the cluster: its application controller and server need cluster-wide, administrative RBAC and their ServiceAccount token',
    controls: RBAC_CONTROLS,
    match: { componentTypes: ['argo_cd', 'argocd', 'argo-cd'], names: [/^argocd-/, /^argo-cd/] },
    source: 'builtin',
  },
  {
    id: 'operator-rbac-cert-manager',
    reason: 'cert-manager issues certificates into Secrets of every namespace and patches webhooks: it must list, create and delete Secrets cluster-wide',
    controls: RBAC_CONTROLS,
    match: { componentTypes: ['cert_manager', 'cert-manager'], names: [/^cert-manager/] },
    source: 'builtin',
  },
  {
    id: 'operator-rbac-external-secrets',
    reason: 'External Secrets synchronises Secrets from an external store into every namespace: it must read and write Secrets cluster-wide',
    controls: RBAC_CONTROLS,
    match: { componentTypes: ['external_secrets', 'external-secrets', 'eso'], names: [/^external-secrets/] },
    source: 'builtin',
  },
  {
    id: 'operator-rbac-velero',
    reason: 'Velero backs up and restores every object of the cluster: it is bound to cluster-admin by design',
    controls: RBAC_CONTROLS,
    match: { componentTypes: ['velero'], names: [/^velero/] },
    source: 'builtin',
  },
  {
    id: 'root-clickhouse',
    reason: 'the ClickHouse server image starts as root to set up its data directory before dropping privileges',
    controls: ['C-0013'],
    match: { componentTypes: ['clickhouse'], names: [/^clickhouse/, /^chi-/] },
    source: 'builtin',
  },
  {
    id: 'writable-prometheus-tsdb',
    reason: 'Prometheus writes its TSDB (and WAL) to its data volume and needs a writable container filesystem',
    controls: ['C-0017'],
    match: { componentTypes: ['prometheus'], names: [/^prometheus/] },
    source: 'builtin',
  },
  {
    id: 'writable-grafana-plugins',
    reason: 'Grafana installs plugins and writes its SQLite database under /var/lib/grafana at runtime',
    controls: ['C-0017'],
    match: { componentTypes: ['grafana'], names: [/^grafana/] },
    source: 'builtin',
  },
  {
    id: 'privileged-csi-driver',
    reason: 'a CSI node plugin mounts volumes on the host: it must run privileged, with host paths and capabilities',
    controls: ['C-0057', 'C-0046', 'C-0045', 'C-0048', 'C-0016', 'C-0013', 'C-0017', 'C-0055', 'C-0041', 'C-0038'],
    match: { componentTypes: ['csi', 'csi_driver', 'longhorn', 'openebs', 'rook_ceph'], names: [/csi/] },
    source: 'builtin',
  },
];

export interface ExclusionSubject {
  controlId: string;
  kind: string;
  namespace: string | null;
  name: string;
  component: { name: string; type: string } | null;
}

/** The first rule that excludes this failure, or null. */
export function exclusionFor(s: ExclusionSubject, rules: readonly ExclusionRule[]): ExclusionRule | null {
  for (const r of rules) {
    if (!r.controls.includes(s.controlId)) continue;
    const m = r.match;
    if (m.kinds && !m.kinds.includes(s.kind)) continue;
    if (m.namespaces && (!s.namespace || !m.namespaces.includes(s.namespace))) continue;
    const byType = !!(m.componentTypes && s.component && m.componentTypes.includes(s.component.type));
    const byName = !!m.names?.some((re) => re.test(s.name) || (s.component !== null && re.test(s.component.name)));
    const identified = m.componentTypes || m.names ? byType || byName : true;
    if (identified) return r;
  }
  return null;
}

const CONTROL_ID = v.pipe(v.string(), v.regex(/^C-\d{4}$/, 'must be a kubescape control id like C-0035'));
const list = (item: v.GenericSchema<string>) => v.optional(v.array(item));
const RuleSchema = v.strictObject({
  id: v.pipe(v.string(), v.minLength(1, 'must not be empty')),
  reason: v.pipe(v.string(), v.minLength(1, 'every exclusion needs a reason')),
  controls: v.pipe(v.array(CONTROL_ID), v.minLength(1, 'list at least one control')),
  match: v.strictObject({
    component_types: list(v.string()),
    names: list(v.string()),
    kinds: list(v.string()),
    namespaces: list(v.string()),
  }),
});
const FileSchema = v.strictObject({ exclusions: v.array(RuleSchema) });

/** Read and validate a user's exclusions file; every error names the file and the field. */
export async function loadExclusionsFile(path: string, setting = 'KUBESCAPE_EXCLUSIONS_FILE'): Promise<ExclusionRule[]> {
  const ref = { path, setting };
  const { value } = await loadYaml(ref); // YAML is a superset of JSON
  const parsed = validateFile(FileSchema, value, ref, 'kubescape exclusions file (exclusions: [{id, reason, controls, match}])');
  const seen = new Set(BUILTIN_EXCLUSIONS.map((r) => r.id));
  return parsed.exclusions.map((r, i) => {
    const at = `exclusions[${i}]`;
    if (seen.has(r.id)) throw new ScanError(422, { code: 'schema_violation', message: `${path}: ${at}.id '${r.id}' is used twice (or by a built-in rule)`, file: path, setting, details: [{ path: `${at}.id`, message: 'duplicate' }] });
    seen.add(r.id);
    const m = r.match;
    if (!m.component_types?.length && !m.names?.length && !m.kinds?.length && !m.namespaces?.length) {
      throw new ScanError(422, { code: 'schema_violation', message: `${path}: ${at}.match must name component_types, names, kinds or namespaces`, file: path, setting, details: [{ path: `${at}.match`, message: 'empty' }] });
    }
    const names = m.names?.map((src, j) => {
      try {
        return new RegExp(src);
      } catch (e) {
        throw new ScanError(422, { code: 'schema_violation', message: `${path}: ${at}.match.names[${j}] is not a valid regular expression: ${(e as Error).message}`, file: path, setting, details: [{ path: `${at}.match.names[${j}]`, message: 'invalid regex' }] });
      }
    });
    return {
      id: r.id,
      reason: r.reason,
      controls: r.controls,
      match: { ...(m.component_types ? { componentTypes: m.component_types } : {}), ...(names ? { names } : {}), ...(m.kinds ? { kinds: m.kinds } : {}), ...(m.namespaces ? { namespaces: m.namespaces } : {}) },
      source: path,
    };
  });
}
