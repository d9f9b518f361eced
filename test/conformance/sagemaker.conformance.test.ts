/**
 * The SageMaker create/describe/list/delete path Ballast's Deploy step relies on, run against the sandbox
 * and against moto (see test/support/aws-targets.ts). moto has no UpdateEndpoint and no asynchronous
 * status transitions, so the blue/green behaviour is covered by test/sandbox/sagemaker.test.ts only.
 *
 * Where moto and the sandbox disagree, the case is skipped for the target that does not match what AWS
 * answers, with the evidence in the skip reason.
 */
import assert from 'node:assert/strict';
import { it } from 'node:test';
import {
  CreateEndpointCommand,
  CreateEndpointConfigCommand,
  CreateModelCommand,
  DeleteEndpointCommand,
  DeleteEndpointConfigCommand,
  DeleteModelCommand,
  DescribeEndpointCommand,
  DescribeEndpointConfigCommand,
  DescribeModelCommand,
  ListEndpointConfigsCommand,
  ListEndpointsCommand,
  ListModelsCommand,
  SageMakerClient,
  SageMakerServiceException,
} from '@aws-sdk/client-sagemaker';
import type { AlarmStateReader } from '../../sandbox/service.ts';
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
const arn = (kind: string, name: string) => `arn:aws:sagemaker:${REGION}:${ACCOUNT}:${kind}/${name.toLowerCase()}`;

/** No alarms exist: nothing in this suite uses AutoRollbackConfiguration. */
const noAlarms: AlarmStateReader = { exists: () => false, wasInAlarm: () => false };

/** Evidence for AWS's error wording: real responses quoted in public issues. */
const AWS_QUOTES_ARNS =
  'moto 5.x quotes the ARN with single quotes; AWS uses double quotes, e.g. `ValidationException: Could not find ' +
  'endpoint "arn:aws:sagemaker:us-west-2:…:endpoint/…"` (aws/amazon-sagemaker-examples#2402) and `Could not find ' +
  'model "arn:aws:sagemaker:…:model/…"` (aws/sagemaker-python-sdk#2112)';
const AWS_REJECTS_DUPLICATES =
  'moto 5.x silently overwrites; AWS answers `ValidationException: Cannot create already existing endpoint ' +
  'configuration "arn:…"` / `… endpoint "arn:…"` (awslabs/spot-tagging-bot-for-digital-assets#2, ' +
  'aws/sagemaker-python-sdk#101); "The endpoint name must be unique within an AWS Region in your AWS account" ' +
  '(API reference, CreateEndpoint)';
const AWS_IS_ASYNC =
  'moto 5.x makes endpoints InService and deletes them at once; AWS: "When SageMaker receives the request, it ' +
  'sets the endpoint status to Creating. After it creates the endpoint, it sets the status to InService" ' +
  '(API reference, CreateEndpoint), and DeleteEndpoint passes through Deleting (EndpointStatus values)';
const AWS_LOWERCASES_ARNS =
  'moto 5.x keeps the name case in ARNs; AWS lower-cases it: ListEndpoints shows EndpointName ' +
  '"DEMO-imageclassification-ep--2018-06-24-19-59-29" with EndpointArn "…:endpoint/demo-imageclassification-ep--…" ' +
  '(aws/amazon-sagemaker-examples#293), and "The name is case-insensitive in CreateEndpoint" (API reference)';
const AWS_VALIDATES_NAMES =
  'moto 5.x does not validate member constraints; AWS answers `1 validation error detected: Value … failed to ' +
  'satisfy constraint: Member must satisfy regular expression pattern: …` (aws/amazon-sagemaker-examples#2236; ' +
  'pattern from the API reference, EndpointName)';

async function rejectsWith(promise: Promise<unknown>, name: string, message: string | RegExp): Promise<void> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof SageMakerServiceException, `expected a SageMakerServiceException, got ${String(error)}`);
    assert.equal(error.name, name, `error name (message: ${error.message})`);
    assert.equal(error.$metadata.httpStatusCode, 400);
    if (typeof message === 'string') assert.equal(error.message, message);
    else assert.match(error.message, message);
    return;
  }
  assert.fail(`expected ${name}, but the call succeeded`);
}

/** Moves the sandbox's simulated clock (moto has no asynchronous transitions to wait for). */
async function advance(target: AwsTarget, name: TargetName, ms: number): Promise<void> {
  if (name !== 'sandbox') return;
  const response = await fetch(`${target.endpoint}/_ballast/clock/advance`, {
    method: 'POST',
    body: JSON.stringify({ seconds: ms / 1000 }),
  });
  assert.equal(response.status, 200);
}

