/**
 * Generators for Stacktic's constraint templates. Their Rego is not public; the
 * rules are OURS, defined in functions/opa-scan/stacktic/templates/*.yaml and
 * summarised on each generator below. Pod-spec rules apply to a Pod's spec and
 * to the pod template of Deployment, StatefulSet, DaemonSet, ReplicaSet, Job
 * (spec.template) and CronJob (spec.jobTemplate.spec.template).
 *
 * Why this file is long: one generator per Stacktic template (eleven siblings of
 * the same shape, each with its rule summarised above it); split, they would be read apart.
 */
import type { Constraint, Generator, Resource, ViolateResult } from './types.ts';
import {
  forbidEscalation,
  BASE_PORT,
  BASE_RESOURCES,
  BUILDABLE_KINDS,
  NAME_LABEL,
  PROBE_SERVICE_ACCOUNT,
  WORKLOAD_KINDS,
  clone,
  containers,
  formatImage,
  isExemptImage,
  isImageRef,
  labelsOf,
  parseImage,
  podSpecs,
  podTemplates,
  securityContext,
  stringList,
  toLabelValue,
} from './base.ts';
import { cpuMilli, memMilli } from './quantities.ts';

const untestable = (reason: string): ViolateResult => ({ untestable: reason });

/** Latest or untagged (digest-pinned images are neither), as the Stacktic templates define it. */
export function latestOrUntagged(image: string): boolean {
  if (image.includes('@')) return false;
  const last = image.split('/').pop() ?? '';
  if (!last.includes(':')) return true;
  return last.endsWith(':latest');
}

const PINNED_TAG = '3.10';

function withTag(image: string, tag: string): string {
  return formatImage({ name: parseImage(image).name, tag });
}

/** The first container (containers, then initContainers) whose image is not exempt. */
function firstContainer(r: Resource, exempt?: unknown): Record<string, any> | undefined {
  return containers(r, ['containers', 'initContainers']).find((k) => !isExemptImage(k.image, exempt));
}

function noContainer(r: Resource): ViolateResult {
  return untestable(`the ${r.kind} has no container the constraint checks`);
}

function labelDefault(key: string, r: Resource): string {
  return key === NAME_LABEL ? toLabelValue(r.metadata.name) : 'stack-scan';
}

// ---------------------------------------------------------------------------

/**
 * SecurityContextPolicy: every container (containers, initContainers,
 * ephemeralContainers) runs as non-root (container securityContext.runAsNonRoot
 * true, or unset there and true on the pod), allowPrivilegeEscalation is
 * explicitly false and readOnlyRootFilesystem is true.
 * Optional parameter exemptImages (exact, or prefix ending in `*`).
 */
const securityContextPolicy: Generator = {
  kind: 'SecurityContextPolicy',
  resourceKinds: WORKLOAD_KINDS,
  comply(r) {
    const x = clone(r);
    for (const s of podSpecs(x)) {
      s.securityContext ??= {};
      if (s.securityContext.runAsNonRoot !== true) s.securityContext.runAsNonRoot = true;
      if (s.securityContext.runAsUser === 0) s.securityContext.runAsUser = 65532; // runAsNonRoot with uid 0 never starts
    }
    for (const k of containers(x)) {
      const sc = securityContext(k);
      if (sc.runAsNonRoot === false) sc.runAsNonRoot = true;
      if (sc.runAsUser === 0) sc.runAsUser = 65532;
      forbidEscalation(k); // (the API rejects privileged with allowPrivilegeEscalation false)
      sc.readOnlyRootFilesystem = true;
    }
    return x;
  },
  violate(r, c) {
    const x = clone(r);
    const t = firstContainer(x, c.parameters?.exemptImages);
    if (!t) return noContainer(r);
    // runAsNonRoot is the one requirement no other Stacktic template shares
    securityContext(t).runAsNonRoot = false;
    return x;
  },
};

