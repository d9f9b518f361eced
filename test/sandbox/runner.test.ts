import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { VirtualClock } from '../../sandbox/clock.ts';
import { ExecutionAlreadyExists, LocalRunner, waitSeconds } from '../../sandbox/runner.ts';

const ASL = new URL('../fixtures/asl/wait-and-retry.asl.json', import.meta.url).pathname;

class TransientError extends Error {
  override readonly name = 'TransientError';
}

function runner(flakyFailures: number, clock = new VirtualClock(1, new Date('2026-01-01T00:00:00Z'), () => 0)) {
  let calls = 0;
  const seen: unknown[] = [];
  const local = new LocalRunner(clock, {
    demo: {
      aslPath: ASL,
      functions: {
        Plan: async (event: { waitSeconds: number }) => ({
          waitSeconds: event.waitSeconds,
          at: clock.now().toISOString(),
        }),
        Flaky: async (event: unknown) => {
          seen.push(event);
          calls += 1;
          if (calls <= flakyFailures) throw new TransientError(`failure ${calls}`);
          return { calls, at: clock.now().toISOString() };
        },
      },
    },
  });
  return { local, clock, calls: () => calls, seen };
}

describe('LocalRunner', () => {
  it('runs the ASL with real handlers and moves simulated time by the Wait state, not wall time', async () => {
    const { local, clock } = runner(0);
    const started = Date.now();
    const execution = local.start('demo', { waitSeconds: 3600 });
    const output = (await execution.result) as { plan: { at: string }; flaky: { at: string; calls: number } };
    assert.equal(execution.status, 'SUCCEEDED');
    assert.equal(output.plan.at, '2026-01-01T00:00:00.000Z');
    assert.equal(output.flaky.at, '2026-01-01T01:00:00.000Z', 'the Wait advanced the clock by exactly 3600 s');
    assert.equal(clock.now().toISOString(), '2026-01-01T01:00:00.000Z');
    assert.ok(Date.now() - started < 5000, 'an hour of simulated waiting takes no wall time');
    assert.deepEqual(execution.states, ['Plan', 'Sleep', 'Flaky']);
  });

  it('matches Retry on the error name a handler throws, as Step Functions does', async () => {
    const { local, calls } = runner(2);
    const execution = local.start('demo', { waitSeconds: 1 });
    const output = (await execution.result) as { flaky: { calls: number }; error?: unknown };
    assert.equal(calls(), 3);
    assert.equal(output.flaky.calls, 3);
    assert.equal(output.error, undefined);
  });

  it('routes to Catch once retries are exhausted', async () => {
    const { local, calls } = runner(10);
    const output = (await local.start('demo', { waitSeconds: 0 }).result) as {
      error: { Error: string; Cause: string };
    };
    assert.equal(calls(), 4, 'one try and three retries');
    assert.deepEqual(output.error, { Error: 'TransientError', Cause: 'failure 4' });
  });

  it('hands each handler the merged state input', async () => {
    const { local, seen } = runner(0);
    await local.start('demo', { waitSeconds: 0 }).result;
    const first = seen[0] as { plan: unknown };
    assert.ok(first.plan, 'the task sees the result of the earlier task under its ResultPath');
  });

  it('refuses a second execution with the same name', () => {
    const { local } = runner(0);
    local.start('demo', { waitSeconds: 0 }, 'once');
    assert.throws(() => local.start('demo', { waitSeconds: 0 }, 'once'), ExecutionAlreadyExists);
  });

  it("records the execution's largest state input or output, in bytes of JSON", async () => {
    const { local } = runner(0);
    const execution = local.start('demo', { waitSeconds: 0, padding: 'é'.repeat(1000) });
    const output = await execution.result;
    // The last state's output carries everything the earlier tasks added; 'é' is two bytes in UTF-8.
    assert.deepEqual(execution.largestPayload, {
      state: 'Flaky',
      direction: 'output',
      bytes: Buffer.byteLength(JSON.stringify(output), 'utf8'),
    });
    assert.ok((execution.largestPayload?.bytes ?? 0) > 2000);
  });

  it('idle() also waits for the invocations of event targets in flight', async () => {
    const { local } = runner(0);
    let done = false;
    void local.invoke(
      'Target',
      async () => {
        await new Promise((resolve) => setTimeout(resolve, 20));
        done = true;
        return null;
      },
      {},
    );
    await local.idle();
    assert.equal(done, true);
  });

  it('computes Wait durations from Seconds, SecondsPath and TimestampPath', () => {
    assert.equal(waitSeconds({ Seconds: 5 }, {}, 0), 5);
    assert.equal(waitSeconds({ SecondsPath: '$.a.b' }, { a: { b: 42 } }, 0), 42);
    assert.equal(waitSeconds({ TimestampPath: '$.t' }, { t: '1970-01-01T00:01:00Z' }, 0), 60);
    assert.equal(waitSeconds({ TimestampPath: '$.t' }, { t: '1970-01-01T00:01:00Z' }, 120_000), 0);
  });
});
