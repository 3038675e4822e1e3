/**
 * The expected NetworkPolicy set, from one of three sources (precedence in settings.ts):
 *   - `networkpolicy-manifest.json`: our own schema, below, published as
 *     schema/networkpolicy-manifest.schema.json;
 *   - a directory of generated NetworkPolicy YAML (Stacktic's `networkpolicy/`
 *     folder): each file is an expected policy, exactly as written;
 *   - derived from the topology with Stacktic's generator rules (stacktic-rules.ts).
 *
 * Why this file is long: the three sources share one validation of every policy (fields, ports, peers) and one
 * canonical cache; splitting the sources apart would duplicate that validation.
 */
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import * as v from 'valibot';
import { ScanError } from '../errors.ts';
import { isDns1123Label } from '../k8s/labels.ts';
import { DEFAULT_LIMITS, readTextFile, type FileRef } from './files.ts';
import { loadJson, parseYamlOffThread } from './load.ts';
import { fill, LINK_RULES, LINK_TYPE_RULES, NAMESPACE_RULES, TYPE_RULES, type PolicyRule } from './stacktic-rules.ts';
import { validateFile } from './validate.ts';
import type { Direction, Protocol, Topology } from './types.ts';
import { policyDirections } from '../k8s/networkpolicy.ts';

export type { Direction };
export const CATEGORIES = ['link', 'exception', 'internet', 'intra-namespace', 'default-deny', 'other'] as const;
export type Category = (typeof CATEGORIES)[number];

const name = v.pipe(
  v.string(),
  v.regex(/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/, 'must be a Kubernetes object name (lowercase letters, digits, - and .)'),
  v.maxLength(253),
);
const nsName = v.pipe(v.string(), v.check(isDns1123Label, 'must be a Kubernetes namespace name (DNS-1123 label)'));
const cidr = v.pipe(v.string(), v.regex(/^[0-9a-fA-F:.]+\/\d{1,3}$/, 'must be a CIDR such as 10.0.0.0/8 or fd00::/8'));
const labelKey = v.pipe(
  v.string(),
  v.regex(/^([a-z0-9]([-a-z0-9.]*[a-z0-9])?\/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/, 'must be a label key'),
  v.maxLength(316),
);

export const PeerSchema = v.union([
  /** `label`: the namespace label the selector uses (default: stacktic.io/namespace for stack namespaces, kubernetes.io/metadata.name otherwise). */
  v.strictObject({ namespace: nsName, label: v.optional(labelKey) }),
  v.strictObject({ ipBlock: v.strictObject({ cidr, except: v.optional(v.array(cidr)) }) }),
  v.strictObject({ any: v.literal(true) }),
]);
export type Peer = v.InferOutput<typeof PeerSchema>;

export const PortSchema = v.strictObject({
  protocol: v.optional(v.picklist(['TCP', 'UDP', 'SCTP']), 'TCP'),
  port: v.union([
    v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(65535)),
    v.pipe(v.string(), v.regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/, 'must be a named port'), v.maxLength(15)),
  ]),
});

export const ExpectedPolicySchema = v.pipe(
  v.strictObject({
    name,
    namespace: nsName,
    category: v.picklist(CATEGORIES),
    direction: v.picklist(['ingress', 'egress']),
    peer: v.optional(PeerSchema),
    ports: v.optional(v.array(PortSchema), []),
    link: v.optional(v.strictObject({ from: v.string(), to: v.string() })),
    /** The generator rule (stacktic-rules.ts id) a derived policy comes from. */
    rule: v.optional(v.string()),
  }),
  v.check((p) => (p.category === 'default-deny') === (p.peer === undefined), 'a default-deny policy has no peer; every other category needs one'),
  v.check((p) => (p.category === 'link') === (p.link !== undefined), 'link is required for category "link" and only allowed there'),
);

/** A policy's spec as written in a file, and where its parts are. */
export interface PolicyOrigin {
  file: string;
  /** The policy's full name in the file (with its `--nrNN` suffix). */
  name: string;
  /** The line of the policy's `metadata.name`. */
  line: number;
  /** The NetworkPolicy spec exactly as the file gives it (duplicate keys: the last value). */
  spec: Record<string, unknown>;
  /** Lines of each rule and of each ports entry, per direction (1-based; 0 when unknown). */
  ruleLines: { ingress: number[]; egress: number[] };
  portLines: { ingress: number[][]; egress: number[][] };
}

