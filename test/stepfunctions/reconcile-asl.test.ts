/**
 * The reconcile workflow's ASL as data, on the local interpreter with stand-in functions: what
 * reaches Finish when a batch fails, and when the run ends without Finish. The real handlers run in
 * test/e2e/reconcile*.test.ts.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { VirtualClock } from '../../sandbox/clock.ts';
import { RECONCILE_ASL } from '../../sandbox/pipeline.ts';
import { LocalRunner } from '../../sandbox/runner.ts';

const STARTED = '2026-03-01T09:00:00.000Z';
const checked = (environment: string) => ({
  environment,
  checked: 1,
  inSync: 1,
  drifted: 0,
  healing: 0,
  reported: 0,
  skipped: 0,
  removed: 0,
  pruned: 0,
  errors: 0,
});

function reconcile(scan: unknown, check: (input: { batch: { environment: string } }) => Promise<unknown>) {
  const finished: unknown[] = [];
  const clock = new VirtualClock(1, new Date(STARTED), () => 0);
  const runner = new LocalRunner(clock, {
    reconcile: {
      aslPath: RECONCILE_ASL,
      functions: {
        Scan: async () => scan,
        Check: check as (input: unknown) => Promise<unknown>,
        Finish: async (input: { batches: unknown[] }) => {
          finished.push(input);
          const failed = input.batches.some((b) => typeof b === 'object' && b !== null && 'failed' in b);
          return { failed, errors: failed ? 1 : 0 };
        },
      },
    },
  });
  return { execution: runner.start('reconcile', { source: 'ballast.scheduler' }), finished };
}

const scanOf = (environments: string[], idle = false) => ({
  run: 'r',
  startedAt: STARTED,
  environments: environments.map((environment) => ({ environment, due: true, endpoints: 1 })),
  batches: environments.map((environment) => ({ environment, endpoints: [{ name: 'summarizer', declared: true }] })),
  errors: 0,
  idle,
});

describe('stepfunctions/reconcile.asl.json', () => {
  it('a batch that fails reaches Finish as a failure of its environment, the others as checked, and the run fails', async () => {
    const { execution, finished } = reconcile(scanOf(['prod', 'staging']), async (input) => {
      if (input.batch.environment === 'staging') throw new Error('DescribeEndpoint exploded');
      return checked(input.batch.environment);
    });
    await assert.rejects(execution.result, /Fail state/);
    assert.equal(execution.status, 'FAILED');
    assert.equal(execution.error?.name, 'ReconcileFailed', JSON.stringify(execution.error));
    assert.equal(finished.length, 1, 'Finish ran once');
    const [input] = finished as Array<{ batches: unknown[]; startedAt: string }>;
    assert.deepEqual(input?.batches, [checked('prod'), { environment: 'staging', failed: true, error: 'Error' }]);
  });

  it('a tick with nothing due ends after Scan', async () => {
    let checks = 0;
    const { execution, finished } = reconcile(scanOf([], true), async (input) => {
      checks++;
      return checked(input.batch.environment);
    });
    await execution.result;
    assert.equal(finished.length, 0, 'no Finish');
    assert.equal(checks, 0, 'no Check');
    assert.deepEqual(execution.states, ['Begin', 'Scan', 'Idle?', 'Done']);
  });

  it('every batch is checked with the run and its start time', async () => {
    const seen: unknown[] = [];
    const { execution } = reconcile(scanOf(['prod']), async (input) => {
      seen.push(input);
      return checked(input.batch.environment);
    });
    await execution.result;
    assert.deepEqual(seen, [
      {
        batch: { environment: 'prod', endpoints: [{ name: 'summarizer', declared: true }] },
        run: 'r',
        startedAt: STARTED,
      },
    ]);
  });
});
