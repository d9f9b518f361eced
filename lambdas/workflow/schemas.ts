/**
 * The deploy workflow's state inputs as zod schemas, parsed at each handler's boundary
 * (lambdas/runtime/handler.ts). They mirror the interfaces in ./types.ts, which stay the source of
 * the names and docs; the `satisfies` checks at the end fail to compile when the two drift apart.
 *
 * `zod/mini` rather than classic zod: the same parser, but tree-shakeable (about 15 kB in a bundle
 * where classic zod costs about 450 kB whatever one uses of it). Objects are `z.object` (unknown
 * fields are dropped, not rejected), so a field the ASL adds later cannot break an older handler.
 */
import * as z from 'zod/mini';
import type { EndpointWork, PlannedEndpoint, Push } from './types.ts';

const nonEmpty = () => z.string().check(z.minLength(1));

export const pushSchema = z.object({
  source: z.enum(['codecommit', 'github']),
  repository: nonEmpty(),
  branch: nonEmpty(),
  commit: nonEmpty(),
  previousCommit: z.optional(nonEmpty()),
  pushedBy: z.string(),
  pushedAt: z.iso.datetime(),
  deliveryId: nonEmpty(),
});

export const plannedEndpointSchema = z.object({
  name: nonEmpty(),
  target: z.enum(['sagemaker', 'eks']),
  digest: nonEmpty(),
  changes: z.array(z.string()),
});

export const endpointWorkSchema = z.object({
  push: pushSchema,
  environment: nonEmpty(),
  snapshotKey: nonEmpty(),
  endpoint: plannedEndpointSchema,
  execution: nonEmpty(),
});

// Compile-time only: the parsed shapes are the workflow types.
({}) as z.output<typeof pushSchema> satisfies Push;
({}) as z.output<typeof plannedEndpointSchema> satisfies PlannedEndpoint;
({}) as z.output<typeof endpointWorkSchema> satisfies EndpointWork;
