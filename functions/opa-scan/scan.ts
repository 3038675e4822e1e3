/**
 * The OPA/Gatekeeper scan. Light: inventory and health. Full: plus
 * server-side dry-run admission tests, a valid and an invalid resource per
 * constraint. Settings:
 *   GATEKEEPER_NAMESPACE   where Gatekeeper runs, when not in gatekeeper-system, opa or gatekeeper
 *   OPA_SCAN_CONCURRENCY   dry-run requests in flight at once (default 8)
 */
import { randomBytes } from 'node:crypto';
import { toReportError, type ReportError } from '../../lib/errors.ts';
import { makeKube, type Kube } from '../../lib/kube/client.ts';
import { rawRequest, statusError } from '../../lib/kube/raw.ts';
import { mergeScores } from '../../lib/scan/score.ts';
import type { ScanDefinition, ScanOutcome } from '../../lib/scan/scaffold.ts';
import { intSetting } from '../../lib/scan/settings.ts';
import { loadTopology, topologySettings, type TopologySettings } from '../../lib/topology/settings.ts';
import { PROBE_SERVICE_ACCOUNT } from './generators/base.ts';
import { countVerdicts, enforcementScore, executeFull, judgeFull, MANAGED_BY, planFull, type PlannedTest } from './full.ts';
import { readInventory } from './inventory.ts';
import { judgeLight } from './light.ts';

export interface OpaScanSettings {
  topology: TopologySettings;
  kubeconfig?: string;
  gatekeeperNamespace?: string;
  concurrency: number;
}

export function opaSettingsFromEnv(env: NodeJS.ProcessEnv = process.env): OpaScanSettings {
  const concurrency = intSetting(env, 'OPA_SCAN_CONCURRENCY', 8, 1, 64);
  return { topology: topologySettings(env), gatekeeperNamespace: env.GATEKEEPER_NAMESPACE || undefined, concurrency };
}

/** Labels on everything the scan creates, so a later run can sweep orphans. */
export const PROBE_SA_LABELS = { ...MANAGED_BY, 'stack-scan.io/purpose': 'opa-dry-run' };
const SWEEP_AFTER_MS = 10 * 60_000;

/**
 * The dry-run pods name a ServiceAccount that must exist (the ServiceAccount
 * admission plugin checks it). Create it where missing, labelled with the run;
 * returns the ones created, for cleanup.
 */
async function ensureServiceAccounts(kube: Kube, namespaces: string[], runId: string, errors: ReportError[]): Promise<string[]> {
  const created: string[] = [];
  await Promise.all(
    namespaces.map(async (ns) => {
      const site = { verb: 'create', resource: 'serviceaccounts', namespace: ns };
      const body = { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: PROBE_SERVICE_ACCOUNT, namespace: ns, labels: { ...PROBE_SA_LABELS, 'stack-scan.io/run': runId }, annotations: { 'stack-scan.io/created': new Date().toISOString() } }, automountServiceAccountToken: false };
      try {
        const res = await rawRequest(kube, site, { method: 'POST', path: `/api/v1/namespaces/${ns}/serviceaccounts`, body });
        if (res.status === 201) created.push(ns);
        else if (res.status !== 409) errors.push(toReportError(`create ServiceAccount ${ns}/${PROBE_SERVICE_ACCOUNT}`, statusError(site, res, kube.server)));
      } catch (err) {
        errors.push(toReportError(`create ServiceAccount ${ns}/${PROBE_SERVICE_ACCOUNT}`, err));
      }
    }),
  );
  return created;
}

async function deleteServiceAccount(kube: Kube, ns: string, errors: ReportError[]) {
  const site = { verb: 'delete', resource: 'serviceaccounts', namespace: ns };
  try {
    const res = await rawRequest(kube, site, { method: 'DELETE', path: `/api/v1/namespaces/${ns}/serviceaccounts/${PROBE_SERVICE_ACCOUNT}` });
    if (res.status >= 300 && res.status !== 404) errors.push(toReportError(`delete ServiceAccount ${ns}/${PROBE_SERVICE_ACCOUNT}`, statusError(site, res, kube.server)));
  } catch (err) {
    errors.push(toReportError(`delete ServiceAccount ${ns}/${PROBE_SERVICE_ACCOUNT}`, err));
  }
}

/** Remove probe ServiceAccounts left by a run that crashed or was killed (older than 10 minutes). */
export async function sweepOrphans(kube: Kube, errors: ReportError[]): Promise<number> {
  const selector = Object.entries(PROBE_SA_LABELS).map(([k, v]) => `${k}=${v}`).join(',');
  const site = { verb: 'list', resource: 'serviceaccounts' };
  try {
    const res = await rawRequest(kube, site, { method: 'GET', path: '/api/v1/serviceaccounts', query: { labelSelector: selector } });
    if (res.status !== 200) throw statusError(site, res, kube.server);
    const old = ((res.body as any).items ?? []).filter((sa: any) => Date.now() - Date.parse(sa.metadata.annotations?.['stack-scan.io/created'] ?? sa.metadata.creationTimestamp) > SWEEP_AFTER_MS);
    await Promise.all(old.map((sa: any) => deleteServiceAccount(kube, sa.metadata.namespace, errors)));
    return old.length;
  } catch (err) {
    errors.push(toReportError('sweep orphaned probe ServiceAccounts', err));
    return 0;
  }
}

type Mode = 'light' | 'full';

/** Without settings, they are read from the environment on each request, so a bad value is a 422, not a crash. */
export function opaScan(given?: OpaScanSettings): ScanDefinition<Mode> {
  return {
    name: 'opa',
    path: '/opa_scan',
    modes: ['light', 'full'],
    defaultMode: 'light',
    async run({ mode }): Promise<ScanOutcome> {
      const settings = given ?? opaSettingsFromEnv();
      const topology = await loadTopology(settings.topology);
      const kube = makeKube(settings.kubeconfig);
      const inv = await readInventory(kube, { namespace: settings.gatekeeperNamespace });
      const light = judgeLight(inv, topology.namespaces);
      const errors = [...inv.errors];
      const sources = { metadata: settings.topology.metadata.path, cluster: kube.server, gatekeeper_namespace: inv.namespace };
      if (mode === 'light' || inv.namespace === null) {
        return { score: light.score, summary: light.summary, results: light.results, errors, sources, ...(mode === 'full' ? { findings: [] } : {}) };
      }

      const runId = randomBytes(3).toString('hex');
      const plans: PlannedTest[] = planFull({ constraints: inv.constraints, namespaces: inv.namespaces, stackNamespaces: topology.namespaces, runId });
      const swept = await sweepOrphans(kube, errors);
      const needSa = [...new Set(plans.filter((p) => !p.skip && p.namespace).map((p) => p.namespace!))];
      const created = await ensureServiceAccounts(kube, needSa, runId, errors);
      let executed;
      try {
        executed = await executeFull(kube, plans, settings.concurrency);
      } finally {
        await Promise.all(created.map((ns) => deleteServiceAccount(kube, ns, errors)));
      }
      errors.push(...executed.errors);
      const { findings, conflicts } = judgeFull(executed.executed);
      const enforcement = enforcementScore(findings);
      const score = mergeScores(light.score, enforcement);
      return {
        score,
        summary: { ...light.summary, light_score: light.score, enforcement_score: enforcement, verdicts: countVerdicts(findings), conflicts: conflicts.length, orphans_swept: swept },
        results: { ...light.results, conflicts },
        findings,
        errors,
        sources,
      };
    },
  };
}
