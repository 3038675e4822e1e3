/**
 * Reads Stacktic's `stack-metadata.yaml` into a `Topology`.
 *
 * Layout: `default_context.components` maps keys to components
 * `{group, type, name, attributes{namespace, port, …}, links_to, links_from, parent, sub_components}`.
 * A `links_to` entry is `{type: "<src>-<dst>", attributes, component}`; `component` may be a
 * sub-component whose `parent` carries the namespace. A sub-component
 * (`sub_components.<key>`) has its own `links_to` (e.g. a Kafka topic linked to a
 * database): those are links of the parent's namespace too. Route hosts are
 * `{subdomain}.{domain}` with the domain from `default_context.configuration.domain`.
 * Scalars may be strings, numbers or booleans.
 *
 * Validation is hand-written over `Map`s and own keys, never `obj[userKey]`
 * on plain objects: keys such as `constructor` or `__proto__` are ordinary
 * names here. Every problem is collected and reported at once as a 422
 * naming the field: namespaces must be DNS-1123 labels, ports whole numbers
 * 1–65535 written in decimal.
 */
import { isDns1123Label } from '../k8s/labels.ts';
import { ScanError } from '../errors.ts';
import { DEFAULT_LIMITS, MAX_COMPONENTS_SETTING, type FileRef } from './files.ts';
import { loadYaml } from './load.ts';
import { SUB_COMPONENT_PORTS } from './stacktic-rules.ts';
import type { Component, Link, Route, SubComponent, Topology } from './types.ts';

type Obj = Record<string, unknown>;

const isObj = (x: unknown): x is Obj => x !== null && typeof x === 'object' && !Array.isArray(x);
/** Own entries only (a `__proto__` key set by the YAML reader is an own property). */
const entries = (o: Obj): [string, unknown][] => Object.keys(o).map((k) => [k, Object.getOwnPropertyDescriptor(o, k)!.value]);
const own = (o: Obj, k: string): unknown => (Object.hasOwn(o, k) ? Object.getOwnPropertyDescriptor(o, k)!.value : undefined);
const pathKey = (k: string) => (/^[A-Za-z0-9_-]+$/.test(k) ? k : JSON.stringify(k.slice(0, 60)));

/**
 * Ports for component types whose metadata often omits `port`: the upstream
 * project's documented default. Used for `Component.ports` only (targets for
 * scans that need one), never for links or expected policies, and every use is
 * reported as a warning.
 */
export const DEFAULT_PORTS: ReadonlyMap<string, number> = new Map([
  ['redis', 6379],
  ['cnpg', 5432],
  ['postgresql', 5432],
  ['minio', 9000],
  ['qdrant', 6333],
  ['mongodb', 27017],
  ['mysql', 3306],
  ['rabbitmq', 5672],
  ['kafka', 9092],
  ['strimzi', 9092],
  ['elasticsearch', 9200],
]);

function str(x: unknown): string | undefined {
  if (typeof x === 'string') return x.trim() || undefined;
  if (typeof x === 'number' || typeof x === 'boolean') return String(x);
  return undefined;
}

/**
 * A `port` attribute: a whole number 1–65535, or a string of such numbers in
 * decimal separated by commas or spaces ("5432", "80,443"). Anything else
 * (`"80 -oN x"`, `"0x50"`, `"1e3"`, `"+80"`, `8.5`) is not a port: `null`.
 * An absent or blank value is `[]`.
 */
export function parsePortAttribute(x: unknown): number[] | null {
  if (x === undefined || x === null || (typeof x === 'string' && x.trim() === '')) return [];
  if (typeof x === 'number') return Number.isInteger(x) && x >= 1 && x <= 65535 ? [x] : null;
  if (typeof x !== 'string') return null;
  const parts = x.trim().split(/\s*,\s*|\s+/);
  const out: number[] = [];
  for (const p of parts) {
    if (!/^[0-9]{1,5}$/.test(p)) return null;
    const n = Number(p);
    if (n < 1 || n > 65535) return null;
    out.push(n);
  }
  return out;
}

/** @deprecated kept for callers of the earlier API: valid ports only, invalid input gives []. */
export function parsePorts(x: unknown): number[] {
  return parsePortAttribute(x) ?? [];
}

