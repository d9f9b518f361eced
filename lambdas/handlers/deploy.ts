import { DescribeAlarmsCommand } from '@aws-sdk/client-cloudwatch';
import {
  AddTagsCommand,
  CreateEndpointCommand,
  CreateEndpointConfigCommand,
  CreateModelCommand,
  DeleteEndpointCommand,
  DescribeEndpointCommand,
  type DescribeEndpointCommandOutput,
  UpdateEndpointCommand,
  UpdateEndpointWeightsAndCapacitiesCommand,
} from '@aws-sdk/client-sagemaker';
import { GetSecretValueCommand } from '@aws-sdk/client-secrets-manager';
import { cloudwatch } from '../aws/cloudwatch.ts';
import { classify, InvalidInputError, TransientError } from '../aws/errors.ts';
import { sagemaker } from '../aws/sagemaker.ts';
import { secretsManager } from '../aws/secrets-manager.ts';
import { lambdaHandler } from '../runtime/handler.ts';
import {
  decideDeploy,
  deploymentConfig,
  endpointConfigInput,
  healInPlace,
  MANAGED_TAG,
  modelInput,
  nextCheckSeconds,
  type SageMakerNames,
  sagemakerNames,
} from '../targets/sagemaker.ts';
import { type DeployInput, deployInput } from '../workflow/payloads.ts';
import { where } from '../workflow/plan.ts';
import type { Release, Rollout } from '../workflow/types.ts';
import { assertLease, logger, nowIso, readRelease, resourcePrefix, setting, stateStore } from './runtime.ts';

/** How long to wait for another rollout on the same endpoint before checking again. */
const BUSY_RETRY_SECONDS = 120;
const MAX_BUSY_CHECKS = 60;

/**
 * Deploy: create the content-named Model and EndpointConfig and start the blue/green rollout
 * (CreateEndpoint the first time, UpdateEndpoint with DeploymentConfig after). What to do is
 * {@link decideDeploy}'s; this handler only sequences the calls. Idempotent: names come from the
 * content digest, "already exists" means an earlier attempt created it, and an update already
 * rolling out this configuration is followed, not started again. The lease is checked right
 * before every call that changes the endpoint, so a superseded execution never starts a rollout.
 * A heal of an endpoint that runs this configuration already repairs it in place ({@link healLive}).
 */
export async function deploy(input: DeployInput): Promise<Rollout> {
  const store = stateStore();
  const release = await readRelease(store, input);
  if (release.target.kind !== 'sagemaker') throw new InvalidInputError(`${release.name} is not a SageMaker endpoint`);
  const names = sagemakerNames(resourcePrefix(), input.environment, release.name, release.digest);
  // Before any call: the rollout's window (for the alarm history CheckRollout reads) opens now.
  const startedAt = input.rollout?.startedAt ?? nowIso();
  const current = await describe(names.endpointName);
  const action = decideDeploy(current, names.endpointConfigName);
  const checks = (input.rollout?.checks ?? 0) + 1;
  const rollout = (status: Rollout['status'], extra: Partial<Rollout> = {}): Rollout => {
    const operation = current && current.EndpointStatus !== 'Creating' ? 'update' : 'create';
    return {
      status,
      operation,
      endpointName: names.endpointName,
      endpointConfigName: names.endpointConfigName,
      startedAt,
      plan: { rollout: release.rollout, alarms: release.alarms },
      nextCheckSeconds: status === 'waiting' ? BUSY_RETRY_SECONDS : nextCheckSeconds(release.rollout, 0, 0, operation),
      checks: status === 'waiting' ? checks : 0,
      ...extra,
    };
  };

  switch (action.action) {
    case 'live':
      if (current && input.retry?.kind === 'heal') {
        return healLive(input, release.rollout, release.target, names, current, rollout);
      }
      return rollout('live', { nextCheckSeconds: 0 });
    case 'follow':
      logger.info('following the rollout already under way', { status: current?.EndpointStatus });
      return rollout('started', action.previous ? { previousEndpointConfigName: action.previous } : {});
    case 'wait':
      // Waiting for someone else's rollout is when a newer push most often takes over: stop now.
      await assertLease(store, input);
      if (checks > MAX_BUSY_CHECKS) {
        throw new TransientError(`${names.endpointName} stayed ${action.status} for ${checks} checks`);
      }
      logger.info('endpoint busy with another rollout; waiting', { status: action.status });
      return rollout('waiting');
    case 'recreate':
      // A Failed endpoint serves nothing and cannot be updated. Ballast owns it (its name), so it
      // deletes it and waits: the next Deploy finds it gone and creates it from this commit.
      await assertLease(store, input);
      await sagemaker()
        .send(new DeleteEndpointCommand({ EndpointName: names.endpointName }))
        .catch((error: unknown) => classify(error, `DeleteEndpoint ${names.endpointName}`));
      logger.info('deleted a Failed endpoint to create it again', { reason: action.reason });
      return rollout('waiting');
    case 'create':
    case 'update': {
      await assertAlarmsExist(release);
      await createResources(input, release, names);
      await assertLease(store, input);
      if (action.action === 'create') {
        await createIfAbsent(() =>
          sagemaker().send(
            new CreateEndpointCommand({
              EndpointName: names.endpointName,
              EndpointConfigName: names.endpointConfigName,
              Tags: [{ ...MANAGED_TAG }],
            }),
          ),
        );
        logger.info('endpoint creation started', { config: names.endpointConfigName });
        return rollout('started');
      }
      const started = await sagemaker()
        .send(
          new UpdateEndpointCommand({
            EndpointName: names.endpointName,
            EndpointConfigName: names.endpointConfigName,
            DeploymentConfig: deploymentConfig(release.rollout, release.alarms, release.target.instanceCount),
            RetainAllVariantProperties: false,
          }),
        )
        .then(
          () => 'started' as const,
          async (error: unknown) => {
            const after = await describe(names.endpointName);
            // A lost response: the update went out and the endpoint is now updating to our config.
            if (after?.PendingDeploymentSummary?.EndpointConfigName === names.endpointConfigName) return 'started';
            // Another update began between the lease check and this call (SageMaker accepts
            // UpdateEndpoint only InService): wait for it like any busy endpoint, then decide again.
            if (after && after.EndpointStatus !== 'InService') return 'busy';
            return classify(error, `UpdateEndpoint ${names.endpointName}`);
          },
        );
      if (started === 'busy') {
        logger.info('another update started first; waiting', { config: names.endpointConfigName });
        return rollout('waiting');
      }
      logger.info('rollout started', {
        config: names.endpointConfigName,
        previous: action.previous,
        strategy: release.rollout.strategy,
      });
      return rollout('started', { previousEndpointConfigName: action.previous });
    }
  }
}

