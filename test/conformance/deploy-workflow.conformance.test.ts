/**
 * The deploy workflow's S3 + SageMaker-create path, run against the sandbox AND against moto: the
 * real ASL (aws-local-stepfunctions), the real handlers, a first deployment of the example
 * repository's SageMaker endpoints (an archive model whose token is a Secrets Manager reference, and
 * a directory model pinned by a manifest). moto makes endpoints InService at once and has no
 * CodeCommit, so the execution starts from a GitHub-shaped input whose snapshot is already in S3
 * (Resolve reuses a snapshot it finds, as it does on a retry).
 */
import assert from 'node:assert/strict';
import { it } from 'node:test';

import { CreateBucketCommand, HeadObjectCommand, PutBucketVersioningCommand, S3Client } from '@aws-sdk/client-s3';
import { DescribeEndpointCommand, DescribeModelCommand, SageMakerClient } from '@aws-sdk/client-sagemaker';
import { resetClients } from '../../lambdas/aws/client-config.ts';
import { logger, useClock } from '../../lambdas/handlers/runtime.ts';
import { memorySource } from '../../lambdas/spec/source.ts';
import type { EndpointState } from '../../lambdas/state/endpoint-state.ts';
import { JsonStore } from '../../lambdas/state/json-store.ts';
import { keys } from '../../lambdas/state/keys.ts';
import { readLedger } from '../../lambdas/state/ledger.ts';
import { captureSnapshot } from '../../lambdas/workflow/snapshot.ts';
import { VirtualClock } from '../../sandbox/clock.ts';
import { EXAMPLE_REPO_DIR, readTree, seedExampleAccount } from '../../sandbox/example-world.ts';
import { DEPLOY_ASL, DEPLOY_FUNCTIONS } from '../../sandbox/pipeline.ts';
import { LocalRunner } from '../../sandbox/runner.ts';
import type { Sandbox } from '../../sandbox/sandbox.ts';
import { createCloudWatchService } from '../../sandbox/services/cloudwatch.ts';
import { createS3Service } from '../../sandbox/services/s3.ts';
import { createSageMakerService } from '../../sandbox/services/sagemaker.ts';
import { createSecretsManagerService } from '../../sandbox/services/secretsmanager.ts';
import {
  type AwsTarget,
  clientConfig,
  describeConformance,
  type SandboxTarget,
  uniqueName,
} from '../support/aws-targets.ts';

const COMMIT = 'c0ffee0000000000000000000000000000000001';

