/**
 * End to end: the two requests the reconciler starts on the deploy workflow, through the sandbox's
 * Step Functions API (StartExecution on the deploy state machine, as the reconciler calls it).
 *
 * A heal: someone changed the live endpoint by hand (another EndpointConfig; then its counts,
 * weight and tag in place). The heal deploys the endpoint's desired commit again and puts the
 * endpoint back to Ballast's configuration and values, and the ledger says it was a heal. It never
 * deploys quarantined content, nor content a newer push replaced. A missed push: a commit no push
 * event brought is deployed as that push, once, whatever number of times it is asked for.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  CreateEndpointConfigCommand,
  DeleteTagsCommand,
  DescribeEndpointConfigCommand,
  ListTagsCommand,
  UpdateEndpointCommand,
  UpdateEndpointWeightsAndCapacitiesCommand,
} from '@aws-sdk/client-sagemaker';
import { DescribeExecutionCommand, SFNClient, StartExecutionCommand } from '@aws-sdk/client-sfn';
import { type HealRequest, healExecutionName } from '../../lambdas/sources/heal.ts';
import { type MissedPushRequest, missedPushExecutionName } from '../../lambdas/sources/missed-push.ts';
import type { EndpointState } from '../../lambdas/state/endpoint-state.ts';
import type { Push } from '../../lambdas/workflow/types.ts';
import { deployStateMachineArn } from '../../sandbox/pipeline.ts';
import {
  ENVIRONMENT,
  editYaml,
  MODEL_FILE,
  PROMPT_FILE,
  REPO,
  requireFile,
  SUMMARIZER,
  sagemakerWrites,
  type World,
  world,
} from './harness.ts';

/** An EndpointConfig made by hand, outside Ballast (no prefix, no tags). */
const BY_HAND = 'summarizer-by-hand';

/** A call on the sandbox's Step Functions API, as the reconciler makes it (the SDK, the sandbox's endpoint). */
async function stepFunctions<T>(w: World, call: (sfn: SFNClient) => Promise<T>): Promise<T> {
  const sfn = new SFNClient({
    endpoint: w.sandbox.url,
    region: w.sandbox.region,
    credentials: { accessKeyId: 'x', secretAccessKey: 'x' },
  });
  try {
    return await call(sfn);
  } finally {
    sfn.destroy();
  }
}

/** StartExecution on the deploy state machine; the execution's ARN. */
async function startExecution(w: World, name: string, input: unknown): Promise<string> {
  const started = await stepFunctions(w, (sfn) =>
    sfn.send(
      new StartExecutionCommand({
        stateMachineArn: deployStateMachineArn(w.sandbox),
        name,
        input: JSON.stringify(input),
      }),
    ),
  );
  return started.executionArn ?? '';
}

const describeExecution = (w: World, executionArn: string) =>
  stepFunctions(w, (sfn) => sfn.send(new DescribeExecutionCommand({ executionArn })));

/** What the reconciler sends for the endpoint's drift from `digest`, and the name it starts it under. */
function healOf(w: World, state: EndpointState | undefined, paths: string[], attempt: number, digest?: string) {
  const request: HealRequest = {
    source: 'ballast',
    action: 'heal',
    environment: ENVIRONMENT,
    endpoint: 'summarizer',
    requestedBy: 'ballast reconcile',
    requestedAt: w.sandbox.clock.now().toISOString(),
    reason: `the live endpoint drifted: ${paths.join(', ')}`,
    paths,
    digest: digest ?? state?.desired?.digest ?? '',
  };
  return { request, name: healExecutionName(request, attempt) };
}

/** A commit that changes the summarizer's prompt (and so its content). */
function carefulPrompt(w: World): Record<string, string> {
  const prompt = requireFile(w.files, PROMPT_FILE);
  return { [PROMPT_FILE]: prompt.replace('You are a precise summarizer.', 'You are a careful summarizer.') };
}

/** Starts a heal and waits for every execution to finish; the heal's ARN. */
async function heal(w: World, request: HealRequest, name: string): Promise<string> {
  const arn = await startExecution(w, name, request);
  await w.settle();
  return arn;
}

