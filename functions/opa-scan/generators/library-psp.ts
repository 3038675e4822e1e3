/**
 * Generators for the gatekeeper-library pod-security-policy templates (Apache-2.0;
 * the rules summarised on each generator are the templates' documented behaviour).
 * Like every library template that reads `input.review.object.spec`, they judge a
 * Pod's own spec only: `resourceKinds` is ['Pod'] (see library.ts).
 *
 * Why this file is long: one small generator per pod-security-policy template of the library (a registry), each
 * 10–30 lines; the formatter's 160-column wrapping pushed it past 400 lines.
 */
import type { Constraint, Generator } from './types.ts';
import { clone, containers, forbidEscalation, isExemptImage, param, podSpecs, securityContext, stringList } from './base.ts';
import { ALL_CONTAINERS, allExempt, checked, POD_ONLY, target, untestable } from './library-common.ts';

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
// capabilities

const lowerSet = (xs: string[] | undefined) => new Set((xs ?? []).map((x) => x.toLowerCase()));
/** Capabilities a test may add, least dangerous first. */
const CAPABILITY_CANDIDATES = ['AUDIT_WRITE', 'NET_BIND_SERVICE', 'CHOWN', 'SYS_TIME', 'SYS_ADMIN', 'NET_RAW'];

/**
 * K8sPSPCapabilities: containers add only `allowedCapabilities` (all when it holds "*")
 * and drop every `requiredDropCapabilities` or "ALL"; initContainers likewise with the
 * initContainer* parameters. Exempt images are skipped.
 */
const capabilities: Generator = {
  kind: 'K8sPSPCapabilities',
  resourceKinds: POD_ONLY,
  comply(r, c) {
    const x = clone(r);
    for (const [field, allowedKey] of [
      ['containers', 'allowedCapabilities'],
      ['initContainers', 'initContainerAllowedCapabilities'],
    ] as const) {
      const allowed = lowerSet(stringList(c.parameters, allowedKey));
      for (const k of containers(x, [field])) {
        if (isExemptImage(k.image, c.parameters?.exemptImages)) continue;
        const caps = (securityContext(k).capabilities ??= {});
        if (!allowed.has('*') && Array.isArray(caps.add)) caps.add = caps.add.filter((a: unknown) => typeof a === 'string' && allowed.has(a.toLowerCase()));
        const drop: string[] = Array.isArray(caps.drop) ? caps.drop : [];
        if (!drop.some((d) => String(d).toLowerCase() === 'all')) caps.drop = [...drop, 'ALL'];
      }
    }
    return x;
  },
  violate(r, c) {
    const x = clone(r);
    const t = target(x, c, ['containers']);
    if (!t) return untestable(allExempt(c));
    const allowed = lowerSet(stringList(c.parameters, 'allowedCapabilities'));
    const caps = (securityContext(t).capabilities ??= {});
    if (!allowed.has('*')) {
      const add = CAPABILITY_CANDIDATES.find((cap) => !allowed.has(cap.toLowerCase()));
      if (add) {
        caps.add = [...(Array.isArray(caps.add) ? caps.add : []), add];
        return x;
      }
    }
    const mustDrop = stringList(c.parameters, 'requiredDropCapabilities') ?? [];
    if (!mustDrop.length) return untestable('allowedCapabilities holds "*" and requiredDropCapabilities is empty: every container satisfies the constraint');
    caps.drop = []; // neither "ALL" nor the required ones
    return x;
  },
};

// ---------------------------------------------------------------------------
// seccomp

/** securityContext type ↔ annotation names, as the template translates them. */
const SECCOMP_TYPES: Record<string, string> = {
  'runtime/default': 'RuntimeDefault',
  'docker/default': 'RuntimeDefault',
  unconfined: 'Unconfined',
  RuntimeDefault: 'RuntimeDefault',
  Unconfined: 'Unconfined',
};

