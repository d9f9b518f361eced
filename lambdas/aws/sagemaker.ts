import { SageMakerClient } from '@aws-sdk/client-sagemaker';
import { tracer } from '../runtime/powertools.ts';
import { clientConfig, onResetClients } from './client-config.ts';

let client: SageMakerClient | undefined;
onResetClients(() => {
  client = undefined;
});

/**
 * The SageMaker client of this container: created on first use (a cold start that never calls SageMaker does
 * not pay for it), reused across invocations, and captured by the Tracer (a no-op outside Lambda).
 */
export function sagemaker(): SageMakerClient {
  client ??= tracer.captureAWSv3Client(new SageMakerClient(clientConfig()));
  return client;
}
