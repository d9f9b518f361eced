/**
 * End to end: pushes through the sandbox's CodeCommit start the real deploy workflow (the ASL the
 * stack ships, run by aws-local-stepfunctions with the real handlers), and the tests look at the
 * result the way a user would: DescribeEndpoint through the SDK, the pointers and artifacts in S3,
 * the endpoint state, the ledger and the comment on the commit.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { test } from 'node:test';
import {
  DescribeEndpointCommand,
  type DescribeEndpointCommandOutput,
  DescribeEndpointConfigCommand,
  DescribeModelCommand,
  ListEndpointConfigsCommand,
  ListModelsCommand,
} from '@aws-sdk/client-sagemaker';
import type { VersionPointer } from '../../lambdas/registry/pointer.ts';
import { REPOSITORY_LEDGER } from '../../lambdas/state/keys.ts';
import type { EndpointResult, Plan, PlanDocument, Rollout } from '../../lambdas/workflow/types.ts';
import type { EndpointView } from '../../sandbox/services/sagemaker.ts';
import {
  ENDPOINT_FILE,
  editYaml,
  MODEL_FILE,
  PROMPT_FILE,
  requireFile,
  SUMMARIZER,
  sagemakerWrites,
  type World,
  withArtifact,
  world,
} from './harness.ts';

const STATE_BUCKET = 'ballast-state';
const sha256 = (bytes: Buffer | string) => createHash('sha256').update(bytes).digest('hex');
const configFor = (digest: string) => `${SUMMARIZER}-${digest.slice(0, 12)}`;

interface ExecutionOutput {
  /** After the Map, the plan's items are the endpoints' results (they replace the names). */
  plan: Omit<Plan, 'items'> & { items: EndpointResult[] };
}

async function endpointConfigs(w: World): Promise<string[]> {
  const response = await w.clients.sagemaker.send(new ListEndpointConfigsCommand({ NameContains: SUMMARIZER }));
  return (response.EndpointConfigs ?? []).map((c) => c.EndpointConfigName ?? '').sort();
}

async function models(w: World): Promise<string[]> {
  const response = await w.clients.sagemaker.send(new ListModelsCommand({ NameContains: SUMMARIZER }));
  return (response.Models ?? []).map((m) => m.ModelName ?? '').sort();
}

