/**
 * The local runner's callback tasks (`arn:aws:states:::lambda:invoke.waitForTaskToken`): the
 * function gets a task token, the task ends when the token is answered or when its timeout (read
 * from the state's input, as on AWS) has passed in simulated time, and waiting tasks move the
 * clock in steps that let an answer land at the simulated instant it was given.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { VirtualClock } from '../../sandbox/clock.ts';
import { type LambdaHandler, LocalRunner, PARK_STEP_MS } from '../../sandbox/runner.ts';
import { TaskTokens } from '../../sandbox/services/stepfunctions/task-tokens.ts';

const ASL = new URL('../fixtures/asl/callback.asl.json', import.meta.url).pathname;
const START = Date.parse('2026-01-01T00:00:00Z');

class TransientError extends Error {
  override readonly name = 'TransientError';
}

interface Output {
  answer?: unknown;
  timedOut?: { Error: string; Cause: string };
  error?: { Error: string; Cause: string };
  done: { at: number };
}

/** A runner over the fixture; `park` sees each Park invocation (its token and id). */
function callbackRunner(
  options: {
    clock?: VirtualClock;
    waits?: 'clock' | 'wall';
    park?: (event: { taskToken: string; id: string }) => Promise<unknown> | unknown;
  } = {},
) {
  const clock = options.clock ?? new VirtualClock(1, new Date(START), () => 0);
  const tokens = new TaskTokens();
  const issued: string[] = [];
  const functions: Record<string, LambdaHandler> = {
    Plan: (async (event: { waitSeconds: number }) => ({ waitSeconds: event.waitSeconds })) as LambdaHandler,
    Park: (async (event: { taskToken: string; id: string }) => {
      issued.push(event.taskToken);
      return options.park ? await options.park(event) : { parked: true };
    }) as LambdaHandler,
    Done: (async () => ({ at: clock.nowMs() })) as LambdaHandler,
  };
  const runner = new LocalRunner(
    clock,
    { demo: { aslPath: ASL, functions } },
    {
      taskTokens: tokens,
      ...(options.waits ? { waits: options.waits } : {}),
    },
  );
  return { runner, clock, tokens, issued };
}

/** Calls `act` once, the first time the clock reaches `atMs`. */
function at(clock: VirtualClock, atMs: number, act: () => void): void {
  let done = false;
  const unsubscribe = clock.onAdvance(() => {
    if (done || clock.nowMs() < atMs) return;
    done = true;
    unsubscribe();
    act();
  });
}

