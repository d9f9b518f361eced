import type { AlarmStateReader } from '../../service.ts';
import type { EndpointRecord, Fleet, FleetVariant, SageMakerTimings, VariantStatusEntry } from './model.ts';

/**
 * The asynchronous half of the emulated SageMaker control plane: every endpoint operation is planned as
 * a list of timestamped phases when the API call arrives, and `advance()` walks an endpoint through the
 * phases that simulated time has passed, in order, however far the clock jumped. Alarm checks during a
 * bake are polled window by window, so a jump over a bake still sees an alarm that fired inside it and
 * rolls back at (about) the moment AWS would have.
 *
 * What the phases mirror (SageMaker developer guide, "Blue/Green Deployments" and its "All At Once",
 * "Canary" and "Linear Traffic Shifting" pages, and "Events that Amazon SageMaker AI sends to Amazon
 * EventBridge" for the variant statuses and their messages):
 *   provision  the green fleet is launched            VariantStatus Creating  "Launching N instance(s)."
 *   activate   traffic is turned on for a batch        ActivatingTraffic
 *   bake       the batch serves traffic while the AutoRollbackConfiguration alarms are watched  Baking
 *              (WaitIntervalInSeconds after a canary/linear step, TerminationWaitInSeconds after the
 *              green fleet is fully active)
 *   terminate  the blue fleet is terminated            Deleting (on the blue variants)
 * If an alarm trips during any baking period, or the green fleet cannot download its model data or fails
 * its health check, or
 * MaximumExecutionTimeoutInSeconds passes before the traffic shift is done, all traffic returns to the
 * blue fleet and the green fleet is torn down (rollback), and the endpoint ends `InService` on the old
 * EndpointConfigName.
 */

export type Phase =
  | { readonly kind: 'create'; readonly start: number; readonly end: number }
  | { readonly kind: 'provision'; readonly start: number; readonly end: number }
  | {
      readonly kind: 'activate';
      readonly start: number;
      readonly end: number;
      /** Share of the green fleet serving traffic once this activation is done (0..1]. */
      readonly fraction: number;
      readonly step: StepLabel;
    }
  | {
      readonly kind: 'bake';
      readonly start: number;
      readonly end: number;
      readonly fraction: number;
      readonly step: StepLabel;
      readonly seconds: number;
      readonly source: 'WaitIntervalInSeconds' | 'TerminationWaitInSeconds';
      /** Alarm polling progress: everything up to here has been checked. */
      checkedUntil: number;
      checkedOnce: boolean;
    }
  | { readonly kind: 'terminate'; readonly start: number; readonly end: number }
  | { readonly kind: 'rollback'; readonly start: number; readonly end: number; readonly failureReason?: string }
  | { readonly kind: 'weights'; readonly start: number; readonly end: number }
  | { readonly kind: 'delete'; readonly start: number; readonly end: number };

export type StepLabel = 'canary' | 'linear' | 'full';

export type TrafficRouting = 'ALL_AT_ONCE' | 'CANARY' | 'LINEAR';

export interface Operation {
  readonly type: 'create' | 'update' | 'weights' | 'delete';
  readonly startMs: number;
  phases: Phase[];
  index: number;
  /** UpdateEndpoint: the fleet being deployed and the config it comes from. */
  readonly green?: Fleet;
  /** Share of the green fleet that serves traffic right now (0 until the first activation completes). */
  greenFraction: number;
  /** The routing actually used (guardrail exclusions fall back to ALL_AT_ONCE without baking). */
  readonly routing?: TrafficRouting;
  readonly alarms: readonly string[];
  /** UpdateEndpoint with MaximumExecutionTimeoutInSeconds: when the traffic shift must be done by. */
  readonly deadlineMs?: number;
  /** Why the rollback happened, for the in-process view (`alarm:<name>`, `health-check`, `timeout`). */
  rollbackCause?: string;
}

export interface RolloutHooks {
  readonly alarms: AlarmStateReader;
  readonly timings: SageMakerTimings;
  /** A phase began (or an operation finished): emit events, bump LastModifiedTime. */
  phaseEntered(endpoint: EndpointRecord, phase: Phase): void;
  /** The endpoint's EndpointStatus changed (or, for a finished operation, was re-asserted). */
  statusChanged(endpoint: EndpointRecord, atMs: number): void;
  /** DeleteEndpoint finished: drop the record. */
  removed(endpoint: EndpointRecord): void;
  /**
   * Why a fleet that has just been provisioned cannot serve (its model data could not be downloaded, or
   * its containers fail the health check), or undefined when it can.
   */
  provisioningFailure(fleet: Fleet): ProvisioningFailure | undefined;
}

