import { DescribeAlarmsCommand } from '@aws-sdk/client-cloudwatch';
import {
  CreateEndpointCommand,
  CreateEndpointConfigCommand,
  CreateModelCommand,
  DeleteEndpointCommand,
  DescribeEndpointCommand,
  type DescribeEndpointCommandOutput,
  UpdateEndpointCommand,
} from '@aws-sdk/client-sagemaker';
import { clients } from '../aws/clients.ts';
import { classify, InvalidInputError, TransientError } from '../aws/errors.ts';
import type { VersionPointer } from '../registry/pointer.ts';
import type { ResolvedEndpoint } from '../spec/resolve.ts';
import {
  deploymentConfig,
  endpointConfigInput,
  modelInput,
  nextCheckSeconds,
  sagemakerNames,
} from '../targets/sagemaker.ts';
import type { EndpointWork, Registration, Rollout } from '../workflow/types.ts';
import { assertLease } from './register.ts';
import { logger, nowIso, resolvedEndpoint, resourcePrefix, setting, stateStore } from './runtime.ts';

interface DeployInput extends EndpointWork {
  readonly registration: Registration;
  /** Present when a previous Deploy found the endpoint busy with another rollout. */
  readonly rollout?: Rollout;
}

/** How long to wait for another rollout on the same endpoint before checking again. */
const BUSY_RETRY_SECONDS = 120;
const MAX_BUSY_CHECKS = 60;

/**
 * Deploy: create the content-named Model and EndpointConfig and start the blue/green rollout
 * (CreateEndpoint the first time, UpdateEndpoint with DeploymentConfig after). Idempotent: names
 * come from the content digest, "already exists" means an earlier attempt created it, and an
 * endpoint already updating to this configuration means the UpdateEndpoint call already went out.
 */