test('first deploy: the endpoint runs the commit, pinned artifacts in S3, state, ledger and a comment', async () => {
  const w = await world();
  try {
    const commit = await w.deploy(w.files, 'initial');

    const [execution, ...others] = w.executions(commit);
    assert.equal(others.length, 0, 'one execution per push');
    assert.equal(execution?.status, 'SUCCEEDED', JSON.stringify(execution?.error));
    const output = execution.output as ExecutionOutput;
    assert.deepEqual(
      output.plan.items.map((r) => r.endpoint),
      ['summarizer'],
      'the Map rolled out summarizer (its result replaced its name)',
    );
    const plan = await w.json<PlanDocument>(output.plan.planKey ?? '');
    const planned = plan?.endpoints.find((e) => e.name === 'summarizer');
    assert.ok(planned, 'the plan document lists summarizer');
    assert.deepEqual(planned.changes, ['initial']);
    assert.deepEqual(
      plan?.deferred.map((d) => d.name),
      ['embeddings'],
      'the EKS endpoint is validated and deferred',
    );
    assert.deepEqual(
      output.plan.items.map((r) => [r.endpoint, r.outcome]),
      [['summarizer', 'deployed']],
    );

    // The endpoint, as DescribeEndpoint tells it.
    const config = configFor(planned.digest);
    const endpoint = await w.describe(SUMMARIZER);
    assert.equal(endpoint.EndpointStatus, 'InService');
    assert.equal(endpoint.EndpointConfigName, config);
    const endpointConfig = await w.clients.sagemaker.send(
      new DescribeEndpointConfigCommand({ EndpointConfigName: config }),
    );
    const variant = endpointConfig.ProductionVariants?.[0];
    assert.equal(variant?.InstanceType, 'ml.g5.2xlarge');
    assert.equal(variant?.InitialInstanceCount, 2);
    const model = await w.clients.sagemaker.send(new DescribeModelCommand({ ModelName: variant?.ModelName }));

    // The version pointer: commit → pinned, content-addressed copies.
    const declared = /sha256: ([0-9a-f]{64})/.exec(requireFile(w.files, MODEL_FILE))?.[1];
    const pointer = await w.json<VersionPointer>(`pointers/prod/summarizer/${commit}.json`);
    assert.ok(pointer, 'Register wrote the version pointer');
    assert.equal(pointer.commit, commit);
    assert.equal(pointer.digest, planned.digest);
    assert.equal(pointer.model.sha256, declared);
    assert.equal(pointer.model.key, `artifacts/sha256/${declared}.tar.gz`);
    assert.equal(sha256(await w.bytes(STATE_BUCKET, pointer.model.key)), declared, 'the pinned copy has the bytes');
    const prompt = pointer.prompts.summarize;
    assert.ok(prompt, 'the prompt is pinned');
    assert.equal(prompt.key, `artifacts/sha256/${prompt.sha256}`);
    assert.equal(sha256(await w.bytes(STATE_BUCKET, prompt.key)), prompt.sha256);
    const promptBody = JSON.parse((await w.bytes(STATE_BUCKET, prompt.key)).toString('utf8')) as {
      messages: Array<{ role: string }>;
    };
    assert.deepEqual(
      promptBody.messages.map((m) => m.role),
      ['system', 'user'],
    );

    // The model runs exactly those copies.
    const container = model.PrimaryContainer;
    assert.equal(container?.ModelDataUrl, `s3://${STATE_BUCKET}/${pointer.model.key}`);
    assert.equal(container?.Environment?.BALLAST_PROMPT_SUMMARIZE, `s3://${STATE_BUCKET}/${prompt.key}`);
    assert.equal(container?.Environment?.BALLAST_COMMIT, commit);
    assert.equal(container?.Environment?.OPTION_ROLLING_BATCH, 'vllm');

    const state = await w.state('summarizer');
    assert.equal(state?.live?.pointerKey, `pointers/prod/summarizer/${commit}.json`, 'live names its version pointer');
    assert.equal(state?.live?.commit, commit);
    assert.equal(state?.live?.endpointConfigName, config);
    assert.equal(state?.lastGood?.commit, commit);
    assert.equal(state?.desired?.commit, commit);
    assert.equal(state?.lease, undefined, 'the lease is released');
    assert.deepEqual(state?.quarantined, []);
    assert.equal(await w.state('embeddings'), undefined, 'nothing is recorded for the deferred endpoint');

    const ledger = await w.ledger('summarizer');
    assert.equal(ledger.length, 1);
    assert.equal(ledger[0]?.outcome, 'deployed');
    assert.equal(ledger[0]?.commit, commit);
    assert.deepEqual(ledger[0]?.changes, ['initial']);
    assert.equal(ledger[0]?.endpointConfigName, config);
    assert.equal(ledger[0]?.branch, 'main');

    const posted = await w.comments(commit);
    assert.equal(posted.length, 1, `one comment: ${JSON.stringify(posted)}`);
    assert.match(posted[0] ?? '', /^Ballast prod\/summarizer: deployed/);
  } finally {
    await w.stop();
  }
});

