/**
 * SageMaker Runtime's InvokeEndpoint as @aws-sdk/client-sagemaker-runtime speaks it (REST-JSON, signed
 * as `sagemaker`), run against the sandbox and against moto (see test/support/aws-targets.ts).
 *
 * moto 5.2.1 has InvokeEndpoint, but as a canned answer: it returns configured (or static) results
 * without looking at the endpoint, so it cannot say what AWS answers for a missing endpoint or a failing
 * model. What moto covers is the wire shape of a successful call; the rest is skipped for moto with the
 * evidence, and the routing, model behaviour and metrics are in test/sandbox/sagemaker-invocations.test.ts.
 */
import assert from 'node:assert/strict';
import { it } from 'node:test';
import {
  CreateEndpointCommand,
  CreateEndpointConfigCommand,
  CreateModelCommand,
  SageMakerClient,
} from '@aws-sdk/client-sagemaker';
import {
  InvokeEndpointCommand,
  SageMakerRuntimeClient,
  SageMakerRuntimeServiceException,
} from '@aws-sdk/client-sagemaker-runtime';
import { createCloudWatchService } from '../../sandbox/services/cloudwatch.ts';
import { createSageMakerService, DEFAULT_TIMINGS } from '../../sandbox/services/sagemaker.ts';
import {
  type AwsTarget,
  clientConfig,
  describeConformance,
  knownDifference,
  type TargetName,
  uniqueName,
} from '../support/aws-targets.ts';

const ACCOUNT = '123456789012';
const REGION = 'us-east-1';
const IMAGE = `${ACCOUNT}.dkr.ecr.${REGION}.amazonaws.com/llm-serving:v1`;
const ROLE = `arn:aws:iam::${ACCOUNT}:role/SageMakerExecution`;

const MOTO_CANNED =
  'moto 5.2.1 answers every InvokeEndpoint with canned data, whether the endpoint exists or not; AWS answers ' +
  '`ValidationError: Endpoint NAME of account ACCOUNT not found.` (aws/amazon-sagemaker-examples#293, #559)';

/** Moves the sandbox's simulated clock (moto's endpoints are InService at once). */
async function advance(target: AwsTarget, name: TargetName, ms: number): Promise<void> {
  if (name !== 'sandbox') return;
  const response = await fetch(`${target.endpoint}/_ballast/clock/advance`, {
    method: 'POST',
    body: JSON.stringify({ seconds: ms / 1000 }),
  });
  assert.equal(response.status, 200);
}

describeConformance(
  'SageMaker Runtime',
  (ctx) => {
    const cloudwatch = createCloudWatchService(ctx);
    const sagemaker = createSageMakerService(ctx, { alarms: cloudwatch, metrics: cloudwatch });
    return [sagemaker, sagemaker.runtime, cloudwatch];
  },
  (target: () => AwsTarget, name) => {
    let clients: { sm: SageMakerClient; runtime: SageMakerRuntimeClient } | undefined;
    const sdk = () => {
      clients ??= {
        sm: new SageMakerClient(clientConfig(target().endpoint)),
        runtime: new SageMakerRuntimeClient(clientConfig(target().endpoint)),
      };
      return clients;
    };
    const invoke = (endpointName: string) =>
      sdk().runtime.send(
        new InvokeEndpointCommand({
          EndpointName: endpointName,
          Body: new TextEncoder().encode('{"inputs":"hello"}'),
          ContentType: 'application/json',
        }),
      );

    it('answers InvokeEndpoint on an InService endpoint with a body, its content type and the variant', async () => {
      const model = uniqueName('model');
      const config = uniqueName('config');
      const endpoint = uniqueName('endpoint');
      await sdk().sm.send(
        new CreateModelCommand({
          ModelName: model,
          ExecutionRoleArn: ROLE,
          PrimaryContainer: { Image: IMAGE, ModelDataUrl: 's3://artifacts/model.tar.gz' },
        }),
      );
      await sdk().sm.send(
        new CreateEndpointConfigCommand({
          EndpointConfigName: config,
          ProductionVariants: [
            { VariantName: 'AllTraffic', ModelName: model, InstanceType: 'ml.m5.large', InitialInstanceCount: 1 },
          ],
        }),
      );
      await sdk().sm.send(new CreateEndpointCommand({ EndpointName: endpoint, EndpointConfigName: config }));
      await advance(target(), name, DEFAULT_TIMINGS.createMs);
      const output = await invoke(endpoint);
      assert.equal(output.$metadata.httpStatusCode, 200);
      assert.ok((output.Body?.length ?? 0) > 0, 'a non-empty body');
      assert.equal(typeof output.ContentType, 'string');
      assert.equal(typeof output.InvokedProductionVariant, 'string');
      assert.ok((output.InvokedProductionVariant ?? '').length > 0, 'names the variant that served');
    });

    it(
      'answers ValidationError (400) for an endpoint that does not exist',
      knownDifference(name, { moto: MOTO_CANNED }),
      async () => {
        const endpoint = uniqueName('missing');
        try {
          await invoke(endpoint);
        } catch (error) {
          assert.ok(
            error instanceof SageMakerRuntimeServiceException,
            `expected a service error, got ${String(error)}`,
          );
          assert.equal(error.name, 'ValidationError');
          assert.equal(error.$metadata.httpStatusCode, 400);
          assert.equal(error.message, `Endpoint ${endpoint} of account ${ACCOUNT} not found.`);
          return;
        }
        assert.fail('expected ValidationError, but the call succeeded');
      },
    );
  },
);
