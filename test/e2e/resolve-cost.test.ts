/**
 * Cost follows the change, not the repository: after the first push, Resolve builds each commit's
 * snapshot from the previous one's plus CodeCommit GetDifferences, reading only the changed
 * Ballast files; and the snapshot it stores is the one a full read of the commit gives.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { DeleteObjectCommand } from '@aws-sdk/client-s3';
import { codeCommitSource } from '../../lambdas/sources/codecommit.ts';
import { keys } from '../../lambdas/state/keys.ts';
import { captureSnapshot, type Snapshot } from '../../lambdas/workflow/snapshot.ts';
import type { LoggedRequest } from '../../sandbox/request-log.ts';
import { PROMPT_FILE, REPO, requireFile, type World, world } from './harness.ts';

/** Resolve's reads of the repository among a push's requests (the push's own CreateCommit and before left out). */
function repositoryReads(requests: readonly LoggedRequest[]): Record<string, number> {
  const pushed = requests.findIndex((r) => r.service === 'codecommit' && r.operation === 'CreateCommit');
  const counts: Record<string, number> = {};
  for (const r of requests.slice(pushed + 1)) {
    if (r.service === 'codecommit' && ['GetFolder', 'GetFile', 'GetDifferences', 'GetBlob'].includes(r.operation)) {
      counts[r.operation] = (counts[r.operation] ?? 0) + 1;
    }
  }
  return counts;
}

describe('Resolve reads what a push changed (e2e, on the sandbox)', () => {
  let w: World;
  let first: string;

  before(async () => {
    w = await world();
    first = await w.deploy(w.files, 'initial');
  });

  after(async () => {
    await w?.stop();
  });

  const fullRead = async (commit: string) =>
    captureSnapshot(codeCommitSource(w.clients.codecommit, REPO, commit), commit);

  it('reads the first commit of a branch in full', async () => {
    const stored = await w.json<Snapshot>(keys.snapshot(first));
    assert.ok(stored, 'the first commit has a snapshot');
    assert.equal(JSON.stringify(stored), JSON.stringify(await fullRead(first)), 'it is the full read');
  });

  it('a push outside the Ballast files costs one GetDifferences and no file reads', async () => {
    const mark = w.sandbox.requests.all().length;
    const commit = await w.deploy({ 'README.md': '# the model repository\n' }, 'docs only');
    assert.deepEqual(repositoryReads(w.requestsSince(mark)), { GetDifferences: 1 }, 'only GetDifferences');
    const stored = await w.json<Snapshot>(keys.snapshot(commit));
    assert.equal(JSON.stringify(stored), JSON.stringify(await fullRead(commit)), 'the snapshot is the full read');
  });

  it('a push changing one Ballast file costs one GetDifferences and one GetFile, and deploys', async () => {
    const mark = w.sandbox.requests.all().length;
    const prompt = requireFile(w.files, PROMPT_FILE);
    const edited = prompt.replace(/\n$/, '\n# reworded\n');
    assert.notEqual(edited, prompt, 'the prompt file changed');
    const commit = await w.deploy({ [PROMPT_FILE]: edited }, 'reword the prompt');
    assert.deepEqual(
      repositoryReads(w.requestsSince(mark)),
      { GetDifferences: 1, GetFile: 1 },
      'GetDifferences and the one changed file',
    );
    const stored = await w.json<Snapshot>(keys.snapshot(commit));
    assert.equal(JSON.stringify(stored), JSON.stringify(await fullRead(commit)), 'the snapshot is the full read');
    const executions = w.executions(commit);
    assert.ok(executions.length > 0, 'the push started an execution');
    assert.ok(
      executions.every((e) => e.status === 'SUCCEEDED'),
      'every execution of the push succeeded',
    );
  });

  it('a push whose previous snapshot is gone reads in full, and still stores the full read', async () => {
    const head = await w.deploy({ 'README.md': '# again\n' }, 'docs again');
    await w.clients.s3.send(new DeleteObjectCommand({ Bucket: w.pipeline.stateBucket, Key: keys.snapshot(head) }));
    const mark = w.sandbox.requests.all().length;
    const commit = await w.deploy({ 'README.md': '# and again\n' }, 'docs once more');
    const reads = repositoryReads(w.requestsSince(mark));
    assert.ok((reads.GetFolder ?? 0) > 0, 'the commit was walked with GetFolder');
    assert.equal(reads.GetDifferences, undefined, 'no GetDifferences without a base');
    const stored = await w.json<Snapshot>(keys.snapshot(commit));
    assert.equal(JSON.stringify(stored), JSON.stringify(await fullRead(commit)), 'the snapshot is the full read');
  });
});
