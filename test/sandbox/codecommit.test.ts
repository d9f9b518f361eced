import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  CodeCommitClient,
  CreateBranchCommand,
  CreateCommitCommand,
  CreateRepositoryCommand,
  GetBranchCommand,
  GetCommentsForComparedCommitCommand,
  GetCommitCommand,
  GetDifferencesCommand,
  GetFileCommand,
  GetFolderCommand,
  GetRepositoryCommand,
  ListBranchesCommand,
  ListRepositoriesCommand,
  PostCommentForComparedCommitCommand,
} from '@aws-sdk/client-codecommit';
import { VirtualClock } from '../../sandbox/clock.ts';
import { type EventBridgeEvent, EventBus } from '../../sandbox/events.ts';
import { FaultInjector } from '../../sandbox/faults.ts';
import { runGit } from '../../sandbox/git.ts';
import { RequestLog } from '../../sandbox/request-log.ts';
import { SandboxServer } from '../../sandbox/server.ts';
import { type CodeCommitSandbox, createCodeCommitService } from '../../sandbox/services/codecommit.ts';

const ACCOUNT = '123456789012';
const REGION = 'us-east-1';
const cliIdentity = {
  GIT_AUTHOR_NAME: 'Grace Hopper',
  GIT_AUTHOR_EMAIL: 'grace@example.com',
  GIT_COMMITTER_NAME: 'Grace Hopper',
  GIT_COMMITTER_EMAIL: 'grace@example.com',
};

interface Harness {
  readonly dir: string;
  readonly events: EventBus;
  readonly service: CodeCommitSandbox;
  readonly server: SandboxServer;
  readonly client: CodeCommitClient;
}

async function startHarness(dir: string): Promise<Harness> {
  const clock = new VirtualClock();
  const events = new EventBus(ACCOUNT, REGION, () => clock.now());
  const service = createCodeCommitService(
    { clock, events, account: ACCOUNT, region: REGION },
    { reposDir: path.join(dir, 'repos') },
  );
  await service.ready();
  const server = new SandboxServer({
    services: [service],
    clock,
    events,
    faults: new FaultInjector(),
    requests: new RequestLog(),
  });
  const endpoint = await server.listen(0);
  const client = new CodeCommitClient({
    endpoint,
    region: REGION,
    credentials: { accessKeyId: 'AKIDSANDBOX', secretAccessKey: 'sandbox-secret' },
    maxAttempts: 1,
  });
  return { dir, events, service, server, client };
}

async function stopHarness(h: Harness): Promise<void> {
  h.service.close();
  h.client.destroy();
  await h.server.close();
}

/** Asserts the SDK call fails with this AWS error code (the SDK names the exception after it). */
async function rejectsWith(promise: Promise<unknown>, code: string): Promise<void> {
  await assert.rejects(promise, (error: unknown) => {
    assert.equal((error as { name?: string }).name, code, String(error));
    return true;
  });
}

function stateChanges(events: EventBus): ReadonlyArray<EventBridgeEvent> {
  return events.events().filter((e) => e['detail-type'] === 'CodeCommit Repository State Change');
}

const text = (value: string): Uint8Array => Buffer.from(value, 'utf8');

