/**
 * The rollback workflow's payloads (stepfunctions/rollback.asl.json), parsed at each handler's
 * boundary like the deploy workflow's (./payloads.ts, zod/mini for the same bundle reasons).
 *
 * The execution input is either the EventBridge event of a CloudWatch alarm that went into ALARM,
 * or a deliberate `ballast rollback` request. The alarm event is AWS's: "CloudWatch Alarm State
 * Change", `detail.alarmName`, `detail.state.{value,reason,timestamp}` (Amazon CloudWatch User
 * Guide, "Alarm events and EventBridge":
 * https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/cloudwatch-and-eventbridge.html).
 */
import * as z from 'zod/mini';
import type { LiveRef } from '../state/endpoint-state.ts';
import { push, rollout, stateError } from './payloads.ts';

const nonEmpty = z.string().check(z.minLength(1));
const name = z.string().check(z.minLength(1), z.maxLength(200));
const instant = z.string().check(z.refine((value) => Number.isFinite(Date.parse(value)), 'an ISO 8601 timestamp'));

export const alarmEvent = z.object({
  id: nonEmpty,
  source: z.literal('aws.cloudwatch'),
  'detail-type': z.literal('CloudWatch Alarm State Change'),
  time: instant,
  detail: z.object({
    alarmName: z.string().check(z.minLength(1), z.maxLength(255)),
    state: z.object({
      value: z.string(),
      reason: z._default(z.optional(z.string()), ''),
      // CloudWatch writes `2019-10-02T17:04:40.985+0000`, which Date.parse reads.
      timestamp: instant,
    }),
  }),
});
export type AlarmEvent = z.output<typeof alarmEvent>;

/** What `ballast rollback` starts the workflow with. */
export const rollbackRequest = z.object({
  ballast: z.literal('rollback'),
  environment: name,
  endpoint: name,
  requestedBy: nonEmpty,
  requestedAt: instant,
  reason: z.optional(z.string().check(z.maxLength(1024))),
  to: z.optional(z.string().check(z.regex(/^[0-9a-f]{7,64}$/, 'a commit id (7 to 64 hex digits)'))),
});
export type RollbackRequest = z.output<typeof rollbackRequest>;

export const triageInput = z.object({
  event: z.union([alarmEvent, rollbackRequest]),
  execution: nonEmpty,
});
export type TriageInput = z.output<typeof triageInput>;

const trigger = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('alarm'), alarm: nonEmpty, reason: z.string(), at: instant }),
  z.object({
    kind: z.literal('manual'),
    requestedBy: nonEmpty,
    requestedAt: instant,
    reason: z.optional(z.string()),
    to: z.optional(z.string()),
  }),
]);

/**
 * A live version as the endpoint's state records it (lambdas/state/endpoint-state.ts): Triage read
 * it from the state and hands it on whole; its shape is checked, its fields are the state's.
 */
const liveRef = z.custom<LiveRef>(
  (value) =>
    typeof value === 'object' &&
    value !== null &&
    ['commit', 'digest', 'endpointConfigName', 'at'].every(
      (field) => typeof (value as unknown as Record<string, unknown>)[field] === 'string',
    ),
  'a live version (commit, digest, endpointConfigName, at)',
);

const decision = z.object({
  action: z.enum(['act', 'mid-rollout', 'no-last-good', 'duplicate', 'restored-version', 'not-declared']),
  reason: z.string(),
  from: z.optional(liveRef),
  to: z.optional(liveRef),
});

/**
 * One endpoint the trigger concerns, as Triage hands it to the Map: the decision, and the push of
 * the version that is live (the commit the rollback answers and is recorded against).
 */
export const rollbackItem = z.object({
  environment: name,
  endpoint: name,
  execution: nonEmpty,
  push,
  trigger,
  decision,
  /** When the trigger happened: the alarm's transition, or the request. The ledger entry's start. */
  startedAt: instant,
  /** The SageMaker endpoint's name. */
  endpointName: nonEmpty,
});
export type RollbackItem = z.output<typeof rollbackItem>;

export const applied = z.object({
  started: z.boolean(),
  reason: z.optional(z.string()),
  rollout: z.optional(rollout),
});

export const applyInput = rollbackItem;
export type ApplyInput = z.output<typeof applyInput>;

export const restoreInput = z.extend(rollbackItem, {
  applied: z.optional(applied),
  error: z.optional(stateError),
});
export type RestoreInput = z.output<typeof restoreInput>;

export const restored = z.object({
  outcome: z.enum(['restored', 'failed', 'skipped']),
  reason: z.string(),
});

export const writeBackResult = z.object({
  kind: z.enum(['committed', 'pull-request', 'skipped']),
  commit: z.optional(z.string()),
  branch: z.optional(z.string()),
  pullRequest: z.optional(z.string()),
  url: z.optional(z.string()),
  reason: z.optional(z.string()),
});

export const writeBackInput = z.extend(rollbackItem, { restored });
export type WriteBackInput = z.output<typeof writeBackInput>;

export const finishInput = z.extend(rollbackItem, {
  applied: z.optional(applied),
  /** A failure Restore could not record (Restore's own Catch). */
  error: z.optional(stateError),
  restored: z.optional(restored),
  writeBack: z.optional(writeBackResult),
  writeBackError: z.optional(stateError),
});
export type FinishInput = z.output<typeof finishInput>;
