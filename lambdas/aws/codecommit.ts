import { CodeCommitClient } from '@aws-sdk/client-codecommit';
import { tracer } from '../runtime/powertools.ts';
import { clientConfig, onResetClients } from './client-config.ts';

let client: CodeCommitClient | undefined;
onResetClients(() => {
  client = undefined;
});

/**
 * The CodeCommit client of this container: created on first use (a cold start that never calls CodeCommit does
 * not pay for it), reused across invocations, and captured by the Tracer (a no-op outside Lambda).
 */
export function codecommit(): CodeCommitClient {
  client ??= tracer.captureAWSv3Client(new CodeCommitClient(clientConfig()));
  return client;
}
