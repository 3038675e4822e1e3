/**
 * Generators for the gatekeeper-library "general" templates (Apache-2.0), and the
 * registry of every library generator (PSP ones in library-psp.ts). Each one follows
 * its template's Rego/CEL:
 *
 * - Templates that read `input.review.object.spec.containers` (all PSP ones,
 *   probes, limits, requests, tags, repos, automount) only ever look at a Pod's own
 *   spec: for a Deployment they never fire. Their `resourceKinds` is therefore ['Pod']
 *   (a Deployment would be admitted whatever it holds, which says nothing about
 *   enforcement). Their comply() still works through podSpecs(), so composing
 *   them on a workload is harmless.
 * - `exemptImages`: violate() picks a container whose image is not exempt; when
 *   every container is exempt (e.g. `exemptImages: ["*"]`) it returns
 *   `{ untestable }`.
 * - When comply() cannot make a resource satisfy a constraint (an allowedRegex
 *   we cannot build a value for, an empty `repos` or `probeTypes` list …),
 *   violate() returns `{ untestable: reason }`, since no valid resource exists.
 */
import type { Constraint, Generator, Resource } from './types.ts';
import {
  BASE_IMAGE,
  BASE_PORT,
  BUILDABLE_KINDS,
  NAME_LABEL,
  clone,
  containers,
  formatImage,
  isExemptImage,
  isImageRef,
  labelsOf,
  parseImage,
  stringList,
  toLabelValue,
} from './base.ts';
import { ALL_CONTAINERS, allExempt, POD_ONLY, target, untestable } from './library-common.ts';
import { PSP_GENERATORS } from './library-psp.ts';
import { containerLimits, containerRequests, ephemeralStorageLimit } from './library-resources.ts';
import { labelValueMatching, labelValueNotMatching, toJsRegExp } from './regex.ts';

// ---------------------------------------------------------------------------
// probes

const PROBE_FIELDS = new Set(['livenessProbe', 'readinessProbe', 'startupProbe']);
/** Probe handlers we can build, in order of preference. */
const HANDLERS: Record<string, () => unknown> = {
  tcpSocket: () => ({ port: BASE_PORT }),
  httpGet: () => ({ path: '/healthz', port: BASE_PORT }),
  grpc: () => ({ port: BASE_PORT }),
  exec: () => ({ command: ['/pause', '-v'] }),
};

function probesProblem(c: Constraint): string | undefined {
  const probes = stringList(c.parameters, 'probes') ?? [];
  const types = stringList(c.parameters, 'probeTypes') ?? [];
  if (!probes.length) return 'the constraint requires no probes (parameters.probes is empty), so nothing can violate it';
  const unknown = probes.filter((p) => !PROBE_FIELDS.has(p));
  if (unknown.length)
    return (
      `parameters.probes names ${unknown.join(', ')}, which is not a container probe field (livenessProbe, readinessProbe, startupProbe): no ` +
      `container can satisfy it`
    );
  if (!types.length) return 'parameters.probeTypes is empty: the template then reports every probe as missing, so no container can satisfy it';
  if (!types.some((t) => t in HANDLERS))
    return `parameters.probeTypes ${JSON.stringify(types)} names no probe handler (tcpSocket, httpGet, grpc, exec): no container can satisfy it`;
  return undefined;
}

/** K8sRequiredProbes: every spec.containers entry has each of `probes`, with a handler listed in `probeTypes`. */
const requiredProbes: Generator = {
  kind: 'K8sRequiredProbes',
  resourceKinds: POD_ONLY,
  comply(r, c) {
    const x = clone(r);
    const probes = (stringList(c.parameters, 'probes') ?? []).filter((p) => PROBE_FIELDS.has(p));
    const types = stringList(c.parameters, 'probeTypes') ?? [];
    const usable = Object.keys(HANDLERS).filter((h) => types.includes(h));
    if (!usable.length) return x;
    for (const k of containers(x, ['containers'])) {
      for (const p of probes) {
        const cur = k[p];
        if (cur && typeof cur === 'object' && types.some((t) => cur[t])) continue;
        const next: Record<string, any> = cur && typeof cur === 'object' ? { ...cur } : { periodSeconds: 10 };
        for (const h of Object.keys(HANDLERS)) delete next[h]; // a probe may hold only one handler
        next[usable[0]] = HANDLERS[usable[0]]();
        k[p] = next;
      }
    }
    return x;
  },
  violate(r, c) {
    const problem = probesProblem(c);
    if (problem) return untestable(problem);
    const x = clone(r);
    const t = containers(x, ['containers'])[0];
    if (!t) return untestable(`the ${r.kind} has no containers`);
    delete t[stringList(c.parameters, 'probes')![0]];
    return x;
  },
};