const RESOURCE_KEYS = [
  ['requests', 'cpu'],
  ['requests', 'memory'],
  ['requests', 'ephemeral-storage'],
  ['limits', 'cpu'],
  ['limits', 'memory'],
] as const;

/** ResourcePolicy: every container and initContainer sets cpu and memory requests and limits, and an ephemeral-storage request. */
const resourcePolicy: Generator = {
  kind: 'ResourcePolicy',
  resourceKinds: WORKLOAD_KINDS,
  comply(r) {
    const x = clone(r);
    for (const k of containers(x, ['containers', 'initContainers'])) {
      k.resources ??= {};
      for (const [section, res] of RESOURCE_KEYS) {
        k.resources[section] ??= {};
        const cur = k.resources[section][res];
        if (cur !== undefined && cur !== null && cur !== '') continue;
        const parse = res === 'cpu' ? cpuMilli : memMilli;
        const base = BASE_RESOURCES[section][res as keyof (typeof BASE_RESOURCES)[typeof section]] as string;
        // keep requests <= limits: a new request never exceeds an existing limit, a new limit never undercuts a request
        const other = section === 'requests' ? k.resources.limits?.[res] : k.resources.requests?.[res];
        const o = parse(other);
        const b = parse(base)!;
        k.resources[section][res] = o === undefined ? base : section === 'requests' ? (o < b ? other : base) : o > b ? other : base;
      }
    }
    return x;
  },
  violate(r) {
    const x = clone(r);
    const t = containers(x, ['containers'])[0];
    if (!t?.resources?.requests) return noContainer(r);
    delete t.resources.requests['ephemeral-storage'];
    // A Pod's missing request is defaulted from its limit by the API server before
    // admission, so the limit goes too (ResourcePolicy does not require it).
    if (t.resources.limits) delete t.resources.limits['ephemeral-storage'];
    return x;
  },
};

const PROBE_HANDLERS = ['exec', 'httpGet', 'tcpSocket', 'grpc'];
const hasHandler = (p: unknown) => !!p && typeof p === 'object' && PROBE_HANDLERS.some((h) => (p as Record<string, unknown>)[h]);

/**
 * ProbesPolicy: every container in spec.containers has a livenessProbe and a
 * readinessProbe, each with a handler (exec, httpGet, tcpSocket or grpc).
 * initContainers are not judged: the API forbids those probes on them.
 */
const probesPolicy: Generator = {
  kind: 'ProbesPolicy',
  resourceKinds: WORKLOAD_KINDS,
  comply(r) {
    const x = clone(r);
    for (const k of containers(x, ['containers'])) {
      for (const p of ['livenessProbe', 'readinessProbe']) {
        if (hasHandler(k[p])) continue;
        k[p] = { ...(k[p] && typeof k[p] === 'object' ? k[p] : { periodSeconds: 10 }), tcpSocket: { port: BASE_PORT } };
      }
    }
    return x;
  },
  violate(r) {
    const x = clone(r);
    const t = containers(x, ['containers'])[0];
    if (!t) return noContainer(r);
    delete t.livenessProbe;
    return x;
  },
};

/**
 * DisallowDangerousSettings: no container is privileged, every container sets
 * allowPrivilegeEscalation explicitly to false (absent counts as allowed: the
 * kernel default lets a process gain privileges), and no image is `:latest` or
 * untagged (a digest-pinned image passes).
 */
const disallowDangerousSettings: Generator = {
  kind: 'DisallowDangerousSettings',
  resourceKinds: WORKLOAD_KINDS,
  comply(r) {
    const x = clone(r);
    for (const k of containers(x)) {
      forbidEscalation(k);
      if (typeof k.image === 'string' && latestOrUntagged(k.image)) k.image = withTag(k.image, PINNED_TAG);
    }
    return x;
  },
  violate(r) {
    const x = clone(r);
    const t = firstContainer(x);
    if (!t) return noContainer(r);
    // privileged would need allowPrivilegeEscalation dropped too (API validation), i.e. two violations
    t.image = withTag(String(t.image), 'latest');
    return x;
  },
};

