import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Rollout } from '../../../lambdas/spec/schema.ts';
import {
  checkBudgetSeconds,
  deploymentConfig,
  HEAL_PATHS,
  healInPlace,
  nextCheckSeconds,
  readEndpoint,
  sagemakerName,
  sagemakerNames,
} from '../../../lambdas/targets/sagemaker.ts';

const canary: Rollout = { strategy: 'canary', canary: { percent: 10 }, bakeSeconds: 600, timeoutSeconds: 3600 };
const linear: Rollout = {
  strategy: 'linear',
  linear: { stepPercent: 20, intervalSeconds: 120 },
  bakeSeconds: 300,
  timeoutSeconds: 1800,
};
const allAtOnce: Rollout = { strategy: 'allAtOnce', bakeSeconds: 300, timeoutSeconds: 3600 };

describe('SageMaker names', () => {
  it('derives stable endpoint names and content-derived model/config names', () => {
    const names = sagemakerNames('ballast', 'prod', 'summarizer', 'abcdef0123456789'.repeat(4));
    assert.deepEqual(names, {
      endpointName: 'ballast-prod-summarizer',
      modelName: 'ballast-prod-summarizer-abcdef012345',
      endpointConfigName: 'ballast-prod-summarizer-abcdef012345',
    });
  });

  it('keeps names within 63 characters, valid and distinct', () => {
    const long = sagemakerName('ballast', 'production', 'a'.repeat(60), 'abcdef012345');
    const other = sagemakerName('ballast', 'production', 'a'.repeat(60), 'abcdef999999');
    assert.ok(long.length <= 63);
    assert.match(long, /^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$/);
    assert.notEqual(long, other);
  });
});

describe('deploymentConfig', () => {
  it('maps a canary to CANARY with the canary bake and a final bake, and the alarms to auto-rollback', () => {
    // 10% of 10 instances: one instance.
    assert.deepEqual(deploymentConfig(canary, ['a', 'b'], 10), {
      BlueGreenUpdatePolicy: {
        TrafficRoutingConfiguration: {
          Type: 'CANARY',
          CanarySize: { Type: 'INSTANCE_COUNT', Value: 1 },
          WaitIntervalInSeconds: 600,
        },
        TerminationWaitInSeconds: 600,
        MaximumExecutionTimeoutInSeconds: 3600,
      },
      AutoRollbackConfiguration: { Alarms: [{ AlarmName: 'a' }, { AlarmName: 'b' }] },
    });
  });

  it('maps linear steps and all-at-once (whose bake is the termination wait)', () => {
    // 20% of 4 instances is 0.8: rounded up to one whole instance.
    assert.deepEqual(deploymentConfig(linear, ['x'], 4).BlueGreenUpdatePolicy?.TrafficRoutingConfiguration, {
      Type: 'LINEAR',
      LinearStepSize: { Type: 'INSTANCE_COUNT', Value: 1 },
      WaitIntervalInSeconds: 120,
    });
    const once = deploymentConfig(allAtOnce, [], 1);
    assert.deepEqual(once.BlueGreenUpdatePolicy?.TrafficRoutingConfiguration, {
      Type: 'ALL_AT_ONCE',
      WaitIntervalInSeconds: 0,
    });
    assert.equal(once.BlueGreenUpdatePolicy?.TerminationWaitInSeconds, 300);
    assert.equal(once.AutoRollbackConfiguration, undefined);
  });
});

describe('waiting', () => {
  it('sleeps through a one-hour canary in a bounded handful of checks', () => {
    const hourCanary: Rollout = { ...canary, bakeSeconds: 1800, timeoutSeconds: 7200 };
    let elapsed = 0;
    let checks = 0;
    // Simulate a rollout that settles exactly when SageMaker says it should (provisioning + 2 bakes).
    const settlesAt = 480 + 3600;
    while (elapsed < settlesAt) {
      elapsed += nextCheckSeconds(hourCanary, elapsed, checks);
      checks += 1;
    }
    assert.ok(checks <= 4, `a one-hour canary took ${checks} checks`);
  });

  it('backs off once past the expected duration, and bounds the total', () => {
    assert.equal(nextCheckSeconds(allAtOnce, 10_000, 0), 60);
    assert.equal(nextCheckSeconds(allAtOnce, 10_000, 2), 240);
    assert.equal(nextCheckSeconds(allAtOnce, 10_000, 10), 900);
    assert.equal(checkBudgetSeconds(allAtOnce), 3600 + 960);
  });
});

describe('waiting for a heal of the live fleet', () => {
  it('looks after a minute, whatever the rollout strategy (no new fleet, no traffic shifting)', () => {
    assert.equal(nextCheckSeconds(canary, 0, 0, 'weights'), 60);
  });

  it('backs off as a rollout does when the update takes longer (a scale-out provisions)', () => {
    assert.equal(nextCheckSeconds(canary, 120, 2, 'weights'), 240);
  });
});

