import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { InvalidInputError } from '../../../lambdas/aws/errors.ts';
import {
  assessBranch,
  type BranchFile,
  changesToRestore,
  commitMessage,
  defaultWriteBackMode,
  isBranchName,
  MAX_COMMIT_MESSAGE_BYTES,
  parseWriteBackRequest,
  rollbackBranchName,
  type WriteBackRequest,
} from '../../../lambdas/sources/write-back.ts';

const GOOD_ID = 'a'.repeat(40);
const BAD_ID = 'b'.repeat(40);
const bytes = (s: string) => Buffer.from(s, 'utf8');

const base: WriteBackRequest = {
  source: 'codecommit',
  repository: 'models',
  branch: 'main',
  mode: 'revert-commit',
  badCommit: BAD_ID,
  goodCommit: GOOD_ID,
  restore: { 'a.yaml': 'good\n', 'new.yaml': null },
  expected: { 'a.yaml': 'bad\n', 'new.yaml': 'added\n' },
  title: 'Roll back prod/summarizer',
  body: 'ledger: x',
  idempotencyKey: 'rollback-1',
};

describe('parseWriteBackRequest', () => {
  it('accepts a request and lower-cases its commit ids', () => {
    const parsed = parseWriteBackRequest({ ...base, badCommit: BAD_ID.toUpperCase() });
    assert.equal(parsed.badCommit, BAD_ID);
    assert.deepEqual(parsed.restore, base.restore);
    assert.equal(parseWriteBackRequest({ ...base, author: null }).author, undefined, 'a null author is no author');
  });

  it('names the first bad field', () => {
    const cases: Array<[Record<string, unknown>, RegExp]> = [
      [{ source: 'gitlab' }, /source must be codecommit or github/],
      [{ repository: 'bad/name' }, /not a CodeCommit repository name/],
      [{ source: 'github', repository: 'no-slash' }, /not a GitHub repository/],
      [{ branch: 'a..b' }, /'a\.\.b' is not a branch name/],
      [{ mode: 'force-push' }, /mode must be revert-commit or pull-request/],
      [{ goodCommit: 'abc' }, /goodCommit: 'abc' is not a full commit id/],
      [{ restore: {} }, /'restore' names no file/],
      [{ expected: { 'a.yaml': 'bad\n' } }, /only in restore: new\.yaml/],
      [
        { restore: { '../x.yaml': null }, expected: { '../x.yaml': null } },
        /'\.\.\/x\.yaml' is not a path Ballast writes/,
      ],
      [{ restore: { '.github/x.yaml': null }, expected: { '.github/x.yaml': null } }, /no hidden folder/],
      [{ restore: { 'a.yaml': 3, 'new.yaml': null } }, /content of 'a\.yaml' must be a string or null/],
      [{ title: '' }, /'title' must be a non-empty string/],
      [{ title: 'two\nlines' }, /'title' must be one line/],
      [{ idempotencyKey: '' }, /'idempotencyKey'/],
      [{ author: { name: 'A <a>', email: 'a@b' } }, /'author'/],
    ];
    assert.ok(cases.length > 0);
    for (const [change, pattern] of cases) {
      assert.throws(
        () => parseWriteBackRequest({ ...base, ...change }),
        (error: unknown) => error instanceof InvalidInputError && pattern.test(error.message),
        `${JSON.stringify(change)} is refused with ${pattern}`,
      );
    }
  });
});

