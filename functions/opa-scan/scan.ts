/**
 * The OPA/Gatekeeper scan: definition and orchestration only.
 *   light: inventory (execute, inventory.ts) → judgeLight (pure, light.ts)
 *   full:  plus plan (pure, plan.ts) → replay reads (replay.ts) → dry-runs (execute.ts)
 *          → verdicts (pure, judge.ts); score = mergeScores(light, enforcement).
 * Settings: settings.ts (every one parsed before the first cluster call).
 * Scratch objects (the ServiceAccount dry-run pods name) go through lib/kube/scratch.ts:
 * labelled, expiring after the scan's own total timeout, swept by the next run.
 */
import { toReportError, type ReportError } from '../../lib/errors.ts';
import { PROBE_SERVICE_ACCOUNT } from '../../lib/k8s/labels.ts';
import { matchesSelector, namespaceLabels } from '../../lib/k8s/selectors.ts';
import { makeKube, type Kube } from '../../lib/kube/client.ts';
import { ScratchRun, sweepExpired } from '../../lib/kube/scratch.ts';
import type { ProgressFn, ScanDefinition, ScanOutcome } from '../../lib/scan/scaffold.ts';
import { mergeScores } from '../../lib/scan/score.ts';
import { loadTopology } from '../../lib/topology/settings.ts';
import { executeFull } from './execute.ts';
import { readInventory, type Inventory } from './inventory.ts';
import { countMethods, countVerdicts, enforcementScore, judgeFull } from './judge.ts';
import { judgeLight, type OpaLightReport } from './light.ts';
import type { NamespaceLabels } from './match.ts';
import { planFull, WEBHOOK_EXEMPT } from './plan.ts';
import { prepareReplays } from './replay.ts';
import { opaSettingsFromEnv, type OpaScanSettings } from './settings.ts';
import { opaChecks } from './checks.ts';
import { OPA_REPORT } from './report.ts';

export { opaSettingsFromEnv, type OpaScanSettings };

type Mode = 'light' | 'full';

/** Which namespaces Gatekeeper's validating webhook is called for (its namespaceSelector), as far as the scan could read it. */
export function webhookSees(inv: Pick<Inventory, 'signals'>): (ns: NamespaceLabels) => boolean {
  const w = inv.signals.webhooks.find((x) => x.name === 'validation.gatekeeper.sh');
  const sel = w?.namespaceSelector;
  return (ns) => !WEBHOOK_EXEMPT.has(ns.name) && (!sel || matchesSelector(sel, namespaceLabels(ns)));
}

interface FullInput {
  kube: Kube;
  inv: Inventory;
  light: OpaLightReport;
  stackNamespaces: string[];
  settings: OpaScanSettings;
  ttlMs: number;
  signal: AbortSignal;
  errors: ReportError[];
  progress?: ProgressFn;
}

async function runFull({ kube, inv, light, stackNamespaces, settings, ttlMs, signal, errors, progress }: FullInput): Promise<Omit<ScanOutcome, 'sources'>> {
  const scratch = new ScratchRun(kube, { purpose: 'opa-dry-run', ttlMs });
  const sees = webhookSees(inv);
  const planned = planFull({
    constraints: inv.constraints,
    namespaces: inv.namespaces,
    stackNamespaces,
    runId: scratch.runId,
    replay: settings.replay !== false,
    webhookSees: sees,
  });
  // The sweep of expired objects of earlier runs is not on the way to the dry-runs: it runs beside the replay reads.
  const [swept, replayed] = await Promise.all([
    sweepExpired(kube, { exceptRun: scratch.runId }),
    prepareReplays(kube, planned, {
      runId: scratch.runId,
      namespaces: new Map(inv.namespaces.map((n) => [n.name, n])),
      constraints: new Map(inv.constraints.map((c) => [c.name, c])),
      stackNamespaces,
      sees,
      signal,
    }),
  ]);
  errors.push(...swept.errors, ...replayed.errors);
  const plans = replayed.plans;

  // Generated pods name the probe ServiceAccount: it must exist where the ServiceAccount admission plugin runs.
  const needSa = [...new Set(plans.filter((p) => p.method === 'generator' && p.namespace).map((p) => p.namespace!))];
  let executed;
  try {
    await Promise.all(
      needSa.map((ns) =>
        scratch
          .acquireServiceAccount(ns)
          .catch((err) => errors.push(toReportError(`create ServiceAccount ${ns}/${PROBE_SERVICE_ACCOUNT} (named by the dry-run pods)`, err))),
      ),
    );
    executed = await executeFull(kube, plans, settings.concurrency, signal, progress && ((done, total) => progress({ step: 'constraint tests', done, total })));
  } finally {
    errors.push(...(await scratch.cleanup()));
  }
  errors.push(...executed.errors);

  const { findings, conflicts } = judgeFull(executed.executed);
  const enforcement = enforcementScore(findings);
  const score = inv.incomplete.includes('constraints') ? null : mergeScores(light.score, enforcement);
  return {
    score,
    summary: {
      ...light.summary,
      light_score: light.score,
      enforcement_score: enforcement,
      verdicts: countVerdicts(findings),
      decided_by: countMethods(findings),
      conflicts: conflicts.length,
      orphans_swept: swept.deleted.length,
    },
    results: { ...light.results, conflicts },
    findings,
    errors,
  };
}

/** Without settings, they are read from the environment on each request, so a bad value is a 422, not a crash. */
export function opaScan(given?: OpaScanSettings): ScanDefinition<Mode> {
  return {
    name: 'opa',
    path: '/opa_scan',
    report: OPA_REPORT,
    modes: ['light', 'full'],
    defaultMode: 'light',
    checks: opaChecks,
    async run({ mode, signal, timeoutMs: ttlMs, progress }): Promise<ScanOutcome> {
      const settings = given ?? opaSettingsFromEnv();
      const topology = await loadTopology(settings.topology);
      const kube = await makeKube(settings.kubeconfig);
      const inv = await readInventory(kube, { namespace: settings.gatekeeperNamespace });
      const light = judgeLight(inv, topology.namespaces);
      const errors = [...inv.errors];
      const sources = { metadata: settings.topology.metadata.path, cluster: kube.server, gatekeeper_namespace: inv.namespace };
      if (mode === 'light' || !inv.installed) {
        return { score: light.score, summary: light.summary, results: light.results, errors, sources, ...(mode === 'full' ? { findings: [] } : {}) };
      }
      return { ...(await runFull({ kube, inv, light, stackNamespaces: topology.namespaces, settings, ttlMs, signal, errors, progress })), sources };
    },
  };
}
