/**
 * Exclusions: failed controls that are known, accepted requirements of an
 * operator or platform component, not misconfigurations. A data table, which a
 * user extends with a file (KUBESCAPE_EXCLUSIONS_FILE, YAML or JSON):
 *
 *   exclusions:
 *     - id: my-backup-agent                 # unique, names the rule in the report
 *       reason: "the backup agent reads every Secret to back it up"
 *       controls: [C-0015, C-0035]          # kubescape control ids
 *       match:                              # every given field must match
 *         names: ["^velero$"]               # required: regex on the object's own name (its identity)
 *         kinds: [ServiceAccount]           # optional: the object's kind
 *         component_types: [velero]         # optional: narrows to objects of this Stacktic component type
 *         containers: ["^velero$"]          # optional: a failure naming containers must name only these
 *         volumes: ["^plugins$"]            # optional: a failure naming volumes must name only these
 *         namespaces: [backup]              # optional
 *
 * A rule matches a workload by its identity (kind, name pattern, the container or volume the
 * requirement is about), never every object of a component type: a component type only narrows.
 * Another workload of the same component (a sidecar Deployment, an exporter without a
 * securityContext) stays a finding. `containers`/`volumes` are read from the failure's paths
 * (`spec.template.spec.containers[0]…` → that container's name).
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
  /** `names` is the workload's identity (required); every other given field narrows. */
  match: { names: RegExp[]; componentTypes?: string[]; kinds?: string[]; namespaces?: string[]; containers?: RegExp[]; volumes?: RegExp[] };
  /** `builtin` or the file it came from. */
  source: string;
}

/** RBAC grants are reported on the subject (a ServiceAccount); C-0034 (token automount) on the workload too. */
const OPERATOR_KINDS = ['ServiceAccount', 'Deployment', 'StatefulSet'];
const RBAC_CONTROLS = ['C-0002', 'C-0007', 'C-0015', 'C-0031', 'C-0034', 'C-0035', 'C-0037', 'C-0053'];

/** The built-in table. */
export const BUILTIN_EXCLUSIONS: readonly ExclusionRule[] = [
  {
    id: 'operator-rbac-argocd',
    reason:
      'Argo CD applies arbitrary manifests to the cluster: its application controller and server need cluster-wide, administrative RBAC and their ' +
      'ServiceAccount token',
    controls: RBAC_CONTROLS,
    match: { names: [/^argocd-(application-controller|server|applicationset-controller)$/], kinds: OPERATOR_KINDS },
    source: 'builtin',
  },
  {
    id: 'operator-rbac-cert-manager',
    reason: 'cert-manager issues certificates into Secrets of every namespace and patches webhooks: it must list, create and delete Secrets cluster-wide',
    controls: RBAC_CONTROLS,
    match: { names: [/^cert-manager(-cainjector|-webhook)?$/], kinds: OPERATOR_KINDS },
    source: 'builtin',
  },
  {
    id: 'operator-rbac-external-secrets',
    reason: 'External Secrets synchronises Secrets from an external store into every namespace: it must read and write Secrets cluster-wide',
    controls: RBAC_CONTROLS,
    match: { names: [/^external-secrets(-cert-controller|-webhook)?$/], kinds: OPERATOR_KINDS },
    source: 'builtin',
  },
  {
    id: 'operator-rbac-velero',
    reason: 'Velero backs up and restores every object of the cluster: it is bound to cluster-admin by design',
    controls: RBAC_CONTROLS,
    match: { names: [/^velero$/], kinds: OPERATOR_KINDS },
    source: 'builtin',
  },
  {
    id: 'root-clickhouse',
    reason: 'the ClickHouse server image starts as root to set up its data directory before dropping privileges',
    controls: ['C-0013'],
    match: { names: [/^clickhouse$/, /^chi-[a-z0-9-]+$/], kinds: ['StatefulSet', 'Pod'], containers: [/^clickhouse(-pod)?$/] },
    source: 'builtin',
  },
  {
    id: 'writable-prometheus-tsdb',
    reason: 'Prometheus writes its TSDB (and WAL) to its data volume and needs a writable container filesystem',
    controls: ['C-0017'],
    match: { names: [/^prometheus(-[a-z0-9-]+)?$/], kinds: ['StatefulSet', 'Deployment'], containers: [/^prometheus(-server)?$/] },
    source: 'builtin',
  },
  {
    id: 'writable-grafana-plugins',
    reason: 'Grafana installs plugins and writes its SQLite database under /var/lib/grafana at runtime',
    controls: ['C-0017'],
    match: { names: [/^grafana$/], kinds: ['Deployment', 'StatefulSet'], containers: [/^grafana$/] },
    source: 'builtin',
  },
  {
    id: 'privileged-csi-driver',
    reason: 'a CSI node plugin mounts volumes on the host: it must run privileged, with host paths and capabilities',
    controls: ['C-0057', 'C-0046', 'C-0045', 'C-0048', 'C-0016', 'C-0013', 'C-0017', 'C-0055', 'C-0041', 'C-0038'],
    match: { names: [/csi/], kinds: ['DaemonSet'], containers: [/csi/, /plugin/, /driver/, /registrar/] },
    source: 'builtin',
  },
];

