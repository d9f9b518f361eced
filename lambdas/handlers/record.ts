import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { sagemaker } from '../aws/sagemaker.ts';
import { lambdaHandler } from '../runtime/handler.ts';
import { metrics } from '../runtime/powertools.ts';
import { answer } from '../sources/answer.ts';
import type { EndpointState } from '../state/endpoint-state.ts';
import { keys } from '../state/keys.ts';
import { appendLedger, ledgerEntry, readLedgerEntry } from '../state/ledger.ts';
import {
  answersGit,
  changesSinceLive,
  decideRecord,
  liveFacts,
  type RecordDecision,
  type RecordEvent,
} from '../state/outcome.ts';
import { cleanUpEndpoint } from '../targets/sagemaker-cleanup.ts';
import { causeMessage } from '../workflow/cause.ts';
import { type RecordInput, recordInput } from '../workflow/payloads.ts';
import { type EnvironmentHead, headAfterRecord } from '../workflow/plan.ts';
import type { EndpointResult, Outcome } from '../workflow/types.ts';
import { answerSettings, logger, nowIso, readRelease, resourcePrefix, stateStore } from './runtime.ts';

/**
 * Record: the last word on a push for one endpoint. {@link decideRecord} decides the outcome, the
 * state that follows (live, last good, quarantine, lease) and what cleanup may remove; this
 * handler writes the ledger entry (write-once), the state (compare-and-swap) and the environment
 * head's mark of content that did not go live, publishes the metrics (once), cleans up what the
 * decision allows and answers the commit. Step Functions may retry the whole step: a retry finds
 * the ledger entry and answers with it, re-applies the state and head rules (which change nothing
 * the second time) and publishes nothing twice.
 */
export async function record(input: RecordInput): Promise<EndpointResult> {
  const store = stateStore();
  const release = await readRelease(store, input);
  const now = nowIso();
  const event = recordEvent(input);
  const stateKey = keys.state(input.environment, input.endpoint);
  const request = {
    execution: input.execution,
    commit: input.push.commit,
    digest: release.digest,
    components: release.components,
    rollback: liveFacts(input.push, release),
    ...(input.retry?.kind === 'heal' ? { heal: true } : {}),
  };
  const before = await store.get<EndpointState>(stateKey);
  const decided = decideRecord(before?.value, request, event, now);
  // The ledger entry is written first, and write-once: a Step Functions retry of this step finds
  // it and answers with what the first attempt decided, instead of deciding again from the state
  // that attempt already moved (where this execution no longer holds the lease).
  const entry = ledgerEntry(input, input.endpoint, decided.outcome, now, {
    ...(decided.reason ? { reason: decided.reason } : {}),
    changes: changesSinceLive(before?.value, release),
    digest: release.digest,
    ...(input.kind === 'rollout' ? { endpointConfigName: input.rollout.endpointConfigName } : {}),
  });
  const written = await appendLedger(store, entry);
  const recorded = written === 'created' ? entry : ((await readLedgerEntry(store, entry)) ?? entry);
  // The state moves on every attempt: if a first attempt wrote the entry and died before this, the
  // retry completes it; if it got further, this execution no longer holds the lease and the
  // rules change nothing (see decideRecord).
  let decision: RecordDecision = decided;
  const result = await store.update<EndpointState>(
    stateKey,
    (current) => {
      decision = current === before?.value ? decided : decideRecord(current, request, event, now);
      return decision.state;
    },
    undefined,
    before ?? null,
  );
  // On every attempt, so that an attempt that died after the state moved is completed by the retry.
  await store.update<EnvironmentHead>(keys.head(input.environment), (head) =>
    headAfterRecord(head, input.endpoint, release.digest, result.value?.live?.digest),
  );
  // Whenever this content is live (deployed, or live although superseded), on every attempt.
  if (result.value?.live?.digest === release.digest && input.kind === 'rollout') {
    await indexAlarms(store, input, release.alarms);
  }
  const { outcome, reason } = recorded;
  if (written === 'created') {
    publishMetrics(
      input.environment,
      outcome,
      input.kind === 'rollout' ? (Date.parse(now) - Date.parse(input.rollout.startedAt)) / 1000 : undefined,
    );
  }
  if (decision.cleanup && input.kind === 'rollout') {
    // Best effort: a failed cleanup leaves old resources behind, never breaks a deployment.
    await cleanUpEndpoint(sagemaker(), {
      prefix: resourcePrefix(),
      environment: input.environment,
      endpoint: input.endpoint,
      endpointName: input.rollout.endpointName,
      keep: decision.cleanup.keep,
      createdBefore: new Date(input.rollout.startedAt),
    })
      .then((result) => logger.info('cleaned up', { deleted: result.deleted, skipped: result.skipped.length }))
      .catch((error: unknown) => logger.warn('cleanup failed; it runs again after the next deployment', { error }));
  }
  if (answersGit(input.retry, outcome)) {
    await answer(
      {
        push: input.push,
        environment: input.environment,
        endpoint: input.endpoint,
        state: outcome,
        summary: reason ?? (input.kind === 'rollout' ? liveSummary(input) : outcome),
        idempotencyKey: `${input.execution}-${input.endpoint}`,
      },
      answerSettings(),
    );
  }
  logger.info('recorded', { outcome, reason });
  // Only the name and the outcome go back to the Map: 2,000 results must fit one state payload
  // (256 KiB) next to the plan's names. The reason is in the ledger entry.
  return { endpoint: input.endpoint, outcome };
}

