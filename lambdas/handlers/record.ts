import { PutMetricDataCommand } from '@aws-sdk/client-cloudwatch';
import {
  DeleteEndpointConfigCommand,
  DeleteModelCommand,
  ListEndpointConfigsCommand,
  ListModelsCommand,
} from '@aws-sdk/client-sagemaker';
import { clients } from '../aws/clients.ts';
import { isTransient } from '../aws/errors.ts';
import { postCodeCommitComment } from '../sources/codecommit.ts';
import { completeRollout, type EndpointState, type RolloutResult, releaseLease } from '../state/endpoint-state.ts';
import { keys, REPOSITORY_LEDGER } from '../state/keys.ts';
import { appendLedger, type LedgerEntry } from '../state/ledger.ts';
import type {
  EndpointWork,
  Lease,
  Outcome,
  Plan,
  Push,
  Registration,
  Rollout,
  Verification,
} from '../workflow/types.ts';
import { logger, nowIso, stateStore } from './runtime.ts';

type RecordInput =
  | ({ kind: 'rollout'; registration: Registration; rollout: Rollout; verification: Verification } & EndpointWork)
  | ({ kind: 'failure'; error: { Error: string; Cause: string } } & EndpointWork)
  | ({ kind: 'skipped'; lease: Lease } & EndpointWork)
  | { kind: 'rejected'; push: Push; environment: string; snapshotKey: string; plan: Plan; execution: string };

export interface RecordOutput {
  readonly endpoint: string;
  readonly outcome: Outcome;
  readonly reason?: string;
}

/**
 * Record: the last word on a push for one endpoint. Moves the endpoint state (live, last good,
 * quarantine, lease), appends the ledger entry, points `live.json` at the new version, publishes
 * the outcome metric, cleans up unused SageMaker resources and tells Git. Each effect is
 * idempotent (compare-and-swap, write-once keys, idempotency tokens), so Step Functions may retry
 * the whole step.
 */
export async function handler(input: RecordInput): Promise<RecordOutput> {
  const store = stateStore();
  const now = nowIso();
  if (input.kind === 'rejected') {
    const reason = `${input.plan.issueCount ?? 0} validation error(s)`;
    await appendLedger(
      store,
      entry(input, REPOSITORY_LEDGER, 'rejected', now, { reason, issues: input.plan.issues ?? [] }),
    );
    await report(
      input.push,
      input.environment,
      REPOSITORY_LEDGER,
      'rejected',
      reason,
      input.execution,
      input.plan.issues,
    );
    return { endpoint: REPOSITORY_LEDGER, outcome: 'rejected', reason };
  }

  const stateKey = keys.state(input.environment, input.endpoint.name);
  let outcome: Outcome;
  let reason: string | undefined;
  let endpointConfigName: string | undefined;
  if (input.kind === 'skipped') {
    outcome = input.lease.reason === 'superseded' ? 'superseded' : 'unchanged';
    reason = input.lease.reason === 'quarantined' ? 'the commit is quarantined' : input.lease.reason;
  } else if (input.kind === 'failure') {
    const lost = input.error.Error === 'LeaseLostError';
    outcome = lost ? 'superseded' : 'failed';
    reason = `${input.error.Error}: ${causeMessage(input.error.Cause)}`;
    await store.update<EndpointState>(stateKey, (state) =>
      state ? releaseLease(state, input.execution, now) : undefined,
    );
  } else {
    outcome = input.verification.outcome;
    reason = input.verification.reason;
    endpointConfigName = input.rollout.endpointConfigName;
    const result: RolloutResult =
      outcome === 'deployed'
        ? {
            outcome: 'deployed',
            live: {
              commit: input.push.commit,
              digest: input.endpoint.digest,
              endpointConfigName: input.rollout.endpointConfigName,
              at: now,
            },
          }
        : {
            outcome: input.verification.outcome as 'rolled-back' | 'failed',
            reason: reason ?? outcome,
            quarantine: true,
          };
    await store.update<EndpointState>(stateKey, (state) =>
      state
        ? completeRollout(
            state,
            input.execution,
            { commit: input.push.commit, digest: input.endpoint.digest },
            result,
            now,
          )
        : undefined,
    );
    if (outcome === 'deployed') {
      await store.update(keys.livePointer(input.environment, input.endpoint.name), () => ({
        commit: input.push.commit,
        pointer: input.registration.pointerKey,
        endpointConfigName: input.rollout.endpointConfigName,
        at: now,
      }));
      await cleanUp(input.rollout).catch((error: unknown) =>
        logger.warn('cleanup of old SageMaker resources failed; it runs again after the next deployment', { error }),
      );
    }
  }
  await appendLedger(
    store,
    entry(input, input.endpoint.name, outcome, now, {
      ...(reason ? { reason } : {}),
      changes: input.endpoint.changes,
      digest: input.endpoint.digest,
      ...(endpointConfigName ? { endpointConfigName } : {}),
    }),
  );
  await publishMetric(input.environment, input.endpoint.name, outcome);
  await report(input.push, input.environment, input.endpoint.name, outcome, reason, input.execution);
  logger.info('recorded', { endpoint: input.endpoint.name, outcome, reason });
  return { endpoint: input.endpoint.name, outcome, ...(reason ? { reason } : {}) };
}

function entry(
  input: { push: Push; environment: string; execution: string },
  endpoint: string,
  outcome: Outcome,
  now: string,
  extra: Partial<LedgerEntry>,
): LedgerEntry {
  const { push } = input;
  return {
    environment: input.environment,
    endpoint,
    commit: push.commit,
    ...(push.previousCommit ? { previousCommit: push.previousCommit } : {}),
    source: push.source,
    repository: push.repository,
    branch: push.branch,
    pushedBy: push.pushedBy,
    pushedAt: push.pushedAt,
    deliveryId: push.deliveryId,
    execution: input.execution,
    outcome,
    startedAt: push.pushedAt,
    finishedAt: now,
    durationSeconds: Math.max(0, Math.round((Date.parse(now) - Date.parse(push.pushedAt)) / 1000)),
    ...extra,
  };
}

