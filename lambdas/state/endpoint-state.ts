/**
 * What Ballast knows about one endpoint in one environment, and the pure rules that change it.
 * Stored at `state/<env>/<endpoint>.json` and only ever written by compare-and-swap, so two
 * executions can never both believe they hold the endpoint.
 */

import type { DriftMark } from './drift.ts';
import type { RollbackRecord } from './rollback.ts';

export interface CommitRef {
  readonly commit: string;
  /** The endpoint's effective-spec digest at that commit. */
  readonly digest: string;
}

export interface LiveRef extends CommitRef {
  readonly endpointConfigName: string;
  /** The version pointer of that commit (pinned artifacts), when Register wrote one. */
  readonly pointerKey?: string;
  /**
   * Digest per component (`endpoint`, `model:NAME`, ...) of what went live: the ledger's
   * `changes` of the next rollout are measured against it (what changed since the last deployment).
   */
  readonly components?: Readonly<Record<string, string>>;
  /** The rollback alarms that version declares: an alarm event for one of them may roll it back. */
  readonly alarms?: readonly string[];
  /**
   * The repository files its content comes from (the Endpoint, its Model, Prompts and Configs):
   * what a write-back puts back to this version's content.
   */
  readonly files?: readonly string[];
  /** The push that brought it: where a rollback of it is answered and written back. */
  readonly push?: {
    readonly source: 'codecommit' | 'github';
    readonly repository: string;
    readonly branch: string;
    readonly pushedBy: string;
    readonly pushedAt: string;
    readonly previousCommit?: string;
  };
  /** ballast.yaml's writeBack at that version, when enabled (`mode` absent: the source's default). */
  readonly writeBack?: { readonly mode?: 'revert-commit' | 'pull-request' };
  /**
   * The Model's environment variables that hold a secret's value (`delivery: environment`): the
   * reconciler compares them without ever showing or storing them (lambdas/state/drift.ts).
   */
  readonly redact?: readonly string[];
  readonly at: string;
}

export interface Lease extends CommitRef {
  /** Step Functions execution name holding the lease. */
  readonly execution: string;
  readonly pushedAt: string;
  readonly previousCommit?: string;
  readonly acquiredAt: string;
}

/**
 * Quarantined content: the endpoint's digest, not a commit. Any commit whose effective content for
 * this endpoint is the same as a rolled-back one would deploy the same fleet again, so the digest
 * is what is refused; `commit` only says which push brought it.
 */
export interface Quarantined extends CommitRef {
  readonly reason: string;
  readonly at: string;
}

/** The push that asked for the desired content: enough to deploy it again (`ballast retry`). */
export interface DesiredRef extends CommitRef {
  readonly pushedAt: string;
  readonly previousCommit?: string;
  readonly source?: 'codecommit' | 'github';
  readonly repository?: string;
  readonly branch?: string;
  readonly pushedBy?: string;
}

export interface EndpointState {
  readonly environment: string;
  readonly endpoint: string;
  /** The newest push that asked for this endpoint (what the branch says it should run). */
  readonly desired?: DesiredRef;
  /** What Ballast verified is running. */
  readonly live?: LiveRef;
  /** The newest commit that deployed and verified. */
  readonly lastGood?: LiveRef;
  /**
   * The verified version that was live before `live`: what a rollback restores. Its EndpointConfig
   * and Model are kept by cleanup while it is here.
   */
  readonly previous?: LiveRef;
  /** The endpoint's last rollback (lambdas/state/rollback.ts). */
  readonly rollback?: RollbackRecord;
  /** Content whose rollout failed or was rolled back; nothing re-deploys it but `ballast retry`. */
  readonly quarantined: readonly Quarantined[];
  readonly lease?: Lease;
  /** What the reconciler last found wrong with the live endpoint (absent: in sync at its last check). */
  readonly drift?: DriftMark;
  /** Heals the reconciler started for this endpoint, ever: numbers each heal's execution name. */
  readonly healCount?: number;
  /** When the reconciler deleted the endpoint because its declaration was removed (prune: true). */
  readonly pruned?: string;
  readonly updatedAt: string;
}

