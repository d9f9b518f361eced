// decideRecord: how a per-endpoint iteration ends, case by case (outcome, state to write, cleanup).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { EndpointState, LiveRef } from '../../../lambdas/state/endpoint-state.ts';
import { answersGit, decideRecord, type RecordEvent, type RecordRequest } from '../../../lambdas/state/outcome.ts';
import type { Verification } from '../../../lambdas/workflow/types.ts';

const T0 = '2026-03-01T09:00:00.000Z';
const T1 = '2026-03-01T09:05:00.000Z';
const NOW = '2026-03-01T09:10:00.000Z';
const A = 'a'.repeat(40);
const B = 'b'.repeat(40);
const C = 'c'.repeat(40);

const liveA: LiveRef = { commit: A, digest: 'digest-a', endpointConfigName: 'cfg-a', pointerKey: 'ptr-a', at: T0 };
const lastGoodZ: LiveRef = { commit: 'f'.repeat(40), digest: 'digest-z', endpointConfigName: 'cfg-z', at: T0 };

/** exec-b holds the lease for commit B (digest-b); A is live, Z was the last good before it. */
const heldByB: EndpointState = {
  environment: 'prod',
  endpoint: 'summarizer',
  desired: { commit: B, digest: 'digest-b', pushedAt: T1, previousCommit: A },
  live: liveA,
  lastGood: lastGoodZ,
  quarantined: [{ commit: C, digest: 'digest-c', reason: 'alarm summarizer-5xx', at: T0 }],
  lease: { commit: B, digest: 'digest-b', execution: 'exec-b', pushedAt: T1, previousCommit: A, acquiredAt: T1 },
  updatedAt: T1,
};

/** The same endpoint once exec-b's lease was released: nothing in flight. */
const { lease: _lease, ...idle } = heldByB;
const free: EndpointState = idle;

const requestB: RecordRequest = { execution: 'exec-b', commit: B, digest: 'digest-b' };
/** An older execution that lost the endpoint to exec-b. */
const requestOld: RecordRequest = { execution: 'exec-old', commit: C, digest: 'digest-old' };

function rollout(verification: Verification, previousEndpointConfigName?: string): RecordEvent {
  return {
    kind: 'rollout',
    verification,
    endpointConfigName: 'cfg-b',
    ...(previousEndpointConfigName ? { previousEndpointConfigName } : {}),
    pointerKey: 'ptr-b',
  };
}

const failure = (name: string, message: string): RecordEvent => ({ kind: 'failure', error: { name, message } });

describe('decideRecord: skipped', () => {
  it('answers superseded with the newer desired commit, and writes nothing', () => {
    const decision = decideRecord(heldByB, requestOld, { kind: 'skipped', reason: 'superseded' }, NOW);
    assert.equal(decision.outcome, 'superseded');
    assert.equal(decision.reason, `a newer push (${B.slice(0, 12)}) asked for the endpoint first`);
    assert.equal(decision.state, undefined);
    assert.equal(decision.cleanup, undefined);
  });

  it('answers a heal turned away from a held lease as superseded, naming the execution that holds it', () => {
    const heal: RecordRequest = { execution: 'heal-1', commit: B, digest: 'digest-b', heal: true };
    const decision = decideRecord(heldByB, heal, { kind: 'skipped', reason: 'superseded' }, NOW);
    assert.equal(
      decision.reason,
      `execution ${heldByB.lease?.execution} holds the endpoint (${B.slice(0, 12)}); a heal never takes a lease another execution holds`,
    );
  });

  it('answers already-live as unchanged, naming the live configuration', () => {
    const decision = decideRecord(free, requestB, { kind: 'skipped', reason: 'already-live' }, NOW);
    assert.equal(decision.outcome, 'unchanged');
    assert.equal(decision.reason, 'this content is live already (cfg-a)');
    assert.equal(decision.state, undefined);
  });

  it('does not claim the content is live for a second execution of the leased commit', () => {
    const duplicate: RecordRequest = { execution: 'exec-b2', commit: B, digest: 'digest-b' };
    const decision = decideRecord(heldByB, duplicate, { kind: 'skipped', reason: 'already-live' }, NOW);
    assert.equal(decision.outcome, 'unchanged');
    assert.equal(decision.reason, `execution ${heldByB.lease?.execution} is rolling this commit out already`);
  });

  it("answers quarantined with the quarantine entry's commit and reason", () => {
    const request: RecordRequest = { execution: 'exec-c2', commit: 'd'.repeat(40), digest: 'digest-c' };
    const decision = decideRecord(free, request, { kind: 'skipped', reason: 'quarantined' }, NOW);
    assert.equal(decision.outcome, 'quarantined');
    assert.equal(
      decision.reason,
      `this content failed or was rolled back before (commit ${C.slice(0, 12)}: alarm summarizer-5xx); it is quarantined until a commit changes it or \`ballast retry\` lifts it`,
    );
    assert.equal(decision.state, undefined);
  });

  it('still answers quarantined when the entry is gone (no commit or reason to quote)', () => {
    const decision = decideRecord(free, requestB, { kind: 'skipped', reason: 'quarantined' }, NOW);
    assert.equal(decision.outcome, 'quarantined');
    assert.equal(
      decision.reason,
      'this content failed or was rolled back before; it is quarantined until a commit changes it or `ballast retry` lifts it',
    );
  });
});