export interface ProvisioningFailure {
  /** The endpoint's FailureReason, in AWS's words. */
  readonly reason: string;
  /** For the in-process view: `model-data` or `health-check`. */
  readonly cause: 'model-data' | 'health-check';
}

/** The health-check failure SageMaker reports when a model's container never answers /ping. */
export function healthCheckFailure(variantName: string): string {
  return `The primary container for production variant ${variantName} did not pass the ping health check. Please check CloudWatch logs for this endpoint.`;
}

/**
 * The failure SageMaker reports when a fleet cannot download a container's model data, as AWS words it
 * for an object (quoted in aws-samples/cvat-on-aws-china#3 and
 * aws-solutions-library-samples/fraud-detection-using-machine-learning#9):
 *   Failed to download model data for container "container_1" from URL: "s3://…/model.tar.gz". Please
 *   ensure that there is an object located at the URL and that the role passed to CreateModel has
 *   permissions to download the object.
 * For an S3Prefix with no object under it the sandbox keeps that shape and says "objects under the
 * prefix" (AWS's wording for that case is not documented).
 */
export function modelDataFailure(container: string, uri: string, kind: 'object' | 'prefix'): string {
  const what =
    kind === 'object' ? 'there is an object located at the URL' : 'there are objects under the S3 prefix at the URL';
  return `Failed to download model data for container "${container}" from URL: "${uri}". Please ensure that ${what} and that the role passed to CreateModel has permissions to download the object.`;
}

export interface BlueGreenPlan {
  readonly routing: TrafficRouting;
  /** Canary size or linear step, as a share of the green fleet (0..1]. */
  readonly stepFraction: number;
  readonly waitIntervalSeconds: number;
  readonly terminationWaitSeconds: number;
  /** Guardrail exclusions: ALL_AT_ONCE and no final baking period at all. */
  readonly noBaking: boolean;
}

/** The timestamped phases of a blue/green UpdateEndpoint that starts at `startMs`. */
export function planBlueGreen(startMs: number, plan: BlueGreenPlan, timings: SageMakerTimings): Phase[] {
  const phases: Phase[] = [];
  let t = startMs;
  const push = (phase: Phase): void => {
    phases.push(phase);
    t = phase.end;
  };
  const activate = (fraction: number, step: StepLabel): void =>
    push({ kind: 'activate', start: t, end: t + timings.activateTrafficMs, fraction, step });
  const bake = (
    fraction: number,
    step: StepLabel,
    seconds: number,
    source: 'WaitIntervalInSeconds' | 'TerminationWaitInSeconds',
  ): void =>
    push({
      kind: 'bake',
      start: t,
      end: t + seconds * 1000,
      fraction,
      step,
      seconds,
      source,
      checkedUntil: t,
      checkedOnce: false,
    });

  push({ kind: 'provision', start: t, end: t + timings.provisionMs });
  if (plan.routing === 'CANARY') {
    activate(plan.stepFraction, 'canary');
    bake(plan.stepFraction, 'canary', plan.waitIntervalSeconds, 'WaitIntervalInSeconds');
  } else if (plan.routing === 'LINEAR') {
    // Each step activates another batch; the last batch completes the fleet and is followed by the
    // final bake (TerminationWaitInSeconds) rather than a step bake.
    let fraction = plan.stepFraction;
    while (fraction < 1 - 1e-9) {
      activate(fraction, 'linear');
      bake(fraction, 'linear', plan.waitIntervalSeconds, 'WaitIntervalInSeconds');
      fraction += plan.stepFraction;
    }
  }
  activate(1, 'full');
  if (!plan.noBaking) bake(1, 'full', plan.terminationWaitSeconds, 'TerminationWaitInSeconds');
  push({ kind: 'terminate', start: t, end: t + timings.terminateMs });
  return phases;
}

