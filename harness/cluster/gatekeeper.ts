/** Loading Gatekeeper templates and constraints into the real test control plane, and waiting for them. */
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import yaml from 'js-yaml';
import type { Kube } from '../../lib/kube/client.ts';
import { apiGet, type KubeObject } from '../../lib/kube/raw.ts';
import { apply, waitFor } from './objects.ts';

export function yamlDocs(file: string): KubeObject[] {
  return yaml.loadAll(readFileSync(file, 'utf8')).filter((d): d is KubeObject => !!d && typeof d === 'object');
}

export function yamlDir(dir: string): KubeObject[] {
  return readdirSync(dir)
    .filter((f) => /\.ya?ml$/.test(f))
    .sort()
    .flatMap((f) => yamlDocs(join(dir, f)));
}

export const templateKind = (t: KubeObject) => (t as any).spec.crd.spec.names.kind as string;

/** Apply templates, wait until each constraint kind is served, then apply and wait for constraints to be enforced. */
export async function installPolicies(kube: Kube, templates: KubeObject[], constraints: KubeObject[], timeoutMs = 60_000): Promise<void> {
  for (const t of templates) await apply(kube, t);
  await Promise.all(
    templates.map((t) =>
      waitFor(
        `template ${t.metadata.name} created`,
        async () => {
          const cur = await apiGet(
            kube,
            { verb: 'get', resource: 'constrainttemplates' },
            `/apis/templates.gatekeeper.sh/v1/constrainttemplates/${t.metadata.name}`,
          );
          const errors = (cur.status?.byPod ?? []).flatMap((p: any) => p.errors ?? []);
          if (errors.length) throw new Error(`template ${t.metadata.name} has errors: ${JSON.stringify(errors)}`);
          if (cur.status?.created !== true) return false;
          await apiGet(kube, { verb: 'list', resource: 'constraints' }, `/apis/constraints.gatekeeper.sh/v1beta1/${templateKind(t).toLowerCase()}`);
          return true;
        },
        timeoutMs,
      ),
    ),
  );
  for (const c of constraints) await apply(kube, c);
  await Promise.all(constraints.map((c) => waitEnforced(kube, c, timeoutMs)));
}

export function waitEnforced(kube: Kube, c: KubeObject, timeoutMs = 60_000) {
  return waitFor(
    `constraint ${c.metadata.name} enforced`,
    async () => {
      const cur = await apiGet(
        kube,
        { verb: 'get', resource: 'constraints' },
        `/apis/constraints.gatekeeper.sh/v1beta1/${c.kind.toLowerCase()}/${c.metadata.name}`,
      );
      const byPod = cur.status?.byPod ?? [];
      return byPod.length > 0 && byPod.every((p: any) => p.enforced === true);
    },
    timeoutMs,
  );
}

/** Waits (bounded) until Gatekeeper's audit has written a result on every constraint; the reason when it has not. */
export async function waitFirstAudit(kube: Kube, constraints: KubeObject[], timeoutMs: number): Promise<string | undefined> {
  const deadline = Date.now() + timeoutMs;
  let pending: string[] = [];
  while (Date.now() < deadline) {
    pending = [];
    for (const c of constraints) {
      const cur = await apiGet(
        kube,
        { verb: 'get', resource: 'constraints' },
        `/apis/constraints.gatekeeper.sh/v1beta1/${c.kind.toLowerCase()}/${c.metadata.name}`,
      ).catch(() => undefined);
      if (typeof cur?.status?.totalViolations !== 'number') pending.push(c.metadata.name);
    }
    if (!pending.length) return undefined;
    await new Promise((r) => setTimeout(r, 1000));
  }
  return (
    `Gatekeeper's first audit had not reported on ${pending.length} constraint(s) after ${timeoutMs / 1000} s (${pending.slice(0, 3).join(', ')}` +
    `${pending.length > 3 ? ', …' : ''})`
  );
}
