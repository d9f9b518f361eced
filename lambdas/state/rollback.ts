/**
 * The rollback workflow's decisions, as pure rules (stepfunctions/rollback.asl.json sequences
 * them): whether an alarm or a `ballast rollback` request rolls an endpoint back, and the state
 * that follows once it has.
 *
 * What holds:
 * - Never fight a rollout. While any execution holds the endpoint's lease (a deploy, or another
 *   rollback), SageMaker's auto-rollback and that execution are in charge: the decision is
 *   recorded and nothing is touched.
 * - A rollback goes back one step, to the version that was live before the current one and was
 *   verified then (`previous`): its EndpointConfig and Model are kept by cleanup
 *   (lambdas/state/outcome.ts) and its artifacts are write-once, so it still exists.
 * - An alarm acts once per occurrence: an event for an alarm transition that happened before the
 *   endpoint's last rollback finished is a duplicate (EventBridge delivers at least once, and two
 *   alarms of one incident fire together), and a version Ballast restored is not rolled back again
 *   by an alarm (there is nothing verified behind it; a human decides).
 */
import type { EndpointState, LiveRef } from './endpoint-state.ts';

/** What asked for the rollback. */
export type RollbackTrigger =
  | {
      readonly kind: 'alarm';
      readonly alarm: string;
      /** The alarm's reason for its new state, as CloudWatch wrote it. */
      readonly reason: string;
      /** When the alarm went into ALARM (the event's `detail.state.timestamp`, as ISO 8601). */
      readonly at: string;
    }
  | {
      readonly kind: 'manual';
      readonly requestedBy: string;
      readonly requestedAt: string;
      readonly reason?: string;
      /** A commit to go back to (it must be the endpoint's previous version); default: the previous version. */
      readonly to?: string;
    };

/** The endpoint's last rollback, kept in its state. */
export interface RollbackRecord {
  readonly execution: string;
  readonly trigger: RollbackTrigger;
  /** What was live and was rolled back (quarantined). */
  readonly from: LiveRef;
  /** What was restored. */
  readonly to: LiveRef;
  /** When the rollback took the endpoint (its lease). */
  readonly startedAt: string;
  /** When the restored version was verified live; absent while it runs or when it failed. */
  readonly finishedAt?: string;
  readonly outcome?: 'restored' | 'failed';
}

export type RollbackDecision =
  | { readonly action: 'act'; readonly from: LiveRef; readonly to: LiveRef; readonly reason: string }
  | {
      readonly action: 'mid-rollout' | 'no-last-good' | 'duplicate' | 'restored-version' | 'not-declared';
      readonly reason: string;
    };

/** A short commit id, as the ledger and comments show it. */
const short = (commit: string) => commit.slice(0, 12);

/** What one alarm event or rollback request means for one endpoint, from its state alone. */
export function decideRollback(state: EndpointState | undefined, trigger: RollbackTrigger): RollbackDecision {
  const what = trigger.kind === 'alarm' ? `alarm ${trigger.alarm}` : `the rollback asked for by ${trigger.requestedBy}`;
  if (trigger.kind === 'alarm' && state?.lease && state.rollback?.execution === state.lease.execution) {
    // A second alarm of the same incident, or the same event delivered again, while the rollback runs.
    return {
      action: 'duplicate',
      reason: `${what}: the rollback ${state.rollback.execution} of ${short(state.rollback.from.commit)} is running`,
    };
  }
  if (state?.lease) {
    const holder = state.rollback?.execution === state.lease.execution ? 'a rollback' : 'a rollout';
    return {
      action: 'mid-rollout',
      reason: `${what}: ${holder} of ${short(state.lease.commit)} (execution ${state.lease.execution}) holds the endpoint; it (and SageMaker's auto-rollback) is in charge`,
    };
  }
  const live = state?.live;
  if (!live) return { action: 'no-last-good', reason: `${what}: the endpoint has no live version Ballast deployed` };
  if (trigger.kind === 'alarm') {
    if (live.alarms && !live.alarms.includes(trigger.alarm)) {
      return {
        action: 'not-declared',
        reason: `alarm ${trigger.alarm} is not one of the live version's alarms (${live.alarms.join(', ') || 'none'})`,
      };
    }
    if (Date.parse(trigger.at) < Date.parse(live.at)) {
      // EventBridge retries delivery for up to a day: a transition from before this version went
      // live is about an earlier one.
      return {
        action: 'duplicate',
        reason: `${what} went into ALARM at ${trigger.at}, before ${short(live.commit)} went live (${live.at}): it is about an earlier version`,
      };
    }
    const last = state.rollback;
    if (last && Date.parse(trigger.at) <= Date.parse(last.finishedAt ?? last.startedAt)) {
      return {
        action: 'duplicate',
        reason: `${what} went into ALARM at ${trigger.at}, before the rollback ${last.execution} of ${short(last.from.commit)} ended: already rolled back`,
      };
    }
    if (last && last.to.digest === live.digest) {
      return {
        action: 'restored-version',
        reason: `${what} went into ALARM on ${short(live.commit)}, the version rollback ${last.execution} restored; Ballast does not roll back twice in a row on its own (a commit decides)`,
      };
    }
  }
  const previous = state.previous;
  if (!previous || previous.digest === live.digest) {
    return {
      action: 'no-last-good',
      reason: `${what}: ${short(live.commit)} is live and no earlier verified version is known to roll back to`,
    };
  }
  if (trigger.kind === 'manual' && trigger.to !== undefined && !previous.commit.startsWith(trigger.to)) {
    return {
      action: 'no-last-good',
      reason: `${what}: ${trigger.to} is not the endpoint's previous version (${short(previous.commit)}); only the previous version is kept for a rollback, push a revert commit to go further back`,
    };
  }
  const because =
    trigger.kind === 'alarm'
      ? `alarm ${trigger.alarm} went into ALARM after the rollout (${trigger.reason})`
      : `rolled back by ${trigger.requestedBy}${trigger.reason ? `: ${trigger.reason}` : ''}`;
  return {
    action: 'act',
    from: live,
    to: previous,
    reason: `${because}; restoring ${short(previous.commit)} (${previous.endpointConfigName})`,
  };
}

