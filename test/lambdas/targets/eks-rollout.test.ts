import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Rollout } from '../../../lambdas/spec/schema.ts';
import type { Weights } from '../../../lambdas/targets/eks.ts';
import {
  type DeploymentReading,
  decideEksStep,
  type EksAction,
  type EksProgress,
  type EksStep,
  goals,
  podsFor,
  startProgress,
} from '../../../lambdas/targets/eks-rollout.ts';

/**
 * A tiny cluster for the decision: Deployments whose pods all become available one look after
 * they are asked for (unless the version never gets ready), a route the Gateway accepts, alarms
 * the test switches on. Every look the decision takes is recorded with the pods that exist, so
 * the tests can hold the whole rollout to the capacity rule.
 */
class World {
  readonly decks: Record<'stable' | 'canary', { digest?: string; replicas: number; pods: number; available: number }> =
    {
      stable: { replicas: 0, pods: 0, available: 0 },
      canary: { replicas: 0, pods: 0, available: 0 },
    };
  weights: Weights | undefined;
  alarms: string[] = [];
  routeAccepted: 'true' | 'false' = 'true';
  notReady = new Set<string>();
  readonly podsSeen: number[] = [];
  readonly weightsSeen: number[] = [];
  now = Date.parse('2026-12-03T10:00:00Z');

  reading(track: 'stable' | 'canary'): DeploymentReading {
    const d = this.decks[track];
    if (d.digest === undefined) return { exists: false, replicas: 0, pods: 0, available: 0, complete: false };
    return {
      exists: true,
      digest: d.digest,
      replicas: d.replicas,
      pods: d.pods,
      available: d.available,
      complete: d.pods === d.replicas && d.available >= d.replicas,
      ...(this.notReady.has(d.digest) && d.available < d.replicas ? { stalled: 'ProgressDeadlineExceeded' } : {}),
    };
  }

  observed() {
    return {
      stable: this.reading('stable'),
      canary: this.reading('canary'),
      route: {
        exists: this.weights !== undefined,
        ...(this.weights ? { weights: this.weights } : {}),
        accepted: this.routeAccepted,
      },
      alarmsInAlarm: this.alarms,
    } as const;
  }

  apply(actions: readonly EksAction[]) {
    for (const action of actions) {
      if (action.kind === 'route') {
        this.weights = action.weights;
        this.weightsSeen.push(action.weights.canary);
        continue;
      }
      const d = this.decks[action.track];
      if (d.digest !== action.digest) d.available = 0; // a new template: new pods
      d.digest = action.digest;
      if (action.replicas !== undefined) d.replicas = action.replicas;
    }
  }

  /** Time passes: pods converge to what is asked (scale-down is immediate, scale-up takes a look). */
  settle() {
    for (const d of Object.values(this.decks)) {
      if (d.pods > d.replicas) d.pods = d.replicas;
      else d.pods = d.replicas;
      d.available = d.digest && this.notReady.has(d.digest) ? 0 : d.pods;
    }
    this.podsSeen.push(this.decks.stable.pods + this.decks.canary.pods);
  }
}

const canary: Rollout = { strategy: 'canary', canary: { percent: 25 }, bakeSeconds: 300, timeoutSeconds: 3600 };
const linear: Rollout = {
  strategy: 'linear',
  linear: { stepPercent: 20, intervalSeconds: 120 },
  bakeSeconds: 300,
  timeoutSeconds: 3600,
};
const allAtOnce: Rollout = { strategy: 'allAtOnce', bakeSeconds: 300, timeoutSeconds: 3600 };

function run(
  world: World,
  rollout: Rollout,
  replicas: number,
  maxSurge: number,
  options: { onLook?: (n: number) => void } = {},
) {
  const startedAt = new Date(world.now).toISOString();
  const start = startProgress({
    rollout,
    replicas,
    maxSurge,
    digest: 'new',
    stable: world.reading('stable'),
    autoscaled: false,
    canaryShare: world.weights?.canary ?? 0,
  });
  world.apply(start.actions);
  let progress: EksProgress = start.progress;
  let last: EksStep | undefined;
  for (let look = 0; look < 500; look++) {
    world.settle();
    options.onLook?.(look);
    last = decideEksStep(progress, world.observed(), rollout, { now: new Date(world.now).toISOString(), startedAt });
    world.apply(last.actions);
    progress = last.progress;
    if (last.settled) {
      world.settle();
      return last;
    }
    world.now += Math.max(1, last.waitSeconds) * 1000;
  }
  throw new Error('the rollout never settled');
}

function liveWorld(replicas: number): World {
  const world = new World();
  world.decks.stable = { digest: 'old', replicas, pods: replicas, available: replicas };
  world.weights = { stable: 100, canary: 0 };
  return world;
}

