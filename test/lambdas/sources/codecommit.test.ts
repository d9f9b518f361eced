import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, beforeEach, describe, it } from 'node:test';
import { CodeCommitClient, GetCommentsForComparedCommitCommand } from '@aws-sdk/client-codecommit';
import { InvalidInputError, TransientError } from '../../../lambdas/aws/errors.ts';
import {
  codeCommitSource,
  commentRequestToken,
  MAX_COMMENT_CHARS,
  postCodeCommitComment,
  pushFromCodeCommitEvent,
  SIZE_NOT_MEASURED,
  SIZE_OVER_API_LIMIT,
} from '../../../lambdas/sources/codecommit.ts';
import { pushFromWorkflowInput } from '../../../lambdas/sources/index.ts';
import { RepoSourceError } from '../../../lambdas/spec/source.ts';
import { type CodeCommitSandbox, createCodeCommitService } from '../../../sandbox/services/codecommit.ts';
import { clientConfig, type SandboxTarget, startSandboxTarget } from '../../support/aws-targets.ts';

const NEW = '3e5983a7b2f5c4d6e8f9a0b1c2d3e4f5a6b7c8d9';
const OLD = '1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a0b';

/** The referenceUpdated example of the CodeCommit User Guide ("Monitoring CodeCommit events"), with real-length ids. */
function referenceUpdated(detail: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    version: '0',
    id: '01234567-0123-0123-0123-012345678901',
    'detail-type': 'CodeCommit Repository State Change',
    source: 'aws.codecommit',
    account: '123456789012',
    time: '2019-06-12T10:23:43Z',
    region: 'us-east-2',
    resources: ['arn:aws:codecommit:us-east-2:123456789012:MyDemoRepo'],
    detail: {
      callerUserArn: 'arn:aws:sts::123456789012:assumed-role/Admin/Mary_Major',
      commitId: NEW,
      event: 'referenceUpdated',
      oldCommitId: OLD,
      referenceFullName: 'refs/heads/myBranch',
      referenceName: 'myBranch',
      referenceType: 'branch',
      repositoryId: '12345678-1234-5678-abcd-12345678abcd',
      repositoryName: 'MyDemoRepo',
      ...detail,
    },
  };
}

