/**
 * Generators for the gatekeeper-library templates (../shared/gatekeeper-library,
 * Apache-2.0). Each one follows its template's Rego/CEL exactly:
 *
 * - Templates that read `input.review.object.spec.containers` (all PSP ones,
 *   probes, limits, tags, repos, automount) only ever look at a Pod's own spec:
 *   for a Deployment they never fire. Their `resourceKinds` is therefore ['Pod']
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
import type { Constraint, Generator, Resource, ViolateResult } from './types.ts';
import {
  forbidEscalation,
  BASE_RESOURCES,
  BASE_PORT,
  BUILDABLE_KINDS,
  NAME_LABEL,
  clone,
  containers,
  formatImage,
  isExemptImage,
  isImageRef,
  isLabelValue,
  labelsOf,
  param,
  parseImage,
  podSpecs,
  securityContext,
  stringList,
  toLabelValue,
  type ContainerField,
} from './base.ts';

const POD_ONLY: readonly string[] = ['Pod'];
const CHECKED: readonly ContainerField[] = ['containers', 'initContainers'];

const untestable = (reason: string): ViolateResult => ({ untestable: reason });

/** The first container (spec.containers, then initContainers) whose image is not exempt. */
function target(r: Resource, c: Constraint, fields: readonly ContainerField[] = CHECKED): Record<string, any> | undefined {
  const exempt = c.parameters?.exemptImages;
  return containers(r, fields).find((k) => !isExemptImage(k.image, exempt));
}

function allExempt(c: Constraint): string {
  return `every container image of the resource is exempt by exemptImages ${JSON.stringify(c.parameters?.exemptImages ?? [])}, so nothing this constraint checks can be violated`;
}

// ---------------------------------------------------------------------------
// pod-security-policy

/** K8sPSPReadOnlyRootFilesystem: securityContext.readOnlyRootFilesystem must be true. */
const readOnlyRootFilesystem: Generator = {
  kind: 'K8sPSPReadOnlyRootFilesystem',
  resourceKinds: POD_ONLY,
  comply(r) {
    const x = clone(r);
    for (const k of containers(x)) securityContext(k).readOnlyRootFilesystem = true;
    return x;
  },
  violate(r, c) {
    const x = clone(r);
    const t = target(x, c);
    if (!t) return untestable(allExempt(c));
    securityContext(t).readOnlyRootFilesystem = false;
    return x;
  },
};

/** K8sPSPAllowPrivilegeEscalationContainer: allowPrivilegeEscalation must be explicitly false. */
const allowPrivilegeEscalation: Generator = {
  kind: 'K8sPSPAllowPrivilegeEscalationContainer',
  resourceKinds: POD_ONLY,
  comply(r) {
    const x = clone(r);
    for (const k of containers(x)) forbidEscalation(k);
    return x;
  },
  violate(r, c) {
    const x = clone(r);
    const t = target(x, c);
    if (!t) return untestable(allExempt(c));
    securityContext(t).allowPrivilegeEscalation = true;
    return x;
  },
};

/** K8sPSPPrivilegedContainer: securityContext.privileged must not be true. */
const privilegedContainer: Generator = {
  kind: 'K8sPSPPrivilegedContainer',
  resourceKinds: POD_ONLY,
  comply(r) {
    const x = clone(r);
    for (const k of containers(x)) if (k.securityContext?.privileged === true) k.securityContext.privileged = false;
    return x;
  },
  violate(r, c) {
    const x = clone(r);
    const t = target(x, c);
    if (!t) return untestable(allExempt(c));
    const sc = securityContext(t);
    sc.privileged = true;
    // "cannot set `allowPrivilegeEscalation` to false and `privileged` to true" (API validation):
    // a privileged container can escalate anyway, so the field is dropped.
    if (sc.allowPrivilegeEscalation === false) delete sc.allowPrivilegeEscalation;
    return x;
  },
};