describeConformance(
  'deploy workflow: first deployment (S3 + SageMaker create path)',
  (ctx) => {
    const cloudwatch = createCloudWatchService(ctx);
    return [
      createS3Service(ctx),
      cloudwatch,
      createSageMakerService(ctx, { alarms: cloudwatch }),
      createSecretsManagerService(ctx),
    ];
  },
  (target, name) => {
    it('registers the artifact, creates the endpoint and records it as live', async () => {
      const { endpoint } = target();
      const bucket = uniqueName('ballast-state');
      const prefix = `b${uniqueName('').slice(1, 9)}`;
      const saved = { ...process.env };
      try {
        Object.assign(process.env, {
          AWS_ENDPOINT_URL: endpoint,
          AWS_REGION: 'us-east-1',
          AWS_ACCESS_KEY_ID: 'test',
          AWS_SECRET_ACCESS_KEY: 'test',
          BALLAST_STATE_BUCKET: bucket,
          BALLAST_RESOURCE_PREFIX: prefix,
          BALLAST_SAGEMAKER_ROLE_ARN: 'arn:aws:iam::123456789012:role/ballast-sagemaker',
          // The example's secrets are under acme-ml/ (models/summarizer-llm.yaml).
          BALLAST_SECRET_PREFIX: 'acme-ml/',
        });
        delete process.env.BALLAST_ACCOUNT_ID;
        delete process.env.BALLAST_REGION;
        resetClients();
        logger.setLogLevel('SILENT');
        const clock = (target() as Partial<SandboxTarget>).clock ?? new VirtualClock(1);
        useClock(() => clock.now());

        const s3 = new S3Client(clientConfig(endpoint));
        await s3.send(new CreateBucketCommand({ Bucket: bucket }));
        await s3.send(
          new PutBucketVersioningCommand({ Bucket: bucket, VersioningConfiguration: { Status: 'Enabled' } }),
        );
        const files = await readTree(EXAMPLE_REPO_DIR);
        if (name === 'moto') {
          // moto 5.2.1 validates InstanceType against an outdated list without the g5 family (AWS has
          // offered ml.g5 endpoints since 2022); a GPU type it knows keeps the rest of the path identical.
          for (const path of ['endpoints/summarizer.yaml', 'endpoints/assistant.yaml']) {
            files[path] = (files[path] ?? '').replaceAll(/ml\.g5\.(\d*x?large)/g, 'ml.g4dn.$1');
          }
        }
        await seedExampleAccount(asSandbox(target()), files);
        const store = new JsonStore(s3, bucket);
        await store.putIfAbsent(keys.snapshot(COMMIT), await captureSnapshot(memorySource(files), COMMIT));

        const runner = new LocalRunner(clock, { deploy: { aslPath: DEPLOY_ASL, functions: DEPLOY_FUNCTIONS } });
        const execution = runner.start('deploy', {
          source: 'github',
          push: {
            source: 'github',
            repository: 'acme/model-repo',
            branch: 'main',
            commit: COMMIT,
            pushedBy: 'octocat',
            pushedAt: '2026-03-01T09:00:00.000Z',
            deliveryId: 'delivery-1',
          },
        });
        const output = (await execution.result) as {
          plan?: { items?: Array<{ endpoint: string; outcome: string }> };
        };
        assert.deepEqual(
          output.plan?.items?.map((r) => [r.endpoint, r.outcome]),
          [
            ['assistant', 'deployed'],
            ['summarizer', 'deployed'],
          ],
        );

        const state = (await store.get<EndpointState>(keys.state('prod', 'summarizer')))?.value;
        assert.equal(state?.live?.commit, COMMIT);
        assert.equal(state?.lease, undefined);
        const pointer = (
          await store.get<{ model: { key: string; sha256: string } }>(keys.pointer('prod', 'summarizer', COMMIT))
        )?.value;
        assert.ok(pointer, 'the version pointer was written');
        const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: pointer.model.key }));
        assert.ok((head.ContentLength ?? 0) > 0, 'the artifact was copied to its content-addressed key');
        assert.equal(state?.live?.pointerKey, keys.pointer('prod', 'summarizer', COMMIT), 'live names its pointer');
        assert.deepEqual(
          (await readLedger(store, 'prod', 'summarizer')).map((e) => [e.commit, e.outcome]),
          [[COMMIT, 'deployed']],
        );

        const sagemaker = new SageMakerClient(clientConfig(endpoint));
        const described = await sagemaker.send(
          new DescribeEndpointCommand({ EndpointName: `${prefix}-prod-summarizer` }),
        );
        assert.equal(described.EndpointStatus, 'InService');
        assert.equal(described.EndpointConfigName, state?.live?.endpointConfigName);
        const model = await sagemaker.send(new DescribeModelCommand({ ModelName: described.EndpointConfigName ?? '' }));
        assert.equal(model.PrimaryContainer?.ModelDataUrl, `s3://${bucket}/${pointer.model.key}`);
        assert.match(pointer.model.key, /^artifacts\/sha256\/[0-9a-f]{64}\.tar\.gz$/);
        // The token goes by reference: the ARN the emulator gave the secret, never its value.
        assert.match(
          model.PrimaryContainer?.Environment?.HF_TOKEN_SECRET_ARN ?? '',
          /^arn:aws:secretsmanager:us-east-1:\d{12}:secret:acme-ml\/huggingface-token-\w{6}$/,
        );

        const assistant = await sagemaker.send(
          new DescribeEndpointCommand({ EndpointName: `${prefix}-prod-assistant` }),
        );
        assert.equal(assistant.EndpointStatus, 'InService');
        const llm = await sagemaker.send(new DescribeModelCommand({ ModelName: assistant.EndpointConfigName ?? '' }));
        const source = llm.PrimaryContainer?.ModelDataSource?.S3DataSource;
        assert.equal(source?.S3DataType, 'S3Prefix');
        assert.equal(source?.CompressionType, 'None');
        const directory = /^s3:\/\/([^/]+)\/(artifacts\/directories\/[0-9a-f]{64}\/)$/.exec(source?.S3Uri ?? '');
        assert.ok(directory, `the directory model is served from its pinned prefix (got ${source?.S3Uri})`);
        assert.equal(directory[1], bucket);
        const shard = await s3.send(
          new HeadObjectCommand({ Bucket: bucket, Key: `${directory[2]}model-00001-of-00003.safetensors` }),
        );
        assert.ok((shard.ContentLength ?? 0) > 0, 'each file of the directory was pinned under its prefix');
        assert.match(
          model.PrimaryContainer?.Environment?.BALLAST_PROMPT_SUMMARIZE ?? '',
          /^s3:\/\/.+\/artifacts\/sha256\/[0-9a-f]{64}$/,
        );
        sagemaker.destroy();
        s3.destroy();
      } finally {
        process.env = saved;
        resetClients();
        useClock(() => new Date());
      }
    });
  },
);

/** seedExampleAccount only needs the endpoint URL and region of a sandbox-like target. */
function asSandbox(target: AwsTarget): Sandbox {
  return { url: target.endpoint, region: 'us-east-1' } as Sandbox;
}
