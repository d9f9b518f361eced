/**
 * The reconciler at scale: 1,000 and then 1,200 Ballast-managed SageMaker endpoints in one sandbox,
 * each reconcile run the ASL the stack ships on the local runner with the real handlers. The
 * endpoints are seeded as the deploy workflow would have deployed them (sandbox/fleet.ts: deploying
 * 1,000 through the workflow would take minutes). The tests share the fleet and run in order: 1,000
 * in sync, then one of them drifted, then 200 more.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { DeleteTagsCommand, ListTagsCommand } from '@aws-sdk/client-sagemaker';
import { keys } from '../../lambdas/state/keys.ts';
import { BATCH_SIZE, INLINE_ENDPOINTS, type ReconcileStatus } from '../../lambdas/state/reconcile-status.ts';
import { fleetRepository, type SeededFleet, seedFleet } from '../../sandbox/fleet.ts';
import type { LoggedRequest } from '../../sandbox/request-log.ts';
import type { LocalExecution } from '../../sandbox/runner.ts';
import { ENVIRONMENT, type World, world } from './harness.ts';

const SIZE = 1000;
const MORE = 1200;
/** Step Functions' limit on a state's input or output (States.DataLimitExceeded). */
const STATE_LIMIT = 256 * 1024;
/** The longest Endpoint name the schema allows (a SageMaker endpoint name). */
const LONGEST_NAME = 63;
/** Every fleet endpoint's name: `summarizer-0001`, padded to the fleet's largest number. */
const NAME_LENGTH = 'summarizer-0001'.length;
/** Ten Endpoints a file: Ballast reads at most 1,000 YAML files. */
const PER_FILE = 10;
/** What a Check of one endpoint in sync calls (lambdas/targets/sagemaker-inspect.ts). */
const INSPECT = ['DescribeEndpoint', 'DescribeEndpointConfig', 'DescribeModel', 'ListTags'];

interface Run {
  readonly execution: LocalExecution;
  /** The requests made between the run's start and its end. */
  readonly requests: readonly LoggedRequest[];
}

/**
 * Lets one reconcile interval pass (the example's 5 minutes) unless this is the first run, runs the
 * reconcile workflow once, as a tick of its schedule does, and waits for what it started.
 */
async function reconcile(w: World, first = false): Promise<Run> {
  if (!first) await w.minutes(5);
  const mark = w.sandbox.requests.all().length;
  const execution = w.pipeline.reconcile();
  await execution.result;
  const requests = w.requestsSince(mark);
  await w.settle();
  return { execution, requests };
}

function calls(requests: readonly LoggedRequest[], service: string): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const r of requests) if (r.service === service) counts[r.operation] = (counts[r.operation] ?? 0) + 1;
  return counts;
}

async function lastRun(w: World) {
  return (await w.json<ReconcileStatus>(keys.reconcileStatus))?.environments[ENVIRONMENT]?.lastRun;
}