/** K8sPSPHostNamespace: spec.hostPID and spec.hostIPC must not be true. */
const hostNamespace: Generator = {
  kind: 'K8sPSPHostNamespace',
  resourceKinds: POD_ONLY,
  comply(r) {
    const x = clone(r);
    for (const s of podSpecs(x)) {
      if (s.hostPID === true) s.hostPID = false;
      if (s.hostIPC === true) s.hostIPC = false;
    }
    return x;
  },
  violate(r) {
    const x = clone(r);
    const specs = podSpecs(x);
    if (!specs.length) return untestable(`a ${r.kind} has no pod spec`);
    specs[0].hostIPC = true;
    return x;
  },
};

/** K8sPSPAutomountServiceAccountTokenPod: spec.automountServiceAccountToken must not be true (nor absent with a token volumeMount). */
const automountToken: Generator = {
  kind: 'K8sPSPAutomountServiceAccountTokenPod',
  resourceKinds: POD_ONLY,
  comply(r) {
    const x = clone(r);
    for (const s of podSpecs(x)) s.automountServiceAccountToken = false;
    return x;
  },
  violate(r) {
    const x = clone(r);
    const specs = podSpecs(x);
    if (!specs.length) return untestable(`a ${r.kind} has no pod spec`);
    specs[0].automountServiceAccountToken = true;
    return x;
  },
};

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
  if (unknown.length) return `parameters.probes names ${unknown.join(', ')}, which is not a container probe field (livenessProbe, readinessProbe, startupProbe): no container can satisfy it`;
  if (!types.length) return 'parameters.probeTypes is empty: the template then reports every probe as missing, so no container can satisfy it';
  if (!types.some((t) => t in HANDLERS)) return `parameters.probeTypes ${JSON.stringify(types)} names no probe handler (tcpSocket, httpGet, grpc, exec): no container can satisfy it`;
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
// resource limits

/** Kubernetes quantities as the K8sContainerLimits Rego reads them (canonify_cpu: millicores). */
export function cpuMilli(v: unknown): number | undefined {
  if (typeof v === 'number') return v * 1000;
  if (typeof v !== 'string' || v === '') return undefined;
  if (v.endsWith('m')) {
    const s = v.replace(/m/g, '');
    const n = Number(s);
    return s !== '' && Number.isFinite(n) ? n : undefined;
  }
  return /^[0-9]+(\.[0-9]+)?$/.test(v) ? Number(v) * 1000 : undefined;
}

const MEM_MULTIPLE: Record<string, number> = {
  E: 1e21,
  P: 1e18,
  T: 1e15,
  G: 1e12,
  M: 1e9,
  k: 1e6,
  '': 1e3,
  m: 1,
  Ki: 1024e3,
  Mi: 1024 ** 2 * 1e3,
  Gi: 1024 ** 3 * 1e3,
  Ti: 1024 ** 4 * 1e3,
  Pi: 1024 ** 5 * 1e3,
  Ei: 1024 ** 6 * 1e3,
};

/** canonify_mem of the K8sContainerLimits Rego: millibytes. */
export function memMilli(v: unknown): number | undefined {
  if (typeof v === 'number') return v * 1000;
  if (typeof v !== 'string') return undefined;
  let suffix = '';
  if (v.length > 1 && v.slice(-2) in MEM_MULTIPLE) suffix = v.slice(-2);
  else if (v.length > 0 && v.slice(-1) in MEM_MULTIPLE) suffix = v.slice(-1);
  const raw = suffix ? v.split(suffix).join('') : v;
  return /^[0-9]+(\.[0-9]+)?$/.test(raw) ? Number(raw) * MEM_MULTIPLE[suffix] : undefined;
}

function formatCpu(milli: number): string {
  const n = Math.floor(milli);
  return n <= 0 ? '0' : n % 1000 === 0 ? String(n / 1000) : `${n}m`;
}