/** What a rollout that went live tells the commit: where it runs, and for a heal, what drifted. */
function liveSummary(input: Extract<RecordInput, { kind: 'rollout' }>): string {
  const live = `live on ${input.rollout.endpointConfigName}`;
  return input.retry?.kind === 'heal' ? `healed drift (${(input.retry.paths ?? []).join(', ')}): ${live}` : live;
}

/**
 * Lets the rollback workflow find this endpoint from an alarm's name (the event names the alarm,
 * not the endpoint): one marker per declared alarm, written write-once (If-None-Match) on every
 * deployment, so a marker a first attempt or an earlier version did not write is written now. A
 * marker left behind by an alarm an endpoint no longer declares is harmless: the rollback workflow
 * checks the live version's alarms.
 */
async function indexAlarms(
  store: ReturnType<typeof stateStore>,
  input: RecordInput,
  alarms: readonly string[],
): Promise<void> {
  for (const alarm of alarms) {
    await store.putIfAbsent(keys.alarmEndpoint(alarm, input.environment, input.endpoint), {
      alarm,
      environment: input.environment,
      endpoint: input.endpoint,
    });
  }
}

function recordEvent(input: RecordInput): RecordEvent {
  switch (input.kind) {
    case 'skipped':
      return { kind: 'skipped', reason: input.lease.reason ?? 'already-live' };
    case 'failure':
      return { kind: 'failure', error: { name: input.error.Error, message: causeMessage(input.error.Cause) } };
    case 'rollout':
      return {
        kind: 'rollout',
        verification: input.rollout.verification ?? { outcome: 'failed', reason: 'the rollout was not verified' },
        endpointConfigName: input.rollout.endpointConfigName,
        ...(input.rollout.previousEndpointConfigName
          ? { previousEndpointConfigName: input.rollout.previousEndpointConfigName }
          : {}),
        pointerKey: input.registration.pointerKey,
      };
  }
}

/**
 * The outcome as EMF metrics (CloudWatch Logs extracts them; no PutMetricData call, no permission):
 * `Deployments` by environment and outcome, `DeploymentsFailed` by environment (the stack's alarm
 * sums it), and the rollout's duration when one ran.
 */
export function publishMetrics(environment: string, outcome: Outcome, rolloutSeconds: number | undefined): void {
  // One single-metric per datum: a single metric is published by addMetric and its dimensions go
  // with it, so two metrics on one instance would leave the second without its Environment.
  const publish = (
    name: string,
    unit: (typeof MetricUnit)[keyof typeof MetricUnit],
    value: number,
    dimensions: Record<string, string>,
  ) => {
    const single = metrics.singleMetric();
    single.addDimensions(dimensions);
    single.addMetric(name, unit, value);
  };
  publish('Deployments', MetricUnit.Count, 1, { Environment: environment, Outcome: outcome });
  const failed = outcome === 'failed' || outcome === 'rolled-back' ? 1 : 0;
  publish('DeploymentsFailed', MetricUnit.Count, failed, { Environment: environment });
  if (rolloutSeconds !== undefined) {
    publish('RolloutDuration', MetricUnit.Seconds, rolloutSeconds, { Environment: environment });
  }
}

export const handler = lambdaHandler(recordInput, record, {
  keys: (input) => ({ commit: input.push.commit, environment: input.environment, endpoint: input.endpoint }),
});
