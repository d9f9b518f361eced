import { DescribeEndpointCommand } from '@aws-sdk/client-sagemaker';
import { classify } from '../aws/errors.ts';
import { sagemaker } from '../aws/sagemaker.ts';
import { lambdaHandler } from '../runtime/handler.ts';
import type { EndpointState } from '../state/endpoint-state.ts';
import { keys } from '../state/keys.ts';
import { finishRollback } from '../state/rollback.ts';
import { causeMessage } from '../workflow/cause.ts';
import { type RestoreInput, restoreInput } from '../workflow/rollback-payloads.ts';
import { logger, nowIso, stateStore } from './runtime.ts';

/**
 * Restore: the rollback's outcome in the endpoint's state (compare-and-swap; lambdas/state/
 * rollback.ts finishRollback): the previous version live again, or, when the rollback failed, the
 * bad version still live and still quarantined; the lease is released either way. The environment
 * head keeps the bad content: a commit that puts the files back (the write-back, or a human's
 * revert) is then planned, and Lease finds its content live (`already-live`), so it becomes the
 * endpoint's desired commit without a rollout. Idempotent: a retry finds the lease released and
 * changes nothing.
 */
export async function restore(
  input: RestoreInput,
): Promise<{ outcome: 'restored' | 'failed' | 'skipped'; reason: string }> {
  if (!input.applied?.started && !input.error) {
    return { outcome: 'skipped', reason: input.applied?.reason ?? 'the rollback did not start' };
  }
  const verification = input.applied?.rollout?.verification;
  let outcome: 'restored' | 'failed' = !input.error && verification?.outcome === 'deployed' ? 'restored' : 'failed';
  const to = input.decision.to;
  if (outcome === 'failed' && to) {
    // A step that failed after its retries (CheckRollback, or Apply timing out after SageMaker took
    // the update) says nothing about the endpoint: what it runs decides what the state records.
    const endpoint = await sagemaker()
      .send(new DescribeEndpointCommand({ EndpointName: input.endpointName }))
      .catch((error: unknown) => classify(error, `DescribeEndpoint ${input.endpointName}`));
    if (endpoint.EndpointStatus === 'InService' && endpoint.EndpointConfigName === to.endpointConfigName) {
      outcome = 'restored';
    }
  }
  const reason =
    outcome === 'restored'
      ? `${to?.endpointConfigName ?? 'the previous configuration'} is live again`
      : input.error
        ? `${input.error.Error}: ${causeMessage(input.error.Cause)}`
        : `the rollback did not go live: ${verification?.reason ?? verification?.outcome ?? 'not verified'}`;
  const store = stateStore();
  const now = nowIso();
  await store.update<EndpointState>(keys.state(input.environment, input.endpoint), (current) =>
    current ? finishRollback(current, input.execution, outcome, now) : undefined,
  );
  logger.info('rollback finished', { outcome, reason });
  return { outcome, reason };
}

export const handler = lambdaHandler(restoreInput, restore, {
  keys: (input) => ({ commit: input.push.commit, environment: input.environment, endpoint: input.endpoint }),
});