function formatBytes(bytes: number): string {
  const n = Math.max(0, Math.ceil(bytes));
  for (const [s, m] of [['Ei', 1024 ** 6], ['Pi', 1024 ** 5], ['Ti', 1024 ** 4], ['Gi', 1024 ** 3], ['Mi', 1024 ** 2], ['Ki', 1024]] as const) {
    if (n >= m && n % m === 0) return `${n / m}${s}`;
  }
  return String(n);
}

/** Keep requests <= limits (API validation) after a limit went down. */
function capRequest(k: Record<string, any>, res: 'cpu' | 'memory', parse: (v: unknown) => number | undefined): void {
  const lim = parse(k.resources?.limits?.[res]);
  const req = parse(k.resources?.requests?.[res]);
  if (lim !== undefined && req !== undefined && req > lim) k.resources.requests[res] = k.resources.limits[res];
}

/**
 * K8sContainerLimits: containers and initContainers have a memory limit (and a cpu
 * limit unless `cpu` is "-1" or absent), parseable, and not above `cpu` / `memory`.
 */
const containerLimits: Generator = {
  kind: 'K8sContainerLimits',
  resourceKinds: POD_ONLY,
  comply(r, c) {
    const x = clone(r);
    const cpuParam = c.parameters?.cpu;
    const cpuChecked = cpuParam !== undefined && cpuParam !== null && cpuParam !== '-1';
    const cpuMax = cpuChecked ? cpuMilli(cpuParam) : undefined;
    const memMax = memMilli(c.parameters?.memory);
    for (const k of containers(x, CHECKED)) {
      k.resources ??= {};
      k.resources.limits ??= {};
      const lim = k.resources.limits;
      if (cpuChecked) {
        const cur = cpuMilli(lim.cpu);
        if (cur === undefined || (cpuMax !== undefined && cur > cpuMax)) {
          const base = cpuMilli(BASE_RESOURCES.limits.cpu)!;
          lim.cpu = formatCpu(cpuMax !== undefined ? Math.min(base, cpuMax) : base);
        }
        capRequest(k, 'cpu', cpuMilli);
      }
      const curMem = memMilli(lim.memory);
      if (curMem === undefined || (memMax !== undefined && curMem > memMax)) {
        const base = memMilli(BASE_RESOURCES.limits.memory)!;
        lim.memory = formatBytes((memMax !== undefined ? Math.min(base, memMax) : base) / 1000);
        capRequest(k, 'memory', memMilli);
      }
    }
    return x;
  },
  violate(r, c) {
    const x = clone(r);
    const t = target(x, c);
    if (!t) return untestable(allExempt(c));
    const memMax = memMilli(c.parameters?.memory);
    t.resources ??= {};
    t.resources.limits ??= {};
    if (memMax !== undefined) {
      t.resources.limits.memory = formatBytes(Math.max(1, Math.ceil(memMax / 1000) * 2));
    } else {
      delete t.resources.limits.memory; // "has no memory limit"
    }
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
    if (mismatch !== undefined) labels[first.key] = mismatch; // keeps the key for constraints that only need it present
    else delete labels[first.key];
    return x;
  },
};

// ---------------------------------------------------------------------------
// services

/** K8sBlockNodePort: a Service must not be of type NodePort. */
const blockNodePort: Generator = {
  kind: 'K8sBlockNodePort',
  resourceKinds: ['Service'],
  comply(r) {
    const x = clone(r);
    if (x.kind === 'Service' && x.spec?.type === 'NodePort') {
      x.spec.type = 'ClusterIP';
      for (const p of x.spec.ports ?? []) delete p.nodePort;
    }
    return x;
  },
  violate(r) {
    if (r.kind !== 'Service') return untestable(`K8sBlockNodePort only judges Services, not a ${r.kind}`);
    const x = clone(r);
    x.spec ??= {};
    x.spec.type = 'NodePort';
    return x;
  },
};