// ---------------------------------------------------------------------------
// images

const TAG_CANDIDATES = ['3.10', '3.9', '1.0.0', 'v1.0.0', 'stable'];

/** K8sDisallowedTags' rule: no tag in the last path segment, or the image ends with ":<tag>" for a disallowed tag. */
function badTag(image: string, tags: readonly string[]): boolean {
  const last = image.split('/').pop() ?? '';
  if (!last.includes(':')) return true;
  return tags.some((t) => image.endsWith(`:${t}`));
}

function retag(image: string, tag: string | undefined): string {
  const ref = parseImage(image);
  return formatImage({ name: ref.name, ...(tag !== undefined ? { tag } : {}), ...(ref.digest ? { digest: ref.digest } : {}) });
}

/** K8sDisallowedTags: every image has a tag, and not one of `tags`. */
const disallowedTags: Generator = {
  kind: 'K8sDisallowedTags',
  resourceKinds: POD_ONLY,
  comply(r, c) {
    const x = clone(r);
    const tags = stringList(c.parameters, 'tags') ?? [];
    for (const k of containers(x)) {
      if (typeof k.image !== 'string' || isExemptImage(k.image, c.parameters?.exemptImages) || !badTag(k.image, tags)) continue;
      const fixed = TAG_CANDIDATES.map((t) => retag(k.image, t)).find((i) => !badTag(i, tags));
      if (fixed) k.image = fixed;
    }
    return x;
  },
  violate(r, c) {
    const tags = stringList(c.parameters, 'tags') ?? [];
    const x = clone(r);
    const t = target(x, c, ['containers', 'initContainers', 'ephemeralContainers']);
    if (!t) return untestable(allExempt(c));
    if (badTag(t.image, tags)) return untestable(`no allowed tag could be found for image ${t.image} (disallowed tags ${JSON.stringify(tags)})`);
    const options = [...tags.filter((tag) => tag !== '').map((tag) => retag(t.image, tag)), retag(t.image, undefined)];
    const bad = options.find((i) => isImageRef(i) && badTag(i, tags) && !isExemptImage(i, c.parameters?.exemptImages));
    if (!bad) return untestable(`every disallowed variant of image ${t.image} is exempt by exemptImages`);
    t.image = bad;
    return x;
  },
};

/** An image under `prefix`, keeping the current image's last path segment and tag where possible. */
function imageUnder(prefix: string, current: string): string | undefined {
  const ref = parseImage(current);
  const tail = ref.name.split('/').pop() || 'pause';
  const tag = ref.tag && ref.tag !== 'latest' ? ref.tag : '1.0.0';
  const options = [prefix, `${prefix}${tail}:${tag}`, `${prefix}/${tail}:${tag}`, `${prefix}:${tag}`, `${prefix}${tag}`];
  return options.find((o) => o.startsWith(prefix) && isImageRef(o) && parseImage(o).tag !== undefined && parseImage(o).tag !== 'latest');
}

const FOREIGN_IMAGES = ['docker.io/library/busybox:1.36', 'quay.io/stack-scan/probe:1.0.0', 'example.invalid/stack-scan/probe:1.0.0'];

function reposProblem(c: Constraint): string | undefined {
  const repos = stringList(c.parameters, 'repos') ?? [];
  if (!repos.length) return 'parameters.repos is empty: the template then rejects every image, so no valid resource exists';
  if (repos.includes('')) return 'parameters.repos contains the empty prefix, which every image matches: nothing can violate the constraint';
  return undefined;
}