export type ExpectedPolicy = v.InferOutput<typeof ExpectedPolicySchema> & {
  /** Set for policies read from a generated file: compare against this spec exactly. */
  origin?: PolicyOrigin;
};

export const ManifestSchema = v.strictObject({
  $schema: v.optional(v.string()),
  version: v.optional(v.literal(1)),
  stack: v.optional(v.string()),
  policies: v.array(ExpectedPolicySchema),
});
export type Manifest = v.InferOutput<typeof ManifestSchema>;

export type ExpectedSource = 'manifest' | 'networkpolicy-dir' | 'stack-metadata';

export interface ExpectedSet {
  source: ExpectedSource;
  /** The manifest file, the directory, or the metadata file derived from. */
  file: string;
  policies: ExpectedPolicy[];
  /** Why this source was used (which setting or file decided it). */
  reason?: string;
  /** Things read leniently (duplicate keys) or left out, each naming the file. */
  warnings?: string[];
  /** Component types not in the derivation table (derived sets only). */
  unknownTypes?: { type: string; components: string[] }[];
}

export async function loadManifest(ref: FileRef): Promise<ExpectedSet> {
  const value = await loadJson(ref);
  const manifest = validateFile(ManifestSchema, value, ref, 'networkpolicy-manifest.json');
  return { source: 'manifest', file: ref.path, policies: manifest.policies, warnings: [] };
}

/**
 * Component types with an internet policy in the derivation table, for the
 * probe plan: `ports` are the egress ports when the type has an egress
 * internet policy, else the ingress ports. A null-prototype object: a type
 * named `constructor` finds nothing.
 */
export const INTERNET: Readonly<Record<string, { ports: number[]; directions: Direction[]; ingressPorts: number[]; egressPorts: number[] }>> = (() => {
  const out: Record<string, { ports: number[]; directions: Direction[]; ingressPorts: number[]; egressPorts: number[] }> = Object.create(null);
  for (const [type, rules] of TYPE_RULES) {
    const internet = rules.filter((r) => r.category === 'internet');
    if (!internet.length) continue;
    const portsOf = (d: Direction) => internet.filter((r) => r.direction === d).flatMap((r) => r.ports.map((p) => p.port));
    const directions = [...new Set(internet.map((r) => r.direction))];
    out[type] = {
      ports: directions.includes('egress') ? portsOf('egress') : portsOf('ingress'),
      directions,
      ingressPorts: portsOf('ingress'),
      egressPorts: portsOf('egress'),
    };
  }
  return Object.freeze(out);
})();

const SUFFIX = /--nr\d+$/;
/** A policy name without Stacktic's `--nrNN` sequence suffix. */
export const baseName = (n: string) => n.replace(SUFFIX, '');

/** A canonical key of what a policy grants, to drop exact duplicates. */
function identity(p: ExpectedPolicy): string {
  const peer = !p.peer ? '' : 'namespace' in p.peer ? `ns:${p.peer.namespace}:${p.peer.label ?? ''}` : JSON.stringify(p.peer);
  return `${p.namespace}\n${p.name}\n${p.direction}\n${peer}\n${p.ports.map((x) => `${x.protocol}/${x.port}`).join(',')}`;
}

function fromRule(
  rule: PolicyRule,
  vars: { ns: string; src?: string; dst?: string; port?: number | null },
  stackNs: ReadonlySet<string>,
  link?: { from: string; to: string },
): ExpectedPolicy {
  const peer: Peer = 'any' in rule.peer ? { any: true } : { namespace: fill(rule.peer.namespace, vars), label: rule.peer.label };
  const ports = rule.category === 'link' ? (vars.port ? [{ protocol: 'TCP' as Protocol, port: vars.port }] : []) : rule.ports.map((p) => ({ ...p }));
  void stackNs;
  return {
    name: fill(rule.name, vars),
    namespace: vars.ns,
    category: rule.category,
    direction: rule.direction,
    peer,
    ports,
    ...(link ? { link } : {}),
    rule: rule.id,
  };
}

/**
 * What Stacktic's generator writes for this topology (stacktic-rules.ts):
 * per namespace the two `all` isolation policies and the three system
 * exceptions; per cross-namespace link whose target declares a port the two
 * link policies; per component type its `exception--app` and `internet--any`
 * policies; per known pair of linked types their extra exceptions. Unknown
 * component types are listed in `unknownTypes`, with nothing guessed for them.
 */
