import assert from 'node:assert/strict';
import crypto, { createHash, createHmac } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { syncBuiltinESMExports } from 'node:module';
import { after, before, beforeEach, describe, it, mock } from 'node:test';
import { InvalidInputError, TransientError } from '../../../lambdas/aws/errors.ts';
import {
  commitStatusContext,
  GitHubApiError,
  gitHubSource,
  pushFromGitHubDelivery,
  StaleDeliveryError,
  setGitHubCommitStatus,
  verifyGitHubSignature,
} from '../../../lambdas/sources/github.ts';
import { RepoSourceError } from '../../../lambdas/spec/source.ts';
import { buildRepository, type FakeEntry, FakeGitHub, gitSha1 } from '../../support/fake-github.ts';

// ---------------------------------------------------------------------------------------------
// Real webhook payloads from @octokit/webhooks-examples
// ---------------------------------------------------------------------------------------------

interface ExampleSet {
  name: string;
  examples: Array<Record<string, unknown>>;
}
const EXAMPLES = JSON.parse(
  readFileSync(
    new URL('../../../node_modules/@octokit/webhooks-examples/api.github.com/index.json', import.meta.url),
    'utf8',
  ),
) as ExampleSet[];
const examplesOf = (name: string) => EXAMPLES.find((set) => set.name === name)?.examples ?? [];
const pushes = examplesOf('push');
const branchPushes = pushes.filter((p) => typeof p.ref === 'string' && p.ref.startsWith('refs/heads/'));
const tagPushes = pushes.filter((p) => typeof p.ref === 'string' && p.ref.startsWith('refs/tags/'));
const pushedAtMs = (payload: Record<string, unknown>) =>
  ((payload.repository as { pushed_at: number }).pushed_at as number) * 1000;

function delivery(event: string, payload: unknown, overrides: Record<string, string | undefined> = {}) {
  return {
    headers: {
      'X-GitHub-Event': event,
      'X-GitHub-Delivery': '72d3162e-cc78-11e3-81ab-4c9367dc0958',
      'content-type': 'application/json',
      ...overrides,
    },
    rawBody: Buffer.from(JSON.stringify(payload)),
  };
}

describe('verifyGitHubSignature', () => {
  const secret = "It's a Secret to Everybody";
  // The example from GitHub Docs, "Validating webhook deliveries".
  const docsBody = 'Hello, World!';
  const docsSignature = 'sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17';

  it('accepts the documented example and a freshly signed body', () => {
    assert.equal(verifyGitHubSignature(secret, Buffer.from(docsBody), docsSignature), true);
    const body = Buffer.from(JSON.stringify(branchPushes[0]));
    const signature = `sha256=${createHmac('sha256', 'other').update(body).digest('hex')}`;
    assert.equal(verifyGitHubSignature('other', body, signature), true);
    assert.equal(verifyGitHubSignature(new TextEncoder().encode('other'), body.toString('utf8'), signature), true);
  });

  it('rejects a tampered body and a wrong secret', () => {
    assert.equal(verifyGitHubSignature(secret, Buffer.from('Hello, World?'), docsSignature), false);
    assert.equal(verifyGitHubSignature(`${secret}!`, Buffer.from(docsBody), docsSignature), false);
    assert.equal(
      verifyGitHubSignature('', Buffer.from(docsBody), docsSignature),
      false,
      'an empty secret never verifies',
    );
  });

  it('returns false without throwing for missing or malformed headers', () => {
    const body = Buffer.from(docsBody);
    for (const header of [
      undefined,
      null,
      '',
      'sha256=',
      '757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17',
      'sha1=757107ea0eb2509fc211221cce984b8a37570b6d',
      'sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e1', // 63 digits
      'sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e1700', // 66 digits
      'sha256=z57107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17',
      'sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17,sha256=00',
    ]) {
      assert.equal(verifyGitHubSignature(secret, body, header), false, String(header));
    }
  });

  it('compares with crypto.timingSafeEqual on equal-length digests, and never on malformed input', () => {
    const spy = mock.method(crypto, 'timingSafeEqual');
    syncBuiltinESMExports();
    try {
      assert.equal(verifyGitHubSignature(secret, Buffer.from(docsBody), docsSignature), true);
      assert.equal(verifyGitHubSignature(secret, Buffer.from('tampered'), docsSignature), false);
      assert.equal(spy.mock.callCount(), 2);
      for (const call of spy.mock.calls) {
        const [a, b] = call.arguments as [Buffer, Buffer];
        assert.equal(a.length, 32);
        assert.equal(b.length, 32);
      }
      assert.equal(verifyGitHubSignature(secret, Buffer.from(docsBody), 'sha256=abcd'), false);
      assert.equal(spy.mock.callCount(), 2, 'a wrong-length signature is refused before any comparison');
    } finally {
      spy.mock.restore();
      syncBuiltinESMExports();
    }
  });
});

