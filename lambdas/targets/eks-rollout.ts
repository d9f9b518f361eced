/**
 * An EKS rollout, decided step by step from what the cluster says: pure, so every path (a canary
 * step, a capacity-bound sub-step, an abort, a route the Gateway does not accept) is testable
 * without a cluster. The deploy workflow's CheckRollout reads the Deployments, the HTTPRoute and
 * the Endpoint's alarms, asks {@link decideEksStep} what to do, applies it and sleeps for the time
 * it names; nothing here remembers anything the cluster and {@link EksProgress} do not say, so a
 * retried or repeated check decides the same thing again (the applies are idempotent).
 *
 * Capacity: a GPU fleet cannot be doubled for a rollout. The track that gains traffic grows only
 * while the two tracks together stay within `replicas + maxSurge` pods (counting pods that still
 * exist, not only the ones asked for); traffic follows the pods that are *available*; the track
 * that lost traffic then shrinks to what its remaining share needs. With ceil() on both sides the
 * two shares of any split never need more than `replicas + 1` pods, so maxSurge 1 always suffices.
 *
 * Abort (an alarm, pods that do not become available, a route the Gateway does not accept, the
 * rollout's timeout): the stable track is brought back to the earlier version and scaled up, and
 * traffic moves back only onto stable pods that are available, never before (moving first sends
 * traffic to pods that are not there); then the canary goes to zero.
 *
 * References: Kubernetes documentation, "Deployments" (status fields; a Deployment is complete
 * when updatedReplicas = replicas = availableReplicas and observedGeneration >= generation;
 * Progressing False with reason ProgressDeadlineExceeded); Gateway API, "HTTPRoute" and
 * "RouteParentStatus" (conditions Accepted and ResolvedRefs per parentRef, observedGeneration).
 */
import type { Rollout as RolloutSpec } from '../spec/schema.ts';
import { ANNOTATIONS, type EksNames, type KubeObject, type Track, type Weights } from './eks.ts';

/** What Ballast reads of a track's Deployment. */
export interface DeploymentReading {
  readonly exists: boolean;
  /** The version the Deployment runs (its `ballast.dev/digest` annotation). */
  readonly digest?: string;
  /** spec.replicas (Kubernetes defaults it to 1); 0 when the Deployment does not exist. */
  readonly replicas: number;
  /** status.replicas: the pods that exist for it, old and new (they hold GPUs). */
  readonly pods: number;
  readonly available: number;
  /** The controller has seen the latest spec and every pod runs it and is available. */
  readonly complete: boolean;
  /** Set when Kubernetes gave up on the rollout (ProgressDeadlineExceeded), with its message. */
  readonly stalled?: string;
}

export interface RouteReading {
  readonly exists: boolean;
  readonly weights?: Weights;
  /**
   * The parent Gateway's verdict on the route's current generation: `true` when Accepted and
   * ResolvedRefs are True, `false` when either is False (with `reason`), `pending` when the
   * controller has not written status for this generation yet.
   */
  readonly accepted: 'true' | 'false' | 'pending';
  readonly reason?: string;
}

export interface EksObserved {
  readonly stable: DeploymentReading;
  readonly canary: DeploymentReading;
  readonly route: RouteReading;
  /** The Endpoint's alarms that are in ALARM now. */
  readonly alarmsInAlarm: readonly string[];
}

/**
 * `reset`: a rollout that another one interrupted left traffic on the canary; it goes back to the
 * stable track (as an abort would) before this rollout starts.
 */
export type EksPhase = 'create' | 'rolling' | 'shift' | 'bake' | 'promote' | 'abort' | 'reset';
export const EKS_PHASES: readonly EksPhase[] = ['create', 'rolling', 'shift', 'bake', 'promote', 'abort', 'reset'];

export interface EksProgress {
  /** `create`: the first version (nothing to go back to); `rolling`: allAtOnce; `shift`: canary or linear. */
  readonly mode: 'create' | 'rolling' | 'shift';
  readonly phase: EksPhase;
  readonly replicas: number;
  readonly maxSurge: number;
  /** Share of traffic (percent) the new version should have at the end of the current step. */
  readonly goal: number;
  /** When the current goal was reached: the bake or interval runs from here. */
  readonly reachedAt?: string;
  readonly digest: string;
  /** The version the stable track ran before: what an abort puts back. */
  readonly previousDigest?: string;
  /** An HPA owns the stable's replicas: Ballast never scales it (and cannot bound the surge). */
  readonly autoscaled: boolean;
  readonly abortReason?: string;
}

