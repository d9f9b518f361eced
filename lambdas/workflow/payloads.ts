/**
 * The deploy workflow's payloads as zod schemas: every handler parses its input at the boundary
 * (lambdas/runtime/handler.ts), so a malformed execution input, a hand-started execution or an
 * ASL change that passes the wrong path fails with InvalidInputError naming the field, never with
 * a TypeError deep inside a step. The TypeScript types in ./types.ts are what the schemas produce.
 *
 * `zod/mini`, not classic zod, and nothing from lambdas/spec/schema.ts: every workflow handler
 * imports this file, and classic zod costs a bundle about 450 kB minified (and its load time) even
 * for one schema, where mini costs about 30 kB. Only Validate, which checks repositories, needs the
 * repository format and classic zod.
 */
import * as z from 'zod/mini';
import { JSON_POINTER, MAX_HEAL_PATH_LENGTH, MAX_HEAL_PATHS } from '../sources/heal.ts';
import type { Rollout as RolloutSpec } from '../spec/schema.ts';
import type { Release } from './types.ts';

const commitId = z.string().check(z.regex(/^(?:[0-9a-f]{40}|[0-9a-f]{64})$/, 'a full commit id'));
const instant = z.string().check(z.refine((value) => Number.isFinite(Date.parse(value)), 'an ISO 8601 timestamp'));
const nonEmpty = z.string().check(z.minLength(1));
const name = z.string().check(z.minLength(1), z.maxLength(200));
const count = z.int().check(z.minimum(0));

export const push = z.object({
  source: z.enum(['codecommit', 'github']),
  repository: name,
  branch: nonEmpty,
  commit: commitId,
  previousCommit: z.optional(commitId),
  pushedBy: nonEmpty,
  pushedAt: instant,
  deliveryId: nonEmpty,
});

/** A JSON pointer into an endpoint's effective spec, as a drift report names what drifted. */
const pointer = z.string().check(z.maxLength(MAX_HEAL_PATH_LENGTH), z.regex(JSON_POINTER, 'a JSON pointer'));

export const retry = z.object({
  endpoint: name,
  requestedBy: nonEmpty,
  requestedAt: instant,
  reason: z.optional(z.string().check(z.maxLength(1024))),
  kind: z.optional(z.enum(['retry', 'heal'])),
  paths: z.optional(z.array(pointer).check(z.maxLength(MAX_HEAL_PATHS))),
});

/** Step Functions passes absent optional fields as null (Resolve always sets `retry`). */
const optionalRetry = z.pipe(
  z.nullish(retry),
  z.transform((value) => value ?? undefined),
);

export const validateInput = z.object({
  push,
  environment: name,
  snapshotKey: nonEmpty,
  execution: nonEmpty,
  retry: optionalRetry,
});
export type ValidateInput = z.output<typeof validateInput>;

export const endpointWork = z.object({
  push,
  environment: name,
  endpoint: name,
  execution: nonEmpty,
  retry: optionalRetry,
});

/**
 * The release travels with the lease when it is small (Lease read it from S3 once; it is
 * write-once, so carrying it is as safe as reading it again): Register, Deploy and Record use it
 * instead of a GetObject each. Validate wrote it, so it is taken as it is (not re-parsed here).
 */
const carriedRelease = z.custom<Release>((value) => typeof value === 'object' && value !== null);

export const lease = z.object({
  acquired: z.boolean(),
  reason: z.optional(z.enum(['superseded', 'already-live', 'quarantined'])),
  digest: z.string(),
  release: z.optional(carriedRelease),
});

const pinnedModel = z.discriminatedUnion('form', [
  z.object({ form: z.literal('archive'), modelDataUrl: nonEmpty }),
  z.object({ form: z.literal('directory'), s3Prefix: z.string().check(z.regex(/^s3:\/\/.+\/$/, 'an s3:// prefix')) }),
]);

export const registration = z.object({
  pointerKey: nonEmpty,
  pinned: z.object({
    model: pinnedModel,
    prompts: z.record(z.string(), z.string()),
    configs: z.record(z.string(), z.string()),
  }),
});

export const verification = z.object({
  outcome: z.enum(['deployed', 'rolled-back', 'failed', 'replaced']),
  reason: z.optional(z.string()),
  liveEndpointConfigName: z.optional(z.string()),
});

/**
 * The rollout a release carries, as Deploy passes it on to CheckRollout and Record. Its shape
 * only: Validate already held it to the repository format's limits (lambdas/spec/schema.ts, with
 * its defaults applied), and repeating those limits here would let the two drift apart. The
 * annotation makes the compiler prove that what this parses is the spec's Rollout.
 */
const rolloutSpec: z.ZodMiniType<RolloutSpec> = z.discriminatedUnion('strategy', [
  z.object({ strategy: z.literal('allAtOnce'), bakeSeconds: count, timeoutSeconds: count }),
  z.object({
    strategy: z.literal('canary'),
    canary: z.object({ percent: count }),
    bakeSeconds: count,
    timeoutSeconds: count,
  }),
  z.object({
    strategy: z.literal('linear'),
    linear: z.object({ stepPercent: count, intervalSeconds: count }),
    bakeSeconds: count,
    timeoutSeconds: count,
  }),
]);

