/**
 * The sandbox's SageMaker and model data: CreateModel's checks of ModelDataUrl and ModelDataSource
 * (API reference: ContainerDefinition, ModelDataSource, S3ModelDataSource), and fleet provisioning that
 * downloads the model data from the sandbox's own S3 (through the ModelDataReader the S3 service
 * implements), failing the endpoint as AWS does when the archive or the prefix is missing.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { CreateBucketCommand, DeleteObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import {
  type ContainerDefinition,
  CreateEndpointCommand,
  CreateEndpointConfigCommand,
  CreateModelCommand,
  DescribeEndpointCommand,
  type DescribeEndpointOutput,
  DescribeModelCommand,
  type ModelDataSource,
  SageMakerClient,
  UpdateEndpointCommand,
} from '@aws-sdk/client-sagemaker';
import { VirtualClock } from '../../sandbox/clock.ts';
import { EventBus } from '../../sandbox/events.ts';
import { FaultInjector } from '../../sandbox/faults.ts';
import { RequestLog } from '../../sandbox/request-log.ts';
import { SandboxServer } from '../../sandbox/server.ts';
import type { AlarmStateReader, ServiceContext } from '../../sandbox/service.ts';
import { createS3Service } from '../../sandbox/services/s3.ts';
import { createSageMakerService, DEFAULT_TIMINGS, type SageMakerSandbox } from '../../sandbox/services/sagemaker.ts';
import { uniqueName } from '../support/aws-targets.ts';

const ACCOUNT = '123456789012';
const REGION = 'us-east-1';
const IMAGE = `763104351884.dkr.ecr.${REGION}.amazonaws.com/djl-inference:0.31.0-lmi13.0.0-cu124`;
const ROLE = `arn:aws:iam::${ACCOUNT}:role/SageMakerExecution`;
const NO_ALARMS: AlarmStateReader = { exists: () => false, wasInAlarm: () => false };

let server: SandboxServer;
let clock: VirtualClock;
let sagemaker: SageMakerSandbox;
let sm: SageMakerClient;
let s3: S3Client;
/** One bucket in the endpoint's region, one in another. */
let bucket: string;
let foreignBucket: string;
/** Where a client in eu-west-1 reaches the sandbox. */
let euClient: () => S3Client;

before(async () => {
  // Wall time is frozen: simulated time moves only when a test advances it.
  clock = new VirtualClock(1, new Date('2026-03-01T12:00:00Z'), () => 0);
  const events = new EventBus(ACCOUNT, REGION, () => clock.now());
  const ctx: ServiceContext = { clock, events, account: ACCOUNT, region: REGION };
  const s3Service = createS3Service(ctx);
  sagemaker = createSageMakerService(ctx, { alarms: NO_ALARMS, modelData: s3Service });
  server = new SandboxServer({
    services: [s3Service, sagemaker],
    clock,
    events,
    faults: new FaultInjector(),
    requests: new RequestLog(),
  });
  const endpoint = await server.listen(0);
  const config = {
    endpoint,
    region: REGION,
    credentials: { accessKeyId: 'AKIDSANDBOX', secretAccessKey: 'sandbox-secret' },
    maxAttempts: 1,
  };
  sm = new SageMakerClient(config);
  s3 = new S3Client(config);
  bucket = uniqueName('models');
  foreignBucket = uniqueName('models-eu');
  await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  euClient = () => new S3Client({ ...config, region: 'eu-west-1' });
  const eu = euClient();
  // The SDK sends LocationConstraint eu-west-1 for a client in eu-west-1.
  await eu.send(new CreateBucketCommand({ Bucket: foreignBucket }));
  eu.destroy();
});

after(async () => {
  sm.destroy();
  s3.destroy();
  await server.close();
});

async function createModel(name: string, container: Partial<ContainerDefinition>): Promise<void> {
  await sm.send(
    new CreateModelCommand({
      ModelName: name,
      ExecutionRoleArn: ROLE,
      PrimaryContainer: { Image: IMAGE, ...container },
    }),
  );
}

