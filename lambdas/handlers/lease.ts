import { nowIso, stateStore } from '../runtime/environment.ts';
import { lambdaHandler } from '../runtime/handler.ts';
import { logger } from '../runtime/powertools.ts';
import { decideLease, type EndpointState, emptyState, type LeaseDecision } from '../state/endpoint-state.ts';
import { keys } from '../state/keys.ts';
import { endpointWorkSchema } from '../workflow/schemas.ts';
import type { EndpointWork, Lease } from '../workflow/types.ts';

/**
 * Lease: take the endpoint for this push, by compare-and-swap on its state. One rollout per
 * endpoint at a time; a newer push supersedes an older one; a retry of this step, or a
 * re-delivered event for a commit that is already live, changes nothing.
 */
export const handler = lambdaHandler(endpointWorkSchema, lease, {
  keys: (work) => ({ environment: work.environment, endpoint: work.endpoint.name, commit: work.push.commit }),
});

async function lease(work: EndpointWork): Promise<Lease> {
  const store = stateStore();
  const now = nowIso();
  let decision: LeaseDecision | undefined;
  await store.update<EndpointState>(keys.state(work.environment, work.endpoint.name), (current) => {
    decision = decideLease(
      current ?? emptyState(work.environment, work.endpoint.name, now),
      {
        commit: work.push.commit,
        digest: work.endpoint.digest,
        execution: work.execution,
        pushedAt: work.push.pushedAt,
        ...(work.push.previousCommit ? { previousCommit: work.push.previousCommit } : {}),
      },
      now,
    );
    return decision.acquired && decision.state !== current ? decision.state : undefined;
  });
  if (!decision) throw new Error('unreachable: the lease decision was not made');
  if (!decision.acquired) {
    logger.info('lease not acquired', { reason: decision.reason });
    return { acquired: false, reason: decision.reason };
  }
  if (decision.tookOverFrom) {
    logger.info('lease taken over from an older push', { from: decision.tookOverFrom });
  }
  return { acquired: true };
}
