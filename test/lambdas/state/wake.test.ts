import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { EXPIRY_MARGIN_SECONDS, park, type Waiter, waiting } from '../../../lambdas/state/wake.ts';

const NOW = Date.parse('2026-03-01T09:00:00Z');
const waiter = (taskToken: string, untilMs: number): Waiter => ({
  taskToken,
  state: 'WaitForRollout',
  commit: 'a'.repeat(40),
  parkedAt: new Date(NOW).toISOString(),
  until: new Date(untilMs).toISOString(),
});

describe('wake list', () => {
  it('parks one entry per execution, replacing its older one, beside the other executions', () => {
    const one = park(undefined, 'ep', 'a', waiter('t1', NOW + 60_000), NOW);
    const two = park(one, 'ep', 'b', waiter('t2', NOW + 60_000), NOW);
    const three = park(two, 'ep', 'a', waiter('t3', NOW + 60_000), NOW);
    assert.deepEqual(
      Object.entries(three?.waiters ?? {}).map(([execution, w]) => [execution, w.taskToken]),
      [
        ['b', 't2'],
        ['a', 't3'],
      ],
    );
  });

  it('leaves the list as it is for a retried Park (same token, nothing expired)', () => {
    const list = park(undefined, 'ep', 'a', waiter('t1', NOW + 60_000), NOW);
    assert.equal(park(list, 'ep', 'a', waiter('t1', NOW + 60_000), NOW + 1000), undefined);
  });

  it('drops, and never wakes, an entry once its task has timed out (with a margin for clocks)', () => {
    const list = park(undefined, 'ep', 'old', waiter('t-old', NOW), NOW);
    const marginEnd = NOW + EXPIRY_MARGIN_SECONDS * 1000;
    assert.equal(waiting(list, marginEnd).length, 1, 'within the margin it is still answered');
    assert.equal(waiting(list, marginEnd + 1).length, 0);
    const next = park(list, 'ep', 'new', waiter('t-new', marginEnd + 60_000), marginEnd + 1);
    assert.deepEqual(Object.keys(next?.waiters ?? {}), ['new']);
  });
});
