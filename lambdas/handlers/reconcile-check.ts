import { z } from 'zod';
import { applicationAutoScaling, autoscaledVariants, variantResourceId } from '../aws/application-autoscaling.ts';
import { sagemaker } from '../aws/sagemaker.ts';
import {
  type Assessment,
  act,
  assess,
  type CheckSettings,
  type Counted,
  DEFAULT_SETTINGS,
  inspectOrSkip,
} from '../reconcile/check.ts';
import { lambdaHandler } from '../runtime/handler.ts';
import { mapPool } from '../runtime/pool.ts';
import type { EndpointState } from '../state/endpoint-state.ts';
import type { Versioned } from '../state/json-store.ts';
import { keys } from '../state/keys.ts';
import type { EnvironmentHead } from '../workflow/plan.ts';
import { logger, nowIso, resourcePrefix, stateStore } from './runtime.ts';

const endpointItem = z.object({ name: z.string().min(1), declared: z.boolean() });
const batch = z.object({
  environment: z.string().min(1),
  endpoints: z.optional(z.array(endpointItem)),
  key: z.optional(z.string().min(1)),
});
const checkInput = z.object({ batch, run: z.string().min(1), startedAt: z.optional(z.string().min(1)) });

/**
 * Endpoints checked at once per batch: with the Map's four batches in flight, at most 20 endpoints
 * are described at a time (about 80 Describe calls a second at SageMaker's latency), and the SDK's
 * retries absorb a throttle.
 */
const ENDPOINT_CONCURRENCY = 5;

export type CheckResult = Record<Counted | 'errors' | 'checked', number> & { readonly environment: string };

/**
 * Check: one batch of one environment's endpoints compared with AWS. Per endpoint: its state, the
 * Describe calls, then (for the batch, one call per 50 variants) which variants are autoscaled; then
 * each endpoint's decision and its effects (lambdas/reconcile/check.ts). One endpoint's error is
 * counted and logged, not thrown: the others are still checked, and the next run tries it again.
 */
export async function check(input: z.output<typeof checkInput>): Promise<CheckResult> {
  const store = stateStore();
  const now = nowIso();
  const prefix = resourcePrefix();
  const environment = input.batch.environment;
  const endpoints = input.batch.endpoints ?? (await batchFromStore(input.batch.key));
  const head = (await store.get<EnvironmentHead>(keys.head(environment)))?.value;
  const settings: CheckSettings = head?.settings
    ? { selfHeal: head.settings.selfHeal, prune: head.settings.prune, driftIgnore: head.settings.driftIgnore }
    : DEFAULT_SETTINGS;
  const counts: Record<Counted | 'errors' | 'checked', number> = {
    checked: 0,
    inSync: 0,
    drifted: 0,
    healing: 0,
    reported: 0,
    skipped: 0,
    removed: 0,
    pruned: 0,
    errors: 0,
  };
  const inspected = await mapPool(endpoints, ENDPOINT_CONCURRENCY, async (item) => {
    try {
      const state = await store.get<EndpointState>(keys.state(environment, item.name));
      if (!state) return undefined;
      return { state, read: await inspectOrSkip(sagemaker(), prefix, state.value, item.declared, settings) };
    } catch (error) {
      logger.error('endpoint check failed', { endpoint: item.name, error });
      counts.errors++;
      return undefined;
    }
  });
  const resourceIds = inspected.flatMap((i) =>
    i && 'inspection' in i.read && i.read.inspection.variantName
      ? [variantResourceId(i.read.inspection.endpointName, i.read.inspection.variantName)]
      : [],
  );
  const autoscaled =
    resourceIds.length > 0 ? await autoscaledVariants(applicationAutoScaling(), resourceIds) : new Set<string>();
  await mapPool(inspected, ENDPOINT_CONCURRENCY, async (found) => {
    if (!found) return;
    const { state, read } = found;
    try {
      const assessment: Assessment =
        'pre' in read
          ? { environment, endpoint: state.value.endpoint, endpointName: '', action: read.pre, drift: [], ignored: [] }
          : assess(
              state.value,
              read.inspection,
              settings,
              read.inspection.variantName !== undefined &&
                autoscaled.has(variantResourceId(read.inspection.endpointName, read.inspection.variantName)),
            );
      const counted = await act(
        { store, sagemaker: sagemaker(), prefix, run: input.run, runStartedAt: input.startedAt ?? now, now },
        state as Versioned<EndpointState>,
        assessment,
      );
      counts.checked++;
      counts[counted]++;
      if (counted === 'healing' || counted === 'reported') counts.drifted++;
      if (assessment.drift.length > 0)
        logger.info('drift', {
          endpoint: state.value.endpoint,
          action: assessment.action.action,
          drift: assessment.drift,
        });
    } catch (error) {
      logger.error('endpoint check failed', { endpoint: state.value.endpoint, error });
      counts.errors++;
    }
  });
  return { environment, ...counts };
}

async function batchFromStore(key: string | undefined): Promise<Array<z.output<typeof endpointItem>>> {
  if (!key) throw new Error('a batch names neither its endpoints nor its key');
  const stored = await stateStore().get<{ endpoints?: unknown }>(key);
  return z.array(endpointItem).parse(stored?.value.endpoints ?? []);
}

export const handler = lambdaHandler(checkInput, check, {
  keys: (input) => ({ run: input.run, environment: input.batch.environment }),
  // Runs with every due environment: see LambdaHandlerOptions.coldStartMetric.
  coldStartMetric: false,
});
