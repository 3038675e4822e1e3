/** The normalised topology every scan reads: what the stack should look like. */
export type Protocol = 'TCP' | 'UDP' | 'SCTP';

export interface Component {
  name: string;
  type: string;
  group: string;
  /** null when the component has no namespace attribute (it takes part in no namespace-level check). */
  namespace: string | null;
  ports: number[];
  attributes: Record<string, unknown>;
  subComponents: string[];
}

export interface Link {
  /** Top-level component names. A link to a sub-component resolves to its parent. */
  from: string;
  to: string;
  /** The sub-component the link really targets (e.g. a database inside cnpg). */
  toSubComponent?: string;
  type: string;
  fromNamespace: string;
  toNamespace: string;
  /** The target's port; null when the target declares none and its type has no known default. */
  port: number | null;
  protocol: Protocol;
}

export interface Route {
  host: string;
  component: string;
  namespace: string;
  port: number | null;
}

export interface Topology {
  stack: string;
  domain: string | null;
  namespaces: string[];
  components: Component[];
  links: Link[];
  routes: Route[];
  /** Things read leniently or left out, each naming the file and field. */
  warnings: string[];
}
