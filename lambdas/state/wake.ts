/**
 * Who waits for a SageMaker endpoint, and the pure rules that change it. Stored at
 * `wake/<endpointName>.json`: a deploy execution about to wait for the endpoint (its rollout to
 * settle, or another rollout to end) parks its task token here (Park), and Wake, on SageMaker's
 * event that the endpoint settled, answers every parked token, so that the execution looks at the
 * endpoint at once instead of at its next scheduled check.
 *
 * Written by compare-and-swap (two executions can wait for one endpoint: a newer push waiting for
 * an older push's rollout to end), read by Wake. Entries end with their task: an entry past its
 * timeout (with a margin for clocks) is dropped by the next Park and never answered.
 */

export interface Waiter {
  /** The callback task's token (`$$.Task.Token`): answering it ends the wait. */
  readonly taskToken: string;
  /** The state that waits (WaitForRollout, WaitForIdleEndpoint). */
  readonly state: string;
  readonly commit: string;
  readonly parkedAt: string;
  /** When Step Functions times the task out: it checks the endpoint then, woken or not. */
  readonly until: string;
}

export interface WakeList {
  readonly endpointName: string;
  /** By execution: an execution waits in one task at a time, so its newer Park replaces its entry. */
  readonly waiters: Readonly<Record<string, Waiter>>;
}

/** Endpoint statuses after which a waiting execution has something new to see: the update or creation is over. */
export const WAKING_STATUSES: readonly string[] = ['IN_SERVICE', 'FAILED'];

/** How long past its timeout an entry is kept (Lambda's and Step Functions' clocks differ a little). */
export const EXPIRY_MARGIN_SECONDS = 300;

export function expired(waiter: Waiter, nowMs: number): boolean {
  return Date.parse(waiter.until) + EXPIRY_MARGIN_SECONDS * 1000 < nowMs;
}

/**
 * The list with `execution` waiting in `waiter`, and without the entries whose tasks have timed
 * out; `undefined` when that is the list as it is (a retried Park writes nothing).
 */
export function park(
  current: WakeList | undefined,
  endpointName: string,
  execution: string,
  waiter: Waiter,
  nowMs: number,
): WakeList | undefined {
  const kept = Object.entries(current?.waiters ?? {}).filter(([name, w]) => name !== execution && !expired(w, nowMs));
  const previous = current?.waiters[execution];
  if (current && previous?.taskToken === waiter.taskToken && kept.length === Object.keys(current.waiters).length - 1) {
    return undefined;
  }
  return { endpointName, waiters: { ...Object.fromEntries(kept), [execution]: waiter } };
}

/** The parked tasks worth answering: those that have not timed out. */
export function waiting(list: WakeList | undefined, nowMs: number): Array<{ execution: string; waiter: Waiter }> {
  return Object.entries(list?.waiters ?? {})
    .filter(([, waiter]) => !expired(waiter, nowMs))
    .map(([execution, waiter]) => ({ execution, waiter }));
}