export interface ExclusionSubject {
  controlId: string;
  kind: string;
  namespace: string | null;
  name: string;
  component: { name: string; type: string } | null;
  /** The containers and volumes the failure is about (from its paths); absent when it names none. */
  containers?: string[];
  volumes?: string[];
}

/** Every container (volume) the failure names matches one of the patterns; a failure naming none is about the workload as a whole. */
const allMatch = (items: string[] | undefined, patterns: RegExp[]) => !items?.length || items.every((x) => patterns.some((re) => re.test(x)));

/** The first rule that excludes this failure, or null: by the workload's identity, never by component type alone. */
export function exclusionFor(s: ExclusionSubject, rules: readonly ExclusionRule[]): ExclusionRule | null {
  for (const r of rules) {
    if (!r.controls.includes(s.controlId)) continue;
    const m = r.match;
    if (!m.names.length || !m.names.some((re) => re.test(s.name))) continue;
    if (m.kinds && !m.kinds.includes(s.kind)) continue;
    if (m.namespaces && (!s.namespace || !m.namespaces.includes(s.namespace))) continue;
    if (m.componentTypes && !(s.component && m.componentTypes.includes(s.component.type))) continue;
    if (m.containers && !allMatch(s.containers, m.containers)) continue;
    if (m.volumes && !allMatch(s.volumes, m.volumes)) continue;
    return r;
  }
  return null;
}

/**
 * The containers and volumes a failure's paths name (`…containers[1].securityContext…` → the name
 * of the object's second container), from the names the report kept for the object.
 */
export function namedInPaths(
  paths: string[],
  pod: { containers: string[]; initContainers: string[]; volumes: string[] } | undefined,
): { containers?: string[]; volumes?: string[] } {
  const containers = new Set<string>();
  const volumes = new Set<string>();
  for (const p of paths) {
    for (const m of p.matchAll(/\b(initContainers|containers|volumes)\[(\d+)\]/g)) {
      const list = m[1] === 'volumes' ? pod?.volumes : m[1] === 'initContainers' ? pod?.initContainers : pod?.containers;
      const name = list?.[Number(m[2])] ?? `${m[1]}[${m[2]}]`;
      (m[1] === 'volumes' ? volumes : containers).add(name);
    }
  }
  return { ...(containers.size ? { containers: [...containers] } : {}), ...(volumes.size ? { volumes: [...volumes] } : {}) };
}

const CONTROL_ID = v.pipe(v.string(), v.regex(/^C-\d{4}$/, 'must be a kubescape control id like C-0035'));
const list = (item: v.GenericSchema<string>) => v.optional(v.array(item));
const RuleSchema = v.strictObject({
  id: v.pipe(v.string(), v.minLength(1, 'must not be empty')),
  reason: v.pipe(v.string(), v.minLength(1, 'every exclusion needs a reason')),
  controls: v.pipe(v.array(CONTROL_ID), v.minLength(1, 'list at least one control')),
  match: v.strictObject({
    component_types: list(v.string()),
    names: v.pipe(
      v.array(v.string()),
      v.minLength(1, 'name the workloads by a pattern of their names (the exclusion matches by identity, never every object of a component type)'),
    ),
    kinds: list(v.string()),
    namespaces: list(v.string()),
    containers: list(v.string()),
    volumes: list(v.string()),
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
    if (seen.has(r.id))
      throw new ScanError(422, {
        code: 'schema_violation',
        message: `${path}: ${at}.id '${r.id}' is used twice (or by a built-in rule)`,
        file: path,
        setting,
        details: [{ path: `${at}.id`, message: 'duplicate' }],
      });
    seen.add(r.id);
    const m = r.match;
    const regexes = (field: 'names' | 'containers' | 'volumes', list: string[] | undefined) =>
      list?.map((src, j) => {
        try {
          return new RegExp(src);
        } catch (e) {
          throw new ScanError(422, {
            code: 'schema_violation',
            message: `${path}: ${at}.match.${field}[${j}] is not a valid regular expression: ${(e as Error).message}`,
            file: path,
            setting,
            details: [{ path: `${at}.match.${field}[${j}]`, message: 'invalid regex' }],
          });
        }
      });
    const containers = regexes('containers', m.containers);
    const volumes = regexes('volumes', m.volumes);
    return {
      id: r.id,
      reason: r.reason,
      controls: r.controls,
      match: {
        names: regexes('names', m.names)!,
        ...(m.component_types ? { componentTypes: m.component_types } : {}),
        ...(m.kinds ? { kinds: m.kinds } : {}),
        ...(m.namespaces ? { namespaces: m.namespaces } : {}),
        ...(containers ? { containers } : {}),
        ...(volumes ? { volumes } : {}),
      },
      source: path,
    };
  });
}