test('a heal puts a drifted endpoint back: its EndpointConfig, then its counts, weight and tag in place', async () => {
  const w = await world();
  try {
    const commit = await w.deploy(w.files, 'initial');
    const state = await w.state('summarizer');
    const ballastConfig = state?.live?.endpointConfigName ?? '';
    assert.equal((await w.describe(SUMMARIZER)).EndpointConfigName, ballastConfig);

    // By hand: the same model on bigger instances, rolled out with UpdateEndpoint.
    const config = await w.clients.sagemaker.send(
      new DescribeEndpointConfigCommand({ EndpointConfigName: ballastConfig }),
    );
    const variant = config.ProductionVariants?.[0];
    await w.clients.sagemaker.send(
      new CreateEndpointConfigCommand({
        EndpointConfigName: BY_HAND,
        ProductionVariants: [
          {
            VariantName: variant?.VariantName ?? 'AllTraffic',
            ModelName: variant?.ModelName ?? '',
            InstanceType: 'ml.g5.4xlarge',
            InitialInstanceCount: 2,
            InitialVariantWeight: 1,
          },
        ],
      }),
    );
    await w.clients.sagemaker.send(
      new UpdateEndpointCommand({ EndpointName: SUMMARIZER, EndpointConfigName: BY_HAND }),
    );
    await w.minutes(15);
    assert.equal((await w.describe(SUMMARIZER)).EndpointConfigName, BY_HAND, 'the hand-made configuration runs');

    const first = healOf(w, state, ['/target/sagemaker/instanceType', '/target/sagemaker/endpointConfigName'], 1);
    const firstArn = await heal(w, first.request, first.name);
    assert.equal((await describeExecution(w, firstArn)).status, 'SUCCEEDED');
    const healed = await w.describe(SUMMARIZER);
    assert.equal(healed.EndpointConfigName, ballastConfig, "Ballast's configuration runs again");
    assert.equal(healed.EndpointStatus, 'InService');
    const afterConfig = await w.ledger('summarizer');
    assert.deepEqual(
      afterConfig.map((e) => [e.commit, e.outcome, e.retry?.kind]),
      [
        [commit, 'deployed', undefined],
        [commit, 'deployed', 'heal'],
      ],
    );
    assert.deepEqual(afterConfig.at(-1)?.retry?.paths, first.request.paths);
    assert.equal(afterConfig.at(-1)?.retry?.requestedBy, 'ballast reconcile');
    assert.equal(afterConfig.at(-1)?.execution, first.name);

    // By hand, in place: more instances, half the weight, and the ownership tag gone.
    await w.clients.sagemaker.send(
      new UpdateEndpointWeightsAndCapacitiesCommand({
        EndpointName: SUMMARIZER,
        DesiredWeightsAndCapacities: [{ VariantName: 'AllTraffic', DesiredInstanceCount: 3, DesiredWeight: 0.5 }],
      }),
    );
    await w.clients.sagemaker.send(
      new DeleteTagsCommand({ ResourceArn: healed.EndpointArn ?? '', TagKeys: ['ballast:managed'] }),
    );
    await w.minutes(2);
    const drifted = (await w.describe(SUMMARIZER)).ProductionVariants?.[0];
    assert.deepEqual([drifted?.CurrentInstanceCount, drifted?.CurrentWeight], [3, 0.5], 'the drift is live');

    const mark = w.sandbox.requests.all().length;
    const second = healOf(
      w,
      await w.state('summarizer'),
      ['/target/sagemaker/instanceCount', '/target/sagemaker/variantWeight', '/tags/ballast:managed'],
      2,
    );
    await heal(w, second.request, second.name);
    const restored = await w.describe(SUMMARIZER);
    assert.equal(restored.EndpointStatus, 'InService');
    assert.equal(restored.EndpointConfigName, ballastConfig, 'the configuration was not replaced');
    assert.deepEqual(
      restored.ProductionVariants?.map((v) => [v.VariantName, v.CurrentInstanceCount, v.CurrentWeight]),
      [['AllTraffic', 2, 1]],
      "the release's count and weight 1",
    );
    const tags = await w.clients.sagemaker.send(new ListTagsCommand({ ResourceArn: restored.EndpointArn ?? '' }));
    assert.deepEqual(
      tags.Tags?.filter((t) => t.Key === 'ballast:managed'),
      [{ Key: 'ballast:managed', Value: 'true' }],
    );
    assert.deepEqual(
      sagemakerWrites(w.requestsSince(mark)).map((r) => r.operation),
      ['UpdateEndpointWeightsAndCapacities'],
      'one call puts the count and the weight back; no new fleet',
    );
    const entry = (await w.ledger('summarizer')).at(-1);
    assert.deepEqual([entry?.outcome, entry?.retry?.kind], ['deployed', 'heal']);
    assert.deepEqual(entry?.retry?.paths, second.request.paths);
    // SageMaker's InService event ends the wait (Wake): a minute's update, not a rollout's hour.
    assert.ok((entry?.durationSeconds ?? Infinity) <= 120, `the heal took ${entry?.durationSeconds} s`);
    assert.equal((await w.state('summarizer'))?.lease, undefined, 'the heal released the lease');

    // A heal is answered on the commit like a retry, saying what it healed.
    const comments = await w.comments(commit);
    assert.ok(
      comments.some((c) =>
        c.startsWith('Ballast prod/summarizer: deployed — healed drift (/target/sagemaker/instanceCount'),
      ),
      JSON.stringify(comments),
    );
  } finally {
    await w.stop();
  }
});

