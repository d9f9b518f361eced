import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  CodeCommitClient,
  CreateBranchCommand,
  CreateCommitCommand,
  CreatePullRequestCommand,
  CreateRepositoryCommand,
  GetPullRequestCommand,
  ListPullRequestsCommand,
} from '@aws-sdk/client-codecommit';
import { type CodeCommitSandbox, createCodeCommitService } from '../../sandbox/services/codecommit.ts';
import { clientConfig, type SandboxTarget, startSandboxTarget } from '../support/aws-targets.ts';

/** Asserts the SDK call fails with this AWS error code (the SDK names the exception after it). */
async function rejectsWith(promise: Promise<unknown>, code: string): Promise<void> {
  await assert.rejects(promise, (error: unknown) => {
    assert.equal((error as { name?: string }).name, code, String(error));
    return true;
  });
}

const text = (value: string): Uint8Array => Buffer.from(value, 'utf8');

describe('CodeCommit sandbox pull requests through @aws-sdk/client-codecommit', () => {
  let dir: string;
  let target: SandboxTarget;
  let service: CodeCommitSandbox | undefined;
  let client: CodeCommitClient;
  let base: string;
  let feature: string;

  before(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'ballast-codecommit-prs-'));
    target = await startSandboxTarget((ctx) => {
      service = createCodeCommitService(ctx, { reposDir: path.join(dir, 'repos') });
      return [service];
    });
    client = new CodeCommitClient(clientConfig(target.endpoint));
    await client.send(new CreateRepositoryCommand({ repositoryName: 'models' }));
    await client.send(new CreateRepositoryCommand({ repositoryName: 'other' }));
    const first = await client.send(
      new CreateCommitCommand({
        repositoryName: 'models',
        branchName: 'main',
        putFiles: [{ filePath: 'ballast.yaml', fileContent: text('a: 1\n') }],
      }),
    );
    base = first.commitId ?? '';
    await client.send(new CreateBranchCommand({ repositoryName: 'models', branchName: 'feature', commitId: base }));
    const second = await client.send(
      new CreateCommitCommand({
        repositoryName: 'models',
        branchName: 'feature',
        parentCommitId: base,
        putFiles: [{ filePath: 'ballast.yaml', fileContent: text('a: 2\n') }],
      }),
    );
    feature = second.commitId ?? '';
    await client.send(new CreateBranchCommand({ repositoryName: 'models', branchName: 'tagged', commitId: base }));
  });

  after(async () => {
    service?.close();
    client?.destroy();
    await target?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('creates a pull request with full references, commits and merge base, and gets it by id', async () => {
    const created = await client.send(
      new CreatePullRequestCommand({
        title: 'Roll back summarizer',
        description: 'The 5xx alarm fired.',
        targets: [{ repositoryName: 'models', sourceReference: 'feature', destinationReference: 'refs/heads/main' }],
        clientRequestToken: 'token-1',
      }),
    );
    const pr = created.pullRequest;
    assert.ok(pr?.pullRequestId, 'the pull request has an id');
    assert.match(pr.pullRequestId, /^[0-9]+$/);
    assert.equal(pr.title, 'Roll back summarizer');
    assert.equal(pr.description, 'The 5xx alarm fired.');
    assert.equal(pr.pullRequestStatus, 'OPEN');
    assert.equal(pr.clientRequestToken, 'token-1');
    assert.ok(pr.creationDate instanceof Date, 'dates are timestamps');
    assert.deepEqual(pr.pullRequestTargets, [
      {
        repositoryName: 'models',
        sourceReference: 'refs/heads/feature',
        destinationReference: 'refs/heads/main',
        sourceCommit: feature,
        destinationCommit: base,
        mergeBase: base,
        mergeMetadata: { isMerged: false },
      },
    ]);

    const got = await client.send(new GetPullRequestCommand({ pullRequestId: pr.pullRequestId }));
    assert.equal(got.pullRequest?.title, 'Roll back summarizer');
    assert.equal(got.pullRequest?.pullRequestTargets?.[0]?.sourceCommit, feature);
    const events = target.events.events().filter((e) => e['detail-type'] === 'CodeCommit Pull Request State Change');
    assert.equal(events.length, 1, 'one pullRequestCreated event');
    assert.equal((events[0]?.detail as { event?: string } | undefined)?.event, 'pullRequestCreated');
  });

  it('answers a repeated clientRequestToken with the first pull request, and refuses it with other parameters', async () => {
    const input = {
      title: 'Same request',
      targets: [{ repositoryName: 'models', sourceReference: 'feature', destinationReference: 'main' }],
      clientRequestToken: 'token-2',
    };
    const first = await client.send(new CreatePullRequestCommand(input));
    const again = await client.send(new CreatePullRequestCommand(input));
    assert.equal(again.pullRequest?.pullRequestId, first.pullRequest?.pullRequestId);
    await rejectsWith(
      client.send(new CreatePullRequestCommand({ ...input, title: 'Another title' })),
      'IdempotencyParameterMismatchException',
    );
  });

  it('lists pull request ids newest first, by status, in pages', async () => {
    const all = await client.send(new ListPullRequestsCommand({ repositoryName: 'models' }));
    const ids = all.pullRequestIds ?? [];
    assert.ok(ids.length >= 2, `at least the two pull requests created above, got ${ids.length}`);
    assert.deepEqual(
      ids,
      [...ids].sort((a, b) => Number(b) - Number(a)),
    );
    const open = await client.send(
      new ListPullRequestsCommand({ repositoryName: 'models', pullRequestStatus: 'OPEN' }),
    );
    assert.deepEqual(open.pullRequestIds, ids);
    const closed = await client.send(
      new ListPullRequestsCommand({ repositoryName: 'models', pullRequestStatus: 'CLOSED' }),
    );
    assert.deepEqual(closed.pullRequestIds, []);
    const page = await client.send(new ListPullRequestsCommand({ repositoryName: 'models', maxResults: 1 }));
    assert.deepEqual(page.pullRequestIds, ids.slice(0, 1));
    assert.ok(page.nextToken, 'a next page');
    const rest = await client.send(
      new ListPullRequestsCommand({ repositoryName: 'models', maxResults: 1, nextToken: page.nextToken }),
    );
    assert.deepEqual(rest.pullRequestIds, ids.slice(1, 2));
    const elsewhere = await client.send(new ListPullRequestsCommand({ repositoryName: 'other' }));
    assert.deepEqual(elsewhere.pullRequestIds, [], 'pull requests belong to their repository');
  });

  it('validates targets, references, title and description as CodeCommit documents', async () => {
    const create = (input: Record<string, unknown>) =>
      client.send(
        new CreatePullRequestCommand({
          title: 'x',
          targets: [{ repositoryName: 'models', sourceReference: 'feature', destinationReference: 'main' }],
          ...input,
        } as never),
      );
    const cases: Array<[Record<string, unknown>, string]> = [
      [{ title: '' }, 'TitleRequiredException'],
      [{ title: 't'.repeat(151) }, 'InvalidTitleException'],
      [{ description: 'd'.repeat(10_241) }, 'InvalidDescriptionException'],
      [{ targets: [] }, 'TargetsRequiredException'],
      [
        {
          targets: [
            { repositoryName: 'models', sourceReference: 'feature', destinationReference: 'main' },
            { repositoryName: 'other', sourceReference: 'feature', destinationReference: 'main' },
          ],
        },
        'MultipleRepositoriesInPullRequestException',
      ],
      [{ targets: [{ repositoryName: 'missing', sourceReference: 'feature' }] }, 'RepositoryDoesNotExistException'],
      [{ targets: [{ repositoryName: 'models', sourceReference: 'nope' }] }, 'ReferenceDoesNotExistException'],
      [{ targets: [{ repositoryName: 'models', sourceReference: 'a..b' }] }, 'InvalidReferenceNameException'],
      [
        { targets: [{ repositoryName: 'models', sourceReference: 'refs/tags/v1' }] },
        'ReferenceTypeNotSupportedException',
      ],
      [
        { targets: [{ repositoryName: 'models', sourceReference: 'main', destinationReference: 'refs/heads/main' }] },
        'SourceAndDestinationAreSameException',
      ],
    ];
    for (const [input, code] of cases) await rejectsWith(create(input), code);
    await rejectsWith(
      client.send(new GetPullRequestCommand({ pullRequestId: 'abc' })),
      'InvalidPullRequestIdException',
    );
    await rejectsWith(
      client.send(new GetPullRequestCommand({ pullRequestId: '999999' })),
      'PullRequestDoesNotExistException',
    );
    await rejectsWith(
      client.send(new ListPullRequestsCommand({ repositoryName: 'models', pullRequestStatus: 'MERGED' as never })),
      'InvalidPullRequestStatusException',
    );
    await rejectsWith(
      client.send(new ListPullRequestsCommand({ repositoryName: 'models', maxResults: 0 })),
      'InvalidMaxResultsException',
    );
  });

  it('targets the default branch when no destination is given, and follows the source branch while open', async () => {
    const created = await client.send(
      new CreatePullRequestCommand({
        title: 'Default destination',
        targets: [{ repositoryName: 'models', sourceReference: 'tagged' }],
      }),
    );
    const id = created.pullRequest?.pullRequestId ?? '';
    assert.equal(created.pullRequest?.pullRequestTargets?.[0]?.destinationReference, 'refs/heads/main');
    const moved = await client.send(
      new CreateCommitCommand({
        repositoryName: 'models',
        branchName: 'tagged',
        parentCommitId: base,
        putFiles: [{ filePath: 'other.yaml', fileContent: text('b: 1\n') }],
      }),
    );
    const got = await client.send(new GetPullRequestCommand({ pullRequestId: id }));
    assert.equal(got.pullRequest?.pullRequestTargets?.[0]?.sourceCommit, moved.commitId);
  });
});
