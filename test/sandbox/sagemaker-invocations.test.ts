/**
 * The sandbox's SageMaker data plane: InvokeEndpoint (SageMaker Runtime over REST-JSON, through
 * @aws-sdk/client-sagemaker-runtime), routing across blue/green fleets, model behaviour for rehearsals
 * (SANDBOX_ERROR_RATE, SANDBOX_LATENCY_MS, SANDBOX_ERRORS_ABOVE_RPM), background load, and the
 * per-variant AWS/SageMaker metrics that drive CloudWatch alarms and, through them, SageMaker's
 * auto-rollback. No test sets an alarm's state by hand: every alarm here fires from metrics.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  CloudWatchClient,
  GetMetricStatisticsCommand,
  ListMetricsCommand,
  PutMetricAlarmCommand,
  type PutMetricAlarmCommandInput,
} from '@aws-sdk/client-cloudwatch';
import {
  CreateEndpointCommand,
  CreateEndpointConfigCommand,
  CreateModelCommand,
  type DeploymentConfig,
  SageMakerClient,
  UpdateEndpointCommand,
} from '@aws-sdk/client-sagemaker';
import {
  InvokeEndpointCommand,
  type InvokeEndpointCommandOutput,
  ModelError,
  SageMakerRuntimeClient,
  ValidationError,
} from '@aws-sdk/client-sagemaker-runtime';
import { VirtualClock } from '../../sandbox/clock.ts';
import { EventBus } from '../../sandbox/events.ts';
import { FaultInjector } from '../../sandbox/faults.ts';
import { RequestLog } from '../../sandbox/request-log.ts';
import { SandboxServer } from '../../sandbox/server.ts';
import { type CloudWatchSandbox, createCloudWatchService } from '../../sandbox/services/cloudwatch.ts';
import { createSageMakerService, DEFAULT_TIMINGS, type SageMakerSandbox } from '../../sandbox/services/sagemaker.ts';

const ACCOUNT = '123456789012';
const REGION = 'us-east-1';
const IMAGE_V1 = `${ACCOUNT}.dkr.ecr.${REGION}.amazonaws.com/llm-serving:v1`;
const IMAGE_V2 = `${ACCOUNT}.dkr.ecr.${REGION}.amazonaws.com/llm-serving:v2`;
const ROLE = `arn:aws:iam::${ACCOUNT}:role/SageMakerExecution`;
const T = DEFAULT_TIMINGS;
const MINUTE = 60_000;
/** The simulated start: a whole minute, so minute boundaries are easy to state. */
const START = new Date('2025-03-01T12:00:00Z');

interface Harness {
  readonly url: string;
  readonly clock: VirtualClock;
  readonly events: EventBus;
  readonly sagemaker: SageMakerSandbox;
  readonly cloudwatch: CloudWatchSandbox;
  readonly sm: SageMakerClient;
  readonly runtime: SageMakerRuntimeClient;
  readonly cw: CloudWatchClient;
  readonly faults: FaultInjector;
  advance(seconds: number): void;
}

async function withHarness(fn: (h: Harness) => Promise<void>): Promise<void> {
  // Wall time is frozen: simulated time moves only when the test advances it. The time scale only
  // turns a model's latency into wall time (20 ms of model latency is 0.02 ms of wall time).
  const clock = new VirtualClock(1000, START, () => 0);
  const events = new EventBus(ACCOUNT, REGION, () => clock.now());
  const ctx = { clock, events, account: ACCOUNT, region: REGION };
  const cloudwatch = createCloudWatchService(ctx);
  const sagemaker = createSageMakerService(ctx, { alarms: cloudwatch, metrics: cloudwatch });
  const faults = new FaultInjector();
  const server = new SandboxServer({
    services: [sagemaker, sagemaker.runtime, cloudwatch],
    clock,
    events,
    faults,
    requests: new RequestLog(),
    load: sagemaker,
  });
  const url = await server.listen(0);
  const config = {
    endpoint: url,
    region: REGION,
    credentials: { accessKeyId: 'AKIDSANDBOX', secretAccessKey: 'sandbox-secret' },
    maxAttempts: 1,
  };
  const sm = new SageMakerClient(config);
  const runtime = new SageMakerRuntimeClient(config);
  const cw = new CloudWatchClient(config);
  try {
    await fn({
      url,
      clock,
      events,
      sagemaker,
      cloudwatch,
      sm,
      runtime,
      cw,
      faults,
      advance: (seconds) => clock.advance(seconds * 1000),
    });
  } finally {
    sm.destroy();
    runtime.destroy();
    cw.destroy();
    await server.close();
  }
}