/** An image reference is under a registry entry: the entry ends in '/' and prefixes it, or the entry followed by '/' prefixes it. */
export function underRegistry(image: string, entry: string): boolean {
  if (!entry) return false;
  return entry.endsWith('/') ? image.startsWith(entry) : image.startsWith(`${entry}/`);
}

const FOREIGN_IMAGES = ['docker.io/library/busybox:1.36', 'quay.io/stack-scan/probe:1.0.0', 'example.invalid/stack-scan/probe:1.0.0'];

function imageInRegistry(entry: string, current: string): string | undefined {
  const ref = parseImage(current);
  const tail = ref.name.split('/').pop() || 'pause';
  const tag = ref.tag && ref.tag !== 'latest' ? ref.tag : PINNED_TAG;
  const img = `${entry.endsWith('/') ? entry : `${entry}/`}${tail}:${tag}`;
  return isImageRef(img) ? img : undefined;
}

/**
 * K8sAllowedImageRequirements: with `registries` non-empty, every image is under
 * one of them (path-boundary aware: "registry.k8s.io" allows
 * "registry.k8s.io/pause:3.10" but not "registry.k8s.io.evil.com/x"); with
 * `disallow_latest: true`, no image is `:latest` or untagged.
 */
const allowedImageRequirements: Generator = {
  kind: 'K8sAllowedImageRequirements',
  resourceKinds: WORKLOAD_KINDS,
  comply(r, c) {
    const x = clone(r);
    const registries = stringList(c.parameters, 'registries') ?? [];
    const noLatest = c.parameters?.disallow_latest === true;
    for (const k of containers(x)) {
      if (typeof k.image !== 'string') continue;
      if (registries.length && !registries.some((e) => underRegistry(k.image, e))) {
        const next = registries.map((e) => imageInRegistry(e, k.image)).find(Boolean);
        if (next) k.image = next;
      }
      if (noLatest && latestOrUntagged(k.image)) k.image = withTag(k.image, PINNED_TAG);
    }
    return x;
  },
  violate(r, c) {
    const registries = stringList(c.parameters, 'registries') ?? [];
    const noLatest = c.parameters?.disallow_latest === true;
    const x = clone(r);
    const t = firstContainer(x);
    if (!t) return noContainer(r);
    if (registries.length) {
      const bad = containers(x).find((k) => !registries.some((e) => underRegistry(String(k.image), e)));
      if (bad) return untestable(`no image under the registries ${JSON.stringify(registries)} could be built for container ${bad.name}`);
      const foreign = FOREIGN_IMAGES.find((i) => !registries.some((e) => underRegistry(i, e)));
      if (!foreign) return untestable(`every candidate image is under one of ${JSON.stringify(registries)}`);
      t.image = foreign;
      return x;
    }
    if (noLatest) {
      t.image = withTag(String(t.image), 'latest');
      return x;
    }
    return untestable('registries is empty and disallow_latest is not true: the constraint allows every image');
  },
};

export const IMAGE_SIGNED_LABEL = 'stacktic.io/imageSigned';

/** ImageSigningPolicy: label stacktic.io/imageSigned="true" on the object and, for workloads, on its pod template. */
const imageSigningPolicy: Generator = {
  kind: 'ImageSigningPolicy',
  resourceKinds: WORKLOAD_KINDS,
  comply(r) {
    const x = clone(r);
    labelsOf(x.metadata)[IMAGE_SIGNED_LABEL] = 'true';
    for (const t of podTemplates(x)) {
      t.metadata ??= {};
      labelsOf(t.metadata)[IMAGE_SIGNED_LABEL] = 'true';
    }
    return x;
  },
  violate(r) {
    const x = clone(r);
    labelsOf(x.metadata)[IMAGE_SIGNED_LABEL] = 'false';
    return x;
  },
};