export function deriveExpected(topo: Topology, file: string): ExpectedSet {
  const out: ExpectedPolicy[] = [];
  const warnings: string[] = [];
  const stackNs = new Set(topo.namespaces);
  for (const ns of topo.namespaces) for (const rule of NAMESPACE_RULES) out.push(fromRule(rule, { ns }, stackNs));

  for (const l of topo.links) {
    if (l.fromNamespace === l.toNamespace) continue; // the intra-namespace `all` policies cover it
    const vars = { src: l.fromNamespace, dst: l.toNamespace, port: l.port };
    const link = { from: l.from, to: l.to };
    if (l.port !== null) {
      for (const rule of LINK_RULES) out.push(fromRule(rule, { ...vars, ns: rule.direction === 'egress' ? l.fromNamespace : l.toNamespace }, stackNs, link));
    }
    for (const rule of LINK_TYPE_RULES.get(`${l.fromType}>${l.toType}`) ?? []) {
      if (l.toSubComponent) continue; // the console exception follows links to the component itself
      out.push(fromRule(rule, { ...vars, ns: rule.name.startsWith('{src}') ? l.fromNamespace : l.toNamespace }, stackNs));
    }
  }

  const unknown = new Map<string, string[]>();
  for (const c of topo.components) {
    if (!c.namespace) continue;
    const rules = TYPE_RULES.get(c.type);
    if (!rules) {
      unknown.set(c.type, [...(unknown.get(c.type) ?? []), c.name]);
      continue;
    }
    for (const rule of rules) out.push(fromRule(rule, { ns: c.namespace }, stackNs));
  }
  for (const [type, comps] of unknown) {
    warnings.push(
      `${file}: component type '${type.slice(0, 60)}' (${comps.slice(0, 5).join(', ')}${comps.length > 5 ? ', …' : ''}) is not in the derivation ` +
        `table; any exception--app or internet--any policy Stacktic generates for it is not expected here`,
    );
  }

  // Two links between the same namespaces and port give the same policy: keep one.
  const byKey = new Map<string, ExpectedPolicy>();
  for (const p of out) if (!byKey.has(identity(p))) byKey.set(identity(p), p);
  return {
    source: 'stack-metadata',
    file,
    policies: [...byKey.values()],
    warnings,
    unknownTypes: [...unknown].map(([type, components]) => ({ type, components })),
  };
}

// ---------------------------------------------------------------------------
// A directory of generated NetworkPolicy files
// ---------------------------------------------------------------------------

/** Most files read from one directory. */
export const MAX_POLICY_FILES = 20_000;

type Obj = Record<string, unknown>;
const isObj = (x: unknown): x is Obj => x !== null && typeof x === 'object' && !Array.isArray(x);
const own = (o: Obj, k: string): unknown => (Object.hasOwn(o, k) ? o[k] : undefined);

/** The category a Stacktic policy name says. */
export function categoryOfName(n: string): Category {
  const b = baseName(n);
  if (/--all--/.test(b)) return 'intra-namespace';
  if (/--exception--/.test(b)) return 'exception';
  if (/--internet--/.test(b)) return 'internet';
  if (/--(to|from)--/.test(b)) return 'link';
  if (/--default-deny--/.test(b)) return 'default-deny';
  return 'other';
}

function checkSelector(x: unknown, path: string, problems: { path: string; message: string }[]): void {
  if (x === undefined || x === null) return;
  if (!isObj(x)) return void problems.push({ path, message: 'must be a label selector mapping' });
  const ml = own(x, 'matchLabels');
  if (ml !== undefined && ml !== null && (!isObj(ml) || Object.keys(ml).some((k) => typeof Object.getOwnPropertyDescriptor(ml, k)!.value !== 'string')))
    problems.push({ path: `${path}.matchLabels`, message: 'must map label keys to string values' });
  const me = own(x, 'matchExpressions');
  if (me !== undefined && me !== null) {
    if (!Array.isArray(me)) problems.push({ path: `${path}.matchExpressions`, message: 'must be a list' });
    else
      me.forEach((e, i) => {
        if (!isObj(e) || typeof own(e, 'key') !== 'string' || typeof own(e, 'operator') !== 'string')
          problems.push({ path: `${path}.matchExpressions.${i}`, message: 'must have a key and an operator' });
        else if (
          own(e, 'values') !== undefined &&
          own(e, 'values') !== null &&
          (!Array.isArray(own(e, 'values')) || (own(e, 'values') as unknown[]).some((s) => typeof s !== 'string'))
        )
          problems.push({ path: `${path}.matchExpressions.${i}.values`, message: 'must be a list of strings' });
      });
  }
}