export const LIBRARY_GENERATORS: readonly Generator[] = [
  readOnlyRootFilesystem,
  allowPrivilegeEscalation,
  privilegedContainer,
  hostNamespace,
  requiredProbes,
  automountToken,
  disallowedTags,
  requiredLabels,
  containerLimits,
  blockNodePort,
  allowedRepos,
];

// ---------------------------------------------------------------------------
// regex → example label value
//
// A string that an RE2-syntax regular expression matches and that is a valid
// Kubernetes label value, to satisfy K8sRequiredLabels' allowedRegex.
// Supported: literals and escapes, `.`, character classes (ranges, negation,
// \d \w \s and their negations), groups (capturing, `(?:`, `(?P<n>`, `(?<n>`),
// alternation, quantifiers `* + ? {n} {n,} {n,m}` (also lazy), anchors `^ $ \A \z`,
// `\b \B`, and leading flags `(?i)`, `(?s)`, `(?m)`. Anything else (Unicode
// classes, \Q…\E, flags inside the pattern, backreferences …) is reported as
// unsupported. Candidates are built from the pattern and then VERIFIED with the
// JavaScript engine (same semantics as RE2 for the supported subset), so a
// returned value always matches; when no candidate works the reason is given.
// Gatekeeper matches allowedRegex unanchored (Rego regex.match, CEL matches()):
// the value must contain a match, so padding is tried for unanchored patterns.

type RxNode =
  | { t: 'chars'; pick: string[] } // one character, candidates in order of preference
  | { t: 'empty' } // zero-width (anchors, \b)
  | { t: 'alt'; alts: RxNode[][] }
  | { t: 'rep'; node: RxNode; min: number; max: number };

const PREFERRED = 'abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ-_.';
const PRINTABLE = PREFERRED + ' !"#$%&\'()*+,/:;<=>?@[\\]^`{|}~';
const MAX_CANDIDATES = 256;
const DIGITS = '0123456789';
const WORD = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_';
const SPACE = ' \t\n\r\f\v';

class Unsupported extends Error {}

function printable(test: (ch: string) => boolean): string[] {
  return [...PRINTABLE].filter(test);
}

class RxParser {
  i = 0;
  constructor(readonly s: string) {}

  parse(): RxNode[][] {
    const alts = this.alternation();
    if (this.i < this.s.length) throw new Unsupported(`an unbalanced ')' at offset ${this.i}`);
    return alts;
  }

  private alternation(): RxNode[][] {
    const alts: RxNode[][] = [this.sequence()];
    while (this.s[this.i] === '|') {
      this.i++;
      alts.push(this.sequence());
    }
    return alts;
  }

  private sequence(): RxNode[] {
    const seq: RxNode[] = [];
    while (this.i < this.s.length && this.s[this.i] !== '|' && this.s[this.i] !== ')') {
      let atom = this.atom();
      for (let q = this.quantifier(); q; q = this.quantifier()) {
        if (atom.t === 'empty') throw new Unsupported('a quantifier on an anchor');
        atom = { t: 'rep', node: atom, min: q.min, max: q.max };
      }
      seq.push(atom);
    }
    return seq;
  }

  private quantifier(): { min: number; max: number } | undefined {
    const ch = this.s[this.i];
    let q: { min: number; max: number } | undefined;
    if (ch === '*') q = { min: 0, max: Infinity };
    else if (ch === '+') q = { min: 1, max: Infinity };
    else if (ch === '?') q = { min: 0, max: 1 };
    else if (ch === '{') {
      const m = /^\{(\d+)(,(\d*))?\}/.exec(this.s.slice(this.i));
      if (!m) return undefined; // a literal '{', as RE2 reads it
      const min = Number(m[1]);
      q = { min, max: m[2] === undefined ? min : m[3] === '' ? Infinity : Number(m[3]) };
      this.i += m[0].length - 1;
    }
    if (!q) return undefined;
    this.i++;
    if (this.s[this.i] === '?') this.i++; // lazy: same language
    return q;
  }

