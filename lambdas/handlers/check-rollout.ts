import { DescribeEndpointCommand } from '@aws-sdk/client-sagemaker';
import { clients } from '../aws/clients.ts';
import { classify } from '../aws/errors.ts';
import { checkBudgetSeconds, nextCheckSeconds, readEndpoint } from '../targets/sagemaker.ts';
import type { EndpointWork, Rollout, RolloutCheck } from '../workflow/types.ts';
import { logger, nowIso } from './runtime.ts';

interface CheckInput extends EndpointWork {
  readonly rollout: Rollout;
}

/**
 * CheckRollout: one DescribeEndpoint per wake-up. Settled when SageMaker is done (InService or
 * Failed) or when the rollout has run past its own timeout; otherwise says how long to sleep next.
 * Read-only (one DescribeEndpoint; the rollout comes with the input), so retries are harmless.
 */
export async function handler(input: CheckInput): Promise<RolloutCheck & { trafficToNew?: number; phase?: string }> {
  const endpoint = await clients
    .sagemaker()
    .send(new DescribeEndpointCommand({ EndpointName: input.rollout.endpointName }))
    .catch((error: unknown) => classify(error, `DescribeEndpoint ${input.rollout.endpointName}`));
  const reading = readEndpoint(endpoint, input.rollout.endpointConfigName);
  const elapsed = (Date.parse(nowIso()) - Date.parse(input.rollout.startedAt)) / 1000;
  const checks = input.rollout.checks + 1;
  if (reading.settled || elapsed > checkBudgetSeconds(input.rollout.plan.rollout)) {
    logger.info('rollout settled', { endpoint: input.rollout.endpointName, status: endpoint.EndpointStatus, elapsed });
    return { ...input.rollout, checks, settled: true, nextCheckSeconds: 0 };
  }
  return {
    ...input.rollout,
    checks,
    settled: false,
    phase: reading.phase,
    ...(reading.trafficToNew !== undefined ? { trafficToNew: reading.trafficToNew } : {}),
    nextCheckSeconds: nextCheckSeconds(input.rollout.plan.rollout, elapsed, checks, input.rollout.operation),
  };
}