/** Structural checks of a NetworkPolicy object; every problem names its path. */
function checkPolicy(doc: Obj): { path: string; message: string }[] {
  const problems: { path: string; message: string }[] = [];
  const meta = own(doc, 'metadata');
  if (!isObj(meta)) problems.push({ path: 'metadata', message: 'must be a mapping with name and namespace' });
  else {
    const n = own(meta, 'name');
    if (typeof n !== 'string' || !/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/.test(n) || n.length > 253)
      problems.push({ path: 'metadata.name', message: 'must be a Kubernetes object name' });
    const ns = own(meta, 'namespace');
    if (typeof ns !== 'string' || !isDns1123Label(ns))
      problems.push({ path: 'metadata.namespace', message: 'must be a Kubernetes namespace name (DNS-1123 label)' });
  }
  const spec = own(doc, 'spec');
  if (!isObj(spec)) return [...problems, { path: 'spec', message: 'must be a mapping' }];
  checkSelector(own(spec, 'podSelector'), 'spec.podSelector', problems);
  const types = own(spec, 'policyTypes');
  if (types !== undefined && types !== null && (!Array.isArray(types) || types.some((t) => t !== 'Ingress' && t !== 'Egress')))
    problems.push({ path: 'spec.policyTypes', message: 'must be a list of Ingress and Egress' });
  for (const d of ['ingress', 'egress'] as const) {
    const rules = own(spec, d);
    if (rules === undefined || rules === null) continue;
    if (!Array.isArray(rules)) {
      problems.push({ path: `spec.${d}`, message: 'must be a list of rules' });
      continue;
    }
    rules.forEach((r, i) => {
      const rp = `spec.${d}.${i}`;
      if (r === null) return;
      if (!isObj(r)) return void problems.push({ path: rp, message: 'must be a mapping' });
      const peers = own(r, d === 'ingress' ? 'from' : 'to');
      if (peers !== undefined && peers !== null) {
        if (!Array.isArray(peers)) problems.push({ path: `${rp}.${d === 'ingress' ? 'from' : 'to'}`, message: 'must be a list of peers' });
        else
          peers.forEach((p, j) => {
            const pp = `${rp}.${d === 'ingress' ? 'from' : 'to'}.${j}`;
            if (!isObj(p)) return void problems.push({ path: pp, message: 'must be a mapping' });
            checkSelector(own(p, 'podSelector'), `${pp}.podSelector`, problems);
            checkSelector(own(p, 'namespaceSelector'), `${pp}.namespaceSelector`, problems);
            const ib = own(p, 'ipBlock');
            if (ib !== undefined && ib !== null && (!isObj(ib) || typeof own(ib, 'cidr') !== 'string'))
              problems.push({ path: `${pp}.ipBlock`, message: 'must have a cidr' });
          });
      }
      const ports = own(r, 'ports');
      if (ports !== undefined && ports !== null) {
        if (!Array.isArray(ports)) problems.push({ path: `${rp}.ports`, message: 'must be a list' });
        else
          ports.forEach((p, j) => {
            const pp = `${rp}.ports.${j}`;
            if (!isObj(p)) return void problems.push({ path: pp, message: 'must be a mapping' });
            const proto = own(p, 'protocol');
            if (proto !== undefined && proto !== null && proto !== 'TCP' && proto !== 'UDP' && proto !== 'SCTP')
              problems.push({ path: `${pp}.protocol`, message: 'must be TCP, UDP or SCTP' });
            const port = own(p, 'port');
            if (
              port !== undefined &&
              port !== null &&
              !(typeof port === 'number' && Number.isInteger(port) && port >= 1 && port <= 65535) &&
              !(typeof port === 'string' && /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(port) && port.length <= 15)
            )
              problems.push({ path: `${pp}.port`, message: 'must be a port number from 1 to 65535 or a port name' });
            const end = own(p, 'endPort');
            if (end !== undefined && end !== null && !(typeof end === 'number' && Number.isInteger(end) && end >= 1 && end <= 65535))
              problems.push({ path: `${pp}.endPort`, message: 'must be a port number from 1 to 65535' });
          });
      }
    });
  }
  return problems;
}

/**
 * Loads every `*.yaml`/`*.yml` file of a directory as an expected policy,
 * exactly as written (duplicate keys: the last value wins, each one a
 * warning with its line). A file that is not a NetworkPolicy is left out with
 * a warning; a NetworkPolicy with a malformed field is a 422 naming the file
 * and the field.
 */
