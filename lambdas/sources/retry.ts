/**
 * The execution input `ballast retry` starts the deploy workflow with: not a push, a deliberate
 * request to deploy an endpoint's desired commit again and lift the quarantine of its content.
 * It crosses a trust boundary (anyone with states:StartExecution can write it), so every field is
 * checked; what it may do is bounded by the endpoint's own state (only the desired commit, which a
 * push to a watched branch put there, can be deployed).
 */
import { InvalidInputError } from '../aws/errors.ts';
import { isObject, optionalString, requireInstant, requireString } from './common.ts';

export interface RetryRequest {
  readonly source: 'ballast';
  readonly action: 'retry';
  readonly environment: string;
  readonly endpoint: string;
  /** Who asked (the caller's IAM identity, or the local user), for the ledger. */
  readonly requestedBy: string;
  readonly requestedAt: string;
  /** Why, in the asker's words (recorded in the ledger). */
  readonly reason?: string;
}

const NAME = /^[A-Za-z0-9][A-Za-z0-9-]{0,62}$/;

export function isRetryRequest(input: unknown): boolean {
  return isObject(input) && input.source === 'ballast' && input.action === 'retry';
}

export function parseRetryRequest(input: unknown): RetryRequest {
  return { source: 'ballast', action: 'retry', ...parseEndpointRequest(input, 'retry request') };
}

/**
 * The fields every request about one endpoint carries (a retry, a heal), checked: the names as
 * Ballast's state keys take them, who asked (for the ledger, cut at 256 characters), when (an
 * instant, normalised) and why (cut at 1,024 characters).
 */
export function parseEndpointRequest(
  input: unknown,
  what: string,
): Pick<RetryRequest, 'environment' | 'endpoint' | 'requestedBy' | 'requestedAt' | 'reason'> {
  if (!isObject(input)) throw new InvalidInputError(`${what}: expected an object`);
  const environment = requireString(input, 'environment', what);
  const endpoint = requireString(input, 'endpoint', what);
  for (const [field, value] of [
    ['environment', environment],
    ['endpoint', endpoint],
  ] as const) {
    if (!NAME.test(value)) throw new InvalidInputError(`${what}: '${value}' is not a valid ${field} name`);
  }
  const reason = optionalString(input, 'reason', what);
  return {
    environment,
    endpoint,
    requestedBy: requireString(input, 'requestedBy', what).slice(0, 256),
    requestedAt: requireInstant(requireString(input, 'requestedAt', what), `${what}.requestedAt`),
    ...(reason ? { reason: reason.slice(0, 1024) } : {}),
  };
}

/** The execution name of a retry: unique per request, valid for Step Functions (80 of [A-Za-z0-9_-]). */
export function retryExecutionName(request: Pick<RetryRequest, 'environment' | 'endpoint' | 'requestedAt'>): string {
  const stamp = request.requestedAt.replace(/[^0-9]/g, '').slice(0, 17);
  const subject = `retry-${request.environment}-${request.endpoint}`.slice(0, 60).replace(/[^A-Za-z0-9_-]/g, '-');
  return `${subject}-${stamp}`;
}