export async function loadStackMetadata(ref: FileRef): Promise<Topology> {
  const { value, warnings } = await loadYaml(ref);
  return normaliseMetadata(value, ref, warnings);
}

interface Problem {
  path: string;
  message: string;
}

interface RawRef {
  name: string;
  type?: string;
  parent?: RawRef;
}

/** A link's `component`: name, type and a parent chain (bounded depth). */
function readRef(x: unknown, path: string, problems: Problem[], depth = 0): RawRef | undefined {
  if (!isObj(x)) {
    problems.push({ path, message: 'must be a mapping with at least a name' });
    return undefined;
  }
  const name = str(own(x, 'name'));
  if (!name) {
    problems.push({ path: `${path}.name`, message: 'must be a non-empty string' });
    return undefined;
  }
  const parentRaw = own(x, 'parent');
  let parent: RawRef | undefined;
  if (parentRaw !== undefined && parentRaw !== null) {
    if (depth >= 8) problems.push({ path: `${path}.parent`, message: 'parents nest more than 8 deep' });
    else parent = readRef(parentRaw, `${path}.parent`, problems, depth + 1);
  }
  return { name, type: str(own(x, 'type')), parent };
}

function optionalMap(x: unknown, path: string, problems: Problem[]): Obj {
  if (x === undefined || x === null) return {};
  if (!isObj(x)) {
    problems.push({ path, message: 'must be a mapping' });
    return {};
  }
  return x;
}

interface RawLink {
  key: string;
  path: string;
  type?: string;
  subdomain?: string;
  target: RawRef;
}

function readLinks(x: unknown, path: string, problems: Problem[]): RawLink[] {
  const out: RawLink[] = [];
  for (const [key, l] of entries(optionalMap(x, path, problems))) {
    const p = `${path}.${pathKey(key)}`;
    if (!isObj(l)) {
      problems.push({ path: p, message: 'must be a mapping with a component' });
      continue;
    }
    const target = readRef(own(l, 'component'), `${p}.component`, problems);
    if (!target) continue;
    const attrs = own(l, 'attributes');
    out.push({ key, path: p, type: str(own(l, 'type')), subdomain: isObj(attrs) ? str(own(attrs, 'subdomain')) : undefined, target });
  }
  return out;
}

interface RawComponent {
  key: string;
  path: string;
  comp: Component;
  links: (RawLink & { fromSub?: SubComponent })[];
}

/**
 * Normalises parsed metadata. `ref` names the file for errors; a string is
 * accepted for callers that have only the path.
 */
/**
 * Every scan's work grows with the number of components and links (the derivation of expected
 * policies faster than linearly): a stack of more than STACK_MAX_COMPONENTS components and
 * sub-components (default 1000; real stacks have tens) is refused with a 422, so no scan holds
 * the event loop for long on its topology (bench/event-loop.ts measures it).
 */
function checkComponentCount(comps: Obj, ref: FileRef): void {
  const max = ref.limits?.maxComponents ?? DEFAULT_LIMITS.maxComponents;
  let n = 0;
  for (const c of Object.values(comps)) {
    n++;
    const subs = isObj(c) ? own(c, 'sub_components') : undefined;
    if (isObj(subs)) n += Object.keys(subs).length;
  }
  if (n > max) {
    throw new ScanError(422, {
      code: 'too_many_components',
      message: `${ref.path} declares ${n} components and sub-components, over the limit of ${max}; raise ${MAX_COMPONENTS_SETTING} or split the stack`,
      file: ref.path,
      setting: MAX_COMPONENTS_SETTING,
    });
  }
}

