/**
 * The CloudWatch behaviour Ballast relies on (rollback alarms, their states and validation; metrics
 * for drift), run against the sandbox and moto. See test/support/aws-targets.ts for the harness.
 */
import assert from 'node:assert/strict';
import { it } from 'node:test';
import {
  CloudWatchClient,
  CloudWatchServiceException,
  DeleteAlarmsCommand,
  DescribeAlarmsCommand,
  GetMetricDataCommand,
  GetMetricStatisticsCommand,
  ListMetricsCommand,
  ListTagsForResourceCommand,
  PutMetricAlarmCommand,
  type PutMetricAlarmCommandInput,
  PutMetricDataCommand,
  SetAlarmStateCommand,
  TagResourceCommand,
  UntagResourceCommand,
} from '@aws-sdk/client-cloudwatch';
import { createCloudWatchService } from '../../sandbox/services/cloudwatch.ts';
import {
  type AwsTarget,
  clientConfig,
  describeConformance,
  knownDifference,
  uniqueName,
} from '../support/aws-targets.ts';

/** Asserts a CloudWatch error: the SDK's error name, the query error code (`Code`) and the HTTP status. */
async function rejectsWith(
  promise: Promise<unknown>,
  expected: { name: string; code: string; status: number },
): Promise<CloudWatchServiceException> {
  try {
    await promise;
  } catch (error) {
    assert.ok(
      error instanceof CloudWatchServiceException,
      `expected a CloudWatchServiceException, got ${String(error)}`,
    );
    const { Code } = error as CloudWatchServiceException & { Code?: string };
    assert.deepEqual(
      { name: error.name, code: Code, status: error.$metadata.httpStatusCode },
      expected,
      `error (message: ${error.message})`,
    );
    return error;
  }
  assert.fail(`expected ${expected.name}, but the call succeeded`);
}

const MOTO_NO_VALIDATION =
  'moto 5.2.1 accepts any PutMetricAlarm input without validating it; AWS rejects it (https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_PutMetricAlarm.html)';

