/**
 * Sandbox-only CloudWatch behaviour: alarm state history in simulated time (the AlarmStateReader the
 * SageMaker sandbox uses), EventBridge events, metric-driven alarm evaluation, faults and wire details.
 * The AWS behaviour Ballast relies on is in test/conformance/cloudwatch.conformance.test.ts.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  CloudWatchClient,
  DeleteAlarmsCommand,
  DescribeAlarmHistoryCommand,
  DescribeAlarmsCommand,
  GetMetricStatisticsCommand,
  PutMetricAlarmCommand,
  type PutMetricAlarmCommandInput,
  PutMetricDataCommand,
  SetAlarmStateCommand,
} from '@aws-sdk/client-cloudwatch';
import type { EventBridgeEvent } from '../../sandbox/events.ts';
import { type CloudWatchSandbox, createCloudWatchService } from '../../sandbox/services/cloudwatch.ts';
import { clientConfig, type SandboxTarget, startSandboxTarget, uniqueName } from '../support/aws-targets.ts';

/** The `detail` of a "CloudWatch Alarm State Change" event. */
interface StateChangeDetail {
  readonly alarmName: string;
  readonly state: { value: string; reason: string; reasonData?: string; timestamp: string };
  readonly previousState: { value: string; reason: string; timestamp: string };
  readonly configuration: { description?: string; metrics: Array<{ metricStat?: unknown; returnData: boolean }> };
}

const stateDetail = (event: EventBridgeEvent | undefined) => event?.detail as unknown as StateChangeDetail | undefined;

