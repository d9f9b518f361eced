/**
 * A rollback on SageMaker: the endpoint goes back to the EndpointConfig of its previous version,
 * which still exists (cleanup keeps it, lambdas/state/outcome.ts).
 *
 * - All at once: the alarm says the live version is hurting now, so nothing is gained by shifting
 *   traffic step by step to a version that was verified before, and the old fleet is let go at
 *   once (TerminationWaitInSeconds 0).
 * - `RetainAllVariantProperties: true` keeps the variant properties the endpoint has now, the
 *   instance count that Application Auto Scaling set above all, instead of the counts in the old
 *   configuration ("RetainAllVariantProperties: ... such as the instance count or the variant
 *   weight", SageMaker API Reference, UpdateEndpoint:
 *   https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_UpdateEndpoint.html).
 * - No AutoRollbackConfiguration: the alarm that asked for the rollback is in ALARM, and would
 *   roll the rollback itself back the moment its traffic shifted.
 */
import type { DeploymentConfig, UpdateEndpointCommandInput } from '@aws-sdk/client-sagemaker';
import type { Rollout } from '../workflow/types.ts';
import { nextCheckSeconds } from './sagemaker.ts';

/** SageMaker's minimum for MaximumExecutionTimeoutInSeconds is 600; a new fleet takes ~8 minutes. */
export const ROLLBACK_TIMEOUT_SECONDS = 1800;

export const ROLLBACK_ROLLOUT: Rollout['plan']['rollout'] = {
  strategy: 'allAtOnce',
  bakeSeconds: 0,
  timeoutSeconds: ROLLBACK_TIMEOUT_SECONDS,
};

export function rollbackDeploymentConfig(): DeploymentConfig {
  return {
    BlueGreenUpdatePolicy: {
      TrafficRoutingConfiguration: { Type: 'ALL_AT_ONCE', WaitIntervalInSeconds: 0 },
      TerminationWaitInSeconds: 0,
      MaximumExecutionTimeoutInSeconds: ROLLBACK_TIMEOUT_SECONDS,
    },
  };
}

export function rollbackUpdate(endpointName: string, endpointConfigName: string): UpdateEndpointCommandInput {
  return {
    EndpointName: endpointName,
    EndpointConfigName: endpointConfigName,
    DeploymentConfig: rollbackDeploymentConfig(),
    RetainAllVariantProperties: true,
  };
}

/** The rollback as CheckRollout follows it (the same reading verifies it). */
export function rollbackRollout(
  endpointName: string,
  to: string,
  from: string,
  startedAt: string,
  status: Rollout['status'],
): Rollout {
  return {
    status,
    operation: 'update',
    endpointName,
    endpointConfigName: to,
    previousEndpointConfigName: from,
    startedAt,
    plan: { rollout: ROLLBACK_ROLLOUT, alarms: [] },
    nextCheckSeconds: status === 'live' ? 0 : nextCheckSeconds(ROLLBACK_ROLLOUT, 0, 0, 'update'),
    checks: 0,
  };
}