describe('LocalRunner: callback tasks', () => {
  it('hands the function a task token and, unanswered, fails the task with States.Timeout after the timeout of SIMULATED time', async () => {
    const { runner, clock, tokens, issued } = callbackRunner();
    const wallStart = Date.now();
    const execution = runner.start('demo', { waitSeconds: 1800, id: 'a' });
    const output = (await execution.result) as Output;
    assert.equal(execution.status, 'SUCCEEDED');
    assert.equal(output.timedOut?.Error, 'States.Timeout', JSON.stringify(output));
    assert.equal(output.done.at, START + 1_800_000, 'the Catch ran exactly at the timeout');
    assert.equal(clock.nowMs(), START + 1_800_000);
    assert.ok(Date.now() - wallStart < 5000, 'half an hour of simulated waiting takes little wall time');
    assert.deepEqual(execution.states, ['Plan', 'Park', 'Done'], 'one state for the whole wait');
    assert.equal(issued.length, 1);
    assert.match(issued[0] ?? '', /^AQB/, 'the payload carries a real token, not the placeholder');
    assert.equal(
      tokens.answer(issued[0] ?? '', { status: 'succeeded', output: {} }),
      'closed',
      'a timed-out task is closed',
    );
  });

  it('ends the wait when the token is answered: the answer is the result, at the simulated instant it came', async () => {
    const { runner, clock, tokens, issued } = callbackRunner();
    at(clock, START + 600_000, () => {
      assert.equal(
        tokens.answer(issued[0] ?? '', { status: 'succeeded', output: { woken: 'by the test' } }),
        undefined,
      );
    });
    const execution = runner.start('demo', { waitSeconds: 3600, id: 'a' });
    const output = (await execution.result) as Output;
    assert.deepEqual(output.answer, { woken: 'by the test' });
    assert.equal(output.timedOut, undefined);
    assert.ok(
      output.done.at >= START + 600_000 && output.done.at <= START + 600_000 + PARK_STEP_MS,
      `${output.done.at}`,
    );
    assert.equal(tokens.answer(issued[0] ?? '', { status: 'succeeded', output: {} }), 'closed', 'answered once only');
  });

  it('waits for an event target the runner invokes before it moves the clock on', async () => {
    const { runner, clock, tokens, issued } = callbackRunner();
    let answeredAt = 0;
    // A slow target (50 ms of wall time, as an HTTP round trip or two): the clock must not run on meanwhile.
    const target: LambdaHandler = (async () => {
      await new Promise((resolve) => setTimeout(resolve, 50));
      answeredAt = clock.nowMs();
      tokens.answer(issued[0] ?? '', { status: 'succeeded', output: { woken: true } });
      return {};
    }) as LambdaHandler;
    at(clock, START + 300_000, () => queueMicrotask(() => void runner.invoke('Target', target, {})));
    const output = (await runner.start('demo', { waitSeconds: 3600, id: 'a' }).result) as Output;
    assert.deepEqual(output.answer, { woken: true });
    assert.ok(answeredAt <= START + 300_000 + PARK_STEP_MS, `answered at +${(answeredAt - START) / 1000} s`);
    assert.ok(output.done.at <= START + 300_000 + PARK_STEP_MS, `resumed at +${(output.done.at - START) / 1000} s`);
  });

  it('fails the task with the error and cause of SendTaskFailure, for Catch to match', async () => {
    const { runner, tokens } = callbackRunner({
      park: (event) => {
        queueMicrotask(() =>
          tokens.answer(event.taskToken, { status: 'failed', error: 'EndpointGone', cause: 'deleted meanwhile' }),
        );
        return {};
      },
    });
    const output = (await runner.start('demo', { waitSeconds: 60, id: 'a' }).result) as Output;
    assert.deepEqual(output.error, { Error: 'EndpointGone', Cause: 'deleted meanwhile' });
  });

  it("retries the task on the function's error (a new token each attempt) and catches it past the retries", async () => {
    let calls = 0;
    const { runner, issued } = callbackRunner({
      park: () => {
        calls += 1;
        if (calls === 1) throw new TransientError('S3 throttled');
        return {};
      },
    });
    const output = (await runner.start('demo', { waitSeconds: 60, id: 'a' }).result) as Output;
    assert.equal(calls, 2);
    assert.equal(new Set(issued).size, 2, 'each attempt has its own token');
    assert.equal(output.timedOut?.Error, 'States.Timeout');

    const failing = callbackRunner({
      park: () => {
        throw new TransientError('S3 down');
      },
    });
    const failed = (await failing.runner.start('demo', { waitSeconds: 60, id: 'b' }).result) as Output;
    assert.deepEqual(failed.error, { Error: 'TransientError', Cause: 'S3 down' });
  });

  it("lets the waits of concurrent executions overlap: an hour's and half an hour's wait take one simulated hour", async () => {
    const { runner, clock } = callbackRunner();
    const first = runner.start('demo', { waitSeconds: 3600, id: 'a' });
    const second = runner.start('demo', { waitSeconds: 1800, id: 'b' });
    const [one, two] = (await Promise.all([first.result, second.result])) as [Output, Output];
    assert.equal(one.done.at, START + 3_600_000);
    // The second parks a moment after the first, when the clock may have made its first step.
    assert.ok(two.done.at >= START + 1_800_000 && two.done.at <= START + 1_800_000 + PARK_STEP_MS, `${two.done.at}`);
    assert.equal(clock.nowMs(), START + 3_600_000, 'not 90 minutes: the waits overlapped');
  });

  it('closes the task of a stopped execution', async () => {
    const { runner, tokens, issued } = callbackRunner({ clock: new VirtualClock(1e-9, new Date(START)) });
    // Stop the execution while Park waits for its answer.
    const execution = runner.start('demo', { waitSeconds: 3600, id: 'a' });
    for (let i = 0; i < 100 && issued.length === 0; i++) await new Promise((resolve) => setImmediate(resolve));
    execution.abort();
    await execution.result.catch(() => undefined);
    assert.equal(execution.status, 'ABORTED');
    assert.equal(tokens.answer(issued[0] ?? '', { status: 'succeeded', output: {} }), 'closed');
  });

  it("in `waits: 'wall'` mode, lets the clock run by itself and times out when it passes the deadline", async () => {
    // 60 simulated seconds are 10 ms of wall time at this scale.
    const clock = new VirtualClock(6000, new Date(START));
    const { runner } = callbackRunner({ clock, waits: 'wall' });
    const wallStart = Date.now();
    const output = (await runner.start('demo', { waitSeconds: 60, id: 'a' }).result) as Output;
    assert.equal(output.timedOut?.Error, 'States.Timeout');
    assert.ok(output.done.at >= START + 60_000, 'not before the deadline');
    assert.ok(Date.now() - wallStart >= 5, 'the wait took wall time');

    const answered = callbackRunner({ clock: new VirtualClock(6000, new Date(START)), waits: 'wall' });
    const execution = answered.runner.start('demo', { waitSeconds: 3600, id: 'b' });
    for (let i = 0; i < 100 && answered.issued.length === 0; i++) await new Promise((resolve) => setImmediate(resolve));
    answered.tokens.answer(answered.issued[0] ?? '', { status: 'succeeded', output: { woken: true } });
    assert.deepEqual(((await execution.result) as Output).answer, { woken: true });
  });

  it('refuses a callback task whose TimeoutSecondsPath selects no positive integer, as Step Functions does', async () => {
    const { runner } = callbackRunner();
    const execution = runner.start('demo', { waitSeconds: 0, id: 'a' });
    const output = (await execution.result.catch((error: unknown) => error)) as Output | Error;
    assert.equal(execution.status, 'FAILED', JSON.stringify(output));
    assert.equal(execution.error?.name, 'States.Runtime');
  });
});
