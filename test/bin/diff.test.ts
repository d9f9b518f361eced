// `ballast diff` against a sandbox that ran real deployments (the local pipeline with the real
// handlers), in-process through the CLI entry; drift is made out of band with the SageMaker SDK.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { UpdateEndpointWeightsAndCapacitiesCommand } from '@aws-sdk/client-sagemaker';
import { main } from '../../bin/cli.ts';
import { type DiffEntry, type DiffReport, exitCode, renderDiff, resourcePrefixOf } from '../../bin/commands/diff.ts';
import type { EndpointState } from '../../lambdas/state/endpoint-state.ts';
import type { LedgerEntry } from '../../lambdas/state/ledger.ts';
import { SUMMARIZER, sagemakerWrites, world } from '../e2e/harness.ts';
import { captureIo } from '../support/cli.ts';
import { handEdit, letSageMakerSettle, reconcile } from '../support/reconcile.ts';

const capture = (env: NodeJS.ProcessEnv = {}) => captureIo({ env });
const COUNT_RULE =
  'ballast.yaml drift.ignore /target/sagemaker/instanceCount: instance count is managed by Application Auto Scaling';

describe('ballast diff', () => {
  let w: Awaited<ReturnType<typeof world>>;
  let url = '';
  let commit = '';
  before(async () => {
    w = await world();
    url = w.sandbox.url;
    commit = await w.deploy(w.files, 'Initial models');
  });
  after(async () => {
    await w.stop();
  });

  it('in sync: exit 0, one line per endpoint, the settings it applies', async () => {
    const io = capture();
    assert.equal(await main(['diff', '--endpoint-url', url], io), 0, io.err());
    assert.deepEqual(io.out().trimEnd().split('\n'), [
      `s3://ballast-state at ${url}`,
      `prod: head ${commit.slice(0, 7)}, selfHeal on, prune off, 1 drift.ignore rule`,
      '',
      `prod/summarizer (${SUMMARIZER}): in sync`,
      '',
      '1 endpoint: 1 in sync',
    ]);
    assert.equal(io.err(), '');
  });

  it('an ignored difference is shown with its rule, and is not drift (exit 0)', async () => {
    await w.clients.sagemaker.send(
      new UpdateEndpointWeightsAndCapacitiesCommand({
        EndpointName: SUMMARIZER,
        DesiredWeightsAndCapacities: [{ VariantName: 'AllTraffic', DesiredInstanceCount: 3 }],
      }),
    );
    await letSageMakerSettle(w);
    const io = capture();
    assert.equal(await main(['diff', 'summarizer', '--endpoint-url', url], io), 0, io.err());
    const lines = io.out().trimEnd().split('\n');
    assert.equal(lines[3], `prod/summarizer (${SUMMARIZER}): in sync`);
    assert.equal(lines[4], `  /target/sagemaker/instanceCount  2 -> 3  ignored: ${COUNT_RULE}`);

    const json = capture();
    assert.equal(await main(['diff', '--endpoint-url', url, '--json'], json), 0);
    const [summarizer] = (JSON.parse(json.out()) as DiffReport).endpoints;
    assert.deepEqual(summarizer?.ignored, [
      { path: '/target/sagemaker/instanceCount', expected: '2', actual: '3', reason: COUNT_RULE },
    ]);
    assert.deepEqual(summarizer?.drift, []);
  });

  it('drift: field by field, what the reconciler would do, exit 1, and nothing changed', async () => {
    // The hand-made configuration has Ballast's instance count: the UpdateEndpoint resets it to 2.
    const ballastConfig = await handEdit(w);
    const mark = w.sandbox.requests.all().length;
    const ledgerBefore = (await w.ledger('summarizer')).length;
    const io = capture();
    assert.equal(await main(['diff', '--endpoint-url', url, '--environment', 'prod'], io), 1, io.err());
    assert.deepEqual(io.out().trimEnd().split('\n').slice(3), [
      `prod/summarizer (${SUMMARIZER}): drift: would heal (attempt 1 of 3)`,
      `  /target/sagemaker/endpointConfigName  ${ballastConfig} -> hand-made-summarizer`,
      '  /target/sagemaker/instanceType        ml.g5.2xlarge -> ml.g5.12xlarge',
      '',
      '1 endpoint: 1 drifted',
    ]);
    assert.deepEqual(sagemakerWrites(w.requestsSince(mark)), [], 'diff changes nothing in SageMaker');
    assert.ok(
      w.requestsSince(mark).some((r) => r.operation === 'DescribeScalableTargets'),
      'it asked Application Auto Scaling',
    );
    assert.equal((await w.ledger('summarizer')).length, ledgerBefore, 'nor in the ledger');
    assert.equal((await w.state('summarizer'))?.drift, undefined, 'nor in the state');
    assert.equal(
      w.pipeline.runner.executions('deploy').filter((e) => e.name.startsWith('heal-')).length,
      0,
      'and starts no heal',
    );
  });

  it('--json: a stable document naming the pointers, with the same exit code', async () => {
    const io = capture();
    assert.equal(await main(['diff', '--endpoint-url', url, '--json'], io), 1, io.err());
    const report = JSON.parse(io.out()) as DiffReport;
    assert.equal(report.bucket, 'ballast-state');
    assert.deepEqual(report.environments, [
      {
        environment: 'prod',
        commit,
        settings: {
          selfHeal: true,
          prune: false,
          driftIgnore: [
            {
              endpoint: '*',
              path: '/target/sagemaker/instanceCount',
              reason: 'instance count is managed by Application Auto Scaling',
            },
          ],
        },
      },
    ]);
    const [summarizer] = report.endpoints;
    assert.deepEqual(Object.keys(summarizer ?? {}), [
      'environment',
      'endpoint',
      'endpointName',
      'action',
      'reason',
      'attempt',
      'drift',
      'ignored',
      'autoscaled',
      'missing',
    ]);
    assert.equal(summarizer?.action, 'heal');
    assert.equal(summarizer?.attempt, 1);
    assert.equal(summarizer?.endpointName, SUMMARIZER);
    assert.deepEqual(
      summarizer?.drift.map((d) => d.path),
      ['/target/sagemaker/endpointConfigName', '/target/sagemaker/instanceType'],
    );
    assert.deepEqual(summarizer?.drift[1], {
      path: '/target/sagemaker/instanceType',
      expected: 'ml.g5.2xlarge',
      actual: 'ml.g5.12xlarge',
    });
    assert.deepEqual(report.summary, {
      endpoints: 1,
      inSync: 0,
      drifted: 1,
      removed: 0,
      prune: 0,
      skipped: 0,
      errors: 0,
    });
  });

  it('says what the reconciler then reports', async () => {
    const io = capture();
    assert.equal(await main(['diff', '--endpoint-url', url, '--json'], io), 1);
    const predicted = (JSON.parse(io.out()) as DiffReport).endpoints[0]?.drift;
    await reconcile(w);
    const drifted = (await w.ledger('summarizer')).filter((e: LedgerEntry) => e.outcome === 'drifted');
    assert.equal(drifted.length, 1);
    assert.deepEqual(drifted[0]?.drift, predicted);
  });

  it('takes SageMaker and the bucket from AWS_ENDPOINT_URL, as `ballast sandbox` prints it', async () => {
    const io = capture({ AWS_ENDPOINT_URL: url });
    // The test before let the reconciler heal the endpoint (reconcile() waits for the heal): in sync.
    assert.equal(await main(['diff', '--json'], io), 0, io.err());
    assert.equal((JSON.parse(io.out()) as DiffReport).endpoints[0]?.endpointName, SUMMARIZER);
  });

  it('an unknown endpoint, an unreachable endpoint, and bad options exit 2', async () => {
    const unknown = capture();
    assert.equal(await main(['diff', 'ranker', '--endpoint-url', url], unknown), 2);
    assert.match(
      unknown.err(),
      /^ballast diff: no endpoint ranker in s3:\/\/ballast-state at http:\/\/127\.0\.0\.1:\d+ \(endpoints: summarizer \(prod\)\)\n$/,
    );
    const unreachable = capture();
    assert.equal(await main(['diff', '--endpoint-url', 'http://127.0.0.1:1'], unreachable), 2);
    assert.match(unreachable.err(), /^ballast diff: cannot reach http:\/\/127\.0\.0\.1:1 \(connection refused\)/);
    for (const [args, message] of [
      [[], /say where Ballast keeps its state/],
      [['a', 'b', '--endpoint-url', url], /expected at most one ENDPOINT, got a b/],
      [['../x', '--endpoint-url', url], /'\.\.\/x' is not an endpoint name/],
      [['--endpoint-url', url, '--environment', 'a/b'], /--environment 'a\/b' is not an environment name/],
      [['--endpoint-url', url, '--heal'], /unknown option '--heal'/],
    ] as const) {
      const io = capture();
      assert.equal(await main(['diff', ...args], io), 2, args.join(' '));
      assert.match(io.err(), message);
      assert.match(io.err(), /Usage: ballast diff \[ENDPOINT\]/);
      assert.equal(io.out(), '');
    }
  });
});

