import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { z } from 'zod';
import { lambdaHandler } from '../runtime/handler.ts';
import { metrics } from '../runtime/powertools.ts';
import { keys } from '../state/keys.ts';
import { emptyStatus, type ReconcileStatus, type RunSummary } from '../state/reconcile-status.ts';
import { logger, nowIso, stateStore } from './runtime.ts';

const count = z.number().int().nonnegative();
const checked = z.object({
  environment: z.string(),
  checked: count,
  inSync: count,
  drifted: count,
  healing: count,
  reported: count,
  skipped: count,
  removed: count,
  pruned: count,
  errors: count,
});
const failedBatch = z.object({ failed: z.literal(true), environment: z.string(), error: z.nullish(z.string()) });
const finishInput = z.object({
  run: z.string().min(1),
  startedAt: z.string().min(1),
  scan: z.nullish(
    z.object({
      startedAt: z.string().min(1),
      environments: z.array(z.object({ environment: z.string(), due: z.boolean(), endpoints: count })),
      batches: z.array(z.unknown()),
      errors: count,
      idle: z.optional(z.boolean()),
    }),
  ),
  batches: z.array(z.union([checked, failedBatch])),
  error: z.nullish(z.object({ Error: z.nullish(z.string()), Cause: z.nullish(z.string()) })),
});

/**
 * Finish: the run's summary per due environment in the reconciler's status (what `ballast status`
 * shows as the last reconcile), its duration and errors as EMF metrics, and whether the execution
 * should fail (Scan or a batch failed) so that the workflow's alarm fires. Idempotent: a retry
 * writes the same summary.
 */
export async function finish(input: z.output<typeof finishInput>): Promise<{ failed: boolean; errors: number }> {
  const now = nowIso();
  const startedAt = input.scan?.startedAt ?? input.startedAt;
  const durationMs = Math.max(0, Date.parse(now) - Date.parse(startedAt));
  const results = input.batches.filter((b): b is z.output<typeof checked> => !('failed' in b));
  const failed = input.batches.filter((b): b is z.output<typeof failedBatch> => 'failed' in b);
  const failedBatches = failed.length;
  const due = (input.scan?.environments ?? []).filter((e) => e.due);
  const summaries = new Map<string, RunSummary>();
  for (const environment of due) {
    const mine = results.filter((r) => r.environment === environment.environment);
    const sum = (field: keyof Omit<z.output<typeof checked>, 'environment'>) => mine.reduce((n, r) => n + r[field], 0);
    summaries.set(environment.environment, {
      run: input.run,
      startedAt,
      finishedAt: now,
      durationMs,
      checked: sum('checked'),
      inSync: sum('inSync'),
      drifted: sum('drifted'),
      healing: sum('healing'),
      reported: sum('reported'),
      skipped: sum('skipped'),
      removed: sum('removed'),
      pruned: sum('pruned'),
      // A failed batch's endpoints were not checked: it counts as an error of its environment.
      errors: sum('errors') + failed.filter((b) => b.environment === environment.environment).length,
    });
  }
  if (summaries.size > 0) {
    await stateStore().update<ReconcileStatus>(keys.reconcileStatus, (latest) => {
      const base = latest ?? emptyStatus(now);
      const environments = { ...base.environments };
      for (const [name, summary] of summaries) {
        const { running: _done, ...rest } = environments[name] ?? { nextAt: now, intervalMinutes: 5 };
        environments[name] = { ...rest, lastRun: summary };
      }
      return { ...base, environments, updatedAt: now };
    });
  }
  const errors = (input.scan?.errors ?? 0) + failedBatches + (input.error ? 1 : 0);
  // Once per environment and run (lib/ballast-dashboard.ts graphs its maximum). The only custom
  // metric the reconciler publishes: its duration and errors are the state machine's own metrics
  // (ExecutionTime, ExecutionsFailed: a run with errors fails below), which cost nothing.
  for (const [name, summary] of summaries) {
    const single = metrics.singleMetric();
    single.addDimensions({ Environment: name });
    single.addMetric('DriftedEndpoints', MetricUnit.Count, summary.drifted);
  }
  if (errors > 0) logger.error('reconcile run had errors', { errors, error: input.error });
  return { failed: errors > 0, errors };
}

export const handler = lambdaHandler(finishInput, finish, {
  keys: (input) => ({ run: input.run }),
  // Runs every minute: see LambdaHandlerOptions.coldStartMetric.
  coldStartMetric: false,
});