test('canary update: the new model bakes on a canary, then takes all traffic; old configs are cleaned up', async () => {
  // What the test saw in the middle of the rollout, while the canary baked.
  const seen: { describe?: DescribeEndpointCommandOutput; view?: EndpointView } = {};
  const w: World = await world({
    around: {
      Deploy: async (input, next) => {
        const rollout = (await next(input)) as Rollout;
        if (rollout.status !== 'started' || !rollout.previousEndpointConfigName || seen.describe) return rollout;
        // Step simulated time (as SageMaker would live through it) until the canary bakes, and
        // look at the endpoint then; the workflow's own Wait takes it from there.
        for (let i = 0; i < 200 && w.sandbox.sagemaker.endpoint(SUMMARIZER)?.pending?.phase !== 'Baking'; i++) {
          w.sandbox.clock.advance(15_000);
        }
        seen.view = w.sandbox.sagemaker.endpoint(SUMMARIZER);
        seen.describe = await w.clients.sagemaker.send(new DescribeEndpointCommand({ EndpointName: SUMMARIZER }));
        return rollout;
      },
    },
  });
  try {
    // Ten instances and a 10% canary: one instance of ten, a 10/90 split.
    const initial = {
      ...w.files,
      [ENDPOINT_FILE]: editYaml(requireFile(w.files, ENDPOINT_FILE), [
        [['spec', 'target', 'sagemaker', 'instanceCount'], 10],
        [['spec', 'rollout', 'canary', 'percent'], 10],
      ]),
    };
    const first = await w.deploy(initial, 'initial');
    const firstConfig = (await w.state('summarizer'))?.live?.endpointConfigName;
    assert.ok(firstConfig, 'the first commit is live');

    // A new model version: new bytes in the artifact bucket, the Model pointing at them.
    const weights = Buffer.from('summarizer-llm weights, fine-tuned 2025-02-01\n');
    const artifact = await w.uploadArtifact('models/summarizer-llm/2025-02-01/model.tar.gz', weights);
    const eventsBefore = w.sandbox.events.events().length;
    const second = await w.deploy(withArtifact(w.files, artifact), 'summarizer-llm: fine-tuned 2025-02-01');

    const state = await w.state('summarizer');
    const secondConfig = state?.live?.endpointConfigName;
    assert.equal(state?.live?.commit, second, JSON.stringify(await w.ledger('summarizer')));
    assert.equal(state?.lastGood?.commit, second);
    assert.ok(secondConfig && secondConfig !== firstConfig);

    // Mid-rollout: blue (old config) still the endpoint's config, the canary baking on one of ten instances.
    const during = seen.describe;
    assert.ok(during, 'the Deploy wrapper looked at the endpoint during the rollout');
    assert.equal(during.EndpointStatus, 'Updating');
    assert.equal(during.EndpointConfigName, firstConfig);
    assert.equal(during.PendingDeploymentSummary?.EndpointConfigName, secondConfig);
    const canary = during.PendingDeploymentSummary?.ProductionVariants?.[0];
    assert.equal(canary?.VariantStatus?.[0]?.Status, 'Baking');
    assert.match(canary?.VariantStatus?.[0]?.StatusMessage ?? '', /canary capacity of 1 instance/);
    assert.equal(canary?.CurrentInstanceCount, 1);
    assert.equal(canary?.DesiredInstanceCount, 10);
    assert.equal(during.ProductionVariants?.[0]?.CurrentInstanceCount, 10, 'the blue fleet is still up');
    const policy = during.LastDeploymentConfig?.BlueGreenUpdatePolicy;
    assert.equal(policy?.TrafficRoutingConfiguration?.Type, 'CANARY');
    // The percent, as whole instances (lambdas/targets/sagemaker.ts deploymentConfig).
    assert.deepEqual(policy?.TrafficRoutingConfiguration?.CanarySize, { Type: 'INSTANCE_COUNT', Value: 1 });
    assert.equal(policy?.TrafficRoutingConfiguration?.WaitIntervalInSeconds, 600);
    assert.deepEqual(
      during.LastDeploymentConfig?.AutoRollbackConfiguration?.Alarms?.map((a) => a.AlarmName),
      ['summarizer-5xx', 'summarizer-p99-latency'],
    );
    assert.deepEqual(
      seen.view?.traffic.map((t) => [t.fleet, t.configName, t.percent]),
      [
        ['blue', firstConfig, 90],
        ['green', secondConfig, 10],
      ],
    );

    // The deployment's events went through the canary bake to the new config.
    const events = w.sandbox.events.events().slice(eventsBefore);
    const greenStatuses = events
      .filter((e) => e['detail-type'] === 'SageMaker Endpoint Deployment State Change')
      .map((e) => {
        const pending = (e.detail as { PendingDeploymentSummary?: { ProductionVariants?: unknown[] } })
          .PendingDeploymentSummary;
        const status = (pending?.ProductionVariants?.[0] as { VariantStatus?: Array<{ StatusMessage: string }> })
          ?.VariantStatus?.[0];
        return status?.StatusMessage ?? '';
      });
    assert.ok(
      greenStatuses.some((s) => /^Baking .*WaitIntervalInSeconds.*canary capacity of 1 instance/.test(s)),
      `a canary bake in ${JSON.stringify(greenStatuses)}`,
    );
    assert.ok(
      greenStatuses.some((s) => /^Baking .*TerminationWaitInSeconds.*full capacity/.test(s)),
      `a final bake in ${JSON.stringify(greenStatuses)}`,
    );
    const lastState = events
      .filter((e) => e['detail-type'] === 'SageMaker Endpoint State Change')
      .map((e) => e.detail as { EndpointStatus: string; EndpointConfigName: string })
      .at(-1);
    assert.deepEqual(lastState, { ...lastState, EndpointStatus: 'IN_SERVICE', EndpointConfigName: secondConfig });
    const after = await w.describe(SUMMARIZER);
    assert.equal(after.EndpointStatus, 'InService');
    assert.equal(after.EndpointConfigName, secondConfig);
    assert.equal(after.PendingDeploymentSummary, undefined);

    // The new artifact is pinned under its digest, and the ledger says what changed.
    const pointer = await w.json<VersionPointer>(`pointers/prod/summarizer/${second}.json`);
    assert.equal(pointer?.model.sha256, artifact.sha256);
    assert.equal(pointer?.model.sourceUri, artifact.uri);
    assert.deepEqual(await w.bytes(STATE_BUCKET, `artifacts/sha256/${artifact.sha256}.tar.gz`), weights);
    assert.equal(state?.live?.pointerKey, `pointers/prod/summarizer/${second}.json`);
    const ledger = await w.ledger('summarizer');
    assert.deepEqual(
      ledger.map((e) => [e.commit, e.outcome]),
      [
        [first, 'deployed'],
        [second, 'deployed'],
      ],
    );
    assert.deepEqual(ledger[1]?.changes, ['model:summarizer-llm']);

    // The previous config stays for a rollback.
    assert.deepEqual(await endpointConfigs(w), [firstConfig, secondConfig].sort());

    // A third deploy (a prompt change) cleans up the first version and keeps the second.
    const prompt = requireFile(w.files, PROMPT_FILE).replace('You are a precise summarizer.', 'You summarize.');
    const third = await w.deploy({ [PROMPT_FILE]: prompt }, 'prompt: shorter system message');
    const thirdState = await w.state('summarizer');
    const thirdConfig = thirdState?.live?.endpointConfigName;
    assert.equal(thirdState?.live?.commit, third);
    assert.ok(thirdConfig);
    assert.deepEqual((await w.ledger('summarizer')).at(-1)?.changes, ['prompt:summarize']);
    assert.deepEqual(await endpointConfigs(w), [secondConfig, thirdConfig].sort());
    assert.deepEqual(await models(w), [secondConfig, thirdConfig].sort(), 'models are named like their configs');
    // The old artifact stays pinned (rolling back to the first commit needs it).
    assert.equal(
      (await w.json<VersionPointer>(`pointers/prod/summarizer/${first}.json`))?.model.key,
      `artifacts/sha256/${/sha256: ([0-9a-f]{64})/.exec(requireFile(w.files, MODEL_FILE))?.[1]}.tar.gz`,
    );
  } finally {
    await w.stop();
  }
});

