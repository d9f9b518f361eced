/**
 * Named errors the workflows' Retry and Catch blocks match on (Step Functions matches the error
 * name a Lambda throws). Keep the names stable: they appear in stepfunctions/*.asl.json.
 */

/** Worth retrying later: throttling, a 5xx, a timeout, or a resource that is briefly busy. */
export class TransientError extends Error {
  override readonly name = 'TransientError';
}

/** The input is wrong and retrying cannot help (bad event, bad repository content). */
export class InvalidInputError extends Error {
  override readonly name = 'InvalidInputError';
}

/** An artifact's bytes do not match the sha256 the repository declares. */
export class ArtifactIntegrityError extends Error {
  override readonly name = 'ArtifactIntegrityError';
}

/** The endpoint's lease belongs to a newer push; this execution must not touch the endpoint. */
export class LeaseLostError extends Error {
  override readonly name = 'LeaseLostError';
}

/**
 * The endpoint is busy with an update that is not ours (a rollback waits for it to end): retried
 * for minutes, since an update takes minutes, where TransientError's retries take about one.
 */
export class EndpointBusyError extends Error {
  override readonly name = 'EndpointBusyError';
}

/** HTTP statuses and SDK error names that mean "try again later". */
const TRANSIENT_NAMES = new Set([
  'ThrottlingException',
  'Throttling',
  'ThrottledException',
  'TooManyRequestsException',
  'RequestLimitExceeded',
  'SlowDown',
  'ServiceUnavailable',
  'InternalFailure',
  'InternalError',
  'InternalServerError',
  'TimeoutError',
  'RequestTimeout',
  'RequestTimeoutException',
  'ECONNRESET',
  'ECONNREFUSED',
  'ETIMEDOUT',
  'EPIPE',
]);

/** True for AWS SDK errors that are worth another try once the SDK's own retries are spent. */
export function isTransient(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  const meta = (error as { $metadata?: { httpStatusCode?: number }; $retryable?: unknown; code?: string }).$metadata;
  const status = meta?.httpStatusCode ?? 0;
  return (
    status >= 500 ||
    status === 429 ||
    TRANSIENT_NAMES.has(error.name) ||
    TRANSIENT_NAMES.has((error as { code?: string }).code ?? '') ||
    (error as { $retryable?: unknown }).$retryable !== undefined
  );
}

/** Rethrows transient SDK failures as {@link TransientError} so the workflow retries the whole step. */
export function classify(error: unknown, what: string): never {
  if (isTransient(error)) {
    throw new TransientError(`${what}: ${error instanceof Error ? `${error.name}: ${error.message}` : String(error)}`);
  }
  throw error;
}