describe('pushFromGitHubDelivery', () => {
  it('has the examples it relies on', () => {
    assert.ok(branchPushes.length > 0, 'a branch push example');
    assert.ok(tagPushes.length > 0, 'tag push examples');
    assert.ok(examplesOf('ping').length > 0, 'ping examples');
  });

  it('normalises every branch push example', () => {
    for (const payload of branchPushes) {
      const now = pushedAtMs(payload) + 5_000;
      const push = pushFromGitHubDelivery({ ...delivery('push', payload), now });
      assert.deepEqual(push, {
        source: 'github',
        repository: 'Codertocat/Hello-World',
        branch: 'master',
        commit: '6113728f27ae82c7b1a177c8d03f9e96e0adf246',
        pushedBy: 'Codertocat',
        pushedAt: '2019-05-15T15:20:57.000Z',
        deliveryId: '72d3162e-cc78-11e3-81ab-4c9367dc0958',
      });
    }
  });

  it('keeps the previous head of an update and reads headers case-insensitively', () => {
    const payload = { ...branchPushes[0], before: 'a10867b14bb761a232cd80139fbd4c0d33264240', created: false };
    const { rawBody } = delivery('push', payload);
    const push = pushFromGitHubDelivery({
      headers: { 'x-github-event': 'push', 'x-github-delivery': 'd1a6a5a0-0000-11ef-8000-000000000001' },
      rawBody: rawBody.toString('utf8'),
      now: new Date(pushedAtMs(payload)),
    });
    assert.ok(!('ignored' in push));
    assert.equal(push.previousCommit, 'a10867b14bb761a232cd80139fbd4c0d33264240');
    assert.equal(push.deliveryId, 'd1a6a5a0-0000-11ef-8000-000000000001');
  });

  it('ignores every tag push example (created and deleted tags)', () => {
    for (const payload of tagPushes) {
      const result = pushFromGitHubDelivery({ ...delivery('push', payload), now: pushedAtMs(payload) });
      assert.deepEqual(result, { ignored: 'refs/tags/simple-tag is not a branch' });
    }
  });

  it('ignores a branch deletion', () => {
    const payload = {
      ...branchPushes[0],
      before: '6113728f27ae82c7b1a177c8d03f9e96e0adf246',
      after: '0000000000000000000000000000000000000000',
      created: false,
      deleted: true,
      head_commit: null,
    };
    assert.deepEqual(pushFromGitHubDelivery({ ...delivery('push', payload), now: pushedAtMs(payload) }), {
      ignored: "branch 'master' was deleted",
    });
  });

  it('ignores every ping example', () => {
    for (const payload of examplesOf('ping')) {
      assert.deepEqual(pushFromGitHubDelivery({ ...delivery('ping', payload), now: Date.now() }), {
        ignored: 'ping: the webhook is set up (hook 109948940)',
      });
    }
  });

  it('ignores every other event in the examples', () => {
    let count = 0;
    for (const set of EXAMPLES) {
      if (set.name === 'push' || set.name === 'ping') continue;
      for (const payload of set.examples) {
        const result = pushFromGitHubDelivery({ ...delivery(set.name, payload), now: Date.now() });
        assert.deepEqual(result, { ignored: `GitHub '${set.name}' events do not deploy; only pushes to branches do` });
        count += 1;
      }
    }
    assert.ok(count > 50, `checked ${count} payloads`);
  });

  it('refuses stale and future deliveries by the signed repository.pushed_at', () => {
    const payload = branchPushes[0] as Record<string, unknown>;
    const at = pushedAtMs(payload);
    assert.ok(!('ignored' in pushFromGitHubDelivery({ ...delivery('push', payload), now: at + 600_000 })));
    assert.throws(
      () => pushFromGitHubDelivery({ ...delivery('push', payload), now: at + 601_000 }),
      (error: unknown) => error instanceof StaleDeliveryError && /601 s old \(limit 600 s\)/.test(error.message),
    );
    assert.throws(
      () => pushFromGitHubDelivery({ ...delivery('push', payload), now: at - 3_600_000 }),
      (error: unknown) => error instanceof StaleDeliveryError && /in the future/.test(error.message),
    );
    assert.ok(
      !(
        'ignored' in pushFromGitHubDelivery({ ...delivery('push', payload), now: at + 3_000_000, maxAgeSeconds: 3600 })
      ),
    );
    // The real example as delivered today: years old.
    assert.throws(() => pushFromGitHubDelivery({ ...delivery('push', payload), now: Date.now() }), StaleDeliveryError);
    // head_commit.timestamp (author time) is not what counts: an old commit pushed now is fresh.
    const oldCommit = {
      ...payload,
      head_commit: { ...(payload.head_commit as object), timestamp: '2001-01-01T00:00:00Z' },
    };
    assert.ok(!('ignored' in pushFromGitHubDelivery({ ...delivery('push', oldCommit), now: at + 1000 })));
  });

  it('rejects malformed deliveries with InvalidInputError', () => {
    const payload = branchPushes[0] as Record<string, unknown>;
    const now = pushedAtMs(payload);
    const cases: Array<[string, ReturnType<typeof delivery>]> = [
      ['no event header', delivery('push', payload, { 'X-GitHub-Event': undefined })],
      ['no delivery header', delivery('push', payload, { 'X-GitHub-Delivery': undefined })],
      ['delivery id with a slash', delivery('push', payload, { 'X-GitHub-Delivery': '../../etc' })],
      ['not JSON', { ...delivery('push', payload), rawBody: Buffer.from('payload=%7B%7D') }],
      ['not UTF-8', { ...delivery('push', payload), rawBody: Buffer.from([0x7b, 0xff, 0x7d]) }],
      ['a JSON array', delivery('push', [payload])],
      ['no ref', delivery('push', { ...payload, ref: undefined })],
      ['abbreviated after', delivery('push', { ...payload, after: '6113728' })],
      ['no repository', delivery('push', { ...payload, repository: undefined })],
      [
        'bad full_name',
        delivery('push', { ...payload, repository: { ...(payload.repository as object), full_name: 'a/b/c' } }),
      ],
      [
        'no pushed_at',
        delivery('push', { ...payload, repository: { ...(payload.repository as object), pushed_at: undefined } }),
      ],
    ];
    for (const [name, input] of cases) {
      assert.throws(() => pushFromGitHubDelivery({ ...input, now }), InvalidInputError, name);
    }
  });
});

