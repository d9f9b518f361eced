import { DescribeEndpointCommand, UpdateEndpointCommand } from '@aws-sdk/client-sagemaker';
import { classify, EndpointBusyError, InvalidInputError } from '../aws/errors.ts';
import { sagemaker } from '../aws/sagemaker.ts';
import { lambdaHandler } from '../runtime/handler.ts';
import type { EndpointState } from '../state/endpoint-state.ts';
import { keys } from '../state/keys.ts';
import { beginRollback, type RollbackDecision } from '../state/rollback.ts';
import { decideDeploy } from '../targets/sagemaker.ts';
import { rollbackRollout, rollbackUpdate } from '../targets/sagemaker-rollback.ts';
import { type ApplyInput, applyInput } from '../workflow/rollback-payloads.ts';
import type { Rollout } from '../workflow/types.ts';
import { logger, nowIso, stateStore } from './runtime.ts';

/**
 * Apply: take the endpoint (its lease, by compare-and-swap), quarantine the live content, and start
 * the rollback's UpdateEndpoint to the previous version's configuration (lambdas/targets/
 * sagemaker-rollback.ts). Idempotent: a retry finds the lease its first attempt took, and an update
 * already rolling out (or done) to that configuration is followed, not started again. When the
 * endpoint moved since Triage decided (a push took it), nothing is touched and the answer says why.
 */
export async function apply(input: ApplyInput): Promise<{ started: boolean; reason?: string; rollout?: Rollout }> {
  const { decision } = input;
  if (decision.action !== 'act' || !decision.from || !decision.to) {
    throw new InvalidInputError(`Apply runs only for an 'act' decision (got ${decision.action})`);
  }
  const act: Extract<RollbackDecision, { action: 'act' }> = {
    action: 'act',
    from: decision.from,
    to: decision.to,
    reason: decision.reason,
  };
  const store = stateStore();
  const now = nowIso();
  let taken: EndpointState | undefined;
  await store.update<EndpointState>(keys.state(input.environment, input.endpoint), (current) => {
    taken = current ? beginRollback(current, input.execution, act, input.trigger, now) : undefined;
    return taken !== current ? taken : undefined;
  });
  if (!taken) {
    const reason = 'the endpoint moved since the alarm was triaged (a rollout took it, or another version is live)';
    logger.info('rollback not started', { reason });
    return { started: false, reason };
  }
  const startedAt = taken.rollback?.startedAt ?? now;
  const to = act.to.endpointConfigName;
  const endpoint = await sagemaker()
    .send(new DescribeEndpointCommand({ EndpointName: input.endpointName }))
    .catch((error: unknown) => {
      if (error instanceof Error && error.name === 'ValidationException') return undefined;
      return classify(error, `DescribeEndpoint ${input.endpointName}`);
    });
  const action = decideDeploy(endpoint, to);
  const rollout = (status: Rollout['status']) =>
    rollbackRollout(input.endpointName, to, act.from.endpointConfigName, startedAt, status);
  switch (action.action) {
    case 'live':
      return { started: true, rollout: rollout('live') };
    case 'follow':
      return { started: true, rollout: rollout('started') };
    case 'update':
      await sagemaker()
        .send(new UpdateEndpointCommand(rollbackUpdate(input.endpointName, to)))
        .catch((error: unknown) => classify(error, `UpdateEndpoint ${input.endpointName} -> ${to}`));
      logger.info('rollback started', { endpointConfigName: to, from: act.from.endpointConfigName });
      return { started: true, rollout: rollout('started') };
    case 'wait':
      // Not ours (we hold the lease, so no Ballast rollout runs): someone's UpdateEndpoint. Retried
      // every minute or so for about half an hour (the state's EndpointBusyError policy); past it,
      // the rollback fails and says so.
      throw new EndpointBusyError(`${input.endpointName} is ${action.status}; the rollback waits for it`);
    default:
      throw new InvalidInputError(
        `${input.endpointName} cannot be rolled back: ${endpoint ? `it is ${endpoint.EndpointStatus}` : 'it does not exist'}`,
      );
  }
}

export const handler = lambdaHandler(applyInput, apply, {
  keys: (input) => ({ commit: input.push.commit, environment: input.environment, endpoint: input.endpoint }),
});