export type EksAction =
  | {
      readonly kind: 'deployment';
      readonly track: Track;
      readonly digest: string;
      readonly replicas: number | undefined;
    }
  | { readonly kind: 'route'; readonly weights: Weights };

export interface EksStep {
  readonly actions: readonly EksAction[];
  readonly progress: EksProgress;
  /** Seconds until the next look. */
  readonly waitSeconds: number;
  readonly settled?: { readonly outcome: 'deployed' | 'rolled-back' | 'failed'; readonly reason?: string };
  /** What the step is doing, for the log and `ballast status`. */
  readonly note: string;
}

/** Pods take tens of seconds to minutes to become ready (image pull, model load): look every 20 s. */
export const POD_POLL_SECONDS = 20;
/** Gateway controllers answer a route change in seconds. */
export const ROUTE_POLL_SECONDS = 5;
/** An abort gets this long beyond the rollout's timeout before it is declared failed. */
export const ABORT_BUDGET_SECONDS = 1800;

/** The shares of traffic, in percent, a strategy steps through (the last is always 100). */
export function goals(rollout: RolloutSpec): number[] {
  switch (rollout.strategy) {
    case 'allAtOnce':
      return [100];
    case 'canary':
      return [rollout.canary.percent, 100];
    case 'linear': {
      const out: number[] = [];
      for (let share = rollout.linear.stepPercent; share < 100; share += rollout.linear.stepPercent) out.push(share);
      out.push(100);
      return out;
    }
  }
}

/** How long the new version holds `goal` before the next step: a linear interval, else the bake. */
export function holdSeconds(rollout: RolloutSpec, goal: number): number {
  if (goal < 100 && rollout.strategy === 'linear') return rollout.linear.intervalSeconds;
  return rollout.bakeSeconds;
}

/** Pods a share of traffic needs: rounded up, so a share is never served by fewer pods than it needs. */
export function podsFor(replicas: number, share: number): number {
  return Math.ceil((replicas * share) / 100);
}

/** The start of a rollout, as Deploy applies it. */
export function startProgress(input: {
  readonly rollout: RolloutSpec;
  readonly replicas: number;
  readonly maxSurge: number;
  readonly digest: string;
  readonly stable: DeploymentReading;
  readonly autoscaled: boolean;
  /** Traffic the route sends to the canary track now (an interrupted rollout's). */
  readonly canaryShare: number;
}): { readonly progress: EksProgress; readonly actions: readonly EksAction[] } {
  const { rollout, digest, stable } = input;
  const replicas = input.autoscaled && stable.exists ? stable.replicas : input.replicas;
  const common = { replicas, maxSurge: input.maxSurge, digest, autoscaled: input.autoscaled };
  if (!stable.exists || stable.digest === undefined) {
    return {
      progress: { ...common, mode: 'create', phase: 'create', goal: 100 },
      actions: [
        { kind: 'deployment', track: 'stable', digest, replicas: input.autoscaled ? undefined : replicas },
        { kind: 'route', weights: { stable: 100, canary: 0 } },
      ],
    };
  }
  const previous = { previousDigest: stable.digest };
  if (input.canaryShare > 0) {
    const mode = rollout.strategy === 'allAtOnce' ? 'rolling' : 'shift';
    const first = goals(rollout)[0] ?? 100;
    return { progress: { ...common, ...previous, mode, phase: 'reset', goal: first }, actions: [] };
  }
  if (rollout.strategy === 'allAtOnce') {
    return {
      progress: {
        ...common,
        ...previous,
        mode: 'rolling',
        phase: 'rolling',
        goal: 100,
      },
      actions: [
        { kind: 'deployment', track: 'stable', digest, replicas: input.autoscaled ? undefined : replicas },
        { kind: 'route', weights: { stable: 100, canary: 0 } },
      ],
    };
  }
  const first = goals(rollout)[0] ?? 100;
  return {
    progress: { ...common, ...previous, mode: 'shift', phase: 'shift', goal: first },
    // The canary starts empty, on the new version; the route is Ballast's from here on.
    actions: [
      { kind: 'deployment', track: 'canary', digest, replicas: 0 },
      { kind: 'route', weights: { stable: 100, canary: 0 } },
    ],
  };
}