/** K8sAllowedRepos: every image (containers, initContainers, ephemeralContainers) starts with one of `repos`. */
const allowedRepos: Generator = {
  kind: 'K8sAllowedRepos',
  resourceKinds: POD_ONLY,
  comply(r, c) {
    const x = clone(r);
    const repos = stringList(c.parameters, 'repos') ?? [];
    for (const k of containers(x)) {
      if (typeof k.image === 'string' && repos.some((p) => k.image.startsWith(p))) continue;
      const next = repos.map((p) => imageUnder(p, typeof k.image === 'string' ? k.image : 'pause:1.0.0')).find(Boolean);
      if (next) k.image = next;
    }
    return x;
  },
  violate(r, c) {
    const problem = reposProblem(c);
    if (problem) return untestable(problem);
    const repos = stringList(c.parameters, 'repos')!;
    const x = clone(r);
    const all = containers(x);
    const unmet = all.find((k) => !repos.some((p) => String(k.image).startsWith(p)));
    if (unmet) return untestable(`no image under ${JSON.stringify(repos)} could be built for container ${unmet.name} (${unmet.image})`);
    const t = containers(x, ['containers'])[0];
    if (!t) return untestable(`the ${r.kind} has no containers`);
    const foreign = FOREIGN_IMAGES.find((i) => !repos.some((p) => i.startsWith(p)));
    if (!foreign) return untestable(`every candidate image matches one of ${JSON.stringify(repos)}`);
    t.image = foreign;
    return x;
  },
};

// ---------------------------------------------------------------------------
// labels

function labelDefault(key: string, r: Resource): string {
  if (key === NAME_LABEL) return toLabelValue(r.metadata.name);
  return 'stack-scan';
}

interface LabelRequirement {
  key: string;
  allowedRegex?: string;
}

function labelRequirements(c: Constraint): LabelRequirement[] {
  const v = c.parameters?.labels;
  if (!Array.isArray(v)) return [];
  return v
    .filter((e): e is Record<string, unknown> => !!e && typeof e === 'object' && typeof (e as { key?: unknown }).key === 'string')
    .map((e) => ({ key: e.key as string, ...(typeof e.allowedRegex === 'string' && e.allowedRegex !== '' ? { allowedRegex: e.allowedRegex } : {}) }));
}

function regexMatches(pattern: string, value: string): boolean {
  try {
    return toJsRegExp(pattern).test(value);
  } catch {
    return false;
  }
}

/** K8sRequiredLabels: the object's metadata.labels hold every `labels[].key`, matching `allowedRegex` where given. */
const requiredLabels: Generator = {
  kind: 'K8sRequiredLabels',
  resourceKinds: BUILDABLE_KINDS,
  comply(r, c) {
    const x = clone(r);
    const labels = labelsOf(x.metadata);
    for (const req of labelRequirements(c)) {
      const cur = labels[req.key];
      if (cur !== undefined && (!req.allowedRegex || regexMatches(req.allowedRegex, cur))) continue;
      if (!req.allowedRegex) {
        labels[req.key] = labelDefault(req.key, x);
        continue;
      }
      const def = labelDefault(req.key, x);
      if (regexMatches(req.allowedRegex, def)) {
        labels[req.key] = def;
        continue;
      }
      const ex = labelValueMatching(req.allowedRegex);
      if ('value' in ex) labels[req.key] = ex.value;
    }
    return x;
  },
  violate(r, c) {
    const reqs = labelRequirements(c);
    if (!reqs.length) return untestable('the constraint requires no labels (parameters.labels is empty), so nothing can violate it');
    for (const req of reqs) {
      if (!req.allowedRegex) continue;
      const ex = labelValueMatching(req.allowedRegex);
      if ('reason' in ex) return untestable(ex.reason);
    }
    const x = clone(r);
    const labels = labelsOf(x.metadata);
    const first = reqs[0];
    const mismatch = first.allowedRegex ? labelValueNotMatching(first.allowedRegex) : undefined;
    if (mismatch !== undefined)
      labels[first.key] = mismatch; // keeps the key for constraints that only need it present
    else delete labels[first.key];
    return x;
  },
};

