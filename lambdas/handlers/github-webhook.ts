/**
 * The GitHub webhook: a Lambda Function URL (no IAM auth: GitHub cannot sign with SigV4) that turns
 * a verified push delivery into one deploy execution.
 *
 *   size (413) → signature (401, nothing else said) → content type, headers, JSON, push (400)
 *   → ignored events (202) → staleness (400) → delivery record (S3, If-None-Match) → StartExecution (202)
 *
 * Environment:
 *   BALLAST_GITHUB_WEBHOOK_SECRET_NAME   Secrets Manager secret holding the webhook secret (plain string)
 *   BALLAST_STATE_BUCKET                 the Ballast bucket (deliveries/github/<id>.json)
 *   BALLAST_DEPLOY_STATE_MACHINE_ARN     the deploy workflow
 *   BALLAST_GITHUB_REPOSITORY            optional: the only `owner/name` accepted (others are ignored)
 *   BALLAST_GITHUB_MAX_DELIVERY_AGE_SECONDS  optional, default 600
 */
import { StartExecutionCommand } from '@aws-sdk/client-sfn';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { InvalidInputError, isTransient, TransientError } from '../aws/errors.ts';
import { s3 } from '../aws/s3.ts';
import { secretsManager } from '../aws/secrets-manager.ts';
import { sfn } from '../aws/sfn.ts';
import { rawLambdaHandler } from '../runtime/handler.ts';
import { logger } from '../runtime/powertools.ts';
import { recordDelivery } from '../sources/deliveries.ts';
import {
  DEFAULT_MAX_DELIVERY_AGE_SECONDS,
  GITHUB_MAX_PAYLOAD_BYTES,
  headerValue,
  pushFromGitHubDelivery,
  StaleDeliveryError,
  verifyGitHubSignature,
} from '../sources/github.ts';
import { executionNameForDelivery, type GitHubWorkflowInput } from '../sources/index.ts';
import { createSecretCache } from '../sources/secret-cache.ts';

/** Five minutes: a rotated secret takes effect within that, even without the refresh below. */
const secrets = createSecretCache(() => secretsManager(), { ttlMs: 5 * 60_000 });
/**
 * After a signature mismatch the secret is fetched again (it may just have been rotated), but at
 * most this often, so a flood of forged requests cannot turn into a flood of GetSecretValue calls.
 */
const REFRESH_ON_MISMATCH_AFTER_MS = 30_000;

/** Forgets the cached webhook secret (tests that change it). */
export function resetWebhookSecretCache(): void {
  secrets.clear();
}

type Result = APIGatewayProxyStructuredResultV2;

function reply(statusCode: number, body: Record<string, unknown>): Result {
  return { statusCode, headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) };
}

class ConfigurationError extends Error {
  override readonly name = 'ConfigurationError';
}

function setting(name: string): string {
  const value = process.env[name];
  if (!value) throw new ConfigurationError(`the ${name} environment variable is not set`);
  return value;
}

function maxAgeSeconds(): number {
  const raw = process.env.BALLAST_GITHUB_MAX_DELIVERY_AGE_SECONDS;
  const value = raw ? Number(raw) : DEFAULT_MAX_DELIVERY_AGE_SECONDS;
  if (!Number.isFinite(value) || value <= 0) {
    throw new ConfigurationError(`BALLAST_GITHUB_MAX_DELIVERY_AGE_SECONDS '${raw}' is not a positive number`);
  }
  return value;
}

function rawBodyOf(event: APIGatewayProxyEventV2): Buffer {
  const body = event.body ?? '';
  // Function URLs pass text bodies (application/json) as a string of the received UTF-8 and others
  // base64-encoded; either way these are the exact bytes GitHub signed.
  return event.isBase64Encoded ? Buffer.from(body, 'base64') : Buffer.from(body, 'utf8');
}

/**
 * A raw handler: the event reaches `handle` untouched, because the signature is verified over the
 * exact body bytes before anything parses them. Every failure is answered with an HTTP status
 * (GitHub shows it under "Recent Deliveries"), never thrown.
 */
export const handler = rawLambdaHandler(async (event: APIGatewayProxyEventV2): Promise<Result> => {
  try {
    return await handle(event);
  } catch (error) {
    if (error instanceof ConfigurationError) {
      logger.error('webhook is misconfigured', { error });
      return reply(500, { message: 'the webhook is not configured' });
    }
    if (error instanceof TransientError || isTransient(error)) {
      logger.warn('webhook failed transiently', { error });
      return reply(503, { message: 'temporarily unavailable; redeliver later' });
    }
    logger.error('webhook failed', { error });
    return reply(500, { message: 'internal error' });
  }
});