test('a heal for content a newer push has replaced deploys nothing and says why', async () => {
  const w = await world();
  try {
    await w.deploy(w.files, 'initial');
    const looked = await w.state('summarizer');
    const newer = await w.deploy(carefulPrompt(w), 'Make the summarizer careful');
    const ledgerBefore = await w.ledger('summarizer');
    const mark = w.sandbox.requests.all().length;
    // The reconciler compared with the first commit's content, and the heal arrives after the push.
    const stale = healOf(w, looked, ['/target/sagemaker/instanceCount'], 1);
    const arn = await heal(w, stale.request, stale.name);

    const execution = await describeExecution(w, arn);
    assert.equal(execution.status, 'SUCCEEDED');
    const output = JSON.parse(execution.output ?? '{}') as { resolved?: { ignored?: string } };
    assert.equal(
      output.resolved?.ignored,
      `the heal is for content ${looked?.desired?.digest.slice(0, 12)}, but prod/summarizer now wants ${(await w.state('summarizer'))?.desired?.digest.slice(0, 12)} (commit ${newer.slice(0, 12)}): a push moved it on since the reconciler looked, so nothing stale is deployed`,
    );
    assert.deepEqual(sagemakerWrites(w.requestsSince(mark)), []);
    assert.deepEqual(await w.ledger('summarizer'), ledgerBefore, 'no entry: nothing was asked of the endpoint');
  } finally {
    await w.stop();
  }
});

test('a heal of quarantined content deploys nothing and lifts no quarantine', async () => {
  const w = await world();
  try {
    const good = await w.deploy(w.files, 'initial');
    const broken = editYaml(requireFile(w.files, MODEL_FILE), [[['spec', 'environment', 'SANDBOX_FAIL'], 'startup']]);
    const bad = await w.deploy({ [MODEL_FILE]: broken }, 'summarizer-llm: a container that never starts');
    const before = await w.state('summarizer');
    assert.deepEqual(
      before?.quarantined.map((q) => [q.commit, q.digest]),
      [[bad, before?.desired?.digest]],
      'the desired content is quarantined',
    );
    const commentsBefore = await w.comments(bad);
    const mark = w.sandbox.requests.all().length;

    const { request, name } = healOf(w, before, ['/target/sagemaker/endpointConfigName'], 1);
    await heal(w, request, name);

    assert.deepEqual(sagemakerWrites(w.requestsSince(mark)), [], 'nothing reached SageMaker');
    const after = await w.state('summarizer');
    assert.deepEqual(after?.quarantined, before?.quarantined, 'the quarantine stays');
    assert.equal(after?.live?.commit, good, 'the last good version stays live');
    const entry = (await w.ledger('summarizer')).at(-1);
    assert.deepEqual([entry?.commit, entry?.outcome, entry?.retry?.kind], [bad, 'quarantined', 'heal']);
    assert.deepEqual(await w.comments(bad), commentsBefore, "the commit's own answer stands");
  } finally {
    await w.stop();
  }
});

test('a missed push deploys the commit as that push, and the same request again starts nothing', async () => {
  const w = await world();
  try {
    const first = await w.deploy(w.files, 'initial');
    w.missNextPushEvent();
    const missed = await w.deploy(carefulPrompt(w), 'Make the summarizer careful');
    assert.equal((await w.state('summarizer'))?.live?.commit, first, 'no push event: nothing deployed it');
    const deploys = () => w.pipeline.runner.executions('deploy').length;
    const started = deploys();

    // What the reconciler knows of it: the branch head, on top of the environment's head.
    const push: Push = {
      source: 'codecommit',
      repository: REPO,
      branch: 'main',
      commit: missed,
      previousCommit: first,
      pushedBy: 'ballast reconcile',
      pushedAt: w.sandbox.clock.now().toISOString(),
      deliveryId: 'reconcile-run-1',
    };
    const request: MissedPushRequest = { source: 'ballast', action: 'push', reason: 'missed', push };
    const name = missedPushExecutionName(ENVIRONMENT, missed);
    const arn = await startExecution(w, name, request);
    // While it runs, the same request answers the same execution.
    assert.equal(await startExecution(w, name, request), arn);
    await w.settle();
    assert.equal((await describeExecution(w, arn)).status, 'SUCCEEDED');
    assert.equal(deploys(), started + 1, 'one execution');

    const state = await w.state('summarizer');
    assert.equal(state?.live?.commit, missed, 'the missed commit is live');
    assert.equal(state?.desired?.commit, missed);
    const entry = (await w.ledger('summarizer')).at(-1);
    assert.deepEqual([entry?.commit, entry?.outcome, entry?.deliveryId], [missed, 'deployed', 'reconcile-run-1']);
    assert.deepEqual(entry?.changes, ['prompt:summarize'], 'planned against the previous head, as the push');
    assert.equal(entry?.retry, undefined, 'a push, not a retry');

    // Once it has closed, the same name is refused: nothing is deployed twice.
    await assert.rejects(startExecution(w, name, request), { name: 'ExecutionAlreadyExists' });
    await w.settle();
    assert.equal(deploys(), started + 1, 'still one execution');
  } finally {
    await w.stop();
  }
});