const FILES: Record<string, FakeEntry> = {
  'ballast.yaml': { mode: '100644', content: 'apiVersion: ballast.dev/v1\nkind: Repository\n' },
  'models/llama.yaml': { mode: '100644', content: 'kind: Model\nmetadata:\n  name: llama\n' },
  'models/prompts/system.yml': { mode: '100644', content: 'kind: Prompt\n' },
  'scripts/run.sh': { mode: '100755', content: '#!/bin/sh\n' },
  'README.md': { mode: '100644', content: '# models\n' },
  'linked.yaml': { mode: '120000', content: 'ballast.yaml' },
  vendor: { mode: '160000' },
  '.github/workflows/ci.yml': { mode: '100644', content: 'on: push\n' },
  'node_modules/pkg/index.yaml': { mode: '100644', content: 'x: 1\n' },
  'big.yaml': { mode: '100644', content: `# ${'x'.repeat(5000)}\n` },
};

describe('gitHubSource and setGitHubCommitStatus against a GitHub double', () => {
  const repo = buildRepository(FILES);
  const github = new FakeGitHub(repo);
  let sleeps: number[] = [];
  const options = () => ({
    apiUrl: `${github.url}/`,
    token: 'ghs_test-token',
    repository: 'octo-org/models',
    commit: repo.commit,
    sleep: async (ms: number) => {
      sleeps.push(ms);
    },
  });
  const blobSha = (path: string) => gitSha1('blob', Buffer.from(FILES[path]?.content ?? ''));

  before(() => github.start());
  after(() => github.stop());
  beforeEach(() => {
    github.reset();
    sleeps = [];
  });

  it('lists the tree at the commit with one recursive request and GitHub headers', async () => {
    const entries = await gitHubSource(options()).list();
    assert.deepEqual(entries, [
      { path: 'README.md', kind: 'file', size: 9 },
      { path: 'ballast.yaml', kind: 'file', size: 44 },
      { path: 'big.yaml', kind: 'file', size: 5003 },
      { path: 'linked.yaml', kind: 'symlink', size: 12 },
      { path: 'models/llama.yaml', kind: 'file', size: 36 },
      { path: 'models/prompts/system.yml', kind: 'file', size: 13 },
      { path: 'scripts/run.sh', kind: 'file', size: 10 },
      { path: 'vendor', kind: 'other', size: 0 },
    ]);
    assert.equal(github.requests.length, 1);
    const [request] = github.requests;
    assert.equal(request?.method, 'GET');
    assert.equal(request?.url, `/repos/octo-org/models/git/trees/${repo.commit}?recursive=1`);
    assert.equal(request?.headers.authorization, 'Bearer ghs_test-token');
    assert.equal(request?.headers.accept, 'application/vnd.github+json');
    assert.equal(request?.headers['x-github-api-version'], '2022-11-28');
    assert.equal(request?.headers['user-agent'], 'ballast');
  });

  it('reads blobs by sha, verified against the tree, and lists only once', async () => {
    const source = gitHubSource(options());
    const bytes = await source.read('models/llama.yaml');
    assert.equal(new TextDecoder().decode(bytes), FILES['models/llama.yaml']?.content);
    assert.equal(new TextDecoder().decode(await source.read('ballast.yaml')), FILES['ballast.yaml']?.content);
    assert.deepEqual(
      github.requests.map((r) => `${r.method} ${r.url}`),
      [
        `GET /repos/octo-org/models/git/trees/${repo.commit}?recursive=1`,
        `GET /repos/octo-org/models/git/blobs/${blobSha('models/llama.yaml')}`,
        `GET /repos/octo-org/models/git/blobs/${blobSha('ballast.yaml')}`,
      ],
    );
    assert.ok(github.requests.every((r) => r.headers.authorization === 'Bearer ghs_test-token'));
  });

  it('refuses symlinks, non-files, unknown, unsafe and oversized paths without fetching them', async () => {
    const source = gitHubSource({ ...options(), maxReadBytes: 1024 });
    await source.list();
    for (const [path, pattern] of [
      ['linked.yaml', /symlink/],
      ['vendor', /not a regular file/],
      ['missing.yaml', /no file/],
      ['../etc/passwd', /not a path inside/],
      ['/ballast.yaml', /not a path inside/],
      ['big.yaml', /5003 bytes is over the 1024-byte limit/],
      ['node_modules/pkg/index.yaml', /no file/],
    ] as const) {
      await assert.rejects(
        source.read(path),
        (error: unknown) => error instanceof RepoSourceError && pattern.test(error.message),
        path,
      );
    }
    assert.equal(github.requests.length, 1, 'only the tree listing was requested');
  });

  it('refuses content that does not match its blob id', async () => {
    github.corrupt.add(blobSha('ballast.yaml'));
    await assert.rejects(gitHubSource(options()).read('ballast.yaml'), TransientError);
  });

  it('walks subtrees when GitHub truncates the recursive listing, skipping hidden folders and node_modules', async () => {
    github.truncate.add(repo.commit);
    const entries = await gitHubSource(options()).list();
    assert.deepEqual(
      entries.map((e) => e.path),
      [
        'README.md',
        'ballast.yaml',
        'big.yaml',
        'linked.yaml',
        'models/llama.yaml',
        'models/prompts/system.yml',
        'scripts/run.sh',
        'vendor',
      ],
    );
    const treeSha = (dir: string) => createHash('sha1').update(`tree:${dir}`).digest('hex');
    assert.deepEqual(
      github.requests.map((r) => r.url),
      [
        `/repos/octo-org/models/git/trees/${repo.commit}?recursive=1`,
        `/repos/octo-org/models/git/trees/${repo.commit}`,
        `/repos/octo-org/models/git/trees/${treeSha('models')}?recursive=1`,
        `/repos/octo-org/models/git/trees/${treeSha('scripts')}?recursive=1`,
      ],
    );
    github.reset();
    github.truncate.add(repo.commit);
    await assert.rejects(gitHubSource({ ...options(), maxTreeRequests: 2 }).list(), InvalidInputError);
  });

  it('retries a 502 with backoff', async () => {
    github.script.push({ match: /trees/, status: 502, body: { message: 'Server Error' } });
    const entries = await gitHubSource(options()).list();
    assert.equal(entries.length, 8);
    assert.equal(github.requests.length, 2);
    assert.equal(sleeps.length, 1);
    assert.ok((sleeps[0] ?? -1) >= 0 && (sleeps[0] ?? 1e9) <= 250);
  });

  it('waits out a secondary rate limit as Retry-After says', async () => {
    github.script.push({
      match: /blobs/,
      status: 403,
      headers: { 'retry-after': '3' },
      body: { message: 'You have exceeded a secondary rate limit. Please wait a few minutes before you try again.' },
    });
    const bytes = await gitHubSource(options()).read('README.md');
    assert.equal(new TextDecoder().decode(bytes), '# models\n');
    assert.deepEqual(sleeps, [3000]);
    assert.deepEqual(
      github.requests.map((r) => r.url.replace(/\?.*/, '').split('/').slice(-2, -1)[0]),
      ['trees', 'blobs', 'blobs'],
    );
  });

  it('waits for x-ratelimit-reset on a 429 with no requests left', async () => {
    const reset = Math.ceil(Date.now() / 1000) + 5;
    github.script.push({
      match: /trees/,
      status: 429,
      headers: { 'x-ratelimit-remaining': '0', 'x-ratelimit-reset': String(reset) },
      body: { message: 'API rate limit exceeded' },
    });
    await gitHubSource(options()).list();
    assert.equal(sleeps.length, 1);
    assert.ok((sleeps[0] ?? 0) > 3000 && (sleeps[0] ?? 0) <= 6000, `slept ${sleeps[0]}`);
  });

  it('hands a long rate-limit wait to Step Functions as a TransientError', async () => {
    github.script.push({ match: /trees/, status: 403, body: { message: 'You have exceeded a secondary rate limit.' } });
    await assert.rejects(
      gitHubSource(options()).list(),
      (error: unknown) => error instanceof TransientError && /retry in 60 s/.test(error.message),
    );
    assert.equal(github.requests.length, 1);
    assert.deepEqual(sleeps, []);
  });

  it('fails at once on 401, a permission 403 and 404', async () => {
    for (const [status, message] of [
      [401, 'Bad credentials'],
      [403, 'Resource not accessible by integration'],
      [404, 'Not Found'],
    ] as const) {
      github.reset();
      github.script.push({ match: /trees/, status, body: { message } });
      await assert.rejects(
        gitHubSource(options()).list(),
        (error: unknown) =>
          error instanceof GitHubApiError && error.status === status && error.message.includes(message),
      );
      assert.equal(github.requests.length, 1);
      assert.deepEqual(sleeps, []);
    }
    github.reset();
    await assert.rejects(
      gitHubSource({ ...options(), commit: 'f'.repeat(40) }).list(),
      (error: unknown) => error instanceof GitHubApiError && error.status === 404,
    );
  });

  it('gives up with TransientError after repeated 5xx and timeouts', async () => {
    for (let i = 0; i < 4; i++) github.script.push({ match: /trees/, status: 503, body: { message: 'Unavailable' } });
    await assert.rejects(
      gitHubSource(options()).list(),
      (error: unknown) => error instanceof TransientError && /4 attempts/.test(error.message),
    );
    assert.equal(github.requests.length, 4);
    assert.equal(sleeps.length, 3);

    github.reset();
    sleeps = [];
    github.script.push({ match: /trees/, hang: true });
    const entries = await gitHubSource({ ...options(), timeoutMs: 200 }).list();
    assert.equal(entries.length, 8, 'the hung request timed out and the retry succeeded');
    assert.equal(github.requests.length, 2);
  });

  it('refuses plain HTTP to anything but loopback, and a branch instead of a commit', () => {
    assert.throws(() => gitHubSource({ ...options(), apiUrl: 'http://api.github.com' }), InvalidInputError);
    assert.throws(() => gitHubSource({ ...options(), commit: 'main' }), InvalidInputError);
    assert.throws(() => gitHubSource({ ...options(), repository: 'octo-org/models/extra' }), InvalidInputError);
  });

  it('sets a commit status with the documented request body', async () => {
    await setGitHubCommitStatus({
      ...options(),
      state: 'success',
      context: commitStatusContext('prod', 'chat-llama'),
      description: 'Deployed to prod/chat-llama',
      targetUrl: 'https://console.aws.amazon.com/states/home#/v2/executions/details/arn',
    });
    assert.equal(github.requests.length, 1);
    const [request] = github.requests;
    assert.equal(request?.method, 'POST');
    assert.equal(request?.url, `/repos/octo-org/models/statuses/${repo.commit}`);
    assert.equal(request?.headers.authorization, 'Bearer ghs_test-token');
    assert.equal(request?.headers['content-type'], 'application/json');
    assert.deepEqual(JSON.parse(request?.body ?? ''), {
      state: 'success',
      context: 'ballast/prod/chat-llama',
      description: 'Deployed to prod/chat-llama',
      target_url: 'https://console.aws.amazon.com/states/home#/v2/executions/details/arn',
    });
  });

  it('cuts the description to 140 characters and retries a 502', async () => {
    github.script.push({ match: /statuses/, status: 502, body: { message: 'Bad Gateway' } });
    await setGitHubCommitStatus({
      ...options(),
      state: 'failure',
      context: 'ballast/prod/chat-llama',
      description: 'x'.repeat(300),
    });
    assert.equal(github.requests.length, 2);
    const body = JSON.parse(github.requests[1]?.body ?? '') as { description: string; target_url?: string };
    assert.equal(body.description.length, 140);
    assert.ok(body.description.endsWith('…'));
    assert.equal(body.target_url, undefined);
    assert.equal(sleeps.length, 1);
  });

  it('rejects a bad state, context or target URL before calling GitHub', async () => {
    const base = { ...options(), context: 'ballast/prod/x', description: 'd' };
    await assert.rejects(setGitHubCommitStatus({ ...base, state: 'done' as 'success' }), InvalidInputError);
    await assert.rejects(setGitHubCommitStatus({ ...base, state: 'error', context: '' }), InvalidInputError);
    await assert.rejects(
      setGitHubCommitStatus({ ...base, state: 'error', targetUrl: 'javascript:alert(1)' }),
      InvalidInputError,
    );
    assert.equal(github.requests.length, 0);
  });
});
