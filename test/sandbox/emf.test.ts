/**
 * EMF into the sandbox's CloudWatch: what a handler's Powertools Metrics writes ends up as a
 * datapoint with its dimensions, the way CloudWatch Logs turns EMF into metrics on AWS.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { CloudWatchClient, GetMetricStatisticsCommand } from '@aws-sdk/client-cloudwatch';
import * as z from 'zod/mini';
import { lambdaHandler } from '../../lambdas/runtime/handler.ts';
import { logger, metrics } from '../../lambdas/runtime/powertools.ts';
import { emfSink, emfToMetricData } from '../../sandbox/emf.ts';
import { localLambdaContext } from '../../sandbox/runner.ts';
import { type CloudWatchSandbox, createCloudWatchService } from '../../sandbox/services/cloudwatch.ts';
import { clientConfig, type SandboxTarget, startSandboxTarget, uniqueName } from '../support/aws-targets.ts';

const NOW_MS = Date.parse('2026-03-01T09:00:00.000Z');

describe('emfToMetricData', () => {
  const document = {
    _aws: {
      Timestamp: NOW_MS,
      CloudWatchMetrics: [
        {
          Namespace: 'Ballast',
          Dimensions: [['service', 'endpoint']],
          Metrics: [
            { Name: 'Deployments', Unit: 'Count' },
            { Name: 'RolloutSeconds', Unit: 'Seconds' },
          ],
        },
      ],
    },
    service: 'ballast',
    endpoint: 'summarizer',
    Deployments: 1,
    RolloutSeconds: [600, 660],
  };

  it('makes one datum per metric with the dimension values, the unit and the timestamp in seconds', () => {
    const [input] = emfToMetricData(document);
    assert.deepEqual(input, {
      Namespace: 'Ballast',
      MetricData: [
        {
          MetricName: 'Deployments',
          Dimensions: [
            { Name: 'service', Value: 'ballast' },
            { Name: 'endpoint', Value: 'summarizer' },
          ],
          Timestamp: NOW_MS / 1000,
          Unit: 'Count',
          Value: 1,
        },
        {
          MetricName: 'RolloutSeconds',
          Dimensions: [
            { Name: 'service', Value: 'ballast' },
            { Name: 'endpoint', Value: 'summarizer' },
          ],
          Timestamp: NOW_MS / 1000,
          Unit: 'Seconds',
          Values: [600, 660],
        },
      ],
    });
  });

  it('leaves out a dimension set whose value is missing, as CloudWatch Logs does', () => {
    const { endpoint: _, ...withoutEndpoint } = document;
    assert.deepEqual(emfToMetricData(withoutEndpoint), []);
  });
});

describe("a handler's metric in the sandbox's CloudWatch", () => {
  let target: SandboxTarget;
  let cloudwatch: CloudWatchSandbox;
  let cw: CloudWatchClient;
  const rejected: unknown[] = [];

  before(async () => {
    target = await startSandboxTarget((ctx) => [createCloudWatchService(ctx)]);
    cloudwatch = target.services[0] as CloudWatchSandbox;
    cw = new CloudWatchClient(clientConfig(target.endpoint));
    logger.setLogLevel('SILENT');
    metrics.sendEmfTo(emfSink(cloudwatch, (error) => rejected.push(error)));
  });
  after(async () => {
    metrics.sendEmfTo(undefined);
    cw.destroy();
    await target.stop();
  });

  it('has the datapoint with its dimensions', async () => {
    const endpoint = uniqueName('summarizer');
    const handler = lambdaHandler(z.object({ endpoint: z.string() }), async (input) => {
      metrics.addDimension('endpoint', input.endpoint);
      metrics.addMetric('Deployments', MetricUnit.Count, 1);
    });
    await handler({ endpoint }, localLambdaContext('Record', 'req-1', Date.now() + 60_000));

    const response = await cw.send(
      new GetMetricStatisticsCommand({
        Namespace: 'Ballast',
        MetricName: 'Deployments',
        Dimensions: [
          { Name: 'service', Value: 'ballast' },
          { Name: 'endpoint', Value: endpoint },
        ],
        StartTime: new Date(Date.now() - 3_600_000),
        EndTime: new Date(Date.now() + 3_600_000),
        Period: 60,
        Statistics: ['Sum'],
      }),
    );
    assert.deepEqual(rejected, [], 'the sandbox accepted the EMF');
    assert.deepEqual(
      response.Datapoints?.map((d) => d.Sum),
      [1],
    );
  });
});
