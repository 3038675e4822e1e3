/**
 * The nuclei scan: `GET /nuclei_scan?mode=light|full|network|ssl` (default light).
 *   plan    — targets from the topology only (plan.ts), mapped through SCAN_HOST_MAP; the
 *             templates per target from the templates directory (templates.ts, select.ts):
 *             intrusive/DoS/brute-force and out-of-band templates excluded unless allowed
 *   execute — one nuclei process per group of targets sharing templates, `-jsonl` streamed (nuclei.ts)
 *   judge   — reached / unreachable / findings / score (judge.ts)
 *   report  — the common envelope; secrets from the metadata redacted everywhere (secrets.ts)
 *
 * On abort (client gone, NUCLEI_SCAN_TIMEOUT_MS spent) nuclei's process group is killed
 * and the report holds what was found so far plus a `timeout`/`cancelled` error.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ScanError, toReportError, type ReportError } from '../../lib/errors.ts';
import type { ScanOutcome } from '../../lib/scan/report.ts';
import { abortError, type ScanDefinition } from '../../lib/scan/run.ts';
import { describeFailure } from '../../lib/tools/run.ts';
import { resolversFromResolvConf, runNuclei, type NucleiRun } from './nuclei.ts';
import { loadMetadata } from '../../lib/topology/settings.ts';
import { loadApisixRoutes, type ApisixRoutes } from './apisix.ts';
import { Judge } from './judge.ts';
import { MODES, planTargets, type NucleiMode } from './plan.ts';
import { collectSecrets, redactDeep } from './secrets.ts';
import { nucleiSettingsFromEnv, TEMPLATES_SETTING, type NucleiScanSettings } from './settings.ts';
import { DEFAULT_EXCLUDED_TAGS, groupPlan } from './select.ts';
import { loadCatalog } from './templates.ts';
import { nucleiChecks } from './checks.ts';
import { NUCLEI_REPORT } from './report.ts';

/** Default total time per mode (the seed budgets), overridable by NUCLEI_SCAN_TIMEOUT_MS. */
export const NUCLEI_TIMEOUTS_MS: Readonly<Record<NucleiMode, number>> = { light: 3 * 60_000, full: 15 * 60_000, network: 5 * 60_000, ssl: 60_000 };

function booleanParam(params: Record<string, string>, name: string): boolean {
  const raw = params[name];
  if (raw === undefined || raw === '' || raw === 'false') return false;
  if (raw === 'true') return true;
  throw new ScanError(400, {
    code: 'invalid_parameter',
    message: `query parameter ${name} must be 'true' or 'false'; got '${raw.slice(0, 40)}'`,
    details: [{ path: name, message: "'true' or 'false'" }],
  });
}

