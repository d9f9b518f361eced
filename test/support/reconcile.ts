// What the reconciler's tests do to a world (test/e2e/harness.ts): let time pass and run the
// reconcile workflow, and change an endpoint out of band the way people do, with the AWS SDK.
import assert from 'node:assert/strict';
import {
  CreateEndpointConfigCommand,
  DescribeEndpointConfigCommand,
  UpdateEndpointCommand,
} from '@aws-sdk/client-sagemaker';
import { SUMMARIZER, type World } from '../e2e/harness.ts';

/**
 * Lets one reconcile interval pass (the example's 5 minutes: the environment is due again), runs
 * the reconcile workflow once, as a tick of its schedule does, and waits for what it started.
 */
export async function reconcile(w: World): Promise<void> {
  await w.minutes(5);
  const run = w.pipeline.reconcile();
  await run.result;
  await w.settle();
}

/** Lets SageMaker finish what it is doing (an out-of-band update, a heal's rollout). */
export async function letSageMakerSettle(w: World): Promise<void> {
  await w.minutes(20);
}

/**
 * An out-of-band UpdateEndpoint of the summarizer to a hand-made configuration on another
 * instance type; returns the name of Ballast's configuration it replaced.
 */
export async function handEdit(
  w: World,
  instanceType = 'ml.g5.12xlarge',
  name = 'hand-made-summarizer',
): Promise<string> {
  const live = await w.describe(SUMMARIZER);
  const ours = await w.clients.sagemaker.send(
    new DescribeEndpointConfigCommand({ EndpointConfigName: live.EndpointConfigName }),
  );
  const variant = ours.ProductionVariants?.[0];
  assert.ok(variant, 'the live configuration has a variant');
  await w.clients.sagemaker.send(
    new CreateEndpointConfigCommand({
      EndpointConfigName: name,
      ProductionVariants: [{ ...variant, InstanceType: instanceType as never }],
    }),
  );
  await w.clients.sagemaker.send(new UpdateEndpointCommand({ EndpointName: SUMMARIZER, EndpointConfigName: name }));
  await letSageMakerSettle(w);
  assert.equal((await w.describe(SUMMARIZER)).EndpointConfigName, name, 'the hand-made update went live');
  return live.EndpointConfigName ?? '';
}
