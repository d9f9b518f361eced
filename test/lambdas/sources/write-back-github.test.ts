import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import { TransientError } from '../../../lambdas/aws/errors.ts';
import { GitHubApiError } from '../../../lambdas/sources/github.ts';
import { rollbackBranchName, type WriteBackRequest, writeBack } from '../../../lambdas/sources/write-back.ts';
import { buildRepository, FakeGitHub } from '../../support/fake-github.ts';
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

describe('writeBack on GitHub (a GitHub double with a Git database)', () => {
  const github = new FakeGitHub(
    buildRepository({
      'ballast.yaml': { mode: '100644', content: 'kind: Repository\n' },
      [SUMMARIZER]: { mode: '100644', content: GOOD },
    }),
  );
  const good = github.repo.commit;
  let bad = '';
  let keys = 0;
  const api = (overrides: { fetch?: typeof fetch } = {}) => ({
    apiUrl: github.url,
    token: 'ghs_write-back',
    sleep: async () => {},
    ...overrides,
  });

  before(async () => {
    await github.start();
    bad = github.push('main', { [SUMMARIZER]: BAD, [NEW_PROMPT]: NEW }, 'bad');
  });
  after(() => github.stop());
  beforeEach(() => {
    github.reset();
    github.branches.set('main', bad);
    keys += 1;
  });

  function request(overrides: Partial<WriteBackRequest> = {}): WriteBackRequest {
    return {
      source: 'github',
      repository: 'octo-org/models',
      branch: 'main',
      mode: 'pull-request',
      badCommit: bad,
      goodCommit: good,
      restore: RESTORE,
      expected: EXPECTED,
      title: TITLE,
      body: BODY,
      idempotencyKey: `rollback-prod-summarizer-${keys}`,
      ...overrides,
    };
  }

  const writes = () => github.requests.filter((r) => r.method !== 'GET').map((r) => `${r.method} ${r.url}`);

  it('commits a revert on main through the Git data API, moving main only as a fast-forward', async () => {
    const result = await writeBack(request({ mode: 'revert-commit', author: { name: 'Ballast', email: 'b@x.y' } }), {
      github: api(),
    });
    assert.ok(result.kind === 'committed', `committed, got ${JSON.stringify(result)}`);
    assert.equal(github.branches.get('main'), result.commit, 'main is at the revert commit');
    assert.deepEqual(github.commitDetails(result.commit)?.parents, [bad], 'the revert is made on the bad commit');
    assert.equal(github.commitDetails(result.commit)?.message, `${TITLE}\n\n${BODY}\n`);
    assert.deepEqual(github.commitDetails(result.commit)?.author, { name: 'Ballast', email: 'b@x.y' });
    assert.deepEqual(
      github.filesAt(result.commit),
      { 'ballast.yaml': 'kind: Repository\n', [SUMMARIZER]: GOOD },
      'the good content, the added prompt deleted, the rest untouched',
    );
    assert.deepEqual(writes(), [
      'POST /repos/octo-org/models/git/trees',
      'POST /repos/octo-org/models/git/commits',
      'PATCH /repos/octo-org/models/git/refs/heads/main',
    ]);
    const patch = github.requests.find((r) => r.method === 'PATCH');
    assert.deepEqual(JSON.parse(patch?.body ?? '{}'), { sha: result.commit, force: false });
    const tree = JSON.parse(github.requests.find((r) => r.url.endsWith('/git/trees'))?.body ?? '{}');
    assert.equal(tree.base_tree, github.commitDetails(bad)?.tree, "the tree is built on the head's tree");
  });

  it('re-reads and commits on the new head when main moved before the reference update', async () => {
    let moved = '';
    const moving: typeof fetch = async (url, init) => {
      if (init?.method === 'PATCH' && !moved) moved = github.push('main', { 'configs/other.yaml': 'x: 1\n' });
      return fetch(url, init);
    };
    const result = await writeBack(request({ mode: 'revert-commit' }), { github: api({ fetch: moving }) });
    assert.ok(result.kind === 'committed', `committed, got ${JSON.stringify(result)}`);
    assert.ok(moved, 'main was moved once');
    assert.deepEqual(github.commitDetails(result.commit)?.parents, [moved], 'the revert is made on the new head');
    assert.equal(github.filesAt(result.commit)?.['configs/other.yaml'], 'x: 1\n', 'the push is kept');
    assert.equal(github.filesAt(result.commit)?.[SUMMARIZER], GOOD);
    assert.equal(writes().filter((w) => w.startsWith('PATCH')).length, 2, 'one refused update, one that went through');
  });

  it('names the fix when main is protected and a revert commit is asked for', async () => {
    github.protectedBranches.add('main');
    await assert.rejects(writeBack(request({ mode: 'revert-commit' }), { github: api() }), (error: unknown) => {
      assert.ok(error instanceof GitHubApiError, String(error));
      assert.match(error.message, /GitHub octo-org\/models: GitHub refused to move main/);
      assert.match(error.message, /writeBack\.mode: pull-request/);
      return true;
    });
    assert.equal(github.branches.get('main'), bad, 'main is untouched');
  });

  it('skips, naming the file, when main changed it since the bad commit', async () => {
    github.push('main', { [SUMMARIZER]: `${BAD}# fixed forward\n` });
    const result = await writeBack(request({ mode: 'revert-commit' }), { github: api() });
    assert.ok(result.kind === 'skipped', `skipped, got ${JSON.stringify(result)}`);
    assert.match(result.reason, new RegExp(`^${SUMMARIZER} changed on main`));
    assert.deepEqual(writes(), [], 'nothing written');
  });

  it('opens a pull request from the rollback branch with the good tree, and finds it again on a retry', async () => {
    const input = request();
    const result = await writeBack(input, { github: api() });
    assert.ok(result.kind === 'pull-request', `a pull request, got ${JSON.stringify(result)}`);
    const branch = rollbackBranchName(input.idempotencyKey);
    assert.equal(result.branch, branch);
    assert.equal(github.branches.get('main'), bad, 'main is untouched');
    assert.equal(github.branches.get(branch), result.commit, 'the rollback branch has the commit');
    assert.deepEqual(github.commitDetails(result.commit)?.parents, [bad]);
    assert.deepEqual(github.filesAt(result.commit), { 'ballast.yaml': 'kind: Repository\n', [SUMMARIZER]: GOOD });
    const opened = github.pulls.filter((pr) => pr.head === branch);
    assert.equal(opened.length, 1, 'one pull request from the rollback branch');
    assert.deepEqual(opened[0], {
      number: opened[0]?.number,
      title: TITLE,
      body: BODY,
      head: branch,
      base: 'main',
      state: 'open',
    });
    assert.equal(result.pullRequest, String(opened[0]?.number));
    assert.equal(result.url, `https://github.com/octo-org/models/pull/${opened[0]?.number}`);

    github.requests.length = 0;
    const again = await writeBack(input, { github: api() });
    assert.deepEqual(again, result, 'the retry returns the same branch, commit and pull request');
    assert.deepEqual(writes(), [], 'the retry writes nothing');
  });

  it('finds the branch and commit of an attempt whose pull request was not opened, and opens it', async () => {
    const input = request();
    github.script.push(
      ...Array.from({ length: 4 }, () => ({ match: /^POST \/repos\/octo-org\/models\/pulls$/, status: 502 })),
    );
    await assert.rejects(writeBack(input, { github: api() }), TransientError);
    const branch = rollbackBranchName(input.idempotencyKey);
    const commit = github.branches.get(branch);
    assert.ok(commit, 'the failed attempt left its branch');
    assert.equal(github.pulls.filter((pr) => pr.head === branch).length, 0, 'and no pull request');

    github.requests.length = 0;
    const result = await writeBack(input, { github: api() });
    assert.ok(result.kind === 'pull-request', `a pull request, got ${JSON.stringify(result)}`);
    assert.equal(result.commit, commit, 'the earlier commit, not a new one');
    assert.deepEqual(writes(), ['POST /repos/octo-org/models/pulls']);
  });

  it('returns the pull request when POST /pulls went through but its answer was lost', async () => {
    const input = request();
    let lost = false;
    const losing: typeof fetch = async (url, init) => {
      const response = await fetch(url, init);
      if (init?.method === 'POST' && String(url).endsWith('/pulls') && !lost) {
        lost = true;
        return new Response('{"message":"Server Error"}', { status: 502 });
      }
      return response;
    };
    const result = await writeBack(input, { github: api({ fetch: losing }) });
    assert.ok(lost, 'the first answer was lost');
    assert.ok(result.kind === 'pull-request', `a pull request, got ${JSON.stringify(result)}`);
    const opened = github.pulls.filter((pr) => pr.head === result.branch);
    assert.equal(opened.length, 1, 'one pull request, however many POSTs');
    assert.equal(result.pullRequest, String(opened[0]?.number));
  });
});