function requireLabelKeys(kind: string, resourceKinds: readonly string[], param: string, doc: string): Generator {
  return {
    kind,
    resourceKinds,
    comply(r, c) {
      const x = clone(r);
      if (!resourceKinds.includes(x.kind)) return x;
      const labels = labelsOf(x.metadata);
      for (const key of stringList(c.parameters, param) ?? []) if (labels[key] === undefined) labels[key] = labelDefault(key, x);
      return x;
    },
    violate(r, c) {
      const keys = stringList(c.parameters, param) ?? [];
      if (!keys.length) return untestable(`parameters.${param} is empty: ${doc} requires no label, so nothing can violate it`);
      if (!resourceKinds.includes(r.kind)) return untestable(`${doc} does not judge a ${r.kind}`);
      const x = clone(r);
      delete labelsOf(x.metadata)[keys[0]];
      return x;
    },
  };
}

/** BlockNamespaceDeployments: Pods, Deployments, StatefulSets, DaemonSets and ReplicaSets carry every `requiredLabelKeys` label key (object metadata). */
const blockNamespaceDeployments = requireLabelKeys(
  'BlockNamespaceDeployments',
  ['Pod', 'Deployment', 'StatefulSet', 'DaemonSet', 'ReplicaSet'],
  'requiredLabelKeys',
  'BlockNamespaceDeployments',
);

/** RequiredLabelsPolicy: the object carries every `labels` key (any kind). */
const requiredLabelsPolicy = requireLabelKeys('RequiredLabelsPolicy', BUILDABLE_KINDS, 'labels', 'RequiredLabelsPolicy');

const emptySelector = (s: unknown) =>
  !!s && typeof s === 'object' && !Object.keys((s as any).matchLabels ?? {}).length && !((s as any).matchExpressions ?? []).length;

/** A peer that selects every pod of every namespace (or is empty). */
function wideOpenPeer(p: Record<string, any>): boolean {
  if (!p || typeof p !== 'object' || !Object.keys(p).length) return true;
  return 'namespaceSelector' in p && emptySelector(p.namespaceSelector) && (!('podSelector' in p) || emptySelector(p.podSelector));
}

/**
 * BlockWideOpenNetworkPolicy: no ingress rule without `from` peers and no egress
 * rule without `to` peers (such a rule allows every source/destination), no empty
 * peer `{}`, and no peer with an empty namespaceSelector whose podSelector is
 * absent or empty (every pod in every namespace). ipBlock peers are not judged.
 */
const blockWideOpenNetworkPolicy: Generator = {
  kind: 'BlockWideOpenNetworkPolicy',
  resourceKinds: ['NetworkPolicy'],
  comply(r) {
    const x = clone(r);
    if (x.kind !== 'NetworkPolicy' || !x.spec) return x;
    for (const [dir, peersKey] of [
      ['ingress', 'from'],
      ['egress', 'to'],
    ] as const) {
      for (const rule of x.spec[dir] ?? []) {
        const peers: Record<string, any>[] = rule[peersKey] ?? [];
        if (!peers.length) {
          rule[peersKey] = [{ podSelector: {} }]; // same namespace only
          continue;
        }
        rule[peersKey] = peers.map((p) => (wideOpenPeer(p) ? { podSelector: p?.podSelector ?? {} } : p));
      }
    }
    return x;
  },
  violate(r) {
    if (r.kind !== 'NetworkPolicy') return untestable(`BlockWideOpenNetworkPolicy only judges NetworkPolicies, not a ${r.kind}`);
    const x = clone(r);
    x.spec ??= { podSelector: {} };
    x.spec.ingress = [...(x.spec.ingress ?? []), {}]; // a rule with no peers: every source
    if (Array.isArray(x.spec.policyTypes) && !x.spec.policyTypes.includes('Ingress')) x.spec.policyTypes.push('Ingress');
    return x;
  },
};