describe('decideRecord: failure', () => {
  it('reports LeaseLostError as superseded, naming the lease holder, and writes nothing', () => {
    const decision = decideRecord(heldByB, requestOld, failure('LeaseLostError', 'lost'), NOW);
    assert.equal(decision.outcome, 'superseded');
    assert.equal(decision.reason, `a newer push (${B.slice(0, 12)}) took the endpoint over`);
    assert.equal(decision.state, undefined);
  });

  it('reports LeaseLostError as superseded even when the lease is gone already', () => {
    const decision = decideRecord(free, requestOld, failure('LeaseLostError', 'lost'), NOW);
    assert.equal(decision.outcome, 'superseded');
    assert.equal(decision.reason, 'a newer push took the endpoint over');
    assert.equal(decision.state, undefined);
  });

  it('reports any failure of an execution whose lease another holds as superseded', () => {
    const decision = decideRecord(heldByB, requestOld, failure('TransientError', 'throttled'), NOW);
    assert.equal(decision.outcome, 'superseded');
    assert.equal(decision.state, undefined);
  });

  it('quarantines the digest on a content error, with no retry hint', () => {
    const decision = decideRecord(heldByB, requestB, failure('ArtifactIntegrityError', 'sha256 mismatch'), NOW);
    assert.equal(decision.outcome, 'failed');
    assert.equal(decision.reason, 'ArtifactIntegrityError: sha256 mismatch');
    const state = decision.state;
    assert.ok(state, 'the state is written');
    assert.equal(state.lease, undefined, 'the lease is released');
    assert.deepEqual(state.live, liveA, 'live stays where it was');
    assert.deepEqual(state.quarantined.at(-1), {
      commit: B,
      digest: 'digest-b',
      reason: 'ArtifactIntegrityError: sha256 mismatch',
      at: NOW,
    });
    assert.equal(state.quarantined.length, 2, 'the earlier quarantine stays');
  });

  it('quarantines the digest on InvalidInputError, with no retry hint', () => {
    const decision = decideRecord(heldByB, requestB, failure('InvalidInputError', 'bad release'), NOW);
    assert.equal(decision.outcome, 'failed');
    assert.equal(decision.reason, 'InvalidInputError: bad release');
    assert.deepEqual(
      decision.state?.quarantined.map((q) => q.digest),
      ['digest-c', 'digest-b'],
    );
  });

  it('quarantines the digest on an infrastructure error too, and says `ballast retry` deploys it again', () => {
    const decision = decideRecord(heldByB, requestB, failure('TransientError', 'throttled'), NOW);
    assert.equal(decision.outcome, 'failed');
    assert.equal(decision.reason, 'TransientError: throttled (`ballast retry` deploys it again)');
    const state = decision.state;
    assert.ok(state);
    assert.equal(state.lease, undefined);
    const entry = state.quarantined.find((q) => q.digest === 'digest-b');
    assert.equal(entry?.reason, 'TransientError: throttled', 'the quarantine keeps the error, not the hint');
  });

  it('changes no state when the execution does not hold the lease and nobody else does', () => {
    const decision = decideRecord(free, requestB, failure('TransientError', 'throttled'), NOW);
    assert.equal(decision.outcome, 'failed');
    assert.equal(decision.reason, 'TransientError: throttled');
    assert.equal(decision.state, undefined);
  });

  it('changes no state when there is no state at all', () => {
    const decision = decideRecord(undefined, requestB, failure('InvalidInputError', 'bad'), NOW);
    assert.equal(decision.outcome, 'failed');
    assert.equal(decision.reason, 'InvalidInputError: bad');
    assert.equal(decision.state, undefined);
  });
});