export function normaliseMetadata(raw: unknown, refOrFile: FileRef | string, warnings: string[] = []): Topology {
  const ref: FileRef = typeof refOrFile === 'string' ? { path: refOrFile, setting: 'STACK_METADATA' } : refOrFile;
  const file = ref.path;
  const problems: Problem[] = [];
  const ctx = isObj(raw) ? own(raw, 'default_context') : undefined;
  if (!isObj(ctx))
    problems.push({
      path: isObj(raw) ? 'default_context' : '(root)',
      message: 'must be a mapping (the Stacktic stack-metadata layout starts with default_context:)',
    });
  const ctxObj = isObj(ctx) ? ctx : {};
  const compsRaw = own(ctxObj, 'components');
  if (isObj(ctx) && !isObj(compsRaw)) problems.push({ path: 'default_context.components', message: 'must be a mapping of components' });
  const confRaw = own(ctxObj, 'configuration');
  const conf = isObj(confRaw) ? confRaw : {};
  checkComponentCount(isObj(compsRaw) ? compsRaw : {}, ref);

  const raws: RawComponent[] = [];
  for (const [key, c] of entries(isObj(compsRaw) ? compsRaw : {})) {
    const path = `default_context.components.${pathKey(key)}`;
    if (!isObj(c)) {
      problems.push({ path, message: 'must be a mapping' });
      continue;
    }
    const typeRaw = own(c, 'type');
    if (typeof typeRaw !== 'string' || !typeRaw.trim()) problems.push({ path: `${path}.type`, message: 'must be a non-empty string' });
    const type = typeof typeRaw === 'string' ? typeRaw.trim() : '';
    const name = str(own(c, 'name')) ?? key;
    const attrsRaw = own(c, 'attributes');
    const attrs = optionalMap(attrsRaw, `${path}.attributes`, problems);

    const nsRaw = own(attrs, 'namespace');
    let namespace: string | null = null;
    if (nsRaw !== undefined && nsRaw !== null && !(typeof nsRaw === 'string' && nsRaw.trim() === '')) {
      const ns = typeof nsRaw === 'string' || typeof nsRaw === 'number' ? String(nsRaw) : undefined;
      if (ns === undefined || !isDns1123Label(ns))
        problems.push({
          path: `${path}.attributes.namespace`,
          message:
            'must be a Kubernetes namespace name (DNS-1123 label: lowercase letters, digits and -, at most 63, starting and ending with a letter or digit)',
        });
      else namespace = ns;
    }
    const declared = parsePortAttribute(own(attrs, 'port'));
    if (declared === null)
      problems.push({ path: `${path}.attributes.port`, message: 'must be a port number from 1 to 65535 written in decimal (or several, separated by commas)' });
    const declaredPorts = declared ?? [];
    let ports = declaredPorts;
    const dflt = DEFAULT_PORTS.get(type);
    if (!ports.length && dflt !== undefined) {
      ports = [dflt];
      warnings.push(`${file}: ${path}.attributes.port is missing; scans that need a target use ${type}'s default port ${dflt} (expected policies do not)`);
    }
    if (!namespace) warnings.push(`${file}: ${path}.attributes.namespace is missing; the component takes part in no namespace check`);

    const subs: SubComponent[] = [];
    const links: RawComponent['links'] = readLinks(own(c, 'links_to'), `${path}.links_to`, problems);
    for (const [subKey, s] of entries(optionalMap(own(c, 'sub_components'), `${path}.sub_components`, problems))) {
      const sp = `${path}.sub_components.${pathKey(subKey)}`;
      if (s !== null && s !== undefined && !isObj(s)) {
        problems.push({ path: sp, message: 'must be a mapping' });
        continue;
      }
      const so = isObj(s) ? s : {};
      const sub: SubComponent = { name: str(own(so, 'name')) ?? subKey, type: str(own(so, 'type')) ?? '' };
      subs.push(sub);
      for (const l of readLinks(own(so, 'links_to'), `${sp}.links_to`, problems)) links.push({ ...l, fromSub: sub });
    }
    raws.push({
      key,
      path,
      links,
      comp: { name, type, group: str(own(c, 'group')) ?? '', namespace, ports, declaredPorts, attributes: attrs, subComponents: subs.map((x) => x.name), subs },
    });
  }

  if (problems.length) {
    throw new ScanError(422, {
      code: 'schema_violation',
      message: `${file} is not a valid Stacktic stack-metadata.yaml: ${problems.length} problem(s): ${problems
        .slice(0, 20)
        .map((d) => `${d.path}: ${d.message}`)
        .join('; ')}${problems.length > 20 ? '; …' : ''}`,
      file,
      setting: ref.setting,
      details: problems,
    });
  }

  const components = raws.map((r) => r.comp);
  const byName = new Map<string, Component>();
  for (const c of components) if (!byName.has(c.name)) byName.set(c.name, c);

  const links: Link[] = [];
  const routes: Route[] = [];
  const domain = str(own(conf, 'domain')) ?? null;
  const seen = new Set<string>();

  for (const r of raws) {
    const from = r.comp;
    for (const l of r.links) {
      const where = `${file}: ${l.path}`;
      const target = resolveTarget(l.target, byName);
      if (!target.component) {
        warnings.push(`${where}: target '${l.target.name.slice(0, 80)}' is not a component of this stack; link left out`);
        continue;
      }
      const to = target.component;
      if (!from.namespace || !to.namespace) {
        warnings.push(`${where}: ${!from.namespace ? from.name : to.name} has no namespace; link left out`);
        continue;
      }
      const sub = target.sub ? (to.subs.find((s) => s.name === target.sub) ?? { name: target.sub, type: target.subType ?? '' }) : undefined;
      const port = linkPort(to, sub, where, warnings);
      const id = JSON.stringify([from.name, l.fromSub?.name ?? '', to.name, sub?.name ?? '']);
      if (!seen.has(id)) {
        seen.add(id);
        links.push({
          from: from.name,
          to: to.name,
          ...(l.fromSub ? { fromSubComponent: l.fromSub.name } : {}),
          ...(sub ? { toSubComponent: sub.name, toSubComponentType: sub.type } : {}),
          type: l.type ?? `${l.fromSub?.type || from.type}-${sub?.type || to.type}`,
          fromType: from.type,
          toType: to.type,
          fromNamespace: from.namespace,
          toNamespace: to.namespace,
          port,
          protocol: 'TCP',
          declaredAt: l.path,
        });
      }
      if (from.type === 'apisix' && l.subdomain && !l.fromSub) {
        if (!domain)
          warnings.push(
            `${where}: route subdomain '${l.subdomain.slice(0, 63)}' but default_context.configuration.domain is missing; host is the subdomain alone`,
          );
        routes.push({ host: domain ? `${l.subdomain}.${domain}` : l.subdomain, component: to.name, namespace: to.namespace, port });
      }
    }
  }

  const namespaces = [...new Set(components.map((c) => c.namespace).filter((n): n is string => !!n))].sort();
  return {
    stack: str(own(conf, 'system_name')) ?? str(own(ctxObj, 'project_slug')) ?? 'stack',
    domain,
    namespaces,
    components,
    links,
    routes,
    warnings,
  };
}

