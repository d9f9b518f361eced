import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, beforeEach, describe, it } from 'node:test';
import {
  CodeCommitClient,
  CreateCommitCommand,
  CreateRepositoryCommand,
  GetBranchCommand,
  GetPullRequestCommand,
  ListPullRequestsCommand,
} from '@aws-sdk/client-codecommit';
import { InvalidInputError, TransientError } from '../../../lambdas/aws/errors.ts';
import {
  MAX_WRITE_ATTEMPTS,
  rollbackBranchName,
  type WriteBackRequest,
  writeBack,
} from '../../../lambdas/sources/write-back.ts';
import { pullRequestToken } from '../../../lambdas/sources/write-back-codecommit.ts';
import { type CodeCommitSandbox, createCodeCommitService } from '../../../sandbox/services/codecommit.ts';
import { clientConfig, type SandboxTarget, startSandboxTarget } from '../../support/aws-targets.ts';
import {
  BAD,
  BODY,
  EXPECTED,
  GOOD,
  NEW,
  NEW_PROMPT,
  RESTORE,
  SUMMARIZER,
  TITLE,
} from '../../support/write-back-fixtures.ts';

const text = (value: string): Uint8Array => Buffer.from(value, 'utf8');

describe('writeBack on CodeCommit (the sandbox, real git underneath)', () => {
  let dir: string;
  let target: SandboxTarget;
  let service: CodeCommitSandbox | undefined;
  let client: CodeCommitClient;
  let repos = 0;

  before(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'ballast-write-back-'));
    target = await startSandboxTarget((ctx) => {
      service = createCodeCommitService(ctx, { reposDir: path.join(dir, 'repos') });
      return [service];
    });
    client = new CodeCommitClient(clientConfig(target.endpoint));
  });

  after(async () => {
    service?.close();
    client?.destroy();
    await target?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  beforeEach(() => target.faults.clear());

  /** A repository whose main has the good commit, then the bad one (summarizer changed, a prompt added). */
  async function seed(): Promise<{ repository: string; good: string; bad: string }> {
    repos += 1;
    const repository = `models-${repos}`;
    await client.send(new CreateRepositoryCommand({ repositoryName: repository }));
    const good = await client.send(
      new CreateCommitCommand({
        repositoryName: repository,
        branchName: 'main',
        commitMessage: 'good\n',
        putFiles: [
          { filePath: 'ballast.yaml', fileContent: text('kind: Repository\n') },
          { filePath: SUMMARIZER, fileContent: text(GOOD) },
        ],
      }),
    );
    const bad = await client.send(
      new CreateCommitCommand({
        repositoryName: repository,
        branchName: 'main',
        parentCommitId: good.commitId,
        commitMessage: 'bad\n',
        putFiles: [
          { filePath: SUMMARIZER, fileContent: text(BAD) },
          { filePath: NEW_PROMPT, fileContent: text(NEW) },
        ],
      }),
    );
    return { repository, good: good.commitId ?? '', bad: bad.commitId ?? '' };
  }

  function request(
    seeded: { repository: string; good: string; bad: string },
    overrides: Partial<WriteBackRequest> = {},
  ): WriteBackRequest {
    return {
      source: 'codecommit',
      repository: seeded.repository,
      branch: 'main',
      mode: 'revert-commit',
      badCommit: seeded.bad,
      goodCommit: seeded.good,
      restore: RESTORE,
      expected: EXPECTED,
      title: TITLE,
      body: BODY,
      idempotencyKey: `rollback-prod-summarizer-${repos}`,
      author: { name: 'Ballast', email: 'ballast@example.com' },
      ...overrides,
    };
  }

  const gitOf = (repository: string) => {
    const git = service?.git(repository);
    assert.ok(git, `the sandbox serves ${repository}`);
    return git;
  };

  async function head(repository: string, branch = 'main'): Promise<string> {
    const response = await client.send(new GetBranchCommand({ repositoryName: repository, branchName: branch }));
    return response.branch?.commitId ?? '';
  }

  /** A file's text at a commit, or undefined when the commit does not have it. */
  async function fileAt(repository: string, commit: string, file: string): Promise<string | undefined> {
    const git = gitOf(repository);
    const entry = await git.entry(commit, file);
    return entry ? (await git.readBlob(entry.id)).toString('utf8') : undefined;
  }

  /** Someone else's commit on main, touching none of the rolled-back files. */
  async function pushUnrelated(repository: string, file: string): Promise<string> {
    const response = await client.send(
      new CreateCommitCommand({
        repositoryName: repository,
        branchName: 'main',
        parentCommitId: await head(repository),
        commitMessage: `unrelated ${file}\n`,
        putFiles: [{ filePath: file, fileContent: text('x: 1\n') }],
      }),
    );
    return response.commitId ?? '';
  }

  /** A client that lets `beforeCreateCommit` run (up to `times` times) right before CreateCommit on main is sent. */
  function clientMovingMain(times: number, beforeCreateCommit: () => Promise<void>): CodeCommitClient {
    const moving = new CodeCommitClient(clientConfig(target.endpoint));
    let left = times;
    moving.middlewareStack.add(
      (next, context) => async (args) => {
        const input = args.input as { branchName?: string };
        if (context.commandName === 'CreateCommitCommand' && input.branchName === 'main' && left > 0) {
          left -= 1;
          await beforeCreateCommit();
        }
        return next(args);
      },
      { step: 'initialize', name: 'moveMainBeforeCreateCommit' },
    );
    return moving;
  }

  it('commits the good content on the head it read: parent, message, restored and deleted files', async () => {
    const seeded = await seed();
    const result = await writeBack(request(seeded), { codecommit: client });
    assert.equal(result.kind, 'committed');
    assert.ok(result.kind === 'committed');
    assert.equal(result.branch, 'main');
    assert.equal(await head(seeded.repository), result.commit, 'main is at the revert commit');
    const commit = await gitOf(seeded.repository).readCommit(result.commit);
    assert.deepEqual(commit?.parents, [seeded.bad], 'the revert is made on the bad commit');
    assert.equal(commit?.message, `${TITLE}\n\n${BODY}\n`);
    assert.equal(commit?.author.name, 'Ballast');
    assert.equal(commit?.author.email, 'ballast@example.com');
    assert.equal(await fileAt(seeded.repository, result.commit, SUMMARIZER), GOOD, 'the good content is back');
    assert.equal(
      await fileAt(seeded.repository, result.commit, NEW_PROMPT),
      undefined,
      'the file the good commit did not have is deleted',
    );
    assert.equal(
      await fileAt(seeded.repository, result.commit, 'ballast.yaml'),
      'kind: Repository\n',
      'other files are untouched',
    );
  });

  it('answers a retry after success with its own commit, and makes no second one', async () => {
    const seeded = await seed();
    const first = await writeBack(request(seeded), { codecommit: client });
    assert.ok(first.kind === 'committed', JSON.stringify(first));
    const headAfterFirst = await head(seeded.repository);
    const again = await writeBack(request(seeded), { codecommit: client });
    assert.deepEqual(again, first, 'the retry finds the commit by its message (the execution trailer)');
    assert.equal(await head(seeded.repository), headAfterFirst, 'no second commit');
  });

  it('answers skipped "already restored" when someone else restored the content first', async () => {
    const seeded = await seed();
    const first = await writeBack(request(seeded), { codecommit: client });
    assert.equal(first.kind, 'committed');
    const headAfterFirst = await head(seeded.repository);
    const other = await writeBack(
      { ...request(seeded), idempotencyKey: 'another-rollback', body: 'another' },
      { codecommit: client },
    );
    assert.ok(other.kind === 'skipped', JSON.stringify(other));
    assert.match(other.reason, /^already restored/);
    assert.equal(await head(seeded.repository), headAfterFirst, 'no second commit');
  });

  it('re-reads and commits on the new head when the branch moved between the read and CreateCommit', async () => {
    const seeded = await seed();
    let moved = '';
    const moving = clientMovingMain(1, async () => {
      moved = await pushUnrelated(seeded.repository, 'configs/other.yaml');
    });
    try {
      const result = await writeBack(request(seeded), { codecommit: moving });
      assert.ok(result.kind === 'committed', `committed, got ${JSON.stringify(result)}`);
      assert.ok(moved, 'the branch was moved once');
      const commit = await gitOf(seeded.repository).readCommit(result.commit);
      assert.deepEqual(commit?.parents, [moved], 'the revert is made on the head that moved in');
      assert.equal(await fileAt(seeded.repository, result.commit, SUMMARIZER), GOOD);
      assert.equal(await fileAt(seeded.repository, result.commit, 'configs/other.yaml'), 'x: 1\n', 'the push is kept');
    } finally {
      moving.destroy();
    }
  });

  it(`gives up with a TransientError when the branch moves on each of ${MAX_WRITE_ATTEMPTS} attempts`, async () => {
    const seeded = await seed();
    let pushes = 0;
    const moving = clientMovingMain(MAX_WRITE_ATTEMPTS, async () => {
      pushes += 1;
      await pushUnrelated(seeded.repository, `configs/other-${pushes}.yaml`);
    });
    try {
      await assert.rejects(writeBack(request(seeded), { codecommit: moving }), (error: unknown) => {
        assert.ok(error instanceof TransientError, String(error));
        assert.match(error.message, new RegExp(`CodeCommit repository ${seeded.repository}: main moved`));
        return true;
      });
      assert.equal(pushes, MAX_WRITE_ATTEMPTS);
      assert.equal(await fileAt(seeded.repository, await head(seeded.repository), SUMMARIZER), BAD, 'nothing written');
    } finally {
      moving.destroy();
    }
  });

  it('reports its own commit when CreateCommit landed but the answer was lost and the SDK retried', async () => {
    const seeded = await seed();
    target.faults.add({ service: 'codecommit', operation: 'CreateCommit', kind: 'lost-response', times: 1 });
    const retrying = new CodeCommitClient({ ...clientConfig(target.endpoint), maxAttempts: 2 });
    try {
      const result = await writeBack(request(seeded), { codecommit: retrying });
      assert.ok(result.kind === 'committed', `committed, got ${JSON.stringify(result)}`);
      assert.equal(result.commit, await head(seeded.repository));
      const commit = await gitOf(seeded.repository).readCommit(result.commit);
      assert.deepEqual(commit?.parents, [seeded.bad], 'one revert commit, on the bad commit');
    } finally {
      retrying.destroy();
    }
  });

  it('skips when a human already reverted the branch', async () => {
    const seeded = await seed();
    const reverted = await client.send(
      new CreateCommitCommand({
        repositoryName: seeded.repository,
        branchName: 'main',
        parentCommitId: seeded.bad,
        commitMessage: 'Revert "bad"\n',
        putFiles: [{ filePath: SUMMARIZER, fileContent: text(GOOD) }],
        deleteFiles: [{ filePath: NEW_PROMPT }],
      }),
    );
    const result = await writeBack(request(seeded), { codecommit: client });
    assert.ok(result.kind === 'skipped', `skipped, got ${JSON.stringify(result)}`);
    assert.match(result.reason, /^already restored/);
    assert.equal(await head(seeded.repository), reverted.commitId, 'the human revert stays the head');
  });

  it('skips, naming the file, when a human changed it differently since the bad commit', async () => {
    const seeded = await seed();
    const fixed = await client.send(
      new CreateCommitCommand({
        repositoryName: seeded.repository,
        branchName: 'main',
        parentCommitId: seeded.bad,
        commitMessage: 'fix forward\n',
        putFiles: [{ filePath: SUMMARIZER, fileContent: text(`${BAD}  # fixed forward\n`) }],
      }),
    );
    const result = await writeBack(request(seeded), { codecommit: client });
    assert.ok(result.kind === 'skipped', `skipped, got ${JSON.stringify(result)}`);
    assert.match(result.reason, new RegExp(`^${SUMMARIZER} changed on main since the rolled-back commit`));
    assert.match(result.reason, /nothing was written/);
    assert.equal(await head(seeded.repository), fixed.commitId, 'the human commit stays the head');
  });

  it('skips, naming the file, when a human deleted a file the rollback restores', async () => {
    const seeded = await seed();
    await client.send(
      new CreateCommitCommand({
        repositoryName: seeded.repository,
        branchName: 'main',
        parentCommitId: seeded.bad,
        deleteFiles: [{ filePath: SUMMARIZER }],
      }),
    );
    const result = await writeBack(request(seeded), { codecommit: client });
    assert.ok(result.kind === 'skipped', `skipped, got ${JSON.stringify(result)}`);
    assert.match(result.reason, new RegExp(`^${SUMMARIZER} changed on main .*: it was deleted`));
  });

  it('opens a pull request from the rollback branch into main, leaving main untouched, once', async () => {
    const seeded = await seed();
    const input = request(seeded, { mode: 'pull-request' });
    const result = await writeBack(input, { codecommit: client });
    assert.ok(result.kind === 'pull-request', `a pull request, got ${JSON.stringify(result)}`);
    assert.equal(result.branch, rollbackBranchName(input.idempotencyKey));
    assert.equal(await head(seeded.repository), seeded.bad, 'main is untouched');
    assert.equal(await head(seeded.repository, result.branch), result.commit, 'the rollback branch has the commit');
    const commit = await gitOf(seeded.repository).readCommit(result.commit);
    assert.deepEqual(commit?.parents, [seeded.bad], 'the rollback commit is made on main');
    assert.equal(await fileAt(seeded.repository, result.commit, SUMMARIZER), GOOD);
    assert.equal(await fileAt(seeded.repository, result.commit, NEW_PROMPT), undefined);

    const { pullRequest } = await client.send(new GetPullRequestCommand({ pullRequestId: result.pullRequest }));
    assert.equal(pullRequest?.title, TITLE);
    assert.equal(pullRequest?.description, BODY);
    assert.equal(pullRequest?.pullRequestStatus, 'OPEN');
    assert.equal(
      pullRequest?.clientRequestToken,
      pullRequestToken(seeded.repository, result.branch, 'main', input.idempotencyKey),
    );
    const [targetOfPr] = pullRequest?.pullRequestTargets ?? [];
    assert.equal(targetOfPr?.sourceReference, `refs/heads/${result.branch}`);
    assert.equal(targetOfPr?.destinationReference, 'refs/heads/main');
    assert.equal(targetOfPr?.sourceCommit, result.commit);

    const again = await writeBack(input, { codecommit: client });
    assert.deepEqual(again, result, 'a retry returns the same branch, commit and pull request');
    const listed = await client.send(new ListPullRequestsCommand({ repositoryName: seeded.repository }));
    assert.deepEqual(listed.pullRequestIds, [result.pullRequest], 'one pull request');
  });

  it('finishes a pull request whose branch an earlier attempt created but did not commit to', async () => {
    const seeded = await seed();
    const input = request(seeded, { mode: 'pull-request' });
    // The earlier attempt: CreateBranch went through, then the Lambda timed out.
    target.faults.add({ service: 'codecommit', operation: 'CreateCommit', kind: 'server-error' });
    await assert.rejects(writeBack(input, { codecommit: client }), TransientError);
    target.faults.clear();
    assert.equal(await head(seeded.repository, rollbackBranchName(input.idempotencyKey)), seeded.bad);
    const result = await writeBack(input, { codecommit: client });
    assert.ok(result.kind === 'pull-request', `a pull request, got ${JSON.stringify(result)}`);
    assert.equal(await fileAt(seeded.repository, result.commit, SUMMARIZER), GOOD);
    assert.equal(await head(seeded.repository), seeded.bad, 'main is untouched');
  });

  it('refuses a missing branch, a missing repository and a file over the 6 MB API limit before writing', async () => {
    const seeded = await seed();
    await assert.rejects(writeBack(request(seeded, { branch: 'prod' }), { codecommit: client }), (error: unknown) => {
      assert.ok(error instanceof InvalidInputError, String(error));
      assert.match(error.message, new RegExp(`CodeCommit repository ${seeded.repository}: there is no branch 'prod'`));
      return true;
    });
    await assert.rejects(
      writeBack(request(seeded, { repository: 'no-such-repo' }), { codecommit: client }),
      (error: unknown) => {
        assert.ok(error instanceof InvalidInputError, String(error));
        assert.match(error.message, /no-such-repo.*RepositoryDoesNotExistException/);
        return true;
      },
    );
    const huge = 'x'.repeat(6 * 1024 * 1024 + 1);
    await assert.rejects(
      writeBack(request(seeded, { restore: { [SUMMARIZER]: huge, [NEW_PROMPT]: null } }), { codecommit: client }),
      (error: unknown) => {
        assert.ok(error instanceof InvalidInputError, String(error));
        assert.match(error.message, new RegExp(`'${SUMMARIZER}' is ${huge.length} bytes`));
        return true;
      },
    );
    assert.equal(await head(seeded.repository), seeded.bad, 'nothing written');
  });
});