describe('CloudWatch sandbox service', () => {
  let target: SandboxTarget;
  let cw: CloudWatchClient;
  let service: CloudWatchSandbox;

  before(async () => {
    target = await startSandboxTarget((ctx) => [createCloudWatchService(ctx)]);
    cw = new CloudWatchClient(clientConfig(target.endpoint));
    service = target.services[0] as CloudWatchSandbox;
  });
  after(async () => {
    await target.stop();
  });

  const alarm = (overrides: Partial<PutMetricAlarmCommandInput> = {}): PutMetricAlarmCommandInput => ({
    AlarmName: uniqueName('alarm'),
    Namespace: uniqueName('Ballast'),
    MetricName: 'Errors',
    Dimensions: [{ Name: 'EndpointName', Value: 'chat' }],
    Statistic: 'Sum',
    Period: 60,
    EvaluationPeriods: 1,
    Threshold: 5,
    ComparisonOperator: 'GreaterThanOrEqualToThreshold',
    ...overrides,
  });
  const stateOf = async (name: string) =>
    (await cw.send(new DescribeAlarmsCommand({ AlarmNames: [name] }))).MetricAlarms?.[0]?.StateValue;
  const eventsFor = (name: string, detailType = 'CloudWatch Alarm State Change') =>
    target.events
      .events()
      .filter((e) => e['detail-type'] === detailType && (e.detail as { alarmName?: string }).alarmName === name);

  it('records state transitions in simulated time and answers wasInAlarm for any window', async () => {
    const input = alarm();
    const name = input.AlarmName ?? '';
    await cw.send(new PutMetricAlarmCommand(input));
    assert.equal(service.exists(name), true);
    assert.equal(service.exists(uniqueName('nope')), false);
    target.clock.advance(60_000);
    await cw.send(new SetAlarmStateCommand({ AlarmName: name, StateValue: 'ALARM', StateReason: 'bad canary' }));
    target.clock.advance(60_000);
    await cw.send(new SetAlarmStateCommand({ AlarmName: name, StateValue: 'OK', StateReason: 'recovered' }));
    const history = service.stateHistory(name);
    assert.deepEqual(
      history.map((t) => t.value),
      ['INSUFFICIENT_DATA', 'ALARM', 'OK'],
    );
    const [created, alarmed, recovered] = history.map((t) => t.atMs) as [number, number, number];
    assert.ok(alarmed - created >= 60_000 && recovered - alarmed >= 60_000);
    assert.equal(service.wasInAlarm(name, created, created + 30_000), false);
    assert.equal(service.wasInAlarm(name, created, alarmed), true);
    assert.equal(service.wasInAlarm(name, alarmed + 1, recovered - 1), true);
    assert.equal(service.wasInAlarm(name, recovered + 1, recovered + 60_000), false);
    assert.equal(service.wasInAlarm(uniqueName('nope'), 0, Date.now() * 2), false);
    assert.equal(service.alarmState(name), 'OK');
  });

  it('counts an ALARM that lasted no time at all', async () => {
    const input = alarm();
    const name = input.AlarmName ?? '';
    await cw.send(new PutMetricAlarmCommand(input));
    const before = target.clock.nowMs();
    await cw.send(new SetAlarmStateCommand({ AlarmName: name, StateValue: 'ALARM', StateReason: 'blip' }));
    await cw.send(new SetAlarmStateCommand({ AlarmName: name, StateValue: 'OK', StateReason: 'gone' }));
    assert.equal(service.wasInAlarm(name, before, target.clock.nowMs()), true);
  });

  it('emits "CloudWatch Alarm State Change" events with AWS detail shape, only on transitions', async () => {
    const input = alarm({ AlarmDescription: 'canary 5xx' });
    const name = input.AlarmName ?? '';
    const received: EventBridgeEvent[] = [];
    const unsubscribe = target.events.subscribe(
      {
        source: ['aws.cloudwatch'],
        'detail-type': ['CloudWatch Alarm State Change'],
        detail: { state: { value: ['ALARM'] } },
      },
      (event) => received.push(event),
    );
    await cw.send(new PutMetricAlarmCommand(input));
    await cw.send(
      new SetAlarmStateCommand({
        AlarmName: name,
        StateValue: 'ALARM',
        StateReason: 'bad',
        StateReasonData: '{"a":1}',
      }),
    );
    await cw.send(new SetAlarmStateCommand({ AlarmName: name, StateValue: 'ALARM', StateReason: 'still bad' }));
    await new Promise((resolve) => setImmediate(resolve));
    unsubscribe();

    const events = eventsFor(name);
    assert.equal(events.length, 1, 'a repeated state is not a transition');
    const [event] = events as [EventBridgeEvent];
    assert.equal(event.source, 'aws.cloudwatch');
    assert.equal(event.account, '123456789012');
    assert.equal(event.region, 'us-east-1');
    assert.deepEqual(event.resources, [`arn:aws:cloudwatch:us-east-1:123456789012:alarm:${name}`]);
    const detail = stateDetail(event) ?? assert.fail('no detail');
    assert.equal(detail.alarmName, name);
    assert.equal(detail.state.value, 'ALARM');
    assert.equal(detail.state.reason, 'bad');
    assert.equal(detail.state.reasonData, '{"a":1}');
    assert.match(detail.state.timestamp, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+0000$/);
    assert.equal(detail.previousState.value, 'INSUFFICIENT_DATA');
    assert.equal(detail.previousState.reason, 'Unchecked: Initial alarm creation');
    assert.equal(detail.configuration.description, 'canary 5xx');
    assert.deepEqual(detail.configuration.metrics[0]?.metricStat, {
      metric: { dimensions: { EndpointName: 'chat' }, name: 'Errors', namespace: input.Namespace },
      period: 60,
      stat: 'Sum',
    });
    assert.equal(detail.configuration.metrics[0]?.returnData, true);
    assert.deepEqual(received, [event], 'subscribers with an EventBridge pattern receive it');
  });

  it('emits configuration change events on create, update and delete', async () => {
    const input = alarm();
    const name = input.AlarmName ?? '';
    await cw.send(new PutMetricAlarmCommand(input));
    await cw.send(new PutMetricAlarmCommand({ ...input, Threshold: 9 }));
    await cw.send(new DeleteAlarmsCommand({ AlarmNames: [name] }));
    assert.deepEqual(
      eventsFor(name, 'CloudWatch Alarm Configuration Change').map(
        (e) => (e.detail as { operation: string }).operation,
      ),
      ['create', 'update', 'delete'],
    );
    assert.equal(service.exists(name), false);
    assert.deepEqual(service.stateHistory(name), []);
  });

  it('evaluates alarms against PutMetricData datapoints', async () => {
    const input = alarm();
    const name = input.AlarmName ?? '';
    await cw.send(new PutMetricAlarmCommand(input));
    const datum = { MetricName: 'Errors', Dimensions: input.Dimensions };
    await cw.send(new PutMetricDataCommand({ Namespace: input.Namespace, MetricData: [{ ...datum, Value: 7 }] }));
    const alarmed = (await cw.send(new DescribeAlarmsCommand({ AlarmNames: [name] }))).MetricAlarms?.[0];
    assert.equal(alarmed?.StateValue, 'ALARM');
    assert.match(
      alarmed?.StateReason ?? '',
      /^Threshold Crossed: 1 out of the last 1 datapoints \[7\.0 \(\d\d\/\d\d\/\d\d \d\d:\d\d:\d\d\)\] was greater than or equal to the threshold \(5\.0\) \(minimum 1 datapoint for INSUFFICIENT_DATA -> ALARM transition\)\.$/,
    );
    const reasonData = JSON.parse(alarmed?.StateReasonData ?? '{}') as Record<string, unknown>;
    assert.deepEqual(reasonData.recentDatapoints, [7]);
    assert.equal(reasonData.statistic, 'Sum');
    assert.equal(reasonData.threshold, 5);
    assert.equal(stateDetail(eventsFor(name).at(-1))?.state.value, 'ALARM');

    // Two periods later there is no data at all: with TreatMissingData "missing", INSUFFICIENT_DATA.
    target.clock.advance(180_000);
    assert.equal(await stateOf(name), 'INSUFFICIENT_DATA');
    await cw.send(new PutMetricDataCommand({ Namespace: input.Namespace, MetricData: [{ ...datum, Value: 1 }] }));
    assert.equal(await stateOf(name), 'OK');
    assert.match(
      (await cw.send(new DescribeAlarmsCommand({ AlarmNames: [name] }))).MetricAlarms?.[0]?.StateReason ?? '',
      /was not greater than or equal to the threshold \(5\.0\)/,
    );
  });

  it('applies DatapointsToAlarm (M out of N) and TreatMissingData', async () => {
    const input = alarm({ EvaluationPeriods: 3, DatapointsToAlarm: 2, TreatMissingData: 'notBreaching' });
    const name = input.AlarmName ?? '';
    await cw.send(new PutMetricAlarmCommand(input));
    const now = target.clock.nowMs();
    const datum = { MetricName: 'Errors', Dimensions: input.Dimensions };
    await cw.send(
      new PutMetricDataCommand({
        Namespace: input.Namespace,
        MetricData: [{ ...datum, Value: 9, Timestamp: new Date(now - 120_000) }],
      }),
    );
    assert.equal(await stateOf(name), 'OK', 'one breaching period of three is not enough');
    await cw.send(
      new PutMetricDataCommand({
        Namespace: input.Namespace,
        MetricData: [{ ...datum, Value: 6, Timestamp: new Date(now) }],
      }),
    );
    assert.equal(await stateOf(name), 'ALARM');
    // Long after the data stops, notBreaching treats the missing periods as good.
    target.clock.advance(600_000);
    assert.equal(await stateOf(name), 'OK');
  });

  it('leaves alarms whose metric never received data under manual control', async () => {
    const input = alarm();
    const name = input.AlarmName ?? '';
    await cw.send(new PutMetricAlarmCommand(input));
    await cw.send(new SetAlarmStateCommand({ AlarmName: name, StateValue: 'ALARM', StateReason: 'demo' }));
    target.clock.advance(3_600_000);
    assert.equal(await stateOf(name), 'ALARM');
  });

  it('retries injected CloudWatch throttling (Throttling, 400) with the SDK default retry strategy', async () => {
    target.faults.add({ service: 'monitoring', operation: 'DescribeAlarms', kind: 'throttle', times: 1 });
    await assert.rejects(
      cw.send(new DescribeAlarmsCommand({})),
      (error: Error & { $metadata?: { httpStatusCode?: number } }) => {
        assert.equal(error.name, 'Throttling');
        assert.equal(error.$metadata?.httpStatusCode, 400);
        return true;
      },
    );
    target.faults.add({ service: 'monitoring', operation: 'DescribeAlarms', kind: 'throttle', times: 1 });
    const retrying = new CloudWatchClient({ ...clientConfig(target.endpoint), maxAttempts: undefined });
    const out = await retrying.send(new DescribeAlarmsCommand({}));
    assert.equal(out.$metadata.attempts, 2);
  });

  it('answers errors with the shape id in __type and the query code in x-amzn-query-error', async () => {
    const response = await fetch(target.endpoint, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-amz-json-1.0',
        'x-amz-target': 'GraniteServiceVersion20100801.SetAlarmState',
        'x-amzn-query-mode': 'true',
      },
      body: JSON.stringify({ AlarmName: uniqueName('missing'), StateValue: 'ALARM', StateReason: 'x' }),
    });
    assert.equal(response.status, 404);
    assert.equal(response.headers.get('x-amzn-query-error'), 'ResourceNotFound;Sender');
    const body = (await response.json()) as Record<string, unknown>;
    assert.equal(body.__type, 'com.amazonaws.cloudwatch#ResourceNotFound');
  });

  it('accepts gzip-compressed PutMetricData bodies', async () => {
    const namespace = uniqueName('Ballast');
    const compressing = new CloudWatchClient({ ...clientConfig(target.endpoint), requestMinCompressionSizeBytes: 0 });
    const start = new Date(Math.floor(target.clock.nowMs() / 60_000) * 60_000);
    await compressing.send(
      new PutMetricDataCommand({
        Namespace: namespace,
        MetricData: Array.from({ length: 50 }, (_, i) => ({ MetricName: 'Hits', Value: i, Timestamp: start })),
      }),
    );
    const stats = await cw.send(
      new GetMetricStatisticsCommand({
        Namespace: namespace,
        MetricName: 'Hits',
        StartTime: start,
        EndTime: new Date(start.getTime() + 60_000),
        Period: 60,
        Statistics: ['SampleCount', 'Sum'],
      }),
    );
    assert.equal(stats.Datapoints?.[0]?.SampleCount, 50);
    assert.equal(stats.Datapoints?.[0]?.Sum, (49 * 50) / 2);
  });

  it('computes percentiles from raw values', async () => {
    const namespace = uniqueName('Ballast');
    const start = new Date(Math.floor(target.clock.nowMs() / 60_000) * 60_000);
    await cw.send(
      new PutMetricDataCommand({
        Namespace: namespace,
        MetricData: [{ MetricName: 'Latency', Values: Array.from({ length: 100 }, (_, i) => i + 1), Timestamp: start }],
      }),
    );
    const stats = await cw.send(
      new GetMetricStatisticsCommand({
        Namespace: namespace,
        MetricName: 'Latency',
        StartTime: start,
        EndTime: new Date(start.getTime() + 60_000),
        Period: 60,
        ExtendedStatistics: ['p50', 'p99'],
      }),
    );
    assert.deepEqual(stats.Datapoints?.[0]?.ExtendedStatistics, { p50: 50, p99: 99 });
  });

  it("refuses PutMetricData into an AWS/ namespace over the wire but takes it from the sandbox's own services", async () => {
    const namespace = 'AWS/SageMaker';
    const dimensions = [{ Name: 'EndpointName', Value: uniqueName('ep') }];
    await assert.rejects(
      cw.send(
        new PutMetricDataCommand({
          Namespace: namespace,
          MetricData: [{ MetricName: 'Invocations', Dimensions: dimensions, Value: 1 }],
        }),
      ),
      (error: Error) => error.name === 'InvalidParameterValueException',
    );
    const minute = Math.floor(target.clock.nowMs() / 60_000) * 60_000;
    service.putServiceMetricData({
      Namespace: namespace,
      MetricData: [{ MetricName: 'Invocations', Dimensions: dimensions, Timestamp: minute / 1000, Value: 3 }],
    });
    const stats = await cw.send(
      new GetMetricStatisticsCommand({
        Namespace: namespace,
        MetricName: 'Invocations',
        Dimensions: dimensions,
        StartTime: new Date(minute),
        EndTime: new Date(minute + 60_000),
        Period: 60,
        Statistics: ['Sum'],
      }),
    );
    assert.deepEqual(
      stats.Datapoints?.map((p) => p.Sum),
      [3],
    );
  });

  it('evaluates alarms as of the end of a past period, and records the transition at that instant', async () => {
    const input = alarm({ TreatMissingData: 'notBreaching' });
    const name = input.AlarmName ?? '';
    await cw.send(new PutMetricAlarmCommand(input));
    target.clock.advance(300_000);
    // A period that ended after the alarm was created, before now: the publisher catches up on it.
    const period = Math.floor(target.clock.nowMs() / 60_000) * 60_000 - 120_000;
    service.putServiceMetricData({
      Namespace: input.Namespace,
      MetricData: [{ MetricName: 'Errors', Dimensions: input.Dimensions, Timestamp: period / 1000, Value: 9 }],
    });
    assert.equal(service.alarmState(name), 'INSUFFICIENT_DATA', 'service data alone evaluates nothing');
    service.evaluateAlarmsAt(period + 60_000);
    assert.equal(service.alarmState(name), 'ALARM');
    assert.deepEqual(
      service.stateHistory(name).map((t) => [t.value, t.atMs]),
      [
        ['INSUFFICIENT_DATA', service.stateHistory(name)[0]?.atMs],
        ['ALARM', period + 60_000],
      ],
    );
    // The next period has no data: notBreaching, so OK at that period's end.
    service.evaluateAlarmsAt(period + 120_000);
    assert.deepEqual(service.stateHistory(name).at(-1)?.value, 'OK');
    assert.equal(service.stateHistory(name).at(-1)?.atMs, period + 120_000);
    assert.ok(service.wasInAlarm(name, period + 60_000, period + 60_000), 'wasInAlarm sees the instant it fired');
    assert.ok(!service.wasInAlarm(name, period, period + 59_999), 'and not before');
  });

  it('keeps an alarm history, newest first, filterable by type', async () => {
    const input = alarm();
    const name = input.AlarmName ?? '';
    await cw.send(new PutMetricAlarmCommand(input));
    await cw.send(new SetAlarmStateCommand({ AlarmName: name, StateValue: 'ALARM', StateReason: 'one' }));
    await cw.send(new SetAlarmStateCommand({ AlarmName: name, StateValue: 'OK', StateReason: 'two' }));
    const all = await cw.send(new DescribeAlarmHistoryCommand({ AlarmName: name }));
    assert.deepEqual(
      all.AlarmHistoryItems?.map((h) => [h.HistoryItemType, h.HistorySummary]),
      [
        ['StateUpdate', 'Alarm updated from ALARM to OK'],
        ['StateUpdate', 'Alarm updated from INSUFFICIENT_DATA to ALARM'],
        ['ConfigurationUpdate', `Alarm "${name}" created`],
      ],
    );
    const data = JSON.parse(all.AlarmHistoryItems?.[0]?.HistoryData ?? '{}') as {
      oldState: { stateValue: string };
      newState: { stateReason: string };
    };
    assert.equal(data.oldState.stateValue, 'ALARM');
    assert.equal(data.newState.stateReason, 'two');
    const states = await cw.send(
      new DescribeAlarmHistoryCommand({ AlarmName: name, HistoryItemType: 'StateUpdate', MaxRecords: 1 }),
    );
    assert.equal(states.AlarmHistoryItems?.length, 1);
    assert.ok(states.NextToken);
    const next = await cw.send(
      new DescribeAlarmHistoryCommand({ AlarmName: name, HistoryItemType: 'StateUpdate', NextToken: states.NextToken }),
    );
    assert.equal(next.AlarmHistoryItems?.[0]?.HistorySummary, 'Alarm updated from INSUFFICIENT_DATA to ALARM');
  });
});
