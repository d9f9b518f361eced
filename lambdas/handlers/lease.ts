import { lambdaHandler } from '../runtime/handler.ts';
import { decideLease, type EndpointState, emptyState, type LeaseDecision } from '../state/endpoint-state.ts';
import { keys } from '../state/keys.ts';
import { type LeaseInput, leaseInput } from '../workflow/payloads.ts';
import type { Lease } from '../workflow/types.ts';
import { carriedRelease, logger, nowIso, readRelease, stateStore } from './runtime.ts';

/**
 * Lease: take the endpoint for this push, by compare-and-swap on its state. One rollout per
 * endpoint at a time; a newer push supersedes an older one; content that is live already or
 * quarantined stops here (a retry or a heal deploys live content again; only a retry lifts a
 * quarantine); a retry of this step, or a re-delivered event, changes nothing.
 */
export async function lease(work: LeaseInput): Promise<Lease> {
  const store = stateStore();
  const release = await readRelease(store, work);
  const now = nowIso();
  let decision: LeaseDecision | undefined;
  await store.update<EndpointState>(keys.state(work.environment, work.endpoint), (current) => {
    decision = decideLease(
      current ?? emptyState(work.environment, work.endpoint, now),
      {
        commit: work.push.commit,
        digest: release.digest,
        execution: work.execution,
        pushedAt: work.push.pushedAt,
        ...(work.push.previousCommit ? { previousCommit: work.push.previousCommit } : {}),
        source: work.push.source,
        repository: work.push.repository,
        branch: work.push.branch,
        pushedBy: work.push.pushedBy,
        ...(work.retry
          ? { retry: { requestedBy: work.retry.requestedBy, ...(work.retry.kind ? { kind: work.retry.kind } : {}) } }
          : {}),
      },
      now,
    );
    return decision.state !== current ? decision.state : undefined;
  });
  if (!decision) throw new Error('unreachable: the lease decision was not made');
  if (!decision.acquired) {
    logger.info('lease not acquired', { reason: decision.reason });
    return { acquired: false, reason: decision.reason, digest: release.digest, ...carriedRelease(release) };
  }
  if (decision.tookOverFrom) logger.info('lease taken over from an older push', { from: decision.tookOverFrom });
  return { acquired: true, digest: release.digest, ...carriedRelease(release) };
}

export const handler = lambdaHandler(leaseInput, lease, {
  keys: (work) => ({ commit: work.push.commit, environment: work.environment, endpoint: work.endpoint }),
});
