import { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import { CodeCommitClient } from '@aws-sdk/client-codecommit';
import { S3Client } from '@aws-sdk/client-s3';
import { SageMakerClient } from '@aws-sdk/client-sagemaker';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { SFNClient } from '@aws-sdk/client-sfn';
import { NodeHttpHandler } from '@smithy/node-http-handler';

/**
 * Shared SDK client settings. Endpoints come from the SDK's standard configuration
 * (`AWS_ENDPOINT_URL`, `AWS_ENDPOINT_URL_<SERVICE>`), so the same handler code talks to AWS, the
 * Ballast sandbox, moto or LocalStack; there is no "local mode" here.
 *
 * Every call has a connection and a request timeout, and the SDK's adaptive retry strategy
 * (exponential backoff with jitter, client-side rate limiting on throttling). Step Functions adds a
 * second, slower layer of retries for the `TransientError` a handler raises when the SDK gives up.
 */
export function clientConfig(options: { requestTimeoutMs?: number; maxAttempts?: number } = {}) {
  return {
    maxAttempts: options.maxAttempts ?? 5,
    retryMode: 'adaptive' as const,
    requestHandler: new NodeHttpHandler({
      connectionTimeout: 3_000,
      requestTimeout: options.requestTimeoutMs ?? 30_000,
    }),
  };
}

// One client per service per module instance: created lazily (a handler that never talks to
// SageMaker does not pay for its client at cold start) and reused across invocations.
let s3: S3Client | undefined;
let sagemaker: SageMakerClient | undefined;
let cloudwatch: CloudWatchClient | undefined;
let codecommit: CodeCommitClient | undefined;
let sfn: SFNClient | undefined;
let secrets: SecretsManagerClient | undefined;

export const clients = {
  // Artifact copies and sha256 streaming move large objects: give them a longer request timeout.
  s3: () => (s3 ??= new S3Client({ ...clientConfig({ requestTimeoutMs: 120_000 }) })),
  sagemaker: () => (sagemaker ??= new SageMakerClient(clientConfig())),
  cloudwatch: () => (cloudwatch ??= new CloudWatchClient(clientConfig())),
  codecommit: () => (codecommit ??= new CodeCommitClient(clientConfig())),
  sfn: () => (sfn ??= new SFNClient(clientConfig())),
  secrets: () => (secrets ??= new SecretsManagerClient(clientConfig())),
};

/** Forgets cached clients; tests that point the environment at a new sandbox call this. */
export function resetClients(): void {
  s3 = sagemaker = cloudwatch = codecommit = sfn = secrets = undefined;
}