describe('healInPlace', () => {
  const target = { variantName: 'AllTraffic', instanceCount: 2 };
  /** DescribeEndpoint's variants: the release's one, as SageMaker runs it. */
  const running = (count: number, weight: number) => ({
    ProductionVariants: [
      {
        VariantName: 'AllTraffic',
        CurrentInstanceCount: count,
        DesiredInstanceCount: count,
        CurrentWeight: weight,
        DesiredWeight: weight,
      },
    ],
  });

  it('puts a drifted instance count back to the release', () => {
    assert.deepEqual(healInPlace(running(5, 1), target, [HEAL_PATHS.instanceCount]).weights, {
      VariantName: 'AllTraffic',
      DesiredInstanceCount: 2,
    });
  });

  it('puts a drifted weight back to 1', () => {
    assert.deepEqual(healInPlace(running(2, 0.5), target, [HEAL_PATHS.variantWeight]).weights, {
      VariantName: 'AllTraffic',
      DesiredWeight: 1,
    });
  });

  it('puts both back in one call when both drifted', () => {
    assert.deepEqual(
      healInPlace(running(5, 0.5), target, [HEAL_PATHS.instanceCount, HEAL_PATHS.variantWeight]).weights,
      { VariantName: 'AllTraffic', DesiredInstanceCount: 2, DesiredWeight: 1 },
    );
  });

  it('leaves a count the heal does not name alone (Application Auto Scaling may own it)', () => {
    assert.deepEqual(healInPlace(running(5, 0.5), target, [HEAL_PATHS.variantWeight]).weights, {
      VariantName: 'AllTraffic',
      DesiredWeight: 1,
    });
  });

  it('calls nothing when the endpoint has the release values already (a retried Deploy, drift undone by hand)', () => {
    assert.equal(
      healInPlace(running(2, 1), target, [HEAL_PATHS.instanceCount, HEAL_PATHS.variantWeight]).weights,
      undefined,
    );
  });

  it('reads what SageMaker is moving to, not what still runs', () => {
    const moving = {
      ProductionVariants: [{ VariantName: 'AllTraffic', CurrentInstanceCount: 5, DesiredInstanceCount: 2 }],
    };
    assert.equal(healInPlace(moving, target, [HEAL_PATHS.instanceCount]).weights, undefined);
  });

  it('puts the ballast:managed tag back when the heal names it', () => {
    assert.equal(healInPlace(running(2, 1), target, [HEAL_PATHS.managedTag]).tag, true);
  });

  it('leaves the tags alone when the heal does not name them', () => {
    assert.equal(healInPlace(running(5, 1), target, [HEAL_PATHS.instanceCount]).tag, false);
  });

  it('names what no in-place call repairs (it comes with the configuration)', () => {
    const paths = ['/target/sagemaker/instanceType', HEAL_PATHS.managedTag, '/model/image'];
    assert.deepEqual(healInPlace(running(2, 1), target, paths).ignored, [
      '/target/sagemaker/instanceType',
      '/model/image',
    ]);
  });

  it('repairs no count or weight of a variant the endpoint does not run', () => {
    const other = { ProductionVariants: [{ VariantName: 'Blue', CurrentInstanceCount: 5, CurrentWeight: 0.5 }] };
    const paths = [HEAL_PATHS.instanceCount, HEAL_PATHS.variantWeight];
    assert.deepEqual(healInPlace(other, target, paths), { tag: false, ignored: paths });
  });
});

describe('readEndpoint', () => {
  it('counts InService on the new configuration as deployed', () => {
    assert.deepEqual(readEndpoint({ EndpointStatus: 'InService', EndpointConfigName: 'new' }, 'new'), {
      settled: true,
      outcome: 'deployed',
      liveEndpointConfigName: 'new',
    });
  });

  it('catches the silent auto-rollback: InService on the old configuration, no failure status', () => {
    const reading = readEndpoint({ EndpointStatus: 'InService', EndpointConfigName: 'old' }, 'new');
    assert.equal(reading.settled, true);
    assert.ok(reading.settled && reading.outcome === 'rolled-back');
    assert.ok(reading.settled && reading.liveEndpointConfigName === 'old');
  });

  it('reports failures and in-progress rollouts with the share of traffic on the new fleet', () => {
    const failed = readEndpoint({ EndpointStatus: 'Failed', FailureReason: 'health check' }, 'new');
    assert.ok(failed.settled && failed.outcome === 'failed' && failed.reason === 'health check');
    const updating = readEndpoint(
      {
        EndpointStatus: 'Updating',
        EndpointConfigName: 'old',
        ProductionVariants: [{ VariantName: 'AllTraffic', CurrentWeight: 1, CurrentInstanceCount: 4 }],
        PendingDeploymentSummary: {
          EndpointConfigName: 'new',
          // A linear step: one of the green fleet's four instances takes traffic.
          ProductionVariants: [
            { VariantName: 'AllTraffic', CurrentWeight: 1, CurrentInstanceCount: 1, DesiredInstanceCount: 4 },
          ],
        },
      },
      'new',
    );
    assert.deepEqual(updating, { settled: false, phase: 'Updating', trafficToNew: 25 });
  });
});
