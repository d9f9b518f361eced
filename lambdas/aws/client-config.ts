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