  private atom(): RxNode {
    const ch = this.s[this.i++];
    switch (ch) {
      case '(': {
        if (this.s[this.i] === '?') {
          const m = /^\?(:|P<[A-Za-z_]\w*>|<[A-Za-z_]\w*>)/.exec(this.s.slice(this.i));
          if (!m) throw new Unsupported(`the group syntax '(${this.s.slice(this.i, this.i + 3)}'`);
          this.i += m[0].length;
        }
        const alts = this.alternation();
        if (this.s[this.i] !== ')') throw new Unsupported('an unclosed group');
        this.i++;
        return { t: 'alt', alts };
      }
      case '[':
        return this.charClass();
      case '.':
        return { t: 'chars', pick: printable((x) => x !== '\n') };
      case '^':
      case '$':
        return { t: 'empty' };
      case '\\':
        return this.escape(false) as RxNode;
      case '*':
      case '+':
      case '?':
        throw new Unsupported(`a quantifier '${ch}' with nothing to repeat`);
      default:
        return { t: 'chars', pick: [ch] };
    }
  }

  /** After a backslash: a node, or (inside a class) the characters. */
  private escape(inClass: boolean): RxNode | string[] {
    const ch = this.s[this.i++];
    if (ch === undefined) throw new Unsupported('a trailing backslash');
    const set = (chars: string[]) => (inClass ? chars : ({ t: 'chars', pick: chars } as RxNode));
    switch (ch) {
      case 'd':
        return set([...DIGITS]);
      case 'D':
        return set(printable((x) => !DIGITS.includes(x)));
      case 'w':
        return set(printable((x) => WORD.includes(x)));
      case 'W':
        return set(printable((x) => !WORD.includes(x)));
      case 's':
        return set([...SPACE]);
      case 'S':
        return set(printable((x) => !SPACE.includes(x)));
      case 'n':
        return set(['\n']);
      case 't':
        return set(['\t']);
      case 'r':
        return set(['\r']);
      case 'f':
        return set(['\f']);
      case 'v':
        return set(['\v']);
      case 'A':
      case 'z':
      case 'b':
      case 'B':
        if (inClass) throw new Unsupported(`\\${ch} inside a character class`);
        return { t: 'empty' };
      default:
        if (/[A-Za-z0-9]/.test(ch)) throw new Unsupported(`the escape \\${ch}`);
        return set([ch]);
    }
  }

  private charClass(): RxNode {
    let negate = false;
    if (this.s[this.i] === '^') {
      negate = true;
      this.i++;
    }
    const members = new Set<string>();
    let first = true;
    while (this.i < this.s.length && (this.s[this.i] !== ']' || first)) {
      first = false;
      if (this.s.startsWith('[:', this.i)) throw new Unsupported('POSIX character classes');
      let lo: string[];
      if (this.s[this.i] === '\\') {
        this.i++;
        lo = this.escape(true) as string[];
      } else lo = [this.s[this.i++]];
      if (lo.length === 1 && this.s[this.i] === '-' && this.i + 1 < this.s.length && this.s[this.i + 1] !== ']') {
        this.i++;
        let hi: string;
        if (this.s[this.i] === '\\') {
          this.i++;
          const e = this.escape(true) as string[];
          if (e.length !== 1) throw new Unsupported('a class escape as a range end');
          hi = e[0];
        } else hi = this.s[this.i++];
        const a = lo[0].charCodeAt(0);
        const b = hi.charCodeAt(0);
        if (b < a) throw new Unsupported(`the invalid range ${lo[0]}-${hi}`);
        for (let x = a; x <= b && x < 0x7f; x++) members.add(String.fromCharCode(x));
      } else for (const x of lo) members.add(x);
    }
    if (this.s[this.i] !== ']') throw new Unsupported('an unclosed character class');
    this.i++;
    const pick = negate ? printable((x) => !members.has(x) && x !== '\n') : [...new Set([...PRINTABLE, ...members])].filter((x) => members.has(x));
    if (!pick.length) throw new Unsupported('a character class that no printable character satisfies');
    return { t: 'chars', pick };
  }
}

