// decideLease, the content-based rules: quarantine and "already live" are about the endpoint's
// digest, not the commit that brought it.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  decideLease,
  type EndpointState,
  emptyState,
  type LeaseDecision,
  type LeaseRequest,
} from '../../../lambdas/state/endpoint-state.ts';

const T0 = '2026-03-01T09:00:00.000Z';
const T1 = '2026-03-01T09:01:00.000Z';
const T2 = '2026-03-01T09:02:00.000Z';
const NOW = '2026-03-01T09:03:00.000Z';
const A = 'a'.repeat(40);
const B = 'b'.repeat(40);
const C = 'c'.repeat(40);
const D = 'd'.repeat(40);

const empty = emptyState('prod', 'summarizer', T0);

function request(
  commit: string,
  digest: string,
  execution: string,
  pushedAt: string,
  extra: Partial<LeaseRequest> = {},
): LeaseRequest {
  return { commit, digest, execution, pushedAt, ...extra };
}

/** The reason a decision was refused, or 'acquired'. */
const verdict = (decision: LeaseDecision) => (decision.acquired ? 'acquired' : decision.reason);

/** A live: commit A with digest X, deployed and idle. */
const liveX: EndpointState = {
  ...empty,
  desired: { commit: A, digest: 'digest-x', pushedAt: T0 },
  live: { commit: A, digest: 'digest-x', endpointConfigName: 'cfg-x', at: T0 },
  lastGood: { commit: A, digest: 'digest-x', endpointConfigName: 'cfg-x', at: T0 },
};

/** On top of liveX, commit B (digest Y) rolled back: Y is quarantined, B stays desired. */
const quarantinedY: EndpointState = {
  ...liveX,
  desired: { commit: B, digest: 'digest-y', pushedAt: T1, previousCommit: A },
  quarantined: [
    { commit: 'e'.repeat(40), digest: 'digest-old', reason: 'failed', at: T0 },
    { commit: B, digest: 'digest-y', reason: 'rolled back: summarizer-5xx', at: T1 },
  ],
};

describe('decideLease: quarantined content', () => {
  it('refuses a new commit with the same content, and makes that commit the desired one', () => {
    const decision = decideLease(quarantinedY, request(C, 'digest-y', 'exec-c', T2, { previousCommit: B }), NOW);
    assert.equal(verdict(decision), 'quarantined');
    assert.equal(decision.state.desired?.commit, C);
    assert.equal(decision.state.desired?.digest, 'digest-y');
    assert.equal(decision.state.updatedAt, NOW);
    assert.equal(decision.state.lease, undefined);
    assert.deepEqual(decision.state.quarantined, quarantinedY.quarantined, 'the quarantine stays');
  });

  it('refuses a late, older commit with the same content without moving desired', () => {
    const decision = decideLease(quarantinedY, request(D, 'digest-y', 'exec-d', T0), NOW);
    assert.equal(verdict(decision), 'quarantined');
    assert.equal(decision.state.desired?.commit, B);
    assert.equal(decision.state, quarantinedY, 'nothing to write');
  });

  it('acquires for a new commit with other content (a fix on top of the bad one)', () => {
    const decision = decideLease(quarantinedY, request(C, 'digest-z', 'exec-c', T2, { previousCommit: B }), NOW);
    assert.equal(verdict(decision), 'acquired');
    assert.equal(decision.state.lease?.execution, 'exec-c');
  });

  it('acquires on `ballast retry`, lifting the quarantine of that digest only', () => {
    const retry = request(B, 'digest-y', 'exec-retry', T1, {
      previousCommit: A,
      retry: { requestedBy: 'arn:aws:iam::111122223333:user/ops' },
    });
    const decision = decideLease(quarantinedY, retry, NOW);
    assert.equal(verdict(decision), 'acquired');
    assert.deepEqual(
      decision.state.quarantined.map((q) => q.digest),
      ['digest-old'],
    );
    assert.deepEqual(decision.state.lease, {
      commit: B,
      digest: 'digest-y',
      execution: 'exec-retry',
      pushedAt: T1,
      previousCommit: A,
      acquiredAt: NOW,
    });
    assert.equal(decision.state.desired?.commit, B);
    assert.equal('retry' in (decision.state.desired ?? {}), false, 'desired does not remember the retry');
    assert.equal('execution' in (decision.state.desired ?? {}), false);
  });
});