/**
 * The state once the rollback takes the endpoint: its lease (so no push rolls out meanwhile, and
 * a newer push waits as for any rollout), and the live content quarantined, so that nothing but a
 * commit that changes it or `ballast retry` deploys it again. Undefined when something moved since
 * the decision (then the rollback stops): another execution took the lease, or the live version
 * changed. Idempotent: the execution that holds it gets the same state back.
 */
export function beginRollback(
  state: EndpointState,
  execution: string,
  decision: Extract<RollbackDecision, { action: 'act' }>,
  trigger: RollbackTrigger,
  now: string,
): EndpointState | undefined {
  if (state.lease?.execution === execution) return state;
  if (state.lease || state.live?.digest !== decision.from.digest) return undefined;
  return {
    ...state,
    // Ordered as the push that brought the rolled-back version: a newer push still wins the
    // endpoint (its rollout waits for this update to end), an older one is superseded as before.
    lease: {
      commit: decision.to.commit,
      digest: decision.to.digest,
      execution,
      pushedAt: decision.from.push?.pushedAt ?? decision.from.at,
      ...(decision.from.push ? { previousCommit: decision.from.commit } : {}),
      acquiredAt: now,
    },
    quarantined: [
      ...state.quarantined.filter((q) => q.digest !== decision.from.digest),
      { commit: decision.from.commit, digest: decision.from.digest, reason: decision.reason, at: now },
    ].slice(-50),
    rollback: { execution, trigger, from: decision.from, to: decision.to, startedAt: now },
    updatedAt: now,
  };
}

/**
 * The state once the rollback ended: restored (the previous version is live again, and is the last
 * good one; nothing is kept behind it) or failed (what was live stays live, and quarantined). The
 * lease is released when this rollback still holds it. Undefined when this rollback was recorded
 * already (a retry) or is not the endpoint's rollback.
 */
export function finishRollback(
  state: EndpointState,
  execution: string,
  outcome: 'restored' | 'failed',
  now: string,
): EndpointState | undefined {
  const rollback = state.rollback;
  if (rollback?.execution !== execution || rollback.finishedAt !== undefined) return undefined;
  const finished: RollbackRecord = { ...rollback, outcome, finishedAt: now };
  const ours = state.lease?.execution === execution;
  // A newer push may have taken the endpoint meanwhile (its rollout waits for this update): what
  // runs is still recorded, and the lease stays with that push.
  const { lease: _released, previous: _previous, ...rest } = state;
  const base = ours ? rest : { ...rest, ...(state.lease ? { lease: state.lease } : {}) };
  if (outcome === 'failed') {
    return { ...base, ...(state.previous ? { previous: state.previous } : {}), rollback: finished, updatedAt: now };
  }
  const restored: LiveRef = { ...rollback.to, at: now };
  return { ...base, live: restored, lastGood: restored, rollback: finished, updatedAt: now };
}