describe('EKS rollout decisions', () => {
  it('steps a linear rollout through every share, never above replicas + maxSurge pods', () => {
    const world = liveWorld(2);
    const step = run(world, linear, 2, 1);
    assert.equal(step.settled?.outcome, 'deployed');
    assert.ok(world.podsSeen.length > 0);
    assert.equal(Math.max(...world.podsSeen), 3);
    // Every share of the strategy was held, in order, and the hand-over returned all traffic to stable.
    const shares = world.weightsSeen.filter((w, i, all) => i === 0 || w !== all[i - 1]);
    for (const goal of goals(linear)) assert.ok(shares.includes(goal), `the canary held ${goal}%`);
    assert.deepEqual(world.weights, { stable: 100, canary: 0 });
    assert.equal(world.decks.stable.digest, 'new');
    assert.equal(world.decks.stable.replicas, 2);
    assert.equal(world.decks.canary.replicas, 0);
  });

  it('keeps a larger fleet within its surge at every look', () => {
    const world = liveWorld(5);
    const step = run(world, canary, 5, 2);
    assert.equal(step.settled?.outcome, 'deployed');
    assert.ok(world.podsSeen.length > 0);
    assert.equal(Math.max(...world.podsSeen) <= 7, true);
  });

  it('holds the canary share for the bake before shifting the rest', () => {
    const world = liveWorld(4);
    let reachedAt: number | undefined;
    let nextAt: number | undefined;
    const seen: number[] = [];
    run(world, canary, 4, 1, {
      onLook: () => {
        const share = world.weights?.canary ?? 0;
        if (share === 25 && reachedAt === undefined) reachedAt = world.now;
        if (share > 25 && share < 100 && nextAt === undefined) nextAt = world.now;
        seen.push(share);
      },
    });
    assert.ok(reachedAt !== undefined);
    assert.ok(nextAt !== undefined);
    assert.ok(nextAt - reachedAt >= 300_000, `baked ${(nextAt - reachedAt) / 1000} s`);
  });

  it('aborts on an alarm: the stable is scaled up before traffic moves back, then the canary goes', () => {
    const world = liveWorld(2);
    let stableAvailableWhenTrafficReturned: number | undefined;
    const step = run(world, linear, 2, 1, {
      onLook: () => {
        if ((world.weights?.canary ?? 0) >= 40) world.alarms = ['embeddings-5xx'];
        if (
          world.alarms.length > 0 &&
          world.weights?.canary === 0 &&
          stableAvailableWhenTrafficReturned === undefined
        ) {
          stableAvailableWhenTrafficReturned = world.decks.stable.available;
        }
      },
    });
    assert.equal(step.settled?.outcome, 'rolled-back');
    assert.match(step.settled?.reason ?? '', /embeddings-5xx went into ALARM/);
    assert.equal(stableAvailableWhenTrafficReturned, 2);
    assert.equal(world.decks.stable.digest, 'old');
    assert.equal(world.decks.canary.replicas, 0);
    assert.ok(world.podsSeen.length > 0);
    assert.equal(Math.max(...world.podsSeen), 3);
  });

  it('aborts when the canary pods never become available', () => {
    const world = liveWorld(2);
    world.notReady.add('new');
    const step = run(world, canary, 2, 1);
    assert.equal(step.settled?.outcome, 'rolled-back');
    assert.match(step.settled?.reason ?? '', /canary pods did not become available/);
    assert.deepEqual(world.weights, { stable: 100, canary: 0 });
  });

  it('aborts when the Gateway does not accept the route', () => {
    const world = liveWorld(2);
    world.routeAccepted = 'false';
    const step = run(world, canary, 2, 1);
    assert.equal(step.settled?.outcome, 'rolled-back');
    assert.match(step.settled?.reason ?? '', /did not accept the HTTPRoute/);
  });

  it('rolls allAtOnce back to the earlier template when the alarm fires during the bake', () => {
    const world = liveWorld(3);
    const step = run(world, allAtOnce, 3, 1, {
      onLook: () => {
        if (world.decks.stable.digest === 'new' && world.decks.stable.available === 3) world.alarms = ['a'];
      },
    });
    assert.equal(step.settled?.outcome, 'rolled-back');
    assert.equal(world.decks.stable.digest, 'old');
  });

  it('creates the first version on the stable track and fails, with nothing to go back to, if it never gets ready', () => {
    const ok = new World();
    assert.equal(run(ok, canary, 2, 1).settled?.outcome, 'deployed');
    assert.equal(ok.decks.stable.digest, 'new');
    const bad = new World();
    bad.notReady.add('new');
    const step = run(bad, canary, 2, 1);
    assert.equal(step.settled?.outcome, 'failed');
  });

  it('undoes an interrupted rollout before starting a new one', () => {
    const world = liveWorld(2);
    world.decks.canary = { digest: 'older-push', replicas: 1, pods: 1, available: 1 };
    world.weights = { stable: 60, canary: 40 };
    const step = run(world, canary, 2, 1);
    assert.equal(step.settled?.outcome, 'deployed');
    assert.equal(world.decks.stable.digest, 'new');
  });

  it('rounds shares up to whole pods', () => {
    assert.equal(podsFor(2, 20), 1);
    assert.equal(podsFor(2, 60), 2);
    assert.equal(podsFor(3, 0), 0);
    assert.deepEqual(goals(linear), [20, 40, 60, 80, 100]);
  });
});