export async function loadNetworkPolicyDir(ref: FileRef): Promise<ExpectedSet> {
  let st;
  try {
    st = await stat(ref.path);
  } catch {
    throw new ScanError(422, {
      code: 'file_unreadable',
      message: `${ref.path} does not exist; set ${ref.setting} to the directory of generated NetworkPolicy files`,
      file: ref.path,
      setting: ref.setting,
    });
  }
  if (!st.isDirectory())
    throw new ScanError(422, {
      code: 'file_not_directory',
      message: `${ref.path} is not a directory; set ${ref.setting} to the directory of generated NetworkPolicy files`,
      file: ref.path,
      setting: ref.setting,
    });
  const names = (await readdir(ref.path)).filter((n) => /\.ya?ml$/i.test(n)).sort();
  if (names.length > MAX_POLICY_FILES)
    throw new ScanError(422, {
      code: 'too_many_files',
      message: `${ref.path} holds ${names.length} YAML files, over the limit of ${MAX_POLICY_FILES}`,
      file: ref.path,
      setting: ref.setting,
    });
  const limits = ref.limits ?? DEFAULT_LIMITS;
  const warnings: string[] = [];
  const policies: ExpectedPolicy[] = [];
  for (const n of names) {
    const fileRef: FileRef = { path: join(ref.path, n), setting: ref.setting, limits };
    const text = await readTextFile(fileRef);
    const { value, warnings: w, lines } = await parseYamlOffThread(text, fileRef, { positions: true });
    warnings.push(...w);
    if (!isObj(value) || own(value, 'kind') !== 'NetworkPolicy') {
      warnings.push(
        `${fileRef.path}: not a NetworkPolicy (kind ` +
          `${isObj(value) && typeof own(value, 'kind') === 'string' ? `'${String(own(value, 'kind')).slice(0, 40)}'` : 'missing'}); left out`,
      );
      continue;
    }
    const problems = checkPolicy(value);
    if (problems.length) {
      throw new ScanError(422, {
        code: 'schema_violation',
        message: `${fileRef.path} is not a valid NetworkPolicy: ${problems.length} problem(s): ${problems
          .slice(0, 10)
          .map((d) => `${d.path}: ${d.message}`)
          .join('; ')}`,
        file: fileRef.path,
        setting: ref.setting,
        details: problems,
      });
    }
    const meta = own(value, 'metadata') as Obj;
    const spec = own(value, 'spec') as Obj;
    const policyName = own(meta, 'name') as string;
    const types = policyDirections(spec);
    const ruleLines = { ingress: [] as number[], egress: [] as number[] };
    const portLines = { ingress: [] as number[][], egress: [] as number[][] };
    for (const d of ['ingress', 'egress'] as const) {
      const rules = own(spec, d);
      for (const r of Array.isArray(rules) ? rules : []) {
        ruleLines[d].push((isObj(r) && lines.get(r)) || 0);
        const ports = isObj(r) ? own(r, 'ports') : undefined;
        portLines[d].push(Array.isArray(ports) ? ports.map((p) => (isObj(p) && lines.get(p)) || 0) : []);
      }
    }
    const category = categoryOfName(policyName);
    policies.push({
      name: baseName(policyName),
      namespace: own(meta, 'namespace') as string,
      category,
      direction: types.length === 1 ? types[0] : types.includes('egress') && !types.includes('ingress') ? 'egress' : 'ingress',
      ...(category === 'default-deny' ? {} : { peer: { any: true } as Peer }),
      ports: [],
      ...(category === 'link' ? { link: linkOfName(baseName(policyName)) } : {}),
      origin: { file: fileRef.path, name: policyName, line: nameLine(text), spec, ruleLines, portLines },
    });
  }
  return { source: 'networkpolicy-dir', file: ref.path, policies, warnings };
}

/** The line of `metadata.name` (the first indented `name:`), else 1. */
function nameLine(text: string): number {
  const i = text.split('\n').findIndex((l) => /^\s+name:/.test(l));
  return i === -1 ? 1 : i + 1;
}

/** `a--to--b--…` / `b--from--a--…`: the namespaces a Stacktic link policy's name says. */
function linkOfName(n: string): { from: string; to: string } {
  const to = /^(.+?)--to--(.+?)--egress--/.exec(n);
  if (to) return { from: to[1], to: to[2] };
  const from = /^(.+?)--from--(.+?)--ingress--/.exec(n);
  if (from) return { from: from[2], to: from[1] };
  return { from: '', to: '' };
}
