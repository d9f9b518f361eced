import { SFNClient } from '@aws-sdk/client-sfn';
import { tracer } from '../runtime/powertools.ts';
import { clientConfig, onResetClients } from './client-config.ts';

let client: SFNClient | undefined;
onResetClients(() => {
  client = undefined;
});

/**
 * The Step Functions client of this container: created on first use (a cold start that never calls Step Functions does
 * not pay for it), reused across invocations, and captured by the Tracer (a no-op outside Lambda).
 */
export function sfn(): SFNClient {
  client ??= tracer.captureAWSv3Client(new SFNClient(clientConfig()));
  return client;
}