/** Without settings they are read from the environment on each request (a bad value is a 422, not a crash). */
export function nucleiScan(given?: NucleiScanSettings | (() => NucleiScanSettings)): ScanDefinition<NucleiMode> {
  return {
    name: 'nuclei',
    path: '/nuclei_scan',
    report: NUCLEI_REPORT,
    modes: MODES,
    defaultMode: 'light',
    checks: nucleiChecks,
    params: { evidence: "'true' adds each finding's request and response (4 KB each; default false)" },
    timeoutMs: NUCLEI_TIMEOUTS_MS,
    async run({ mode, params, signal, progress }): Promise<ScanOutcome> {
      const includeRaw = booleanParam(params, 'evidence');
      const settings = typeof given === 'function' ? given() : (given ?? nucleiSettingsFromEnv());
      const { topology, document } = await loadMetadata(settings.topology);
      const secrets = collectSecrets(document);
      const errors: ReportError[] = [];
      let apisix: ApisixRoutes | undefined;
      if (settings.apisixRoutes) apisix = await loadApisixRoutes(settings.apisixRoutes);

      let resolvers: string[] = [];
      let dns = settings.dns;
      if (dns === 'system') {
        try {
          resolvers = resolversFromResolvConf(await readFile(settings.resolvConf, 'utf8'));
        } catch (err) {
          errors.push(toReportError(`read ${settings.resolvConf}`, err));
        }
        if (!resolvers.length) {
          // Without explicit resolvers nuclei would ask public ones: never. Only mapped names and IPs are scanned.
          errors.push({
            step: 'dns',
            code: 'no_resolvers',
            message: `no nameserver in ${settings.resolvConf}: host names not in SCAN_HOST_MAP are not scanned`,
          });
          dns = 'off';
        }
      }

      const plan = planTargets(topology, mode, { hostMap: settings.hostMap, dns, routeScheme: settings.routeScheme, apisix });
      const catalog = await loadCatalog(settings.templatesDir);
      if (!catalog.templates.length) {
        throw new ScanError(422, {
          code: 'invalid_setting',
          message:
            `${TEMPLATES_SETTING} points to ${settings.templatesDir}, which holds no nuclei template (${catalog.notTemplates} YAML file(s), ` +
            `none with an id, an info block and a protocol)`,
          setting: TEMPLATES_SETTING,
          file: settings.templatesDir,
        });
      }
      const policy = { allowTags: settings.allowTags, interactsh: !!settings.interactshUrl };
      const grouping = groupPlan(plan, catalog, policy);
      const excludeTags = [...DEFAULT_EXCLUDED_TAGS.keys()].filter((t) => !settings.allowTags.has(t));
      const judge = new Judge(plan, includeRaw, grouping.noTemplates);
      const runs: { types: string[]; protocols: string[]; templates: number; inputs: number; run?: NucleiRun }[] = [];
      const started = Date.now();
      // One nuclei run per group of targets sharing their templates, one after the other
      // (docs/nuclei-templates.md: measured against one run with the union).
      const total = grouping.groups.reduce((a, g) => a + g.inputs.length, 0);
      let done = 0;
      if (total) progress?.({ step: 'nuclei on the targets', done, total });
      for (const g of grouping.groups) {
        const entry: (typeof runs)[number] = { types: g.types, protocols: g.protocols, templates: g.templates.length, inputs: g.inputs.length };
        runs.push(entry);
        if (signal.aborted) continue;
        entry.run = await runNuclei(
          {
            bin: settings.bin,
            protocols: g.protocols,
            templates: g.templates.map((t) => join(catalog.dir, t.path)),
            excludeTags,
            rateLimit: settings.rateLimit,
            concurrency: settings.concurrency,
            bulkSize: settings.bulkSize,
            requestTimeoutS: settings.requestTimeoutS,
            retries: settings.retries,
            resolvers: dns === 'system' ? resolvers : [],
            interactshUrl: settings.interactshUrl,
            includeRaw,
          },
          g.inputs,
          { onEvent: (ev) => judge.add(ev), signal },
        );
        done += g.inputs.length;
        progress?.({ step: 'nuclei on the targets', done, total });
      }
      const j = judge.result();
      errors.push(...j.errors);
      if (!plan.inputs.size)
        errors.push({ step: 'plan', code: 'no_targets', message: `no ${mode} target could be scanned (see results.targets and results.skipped)` });
      let aborted = false;
      for (const { run, types } of runs) {
        const step = `nuclei (${types.join(', ')})`;
        if (!run) continue;
        const t = run.tool;
        if (t.aborted || signal.aborted) aborted = true;
        else if (t.missing) errors.push({ step, code: 'tool_missing', message: describeFailure('nuclei', t) });
        else if (t.timedOut || t.exitCode !== 0) errors.push({ step, code: 'tool_failed', message: describeFailure('nuclei', t) });
      }
      if (aborted || (signal.aborted && runs.length)) errors.push(abortError(signal, 'nuclei'));
      const outcome: ScanOutcome = {
        score: j.score,
        summary: {
          mode,
          protocol: plan.protocol,
          ...j.summary,
          nuclei_runs: runs.filter((r) => r.run).length,
          templates_excluded: grouping.excluded.length,
          ...(aborted || (signal.aborted && runs.length) ? { partial: true } : {}),
        },
        results: {
          targets: j.targets,
          skipped: plan.skipped,
          // Templates the selection picked but that did not run, and why (select.ts).
          excluded: grouping.excluded.map((e) => ({ template_id: e.template_id, path: e.path, code: e.code, reason: e.reason, types: e.types })),
          runs: runs.map(({ run, ...r }) => ({
            ...r,
            ran: !!run,
            ...(run ? { exit_code: run.tool.exitCode, duration_ms: Math.round(run.tool.durationMs), events: run.events, unparsed_lines: run.badLines } : {}),
          })),
          unattributed_events: judge.unattributed,
          duration_ms: Date.now() - started,
        },
        findings: j.findings,
        errors, // redacted with the rest below
        sources: {
          metadata: settings.topology.metadata.path,
          ...(apisix ? { apisix_routes: apisix.file } : {}),
          templates_dir: settings.templatesDir,
          templates: catalog.templates.length,
          nuclei: settings.bin,
          interactsh: settings.interactshUrl ? 'on' : 'off (-ni)',
          allowed_tags: [...settings.allowTags].sort(),
          dns,
          host_map_entries: settings.hostMap.byHost.size + settings.hostMap.byHostPort.size,
          warnings: topology.warnings,
        },
      };
      return redactDeep(outcome, secrets);
    },
  };
}