describe('decideLease: content that is already live', () => {
  it('does not acquire for a new commit with the live content, and makes it the desired one', () => {
    const decision = decideLease(liveX, request(B, 'digest-x', 'exec-b', T1, { previousCommit: A }), NOW);
    assert.equal(verdict(decision), 'already-live');
    assert.equal(decision.state.lease, undefined);
    assert.equal(decision.state.desired?.commit, B);
    assert.equal(decision.state.updatedAt, NOW);
  });

  it('does not move desired for an older commit with the live content', () => {
    const decision = decideLease(liveX, request(D, 'digest-x', 'exec-d', '2026-03-01T08:00:00.000Z'), NOW);
    assert.equal(verdict(decision), 'already-live');
    assert.equal(decision.state, liveX, 'nothing to write');
  });

  it('acquires for the live content on `ballast retry` (a deliberate re-deployment)', () => {
    const decision = decideLease(
      liveX,
      request(A, 'digest-x', 'exec-retry', T0, { retry: { requestedBy: 'ops' } }),
      NOW,
    );
    assert.equal(verdict(decision), 'acquired');
    assert.equal(decision.state.lease?.execution, 'exec-retry');
  });

  it('lets a revert pushed while a lease is held take the lease over (it is not already live)', () => {
    // B (digest Y) is rolling out on top of A (digest X, live); C reverts B, so its content is X again.
    const rollingOutB = decideLease(liveX, request(B, 'digest-y', 'exec-b', T1, { previousCommit: A }), T1);
    assert.equal(verdict(rollingOutB), 'acquired');
    const revert = decideLease(rollingOutB.state, request(C, 'digest-x', 'exec-c', T2, { previousCommit: B }), NOW);
    assert.equal(verdict(revert), 'acquired');
    assert.equal(revert.acquired ? revert.tookOverFrom : undefined, 'exec-b');
    assert.equal(revert.state.lease?.execution, 'exec-c');
    assert.equal(revert.state.lease?.digest, 'digest-x');
    assert.equal(revert.state.desired?.commit, C);
  });

  it('answers a re-delivery of the leased commit (a second execution for it) as already live', () => {
    const held = decideLease(liveX, request(B, 'digest-y', 'exec-b', T1, { previousCommit: A }), T1);
    assert.equal(verdict(held), 'acquired');
    const again = decideLease(held.state, request(B, 'digest-y', 'exec-b2', T1, { previousCommit: A }), NOW);
    assert.equal(verdict(again), 'already-live');
    assert.equal(again.state, held.state, 'the first execution keeps the lease');
    assert.equal(again.state.lease?.execution, 'exec-b');
  });
});

describe('decideLease: a heal (the reconciler found the live endpoint drifted)', () => {
  const heal = (execution: string, extra: Partial<LeaseRequest> = {}) =>
    request(A, 'digest-x', execution, T0, { retry: { requestedBy: 'ballast reconcile', kind: 'heal' }, ...extra });
  /** liveX with a rollout of B (digest Y) holding the lease. */
  const rollingOutB = decideLease(liveX, request(B, 'digest-y', 'exec-b', T1, { previousCommit: A }), T1).state;

  it('acquires for the content that is live already (the live endpoint drifted from it)', () => {
    assert.equal(verdict(decideLease(liveX, heal('heal-1'), NOW)), 'acquired');
  });

  it('holds the lease for the heal once acquired', () => {
    assert.equal(decideLease(liveX, heal('heal-1'), NOW).state.lease?.execution, 'heal-1');
  });

  it('is idempotent for the heal that holds the lease (a Step Functions retry of Lease)', () => {
    const held = decideLease(liveX, heal('heal-1'), NOW).state;
    assert.equal(decideLease(held, heal('heal-1'), NOW).state, held);
  });

  it('answers quarantined content as quarantined', () => {
    const quarantinedX: EndpointState = {
      ...liveX,
      quarantined: [{ commit: A, digest: 'digest-x', reason: 'rolled back', at: T0 }],
    };
    assert.equal(verdict(decideLease(quarantinedX, heal('heal-1'), NOW)), 'quarantined');
  });

  it('never lifts a quarantine', () => {
    const healB = request(B, 'digest-y', 'heal-1', T1, {
      previousCommit: A,
      retry: { requestedBy: 'ballast reconcile', kind: 'heal' },
    });
    assert.equal(decideLease(quarantinedY, healB, NOW).state, quarantinedY, 'the state, quarantine and all, stays');
  });

  it('is superseded by a rollout of another commit that holds the lease (where a push would take it over)', () => {
    assert.equal(verdict(decideLease(rollingOutB, heal('heal-1'), NOW)), 'superseded');
  });

  it('leaves the lease another execution holds to it', () => {
    assert.equal(decideLease(rollingOutB, heal('heal-1'), NOW).state, rollingOutB);
  });

  it('is superseded by an execution of its own commit that holds the lease (where a retry would take it)', () => {
    const retrying = decideLease(
      liveX,
      request(A, 'digest-x', 'exec-retry', T0, { retry: { requestedBy: 'ops' } }),
      T1,
    );
    assert.equal(verdict(decideLease(retrying.state, heal('heal-1'), NOW)), 'superseded');
  });

  it('is superseded by a newer push that asked for the endpoint since', () => {
    const movedOn: EndpointState = {
      ...liveX,
      desired: { commit: B, digest: 'digest-y', pushedAt: T1, previousCommit: A },
    };
    assert.equal(verdict(decideLease(movedOn, heal('heal-1'), NOW)), 'superseded');
  });

  it('still lets a plain retry lift the quarantine it names', () => {
    const retryB = request(B, 'digest-y', 'exec-retry', T1, {
      previousCommit: A,
      retry: { requestedBy: 'ops', kind: 'retry' },
    });
    assert.deepEqual(
      decideLease(quarantinedY, retryB, NOW).state.quarantined.map((q) => q.digest),
      ['digest-old'],
    );
  });
});
