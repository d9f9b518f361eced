/**
 * The sandbox's Step Functions service with bound workflows: StartExecution through the SDK starts
 * an execution on a LocalRunner (as LocalPipeline binds the deploy workflow), and the API reports
 * what the runner does. The behaviour shared with AWS is in test/conformance/stepfunctions.conformance.test.ts.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  CreateStateMachineCommand,
  DescribeExecutionCommand,
  DescribeStateMachineCommand,
  ListExecutionsCommand,
  SFNClient,
  SFNServiceException,
  StartExecutionCommand,
} from '@aws-sdk/client-sfn';
import { VirtualClock } from '../../sandbox/clock.ts';
import { LocalRunner } from '../../sandbox/runner.ts';
import { createStepFunctionsService, type StepFunctionsSandbox } from '../../sandbox/services/stepfunctions.ts';
import { clientConfig, type SandboxTarget, startSandboxTarget } from '../support/aws-targets.ts';

const ECHO = new URL('../fixtures/asl/echo.asl.json', import.meta.url).pathname;
const ARN = 'arn:aws:states:us-east-1:123456789012:stateMachine:ballast-deploy';

class ValidationFailed extends Error {
  override readonly name = 'ValidationFailed';
}

async function rejectsWith(promise: Promise<unknown>, name: string): Promise<void> {
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(error instanceof SFNServiceException, String(error));
    assert.equal(error.name, name, error.message);
    return true;
  });
}

describe('Step Functions sandbox: bound workflows', () => {
  let target: SandboxTarget;
  let sfn: SFNClient;
  let service: StepFunctionsSandbox;
  let runner: LocalRunner;
  /** Each Echo invocation waits for the test to release it. */
  const pending = new Map<string, { release: () => void; fail: (error: Error) => void }>();

  before(async () => {
    target = await startSandboxTarget((ctx) => [createStepFunctionsService(ctx)], { timeScale: 3600 });
    service = target.services[0] as StepFunctionsSandbox;
    sfn = new SFNClient(clientConfig(target.endpoint));
    runner = new LocalRunner(new VirtualClock(1), {
      deploy: {
        aslPath: ECHO,
        functions: {
          Echo: (event: { id: string }) =>
            new Promise((resolve, reject) => {
              pending.set(event.id, { release: () => resolve({ echoed: event }), fail: reject });
            }),
        },
      },
    });
    service.bind(ARN, (input, name) => runner.start('deploy', input, name), { definition: '{"StartAt":"Echo"}' });
  });

  after(async () => {
    for (const { release } of pending.values()) release();
    await runner.idle();
    sfn.destroy();
    await target.stop();
  });

  const settle = async () => {
    await new Promise((resolve) => setImmediate(resolve));
    await runner.idle();
  };
  const waitForTask = async (id: string) => {
    for (let i = 0; i < 200 && !pending.has(id); i++) await new Promise((resolve) => setTimeout(resolve, 5));
    const task = pending.get(id);
    assert.ok(task, `the Echo task of ${id} started`);
    return task;
  };

  it('starts the bound workflow on the runner with the parsed input and the execution name', async () => {
    const input = JSON.stringify({ id: 'one', push: { commit: 'a'.repeat(40) } });
    const started = await sfn.send(new StartExecutionCommand({ stateMachineArn: ARN, name: 'github-one', input }));
    assert.equal(started.executionArn, 'arn:aws:states:us-east-1:123456789012:execution:ballast-deploy:github-one');
    const [execution, ...others] = runner.executions('deploy').filter((e) => e.name === 'github-one');
    assert.equal(others.length, 0);
    assert.deepEqual(execution?.input, JSON.parse(input));
    const task = await waitForTask('one');

    assert.equal(
      (await sfn.send(new DescribeExecutionCommand({ executionArn: started.executionArn }))).status,
      'RUNNING',
    );
    const again = await sfn.send(new StartExecutionCommand({ stateMachineArn: ARN, name: 'github-one', input }));
    assert.equal(again.executionArn, started.executionArn);
    assert.equal(runner.executions('deploy').filter((e) => e.name === 'github-one').length, 1, 'nothing new started');

    task.release();
    await settle();
    const described = await sfn.send(new DescribeExecutionCommand({ executionArn: started.executionArn }));
    assert.equal(described.status, 'SUCCEEDED');
    assert.deepEqual(JSON.parse(described.output ?? 'null'), { echoed: JSON.parse(input) });
    assert.ok(described.stopDate instanceof Date);
    await rejectsWith(
      sfn.send(new StartExecutionCommand({ stateMachineArn: ARN, name: 'github-one', input })),
      'ExecutionAlreadyExists',
    );
    assert.equal(runner.executions('deploy').filter((e) => e.name === 'github-one').length, 1);
    assert.equal(service.executions(ARN).find((e) => e.name === 'github-one')?.status, 'SUCCEEDED');
  });

  it('reports a failed execution with the error name and message as error and cause', async () => {
    const started = await sfn.send(
      new StartExecutionCommand({ stateMachineArn: ARN, name: 'github-two', input: '{"id":"two"}' }),
    );
    (await waitForTask('two')).fail(new ValidationFailed('endpoints/chat.yaml:14:16: canary.percent is 75'));
    await settle();
    const described = await sfn.send(new DescribeExecutionCommand({ executionArn: started.executionArn }));
    assert.equal(described.status, 'FAILED');
    assert.equal(described.error, 'ValidationFailed');
    assert.equal(described.cause, 'endpoints/chat.yaml:14:16: canary.percent is 75');
    const failed = await sfn.send(new ListExecutionsCommand({ stateMachineArn: ARN, statusFilter: 'FAILED' }));
    assert.deepEqual(
      failed.executions?.map((e) => e.name),
      ['github-two'],
    );
  });

  it('answers ExecutionAlreadyExists for a name the runner already used outside the API', async () => {
    runner.start('deploy', { id: 'three' }, 'github-three');
    await rejectsWith(
      sfn.send(new StartExecutionCommand({ stateMachineArn: ARN, name: 'github-three', input: '{"id":"three"}' })),
      'ExecutionAlreadyExists',
    );
    (await waitForTask('three')).release();
    await settle();
  });

  it('describes the bound state machine with the definition it was bound with; an unbound one does not exist', async () => {
    const described = await sfn.send(new DescribeStateMachineCommand({ stateMachineArn: ARN }));
    assert.equal(described.name, 'ballast-deploy');
    assert.equal(described.definition, '{"StartAt":"Echo"}');
    const other = 'arn:aws:states:us-east-1:123456789012:stateMachine:unbound';
    service.bind(other, (input, name) => runner.start('deploy', input, name));
    service.unbind(other);
    await rejectsWith(
      sfn.send(new StartExecutionCommand({ stateMachineArn: other, input: '{}' })),
      'StateMachineDoesNotExist',
    );
  });
});