/** Step Functions hands Lambda errors over as a JSON Cause on AWS and as plain text locally. */
function causeMessage(cause: string): string {
  try {
    const parsed = JSON.parse(cause) as { errorMessage?: string };
    return parsed.errorMessage ?? cause;
  } catch {
    return cause;
  }
}

/**
 * Keeps the live and the previous Model/EndpointConfig of an endpoint (rollback needs them); deletes older ones.
 * Only resources created before this rollout started are candidates: anything newer belongs to a
 * newer push that may be deploying right now (its Deploy creates them between its Lease and its
 * UpdateEndpoint), and deleting it would fail that deployment with "Could not find model".
 */
async function cleanUp(rollout: Rollout): Promise<void> {
  const sagemaker = clients.sagemaker();
  const keep = new Set([rollout.endpointConfigName, rollout.previousEndpointConfigName].filter(Boolean));
  const prefix = `${rollout.endpointName}-`;
  const createdBefore = new Date(rollout.startedAt);
  const configs = await sagemaker.send(
    new ListEndpointConfigsCommand({
      NameContains: rollout.endpointName,
      CreationTimeBefore: createdBefore,
      MaxResults: 100,
    }),
  );
  for (const config of configs.EndpointConfigs ?? []) {
    const name = config.EndpointConfigName ?? '';
    if (name.startsWith(prefix) && !keep.has(name)) {
      await sagemaker.send(new DeleteEndpointConfigCommand({ EndpointConfigName: name }));
    }
  }
  // Models are named like their endpoint configs (both from the content digest).
  const models = await sagemaker.send(
    new ListModelsCommand({ NameContains: rollout.endpointName, CreationTimeBefore: createdBefore, MaxResults: 100 }),
  );
  for (const model of models.Models ?? []) {
    const name = model.ModelName ?? '';
    if (name.startsWith(prefix) && !keep.has(name)) await sagemaker.send(new DeleteModelCommand({ ModelName: name }));
  }
}

async function publishMetric(environment: string, endpoint: string, outcome: Outcome): Promise<void> {
  await clients
    .cloudwatch()
    .send(
      new PutMetricDataCommand({
        Namespace: 'Ballast',
        MetricData: [
          {
            MetricName: 'Deployments',
            Dimensions: [
              { Name: 'Environment', Value: environment },
              { Name: 'Outcome', Value: outcome },
            ],
            Value: 1,
            Unit: 'Count',
          },
          ...(outcome === 'failed' || outcome === 'rolled-back'
            ? [
                {
                  MetricName: 'DeploymentsFailed',
                  Dimensions: [{ Name: 'Environment', Value: environment }],
                  Value: 1,
                  Unit: 'Count' as const,
                },
              ]
            : []),
        ],
      }),
    )
    .catch((error: unknown) => logger.warn('could not publish the deployment metric', { endpoint, error }));
}

/**
 * Tells Git. Best effort for permanent failures (a comment must not undo a deployment), retried
 * through Step Functions for transient ones (everything before this point is idempotent).
 */
async function report(
  push: Push,
  environment: string,
  endpoint: string,
  outcome: Outcome,
  reason: string | undefined,
  execution: string,
  issues?: Plan['issues'],
): Promise<void> {
  if (push.source !== 'codecommit') return reportGitHub(push, environment, endpoint, outcome, reason);
  const lines = [
    `Ballast ${environment}/${endpoint === REPOSITORY_LEDGER ? 'repository' : endpoint}: ${outcome}${reason ? ` — ${reason}` : ''}`,
    ...(issues ?? []).map((i) => `- ${i.file}:${i.line}:${i.column}: ${i.message}`),
  ];
  try {
    await postCodeCommitComment(clients.codecommit(), {
      repositoryName: push.repository,
      commitId: push.commit,
      ...(push.previousCommit ? { beforeCommitId: push.previousCommit } : {}),
      content: lines.join('\n'),
      execution: `${execution}-${endpoint}`,
      outcome,
    });
  } catch (error) {
    if (isTransient(error)) throw error;
    logger.warn('could not comment on the commit', { error });
  }
}

async function reportGitHub(
  push: Push,
  environment: string,
  endpoint: string,
  outcome: Outcome,
  reason?: string,
): Promise<void> {
  const { setGitHubCommitStatus } = await import('../sources/github.ts');
  const { GetSecretValueCommand } = await import('@aws-sdk/client-secrets-manager');
  const secretName = process.env.BALLAST_GITHUB_TOKEN_SECRET_NAME;
  if (!secretName) return;
  try {
    const token =
      (await clients.secrets().send(new GetSecretValueCommand({ SecretId: secretName }))).SecretString ?? '';
    await setGitHubCommitStatus({
      apiUrl: process.env.BALLAST_GITHUB_API_URL ?? 'https://api.github.com',
      repository: push.repository,
      token,
      commit: push.commit,
      state:
        outcome === 'deployed' || outcome === 'unchanged' ? 'success' : outcome === 'superseded' ? 'error' : 'failure',
      context: `ballast/${environment}/${endpoint}`,
      description: `${outcome}${reason ? `: ${reason}` : ''}`.slice(0, 140),
    });
  } catch (error) {
    if (isTransient(error)) throw error;
    logger.warn('could not set the GitHub commit status', { error });
  }
}