/** Candidate strings for a node, most preferred first, at most `limit`. */
function rxCandidates(node: RxNode, limit: number): string[] {
  switch (node.t) {
    case 'empty':
      return [''];
    case 'chars':
      return node.pick.slice(0, 3);
    case 'alt': {
      const out: string[] = [];
      for (const seq of node.alts) {
        for (const s of rxSequence(seq, limit)) {
          if (!out.includes(s)) out.push(s);
          if (out.length >= limit) return out;
        }
      }
      return out;
    }
    case 'rep': {
      const inner = rxCandidates(node.node, limit);
      const out: string[] = [];
      // the minimum count, then one more (a non-empty choice helps when the minimum is 0)
      for (const n of [node.min, node.min + 1].filter((k) => k <= node.max && k <= 64)) {
        for (const s of inner) {
          const v = s.repeat(n);
          if (!out.includes(v)) out.push(v);
          if (out.length >= limit) return out;
        }
      }
      return out;
    }
  }
}

function rxSequence(seq: RxNode[], limit: number): string[] {
  let acc = [''];
  for (const n of seq) {
    const next: string[] = [];
    const cs = rxCandidates(n, limit);
    outer: for (const a of acc) {
      for (const ch of cs) {
        next.push(a + ch);
        if (next.length >= limit) break outer;
      }
    }
    acc = next;
  }
  return acc;
}

const LEADING_FLAGS = /^\(\?([ims]+)\)/;

/** The JavaScript equivalent of an RE2 pattern (leading flags, (?P<name>); throws for what JS cannot express. */
function toJsRegExp(pattern: string): RegExp {
  const m = LEADING_FLAGS.exec(pattern);
  const body = m ? pattern.slice(m[0].length) : pattern;
  if (/\(\?[a-zA-Z-]+[:)]/.test(body)) throw new Unsupported('inline flags inside the pattern');
  return new RegExp(body.replace(/\(\?P</g, '(?<'), m ? [...new Set(m[1])].join('') : '');
}

export type LabelExample = { value: string } | { reason: string };

/** A valid label value that `pattern` matches (unanchored, as Gatekeeper matches), or why none was found. */
export function labelValueMatching(pattern: string): LabelExample {
  let re: RegExp;
  let alts: RxNode[][];
  try {
    re = toJsRegExp(pattern);
    const m = LEADING_FLAGS.exec(pattern);
    alts = new RxParser(m ? pattern.slice(m[0].length) : pattern).parse();
  } catch (e) {
    const why = e instanceof Unsupported ? `it uses ${e.message}, which the example generator does not support` : `it does not compile: ${(e as Error).message}`;
    return { reason: `cannot build a label value for allowedRegex ${JSON.stringify(pattern)}: ${why}` };
  }
  const raw = rxCandidates({ t: 'alt', alts }, MAX_CANDIDATES);
  const ordered = [...raw.filter((s) => s !== ''), ...raw.filter((s) => s === '')];
  for (const core of ordered) {
    for (const v of [core, `a${core}`, `${core}a`, `a${core}a`]) {
      if (isLabelValue(v) && re.test(v)) return { value: v };
    }
  }
  return {
    reason: `no valid label value (at most 63 characters of [-A-Za-z0-9_.], alphanumeric at both ends) matching allowedRegex ${JSON.stringify(pattern)} was found among ${ordered.length} candidates`,
  };
}

/** A valid label value that `pattern` does NOT match, or undefined. */
export function labelValueNotMatching(pattern: string): string | undefined {
  let re: RegExp;
  try {
    re = toJsRegExp(pattern);
  } catch {
    return undefined;
  }
  return ['stack-scan-invalid', 'x', '0', 'Z', 'invalid.value_0', 'zz-not-allowed-zz'].find((v) => !re.test(v));
}