/** DisallowDefaultServiceAccount: every pod spec sets serviceAccountName, other than "default" (absent means default). */
const disallowDefaultServiceAccount: Generator = {
  kind: 'DisallowDefaultServiceAccount',
  resourceKinds: WORKLOAD_KINDS,
  comply(r) {
    const x = clone(r);
    for (const s of podSpecs(x)) {
      if (!s.serviceAccountName || s.serviceAccountName === 'default') s.serviceAccountName = PROBE_SERVICE_ACCOUNT;
      if (s.serviceAccount === 'default' || (s.serviceAccount && s.serviceAccount !== s.serviceAccountName)) delete s.serviceAccount; // deprecated alias
    }
    return x;
  },
  violate(r) {
    const x = clone(r);
    const specs = podSpecs(x);
    if (!specs.length) return untestable(`a ${r.kind} has no pod spec`);
    for (const s of specs) {
      s.serviceAccountName = 'default';
      delete s.serviceAccount;
    }
    return x;
  },
};

const WILDCARD_REPLACEMENT: Record<string, string[]> = { verbs: ['get', 'list', 'watch'], resources: ['configmaps'], apiGroups: [''] };

/** DisallowWildcardRBAC: no Role/ClusterRole rule has a `*` in verbs, resources or apiGroups (also partial, e.g. "*\/scale"). */
const disallowWildcardRBAC: Generator = {
  kind: 'DisallowWildcardRBAC',
  resourceKinds: ['Role', 'ClusterRole'],
  comply(r) {
    const x = clone(r);
    if (!Array.isArray(x.rules)) return x;
    for (const rule of x.rules as Record<string, any>[]) {
      for (const f of ['verbs', 'resources', 'apiGroups']) {
        const v: unknown[] | undefined = rule[f];
        if (!Array.isArray(v) || !v.some((e) => typeof e === 'string' && e.includes('*'))) continue;
        const kept = v.filter((e) => !(typeof e === 'string' && e.includes('*')));
        rule[f] = kept.length ? kept : [...WILDCARD_REPLACEMENT[f]];
      }
    }
    return x;
  },
  violate(r) {
    if (r.kind !== 'Role' && r.kind !== 'ClusterRole') return untestable(`DisallowWildcardRBAC only judges Roles and ClusterRoles, not a ${r.kind}`);
    const x = clone(r);
    if (!Array.isArray(x.rules) || !x.rules.length) x.rules = [{ apiGroups: [''], resources: ['configmaps'], verbs: [] }];
    (x.rules as Record<string, any>[])[0].verbs = ['*'];
    return x;
  },
};

export const REQUIRE_NETWORK_POLICY_REASON =
  'RequireNetworkPolicy judges a workload against the NetworkPolicies that exist in its namespace (data.inventory): ' +
  'the answer depends on cluster state, not on the submitted object, and needs Gatekeeper to sync networking.k8s.io/v1 NetworkPolicy (Config or SyncSet); ' +
  'without that sync every pod is reported. Judge it from audit results.';

/** RequireNetworkPolicy: a Pod (or a workload's pod template) must be selected by a NetworkPolicy of its namespace. Needs cluster state. */
const requireNetworkPolicy: Generator = {
  kind: 'RequireNetworkPolicy',
  resourceKinds: WORKLOAD_KINDS,
  auditOnly() {
    return REQUIRE_NETWORK_POLICY_REASON;
  },
  comply(r) {
    return clone(r);
  },
  violate(_r: Resource, _c: Constraint) {
    return untestable(REQUIRE_NETWORK_POLICY_REASON);
  },
};

export const STACKTIC_GENERATORS: readonly Generator[] = [
  securityContextPolicy,
  resourcePolicy,
  probesPolicy,
  disallowDangerousSettings,
  allowedImageRequirements,
  imageSigningPolicy,
  blockNamespaceDeployments,
  blockWideOpenNetworkPolicy,
  disallowDefaultServiceAccount,
  disallowWildcardRBAC,
  requiredLabelsPolicy,
  requireNetworkPolicy,
];
