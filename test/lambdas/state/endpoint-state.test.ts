import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  completeRollout,
  decideLease,
  type EndpointState,
  emptyState,
  holdsLease,
  isNewer,
  releaseLease,
} from '../../../lambdas/state/endpoint-state.ts';

const T0 = '2026-03-01T09:00:00.000Z';
const T1 = '2026-03-01T09:00:01.000Z';
const A = 'a'.repeat(40);
const B = 'b'.repeat(40);
const C = 'c'.repeat(40);

const request = (commit: string, execution: string, pushedAt: string, previousCommit?: string) => ({
  commit,
  digest: `digest-${commit[0]}`,
  execution,
  pushedAt,
  ...(previousCommit ? { previousCommit } : {}),
});

function acquired(state: EndpointState, r: ReturnType<typeof request>): EndpointState {
  const decision = decideLease(state, r, T1);
  assert.equal(decision.acquired, true, `expected ${r.execution} to acquire`);
  return decision.state;
}

describe('isNewer', () => {
  it('trusts Git ancestry over timestamps (pushes in the same second)', () => {
    assert.equal(isNewer({ commit: B, pushedAt: T0, previousCommit: A }, { commit: A, pushedAt: T0 }), true);
    assert.equal(isNewer({ commit: A, pushedAt: T0 }, { commit: B, pushedAt: T0, previousCommit: A }), false);
    // Even when the clock says otherwise: B was pushed on top of A.
    assert.equal(isNewer({ commit: B, pushedAt: T0, previousCommit: A }, { commit: A, pushedAt: T1 }), true);
  });

  it('falls back to push time, then to a deterministic tie-break', () => {
    assert.equal(isNewer({ commit: A, pushedAt: T1 }, { commit: B, pushedAt: T0 }), true);
    assert.equal(isNewer({ commit: B, pushedAt: T0 }, { commit: A, pushedAt: T0 }), true);
    assert.equal(isNewer({ commit: A, pushedAt: T0 }, { commit: B, pushedAt: T0 }), false);
  });
});

describe('decideLease', () => {
  const empty = emptyState('prod', 'summarizer', T0);

  it('grants a free endpoint and records the desired commit', () => {
    const state = acquired(empty, request(A, 'exec-a', T0));
    assert.equal(state.lease?.execution, 'exec-a');
    assert.equal(state.desired?.commit, A);
    assert.ok(holdsLease(state, 'exec-a'));
  });

  it('is idempotent for the holder (a Step Functions retry of Lease)', () => {
    const state = acquired(empty, request(A, 'exec-a', T0));
    const again = decideLease(state, request(A, 'exec-a', T0), T1);
    assert.equal(again.acquired, true);
    assert.equal(again.state, state, 'nothing to write');
  });

  it('lets a newer push take over from an older one, and stops the older one', () => {
    const heldByA = acquired(empty, request(A, 'exec-a', T0));
    const takeover = decideLease(heldByA, request(B, 'exec-b', T0, A), T1);
    assert.equal(takeover.acquired, true);
    assert.ok(takeover.acquired && takeover.tookOverFrom === 'exec-a');
    assert.equal(holdsLease(takeover.state, 'exec-a'), false, 'A has lost the lease');
    // A's retry of Lease (or a late start of A) is superseded now.
    const late = decideLease(takeover.state, request(A, 'exec-a', T0), T1);
    assert.deepEqual([late.acquired, late.acquired ? undefined : late.reason], [false, 'superseded']);
  });

  it('supersedes an older push that arrives after a newer one (a late or re-delivered event)', () => {
    const heldByB = acquired(empty, request(B, 'exec-b', T1, A));
    const late = decideLease(heldByB, request(A, 'exec-a', T0), T1);
    assert.equal(late.acquired, false);
    assert.equal(late.acquired ? undefined : late.reason, 'superseded');
  });

  it('reports a re-delivered event for the live commit as already live', () => {
    const live: EndpointState = {
      ...empty,
      desired: { commit: A, digest: 'digest-a', pushedAt: T0 },
      live: { commit: A, digest: 'digest-a', endpointConfigName: 'cfg-a', at: T0 },
    };
    const decision = decideLease(live, request(A, 'exec-a2', T0), T1);
    assert.deepEqual([decision.acquired, decision.acquired ? undefined : decision.reason], [false, 'already-live']);
  });

  it('refuses a quarantined commit', () => {
    const quarantined: EndpointState = {
      ...empty,
      quarantined: [{ commit: C, digest: 'digest-c', reason: 'rolled back', at: T0 }],
    };
    const decision = decideLease(quarantined, request(C, 'exec-c', T1), T1);
    assert.deepEqual([decision.acquired, decision.acquired ? undefined : decision.reason], [false, 'quarantined']);
  });

  it('lets only one of two executions for the same commit hold the endpoint', () => {
    const first = acquired(empty, request(A, 'exec-1', T0));
    const second = decideLease(first, request(A, 'exec-2', T0), T1);
    assert.equal(second.acquired, false);
  });
});

describe('completeRollout and releaseLease', () => {
  const held = acquired(emptyState('prod', 'summarizer', T0), request(A, 'exec-a', T0));
  const ref = { commit: A, digest: 'digest-a' };

  it('moves live and last good on success and releases the lease', () => {
    const live = { commit: A, digest: 'digest-a', endpointConfigName: 'cfg-a', at: T1 };
    const next = completeRollout(held, 'exec-a', ref, { outcome: 'deployed', live }, T1);
    assert.deepEqual(next?.live, live);
    assert.deepEqual(next?.lastGood, live);
    assert.equal(next?.lease, undefined);
  });

  it('quarantines a rolled-back commit and leaves live where SageMaker left it', () => {
    const before: EndpointState = { ...held, live: { commit: B, digest: 'd-b', endpointConfigName: 'cfg-b', at: T0 } };
    const next = completeRollout(
      before,
      'exec-a',
      ref,
      { outcome: 'rolled-back', reason: 'alarm', quarantine: true },
      T1,
    );
    assert.equal(next?.live?.commit, B);
    assert.deepEqual(
      next?.quarantined.map((q) => [q.commit, q.reason]),
      [[A, 'alarm']],
    );
    assert.equal(next?.lease, undefined);
  });

  it('records a superseded rollout that went live while the newer one is still in flight', () => {
    // exec-a holds the lease; an older execution's rollout finished on SageMaker meanwhile.
    const older = { commit: C, digest: 'digest-c', endpointConfigName: 'cfg-c', at: T1 };
    const next = completeRollout(
      held,
      'older',
      { commit: C, digest: 'digest-c' },
      { outcome: 'deployed', live: older },
      T1,
    );
    assert.deepEqual(next?.live, older, 'the endpoint really runs the older commit now');
    assert.equal(next?.lease?.execution, 'exec-a', 'the newer rollout keeps its lease');
  });

  it('changes nothing for a stale result once no rollout is in flight, or for a failure without the lease', () => {
    const live = { commit: A, digest: 'digest-a', endpointConfigName: 'cfg-a', at: T1 };
    const released = releaseLease(held, 'exec-a', T1);
    assert.ok(released);
    assert.equal(released.lease, undefined);
    assert.equal(completeRollout(released, 'exec-a', ref, { outcome: 'deployed', live }, T1), undefined);
    assert.equal(
      completeRollout(held, 'someone-else', ref, { outcome: 'failed', reason: 'x', quarantine: true }, T1),
      undefined,
    );
    assert.equal(releaseLease(held, 'someone-else', T1), undefined);
  });
});
