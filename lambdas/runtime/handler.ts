/**
 * The one way a Ballast Lambda handler is built: middy with the Powertools middlewares (Logger
 * context, EMF metrics with the cold start, X-Ray) and the input parsed at the boundary.
 *
 *   export const handler = lambdaHandler(endpointWorkSchema, async (work) => { … }, {
 *     keys: (work) => ({ commit: work.push.commit, endpoint: work.endpoint.name }),
 *   });
 *
 * Errors pass through unchanged: Step Functions' Retry and Catch match on the thrown `error.name`
 * (TransientError, InvalidInputError, LeaseLostError, ArtifactIntegrityError; lambdas/aws/errors.ts).
 */
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import { captureLambdaHandler } from '@aws-lambda-powertools/tracer/middleware';
import middy, { type MiddlewareObj, type MiddyfiedHandler } from '@middy/core';
import type { Context } from 'aws-lambda';
import { type $ZodIssue, type $ZodType, type output, safeParse } from 'zod/v4/core';
import { InvalidInputError } from '../aws/errors.ts';
import { logger, metrics, tracer } from './powertools.ts';

/** Per-invocation log keys (undefined values are left out). */
export type LogKeys = Record<string, string | undefined>;

export interface LambdaHandlerOptions<I> {
  /**
   * Keys added to every log line of the invocation (commit, endpoint, environment…), read from
   * the parsed input. They are cleared after each invocation, so a warm container never carries one
   * push's commit into the next push's logs.
   * @default - no keys beyond the Lambda context
   */
  readonly keys?: (input: I) => LogKeys;
  /**
   * Powertools' ColdStart metric (one custom metric per function: $0.30 a month in every month the
   * function starts cold). The reconciler's functions, which run every minute, leave it out: Lambda's
   * own REPORT log line says when a start was cold (Init Duration), and it would be most of their cost.
   * @default true
   */
  readonly coldStartMetric?: boolean;
}

/**
 * A handler as Lambda (and the local runner) calls it: `handler(event, context)`. The middy object
 * behind it is not exposed: a handler gets its middlewares here, in one place, not at its call site.
 * `context` may be left out by tests that call a handler directly (middy then passes `{}`).
 */
export type BallastHandler<R> = (event: unknown, context?: Context) => Promise<R>;

/** The most issues a rejection lists; the rest are counted. */
const MAX_ISSUES = 10;

/**
 * A handler whose event is parsed with `schema` before `fn` sees it. Input that does not parse is
 * rejected with an InvalidInputError naming each field and what was expected. Any zod 4 schema
 * works (classic or `zod/mini`; lambdas/workflow/payloads.ts uses mini, which costs a bundle about
 * 30 kB minified where classic zod costs about 455 kB).
 */
export function lambdaHandler<S extends $ZodType, R>(
  schema: S,
  fn: (input: output<S>, context: Context) => Promise<R>,
  options: LambdaHandlerOptions<output<S>> = {},
): BallastHandler<R> {
  return exposed(
    withPowertools(
      middy((event: unknown, context: Context) => fn(event as output<S>, context)),
      options.coldStartMetric ?? true,
    ).use(parseInput(schema, options.keys)),
  );
}

/**
 * A handler that sees the raw event, for the few that must check it before anything parses it
 * (the GitHub webhook verifies the HMAC over the exact body bytes). Same middlewares, no schema.
 */
export function rawLambdaHandler<E, R>(fn: (event: E, context: Context) => Promise<R>): BallastHandler<R> {
  return exposed(
    withPowertools(
      middy((event: unknown, context: Context) => fn(event as E, context)),
      true,
    ),
  );
}

function withPowertools<R>(handler: MiddyfiedHandler<unknown, R, Error, Context>, coldStartMetric: boolean) {
  return handler
    .use(injectLambdaContext(logger, { resetKeys: true }))
    .use(logMetrics(metrics, { captureColdStartMetric: coldStartMetric, throwOnEmptyMetrics: false }))
    .use(captureLambdaHandler(tracer));
}

function exposed<R>(handler: MiddyfiedHandler<unknown, R, Error, Context>): BallastHandler<R> {
  // A missing context is what middy itself substitutes `{}` for (its middyRequest default).
  return (event, context) => handler(event, context as Context);
}

function parseInput<S extends $ZodType>(
  schema: S,
  keys: ((input: output<S>) => LogKeys) | undefined,
): MiddlewareObj<unknown, unknown, Error, Context> {
  return {
    before: (request) => {
      const result = safeParse(schema, request.event, { reportInput: true });
      if (!result.success) throw new InvalidInputError(describeIssues(result.error.issues));
      request.event = result.data;
      if (keys) logger.appendKeys(definedKeys(keys(result.data)));
    },
  };
}

function definedKeys(keys: LogKeys): Record<string, string> {
  return Object.fromEntries(Object.entries(keys).filter((entry): entry is [string, string] => entry[1] !== undefined));
}

/** `the input does not match: …` with one line per issue: where, and what was expected. */
export function describeIssues(issues: readonly $ZodIssue[]): string {
  const lines = issues.slice(0, MAX_ISSUES).map((issue) => `  ${pathOf(issue.path)}: ${expectation(issue)}`);
  if (issues.length > MAX_ISSUES) lines.push(`  … and ${issues.length - MAX_ISSUES} more`);
  return `the input does not match what this step expects:\n${lines.join('\n')}`;
}

function pathOf(path: readonly PropertyKey[]): string {
  let text = '$';
  for (const part of path) text += typeof part === 'number' ? `[${part}]` : `.${String(part)}`;
  return text;
}

/** What was expected, from the issue's own fields (zod/mini loads no message locale). */
function expectation(issue: $ZodIssue): string {
  switch (issue.code) {
    case 'invalid_type':
      return issue.input === undefined ? `missing; expected ${issue.expected}` : `expected ${issue.expected}`;
    case 'invalid_value':
      return `expected one of ${issue.values.map((v) => JSON.stringify(v)).join(', ')}`;
    case 'too_small':
      return `expected ${issue.origin === 'string' ? 'a length of ' : ''}at least ${String(issue.minimum)}`;
    case 'too_big':
      return `expected ${issue.origin === 'string' ? 'a length of ' : ''}at most ${String(issue.maximum)}`;
    case 'invalid_format':
      return `expected a ${issue.format}${issue.format === 'regex' && 'pattern' in issue ? ` matching ${String(issue.pattern)}` : ''}`;
    case 'unrecognized_keys':
      return `unexpected field(s) ${issue.keys.join(', ')}`;
    case 'invalid_union':
      return 'matches none of the allowed shapes';
    default:
      return issue.message;
  }
}