describeConformance(
  'CloudWatch',
  (ctx) => [createCloudWatchService(ctx)],
  (target: () => AwsTarget, name) => {
    let client: CloudWatchClient | undefined;
    const cw = () => {
      client ??= new CloudWatchClient(clientConfig(target().endpoint));
      return client;
    };
    const alarmInput = (overrides: Partial<PutMetricAlarmCommandInput> = {}): PutMetricAlarmCommandInput => ({
      AlarmName: uniqueName('ballast-5xx'),
      AlarmDescription: 'Invocation 5xx errors of the canary variant',
      Namespace: 'AWS/SageMaker',
      MetricName: 'Invocation5XXErrors',
      Dimensions: [
        { Name: 'EndpointName', Value: 'chat' },
        { Name: 'VariantName', Value: 'canary' },
      ],
      Statistic: 'Sum',
      Period: 60,
      EvaluationPeriods: 2,
      DatapointsToAlarm: 1,
      Threshold: 5,
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
      TreatMissingData: 'notBreaching',
      ...overrides,
    });
    const describe = async (alarmName: string) => {
      const out = await cw().send(new DescribeAlarmsCommand({ AlarmNames: [alarmName] }));
      assert.equal(out.MetricAlarms?.length, 1, `alarm ${alarmName} is described`);
      return out.MetricAlarms?.[0] ?? assert.fail('no alarm');
    };

    it('creates an alarm and describes its configuration', async () => {
      const input = alarmInput();
      await cw().send(new PutMetricAlarmCommand(input));
      const alarm = await describe(input.AlarmName ?? '');
      assert.equal(alarm.AlarmArn, `arn:aws:cloudwatch:us-east-1:123456789012:alarm:${input.AlarmName}`);
      assert.equal(alarm.AlarmDescription, input.AlarmDescription);
      assert.equal(alarm.Namespace, 'AWS/SageMaker');
      assert.equal(alarm.MetricName, 'Invocation5XXErrors');
      assert.deepEqual(alarm.Dimensions, input.Dimensions);
      assert.equal(alarm.Statistic, 'Sum');
      assert.equal(alarm.Period, 60);
      assert.equal(alarm.EvaluationPeriods, 2);
      assert.equal(alarm.DatapointsToAlarm, 1);
      assert.equal(alarm.Threshold, 5);
      assert.equal(alarm.ComparisonOperator, 'GreaterThanOrEqualToThreshold');
      assert.equal(alarm.TreatMissingData, 'notBreaching');
      assert.equal(alarm.ActionsEnabled, true);
      assert.ok(alarm.AlarmConfigurationUpdatedTimestamp instanceof Date);
      assert.ok(alarm.StateUpdatedTimestamp instanceof Date);
    });

    it(
      'starts a new alarm in INSUFFICIENT_DATA',
      knownDifference(name, {
        moto: 'moto 5.2.1 starts new alarms in OK; AWS: "When this operation creates an alarm, the alarm state is immediately set to INSUFFICIENT_DATA" (https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_PutMetricAlarm.html)',
      }),
      async () => {
        const input = alarmInput();
        await cw().send(new PutMetricAlarmCommand(input));
        const alarm = await describe(input.AlarmName ?? '');
        assert.equal(alarm.StateValue, 'INSUFFICIENT_DATA');
        assert.equal(alarm.StateReason, 'Unchecked: Initial alarm creation');
      },
    );

    it('moves an alarm between states with SetAlarmState and filters by StateValue', async () => {
      const input = alarmInput();
      const alarmName = input.AlarmName ?? '';
      await cw().send(new PutMetricAlarmCommand(input));
      await cw().send(
        new SetAlarmStateCommand({ AlarmName: alarmName, StateValue: 'ALARM', StateReason: 'canary broke' }),
      );
      const alarm = await describe(alarmName);
      assert.equal(alarm.StateValue, 'ALARM');
      assert.equal(alarm.StateReason, 'canary broke');
      // (StateValue alone: moto 5.2.1 ignores StateValue when AlarmNamePrefix or AlarmNames is given.)
      const inAlarm = await cw().send(new DescribeAlarmsCommand({ StateValue: 'ALARM' }));
      assert.ok(inAlarm.MetricAlarms?.some((a) => a.AlarmName === alarmName));
      assert.ok(inAlarm.MetricAlarms?.every((a) => a.StateValue === 'ALARM'));
      await cw().send(
        new SetAlarmStateCommand({
          AlarmName: alarmName,
          StateValue: 'OK',
          StateReason: 'recovered',
          StateReasonData: '{"source":"test"}',
        }),
      );
      assert.equal((await describe(alarmName)).StateValue, 'OK');
      const stillAlarm = await cw().send(new DescribeAlarmsCommand({ StateValue: 'ALARM' }));
      assert.ok(!stillAlarm.MetricAlarms?.some((a) => a.AlarmName === alarmName));
    });

    it(
      'combines DescribeAlarms filters (AlarmNamePrefix and StateValue)',
      knownDifference(name, {
        moto: 'moto 5.2.1 ignores StateValue when AlarmNamePrefix is given; AWS applies both filters (https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_DescribeAlarms.html)',
      }),
      async () => {
        const input = alarmInput();
        const alarmName = input.AlarmName ?? '';
        await cw().send(new PutMetricAlarmCommand(input));
        const none = await cw().send(new DescribeAlarmsCommand({ StateValue: 'ALARM', AlarmNamePrefix: alarmName }));
        assert.deepEqual(none.MetricAlarms, []);
        await cw().send(new SetAlarmStateCommand({ AlarmName: alarmName, StateValue: 'ALARM', StateReason: 'x' }));
        const one = await cw().send(new DescribeAlarmsCommand({ StateValue: 'ALARM', AlarmNamePrefix: alarmName }));
        assert.deepEqual(
          one.MetricAlarms?.map((a) => a.AlarmName),
          [alarmName],
        );
      },
    );

    it(
      'keeps the state when an alarm is updated',
      knownDifference(name, {
        moto: 'moto 5.2.1 resets the state to OK when an alarm is updated; AWS: "When you update an existing alarm, its state is left unchanged" (https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_PutMetricAlarm.html)',
      }),
      async () => {
        const input = alarmInput();
        const alarmName = input.AlarmName ?? '';
        await cw().send(new PutMetricAlarmCommand(input));
        await cw().send(new SetAlarmStateCommand({ AlarmName: alarmName, StateValue: 'ALARM', StateReason: 'manual' }));
        await cw().send(new PutMetricAlarmCommand({ ...input, Threshold: 50 }));
        const alarm = await describe(alarmName);
        assert.equal(alarm.Threshold, 50);
        assert.equal(alarm.StateValue, 'ALARM');
      },
    );

    it('rejects SetAlarmState for a missing alarm (ResourceNotFound, 404)', async () => {
      await rejectsWith(
        cw().send(
          new SetAlarmStateCommand({ AlarmName: uniqueName('missing'), StateValue: 'ALARM', StateReason: 'x' }),
        ),
        { name: 'ResourceNotFound', code: 'ResourceNotFound', status: 404 },
      );
    });

    it('rejects an unknown state value (ValidationError)', async () => {
      const input = alarmInput();
      await cw().send(new PutMetricAlarmCommand(input));
      const error = await rejectsWith(
        cw().send(
          new SetAlarmStateCommand({
            AlarmName: input.AlarmName,
            StateValue: 'BROKEN' as 'ALARM',
            StateReason: 'x',
          }),
        ),
        { name: 'ValidationException', code: 'ValidationError', status: 400 },
      );
      assert.match(error.message, /Member must satisfy enum value set: \[INSUFFICIENT_DATA, ALARM, OK\]/);
    });

    it(
      'finds alarms by name prefix and pages through them with MaxRecords',
      knownDifference(name, {
        moto: 'moto 5.2.1 ignores MaxRecords and returns every alarm at once; AWS pages (https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_DescribeAlarms.html, MaxRecords/NextToken)',
      }),
      async () => {
        const prefix = uniqueName('page');
        for (const suffix of ['a', 'b', 'c', 'd', 'e']) {
          await cw().send(new PutMetricAlarmCommand(alarmInput({ AlarmName: `${prefix}-${suffix}` })));
        }
        const seen: string[] = [];
        let token: string | undefined;
        let pages = 0;
        do {
          const out = await cw().send(
            new DescribeAlarmsCommand({ AlarmNamePrefix: prefix, MaxRecords: 2, NextToken: token }),
          );
          pages++;
          for (const alarm of out.MetricAlarms ?? []) seen.push(alarm.AlarmName ?? '');
          token = out.NextToken;
        } while (token && pages < 10);
        assert.deepEqual(
          seen,
          ['a', 'b', 'c', 'd', 'e'].map((s) => `${prefix}-${s}`),
        );
        assert.equal(pages, 3);
      },
    );

    it('deletes alarms, ignoring names that do not exist', async () => {
      const input = alarmInput();
      await cw().send(new PutMetricAlarmCommand(input));
      await cw().send(new DeleteAlarmsCommand({ AlarmNames: [input.AlarmName ?? '', uniqueName('never-existed')] }));
      const out = await cw().send(new DescribeAlarmsCommand({ AlarmNames: [input.AlarmName ?? ''] }));
      assert.deepEqual(out.MetricAlarms, []);
    });

    it('stores and lists alarm tags', async () => {
      const input = alarmInput({ Tags: [{ Key: 'ballast:endpoint', Value: 'chat' }] });
      await cw().send(new PutMetricAlarmCommand(input));
      const arn = (await describe(input.AlarmName ?? '')).AlarmArn;
      await cw().send(new TagResourceCommand({ ResourceARN: arn, Tags: [{ Key: 'team', Value: 'ml' }] }));
      await cw().send(new UntagResourceCommand({ ResourceARN: arn, TagKeys: ['ballast:endpoint'] }));
      const tags = await cw().send(new ListTagsForResourceCommand({ ResourceARN: arn }));
      assert.deepEqual(tags.Tags, [{ Key: 'team', Value: 'ml' }]);
    });

    it('stores metric data and aggregates it with GetMetricStatistics', async () => {
      const namespace = uniqueName('Ballast');
      const dimensions = [{ Name: 'Endpoint', Value: 'chat' }];
      const start = new Date(Math.floor(Date.now() / 60_000) * 60_000 - 120_000);
      const at = new Date(start.getTime() + 60_000 + 5_000);
      await cw().send(
        new PutMetricDataCommand({
          Namespace: namespace,
          MetricData: [
            { MetricName: 'Drift', Dimensions: dimensions, Timestamp: at, Value: 2, Unit: 'Count' },
            { MetricName: 'Drift', Dimensions: dimensions, Timestamp: at, Value: 4, Unit: 'Count' },
            {
              MetricName: 'Drift',
              Dimensions: dimensions,
              Timestamp: at,
              Values: [1, 3],
              Counts: [1, 2],
              Unit: 'Count',
            },
          ],
        }),
      );
      const stats = await cw().send(
        new GetMetricStatisticsCommand({
          Namespace: namespace,
          MetricName: 'Drift',
          Dimensions: dimensions,
          StartTime: start,
          EndTime: new Date(start.getTime() + 180_000),
          Period: 60,
          Statistics: ['Sum', 'Maximum', 'Minimum', 'SampleCount', 'Average'],
        }),
      );
      assert.equal(stats.Label, 'Drift');
      assert.equal(stats.Datapoints?.length, 1);
      const point = stats.Datapoints?.[0];
      assert.equal(point?.Sum, 2 + 4 + 1 + 3 * 2);
      assert.equal(point?.SampleCount, 5);
      assert.equal(point?.Maximum, 4);
      assert.equal(point?.Minimum, 1);
      assert.equal(point?.Average, 13 / 5);

      const metrics = await cw().send(new ListMetricsCommand({ Namespace: namespace }));
      assert.deepEqual(
        metrics.Metrics?.map((m) => [m.MetricName, m.Dimensions]),
        [['Drift', dimensions]],
      );
    });

    it(
      'matches a metric by all its dimensions: a subset of them names another metric, with no data',
      knownDifference(name, {
        moto: 'moto 5.2.1 returns the data of every metric whose dimensions include the queried ones; AWS: "If a specific combination of dimensions was not published, you can\'t retrieve statistics for it" (https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_GetMetricStatistics.html, Dimensions)',
      }),
      async () => {
        // "CloudWatch treats each unique combination of dimensions as a separate metric. If a specific
        // combination of dimensions was not published, you can't retrieve statistics for it."
        // https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_GetMetricStatistics.html
        // SageMaker publishes its invocation metrics per EndpointName and VariantName: an alarm on
        // EndpointName alone watches a metric that never gets data.
        const namespace = uniqueName('Ballast');
        const variant = [
          { Name: 'EndpointName', Value: 'chat' },
          { Name: 'VariantName', Value: 'AllTraffic' },
        ];
        const minute = Math.floor(Date.now() / 60_000) * 60_000 - 60_000;
        await cw().send(
          new PutMetricDataCommand({
            Namespace: namespace,
            MetricData: [{ MetricName: 'Errors', Dimensions: variant, Timestamp: new Date(minute), Value: 7 }],
          }),
        );
        const sum = async (dimensions: typeof variant) =>
          (
            await cw().send(
              new GetMetricStatisticsCommand({
                Namespace: namespace,
                MetricName: 'Errors',
                Dimensions: dimensions,
                StartTime: new Date(minute - 60_000),
                EndTime: new Date(minute + 120_000),
                Period: 60,
                Statistics: ['Sum'],
              }),
            )
          ).Datapoints?.map((p) => p.Sum);
        assert.deepEqual(await sum(variant), [7], 'the published combination has the datum');
        assert.deepEqual(await sum([{ Name: 'EndpointName', Value: 'chat' }]), [], 'EndpointName alone has none');
      },
    );

    it(
      'labels each GetMetricStatistics datapoint with the start of its period',
      knownDifference(name, {
        moto: "moto 5.2.1 labels a datapoint with its first sample's timestamp; AWS aggregates into periods counted from the rounded StartTime (https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_GetMetricStatistics.html, StartTime)",
      }),
      async () => {
        const namespace = uniqueName('Ballast');
        const start = new Date(Math.floor(Date.now() / 60_000) * 60_000 - 300_000);
        await cw().send(
          new PutMetricDataCommand({
            Namespace: namespace,
            MetricData: [
              { MetricName: 'M', Timestamp: new Date(start.getTime() + 65_000), Value: 1 },
              { MetricName: 'M', Timestamp: new Date(start.getTime() + 250_000), Value: 3 },
            ],
          }),
        );
        const stats = await cw().send(
          new GetMetricStatisticsCommand({
            Namespace: namespace,
            MetricName: 'M',
            // Rounded down to the minute: periods start at `start`.
            StartTime: new Date(start.getTime() + 20_000),
            EndTime: new Date(start.getTime() + 300_000),
            Period: 120,
            Statistics: ['Sum'],
          }),
        );
        const points = (stats.Datapoints ?? [])
          .map((p) => [p.Timestamp?.getTime(), p.Sum])
          .sort((a, b) => Number(a[0]) - Number(b[0]));
        assert.deepEqual(points, [
          [start.getTime(), 1],
          [start.getTime() + 240_000, 3],
        ]);
      },
    );

    it('answers GetMetricData queries', async () => {
      const namespace = uniqueName('Ballast');
      const start = new Date(Math.floor(Date.now() / 60_000) * 60_000 - 180_000);
      await cw().send(
        new PutMetricDataCommand({
          Namespace: namespace,
          MetricData: [
            { MetricName: 'Latency', Timestamp: new Date(start.getTime() + 10_000), Value: 10 },
            { MetricName: 'Latency', Timestamp: new Date(start.getTime() + 20_000), Value: 30 },
            { MetricName: 'Latency', Timestamp: new Date(start.getTime() + 70_000), Value: 50 },
          ],
        }),
      );
      const out = await cw().send(
        new GetMetricDataCommand({
          StartTime: start,
          EndTime: new Date(start.getTime() + 180_000),
          ScanBy: 'TimestampAscending',
          MetricDataQueries: [
            {
              Id: 'avg',
              MetricStat: { Metric: { Namespace: namespace, MetricName: 'Latency' }, Period: 60, Stat: 'Average' },
            },
          ],
        }),
      );
      const result = out.MetricDataResults?.[0];
      assert.equal(result?.Id, 'avg');
      assert.equal(result?.StatusCode, 'Complete');
      assert.deepEqual(result?.Values, [20, 50]);
      assert.deepEqual(
        result?.Timestamps?.map((t) => t.getTime()),
        [start.getTime(), start.getTime() + 60_000],
      );
    });

    it('rejects Value together with StatisticValues (InvalidParameterCombination)', async () => {
      await rejectsWith(
        cw().send(
          new PutMetricDataCommand({
            Namespace: uniqueName('Ballast'),
            MetricData: [
              {
                MetricName: 'M',
                Value: 1,
                StatisticValues: { SampleCount: 1, Sum: 1, Minimum: 1, Maximum: 1 },
              },
            ],
          }),
        ),
        { name: 'InvalidParameterCombinationException', code: 'InvalidParameterCombination', status: 400 },
      );
    });

    it(
      'rejects an unknown comparison operator (ValidationError)',
      knownDifference(name, { moto: MOTO_NO_VALIDATION }),
      async () => {
        const error = await rejectsWith(
          cw().send(new PutMetricAlarmCommand(alarmInput({ ComparisonOperator: 'Bigger' as 'GreaterThanThreshold' }))),
          { name: 'ValidationException', code: 'ValidationError', status: 400 },
        );
        assert.match(
          error.message,
          /at 'comparisonOperator' failed to satisfy constraint: Member must satisfy enum value set/,
        );
      },
    );

    it(
      'rejects an unknown statistic (ValidationError)',
      knownDifference(name, { moto: MOTO_NO_VALIDATION }),
      async () => {
        await rejectsWith(cw().send(new PutMetricAlarmCommand(alarmInput({ Statistic: 'Median' as 'Sum' }))), {
          name: 'ValidationException',
          code: 'ValidationError',
          status: 400,
        });
      },
    );

    it(
      'rejects EvaluationPeriods below 1 (ValidationError)',
      knownDifference(name, { moto: MOTO_NO_VALIDATION }),
      async () => {
        const error = await rejectsWith(
          cw().send(new PutMetricAlarmCommand(alarmInput({ EvaluationPeriods: 0, DatapointsToAlarm: undefined }))),
          { name: 'ValidationException', code: 'ValidationError', status: 400 },
        );
        assert.match(error.message, /Value '0' at 'evaluationPeriods' failed to satisfy constraint/);
      },
    );

    it(
      'rejects a Period that is not 10, 20, 30 or a multiple of 60 (ValidationError)',
      knownDifference(name, { moto: MOTO_NO_VALIDATION }),
      async () => {
        await rejectsWith(cw().send(new PutMetricAlarmCommand(alarmInput({ Period: 45 }))), {
          name: 'ValidationException',
          code: 'ValidationError',
          status: 400,
        });
      },
    );

    it(
      'rejects an evaluation range longer than one day for sub-hour periods (ValidationError)',
      knownDifference(name, { moto: MOTO_NO_VALIDATION }),
      async () => {
        await rejectsWith(
          cw().send(
            new PutMetricAlarmCommand(alarmInput({ Period: 60, EvaluationPeriods: 1441, DatapointsToAlarm: 1 })),
          ),
          { name: 'ValidationException', code: 'ValidationError', status: 400 },
        );
      },
    );

    it(
      'rejects a missing AlarmName (ValidationError)',
      knownDifference(name, { moto: MOTO_NO_VALIDATION }),
      async () => {
        const error = await rejectsWith(cw().send(new PutMetricAlarmCommand(alarmInput({ AlarmName: undefined }))), {
          name: 'ValidationException',
          code: 'ValidationError',
          status: 400,
        });
        assert.match(error.message, /Value null at 'alarmName' failed to satisfy constraint: Member must not be null/);
      },
    );

    it(
      'rejects DatapointsToAlarm greater than EvaluationPeriods (ValidationError)',
      knownDifference(name, { moto: MOTO_NO_VALIDATION }),
      async () => {
        await rejectsWith(
          cw().send(new PutMetricAlarmCommand(alarmInput({ EvaluationPeriods: 2, DatapointsToAlarm: 3 }))),
          { name: 'ValidationException', code: 'ValidationError', status: 400 },
        );
      },
    );
  },
);
