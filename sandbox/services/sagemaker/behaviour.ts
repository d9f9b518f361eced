import { invalid } from './validation.ts';

/**
 * How the sandbox's stand-in for a model container answers InvokeEndpoint, set like a failing health
 * check (`SANDBOX_FAIL=startup`): through environment variables in the model's container definition,
 * which reach a real container as plain variables and mean nothing to AWS. They let a rehearsal make a
 * bad model fail requests, so that CloudWatch alarms fire from SageMaker's own metrics.
 *
 *   SANDBOX_ERROR_RATE=0.2          the share of requests (0 to 1) the model answers with a 500, which
 *                                   the caller sees as a ModelError and CloudWatch as Invocation5XXErrors
 *   SANDBOX_LATENCY_MS=1500         how long the model takes per request (ModelLatency), default 20
 *   SANDBOX_ERRORS_ABOVE_RPM=300    errors only while this fleet's variant receives more than 300
 *                                   requests a minute (its last 60 seconds): a model that passes a canary
 *                                   on part of the traffic and fails under full load. Without
 *                                   SANDBOX_ERROR_RATE every request fails while above the rate.
 *
 * Which requests fail is deterministic, not random: a rate of 0.25 fails every fourth request.
 */
export const ERROR_RATE_ENV = 'SANDBOX_ERROR_RATE';
export const LATENCY_ENV = 'SANDBOX_LATENCY_MS';
export const ERRORS_ABOVE_RPM_ENV = 'SANDBOX_ERRORS_ABOVE_RPM';

/** The latency of a model that does not set SANDBOX_LATENCY_MS. */
export const DEFAULT_LATENCY_MS = 20;

/**
 * "A customer's model containers must respond to requests within 60 seconds" (API reference,
 * InvokeEndpoint): a longer latency would be a timeout, which the sandbox does not emulate.
 */
export const MAX_LATENCY_MS = 60_000;

export interface ModelBehaviour {
  /** Share of the requests answered with a 5XX (0..1), while `errorsAboveRpm` (if set) is exceeded. */
  readonly errorRate: number;
  readonly latencyMs: number;
  /** Errors only while the fleet's variant received more than this many requests in the last minute. */
  readonly errorsAboveRpm?: number;
}

export const HEALTHY: ModelBehaviour = { errorRate: 0, latencyMs: DEFAULT_LATENCY_MS };

const DECIMAL = /^(\d+(\.\d+)?|\.\d+)$/;
const INTEGER = /^\d+$/;

/**
 * Checks the behaviour variables of one container (after the shape checks, so Environment is a
 * string map), throwing a ValidationException that names the variable, the container and what would
 * be right. The wording is the sandbox's: the variables are its own.
 */
export function checkBehaviour(container: Record<string, unknown>, containerName: string): void {
  const env = container.Environment;
  if (typeof env !== 'object' || env === null) return;
  const vars = env as Record<string, unknown>;
  const problem = (name: string, expected: string): never => {
    throw invalid(`${name}=${JSON.stringify(vars[name])} in the Environment of ${containerName} is not ${expected}.`);
  };
  const rate = vars[ERROR_RATE_ENV];
  if (rate !== undefined && !(typeof rate === 'string' && DECIMAL.test(rate) && Number(rate) <= 1)) {
    problem(ERROR_RATE_ENV, 'a number from 0 to 1 (the share of requests the model answers with a 5XX error)');
  }
  const latency = vars[LATENCY_ENV];
  if (
    latency !== undefined &&
    !(typeof latency === 'string' && INTEGER.test(latency) && Number(latency) <= MAX_LATENCY_MS)
  ) {
    problem(LATENCY_ENV, `a whole number of milliseconds from 0 to ${MAX_LATENCY_MS} (the model's latency)`);
  }
  const above = vars[ERRORS_ABOVE_RPM_ENV];
  if (
    above !== undefined &&
    !(typeof above === 'string' && INTEGER.test(above) && Number.isSafeInteger(Number(above)))
  ) {
    problem(ERRORS_ABOVE_RPM_ENV, 'a whole number of requests per minute (errors only above that load)');
  }
}

/**
 * The behaviour of a fleet variant from its containers' environments (already checked): for each
 * variable, the first container that sets it.
 */
export function behaviourOf(environments: ReadonlyArray<Record<string, unknown> | undefined>): ModelBehaviour {
  const first = (name: string): string | undefined => {
    for (const env of environments) {
      const value = env?.[name];
      if (typeof value === 'string') return value;
    }
    return undefined;
  };
  const rate = first(ERROR_RATE_ENV);
  const latency = first(LATENCY_ENV);
  const above = first(ERRORS_ABOVE_RPM_ENV);
  if (rate === undefined && latency === undefined && above === undefined) return HEALTHY;
  return {
    errorRate: rate !== undefined ? Number(rate) : above !== undefined ? 1 : 0,
    latencyMs: latency !== undefined ? Number(latency) : DEFAULT_LATENCY_MS,
    ...(above !== undefined ? { errorsAboveRpm: Number(above) } : {}),
  };
}
