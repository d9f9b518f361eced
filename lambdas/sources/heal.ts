/**
 * The execution input the reconciler starts the deploy workflow with when a live endpoint drifted
 * from its desired content: deploy the endpoint's desired commit again, as `ballast retry` does,
 * but never against the endpoint's own rules. A heal lifts no quarantine, takes no lease another
 * execution holds, and deploys only the content the reconciler compared with (`digest`): when a push
 * has moved the endpoint on since, Resolve answers the heal as ignored. It crosses a trust boundary
 * (anyone with states:StartExecution can write it), so every field is checked.
 */
import { InvalidInputError } from '../aws/errors.ts';
import { executionName, isObject, requireString } from './common.ts';
import { parseEndpointRequest, type RetryRequest } from './retry.ts';

export interface HealRequest extends Omit<RetryRequest, 'action' | 'reason'> {
  readonly action: 'heal';
  /** What drifted, in the reconciler's words (recorded in the ledger). */
  readonly reason: string;
  /**
   * The drift report's JSON pointers into the endpoint's effective spec (`/target/sagemaker/instanceCount`,
   * `/tags/ballast:managed`, ...): what Deploy heals in place when the endpoint runs the release's
   * configuration already.
   */
  readonly paths: readonly string[];
  /** The endpoint's desired content (its digest) the reconciler compared the live endpoint with. */
  readonly digest: string;
}

/** At most this many pointers travel with a heal (they are carried by every state of the execution). */
export const MAX_HEAL_PATHS = 50;
export const MAX_HEAL_PATH_LENGTH = 512;
/** A JSON pointer (RFC 6901) with at least one non-empty reference token. */
export const JSON_POINTER = /^(\/([^/~]|~[01])+)+$/;
const DIGEST = /^[0-9a-f]{64}$/;

export function isHealRequest(input: unknown): boolean {
  return isObject(input) && input.source === 'ballast' && input.action === 'heal';
}

export function parseHealRequest(input: unknown): HealRequest {
  const what = 'heal request';
  const base = parseEndpointRequest(input, what);
  if (!isObject(input)) throw new InvalidInputError(`${what}: expected an object`);
  if (!base.reason) throw new InvalidInputError(`${what}: 'reason' must be a non-empty string`);
  const digest = requireString(input, 'digest', what);
  if (!DIGEST.test(digest)) throw new InvalidInputError(`${what}: 'digest' must be a content digest (64 hex digits)`);
  return {
    source: 'ballast',
    action: 'heal',
    ...base,
    reason: base.reason,
    paths: parsePaths(input.paths, what),
    digest,
  };
}

function parsePaths(value: unknown, what: string): string[] {
  if (!Array.isArray(value) || value.length === 0 || value.length > MAX_HEAL_PATHS) {
    throw new InvalidInputError(`${what}: 'paths' must be a list of 1 to ${MAX_HEAL_PATHS} JSON pointers`);
  }
  const paths = value.map((path, index) => {
    if (typeof path !== 'string' || path.length > MAX_HEAL_PATH_LENGTH || !JSON_POINTER.test(path)) {
      throw new InvalidInputError(
        `${what}: paths[${index}] must be a JSON pointer such as /target/sagemaker/instanceCount, at most ${MAX_HEAL_PATH_LENGTH} characters`,
      );
    }
    return path;
  });
  return [...new Set(paths)];
}

/**
 * The execution name of a heal: `heal-<environment>-<endpoint>-<digest12>-<attempt>`, the same for
 * the same attempt at the same content, so that a reconcile run that starts it twice starts one
 * execution (StartExecution answers the running one, or ExecutionAlreadyExists once it closed);
 * the reconciler counts `attempt` up for the next heal of the same drift.
 */
export function healExecutionName(
  request: Pick<HealRequest, 'environment' | 'endpoint' | 'digest'>,
  attempt: number,
): string {
  if (!Number.isInteger(attempt) || attempt < 1) {
    throw new InvalidInputError(`a heal's attempt is a whole number from 1, not ${attempt}`);
  }
  return executionName('heal', request.environment, request.endpoint, request.digest.slice(0, 12), String(attempt));
}