interface Clock {
  readonly now: string;
  /** When the rollout started. */
  readonly startedAt: string;
}

const seconds = (from: string, to: string) => (Date.parse(to) - Date.parse(from)) / 1000;

/** The next step of a rollout. */
export function decideEksStep(
  progress: EksProgress,
  observed: EksObserved,
  rollout: RolloutSpec,
  clock: Clock,
): EksStep {
  const elapsed = seconds(clock.startedAt, clock.now);
  if (progress.phase === 'abort') return abortStep(progress, observed, elapsed, rollout);

  const abort = (reason: string): EksStep => {
    if (progress.mode === 'create' || progress.previousDigest === undefined) {
      return settle(progress, 'failed', reason, []);
    }
    return abortStep({ ...progress, phase: 'abort', abortReason: reason }, observed, elapsed, rollout);
  };

  if (elapsed > rollout.timeoutSeconds) {
    return abort(`the rollout did not finish in ${rollout.timeoutSeconds} s (timeoutSeconds)`);
  }
  if (progress.mode !== 'create' && observed.alarmsInAlarm.length > 0) {
    return abort(`${observed.alarmsInAlarm.join(', ')} went into ALARM during the rollout`);
  }
  if (observed.route.accepted === 'false') {
    return abort(`the Gateway did not accept the HTTPRoute: ${observed.route.reason ?? 'no reason given'}`);
  }

  switch (progress.phase) {
    case 'reset': {
      const back = observed.stable.digest ?? progress.previousDigest ?? progress.digest;
      const moved = advance(progress, observed, 'stable', back, 100);
      if (moved.kind === 'abort')
        return settle(progress, 'failed', `an interrupted rollout could not be undone: ${moved.reason}`, []);
      if (moved.kind === 'step') return { ...moved.step, note: `undoing an interrupted rollout: ${moved.step.note}` };
      const { digest } = progress;
      const replicas = stableReplicas(progress, progress.replicas);
      return progress.mode === 'rolling'
        ? act(
            { ...progress, phase: 'rolling' },
            [{ kind: 'deployment', track: 'stable', digest, replicas }],
            POD_POLL_SECONDS,
            'rolling update of the stable track',
          )
        : act(
            { ...progress, phase: 'shift' },
            [{ kind: 'deployment', track: 'canary', digest, replicas: 0 }],
            POD_POLL_SECONDS,
            'the canary track takes the new version',
          );
    }
    case 'create':
    case 'rolling': {
      const stable = observed.stable;
      if (stable.stalled) return abort(`the stable pods did not become available: ${stable.stalled}`);
      if (stable.digest !== progress.digest || !stable.complete) {
        return wait(
          progress,
          POD_POLL_SECONDS,
          `waiting for ${stable.available}/${stable.replicas} pods of the new version`,
        );
      }
      if (observed.route.accepted !== 'true')
        return wait(progress, ROUTE_POLL_SECONDS, 'waiting for the Gateway to accept the route');
      if (progress.mode === 'create') return settle(progress, 'deployed', undefined, scaleCanaryToZero(observed));
      return bake({ ...progress, phase: 'bake', reachedAt: clock.now }, observed, rollout, clock);
    }
    case 'shift': {
      const moved = advance(progress, observed, 'canary', progress.digest, progress.goal);
      if (moved.kind === 'abort') return abort(moved.reason);
      if (moved.kind === 'step') return moved.step;
      return bake({ ...progress, phase: 'bake', reachedAt: progress.reachedAt ?? clock.now }, observed, rollout, clock);
    }
    case 'bake':
      return bake(progress, observed, rollout, clock);
    case 'promote': {
      // The canary carries all traffic; the stable track takes the new version and the traffic
      // back, within the same capacity rules (both run the same version now).
      if (observed.stable.digest !== progress.digest) {
        return act(
          progress,
          [
            {
              kind: 'deployment',
              track: 'stable',
              digest: progress.digest,
              replicas: stableReplicas(progress, observed.stable.replicas),
            },
          ],
          POD_POLL_SECONDS,
          'the stable track takes the new version',
        );
      }
      const moved = advance(progress, observed, 'stable', progress.digest, 100);
      if (moved.kind === 'abort') return abort(moved.reason);
      if (moved.kind === 'step') return moved.step;
      return settle(progress, 'deployed', undefined, scaleCanaryToZero(observed));
    }
  }
}