/** The VariantStatus entry a phase shows on the variants it concerns (green, or blue while terminating). */
export function variantStatusFor(phase: Phase, variant: FleetVariant): VariantStatusEntry[] {
  const count = variant.desiredInstanceCount;
  const active = (fraction: number): number => activeInstances(count, fraction);
  switch (phase.kind) {
    case 'create':
    case 'provision':
      return [{ Status: 'Creating', StatusMessage: `Launching ${count} instance(s).`, StartTimeMs: phase.start }];
    case 'activate':
      return [
        {
          Status: 'ActivatingTraffic',
          StatusMessage:
            phase.step === 'full'
              ? `Activating traffic on full capacity of ${count} instance(s).`
              : `Activating traffic on ${phase.step} capacity of ${active(phase.fraction)} instance(s).`,
          StartTimeMs: phase.start,
        },
      ];
    case 'bake':
      return [
        {
          Status: 'Baking',
          StatusMessage: `Baking for ${phase.seconds} seconds (${phase.source}) with traffic enabled on ${phase.step} capacity of ${active(phase.fraction)} instance(s).`,
          StartTimeMs: phase.start,
        },
      ];
    case 'terminate':
    case 'rollback':
    case 'delete':
      return [{ Status: 'Deleting', StatusMessage: `Terminating ${count} instance(s).`, StartTimeMs: phase.start }];
    case 'weights': {
      const current = variant.currentInstanceCount;
      if (count === current) return [];
      return [
        {
          Status: 'Updating',
          StatusMessage:
            count > current
              ? `Scaling out desired instance count to ${count}.`
              : `Scaling in desired instance count to ${count}.`,
          StartTimeMs: phase.start,
        },
      ];
    }
  }
}

/** One variant of one fleet and the share of the endpoint's requests it receives. */
export interface Share {
  /** `blue` is the fleet the endpoint ran before the update in progress, `green` the one being deployed. */
  readonly fleet: 'blue' | 'green';
  readonly configName: string;
  readonly variant: FleetVariant;
  /** Share of the endpoint's requests, 0–100 (unrounded). */
  readonly percent: number;
}

/**
 * How an endpoint's requests split right now: between the blue and the green fleet by how much of the
 * green fleet serves (the canary or linear step reached, all of it after the full shift, none again
 * after a rollback), and within a fleet by the variants' weights ("The traffic to a production variant
 * is determined by the ratio of the variant weight to the sum of all variant weights", API reference,
 * ProductionVariant.InitialVariantWeight).
 */
export function trafficShares(endpoint: EndpointRecord): Share[] {
  // Plain loops, no closures: the data plane calls this for every second of simulated traffic.
  const shares: Share[] = [];
  const op = endpoint.operation;
  if (endpoint.live && endpoint.status !== 'Failed') {
    const greenPercent = op?.type === 'update' ? op.greenFraction * 100 : 0;
    addShares(shares, endpoint.live, 'blue', 100 - greenPercent);
    if (op?.type === 'update' && op.green && greenPercent > 0) addShares(shares, op.green, 'green', greenPercent);
  }
  return shares;
}

function addShares(shares: Share[], fleet: Fleet, which: 'blue' | 'green', fleetPercent: number): void {
  let total = 0;
  for (const v of fleet.variants) total += v.desiredWeight;
  for (const v of fleet.variants) {
    const percent = total > 0 ? (fleetPercent * v.desiredWeight) / total : fleetPercent / fleet.variants.length;
    shares.push({ fleet: which, configName: fleet.configName, variant: v, percent });
  }
}

/** Instances of a fleet of `count` that serve traffic when `fraction` of it is active (at least one). */
export function activeInstances(count: number, fraction: number): number {
  if (fraction <= 0 || count <= 0) return 0;
  if (fraction >= 1) return count;
  return Math.max(1, Math.min(count, Math.round(count * fraction)));
}

/**
 * Moves one endpoint through every phase that ended at or before `nowMs`, in order: alarm polls, the
 * execution timeout, then the phase's own completion.
 */
export function advance(endpoint: EndpointRecord, nowMs: number, hooks: RolloutHooks): void {
  for (let guard = 0; guard < 100_000; guard += 1) {
    const op = endpoint.operation;
    if (!op) return;
    const phase = op.phases[op.index];
    if (!phase) {
      endpoint.operation = undefined;
      return;
    }
    if (phase.kind === 'bake' && op.alarms.length > 0) {
      const tripped = pollAlarms(phase, op, nowMs, hooks);
      if (tripped) {
        startRollback(endpoint, op, tripped.at, undefined, `alarm:${tripped.alarm}`, hooks);
        continue;
      }
    }
    const shifting = phase.kind === 'provision' || phase.kind === 'activate' || phase.kind === 'bake';
    if (op.deadlineMs !== undefined && shifting && op.deadlineMs < phase.end && op.deadlineMs <= nowMs) {
      // Unconfirmed wording: AWS documents the timeout but not the FailureReason it leaves.
      startRollback(
        endpoint,
        op,
        op.deadlineMs,
        'The deployment exceeded MaximumExecutionTimeoutInSeconds and was rolled back.',
        'timeout',
        hooks,
      );
      continue;
    }
    if (phase.end > nowMs) return;
    completePhase(endpoint, op, phase, hooks);
  }
}

