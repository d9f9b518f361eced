/**
 * The GitHub webhook handler end to end: real SDK clients (from AWS_ENDPOINT_URL) against moto's
 * S3, Secrets Manager and Step Functions. Skipped, with the reason printed, where moto is absent.
 */
import assert from 'node:assert/strict';
import { createHmac, randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { after, before, describe, it, mock } from 'node:test';
import { CreateBucketCommand, GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { CreateSecretCommand, PutSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import {
  CreateStateMachineCommand,
  DescribeExecutionCommand,
  ListExecutionsCommand,
  SFNClient,
  StopExecutionCommand,
} from '@aws-sdk/client-sfn';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { resetClients } from '../../../lambdas/aws/client-config.ts';
import { type AwsTarget, clientConfig, motoUnavailableReason, startMotoTarget } from '../../support/aws-targets.ts';

const EXAMPLES = JSON.parse(
  readFileSync(
    new URL('../../../node_modules/@octokit/webhooks-examples/api.github.com/index.json', import.meta.url),
    'utf8',
  ),
) as Array<{ name: string; examples: Array<Record<string, unknown>> }>;
const examplesOf = (name: string) => EXAMPLES.find((set) => set.name === name)?.examples ?? [];
const BRANCH_PUSH = examplesOf('push').find((p) => String(p.ref).startsWith('refs/heads/')) as Record<string, unknown>;
const TAG_PUSH = examplesOf('push').find((p) => String(p.ref).startsWith('refs/tags/')) as Record<string, unknown>;
const PING = examplesOf('ping')[0] as Record<string, unknown>;

const SECRET_NAME = 'ballast/github-webhook-secret';
const BUCKET = 'ballast-webhook-test';
let secret = 'first-webhook-secret';

/** The branch push example, as if pushed `ageSeconds` ago. */
function freshPush(ageSeconds = 0): Record<string, unknown> {
  return {
    ...BRANCH_PUSH,
    repository: { ...(BRANCH_PUSH.repository as object), pushed_at: Math.floor(Date.now() / 1000) - ageSeconds },
  };
}

interface Delivery {
  readonly event?: string;
  readonly id?: string;
  readonly body: string | Buffer;
  readonly signWith?: string;
  readonly headers?: Record<string, string | undefined>;
  readonly base64?: boolean;
}

function httpEvent(delivery: Delivery): APIGatewayProxyEventV2 {
  const raw = Buffer.isBuffer(delivery.body) ? delivery.body : Buffer.from(delivery.body);
  const signature = `sha256=${createHmac('sha256', delivery.signWith ?? secret)
    .update(raw)
    .digest('hex')}`;
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries({
    'content-type': 'application/json',
    'user-agent': 'GitHub-Hookshot/044aadd',
    'x-github-event': delivery.event ?? 'push',
    'x-github-delivery': delivery.id ?? randomUUID(),
    'x-github-hook-id': '109948940',
    'x-hub-signature-256': signature,
    ...delivery.headers,
  })) {
    if (value !== undefined) headers[name] = value;
  }
  return {
    version: '2.0',
    routeKey: '$default',
    rawPath: '/',
    rawQueryString: '',
    headers,
    requestContext: {
      accountId: 'anonymous',
      apiId: 'abcdefghijklmnopqrstuvwxyz',
      domainName: 'abcdefghijklmnopqrstuvwxyz.lambda-url.us-east-1.on.aws',
      domainPrefix: 'abcdefghijklmnopqrstuvwxyz',
      http: {
        method: 'POST',
        path: '/',
        protocol: 'HTTP/1.1',
        sourceIp: '140.82.115.10',
        userAgent: 'GitHub-Hookshot/044aadd',
      },
      requestId: randomUUID(),
      routeKey: '$default',
      stage: '$default',
      time: new Date().toUTCString(),
      timeEpoch: Date.now(),
    },
    body: delivery.base64 ? raw.toString('base64') : raw.toString('utf8'),
    isBase64Encoded: delivery.base64 ?? false,
  };
}

const skip = motoUnavailableReason();

describe('GitHub webhook handler against moto', skip ? { skip: `moto is not available: ${skip}` } : {}, () => {
  let moto: AwsTarget;
  let sfn: SFNClient;
  let s3: S3Client;
  let secrets: SecretsManagerClient;
  let stateMachineArn: string;
  let handler: (event: APIGatewayProxyEventV2) => Promise<APIGatewayProxyStructuredResultV2>;
  let resetWebhookSecretCache: () => void;
  const saved = { ...process.env };

  const invoke = async (delivery: Delivery) => {
    const result = await handler(httpEvent(delivery));
    return { status: result.statusCode, body: JSON.parse(result.body ?? '{}') as Record<string, unknown> };
  };
  const executions = async () =>
    (await sfn.send(new ListExecutionsCommand({ stateMachineArn, maxResults: 1000 }))).executions ?? [];

  before(async () => {
    const started = await startMotoTarget();
    if ('skip' in started) throw new Error(started.skip);
    moto = started;
    Object.assign(process.env, {
      AWS_ENDPOINT_URL: moto.endpoint,
      AWS_REGION: 'us-east-1',
      AWS_ACCESS_KEY_ID: 'test',
      AWS_SECRET_ACCESS_KEY: 'test',
      POWERTOOLS_LOG_LEVEL: 'SILENT',
      BALLAST_GITHUB_WEBHOOK_SECRET_NAME: SECRET_NAME,
      BALLAST_STATE_BUCKET: BUCKET,
    });
    delete process.env.AWS_PROFILE;
    delete process.env.BALLAST_GITHUB_REPOSITORY;
    resetClients();

    sfn = new SFNClient(clientConfig(moto.endpoint));
    s3 = new S3Client(clientConfig(moto.endpoint));
    secrets = new SecretsManagerClient(clientConfig(moto.endpoint));
    await s3.send(new CreateBucketCommand({ Bucket: BUCKET }));
    await secrets.send(new CreateSecretCommand({ Name: SECRET_NAME, SecretString: secret }));
    const machine = await sfn.send(
      new CreateStateMachineCommand({
        name: 'ballast-deploy',
        definition: JSON.stringify({ StartAt: 'Resolve', States: { Resolve: { Type: 'Pass', End: true } } }),
        roleArn: 'arn:aws:iam::123456789012:role/ballast-deploy',
      }),
    );
    stateMachineArn = machine.stateMachineArn ?? '';
    process.env.BALLAST_DEPLOY_STATE_MACHINE_ARN = stateMachineArn;

    // Imported after the environment is set: the shared Logger (lambdas/runtime/powertools.ts, first
    // loaded here) reads POWERTOOLS_LOG_LEVEL when it is created.
    const module = await import('../../../lambdas/handlers/github-webhook.ts');
    handler = (event) => module.handler(event);
    resetWebhookSecretCache = module.resetWebhookSecretCache;
  });

  after(async () => {
    for (const key of Object.keys(process.env)) if (!(key in saved)) delete process.env[key];
    Object.assign(process.env, saved);
    resetClients();
    await moto?.stop();
  });

  it('starts exactly one execution for a valid push, named after the delivery', async () => {
    const id = randomUUID();
    const payload = freshPush(5);
    const before = (await executions()).length;
    const response = await invoke({ id, body: JSON.stringify(payload) });
    assert.equal(response.status, 202);
    assert.equal(response.body.status, 'started');
    assert.equal(response.body.execution, `github-${id}`);

    const after = await executions();
    assert.equal(after.length, before + 1);
    const execution = after.find((e) => e.name === `github-${id}`);
    assert.ok(execution?.executionArn);
    const described = await sfn.send(new DescribeExecutionCommand({ executionArn: execution.executionArn }));
    const pushedAt = new Date((payload.repository as { pushed_at: number }).pushed_at * 1000).toISOString();
    assert.deepEqual(JSON.parse(described.input ?? ''), {
      source: 'github',
      push: {
        source: 'github',
        repository: 'Codertocat/Hello-World',
        branch: 'master',
        commit: '6113728f27ae82c7b1a177c8d03f9e96e0adf246',
        pushedBy: 'Codertocat',
        pushedAt,
        deliveryId: id,
      },
    });
    const record = await s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: `deliveries/github/${id}.json` }));
    const stored = JSON.parse((await record.Body?.transformToString()) ?? '') as Record<string, unknown>;
    assert.equal(stored.deliveryId, id);
    assert.equal(stored.execution, `github-${id}`);
  });

  it('starts nothing for a replayed delivery, while the first execution runs or after it ended', async () => {
    const id = randomUUID();
    const body = JSON.stringify(freshPush());
    assert.equal((await invoke({ id, body })).body.status, 'started');
    const count = (await executions()).length;
    const replay = await invoke({ id, body });
    assert.equal(replay.status, 202);
    assert.equal(replay.body.status, 'duplicate');
    assert.equal((await executions()).length, count);

    const execution = (await executions()).find((e) => e.name === `github-${id}`);
    await sfn.send(new StopExecutionCommand({ executionArn: execution?.executionArn }));
    const late = await invoke({ id, body });
    assert.equal(late.status, 202);
    assert.equal(late.body.status, 'duplicate');
    assert.equal((await executions()).length, count);
  });

  it('still starts a delivery whose first attempt was recorded but never started', async () => {
    const id = randomUUID();
    await s3.send(
      new PutObjectCommand({
        Bucket: BUCKET,
        Key: `deliveries/github/${id}.json`,
        Body: JSON.stringify({ deliveryId: id }),
      }),
    );
    const before = (await executions()).length;
    const response = await invoke({ id, body: JSON.stringify(freshPush()) });
    assert.equal(response.status, 202);
    assert.equal(response.body.status, 'duplicate');
    assert.equal((await executions()).length, before + 1);
  });

  it('answers 401 to a bad or missing signature and starts nothing', async () => {
    const before = (await executions()).length;
    const body = JSON.stringify(freshPush());
    for (const delivery of [
      { body, signWith: 'not-the-secret' },
      { body, headers: { 'x-hub-signature-256': undefined } },
      { body, headers: { 'x-hub-signature-256': 'sha256=deadbeef' } },
      { body: 'garbage', headers: { 'x-hub-signature-256': 'sha1=0000' } },
    ]) {
      const response = await invoke(delivery);
      assert.equal(response.status, 401);
      assert.deepEqual(response.body, { message: 'unauthorized' });
    }
    assert.equal((await executions()).length, before);
  });

  it('answers 202 ignored to ping, tag pushes and other repositories', async () => {
    const before = (await executions()).length;
    const ping = await invoke({ event: 'ping', body: JSON.stringify(PING) });
    assert.equal(ping.status, 202);
    assert.deepEqual(ping.body, { status: 'ignored', reason: 'ping: the webhook is set up (hook 109948940)' });
    const tag = await invoke({ body: JSON.stringify(TAG_PUSH) });
    assert.equal(tag.status, 202);
    assert.equal(tag.body.status, 'ignored');
    process.env.BALLAST_GITHUB_REPOSITORY = 'octo-org/models';
    try {
      const other = await invoke({ body: JSON.stringify(freshPush()) });
      assert.equal(other.status, 202);
      assert.match(String(other.body.reason), /not the one this stack watches/);
    } finally {
      delete process.env.BALLAST_GITHUB_REPOSITORY;
    }
    assert.equal((await executions()).length, before);
  });

  it('answers 400 to signed garbage and to stale pushes, 413 to oversized bodies, 405 to GET', async () => {
    const before = (await executions()).length;
    const body = JSON.stringify(freshPush());
    const cases: Array<[string, Delivery, number]> = [
      ['bad JSON', { body: '{"ref": ' }, 400],
      ['a JSON string', { body: '"push"' }, 400],
      [
        'form encoded',
        {
          body: `payload=${encodeURIComponent(body)}`,
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
        },
        400,
      ],
      ['no content type', { body, headers: { 'content-type': undefined } }, 400],
      ['no event header', { body, headers: { 'x-github-event': undefined } }, 400],
      ['no delivery header', { body, headers: { 'x-github-delivery': undefined } }, 400],
      ['a push missing fields', { body: JSON.stringify({ ref: 'refs/heads/main' }) }, 400],
      ['the example as GitHub sent it in 2019', { body: JSON.stringify(BRANCH_PUSH) }, 400],
      ['a push 11 minutes old', { body: JSON.stringify(freshPush(660)) }, 400],
      ['over 25 MB', { body: Buffer.alloc(25 * 1024 * 1024 + 1, 0x20) }, 413],
    ];
    for (const [name, delivery, status] of cases) {
      const response = await invoke(delivery);
      assert.equal(response.status, status, name);
      assert.equal(typeof response.body.message, 'string', name);
    }
    const stale = await invoke({ body: JSON.stringify(freshPush(660)) });
    // The handler reads the clock itself: on a loaded machine a second may pass after freshPush().
    assert.match(String(stale.body.message), /6[6-9]\d s old \(limit 600 s\)/);

    const get = await handler({
      ...httpEvent({ body: '' }),
      requestContext: {
        ...httpEvent({ body: '' }).requestContext,
        http: { method: 'GET', path: '/', protocol: 'HTTP/1.1', sourceIp: '1.2.3.4', userAgent: 'curl' },
      },
    });
    assert.equal(get.statusCode, 405);
    const nothing = await handler(null as unknown as APIGatewayProxyEventV2);
    assert.equal(nothing.statusCode, 400);
    assert.equal((await executions()).length, before);
  });

  it('accepts a base64-encoded body', async () => {
    const response = await invoke({ body: JSON.stringify(freshPush()), base64: true });
    assert.equal(response.status, 202);
    assert.equal(response.body.status, 'started');
  });

  it('picks up a rotated secret after a signature mismatch, without waiting for the cache to expire', async () => {
    resetWebhookSecretCache();
    assert.equal((await invoke({ body: JSON.stringify(freshPush()) })).status, 202, 'caches the current secret');
    secret = 'rotated-webhook-secret';
    await secrets.send(new PutSecretValueCommand({ SecretId: SECRET_NAME, SecretString: secret }));
    // Within 30 s of the last fetch a mismatch is just a mismatch (no GetSecretValue per forged request).
    assert.equal((await invoke({ body: JSON.stringify(freshPush()) })).status, 401);
    mock.timers.enable({ apis: ['Date'], now: Date.now() + 31_000 });
    try {
      assert.equal((await invoke({ body: JSON.stringify(freshPush()) })).status, 202);
    } finally {
      mock.timers.reset();
    }
  });

  it('answers 500 without detail when it is not configured', async () => {
    const arn = process.env.BALLAST_DEPLOY_STATE_MACHINE_ARN;
    delete process.env.BALLAST_DEPLOY_STATE_MACHINE_ARN;
    try {
      const response = await invoke({ body: JSON.stringify(freshPush()) });
      assert.equal(response.status, 500);
      assert.deepEqual(response.body, { message: 'the webhook is not configured' });
    } finally {
      process.env.BALLAST_DEPLOY_STATE_MACHINE_ARN = arn;
    }
  });
});
