// decideDeploy and readEndpoint, one EndpointStatus at a time: what Deploy starts, and what a
// settled (or still running) rollout means.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { DescribeEndpointCommandOutput } from '@aws-sdk/client-sagemaker';
import { decideDeploy, readEndpoint } from '../../../lambdas/targets/sagemaker.ts';

const OURS = 'ballast-prod-summarizer-bbbbbbbbbbbb';
const OLD = 'ballast-prod-summarizer-aaaaaaaaaaaa';
const OTHER = 'ballast-prod-summarizer-cccccccccccc';

type Described = Pick<
  DescribeEndpointCommandOutput,
  'EndpointStatus' | 'EndpointConfigName' | 'FailureReason' | 'PendingDeploymentSummary' | 'ProductionVariants'
>;

/** An update in progress: EndpointConfigName still names the old configuration, the pending one the new. */
/** An Updating endpoint; `green` is the new fleet's serving and desired instance counts. */
function updating(
  current: string,
  pending: string | undefined,
  green?: { serving: number; desired: number },
): Described {
  return {
    EndpointStatus: 'Updating',
    EndpointConfigName: current,
    ...(pending
      ? {
          PendingDeploymentSummary: {
            EndpointConfigName: pending,
            ...(green
              ? {
                  ProductionVariants: [
                    {
                      VariantName: 'AllTraffic',
                      CurrentWeight: 1,
                      CurrentInstanceCount: green.serving,
                      DesiredInstanceCount: green.desired,
                    },
                  ],
                }
              : {}),
          },
        }
      : {}),
    ...(green
      ? { ProductionVariants: [{ VariantName: 'AllTraffic', CurrentWeight: 1, CurrentInstanceCount: 10 }] }
      : {}),
  };
}

describe('decideDeploy', () => {
  it('creates an endpoint that does not exist', () => {
    assert.deepEqual(decideDeploy(undefined, OURS), { action: 'create' });
  });

  it('goes straight to verification when InService on our configuration', () => {
    assert.deepEqual(decideDeploy({ EndpointStatus: 'InService', EndpointConfigName: OURS }, OURS), { action: 'live' });
  });

  it('updates an endpoint InService on another configuration, naming it as previous', () => {
    assert.deepEqual(decideDeploy({ EndpointStatus: 'InService', EndpointConfigName: OLD }, OURS), {
      action: 'update',
      previous: OLD,
    });
  });

  it('waits when InService names no configuration (nothing to name as previous)', () => {
    assert.deepEqual(decideDeploy({ EndpointStatus: 'InService' }, OURS), { action: 'wait', status: 'InService' });
  });

  it('recreates a Failed endpoint, with the failure reason', () => {
    assert.deepEqual(
      decideDeploy({ EndpointStatus: 'Failed', EndpointConfigName: OLD, FailureReason: 'image not found' }, OURS),
      { action: 'recreate', reason: 'image not found' },
    );
  });

  it('recreates a Failed endpoint with no failure reason', () => {
    assert.deepEqual(decideDeploy({ EndpointStatus: 'Failed', EndpointConfigName: OURS }, OURS), {
      action: 'recreate',
    });
  });

  it('follows its own creation (a retried Deploy)', () => {
    assert.deepEqual(decideDeploy({ EndpointStatus: 'Creating', EndpointConfigName: OURS }, OURS), {
      action: 'follow',
    });
  });

  it("waits for someone else's creation", () => {
    assert.deepEqual(decideDeploy({ EndpointStatus: 'Creating', EndpointConfigName: OTHER }, OURS), {
      action: 'wait',
      status: 'Creating',
    });
  });

  it('follows an update rolling out our configuration, naming the one it replaces', () => {
    assert.deepEqual(decideDeploy(updating(OLD, OURS), OURS), { action: 'follow', previous: OLD });
  });

  it('waits for an update rolling out another configuration', () => {
    assert.deepEqual(decideDeploy(updating(OLD, OTHER), OURS), { action: 'wait', status: 'Updating' });
  });

  it('waits, not follows, for a revert: the current configuration is ours but another is pending', () => {
    // A revert pushed during a rollout names the configuration the endpoint is leaving.
    assert.deepEqual(decideDeploy(updating(OURS, OTHER), OURS), { action: 'wait', status: 'Updating' });
  });

  it('waits for an update whose pending deployment is not reported', () => {
    assert.deepEqual(decideDeploy(updating(OURS, undefined), OURS), { action: 'wait', status: 'Updating' });
  });

  for (const status of ['SystemUpdating', 'RollingBack', 'UpdateRollbackFailed', 'Deleting', 'OutOfService'] as const) {
    it(`waits while ${status}`, () => {
      assert.deepEqual(decideDeploy({ EndpointStatus: status, EndpointConfigName: OLD }, OURS), {
        action: 'wait',
        status,
      });
    });
  }

  it('waits on a status it does not know', () => {
    assert.deepEqual(decideDeploy({ EndpointStatus: undefined, EndpointConfigName: OLD }, OURS), {
      action: 'wait',
      status: 'Unknown',
    });
  });
});

