/**
 * End to end, through the deploy workflow: the `linear` and `allAtOnce` rollout strategies. The
 * UpdateEndpoint carries the DeploymentConfig the Endpoint declares, the traffic moves to the new
 * fleet the way the strategy says (seen mid-rollout, at a CheckRollout the test places there), and
 * the rollout ends deployed, with the endpoint on the new configuration.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DescribeEndpointCommand, type DescribeEndpointCommandOutput } from '@aws-sdk/client-sagemaker';
import type { EndpointWork, Rollout } from '../../lambdas/workflow/types.ts';
import type { EndpointView } from '../../sandbox/services/sagemaker.ts';
import {
  ENDPOINT_FILE,
  editYaml,
  requireFile,
  SUMMARIZER,
  updateEndpointCalls,
  type World,
  withArtifact,
  world,
} from './harness.ts';

/** What CheckRollout answered, and what the endpoint looked like, at the one check placed mid-rollout. */
interface MidRollout {
  readonly rollout: Rollout & { settled: boolean };
  readonly describe: DescribeEndpointCommandOutput;
  readonly view: EndpointView | undefined;
}

/**
 * A world whose update rollout (not the first CreateEndpoint) gets its first CheckRollout
 * `firstCheckSeconds` after Deploy, instead of when Deploy expects the rollout to have settled:
 * the Wait state reads `nextCheckSeconds` from Deploy's output, so the test places the check at a
 * chosen simulated instant, and looks at the endpoint at that instant (the CheckRollout hook runs
 * when the real handler returns; no time passes in between).
 */
async function strategyWorld(firstCheckSeconds: number): Promise<{ w: World; checks: MidRollout[] }> {
  const checks: MidRollout[] = [];
  let placed = false;
  const w: World = await world({
    around: {
      Deploy: async (input: EndpointWork, next) => {
        const rollout = (await next(input)) as Rollout;
        if (rollout.status !== 'started' || rollout.operation !== 'update' || placed) return rollout;
        placed = true;
        return { ...rollout, nextCheckSeconds: firstCheckSeconds };
      },
      CheckRollout: async (input: EndpointWork, next) => {
        const rollout = (await next(input)) as MidRollout['rollout'];
        if (rollout.operation === 'update' && checks.length === 0) {
          checks.push({
            rollout,
            describe: await w.clients.sagemaker.send(new DescribeEndpointCommand({ EndpointName: SUMMARIZER })),
            view: w.sandbox.sagemaker.endpoint(SUMMARIZER),
          });
        }
        return rollout;
      },
    },
  });
  return { w, checks };
}

/** The example Endpoint on four instances (so that a 25% step is one instance), with `rollout`. */
function endpointWith(w: World, rollout: Record<string, unknown>): Record<string, string> {
  return {
    [ENDPOINT_FILE]: editYaml(requireFile(w.files, ENDPOINT_FILE), [
      [['spec', 'target', 'sagemaker', 'instanceCount'], 4],
      [['spec', 'rollout'], rollout],
    ]),
  };
}

async function newModel(w: World): Promise<Record<string, string>> {
  const artifact = await w.uploadArtifact(
    'models/summarizer-llm/2025-02-01/model.tar.gz',
    Buffer.from('summarizer-llm weights, fine-tuned 2025-02-01\n'),
  );
  return withArtifact(w.files, artifact);
}