function prefixSource(uri: string, overrides: Record<string, unknown> = {}): ModelDataSource {
  return {
    S3DataSource: { S3Uri: uri, S3DataType: 'S3Prefix', CompressionType: 'None', ...overrides },
  } as ModelDataSource;
}

async function validationMessage(container: Partial<ContainerDefinition>): Promise<string> {
  try {
    await createModel(uniqueName('m'), container);
  } catch (error) {
    const e = error as Error & { $metadata?: { httpStatusCode?: number } };
    assert.equal(e.name, 'ValidationException', e.message);
    assert.equal(e.$metadata?.httpStatusCode, 400);
    return e.message;
  }
  assert.fail('CreateModel succeeded');
}

async function put(key: string, body = 'bytes', inBucket = bucket): Promise<void> {
  await s3.send(new PutObjectCommand({ Bucket: inBucket, Key: key, Body: body }));
}

/** CreateEndpoint for a model, then simulated time until creation ends. */
async function endpointFor(container: Partial<ContainerDefinition>): Promise<DescribeEndpointOutput> {
  const name = uniqueName('ep');
  await createModel(name, container);
  await createConfig(name, name);
  await sm.send(new CreateEndpointCommand({ EndpointName: name, EndpointConfigName: name }));
  clock.advance(DEFAULT_TIMINGS.createMs);
  return sm.send(new DescribeEndpointCommand({ EndpointName: name }));
}

async function createConfig(name: string, model: string): Promise<void> {
  await sm.send(
    new CreateEndpointConfigCommand({
      EndpointConfigName: name,
      ProductionVariants: [
        { VariantName: 'AllTraffic', ModelName: model, InstanceType: 'ml.g5.2xlarge', InitialInstanceCount: 1 },
      ],
    }),
  );
}

