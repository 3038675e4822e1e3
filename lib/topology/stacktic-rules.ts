/**
 * Stacktic's NetworkPolicy generator, as one data table a reader can check
 * against Stacktic's own output. Every row names the generated file(s) that
 * show it in the real Stacktic sample strimzi_basic_setup (its networkpolicy/ folder, kept with the shared test samples, not in this repository)
 * (`nrNN` is the generator's sequence number in the file name).
 *
 * Policy names are Stacktic's without the `--nrNN` suffix (matching ignores it).
 * `{ns}` is the namespace the policy lives in; for links `{src}`/`{dst}` are the
 * source and target namespaces and `{port}` the target's declared port.
 * Every generated policy selects every pod of its namespace (`podSelector: {}`).
 *
 * Lookups keyed by user data (component and sub-component types) go through
 * `Map`s: a type called `constructor` or `__proto__` is just an unknown type.
 */
import type { Direction, Protocol } from './types.ts';
import { NAMESPACE_NAME_LABEL } from '../k8s/types.ts';

/** The namespace label Stacktic's policies select stack namespaces by. */
export const STACK_NAMESPACE_LABEL = 'stacktic.io/namespace';

export type RuleCategory = 'link' | 'exception' | 'internet' | 'intra-namespace';

/** A peer: a namespace selected by one label, or everyone (no `from`/`to` in the rule). */
export type RulePeer = { namespace: string; label: string } | { any: true };

export interface PolicyRule {
  /** Stable id, e.g. `system-dns`, `cert_manager/app-from-kube-system`. */
  id: string;
  category: RuleCategory;
  direction: Direction;
  /** Name template. */
  name: string;
  peer: RulePeer;
  ports: { protocol: Protocol; port: number }[];
  /** The sample files that show this row. */
  evidence: string;
}

const tcp = (...ports: number[]) => ports.map((port) => ({ protocol: 'TCP' as const, port }));

/** Per stack namespace (every namespace with at least one component). */
export const NAMESPACE_RULES: readonly PolicyRule[] = [
  {
    id: 'all-ingress',
    category: 'intra-namespace',
    direction: 'ingress',
    name: '{ns}--all--{ns}--ingress--ports--{ns}',
    peer: { namespace: '{ns}', label: STACK_NAMESPACE_LABEL },
    ports: [],
    evidence: 'nr44, nr46, nr48, nr50, nr52, nr54, nr56, nr58, nr60',
  },
  {
    id: 'all-egress',
    category: 'intra-namespace',
    direction: 'egress',
    name: '{ns}--all--{ns}--egress--ports--{ns}',
    peer: { namespace: '{ns}', label: STACK_NAMESPACE_LABEL },
    ports: [],
    evidence: 'nr45, nr47, nr49, nr51, nr53, nr55, nr57, nr59, nr61',
  },
  {
    id: 'system-dns',
    category: 'exception',
    direction: 'egress',
    name: '{ns}--exception--system--egress--ports--53',
    peer: { namespace: 'kube-system', label: NAMESPACE_NAME_LABEL },
    ports: [
      { protocol: 'TCP', port: 53 },
      { protocol: 'UDP', port: 53 },
    ],
    evidence: 'nr0, nr3, nr6, nr11, nr14, nr18, nr22, nr28, nr31',
  },
  {
    id: 'system-api-kube-system',
    category: 'exception',
    direction: 'egress',
    name: '{ns}--exception--system--egress--ports--443',
    peer: { namespace: 'kube-system', label: NAMESPACE_NAME_LABEL },
    ports: tcp(443),
    evidence: 'nr1, nr4, nr7, nr12, nr15, nr19, nr23, nr29, nr32',
  },
  {
    id: 'system-api-default',
    category: 'exception',
    direction: 'egress',
    name: '{ns}--exception--system--egress--ports--443',
    peer: { namespace: 'default', label: NAMESPACE_NAME_LABEL },
    ports: tcp(443),
    evidence: 'nr2, nr5, nr8, nr13, nr16, nr20, nr24, nr30, nr33',
  },
];

