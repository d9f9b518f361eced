// TEMPORARY (replaced by the middy + Powertools runtime on wip/runtime): parses the input with zod.
import type { Context } from 'aws-lambda';
import type { z } from 'zod';
import { InvalidInputError } from '../aws/errors.ts';

export function lambdaHandler<S extends z.ZodType, R>(
  schema: S,
  fn: (input: z.output<S>, context: Context) => Promise<R>,
  _options?: { keys?: (input: z.output<S>) => Record<string, string | undefined> },
): (event: unknown, context: Context) => Promise<R> {
  return async (event, context) => {
    const parsed = schema.safeParse(event);
    if (!parsed.success) {
      throw new InvalidInputError(parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; '));
    }
    return fn(parsed.data, context);
  };
}
