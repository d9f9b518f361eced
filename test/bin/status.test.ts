// `ballast status` against a sandbox that ran real deployments (the local pipeline with the real
// handlers), in-process through the CLI entry.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { CreateBucketCommand, PutBucketTaggingCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { main } from '../../bin/cli.ts';
import { findStackBucket } from '../../bin/commands/state-reader.ts';
import { renderStatus, STATUSES, type StatusEntry, statusOf } from '../../bin/commands/status.ts';
import type { EndpointState } from '../../lambdas/state/endpoint-state.ts';
import type { EnvironmentStatus } from '../../lambdas/state/reconcile-status.ts';
import { editYaml, requireFile, world } from '../e2e/harness.ts';
import { captureIo } from '../support/cli.ts';
import { handEdit, reconcile } from '../support/reconcile.ts';

const capture = (env: NodeJS.ProcessEnv = {}) => captureIo({ env });

async function settle(w: Awaited<ReturnType<typeof world>>): Promise<void> {
  // The push event reaches the pipeline on a microtask; then wait for every execution.
  await new Promise((resolve) => setTimeout(resolve, 20));
  await w.pipeline.idle();
}

describe('ballast status', () => {
  let w: Awaited<ReturnType<typeof world>>;
  let url = '';
  let commit = '';
  before(async () => {
    w = await world();
    url = w.sandbox.url;
    commit = await w.push(w.files, 'Initial models');
    await settle(w);
  });
  after(async () => {
    await w.stop();
  });

  it('--json: every endpoint with desired, live and last-good commits', async () => {
    const io = capture();
    assert.equal(await main(['status', '--endpoint-url', url, '--json'], io), 0, io.err());
    const result = JSON.parse(io.out()) as { bucket: string; endpoints: StatusEntry[]; reconciler: unknown };
    assert.equal(result.bucket, 'ballast-state');
    assert.equal(result.reconciler, null, 'the reconciler has not run');
    assert.equal(result.endpoints.length, 1, 'the EKS endpoint is deferred, so only summarizer has state');
    const [summarizer] = result.endpoints;
    assert.equal(summarizer?.environment, 'prod');
    assert.equal(summarizer?.endpoint, 'summarizer');
    assert.equal(summarizer?.status, 'in sync');
    assert.equal(summarizer?.desired?.commit, commit);
    assert.equal(summarizer?.live?.commit, commit);
    assert.equal(summarizer?.lastGood?.commit, commit);
    assert.match(summarizer?.live?.endpointConfigName ?? '', /^ballast-prod-summarizer-/);
    assert.equal(summarizer?.lease, undefined);
    assert.deepEqual(summarizer?.quarantined, []);
    assert.equal(io.err(), '');
  });

  it('prints an aligned table', async () => {
    const io = capture();
    assert.equal(await main(['status', '--endpoint-url', url], io), 0, io.err());
    const c = commit.slice(0, 7);
    const lines = io.out().trimEnd().split('\n');
    assert.equal(lines[0], `s3://ballast-state at ${url}`);
    assert.equal(lines[1], '');
    assert.equal(
      lines[2],
      'ENVIRONMENT  ENDPOINT    STATUS   DESIRED  LIVE     LAST GOOD  PREVIOUS  ROLLOUT  QUARANTINED  UPDATED',
    );
    assert.match(
      lines[3] ?? '',
      new RegExp(`^prod {9}summarizer  in sync  ${c}  ${c}  ${c}    - {9}- {8}- {12}2026-03-01 \\d\\d:\\d\\d:\\d\\dZ$`),
    );
    assert.equal(lines.length, 4, 'no reconcile has run: nothing about it');
    // Every column starts where its header does (header names hold single spaces, columns two).
    const header = lines[2] ?? '';
    for (const column of header.split(/ {2,}/).slice(1)) {
      const at = header.indexOf(column);
      assert.notEqual((lines[3] ?? '')[at], ' ', `${column} is aligned`);
      assert.equal((lines[3] ?? '')[at - 1], ' ');
    }
  });

  it('follows a rejected commit: state does not move', async () => {
    const rejected = await w.push(
      {
        'endpoints/summarizer.yaml': (w.files['endpoints/summarizer.yaml'] ?? '').replace('percent: 50', 'percent: 90'),
      },
      'Canary too big',
    );
    await settle(w);
    const io = capture();
    assert.equal(await main(['status', '--endpoint-url', url, '--json'], io), 0);
    const [summarizer] = (JSON.parse(io.out()) as { endpoints: StatusEntry[] }).endpoints;
    assert.notEqual(rejected, commit);
    assert.equal(summarizer?.live?.commit, commit);
    assert.equal(summarizer?.desired?.commit, commit);
  });

  it('--environment: only that environment', async () => {
    const prod = capture();
    assert.equal(await main(['status', '--endpoint-url', url, '--environment', 'prod', '--json'], prod), 0);
    assert.equal((JSON.parse(prod.out()) as { endpoints: unknown[] }).endpoints.length, 1);
    const staging = capture();
    assert.equal(await main(['status', '--endpoint-url', url, '--environment', 'staging'], staging), 0);
    assert.equal(
      staging.out(),
      `s3://ballast-state at ${url}: no endpoint state in staging yet (nothing has been deployed there)\n`,
    );
  });

  it('takes the endpoint from AWS_ENDPOINT_URL, as `ballast sandbox` prints it', async () => {
    const io = capture({ AWS_ENDPOINT_URL: url });
    assert.equal(await main(['status', '--json'], io), 0, io.err());
    assert.equal((JSON.parse(io.out()) as { endpoints: StatusEntry[] }).endpoints[0]?.live?.commit, commit);
  });

  it('finds the bucket of a CloudFormation stack by its generated name and tags (--stack)', async () => {
    const s3 = new S3Client({
      endpoint: url,
      region: 'us-east-1',
      credentials: { accessKeyId: 'x', secretAccessKey: 'x' },
    });
    try {
      const make = async (bucket: string, stack: string, logicalId: string) => {
        await s3.send(new CreateBucketCommand({ Bucket: bucket }));
        await s3.send(
          new PutBucketTaggingCommand({
            Bucket: bucket,
            Tagging: {
              TagSet: [
                { Key: 'aws:cloudformation:stack-name', Value: stack },
                { Key: 'aws:cloudformation:logical-id', Value: logicalId },
              ],
            },
          }),
        );
      };
      await make('ballastprod-artifactstorebucket1a2b3c4d-9x8y7z6w5v4u', 'BallastProd', 'ArtifactStoreBucket1A2B3C4D');
      await make(
        'ballastprod-artifactstoreaccesslogs5e6f7a8b-1q2w3e4r5t6y',
        'BallastProd',
        'ArtifactStoreAccessLogs5E6F7A8B',
      );
      await make('ballastprodcopy-artifactstorebucket0f0f0f0f-aaaa', 'BallastProdCopy', 'ArtifactStoreBucket0F0F0F0F');
      const state: EndpointState = {
        environment: 'prod',
        endpoint: 'ranker',
        quarantined: [],
        updatedAt: '2026-03-01T10:00:00.000Z',
        live: {
          commit: 'f'.repeat(40),
          digest: 'd',
          endpointConfigName: 'ballast-prod-ranker-d',
          at: '2026-03-01T10:00:00Z',
        },
      };
      await s3.send(
        new PutObjectCommand({
          Bucket: 'ballastprod-artifactstorebucket1a2b3c4d-9x8y7z6w5v4u',
          Key: 'state/prod/ranker.json',
          Body: JSON.stringify(state),
        }),
      );
      const io = capture();
      assert.equal(await main(['status', '--stack', 'BallastProd', '--endpoint-url', url, '--json'], io), 0, io.err());
      const result = JSON.parse(io.out()) as { bucket: string; endpoints: StatusEntry[] };
      assert.equal(result.bucket, 'ballastprod-artifactstorebucket1a2b3c4d-9x8y7z6w5v4u');
      assert.deepEqual(
        result.endpoints.map((e) => [e.endpoint, e.status]),
        [['ranker', 'in sync']],
      );

      const none = capture();
      assert.equal(await main(['status', '--stack', 'Elsewhere', '--endpoint-url', url], none), 2);
      assert.match(
        none.err(),
        /found no Ballast state bucket for the stack Elsewhere .*pass its ArtifactStore bucket with --bucket/,
      );

      // Without tags (no s3:GetBucketTagging), the generated name decides.
      await s3.send(new CreateBucketCommand({ Bucket: 'untagged-artifactstorebucket12345678-zzzz' }));
      assert.deepEqual(await findStackBucket(s3, 'Untagged'), {
        bucket: 'untagged-artifactstorebucket12345678-zzzz',
        region: 'us-east-1',
      });
    } finally {
      s3.destroy();
    }
  });

  it('explains an unreachable endpoint and a missing bucket (exit 2)', async () => {
    const unreachable = capture();
    assert.equal(await main(['status', '--endpoint-url', 'http://127.0.0.1:1'], unreachable), 2);
    assert.equal(
      unreachable.err(),
      'ballast status: cannot reach http://127.0.0.1:1 (connection refused); is `ballast sandbox` or `ballast local` running there?\n',
    );
    const missing = capture();
    assert.equal(await main(['status', '--endpoint-url', url, '--bucket', 'no-such-bucket'], missing), 2);
    assert.match(missing.err(), /s3:\/\/no-such-bucket at http:\/\/127\.0\.0\.1:\d+: the bucket does not exist/);
  });

  it("shows the reconciler's last run and the drift it reported", async () => {
    const repository = editYaml(requireFile(w.files, 'ballast.yaml'), [[['spec', 'reconcile', 'selfHeal'], false]]);
    // On top of the rejected commit above: the endpoint file goes back to what is live.
    const endpoint = requireFile(w.files, 'endpoints/summarizer.yaml');
    await w.deploy({ 'ballast.yaml': repository, 'endpoints/summarizer.yaml': endpoint }, 'Report drift only');
    const ballastConfig = await handEdit(w);
    await reconcile(w);
    const io = capture();
    assert.equal(await main(['status', '--endpoint-url', url], io), 0, io.err());
    const lines = io.out().trimEnd().split('\n');
    assert.match(lines[3] ?? '', /^prod {9}summarizer {2}drifted \(reported\) {2}/);
    assert.match(
      lines[6] ?? '',
      /^ {2}prod: 2026-03-01 \d\d:\d\d:\d\dZ \(took \d+s\): 1 checked, 0 in sync, 1 drifted, 0 errors; next due 2026-03-01 \d\d:\d\d:\d\dZ \(every 5m\)$/,
    );
    assert.match(lines[8] ?? '', /^Drift \(the reconciler's last check/);
    assert.match(
      lines[9] ?? '',
      /^ {2}prod\/summarizer since 2026-03-01 \S+: reported, not healed: reconcile\.selfHeal is off in ballast\.yaml$/,
    );
    assert.deepEqual(lines.slice(10, 12), [
      `    /target/sagemaker/endpointConfigName  ${ballastConfig} -> hand-made-summarizer`,
      '    /target/sagemaker/instanceType        ml.g5.2xlarge -> ml.g5.12xlarge',
    ]);

    const json = capture();
    assert.equal(await main(['status', '--endpoint-url', url, '--json'], json), 0);
    const result = JSON.parse(json.out()) as {
      endpoints: StatusEntry[];
      reconciler: Record<string, EnvironmentStatus>;
    };
    assert.equal(result.endpoints[0]?.status, 'drifted (reported)');
    assert.equal(result.endpoints[0]?.drift?.action, 'report');
    assert.equal(result.reconciler.prod?.lastRun?.drifted, 1);
    assert.equal(result.reconciler.prod?.intervalMinutes, 5);
  });

  it('rejects bad flags with the usage text (exit 2)', async () => {
    for (const [args, message] of [
      [[], /say where Ballast keeps its state: --endpoint-url URL \(a sandbox\), --bucket B, or --stack NAME/],
      [['--bucket', 'a-bucket', '--stack', 'S'], /give --bucket or --stack, not both/],
      [['--endpoint-url', 'localhost:4599'], /--endpoint-url must be an http\(s\) URL/],
      [['--bucket', 'Not_A_Bucket'], /is not an S3 bucket name/],
      [['--endpoint-url', url, '--region', 'nowhere'], /--region 'nowhere' is not an AWS region/],
      [['--endpoint-url', url, '--environment', 'a/b'], /--environment 'a\/b' is not an environment name/],
      [['--endpoint-url', url, 'extra'], /unexpected argument 'extra'/],
    ] as const) {
      const io = capture();
      assert.equal(await main(['status', ...args], io), 2, args.join(' '));
      assert.match(io.err(), message);
      assert.match(io.err(), /Usage: ballast status/);
    }
  });
});

describe('status of an endpoint', () => {
  const base: EndpointState = {
    environment: 'prod',
    endpoint: 'e',
    quarantined: [],
    updatedAt: '2026-03-01T00:00:00Z',
  };
  // Commit `c` carries content `d` (the endpoint's digest): 64 hex characters, like the real ones.
  const digest = (d: string) => d.repeat(64);
  const ref = (c: string, d = c) => ({
    commit: c.repeat(40),
    digest: digest(d),
    endpointConfigName: 'cfg',
    at: '2026-03-01T00:00:00Z',
  });
  const desired = (c: string, d = c) => ({ commit: c.repeat(40), digest: digest(d), pushedAt: '2026-03-01T00:00:00Z' });
  const quarantine = (c: string, d = c) => ({
    commit: c.repeat(40),
    digest: digest(d),
    reason: 'alarm',
    at: '2026-03-01T00:00:02Z',
  });

  it('not deployed: nothing live', () => {
    assert.equal(statusOf(base), 'not deployed');
    assert.equal(statusOf({ ...base, desired: desired('a') }), 'not deployed');
  });

  it('in sync: the live digest is the desired digest, whatever the commits', () => {
    assert.equal(statusOf({ ...base, desired: desired('a'), live: ref('a'), lastGood: ref('a') }), 'in sync');
    // A commit that leaves the endpoint's content as it is (a README edit, a revert of a revert).
    assert.equal(statusOf({ ...base, desired: desired('b', 'a'), live: ref('a') }), 'in sync');
  });

  it('out of sync: other content live, no rollout, desired content not quarantined', () => {
    assert.equal(statusOf({ ...base, desired: desired('b'), live: ref('a') }), 'out of sync');
    // Quarantined content that is not the desired content does not hold the endpoint back.
    assert.equal(
      statusOf({ ...base, desired: desired('c'), live: ref('a'), quarantined: [quarantine('b')] }),
      'out of sync',
    );
  });

  it('rolling out: a lease is held, whatever else the state says', () => {
    const lease = { ...desired('b'), execution: 'x', acquiredAt: '2026-03-01T00:00:01Z' };
    assert.equal(statusOf({ ...base, desired: desired('b'), live: ref('a'), lease }), 'rolling out');
    // A retry of quarantined content holds the lease too.
    assert.equal(
      statusOf({ ...base, desired: desired('b'), live: ref('a'), lease, quarantined: [quarantine('b')] }),
      'rolling out',
    );
  });

  it('held back: the desired digest is quarantined, by whichever commit brought it', () => {
    assert.equal(
      statusOf({ ...base, desired: desired('b'), live: ref('a'), quarantined: [quarantine('b')] }),
      'held back',
    );
    // Commit c pushes the same content as the rolled-back commit b.
    assert.equal(
      statusOf({ ...base, desired: desired('c', 'b'), live: ref('a'), quarantined: [quarantine('b')] }),
      'held back',
    );
    // A first deploy that failed: nothing live, and the content is quarantined.
    assert.equal(statusOf({ ...base, desired: desired('b'), quarantined: [quarantine('b')] }), 'held back');
  });

  it("drifted, removed and pruned: the reconciler's last finding, after a rollout and a held-back content", () => {
    const mark = (action: 'heal' | 'report' | 'removed') => ({
      since: '2026-03-01T00:10:00Z',
      fingerprint: 'f',
      drift: [],
      heals: 0,
      action,
    });
    const synced = { ...base, desired: desired('a'), live: ref('a') };
    assert.equal(statusOf({ ...synced, drift: mark('heal') }), 'drifted (healing)');
    assert.equal(statusOf({ ...synced, drift: mark('report') }), 'drifted (reported)');
    assert.equal(statusOf({ ...synced, drift: mark('removed') }), 'removed');
    assert.equal(statusOf({ ...base, pruned: '2026-03-01T00:20:00Z' }), 'pruned');
    // Declared again after a prune: the push's desired commit is not deployed yet.
    assert.equal(statusOf({ ...base, pruned: '2026-03-01T00:20:00Z', desired: desired('b') }), 'not deployed');
    const lease = { ...desired('b'), execution: 'heal-x', acquiredAt: '2026-03-01T00:11:00Z' };
    assert.equal(statusOf({ ...synced, drift: mark('heal'), lease }), 'rolling out');
    assert.equal(
      statusOf({
        ...base,
        desired: desired('b'),
        live: ref('a'),
        quarantined: [quarantine('b')],
        drift: mark('report'),
      }),
      'held back',
    );
  });

  it('lists the drift found, the first pointers, and the last reconcile per environment', () => {
    const drift = ['a', 'b', 'c', 'd'].map((x) => ({
      path: `/model/environment/${x.toUpperCase()}`,
      expected: x,
      actual: null,
    }));
    const state: EndpointState = {
      ...base,
      desired: desired('a'),
      live: ref('a'),
      drift: {
        since: '2026-03-01T00:10:00Z',
        fingerprint: 'f',
        drift,
        heals: 2,
        lastHealAt: '2026-03-01T00:20:00Z',
        action: 'heal',
      },
    };
    const removed: EndpointState = {
      ...state,
      endpoint: 'old',
      drift: { since: '2026-03-01T00:10:00Z', fingerprint: 'removed', drift: [], heals: 0, action: 'removed' },
    };
    const run = {
      run: 'r',
      startedAt: '2026-03-01T00:20:00Z',
      finishedAt: '2026-03-01T00:20:03Z',
      durationMs: 3000,
      checked: 2,
      inSync: 0,
      drifted: 1,
      healing: 1,
      reported: 0,
      skipped: 0,
      removed: 1,
      pruned: 0,
      errors: 0,
    };
    const lines = renderStatus(
      's3://state',
      [state, removed].map((s) => ({ ...s, status: statusOf(s) })),
      undefined,
      {
        prod: {
          nextAt: '2026-03-01T00:24:30Z',
          intervalMinutes: 5,
          lastRun: run,
          pendingHead: { commit: 'f'.repeat(40), since: '2026-03-01T00:20:00Z' },
        },
      },
    );
    assert.deepEqual(
      lines.slice(3, 5).map((l) => l.split(/ {2,}/)[2]),
      ['drifted (healing)', 'removed'],
    );
    assert.deepEqual(lines.slice(5), [
      '',
      'Last reconcile:',
      '  prod: 2026-03-01 00:20:03Z (took 3s): 2 checked, 0 in sync, 1 drifted (1 healing), 1 removed, 0 errors; next due 2026-03-01 00:24:30Z (every 5m)',
      '    branch head fffffff reached no deploy workflow (seen since 2026-03-01 00:20:00Z): the reconciler deploys it if no push event does',
      '',
      "Drift (the reconciler's last check; `ballast diff ENDPOINT` compares now):",
      '  prod/e since 2026-03-01 00:10:00Z: healing; 2 heals started, the last at 2026-03-01 00:20:00Z',
      '    /model/environment/A  a -> (absent)',
      '    /model/environment/B  b -> (absent)',
      '    /model/environment/C  c -> (absent)',
      '    (+1 more)',
      '  prod/old since 2026-03-01 00:10:00Z: no longer declared in Git; it keeps running (reconcile.prune is off)',
    ]);
    // A reconciler that has run, but not in this environment yet.
    assert.deepEqual(
      renderStatus('s3://state', [{ ...state, environment: 'staging', status: 'in sync' }], undefined, {}).slice(4),
      [
        '',
        'Last reconcile:',
        '  staging: the reconciler has not run here yet',
        '',
        "Drift (the reconciler's last check; `ballast diff ENDPOINT` compares now):",
        '  staging/e since 2026-03-01 00:10:00Z: healing; 2 heals started, the last at 2026-03-01 00:20:00Z',
        '    /model/environment/A  a -> (absent)',
        '    /model/environment/B  b -> (absent)',
        '    /model/environment/C  c -> (absent)',
        '    (+1 more)',
      ],
    );
  });

  it('the help documents exactly the states statusOf computes', async () => {
    const io = capture();
    assert.equal(await main(['status', '--help'], io), 0);
    const documented = [...io.out().matchAll(/^ {2}([a-z][a-z ()]+[a-z)]) {2,}\S/gm)]
      .map((m) => m[1] ?? '')
      .filter((name) => STATUSES.some((s) => s.status === name));
    assert.deepEqual(
      documented,
      STATUSES.map((s) => s.status),
    );
    assert.deepEqual(
      STATUSES.map((s) => s.status),
      [
        'rolling out',
        'held back',
        'pruned',
        'not deployed',
        'removed',
        'drifted (healing)',
        'drifted (reported)',
        'in sync',
        'out of sync',
      ],
    );
  });

  it('lists rollouts in progress and quarantined content with their reasons under the table', () => {
    const entries: StatusEntry[] = [
      {
        ...base,
        desired: desired('c'),
        live: ref('a'),
        lastGood: ref('a'),
        lease: { ...desired('c'), execution: 'deploy-42', acquiredAt: '2026-03-01T09:30:00.000Z' },
        quarantined: [
          { ...quarantine('b'), reason: 'rolled back: alarm e-5xx went to ALARM', at: '2026-03-01T09:20:00.000Z' },
        ],
        status: 'rolling out',
      },
    ];
    const lines = renderStatus('s3://state', entries);
    assert.deepEqual(lines.slice(2), [
      'ENVIRONMENT  ENDPOINT  STATUS       DESIRED  LIVE     LAST GOOD  PREVIOUS  ROLLOUT  QUARANTINED  UPDATED',
      'prod         e         rolling out  ccccccc  aaaaaaa  aaaaaaa    -         ccccccc  bbbbbbb      2026-03-01 00:00:00Z',
      '',
      'Rollouts in progress:',
      '  prod/e ccccccc: deploy-42, since 2026-03-01 09:30:00Z',
      '',
      'Quarantined content (only `ballast retry` deploys it again; a commit that changes it moves on):',
      '  prod/e bbbbbbbbbbbb from bbbbbbb at 2026-03-01 09:20:00Z: rolled back: alarm e-5xx went to ALARM',
    ]);
  });

  it('says what holds an endpoint back and how to deploy it again', () => {
    const state: EndpointState = {
      ...base,
      desired: desired('b'),
      live: ref('a'),
      quarantined: [{ ...quarantine('b'), reason: 'SageMaker rolled back: e-5xx went into ALARM' }],
    };
    const lines = renderStatus('s3://state', [{ ...state, status: statusOf(state) }]);
    assert.deepEqual(lines.slice(4, 8), [
      '',
      'Held back (the desired content is quarantined):',
      '  prod/e bbbbbbb (content bbbbbbbbbbbb), quarantined at bbbbbbb 2026-03-01 00:00:02Z: SageMaker rolled back: e-5xx went into ALARM',
      '    run `ballast retry e --environment prod` to deploy it again',
    ]);
  });
});