describeConformance(
  'SageMaker',
  (ctx) => [createSageMakerService(ctx, { alarms: noAlarms })],
  (target: () => AwsTarget, name) => {
    let client: SageMakerClient | undefined;
    const sm = () => {
      client ??= new SageMakerClient(clientConfig(target().endpoint));
      return client;
    };
    const newModel = async () => {
      const model = uniqueName('model');
      const created = await sm().send(
        new CreateModelCommand({
          ModelName: model,
          ExecutionRoleArn: ROLE,
          PrimaryContainer: { Image: IMAGE, ModelDataUrl: 's3://artifacts/model.tar.gz', Environment: { A: '1' } },
        }),
      );
      assert.equal(created.ModelArn, arn('model', model));
      return model;
    };
    const newConfig = async (model: string) => {
      const config = uniqueName('config');
      const created = await sm().send(
        new CreateEndpointConfigCommand({
          EndpointConfigName: config,
          ProductionVariants: [
            {
              VariantName: 'AllTraffic',
              ModelName: model,
              InstanceType: 'ml.m5.large',
              InitialInstanceCount: 2,
              InitialVariantWeight: 1,
            },
          ],
        }),
      );
      assert.equal(created.EndpointConfigArn, arn('endpoint-config', config));
      return config;
    };

    it('creates, describes and lists a model', async () => {
      const model = await newModel();
      const described = await sm().send(new DescribeModelCommand({ ModelName: model }));
      assert.equal(described.ModelName, model);
      assert.equal(described.ModelArn, arn('model', model));
      assert.equal(described.ExecutionRoleArn, ROLE);
      assert.equal(described.PrimaryContainer?.Image, IMAGE);
      assert.deepEqual(described.PrimaryContainer?.Environment, { A: '1' });
      assert.ok(described.CreationTime instanceof Date);
      const listed = await sm().send(new ListModelsCommand({ NameContains: model }));
      assert.deepEqual(
        listed.Models?.map((m) => [m.ModelName, m.ModelArn]),
        [[model, arn('model', model)]],
      );
    });

    it('creates, describes and lists an endpoint config', async () => {
      const model = await newModel();
      const config = await newConfig(model);
      const described = await sm().send(new DescribeEndpointConfigCommand({ EndpointConfigName: config }));
      assert.equal(described.EndpointConfigName, config);
      assert.equal(described.EndpointConfigArn, arn('endpoint-config', config));
      const variant = described.ProductionVariants?.[0];
      assert.equal(variant?.VariantName, 'AllTraffic');
      assert.equal(variant?.ModelName, model);
      assert.equal(variant?.InstanceType, 'ml.m5.large');
      assert.equal(variant?.InitialInstanceCount, 2);
      assert.equal(variant?.InitialVariantWeight, 1);
      assert.ok(described.CreationTime instanceof Date);
      const listed = await sm().send(new ListEndpointConfigsCommand({ NameContains: config }));
      assert.deepEqual(
        listed.EndpointConfigs?.map((c) => c.EndpointConfigName),
        [config],
      );
    });

    it('creates an endpoint that comes InService, lists it and deletes it', async () => {
      const model = await newModel();
      const config = await newConfig(model);
      const endpoint = uniqueName('ep');
      const created = await sm().send(
        new CreateEndpointCommand({ EndpointName: endpoint, EndpointConfigName: config }),
      );
      assert.equal(created.EndpointArn, arn('endpoint', endpoint));
      await advance(target(), name, DEFAULT_TIMINGS.createMs);

      const described = await sm().send(new DescribeEndpointCommand({ EndpointName: endpoint }));
      assert.equal(described.EndpointName, endpoint);
      assert.equal(described.EndpointArn, arn('endpoint', endpoint));
      assert.equal(described.EndpointConfigName, config);
      assert.equal(described.EndpointStatus, 'InService');
      assert.ok(described.CreationTime instanceof Date);
      assert.ok(described.LastModifiedTime instanceof Date);
      const variant = described.ProductionVariants?.[0];
      assert.equal(variant?.VariantName, 'AllTraffic');
      assert.equal(variant?.CurrentInstanceCount, 2);
      assert.equal(variant?.DesiredInstanceCount, 2);
      assert.equal(variant?.CurrentWeight, 1);
      assert.equal(variant?.DesiredWeight, 1);

      const listed = await sm().send(new ListEndpointsCommand({ NameContains: endpoint }));
      assert.deepEqual(
        listed.Endpoints?.map((e) => [e.EndpointName, e.EndpointArn, e.EndpointStatus]),
        [[endpoint, arn('endpoint', endpoint), 'InService']],
      );

      await sm().send(new DeleteEndpointCommand({ EndpointName: endpoint }));
      await advance(target(), name, DEFAULT_TIMINGS.deleteMs);
      await rejectsWith(
        sm().send(new DescribeEndpointCommand({ EndpointName: endpoint })),
        'ValidationException',
        /^Could not find endpoint /,
      );
      await sm().send(new DeleteEndpointConfigCommand({ EndpointConfigName: config }));
      await sm().send(new DeleteModelCommand({ ModelName: model }));
      await rejectsWith(
        sm().send(new DescribeEndpointConfigCommand({ EndpointConfigName: config })),
        'ValidationException',
        /^Could not find endpoint configuration /,
      );
      await rejectsWith(
        sm().send(new DescribeModelCommand({ ModelName: model })),
        'ValidationException',
        /^Could not find model /,
      );
    });

    it('passes through Creating and Deleting', knownDifference(name, { moto: AWS_IS_ASYNC }), async () => {
      const config = await newConfig(await newModel());
      const endpoint = uniqueName('ep');
      await sm().send(new CreateEndpointCommand({ EndpointName: endpoint, EndpointConfigName: config }));
      assert.equal(
        (await sm().send(new DescribeEndpointCommand({ EndpointName: endpoint }))).EndpointStatus,
        'Creating',
      );
      await advance(target(), name, DEFAULT_TIMINGS.createMs);
      await sm().send(new DeleteEndpointCommand({ EndpointName: endpoint }));
      assert.equal(
        (await sm().send(new DescribeEndpointCommand({ EndpointName: endpoint }))).EndpointStatus,
        'Deleting',
      );
    });

    it('answers ValidationException for missing resources', async () => {
      const missing = uniqueName('missing');
      // One call at a time: a rejection must not be left unobserved while an earlier one is awaited.
      for (const call of [
        () => sm().send(new DescribeEndpointCommand({ EndpointName: missing })),
        () => sm().send(new DeleteEndpointCommand({ EndpointName: missing })),
      ]) {
        await rejectsWith(call(), 'ValidationException', /^Could not find endpoint /);
      }
      for (const call of [
        () => sm().send(new DescribeEndpointConfigCommand({ EndpointConfigName: missing })),
        () => sm().send(new DeleteEndpointConfigCommand({ EndpointConfigName: missing })),
        () => sm().send(new CreateEndpointCommand({ EndpointName: missing, EndpointConfigName: missing })),
      ]) {
        await rejectsWith(call(), 'ValidationException', /^Could not find endpoint configuration /);
      }
      await rejectsWith(
        sm().send(new DescribeModelCommand({ ModelName: missing })),
        'ValidationException',
        /^Could not find model /,
      );
      await rejectsWith(
        sm().send(
          new CreateEndpointConfigCommand({
            EndpointConfigName: missing,
            ProductionVariants: [
              { VariantName: 'AllTraffic', ModelName: missing, InstanceType: 'ml.m5.large', InitialInstanceCount: 1 },
            ],
          }),
        ),
        'ValidationException',
        /^Could not find model /,
      );
    });

    it('words missing-resource errors as AWS does', knownDifference(name, { moto: AWS_QUOTES_ARNS }), async () => {
      const missing = uniqueName('missing');
      await rejectsWith(
        sm().send(new DescribeEndpointCommand({ EndpointName: missing })),
        'ValidationException',
        `Could not find endpoint "${arn('endpoint', missing)}".`,
      );
      await rejectsWith(
        sm().send(new DescribeEndpointConfigCommand({ EndpointConfigName: missing })),
        'ValidationException',
        `Could not find endpoint configuration "${arn('endpoint-config', missing)}".`,
      );
      await rejectsWith(
        sm().send(new DescribeModelCommand({ ModelName: missing })),
        'ValidationException',
        `Could not find model "${arn('model', missing)}".`,
      );
    });

    it('rejects duplicate names', knownDifference(name, { moto: AWS_REJECTS_DUPLICATES }), async () => {
      const model = await newModel();
      await rejectsWith(
        sm().send(new CreateModelCommand({ ModelName: model, PrimaryContainer: { Image: IMAGE } })),
        'ValidationException',
        `Cannot create already existing model "${arn('model', model)}".`,
      );
      const config = await newConfig(model);
      await rejectsWith(
        sm().send(
          new CreateEndpointConfigCommand({
            EndpointConfigName: config,
            ProductionVariants: [
              { VariantName: 'AllTraffic', ModelName: model, InstanceType: 'ml.m5.large', InitialInstanceCount: 1 },
            ],
          }),
        ),
        'ValidationException',
        `Cannot create already existing endpoint configuration "${arn('endpoint-config', config)}".`,
      );
      const endpoint = uniqueName('ep');
      await sm().send(new CreateEndpointCommand({ EndpointName: endpoint, EndpointConfigName: config }));
      await rejectsWith(
        sm().send(new CreateEndpointCommand({ EndpointName: endpoint.toUpperCase(), EndpointConfigName: config })),
        'ValidationException',
        `Cannot create already existing endpoint "${arn('endpoint', endpoint)}".`,
      );
    });

    it('lower-cases names in ARNs', knownDifference(name, { moto: AWS_LOWERCASES_ARNS }), async () => {
      const model = `Model-${uniqueName('X')}`;
      const created = await sm().send(new CreateModelCommand({ ModelName: model, PrimaryContainer: { Image: IMAGE } }));
      assert.equal(created.ModelArn, arn('model', model));
      const described = await sm().send(new DescribeModelCommand({ ModelName: model }));
      assert.equal(described.ModelName, model);
    });

    it('validates names against the API patterns', knownDifference(name, { moto: AWS_VALIDATES_NAMES }), async () => {
      await rejectsWith(
        sm().send(new DescribeEndpointCommand({ EndpointName: 'not_valid' })),
        'ValidationException',
        "1 validation error detected: Value 'not_valid' at 'endpointName' failed to satisfy constraint: Member must satisfy regular expression pattern: ^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}",
      );
    });
  },
);
