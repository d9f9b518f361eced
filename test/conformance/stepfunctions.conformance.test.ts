/**
 * The Step Functions behaviour Ballast's GitHub webhook relies on (StartExecution with a name derived
 * from the delivery: idempotent while the execution runs, ExecutionAlreadyExists otherwise; the
 * errors for bad names, input and ARNs; DescribeExecution and ListExecutions), run against the
 * sandbox and moto. See test/support/aws-targets.ts for the harness.
 *
 * Both targets get their state machines from CreateStateMachine: the sandbox's minimal version runs
 * the definition with aws-local-stepfunctions (a one-hour Wait keeps an execution RUNNING, as on
 * AWS); moto never runs a definition, so its executions stay RUNNING until stopped. The sandbox's
 * other source of state machines, `bind` (how LocalPipeline exposes the deploy workflow), is
 * covered in test/sandbox/stepfunctions.test.ts and test/e2e/github.test.ts.
 */
import assert from 'node:assert/strict';
import { afterEach, before, it } from 'node:test';
import {
  CreateStateMachineCommand,
  DescribeExecutionCommand,
  DescribeStateMachineCommand,
  ListExecutionsCommand,
  SFNClient,
  SFNServiceException,
  StartExecutionCommand,
  StopExecutionCommand,
} from '@aws-sdk/client-sfn';
import { createStepFunctionsService } from '../../sandbox/services/stepfunctions.ts';
import {
  type AwsTarget,
  clientConfig,
  describeConformance,
  knownDifference,
  uniqueName,
} from '../support/aws-targets.ts';

const ROLE = 'arn:aws:iam::123456789012:role/ballast-deploy-workflow';
const WAITING = JSON.stringify({
  Comment: 'Stays RUNNING for an hour',
  StartAt: 'Bake',
  States: { Bake: { Type: 'Wait', Seconds: 3600, Next: 'Done' }, Done: { Type: 'Succeed' } },
});
const PASSING = JSON.stringify({
  StartAt: 'Echo',
  States: { Echo: { Type: 'Pass', Parameters: { 'commit.$': '$.push.commit', verdict: 'deployed' }, End: true } },
});
const FAILING = JSON.stringify({
  StartAt: 'Reject',
  States: {
    Reject: { Type: 'Fail', Error: 'ValidationFailed', Cause: 'endpoints/chat.yaml:14:16: canary.percent is 75' },
  },
});
const MOTO_DOES_NOT_RUN =
  'moto 5.2.1 does not run state machine definitions (executions stay RUNNING until stopped); AWS runs them to SUCCEEDED or FAILED with output or error and cause (https://docs.aws.amazon.com/step-functions/latest/apireference/API_DescribeExecution.html)';

async function rejectsWith(promise: Promise<unknown>, name: string): Promise<SFNServiceException> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof SFNServiceException, `expected an SFNServiceException, got ${String(error)}`);
    assert.equal(error.name, name, `error (message: ${error.message})`);
    return error;
  }
  assert.fail(`expected ${name}, but the call succeeded`);
}

