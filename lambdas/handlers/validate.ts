import { InvalidInputError } from '../aws/errors.ts';
import { changedComponents, componentDigests, type VersionPointer } from '../registry/pointer.ts';
import { resolveEndpoints, validateRepository } from '../spec/index.ts';
import type { EndpointState } from '../state/endpoint-state.ts';
import { keys } from '../state/keys.ts';
import { type Snapshot, snapshotSource } from '../workflow/snapshot.ts';
import type { Plan, PlannedEndpoint, Push } from '../workflow/types.ts';
import { logger, stateStore } from './runtime.ts';

interface ValidateInput {
  readonly push: Push;
  readonly environment: string;
  readonly snapshotKey: string;
}

/** The issues carried in the workflow's payload; the full report is in S3. */
const ISSUES_IN_PAYLOAD = 20;

/**
 * Validate: the same checks as `ballast validate`, then the plan: the endpoints whose effective
 * spec differs from what is live. Reads only; an invalid commit stops here.
 */
export async function handler(input: ValidateInput): Promise<Plan> {
  const store = stateStore();
  const snapshot = await store.get<Snapshot>(input.snapshotKey);
  if (!snapshot) throw new InvalidInputError(`snapshot ${input.snapshotKey} does not exist`);
  const result = await validateRepository(snapshotSource(snapshot.value));
  const errors = result.issues.filter((i) => i.severity === 'error');
  if (!result.ok || !result.repository) {
    await store.putIfAbsent(keys.validation(input.push.commit, input.environment), { issues: result.issues });
    logger.warn('commit rejected', { commit: input.push.commit, errors: errors.length });
    return {
      valid: false,
      issueCount: errors.length,
      // The same wording as `ballast validate`: what is wrong, where, and what would be accepted.
      issues: errors.slice(0, ISSUES_IN_PAYLOAD).map(({ file, line, column, message, path, expected }) => ({
        file,
        line,
        column,
        message: `${message} (at ${path})${expected ? `; expected: ${expected}` : ''}`,
      })),
      endpoints: [],
      unchanged: [],
    };
  }
  const endpoints: PlannedEndpoint[] = [];
  const unchanged: string[] = [];
  const deferred: Array<{ name: string; reason: string }> = [];
  for (const resolved of resolveEndpoints(result.repository, input.environment)) {
    if (resolved.target.kind !== 'sagemaker') {
      deferred.push({
        name: resolved.name,
        reason: 'EKS targets are validated but not rolled out by this version of Ballast',
      });
      continue;
    }
    const state = (await store.get<EndpointState>(keys.state(input.environment, resolved.name)))?.value;
    const inFlight = state?.lease !== undefined;
    if (state?.live?.digest === resolved.digest && !inFlight) {
      unchanged.push(resolved.name);
      continue;
    }
    const livePointer = state?.live
      ? (await store.get<VersionPointer>(keys.pointer(input.environment, resolved.name, state.live.commit)))?.value
      : undefined;
    endpoints.push({
      name: resolved.name,
      target: resolved.target.kind,
      digest: resolved.digest,
      changes: changedComponents(livePointer?.components, componentDigests(resolved)),
    });
  }
  logger.info('plan', { commit: input.push.commit, endpoints: endpoints.map((e) => e.name), unchanged, deferred });
  return { valid: true, endpoints, unchanged, deferred };
}