/** Hold the reached share for its bake or interval, then the next step (or the hand-over). */
function bake(progress: EksProgress, observed: EksObserved, rollout: RolloutSpec, clock: Clock): EksStep {
  const hold = holdSeconds(rollout, progress.goal);
  const held = seconds(progress.reachedAt ?? clock.now, clock.now);
  if (held < hold) {
    return wait(
      progress,
      Math.max(1, Math.ceil(hold - held)),
      `holding ${progress.goal}% on the new version for ${hold} s`,
    );
  }
  if (progress.goal < 100) {
    const next = goals(rollout).find((share) => share > progress.goal) ?? 100;
    const { reachedAt: _reached, ...rest } = progress;
    return decideEksStep({ ...rest, phase: 'shift', goal: next }, observed, rollout, clock);
  }
  if (progress.mode === 'rolling') return settle(progress, 'deployed', undefined, scaleCanaryToZero(observed));
  return decideEksStep({ ...progress, phase: 'promote' }, observed, rollout, clock);
}

function abortStep(progress: EksProgress, observed: EksObserved, elapsed: number, rollout: RolloutSpec): EksStep {
  const reason = progress.abortReason ?? 'aborted';
  const previous = progress.previousDigest;
  if (previous === undefined) return settle(progress, 'failed', reason, []);
  if (elapsed > rollout.timeoutSeconds + ABORT_BUDGET_SECONDS) {
    return settle(progress, 'failed', `${reason}; the earlier version did not come back in time`, []);
  }
  if (observed.stable.digest !== previous) {
    return act(
      progress,
      [
        {
          kind: 'deployment',
          track: 'stable',
          digest: previous,
          replicas: stableReplicas(progress, observed.stable.replicas),
        },
      ],
      POD_POLL_SECONDS,
      `aborting (${reason}): the stable track goes back to the earlier version`,
    );
  }
  const moved = advance(progress, observed, 'stable', previous, 100);
  if (moved.kind === 'abort') {
    return settle(progress, 'failed', `${reason}; then the earlier version failed too: ${moved.reason}`, []);
  }
  if (moved.kind === 'step') return { ...moved.step, note: `aborting (${reason}): ${moved.step.note}` };
  return settle(progress, 'rolled-back', reason, scaleCanaryToZero(observed));
}

type Advance = { kind: 'reached' } | { kind: 'step'; step: EksStep } | { kind: 'abort'; reason: string };

/**
 * Moves traffic onto `to` until it has `goal` percent, one action per look: grow `to` within the
 * surge, wait until its pods are available, give it the share its available pods can serve, wait
 * for the Gateway, shrink the other track to what its share still needs, wait until its pods are
 * gone (they hold GPUs), repeat.
 */
