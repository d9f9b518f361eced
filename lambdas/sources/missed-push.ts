/**
 * The execution input the reconciler starts the deploy workflow with for a branch head that no push
 * event brought (an EventBridge event or a webhook delivery that never arrived): the push as the
 * source would have told it, deployed exactly like that push. It crosses a trust boundary (anyone
 * with states:StartExecution can write it), so the Push is checked like the GitHub webhook's.
 */
import { InvalidInputError } from '../aws/errors.ts';
import type { Push } from '../workflow/types.ts';
import { executionName, isObject } from './common.ts';
import { parsePush } from './push.ts';

export interface MissedPushRequest {
  readonly source: 'ballast';
  readonly action: 'push';
  readonly reason: 'missed';
  /** The push, with the deliveryId `reconcile-<run>` of the reconcile run that found it. */
  readonly push: Push;
}

/** How a missed push's deliveryId starts: the ledger and `ballast history` tell it from a real delivery by it. */
export const MISSED_PUSH_DELIVERY_PREFIX = 'reconcile-';

export function isMissedPushRequest(input: unknown): boolean {
  return isObject(input) && input.source === 'ballast' && input.action === 'push';
}

export function isMissedPush(push: Pick<Push, 'deliveryId'>): boolean {
  return push.deliveryId.startsWith(MISSED_PUSH_DELIVERY_PREFIX);
}

export function parseMissedPushRequest(input: unknown): MissedPushRequest {
  const what = 'missed push request';
  if (!isObject(input)) throw new InvalidInputError(`${what}: expected an object`);
  if (input.reason !== 'missed') throw new InvalidInputError(`${what}: 'reason' must be 'missed'`);
  const push = parsePush(input.push);
  if (!isMissedPush(push)) {
    throw new InvalidInputError(
      `${what}: push.deliveryId must start with '${MISSED_PUSH_DELIVERY_PREFIX}' (the reconcile run that found it), not '${push.deliveryId}'`,
    );
  }
  return { source: 'ballast', action: 'push', reason: 'missed', push };
}

/**
 * The execution name of a missed push: `missed-<environment>-<commit>`, the same whoever finds the
 * commit and however often, so that StartExecution starts it once (the running execution is
 * answered again; once it has closed, ExecutionAlreadyExists).
 */
export function missedPushExecutionName(environment: string, commit: string): string {
  return executionName('missed', environment, commit);
}