/**
 * Per link whose target declares a port, between two different namespaces
 * (a link inside one namespace is covered by the `all` policies). A link whose
 * target declares no port gets no policy from Stacktic (grafana → prometheus,
 * prometheus → kafka, jupyterhub → topic-bucket, apisix → bridge in the sample).
 */
export const LINK_RULES: readonly PolicyRule[] = [
  {
    id: 'link-egress',
    category: 'link',
    direction: 'egress',
    name: '{src}--to--{dst}--egress--ports--{port}',
    peer: { namespace: '{dst}', label: STACK_NAMESPACE_LABEL },
    ports: [],
    evidence: 'nr35, nr36, nr37, nr40, nr41',
  },
  {
    id: 'link-ingress',
    category: 'link',
    direction: 'ingress',
    name: '{dst}--from--{src}--ingress--ports--{port}',
    peer: { namespace: '{src}', label: STACK_NAMESPACE_LABEL },
    ports: [],
    evidence: 'nr34, nr38, nr39, nr42, nr43',
  },
];

/**
 * Per component type, in the component's namespace. A type listed with no
 * rows is known to get only the namespace and link policies. A type not
 * listed is unknown: reported as such, nothing guessed for it.
 */
export const TYPE_RULES: ReadonlyMap<string, readonly PolicyRule[]> = new Map<string, PolicyRule[]>([
  [
    'cert_manager',
    [
      {
        id: 'cert_manager/app-from-kube-system',
        category: 'exception',
        direction: 'ingress',
        name: '{ns}--exception--app--ingress--ports--443-9402-10250',
        peer: { namespace: 'kube-system', label: NAMESPACE_NAME_LABEL },
        ports: tcp(443, 9402, 10250),
        evidence: 'nr9 (its spec is broken: see findings)',
      },
      {
        id: 'cert_manager/app-from-prometheus',
        category: 'exception',
        direction: 'ingress',
        name: '{ns}--exception--app--ingress--ports--443-9402-10250',
        peer: { namespace: 'prometheus', label: NAMESPACE_NAME_LABEL },
        ports: tcp(443, 9402, 10250),
        evidence: 'nr10 (its spec is broken: see findings)',
      },
      {
        id: 'cert_manager/internet-egress',
        category: 'internet',
        direction: 'egress',
        name: '{ns}--internet--any--egress--ports--80-443',
        peer: { any: true },
        ports: tcp(80, 443),
        evidence: 'nr62 (its spec is broken: see findings)',
      },
    ],
  ],
  [
    'grafana',
    [
      {
        id: 'grafana/internet-ingress',
        category: 'internet',
        direction: 'ingress',
        name: '{ns}--internet--any--ingress--ports--3000-9090',
        peer: { any: true },
        ports: tcp(3000, 9090),
        evidence: 'nr65 (its spec is broken: see findings)',
      },
      {
        id: 'grafana/internet-egress',
        category: 'internet',
        direction: 'egress',
        name: '{ns}--internet--any--egress--ports--80-443-9090',
        peer: { any: true },
        ports: tcp(80, 443, 9090),
        evidence: 'nr66 (its spec lacks port 80: see findings)',
      },
    ],
  ],
  [
    'prometheus',
    [
      {
        id: 'prometheus/app-coredns',
        category: 'exception',
        direction: 'egress',
        name: '{ns}--exception--app--egress--ports--9153',
        peer: { namespace: 'kube-system', label: STACK_NAMESPACE_LABEL },
        ports: tcp(9153),
        evidence: 'nr25',
      },
      {
        id: 'prometheus/app-alertmanager',
        category: 'exception',
        direction: 'egress',
        name: '{ns}--exception--app--egress--ports--9093',
        peer: { namespace: 'gmp-system', label: STACK_NAMESPACE_LABEL },
        ports: tcp(9093),
        evidence: 'nr26',
      },
      {
        id: 'prometheus/app-rabbitmq-exporter',
        category: 'exception',
        direction: 'egress',
        name: '{ns}--exception--app--egress--ports--9419',
        peer: { namespace: 'rabbitmq', label: STACK_NAMESPACE_LABEL },
        ports: tcp(9419),
        evidence: 'nr27',
      },
      {
        id: 'prometheus/internet-ingress',
        category: 'internet',
        direction: 'ingress',
        name: '{ns}--internet--any--ingress--ports--3000-9090',
        peer: { any: true },
        ports: tcp(3000, 9090),
        evidence: 'nr63 (its spec is broken: see findings)',
      },
      {
        id: 'prometheus/internet-egress',
        category: 'internet',
        direction: 'egress',
        name: '{ns}--internet--any--egress--ports--80-443',
        peer: { any: true },
        ports: tcp(80, 443),
        evidence: 'nr64 (its spec is broken: see findings)',
      },
    ],
  ],
  [
    'apisix',
    [
      {
        id: 'apisix/internet-ingress',
        category: 'internet',
        direction: 'ingress',
        name: '{ns}--internet--any--ingress--ports--2379-2380-8080-9000-9080-9180-9443',
        peer: { any: true },
        ports: tcp(2379, 2380, 8080, 9000, 9080, 9180, 9443),
        evidence: 'nr67 (its spec lacks 2379 and 8080: see findings)',
      },
      {
        id: 'apisix/internet-egress',
        category: 'internet',
        direction: 'egress',
        name: '{ns}--internet--any--egress--ports--80-443',
        peer: { any: true },
        ports: tcp(80, 443),
        evidence: 'nr68 (its spec is broken: see findings)',
      },
    ],
  ],
  ['jupyterhub', []],
  ['postgresql', []],
  ['kafka', []],
  ['minio', []],
  ['mongodb', []],
]);

