/**
 * The sandbox's Step Functions API for callback tasks: SendTaskSuccess and SendTaskFailure (awsJson
 * 1.0, through the SDK) answer the tokens the local runner takes from the service, with the errors
 * the API Reference documents. moto 5.2.1 accepts any token and answers nothing, so this is a
 * sandbox-only suite.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { SendTaskFailureCommand, SendTaskSuccessCommand, SFNClient, SFNServiceException } from '@aws-sdk/client-sfn';
import { VirtualClock } from '../../sandbox/clock.ts';
import { type LambdaHandler, LocalRunner } from '../../sandbox/runner.ts';
import { TaskTokens } from '../../sandbox/services/stepfunctions/task-tokens.ts';
import { createStepFunctionsService, type StepFunctionsSandbox } from '../../sandbox/services/stepfunctions.ts';
import { clientConfig, type SandboxTarget, startSandboxTarget } from '../support/aws-targets.ts';

const ASL = new URL('../fixtures/asl/callback.asl.json', import.meta.url).pathname;

async function rejectsWith(promise: Promise<unknown>, name: string): Promise<void> {
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(error instanceof SFNServiceException, String(error));
    assert.equal(error.name, name, error.message);
    assert.equal(error.$metadata.httpStatusCode, 400);
    return true;
  });
}

interface Output {
  answer?: unknown;
  timedOut?: { Error: string };
  error?: { Error: string; Cause: string };
}

describe('Step Functions sandbox: SendTaskSuccess and SendTaskFailure', () => {
  let target: SandboxTarget;
  let sfn: SFNClient;
  let service: StepFunctionsSandbox;
  let runner: LocalRunner;
  /** The token each Park invocation got, by the execution's `id`. */
  const tokens = new Map<string, string>();

  before(async () => {
    target = await startSandboxTarget((ctx) => [createStepFunctionsService(ctx)]);
    service = target.services[0] as StepFunctionsSandbox;
    sfn = new SFNClient(clientConfig(target.endpoint));
    const clock = new VirtualClock(1, new Date('2026-03-01T09:00:00Z'), () => 0);
    runner = new LocalRunner(
      clock,
      {
        demo: {
          aslPath: ASL,
          functions: {
            Plan: (async (event: { waitSeconds: number }) => ({ waitSeconds: event.waitSeconds })) as LambdaHandler,
            Park: (async (event: { taskToken: string; id: string }) => {
              tokens.set(event.id, event.taskToken);
              return {};
            }) as LambdaHandler,
            Done: (async () => ({})) as LambdaHandler,
          },
        },
      },
      { taskTokens: service },
    );
  });

  after(async () => {
    await runner.idle();
    sfn.destroy();
    await target.stop();
  });

  /** Starts an execution that parks for an hour; resolves with its token once Park has it. */
  async function parked(id: string): Promise<{ token: string; result: Promise<unknown> }> {
    const execution = runner.start('demo', { waitSeconds: 3600, id });
    for (let i = 0; i < 200 && !tokens.has(id); i++) await new Promise((resolve) => setTimeout(resolve, 2));
    const token = tokens.get(id);
    assert.ok(token, `${id} parked`);
    return { token, result: execution.result };
  }

  it('SendTaskSuccess ends the task with the output as its result; a second answer is TaskTimedOut', async () => {
    const { token, result } = await parked('success');
    await sfn.send(new SendTaskSuccessCommand({ taskToken: token, output: JSON.stringify({ woken: 'IN_SERVICE' }) }));
    const output = (await result) as Output;
    assert.deepEqual(output.answer, { woken: 'IN_SERVICE' });
    await rejectsWith(sfn.send(new SendTaskSuccessCommand({ taskToken: token, output: '{}' })), 'TaskTimedOut');
    await rejectsWith(sfn.send(new SendTaskFailureCommand({ taskToken: token, error: 'Late' })), 'TaskTimedOut');
  });

  it('SendTaskFailure fails the task with its error and cause', async () => {
    const { token, result } = await parked('failure');
    await sfn.send(new SendTaskFailureCommand({ taskToken: token, error: 'EndpointGone', cause: 'deleted' }));
    assert.deepEqual(((await result) as Output).error, { Error: 'EndpointGone', Cause: 'deleted' });
  });

  it('answers a task that timed out, or whose execution stopped, with TaskTimedOut', async () => {
    const execution = runner.start('demo', { waitSeconds: 60, id: 'timeout' });
    const output = (await execution.result) as Output;
    assert.equal(output.timedOut?.Error, 'States.Timeout');
    const token = tokens.get('timeout') ?? '';
    await rejectsWith(sfn.send(new SendTaskSuccessCommand({ taskToken: token, output: '{}' })), 'TaskTimedOut');

    const stopped = runner.start('demo', { waitSeconds: 3600, id: 'stopped' });
    for (let i = 0; i < 200 && !tokens.has('stopped'); i++) await new Promise((resolve) => setTimeout(resolve, 2));
    stopped.abort();
    await stopped.result.catch(() => undefined);
    await rejectsWith(
      sfn.send(new SendTaskSuccessCommand({ taskToken: tokens.get('stopped') ?? '', output: '{}' })),
      'TaskTimedOut',
    );
  });

  it('refuses what is no token (InvalidToken), a token it never issued (TaskDoesNotExist), and output that is not JSON (InvalidOutput)', async () => {
    await rejectsWith(sfn.send(new SendTaskSuccessCommand({ taskToken: 'not-a-token', output: '{}' })), 'InvalidToken');
    await rejectsWith(sfn.send(new SendTaskFailureCommand({ taskToken: 'not-a-token' })), 'InvalidToken');
    const foreign = new TaskTokens().issueTaskToken({ executionArn: 'arn:elsewhere', stateName: 'Park' }).token;
    await rejectsWith(sfn.send(new SendTaskSuccessCommand({ taskToken: foreign, output: '{}' })), 'TaskDoesNotExist');

    const { token, result } = await parked('invalid-output');
    await rejectsWith(sfn.send(new SendTaskSuccessCommand({ taskToken: token, output: '{not json' })), 'InvalidOutput');
    // The task is still open: a valid answer still ends it.
    await sfn.send(new SendTaskSuccessCommand({ taskToken: token, output: '"ok"' }));
    assert.equal(((await result) as Output).answer, 'ok');
  });

  it('validates the request as the API does: the token is required and at most 2048 characters', async () => {
    await rejectsWith(
      sfn.send(new SendTaskSuccessCommand({ taskToken: undefined as unknown as string, output: '{}' })),
      'ValidationException',
    );
    await rejectsWith(
      sfn.send(new SendTaskSuccessCommand({ taskToken: `AQB${'x'.repeat(2048)}`, output: '{}' })),
      'ValidationException',
    );
    await rejectsWith(
      sfn.send(new SendTaskFailureCommand({ taskToken: 'AQBx', error: 'E'.repeat(257) })),
      'ValidationException',
    );
  });
});
