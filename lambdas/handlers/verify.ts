import { DescribeEndpointCommand } from '@aws-sdk/client-sagemaker';
import { clients } from '../aws/clients.ts';
import { classify } from '../aws/errors.ts';
import { readEndpoint } from '../targets/sagemaker.ts';
import type { EndpointWork, Rollout, Verification } from '../workflow/types.ts';
import { logger } from './runtime.ts';

interface VerifyInput extends EndpointWork {
  readonly rollout: Rollout;
}

/**
 * Verify: does the live endpoint really run this commit? SageMaker's auto-rollback leaves the
 * endpoint InService on the old configuration without a failure status, so the configuration name
 * is what decides; a rollout that has not settled by now has timed out.
 */
export async function handler(input: VerifyInput): Promise<Verification> {
  const endpoint = await clients
    .sagemaker()
    .send(new DescribeEndpointCommand({ EndpointName: input.rollout.endpointName }))
    .catch((error: unknown) => classify(error, `DescribeEndpoint ${input.rollout.endpointName}`));
  const reading = readEndpoint(endpoint, input.rollout.endpointConfigName);
  const verification: Verification = reading.settled
    ? {
        outcome: reading.outcome,
        ...(reading.reason ? { reason: reading.reason } : {}),
        ...(reading.liveEndpointConfigName ? { liveEndpointConfigName: reading.liveEndpointConfigName } : {}),
      }
    : {
        outcome: 'failed',
        reason: `the rollout did not settle in time (endpoint still ${reading.phase})`,
        ...(endpoint.EndpointConfigName ? { liveEndpointConfigName: endpoint.EndpointConfigName } : {}),
      };
  logger.info('verified', { endpoint: input.rollout.endpointName, ...verification });
  return verification;
}
