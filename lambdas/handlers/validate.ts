import { GetObjectCommand } from '@aws-sdk/client-s3';
import { DescribeSecretCommand } from '@aws-sdk/client-secrets-manager';
import { classify, InvalidInputError } from '../aws/errors.ts';
import { s3 } from '../aws/s3.ts';
import { secretsManager } from '../aws/secrets-manager.ts';
import { optionalSetting } from '../runtime/environment.ts';
import { lambdaHandler } from '../runtime/handler.ts';
import { mapPool } from '../runtime/pool.ts';
import { resolveEndpoints, validateRepository } from '../spec/index.ts';
import { isNewer } from '../state/endpoint-state.ts';
import { isStatus } from '../state/json-store.ts';
import { keys } from '../state/keys.ts';
import { type ValidateInput, validateInput } from '../workflow/payloads.ts';
import { carryNotLive, type EnvironmentHead, type EnvironmentSeen, planPush } from '../workflow/plan.ts';
import { type PreflightReads, preflight } from '../workflow/preflight.ts';
import { type Snapshot, snapshotSource } from '../workflow/snapshot.ts';
import type { Plan, PlanDocument } from '../workflow/types.ts';
import { logger, stateStore } from './runtime.ts';

/** The issues carried in the workflow's payload; the full report is in S3. */
const ISSUES_IN_PAYLOAD = 20;
/** Release documents written at once: S3 takes thousands of PUTs per second per prefix. */
const WRITE_CONCURRENCY = 32;

/**
 * Validate: the same checks as `ballast validate`, then the plan: the endpoints whose effective
 * content differs from the environment's previous head. The only step that parses and validates
 * the repository: each planned endpoint's release goes to S3 (write-once), and the steps after
 * this one read just that document. Reads the snapshot and one head; writes only Ballast's own
 * records, so an invalid commit stops here having changed nothing live.
 */
export async function validate(input: ValidateInput): Promise<Plan> {
  const store = stateStore();
  const snapshot = await store.get<Snapshot>(input.snapshotKey);
  if (!snapshot) throw new InvalidInputError(`snapshot ${input.snapshotKey} does not exist`);
  // A retry deploys an older push again: only pushes move what the branch was seen at.
  if (!input.retry) await markSeen(input);
  const result = await validateRepository(snapshotSource(snapshot.value));
  const errors = result.issues.filter((i) => i.severity === 'error');
  if (!result.ok || !result.repository) {
    await store.putIfAbsent(keys.validation(input.push.commit, input.environment), { issues: result.issues });
    logger.warn('commit rejected', { errors: errors.length });
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
      items: [],
      counts: { changed: 0, unchanged: 0, deferred: 0 },
    };
  }
  const resolved = resolveEndpoints(result.repository, input.environment);
  const force = input.retry?.endpoint;
  if (force !== undefined && !resolved.some((e) => e.name === force)) {
    throw new InvalidInputError(`endpoint ${force} is not declared for ${input.environment} at ${input.push.commit}`);
  }
  const headKey = keys.head(input.environment);
  const head = await store.get<EnvironmentHead>(headKey);
  const plan = planPush(input.push, input.environment, resolved, head?.value, force);
  // What the repository alone cannot tell (a manifest in S3, the secrets), before anything is written.
  const checked = await preflight(plan.releases, awsReads(), {
    secretPrefix: optionalSetting('BALLAST_SECRET_PREFIX'),
  });
  if (checked.issues.length > 0) {
    await store.putIfAbsent(keys.validation(input.push.commit, input.environment), { issues: checked.issues });
    logger.warn('commit rejected by the remote checks', { errors: checked.issues.length });
    return {
      valid: false,
      issueCount: checked.issues.length,
      issues: checked.issues.slice(0, ISSUES_IN_PAYLOAD),
      items: [],
      counts: { changed: 0, unchanged: 0, deferred: 0 },
    };
  }
  await mapPool(checked.releases, WRITE_CONCURRENCY, (release) =>
    store.putIfAbsent(keys.release(input.push.commit, input.environment, input.execution, release.name), release),
  );
  // The plan is this execution's, write-once: a retried Validate (its first attempt's response
  // lost) finds it and answers with it, since by now the head it compared with may be its own.
  const planKey = keys.plan(input.push.commit, input.environment, input.execution);
  const stored =
    (await store.putIfAbsent(planKey, plan.document)) === 'exists'
      ? (await store.get<PlanDocument>(planKey))?.value
      : undefined;
  const document = stored ?? plan.document;
  if (plan.head) {
    const spec = result.repository.repository.spec;
    const next: EnvironmentHead = {
      ...plan.head,
      settings: {
        intervalMinutes: spec.reconcile.intervalMinutes,
        selfHeal: spec.reconcile.selfHeal,
        prune: spec.reconcile.prune,
        driftIgnore: spec.drift.ignore.map((r) => ({
          endpoint: r.endpoint,
          path: r.path,
          ...(r.reason ? { reason: r.reason } : {}),
        })),
      },
    };
    // Compare-and-swap from the head read above: of two racing pushes, the newer one's head stays;
    // the marks Record keeps in the head are carried over from whatever head is current then.
    await store.update<EnvironmentHead>(
      headKey,
      (current) =>
        !current || current.commit === next.commit || isNewer(next, current) ? carryNotLive(next, current) : undefined,
      undefined,
      head ?? null,
    );
  }
  logger.info('plan', {
    endpoints: document.endpoints.map((e) => e.name),
    unchanged: document.unchanged.length,
    deferred: document.deferred.length,
    removed: document.removed,
  });
  return {
    valid: true,
    items: document.endpoints.map((e) => e.name),
    planKey,
    counts: {
      changed: document.endpoints.length,
      unchanged: document.unchanged.length,
      deferred: document.deferred.length,
    },
  };
}

