/** Generators for the gatekeeper-library resource templates: container limits, requests, ephemeral-storage limit. */
import type { Generator } from './types.ts';
import { BASE_RESOURCES, clone, containers } from './base.ts';
import { allExempt, CHECKED, POD_ONLY, target, untestable } from './library-common.ts';
import { capRequest, cpuMilli, formatBytes, formatCpu, memMilli } from './quantities.ts';

// ---------------------------------------------------------------------------
// resource limits

/**
 * K8sContainerLimits: containers and initContainers have a memory limit (and a cpu
 * limit unless `cpu` is "-1" or absent), parseable, and not above `cpu` / `memory`.
 */
export const containerLimits: Generator = {
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
// requests and ephemeral storage

/**
 * K8sContainerRequests: containers and initContainers have cpu and memory requests,
 * parseable, and not above `cpu` / `memory` (the mirror of K8sContainerLimits).
 */
export const containerRequests: Generator = {
  kind: 'K8sContainerRequests',
  resourceKinds: POD_ONLY,
  comply(r, c) {
    const x = clone(r);
    const cpuMax = cpuMilli(c.parameters?.cpu);
    const memMax = memMilli(c.parameters?.memory);
    for (const k of containers(x, CHECKED)) {
      k.resources ??= {};
      const req = (k.resources.requests ??= {});
      const cpu = cpuMilli(req.cpu);
      if (cpu === undefined || (cpuMax !== undefined && cpu > cpuMax))
        req.cpu = formatCpu(Math.min(cpuMilli(BASE_RESOURCES.requests.cpu)!, cpuMax ?? Infinity));
      const mem = memMilli(req.memory);
      if (mem === undefined || (memMax !== undefined && mem > memMax))
        req.memory = formatBytes(Math.min(memMilli(BASE_RESOURCES.requests.memory)!, memMax ?? Infinity) / 1000);
    }
    return x;
  },
  violate(r, c) {
    const x = clone(r);
    const t = target(x, c);
    if (!t) return untestable(allExempt(c));
    const memMax = memMilli(c.parameters?.memory);
    t.resources ??= {};
    t.resources.requests ??= {};
    t.resources.limits ??= {};
    if (memMax !== undefined) {
      const over = Math.max(1, Math.ceil(memMax / 1000) * 2);
      t.resources.requests.memory = formatBytes(over);
      const lim = memMilli(t.resources.limits.memory);
      if (lim !== undefined && lim < over * 1000) t.resources.limits.memory = formatBytes(over); // requests ≤ limits (API validation)
    } else {
      // An absent request defaults to the limit (API defaulting): remove both.
      delete t.resources.requests.memory;
      delete t.resources.limits.memory;
    }
    return x;
  },
};

const EPHEMERAL = 'ephemeral-storage';

/** K8sContainerEphemeralStorageLimit: containers and initContainers have an ephemeral-storage limit, not above the `ephemeral-storage` parameter. */
export const ephemeralStorageLimit: Generator = {
  kind: 'K8sContainerEphemeralStorageLimit',
  resourceKinds: POD_ONLY,
  comply(r, c) {
    const x = clone(r);
    const max = memMilli(c.parameters?.[EPHEMERAL]);
    for (const k of containers(x, CHECKED)) {
      k.resources ??= {};
      const lim = (k.resources.limits ??= {});
      const cur = memMilli(lim[EPHEMERAL]);
      if (cur === undefined || (max !== undefined && cur > max)) {
        lim[EPHEMERAL] = formatBytes(Math.min(memMilli(BASE_RESOURCES.limits[EPHEMERAL])!, max ?? Infinity) / 1000);
        const req = memMilli(k.resources.requests?.[EPHEMERAL]);
        if (req !== undefined && req > memMilli(lim[EPHEMERAL])!) k.resources.requests[EPHEMERAL] = lim[EPHEMERAL];
      }
    }
    return x;
  },
  violate(r, c) {
    const x = clone(r);
    const t = target(x, c);
    if (!t) return untestable(allExempt(c));
    const max = memMilli(c.parameters?.[EPHEMERAL]);
    t.resources ??= {};
    t.resources.limits ??= {};
    if (max !== undefined) t.resources.limits[EPHEMERAL] = formatBytes(Math.max(1, Math.ceil(max / 1000) * 2));
    else delete t.resources.limits[EPHEMERAL];
    return x;
  },
};