describe('decideRecord: rollout while holding the lease', () => {
  it('deployed: moves live and last good, releases the lease and keeps what cleanup must not remove', () => {
    const decision = decideRecord(heldByB, requestB, rollout({ outcome: 'deployed' }, 'cfg-a'), NOW);
    assert.equal(decision.outcome, 'deployed');
    assert.equal(decision.reason, undefined);
    const expected: LiveRef = {
      commit: B,
      digest: 'digest-b',
      endpointConfigName: 'cfg-b',
      pointerKey: 'ptr-b',
      at: NOW,
    };
    assert.deepEqual(decision.state?.live, expected);
    assert.deepEqual(decision.state?.lastGood, expected);
    assert.equal(decision.state?.lease, undefined);
    assert.equal(decision.state?.updatedAt, NOW);
    // New, previous (cfg-a, also the prior live: once) and the prior last good.
    assert.deepEqual(decision.cleanup, { keep: ['cfg-b', 'cfg-a', 'cfg-z'] });
  });

  it('deployed: keeps each of new, previous, prior live and prior last good when all differ', () => {
    const decision = decideRecord(heldByB, requestB, rollout({ outcome: 'deployed' }, 'cfg-prev'), NOW);
    assert.deepEqual(decision.cleanup, { keep: ['cfg-b', 'cfg-prev', 'cfg-a', 'cfg-z'] });
  });

  it('deployed: keeps only the new configuration for a first deployment', () => {
    const first: EndpointState = { ...heldByB, live: undefined, lastGood: undefined };
    const decision = decideRecord(first, requestB, rollout({ outcome: 'deployed' }), NOW);
    assert.deepEqual(decision.cleanup, { keep: ['cfg-b'] });
  });

  it('deployed: lifts the quarantine of that digest and only that one', () => {
    const quarantinedB: EndpointState = {
      ...heldByB,
      quarantined: [...heldByB.quarantined, { commit: A, digest: 'digest-b', reason: 'rolled back', at: T0 }],
    };
    const decision = decideRecord(quarantinedB, requestB, rollout({ outcome: 'deployed' }), NOW);
    assert.deepEqual(
      decision.state?.quarantined.map((q) => q.digest),
      ['digest-c'],
    );
  });

  for (const outcome of ['rolled-back', 'failed'] as const) {
    it(`${outcome}: quarantines the digest, leaves live alone and releases the lease`, () => {
      const decision = decideRecord(heldByB, requestB, rollout({ outcome, reason: 'alarm summarizer-5xx' }), NOW);
      assert.equal(decision.outcome, outcome);
      assert.equal(decision.reason, 'alarm summarizer-5xx');
      assert.equal(decision.cleanup, undefined);
      const state = decision.state;
      assert.ok(state);
      assert.deepEqual(state.live, liveA);
      assert.deepEqual(state.lastGood, lastGoodZ);
      assert.equal(state.lease, undefined);
      assert.deepEqual(state.quarantined.at(-1), {
        commit: B,
        digest: 'digest-b',
        reason: 'alarm summarizer-5xx',
        at: NOW,
      });
    });
  }

  it('rolled-back without a reason: the outcome is the reason', () => {
    const decision = decideRecord(heldByB, requestB, rollout({ outcome: 'rolled-back' }), NOW);
    assert.equal(decision.reason, 'rolled-back');
    assert.equal(decision.state?.quarantined.at(-1)?.reason, 'rolled-back');
  });

  it('replaced: failed, lease released, nothing quarantined, live unchanged', () => {
    const decision = decideRecord(
      heldByB,
      requestB,
      rollout({ outcome: 'replaced', reason: 'the endpoint is updating to cfg-x instead' }),
      NOW,
    );
    assert.equal(decision.outcome, 'failed');
    assert.equal(decision.reason, 'another update replaced this rollout: the endpoint is updating to cfg-x instead');
    const state = decision.state;
    assert.ok(state);
    assert.equal(state.lease, undefined);
    assert.deepEqual(state.quarantined, heldByB.quarantined);
    assert.deepEqual(state.live, liveA);
    assert.equal(decision.cleanup, undefined);
  });
});

