/**
 * Reads Stacktic's `stack-metadata.yaml` into a `Topology`.
 *
 * Layout: `default_context.components` maps names to components
 * `{group, type, name, attributes{namespace, port, …}, links_to, links_from, parent, sub_components}`.
 * A `links_to` entry is `{type: "<src>-<dst>", attributes, component}`; `component` may be a
 * sub-component whose `parent` carries the namespace. Route hosts are `{subdomain}.{domain}`
 * with the domain from `default_context.configuration.domain`. Scalars may be strings or booleans.
 */
import * as v from 'valibot';
import { parseYaml, readTextFile, type FileRef } from './files.ts';
import { validateFile } from './validate.ts';
import type { Component, Link, Route, Topology } from './types.ts';

const scalar = v.union([v.string(), v.number(), v.boolean(), v.null()]);
const attributes = v.optional(v.nullable(v.record(v.string(), v.unknown())), {});

interface RawRef {
  group?: string | null;
  type?: string | null;
  name: string;
  attributes?: Record<string, unknown> | null;
  parent?: RawRef | null;
}
const RefSchema: v.GenericSchema<RawRef> = v.looseObject({
  group: v.optional(v.nullable(v.string())),
  type: v.optional(v.nullable(v.string())),
  name: v.string(),
  attributes,
  parent: v.optional(v.nullable(v.lazy(() => RefSchema))),
});

const LinkSchema = v.looseObject({
  type: v.optional(v.nullable(v.string())),
  attributes,
  component: RefSchema,
});
const links = v.optional(v.nullable(v.record(v.string(), LinkSchema)), {});

const ComponentSchema = v.looseObject({
  group: v.optional(v.nullable(v.string())),
  type: v.string(),
  name: v.optional(v.nullable(v.string())),
  attributes,
  links_to: links,
  links_from: links,
  parent: v.optional(v.nullable(v.unknown())),
  sub_components: v.optional(v.nullable(v.record(v.string(), v.unknown())), {}),
});

const MetadataSchema = v.looseObject({
  default_context: v.looseObject({
    project_slug: v.optional(scalar),
    configuration: v.optional(v.nullable(v.looseObject({ system_name: v.optional(scalar), domain: v.optional(scalar) })), {}),
    components: v.record(v.string(), ComponentSchema),
  }),
});
type RawMetadata = v.InferOutput<typeof MetadataSchema>;

/**
 * Ports for component types whose metadata often omits `port`: the upstream
 * project's documented default. Used only when the attribute is absent, and
 * every use is reported as a warning.
 */
export const DEFAULT_PORTS: Readonly<Record<string, number>> = {
  redis: 6379,
  cnpg: 5432,
  postgresql: 5432,
  minio: 9000,
  qdrant: 6333,
  mongodb: 27017,
  mysql: 3306,
  rabbitmq: 5672,
  kafka: 9092,
  strimzi: 9092,
  elasticsearch: 9200,
};

function str(x: unknown): string | undefined {
  if (typeof x === 'string') return x.trim() || undefined;
  if (typeof x === 'number' || typeof x === 'boolean') return String(x);
  return undefined;
}

/** `port` may be "5432", 5432, or a comma-separated list; returns valid TCP ports only. */
export function parsePorts(x: unknown): number[] {
  const s = str(x);
  if (!s) return [];
  return s
    .split(/[,\s]+/)
    .map(Number)
    .filter((n) => Number.isInteger(n) && n > 0 && n < 65536);
}

export async function loadStackMetadata(ref: FileRef): Promise<Topology> {
  const text = await readTextFile(ref);
  const { value, warnings } = parseYaml(text, ref);
  const raw = validateFile(MetadataSchema, value, ref, 'Stacktic stack-metadata.yaml');
  return normaliseMetadata(raw, ref.path, warnings);
}

export function normaliseMetadata(raw: RawMetadata, file: string, warnings: string[] = []): Topology {
  const ctx = raw.default_context;
  const conf = ctx.configuration ?? {};
  const components: Component[] = [];
  const byName = new Map<string, Component>();

  for (const [key, c] of Object.entries(ctx.components)) {
    const name = str(c.name) ?? key;
    const attrs = c.attributes ?? {};
    const namespace = str(attrs.namespace) ?? null;
    let ports = parsePorts(attrs.port);
    if (!ports.length && DEFAULT_PORTS[c.type] !== undefined) {
      ports = [DEFAULT_PORTS[c.type]];
      warnings.push(`${file}: default_context.components.${key}.attributes.port is missing; using ${c.type}'s default port ${ports[0]}`);
    }
    if (!namespace) warnings.push(`${file}: default_context.components.${key}.attributes.namespace is missing; the component takes part in no namespace check`);
    const comp: Component = {
      name,
      type: c.type,
      group: str(c.group) ?? '',
      namespace,
      ports,
      attributes: attrs,
      subComponents: Object.keys(c.sub_components ?? {}),
    };
    components.push(comp);
    byName.set(name, comp);
  }

  const links: Link[] = [];
  const routes: Route[] = [];
  const domain = str(conf.domain) ?? null;
  const seen = new Set<string>();

  for (const [key, c] of Object.entries(ctx.components)) {
    const from = byName.get(str(c.name) ?? key)!;
    for (const [linkKey, l] of Object.entries(c.links_to ?? {})) {
      const where = `${file}: default_context.components.${key}.links_to.${linkKey}`;
      const target = resolveTarget(l.component, byName);
      if (!target.component) {
        warnings.push(`${where}: target '${l.component.name}' is not a component of this stack; link left out`);
        continue;
      }
      const to = target.component;
      if (!from.namespace || !to.namespace) {
        warnings.push(`${where}: ${!from.namespace ? from.name : to.name} has no namespace; link left out`);
        continue;
      }
      const port = to.ports[0] ?? null;
      if (port === null) warnings.push(`${where}: ${to.name} declares no port and its type '${to.type}' has no known default; the link's expected policies allow any port`);
      const id = `${from.name}>${to.name}>${target.sub ?? ''}`;
      if (!seen.has(id)) {
        seen.add(id);
        links.push({
          from: from.name,
          to: to.name,
          ...(target.sub ? { toSubComponent: target.sub } : {}),
          type: str(l.type) ?? `${from.type}-${to.type}`,
          fromNamespace: from.namespace,
          toNamespace: to.namespace,
          port,
          protocol: 'TCP',
        });
      }
      const subdomain = str(l.attributes?.subdomain);
      if (from.type === 'apisix' && subdomain) {
        if (!domain) warnings.push(`${where}: route subdomain '${subdomain}' but default_context.configuration.domain is missing; host is the subdomain alone`);
        routes.push({ host: domain ? `${subdomain}.${domain}` : subdomain, component: to.name, namespace: to.namespace, port });
      }
    }
  }

  const namespaces = [...new Set(components.map((c) => c.namespace).filter((n): n is string => !!n))].sort();
  return {
    stack: str(conf.system_name) ?? str(ctx.project_slug) ?? 'stack',
    domain,
    namespaces,
    components,
    links,
    routes,
    warnings,
  };
}

/** A link target is a component, or a sub-component whose parent (possibly nested) is one. */
function resolveTarget(ref: RawRef, byName: Map<string, Component>): { component?: Component; sub?: string } {
  let sub: string | undefined;
  let cur: RawRef | null | undefined = ref;
  for (let depth = 0; cur && depth < 8; depth++) {
    if (cur.parent) {
      sub ??= cur.name;
      cur = cur.parent;
      continue;
    }
    return { component: byName.get(cur.name), sub };
  }
  return {};
}