/**
 * A heal of an endpoint that runs the release's EndpointConfig already: what drifted is on the
 * endpoint itself, so it is repaired there ({@link healInPlace} decides), the lease checked right
 * before each call, and the rollout verified as usual. Only a weights update makes SageMaker work
 * (Updating, then InService): it is followed like a rollout, and the endpoint's state change back to
 * InService, which SageMaker sends for this update as for any other ("SageMaker Endpoint State
 * Change"; the sandbox sends it too), wakes WaitForRollout through Wake; the check interval is
 * sized for a weights update (WEIGHTS_SECONDS), so an event that comes before Park has parked the
 * token costs about a minute, not a rollout's provisioning time. AddTags changes no status: the
 * endpoint is verified at once.
 */
async function healLive(
  input: DeployInput,
  plan: Release['rollout'],
  target: { readonly variantName: string; readonly instanceCount: number },
  names: SageMakerNames,
  current: DescribeEndpointCommandOutput,
  rollout: (status: Rollout['status'], extra?: Partial<Rollout>) => Rollout,
): Promise<Rollout> {
  const store = stateStore();
  const heal = healInPlace(current, target, input.retry?.paths ?? []);
  if (heal.ignored.length > 0) {
    logger.info('the endpoint runs the release configuration, which decides these; nothing to repair in place', {
      paths: heal.ignored,
    });
  }
  if (heal.tag) {
    if (!current.EndpointArn) throw new TransientError(`DescribeEndpoint ${names.endpointName} named no EndpointArn`);
    await assertLease(store, input);
    await sagemaker()
      .send(new AddTagsCommand({ ResourceArn: current.EndpointArn, Tags: [{ ...MANAGED_TAG }] }))
      .catch((error: unknown) => classify(error, `AddTags ${names.endpointName}`));
    logger.info('healed the endpoint tag', { tag: MANAGED_TAG.Key });
  }
  if (!heal.weights) return rollout('live', { nextCheckSeconds: 0 });
  await assertLease(store, input);
  const weights = heal.weights;
  const started = await sagemaker()
    .send(
      new UpdateEndpointWeightsAndCapacitiesCommand({
        EndpointName: names.endpointName,
        DesiredWeightsAndCapacities: [weights],
      }),
    )
    .then(
      () => 'started' as const,
      async (error: unknown) => {
        // Lost response, or another update began since DescribeEndpoint (SageMaker takes this call
        // InService only): wait for the endpoint, then Deploy decides again from what it runs then.
        const after = await describe(names.endpointName);
        if (after && after.EndpointStatus !== 'InService') return 'busy';
        return classify(error, `UpdateEndpointWeightsAndCapacities ${names.endpointName}`);
      },
    );
  if (started === 'busy') {
    logger.info('the endpoint is updating; waiting to heal it', { weights });
    return rollout('waiting');
  }
  logger.info('healing the variant in place', { weights });
  return rollout('started', {
    operation: 'weights',
    nextCheckSeconds: nextCheckSeconds(plan, 0, 0, 'weights'),
  });
}