describe('assessBranch', () => {
  const files = (entries: Record<string, BranchFile>) => new Map(Object.entries(entries));

  it('says restored when the head has the good content everywhere', () => {
    assert.deepEqual(assessBranch(base, files({ 'a.yaml': bytes('good\n'), 'new.yaml': null })), { kind: 'restored' });
  });

  it('reverts a head that still has the rolled-back content: puts and deletes', () => {
    assert.deepEqual(assessBranch(base, files({ 'a.yaml': bytes('bad\n'), 'new.yaml': bytes('added\n') })), {
      kind: 'revert',
      changes: { put: [{ path: 'a.yaml', content: 'good\n' }], delete: ['new.yaml'] },
    });
  });

  it('names the path a human moved on, and why', () => {
    const cases: Array<[Record<string, BranchFile>, string, RegExp]> = [
      [{ 'a.yaml': bytes('other\n'), 'new.yaml': bytes('added\n') }, 'a.yaml', /neither the rolled-back nor the good/],
      [{ 'a.yaml': null, 'new.yaml': bytes('added\n') }, 'a.yaml', /deleted/],
      [{ 'a.yaml': { unreadable: 'a symlink' }, 'new.yaml': bytes('added\n') }, 'a.yaml', /a symlink now/],
      [
        { 'a.yaml': bytes('bad\n'), 'new.yaml': null },
        'new.yaml',
        /already has the good content, but other files do not/,
      ],
    ];
    assert.ok(cases.length > 0);
    for (const [head, path, why] of cases) {
      const assessment = assessBranch(base, files(head));
      assert.equal(assessment.kind, 'moved-on');
      assert.ok(assessment.kind === 'moved-on');
      assert.equal(assessment.path, path);
      assert.match(assessment.why, why);
    }
  });

  it('says added for a file the bad commit did not have', () => {
    const request = { restore: { 'x.yaml': 'good\n' }, expected: { 'x.yaml': null } };
    const assessment = assessBranch(request, files({ 'x.yaml': bytes('someone else\n') }));
    assert.ok(assessment.kind === 'moved-on');
    assert.equal(assessment.why, 'it was added');
  });
});

describe('changesToRestore', () => {
  it('writes only what differs, in path order', () => {
    const restore = { 'b.yaml': 'b\n', 'a.yaml': 'a\n', 'gone.yaml': null, 'absent.yaml': null };
    const head = new Map<string, BranchFile>([
      ['b.yaml', bytes('old\n')],
      ['a.yaml', bytes('old\n')],
      ['gone.yaml', bytes('x\n')],
      ['absent.yaml', null],
    ]);
    assert.deepEqual(changesToRestore(restore, head), {
      put: [
        { path: 'a.yaml', content: 'a\n' },
        { path: 'b.yaml', content: 'b\n' },
      ],
      delete: ['gone.yaml'],
    });
  });
});

describe('names and messages', () => {
  it('names the rollback branch after the key, deterministically, and always validly', () => {
    assert.equal(rollbackBranchName('rollback-prod-summarizer-1'), 'ballast/rollback-rollback-prod-summarizer-1');
    const odd = rollbackBranchName('exec:with spaces/and..dots');
    assert.equal(odd, rollbackBranchName('exec:with spaces/and..dots'), 'the same key, the same branch');
    assert.notEqual(odd, rollbackBranchName('exec:with spaces/and..dots!'), 'another key, another branch');
    assert.ok(isBranchName(odd), `${odd} is a valid branch name`);
    assert.ok(isBranchName(rollbackBranchName('...')), 'even a key with nothing usable in it');
  });

  it('checks branch names as git does', () => {
    const valid = ['main', 'release/2024', 'ballast/rollback-x'];
    const invalid = [
      '',
      'a..b',
      '/main',
      'main/',
      'a//b',
      '.hidden',
      'a/.b',
      'x.lock',
      'end.',
      'sp ace',
      'a:b',
      'a@{b',
      '@',
    ];
    assert.ok(valid.every(isBranchName), 'valid names pass');
    for (const name of invalid) assert.equal(isBranchName(name), false, `'${name}' is refused`);
  });

  it('joins title and body, and cuts a message over 256 KB at a character boundary', () => {
    assert.equal(commitMessage('Title', 'Body'), 'Title\n\nBody\n');
    assert.equal(commitMessage('Title', '  '), 'Title\n');
    const long = commitMessage('Title', '€'.repeat(MAX_COMMIT_MESSAGE_BYTES));
    assert.ok(Buffer.byteLength(long, 'utf8') <= MAX_COMMIT_MESSAGE_BYTES, 'within the limit');
    assert.ok(long.endsWith('… (truncated)\n'), 'marked as cut');
    assert.ok(!long.includes('\uFFFD'), 'no broken character');
  });

  it('defaults to a revert commit on CodeCommit and a pull request on GitHub', () => {
    assert.equal(defaultWriteBackMode('codecommit'), 'revert-commit');
    assert.equal(defaultWriteBackMode('github'), 'pull-request');
  });
});
