import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { tracer } from '../runtime/powertools.ts';
import { clientConfig, onResetClients } from './client-config.ts';

let client: SecretsManagerClient | undefined;
onResetClients(() => {
  client = undefined;
});

/**
 * The Secrets Manager client of this container: created on first use (a cold start that never calls Secrets Manager does
 * not pay for it), reused across invocations, and captured by the Tracer (a no-op outside Lambda).
 */
export function secretsManager(): SecretsManagerClient {
  client ??= tracer.captureAWSv3Client(new SecretsManagerClient(clientConfig()));
  return client;
}