describe('diff rendering', () => {
  const base: DiffEntry = {
    environment: 'prod',
    endpoint: 'e',
    endpointName: 'ballast-prod-e',
    action: 'in-sync',
    reason: null,
    attempt: null,
    drift: [],
    ignored: [],
    autoscaled: false,
    missing: false,
  };
  const report = (endpoints: DiffEntry[]): DiffReport => ({
    bucket: 'b',
    environments: [
      { environment: 'prod', commit: 'c'.repeat(40), settings: { selfHeal: false, prune: true, driftIgnore: [] } },
    ],
    endpoints,
    summary: {
      endpoints: endpoints.length,
      inSync: endpoints.filter((e) => e.action === 'in-sync').length,
      drifted: endpoints.filter((e) => e.action === 'heal' || e.action === 'report').length,
      removed: endpoints.filter((e) => e.action === 'removed').length,
      prune: endpoints.filter((e) => e.action === 'prune').length,
      skipped: endpoints.filter((e) => e.action === 'skip').length,
      errors: endpoints.filter((e) => e.action === 'error').length,
    },
  });

  it('a verdict per action, absent values, and the exit code', () => {
    const r = report([
      {
        ...base,
        endpoint: 'a',
        action: 'report',
        reason: 'reconcile.selfHeal is off in ballast.yaml',
        drift: [{ path: '/status', expected: 'InService', actual: null }],
        missing: true,
      },
      { ...base, endpoint: 'b', action: 'skip', reason: 'a rollout of 0123456789ab is in progress (deploy-1)' },
      { ...base, endpoint: 'c', action: 'prune', reason: 'no longer declared in Git' },
      { ...base, endpoint: 'd', action: 'error', reason: 'SageMaker: boom' },
    ]);
    assert.deepEqual(renderDiff('s3://b', r), [
      's3://b',
      'prod: head ccccccc, selfHeal off, prune on, 0 drift.ignore rules',
      '',
      'prod/a (ballast-prod-e): drift: would report: reconcile.selfHeal is off in ballast.yaml',
      '  /status  InService -> (absent)',
      '',
      'prod/b (ballast-prod-e): skipped: a rollout of 0123456789ab is in progress (deploy-1)',
      '',
      'prod/c (ballast-prod-e): would prune: no longer declared in Git',
      '',
      'prod/d (ballast-prod-e): error: SageMaker: boom',
      '',
      '4 endpoints: 1 drifted, 1 to prune, 1 skipped, 1 error',
    ]);
    assert.equal(exitCode(r), 2, 'an endpoint that could not be compared wins');
    assert.equal(exitCode(report([{ ...base, action: 'removed' }])), 1);
    assert.equal(exitCode(report([{ ...base, action: 'skip' }, base])), 0);
    assert.deepEqual(renderDiff('s3://b', report([]), 'staging'), [
      's3://b: no endpoint state in staging yet (nothing has been deployed there)',
    ]);
  });

  it("finds the stack's resource prefix from the live EndpointConfig's name", () => {
    const digest = 'ab'.repeat(32);
    const state = (endpointConfigName: string): EndpointState => ({
      environment: 'prod',
      endpoint: 'summarizer',
      quarantined: [],
      updatedAt: '2026-03-01T00:00:00Z',
      live: { commit: 'c'.repeat(40), digest, endpointConfigName, at: '2026-03-01T00:00:00Z' },
    });
    assert.equal(resourcePrefixOf(state('acme-ml-prod-summarizer-abababababab'), 'ballast'), 'acme-ml');
    assert.equal(resourcePrefixOf(state('hand-made'), 'ballast'), 'ballast');
    assert.equal(
      resourcePrefixOf({ ...state('x'), live: undefined, desired: { commit: 'c', digest, pushedAt: '' } }, 'p'),
      'p',
    );
  });
});
