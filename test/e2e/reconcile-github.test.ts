/**
 * End to end, a lost GitHub push: GitHub does not redeliver a webhook by itself, so a push whose
 * delivery never arrived is deployed only because the reconciler reads the branch through GitHub's
 * refs API (the GitHub REST double) and finds a head the deploy workflow never saw.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { CreateSecretCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { SFNClient, StartExecutionCommand } from '@aws-sdk/client-sfn';
import { resetClients } from '../../lambdas/aws/client-config.ts';
import type { GitHubWorkflowInput } from '../../lambdas/sources/index.ts';
import { deployStateMachineArn } from '../../sandbox/pipeline.ts';
import { buildRepository, type FakeEntry, FakeGitHub } from '../support/fake-github.ts';
import { ENDPOINT_FILE, editYaml, requireFile, type World, world } from './harness.ts';

const REPOSITORY = 'octo-org/models';
const TOKEN_SECRET_NAME = 'ballast/github-token';

describe('a GitHub push whose delivery never arrived', () => {
  const savedEnv = { ...process.env };
  let w: World;
  let github: FakeGitHub;
  let sfn: SFNClient;

  before(async () => {
    w = await world();
    const config = {
      endpoint: w.sandbox.url,
      region: w.sandbox.region,
      credentials: { accessKeyId: 'x', secretAccessKey: 'x' },
    };
    const secrets = new SecretsManagerClient(config);
    await secrets.send(
      new CreateSecretCommand({ Name: TOKEN_SECRET_NAME, SecretString: `ghs_${randomUUID().replaceAll('-', '')}` }),
    );
    secrets.destroy();
    sfn = new SFNClient(config);
    const files: Record<string, FakeEntry> = {};
    for (const [path, content] of Object.entries(w.files)) files[path] = { mode: '100644', content };
    github = new FakeGitHub(buildRepository(files));
    await github.start();
    // What the stack gives the workflow functions for a GitHub source (LocalPipeline set the rest).
    Object.assign(process.env, {
      BALLAST_GITHUB_API_URL: github.url,
      BALLAST_GITHUB_TOKEN_SECRET_NAME: TOKEN_SECRET_NAME,
    });
    resetClients();
  });

  after(async () => {
    await w?.stop();
    sfn?.destroy();
    await github?.stop();
    for (const name of Object.keys(process.env)) if (!(name in savedEnv)) delete process.env[name];
    Object.assign(process.env, savedEnv);
    resetClients();
  });

  /** What the webhook starts for a delivery (lambdas/handlers/github-webhook.ts). */
  async function delivered(commit: string, previousCommit?: string): Promise<void> {
    const input: GitHubWorkflowInput = {
      source: 'github',
      push: {
        source: 'github',
        repository: REPOSITORY,
        branch: 'main',
        commit,
        ...(previousCommit ? { previousCommit } : {}),
        pushedBy: 'octocat',
        pushedAt: w.sandbox.clock.now().toISOString(),
        deliveryId: randomUUID(),
      },
    };
    await sfn.send(
      new StartExecutionCommand({
        stateMachineArn: deployStateMachineArn(w.sandbox),
        name: `github-${input.push.deliveryId}`,
        input: JSON.stringify(input),
      }),
    );
    await w.settle();
  }

  it('is deployed by the reconciler, once', async () => {
    const first = github.repo.commit;
    await delivered(first);
    assert.equal((await w.state('summarizer'))?.live?.commit, first, 'the delivered push is live');

    const endpoint = editYaml(requireFile(w.files, ENDPOINT_FILE), [
      [['spec', 'target', 'sagemaker', 'instanceType'], 'ml.g5.4xlarge'],
    ]);
    const lost = github.push('main', { [ENDPOINT_FILE]: endpoint }, 'a push whose delivery never came');
    // The first look finds the unseen head; after the grace, the next one deploys it.
    for (const wait of [5, 5]) {
      await w.minutes(wait);
      await w.pipeline.reconcile().result;
      await w.settle();
    }
    await w.minutes(20);
    const state = await w.state('summarizer');
    assert.equal(state?.live?.commit, lost, 'the lost push is live');
    const entry = (await w.ledger('summarizer')).find((e) => e.commit === lost);
    assert.equal(entry?.outcome, 'deployed');
    assert.match(entry?.deliveryId ?? '', /^reconcile-/, 'the ledger says the reconciler found it');
    const refReads = github.requests.filter((r) => r.method === 'GET' && r.url.includes('/git/ref/heads/main'));
    assert.ok(refReads.length > 0, "the reconciler read the branch through GitHub's refs API");

    await w.minutes(5);
    await w.pipeline.reconcile().result;
    await w.settle();
    const started = w.pipeline.runner.executions('deploy').filter((e) => e.name.startsWith('missed-'));
    assert.equal(started.length, 1, 'started once');
  });
});