async function createModel(h: Harness, name: string, image: string, env: Record<string, string> = {}): Promise<void> {
  await h.sm.send(
    new CreateModelCommand({
      ModelName: name,
      ExecutionRoleArn: ROLE,
      PrimaryContainer: { Image: image, ModelDataUrl: `s3://artifacts/${name}/model.tar.gz`, Environment: env },
    }),
  );
}

async function createConfig(h: Harness, name: string, model: string, instances = 4): Promise<void> {
  await h.sm.send(
    new CreateEndpointConfigCommand({
      EndpointConfigName: name,
      ProductionVariants: [
        { VariantName: 'AllTraffic', ModelName: model, InstanceType: 'ml.g5.xlarge', InitialInstanceCount: instances },
      ],
    }),
  );
}

/** Models v1 (healthy) and v2 (`v2Env`), configs cfg-v1/cfg-v2 of 4 instances, endpoint `ep` InService on cfg-v1. */
async function liveEndpoint(h: Harness, v2Env: Record<string, string> = {}, v1Env: Record<string, string> = {}) {
  await createModel(h, 'model-v1', IMAGE_V1, v1Env);
  await createModel(h, 'model-v2', IMAGE_V2, v2Env);
  await createConfig(h, 'cfg-v1', 'model-v1');
  await createConfig(h, 'cfg-v2', 'model-v2');
  await h.sm.send(new CreateEndpointCommand({ EndpointName: 'ep', EndpointConfigName: 'cfg-v1' }));
  h.advance(T.createMs / 1000);
  assert.equal(h.sagemaker.endpoint('ep')?.status, 'InService');
}

/** A canary of one instance of four (25%), baking `wait` seconds, then the final bake of `termination`. */
function canary(alarms: string[], wait = 600, termination = 600): DeploymentConfig {
  return {
    BlueGreenUpdatePolicy: {
      TrafficRoutingConfiguration: {
        Type: 'CANARY',
        CanarySize: { Type: 'INSTANCE_COUNT', Value: 1 },
        WaitIntervalInSeconds: wait,
      },
      TerminationWaitInSeconds: termination,
      MaximumExecutionTimeoutInSeconds: 7200,
    },
    ...(alarms.length > 0 ? { AutoRollbackConfiguration: { Alarms: alarms.map((AlarmName) => ({ AlarmName })) } } : {}),
  };
}

const VARIANT_DIMENSIONS = [
  { Name: 'EndpointName', Value: 'ep' },
  { Name: 'VariantName', Value: 'AllTraffic' },
];

/** The 5XX alarm the example seeds: Sum of Invocation5XXErrors over 60 s > 5, per endpoint and variant. */
function errorAlarm(overrides: Partial<PutMetricAlarmCommandInput> = {}): PutMetricAlarmCommandInput {
  return {
    AlarmName: 'ep-5xx',
    Namespace: 'AWS/SageMaker',
    MetricName: 'Invocation5XXErrors',
    Dimensions: VARIANT_DIMENSIONS,
    Statistic: 'Sum',
    Period: 60,
    EvaluationPeriods: 1,
    Threshold: 5,
    ComparisonOperator: 'GreaterThanThreshold',
    TreatMissingData: 'notBreaching',
    ...overrides,
  };
}

function invoke(h: Harness, options: { endpoint?: string; variant?: string; body?: string } = {}) {
  return h.runtime.send(
    new InvokeEndpointCommand({
      EndpointName: options.endpoint ?? 'ep',
      Body: new TextEncoder().encode(options.body ?? '{"inputs":"hello"}'),
      ContentType: 'application/json',
      ...(options.variant ? { TargetVariant: options.variant } : {}),
    }),
  );
}

function answer(output: InvokeEndpointCommandOutput): Record<string, unknown> {
  return JSON.parse(new TextDecoder().decode(output.Body)) as Record<string, unknown>;
}

