/**
 * A Push that crossed a trust boundary: the GitHub webhook's execution input and the reconciler's
 * missed push carry one, and anyone with states:StartExecution could have written it.
 */
import { InvalidInputError } from '../aws/errors.ts';
import type { Push } from '../workflow/types.ts';
import { isObject, optionalString, requireCommitId, requireInstant, requireString } from './common.ts';
import { parseRepository } from './github.ts';

const CODECOMMIT_REPOSITORY = /^[\w.-]{1,100}$/;

/**
 * Checks a Push that crossed a trust boundary (an execution input anyone with states:StartExecution
 * could write) and returns it normalised. InvalidInputError names the first bad field.
 */
export function parsePush(value: unknown): Push {
  const what = 'push';
  if (!isObject(value)) throw new InvalidInputError(`${what}: expected an object`);
  const source = requireString(value, 'source', what);
  if (source !== 'codecommit' && source !== 'github')
    throw new InvalidInputError(`${what}: unknown source '${source}'`);
  const repository = requireString(value, 'repository', what);
  if (source === 'github') parseRepository(repository);
  else if (!CODECOMMIT_REPOSITORY.test(repository)) {
    throw new InvalidInputError(`${what}: '${repository}' is not a CodeCommit repository name`);
  }
  const previous = optionalString(value, 'previousCommit', what);
  return {
    source,
    repository,
    branch: requireString(value, 'branch', what),
    commit: requireCommitId(requireString(value, 'commit', what), `${what}.commit`),
    ...(previous === undefined ? {} : { previousCommit: requireCommitId(previous, `${what}.previousCommit`) }),
    pushedBy: requireString(value, 'pushedBy', what),
    pushedAt: requireInstant(requireString(value, 'pushedAt', what), `${what}.pushedAt`),
    deliveryId: requireString(value, 'deliveryId', what),
  };
}