function pollAlarms(
  phase: Extract<Phase, { kind: 'bake' }>,
  op: Operation,
  nowMs: number,
  hooks: RolloutHooks,
): { at: number; alarm: string } | undefined {
  const poll = Math.max(1, hooks.timings.alarmPollMs);
  while (!(phase.checkedOnce && phase.checkedUntil >= phase.end)) {
    const from = phase.checkedUntil;
    const to = Math.min(from + poll, phase.end);
    if (to > nowMs) return undefined;
    if (op.deadlineMs !== undefined && to > op.deadlineMs) return undefined;
    phase.checkedOnce = true;
    phase.checkedUntil = to;
    // "If any of the pre-specified alarms trip during any baking period, then all endpoint traffic
    // rolls back to the blue fleet." (Blue/Green Deployments). A zero-length bake is checked at its instant.
    const alarm = op.alarms.find((name) => hooks.alarms.wasInAlarm(name, from, to));
    if (alarm !== undefined) return { at: to, alarm };
  }
  return undefined;
}

function completePhase(endpoint: EndpointRecord, op: Operation, phase: Phase, hooks: RolloutHooks): void {
  const at = phase.end;
  switch (phase.kind) {
    case 'create': {
      const failure = op.green ? hooks.provisioningFailure(op.green) : undefined;
      endpoint.operation = undefined;
      if (failure) {
        endpoint.status = 'Failed';
        endpoint.failureReason = failure.reason;
      } else if (op.green) {
        for (const v of op.green.variants) {
          v.currentWeight = v.desiredWeight;
          v.currentInstanceCount = v.desiredInstanceCount;
        }
        endpoint.live = op.green;
        endpoint.status = 'InService';
      }
      endpoint.lastModifiedMs = at;
      hooks.statusChanged(endpoint, at);
      return;
    }
    case 'provision': {
      const failure = op.green ? hooks.provisioningFailure(op.green) : undefined;
      if (failure) {
        startRollback(endpoint, op, at, failure.reason, failure.cause, hooks);
        return;
      }
      break;
    }
    case 'activate':
      op.greenFraction = phase.fraction;
      for (const v of op.green?.variants ?? []) {
        v.currentWeight = v.desiredWeight;
        v.currentInstanceCount = activeInstances(v.desiredInstanceCount, phase.fraction);
      }
      break;
    case 'terminate': {
      // The blue fleet is gone; the green fleet is the endpoint now.
      endpoint.operation = undefined;
      if (op.green) {
        for (const v of op.green.variants) {
          v.currentWeight = v.desiredWeight;
          v.currentInstanceCount = v.desiredInstanceCount;
        }
        endpoint.live = op.green;
        endpoint.configName = op.green.configName;
      }
      endpoint.status = 'InService';
      endpoint.lastModifiedMs = at;
      hooks.statusChanged(endpoint, at);
      return;
    }
    case 'rollback': {
      // Back on the old fleet and the old EndpointConfigName, InService. SageMaker keeps FailureReason
      // for a failed update (health check) but an alarm rollback leaves none: see sagemaker.ts.
      endpoint.operation = undefined;
      endpoint.status = 'InService';
      if (phase.failureReason !== undefined) endpoint.failureReason = phase.failureReason;
      endpoint.lastModifiedMs = at;
      hooks.statusChanged(endpoint, at);
      return;
    }
    case 'weights': {
      endpoint.operation = undefined;
      for (const v of endpoint.live?.variants ?? []) {
        v.currentWeight = v.desiredWeight;
        v.currentInstanceCount = v.desiredInstanceCount;
      }
      endpoint.status = 'InService';
      endpoint.lastModifiedMs = at;
      hooks.statusChanged(endpoint, at);
      return;
    }
    case 'delete':
      endpoint.operation = undefined;
      hooks.removed(endpoint);
      return;
    case 'bake':
      break;
  }
  op.index += 1;
  const next = op.phases[op.index];
  if (next) hooks.phaseEntered(endpoint, next);
  else endpoint.operation = undefined;
}

function startRollback(
  endpoint: EndpointRecord,
  op: Operation,
  at: number,
  failureReason: string | undefined,
  cause: string,
  hooks: RolloutHooks,
): void {
  // All traffic returns to the blue fleet at once; the green fleet is then terminated.
  op.greenFraction = 0;
  op.rollbackCause = cause;
  for (const v of op.green?.variants ?? []) v.currentWeight = 0;
  const rollback: Phase = {
    kind: 'rollback',
    start: at,
    end: at + hooks.timings.rollbackMs,
    ...(failureReason !== undefined ? { failureReason } : {}),
  };
  op.phases = [...op.phases.slice(0, op.index + 1), rollback];
  op.index += 1;
  hooks.phaseEntered(endpoint, rollback);
}