describe('SageMaker sandbox: CreateModel model data', () => {
  it('DescribeModel returns ModelDataSource as given', async () => {
    const name = uniqueName('m');
    const source = prefixSource(`s3://${bucket}/llm/`, { ModelAccessConfig: { AcceptEula: true } });
    await createModel(name, { ModelDataSource: source });
    const described = await sm.send(new DescribeModelCommand({ ModelName: name }));
    assert.deepEqual(described.PrimaryContainer?.ModelDataSource, source);
  });

  it('DescribeModel returns Environment as given', async () => {
    const name = uniqueName('m');
    const environment = { HF_TOKEN_SECRET_ARN: 'arn:aws:secretsmanager:us-east-1:123456789012:secret:hf-AbCdEf' };
    await createModel(name, { ModelDataSource: prefixSource(`s3://${bucket}/llm/`), Environment: environment });
    const described = await sm.send(new DescribeModelCommand({ ModelName: name }));
    assert.deepEqual(described.PrimaryContainer?.Environment, environment);
  });

  it('accepts a single .tar.gz archive as ModelDataUrl', async () => {
    const name = uniqueName('m');
    await createModel(name, { ModelDataUrl: `s3://${bucket}/archive/model.tar.gz` });
    const described = await sm.send(new DescribeModelCommand({ ModelName: name }));
    assert.equal(described.PrimaryContainer?.ModelDataUrl, `s3://${bucket}/archive/model.tar.gz`);
  });

  it('refuses a ModelDataUrl that is not a .tar.gz archive', async () => {
    assert.equal(
      await validationMessage({ ModelDataUrl: `s3://${bucket}/llm/` }),
      `ModelDataUrl "s3://${bucket}/llm/" of PrimaryContainer must point to a single gzip compressed tar archive (.tar.gz suffix). For uncompressed model data, use ModelDataSource with S3DataType S3Prefix and CompressionType None.`,
    );
  });

  it('takes a prefix as ModelDataUrl for a MultiModel container', async () => {
    const name = uniqueName('m');
    await createModel(name, { ModelDataUrl: `s3://${bucket}/models/`, Mode: 'MultiModel' });
    const described = await sm.send(new DescribeModelCommand({ ModelName: name }));
    assert.equal(described.PrimaryContainer?.Mode, 'MultiModel');
  });

  it('refuses ModelDataUrl and ModelDataSource together', async () => {
    assert.equal(
      await validationMessage({
        ModelDataUrl: `s3://${bucket}/archive/model.tar.gz`,
        ModelDataSource: prefixSource(`s3://${bucket}/llm/`),
      }),
      'PrimaryContainer specifies both ModelDataUrl and ModelDataSource; specify the model data with only one of them.',
    );
  });

  it('refuses an S3Prefix that does not end with a slash', async () => {
    assert.equal(
      await validationMessage({ ModelDataSource: prefixSource(`s3://${bucket}/llm`) }),
      `S3Uri "s3://${bucket}/llm" of PrimaryContainer.ModelDataSource.S3DataSource must end with a forward slash (/) when S3DataType is S3Prefix.`,
    );
  });

  it('refuses Gzip compression for an S3Prefix', async () => {
    assert.equal(
      await validationMessage({ ModelDataSource: prefixSource(`s3://${bucket}/llm/`, { CompressionType: 'Gzip' }) }),
      'CompressionType Gzip of PrimaryContainer.ModelDataSource.S3DataSource requires S3DataType S3Object; an S3Prefix takes CompressionType None.',
    );
  });

  it('accepts a gzip-compressed S3Object', async () => {
    const name = uniqueName('m');
    const source: ModelDataSource = {
      S3DataSource: { S3Uri: `s3://${bucket}/archive/model.tar.gz`, S3DataType: 'S3Object', CompressionType: 'Gzip' },
    };
    await createModel(name, { ModelDataSource: source });
    const described = await sm.send(new DescribeModelCommand({ ModelName: name }));
    assert.deepEqual(described.PrimaryContainer?.ModelDataSource, source);
  });

  it('refuses an S3DataType outside S3Prefix | S3Object', async () => {
    assert.equal(
      await validationMessage({ ModelDataSource: prefixSource(`s3://${bucket}/llm/`, { S3DataType: 'ManifestFile' }) }),
      "1 validation error detected: Value 'ManifestFile' at 'primaryContainer.modelDataSource.s3DataSource.s3DataType' failed to satisfy constraint: Member must satisfy enum value set: [S3Prefix, S3Object]",
    );
  });

  it('refuses a CompressionType outside None | Gzip', async () => {
    assert.equal(
      await validationMessage({ ModelDataSource: prefixSource(`s3://${bucket}/llm/`, { CompressionType: 'Zstd' }) }),
      "1 validation error detected: Value 'Zstd' at 'primaryContainer.modelDataSource.s3DataSource.compressionType' failed to satisfy constraint: Member must satisfy enum value set: [None, Gzip]",
    );
  });

  it('requires CompressionType', async () => {
    assert.equal(
      await validationMessage({
        ModelDataSource: { S3DataSource: { S3Uri: `s3://${bucket}/llm/`, S3DataType: 'S3Prefix' } } as ModelDataSource,
      }),
      "1 validation error detected: Value null at 'primaryContainer.modelDataSource.s3DataSource.compressionType' failed to satisfy constraint: Member must not be null",
    );
  });

  it('refuses an S3Uri that is not an s3:// or https:// URI', async () => {
    assert.equal(
      await validationMessage({ ModelDataSource: prefixSource('gs://bucket/llm/') }),
      "1 validation error detected: Value 'gs://bucket/llm/' at 'primaryContainer.modelDataSource.s3DataSource.s3Uri' failed to satisfy constraint: Member must satisfy regular expression pattern: ^(https|s3)://([^/]+)/?(.*)$",
    );
  });

  it('refuses an S3Uri longer than 1024 characters', async () => {
    const uri = `s3://${bucket}/${'a'.repeat(1024)}/`;
    assert.equal(
      await validationMessage({ ModelDataSource: prefixSource(uri) }),
      `1 validation error detected: Value '${uri}' at 'primaryContainer.modelDataSource.s3DataSource.s3Uri' failed to satisfy constraint: Member must have length less than or equal to 1024`,
    );
  });

  it('refuses a ModelDataSource without a data source', async () => {
    assert.equal(
      await validationMessage({ ModelDataSource: {} as ModelDataSource }),
      'ModelDataSource of PrimaryContainer must specify exactly one data source: S3DataSource.',
    );
  });

  it('refuses ModelDataSource on a MultiModel container', async () => {
    assert.equal(
      await validationMessage({ ModelDataSource: prefixSource(`s3://${bucket}/llm/`), Mode: 'MultiModel' }),
      'ModelDataSource of PrimaryContainer cannot be used with Mode MultiModel (multi-model endpoints).',
    );
  });

  it('names the container of a Containers list in the shape errors', async () => {
    await assert.rejects(
      sm.send(
        new CreateModelCommand({
          ModelName: uniqueName('m'),
          ExecutionRoleArn: ROLE,
          Containers: [
            { Image: IMAGE, ModelDataSource: prefixSource(`s3://${bucket}/llm/`, { S3DataType: 'Folder' }) },
          ],
        }),
      ),
      {
        name: 'ValidationException',
        message:
          "1 validation error detected: Value 'Folder' at 'containers.1.member.modelDataSource.s3DataSource.s3DataType' failed to satisfy constraint: Member must satisfy enum value set: [S3Prefix, S3Object]",
      },
    );
  });

  it('refuses a serverless endpoint config for a model with ModelDataSource', async () => {
    const name = uniqueName('m');
    await createModel(name, { ModelDataSource: prefixSource(`s3://${bucket}/llm/`) });
    await assert.rejects(
      sm.send(
        new CreateEndpointConfigCommand({
          EndpointConfigName: name,
          ProductionVariants: [
            {
              VariantName: 'AllTraffic',
              ModelName: name,
              ServerlessConfig: { MemorySizeInMB: 2048, MaxConcurrency: 1 },
            },
          ],
        }),
      ),
      {
        name: 'ValidationException',
        message: `Model "${name}" of production variant AllTraffic uses ModelDataSource, which serverless endpoints do not support.`,
      },
    );
  });
});

