import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  completeRollout,
  type EndpointState,
  emptyState,
  type LiveRef,
} from '../../../lambdas/state/endpoint-state.ts';
import {
  beginRollback,
  decideRollback,
  finishRollback,
  type RollbackDecision,
  type RollbackTrigger,
} from '../../../lambdas/state/rollback.ts';

const T0 = '2026-03-01T09:00:00.000Z';
const T1 = '2026-03-01T09:10:00.000Z';
const T2 = '2026-03-01T09:20:00.000Z';
const T3 = '2026-03-01T09:30:00.000Z';
const GOOD = 'a'.repeat(40);
const BAD = 'b'.repeat(40);

const live = (commit: string, at: string): LiveRef => ({
  commit,
  digest: `digest-${commit[0]}`,
  endpointConfigName: `ballast-prod-summarizer-${commit.slice(0, 12)}`,
  alarms: ['summarizer-5xx', 'summarizer-p99-latency'],
  at,
});

/** GOOD went live, then BAD replaced it: the state after two verified rollouts. */
function afterTwoRollouts(): EndpointState {
  let state: EndpointState = { ...emptyState('prod', 'summarizer', T0), lease: lease(GOOD, 'exec-1') };
  state = completeRollout(
    state,
    'exec-1',
    { commit: GOOD, digest: 'digest-a' },
    { outcome: 'deployed', live: live(GOOD, T0) },
    T0,
  ) as EndpointState;
  state = { ...state, lease: lease(BAD, 'exec-2') };
  return completeRollout(
    state,
    'exec-2',
    { commit: BAD, digest: 'digest-b' },
    { outcome: 'deployed', live: live(BAD, T1) },
    T1,
  ) as EndpointState;
}

function lease(commit: string, execution: string): NonNullable<EndpointState['lease']> {
  return { commit, digest: `digest-${commit[0]}`, execution, pushedAt: T0, acquiredAt: T0 };
}

const alarm = (at: string, name = 'summarizer-5xx'): RollbackTrigger => ({
  kind: 'alarm',
  alarm: name,
  reason: 'Threshold Crossed: 1 datapoint [12.0] was greater than the threshold (5.0).',
  at,
});

function act(decision: RollbackDecision): Extract<RollbackDecision, { action: 'act' }> {
  assert.equal(decision.action, 'act', decision.reason);
  return decision as Extract<RollbackDecision, { action: 'act' }>;
}

describe('completeRollout keeps the version a rollback returns to', () => {
  it('remembers what ran before as previous', () => {
    const state = afterTwoRollouts();
    assert.equal(state.live?.commit, BAD);
    assert.equal(state.previous?.commit, GOOD);
  });

  it('keeps the one behind it when the same content is deployed again', () => {
    const state = afterTwoRollouts();
    const again = completeRollout(
      { ...state, lease: lease(BAD, 'exec-3') },
      'exec-3',
      { commit: BAD, digest: 'digest-b' },
      { outcome: 'deployed', live: live(BAD, T2) },
      T2,
    );
    assert.equal(again?.previous?.commit, GOOD);
  });
});