describe('pushFromCodeCommitEvent', () => {
  it('normalises a branch update', () => {
    assert.deepEqual(pushFromCodeCommitEvent(referenceUpdated()), {
      source: 'codecommit',
      repository: 'MyDemoRepo',
      branch: 'myBranch',
      commit: NEW,
      previousCommit: OLD,
      pushedBy: 'arn:aws:sts::123456789012:assumed-role/Admin/Mary_Major',
      pushedAt: '2019-06-12T10:23:43.000Z',
      deliveryId: '01234567-0123-0123-0123-012345678901',
    });
  });

  it('normalises a branch creation without oldCommitId or callerUserArn (as in AWS’s own example)', () => {
    const event = referenceUpdated({ event: 'referenceCreated' });
    const detail = event.detail as Record<string, unknown>;
    delete detail.oldCommitId;
    delete detail.callerUserArn;
    const push = pushFromCodeCommitEvent(event);
    assert.ok(!('ignored' in push));
    assert.equal(push.previousCommit, undefined);
    assert.equal(push.pushedBy, 'unknown');
    assert.equal(push.commit, NEW);
  });

  it('lower-cases commit ids and drops an all-zero old id', () => {
    const push = pushFromCodeCommitEvent(
      referenceUpdated({ commitId: NEW.toUpperCase(), oldCommitId: '0'.repeat(40) }),
    );
    assert.ok(!('ignored' in push));
    assert.equal(push.commit, NEW);
    assert.equal(push.previousCommit, undefined);
  });

  it('ignores deletions, tags, other reference events and other detail-types', () => {
    assert.deepEqual(pushFromCodeCommitEvent(referenceUpdated({ event: 'referenceDeleted', commitId: undefined })), {
      ignored: "branch 'myBranch' was deleted",
    });
    assert.deepEqual(
      pushFromCodeCommitEvent(
        referenceUpdated({
          referenceType: 'tag',
          referenceName: 'v1',
          referenceFullName: 'refs/tags/v1',
          event: 'referenceCreated',
        }),
      ),
      { ignored: "tag 'v1' is not a branch" },
    );
    // The User Guide's unreferencedMergeCommitCreated detail has no reference fields at all.
    const merge = {
      ...referenceUpdated(),
      detail: {
        event: 'unreferencedMergeCommitCreated',
        repositoryName: 'MyDemoRepo',
        repositoryId: '12345678-1234-5678-abcd-12345678abcd',
        callerUserArn: 'arn:aws:sts::123456789012:assumed-role/Admin/Mary_Major',
        commitId: NEW,
        destinationCommitId: OLD,
        mergeOption: 'SQUASH_MERGE',
        sourceCommitId: NEW,
      },
    };
    assert.deepEqual(pushFromCodeCommitEvent(merge), {
      ignored: "CodeCommit 'unreferencedMergeCommitCreated' events do not move a branch",
    });
    assert.deepEqual(
      pushFromCodeCommitEvent({ ...referenceUpdated(), 'detail-type': 'CodeCommit Comment on Commit' }),
      {
        ignored: "CodeCommit event 'CodeCommit Comment on Commit' is not a repository state change",
      },
    );
  });

  it('rejects malformed events with InvalidInputError', () => {
    const cases: Array<[string, unknown]> = [
      ['null', null],
      ['a string', 'referenceUpdated'],
      ['another source', { ...referenceUpdated(), source: 'aws.s3' }],
      ['no detail', { ...referenceUpdated(), detail: undefined }],
      ['no event kind', referenceUpdated({ event: undefined })],
      ['no commit', referenceUpdated({ commitId: undefined })],
      ['abbreviated commit', referenceUpdated({ commitId: '3e5983a' })],
      ['placeholder commit', referenceUpdated({ commitId: '3e5983DESTINATION' })],
      ['bad old commit', referenceUpdated({ oldCommitId: 'main' })],
      ['no repository', referenceUpdated({ repositoryName: undefined })],
      ['bad repository', referenceUpdated({ repositoryName: 'a/b' })],
      ['full name mismatch', referenceUpdated({ referenceFullName: 'refs/heads/other' })],
      ['no id', { ...referenceUpdated(), id: undefined }],
      ['bad time', { ...referenceUpdated(), time: 'yesterday' }],
      ['numeric branch', referenceUpdated({ referenceName: 7 })],
    ];
    for (const [name, event] of cases) assert.throws(() => pushFromCodeCommitEvent(event), InvalidInputError, name);
  });

  it('is what pushFromWorkflowInput does with a CodeCommit event; a GitHub input is checked too', () => {
    assert.deepEqual(pushFromWorkflowInput(referenceUpdated()), pushFromCodeCommitEvent(referenceUpdated()));
    const push = {
      source: 'github',
      repository: 'octo-org/models',
      branch: 'main',
      commit: NEW,
      pushedBy: 'octocat',
      pushedAt: '2024-05-01T12:00:00Z',
      deliveryId: '72d3162e-cc78-11e3-81ab-4c9367dc0958',
    };
    assert.deepEqual(pushFromWorkflowInput({ source: 'github', push }), {
      ...push,
      pushedAt: '2024-05-01T12:00:00.000Z',
    });
    assert.throws(
      () => pushFromWorkflowInput({ source: 'github', push: { ...push, commit: 'main' } }),
      InvalidInputError,
    );
    assert.throws(
      () => pushFromWorkflowInput({ source: 'github', push: { ...push, source: 'codecommit' } }),
      InvalidInputError,
    );
    assert.throws(() => pushFromWorkflowInput({ hello: 'world' }), InvalidInputError);
  });
});