async function handle(event: APIGatewayProxyEventV2): Promise<Result> {
  if (typeof event !== 'object' || event === null) return reply(400, { message: 'not an HTTP request' });
  const method = event.requestContext?.http?.method;
  if (method !== undefined && method !== 'POST') return reply(405, { message: 'use POST' });

  const headers = event.headers ?? {};
  const declaredLength = Number(headerValue(headers, 'content-length'));
  if (Number.isFinite(declaredLength) && declaredLength > GITHUB_MAX_PAYLOAD_BYTES) {
    return reply(413, { message: 'payload too large' });
  }
  const rawBody = rawBodyOf(event);
  if (rawBody.length > GITHUB_MAX_PAYLOAD_BYTES) return reply(413, { message: 'payload too large' });

  // All settings first: a misconfigured stack fails before it records or starts anything.
  const secretName = setting('BALLAST_GITHUB_WEBHOOK_SECRET_NAME');
  const bucket = setting('BALLAST_STATE_BUCKET');
  const stateMachineArn = setting('BALLAST_DEPLOY_STATE_MACHINE_ARN');
  const maxAge = maxAgeSeconds();

  // Authenticate before anything looks at the content. A failure says nothing about why.
  const signature = headerValue(headers, 'x-hub-signature-256');
  let secret = await secrets.get(secretName);
  let verified = verifyGitHubSignature(secret.value, rawBody, signature);
  if (!verified && signature && Date.now() - secret.fetchedAt > REFRESH_ON_MISMATCH_AFTER_MS) {
    secret = await secrets.get(secretName, { maxAgeMs: 0 });
    verified = verifyGitHubSignature(secret.value, rawBody, signature);
  }
  if (!verified) {
    logger.warn('webhook signature rejected', { sourceIp: event.requestContext?.http?.sourceIp });
    return reply(401, { message: 'unauthorized' });
  }

  const contentType = headerValue(headers, 'content-type') ?? '';
  if (!/^application\/json\s*(;|$)/i.test(contentType)) {
    return reply(400, { message: 'configure the webhook with content type application/json' });
  }

  let result: ReturnType<typeof pushFromGitHubDelivery>;
  try {
    result = pushFromGitHubDelivery({ headers, rawBody, now: Date.now(), maxAgeSeconds: maxAge });
  } catch (error) {
    if (error instanceof InvalidInputError || error instanceof StaleDeliveryError) {
      // GitHub shows this answer in the webhook's "Recent Deliveries"; a stale push shows as failed
      // there. The reconciler deploys a branch head no delivery started (reconcile-scan.ts), within
      // its interval and a short grace.
      logger.warn('webhook delivery refused', { reason: error.message });
      return reply(400, { message: error.message });
    }
    throw error;
  }
  const deliveryId = headerValue(headers, 'x-github-delivery');
  if ('ignored' in result) {
    logger.info('webhook delivery ignored', { deliveryId, reason: result.ignored });
    return reply(202, { status: 'ignored', reason: result.ignored });
  }
  const push = result;
  const expected = process.env.BALLAST_GITHUB_REPOSITORY;
  // GitHub repository names are case-insensitive.
  if (expected && expected.toLowerCase() !== push.repository.toLowerCase()) {
    const reason = `repository ${push.repository} is not the one this stack watches (${expected})`;
    logger.info('webhook delivery ignored', { deliveryId, reason });
    return reply(202, { status: 'ignored', reason });
  }

  const execution = executionNameForDelivery('github', push.deliveryId);
  const seen = await recordDelivery(s3(), bucket, 'github', push.deliveryId, {
    detail: { repository: push.repository, branch: push.branch, commit: push.commit, execution },
  });
  // Started even for a replay: StartExecution with the same name and input starts nothing new (it
  // answers with the existing execution, or ExecutionAlreadyExists once that one has finished), and
  // a delivery whose first attempt recorded itself but failed before starting still gets started.
  const input: GitHubWorkflowInput = { source: 'github', push };
  let executionArn: string | undefined;
  try {
    const started = await sfn().send(
      new StartExecutionCommand({
        stateMachineArn,
        name: execution,
        input: JSON.stringify(input),
      }),
    );
    executionArn = started.executionArn;
  } catch (error) {
    if (!(error instanceof Error && error.name === 'ExecutionAlreadyExists')) throw error;
  }
  logger.info('webhook delivery accepted', {
    deliveryId,
    replayed: seen === 'replayed',
    repository: push.repository,
    branch: push.branch,
    commit: push.commit,
    execution,
  });
  return reply(202, {
    status: seen === 'new' ? 'started' : 'duplicate',
    deliveryId: push.deliveryId,
    execution,
    ...(executionArn ? { executionArn } : {}),
  });
}