test('linear rollout: 25% steps every 300 s, traffic seen at 25% mid-rollout, then deployed on the new config', async () => {
  // Provisioning takes 360 s in the sandbox, activating a step 30 s: the first 25% step bakes from
  // 390 s to 690 s after UpdateEndpoint, so a check at 500 s sees it.
  const { w, checks } = await strategyWorld(500);
  try {
    const rolloutSpec = {
      strategy: 'linear',
      linear: { stepPercent: 25, intervalSeconds: 300 },
      bakeSeconds: 120,
      timeoutSeconds: 3600,
    };
    await w.deploy({ ...w.files, ...endpointWith(w, rolloutSpec) }, 'initial, linear rollouts');
    const firstConfig = (await w.state('summarizer'))?.live?.endpointConfigName;
    assert.ok(firstConfig, 'the first commit is live');
    const mark = w.sandbox.requests.all().length;
    const eventsBefore = w.sandbox.events.events().length;

    const commit = await w.deploy(await newModel(w), 'summarizer-llm: fine-tuned 2025-02-01');

    // SageMaker's deployment events: a bake after each 25% step (1, 2, 3 of 4 instances), then the final bake.
    const bakes = w.sandbox.events
      .events()
      .slice(eventsBefore)
      .filter((e) => e['detail-type'] === 'SageMaker Endpoint Deployment State Change')
      .map((e) => {
        const pending = (e.detail as { PendingDeploymentSummary?: { ProductionVariants?: unknown[] } })
          .PendingDeploymentSummary;
        const variant = pending?.ProductionVariants?.[0] as { VariantStatus?: Array<{ StatusMessage: string }> };
        return variant?.VariantStatus?.[0]?.StatusMessage ?? '';
      })
      .filter((m) => m.startsWith('Baking'));
    assert.deepEqual(bakes, [
      'Baking for 300 seconds (WaitIntervalInSeconds) with traffic enabled on linear capacity of 1 instance(s).',
      'Baking for 300 seconds (WaitIntervalInSeconds) with traffic enabled on linear capacity of 2 instance(s).',
      'Baking for 300 seconds (WaitIntervalInSeconds) with traffic enabled on linear capacity of 3 instance(s).',
      'Baking for 120 seconds (TerminationWaitInSeconds) with traffic enabled on full capacity of 4 instance(s).',
    ]);

    // The UpdateEndpoint carried the linear DeploymentConfig.
    assert.equal(updateEndpointCalls(w, mark).length, 1);
    const endpoint = await w.describe(SUMMARIZER);
    const policy = endpoint.LastDeploymentConfig?.BlueGreenUpdatePolicy;
    assert.equal(policy?.TrafficRoutingConfiguration?.Type, 'LINEAR');
    assert.deepEqual(policy?.TrafficRoutingConfiguration?.LinearStepSize, { Type: 'INSTANCE_COUNT', Value: 1 });
    assert.equal(policy?.TrafficRoutingConfiguration?.WaitIntervalInSeconds, 300);
    assert.equal(policy?.TerminationWaitInSeconds, 120, 'bakeSeconds');
    assert.equal(policy?.MaximumExecutionTimeoutInSeconds, 3600);
    assert.deepEqual(
      endpoint.LastDeploymentConfig?.AutoRollbackConfiguration?.Alarms?.map((a) => a.AlarmName),
      ['summarizer-5xx', 'summarizer-p99-latency'],
    );

    // Mid-rollout: one of four green instances serves 25% of the traffic.
    const [mid] = checks;
    assert.ok(mid, 'a CheckRollout ran during the rollout');
    assert.equal(mid.rollout.settled, false);
    assert.equal(mid.describe.EndpointStatus, 'Updating');
    assert.equal(mid.describe.EndpointConfigName, firstConfig, 'blue is still the endpoint config');
    const secondConfig = mid.describe.PendingDeploymentSummary?.EndpointConfigName;
    assert.ok(secondConfig && secondConfig !== firstConfig);
    const green = mid.describe.PendingDeploymentSummary?.ProductionVariants?.[0];
    assert.equal(green?.VariantStatus?.[0]?.Status, 'Baking');
    assert.match(
      green?.VariantStatus?.[0]?.StatusMessage ?? '',
      /WaitIntervalInSeconds.*linear capacity of 1 instance/,
    );
    assert.equal(green?.CurrentInstanceCount, 1);
    assert.equal(green?.DesiredInstanceCount, 4);
    assert.deepEqual(
      mid.view?.traffic.map((t) => [t.fleet, t.configName, t.percent]),
      [
        ['blue', firstConfig, 75],
        ['green', secondConfig, 25],
      ],
    );

    // Deployed, on the new config.
    const [entry, ...more] = (await w.ledger('summarizer')).filter((e) => e.commit === commit);
    assert.equal(more.length, 0);
    assert.equal(entry?.outcome, 'deployed', entry?.reason);
    const state = await w.state('summarizer');
    assert.equal(state?.live?.commit, commit);
    assert.equal(state?.live?.endpointConfigName, secondConfig);
    assert.equal(endpoint.EndpointStatus, 'InService');
    assert.equal(endpoint.EndpointConfigName, secondConfig);
    assert.equal(w.sandbox.sagemaker.endpoint(SUMMARIZER)?.lastUpdate?.outcome, 'succeeded');
  } finally {
    await w.stop();
  }
});

