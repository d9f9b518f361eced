import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  batches,
  checkHead,
  claimRun,
  ENVIRONMENTS_REFRESH_MS,
  emptyStatus,
  isDue,
  MISSED_PUSH_GRACE_MS,
  needsListing,
  nextDue,
  offsetMinutes,
} from '../../../lambdas/state/reconcile-status.ts';

const T0 = '2026-03-01T09:00:00.000Z';
const at = (ms: number) => new Date(Date.parse(T0) + ms).toISOString();
const A = 'a'.repeat(40);
const B = 'b'.repeat(40);

describe('when an environment is due', () => {
  it('is due at once when it has never run', () => {
    assert.equal(isDue(undefined, Date.parse(T0)), true);
  });

  it('is due again one interval later, at its own offset, with a little slack for an early tick', () => {
    const next = nextDue('prod', 5, Date.parse(T0));
    const gap = Date.parse(next) - Date.parse(T0);
    assert.ok(gap > 0, `next ${next} is after ${T0}`);
    assert.ok(gap <= 5 * 60_000, `next ${next} is within one interval of ${T0}`);
    assert.equal(new Date(Date.parse(next) + 30_000).getUTCMinutes() % 5, offsetMinutes('prod', 5));
    assert.equal(isDue({ nextAt: next, intervalMinutes: 5 }, Date.parse(next) - 1), false);
    assert.equal(isDue({ nextAt: next, intervalMinutes: 5 }, Date.parse(next)), true);
  });

  it('spreads environments over the interval by name', () => {
    const offsets = new Set(['prod', 'staging', 'dev', 'qa', 'eu', 'us'].map((e) => offsetMinutes(e, 60)));
    assert.ok(offsets.size > 1, `offsets ${[...offsets]} differ`);
  });

  it('reads the environment list again only after a while', () => {
    assert.equal(needsListing(undefined, Date.parse(T0)), true);
    const status = { ...emptyStatus(T0), listedAt: T0 };
    assert.equal(needsListing(status, Date.parse(T0) + ENVIRONMENTS_REFRESH_MS - 1), false);
    assert.equal(needsListing(status, Date.parse(T0) + ENVIRONMENTS_REFRESH_MS), true);
  });
});

describe('missed pushes', () => {
  it('a branch where the deploy workflow saw it is no missed push', () => {
    assert.deepEqual(checkHead(A, A, undefined, T0), { kind: 'seen' });
  });

  it('an unseen head waits out the grace (its event may be on its way), then is started once', () => {
    const first = checkHead(B, A, undefined, T0);
    assert.equal(first.kind, 'waiting');
    const pending = first.kind === 'waiting' ? first.pendingHead : undefined;
    assert.equal(checkHead(B, A, pending, at(MISSED_PUSH_GRACE_MS - 1)).kind, 'waiting');
    const missed = checkHead(B, A, pending, at(MISSED_PUSH_GRACE_MS));
    assert.equal(missed.kind, 'missed');
    const started = missed.kind === 'missed' ? missed.pendingHead : undefined;
    assert.equal(started?.since, T0);
    assert.equal(checkHead(B, A, started, at(MISSED_PUSH_GRACE_MS * 5)).kind, 'started');
  });

  it('a newer unseen head starts its own grace', () => {
    const pending = { commit: B, since: T0 };
    const check = checkHead('c'.repeat(40), A, pending, at(MISSED_PUSH_GRACE_MS * 3));
    assert.equal(check.kind, 'waiting');
  });
});

describe('batches', () => {
  it('cuts a list into batches of at most the size', () => {
    const cut = batches([1, 2, 3, 4, 5], 2);
    assert.deepEqual(cut, [[1, 2], [3, 4], [5]]);
    assert.deepEqual(batches([], 2), []);
  });
});

describe('claiming a run', () => {
  const proposal = { intervalMinutes: 5, nextAt: at(5 * 60_000 - 30_000) };

  it('claims a due environment, and a retry of the same run finds its own claim', () => {
    const first = claimRun(undefined, proposal, true, 'run-1', T0);
    assert.equal(first.claimed, true);
    const again = claimRun(first.status, proposal, false, 'run-1', at(1000));
    assert.equal(again.claimed, true);
  });

  it('leaves an environment another run holds, or already did', () => {
    const held = claimRun(undefined, proposal, true, 'run-1', T0).status;
    assert.equal(claimRun(held, proposal, true, 'run-2', at(1000)).claimed, false);
    const done = { intervalMinutes: 5, nextAt: at(4 * 60_000) };
    assert.equal(claimRun(done, proposal, true, 'run-3', at(1000)).claimed, false);
  });

  it("keeps what Finish wrote (lastRun) and changes only Scan's fields", () => {
    const lastRun = {
      run: 'run-0',
      startedAt: T0,
      finishedAt: T0,
      durationMs: 1,
      checked: 1,
      inSync: 1,
      drifted: 0,
      healing: 0,
      reported: 0,
      skipped: 0,
      removed: 0,
      pruned: 0,
      errors: 0,
    };
    const latest = { intervalMinutes: 5, nextAt: at(4 * 60_000), lastRun };
    const result = claimRun(latest, { ...proposal, pendingHead: { commit: B, since: T0 } }, false, 'run-1', at(1000));
    assert.deepEqual(result.status.lastRun, lastRun);
    assert.equal(result.status.pendingHead?.commit, B);
    assert.equal(result.status.nextAt, latest.nextAt);
  });

  it('runs an environment once per interval whatever second of the minute the tick lands', () => {
    for (const second of [5, 31, 45, 59]) {
      let nextAt = '';
      const runs: number[] = [];
      for (let minute = 0; minute < 30; minute++) {
        const nowMs = Date.parse(T0) + minute * 60_000 + second * 1000;
        if (!nextAt || Date.parse(nextAt) <= nowMs) {
          runs.push(minute);
          nextAt = nextDue('prod', 5, nowMs);
        }
      }
      // The first run is at once; from then on at the environment's slot, five minutes apart.
      const gaps = runs.slice(2).map((m, i) => m - (runs[i + 1] ?? 0));
      assert.ok(gaps.length > 0, `tick at second ${second}: runs at minutes ${runs.join(', ')}`);
      assert.deepEqual(new Set(gaps), new Set([5]), `tick at second ${second}: runs at minutes ${runs.join(', ')}`);
    }
  });
});
