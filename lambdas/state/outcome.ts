/**
 * How a per-endpoint iteration ends, as pure rules: the outcome the ledger and Git are told, the
 * endpoint state that follows, and what cleanup may remove. Record only sequences the effects.
 *
 * Two decisions hold across the workflows:
 * - Newer wins, and says so: an execution that no longer holds the endpoint's lease is
 *   `superseded`, whatever SageMaker did with its rollout; it never quarantines anything.
 * - What fails is quarantined as content (the endpoint's digest), so that no later commit with the
 *   same effective content deploys it again; `ballast retry` is the deliberate way out.
 */
import { changedComponents } from '../registry/pointer.ts';
import type { Lease, Outcome, Push, Release, Verification } from '../workflow/types.ts';
import {
  completeRollout,
  type EndpointState,
  holdsLease,
  type LiveRef,
  type Quarantined,
  releaseLease,
} from './endpoint-state.ts';

export type RecordEvent =
  | {
      readonly kind: 'rollout';
      readonly verification: Verification;
      readonly endpointConfigName: string;
      readonly previousEndpointConfigName?: string;
      readonly pointerKey: string;
    }
  | { readonly kind: 'failure'; readonly error: { readonly name: string; readonly message: string } }
  | { readonly kind: 'skipped'; readonly reason: NonNullable<Lease['reason']> };

export interface RecordRequest {
  readonly execution: string;
  readonly commit: string;
  readonly digest: string;
  /** The release's component digests, recorded with what goes live. */
  readonly components?: Readonly<Record<string, string>>;
  /** What a rollback (and the reconciler) of this version needs to know, recorded with what goes live. */
  readonly rollback?: Pick<LiveRef, 'alarms' | 'files' | 'push' | 'writeBack' | 'redact'>;
  /** The execution is a heal (lambdas/sources/heal.ts): Lease turns it away from a held lease. */
  readonly heal?: boolean;
}

export interface RecordDecision {
  readonly outcome: Outcome;
  /** Why, for every outcome but a plain deployment. */
  readonly reason?: string;
  /** The state to write; undefined leaves it as it is. */
  readonly state?: EndpointState;
  /** Present when this execution deployed: the configurations cleanup must keep. */
  readonly cleanup?: { readonly keep: readonly string[] };
}

/** Errors that say the content itself cannot deploy: retrying the same content cannot help. */
const CONTENT_ERRORS = new Set(['InvalidInputError', 'ArtifactIntegrityError']);

export function decideRecord(
  state: EndpointState | undefined,
  request: RecordRequest,
  event: RecordEvent,
  now: string,
): RecordDecision {
  const ours = holdsLease(state, request.execution);
  const newer = state?.lease ? `a newer push (${state.lease.commit.slice(0, 12)})` : 'a newer push';
  switch (event.kind) {
    case 'skipped':
      return skipped(state, request, event.reason);
    case 'failure': {
      if (event.error.name === 'LeaseLostError' || (!ours && state?.lease)) {
        return { outcome: 'superseded', reason: `${newer} took the endpoint over` };
      }
      const reason = `${event.error.name}: ${event.error.message}`;
      if (!state || !ours) return { outcome: 'failed', reason };
      // Quarantined either way: only `ballast retry` (or a commit that changes the content) deploys
      // it again. A content error says so; an infrastructure error is worth a deliberate retry.
      const hint = CONTENT_ERRORS.has(event.error.name) ? '' : ' (`ballast retry` deploys it again)';
      const quarantine = !healsLiveContent(state, request);
      return {
        outcome: 'failed',
        reason: quarantine ? `${reason}${hint}` : reason,
        state: completeRollout(state, request.execution, request, { outcome: 'failed', reason, quarantine }, now),
      };
    }
    case 'rollout': {
      const { verification } = event;
      if (!state) return { outcome: 'failed', reason: 'the endpoint has no state; Lease writes it' };
      if (!ours) {
        // Superseded. If SageMaker put it live anyway, the endpoint runs it until the newer rollout
        // lands: completeRollout records that while the newer push is in flight.
        const live = verification.outcome === 'deployed';
        return {
          outcome: 'superseded',
          reason: live
            ? `went live, then ${newer} took the endpoint over`
            : `${newer} took the endpoint over before this rollout ended`,
          ...(live ? { state: wentLive(state, request, event, now) } : {}),
        };
      }
      switch (verification.outcome) {
        case 'deployed': {
          const next = wentLive(state, request, event, now);
          const keep = [
            event.endpointConfigName,
            event.previousEndpointConfigName,
            state.live?.endpointConfigName,
            state.lastGood?.endpointConfigName,
            // What a rollback of this version restores (lambdas/state/rollback.ts): it must still
            // exist when an alarm fires. Usually the live one above; not when that is quarantined.
            next?.previous?.endpointConfigName,
          ].filter((name): name is string => name !== undefined);
          return {
            outcome: 'deployed',
            state: next,
            cleanup: { keep: [...new Set(keep)] },
          };
        }
        case 'replaced':
          // Someone else's UpdateEndpoint took over while this execution still held the lease: not
          // the content's fault, so nothing is quarantined; Record marks the head (not live), so
          // the next commit with this content rolls it out again.
          return {
            outcome: 'failed',
            reason: `another update replaced this rollout: ${verification.reason ?? ''}`.trim(),
            state: releaseLease(state, request.execution, now),
          };
        default: {
          const reason = verification.reason ?? verification.outcome;
          return {
            outcome: verification.outcome,
            reason,
            state: completeRollout(
              state,
              request.execution,
              request,
              { outcome: verification.outcome, reason, quarantine: !healsLiveContent(state, request) },
              now,
            ),
          };
        }
      }
    }
  }
}