async function rejectsWith<E extends Error>(
  promise: Promise<unknown>,
  type: new (...args: never[]) => E,
  status: number,
  message: string | RegExp,
): Promise<E> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof type, `expected a ${type.name}, got ${String(error)}`);
    assert.equal((error as E & { $metadata: { httpStatusCode?: number } }).$metadata.httpStatusCode, status);
    if (typeof message === 'string') assert.equal(error.message, message);
    else assert.match(error.message, message);
    return error;
  }
  assert.fail(`expected ${type.name}, but the call succeeded`);
}

/** Simulated instants at which the alarm went into ALARM. */
function alarmedAt(h: Harness, alarm = 'ep-5xx'): number[] {
  return h.cloudwatch
    .stateHistory(alarm)
    .filter((t) => t.value === 'ALARM')
    .map((t) => t.atMs);
}

async function sumPerMinute(
  h: Harness,
  metricName: string,
  fromMs: number,
  toMs: number,
  dimensions = VARIANT_DIMENSIONS,
) {
  const stats = await h.cw.send(
    new GetMetricStatisticsCommand({
      Namespace: 'AWS/SageMaker',
      MetricName: metricName,
      Dimensions: dimensions,
      StartTime: new Date(fromMs),
      EndTime: new Date(toMs),
      Period: 60,
      Statistics: ['Sum'],
    }),
  );
  return (stats.Datapoints ?? [])
    .map((p) => [p.Timestamp?.getTime() ?? 0, p.Sum ?? 0] as const)
    .sort(([a], [b]) => a - b);
}

