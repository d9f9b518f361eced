import { ApplicationAutoScalingClient, DescribeScalableTargetsCommand } from '@aws-sdk/client-application-auto-scaling';
import { tracer } from '../runtime/powertools.ts';
import { clientConfig, onResetClients } from './client-config.ts';
import { classify } from './errors.ts';

let client: ApplicationAutoScalingClient | undefined;
onResetClients(() => {
  client = undefined;
});

/**
 * The Application Auto Scaling client of this container: created on first use (a cold start that never calls
 * Application Auto Scaling does not pay for it), reused across invocations, and captured by the Tracer (a no-op
 * outside Lambda).
 */
export function applicationAutoScaling(): ApplicationAutoScalingClient {
  client ??= tracer.captureAWSv3Client(new ApplicationAutoScalingClient(clientConfig()));
  return client;
}

/** What `autoscaledVariants` needs of a client, so tests can hand it any. */
export type ScalableTargetsReader = Pick<ApplicationAutoScalingClient, 'send'>;

/** The dimension a SageMaker variant's instance count is scaled on. */
export const VARIANT_INSTANCE_COUNT = 'sagemaker:variant:DesiredInstanceCount';

/**
 * DescribeScalableTargets takes at most 50 ResourceIds per call ("Array Members: Maximum number of
 * 50 items", Application Auto Scaling API Reference, DescribeScalableTargets,
 * https://docs.aws.amazon.com/autoscaling/application/APIReference/API_DescribeScalableTargets.html).
 */
export const MAX_RESOURCE_IDS_PER_CALL = 50;

/**
 * A SageMaker variant's ResourceId: `endpoint/<EndpointName>/variant/<VariantName>` (API reference,
 * RegisterScalableTarget, ResourceId: "SageMaker endpoint variant - The resource type is variant and
 * the unique identifier is the resource ID. Example: endpoint/my-end-point/variant/KMeansClustering").
 */
export function variantResourceId(endpointName: string, variantName: string): string {
  return `endpoint/${endpointName}/variant/${variantName}`;
}

/**
 * Which of these variant ResourceIds (see `variantResourceId`) are registered with Application Auto
 * Scaling on their instance count: their count then belongs to a scaling policy and is not drift.
 * One DescribeScalableTargets call per 50 IDs, each followed through its NextToken pages. A transient
 * failure (throttling, a 5xx, a timeout) comes out as TransientError, for the workflow to retry.
 */
export async function autoscaledVariants(client: ScalableTargetsReader, resourceIds: string[]): Promise<Set<string>> {
  const wanted = [...new Set(resourceIds)];
  const registered = new Set<string>();
  for (let start = 0; start < wanted.length; start += MAX_RESOURCE_IDS_PER_CALL) {
    const chunk = wanted.slice(start, start + MAX_RESOURCE_IDS_PER_CALL);
    let token: string | undefined;
    do {
      const page = await describe(client, chunk, token);
      for (const target of page.ScalableTargets ?? []) {
        if (target.ResourceId !== undefined && chunk.includes(target.ResourceId)) registered.add(target.ResourceId);
      }
      token = page.NextToken;
    } while (token);
  }
  return registered;
}

async function describe(client: ScalableTargetsReader, resourceIds: string[], token: string | undefined) {
  try {
    return await client.send(
      new DescribeScalableTargetsCommand({
        ServiceNamespace: 'sagemaker',
        ScalableDimension: VARIANT_INSTANCE_COUNT,
        ResourceIds: resourceIds,
        ...(token ? { NextToken: token } : {}),
      }),
    );
  } catch (error) {
    return classify(error, 'DescribeScalableTargets');
  }
}