function seccompAllowed(c: Constraint): Set<string> {
  const out = new Set<string>();
  for (const p of stringList(c.parameters, 'allowedProfiles') ?? []) if (SECCOMP_TYPES[p]) out.add(SECCOMP_TYPES[p]);
  return out;
}

/**
 * K8sPSPSeccomp: the seccomp profile of every container and initContainer (container
 * securityContext, else container annotation, else pod securityContext, else pod
 * annotation) is one of `allowedProfiles` ("*" allows all). Localhost profiles are left alone.
 */
const seccomp: Generator = {
  kind: 'K8sPSPSeccomp',
  resourceKinds: POD_ONLY,
  comply(r, c) {
    const x = clone(r);
    const allowed = seccompAllowed(c);
    if ((stringList(c.parameters, 'allowedProfiles') ?? []).includes('*')) return x;
    const type = allowed.has('RuntimeDefault') ? 'RuntimeDefault' : allowed.has('Unconfined') ? 'Unconfined' : undefined;
    if (!type) return x;
    for (const s of podSpecs(x)) {
      s.securityContext ??= {};
      if (!allowed.has(s.securityContext.seccompProfile?.type)) s.securityContext.seccompProfile = { type };
    }
    for (const k of containers(x, ['containers', 'initContainers'])) {
      const prof = k.securityContext?.seccompProfile;
      if (prof && !allowed.has(prof.type)) k.securityContext.seccompProfile = { type };
    }
    return x;
  },
  violate(r, c) {
    const profiles = stringList(c.parameters, 'allowedProfiles') ?? [];
    if (profiles.includes('*')) return untestable('allowedProfiles holds "*": every seccomp profile is allowed');
    const allowed = seccompAllowed(c);
    if (!allowed.size)
      return untestable(`allowedProfiles ${JSON.stringify(profiles)} names no RuntimeDefault or Unconfined profile the scan can build a valid pod with`);
    const x = clone(r);
    const t = target(x, c, ['containers']);
    if (!t) return untestable(allExempt(c));
    const bad = allowed.has('Unconfined') ? undefined : 'Unconfined';
    if (bad) securityContext(t).seccompProfile = { type: bad };
    else delete securityContext(t).seccompProfile; // falls back to the pod's…
    if (!bad) {
      for (const s of podSpecs(x)) if (s.securityContext) delete s.securityContext.seccompProfile; // …which is then "not configured"
      const others = containers(x, ['containers', 'initContainers']).filter((k) => k !== t);
      for (const k of others) if (!k.securityContext?.seccompProfile) securityContext(k).seccompProfile = { type: 'Unconfined' };
    }
    return x;
  },
};

// ---------------------------------------------------------------------------
// host filesystem

/**
 * K8sPSPHostFilesystem: every hostPath volume's path is under an `allowedHostPaths`
 * pathPrefix (path-segment aware); with readOnly, every container mount of it is
 * readOnly. An empty list forbids hostPath. The base pod has no hostPath volume.
 */