describe('SageMaker Runtime InvokeEndpoint (sandbox)', () => {
  it('answers with the model output, its content type and the variant that served the request', async () => {
    await withHarness(async (h) => {
      await liveEndpoint(h);
      const output = await invoke(h);
      assert.equal(output.InvokedProductionVariant, 'AllTraffic');
      assert.equal(output.ContentType, 'application/json');
      assert.deepEqual(answer(output), {
        endpointName: 'ep',
        endpointConfigName: 'cfg-v1',
        variantName: 'AllTraffic',
        modelName: 'model-v1',
        image: IMAGE_V1,
        modelLatencyMs: 20,
        request: { contentType: 'application/json', bytes: 18 },
      });
    });
  });

  it("answers ValidationError (400) for an endpoint that does not exist, in AWS's words", async () => {
    await withHarness(async (h) => {
      await rejectsWith(
        invoke(h, { endpoint: 'nope' }),
        ValidationError,
        400,
        `Endpoint nope of account ${ACCOUNT} not found.`,
      );
    });
  });

  it('answers ValidationError for an endpoint that is still Creating', async () => {
    await withHarness(async (h) => {
      await createModel(h, 'model-v1', IMAGE_V1);
      await createConfig(h, 'cfg-v1', 'model-v1');
      await h.sm.send(new CreateEndpointCommand({ EndpointName: 'ep', EndpointConfigName: 'cfg-v1' }));
      await rejectsWith(invoke(h), ValidationError, 400, `Endpoint ep of account ${ACCOUNT} not found.`);
    });
  });

  it('answers ValidationError for an empty body and a malformed endpoint name', async () => {
    await withHarness(async (h) => {
      await liveEndpoint(h);
      await rejectsWith(invoke(h, { body: '' }), ValidationError, 400, /Value null at 'body'/);
      await rejectsWith(
        invoke(h, { endpoint: 'bad_name' }),
        ValidationError,
        400,
        /Value 'bad_name' at 'endpointName' failed to satisfy constraint: Member must satisfy regular expression pattern/,
      );
    });
  });

  it('splits requests between variants by weight, exactly, and honours TargetVariant, also for a variant of weight 0', async () => {
    await withHarness(async (h) => {
      await createModel(h, 'model-a', IMAGE_V1);
      await createModel(h, 'model-b', IMAGE_V2);
      await h.sm.send(
        new CreateEndpointConfigCommand({
          EndpointConfigName: 'cfg-ab',
          ProductionVariants: [
            {
              VariantName: 'A',
              ModelName: 'model-a',
              InstanceType: 'ml.m5.large',
              InitialInstanceCount: 1,
              InitialVariantWeight: 1,
            },
            {
              VariantName: 'B',
              ModelName: 'model-b',
              InstanceType: 'ml.m5.large',
              InitialInstanceCount: 1,
              InitialVariantWeight: 3,
            },
            {
              VariantName: 'Shadow',
              ModelName: 'model-b',
              InstanceType: 'ml.m5.large',
              InitialInstanceCount: 1,
              InitialVariantWeight: 0,
            },
          ],
        }),
      );
      await h.sm.send(new CreateEndpointCommand({ EndpointName: 'ep', EndpointConfigName: 'cfg-ab' }));
      h.advance(T.createMs / 1000);
      const served: string[] = [];
      for (let i = 0; i < 40; i += 1) served.push((await invoke(h)).InvokedProductionVariant ?? '');
      assert.equal(served.length, 40);
      assert.equal(served.filter((v) => v === 'A').length, 10, 'variant A has a quarter of the weight');
      assert.equal(served.filter((v) => v === 'B').length, 30, 'variant B has three quarters');

      assert.equal((await invoke(h, { variant: 'A' })).InvokedProductionVariant, 'A');
      assert.equal(
        (await invoke(h, { variant: 'Shadow' })).InvokedProductionVariant,
        'Shadow',
        'a variant of weight 0 gets no traffic but can be targeted',
      );
      await rejectsWith(
        invoke(h, { variant: 'C' }),
        ValidationError,
        400,
        /^Endpoint ep has no variant C in a fleet that serves traffic/,
      );
    });
  });

  it('answers ModelError (424) with the original status, message and log stream when the model fails', async () => {
    await withHarness(async (h) => {
      await liveEndpoint(h, {}, { SANDBOX_ERROR_RATE: '1' });
      const error = await rejectsWith(
        invoke(h),
        ModelError,
        424,
        `Received server error (500) from primary with message "The Ballast sandbox's model failed this request (SANDBOX_ERROR_RATE on model model-v1)". See https://${REGION}.console.aws.amazon.com/cloudwatch/home?region=${REGION}#logEventViewer:group=/aws/sagemaker/Endpoints/ep in account ${ACCOUNT} for more information.`,
      );
      assert.equal(error.OriginalStatusCode, 500);
      assert.match(error.OriginalMessage ?? '', /SANDBOX_ERROR_RATE/);
      assert.match(
        error.LogStreamArn ?? '',
        new RegExp(
          `^arn:aws:logs:${REGION}:${ACCOUNT}:log-group:/aws/sagemaker/Endpoints/ep:log-stream:AllTraffic/i-[0-9a-f]{17}$`,
        ),
      );
    });
  });

  it('fails exactly the configured share of requests: SANDBOX_ERROR_RATE=0.25 fails every fourth', async () => {
    await withHarness(async (h) => {
      await liveEndpoint(h, {}, { SANDBOX_ERROR_RATE: '0.25' });
      const outcomes: string[] = [];
      for (let i = 0; i < 8; i += 1) {
        outcomes.push(
          await invoke(h).then(
            () => 'ok',
            (error: Error) => error.name,
          ),
        );
      }
      assert.deepEqual(outcomes, ['ok', 'ok', 'ok', 'ModelError', 'ok', 'ok', 'ok', 'ModelError']);
    });
  });

  it('CreateModel refuses malformed behaviour variables with a ValidationException naming variable and container', async () => {
    await withHarness(async (h) => {
      const cases: Array<[Record<string, string>, RegExp]> = [
        [
          { SANDBOX_ERROR_RATE: '1.5' },
          /^SANDBOX_ERROR_RATE="1\.5" in the Environment of PrimaryContainer is not a number from 0 to 1/,
        ],
        [{ SANDBOX_ERROR_RATE: 'often' }, /^SANDBOX_ERROR_RATE="often" .* is not a number from 0 to 1/],
        [
          { SANDBOX_LATENCY_MS: '-5' },
          /^SANDBOX_LATENCY_MS="-5" .* is not a whole number of milliseconds from 0 to 60000/,
        ],
        [{ SANDBOX_LATENCY_MS: '60001' }, /^SANDBOX_LATENCY_MS="60001" /],
        [{ SANDBOX_LATENCY_MS: '2.5' }, /^SANDBOX_LATENCY_MS="2\.5" /],
        [
          { SANDBOX_ERRORS_ABOVE_RPM: 'lots' },
          /^SANDBOX_ERRORS_ABOVE_RPM="lots" .* is not a whole number of requests per minute/,
        ],
      ];
      for (const [env, message] of cases) {
        await assert.rejects(createModel(h, 'bad', IMAGE_V1, env), (error: Error) => {
          assert.equal(error.name, 'ValidationException', JSON.stringify(env));
          assert.match(error.message, message);
          return true;
        });
      }
      assert.equal(
        (
          await h.sm.send(
            new CreateModelCommand({
              ModelName: 'good',
              ExecutionRoleArn: ROLE,
              PrimaryContainer: {
                Image: IMAGE_V1,
                Environment: {
                  SANDBOX_ERROR_RATE: '0.05',
                  SANDBOX_LATENCY_MS: '1500',
                  SANDBOX_ERRORS_ABOVE_RPM: '300',
                },
              },
            }),
          )
        ).ModelArn,
        `arn:aws:sagemaker:${REGION}:${ACCOUNT}:model/good`,
      );
    });
  });

  it("answers injected faults in the runtime's protocol: throttling (400) and InternalFailure (500)", async () => {
    await withHarness(async (h) => {
      await liveEndpoint(h);
      h.faults.add({ service: 'sagemaker', operation: 'InvokeEndpoint', kind: 'throttle', times: 1 });
      await assert.rejects(invoke(h), (error: Error & { $metadata: { httpStatusCode?: number } }) => {
        assert.equal(error.name, 'ThrottlingException');
        assert.equal(error.$metadata.httpStatusCode, 400);
        return true;
      });
      h.faults.add({ service: 'sagemaker', operation: 'InvokeEndpoint', kind: 'server-error', times: 1 });
      await assert.rejects(invoke(h), (error: Error & { $metadata: { httpStatusCode?: number } }) => {
        assert.equal(error.name, 'InternalFailure');
        assert.equal(error.$metadata.httpStatusCode, 500);
        return true;
      });
      assert.equal((await invoke(h)).InvokedProductionVariant, 'AllTraffic', 'then it answers again');
    });
  });

  it("during a canary, requests split between the old and the new fleet by the canary's share", async () => {
    await withHarness(async (h) => {
      await liveEndpoint(h);
      await h.sm.send(
        new UpdateEndpointCommand({ EndpointName: 'ep', EndpointConfigName: 'cfg-v2', DeploymentConfig: canary([]) }),
      );
      h.advance((T.provisionMs + T.activateTrafficMs) / 1000 + 60);
      assert.equal(h.sagemaker.endpoint('ep')?.pending?.phase, 'Baking');
      const configs: unknown[] = [];
      for (let i = 0; i < 20; i += 1) configs.push(answer(await invoke(h)).endpointConfigName);
      assert.equal(configs.length, 20);
      assert.equal(configs.filter((c) => c === 'cfg-v2').length, 5, 'the canary (1 of 4 instances) gets a quarter');
      assert.equal(configs.filter((c) => c === 'cfg-v1').length, 15, 'the old fleet gets the rest');
    });
  });
});

