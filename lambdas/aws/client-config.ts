import { fromEnv } from '@aws-sdk/credential-provider-env';
import { NodeHttpHandler } from '@smithy/node-http-handler';

/**
 * Shared SDK client settings. Endpoints come from the SDK's standard configuration
 * (`AWS_ENDPOINT_URL`, `AWS_ENDPOINT_URL_<SERVICE>`), so the same handler code talks to AWS, the
 * Ballast sandbox, moto or LocalStack; there is no "local mode" here.
 *
 * Every call has a connection and a request timeout, and the SDK's adaptive retry strategy
 * (exponential backoff with jitter, client-side rate limiting on throttling). Step Functions adds a
 * second, slower layer of retries for the `TransientError` a handler raises when the SDK gives up.
 *
 * Credentials come from the environment, and only from there (`fromEnv`). On Lambda that is where
 * they are: the runtime sets AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN to "the
 * access keys obtained from the function's execution role", reserved variables no function
 * configuration can set (Lambda Developer Guide, "Defined runtime environment variables",
 * https://docs.aws.amazon.com/lambda/latest/dg/configuration-envvars.html#configuration-envvars-runtime),
 * and the SDK's default chain tries exactly that first (AWS SDK for JavaScript v3 Developer Guide,
 * "Set credentials in Node.js": fromEnv, then SSO, the shared ini files, process, web identity,
 * container and instance metadata,
 * https://docs.aws.amazon.com/sdk-for-javascript/v3/developer-guide/setting-credentials-node.html).
 * Wherever else a handler runs (the local pipeline, the e2e and conformance tests) the same
 * variables are set (sandbox/sandbox.ts `sandboxEnv`): one path, no local mode, and a developer's
 * AWS_PROFILE never sends real credentials to the sandbox.
 *
 * Explicit, because a client given `credentials` never calls its default provider chain (@aws-sdk/core
 * resolveAwsSdkSigV4Config), whose other links are loaded by dynamic `import()` only when they run
 * (aws/aws-sdk-js-v3#5698). That is what makes it safe for lib/ballast-function.ts to leave those
 * links out of the bundles (about 125 kB each, with their nested STS/SSO clients): the SDK keeps
 * them in every client's runtime config and leaves removing them to the bundler
 * (aws/aws-sdk-js-v3#6087).
 */
export function clientConfig(options: { requestTimeoutMs?: number; maxAttempts?: number } = {}) {
  return {
    credentials: fromEnv(),
    maxAttempts: options.maxAttempts ?? 5,
    retryMode: 'adaptive' as const,
    requestHandler: new NodeHttpHandler({
      connectionTimeout: 3_000,
      requestTimeout: options.requestTimeoutMs ?? 30_000,
    }),
  };
}

const resets = new Set<() => void>();

/**
 * Called by each client module (s3.ts, sagemaker.ts, …) with the function that forgets its client.
 * A registry rather than one list of clients, so that a bundle holds only the clients it imports.
 */
export function onResetClients(reset: () => void): void {
  resets.add(reset);
}

/**
 * Forgets every cached client (of the modules loaded so far); the next call creates a new one from
 * the current environment. Tests and the local pipeline call it when they point AWS_ENDPOINT_URL at
 * a new sandbox.
 */
export function resetClients(): void {
  for (const reset of resets) reset();
}