// ---------------------------------------------------------------------------------------------
// Against the Ballast CodeCommit sandbox, through the real SDK
// ---------------------------------------------------------------------------------------------

function git(cwd: string, ...args: string[]): string {
  return execFileSync(
    'git',
    ['-c', 'user.name=Ballast Test', '-c', 'user.email=test@example.com', '-c', 'commit.gpgsign=false', ...args],
    { cwd, encoding: 'utf8', env: { PATH: process.env.PATH ?? '', HOME: cwd, GIT_CONFIG_NOSYSTEM: '1' } },
  ).trim();
}

interface Call {
  readonly command: string;
  readonly input: Record<string, unknown>;
}

describe('codeCommitSource and postCodeCommitComment against the CodeCommit sandbox', () => {
  let dir: string;
  let target: SandboxTarget;
  let client: CodeCommitClient;
  let first: string;
  let second: string;
  let work: string;
  let service: CodeCommitSandbox | undefined;
  const calls: Call[] = [];
  let inFlight = 0;
  let maxInFlight = 0;
  const ballastV1 = 'apiVersion: ballast.dev/v1\nkind: Repository\nmetadata:\n  name: demo\n';
  const ballastV2 = `${ballastV1}spec: {}\n`;
  const llama = 'kind: Model\nmetadata:\n  name: llama\n';
  const deep = 'kind: Prompt\n';

  before(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'ballast-codecommit-source-'));
    work = path.join(dir, 'work');
    mkdirSync(path.join(work, 'models/deep'), { recursive: true });
    mkdirSync(path.join(work, 'scripts'), { recursive: true });
    mkdirSync(path.join(work, '.github'), { recursive: true });
    mkdirSync(path.join(work, 'node_modules/pkg'), { recursive: true });
    git(work, 'init', '-q', '-b', 'main');
    writeFileSync(path.join(work, 'ballast.yaml'), ballastV1);
    writeFileSync(path.join(work, 'models/llama.yaml'), llama);
    writeFileSync(path.join(work, 'models/deep/b.yml'), deep);
    writeFileSync(path.join(work, 'scripts/run.sh'), '#!/bin/sh\n');
    writeFileSync(path.join(work, 'README.md'), '# demo\n');
    writeFileSync(path.join(work, '.hidden.yaml'), 'x: 1\n');
    writeFileSync(path.join(work, '.github/ci.yaml'), 'on: push\n');
    writeFileSync(path.join(work, 'node_modules/pkg/x.yaml'), 'x: 1\n');
    writeFileSync(path.join(work, 'big.yaml'), `# ${'b'.repeat(4997)}\n`);
    writeFileSync(path.join(work, 'huge.yaml'), Buffer.alloc(6 * 1024 * 1024 + 1, 0x61));
    symlinkSync('ballast.yaml', path.join(work, 'linked.yaml'));
    git(work, 'add', '-A');
    // A submodule entry (gitlink), as `git submodule add` would record it.
    git(work, 'update-index', '--add', '--cacheinfo', `160000,${'c'.repeat(40)},vendor`);
    git(work, 'commit', '-q', '-m', 'first');
    first = git(work, 'rev-parse', 'HEAD');
    writeFileSync(path.join(work, 'ballast.yaml'), ballastV2);
    git(work, 'commit', '-q', '-am', 'second');
    second = git(work, 'rev-parse', 'HEAD');

    target = await startSandboxTarget((ctx) => {
      service = createCodeCommitService(ctx, { reposDir: path.join(dir, 'repos') });
      return [service];
    });
    assert.ok(service);
    await service.ready();
    await service.registerRepository('models', work);

    client = new CodeCommitClient(clientConfig(target.endpoint));
    client.middlewareStack.add(
      (next, context) => async (args) => {
        calls.push({ command: String(context.commandName), input: args.input as Record<string, unknown> });
        inFlight += 1;
        maxInFlight = Math.max(maxInFlight, inFlight);
        try {
          return await next(args);
        } finally {
          inFlight -= 1;
        }
      },
      { step: 'initialize', name: 'recordCalls' },
    );
  });

  after(async () => {
    await target?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  beforeEach(() => {
    calls.length = 0;
    maxInFlight = 0;
    target.faults.clear();
  });

  it('lists the tree at the commit, measuring only the files the validator reads', async () => {
    const source = codeCommitSource(client, 'models', first, { maxReadBytes: 1000, concurrency: 2 });
    const entries = await source.list();
    assert.deepEqual(entries, [
      { path: '.hidden.yaml', kind: 'file', size: SIZE_NOT_MEASURED },
      { path: 'README.md', kind: 'file', size: SIZE_NOT_MEASURED },
      { path: 'ballast.yaml', kind: 'file', size: Buffer.byteLength(ballastV1) },
      { path: 'big.yaml', kind: 'file', size: 5000 },
      { path: 'huge.yaml', kind: 'file', size: SIZE_OVER_API_LIMIT },
      { path: 'linked.yaml', kind: 'symlink', size: 0 },
      { path: 'models/deep/b.yml', kind: 'file', size: Buffer.byteLength(deep) },
      { path: 'models/llama.yaml', kind: 'file', size: Buffer.byteLength(llama) },
      { path: 'scripts/run.sh', kind: 'file', size: SIZE_NOT_MEASURED },
      { path: 'vendor', kind: 'other', size: 0 },
    ]);
    // Every call names the commit, never a branch; hidden folders and node_modules are not walked.
    assert.ok(calls.every((c) => c.input.commitSpecifier === first && c.input.repositoryName === 'models'));
    assert.deepEqual(
      calls.filter((c) => c.command === 'GetFolderCommand').map((c) => c.input.folderPath),
      ['/', '/models', '/scripts', '/models/deep'],
    );
    assert.deepEqual(
      calls
        .filter((c) => c.command === 'GetFileCommand')
        .map((c) => c.input.filePath)
        .sort(),
      ['ballast.yaml', 'big.yaml', 'huge.yaml', 'models/deep/b.yml', 'models/llama.yaml'],
    );
    assert.ok(maxInFlight <= 2, `at most 2 calls in flight, saw ${maxInFlight}`);
  });

  it('reads the files of the commit it was made for, from the listing cache when measured', async () => {
    const source = codeCommitSource(client, 'models', first);
    await source.list();
    calls.length = 0;
    assert.equal(new TextDecoder().decode(await source.read('ballast.yaml')), ballastV1, 'the first commit, not main');
    assert.equal(new TextDecoder().decode(await source.read('models/llama.yaml')), llama);
    assert.equal(calls.length, 0, 'measured files come from the cache');
    assert.equal(new TextDecoder().decode(await source.read('README.md')), '# demo\n');
    assert.deepEqual(
      calls.map((c) => [c.command, c.input.filePath, c.input.commitSpecifier]),
      [['GetFileCommand', 'README.md', first]],
    );
    assert.equal(
      new TextDecoder().decode(await codeCommitSource(client, 'models', second).read('ballast.yaml')),
      ballastV2,
    );
  });

  it('refuses symlinks, oversized, missing and unsafe paths', async () => {
    const source = codeCommitSource(client, 'models', first, { maxReadBytes: 1000 });
    for (const [file, pattern] of [
      ['linked.yaml', /symlink/],
      ['big.yaml', /5000 bytes is over the 1000-byte limit/],
      ['huge.yaml', /6 MB/],
      ['missing.yaml', /no file/],
      ['../outside.yaml', /not a path inside/],
      ['/ballast.yaml', /not a path inside/],
    ] as const) {
      await assert.rejects(
        source.read(file),
        (error: unknown) => error instanceof RepoSourceError && pattern.test(error.message),
        file,
      );
    }
  });

  it('reports a missing repository or commit as InvalidInputError and never takes a branch', async () => {
    await assert.rejects(codeCommitSource(client, 'models', 'f'.repeat(40)).list(), InvalidInputError);
    await assert.rejects(codeCommitSource(client, 'nope', first).list(), InvalidInputError);
    assert.throws(() => codeCommitSource(client, 'models', 'main'), InvalidInputError);
  });

  it('turns throttling into TransientError and does not cache the failure', async () => {
    target.faults.add({ service: 'codecommit', operation: 'GetFolder', kind: 'throttle', times: 1 });
    const source = codeCommitSource(client, 'models', first);
    await assert.rejects(source.list(), TransientError);
    assert.equal((await source.list()).length, 10);
  });

  it('normalises the events the sandbox emits for an outside git commit', async () => {
    writeFileSync(path.join(work, 'models/llama.yaml'), `${llama}spec: {}\n`);
    git(work, 'commit', '-q', '-am', 'third');
    const third = git(work, 'rev-parse', 'HEAD');
    const events = (await service?.detectReferenceChanges('models')) ?? [];
    assert.equal(events.length, 1);
    const push = pushFromCodeCommitEvent(events[0]);
    assert.ok(!('ignored' in push));
    assert.equal(push.repository, 'models');
    assert.equal(push.branch, 'main');
    assert.equal(push.commit, third);
    assert.equal(push.previousCommit, second);
    assert.equal(push.deliveryId, events[0]?.id);
  });

  it('posts one comment per (commit, execution, outcome), whatever the retries', async () => {
    const input = {
      repositoryName: 'models',
      commitId: second,
      beforeCommitId: first,
      content: 'Ballast: deployed to prod',
      execution: 'github-72d3162e',
      outcome: 'deployed',
    };
    const posted = await postCodeCommitComment(client, input);
    assert.ok(posted.commentId);
    assert.equal(posted.alreadyPosted, false);
    const again = await postCodeCommitComment(client, input);
    assert.equal(again.commentId, posted.commentId, 'the same token answers with the first comment');
    const changed = await postCodeCommitComment(client, { ...input, content: 'something else' });
    assert.deepEqual(changed, { commentId: undefined, alreadyPosted: true });
    const post = calls.find((c) => c.command === 'PostCommentForComparedCommitCommand');
    assert.equal(post?.input.clientRequestToken, commentRequestToken(input));

    const listed = await client.send(
      new GetCommentsForComparedCommitCommand({
        repositoryName: 'models',
        beforeCommitId: first,
        afterCommitId: second,
      }),
    );
    const comments = (listed.commentsForComparedCommitData ?? []).flatMap((d) => d.comments ?? []);
    assert.equal(comments.length, 1);
    assert.equal(comments[0]?.content, 'Ballast: deployed to prod');
  });

  it('finds the parent when no before commit is given, posts on a root commit, and cuts long comments', async () => {
    const derived = await postCodeCommitComment(client, {
      repositoryName: 'models',
      commitId: second,
      content: 'x'.repeat(MAX_COMMENT_CHARS + 500),
      execution: 'exec-2',
      outcome: 'rejected',
    });
    assert.ok(derived.commentId);
    const post = calls.filter((c) => c.command === 'PostCommentForComparedCommitCommand').at(-1);
    assert.equal(post?.input.beforeCommitId, first);
    assert.equal(String(post?.input.content).length, MAX_COMMENT_CHARS);
    assert.ok(String(post?.input.content).endsWith('(truncated)'));

    const root = await postCodeCommitComment(client, {
      repositoryName: 'models',
      commitId: first,
      content: 'first!',
      execution: 'exec-3',
      outcome: 'deployed',
    });
    assert.ok(root.commentId);
    assert.equal(
      calls.filter((c) => c.command === 'PostCommentForComparedCommitCommand').at(-1)?.input.beforeCommitId,
      undefined,
    );
  });
});