describe('SageMaker invocation metrics in CloudWatch (sandbox)', () => {
  it('publishes Invocations, Invocation5XXErrors, Invocation4XXErrors and ModelLatency per endpoint and variant', async () => {
    await withHarness(async (h) => {
      await liveEndpoint(h, {}, { SANDBOX_LATENCY_MS: '150', SANDBOX_ERROR_RATE: '0.1' });
      const from = h.clock.nowMs();
      h.sagemaker.setLoad('ep', 120);
      h.advance(300);
      const listed = await h.cw.send(new ListMetricsCommand({ Namespace: 'AWS/SageMaker' }));
      assert.deepEqual((listed.Metrics ?? []).map((m) => [m.MetricName, m.Dimensions]).sort(), [
        ['Invocation4XXErrors', VARIANT_DIMENSIONS],
        ['Invocation5XXErrors', VARIANT_DIMENSIONS],
        ['Invocations', VARIANT_DIMENSIONS],
        ['ModelLatency', VARIANT_DIMENSIONS],
      ]);
      const invocations = await sumPerMinute(h, 'Invocations', from, h.clock.nowMs());
      assert.ok(invocations.length > 0, 'Invocations has datapoints');
      assert.ok(
        invocations.every(([, sum]) => sum === 120),
        'every whole minute has the load: 120 requests',
      );
      const errors = await sumPerMinute(h, 'Invocation5XXErrors', from, h.clock.nowMs());
      assert.ok(errors.length > 0, 'Invocation5XXErrors has datapoints');
      assert.ok(
        errors.every(([, sum]) => sum === 12),
        'a tenth of them fail',
      );
      const clientErrors = await sumPerMinute(h, 'Invocation4XXErrors', from, h.clock.nowMs());
      assert.ok(clientErrors.length > 0, 'Invocation4XXErrors has datapoints');
      assert.ok(
        clientErrors.every(([, sum]) => sum === 0),
        'the model never answers 4xx',
      );

      const latency = await h.cw.send(
        new GetMetricStatisticsCommand({
          Namespace: 'AWS/SageMaker',
          MetricName: 'ModelLatency',
          Dimensions: VARIANT_DIMENSIONS,
          StartTime: new Date(from),
          EndTime: h.clock.now(),
          Period: 60,
          Statistics: ['Maximum', 'Average'],
          // Only data published with this unit matches.
          Unit: 'Microseconds',
        }),
      );
      const points = latency.Datapoints ?? [];
      assert.ok(points.length > 0, 'ModelLatency has datapoints in Microseconds');
      assert.ok(
        points.every((p) => p.Maximum === 150_000 && p.Average === 150_000),
        '150 ms is 150,000 µs',
      );
    });
  });

  it('publishes every whole minute a clock jump passes over, in order, each at the start of its minute', async () => {
    await withHarness(async (h) => {
      await liveEndpoint(h);
      const loadStart = h.clock.nowMs();
      assert.equal(loadStart % MINUTE, 0, 'the test starts on a minute boundary');
      h.sagemaker.setLoad('ep', 60);
      h.advance(10 * 60 + 30);
      const points = await sumPerMinute(h, 'Invocations', loadStart, h.clock.nowMs());
      assert.deepEqual(
        points.map(([at]) => (at - loadStart) / MINUTE),
        [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
        'ten whole minutes; the one in progress is not published yet',
      );
      assert.ok(
        points.every(([, sum]) => sum === 60),
        'each with its 60 requests',
      );
    });
  });

  it('counts InvokeEndpoint calls from clients in the minute they were made', async () => {
    await withHarness(async (h) => {
      await liveEndpoint(h, {}, { SANDBOX_ERROR_RATE: '0.5' });
      const minute = h.clock.nowMs();
      for (let i = 0; i < 4; i += 1) await invoke(h).catch(() => undefined);
      h.advance(61);
      assert.deepEqual(await sumPerMinute(h, 'Invocations', minute, h.clock.nowMs()), [[minute, 4]]);
      assert.deepEqual(await sumPerMinute(h, 'Invocation5XXErrors', minute, h.clock.nowMs()), [[minute, 2]]);
    });
  });

  it('a model that fails every request under background load puts its 5XX alarm into ALARM after one period, with an EventBridge event', async () => {
    await withHarness(async (h) => {
      await liveEndpoint(h, {}, { SANDBOX_ERROR_RATE: '1' });
      await h.cw.send(new PutMetricAlarmCommand(errorAlarm()));
      const loadStart = h.clock.nowMs();
      h.sagemaker.setLoad('ep', 60);
      h.advance(59);
      assert.equal(h.cloudwatch.alarmState('ep-5xx'), 'INSUFFICIENT_DATA', 'no period has ended yet');
      h.advance(5 * 60);
      assert.equal(h.cloudwatch.alarmState('ep-5xx'), 'ALARM');
      assert.deepEqual(alarmedAt(h), [loadStart + MINUTE], 'in ALARM at the end of the first period');
      const changes = h.events
        .events()
        .filter((e) => e['detail-type'] === 'CloudWatch Alarm State Change')
        .map((e) => e.detail as { alarmName: string; state: { value: string; reason: string } });
      assert.ok(changes.length > 0, 'state change events were emitted');
      const alarm = changes.find((d) => d.alarmName === 'ep-5xx' && d.state.value === 'ALARM');
      assert.match(alarm?.state.reason ?? '', /^Threshold Crossed: 1 out of the last 1 datapoints \[60\.0 /);
    });
  });

  it('an alarm with EndpointName alone sees none of the per-variant data, as on AWS', async () => {
    await withHarness(async (h) => {
      await liveEndpoint(h, {}, { SANDBOX_ERROR_RATE: '1' });
      await h.cw.send(new PutMetricAlarmCommand(errorAlarm()));
      await h.cw.send(
        new PutMetricAlarmCommand(
          errorAlarm({ AlarmName: 'ep-5xx-endpoint-only', Dimensions: [{ Name: 'EndpointName', Value: 'ep' }] }),
        ),
      );
      h.sagemaker.setLoad('ep', 60);
      h.advance(5 * 60);
      assert.equal(h.cloudwatch.alarmState('ep-5xx'), 'ALARM', 'the per-variant alarm fires');
      assert.equal(h.cloudwatch.alarmState('ep-5xx-endpoint-only'), 'INSUFFICIENT_DATA', 'the other never sees data');
    });
  });

  it('a p99 ModelLatency alarm (microseconds) fires on a slow model', async () => {
    await withHarness(async (h) => {
      await liveEndpoint(h, {}, { SANDBOX_LATENCY_MS: '3000' });
      await h.cw.send(
        new PutMetricAlarmCommand(
          errorAlarm({
            AlarmName: 'ep-p99-latency',
            MetricName: 'ModelLatency',
            Statistic: undefined,
            ExtendedStatistic: 'p99',
            Threshold: 2_000_000,
          }),
        ),
      );
      h.sagemaker.setLoad('ep', 30);
      h.advance(3 * 60);
      assert.equal(h.cloudwatch.alarmState('ep-p99-latency'), 'ALARM');
    });
  });

  it('a clock jump with 1,000 endpoints without traffic stays cheap', async () => {
    await withHarness(async (h) => {
      await createModel(h, 'model-v1', IMAGE_V1);
      await createConfig(h, 'cfg-v1', 'model-v1', 1);
      await Promise.all(
        Array.from({ length: 1000 }, (_, i) =>
          h.sm.send(new CreateEndpointCommand({ EndpointName: `idle-${i}`, EndpointConfigName: 'cfg-v1' })),
        ),
      );
      h.advance(T.createMs / 1000);
      const started = performance.now();
      h.advance(24 * 3600);
      h.sagemaker.tick();
      const elapsed = performance.now() - started;
      assert.ok(elapsed < 200, `a one-day jump took ${Math.round(elapsed)} ms`);
      assert.deepEqual((await h.cw.send(new ListMetricsCommand({ Namespace: 'AWS/SageMaker' }))).Metrics, []);
    });
  });
});

describe('SageMaker auto-rollback from metrics (sandbox)', () => {
  it("during a canary, the new fleet's errors trip the alarm and SageMaker rolls back, across one clock jump", async () => {
    await withHarness(async (h) => {
      await liveEndpoint(h, { SANDBOX_ERROR_RATE: '1' });
      await h.cw.send(new PutMetricAlarmCommand(errorAlarm()));
      h.sagemaker.setLoad('ep', 600);
      h.advance(120);
      assert.equal(h.cloudwatch.alarmState('ep-5xx'), 'OK', 'the old fleet serves without errors');
      const start = h.clock.nowMs();
      await h.sm.send(
        new UpdateEndpointCommand({
          EndpointName: 'ep',
          EndpointConfigName: 'cfg-v2',
          DeploymentConfig: canary(['ep-5xx']),
        }),
      );
      const bakeStart = start + T.provisionMs + T.activateTrafficMs;
      const bakeEnd = bakeStart + 600_000;
      h.advance(3 * 3600);

      const fired = alarmedAt(h);
      assert.equal(fired.length, 1, 'the alarm fired once');
      const firedAt = fired[0] ?? 0;
      assert.ok(firedAt > bakeStart && firedAt <= bakeStart + MINUTE, 'at the first minute end of the canary bake');
      assert.equal(firedAt % MINUTE, 0, 'at a minute boundary, where CloudWatch evaluates');
      const view = h.sagemaker.endpoint('ep');
      assert.equal(view?.configName, 'cfg-v1', 'the endpoint is back on the old config');
      assert.equal(view?.lastUpdate?.outcome, 'rolled-back');
      assert.equal(view?.lastUpdate?.cause, 'alarm:ep-5xx');
      assert.ok((view?.lastUpdate?.at.getTime() ?? 0) < bakeEnd, 'rolled back before the canary bake would have ended');
      assert.equal(h.cloudwatch.alarmState('ep-5xx'), 'OK', 'with traffic back on the old fleet the errors stop');
      assert.equal(answer(await invoke(h)).endpointConfigName, 'cfg-v1');
    });
  });

  it('SANDBOX_ERRORS_ABOVE_RPM passes the canary on part of the traffic and fails after the full shift', async () => {
    await withHarness(async (h) => {
      // 600 requests a minute: the canary (a quarter) gets 150, below 300; the full fleet gets 600.
      await liveEndpoint(h, { SANDBOX_ERRORS_ABOVE_RPM: '300' });
      await h.cw.send(new PutMetricAlarmCommand(errorAlarm()));
      h.sagemaker.setLoad('ep', 600);
      h.advance(120);
      const start = h.clock.nowMs();
      await h.sm.send(
        new UpdateEndpointCommand({
          EndpointName: 'ep',
          EndpointConfigName: 'cfg-v2',
          DeploymentConfig: canary(['ep-5xx']),
        }),
      );
      const canaryBakeEnd = start + T.provisionMs + T.activateTrafficMs + 600_000;
      const fullShift = canaryBakeEnd + T.activateTrafficMs;
      const finalBakeEnd = fullShift + 600_000;

      h.advance((canaryBakeEnd - h.clock.nowMs()) / 1000 + 1);
      assert.deepEqual(alarmedAt(h), [], 'no alarm during the canary');
      assert.notEqual(h.sagemaker.endpoint('ep')?.lastUpdate?.outcome, 'rolled-back', 'the canary passed');

      h.advance(3600);
      const fired = alarmedAt(h);
      assert.equal(fired.length, 1, 'the alarm fired once');
      const firedAt = fired[0] ?? 0;
      assert.ok(firedAt > fullShift && firedAt < finalBakeEnd, 'after the full shift, during the final bake');
      const view = h.sagemaker.endpoint('ep');
      assert.equal(view?.lastUpdate?.outcome, 'rolled-back');
      assert.equal(view?.lastUpdate?.cause, 'alarm:ep-5xx');
      assert.equal(view?.configName, 'cfg-v1');
    });
  });
});

describe('SageMaker background load control (sandbox)', () => {
  it('POST /_ballast/sagemaker/load sets a load, GET lists the loads, bad input is a 400', async () => {
    await withHarness(async (h) => {
      const post = (body: unknown) =>
        fetch(`${h.url}/_ballast/sagemaker/load`, { method: 'POST', body: JSON.stringify(body) });
      const set = await post({ endpointName: 'ep', requestsPerMinute: 90 });
      assert.equal(set.status, 200);
      assert.deepEqual(await set.json(), { endpointName: 'ep', requestsPerMinute: 90 });
      const listed = await fetch(`${h.url}/_ballast/sagemaker/load`);
      assert.deepEqual(await listed.json(), { loads: [{ endpointName: 'ep', requestsPerMinute: 90 }] });
      assert.deepEqual(h.sagemaker.loads(), [{ endpointName: 'ep', requestsPerMinute: 90 }]);

      const badName = await post({ endpointName: 'not_an_endpoint', requestsPerMinute: 5 });
      assert.equal(badName.status, 400);
      assert.match(
        ((await badName.json()) as { message: string }).message,
        /^endpointName must be a SageMaker endpoint name/,
      );
      const badRate = await post({ endpointName: 'ep', requestsPerMinute: -1 });
      assert.equal(badRate.status, 400);
      assert.match(
        ((await badRate.json()) as { message: string }).message,
        /^requestsPerMinute must be a number from 0 to 1000000/,
      );

      const stop = await post({ endpointName: 'ep', requestsPerMinute: 0 });
      assert.equal(stop.status, 200);
      assert.deepEqual(h.sagemaker.loads(), []);
    });
  });

  it('a load set before the endpoint exists starts once the endpoint serves', async () => {
    await withHarness(async (h) => {
      h.sagemaker.setLoad('ep', 60);
      h.advance(600);
      await liveEndpoint(h);
      const inService = h.clock.nowMs();
      h.advance(120);
      const points = await sumPerMinute(h, 'Invocations', inService - 3600_000, h.clock.nowMs());
      assert.ok(points.length > 0, 'Invocations has datapoints');
      assert.ok(
        points.every(([at]) => at >= inService),
        'none before the endpoint was InService',
      );
    });
  });
});