describe('decideRecord: rollout without the lease', () => {
  it('deployed while a newer lease is in flight: superseded, and live records what the endpoint runs', () => {
    const decision = decideRecord(heldByB, requestOld, rollout({ outcome: 'deployed' }), NOW);
    assert.equal(decision.outcome, 'superseded');
    assert.equal(decision.reason, `went live, then a newer push (${B.slice(0, 12)}) took the endpoint over`);
    const state = decision.state;
    assert.ok(state);
    const expected: LiveRef = {
      commit: C,
      digest: 'digest-old',
      endpointConfigName: 'cfg-b',
      pointerKey: 'ptr-b',
      at: NOW,
    };
    assert.deepEqual(state.live, expected);
    assert.deepEqual(state.lastGood, expected, 'it deployed and verified: a rollback of the newer push lands here');
    assert.equal(state.lease?.execution, 'exec-b', 'the newer execution keeps its lease');
    assert.deepEqual(state.quarantined, heldByB.quarantined);
    assert.equal(decision.cleanup, undefined, 'only the lease holder cleans up');
  });

  it('deployed with no lease in flight (the newer push recorded already): superseded, state unchanged', () => {
    const decision = decideRecord(free, requestOld, rollout({ outcome: 'deployed' }), NOW);
    assert.equal(decision.outcome, 'superseded');
    assert.equal(decision.reason, 'went live, then a newer push took the endpoint over');
    assert.equal(decision.state, undefined);
  });

  for (const outcome of ['rolled-back', 'failed', 'replaced'] as const) {
    it(`${outcome}: superseded, never quarantined, state unchanged`, () => {
      const decision = decideRecord(heldByB, requestOld, rollout({ outcome, reason: 'alarm' }), NOW);
      assert.equal(decision.outcome, 'superseded');
      assert.equal(
        decision.reason,
        `a newer push (${B.slice(0, 12)}) took the endpoint over before this rollout ended`,
      );
      assert.equal(decision.state, undefined);
      assert.equal(decision.cleanup, undefined);
    });
  }

  it('rolled-back with no lease in flight: superseded, nothing quarantined', () => {
    const decision = decideRecord(free, requestOld, rollout({ outcome: 'rolled-back', reason: 'alarm' }), NOW);
    assert.equal(decision.outcome, 'superseded');
    assert.equal(decision.state, undefined);
  });

  it('a rollout with no state at all fails (Lease writes the state)', () => {
    const decision = decideRecord(undefined, requestB, rollout({ outcome: 'deployed' }), NOW);
    assert.equal(decision.outcome, 'failed');
    assert.equal(decision.reason, 'the endpoint has no state; Lease writes it');
    assert.equal(decision.state, undefined);
  });
});

describe('answersGit', () => {
  const heal = { kind: 'heal' as const };

  it('answers every outcome of a push or a retry', () => {
    for (const retry of [undefined, {}, { kind: 'retry' as const }]) {
      assert.equal(answersGit(retry, 'superseded'), true, JSON.stringify(retry));
    }
  });

  it('answers what a heal did: deployed it again', () => {
    assert.equal(answersGit(heal, 'deployed'), true);
  });

  it('answers what a heal did: failed or rolled back', () => {
    assert.deepEqual(
      (['failed', 'rolled-back'] as const).map((outcome) => answersGit(heal, outcome)),
      [true, true],
    );
  });

  it("leaves the commit's answer alone when a heal changed nothing", () => {
    assert.deepEqual(
      (['superseded', 'quarantined', 'unchanged'] as const).map((outcome) => answersGit(heal, outcome)),
      [false, false, false],
    );
  });
});