function advance(progress: EksProgress, observed: EksObserved, to: Track, digest: string, goal: number): Advance {
  const from: Track = to === 'canary' ? 'stable' : 'canary';
  const gaining = observed[to];
  const losing = observed[from];
  const { replicas } = progress;
  const share = observed.route.weights?.[to] ?? 0;
  const need = podsFor(replicas, goal);
  const bounded = !(progress.autoscaled && from === 'stable');
  const budget = replicas + progress.maxSurge - Math.max(losing.replicas, losing.pods);
  const grow = bounded ? Math.min(need, budget) : need;
  if (gaining.digest !== digest) return { kind: 'abort', reason: `the ${to} track does not run the expected version` };
  if (grow > gaining.replicas) {
    const actions: EksAction[] = [
      { kind: 'deployment', track: to, digest, replicas: to === 'stable' ? stableReplicas(progress, grow) : grow },
    ];
    return {
      kind: 'step',
      step: act(progress, actions, POD_POLL_SECONDS, `scaling the ${to} track to ${grow} pod${grow === 1 ? '' : 's'}`),
    };
  }
  if (gaining.stalled) return { kind: 'abort', reason: `the ${to} pods did not become available: ${gaining.stalled}` };
  if (!gaining.complete) {
    return {
      kind: 'step',
      step: wait(progress, POD_POLL_SECONDS, `waiting for ${gaining.available}/${gaining.replicas} ${to} pods`),
    };
  }
  const serves = replicas === 0 ? goal : Math.min(goal, Math.floor((100 * gaining.available) / replicas));
  if (serves > share) {
    const weights =
      to === 'canary' ? { stable: 100 - serves, canary: serves } : { stable: serves, canary: 100 - serves };
    return {
      kind: 'step',
      step: act(progress, [{ kind: 'route', weights }], ROUTE_POLL_SECONDS, `${serves}% of traffic to the ${to} track`),
    };
  }
  // Going back (abort, reset), a route the Gateway refuses does not hold the way back up: there
  // is nothing better to wait for. Going forward it aborts before this (decideEksStep).
  if (observed.route.accepted === 'pending' || (observed.route.accepted === 'false' && to === 'canary')) {
    return {
      kind: 'step',
      step: wait(progress, ROUTE_POLL_SECONDS, 'waiting for the Gateway to accept the new weights'),
    };
  }
  const keep = podsFor(replicas, 100 - share);
  const shrinkable = !(progress.autoscaled && from === 'stable');
  if (shrinkable && losing.replicas > keep) {
    return {
      kind: 'step',
      step: act(
        progress,
        [{ kind: 'deployment', track: from, digest: losing.digest ?? digest, replicas: keep }],
        POD_POLL_SECONDS,
        `scaling the ${from} track down to ${keep} pod${keep === 1 ? '' : 's'}`,
      ),
    };
  }
  if (share >= goal) return { kind: 'reached' };
  if (losing.pods > losing.replicas) {
    return {
      kind: 'step',
      step: wait(progress, POD_POLL_SECONDS, `waiting for the ${from} pods to go (they hold GPUs)`),
    };
  }
  return {
    kind: 'abort',
    reason: `no capacity to move past ${share}% (replicas ${replicas}, maxSurge ${progress.maxSurge})`,
  };
}

/** The stable track's replicas to apply: none when an HPA owns them. */
function stableReplicas(progress: EksProgress, replicas: number): number | undefined {
  return progress.autoscaled ? undefined : replicas;
}

function scaleCanaryToZero(observed: EksObserved): EksAction[] {
  const canary = observed.canary;
  if (!canary.exists || canary.replicas === 0 || canary.digest === undefined) return [];
  return [{ kind: 'deployment', track: 'canary', digest: canary.digest, replicas: 0 }];
}

function act(progress: EksProgress, actions: EksAction[], waitSeconds: number, note: string): EksStep {
  return { actions, progress, waitSeconds, note };
}

function wait(progress: EksProgress, waitSeconds: number, note: string): EksStep {
  return { actions: [], progress, waitSeconds, note };
}

function settle(
  progress: EksProgress,
  outcome: 'deployed' | 'rolled-back' | 'failed',
  reason: string | undefined,
  actions: EksAction[],
): EksStep {
  return {
    actions,
    progress,
    waitSeconds: 0,
    settled: { outcome, ...(reason ? { reason } : {}) },
    note: outcome === 'deployed' ? 'the new version is live' : `${outcome}${reason ? `: ${reason}` : ''}`,
  };
}

/** Traffic on the new version, for narration. */
export function trafficToNew(progress: EksProgress, observed: EksObserved): number {
  const weights = observed.route.weights;
  if (!weights) return 0;
  if (observed.canary.digest === progress.digest && observed.stable.digest !== progress.digest) return weights.canary;
  if (observed.stable.digest === progress.digest && observed.canary.digest !== progress.digest) return weights.stable;
  if (observed.stable.digest === progress.digest) return 100;
  return 0;
}

// ---------------------------------------------------------------------------------------------
// Readings: what the objects' status says, in the terms the decision uses.

interface Condition {
  readonly type?: string;
  readonly status?: string;
  readonly reason?: string;
  readonly message?: string;
  readonly observedGeneration?: number;
}

