/**
 * CreateModel/DescribeModel with the two forms of model data Ballast deploys (an archive in
 * ModelDataUrl, an uncompressed directory in ModelDataSource.S3DataSource with S3Prefix), run against
 * the sandbox and moto. The checks the sandbox makes that moto does not are skipped for moto with the
 * API reference text they follow. Provisioning (the download of model data) is sandbox-only:
 * test/sandbox/sagemaker-model-data.test.ts.
 */
import assert from 'node:assert/strict';
import { after, it } from 'node:test';
import {
  type ContainerDefinition,
  CreateModelCommand,
  DescribeModelCommand,
  type ModelDataSource,
  SageMakerClient,
  SageMakerServiceException,
} from '@aws-sdk/client-sagemaker';
import type { AlarmStateReader } from '../../sandbox/service.ts';
import { createSageMakerService } from '../../sandbox/services/sagemaker.ts';
import {
  type AwsTarget,
  clientConfig,
  describeConformance,
  knownDifference,
  uniqueName,
} from '../support/aws-targets.ts';

const ACCOUNT = '123456789012';
const IMAGE = '763104351884.dkr.ecr.us-east-1.amazonaws.com/djl-inference:0.31.0-lmi13.0.0-cu124';
const ROLE = `arn:aws:iam::${ACCOUNT}:role/SageMakerExecution`;
const noAlarms: AlarmStateReader = { exists: () => false, wasInAlarm: () => false };

const MOTO_TAKES_ANY_MODEL_DATA =
  'moto 5.2.1 stores ModelDataUrl and ModelDataSource without checking them; the API reference requires ' +
  '"a single gzip compressed tar archive (.tar.gz suffix)" for ModelDataUrl (ContainerDefinition) and says ' +
  '"A valid key name prefix identified by S3Uri always ends with a forward slash (/)" (S3ModelDataSource)';

describeConformance(
  'SageMaker model data',
  (ctx) => [createSageMakerService(ctx, { alarms: noAlarms })],
  (target: () => AwsTarget, name) => {
    let client: SageMakerClient | undefined;
    const sm = () => {
      client ??= new SageMakerClient(clientConfig(target().endpoint));
      return client;
    };
    after(() => client?.destroy());

    const createAndDescribe = async (container: ContainerDefinition) => {
      const model = uniqueName('model');
      await sm().send(
        new CreateModelCommand({ ModelName: model, ExecutionRoleArn: ROLE, PrimaryContainer: container }),
      );
      return sm().send(new DescribeModelCommand({ ModelName: model }));
    };
    const refusal = async (container: ContainerDefinition): Promise<string> => {
      try {
        await createAndDescribe(container);
      } catch (error) {
        assert.ok(error instanceof SageMakerServiceException, String(error));
        return `${error.name} ${error.$metadata.httpStatusCode}`;
      }
      return 'accepted';
    };

    it('describes an uncompressed directory (S3Prefix, CompressionType None) as given', async () => {
      const source: ModelDataSource = {
        S3DataSource: { S3Uri: 's3://models/llama/v1/', S3DataType: 'S3Prefix', CompressionType: 'None' },
      };
      const described = await createAndDescribe({ Image: IMAGE, ModelDataSource: source });
      assert.deepEqual(described.PrimaryContainer?.ModelDataSource, source);
    });

    it('describes a gzip-compressed S3Object as given', async () => {
      const source: ModelDataSource = {
        S3DataSource: { S3Uri: 's3://models/bert/model.tar.gz', S3DataType: 'S3Object', CompressionType: 'Gzip' },
      };
      const described = await createAndDescribe({ Image: IMAGE, ModelDataSource: source });
      assert.deepEqual(described.PrimaryContainer?.ModelDataSource, source);
    });

    it('describes the Environment of a directory model as given', async () => {
      const environment = {
        HF_TOKEN_SECRET_ARN: 'arn:aws:secretsmanager:us-east-1:123456789012:secret:acme-ml/hf-token-AbCdEf',
        OPTION_TENSOR_PARALLEL_DEGREE: '4',
      };
      const described = await createAndDescribe({
        Image: IMAGE,
        ModelDataSource: {
          S3DataSource: { S3Uri: 's3://models/llama/v2/', S3DataType: 'S3Prefix', CompressionType: 'None' },
        },
        Environment: environment,
      });
      assert.deepEqual(described.PrimaryContainer?.Environment, environment);
    });

    it('describes an archive ModelDataUrl as given', async () => {
      const described = await createAndDescribe({ Image: IMAGE, ModelDataUrl: 's3://models/bert/model.tar.gz' });
      assert.equal(described.PrimaryContainer?.ModelDataUrl, 's3://models/bert/model.tar.gz');
    });

    it(
      'refuses a ModelDataUrl that is not a .tar.gz archive',
      knownDifference(name, { moto: MOTO_TAKES_ANY_MODEL_DATA }),
      async () => {
        assert.equal(await refusal({ Image: IMAGE, ModelDataUrl: 's3://models/llama/v1/' }), 'ValidationException 400');
      },
    );

    it(
      'refuses an S3Prefix that does not end with a slash',
      knownDifference(name, { moto: MOTO_TAKES_ANY_MODEL_DATA }),
      async () => {
        assert.equal(
          await refusal({
            Image: IMAGE,
            ModelDataSource: {
              S3DataSource: { S3Uri: 's3://models/llama/v1', S3DataType: 'S3Prefix', CompressionType: 'None' },
            },
          }),
          'ValidationException 400',
        );
      },
    );
  },
);
