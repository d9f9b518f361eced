import type { VirtualClock } from './clock.ts';
import type { EventBridgeEvent, EventBus, EventPattern } from './events.ts';

/** An asynchronous Lambda invocation and its two retries (Lambda's default for asynchronous invocation). */
const ASYNC_INVOKE_ATTEMPTS = 3;

/**
 * What starts workflows locally, mirroring what the CDK stack creates on AWS: EventBridge rules
 * (an event pattern whose matching events start a state machine, the event as its input) and
 * EventBridge Scheduler schedules (`rate(N minutes)`, a fixed input), in simulated time.
 */
export class LocalTriggers {
  private readonly stops: Array<() => void> = [];

  constructor(
    /** Starts an execution (a runner's `start`), as the rule's or the schedule's target does. */
    private readonly start: (workflow: string, input: unknown) => unknown,
    private readonly events: EventBus,
    private readonly clock: VirtualClock,
  ) {}

  /** An EventBridge rule: every matching event starts `workflow` with the event as input. */
  onEvent(pattern: EventPattern, workflow: string, filter: (event: EventBridgeEvent) => boolean = () => true): void {
    this.stops.push(
      this.events.subscribe(pattern, (event) => {
        if (filter(event)) this.start(workflow, event);
      }),
    );
  }

  /**
   * An EventBridge rule whose target is a Lambda function: every matching event invokes `invoke`
   * with the event, asynchronously, as EventBridge invokes a function target. A failed invocation
   * is tried again twice, as Lambda does with asynchronous invocations, and then dropped.
   */
  onEventInvoke(pattern: EventPattern, invoke: (event: EventBridgeEvent) => Promise<unknown>): void {
    this.stops.push(
      this.events.subscribe(pattern, (event) => {
        void (async () => {
          for (let attempt = 1; attempt <= ASYNC_INVOKE_ATTEMPTS; attempt++) {
            try {
              await invoke(event);
              return;
            } catch {
              // Lambda keeps the error in the function's logs and metrics; the next attempt follows.
            }
          }
        })();
      }),
    );
  }

  /**
   * A schedule: starts `workflow` with `input` every `everySeconds` of simulated time. Like
   * EventBridge Scheduler with a flexible window, a run that falls due while time jumps forward
   * fires once, not once per missed interval.
   */
  every(everySeconds: number, workflow: string, input: unknown): void {
    if (!(everySeconds > 0)) throw new RangeError(`a schedule needs a positive interval, got ${everySeconds}`);
    const intervalMs = everySeconds * 1000;
    let due = this.clock.nowMs() + intervalMs;
    const check = () => {
      const now = this.clock.nowMs();
      if (now < due) return;
      due = now + intervalMs;
      this.start(workflow, input);
    };
    const timer = setInterval(check, 50);
    timer.unref();
    const unsubscribe = this.clock.onAdvance(check);
    this.stops.push(() => {
      clearInterval(timer);
      unsubscribe();
    });
  }

  stop(): void {
    for (const stop of this.stops.splice(0)) stop();
  }
}

/** The rule the stack gives a rollback workflow: an alarm an endpoint declares went into ALARM. */
export const ALARM_PATTERN: EventPattern = {
  source: ['aws.cloudwatch'],
  'detail-type': ['CloudWatch Alarm State Change'],
  detail: { state: { value: ['ALARM'] } },
};