/** The port a link reaches: the metadata's only (SUB_COMPONENT_PORTS says which sub-components use their parent's). */
function linkPort(to: Component, sub: SubComponent | undefined, where: string, warnings: string[]): number | null {
  if (!sub) {
    if (to.declaredPorts.length) return to.declaredPorts[0];
    warnings.push(`${where}: ${to.name} (type '${to.type}') declares no port; the link's port is unknown (any port) and Stacktic generates no policy for it`);
    return null;
  }
  const rule = SUB_COMPONENT_PORTS.get(sub.type);
  if (rule?.port === 'parent') {
    if (to.declaredPorts.length) return to.declaredPorts[0];
    warnings.push(
      `${where}: ${sub.name} is served by ${to.name} (type '${to.type}'), which declares no port; the link's port is unknown (any port) and Stacktic ` +
        `generates no policy for it`,
    );
    return null;
  }
  warnings.push(
    rule
      ? `${where}: sub-component ${sub.name} (type '${sub.type}') listens on its own port, which the metadata does not give; the link's port is ` +
          `unknown (any port), never ${to.name}'s`
      : `${where}: sub-component ${sub.name} has type '${sub.type.slice(0, 60)}', not in the sub-component table; the link's port is unknown (any ` +
          `port), never borrowed from ${to.name}`,
  );
  return null;
}

/** A link target is a component, or a sub-component whose parent (possibly nested) is one. */
function resolveTarget(ref: RawRef, byName: Map<string, Component>): { component?: Component; sub?: string; subType?: string } {
  let sub: string | undefined;
  let subType: string | undefined;
  let cur: RawRef | undefined = ref;
  for (let depth = 0; cur && depth < 9; depth++) {
    if (cur.parent) {
      if (sub === undefined) {
        sub = cur.name;
        subType = cur.type;
      }
      cur = cur.parent;
      continue;
    }
    const component = byName.get(cur.name);
    // A link naming a top-level component's sub-component directly (as `links_to.<x>.component`
    // without a parent) is rare; a name that is both is the component.
    return { component, sub, subType };
  }
  return {};
}
