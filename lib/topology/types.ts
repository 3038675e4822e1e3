/** The normalised topology every scan reads: what the stack should look like. */
import type { Direction, Protocol } from '../k8s/types.ts';

export type { Direction, Protocol };

export interface SubComponent {
  /** The sub-component's `name` (its key under `sub_components` when it has none). */
  name: string;
  type: string;
}

export interface Component {
  name: string;
  type: string;
  group: string;
  /** null when the component has no namespace attribute (it takes part in no namespace-level check). */
  namespace: string | null;
  /**
   * Ports for scans that need a target: the declared `port` attribute, else the
   * upstream project's documented default for the type (reported as a warning).
   */
  ports: number[];
  /** Only what the metadata's `port` attribute says (what Stacktic's generator uses). */
  declaredPorts: number[];
  attributes: Record<string, unknown>;
  /** Sub-component names (kept for readers of the earlier shape). */
  subComponents: string[];
  subs: SubComponent[];
}

/**
 * One declared link, from a component's `links_to` or from a sub-component's
 * (`sub_components.<x>.links_to`): `Topology.links` is the single list of both.
 */
export interface Link {
  /** Top-level component names. A link from or to a sub-component resolves to its parent. */
  from: string;
  to: string;
  /** The sub-component the link really starts from (e.g. a Kafka topic). */
  fromSubComponent?: string;
  /** The sub-component the link really targets (e.g. a database inside cnpg). */
  toSubComponent?: string;
  /** The link's type as the metadata names it, e.g. `topic-mongo_db`. */
  type: string;
  /** Top-level component types of both ends. */
  fromType: string;
  toType: string;
  /** The targeted sub-component's type, when the target is one. */
  toSubComponentType?: string;
  fromNamespace: string;
  toNamespace: string;
  /**
   * The port the target listens on, from the metadata only: the target's
   * declared `port`, or its parent's when the sub-component type is served on
   * the parent's port (table SUB_COMPONENT_PORTS). null (any port) when the
   * metadata gives none, with a warning; never a guess.
   */
  port: number | null;
  protocol: Protocol;
  /** Where the link is declared, e.g. `default_context.components.kafka.sub_components.topic-mongo.links_to.mongo-db`. */
  declaredAt: string;
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