async function createResources(input: DeployInput, release: Release, names: SageMakerNames): Promise<void> {
  const client = sagemaker();
  const secretValues = await injectedSecretValues(release);
  await createIfAbsent(() =>
    client
      .send(
        new CreateModelCommand(
          modelInput(
            release,
            names,
            input.registration.pinned,
            input.push.commit,
            setting('BALLAST_SAGEMAKER_ROLE_ARN'),
            secretValues,
          ),
        ),
      )
      .catch((error: unknown) => {
        // A ValidationException may quote the value it refused; the error becomes the execution's
        // history and the ledger's reason, where a secret's value must never appear.
        throw redacted(error, Object.values(secretValues));
      }),
  );
  await createIfAbsent(() =>
    client.send(new CreateEndpointConfigCommand(endpointConfigInput(release, names, input.push.commit))),
  );
}

/**
 * The values of the secrets a Model asks to have injected (`delivery: environment`), read right
 * before CreateModel and passed nowhere else: not returned, not logged. Secrets delivered by
 * reference (the default) are never read by Ballast at all.
 */
async function injectedSecretValues(release: Release): Promise<Record<string, string>> {
  const values: Record<string, string> = {};
  for (const secret of release.model.secrets) {
    if (secret.delivery !== 'environment') continue;
    const response = await secretsManager()
      .send(new GetSecretValueCommand({ SecretId: secret.secretArn }))
      .catch((error: unknown) => {
        if (error instanceof Error && error.name === 'ResourceNotFoundException') {
          throw new InvalidInputError(
            `${where(secret.at)}: Model ${release.model.name}: secret ${secret.secretArn} no longer exists`,
          );
        }
        return classify(error, `GetSecretValue for ${secret.env}`);
      });
    if (response.SecretString === undefined) {
      throw new InvalidInputError(
        `${where(secret.at)}: Model ${release.model.name}: secret ${secret.secretArn} has no string value to inject (binary secrets cannot be environment variables)`,
      );
    }
    values[secret.env] = response.SecretString;
  }
  return values;
}

function redacted(error: unknown, values: readonly string[]): unknown {
  if (!(error instanceof Error) || values.length === 0) return error;
  const hide = (text: string) => values.reduce((out, value) => (value ? out.split(value).join('****') : out), text);
  error.message = hide(error.message);
  if (error.stack) error.stack = hide(error.stack);
  return error;
}

async function describe(endpointName: string): Promise<DescribeEndpointCommandOutput | undefined> {
  try {
    return await sagemaker().send(new DescribeEndpointCommand({ EndpointName: endpointName }));
  } catch (error) {
    if (
      error instanceof Error &&
      error.name === 'ValidationException' &&
      /Could not find endpoint/i.test(error.message)
    ) {
      return undefined;
    }
    return classify(error, `DescribeEndpoint ${endpointName}`);
  }
}

/** SageMaker answers "Cannot create already existing …" for a name that exists: an earlier attempt made it. */
async function createIfAbsent(call: () => Promise<unknown>): Promise<void> {
  try {
    await call();
  } catch (error) {
    if (error instanceof Error && /already exist/i.test(error.message)) return;
    classify(error, 'creating a SageMaker resource');
  }
}

/** UpdateEndpoint fails late on an unknown rollback alarm; say so early, with the Endpoint's file:line. */
async function assertAlarmsExist(release: Release): Promise<void> {
  if (release.alarms.length === 0) return;
  const response = await cloudwatch()
    .send(new DescribeAlarmsCommand({ AlarmNames: [...release.alarms], AlarmTypes: ['MetricAlarm', 'CompositeAlarm'] }))
    .catch((error: unknown) => classify(error, 'DescribeAlarms'));
  const found = new Set([
    ...(response.MetricAlarms ?? []).map((a) => a.AlarmName),
    ...(response.CompositeAlarms ?? []).map((a) => a.AlarmName),
  ]);
  const missing = release.alarms.filter((a) => !found.has(a));
  if (missing.length > 0) {
    throw new InvalidInputError(
      `${where(release.declaredAt)}: Endpoint ${release.name} declares rollback alarms that do not exist in CloudWatch: ${missing.join(', ')}`,
    );
  }
}

export const handler = lambdaHandler(deployInput, deploy, {
  keys: (input) => ({ commit: input.push.commit, environment: input.environment, endpoint: input.endpoint }),
});