test('allAtOnce rollout: all traffic moves at once, then bakes bakeSeconds; deployed on the new config', async () => {
  // Provisioning (360 s) and activation (30 s), then the final bake from 390 s to 690 s.
  const { w, checks } = await strategyWorld(500);
  try {
    const rolloutSpec = { strategy: 'allAtOnce', bakeSeconds: 300, timeoutSeconds: 3600 };
    await w.deploy({ ...w.files, ...endpointWith(w, rolloutSpec) }, 'initial, all-at-once rollouts');
    const firstConfig = (await w.state('summarizer'))?.live?.endpointConfigName;
    assert.ok(firstConfig, 'the first commit is live');
    const mark = w.sandbox.requests.all().length;

    const commit = await w.deploy(await newModel(w), 'summarizer-llm: fine-tuned 2025-02-01');

    assert.equal(updateEndpointCalls(w, mark).length, 1);
    const endpoint = await w.describe(SUMMARIZER);
    const policy = endpoint.LastDeploymentConfig?.BlueGreenUpdatePolicy;
    assert.equal(policy?.TrafficRoutingConfiguration?.Type, 'ALL_AT_ONCE');
    assert.equal(policy?.TrafficRoutingConfiguration?.LinearStepSize, undefined);
    assert.equal(policy?.TrafficRoutingConfiguration?.CanarySize, undefined);
    assert.equal(policy?.TerminationWaitInSeconds, 300, 'bakeSeconds');
    assert.equal(policy?.MaximumExecutionTimeoutInSeconds, 3600);

    // Mid-rollout: the whole green fleet serves everything and bakes; blue is still up for a rollback.
    const [mid] = checks;
    assert.ok(mid, 'a CheckRollout ran during the rollout');
    assert.equal(mid.rollout.settled, false);
    assert.equal(mid.describe.EndpointStatus, 'Updating');
    assert.equal(mid.describe.EndpointConfigName, firstConfig);
    const secondConfig = mid.describe.PendingDeploymentSummary?.EndpointConfigName;
    assert.ok(secondConfig && secondConfig !== firstConfig);
    const green = mid.describe.PendingDeploymentSummary?.ProductionVariants?.[0];
    assert.equal(green?.VariantStatus?.[0]?.Status, 'Baking');
    assert.match(
      green?.VariantStatus?.[0]?.StatusMessage ?? '',
      /TerminationWaitInSeconds.*full capacity of 4 instance/,
    );
    assert.equal(green?.CurrentInstanceCount, 4);
    assert.equal(mid.describe.ProductionVariants?.[0]?.CurrentInstanceCount, 4, 'the blue fleet is still up');
    assert.deepEqual(
      mid.view?.traffic.map((t) => [t.fleet, t.configName, t.percent]),
      [
        ['blue', firstConfig, 0],
        ['green', secondConfig, 100],
      ],
    );

    const [entry, ...more] = (await w.ledger('summarizer')).filter((e) => e.commit === commit);
    assert.equal(more.length, 0);
    assert.equal(entry?.outcome, 'deployed', entry?.reason);
    const state = await w.state('summarizer');
    assert.equal(state?.live?.commit, commit);
    assert.equal(state?.live?.endpointConfigName, secondConfig);
    assert.equal(endpoint.EndpointStatus, 'InService');
    assert.equal(endpoint.EndpointConfigName, secondConfig);
  } finally {
    await w.stop();
  }
});

test("CheckRollout's trafficToNew is the share of traffic on the new fleet (25% at a linear step, 100% in an all-at-once bake)", async () => {
  const cases = [
    {
      spec: {
        strategy: 'linear',
        linear: { stepPercent: 25, intervalSeconds: 300 },
        bakeSeconds: 120,
        timeoutSeconds: 3600,
      },
      expected: 25,
    },
    { spec: { strategy: 'allAtOnce', bakeSeconds: 300, timeoutSeconds: 3600 }, expected: 100 },
  ];
  for (const { spec, expected } of cases) {
    const { w, checks } = await strategyWorld(500);
    try {
      await w.deploy({ ...w.files, ...endpointWith(w, spec) }, `initial, ${spec.strategy} rollouts`);
      await w.deploy(await newModel(w), 'summarizer-llm: fine-tuned 2025-02-01');
      const [mid] = checks;
      assert.ok(mid, 'a CheckRollout ran during the rollout');
      assert.equal(mid.rollout.settled, false);
      assert.equal(mid.rollout.trafficToNew, expected, spec.strategy);
    } finally {
      await w.stop();
    }
  }
});
