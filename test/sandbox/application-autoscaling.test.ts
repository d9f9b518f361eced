/**
 * Sandbox-only Application Auto Scaling behaviour, through the real SDK client: the front end's
 * validation wording, NextToken and MaxResults checks, registration in simulated time, the in-process
 * view, faults, and the service's place in the full sandbox (AWS_ENDPOINT_URL from `sandbox.env()`).
 * The behaviour shared with AWS and moto is in test/conformance/application-autoscaling.conformance.test.ts.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  ApplicationAutoScalingClient,
  ApplicationAutoScalingServiceException,
  DescribeScalableTargetsCommand,
  RegisterScalableTargetCommand,
  type RegisterScalableTargetCommandInput,
} from '@aws-sdk/client-application-auto-scaling';
import { type Sandbox, sandboxEnv, startSandbox } from '../../sandbox/sandbox.ts';
import {
  type ApplicationAutoScalingSandbox,
  createApplicationAutoScalingService,
  SCALABLE_DIMENSIONS,
  SERVICE_NAMESPACES,
} from '../../sandbox/services/applicationautoscaling.ts';
import { clientConfig, type SandboxTarget, startSandboxTarget } from '../support/aws-targets.ts';

async function rejectsWith(promise: Promise<unknown>, name: string, message?: string | RegExp): Promise<void> {
  try {
    await promise;
  } catch (error) {
    assert.ok(
      error instanceof ApplicationAutoScalingServiceException,
      `expected an ApplicationAutoScalingServiceException, got ${String(error)}`,
    );
    assert.equal(error.name, name, `error (message: ${error.message})`);
    if (typeof message === 'string') assert.equal(error.message, message);
    else if (message) assert.match(error.message, message);
    return;
  }
  assert.fail(`expected ${name}, but the call succeeded`);
}

const DIMENSION = 'sagemaker:variant:DesiredInstanceCount';

describe('Application Auto Scaling sandbox service', () => {
  let target: SandboxTarget;
  let aas: ApplicationAutoScalingClient;
  let service: ApplicationAutoScalingSandbox;

  before(async () => {
    target = await startSandboxTarget((ctx) => [createApplicationAutoScalingService(ctx)]);
    aas = new ApplicationAutoScalingClient(clientConfig(target.endpoint));
    service = target.services[0] as ApplicationAutoScalingSandbox;
  });
  after(async () => {
    aas.destroy();
    await target.stop();
  });

  const register = (resourceId: string, overrides: Partial<RegisterScalableTargetCommandInput> = {}) =>
    aas.send(
      new RegisterScalableTargetCommand({
        ServiceNamespace: 'sagemaker',
        ResourceId: resourceId,
        ScalableDimension: DIMENSION,
        MinCapacity: 1,
        MaxCapacity: 3,
        ...overrides,
      }),
    );

  it('stamps CreationTime with simulated time and shows targets in process, in registration order', async () => {
    target.clock.advance(3_600_000);
    const at = target.clock.nowMs();
    await register('endpoint/clock/variant/a');
    await register('endpoint/clock/variant/b', { MinCapacity: 2, MaxCapacity: 5 });
    const [described] =
      (
        await aas.send(
          new DescribeScalableTargetsCommand({
            ServiceNamespace: 'sagemaker',
            ResourceIds: ['endpoint/clock/variant/a'],
          }),
        )
      ).ScalableTargets ?? [];
    assert.ok(described?.CreationTime);
    assert.ok(Math.abs(described.CreationTime.getTime() - at) < 5_000, described.CreationTime.toISOString());
    assert.ok(described.CreationTime.getTime() - Date.now() > 3_500_000, 'an hour ahead of the wall clock');
    assert.deepEqual(
      service
        .scalableTargets('sagemaker')
        .filter((t) => t.resourceId.startsWith('endpoint/clock/'))
        .map((t) => [t.resourceId, t.minCapacity, t.maxCapacity]),
      [
        ['endpoint/clock/variant/a', 1, 3],
        ['endpoint/clock/variant/b', 2, 5],
      ],
    );
    assert.deepEqual(service.scalableTargets('ecs'), []);
  });

  it('answers an unknown namespace with the enum the service model lists, in its order', async () => {
    await rejectsWith(
      register('endpoint/e/variant/v', { ServiceNamespace: 'sagemakr' as 'sagemaker' }),
      'ValidationException',
      `1 validation error detected: Value 'sagemakr' at 'serviceNamespace' failed to satisfy constraint: Member must satisfy enum value set: [${SERVICE_NAMESPACES.join(', ')}]`,
    );
  });

  it('lists every failed member constraint in one ValidationException', async () => {
    await rejectsWith(
      aas.send(
        new RegisterScalableTargetCommand({
          ServiceNamespace: undefined as unknown as 'sagemaker',
          ResourceId: '',
          ScalableDimension: 'sagemaker:variant:Weight' as typeof DIMENSION,
        }),
      ),
      'ValidationException',
      "3 validation errors detected: Value null at 'serviceNamespace' failed to satisfy constraint: Member must not be null; " +
        "Value '' at 'resourceId' failed to satisfy constraint: Member must have length greater than or equal to 1; " +
        `Value 'sagemaker:variant:Weight' at 'scalableDimension' failed to satisfy constraint: Member must satisfy enum value set: [${SCALABLE_DIMENSIONS.join(', ')}]`,
    );
  });

  it('refuses more than 50 ResourceIds with the list length constraint', async () => {
    const ids = Array.from({ length: 51 }, (_, i) => `endpoint/e/variant/v${i}`);
    await rejectsWith(
      aas.send(new DescribeScalableTargetsCommand({ ServiceNamespace: 'sagemaker', ResourceIds: ids })),
      'ValidationException',
      `1 validation error detected: Value '[${ids.join(', ')}]' at 'resourceIds' failed to satisfy constraint: Member must have length less than or equal to 50`,
    );
    const fifty = ids.slice(0, 50);
    const out = await aas.send(
      new DescribeScalableTargetsCommand({ ServiceNamespace: 'sagemaker', ResourceIds: fifty }),
    );
    assert.deepEqual(out.ScalableTargets, []);
  });

  it('takes MaxResults from 1 to 50 and refuses a NextToken it did not issue', async () => {
    for (const MaxResults of [0, 51]) {
      await rejectsWith(
        aas.send(new DescribeScalableTargetsCommand({ ServiceNamespace: 'sagemaker', MaxResults })),
        'ValidationException',
        /MaxResults must be between 1 and 50/,
      );
    }
    await rejectsWith(
      aas.send(new DescribeScalableTargetsCommand({ ServiceNamespace: 'sagemaker', NextToken: 'garbage' })),
      'InvalidNextTokenException',
    );
  });

  it('checks the resource ID of a SageMaker inference component, and not the IDs of other namespaces', async () => {
    await register('inference-component/ballast-llm', {
      ScalableDimension: 'sagemaker:inference-component:DesiredCopyCount',
    });
    await rejectsWith(
      register('endpoint/e/variant/v', { ScalableDimension: 'sagemaker:inference-component:DesiredCopyCount' }),
      'ValidationException',
      'Unsupported service namespace, resource type or scalable dimension',
    );
    await register('service/default/web', { ServiceNamespace: 'ecs', ScalableDimension: 'ecs:service:DesiredCount' });
    assert.ok(service.scalableTargets('ecs').some((t) => t.resourceId === 'service/default/web'));
  });

  it('keeps a RoleARN it was given, and merges a partial SuspendedState into the one it has', async () => {
    const role = 'arn:aws:iam::123456789012:role/ballast-scaling';
    await register('endpoint/role/variant/v', { RoleARN: role });
    await register('endpoint/role/variant/v', { SuspendedState: { ScheduledScalingSuspended: true } });
    const [t] =
      (
        await aas.send(
          new DescribeScalableTargetsCommand({
            ServiceNamespace: 'sagemaker',
            ResourceIds: ['endpoint/role/variant/v'],
          }),
        )
      ).ScalableTargets ?? [];
    assert.equal(t?.RoleARN, role);
    assert.deepEqual(t?.SuspendedState, {
      DynamicScalingInSuspended: false,
      DynamicScalingOutSuspended: false,
      ScheduledScalingSuspended: true,
    });
  });

  it('answers an injected throttle with ThrottlingException and an injected failure with a 500', async () => {
    target.faults.add({
      service: 'application-autoscaling',
      operation: 'DescribeScalableTargets',
      kind: 'throttle',
      times: 1,
    });
    await rejectsWith(
      aas.send(new DescribeScalableTargetsCommand({ ServiceNamespace: 'sagemaker' })),
      'ThrottlingException',
    );
    target.faults.add({
      service: 'application-autoscaling',
      operation: 'DescribeScalableTargets',
      kind: 'server-error',
      times: 1,
    });
    try {
      await aas.send(new DescribeScalableTargetsCommand({ ServiceNamespace: 'sagemaker' }));
      assert.fail('expected a 500');
    } catch (error) {
      assert.equal((error as ApplicationAutoScalingServiceException).$metadata.httpStatusCode, 500);
    }
    assert.ok(
      target.requests.all().some((r) => r.service === 'application-autoscaling' && r.fault === 'throttle'),
      'the request log names the service by its signing name',
    );
  });
});

describe('Application Auto Scaling in the full sandbox', () => {
  let sandbox: Sandbox;
  let aas: ApplicationAutoScalingClient;
  before(async () => {
    sandbox = await startSandbox({ timeScale: 600 });
    // No endpoint in the client's configuration: the SDK takes it from AWS_ENDPOINT_URL, as handlers do.
    const env = sandboxEnv(sandbox.url, sandbox.region);
    assert.deepEqual(sandbox.env(), env);
    const saved = process.env.AWS_ENDPOINT_URL;
    process.env.AWS_ENDPOINT_URL = env.AWS_ENDPOINT_URL;
    aas = new ApplicationAutoScalingClient({
      region: env.AWS_REGION ?? 'us-east-1',
      credentials: { accessKeyId: 'ballast-sandbox', secretAccessKey: 'ballast-sandbox' },
      maxAttempts: 1,
    });
    await aas.send(
      new RegisterScalableTargetCommand({
        ServiceNamespace: 'sagemaker',
        ResourceId: 'endpoint/ballast-prod-chat/variant/AllTraffic',
        ScalableDimension: DIMENSION,
        MinCapacity: 1,
        MaxCapacity: 4,
      }),
    );
    if (saved === undefined) delete process.env.AWS_ENDPOINT_URL;
    else process.env.AWS_ENDPOINT_URL = saved;
  });
  after(async () => {
    aas.destroy();
    await sandbox.stop();
  });

  it('serves RegisterScalableTarget on the sandbox URL, read in process as sandbox.applicationautoscaling', () => {
    assert.deepEqual(
      sandbox.applicationautoscaling
        .scalableTargets()
        .map((t) => [t.serviceNamespace, t.resourceId, t.scalableDimension]),
      [['sagemaker', 'endpoint/ballast-prod-chat/variant/AllTraffic', DIMENSION]],
    );
    assert.match(
      sandbox.applicationautoscaling.scalableTargets()[0]?.arn ?? '',
      /^arn:aws:application-autoscaling:us-east-1:111122223333:scalable-target\/[0-9a-f]{36}$/,
    );
  });

  it('counts the calls as application-autoscaling:<Operation> in the request log', async () => {
    const { counts } = (await (await fetch(`${sandbox.url}/_ballast/requests`)).json()) as {
      counts: Record<string, number>;
    };
    assert.equal(counts['application-autoscaling:RegisterScalableTarget'], 1);
  });
});