/** The state once this execution's rollout went live (completeRollout decides what that moves). */
function wentLive(
  state: EndpointState,
  request: RecordRequest,
  event: Extract<RecordEvent, { kind: 'rollout' }>,
  now: string,
): EndpointState | undefined {
  return completeRollout(
    state,
    request.execution,
    request,
    { outcome: 'deployed', live: liveRef(request, event, now) },
    now,
  );
}

function liveRef(
  request: RecordRequest,
  event: Extract<RecordEvent, { kind: 'rollout' }>,
  now: string,
): NonNullable<EndpointState['live']> {
  return {
    commit: request.commit,
    digest: request.digest,
    endpointConfigName: event.endpointConfigName,
    pointerKey: event.pointerKey,
    ...(request.components ? { components: request.components } : {}),
    ...request.rollback,
    at: now,
  };
}

function skipped(
  state: EndpointState | undefined,
  request: RecordRequest,
  reason: NonNullable<Lease['reason']>,
): RecordDecision {
  switch (reason) {
    case 'superseded':
      if (request.heal && state?.lease) {
        return {
          outcome: 'superseded',
          reason: `execution ${state.lease.execution} holds the endpoint (${state.lease.commit.slice(0, 12)}); a heal never takes a lease another execution holds`,
        };
      }
      return {
        outcome: 'superseded',
        reason: `a newer push (${state?.desired?.commit.slice(0, 12) ?? 'unknown'}) asked for the endpoint first`,
      };
    case 'already-live':
      if (state?.lease && state.lease.commit === request.commit && state.lease.execution !== request.execution) {
        // A second execution of the same push: the first one is rolling this commit out.
        return {
          outcome: 'unchanged',
          reason: `execution ${state.lease.execution} is rolling this commit out already`,
        };
      }
      return {
        outcome: 'unchanged',
        reason: `this content is live already${state?.live ? ` (${state.live.endpointConfigName})` : ''}`,
      };
    case 'quarantined': {
      const entry = state?.quarantined.find((q) => q.digest === request.digest);
      return { outcome: 'quarantined', reason: quarantineReason(entry) };
    }
  }
}

/**
 * A heal that puts back the content that is live (the endpoint drifted away from it) does not
 * quarantine that content when it fails: the content ran, putting it back did not work. The
 * reconciler stops healing after a few attempts (lambdas/state/drift.ts MAX_HEALS) instead.
 */
function healsLiveContent(state: EndpointState, request: RecordRequest): boolean {
  return request.heal === true && state.live?.digest === request.digest;
}

export function quarantineReason(entry: Quarantined | undefined): string {
  const cause = entry ? ` (commit ${entry.commit.slice(0, 12)}: ${entry.reason})` : '';
  return `this content failed or was rolled back before${cause}; it is quarantined until a commit changes it or \`ballast retry\` lifts it`;
}

/**
 * What a rollout changes on the endpoint (the ledger's `changes`): compared with what went live
 * last; for a state written before live components were kept, the plan's changes.
 */
export function changesSinceLive(
  state: EndpointState | undefined,
  release: Pick<Release, 'components' | 'changes'>,
): readonly string[] {
  if (!state?.live) return ['initial'];
  return state.live.components ? changedComponents(state.live.components, release.components) : release.changes;
}

/**
 * Whether Git is told of an outcome (the commit's comment, its GitHub status). A heal is the
 * reconciler's, not a push's: one that changed nothing (Lease turned it away: a rollout holds the
 * endpoint, or its content is quarantined) leaves the commit's own answer as it stands, where a
 * `superseded` status would mark a deployed commit as an error. What a heal did do is answered
 * like a retry: the endpoint runs the commit again, or could not.
 */
export function answersGit(retry: { readonly kind?: 'retry' | 'heal' } | undefined, outcome: Outcome): boolean {
  if (retry?.kind !== 'heal') return true;
  return outcome !== 'superseded' && outcome !== 'quarantined' && outcome !== 'unchanged';
}

/**
 * What Record keeps with a version that goes live, for a later rollback and the reconciler: its
 * alarms, the files its content comes from, its push, its writeBack setting, and the names (only)
 * of the environment variables that hold a secret's value.
 */
export function liveFacts(push: Push, release: Release): NonNullable<RecordRequest['rollback']> {
  const files = [
    release.declaredAt.file,
    release.model.declaredAt.file,
    ...release.prompts.map((p) => p.declaredAt.file),
    ...release.configs.map((c) => c.declaredAt.file),
  ];
  const { source, repository, branch, pushedBy, pushedAt, previousCommit } = push;
  return {
    alarms: release.alarms,
    files: [...new Set(files)].sort(),
    push: { source, repository, branch, pushedBy, pushedAt, ...(previousCommit ? { previousCommit } : {}) },
    ...(release.writeBack ? { writeBack: release.writeBack } : {}),
    redact: release.model.secrets.filter((s) => s.delivery === 'environment').map((s) => s.env),
  };
}