describe('SageMaker sandbox: provisioning downloads the model data', () => {
  it('brings an endpoint InService when its archive exists', async () => {
    const key = `${uniqueName('archive')}/model.tar.gz`;
    await put(key);
    const endpoint = await endpointFor({ ModelDataUrl: `s3://${bucket}/${key}` });
    assert.equal(endpoint.EndpointStatus, 'InService');
  });

  it('fails CreateEndpoint with "Failed to download model data" when the archive does not exist', async () => {
    const uri = `s3://${bucket}/${uniqueName('missing')}/model.tar.gz`;
    const endpoint = await endpointFor({ ModelDataUrl: uri });
    assert.deepEqual(
      [endpoint.EndpointStatus, endpoint.FailureReason],
      [
        'Failed',
        `Failed to download model data for container "container_1" from URL: "${uri}". Please ensure that there is an object located at the URL and that the role passed to CreateModel has permissions to download the object.`,
      ],
    );
  });

  it('brings an endpoint InService when objects lie under its S3Prefix', async () => {
    const prefix = `${uniqueName('llm')}/`;
    await put(`${prefix}config.json`, '{}');
    await put(`${prefix}model-00001-of-00002.safetensors`);
    const endpoint = await endpointFor({ ModelDataSource: prefixSource(`s3://${bucket}/${prefix}`) });
    assert.equal(endpoint.EndpointStatus, 'InService');
  });

  it('fails CreateEndpoint when no object lies under its S3Prefix', async () => {
    const uri = `s3://${bucket}/${uniqueName('empty')}/`;
    const endpoint = await endpointFor({ ModelDataSource: prefixSource(uri) });
    assert.deepEqual(
      [endpoint.EndpointStatus, endpoint.FailureReason],
      [
        'Failed',
        `Failed to download model data for container "container_1" from URL: "${uri}". Please ensure that there are objects under the S3 prefix at the URL and that the role passed to CreateModel has permissions to download the object.`,
      ],
    );
  });

  it('does not count a deleted object as model data', async () => {
    const key = `${uniqueName('deleted')}/model.tar.gz`;
    await put(key);
    await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: key }));
    const endpoint = await endpointFor({ ModelDataUrl: `s3://${bucket}/${key}` });
    assert.equal(endpoint.EndpointStatus, 'Failed');
  });

  it('fails CreateEndpoint when the model data is in a bucket of another region', async () => {
    const key = `${uniqueName('eu')}/model.tar.gz`;
    const eu = euClient();
    await eu.send(new PutObjectCommand({ Bucket: foreignBucket, Key: key, Body: 'bytes' }));
    eu.destroy();
    const endpoint = await endpointFor({ ModelDataUrl: `s3://${foreignBucket}/${key}` });
    assert.equal(endpoint.EndpointStatus, 'Failed');
  });

  it('downloads when provisioning ends: data uploaded after CreateEndpoint is found', async () => {
    const name = uniqueName('late');
    const key = `${name}/model.tar.gz`;
    await createModel(name, { ModelDataUrl: `s3://${bucket}/${key}` });
    await createConfig(name, name);
    await sm.send(new CreateEndpointCommand({ EndpointName: name, EndpointConfigName: name }));
    await put(key);
    clock.advance(DEFAULT_TIMINGS.createMs);
    const endpoint = await sm.send(new DescribeEndpointCommand({ EndpointName: name }));
    assert.equal(endpoint.EndpointStatus, 'InService');
  });

  it('rolls an UpdateEndpoint back to the old config, InService with the download FailureReason', async () => {
    const key = `${uniqueName('v1')}/model.tar.gz`;
    await put(key);
    const live = await endpointFor({ ModelDataUrl: `s3://${bucket}/${key}` });
    const name = live.EndpointName ?? '';
    const v2 = uniqueName('v2');
    const uri = `s3://${bucket}/${v2}/`;
    await createModel(v2, { ModelDataSource: prefixSource(uri) });
    await createConfig(v2, v2);
    await sm.send(new UpdateEndpointCommand({ EndpointName: name, EndpointConfigName: v2 }));
    clock.advance(DEFAULT_TIMINGS.provisionMs + DEFAULT_TIMINGS.rollbackMs);
    const endpoint = await sm.send(new DescribeEndpointCommand({ EndpointName: name }));
    assert.deepEqual(
      [endpoint.EndpointStatus, endpoint.EndpointConfigName, endpoint.FailureReason],
      [
        'InService',
        live.EndpointConfigName,
        `Failed to download model data for container "container_1" from URL: "${uri}". Please ensure that there are objects under the S3 prefix at the URL and that the role passed to CreateModel has permissions to download the object.`,
      ],
    );
  });

  it('records a failed download as a rolled-back update caused by model-data', async () => {
    const key = `${uniqueName('v1')}/model.tar.gz`;
    await put(key);
    const live = await endpointFor({ ModelDataUrl: `s3://${bucket}/${key}` });
    const name = live.EndpointName ?? '';
    const v2 = uniqueName('v2');
    await createModel(v2, { ModelDataUrl: `s3://${bucket}/${v2}/model.tar.gz` });
    await createConfig(v2, v2);
    await sm.send(new UpdateEndpointCommand({ EndpointName: name, EndpointConfigName: v2 }));
    clock.advance(DEFAULT_TIMINGS.provisionMs + DEFAULT_TIMINGS.rollbackMs);
    const view = sagemaker.endpoint(name);
    assert.deepEqual([view?.lastUpdate?.outcome, view?.lastUpdate?.cause], ['rolled-back', 'model-data']);
  });
});