test('a re-delivered push event changes nothing live', async () => {
  const w = await world();
  try {
    const first = await w.deploy(w.files, 'initial');
    const stateBefore = await w.state('summarizer');
    const ledgerBefore = await w.ledger('summarizer');
    const mark = w.sandbox.requests.all().length;

    // EventBridge delivers at least once: the same event starts a second execution.
    const again = w.pipeline.deployFor(w.pushEvent(first));
    await again.result;
    assert.equal(again.status, 'SUCCEEDED', JSON.stringify(again.error));
    const plan = (again.output as ExecutionOutput).plan;
    assert.deepEqual(plan.items, [], 'nothing to roll out');
    assert.deepEqual((await w.json<PlanDocument>(plan.planKey ?? ''))?.unchanged, ['embeddings', 'summarizer']);
    assert.deepEqual(sagemakerWrites(w.requestsSince(mark)), [], 'no SageMaker Create/Update calls');
    assert.deepEqual(await w.state('summarizer'), stateBefore);
    assert.deepEqual(await w.ledger('summarizer'), ledgerBefore, "the endpoint's history is untouched");
    // The push is still answered: one repository-level entry, and a comment on the commit.
    const answered = (await w.ledger(REPOSITORY_LEDGER)).filter((e) => e.execution === again.name);
    assert.deepEqual(
      answered.map((e) => [e.outcome, e.endpoints?.unchanged]),
      [['unchanged', ['embeddings', 'summarizer']]],
    );

    // A late re-delivery of an older commit must not roll the endpoint back.
    const artifact = await w.uploadArtifact(
      'models/summarizer-llm/2025-02-01/model.tar.gz',
      Buffer.from('summarizer-llm weights v2\n'),
    );
    const second = await w.deploy(withArtifact(w.files, artifact), 'summarizer-llm v2');
    const liveSecond = await w.state('summarizer');
    assert.equal(liveSecond?.live?.commit, second);
    const endpointBefore = (await w.describe(SUMMARIZER)).EndpointConfigName;
    const markLate = w.sandbox.requests.all().length;
    const late = w.pipeline.deployFor(w.pushEvent(first));
    await late.result;
    assert.equal(late.status, 'SUCCEEDED', JSON.stringify(late.error));
    assert.deepEqual(sagemakerWrites(w.requestsSince(markLate)), [], 'no SageMaker Create/Update calls');
    assert.equal((await w.describe(SUMMARIZER)).EndpointConfigName, endpointBefore);
    const stateAfter = await w.state('summarizer');
    assert.equal(stateAfter?.live?.commit, second);
    assert.equal(stateAfter?.desired?.commit, second, 'the branch still asks for the newer commit');
    const lateEntries = (await w.ledger('summarizer')).filter((e) => e.execution === late.name);
    assert.deepEqual(
      lateEntries.map((e) => e.outcome),
      ['superseded'],
    );
  } finally {
    await w.stop();
  }
});
