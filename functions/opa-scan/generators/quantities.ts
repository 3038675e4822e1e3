/** Kubernetes quantities as the gatekeeper-library Rego reads them (canonify_cpu / canonify_mem), and back. */

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

export function formatCpu(milli: number): string {
  const n = Math.floor(milli);
  return n <= 0 ? '0' : n % 1000 === 0 ? String(n / 1000) : `${n}m`;
}

export function formatBytes(bytes: number): string {
  const n = Math.max(0, Math.ceil(bytes));
  for (const [s, m] of [
    ['Ei', 1024 ** 6],
    ['Pi', 1024 ** 5],
    ['Ti', 1024 ** 4],
    ['Gi', 1024 ** 3],
    ['Mi', 1024 ** 2],
    ['Ki', 1024],
  ] as const) {
    if (n >= m && n % m === 0) return `${n / m}${s}`;
  }
  return String(n);
}

/** Keep requests <= limits (API validation) after a limit went down. */
export function capRequest(k: Record<string, any>, res: 'cpu' | 'memory', parse: (v: unknown) => number | undefined): void {
  const lim = parse(k.resources?.limits?.[res]);
  const req = parse(k.resources?.requests?.[res]);
  if (lim !== undefined && req !== undefined && req > lim) k.resources.requests[res] = k.resources.limits[res];
}

/**
 * K8sContainerLimits: containers and initContainers have a memory limit (and a cpu
 * limit unless `cpu` is "-1" or absent), parseable, and not above `cpu` / `memory`.
 */
