import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CloudWatchClient, PutMetricAlarmCommand, SetAlarmStateCommand } from '@aws-sdk/client-cloudwatch';
import { LocalRunner } from '../../sandbox/runner.ts';
import { startSandbox } from '../../sandbox/sandbox.ts';
import { ALARM_PATTERN, LocalTriggers } from '../../sandbox/triggers.ts';

const ECHO = new URL('../fixtures/asl/echo.asl.json', import.meta.url).pathname;

describe('LocalTriggers', () => {
  it('starts a workflow on a matching event (alarm -> rollback) and on a schedule (-> reconcile), in simulated time', async () => {
    const sandbox = await startSandbox({ timeScale: 1, start: new Date('2026-03-01T09:00:00Z') });
    const seen: Array<{ workflow: string; input: unknown }> = [];
    const echo = (workflow: string) => async (input: unknown) => {
      seen.push({ workflow, input });
      return input;
    };
    const runner = new LocalRunner(sandbox.clock, {
      rollback: { aslPath: ECHO, functions: { Echo: echo('rollback') } },
      reconcile: { aslPath: ECHO, functions: { Echo: echo('reconcile') } },
    });
    const triggers = new LocalTriggers((w, input) => runner.start(w, input), sandbox.events, sandbox.clock);
    triggers.onEvent(ALARM_PATTERN, 'rollback');
    triggers.every(300, 'reconcile', { source: 'schedule' });
    const cloudwatch = new CloudWatchClient({
      endpoint: sandbox.url,
      region: sandbox.region,
      credentials: { accessKeyId: 'x', secretAccessKey: 'x' },
    });
    try {
      await cloudwatch.send(
        new PutMetricAlarmCommand({
          AlarmName: 'summarizer-5xx',
          Namespace: 'AWS/SageMaker',
          MetricName: 'Invocation5XXErrors',
          Statistic: 'Sum',
          Period: 60,
          EvaluationPeriods: 1,
          Threshold: 5,
          ComparisonOperator: 'GreaterThanThreshold',
        }),
      );
      // OK is not ALARM: no rollback.
      await cloudwatch.send(
        new SetAlarmStateCommand({ AlarmName: 'summarizer-5xx', StateValue: 'OK', StateReason: 'fine' }),
      );
      await cloudwatch.send(
        new SetAlarmStateCommand({ AlarmName: 'summarizer-5xx', StateValue: 'ALARM', StateReason: 'errors' }),
      );
      await new Promise((resolve) => setTimeout(resolve, 20));
      await runner.idle();
      const rollbacks = seen.filter((s) => s.workflow === 'rollback');
      assert.equal(rollbacks.length, 1);
      const event = rollbacks[0]?.input as {
        'detail-type': string;
        detail: { alarmName: string; state: { value: string } };
      };
      assert.equal(event['detail-type'], 'CloudWatch Alarm State Change');
      assert.deepEqual([event.detail.alarmName, event.detail.state.value], ['summarizer-5xx', 'ALARM']);

      assert.equal(seen.filter((s) => s.workflow === 'reconcile').length, 0, 'not due yet');
      sandbox.clock.advance(299_000);
      assert.equal(runner.executions('reconcile').length, 0);
      sandbox.clock.advance(1_000);
      sandbox.clock.advance(3_600_000); // a long jump fires once, not twelve times
      await runner.idle();
      assert.deepEqual(
        seen.filter((s) => s.workflow === 'reconcile').map((s) => s.input),
        [{ source: 'schedule' }, { source: 'schedule' }],
      );
    } finally {
      triggers.stop();
      cloudwatch.destroy();
      await sandbox.stop();
    }
  });

  it('invokes a function target on a matching event (prefix matching on a detail field), retrying a failed invocation twice', async () => {
    const sandbox = await startSandbox({ timeScale: 1 });
    const triggers = new LocalTriggers(() => undefined, sandbox.events, sandbox.clock);
    const invoked: string[] = [];
    let failures = 0;
    triggers.onEventInvoke(
      {
        source: ['aws.sagemaker'],
        'detail-type': ['SageMaker Endpoint State Change'],
        detail: { EndpointName: [{ prefix: 'ballast-' }], EndpointStatus: ['IN_SERVICE', 'FAILED'] },
      },
      async (event) => {
        const name = (event.detail as { EndpointName: string }).EndpointName;
        if (name === 'ballast-flaky' && failures++ < 5) throw new Error('Lambda failed');
        invoked.push(name);
      },
    );
    const put = (EndpointName: string, EndpointStatus: string) =>
      sandbox.events.put({
        source: 'aws.sagemaker',
        detailType: 'SageMaker Endpoint State Change',
        detail: { EndpointName, EndpointStatus },
      });
    try {
      put('ballast-prod-summarizer', 'IN_SERVICE');
      put('ballast-prod-summarizer', 'UPDATING');
      put('someone-elses-endpoint', 'IN_SERVICE');
      put('ballast-prod-assistant', 'FAILED');
      put('ballast-flaky', 'IN_SERVICE');
      await new Promise((resolve) => setTimeout(resolve, 20));
      assert.deepEqual(invoked, ['ballast-prod-summarizer', 'ballast-prod-assistant']);
      assert.equal(failures, 3, 'one invocation and two retries, then the event is dropped');
    } finally {
      triggers.stop();
      await sandbox.stop();
    }
  });
});