describe('Step Functions sandbox: created state machines', () => {
  let target: SandboxTarget;
  let sfn: SFNClient;

  before(async () => {
    // An hour of simulated time per wall second.
    target = await startSandboxTarget((ctx) => [createStepFunctionsService(ctx)], { timeScale: 3600 });
    sfn = new SFNClient(clientConfig(target.endpoint));
  });

  after(async () => {
    sfn.destroy();
    await target.stop();
  });

  const create = (name: string, definition: unknown) =>
    sfn.send(
      new CreateStateMachineCommand({
        name,
        definition: JSON.stringify(definition),
        roleArn: 'arn:aws:iam::123456789012:role/test',
      }),
    );

  it('refuses Task states (no Lambda functions behind the sandbox) and definitions that are not ASL', async () => {
    await rejectsWith(
      create('with-task', {
        StartAt: 'Call',
        States: { Call: { Type: 'Task', Resource: 'arn:aws:lambda:us-east-1:123456789012:function:f', End: true } },
      }),
      'InvalidDefinition',
    );
    await rejectsWith(create('not-asl', { States: {} }), 'InvalidDefinition');
  });

  it('lets a Wait with Seconds pass in simulated time', async () => {
    const { stateMachineArn } = await create('bake', {
      StartAt: 'Bake',
      States: { Bake: { Type: 'Wait', Seconds: 360, Next: 'Done' }, Done: { Type: 'Succeed' } },
    });
    const started = await sfn.send(new StartExecutionCommand({ stateMachineArn, input: '{}' }));
    const wallStart = Date.now();
    let status = 'RUNNING';
    while (status === 'RUNNING' && Date.now() - wallStart < 5000) {
      await new Promise((resolve) => setTimeout(resolve, 10));
      status = (await sfn.send(new DescribeExecutionCommand({ executionArn: started.executionArn }))).status ?? '';
    }
    assert.equal(status, 'SUCCEEDED');
    const wall = Date.now() - wallStart;
    assert.ok(wall >= 50 && wall < 2000, `360 simulated seconds took ${wall} ms at 3600x`);
  });
});
