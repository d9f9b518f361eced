import { SendTaskSuccessCommand } from '@aws-sdk/client-sfn';
import { classify } from '../aws/errors.ts';
import { sfn } from '../aws/sfn.ts';
import { lambdaHandler } from '../runtime/handler.ts';
import { keys } from '../state/keys.ts';
import { WAKING_STATUSES, type WakeList, waiting } from '../state/wake.ts';
import { type WakeEvent, wakeEvent } from '../workflow/payloads.ts';
import { logger, nowIso, resourcePrefix, stateStore } from './runtime.ts';

/**
 * SendTaskSuccess errors that mean the task is no longer waiting: it timed out or was answered
 * already (TaskTimedOut), or the token is unknown (InvalidToken, TaskDoesNotExist). The execution
 * has moved on; there is nothing to wake.
 */
const CLOSED = new Set(['TaskTimedOut', 'InvalidToken', 'TaskDoesNotExist']);

export interface WakeResult {
  readonly endpointName: string;
  /** Tasks this event ended. */
  readonly woken: number;
  /** Tasks that had ended already (a duplicate event, a retry, a timeout that came first). */
  readonly closed: number;
  /** Why the event was not for Wake, when it was not. */
  readonly ignored?: string;
}

/**
 * Wake: the target of the EventBridge rule on SageMaker's endpoint events (lib/rollout-wake.ts): an
 * endpoint under the stack's prefix is InService or Failed again, so whatever a deploy execution was
 * waiting for on it is over. Wake answers the task tokens parked for the endpoint (SendTaskSuccess),
 * and the executions look at the endpoint now, not at their next scheduled check: a rollback that
 * SageMaker finished during a long bake reaches the ledger, the commit and the quarantine within
 * moments. Not a workflow step; it changes nothing but the waits.
 *
 * Idempotent: a duplicate event, or a retry, answers tokens that are closed by then, which is no
 * error. A throttled or failed SendTaskSuccess throws (TransientError) after trying every token,
 * so Lambda's retry of the event reaches the ones it missed.
 */
export async function wake(event: WakeEvent): Promise<WakeResult> {
  const { EndpointName: endpointName, EndpointStatus: status } = event.detail;
  // The rule filters both already; a rule edited by hand must not wake other endpoints' waiters.
  if (!endpointName.startsWith(`${resourcePrefix()}-`)) {
    return { endpointName, woken: 0, closed: 0, ignored: `not under the prefix ${resourcePrefix()}-` };
  }
  if (!WAKING_STATUSES.includes(status)) return { endpointName, woken: 0, closed: 0, ignored: `status ${status}` };
  const list = (await stateStore().get<WakeList>(keys.wake(endpointName)))?.value;
  const tasks = waiting(list, Date.parse(nowIso()));
  if (tasks.length === 0) {
    logger.info('no execution waits for this endpoint', { endpointName, status });
    return { endpointName, woken: 0, closed: 0 };
  }
  // The task's result (ResultPath $.wake): what woke it, for the execution's history.
  const output = JSON.stringify({ woken: event['detail-type'], status, eventId: event.id, at: event.time });
  const answers = await Promise.allSettled(tasks.map(({ waiter }) => answer(waiter.taskToken, output)));
  const failed = answers.find((a): a is PromiseRejectedResult => a.status === 'rejected');
  if (failed) throw failed.reason;
  const woken = answers.filter((a) => a.status === 'fulfilled' && a.value === 'woken').length;
  const closed = answers.length - woken;
  logger.info('woke the executions waiting for the endpoint', {
    endpointName,
    status,
    woken,
    closed,
    executions: tasks.map((t) => t.execution),
  });
  return { endpointName, woken, closed };
}

async function answer(taskToken: string, output: string): Promise<'woken' | 'closed'> {
  try {
    await sfn().send(new SendTaskSuccessCommand({ taskToken, output }));
    return 'woken';
  } catch (error) {
    if (error instanceof Error && CLOSED.has(error.name)) return 'closed';
    return classify(error, 'SendTaskSuccess');
  }
}

export const handler = lambdaHandler(wakeEvent, wake, {
  keys: (event) => ({ endpointName: event.detail.EndpointName, eventId: event.id }),
});
