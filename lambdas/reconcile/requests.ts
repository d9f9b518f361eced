/**
 * The deploy-workflow inputs the reconciler starts (lambdas/sources/heal.ts and missed-push.ts parse
 * them at the other end), with their execution names.
 */
import type { HealRequest } from '../sources/heal.ts';
import type { MissedPushRequest } from '../sources/missed-push.ts';
import type { Drift } from '../state/drift.ts';
import type { EnvironmentSeen } from '../workflow/plan.ts';
import type { Push } from '../workflow/types.ts';

export const RECONCILER = 'ballast reconcile';

export function healRequest(
  environment: string,
  endpoint: string,
  digest: string,
  drift: readonly Drift[],
  now: string,
): HealRequest {
  const paths = drift.slice(0, 50).map((d) => d.path);
  return {
    source: 'ballast',
    action: 'heal',
    environment,
    endpoint,
    requestedBy: RECONCILER,
    requestedAt: now,
    reason: `drift: ${paths.join(', ')}`.slice(0, 1024),
    paths,
    digest,
  };
}

/** The push the deploy workflow never saw, as the source would have sent it. */
export function missedPush(seen: EnvironmentSeen, commit: string, since: string): Push {
  return {
    source: seen.source,
    repository: seen.repository,
    branch: seen.branch,
    commit,
    previousCommit: seen.commit,
    pushedBy: `${RECONCILER} (a push no event started)`,
    // Stable for the commit, so that starting it again sends the same input (see start-deploy.ts).
    pushedAt: since,
    deliveryId: `reconcile-${commit.slice(0, 12)}`,
  };
}

export function missedPushRequest(push: Push): MissedPushRequest {
  return { source: 'ballast', action: 'push', reason: 'missed', push };
}