describeConformance(
  'Step Functions',
  (ctx) => [createStepFunctionsService(ctx)],
  (target: () => AwsTarget, name) => {
    let client: SFNClient | undefined;
    const sfn = () => {
      client ??= new SFNClient(clientConfig(target().endpoint));
      return client;
    };
    const create = async (definition: string) =>
      (
        await sfn().send(
          new CreateStateMachineCommand({ name: uniqueName('ballast-deploy'), definition, roleArn: ROLE }),
        )
      ).stateMachineArn ?? '';
    const describe = (executionArn: string | undefined) => sfn().send(new DescribeExecutionCommand({ executionArn }));
    /** The webhook's input shape. */
    const input = (commit: string) => JSON.stringify({ source: 'github', push: { commit } });
    let waiting = '';

    before(async () => {
      waiting = await create(WAITING);
    });

    // Stop what is still waiting, so nothing outlives the test (the harness stops the target in its own `after`).
    afterEach(async () => {
      const running = await sfn().send(
        new ListExecutionsCommand({ stateMachineArn: waiting, statusFilter: 'RUNNING', maxResults: 1000 }),
      );
      for (const execution of running.executions ?? []) {
        await sfn().send(new StopExecutionCommand({ executionArn: execution.executionArn }));
      }
    });

    it('creates a state machine and describes it', async () => {
      const arn = await create(PASSING);
      assert.match(arn, /^arn:aws:states:us-east-1:123456789012:stateMachine:ballast-deploy-[0-9a-f]{12}$/);
      const described = await sfn().send(new DescribeStateMachineCommand({ stateMachineArn: arn }));
      assert.equal(described.stateMachineArn, arn);
      assert.equal(described.definition, PASSING);
      assert.equal(described.roleArn, ROLE);
      assert.equal(described.status, 'ACTIVE');
      assert.equal(described.type, 'STANDARD');
    });

    it('starts a named execution: its ARN, start date, RUNNING status and input', async () => {
      const executionName = uniqueName('github');
      const before = Date.now();
      const started = await sfn().send(
        new StartExecutionCommand({ stateMachineArn: waiting, name: executionName, input: input('a'.repeat(40)) }),
      );
      const machineName = waiting.split(':').pop();
      assert.equal(
        started.executionArn,
        `arn:aws:states:us-east-1:123456789012:execution:${machineName}:${executionName}`,
      );
      assert.ok(started.startDate instanceof Date);
      assert.ok(Math.abs(started.startDate.getTime() - before) < 60_000);
      const described = await describe(started.executionArn);
      assert.equal(described.executionArn, started.executionArn);
      assert.equal(described.stateMachineArn, waiting);
      assert.equal(described.name, executionName);
      assert.equal(described.status, 'RUNNING');
      assert.equal(described.input, input('a'.repeat(40)));
      assert.equal(described.stopDate, undefined);
      assert.equal(described.startDate?.getTime(), started.startDate.getTime());
    });

    it('answers a repeated start with the same name and input, while the execution runs, with that execution', async () => {
      const executionName = uniqueName('github');
      const request = { stateMachineArn: waiting, name: executionName, input: input('b'.repeat(40)) };
      const first = await sfn().send(new StartExecutionCommand(request));
      const second = await sfn().send(new StartExecutionCommand(request));
      assert.equal(second.executionArn, first.executionArn);
      assert.equal(second.startDate?.getTime(), first.startDate?.getTime());
      const listed = await sfn().send(new ListExecutionsCommand({ stateMachineArn: waiting, maxResults: 1000 }));
      assert.equal(listed.executions?.filter((e) => e.name === executionName).length, 1, 'one execution');
    });

    it('refuses the name of a running execution with another input', async () => {
      const executionName = uniqueName('github');
      await sfn().send(
        new StartExecutionCommand({ stateMachineArn: waiting, name: executionName, input: input('c'.repeat(40)) }),
      );
      await rejectsWith(
        sfn().send(
          new StartExecutionCommand({ stateMachineArn: waiting, name: executionName, input: input('d'.repeat(40)) }),
        ),
        'ExecutionAlreadyExists',
      );
    });

    it('refuses the name of a closed execution, whatever the input; a stopped execution is ABORTED', async () => {
      const executionName = uniqueName('github');
      const request = { stateMachineArn: waiting, name: executionName, input: input('e'.repeat(40)) };
      const started = await sfn().send(new StartExecutionCommand(request));
      const stopped = await sfn().send(
        new StopExecutionCommand({ executionArn: started.executionArn, error: 'Superseded', cause: 'a newer push' }),
      );
      assert.ok(stopped.stopDate instanceof Date);
      const described = await describe(started.executionArn);
      assert.equal(described.status, 'ABORTED');
      assert.ok(described.stopDate instanceof Date);
      await rejectsWith(sfn().send(new StartExecutionCommand(request)), 'ExecutionAlreadyExists');
      const aborted = await sfn().send(
        new ListExecutionsCommand({ stateMachineArn: waiting, statusFilter: 'ABORTED' }),
      );
      assert.ok(aborted.executions?.some((e) => e.executionArn === started.executionArn));
      const running = await sfn().send(
        new ListExecutionsCommand({ stateMachineArn: waiting, statusFilter: 'RUNNING' }),
      );
      assert.ok(!running.executions?.some((e) => e.executionArn === started.executionArn));
    });

    it('names an execution started without a name with a UUID and defaults its input to {}', async () => {
      const started = await sfn().send(new StartExecutionCommand({ stateMachineArn: waiting }));
      const described = await describe(started.executionArn);
      assert.match(described.name ?? '', /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
      assert.equal(described.input, '{}');
    });

    it('refuses names with whitespace, brackets, wildcards or special characters (InvalidName)', async () => {
      for (const bad of ['github delivery', 'a/b', 'a:b', 'a{b}', 'a*b', 'a?b', 'a#b', 'a\u0001b']) {
        await rejectsWith(
          sfn().send(new StartExecutionCommand({ stateMachineArn: waiting, name: bad, input: '{}' })),
          'InvalidName',
        );
      }
    });

    it('refuses a name over 80 characters', async () => {
      await rejectsWith(
        sfn().send(new StartExecutionCommand({ stateMachineArn: waiting, name: 'x'.repeat(81), input: '{}' })),
        'ValidationException',
      );
      // 80 is fine: the webhook's `github-<36-character delivery GUID>` is 43.
      await sfn().send(new StartExecutionCommand({ stateMachineArn: waiting, name: 'y'.repeat(80), input: '{}' }));
    });

    it('refuses input that is not JSON (InvalidExecutionInput)', async () => {
      await rejectsWith(
        sfn().send(new StartExecutionCommand({ stateMachineArn: waiting, name: uniqueName('x'), input: '{not json' })),
        'InvalidExecutionInput',
      );
    });

    it('answers StateMachineDoesNotExist for an unknown state machine and InvalidArn for a malformed ARN', async () => {
      await rejectsWith(
        sfn().send(
          new StartExecutionCommand({
            stateMachineArn: 'arn:aws:states:us-east-1:123456789012:stateMachine:never-created',
            input: '{}',
          }),
        ),
        'StateMachineDoesNotExist',
      );
      await rejectsWith(
        sfn().send(new StartExecutionCommand({ stateMachineArn: 'ballast-deploy', input: '{}' })),
        'InvalidArn',
      );
      await rejectsWith(
        sfn().send(
          new ListExecutionsCommand({ stateMachineArn: 'arn:aws:states:us-east-1:123456789012:stateMachine:never' }),
        ),
        'StateMachineDoesNotExist',
      );
    });

    it('answers ExecutionDoesNotExist for an unknown execution', async () => {
      const machineName = waiting.split(':').pop();
      await rejectsWith(
        describe(`arn:aws:states:us-east-1:123456789012:execution:${machineName}:${uniqueName('never')}`),
        'ExecutionDoesNotExist',
      );
    });

    it('lists executions most recent first', async () => {
      const machine = await create(WAITING);
      const names = [uniqueName('one'), uniqueName('two'), uniqueName('three')];
      for (const executionName of names) {
        await sfn().send(new StartExecutionCommand({ stateMachineArn: machine, name: executionName, input: '{}' }));
        await new Promise((resolve) => setTimeout(resolve, 1100)); // distinct start dates, to the second
      }
      const listed = await sfn().send(new ListExecutionsCommand({ stateMachineArn: machine }));
      assert.deepEqual(
        listed.executions?.map((e) => e.name),
        [...names].reverse(),
      );
      assert.ok(listed.executions?.every((e) => e.status === 'RUNNING' && e.stateMachineArn === machine));
      for (const execution of listed.executions ?? []) {
        await sfn().send(new StopExecutionCommand({ executionArn: execution.executionArn }));
      }
    });

    it(
      'runs an execution to SUCCEEDED with its output',
      knownDifference(name, { moto: MOTO_DOES_NOT_RUN }),
      async () => {
        const machine = await create(PASSING);
        const started = await sfn().send(
          new StartExecutionCommand({ stateMachineArn: machine, name: uniqueName('ok'), input: input('f'.repeat(40)) }),
        );
        const described = await settled(started.executionArn);
        assert.equal(described.status, 'SUCCEEDED');
        assert.deepEqual(JSON.parse(described.output ?? 'null'), { commit: 'f'.repeat(40), verdict: 'deployed' });
        assert.ok(described.stopDate instanceof Date);
        assert.equal(described.error, undefined);
        // Closed: the same name and input no longer return it.
        await rejectsWith(
          sfn().send(
            new StartExecutionCommand({ stateMachineArn: machine, name: described.name, input: described.input }),
          ),
          'ExecutionAlreadyExists',
        );
      },
    );

    it(
      'runs an execution to FAILED with the error and cause',
      knownDifference(name, { moto: MOTO_DOES_NOT_RUN }),
      async () => {
        const machine = await create(FAILING);
        const started = await sfn().send(new StartExecutionCommand({ stateMachineArn: machine, input: '{}' }));
        const described = await settled(started.executionArn);
        assert.equal(described.status, 'FAILED');
        assert.equal(described.error, 'ValidationFailed');
        assert.equal(described.cause, 'endpoints/chat.yaml:14:16: canary.percent is 75');
        assert.equal(described.output, undefined);
      },
    );

    async function settled(executionArn: string | undefined) {
      for (let i = 0; i < 100; i++) {
        const described = await describe(executionArn);
        if (described.status !== 'RUNNING') return described;
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      assert.fail(`${executionArn} is still RUNNING`);
    }
  },
);