const hostFilesystem: Generator = {
  kind: 'K8sPSPHostFilesystem',
  resourceKinds: POD_ONLY,
  comply(r, c) {
    const x = clone(r);
    const allowed = (param<{ pathPrefix?: string; readOnly?: boolean }[]>(c.parameters, 'allowedHostPaths') ?? []).filter(
      (a) => typeof a?.pathPrefix === 'string',
    );
    for (const s of podSpecs(x)) {
      const bad = new Set<string>();
      for (const v of s.volumes ?? []) {
        if (!v.hostPath) continue;
        const ok = allowed.find((a) => pathUnder(a.pathPrefix!, String(v.hostPath.path ?? '')));
        if (!ok) bad.add(v.name);
        else if (ok.readOnly)
          for (const k of [...(s.containers ?? []), ...(s.initContainers ?? [])])
            for (const m of k.volumeMounts ?? []) if (m.name === v.name) m.readOnly = true;
      }
      if (bad.size) {
        s.volumes = s.volumes.filter((v: { name: string }) => !bad.has(v.name));
        for (const k of [...(s.containers ?? []), ...(s.initContainers ?? [])])
          if (k.volumeMounts) k.volumeMounts = k.volumeMounts.filter((m: { name: string }) => !bad.has(m.name));
      }
    }
    return x;
  },
  violate(r, c) {
    const x = clone(r);
    const spec = podSpecs(x)[0];
    if (!spec) return untestable(`a ${r.kind} has no pod spec`);
    const allowed = (param<{ pathPrefix?: string; readOnly?: boolean }[]>(c.parameters, 'allowedHostPaths') ?? []).filter(
      (a) => typeof a?.pathPrefix === 'string',
    );
    const path = ['/var/lib/stack-scan-denied', '/etc/stack-scan-denied', '/opt/stack-scan-denied'].find(
      (p) => !allowed.some((a) => pathUnder(a.pathPrefix!, p)),
    );
    if (path) {
      spec.volumes = [...(spec.volumes ?? []), { name: 'stack-scan-host', hostPath: { path, type: 'DirectoryOrCreate' } }];
      return x;
    }
    const ro = allowed.find((a) => a.readOnly);
    if (!ro) return untestable(`allowedHostPaths ${JSON.stringify(allowed)} allows every path the scan would mount`);
    spec.volumes = [...(spec.volumes ?? []), { name: 'stack-scan-host', hostPath: { path: ro.pathPrefix, type: 'Directory' } }];
    const k = spec.containers?.[0];
    if (!k) return untestable('the pod has no container to mount the volume writable');
    k.volumeMounts = [...(k.volumeMounts ?? []), { name: 'stack-scan-host', mountPath: '/stack-scan-host' }];
    return x;
  },
};

/** "/foo" covers "/foo", "/foo/bar", not "/fool" (the template's segment-wise prefix). */
export function pathUnder(prefix: string, path: string): boolean {
  const seg = (p: string) => (p === '/' ? [] : p.replace(/^\/+|\/+$/g, '').split('/'));
  const a = seg(prefix);
  const b = seg(path);
  return a.length <= b.length && a.every((s, i) => s === b[i]);
}

// ---------------------------------------------------------------------------
// allowed users and groups

interface IdRule {
  rule?: string;
  ranges?: { min?: number; max?: number }[];
}
const ranges = (r: IdRule | undefined) =>
  (r?.ranges ?? []).filter((x) => typeof x?.min === 'number' && typeof x?.max === 'number') as { min: number; max: number }[];
const inRanges = (v: unknown, r: IdRule) => typeof v === 'number' && ranges(r).some((x) => v >= x.min && v <= x.max);
/** A valid id for a rule, preferring 65532; undefined when none is needed. */
function validId(r: IdRule | undefined): number | undefined {
  if (!r || r.rule === 'RunAsAny') return undefined;
  if (r.rule === 'MustRunAsNonRoot') return 65532;
  const rs = ranges(r);
  if (!rs.length) return undefined;
  return rs.some((x) => 65532 >= x.min && 65532 <= x.max) ? 65532 : rs[0].min;
}
/** An id outside every range of a MustRunAs rule. */
function invalidId(r: IdRule): number | undefined {
  const rs = ranges(r);
  return [0, 1, 65533, 999_999, ...rs.map((x) => x.max + 1), ...rs.map((x) => x.min - 1)].find((v) => v >= 0 && !inRanges(v, r));
}

/**
 * K8sPSPAllowedUsers: runAsUser (MustRunAs ranges | MustRunAsNonRoot | RunAsAny) and
 * runAsGroup (MustRunAs | MayRunAs ranges) of every container (its own securityContext,
 * else the pod's); supplementalGroups and fsGroup (MustRunAs | MayRunAs) on the pod.
 * MustRunAs needs the field set; MayRunAs only checks it when set.
 */