/**
 * Records that the deploy workflow saw this push (keys.seen), valid or not, newest push wins: the
 * reconciler deploys a branch head no execution saw (a lost event), and nothing it saw.
 */
async function markSeen(input: ValidateInput): Promise<void> {
  const { push } = input;
  const seen: EnvironmentSeen = {
    environment: input.environment,
    commit: push.commit,
    pushedAt: push.pushedAt,
    ...(push.previousCommit ? { previousCommit: push.previousCommit } : {}),
    source: push.source,
    repository: push.repository,
    branch: push.branch,
  };
  await stateStore().update<EnvironmentSeen>(keys.seen(input.environment), (current) =>
    !current || (current.commit !== seen.commit && isNewer(seen, current)) ? seen : undefined,
  );
}

/** The two reads the remote checks make, on the SDK clients of this function. */
function awsReads(): PreflightReads {
  return {
    readObject: async (bucket, key, maxBytes) => {
      try {
        const response = await s3().send(new GetObjectCommand({ Bucket: bucket, Key: key }));
        if ((response.ContentLength ?? 0) > maxBytes) {
          (response.Body as { destroy?: () => void } | undefined)?.destroy?.();
          return { status: 'too-large', sizeBytes: response.ContentLength ?? 0 };
        }
        return {
          status: 'found',
          body: await (response.Body as { transformToByteArray(): Promise<Uint8Array> }).transformToByteArray(),
        };
      } catch (error) {
        if (isStatus(error, 404) || (error instanceof Error && error.name === 'NoSuchKey'))
          return { status: 'missing' };
        if (isStatus(error, 403)) return { status: 'forbidden' };
        return classify(error, `reading s3://${bucket}/${key}`);
      }
    },
    describeSecret: async (secretId) => {
      try {
        const response = await secretsManager().send(new DescribeSecretCommand({ SecretId: secretId }));
        if (!response.ARN || !response.Name) return undefined;
        return { arn: response.ARN, name: response.Name, deleted: response.DeletedDate !== undefined };
      } catch (error) {
        if (error instanceof Error && error.name === 'ResourceNotFoundException') return undefined;
        return classify(error, `DescribeSecret ${secretId}`);
      }
    },
  };
}

export const handler = lambdaHandler(validateInput, validate, {
  keys: (input) => ({ commit: input.push.commit, environment: input.environment }),
});
