import { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import { tracer } from '../runtime/powertools.ts';
import { clientConfig, onResetClients } from './client-config.ts';

let client: CloudWatchClient | undefined;
onResetClients(() => {
  client = undefined;
});

/**
 * The CloudWatch client of this container: created on first use (a cold start that never calls CloudWatch does
 * not pay for it), reused across invocations, and captured by the Tracer (a no-op outside Lambda).
 */
export function cloudwatch(): CloudWatchClient {
  client ??= tracer.captureAWSv3Client(new CloudWatchClient(clientConfig()));
  return client;
}