const allowedUsers: Generator = {
  kind: 'K8sPSPAllowedUsers',
  resourceKinds: POD_ONLY,
  comply(r, c) {
    const x = clone(r);
    const p = c.parameters ?? {};
    const user = validId(p.runAsUser);
    const group = validId(p.runAsGroup);
    for (const s of podSpecs(x)) {
      const sc = (s.securityContext ??= {});
      if (
        user !== undefined &&
        !(p.runAsUser.rule === 'MustRunAsNonRoot' ? sc.runAsUser !== 0 && sc.runAsUser !== undefined : inRanges(sc.runAsUser, p.runAsUser))
      )
        sc.runAsUser = user;
      if (group !== undefined && !inRanges(sc.runAsGroup, p.runAsGroup)) sc.runAsGroup = group;
      const fs = validId(p.fsGroup);
      if (fs !== undefined && !inRanges(sc.fsGroup, p.fsGroup)) sc.fsGroup = fs;
      const sup = validId(p.supplementalGroups);
      if (
        sup !== undefined &&
        !(
          Array.isArray(sc.supplementalGroups) &&
          sc.supplementalGroups.length &&
          sc.supplementalGroups.every((g: unknown) => inRanges(g, p.supplementalGroups))
        )
      )
        sc.supplementalGroups = [sup];
    }
    for (const k of checked(x, c, ALL_CONTAINERS)) {
      const sc = k.securityContext;
      if (!sc) continue;
      if (
        user !== undefined &&
        sc.runAsUser !== undefined &&
        !(p.runAsUser.rule === 'MustRunAsNonRoot' ? sc.runAsUser !== 0 : inRanges(sc.runAsUser, p.runAsUser))
      )
        sc.runAsUser = user;
      if (group !== undefined && sc.runAsGroup !== undefined && !inRanges(sc.runAsGroup, p.runAsGroup)) sc.runAsGroup = group;
    }
    return x;
  },
  violate(r, c) {
    const x = clone(r);
    const p = c.parameters ?? {};
    const t = target(x, c, ['containers']);
    if (!t) return untestable(allExempt(c));
    const u: IdRule | undefined = p.runAsUser;
    if (u?.rule === 'MustRunAsNonRoot') {
      securityContext(t).runAsUser = 0;
      delete securityContext(t).runAsNonRoot; // runAsNonRoot true with uid 0 is refused by the kubelet, not by admission
      return x;
    }
    for (const key of ['runAsUser', 'runAsGroup'] as const) {
      const rule: IdRule | undefined = p[key];
      if (!rule || !['MustRunAs', 'MayRunAs'].includes(String(rule.rule)) || !ranges(rule).length) continue;
      const bad = invalidId(rule);
      if (bad === undefined) continue;
      securityContext(t)[key] = bad;
      if (key === 'runAsUser' && bad === 0) delete securityContext(t).runAsNonRoot;
      return x;
    }
    const spec = podSpecs(x)[0];
    for (const key of ['fsGroup', 'supplementalGroups'] as const) {
      const rule: IdRule | undefined = p[key];
      if (!rule || !['MustRunAs', 'MayRunAs'].includes(String(rule.rule)) || !ranges(rule).length) continue;
      const bad = invalidId(rule);
      if (bad === undefined) continue;
      spec.securityContext ??= {};
      spec.securityContext[key] = key === 'fsGroup' ? bad : [bad];
      return x;
    }
    return untestable('every rule is RunAsAny or has no ranges: any user and group is allowed');
  },
};

export const PSP_GENERATORS: readonly Generator[] = [
  readOnlyRootFilesystem,
  allowPrivilegeEscalation,
  privilegedContainer,
  hostNamespace,
  automountToken,
  capabilities,
  seccomp,
  hostFilesystem,
  allowedUsers,
];
