/**
 * End to end, the GitHub path: a signed push delivery reaches the real webhook handler (as a Lambda
 * Function URL event), which reads its secret from the sandbox's Secrets Manager, records the
 * delivery in S3 and calls StartExecution on the sandbox's Step Functions API; that starts the real
 * deploy workflow on the local runner, whose Resolve reads the commit from a GitHub REST double with
 * a token from Secrets Manager, rolls the example repository out to the sandbox's SageMaker, and
 * whose Record posts the commit status back to GitHub. Every AWS call goes over the wire through
 * the SDK's standard endpoint configuration.
 */
import assert from 'node:assert/strict';
import { createHmac, randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { CreateSecretCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { DescribeExecutionCommand, ListExecutionsCommand, SFNClient } from '@aws-sdk/client-sfn';
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { resetClients } from '../../lambdas/aws/client-config.ts';
import { deployStateMachineArn } from '../../sandbox/pipeline.ts';
import type { LocalExecution } from '../../sandbox/runner.ts';
import { buildRepository, type FakeEntry, FakeGitHub } from '../support/fake-github.ts';
import { editYaml, MODEL_FILE, requireFile, SUMMARIZER, type World, world } from './harness.ts';

/** The repository FakeGitHub serves. */
const REPOSITORY = 'octo-org/models';
const WEBHOOK_SECRET_NAME = 'ballast/github-webhook-secret';
const TOKEN_SECRET_NAME = 'ballast/github-token';
const WEBHOOK_SECRET = `whsec-${randomUUID()}`;
const TOKEN = `ghs_${randomUUID().replaceAll('-', '')}`;

const EXAMPLES = JSON.parse(
  readFileSync(
    new URL('../../node_modules/@octokit/webhooks-examples/api.github.com/index.json', import.meta.url),
    'utf8',
  ),
) as Array<{ name: string; examples: Array<Record<string, unknown>> }>;
const BRANCH_PUSH = EXAMPLES.find((set) => set.name === 'push')?.examples.find((p) =>
  String(p.ref).startsWith('refs/heads/'),
);

/** GitHub's push payload for `commit` on main of REPOSITORY, pushed just now (on top of `before`, or a new branch). */
function pushPayload(commit: string, before = '0'.repeat(40)): Record<string, unknown> {
  assert.ok(BRANCH_PUSH, '@octokit/webhooks-examples has a branch push');
  const repository = BRANCH_PUSH.repository as Record<string, unknown>;
  return {
    ...BRANCH_PUSH,
    ref: 'refs/heads/main',
    before,
    after: commit,
    created: before === '0'.repeat(40),
    head_commit: { ...(BRANCH_PUSH.head_commit as object), id: commit },
    repository: {
      ...repository,
      name: 'models',
      full_name: REPOSITORY,
      owner: { ...(repository.owner as object), login: 'octo-org' },
      pushed_at: Math.floor(Date.now() / 1000),
    },
  };
}

/** The Function URL event for a delivery, signed as GitHub signs it (X-Hub-Signature-256 over the raw body). */
function functionUrlEvent(body: string, deliveryId: string, secret = WEBHOOK_SECRET): APIGatewayProxyEventV2 {
  const signature = `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
  return {
    version: '2.0',
    routeKey: '$default',
    rawPath: '/',
    rawQueryString: '',
    headers: {
      'content-type': 'application/json',
      'content-length': String(Buffer.byteLength(body)),
      'user-agent': 'GitHub-Hookshot/044aadd',
      'x-github-event': 'push',
      'x-github-delivery': deliveryId,
      'x-github-hook-id': '109948940',
      'x-github-hook-installation-target-type': 'repository',
      'x-hub-signature-256': signature,
    },
    requestContext: {
      accountId: 'anonymous',
      apiId: 'ballastwebhookurl',
      domainName: 'ballastwebhookurl.lambda-url.us-east-1.on.aws',
      domainPrefix: 'ballastwebhookurl',
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
    body,
    isBase64Encoded: false,
  };
}

describe('GitHub push → webhook → Step Functions → deploy → commit status, on the sandbox', () => {
  const savedEnv = { ...process.env };
  let w: World;
  let github: FakeGitHub;
  let sfn: SFNClient;
  let commit: string;
  let webhook: typeof import('../../lambdas/handlers/github-webhook.ts');

  const deliver = async (event: APIGatewayProxyEventV2) => {
    const result = await webhook.handler(event);
    return { status: result.statusCode ?? 0, body: JSON.parse(result.body ?? '{}') as Record<string, unknown> };
  };

  /** Resolve waits for this, so the test knows the first execution is still running when it redelivers. */
  let releaseResolve: () => void = () => undefined;
  const resolveMayRun = new Promise<void>((resolve) => {
    releaseResolve = resolve;
  });

  before(async () => {
    w = await world({
      around: {
        Resolve: async (input, next) => {
          await resolveMayRun;
          return next(input);
        },
      },
    });
    const config = {
      endpoint: w.sandbox.url,
      region: w.sandbox.region,
      credentials: { accessKeyId: 'x', secretAccessKey: 'x' },
    };
    const secrets = new SecretsManagerClient(config);
    await secrets.send(new CreateSecretCommand({ Name: WEBHOOK_SECRET_NAME, SecretString: WEBHOOK_SECRET }));
    await secrets.send(new CreateSecretCommand({ Name: TOKEN_SECRET_NAME, SecretString: TOKEN }));
    secrets.destroy();
    sfn = new SFNClient(config);

    const files: Record<string, FakeEntry> = {};
    for (const [path, content] of Object.entries(w.files)) files[path] = { mode: '100644', content };
    github = new FakeGitHub(buildRepository(files));
    await github.start();
    commit = github.repo.commit;

    // What the stack gives the webhook and workflow functions for a GitHub source (LocalPipeline set the rest).
    Object.assign(process.env, {
      BALLAST_GITHUB_API_URL: github.url,
      BALLAST_GITHUB_TOKEN_SECRET_NAME: TOKEN_SECRET_NAME,
      BALLAST_GITHUB_WEBHOOK_SECRET_NAME: WEBHOOK_SECRET_NAME,
      BALLAST_GITHUB_REPOSITORY: REPOSITORY,
      POWERTOOLS_LOG_LEVEL: process.env.BALLAST_LOG_LEVEL ?? 'SILENT',
    });
    resetClients();
    // Imported once the environment is set: the handler module's Logger reads POWERTOOLS_LOG_LEVEL.
    webhook = await import('../../lambdas/handlers/github-webhook.ts');
    webhook.resetWebhookSecretCache();
  });

  after(async () => {
    releaseResolve();
    await w?.stop();
    sfn?.destroy();
    await github?.stop();
    for (const name of Object.keys(process.env)) if (!(name in savedEnv)) delete process.env[name];
    Object.assign(process.env, savedEnv);
    resetClients();
    webhook?.resetWebhookSecretCache();
  });

  const deployExecutions = (): readonly LocalExecution[] => w.pipeline.runner.executions('deploy');

  it('deploys a signed push, starts nothing for its redelivery or a forged copy, and posts the commit status', async () => {
    const deliveryId = randomUUID();
    const executionName = `github-${deliveryId}`;
    const body = JSON.stringify(pushPayload(commit));

    const accepted = await deliver(functionUrlEvent(body, deliveryId));
    assert.equal(accepted.status, 202, JSON.stringify(accepted.body));
    assert.equal(accepted.body.status, 'started');
    assert.equal(accepted.body.execution, executionName);
    const executionArn = `arn:aws:states:${w.sandbox.region}:${w.sandbox.account}:execution:ballast-deploy:${executionName}`;
    assert.equal(accepted.body.executionArn, executionArn);

    // GitHub retries a delivery it thinks failed: while the first execution runs, StartExecution
    // with the same name and input answers with it.
    const retried = await deliver(functionUrlEvent(body, deliveryId));
    assert.equal(retried.status, 202);
    assert.equal(retried.body.status, 'duplicate');
    assert.equal(retried.body.executionArn, executionArn);
    assert.equal(deployExecutions().length, 1);
    assert.equal(deployExecutions()[0]?.status, 'RUNNING');

    releaseResolve();
    await w.settle();
    const [execution, ...others] = deployExecutions();
    assert.equal(others.length, 0, 'one execution for the delivery');
    assert.equal(execution?.name, executionName, 'named after the delivery');
    assert.equal(execution.status, 'SUCCEEDED', JSON.stringify(execution.error));
    assert.deepEqual(execution.input, {
      source: 'github',
      push: {
        source: 'github',
        repository: REPOSITORY,
        branch: 'main',
        commit,
        pushedBy: 'Codertocat',
        pushedAt: (execution.input as { push: { pushedAt: string } }).push.pushedAt,
        deliveryId,
      },
    });
    const output = execution.output as { plan?: { items?: Array<{ endpoint: string; outcome: string }> } };
    assert.deepEqual(
      output.plan?.items?.map((r) => [r.endpoint, r.outcome]),
      [['summarizer', 'deployed']],
    );

    // The Step Functions API tells the same story.
    const described = await sfn.send(new DescribeExecutionCommand({ executionArn }));
    assert.equal(described.status, 'SUCCEEDED');
    assert.equal(described.stateMachineArn, deployStateMachineArn(w.sandbox));
    assert.deepEqual(JSON.parse(described.input ?? '{}'), execution.input);

    // The endpoint runs the commit.
    assert.equal((await w.describe(SUMMARIZER)).EndpointStatus, 'InService');
    const state = await w.state('summarizer');
    assert.equal(state?.live?.commit, commit);
    assert.equal(state?.lastGood?.commit, commit);

    // Resolve read the commit with the token from Secrets Manager.
    const reads = github.requests.filter((r) => r.method === 'GET');
    assert.ok(
      reads.some((r) => r.url === `/repos/${REPOSITORY}/git/trees/${commit}?recursive=1`),
      'the tree at the commit',
    );
    assert.ok(reads.every((r) => r.headers.authorization === `Bearer ${TOKEN}`));

    // GitHub sees the environment pending as soon as the execution starts (a branch protection rule
    // can require `ballast/prod`), then Record's status for prod/summarizer, then the push's answer.
    const statuses = github.requests
      .filter((r) => r.method === 'POST' && r.url === `/repos/${REPOSITORY}/statuses/${commit}`)
      .map((r) => JSON.parse(r.body) as { state: string; context: string; description: string });
    assert.deepEqual(
      statuses.map((s) => [s.state, s.context]),
      [
        ['pending', 'ballast/prod'],
        ['success', 'ballast/prod/summarizer'],
        ['success', 'ballast/prod'],
      ],
    );
    assert.match(statuses[1]?.description ?? '', /^deployed: live on ballast-prod-summarizer-[0-9a-f]{12}$/);

    // Redelivered after the execution finished (GitHub's "Redeliver"): StartExecution answers
    // ExecutionAlreadyExists, and the handler reports a duplicate without starting anything.
    const redelivered = await deliver(functionUrlEvent(body, deliveryId));
    assert.equal(redelivered.status, 202);
    assert.equal(redelivered.body.status, 'duplicate');
    assert.equal(redelivered.body.execution, executionName);
    await w.settle();
    assert.equal(deployExecutions().length, 1, 'the redelivery started nothing');

    // A forged delivery (a new id, signed with another secret) is refused before anything is read.
    const forged = await deliver(functionUrlEvent(body, randomUUID(), 'not-the-webhook-secret'));
    assert.equal(forged.status, 401);
    assert.deepEqual(forged.body, { message: 'unauthorized' });
    await w.settle();
    assert.equal(deployExecutions().length, 1, 'the forged delivery started nothing');
    const listed = await sfn.send(new ListExecutionsCommand({ stateMachineArn: deployStateMachineArn(w.sandbox) }));
    assert.deepEqual(
      listed.executions?.map((e) => e.name),
      [executionName],
    );
    assert.equal(
      github.requests.filter((r) => r.method === 'POST').length,
      3,
      'the three statuses of the one execution, in all',
    );
  });

  it('rolls back a version that fails under load and writes the rollback back as a pull request', async () => {
    // Continues from the deployment above: the repository's first commit is live.
    const good = commit;
    const goodConfig = (await w.describe(SUMMARIZER)).EndpointConfigName;
    // Branch protection: main takes no direct commits, which is what pull-request mode is for.
    github.protectedBranches.add('main');
    w.sandbox.sagemaker.setLoad(SUMMARIZER, 60);
    const model = editYaml(requireFile(w.files, MODEL_FILE), [
      [['spec', 'environment', 'SANDBOX_ERRORS_ABOVE_RPM'], '90'],
    ]);
    const settings = editYaml(requireFile(w.files, 'ballast.yaml'), [[['spec', 'writeBack', 'mode'], 'pull-request']]);
    const bad = github.push(
      'main',
      { [MODEL_FILE]: model, 'ballast.yaml': settings },
      'summarizer-llm: larger batches',
    );
    const pushed = await deliver(functionUrlEvent(JSON.stringify(pushPayload(bad, good)), randomUUID()));
    assert.equal(pushed.status, 202, JSON.stringify(pushed.body));
    await w.settle();
    assert.equal(
      (await w.state('summarizer'))?.live?.commit,
      bad,
      `the new version passed its canary: ${JSON.stringify((await w.ledger('summarizer')).map((e) => [e.commit.slice(0, 7), e.outcome, e.pushedAt, e.startedAt, e.reason]))}`,
    );

    // Load rises past what it survives: its alarm fires from the failing requests.
    w.sandbox.sagemaker.setLoad(SUMMARIZER, 150);
    await w.minutes(3);

    assert.equal((await w.describe(SUMMARIZER)).EndpointConfigName, goodConfig, 'the previous version runs again');
    const entries = (await w.ledger('summarizer')).filter((e) => e.rollback?.action === 'act');
    assert.equal(entries.length, 1, JSON.stringify(entries));
    const writeBack = entries[0]?.rollback?.writeBack;
    assert.equal(writeBack?.kind, 'pull-request', JSON.stringify(writeBack));
    assert.equal(github.branches.get('main'), bad, 'main itself is not written');
    const [pull, ...more] = github.pulls;
    assert.equal(more.length, 0);
    assert.equal(pull?.base, 'main');
    assert.equal(pull?.head, writeBack?.branch);
    assert.equal(String(pull?.number), writeBack?.pullRequest);
    assert.match(pull?.title ?? '', /Roll back prod\/summarizer to [0-9a-f]{12} \(summarizer-5xx\)/);
    const proposed = github.filesAt(github.branches.get(pull?.head ?? '') ?? '');
    assert.equal(proposed?.[MODEL_FILE], github.filesAt(good)?.[MODEL_FILE], 'the pull request restores the model');
    // The bad commit's status says what happened to it.
    const statuses = github.requests
      .filter((r) => r.method === 'POST' && r.url === `/repos/${REPOSITORY}/statuses/${bad}`)
      .map((r) => JSON.parse(r.body) as { state: string; context: string; description?: string });
    const rolledBack = statuses.filter((st) => st.context === 'ballast/prod/summarizer' && st.state === 'failure');
    assert.ok(rolledBack.length > 0, JSON.stringify(statuses));
    assert.match(rolledBack.at(-1)?.description ?? '', /^rolled-back: alarm summarizer-5xx/);
  });
});