// ---------------------------------------------------------------------------
// services

/** A generator for a rule "a Service must not be of type `type`" (comply: ClusterIP without node ports). */
function blockServiceType(kind: string, type: 'NodePort' | 'LoadBalancer'): Generator {
  return {
    kind,
    resourceKinds: ['Service'],
    comply(r) {
      const x = clone(r);
      if (x.kind === 'Service' && x.spec?.type === type) {
        x.spec.type = 'ClusterIP';
        for (const p of x.spec.ports ?? []) delete p.nodePort;
      }
      return x;
    },
    violate(r) {
      if (r.kind !== 'Service') return untestable(`${kind} only judges Services, not a ${r.kind}`);
      const x = clone(r);
      x.spec ??= {};
      x.spec.type = type;
      return x;
    },
  };
}

/** K8sBlockNodePort: a Service must not be of type NodePort. */
const blockNodePort = blockServiceType('K8sBlockNodePort', 'NodePort');

// ---------------------------------------------------------------------------
// disallowed repos

/** K8sDisallowedRepos: no image (containers, initContainers, ephemeralContainers) starts with one of `repos`. */
const disallowedRepos: Generator = {
  kind: 'K8sDisallowedRepos',
  resourceKinds: POD_ONLY,
  comply(r, c) {
    const x = clone(r);
    const repos = (stringList(c.parameters, 'repos') ?? []).filter((p) => p !== '');
    const ok = [BASE_IMAGE, ...FOREIGN_IMAGES].find((i) => !repos.some((p) => i.startsWith(p)));
    for (const k of containers(x, ALL_CONTAINERS)) if (ok && typeof k.image === 'string' && repos.some((p) => k.image.startsWith(p))) k.image = ok;
    return x;
  },
  violate(r, c) {
    const repos = stringList(c.parameters, 'repos') ?? [];
    if (!repos.length) return untestable('parameters.repos is empty: no image is disallowed');
    if (repos.includes('')) return untestable('parameters.repos contains the empty prefix: every image is disallowed, so no valid resource exists');
    const x = clone(r);
    const t = containers(x, ['containers'])[0];
    if (!t) return untestable(`the ${r.kind} has no containers`);
    const bad = repos.map((p) => imageUnder(p, String(t.image))).find(Boolean);
    if (!bad) return untestable(`no valid image reference under ${JSON.stringify(repos)} could be built`);
    t.image = bad;
    return x;
  },
};

// ---------------------------------------------------------------------------
// ingress and load balancers

/** K8sBlockWildcardIngress: every Ingress rule has a host, without `*`. */
const blockWildcardIngress: Generator = {
  kind: 'K8sBlockWildcardIngress',
  resourceKinds: ['Ingress'],
  comply(r) {
    const x = clone(r);
    if (x.kind !== 'Ingress') return x;
    for (const rule of x.spec?.rules ?? [])
      if (typeof rule.host !== 'string' || rule.host === '' || rule.host.includes('*'))
        rule.host = `${toLabelValue(x.metadata.name).toLowerCase()}.stack-scan.invalid`;
    return x;
  },
  violate(r) {
    if (r.kind !== 'Ingress') return untestable(`K8sBlockWildcardIngress only judges Ingresses, not a ${r.kind}`);
    const x = clone(r);
    const rule = x.spec?.rules?.[0];
    if (!rule) return untestable('the Ingress has no rule');
    rule.host = '*.stack-scan.invalid';
    return x;
  },
};

/** K8sBlockLoadBalancer: a Service must not be of type LoadBalancer. */
const blockLoadBalancer = blockServiceType('K8sBlockLoadBalancer', 'LoadBalancer');

export const LIBRARY_GENERATORS: readonly Generator[] = [
  ...PSP_GENERATORS,
  requiredProbes,
  disallowedTags,
  requiredLabels,
  containerLimits,
  containerRequests,
  ephemeralStorageLimit,
  blockNodePort,
  blockLoadBalancer,
  blockWildcardIngress,
  allowedRepos,
  disallowedRepos,
];