describe('decideRollback', () => {
  it('acts on an alarm the live version declares: from the live version to the previous one', () => {
    const decision = act(decideRollback(afterTwoRollouts(), alarm(T2)));
    assert.equal(decision.from.commit, BAD);
    assert.equal(decision.to.commit, GOOD);
    assert.match(decision.reason, /alarm summarizer-5xx went into ALARM after the rollout/);
  });

  it('leaves a rollout in progress to SageMaker and the deploy workflow', () => {
    const state = { ...afterTwoRollouts(), lease: lease('c'.repeat(40), 'exec-9') };
    const decision = decideRollback(state, alarm(T2));
    assert.equal(decision.action, 'mid-rollout');
    assert.match(decision.reason, /exec-9/);
  });

  it('has nothing to go back to on a first deployment', () => {
    let state: EndpointState = { ...emptyState('prod', 'summarizer', T0), lease: lease(GOOD, 'exec-1') };
    state = completeRollout(
      state,
      'exec-1',
      { commit: GOOD, digest: 'digest-a' },
      { outcome: 'deployed', live: live(GOOD, T0) },
      T0,
    ) as EndpointState;
    assert.equal(decideRollback(state, alarm(T1)).action, 'no-last-good');
  });

  it('has nothing to go back to when Ballast never deployed the endpoint', () => {
    assert.equal(decideRollback(undefined, alarm(T1)).action, 'no-last-good');
  });

  it('ignores an alarm the live version does not declare (a stale marker)', () => {
    const decision = decideRollback(afterTwoRollouts(), alarm(T2, 'someone-elses-alarm'));
    assert.equal(decision.action, 'not-declared');
  });

  it('treats an alarm transition from before the last rollback ended as a duplicate', () => {
    const rolledBack = rollBack(afterTwoRollouts(), T2);
    const decision = decideRollback(rolledBack, alarm(T1, 'summarizer-p99-latency'));
    assert.equal(decision.action, 'duplicate');
  });

  it('does not roll a restored version back again on its own', () => {
    const rolledBack = rollBack(afterTwoRollouts(), T2);
    const decision = decideRollback(rolledBack, alarm(T3));
    assert.equal(decision.action, 'restored-version');
  });

  it('rolls back on request to the previous version, and refuses another commit', () => {
    const manual = (to?: string): RollbackTrigger => ({
      kind: 'manual',
      requestedBy: 'arn:aws:iam::111122223333:user/alice',
      requestedAt: T2,
      ...(to ? { to } : {}),
    });
    assert.equal(act(decideRollback(afterTwoRollouts(), manual())).to.commit, GOOD);
    assert.equal(act(decideRollback(afterTwoRollouts(), manual(GOOD.slice(0, 7)))).to.commit, GOOD);
    const refused = decideRollback(afterTwoRollouts(), manual('c'.repeat(12)));
    assert.equal(refused.action, 'no-last-good');
    assert.match(refused.reason, /not the endpoint's previous version/);
  });
});

/** The state once rollback-1, on the alarm at `at`, has taken the endpoint. */
function begin(state: EndpointState, at = T2): EndpointState {
  const begun = beginRollback(state, 'rollback-1', act(decideRollback(state, alarm(at))), alarm(at), at);
  assert.ok(begun, 'the rollback takes the endpoint');
  return begun;
}

/** A rollback of BAD that took the endpoint at T2 and restored GOOD. */
function rollBack(state: EndpointState, at: string): EndpointState {
  const decision = act(decideRollback(state, alarm(at)));
  const begun = beginRollback(state, 'rollback-1', decision, alarm(at), at);
  assert.ok(begun, 'the rollback takes the endpoint');
  const finished = finishRollback(begun, 'rollback-1', 'restored', at);
  assert.ok(finished, 'the rollback finishes');
  return finished;
}

describe('beginRollback and finishRollback', () => {
  it('takes the lease and quarantines the live content', () => {
    const state = afterTwoRollouts();
    const decision = act(decideRollback(state, alarm(T2)));
    const begun = beginRollback(state, 'rollback-1', decision, alarm(T2), T2);
    assert.equal(begun?.lease?.execution, 'rollback-1');
    assert.deepEqual(
      begun?.quarantined.map((q) => q.digest),
      ['digest-b'],
    );
    assert.equal(begun?.rollback?.from.commit, BAD);
  });

  it('is idempotent for the execution that holds the endpoint', () => {
    const state = afterTwoRollouts();
    const decision = act(decideRollback(state, alarm(T2)));
    const begun = beginRollback(state, 'rollback-1', decision, alarm(T2), T2) as EndpointState;
    assert.equal(beginRollback(begun, 'rollback-1', decision, alarm(T2), T3), begun);
  });

  it('stops when a push took the endpoint after the decision', () => {
    const state = afterTwoRollouts();
    const decision = act(decideRollback(state, alarm(T2)));
    assert.equal(
      beginRollback({ ...state, lease: lease('c'.repeat(40), 'exec-9') }, 'rollback-1', decision, alarm(T2), T2),
      undefined,
    );
  });

  it('restores the previous version as live and last good, and keeps nothing behind it', () => {
    const restored = rollBack(afterTwoRollouts(), T2);
    assert.equal(restored.live?.commit, GOOD);
    assert.equal(restored.lastGood?.commit, GOOD);
    assert.equal(restored.previous, undefined);
    assert.equal(restored.lease, undefined);
    assert.equal(restored.rollback?.outcome, 'restored');
    assert.deepEqual(
      restored.quarantined.map((q) => q.commit),
      [BAD],
    );
  });

  it('leaves the bad version live and quarantined when the rollback failed', () => {
    const state = afterTwoRollouts();
    const decision = act(decideRollback(state, alarm(T2)));
    const begun = beginRollback(state, 'rollback-1', decision, alarm(T2), T2) as EndpointState;
    const failed = finishRollback(begun, 'rollback-1', 'failed', T3);
    assert.equal(failed?.live?.commit, BAD);
    assert.equal(failed?.previous?.commit, GOOD);
    assert.equal(failed?.lease, undefined);
    assert.equal(failed?.rollback?.outcome, 'failed');
    assert.equal(failed?.quarantined.length, 1);
  });

  it('changes nothing for an execution that does not hold the endpoint', () => {
    assert.equal(finishRollback(afterTwoRollouts(), 'rollback-1', 'restored', T3), undefined);
  });
});

describe('the review cases', () => {
  it('treats an alarm transition from before the live version went live as a duplicate (a day-late delivery)', () => {
    const decision = decideRollback(afterTwoRollouts(), alarm(T0));
    assert.equal(decision.action, 'duplicate');
    assert.match(decision.reason, /before bbbbbbbbbbbb went live/);
  });

  it('treats another alarm while the rollback runs as a duplicate, not a rollout in progress', () => {
    const state = afterTwoRollouts();
    const begun = begin(state);
    assert.equal(decideRollback(begun, alarm(T2, 'summarizer-p99-latency')).action, 'duplicate');
  });

  it('orders the rollback as the rolled-back push: a newer push takes the endpoint, an older one does not', () => {
    const state = afterTwoRollouts();
    const withPush = { ...state, live: { ...(state.live as LiveRef), push: PUSHED_AT_T1 } };
    const begun = beginRollback(withPush, 'rollback-1', act(decideRollback(withPush, alarm(T2))), alarm(T2), T2);
    assert.equal(begun?.lease?.pushedAt, T1);
    assert.equal(begun?.lease?.previousCommit, BAD);
  });

  it('records what it restored even when a newer push took the endpoint meanwhile, and leaves that push its lease', () => {
    const state = afterTwoRollouts();
    const begun = begin(state);
    const taken: EndpointState = { ...begun, lease: lease('c'.repeat(40), 'exec-9') };
    const finished = finishRollback(taken, 'rollback-1', 'restored', T3);
    assert.equal(finished?.live?.commit, GOOD);
    assert.equal(finished?.lease?.execution, 'exec-9');
    assert.equal(
      finishRollback(finished as EndpointState, 'rollback-1', 'restored', T3),
      undefined,
      'a retry changes nothing',
    );
  });

  it('never makes quarantined content the version to go back to', () => {
    const restored = rollBack(afterTwoRollouts(), T2);
    // BAD's content (quarantined) is deployed again by `ballast retry`-like means, then NEW replaces it.
    let state: EndpointState = { ...restored, live: live(BAD, T2), lease: lease('c'.repeat(40), 'exec-9') };
    state = completeRollout(
      state,
      'exec-9',
      { commit: 'c'.repeat(40), digest: 'digest-c' },
      { outcome: 'deployed', live: live('c'.repeat(40), T3) },
      T3,
    ) as EndpointState;
    // What ran before (BAD) is quarantined, and nothing verified stood behind it: nothing to go back to.
    assert.equal(state.previous, undefined);
  });

  it('does not let a superseded rollout that went live overwrite what a running rollback decides', () => {
    const state = afterTwoRollouts();
    const begun = begin(state);
    const after = completeRollout(
      begun,
      'exec-old',
      { commit: 'c'.repeat(40), digest: 'digest-c' },
      { outcome: 'deployed', live: live('c'.repeat(40), T3) },
      T3,
    );
    assert.equal(after, undefined);
  });
});

const PUSHED_AT_T1 = {
  source: 'codecommit' as const,
  repository: 'model-repo',
  branch: 'main',
  pushedBy: 'arn:aws:iam::111122223333:user/alice',
  pushedAt: T1,
};
