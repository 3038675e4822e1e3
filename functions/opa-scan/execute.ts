/**
 * OPA full mode, execute step: submit every planned resource with `dryRun=All`, at
 * most `concurrency` requests at a time. Generator resources go through
 * lib/kube/api.ts (kinds of the shared table); replayed objects of any kind through
 * gatekeeper-api.ts. A test not started when the scan's signal aborts is left out
 * (the judge reports it UNTESTED).
 */
import pLimit from 'p-limit';
import { toReportError, type ReportError } from '../../lib/errors.ts';
import { readAdmission, type Admission } from '../../lib/kube/admission.ts';
import { createObject } from '../../lib/kube/api.ts';
import type { Kube } from '../../lib/kube/client.ts';
import type { Resource } from './generators/types.ts';
import type { PlannedTest } from './plan.ts';

export interface Executed {
  plan: PlannedTest;
  valid?: Admission;
  invalid?: Admission;
  /** The scan stopped before this test ran. */
  aborted?: boolean;
}

export async function executeFull(
  kube: Kube,
  plans: PlannedTest[],
  concurrency = 8,
  signal?: AbortSignal,
  progress?: (done: number, total: number) => void,
): Promise<{ executed: Executed[]; errors: ReportError[] }> {
  const limit = pLimit(concurrency);
  let done = 0;
  progress?.(0, plans.length);
  const errors: ReportError[] = [];
  let stopped = false;
  const submit = (plan: PlannedTest, r: Resource) =>
    limit(async (): Promise<Admission | undefined> => {
      if (signal?.aborted) {
        stopped = true;
        return undefined;
      }
      try {
        const res = await createObject(kube, r, { dryRun: true, ...(plan.api ? { kind: plan.api } : {}) });
        return readAdmission(res.status, res.response.body, res.warnings);
      } catch (err) {
        errors.push(toReportError(`dry-run ${r.kind} for constraint ${plan.constraint}`, err));
        return undefined;
      }
    });
  const executed = await Promise.all(
    plans.map(async (plan): Promise<Executed> => {
      if (plan.skip || !plan.invalid) {
        progress?.(++done, plans.length);
        return { plan };
      }
      const [valid, invalid] = await Promise.all([plan.valid ? submit(plan, plan.valid) : Promise.resolve(undefined), submit(plan, plan.invalid)]);
      progress?.(++done, plans.length);
      return { plan, valid, invalid, ...(stopped && (!invalid || (plan.valid && !valid)) ? { aborted: true } : {}) };
    }),
  );
  return { executed, errors };
}
