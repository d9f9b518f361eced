// `ballast sandbox`: the acceptance check that the sandbox answers the AWS SDK from another process,
// and flag validation in-process.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { CreateBucketCommand, GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import {
  CreateEndpointCommand,
  CreateEndpointConfigCommand,
  CreateModelCommand,
  DescribeEndpointCommand,
  ListModelsCommand,
  SageMakerClient,
} from '@aws-sdk/client-sagemaker';
import { main } from '../../bin/cli.ts';
import { captureIo, exited, spawnBallast, waitFor } from '../support/cli.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

const capture = () => captureIo({ cwd: ROOT });

const ballast = spawnBallast;

describe('ballast sandbox', () => {
  it('answers the AWS SDK from another process and stops cleanly on SIGINT', { timeout: 60_000 }, async () => {
    const run = ballast(['sandbox', '--port', '0']);
    try {
      const url = await waitFor('the endpoint URL', () => /export AWS_ENDPOINT_URL=(\S+)/.exec(run.stdout())?.[1]);
      assert.match(url, /^http:\/\/127\.0\.0\.1:\d+$/);
      // What a user copies: every variable an SDK or the AWS CLI needs, and the control API.
      for (const line of [
        `export AWS_REGION=us-east-1`,
        'export AWS_ACCESS_KEY_ID=ballast-sandbox',
        'export AWS_SECRET_ACCESS_KEY=ballast-sandbox',
        '/_ballast/health',
        '/_ballast/clock/advance',
        '/_ballast/faults',
      ]) {
        assert.ok(run.stdout().includes(line), `the banner shows ${line}`);
      }
      const health = (await (await fetch(`${url}/_ballast/health`)).json()) as { ok: boolean; timeScale: number };
      assert.deepEqual(health.ok, true);
      assert.equal(health.timeScale, 600);

      const config = {
        endpoint: url,
        region: 'us-east-1',
        credentials: { accessKeyId: 'ballast-sandbox', secretAccessKey: 'ballast-sandbox' },
      };
      const s3 = new S3Client(config);
      const sagemaker = new SageMakerClient(config);
      try {
        await s3.send(new CreateBucketCommand({ Bucket: 'cross-process' }));
        await s3.send(new PutObjectCommand({ Bucket: 'cross-process', Key: 'a/model.tar.gz', Body: 'hello sandbox' }));
        const got = await s3.send(new GetObjectCommand({ Bucket: 'cross-process', Key: 'a/model.tar.gz' }));
        assert.equal(await got.Body?.transformToString(), 'hello sandbox');

        await sagemaker.send(
          new CreateModelCommand({
            ModelName: 'cross-process-model',
            ExecutionRoleArn: 'arn:aws:iam::111122223333:role/ballast-sagemaker-execution',
            PrimaryContainer: {
              Image: '763104351884.dkr.ecr.us-east-1.amazonaws.com/djl-inference:0.31.0-lmi13.0.0-cu124',
              ModelDataUrl: 's3://cross-process/a/model.tar.gz',
            },
          }),
        );
        const models = await sagemaker.send(new ListModelsCommand({}));
        assert.deepEqual(
          models.Models?.map((m) => m.ModelName),
          ['cross-process-model'],
        );

        // An endpoint comes up on the simulated clock (600x: minutes of AWS time in about a second),
        // and the sandbox prints the EventBridge events it emits on the way.
        await sagemaker.send(
          new CreateEndpointConfigCommand({
            EndpointConfigName: 'cross-process-config',
            ProductionVariants: [
              {
                VariantName: 'AllTraffic',
                ModelName: 'cross-process-model',
                InstanceType: 'ml.g5.xlarge',
                InitialInstanceCount: 1,
              },
            ],
          }),
        );
        await sagemaker.send(
          new CreateEndpointCommand({
            EndpointName: 'cross-process-endpoint',
            EndpointConfigName: 'cross-process-config',
          }),
        );
        await waitFor('the endpoint event', () =>
          /SageMaker Endpoint State Change {2}cross-process-endpoint IN_SERVICE\n/.test(run.stdout())
            ? true
            : undefined,
        );
        const endpoint = await sagemaker.send(new DescribeEndpointCommand({ EndpointName: 'cross-process-endpoint' }));
        assert.equal(endpoint.EndpointStatus, 'InService');
      } finally {
        s3.destroy();
        sagemaker.destroy();
      }
      // The calls were answered by the child, not by anything in this process.
      const requests = (await (await fetch(`${url}/_ballast/requests`)).json()) as { counts: Record<string, number> };
      assert.equal(requests.counts['s3:PutObject'], 1);
      assert.equal(requests.counts['sagemaker:CreateModel'], 1);

      run.child.kill('SIGINT');
      const { code, signal } = await exited(run.child);
      assert.equal(signal, null, `exited by itself, not killed (stderr: ${run.stderr()})`);
      assert.equal(code, 0, run.stderr());
      assert.match(run.stdout(), /SIGINT: stopping the sandbox\n$/);
      assert.equal(run.stderr(), '');
      await assert.rejects(fetch(`${url}/_ballast/health`), 'the port is closed');
    } finally {
      if (run.child.exitCode === null && run.child.signalCode === null) run.child.kill('SIGKILL');
    }
  });

  it('says when the port is taken (exit 2)', { timeout: 60_000 }, async () => {
    const first = ballast(['sandbox', '--port', '0', '--quiet']);
    try {
      const url = await waitFor('the endpoint URL', () => /export AWS_ENDPOINT_URL=(\S+)/.exec(first.stdout())?.[1]);
      const port = new URL(url).port;
      const io = capture();
      assert.equal(await main(['sandbox', '--port', port], io), 2);
      assert.match(io.err(), new RegExp(`cannot listen on 127\\.0\\.0\\.1:${port} \\(the port is in use\\)`));
      first.child.kill('SIGTERM');
      assert.deepEqual(await exited(first.child), { code: 0, signal: null });
    } finally {
      if (first.child.exitCode === null && first.child.signalCode === null) first.child.kill('SIGKILL');
    }
  });

  for (const [args, message] of [
    [['--port', '70000'], /--port must be a whole number from 0 to 65535, got '70000'/],
    [['--port', '12.5'], /--port must be a whole number/],
    [['--port'], /--port needs a value/],
    [['--time-scale', '0'], /--time-scale must be a number above 0/],
    [['--time-scale', 'fast'], /--time-scale must be a number above 0/],
    [['--time-scale', '-3'], /--time-scale needs a value; write a value starting with '-' as --time-scale=VALUE/],
    [['--time-scale=-3'], /--time-scale must be a number above 0/],
    [['--account', '123'], /--account must be a 12-digit AWS account ID/],
    [['--region', 'moon'], /--region 'moon' is not an AWS region/],
    [['--bogus'], /unknown option '--bogus'/],
    [['extra'], /unexpected argument 'extra'/],
  ] as const) {
    it(`rejects ${args.join(' ')} with the usage text (exit 2)`, async () => {
      const io = capture();
      assert.equal(await main(['sandbox', ...args], io), 2);
      assert.match(io.err(), message);
      assert.match(io.err(), /Usage: ballast sandbox/);
      assert.equal(io.out(), '');
    });
  }

  it('prints its usage with --help', async () => {
    const io = capture();
    assert.equal(await main(['sandbox', '--help'], io), 0);
    assert.match(io.out(), /^Usage: ballast sandbox \[--port N\] \[--time-scale X\]/);
    assert.match(io.out(), /1 runs in real time/);
  });
});
