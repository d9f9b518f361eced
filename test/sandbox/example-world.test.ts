/**
 * The alarms a local account is seeded with (seedExampleAccount, and `ballast local` through the same
 * seededAlarmInput) watch exactly what SageMaker publishes, so they fire from a failing model's metrics.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DescribeAlarmsCommand } from '@aws-sdk/client-cloudwatch';
import { CreateBucketCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { CreateEndpointCommand, CreateEndpointConfigCommand, CreateModelCommand } from '@aws-sdk/client-sagemaker';
import {
  EXAMPLE_REPO_DIR,
  readTree,
  sandboxClients,
  seedExampleAccount,
  seededVariantName,
} from '../../sandbox/example-world.ts';
import { startSandbox } from '../../sandbox/sandbox.ts';
import { DEFAULT_TIMINGS } from '../../sandbox/services/sagemaker.ts';

describe('example account seeding', () => {
  it('seeds alarms on the metrics SageMaker publishes, per endpoint and variant, and they fire from metrics', async () => {
    // Simulated time moves only when the test moves it (and in real time between), not 600x by itself.
    const sandbox = await startSandbox({ timeScale: 1 });
    const clients = sandboxClients(sandbox);
    try {
      await seedExampleAccount(sandbox, await readTree(EXAMPLE_REPO_DIR));
      const described = await clients.cloudwatch.send(
        new DescribeAlarmsCommand({ AlarmNames: ['summarizer-5xx', 'summarizer-p99-latency'] }),
      );
      const alarms = new Map((described.MetricAlarms ?? []).map((a) => [a.AlarmName, a]));
      const errors = alarms.get('summarizer-5xx');
      assert.deepEqual(
        errors && [errors.Namespace, errors.MetricName, errors.Statistic, errors.Period, errors.Threshold],
        ['AWS/SageMaker', 'Invocation5XXErrors', 'Sum', 60, 5],
      );
      assert.deepEqual(errors?.Dimensions, [
        { Name: 'EndpointName', Value: 'ballast-prod-summarizer' },
        { Name: 'VariantName', Value: 'AllTraffic' },
      ]);
      assert.equal(errors?.TreatMissingData, 'notBreaching');
      const latency = alarms.get('summarizer-p99-latency');
      assert.deepEqual(latency && [latency.MetricName, latency.ExtendedStatistic, latency.Threshold], [
        'ModelLatency',
        'p99',
        2_000_000,
      ]);
      assert.deepEqual(latency?.Dimensions, errors?.Dimensions);

      // Prod's summarizer endpoint, as Deploy would name it, running a model that fails every request.
      await clients.s3.send(new CreateBucketCommand({ Bucket: 'seeding-test' }));
      await clients.s3.send(new PutObjectCommand({ Bucket: 'seeding-test', Key: 'model.tar.gz', Body: 'weights' }));
      await clients.sagemaker.send(
        new CreateModelCommand({
          ModelName: 'broken',
          ExecutionRoleArn: `arn:aws:iam::${sandbox.account}:role/SageMakerExecution`,
          PrimaryContainer: {
            Image: `${sandbox.account}.dkr.ecr.${sandbox.region}.amazonaws.com/llm:v2`,
            ModelDataUrl: 's3://seeding-test/model.tar.gz',
            Environment: { SANDBOX_ERROR_RATE: '1' },
          },
        }),
      );
      await clients.sagemaker.send(
        new CreateEndpointConfigCommand({
          EndpointConfigName: 'broken-config',
          ProductionVariants: [
            { VariantName: 'AllTraffic', ModelName: 'broken', InstanceType: 'ml.g5.2xlarge', InitialInstanceCount: 1 },
          ],
        }),
      );
      await clients.sagemaker.send(
        new CreateEndpointCommand({ EndpointName: 'ballast-prod-summarizer', EndpointConfigName: 'broken-config' }),
      );
      sandbox.clock.advance(DEFAULT_TIMINGS.createMs);
      assert.equal(sandbox.sagemaker.endpoint('ballast-prod-summarizer')?.status, 'InService');
      sandbox.sagemaker.setLoad('ballast-prod-summarizer', 60);
      sandbox.clock.advance(3 * 60_000);
      assert.equal(sandbox.cloudwatch.alarmState('summarizer-5xx'), 'ALARM');
      const fired = sandbox.events
        .events()
        .filter((e) => e['detail-type'] === 'CloudWatch Alarm State Change')
        .map((e) => e.detail as { alarmName: string; state: { value: string } });
      assert.ok(fired.length > 0, 'alarm state change events were emitted');
      assert.ok(fired.some((d) => d.alarmName === 'summarizer-5xx' && d.state.value === 'ALARM'));
      assert.equal(sandbox.cloudwatch.alarmState('summarizer-p99-latency'), 'OK', 'the model is not slow');
    } finally {
      for (const client of Object.values(clients)) client.destroy();
      await sandbox.stop();
    }
  });

  it("names the variant as Deploy does: the Endpoint's own, else ballast.yaml's default, else AllTraffic", () => {
    const endpoint = (variantName?: string) => ({
      spec: { target: { sagemaker: variantName ? { variantName } : { instanceType: 'ml.g5.xlarge' } } },
    });
    const repository = { spec: { defaults: { sagemaker: { variantName: 'Primary' } } } };
    assert.equal(seededVariantName(endpoint('Blue'), repository), 'Blue');
    assert.equal(seededVariantName(endpoint(), repository), 'Primary');
    assert.equal(seededVariantName(endpoint(), undefined), 'AllTraffic');
    assert.equal(seededVariantName(undefined, { spec: { defaults: null } }), 'AllTraffic');
  });
});