export interface LeaseRequest extends Omit<DesiredRef, 'digest' | 'commit'>, CommitRef {
  readonly execution: string;
  /**
   * A re-deployment of the desired content. A deliberate `ballast retry` (kind `retry` or absent)
   * lifts the quarantine of this content and deploys it again; a heal (the reconciler found the
   * live endpoint drifted) deploys it again but lifts nothing and takes no lease another holds.
   */
  readonly retry?: { readonly requestedBy: string; readonly kind?: 'retry' | 'heal' };
}

export type LeaseDecision =
  | { readonly acquired: true; readonly state: EndpointState; readonly tookOverFrom?: string }
  | {
      readonly acquired: false;
      readonly reason: 'superseded' | 'already-live' | 'quarantined';
      readonly state: EndpointState;
    };

export function emptyState(environment: string, endpoint: string, now: string): EndpointState {
  return { environment, endpoint, quarantined: [], updatedAt: now };
}

interface PushOrder {
  readonly pushedAt: string;
  readonly commit: string;
  readonly previousCommit?: string;
}

/**
 * True when push `a` is newer than push `b`. Git says so first: a push whose previous head is the
 * other's commit came after it (event times have one-second resolution, so two quick pushes can
 * share a timestamp). Otherwise the later push time wins, ties broken by commit id so every
 * execution decides the same way.
 */
export function isNewer(a: PushOrder, b: PushOrder): boolean {
  if (a.previousCommit !== undefined && a.previousCommit === b.commit) return true;
  if (b.previousCommit !== undefined && b.previousCommit === a.commit) return false;
  const ta = Date.parse(a.pushedAt);
  const tb = Date.parse(b.pushedAt);
  return ta !== tb ? ta > tb : a.commit > b.commit;
}

/**
 * Decides whether an execution may roll `request` out. Idempotent: the execution that already
 * holds the lease gets it again (a Step Functions retry of Lease changes nothing).
 *
 * - The same content already live, nothing in flight: a re-delivered event or a no-op commit
 *   (a retry or a heal deploys it again: a heal is asked for because the live endpoint drifted).
 * - Quarantined content (the digest of a failed or rolled-back rollout): refused, unless `ballast
 *   retry`; a heal never lifts a quarantine.
 * - A heal never takes a lease another execution holds: that rollout (or rollback) decides what
 *   runs, and the heal is superseded.
 * - A newer push already asked for this endpoint: this push is superseded and stops.
 * - An older push holds the lease: the newer push takes it over. The older execution notices at
 *   its next step (see {@link holdsLease}) and stops without touching the endpoint again.
 */
export function decideLease(state: EndpointState, request: LeaseRequest, now: string): LeaseDecision {
  if (state.lease?.execution === request.execution) return { acquired: true, state };
  const redeploy = request.retry !== undefined;
  const heal = request.retry?.kind === 'heal';
  const { execution: _execution, retry: _retry, ...desired } = request;
  // Nothing to roll out, but a newer commit still becomes the desired one, so that what the branch
  // asks for and what Ballast compares with (`ballast status`) agree.
  const newer = state.desired?.commit !== request.commit && (!state.desired || isNewer(request, state.desired));
  const withDesired = newer ? { ...state, desired, updatedAt: now } : state;
  if (!redeploy && state.live && state.live.digest === request.digest && !state.lease) {
    // The content already runs: a re-delivered event, or a commit (a revert, say) that leaves the endpoint as it is.
    return { acquired: false, reason: 'already-live', state: withDesired };
  }
  if ((!redeploy || heal) && isQuarantined(state, request.digest)) {
    // Content that failed or was rolled back is never deployed again by a commit or a heal, only by `ballast retry`.
    return { acquired: false, reason: 'quarantined', state: withDesired };
  }
  if (heal && state.lease) return { acquired: false, reason: 'superseded', state };
  if (state.desired && state.desired.commit !== request.commit && isNewer(state.desired, request)) {
    return { acquired: false, reason: 'superseded', state };
  }
  if (state.lease && state.lease.commit !== request.commit && isNewer(state.lease, request)) {
    return { acquired: false, reason: 'superseded', state };
  }
  if (state.lease && state.lease.commit === request.commit && !redeploy) {
    // The same commit delivered twice (two executions for one push): the first one wins.
    return { acquired: false, reason: 'already-live', state };
  }
  const lease: Lease = {
    commit: request.commit,
    digest: request.digest,
    execution: request.execution,
    pushedAt: request.pushedAt,
    ...(request.previousCommit ? { previousCommit: request.previousCommit } : {}),
    acquiredAt: now,
  };
  return {
    acquired: true,
    ...(state.lease ? { tookOverFrom: state.lease.execution } : {}),
    state: {
      ...state,
      desired,
      // A retry is the deliberate way out of a quarantine: the content may deploy again.
      quarantined: redeploy && !heal ? state.quarantined.filter((q) => q.digest !== request.digest) : state.quarantined,
      lease,
      updatedAt: now,
    },
  };
}