describe('CodeCommit sandbox through @aws-sdk/client-codecommit', () => {
  let dir: string;
  let h: Harness;
  before(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'ballast-codecommit-test-'));
    h = await startHarness(dir);
  });
  after(async () => {
    await stopHarness(h);
    rmSync(dir, { recursive: true, force: true });
  });

  it('creates, gets and lists repositories', async () => {
    const created = await h.client.send(
      new CreateRepositoryCommand({ repositoryName: 'models', repositoryDescription: 'model repository' }),
    );
    const meta = created.repositoryMetadata;
    assert.ok(meta);
    assert.equal(meta.repositoryName, 'models');
    assert.equal(meta.accountId, ACCOUNT);
    assert.equal(meta.Arn, `arn:aws:codecommit:${REGION}:${ACCOUNT}:models`);
    assert.match(meta.repositoryId ?? '', /^[0-9a-f-]{36}$/);
    assert.equal(meta.cloneUrlHttp, `https://git-codecommit.${REGION}.amazonaws.com/v1/repos/models`);
    assert.ok(meta.creationDate instanceof Date);
    assert.equal(meta.defaultBranch, undefined, 'an empty repository has no default branch');
    assert.equal(h.service.repository('models')?.gitDir, path.join(dir, 'repos', 'models.git'));

    const got = await h.client.send(new GetRepositoryCommand({ repositoryName: 'models' }));
    assert.equal(got.repositoryMetadata?.repositoryId, meta.repositoryId);
    assert.equal(got.repositoryMetadata?.repositoryDescription, 'model repository');

    await h.client.send(new CreateRepositoryCommand({ repositoryName: 'another' }));
    const listed = await h.client.send(new ListRepositoriesCommand({}));
    assert.deepEqual(
      listed.repositories?.map((r) => r.repositoryName),
      ['another', 'models'],
    );
    const descending = await h.client.send(new ListRepositoriesCommand({ order: 'descending' }));
    assert.deepEqual(
      descending.repositories?.map((r) => r.repositoryName),
      ['models', 'another'],
    );

    await rejectsWith(
      h.client.send(new CreateRepositoryCommand({ repositoryName: 'models' })),
      'RepositoryNameExistsException',
    );
    await rejectsWith(
      h.client.send(new CreateRepositoryCommand({ repositoryName: 'bad/name' })),
      'InvalidRepositoryNameException',
    );
    await rejectsWith(
      h.client.send(new CreateRepositoryCommand({ repositoryName: 'x.git' })),
      'InvalidRepositoryNameException',
    );
    await rejectsWith(
      h.client.send(new GetRepositoryCommand({ repositoryName: 'nope' })),
      'RepositoryDoesNotExistException',
    );
  });

  let first = '';
  let second = '';
  const binary = Buffer.from([0x00, 0xff, 0x10, 0x80, 0x7f, 0x0a, 0x0d, 0x00, 0xc3, 0x28]);

  it('creates the first commit without a parent and emits referenceCreated', async () => {
    const before = stateChanges(h.events).length;
    const out = await h.client.send(
      new CreateCommitCommand({
        repositoryName: 'models',
        branchName: 'main',
        authorName: 'Ada Lovelace',
        email: 'ada@example.com',
        commitMessage: 'Add the first model\n',
        putFiles: [
          { filePath: '/ballast.yaml', fileContent: text('kind: Repository\n') },
          { filePath: 'models/llm.yaml', fileContent: text('kind: Model\nversion: 1\n') },
          { filePath: 'models/old.yaml', fileContent: text('kind: Model\n') },
          { filePath: 'assets/tokenizer.bin', fileContent: binary },
          { filePath: 'bin/serve.sh', fileContent: text('#!/bin/sh\n'), fileMode: 'EXECUTABLE' },
          { filePath: 'current', fileContent: text('models/llm.yaml'), fileMode: 'SYMLINK' },
        ],
      }),
    );
    assert.match(out.commitId ?? '', /^[0-9a-f]{40}$/);
    assert.match(out.treeId ?? '', /^[0-9a-f]{40}$/);
    first = out.commitId ?? '';
    assert.deepEqual(out.filesAdded?.map((f) => [f.absolutePath, f.fileMode]).sort(), [
      ['assets/tokenizer.bin', 'NORMAL'],
      ['ballast.yaml', 'NORMAL'],
      ['bin/serve.sh', 'EXECUTABLE'],
      ['current', 'SYMLINK'],
      ['models/llm.yaml', 'NORMAL'],
      ['models/old.yaml', 'NORMAL'],
    ]);
    assert.deepEqual(out.filesUpdated, []);
    assert.deepEqual(out.filesDeleted, []);

    const events = stateChanges(h.events).slice(before);
    assert.equal(events.length, 1);
    const event = events[0];
    assert.ok(event);
    assert.equal(event.source, 'aws.codecommit');
    assert.equal(event.account, ACCOUNT);
    assert.equal(event.region, REGION);
    assert.deepEqual(event.resources, [`arn:aws:codecommit:${REGION}:${ACCOUNT}:models`]);
    assert.deepEqual(event.detail, {
      event: 'referenceCreated',
      repositoryName: 'models',
      repositoryId: h.service.repository('models')?.repositoryId,
      referenceType: 'branch',
      referenceName: 'main',
      referenceFullName: 'refs/heads/main',
      commitId: first,
      callerUserArn: `arn:aws:iam::${ACCOUNT}:user/ballast-sandbox`,
    });

    const repo = await h.client.send(new GetRepositoryCommand({ repositoryName: 'models' }));
    assert.equal(repo.repositoryMetadata?.defaultBranch, 'main');
  });

  it('creates a second commit on the parent and emits referenceUpdated with oldCommitId', async () => {
    const before = stateChanges(h.events).length;
    const out = await h.client.send(
      new CreateCommitCommand({
        repositoryName: 'models',
        branchName: 'main',
        parentCommitId: first,
        commitMessage: 'Roll the model forward',
        putFiles: [
          { filePath: 'models/llm.yaml', fileContent: text('kind: Model\nversion: 2\n') },
          { filePath: 'prompts/system.txt', fileContent: text('Be brief.') },
        ],
        deleteFiles: [{ filePath: 'models/old.yaml' }],
      }),
    );
    second = out.commitId ?? '';
    assert.deepEqual(
      out.filesAdded?.map((f) => f.absolutePath),
      ['prompts/system.txt'],
    );
    assert.deepEqual(
      out.filesUpdated?.map((f) => f.absolutePath),
      ['models/llm.yaml'],
    );
    assert.deepEqual(
      out.filesDeleted?.map((f) => f.absolutePath),
      ['models/old.yaml'],
    );

    const [event] = stateChanges(h.events).slice(before);
    assert.equal(event?.detail.event, 'referenceUpdated');
    assert.equal(event?.detail.commitId, second);
    assert.equal(event?.detail.oldCommitId, first);

    const commit = await h.client.send(new GetCommitCommand({ repositoryName: 'models', commitId: second }));
    assert.deepEqual(commit.commit?.parents, [first]);
    assert.equal(commit.commit?.message, 'Roll the model forward');
    assert.equal(commit.commit?.author?.name, 'ballast-sandbox');
    assert.match(commit.commit?.author?.date ?? '', /^\d+ [+-]\d{4}$/, 'CodeCommit dates are "<epoch> <offset>"');
    const firstCommit = await h.client.send(new GetCommitCommand({ repositoryName: 'models', commitId: first }));
    assert.equal(firstCommit.commit?.author?.name, 'Ada Lovelace');
    assert.equal(firstCommit.commit?.author?.email, 'ada@example.com');
    assert.equal(firstCommit.commit?.message, 'Add the first model\n');
    assert.deepEqual(firstCommit.commit?.parents, []);
  });

  it('enforces the parent commit and other CreateCommit rules', async () => {
    const put = [{ filePath: 'x.txt', fileContent: text('x') }];
    const commit = (extra: Record<string, unknown>) =>
      h.client.send(new CreateCommitCommand({ repositoryName: 'models', branchName: 'main', putFiles: put, ...extra }));
    await rejectsWith(commit({ parentCommitId: first }), 'ParentCommitIdOutdatedException');
    await rejectsWith(commit({}), 'ParentCommitIdRequiredException');
    await rejectsWith(commit({ parentCommitId: 'not-a-commit' }), 'InvalidParentCommitIdException');
    await rejectsWith(commit({ parentCommitId: 'a'.repeat(40) }), 'ParentCommitDoesNotExistException');
    await rejectsWith(commit({ branchName: 'nope', parentCommitId: second }), 'BranchDoesNotExistException');
    await rejectsWith(commit({ branchName: 'bad branch', parentCommitId: second }), 'InvalidBranchNameException');
    await rejectsWith(commit({ repositoryName: 'nope', parentCommitId: second }), 'RepositoryDoesNotExistException');
    await rejectsWith(
      commit({
        parentCommitId: second,
        putFiles: [{ filePath: 'prompts/system.txt', fileContent: text('Be brief.') }],
      }),
      'NoChangeException',
    );
    await rejectsWith(commit({ parentCommitId: second, putFiles: [] }), 'FileEntryRequiredException');
    await rejectsWith(
      commit({ parentCommitId: second, putFiles: [], deleteFiles: [{ filePath: 'missing.txt' }] }),
      'FileDoesNotExistException',
    );
    await rejectsWith(
      commit({
        parentCommitId: second,
        putFiles: [
          { filePath: 'a', fileContent: text('1') },
          { filePath: 'a', fileContent: text('2') },
        ],
      }),
      'SamePathRequestException',
    );
    await rejectsWith(
      commit({
        parentCommitId: second,
        putFiles: [
          { filePath: 'd', fileContent: text('1') },
          { filePath: 'd/e', fileContent: text('2') },
        ],
      }),
      'PutFileEntryConflictException',
    );
    await rejectsWith(
      commit({ parentCommitId: second, putFiles: [{ filePath: 'models', fileContent: text('1') }] }),
      'FileNameConflictsWithDirectoryNameException',
    );
    await rejectsWith(
      commit({ parentCommitId: second, putFiles: [{ filePath: 'ballast.yaml/inner', fileContent: text('1') }] }),
      'DirectoryNameConflictsWithFileNameException',
    );
    await rejectsWith(
      commit({
        parentCommitId: second,
        putFiles: [{ filePath: 'copy.yaml', fileContent: text('1'), sourceFile: { filePath: 'ballast.yaml' } }],
      }),
      'FileContentAndSourceFileSpecifiedException',
    );
    await rejectsWith(
      commit({ parentCommitId: second, putFiles: [{ filePath: 'empty' }] }),
      'SourceFileOrContentRequiredException',
    );
    // Nothing above moved the branch.
    const branch = await h.client.send(new GetBranchCommand({ repositoryName: 'models', branchName: 'main' }));
    assert.equal(branch.branch?.commitId, second);
  });

  it('refuses hostile paths and files over the API size limits', async () => {
    const commit = (putFiles: Array<{ filePath: string; fileContent: Uint8Array }>) =>
      h.client.send(
        new CreateCommitCommand({ repositoryName: 'models', branchName: 'main', parentCommitId: second, putFiles }),
      );
    for (const filePath of ['../x', 'models/../../escape', '.git/config', 'a/.git/hooks/pre-commit', 'a//b', './a']) {
      await rejectsWith(commit([{ filePath, fileContent: text('x') }]), 'InvalidPathException');
    }
    const deep = `${Array.from({ length: 21 }, (_, i) => `d${i}`).join('/')}/f`;
    await rejectsWith(commit([{ filePath: deep, fileContent: text('x') }]), 'InvalidPathException');
    await rejectsWith(
      h.client.send(new GetFileCommand({ repositoryName: 'models', filePath: '../../etc/passwd' })),
      'InvalidPathException',
    );
    // "The maximum file size is 6 MB, and the combined file content change size is 7 MB."
    await rejectsWith(
      commit([{ filePath: 'huge.bin', fileContent: Buffer.alloc(6 * 1024 * 1024 + 1, 1) }]),
      'FileContentSizeLimitExceededException',
    );
    await rejectsWith(
      commit([
        { filePath: 'big1.bin', fileContent: Buffer.alloc(4 * 1024 * 1024, 1) },
        { filePath: 'big2.bin', fileContent: Buffer.alloc(4 * 1024 * 1024, 2) },
      ]),
      'FileContentSizeLimitExceededException',
    );
    const branch = await h.client.send(new GetBranchCommand({ repositoryName: 'models', branchName: 'main' }));
    assert.equal(branch.branch?.commitId, second);
  });

  it('gets branches, creates a branch and emits referenceCreated', async () => {
    const got = await h.client.send(new GetBranchCommand({ repositoryName: 'models', branchName: 'main' }));
    assert.deepEqual(got.branch, { branchName: 'main', commitId: second });
    await rejectsWith(
      h.client.send(new GetBranchCommand({ repositoryName: 'models', branchName: 'nope' })),
      'BranchDoesNotExistException',
    );
    await rejectsWith(h.client.send(new GetBranchCommand({ repositoryName: 'models' })), 'BranchNameRequiredException');

    const before = stateChanges(h.events).length;
    await h.client.send(new CreateBranchCommand({ repositoryName: 'models', branchName: 'prod', commitId: first }));
    const [event] = stateChanges(h.events).slice(before);
    assert.equal(event?.detail.event, 'referenceCreated');
    assert.equal(event?.detail.referenceName, 'prod');
    assert.equal(event?.detail.commitId, first);
    await rejectsWith(
      h.client.send(new CreateBranchCommand({ repositoryName: 'models', branchName: 'prod', commitId: first })),
      'BranchNameExistsException',
    );
    await rejectsWith(
      h.client.send(new CreateBranchCommand({ repositoryName: 'models', branchName: 'dev', commitId: 'b'.repeat(40) })),
      'CommitDoesNotExistException',
    );
    const listed = await h.client.send(new ListBranchesCommand({ repositoryName: 'models' }));
    assert.deepEqual(listed.branches, ['main', 'prod']);
    await rejectsWith(
      h.client.send(new GetCommitCommand({ repositoryName: 'models', commitId: 'c'.repeat(40) })),
      'CommitIdDoesNotExistException',
    );
    await rejectsWith(
      h.client.send(new GetCommitCommand({ repositoryName: 'models', commitId: 'main' })),
      'InvalidCommitIdException',
    );
  });

  it('gets files by branch, commit id or default branch, with binary content intact', async () => {
    const byBranch = await h.client.send(
      new GetFileCommand({ repositoryName: 'models', commitSpecifier: 'main', filePath: '/models/llm.yaml' }),
    );
    assert.equal(byBranch.commitId, second);
    assert.equal(byBranch.filePath, 'models/llm.yaml');
    assert.equal(byBranch.fileMode, 'NORMAL');
    assert.equal(Buffer.from(byBranch.fileContent ?? []).toString('utf8'), 'kind: Model\nversion: 2\n');
    assert.equal(byBranch.fileSize, Buffer.byteLength('kind: Model\nversion: 2\n'));
    assert.match(byBranch.blobId ?? '', /^[0-9a-f]{40}$/);

    const old = await h.client.send(
      new GetFileCommand({ repositoryName: 'models', commitSpecifier: first, filePath: 'models/llm.yaml' }),
    );
    assert.equal(Buffer.from(old.fileContent ?? []).toString('utf8'), 'kind: Model\nversion: 1\n');
    const viaRef = await h.client.send(
      new GetFileCommand({ repositoryName: 'models', commitSpecifier: 'refs/heads/prod', filePath: 'models/llm.yaml' }),
    );
    assert.equal(viaRef.commitId, first);

    const bin = await h.client.send(new GetFileCommand({ repositoryName: 'models', filePath: 'assets/tokenizer.bin' }));
    assert.equal(bin.commitId, second, 'no specifier reads the default branch');
    assert.deepEqual(Buffer.from(bin.fileContent ?? []), binary);

    const exe = await h.client.send(new GetFileCommand({ repositoryName: 'models', filePath: 'bin/serve.sh' }));
    assert.equal(exe.fileMode, 'EXECUTABLE');
    const link = await h.client.send(new GetFileCommand({ repositoryName: 'models', filePath: 'current' }));
    assert.equal(link.fileMode, 'SYMLINK');
    assert.equal(Buffer.from(link.fileContent ?? []).toString('utf8'), 'models/llm.yaml');

    await rejectsWith(
      h.client.send(new GetFileCommand({ repositoryName: 'models', filePath: 'models/old.yaml' })),
      'FileDoesNotExistException',
    );
    await rejectsWith(
      h.client.send(new GetFileCommand({ repositoryName: 'models', filePath: 'models' })),
      'FileDoesNotExistException',
    );
    await rejectsWith(
      h.client.send(
        new GetFileCommand({ repositoryName: 'models', commitSpecifier: 'nope', filePath: 'ballast.yaml' }),
      ),
      'CommitDoesNotExistException',
    );
    await rejectsWith(
      h.client.send(
        new GetFileCommand({ repositoryName: 'models', commitSpecifier: 'main~1', filePath: 'ballast.yaml' }),
      ),
      'CommitDoesNotExistException',
    );
    await rejectsWith(
      h.client.send(new GetFileCommand({ repositoryName: 'nope', filePath: 'x' })),
      'RepositoryDoesNotExistException',
    );
  });

  it('gets folders with files, sub-folders and symbolic links', async () => {
    const root = await h.client.send(new GetFolderCommand({ repositoryName: 'models', folderPath: '/' }));
    assert.equal(root.commitId, second);
    assert.match(root.treeId ?? '', /^[0-9a-f]{40}$/);
    assert.deepEqual(
      root.files?.map((f) => [f.absolutePath, f.relativePath, f.fileMode]),
      [['ballast.yaml', 'ballast.yaml', 'NORMAL']],
    );
    assert.deepEqual(
      root.subFolders?.map((f) => f.absolutePath),
      ['assets', 'bin', 'models', 'prompts'],
    );
    assert.deepEqual(
      root.symbolicLinks?.map((f) => [f.absolutePath, f.fileMode]),
      [['current', 'SYMLINK']],
    );
    assert.deepEqual(root.subModules, []);

    const models = await h.client.send(
      new GetFolderCommand({ repositoryName: 'models', folderPath: '/models', commitSpecifier: first }),
    );
    assert.deepEqual(
      models.files?.map((f) => [f.absolutePath, f.relativePath]),
      [
        ['models/llm.yaml', 'llm.yaml'],
        ['models/old.yaml', 'old.yaml'],
      ],
    );
    await rejectsWith(
      h.client.send(new GetFolderCommand({ repositoryName: 'models', folderPath: 'nope' })),
      'FolderDoesNotExistException',
    );
    await rejectsWith(
      h.client.send(new GetFolderCommand({ repositoryName: 'models', folderPath: 'ballast.yaml' })),
      'FolderDoesNotExistException',
    );
  });

  it('gets differences (A/M/D) with pagination and path limits', async () => {
    const all = await h.client.send(
      new GetDifferencesCommand({
        repositoryName: 'models',
        beforeCommitSpecifier: first,
        afterCommitSpecifier: 'main',
      }),
    );
    assert.deepEqual(
      all.differences?.map((d) => [d.changeType, d.beforeBlob?.path ?? null, d.afterBlob?.path ?? null]),
      [
        ['M', 'models/llm.yaml', 'models/llm.yaml'],
        ['D', 'models/old.yaml', null],
        ['A', null, 'prompts/system.txt'],
      ],
    );
    assert.equal(all.NextToken, undefined);
    const modified = all.differences?.[0];
    assert.equal(modified?.beforeBlob?.mode, '100644');
    assert.notEqual(modified?.beforeBlob?.blobId, modified?.afterBlob?.blobId);

    // Page through one difference at a time.
    const seen: string[] = [];
    let token: string | undefined;
    do {
      const page = await h.client.send(
        new GetDifferencesCommand({
          repositoryName: 'models',
          beforeCommitSpecifier: first,
          afterCommitSpecifier: second,
          MaxResults: 1,
          NextToken: token,
        }),
      );
      assert.ok((page.differences?.length ?? 0) <= 1);
      for (const d of page.differences ?? []) seen.push(`${d.changeType}:${d.afterBlob?.path ?? d.beforeBlob?.path}`);
      token = page.NextToken;
    } while (token);
    assert.deepEqual(seen, ['M:models/llm.yaml', 'D:models/old.yaml', 'A:prompts/system.txt']);

    const initial = await h.client.send(
      new GetDifferencesCommand({ repositoryName: 'models', afterCommitSpecifier: first }),
    );
    assert.equal(initial.differences?.length, 6);
    assert.ok(initial.differences?.every((d) => d.changeType === 'A' && d.beforeBlob === undefined));

    const limited = await h.client.send(
      new GetDifferencesCommand({
        repositoryName: 'models',
        beforeCommitSpecifier: first,
        afterCommitSpecifier: second,
        afterPath: 'models',
      }),
    );
    assert.deepEqual(
      limited.differences?.map((d) => d.changeType),
      ['M', 'D'],
    );

    await rejectsWith(
      h.client.send(
        new GetDifferencesCommand({ repositoryName: 'models', afterCommitSpecifier: second, afterPath: 'nowhere' }),
      ),
      'PathDoesNotExistException',
    );
    await rejectsWith(
      h.client.send(new GetDifferencesCommand({ repositoryName: 'models', afterCommitSpecifier: 'nope' })),
      'CommitDoesNotExistException',
    );
    await rejectsWith(
      h.client.send(
        new GetDifferencesCommand({ repositoryName: 'models', afterCommitSpecifier: second, NextToken: 'garbage' }),
      ),
      'InvalidContinuationTokenException',
    );
  });

  it('moves, copies and deletes with keepEmptyFolders', async () => {
    const out = await h.client.send(
      new CreateCommitCommand({
        repositoryName: 'models',
        branchName: 'main',
        parentCommitId: second,
        keepEmptyFolders: true,
        putFiles: [
          { filePath: 'archive/system.txt', sourceFile: { filePath: 'prompts/system.txt', isMove: true } },
          { filePath: 'copy.yaml', sourceFile: { filePath: 'ballast.yaml' } },
        ],
        setFileModes: [{ filePath: 'ballast.yaml', fileMode: 'EXECUTABLE' }],
      }),
    );
    assert.deepEqual(out.filesAdded?.map((f) => f.absolutePath).sort(), [
      'archive/system.txt',
      'copy.yaml',
      'prompts/.gitkeep',
    ]);
    assert.deepEqual(
      out.filesDeleted?.map((f) => f.absolutePath),
      ['prompts/system.txt'],
    );
    assert.deepEqual(
      out.filesUpdated?.map((f) => [f.absolutePath, f.fileMode]),
      [['ballast.yaml', 'EXECUTABLE']],
    );
    const copied = await h.client.send(new GetFileCommand({ repositoryName: 'models', filePath: 'copy.yaml' }));
    assert.equal(Buffer.from(copied.fileContent ?? []).toString('utf8'), 'kind: Repository\n');
    second = out.commitId ?? '';
  });

  it('stores comments on compared commits, idempotently', async () => {
    const before = h.events.events().length;
    const posted = await h.client.send(
      new PostCommentForComparedCommitCommand({
        repositoryName: 'models',
        beforeCommitId: first,
        afterCommitId: second,
        content: 'Deployed to prod: SUCCEEDED',
        clientRequestToken: 'deploy-1',
      }),
    );
    assert.equal(posted.afterCommitId, second);
    assert.equal(posted.beforeCommitId, first);
    assert.equal(posted.comment?.content, 'Deployed to prod: SUCCEEDED');
    assert.equal(posted.comment?.authorArn, `arn:aws:iam::${ACCOUNT}:user/ballast-sandbox`);
    assert.ok(posted.comment?.creationDate instanceof Date);
    const commentEvent = h.events
      .events()
      .slice(before)
      .find((e) => e['detail-type'] === 'CodeCommit Comment on Commit');
    assert.equal(commentEvent?.detail.event, 'commentOnCommitCreated');
    assert.equal(commentEvent?.detail.commentId, posted.comment?.commentId);

    // A retried request with the same token answers the first comment instead of adding another.
    const replay = await h.client.send(
      new PostCommentForComparedCommitCommand({
        repositoryName: 'models',
        beforeCommitId: first,
        afterCommitId: second,
        content: 'Deployed to prod: SUCCEEDED',
        clientRequestToken: 'deploy-1',
      }),
    );
    assert.equal(replay.comment?.commentId, posted.comment?.commentId);
    await rejectsWith(
      h.client.send(
        new PostCommentForComparedCommitCommand({
          repositoryName: 'models',
          beforeCommitId: first,
          afterCommitId: second,
          content: 'something else',
          clientRequestToken: 'deploy-1',
        }),
      ),
      'IdempotencyParameterMismatchException',
    );

    await h.client.send(
      new PostCommentForComparedCommitCommand({
        repositoryName: 'models',
        beforeCommitId: first,
        afterCommitId: second,
        content: 'Line note',
        location: { filePath: 'models/llm.yaml', filePosition: 2, relativeFileVersion: 'AFTER' },
      }),
    );
    const comments = await h.client.send(
      new GetCommentsForComparedCommitCommand({
        repositoryName: 'models',
        beforeCommitId: first,
        afterCommitId: second,
      }),
    );
    const data = comments.commentsForComparedCommitData ?? [];
    assert.equal(data.length, 2);
    assert.deepEqual(
      data[0]?.comments?.map((c) => c.content),
      ['Deployed to prod: SUCCEEDED'],
    );
    assert.equal(data[1]?.location?.filePath, 'models/llm.yaml');
    assert.match(data[1]?.afterBlobId ?? '', /^[0-9a-f]{40}$/);

    // The first commit has no parent, so it can be commented on without beforeCommitId.
    await h.client.send(
      new PostCommentForComparedCommitCommand({ repositoryName: 'models', afterCommitId: first, content: 'initial' }),
    );
    const onFirst = await h.client.send(
      new GetCommentsForComparedCommitCommand({ repositoryName: 'models', afterCommitId: first }),
    );
    assert.deepEqual(
      onFirst.commentsForComparedCommitData?.[0]?.comments?.map((c) => c.content),
      ['initial'],
    );

    await rejectsWith(
      h.client.send(
        new PostCommentForComparedCommitCommand({ repositoryName: 'models', afterCommitId: second, content: 'x' }),
      ),
      'CommitIdRequiredException',
    );
    await rejectsWith(
      h.client.send(
        new PostCommentForComparedCommitCommand({
          repositoryName: 'models',
          beforeCommitId: first,
          afterCommitId: 'd'.repeat(40),
          content: 'x',
        }),
      ),
      'CommitDoesNotExistException',
    );
    await rejectsWith(
      h.client.send(
        new PostCommentForComparedCommitCommand({
          repositoryName: 'models',
          beforeCommitId: first,
          afterCommitId: second,
          content: '',
        }),
      ),
      'CommentContentRequiredException',
    );
    await rejectsWith(
      h.client.send(
        new PostCommentForComparedCommitCommand({
          repositoryName: 'models',
          beforeCommitId: first,
          afterCommitId: second,
          content: 'x',
          location: { filePath: 'nope.yaml', relativeFileVersion: 'AFTER' },
        }),
      ),
      'PathDoesNotExistException',
    );
  });

  it('serves a registered working repository and reports outside commits as events', async () => {
    const work = path.join(dir, 'work');
    mkdirSync(work);
    await runGit(['init', '--quiet', '--initial-branch=main'], { cwd: work });
    writeFileSync(path.join(work, 'ballast.yaml'), 'kind: Repository\n');
    await runGit(['add', '-A'], { cwd: work });
    await runGit(['commit', '--quiet', '-m', 'init'], { cwd: work, env: cliIdentity });
    const head1 = (await runGit(['rev-parse', 'HEAD'], { cwd: work })).stdout.toString('utf8').trim();

    const registered = await h.service.registerRepository('local', work);
    assert.equal(registered.workTree, work);
    assert.equal(registered.arn, `arn:aws:codecommit:${REGION}:${ACCOUNT}:local`);
    const branch = await h.client.send(new GetBranchCommand({ repositoryName: 'local', branchName: 'main' }));
    assert.equal(branch.branch?.commitId, head1);
    assert.deepEqual(await h.service.detectReferenceChanges('local'), [], 'registration takes the first snapshot');

    // An ordinary `git commit` in the user's checkout.
    writeFileSync(path.join(work, 'model.yaml'), 'kind: Model\n');
    await runGit(['add', 'model.yaml'], { cwd: work });
    await runGit(['commit', '--quiet', '-m', 'add model'], { cwd: work, env: cliIdentity });
    const head2 = (await runGit(['rev-parse', 'HEAD'], { cwd: work })).stdout.toString('utf8').trim();
    const [updated, ...rest] = await h.service.detectReferenceChanges('local');
    assert.equal(rest.length, 0);
    assert.ok(updated);
    assert.equal(updated.source, 'aws.codecommit');
    assert.equal(updated['detail-type'], 'CodeCommit Repository State Change');
    assert.deepEqual(updated.resources, [registered.arn]);
    assert.deepEqual(updated.detail, {
      event: 'referenceUpdated',
      repositoryName: 'local',
      repositoryId: registered.repositoryId,
      referenceType: 'branch',
      referenceName: 'main',
      referenceFullName: 'refs/heads/main',
      commitId: head2,
      oldCommitId: head1,
      callerUserArn: `arn:aws:iam::${ACCOUNT}:user/ballast-sandbox`,
    });
    assert.deepEqual(await h.service.detectReferenceChanges('local'), [], 'each change is reported once');

    const diff = await h.client.send(
      new GetDifferencesCommand({ repositoryName: 'local', beforeCommitSpecifier: head1, afterCommitSpecifier: head2 }),
    );
    assert.deepEqual(
      diff.differences?.map((d) => [d.changeType, d.afterBlob?.path]),
      [['A', 'model.yaml']],
    );

    // Branch created and deleted outside; a tag pushed.
    await runGit(['branch', 'staging'], { cwd: work });
    await runGit(['tag', 'v1'], { cwd: work });
    const created = await h.service.detectReferenceChanges('local');
    assert.deepEqual(
      created.map((e) => [e.detail.event, e.detail.referenceType, e.detail.referenceName, e.detail.commitId]),
      [
        ['referenceCreated', 'branch', 'staging', head2],
        ['referenceCreated', 'tag', 'v1', head2],
      ],
    );
    await runGit(['branch', '-D', 'staging'], { cwd: work });
    const [deleted] = await h.service.detectReferenceChanges('local');
    assert.equal(deleted?.detail.event, 'referenceDeleted');
    assert.equal(deleted?.detail.oldCommitId, head2);
    assert.equal(deleted?.detail.commitId, undefined);

    // The checked-out branch is not moved under the user's feet; other branches are fine.
    await rejectsWith(
      h.client.send(
        new CreateCommitCommand({
          repositoryName: 'local',
          branchName: 'main',
          parentCommitId: head2,
          putFiles: [{ filePath: 'revert.txt', fileContent: text('x') }],
        }),
      ),
      'OperationNotAllowedException',
    );
    await h.client.send(new CreateBranchCommand({ repositoryName: 'local', branchName: 'rollback', commitId: head2 }));
    await h.client.send(
      new CreateCommitCommand({
        repositoryName: 'local',
        branchName: 'rollback',
        parentCommitId: head2,
        deleteFiles: [{ filePath: 'model.yaml' }],
      }),
    );
    assert.equal((await runGit(['status', '--porcelain'], { cwd: work })).stdout.toString('utf8'), '');
    assert.deepEqual(await h.service.detectReferenceChanges('local'), [], 'API writes are not reported twice');
  });

  it('polls a registered repository with watchRepository', async () => {
    const work = path.join(dir, 'work');
    const seen: EventBridgeEvent[] = [];
    const unsubscribe = h.events.subscribe(
      {
        source: ['aws.codecommit'],
        'detail-type': ['CodeCommit Repository State Change'],
        detail: { repositoryName: ['local'] },
      },
      (event) => seen.push(event),
    );
    const stop = h.service.watchRepository('local', 20);
    try {
      writeFileSync(path.join(work, 'prompt.txt'), 'hello\n');
      await runGit(['add', 'prompt.txt'], { cwd: work });
      await runGit(['commit', '--quiet', '-m', 'prompt'], { cwd: work, env: cliIdentity });
      const head = (await runGit(['rev-parse', 'HEAD'], { cwd: work })).stdout.toString('utf8').trim();
      const deadline = Date.now() + 5000;
      while (!seen.some((e) => e.detail.commitId === head) && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      const event = seen.find((e) => e.detail.commitId === head);
      assert.equal(event?.detail.event, 'referenceUpdated');
      assert.equal(event?.detail.referenceName, 'main');
    } finally {
      stop();
      unsubscribe();
    }
  });

  it('answers FileTooLargeException for a file over 6 MB committed with git', async () => {
    const work = path.join(dir, 'work');
    writeFileSync(path.join(work, 'weights.bin'), Buffer.alloc(6 * 1024 * 1024 + 10, 3));
    await runGit(['add', 'weights.bin'], { cwd: work });
    await runGit(['commit', '--quiet', '-m', 'weights do not belong in git'], { cwd: work, env: cliIdentity });
    await rejectsWith(
      h.client.send(new GetFileCommand({ repositoryName: 'local', filePath: 'weights.bin' })),
      'FileTooLargeException',
    );
  });

  it('serves the repositories under reposDir again after a restart', async () => {
    const id = h.service.repository('models')?.repositoryId;
    const restarted = await startHarness(dir);
    try {
      const got = await restarted.client.send(new GetRepositoryCommand({ repositoryName: 'models' }));
      assert.equal(got.repositoryMetadata?.repositoryId, id);
      assert.equal(got.repositoryMetadata?.repositoryDescription, 'model repository');
      const branch = await restarted.client.send(
        new GetBranchCommand({ repositoryName: 'models', branchName: 'main' }),
      );
      assert.equal(branch.branch?.commitId, second);
      assert.equal(restarted.service.repository('local'), undefined, 'registered repositories are not persisted');
    } finally {
      await stopHarness(restarted);
    }
  });
});