describe('readEndpoint', () => {
  it('reads InService on our configuration as deployed', () => {
    assert.deepEqual(readEndpoint({ EndpointStatus: 'InService', EndpointConfigName: OURS }, OURS), {
      settled: true,
      outcome: 'deployed',
      liveEndpointConfigName: OURS,
    });
  });

  it('reads InService on another configuration as rolled back, naming it', () => {
    assert.deepEqual(readEndpoint({ EndpointStatus: 'InService', EndpointConfigName: OLD }, OURS), {
      settled: true,
      outcome: 'rolled-back',
      reason: `SageMaker rolled the endpoint back to ${OLD} (an auto-rollback alarm fired or the update failed)`,
      liveEndpointConfigName: OLD,
    });
  });

  it("quotes SageMaker's failure reason for a rollback when there is one", () => {
    const reading = readEndpoint(
      { EndpointStatus: 'InService', EndpointConfigName: OLD, FailureReason: 'alarm summarizer-5xx in ALARM' },
      OURS,
    );
    assert.equal(reading.settled && reading.outcome, 'rolled-back');
    assert.equal(
      reading.settled ? reading.reason : undefined,
      `SageMaker rolled the endpoint back to ${OLD}: alarm summarizer-5xx in ALARM`,
    );
  });

  it('reads Failed as failed, with the failure reason and the configuration it is on', () => {
    assert.deepEqual(
      readEndpoint({ EndpointStatus: 'Failed', EndpointConfigName: OURS, FailureReason: 'health check failed' }, OURS),
      { settled: true, outcome: 'failed', reason: 'health check failed', liveEndpointConfigName: OURS },
    );
  });

  it('reads Failed without a reason as failed', () => {
    assert.deepEqual(readEndpoint({ EndpointStatus: 'Failed' }, OURS), {
      settled: true,
      outcome: 'failed',
      reason: 'the endpoint failed',
    });
  });

  it('reads an update to another pending configuration as replaced', () => {
    assert.deepEqual(readEndpoint(updating(OLD, OTHER), OURS), {
      settled: true,
      outcome: 'replaced',
      reason: `the endpoint is updating to ${OTHER} instead`,
      liveEndpointConfigName: OLD,
    });
  });

  it('reads an update of ours as not settled, with the share of traffic on the new fleet', () => {
    assert.deepEqual(readEndpoint(updating(OLD, OURS, { serving: 1, desired: 10 }), OURS), {
      settled: false,
      phase: 'Updating',
      trafficToNew: 10,
    });
  });

  it('reports all traffic on the new fleet once it has moved, still not settled (baking)', () => {
    assert.deepEqual(readEndpoint(updating(OLD, OURS, { serving: 10, desired: 10 }), OURS), {
      settled: false,
      phase: 'Updating',
      trafficToNew: 100,
    });
  });

  it('reports no share of traffic before the new fleet reports its capacity', () => {
    assert.deepEqual(readEndpoint(updating(OLD, OURS), OURS), { settled: false, phase: 'Updating' });
  });

  it('reads a creation in progress as not settled', () => {
    assert.deepEqual(readEndpoint({ EndpointStatus: 'Creating', EndpointConfigName: OURS }, OURS), {
      settled: false,
      phase: 'Creating',
    });
  });
});
