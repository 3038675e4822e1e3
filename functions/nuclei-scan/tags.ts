/**
 * Which nuclei templates run against which component, by Stacktic component type.
 * A data table: add a row to cover a new technology. `http` tags are used in full
 * mode against the component's internal Service URL (when it speaks HTTP) and its
 * routes; `network` tags in network mode against its TCP ports (when it speaks TCP)
 * plus `networkPorts`. Types not listed are treated as HTTP services with the light
 * tags in full mode and are left out of network mode.
 *
 * The tags are nuclei-templates' own (checked against the community templates in
 * test/unit/nuclei-select.test.ts). Every tag of a row is also a technology tag: a
 * template carrying it runs only against that row's types (select.ts), so no grafana
 * CVE ever goes to minio.
 */
export interface TechRow {
  /** Stacktic component types this row covers. */
  types: string[];
  /** The upstream project's default port, used (and noted on the target) when the metadata gives none. */
  defaultPort?: number;
  /** What the component's own ports speak: `http` ones are scanned in full mode, `tcp` ones in network mode. */
  speaks: 'http' | 'tcp';
  /** Template tags for HTTP (full mode, added to the light tags). */
  http?: string[];
  /** Template tags for TCP (network mode). */
  network?: string[];
  /** Upstream-default HTTP ports scanned in full mode besides the component's own (e.g. a management UI). */
  httpPorts?: number[];
  /** Upstream-default ports probed in network mode besides the component's own (management/cluster ports). */
  networkPorts?: number[];
}

export const TECH_TAGS: readonly TechRow[] = [
  { types: ['grafana'], defaultPort: 3000, speaks: 'http', http: ['grafana'] },
  { types: ['keycloak'], defaultPort: 8080, speaks: 'http', http: ['keycloak'] },
  { types: ['minio'], defaultPort: 9000, speaks: 'http', http: ['minio'] },
  { types: ['elasticsearch', 'opensearch'], defaultPort: 9200, speaks: 'http', http: ['elasticsearch', 'opensearch', 'elastic'] },
  { types: ['mongodb'], defaultPort: 27017, speaks: 'tcp', http: ['mongodb'], network: ['mongodb'] },
  { types: ['cnpg', 'postgresql', 'postgres'], defaultPort: 5432, speaks: 'tcp', http: ['postgres', 'postgresql'], network: ['postgres', 'postgresql'] },
  { types: ['redis', 'valkey'], defaultPort: 6379, speaks: 'tcp', http: ['redis'], network: ['redis', 'valkey'] },
  { types: ['rabbitmq'], defaultPort: 5672, speaks: 'tcp', http: ['rabbitmq'], network: ['rabbitmq', 'amqp'], httpPorts: [15672], networkPorts: [15672, 4369] },
  { types: ['kafka', 'strimzi'], defaultPort: 9092, speaks: 'tcp', http: ['kafka'], network: ['kafka'] },
  { types: ['mysql', 'mariadb'], defaultPort: 3306, speaks: 'tcp', http: ['mysql'], network: ['mysql', 'mariadb'] },
  { types: ['memcached'], defaultPort: 11211, speaks: 'tcp', network: ['memcached'] },
  { types: ['prometheus'], defaultPort: 9090, speaks: 'http', http: ['prometheus'] },
  { types: ['jupyterhub', 'jupyter'], defaultPort: 8000, speaks: 'http', http: ['jupyterhub', 'jupyter'] },
  { types: ['zookeeper'], defaultPort: 2181, speaks: 'tcp', network: ['zookeeper'] },
];

/** Templates every HTTP target gets: what light mode looks for on exposed routes. */
export const LIGHT_TAGS: readonly string[] = ['exposure', 'misconfig', 'default-login', 'panel'];
/** The gateway's own templates (APISIX serves every route): added to the routes in full mode. */
export const GATEWAY_TAGS: readonly string[] = ['apisix'];
/** TLS templates (ssl mode). */
export const SSL_TAGS: readonly string[] = ['ssl', 'tls'];

/** The row for a component type, or undefined (looked up in a Map: any type name is safe). */
const byType = new Map<string, TechRow>(TECH_TAGS.flatMap((r) => r.types.map((t) => [t.toLowerCase(), r] as const)));
export function techRow(type: string): TechRow | undefined {
  return byType.get(type.toLowerCase());
}