/** True when this content (the endpoint's digest) was rolled back or failed and not retried since. */
export function isQuarantined(state: EndpointState | undefined, digest: string): boolean {
  return state?.quarantined.some((q) => q.digest === digest) ?? false;
}

export function holdsLease(state: EndpointState | undefined, execution: string): boolean {
  return state?.lease?.execution === execution;
}

export type RolloutResult =
  | { readonly outcome: 'deployed'; readonly live: LiveRef }
  | { readonly outcome: 'rolled-back' | 'failed'; readonly reason: string; readonly quarantine: boolean };

/**
 * Applies the end of a rollout. Only the lease holder changes live state; a superseded execution's
 * result is recorded in the ledger but cannot move `live`.
 */
export function completeRollout(
  state: EndpointState,
  execution: string,
  request: CommitRef,
  result: RolloutResult,
  now: string,
): EndpointState | undefined {
  if (!holdsLease(state, execution)) {
    // A superseded rollout that SageMaker had already started runs to its end, and the newer push
    // waits for it. If it went live, the endpoint really runs it now: record that, so that a
    // rollback of the newer push is known to land here. Once the newer push has recorded its own
    // result (no lease in flight), this older result is stale and changes nothing.
    // Not while a rollback holds the endpoint: it decides what runs, and records it when it ends.
    const rollingBack = state.rollback?.execution === state.lease?.execution;
    if (result.outcome === 'deployed' && state.lease && state.lease.execution !== execution && !rollingBack) {
      const previous = previousOf(state, result.live);
      return { ...state, ...(previous ? { previous } : {}), live: result.live, lastGood: result.live, updatedAt: now };
    }
    return undefined;
  }
  const { lease: _released, ...rest } = state;
  if (result.outcome === 'deployed') {
    // What ran before becomes the version a rollback returns to; a re-deployment of the same
    // content keeps the one behind it.
    const previous = previousOf(state, result.live);
    return {
      ...rest,
      ...(previous ? { previous } : {}),
      live: result.live,
      lastGood: result.live,
      quarantined: state.quarantined.filter((q) => q.digest !== request.digest),
      updatedAt: now,
    };
  }
  return {
    ...rest,
    // SageMaker keeps (or returns to) the previous configuration: what was live stays live.
    quarantined: result.quarantine
      ? [
          ...state.quarantined.filter((q) => q.digest !== request.digest),
          { commit: request.commit, digest: request.digest, reason: result.reason, at: now },
        ].slice(-50)
      : state.quarantined,
    updatedAt: now,
  };
}

/**
 * The version a rollback of `next` returns to: what ran before it, unless that is the same content
 * (a re-deployment keeps the one behind it) or quarantined content (a rollback must never return to
 * content that failed).
 */
function previousOf(state: EndpointState, next: LiveRef): LiveRef | undefined {
  const before = state.live;
  if (!before || before.digest === next.digest || isQuarantined(state, before.digest)) return state.previous;
  return before;
}

/** Releases the lease without changing live state (failure before anything reached the endpoint). */
export function releaseLease(state: EndpointState, execution: string, now: string): EndpointState | undefined {
  if (!holdsLease(state, execution)) return undefined;
  const { lease: _released, ...rest } = state;
  return { ...rest, updatedAt: now };
}