describe('the reconciler over 1,000 and 1,200 endpoints', { timeout: 15 * 60_000 }, () => {
  let w: World;
  let fleet: SeededFleet;

  before(async () => {
    // The account holds what all 1,200 need (the Model's artifact, the secret, every endpoint's alarms).
    w = await world({ repository: await fleetRepository(MORE, { perFile: PER_FILE }) });
    fleet = await seedFleet(w.sandbox, w.pipeline, await fleetRepository(MORE, { perFile: PER_FILE, last: SIZE }));
    assert.equal(fleet.endpoints.length, SIZE);
  });

  after(async () => {
    await w?.stop();
  });

  it('checks 1,000 endpoints in one run: in sync, constant calls per endpoint, a payload far below 256 KiB', async () => {
    const { execution, requests } = await reconcile(w, true);
    assert.equal(execution.status, 'SUCCEEDED', JSON.stringify(execution.error));
    const summary = await lastRun(w);
    assert.equal(summary?.checked, SIZE);
    assert.equal(summary?.inSync, SIZE);
    assert.equal(summary?.errors, 0);

    // Four SageMaker reads per endpoint in sync, nothing else; one Application Auto Scaling call per batch.
    assert.deepEqual(calls(requests, 'sagemaker'), Object.fromEntries(INSPECT.map((op) => [op, SIZE])));
    assert.deepEqual(calls(requests, 'application-autoscaling'), {
      DescribeScalableTargets: Math.ceil(SIZE / BATCH_SIZE),
    });
    // S3: one state document per endpoint, and per batch the environment's head; the rest is per run.
    const s3 = calls(requests, 's3');
    const batches = Math.ceil(SIZE / BATCH_SIZE);
    assert.ok((s3.GetObject ?? 0) <= SIZE + batches + 5, `GetObject: ${s3.GetObject}`);
    assert.ok((s3.PutObject ?? 0) <= 3, `PutObject: ${s3.PutObject} (the status, by Scan and Finish)`);

    // The Map's input carries every endpoint's name (up to INLINE_ENDPOINTS): with the longest names
    // the schema allows, the same payload would still be under the limit.
    const largest = execution.largestPayload;
    assert.ok(largest, 'payloads were measured');
    assert.ok(
      largest.bytes < STATE_LIMIT / 4,
      `the largest state payload (${largest.state}) is ${largest.bytes} bytes`,
    );
    assert.ok(
      largest.bytes * (LONGEST_NAME / NAME_LENGTH) < STATE_LIMIT,
      `with 63-character names the largest payload could reach ${Math.round(largest.bytes * (LONGEST_NAME / NAME_LENGTH))} bytes`,
    );
  });

  it('finds one drifted endpoint among 1,000 and heals only it', async () => {
    const victim = fleet.endpoints[SIZE / 2 - 1] ?? '';
    const endpointName = fleet.endpointNames[SIZE / 2 - 1] ?? '';
    const arn = (await w.describe(endpointName)).EndpointArn;
    // Someone strips Ballast's tag by hand.
    await w.clients.sagemaker.send(new DeleteTagsCommand({ ResourceArn: arn, TagKeys: ['ballast:managed'] }));
    const healsBefore = w.pipeline.runner.executions('deploy').filter((e) => e.name.startsWith('heal-')).length;

    const { execution } = await reconcile(w);
    assert.equal(execution.status, 'SUCCEEDED', JSON.stringify(execution.error));
    const summary = await lastRun(w);
    assert.deepEqual(summary && [summary.checked, summary.inSync, summary.drifted, summary.healing], [
      SIZE,
      SIZE - 1,
      1,
      1,
    ]);
    const heals = w.pipeline.runner
      .executions('deploy')
      .filter((e) => e.name.startsWith('heal-'))
      .slice(healsBefore);
    const [heal] = heals;
    assert.ok(heal && heals.length === 1, `one heal started, not ${heals.length}`);
    assert.ok(heal.name.startsWith(`heal-${ENVIRONMENT}-${victim}-`), heal.name);
    assert.equal((heal.input as { endpoint?: string }).endpoint, victim);
    const drifted = (await w.ledger(victim)).filter((e) => e.outcome === 'drifted');
    assert.deepEqual(
      drifted.map((e) => e.drift?.map((d) => d.path)),
      [['/tags/ballast:managed']],
    );

    // The heal (a deploy execution, settled by reconcile()) put the tag back on the endpoint itself.
    assert.equal(heal.status, 'SUCCEEDED', JSON.stringify(heal.error));
    const tags = (await w.clients.sagemaker.send(new ListTagsCommand({ ResourceArn: arn }))).Tags ?? [];
    assert.ok(
      tags.some((t) => t.Key === 'ballast:managed' && t.Value === 'true'),
      'the tag is back',
    );
  });

  it('with 1,200 endpoints the batches go to S3 and the run still checks them all', async () => {
    assert.ok(MORE > INLINE_ENDPOINTS, 'more than travel in the payload');
    const added = await seedFleet(
      w.sandbox,
      w.pipeline,
      await fleetRepository(MORE, { perFile: PER_FILE, first: SIZE + 1 }),
      { message: '200 more endpoints' },
    );
    assert.equal(added.endpoints.length, MORE - SIZE);

    const { execution, requests } = await reconcile(w);
    assert.equal(execution.status, 'SUCCEEDED', JSON.stringify(execution.error));
    const summary = await lastRun(w);
    assert.equal(summary?.checked, MORE);
    assert.equal(summary?.inSync, MORE);
    assert.equal(summary?.errors, 0);
    const batchKeys = await w.store.list(`reconcile/runs/${execution.name}/`);
    assert.equal(batchKeys.length, Math.ceil(MORE / BATCH_SIZE), 'one S3 object a batch');
    assert.deepEqual(calls(requests, 'sagemaker'), Object.fromEntries(INSPECT.map((op) => [op, MORE])));
    // Only keys travel now: the payload no longer grows with the endpoints' names.
    assert.ok(
      (execution.largestPayload?.bytes ?? STATE_LIMIT) < 16 * 1024,
      `the largest state payload is ${execution.largestPayload?.bytes} bytes`,
    );
  });
});
