// `ballast history` against a sandbox that ran real deployments (the local pipeline with the real
// handlers), in-process through the CLI entry.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { main } from '../../bin/cli.ts';
import { pusher, renderHistory } from '../../bin/commands/history.ts';
import type { LedgerEntry } from '../../lambdas/state/ledger.ts';
import { world } from '../e2e/harness.ts';
import { captureIo } from '../support/cli.ts';

const capture = () => captureIo();

describe('ballast history', () => {
  let w: Awaited<ReturnType<typeof world>>;
  let url = '';
  const commits: string[] = [];
  let rejected = '';
  before(async () => {
    w = await world();
    url = w.sandbox.url;
    const settle = async () => {
      await new Promise((resolve) => setTimeout(resolve, 20));
      await w.pipeline.idle();
    };
    commits.push(await w.push(w.files, 'Initial models'));
    await settle();
    const prompt = w.files['prompts/summarize.yaml'] ?? '';
    commits.push(
      await w.push(
        { 'prompts/summarize.yaml': prompt.replace('You are a precise summarizer.', 'You are a careful summarizer.') },
        'Make the summarizer careful',
      ),
    );
    await settle();
    rejected = await w.push(
      {
        'endpoints/summarizer.yaml': (w.files['endpoints/summarizer.yaml'] ?? '').replace('percent: 50', 'percent: 90'),
      },
      'Canary too big',
    );
    await settle();
  });
  after(async () => {
    await w.stop();
  });

  it('--json: the ledger entries, oldest first', async () => {
    const io = capture();
    assert.equal(await main(['history', 'summarizer', '--endpoint-url', url, '--json'], io), 0, io.err());
    const entries = JSON.parse(io.out()) as LedgerEntry[];
    assert.deepEqual(
      entries.map((e) => [e.commit, e.outcome, e.changes]),
      [
        [commits[0], 'deployed', ['initial']],
        [commits[1], 'deployed', ['prompt:summarize']],
      ],
    );
    assert.equal(entries[0]?.environment, 'prod');
    assert.equal(entries[0]?.branch, 'main');
    assert.equal(entries[0]?.repository, 'model-repo');
    assert.match(entries[1]?.pushedBy ?? '', /^arn:aws:iam::111122223333:user\//);
  });

  it('prints one line per entry: time, commit, outcome, changes, who pushed', async () => {
    const io = capture();
    assert.equal(await main(['history', 'summarizer', '--endpoint-url', url], io), 0, io.err());
    const lines = io.out().trimEnd().split('\n');
    assert.match(
      lines[0] ?? '',
      /^PUSHED {16}ENVIRONMENT {2}COMMIT {3}OUTCOME {3}TOOK +CHANGES {11}PUSHED BY {13}REASON$/,
    );
    assert.equal(lines.length, 3);
    assert.match(
      lines[1] ?? '',
      new RegExp(
        `^2026-03-01 09:\\d\\d:\\d\\dZ  prod {9}${commits[0]?.slice(0, 7)}  deployed  \\S+( \\S+)? +initial +user/ballast-sandbox$`,
      ),
    );
    assert.match(lines[2] ?? '', new RegExp(`  ${commits[1]?.slice(0, 7)}  deployed  .* prompt:summarize  `));
  });

  it('--limit N: the N most recent entries', async () => {
    const io = capture();
    assert.equal(await main(['history', 'summarizer', '--endpoint-url', url, '--limit', '1', '--json'], io), 0);
    assert.deepEqual(
      (JSON.parse(io.out()) as LedgerEntry[]).map((e) => e.commit),
      [commits[1]],
    );
  });

  it('_repository: rejected commits with their file:line issues', async () => {
    const io = capture();
    assert.equal(
      await main(['history', '_repository', '--endpoint-url', url, '--environment', 'prod'], io),
      0,
      io.err(),
    );
    const lines = io.out().trimEnd().split('\n');
    assert.match(lines[1] ?? '', new RegExp(`  ${rejected.slice(0, 7)}  rejected  .*  1 validation error\\(s\\)$`));
    assert.match(lines[2] ?? '', /^ {4}endpoints\/summarizer\.yaml:\d+:\d+: .*50/);
  });

  it('says which endpoints exist when asked for an unknown one (exit 2)', async () => {
    const io = capture();
    assert.equal(await main(['history', 'ranker', '--endpoint-url', url], io), 2);
    assert.match(
      io.err(),
      /^ballast history: no endpoint ranker in s3:\/\/ballast-state at http:\/\/127\.0\.0\.1:\d+ \(endpoints with history: summarizer \(prod\), _repository \(prod\)\)\n$/,
    );
    const staging = capture();
    assert.equal(await main(['history', 'summarizer', '--endpoint-url', url, '--environment', 'staging'], staging), 2);
    assert.match(
      staging.err(),
      /no endpoint summarizer in staging in s3:\/\/ballast-state .*\(nothing has been deployed yet\)/,
    );
  });

  it('explains an unreachable endpoint (exit 2)', async () => {
    const io = capture();
    assert.equal(await main(['history', 'summarizer', '--endpoint-url', 'http://127.0.0.1:1'], io), 2);
    assert.match(io.err(), /^ballast history: cannot reach http:\/\/127\.0\.0\.1:1 \(connection refused\)/);
  });

  it('rejects bad arguments with the usage text (exit 2)', async () => {
    for (const [args, message] of [
      [['--endpoint-url', url], /which endpoint\? \(ENDPOINT is required\)/],
      [['a', 'b', '--endpoint-url', url], /expected one ENDPOINT, got a b/],
      [
        ['summarizer', '--endpoint-url', url, '--limit', '0'],
        /--limit must be a whole number from 1 to 10000, got '0'/,
      ],
      [['summarizer', '--endpoint-url', url, '--limit', 'all'], /--limit must be a whole number/],
      [['../x', '--endpoint-url', url], /'\.\.\/x' is not an endpoint name/],
      [['summarizer'], /say where Ballast keeps its state/],
    ] as const) {
      const io = capture();
      assert.equal(await main(['history', ...args], io), 2, args.join(' '));
      assert.match(io.err(), message);
      assert.match(io.err(), /Usage: ballast history ENDPOINT/);
    }
  });
});

describe('history rendering', () => {
  it('shortens IAM and STS ARNs to who pushed', () => {
    assert.equal(pusher('arn:aws:iam::111122223333:user/alice'), 'user/alice');
    assert.equal(pusher('arn:aws:sts::111122223333:assumed-role/ci/run-42'), 'assumed-role/ci/run-42');
    assert.equal(pusher('octocat'), 'octocat');
  });

  const entry = (extra: Partial<LedgerEntry> = {}): LedgerEntry => ({
    environment: 'prod',
    endpoint: 'summarizer',
    commit: 'a'.repeat(40),
    source: 'codecommit',
    repository: 'model-repo',
    branch: 'main',
    pushedBy: 'arn:aws:iam::111122223333:user/alice',
    pushedAt: '2026-03-01T09:00:00.000Z',
    deliveryId: '6f1e3b52-2d7a-4f0c-9e53-2b3a0c6a7b11',
    execution: 'exec',
    outcome: 'deployed',
    startedAt: '2026-03-01T10:00:00.000Z',
    finishedAt: '2026-03-01T10:02:00.000Z',
    durationSeconds: 120,
    ...extra,
  });
  /** The line under an entry's row. */
  const below = (e: LedgerEntry) => renderHistory('summarizer', 's3://b', [e])[2];

  it('shows a heal as a heal: what drifted, who asked, when and why', () => {
    const heal = entry({
      retry: {
        requestedBy: 'ballast reconcile',
        requestedAt: '2026-03-01T10:00:00.000Z',
        reason: 'the live endpoint drifted from 1a2b3c4d5e6f',
        kind: 'heal',
        paths: ['/target/sagemaker/instanceType', '/tags/ballast:managed'],
      },
    });
    assert.equal(
      below(heal),
      '    heal (drift: /target/sagemaker/instanceType, /tags/ballast:managed) asked for by ballast reconcile at 2026-03-01 10:00:00Z: the live endpoint drifted from 1a2b3c4d5e6f',
    );
  });

  it('shows a retry as a retry, with or without its kind', () => {
    const retry = { requestedBy: 'arn:aws:iam::111122223333:user/ops', requestedAt: '2026-03-01T10:00:00.000Z' };
    const line = '    retry asked for by user/ops at 2026-03-01 10:00:00Z';
    assert.equal(below(entry({ retry })), line);
    assert.equal(below(entry({ retry: { ...retry, kind: 'retry' } })), line);
  });

  it('shows a missed push as one: the reconciler deployed what no push event brought', () => {
    assert.equal(
      below(entry({ deliveryId: 'reconcile-20260301T1000' })),
      '    missed push: no push event reached Ballast; the reconciler found it (reconcile-20260301T1000)',
    );
  });

  it('adds no line under a plain push', () => {
    assert.equal(renderHistory('summarizer', 's3://b', [entry()]).length, 2);
  });

  it('says so when an endpoint has state but no finished deployment yet', () => {
    assert.deepEqual(renderHistory('summarizer', 's3://b', []), [
      'summarizer: no finished deployments yet in s3://b (a rollout may be running)',
    ]);
  });
});
