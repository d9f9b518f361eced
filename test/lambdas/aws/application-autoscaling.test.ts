/**
 * lambdas/aws/application-autoscaling.ts against the sandbox: the module's client finds the sandbox
 * through AWS_ENDPOINT_URL, `autoscaledVariants` asks for 50 ResourceIds a call and follows NextToken,
 * and a throttled call comes out as TransientError for the workflow to retry.
 */
import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import {
  ApplicationAutoScalingClient,
  DescribeScalableTargetsCommand,
  type DescribeScalableTargetsCommandInput,
  RegisterScalableTargetCommand,
} from '@aws-sdk/client-application-auto-scaling';
import {
  applicationAutoScaling,
  autoscaledVariants,
  MAX_RESOURCE_IDS_PER_CALL,
  type ScalableTargetsReader,
  VARIANT_INSTANCE_COUNT,
  variantResourceId,
} from '../../../lambdas/aws/application-autoscaling.ts';
import { resetClients } from '../../../lambdas/aws/client-config.ts';
import { TransientError } from '../../../lambdas/aws/errors.ts';
import { type Sandbox, startSandbox } from '../../../sandbox/sandbox.ts';
import { clientConfig } from '../../support/aws-targets.ts';

const ENDPOINT = 'ballast-prod-chat';
/** 120 variants of one endpoint, every third one autoscaled. */
const VARIANTS = Array.from({ length: 120 }, (_, i) => variantResourceId(ENDPOINT, `v${i}`));
const AUTOSCALED = VARIANTS.filter((_, i) => i % 3 === 0);

describe('autoscaledVariants', () => {
  let sandbox: Sandbox;
  const saved: Record<string, string | undefined> = {};

  before(async () => {
    sandbox = await startSandbox({ timeScale: 600 });
    for (const [key, value] of Object.entries(sandbox.env())) {
      saved[key] = process.env[key];
      process.env[key] = value;
    }
    resetClients();
    const setup = new ApplicationAutoScalingClient(clientConfig(sandbox.url));
    for (const resourceId of AUTOSCALED) {
      await setup.send(
        new RegisterScalableTargetCommand({
          ServiceNamespace: 'sagemaker',
          ResourceId: resourceId,
          ScalableDimension: VARIANT_INSTANCE_COUNT,
          MinCapacity: 1,
          MaxCapacity: 4,
        }),
      );
    }
    // The variant's serverless concurrency is scaled, not its instance count.
    await setup.send(
      new RegisterScalableTargetCommand({
        ServiceNamespace: 'sagemaker',
        ResourceId: VARIANTS[1] ?? '',
        ScalableDimension: 'sagemaker:variant:DesiredProvisionedConcurrency',
        MinCapacity: 1,
        MaxCapacity: 4,
      }),
    );
    setup.destroy();
  });
  after(async () => {
    for (const [key, value] of Object.entries(saved)) {
      if (value === undefined) delete process.env[key];
      else process.env[key] = value;
    }
    resetClients();
    await sandbox.stop();
  });
  beforeEach(() => {
    sandbox.requests.clear();
    sandbox.faults.clear();
  });

  const describeCalls = () => sandbox.requests.count('application-autoscaling', 'DescribeScalableTargets');

  it('names a variant endpoint/<EndpointName>/variant/<VariantName>', () => {
    assert.equal(variantResourceId('ballast-prod-chat', 'AllTraffic'), 'endpoint/ballast-prod-chat/variant/AllTraffic');
  });

  it('answers the registered variants with the module client, one call per 50 ResourceIds', async () => {
    const answer = await autoscaledVariants(applicationAutoScaling(), VARIANTS);
    assert.deepEqual([...answer].sort(), [...AUTOSCALED].sort());
    assert.equal(describeCalls(), Math.ceil(VARIANTS.length / MAX_RESOURCE_IDS_PER_CALL));
  });

  it('asks nothing for no variants, and once for the same variant named twice', async () => {
    assert.deepEqual(await autoscaledVariants(applicationAutoScaling(), []), new Set());
    assert.equal(describeCalls(), 0);
    const first = AUTOSCALED[0] ?? '';
    assert.deepEqual(await autoscaledVariants(applicationAutoScaling(), [first, first]), new Set([first]));
    assert.equal(describeCalls(), 1);
  });

  it('follows NextToken through every page', async () => {
    // The sandbox's pages are cut at 2 targets, so 50 ResourceIds with 17 registered take 9 pages.
    const sent: DescribeScalableTargetsCommandInput[] = [];
    const client = applicationAutoScaling();
    const paging: ScalableTargetsReader = {
      send: ((command: DescribeScalableTargetsCommand) => {
        sent.push(command.input);
        return client.send(new DescribeScalableTargetsCommand({ ...command.input, MaxResults: 2 }));
      }) as ScalableTargetsReader['send'],
    };
    const firstFifty = VARIANTS.slice(0, 50);
    const answer = await autoscaledVariants(paging, firstFifty);
    assert.deepEqual([...answer].sort(), AUTOSCALED.filter((id) => firstFifty.includes(id)).sort());
    assert.equal(answer.size, 17);
    assert.equal(sent.length, 9);
    assert.equal(sent[0]?.NextToken, undefined);
    assert.ok(sent.slice(1).every((input) => typeof input.NextToken === 'string'));
    assert.ok(
      sent.every(
        (input) =>
          input.ServiceNamespace === 'sagemaker' &&
          input.ScalableDimension === 'sagemaker:variant:DesiredInstanceCount' &&
          input.ResourceIds?.length === 50,
      ),
    );
  });

  it('turns throttling that outlasts the SDK retries (one attempt here) into TransientError', async () => {
    const client = new ApplicationAutoScalingClient(clientConfig(sandbox.url));
    sandbox.faults.add({
      service: 'application-autoscaling',
      operation: 'DescribeScalableTargets',
      kind: 'throttle',
      times: 1,
    });
    await assert.rejects(autoscaledVariants(client, VARIANTS), (error: unknown) => {
      assert.ok(error instanceof TransientError, String(error));
      assert.match(error.message, /^DescribeScalableTargets: ThrottlingException/);
      return true;
    });
    client.destroy();
  });

  it('lets an error that no retry can mend through as it is', async () => {
    await assert.rejects(autoscaledVariants(applicationAutoScaling(), ['x'.repeat(1601)]), (error: unknown) => {
      assert.ok(!(error instanceof TransientError));
      assert.equal((error as Error).name, 'ValidationException');
      return true;
    });
  });
});
