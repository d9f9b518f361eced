import { lambdaHandler } from '../runtime/handler.ts';
import { keys } from '../state/keys.ts';
import { park, type WakeList } from '../state/wake.ts';
import { type ParkInput, parkInput } from '../workflow/payloads.ts';
import { logger, nowIso, stateStore } from './runtime.ts';

/**
 * Park: a deploy execution is about to wait for its endpoint, in a callback task whose timeout is
 * its next scheduled check (WaitForRollout, WaitForIdleEndpoint). Park records the task's token
 * under the endpoint's name (`wake/<endpointName>.json`) and returns; the task then waits until
 * Wake answers the token (SageMaker said the endpoint settled) or the timeout passes, and either
 * way CheckRollout (or Deploy) looks at the endpoint next. One state per wait, as a Wait state.
 *
 * An event that SageMaker sends between the look at the endpoint and this write finds no token and
 * is missed: the execution then checks at its scheduled time, as it would without Wake. Closing
 * that gap would take a DescribeEndpoint in every Park, one more call per poll, for a window of a
 * few hundred milliseconds in a wait of minutes.
 *
 * Idempotent: the execution's entry is replaced, a retry with the same token writes nothing.
 */
export async function parkTask(input: ParkInput): Promise<{ parked: true; until: string }> {
  const now = nowIso();
  const nowMs = Date.parse(now);
  const until = new Date(nowMs + input.waitSeconds * 1000).toISOString();
  await stateStore().update<WakeList>(keys.wake(input.endpointName), (current) =>
    park(
      current,
      input.endpointName,
      input.execution,
      { taskToken: input.taskToken, state: input.state, commit: input.commit, parkedAt: now, until },
      nowMs,
    ),
  );
  logger.info('waiting for the endpoint to settle, or for the next check', {
    state: input.state,
    endpointName: input.endpointName,
    until,
  });
  return { parked: true, until };
}

export const handler = lambdaHandler(parkInput, parkTask, {
  keys: (input) => ({ commit: input.commit, environment: input.environment, endpoint: input.endpoint }),
});
