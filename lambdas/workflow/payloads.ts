/**
 * The deploy workflow's payloads as zod schemas: every handler parses its input at the boundary
 * (lambdas/runtime/handler.ts), so a malformed execution input, a hand-started execution or an
 * ASL change that passes the wrong path fails with InvalidInputError naming the field, never with
 * a TypeError deep inside a step. The TypeScript types in ./types.ts are what the schemas produce.
 */
import { z } from 'zod';
import { Rollout as RolloutSpec } from '../spec/schema.ts';

const commitId = z.string().regex(/^(?:[0-9a-f]{40}|[0-9a-f]{64})$/, 'a full commit id');
const instant = z.string().refine((value) => Number.isFinite(Date.parse(value)), 'an ISO 8601 timestamp');
const name = z.string().min(1).max(200);

export const push = z.object({
  source: z.enum(['codecommit', 'github']),
  repository: name,
  branch: z.string().min(1),
  commit: commitId,
  previousCommit: commitId.optional(),
  pushedBy: z.string().min(1),
  pushedAt: instant,
  deliveryId: z.string().min(1),
});

export const retry = z.object({
  endpoint: name,
  requestedBy: z.string().min(1),
  requestedAt: instant,
  reason: z.string().max(1024).optional(),
});

/** Step Functions passes absent optional fields as null (Resolve always sets `retry`). */
const optionalRetry = retry.nullish().transform((value) => value ?? undefined);

export const validateInput = z.object({
  push,
  environment: name,
  snapshotKey: z.string().min(1),
  execution: z.string().min(1),
  retry: optionalRetry,
});
export type ValidateInput = z.output<typeof validateInput>;

export const endpointWork = z.object({
  push,
  environment: name,
  endpoint: name,
  execution: z.string().min(1),
  retry: optionalRetry,
});

export const lease = z.object({
  acquired: z.boolean(),
  reason: z.enum(['superseded', 'already-live', 'quarantined']).optional(),
  digest: z.string(),
});

export const registration = z.object({
  pointerKey: z.string().min(1),
  pinned: z.object({
    modelDataUrl: z.string().min(1),
    prompts: z.record(z.string(), z.string()),
    configs: z.record(z.string(), z.string()),
  }),
});

export const verification = z.object({
  outcome: z.enum(['deployed', 'rolled-back', 'failed', 'replaced']),
  reason: z.string().optional(),
  liveEndpointConfigName: z.string().optional(),
});

export const rollout = z.object({
  status: z.enum(['started', 'waiting', 'live']),
  operation: z.enum(['create', 'update']),
  endpointName: z.string().min(1),
  endpointConfigName: z.string().min(1),
  previousEndpointConfigName: z.string().optional(),
  startedAt: instant,
  plan: z.object({ rollout: RolloutSpec, alarms: z.array(z.string()) }),
  nextCheckSeconds: z.number().int().min(0),
  checks: z.number().int().min(0),
  verification: verification.optional(),
  settled: z.boolean().optional(),
  trafficToNew: z.number().optional(),
  phase: z.string().optional(),
});

export const leaseInput = endpointWork;
export type LeaseInput = z.output<typeof leaseInput>;
export const registerInput = endpointWork.extend({ lease });
export type RegisterInput = z.output<typeof registerInput>;
export const deployInput = endpointWork.extend({ registration, rollout: rollout.optional() });
export type DeployInput = z.output<typeof deployInput>;
export const checkRolloutInput = endpointWork.extend({ rollout });
export type CheckRolloutInput = z.output<typeof checkRolloutInput>;

/** A Step Functions error as a Catch hands it over (`ResultPath: $.error`). */
export const stateError = z.object({ Error: z.string(), Cause: z.string().optional().default('') });

export const recordInput = z.discriminatedUnion('kind', [
  endpointWork.extend({ kind: z.literal('rollout'), registration, rollout }),
  endpointWork.extend({ kind: z.literal('failure'), error: stateError }),
  endpointWork.extend({ kind: z.literal('skipped'), lease }),
]);
export type RecordInput = z.output<typeof recordInput>;

const planIssue = z.object({ file: z.string(), line: z.number(), column: z.number(), message: z.string() });
export const plan = z.object({
  valid: z.boolean(),
  issues: z.array(planIssue).optional(),
  issueCount: z.number().optional(),
  items: z.array(z.string()),
  planKey: z.string().optional(),
  counts: z.object({ changed: z.number(), unchanged: z.number(), deferred: z.number() }),
});

export const endpointResult = z.object({
  endpoint: z.string(),
  outcome: z.string(),
  reason: z.string().optional(),
  error: z.string().optional(),
});

export const recordPushInput = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('rejected'), push, environment: name, plan, execution: z.string() }),
  z.object({
    kind: z.literal('summary'),
    push,
    environment: name,
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