/**
 * Per link between two component types, beside the link policies: the gateway
 * reaching the MinIO console. `{src}`/`{dst}` as in LINK_RULES; the target's
 * port is not used.
 */
export const LINK_TYPE_RULES: ReadonlyMap<string, readonly PolicyRule[]> = new Map<string, PolicyRule[]>([
  [
    'apisix>minio',
    [
      {
        id: 'apisix>minio/console-egress',
        category: 'exception',
        direction: 'egress',
        name: '{src}--exception--app--egress--ports--9001',
        peer: { namespace: '{dst}', label: STACK_NAMESPACE_LABEL },
        ports: tcp(9001),
        evidence: 'nr21',
      },
      {
        id: 'apisix>minio/console-ingress',
        category: 'exception',
        direction: 'ingress',
        name: '{dst}--exception--app--ingress--ports--9001',
        peer: { namespace: '{src}', label: STACK_NAMESPACE_LABEL },
        ports: tcp(9001),
        evidence: 'nr17',
      },
    ],
  ],
]);

/**
 * Sub-component types: is a link to one served on its parent's port ('parent'),
 * or does it listen elsewhere ('own': its port is the sub-component's own
 * `port` attribute, or unknown)? Unknown types are 'own' with a warning.
 */
export const SUB_COMPONENT_PORTS: ReadonlyMap<string, { port: 'parent' | 'own'; evidence: string }> = new Map([
  ['database', { port: 'parent', evidence: 'postgresql database: nr34, nr37 use postgresql port 5432' }],
  ['bucket', { port: 'parent', evidence: 'minio bucket: nr36, nr39 use minio port 9000' }],
  ['mongo_db', { port: 'parent', evidence: 'mongodb database: nr35, nr43 use mongodb port 27017' }],
  ['topic', { port: 'parent', evidence: 'kafka topic, served by the brokers (kafka declares no port: no policy, as in the sample)' }],
  ['db', { port: 'parent', evidence: 'cnpg database (llama_base; no generated files to confirm)' }],
  ['bridge', { port: 'own', evidence: "Strimzi HTTP bridge: its own listener, never the brokers' port" }],
] as const);

/** `{ns}`, `{src}`, `{dst}`, `{port}` filled in. */
export function fill(template: string, vars: { ns?: string; src?: string; dst?: string; port?: number | null }): string {
  return template.replace(/\{(ns|src|dst|port)\}/g, (_, k: 'ns' | 'src' | 'dst' | 'port') => String(vars[k] ?? ''));
}