const numberOr = (value: unknown, fallback: number) => (typeof value === 'number' ? value : fallback);

/**
 * A Deployment's progress, from its status. Complete as `kubectl rollout status` judges it: the
 * controller has observed the latest generation, and updatedReplicas, availableReplicas and
 * replicas all equal spec.replicas (old pods gone). Stalled: Progressing is False with
 * ProgressDeadlineExceeded for the generation observed.
 */
export function readDeployment(object: KubeObject | undefined): DeploymentReading {
  if (!object) return { exists: false, replicas: 0, pods: 0, available: 0, complete: false };
  const status = object.status ?? {};
  // spec.replicas defaults to 1 (DeploymentSpec).
  const replicas = numberOr(object.spec?.replicas, 1);
  const seen = numberOr(status.observedGeneration, 0) >= numberOr(object.metadata.generation, 0);
  const pods = numberOr(status.replicas, 0);
  const available = numberOr(status.availableReplicas, 0);
  const updated = numberOr(status.updatedReplicas, 0);
  const complete = seen && updated === replicas && available >= replicas && pods === replicas;
  const progressing = ((status.conditions ?? []) as Condition[]).find((c) => c.type === 'Progressing');
  const stalled =
    seen && progressing?.status === 'False' && progressing.reason === 'ProgressDeadlineExceeded'
      ? (progressing.message ?? 'ProgressDeadlineExceeded')
      : undefined;
  const digest = object.metadata.annotations?.[ANNOTATIONS.digest];
  return {
    exists: true,
    ...(digest ? { digest } : {}),
    replicas,
    pods,
    available,
    complete,
    ...(stalled ? { stalled } : {}),
  };
}

/**
 * The route's split and its parent's verdict. Gateway API: each parent (Gateway) the route
 * attaches to reports conditions in `status.parents[]`, each with the observedGeneration it
 * judged; a verdict on an older generation is not a verdict on the weights just applied.
 * Without a declared gateway every parent must accept the route.
 */
export function readRoute(
  object: KubeObject | undefined,
  names: EksNames,
  gateway: { readonly name: string; readonly namespace: string } | undefined,
): RouteReading {
  if (!object) return { exists: false, accepted: 'pending' };
  const refs = (object.spec?.rules?.[0]?.backendRefs ?? []) as Array<{ name?: string; weight?: number }>;
  const weightOf = (service: string) => {
    const ref = refs.find((r) => r.name === service);
    // HTTPBackendRef.weight defaults to 1.
    return ref ? numberOr(ref.weight, 1) : 0;
  };
  const stable = weightOf(names.services.stable);
  const canary = weightOf(names.services.canary);
  const total = stable + canary;
  const weights =
    total > 0
      ? { stable: Math.round((100 * stable) / total), canary: 100 - Math.round((100 * stable) / total) }
      : undefined;
  const generation = numberOr(object.metadata.generation, 0);
  const routeNamespace = object.metadata.namespace ?? names.route.namespace;
  type Parent = { parentRef?: { name?: string; namespace?: string }; conditions?: Condition[] };
  const parents = ((object.status?.parents ?? []) as Parent[]).filter(
    (parent) =>
      !gateway ||
      (parent.parentRef?.name === gateway.name &&
        (parent.parentRef?.namespace ?? routeNamespace) === gateway.namespace),
  );
  const base = { exists: true, ...(weights ? { weights } : {}) };
  if (parents.length === 0) return { ...base, accepted: 'pending' };
  for (const parent of parents) {
    for (const type of ['Accepted', 'ResolvedRefs']) {
      const condition = (parent.conditions ?? []).find((c) => c.type === type);
      if (!condition || numberOr(condition.observedGeneration, generation) < generation) {
        return { ...base, accepted: 'pending' };
      }
      if (condition.status === 'False') {
        const reason = `${type} is False for Gateway ${parent.parentRef?.namespace ?? routeNamespace}/${parent.parentRef?.name ?? '?'} (${condition.reason ?? 'no reason'}${condition.message ? `: ${condition.message}` : ''})`;
        return { ...base, accepted: 'false', reason };
      }
      if (condition.status !== 'True') return { ...base, accepted: 'pending' };
    }
  }
  return { ...base, accepted: 'true' };
}