export const rollout = z.object({
  status: z.enum(['started', 'waiting', 'live']),
  operation: z.enum(['create', 'update', 'weights']),
  endpointName: nonEmpty,
  endpointConfigName: nonEmpty,
  previousEndpointConfigName: z.optional(z.string()),
  startedAt: instant,
  plan: z.object({ rollout: rolloutSpec, alarms: z.array(z.string()) }),
  nextCheckSeconds: count,
  checks: count,
  verification: z.optional(verification),
  settled: z.optional(z.boolean()),
  trafficToNew: z.optional(z.number()),
  phase: z.optional(z.string()),
});

export const leaseInput = endpointWork;
export type LeaseInput = z.output<typeof leaseInput>;
export const registerInput = z.extend(endpointWork, { lease });
export type RegisterInput = z.output<typeof registerInput>;
/** One iteration of the files Map: which batch of the release's files (lambdas/registry/batches.ts). */
export const registerFilesInput = z.extend(endpointWork, { lease, batch: count });
export type RegisterFilesInput = z.output<typeof registerFilesInput>;
export const pinInput = z.extend(endpointWork, { lease });
export type PinInput = z.output<typeof pinInput>;
export const deployInput = z.extend(endpointWork, { lease, registration, rollout: z.optional(rollout) });
export type DeployInput = z.output<typeof deployInput>;
export const checkRolloutInput = z.extend(endpointWork, { rollout });
export type CheckRolloutInput = z.output<typeof checkRolloutInput>;

/**
 * Park's payload: the callback task that waits for the endpoint (stepfunctions/deploy.asl.json,
 * WaitForRollout and WaitForIdleEndpoint) hands over its token and how long it waits.
 */
export const parkInput = z.object({
  // SendTaskSuccess takes tokens of 1-2048 characters (API Reference).
  taskToken: z.string().check(z.minLength(1), z.maxLength(2048)),
  state: z.enum(['WaitForRollout', 'WaitForIdleEndpoint']),
  endpointName: nonEmpty,
  waitSeconds: z.int().check(z.minimum(1)),
  execution: nonEmpty,
  environment: name,
  endpoint: name,
  commit: commitId,
});
export type ParkInput = z.output<typeof parkInput>;

/**
 * What Wake reads of SageMaker's "SageMaker Endpoint State Change" and "SageMaker Endpoint
 * Deployment State Change" events (SageMaker Developer Guide, "Events that Amazon SageMaker AI sends
 * to Amazon EventBridge"): which endpoint, and its status, in upper snake case (IN_SERVICE).
 */
export const wakeEvent = z.object({
  id: nonEmpty,
  'detail-type': nonEmpty,
  source: z.literal('aws.sagemaker'),
  time: nonEmpty,
  detail: z.object({ EndpointName: nonEmpty, EndpointStatus: nonEmpty }),
});
export type WakeEvent = z.output<typeof wakeEvent>;

/** A Step Functions error as a Catch hands it over (`ResultPath: $.error`). */
export const stateError = z.object({ Error: z.string(), Cause: z._default(z.optional(z.string()), '') });

export const recordInput = z.discriminatedUnion('kind', [
  z.extend(endpointWork, { kind: z.literal('rollout'), lease, registration, rollout }),
  z.extend(endpointWork, { kind: z.literal('failure'), error: stateError }),
  z.extend(endpointWork, { kind: z.literal('skipped'), lease }),
]);
export type RecordInput = z.output<typeof recordInput>;

const planIssue = z.object({ file: z.string(), line: z.number(), column: z.number(), message: z.string() });
export const plan = z.object({
  valid: z.boolean(),
  issues: z.optional(z.array(planIssue)),
  issueCount: z.optional(z.number()),
  items: z.array(z.string()),
  planKey: z.optional(z.string()),
  counts: z.object({ changed: z.number(), unchanged: z.number(), deferred: z.number() }),
});

const endpointResultShape = z.object({
  endpoint: z.string(),
  outcome: z.string(),
  error: z.optional(z.string()),
});

/**
 * One entry of the Map's results. Every iteration ends in a Pass that returns this shape, but a
 * Distributed Map that tolerates failed child executions (ToleratedFailurePercentage) puts what
 * it has for a failed child in their place: anything else reads as `unrecorded`, never as a
 * parse error that would leave the push unanswered.
 */
export const endpointResult = z.pipe(
  z.unknown(),
  z.transform((value) => {
    const parsed = endpointResultShape.safeParse(value);
    return parsed.success ? parsed.data : { endpoint: '(unknown)', outcome: 'unrecorded', error: 'no result' };
  }),
);

export const recordPushInput = z.discriminatedUnion('kind', [
  // `retry` (the ASL passes Resolve's): a retry's or a heal's own entry says so.
  z.object({
    kind: z.literal('rejected'),
    push,
    environment: name,
    retry: z.optional(optionalRetry),
    plan,
    execution: z.string(),
  }),
  z.object({
    kind: z.literal('summary'),
    push,
    environment: name,
    retry: z.optional(optionalRetry),
    plan,
    results: z.array(endpointResult),
    execution: z.string(),
  }),
  // A failure anywhere outside an endpoint's iteration: the whole state as it was, with the error.
  z.object({
    kind: z.literal('failure'),
    event: z.looseObject({ error: stateError }),
    execution: z.string(),
  }),
]);
export type RecordPushInput = z.output<typeof recordPushInput>;