export async function handler(input: DeployInput): Promise<Rollout> {
  await assertLease(input);
  const store = stateStore();
  const resolved = await resolvedEndpoint(store, input.snapshotKey, input.environment, input.endpoint.name);
  if (resolved.target.kind !== 'sagemaker') throw new InvalidInputError(`${resolved.name} is not a SageMaker endpoint`);
  const pointer = await store.get<VersionPointer>(input.registration.pointerKey);
  if (!pointer) throw new InvalidInputError(`version pointer ${input.registration.pointerKey} is missing`);
  const names = sagemakerNames(resourcePrefix(), input.environment, resolved.name, resolved.digest);
  const sagemaker = clients.sagemaker();
  const startedAt = input.rollout?.startedAt ?? nowIso();
  const checks = (input.rollout?.checks ?? 0) + 1;

  const current = await describe(names.endpointName);
  const busy = current && !['InService', 'Failed'].includes(current.EndpointStatus ?? '');
  const ours =
    current?.PendingDeploymentSummary?.EndpointConfigName === names.endpointConfigName ||
    current?.EndpointConfigName === names.endpointConfigName;
  if (busy && !ours) {
    if (checks > MAX_BUSY_CHECKS) {
      throw new TransientError(`${names.endpointName} stayed ${current?.EndpointStatus} for ${checks} checks`);
    }
    logger.info('endpoint busy with another rollout; waiting', {
      endpoint: names.endpointName,
      status: current?.EndpointStatus,
    });
    return {
      status: 'waiting',
      operation: current ? 'update' : 'create',
      endpointName: names.endpointName,
      endpointConfigName: names.endpointConfigName,
      startedAt,
      plan: { rollout: resolved.rollout, alarms: resolved.alarms },
      nextCheckSeconds: BUSY_RETRY_SECONDS,
      checks,
    };
  }

  await assertAlarmsExist(resolved);
  const bucket = store.bucket;
  const pinned = {
    modelDataUrl: `s3://${bucket}/${pointer.value.model.key}`,
    prompts: Object.fromEntries(Object.entries(pointer.value.prompts).map(([n, p]) => [n, `s3://${bucket}/${p.key}`])),
    configs: Object.fromEntries(Object.entries(pointer.value.configs).map(([n, c]) => [n, `s3://${bucket}/${c.key}`])),
  };
  await createIfAbsent(() =>
    sagemaker.send(
      new CreateModelCommand(
        modelInput(resolved, names, pinned, input.push.commit, setting('BALLAST_SAGEMAKER_ROLE_ARN')),
      ),
    ),
  );
  await createIfAbsent(() =>
    sagemaker.send(new CreateEndpointConfigCommand(endpointConfigInput(resolved, names, input.push.commit))),
  );

  // The configuration being replaced (kept by Record's cleanup: a rollback needs it). While an
  // update is in flight, EndpointConfigName still names the old one, so a retried Deploy that
  // finds its own update running still knows it.
  const previous =
    current?.EndpointConfigName && current.EndpointConfigName !== names.endpointConfigName
      ? current.EndpointConfigName
      : undefined;
  if (!current) {
    await createIfAbsent(() =>
      sagemaker.send(
        new CreateEndpointCommand({
          EndpointName: names.endpointName,
          EndpointConfigName: names.endpointConfigName,
          Tags: [{ Key: 'ballast:managed', Value: 'true' }],
        }),
      ),
    );
  } else if (current.EndpointStatus === 'Failed') {
    // A Failed endpoint serves nothing and cannot be updated (only a failed *creation* leaves an
    // endpoint Failed; a failed update returns to InService). Ballast owns it (its prefix), so it
    // deletes it and waits: the next Deploy finds it gone and creates it from this commit.
    await sagemaker
      .send(new DeleteEndpointCommand({ EndpointName: names.endpointName }))
      .catch((error: unknown) => classify(error, `DeleteEndpoint ${names.endpointName}`));
    logger.info('deleted a Failed endpoint to create it again', {
      endpoint: names.endpointName,
      reason: current.FailureReason,
    });
    return {
      status: 'waiting',
      operation: 'create',
      endpointName: names.endpointName,
      endpointConfigName: names.endpointConfigName,
      startedAt,
      plan: { rollout: resolved.rollout, alarms: resolved.alarms },
      nextCheckSeconds: BUSY_RETRY_SECONDS,
      checks,
    };
  } else if (!ours) {
    await sagemaker
      .send(
        new UpdateEndpointCommand({
          EndpointName: names.endpointName,
          EndpointConfigName: names.endpointConfigName,
          DeploymentConfig: deploymentConfig(resolved.rollout, resolved.alarms),
          RetainAllVariantProperties: false,
        }),
      )
      .catch(async (error: unknown) => {
        // A lost response: the update went out and the endpoint is now updating to our config.
        const after = await describe(names.endpointName);
        if (after?.PendingDeploymentSummary?.EndpointConfigName === names.endpointConfigName) return;
        return classify(error, `UpdateEndpoint ${names.endpointName}`);
      });
  }
  logger.info('rollout started', {
    endpoint: names.endpointName,
    config: names.endpointConfigName,
    previous,
    strategy: resolved.rollout.strategy,
  });
  const operation = current ? 'update' : 'create';
  return {
    status: 'started',
    operation,
    endpointName: names.endpointName,
    endpointConfigName: names.endpointConfigName,
    ...(previous ? { previousEndpointConfigName: previous } : {}),
    startedAt,
    plan: { rollout: resolved.rollout, alarms: resolved.alarms },
    nextCheckSeconds: nextCheckSeconds(resolved.rollout, 0, 0, operation),
    checks: 0,
  };
}

async function describe(endpointName: string): Promise<DescribeEndpointCommandOutput | undefined> {
  try {
    return await clients.sagemaker().send(new DescribeEndpointCommand({ EndpointName: endpointName }));
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

/** UpdateEndpoint fails late on an unknown rollback alarm; say so early, with the names. */
async function assertAlarmsExist(resolved: ResolvedEndpoint): Promise<void> {
  if (resolved.alarms.length === 0) return;
  const response = await clients
    .cloudwatch()
    .send(
      new DescribeAlarmsCommand({ AlarmNames: [...resolved.alarms], AlarmTypes: ['MetricAlarm', 'CompositeAlarm'] }),
    )
    .catch((error: unknown) => classify(error, 'DescribeAlarms'));
  const found = new Set([
    ...(response.MetricAlarms ?? []).map((a) => a.AlarmName),
    ...(response.CompositeAlarms ?? []).map((a) => a.AlarmName),
  ]);
  const missing = resolved.alarms.filter((a) => !found.has(a));
  if (missing.length > 0) {
    throw new InvalidInputError(
      `${resolved.name} declares rollback alarms that do not exist in CloudWatch: ${missing.join(', ')}`,
    );
  }
}
