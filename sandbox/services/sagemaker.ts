import { createHash } from 'node:crypto';
import { awsJsonService } from '../protocols/aws-json.ts';
import type {
  AlarmStateReader,
  AwsServiceError,
  BackgroundLoad,
  BackgroundLoadControl,
  MetricSink,
  ModelDataReader,
  SandboxService,
  ServiceContext,
} from '../service.ts';
import { behaviourOf, checkBehaviour } from './sagemaker/behaviour.ts';
import { InvocationEngine } from './sagemaker/invocations.ts';
import {
  arnOf,
  DEFAULT_TIMINGS,
  type DeployedImage,
  type EndpointConfigRecord,
  type EndpointRecord,
  type EndpointStatus,
  epochSeconds,
  FAIL_ENV,
  type Fleet,
  type FleetVariant,
  type Json,
  type ModelDataLocation,
  type ModelRecord,
  type ResourceKind,
  type SageMakerTimings,
  type Tag,
  type VariantConfig,
  type VariantStatusEntry,
} from './sagemaker/model.ts';
import {
  advance,
  healthCheckFailure,
  modelDataFailure,
  type Operation,
  type Phase,
  planBlueGreen,
  type RolloutHooks,
  type TrafficRouting,
  trafficShares,
  variantStatusFor,
} from './sagemaker/rollout.ts';
import { createSageMakerRuntimeService } from './sagemaker/runtime.ts';
import {
  checkModelData,
  decodeToken,
  ENDPOINT_STATUSES,
  encodeToken,
  invalid,
  Validator,
  validateContainer,
  validateDeploymentConfig,
  validateModelName,
  validateName,
  validateNameContains,
  validateResourceArn,
  validateRoleArn,
  validateTagKeys,
  validateTags,
} from './sagemaker/validation.ts';

export {
  DEFAULT_LATENCY_MS,
  ERROR_RATE_ENV,
  ERRORS_ABOVE_RPM_ENV,
  LATENCY_ENV,
} from './sagemaker/behaviour.ts';
export { DEFAULT_TIMINGS, FAIL_ENV, type SageMakerTimings } from './sagemaker/model.ts';

/**
 * The Ballast sandbox's SageMaker: the model / endpoint-config / endpoint control plane over awsJson 1.1
 * (`X-Amz-Target: SageMaker.<Operation>`), with endpoint status transitions and blue/green rollouts
 * (ALL_AT_ONCE, CANARY, LINEAR, baking periods, alarm-driven auto-rollback) driven by simulated time.
 *
 * Making a model fail: put `SANDBOX_FAIL=startup` in a container's `Environment`. A fleet running
 * that model never passes its health check: CreateEndpoint ends `Failed`, UpdateEndpoint rolls back to
 * the old fleet (InService, old EndpointConfigName, FailureReason set).
 *
 * Making a model fail requests (sagemaker/behaviour.ts; checked by CreateModel, a malformed value is a
 * ValidationException): `SANDBOX_ERROR_RATE` (0 to 1, the share of requests answered with a 500, which
 * the caller sees as a ModelError), `SANDBOX_LATENCY_MS` (the model's latency, default 20) and
 * `SANDBOX_ERRORS_ABOVE_RPM` (errors only while the fleet's variant receives more than N requests a
 * minute: it passes a canary on part of the traffic and fails after the full shift).
 *
 * Requests: SageMaker Runtime's InvokeEndpoint (`runtime`, REST-JSON on the same `sagemaker` signing
 * name) and a background load per endpoint (`setLoad`: synthetic requests at a steady rate) go to the
 * live fleet(s) by the traffic the rollout has shifted, and SageMaker's per-variant invocation metrics
 * (`AWS/SageMaker`, EndpointName and VariantName) reach CloudWatch minute by minute of simulated time,
 * where alarms evaluate them: a bad model trips its alarms, and an alarm in an AutoRollbackConfiguration
 * rolls the update back, without anyone setting an alarm's state (sagemaker/invocations.ts).
 *
 * Model data: CreateModel validates ModelDataUrl and ModelDataSource as the API reference describes
 * (`checkModelData` in sagemaker/validation.ts). When the service is given a `ModelDataReader` (the
 * sandbox gives it its own S3), a fleet is provisioned only if every container's model data can be
 * downloaded when provisioning ends: the archive object exists, or at least one object lies under the
 * S3Prefix, in a bucket of the endpoint's region ("The model artifacts must be in an S3 bucket that is
 * in the same region as the model or endpoint you are creating", ContainerDefinition.ModelDataUrl).
 * Otherwise the fleet fails like a health-check failure, with AWS's "Failed to download model data …"
 * FailureReason: CreateEndpoint ends `Failed`, UpdateEndpoint rolls back to the old fleet.
 *
 * What DescribeEndpoint shows, and why (citations in the comments below and in `sagemaker/rollout.ts`):
 *  - CreateEndpoint: `Creating` with a PendingDeploymentSummary (variant status `Creating`), then
 *    `InService` with ProductionVariants, or `Failed` with FailureReason.
 *  - UpdateEndpoint: `Updating`; EndpointConfigName and ProductionVariants stay the old (blue) fleet's;
 *    PendingDeploymentSummary names the new config and carries the green variants with their
 *    VariantStatus (Creating → ActivatingTraffic → Baking …) and CurrentInstanceCount = green instances
 *    serving traffic; at the end `InService` on the new EndpointConfigName.
 *  - Auto-rollback (an alarm in ALARM during a bake): traffic returns to blue, the green fleet is torn
 *    down, and the endpoint is `InService` on the OLD EndpointConfigName with no FailureReason, the new
 *    deployment config still reported as LastDeploymentConfig: nothing but the config name tells the
 *    caller the update did not stick.
 */
export interface SageMakerSandbox extends SandboxService, BackgroundLoadControl {
  readonly timings: SageMakerTimings;
  /** SageMaker Runtime (InvokeEndpoint) over REST-JSON: register it with the server next to this service. */
  readonly runtime: SandboxService;
  /**
   * Gives an endpoint `requestsPerMinute` synthetic InvokeEndpoint requests from now on (0 stops them),
   * routed, answered and measured like real ones. The endpoint need not exist yet. Throws a RangeError
   * for a name that is no endpoint name or a rate outside 0 to 1,000,000.
   */
  setLoad(endpointName: string, requestsPerMinute: number): BackgroundLoad;
  /** The background loads, as set. */
  loads(): readonly BackgroundLoad[];
  /** A typed snapshot of one endpoint, including the traffic split between fleets. */
  endpoint(name: string): EndpointView | undefined;
  endpoints(): EndpointView[];
  tick(): void;
}

export interface TrafficShare {
  /** `blue` is the fleet the endpoint ran before the update in progress, `green` the one being deployed. */
  readonly fleet: 'blue' | 'green';
  readonly configName: string;
  readonly variantName: string;
  /** Share of the endpoint's requests, 0–100. */
  readonly percent: number;
}

export interface EndpointView {
  readonly name: string;
  readonly arn: string;
  readonly status: EndpointStatus;
  readonly configName: string;
  readonly failureReason?: string;
  readonly creationTime: Date;
  readonly lastModifiedTime: Date;
  /** The update or creation in progress, if any. */
  readonly pending?: {
    readonly operation: 'create' | 'update' | 'weights' | 'delete';
    readonly configName?: string;
    readonly routing?: TrafficRouting;
    /** The current phase: a VariantStatus, or `RollingBack` while the green fleet is being torn down. */
    readonly phase: VariantStatusEntry['Status'] | 'RollingBack' | 'Scaling';
    readonly phaseStartedAt: Date;
    readonly phaseEndsAt: Date;
  };
  readonly traffic: readonly TrafficShare[];
  readonly lastDeploymentConfig?: Json;
  /** How the last UpdateEndpoint ended, which AWS itself never says outright. */
  readonly lastUpdate?: {
    readonly configName: string;
    readonly outcome: 'succeeded' | 'rolled-back';
    /** For a rollback: `alarm:<AlarmName>`, `model-data`, `health-check` or `timeout`. */
    readonly cause?: string;
    readonly at: Date;
  };
}

const EVENT_SOURCE = 'aws.sagemaker';
const ENDPOINT_STATE_CHANGE = 'SageMaker Endpoint State Change';
const DEPLOYMENT_STATE_CHANGE = 'SageMaker Endpoint Deployment State Change';

export function createSageMakerService(
  ctx: ServiceContext,
  deps: {
    alarms: AlarmStateReader;
    /** Where fleets download model data from; without it, model data is not checked at provisioning. */
    modelData?: ModelDataReader;
    /** Where the invocation metrics go (the sandbox's CloudWatch); without it, none are published. */
    metrics?: MetricSink;
    timings?: Partial<SageMakerTimings>;
  },
): SageMakerSandbox {
  const timings: SageMakerTimings = { ...DEFAULT_TIMINGS, ...deps.timings };
  const models = new Map<string, ModelRecord>();
  const configs = new Map<string, EndpointConfigRecord>();
  const endpoints = new Map<string, EndpointRecord>();
  const lastUpdates = new Map<string, NonNullable<EndpointView['lastUpdate']>>();
  const now = (): number => ctx.clock.nowMs();
  const arn = (kind: ResourceKind, name: string): string => arnOf(kind, name, ctx.region, ctx.account);
  const key = (name: string): string => name.toLowerCase();

  // ---- errors exactly as SageMaker words them ------------------------------------------------------
  // e.g. `ValidationException: Could not find endpoint "arn:aws:sagemaker:us-west-2:…:endpoint/name".`
  // and `Cannot create already existing endpoint configuration "arn:…:endpoint-config/name".`
  const notFound = (kind: ResourceKind, name: string): AwsServiceError =>
    invalid(`Could not find ${kindWord(kind)} "${arn(kind, name)}".`);
  const alreadyExists = (kind: ResourceKind, name: string): AwsServiceError =>
    invalid(`Cannot create already existing ${kindWord(kind)} "${arn(kind, name)}".`);

  const getModel = (name: string): ModelRecord => {
    const model = models.get(key(name));
    if (!model) throw notFound('model', name);
    return model;
  };
  const getConfig = (name: string): EndpointConfigRecord => {
    const config = configs.get(key(name));
    if (!config) throw notFound('endpoint-config', name);
    return config;
  };
  const getEndpoint = (name: string): EndpointRecord => {
    const endpoint = endpoints.get(key(name));
    if (!endpoint) throw notFound('endpoint', name);
    return endpoint;
  };

  // ---- events ---------------------------------------------------------------------------------------
  // Shapes from "Events that Amazon SageMaker AI sends to Amazon EventBridge" (SageMaker developer
  // guide): "SageMaker Endpoint State Change" carries EndpointStatus in upper snake case (IN_SERVICE),
  // epoch-millisecond times and ProductionVariants with DesiredWeight/DesiredInstanceCount;
  // "SageMaker Endpoint Deployment State Change" (blue/green updates) adds the variants' current values
  // and the PendingDeploymentSummary with VariantStatus entries.
  const tagMap = (tags: readonly Tag[]): Record<string, string> =>
    Object.fromEntries(tags.map((t) => [t.Key, t.Value]));

  const emitEndpointState = (e: EndpointRecord): void => {
    const fleet = e.live ?? e.operation?.green;
    ctx.events.put({
      source: EVENT_SOURCE,
      detailType: ENDPOINT_STATE_CHANGE,
      resources: [e.arn],
      detail: {
        EndpointName: e.name,
        EndpointArn: e.arn,
        EndpointConfigName: e.configName,
        ProductionVariants: (fleet?.variants ?? []).map((v) => ({
          VariantName: v.name,
          DesiredWeight: v.desiredWeight,
          DesiredInstanceCount: v.desiredInstanceCount,
        })),
        EndpointStatus: snake(e.status),
        ...(e.failureReason !== undefined ? { FailureReason: e.failureReason } : {}),
        CreationTime: e.creationMs,
        LastModifiedTime: e.lastModifiedMs,
        Tags: tagMap(e.tags),
      },
    });
  };

  const emitDeploymentState = (e: EndpointRecord): void => {
    const op = e.operation;
    const phase = op?.phases[op.index];
    const variantEvent = (v: FleetVariant, status: readonly VariantStatusEntry[]): Json => ({
      VariantName: v.name,
      CurrentWeight: v.currentWeight,
      DesiredWeight: v.desiredWeight,
      CurrentInstanceCount: v.currentInstanceCount,
      DesiredInstanceCount: v.desiredInstanceCount,
      ...(status.length > 0
        ? {
            VariantStatus: status.map((s) => ({
              Status: s.Status,
              StatusMessage: s.StatusMessage,
              StartTime: s.StartTimeMs,
            })),
          }
        : {}),
    });
    ctx.events.put({
      source: EVENT_SOURCE,
      detailType: DEPLOYMENT_STATE_CHANGE,
      resources: [e.arn],
      detail: {
        EndpointName: e.name,
        EndpointArn: e.arn,
        EndpointConfigName: e.configName,
        ProductionVariants: (e.live?.variants ?? []).map((v) => variantEvent(v, blueStatus(phase, v))),
        EndpointStatus: snake(e.status),
        CreationTime: e.creationMs,
        LastModifiedTime: e.lastModifiedMs,
        Tags: tagMap(e.tags),
        ...(op?.green && op.type === 'update'
          ? {
              PendingDeploymentSummary: {
                EndpointConfigName: op.green.configName,
                StartTime: op.startMs,
                ProductionVariants: op.green.variants.map((v) => variantEvent(v, greenStatus(phase, v))),
              },
            }
          : {}),
      },
    });
  };

  /** The UpdateEndpoint in flight per endpoint, to record how it ended (`EndpointView.lastUpdate`). */
  const endpointPendingUpdate = new WeakMap<EndpointRecord, { configName: string; op: Operation }>();

  const hooks: RolloutHooks = {
    alarms: deps.alarms,
    timings,
    phaseEntered(endpoint, phase) {
      if (phase.kind === 'weights') {
        // The doc's second deployment example: capacity changes on the existing endpoint config.
        if (endpoint.live?.variants.some((v) => v.desiredInstanceCount !== v.currentInstanceCount)) {
          emitDeploymentState(endpoint);
        }
        return;
      }
      if (endpoint.operation?.type === 'update') emitDeploymentState(endpoint);
    },
    statusChanged(endpoint, atMs) {
      const pending = endpointPendingUpdate.get(endpoint);
      if (pending && endpoint.status === 'InService') {
        const succeeded = pending.op.rollbackCause === undefined;
        lastUpdates.set(key(endpoint.name), {
          configName: pending.configName,
          outcome: succeeded ? 'succeeded' : 'rolled-back',
          ...(pending.op.rollbackCause !== undefined ? { cause: pending.op.rollbackCause } : {}),
          at: new Date(atMs),
        });
        endpointPendingUpdate.delete(endpoint);
      }
      emitEndpointState(endpoint);
    },
    removed(endpoint) {
      endpoints.delete(key(endpoint.name));
      lastUpdates.delete(key(endpoint.name));
    },
    provisioningFailure(fleet) {
      // The instances download the model data before the containers start, so a download failure is
      // reported ahead of any health check.
      for (const variant of fleet.variants) {
        const missing = variant.modelData.find((location) => !downloadable(location));
        if (missing)
          return { reason: modelDataFailure(missing.container, missing.uri, missing.kind), cause: 'model-data' };
      }
      const failing = fleet.variants.find((v) => v.failsStartup);
      return failing ? { reason: healthCheckFailure(failing.name), cause: 'health-check' } : undefined;
    },
  };

  const downloadable = (location: ModelDataLocation): boolean => {
    const store = deps.modelData;
    if (!store) return true;
    if (store.bucketRegion(location.bucket) !== ctx.region) return false;
    return location.kind === 'object'
      ? store.objectExists(location.bucket, location.key)
      : store.hasObjectsUnder(location.bucket, location.key);
  };

  const invocations = new InvocationEngine({
    startMs: now(),
    ...(deps.metrics ? { metrics: deps.metrics } : {}),
    endpointAt(name, atMs) {
      const endpoint = endpoints.get(key(name));
      if (endpoint) advance(endpoint, atMs, hooks);
      return endpoints.get(key(name));
    },
  });

  const tick = (): void => {
    const t = now();
    // Requests and metrics first, minute by minute (moving each loaded endpoint's rollout with them),
    // then every endpoint to now.
    invocations.runUntil(t);
    for (const endpoint of [...endpoints.values()]) advance(endpoint, t, hooks);
  };

  // ---- fleets ---------------------------------------------------------------------------------------
  const containersOf = (model: ModelRecord): Json[] => {
    const list: Json[] = [];
    if (isObject(model.input.PrimaryContainer)) list.push(model.input.PrimaryContainer);
    if (Array.isArray(model.input.Containers)) list.push(...model.input.Containers.filter(isObject));
    return list;
  };

  const buildFleet = (
    config: EndpointConfigRecord,
    retain?: { from: Fleet | undefined; weight: boolean; count: boolean },
  ): Fleet => {
    const at = now();
    const variants = config.variants.map((vc): FleetVariant => {
      const model = getModel(vc.ModelName ?? '');
      const containers = containersOf(model);
      const old = retain?.from?.variants.find((v) => v.name === vc.VariantName);
      const serverless = isObject(vc.ServerlessConfig);
      return {
        name: vc.VariantName,
        modelName: model.name,
        ...(typeof vc.InstanceType === 'string' ? { instanceType: vc.InstanceType } : {}),
        serverless,
        desiredWeight: old && retain?.weight ? old.desiredWeight : (vc.InitialVariantWeight ?? 1),
        desiredInstanceCount: old && retain?.count ? old.desiredInstanceCount : (vc.InitialInstanceCount ?? 1),
        currentWeight: 0,
        currentInstanceCount: 0,
        images: containers
          .map((c) => c.Image)
          .filter((image): image is string => typeof image === 'string')
          .map((image) => resolveImage(image, at)),
        modelData: containers.flatMap((c, i) => modelDataOf(c, `container_${i + 1}`)),
        failsStartup: containers.some((c) => isObject(c.Environment) && c.Environment[FAIL_ENV] === 'startup'),
        behaviour: behaviourOf(containers.map((c) => (isObject(c.Environment) ? c.Environment : undefined))),
        multiContainer: containers.length > 1,
        networkIsolation: model.input.EnableNetworkIsolation === true,
      };
    });
    const excluded: string[] = [];
    if (typeof config.input.KmsKeyId === 'string') excluded.push('KMS key');
    if (isObject(config.input.DataCaptureConfig) && config.input.DataCaptureConfig.EnableCapture !== false) {
      excluded.push('data capture');
    }
    return { configName: config.name, variants, excludedFeatures: excluded };
  };

  /**
   * "If your endpoint uses any of the following features, you cannot use deployment guardrails on your
   * endpoint, and your endpoint will fall back to using a blue/green deployment with all at once traffic
   * shifting and no final baking period" (SageMaker developer guide, deployment guardrails
   * "Exclusions": multi-container, multi-variant, network isolation, KMS, data capture, …; serverless
   * endpoints are excluded here too).
   */
  const guardrailExclusions = (fleets: readonly (Fleet | undefined)[]): string[] => {
    const reasons: string[] = [];
    for (const fleet of fleets) {
      if (!fleet) continue;
      if (fleet.variants.length > 1) reasons.push('multi-variant endpoint');
      for (const v of fleet.variants) {
        if (v.multiContainer) reasons.push('multi-container model');
        if (v.networkIsolation) reasons.push('network isolation');
        if (v.serverless) reasons.push('serverless variant');
      }
      reasons.push(...fleet.excludedFeatures);
    }
    return reasons;
  };

  /**
   * The semantic limits on top of the shape: "CanarySize … Value must be less than or equal to 50% of
   * the variant's total instance count", "LinearStepSize … Value must be 10-50% of the variant's total
   * instance count" (API reference, TrafficRoutingConfig). The messages are the sandbox's own wording.
   * Returns the canary/step size as a share of the fleet.
   */
  const stepFractionOf = (trc: Json, instanceCount: number): number => {
    const type = trc.Type as TrafficRouting;
    if (type === 'ALL_AT_ONCE') return 1;
    const field = type === 'CANARY' ? 'CanarySize' : 'LinearStepSize';
    const size = trc[field];
    if (!isObject(size)) {
      throw invalid(`${field} must be specified when TrafficRoutingConfiguration Type is ${type}.`);
    }
    const value = size.Value as number;
    const percent = size.Type === 'CAPACITY_PERCENT' ? value : (value / instanceCount) * 100;
    const [low, high] = type === 'CANARY' ? [0, 50] : [10, 50];
    if (percent > high || percent < low) {
      throw invalid(
        type === 'CANARY'
          ? `CanarySize must be less than or equal to 50% of the variant's total instance count (${instanceCount}); got ${size.Type} ${value}.`
          : `LinearStepSize must be between 10% and 50% of the variant's total instance count (${instanceCount}); got ${size.Type} ${value}.`,
      );
    }
    const instances =
      size.Type === 'CAPACITY_PERCENT' ? Math.max(1, Math.floor((instanceCount * value) / 100)) : Math.max(1, value);
    return Math.min(1, instances / instanceCount);
  };

  const checkDeploymentConfig = (deploymentConfig: Json | undefined, fleet: Fleet): void => {
    if (!deploymentConfig) return;
    if (isObject(deploymentConfig.RollingUpdatePolicy)) {
      if (isObject(deploymentConfig.BlueGreenUpdatePolicy)) {
        throw invalid('Only one update policy can be specified in DeploymentConfig.');
      }
      throw invalid(
        'The Ballast sandbox does not emulate RollingUpdatePolicy (rolling deployments); use BlueGreenUpdatePolicy.',
      );
    }
    const bg = deploymentConfig.BlueGreenUpdatePolicy;
    if (!isObject(bg) || !isObject(bg.TrafficRoutingConfiguration)) return;
    if (guardrailExclusions([fleet]).length > 0) return;
    const variant = fleet.variants[0];
    if (variant) stepFractionOf(bg.TrafficRoutingConfiguration, variant.desiredInstanceCount);
  };

  // ---- DescribeEndpoint -----------------------------------------------------------------------------
  const blueStatus = (phase: Phase | undefined, v: FleetVariant): VariantStatusEntry[] =>
    phase && (phase.kind === 'terminate' || phase.kind === 'weights') ? variantStatusFor(phase, v) : [];
  const greenStatus = (phase: Phase | undefined, v: FleetVariant): VariantStatusEntry[] =>
    phase && phase.kind !== 'terminate' && phase.kind !== 'weights' && phase.kind !== 'delete'
      ? variantStatusFor(phase, v)
      : [];

  const variantSummary = (v: FleetVariant, status: readonly VariantStatusEntry[]): Json => ({
    VariantName: v.name,
    DeployedImages: v.images.map((i) => ({
      SpecifiedImage: i.SpecifiedImage,
      ResolvedImage: i.ResolvedImage,
      ResolutionTime: epochSeconds(i.ResolutionTimeMs),
    })),
    CurrentWeight: v.currentWeight,
    DesiredWeight: v.desiredWeight,
    CurrentInstanceCount: v.currentInstanceCount,
    DesiredInstanceCount: v.desiredInstanceCount,
    ...(v.instanceType !== undefined ? { InstanceType: v.instanceType } : {}),
    ...(status.length > 0
      ? {
          VariantStatus: status.map((s) => ({
            Status: s.Status,
            StatusMessage: s.StatusMessage,
            StartTime: epochSeconds(s.StartTimeMs),
          })),
        }
      : {}),
  });

  const describeEndpoint = (e: EndpointRecord): Json => {
    const op = e.operation;
    const phase = op?.phases[op.index];
    const out: Json = {
      EndpointName: e.name,
      EndpointArn: e.arn,
      EndpointConfigName: e.configName,
    };
    if (e.live) {
      out.ProductionVariants = e.live.variants.map((v) => {
        const { InstanceType: _omit, ...summary } = variantSummary(v, blueStatus(phase, v));
        return summary;
      });
    }
    out.EndpointStatus = e.status;
    // "If the status of the endpoint is Failed, or the status is InService but update operation fails,
    // this provides the reason why it failed" (API reference, EndpointMetadata.FailureReason; see also
    // terraform-provider-aws#39100 and aws-controllers-k8s/sagemaker-controller#7: the reason stays
    // while InService and disappears as soon as a new update is applied).
    if (e.failureReason !== undefined) out.FailureReason = e.failureReason;
    out.CreationTime = epochSeconds(e.creationMs);
    out.LastModifiedTime = epochSeconds(e.lastModifiedMs);
    if (e.lastDeploymentConfig) out.LastDeploymentConfig = e.lastDeploymentConfig;
    // "PendingDeploymentSummary: Returns the summary of an in-progress deployment. This field is only
    // returned when the endpoint is creating or updating with a new endpoint configuration."
    if (op?.green && (op.type === 'create' || op.type === 'update')) {
      out.PendingDeploymentSummary = {
        EndpointConfigName: op.green.configName,
        ProductionVariants: op.green.variants.map((v) => variantSummary(v, greenStatus(phase, v))),
        StartTime: epochSeconds(op.startMs),
      };
    }
    return out;
  };

  // ---- the in-process view --------------------------------------------------------------------------
  const viewOf = (e: EndpointRecord): EndpointView => {
    const op = e.operation;
    const phase = op?.phases[op.index];
    const traffic: TrafficShare[] = trafficShares(e).map((s) => ({
      fleet: s.fleet,
      configName: s.configName,
      variantName: s.variant.name,
      percent: round2(s.percent),
    }));
    const last = lastUpdates.get(key(e.name));
    return {
      name: e.name,
      arn: e.arn,
      status: e.status,
      configName: e.configName,
      ...(e.failureReason !== undefined ? { failureReason: e.failureReason } : {}),
      creationTime: new Date(e.creationMs),
      lastModifiedTime: new Date(e.lastModifiedMs),
      ...(op && phase
        ? {
            pending: {
              operation: op.type,
              ...(op.green ? { configName: op.green.configName } : {}),
              ...(op.routing ? { routing: op.routing } : {}),
              phase: phaseName(phase),
              phaseStartedAt: new Date(phase.start),
              phaseEndsAt: new Date(phase.end),
            },
          }
        : {}),
      traffic,
      ...(e.lastDeploymentConfig ? { lastDeploymentConfig: e.lastDeploymentConfig } : {}),
      ...(last ? { lastUpdate: last } : {}),
    };
  };

  // ---- operations -----------------------------------------------------------------------------------
  const operations: Record<string, (input: Json) => unknown> = {
    CreateModel(input) {
      const v = new Validator();
      validateModelName(v, 'modelName', input.ModelName);
      validateContainer(v, 'primaryContainer', input.PrimaryContainer);
      if (v.list('containers', input.Containers, { max: 15 })) {
        input.Containers.forEach((c, i) => {
          validateContainer(v, `containers.${i + 1}.member`, c, true);
        });
      }
      validateRoleArn(v, 'executionRoleArn', input.ExecutionRoleArn);
      v.boolean('enableNetworkIsolation', input.EnableNetworkIsolation);
      validateTags(v, 'tags', input.Tags);
      v.done();
      if (isObject(input.PrimaryContainer)) {
        checkModelData(input.PrimaryContainer, 'PrimaryContainer');
        checkBehaviour(input.PrimaryContainer, 'PrimaryContainer');
      }
      if (Array.isArray(input.Containers)) {
        input.Containers.forEach((c, i) => {
          if (!isObject(c)) return;
          checkModelData(c, `Containers.${i + 1}`);
          checkBehaviour(c, `Containers.${i + 1}`);
        });
      }
      const name = input.ModelName as string;
      if (models.has(key(name))) throw alreadyExists('model', name);
      const record: ModelRecord = {
        name,
        arn: arn('model', name),
        creationMs: now(),
        input: structuredClone(input),
        tags: mergeTags([], input.Tags),
      };
      models.set(key(name), record);
      return { ModelArn: record.arn };
    },

    DescribeModel(input) {
      const v = new Validator();
      validateModelName(v, 'modelName', input.ModelName);
      v.done();
      const model = getModel(input.ModelName as string);
      const { ModelName: _n, Tags: _t, ...rest } = model.input;
      return {
        ModelName: model.name,
        ...rest,
        CreationTime: epochSeconds(model.creationMs),
        ModelArn: model.arn,
        EnableNetworkIsolation: model.input.EnableNetworkIsolation === true,
      };
    },

    DeleteModel(input) {
      const v = new Validator();
      validateModelName(v, 'modelName', input.ModelName);
      v.done();
      // DeleteModel "deletes only the model entry"; AWS does not refuse it while endpoints use the model.
      const model = getModel(input.ModelName as string);
      models.delete(key(model.name));
      return {};
    },

    ListModels(input) {
      validateList(input, ['Name', 'CreationTime'], 'modelNameContains');
      const items = [...models.values()].filter((m) => filterCommon(input, m.name, m.creationMs));
      const { page, next } = paginate(
        sortItems(items, input, (m) => m.name),
        input,
      );
      return {
        Models: page.map((m) => ({ ModelName: m.name, ModelArn: m.arn, CreationTime: epochSeconds(m.creationMs) })),
        ...(next ? { NextToken: next } : {}),
      };
    },

    CreateEndpointConfig(input) {
      const v = new Validator();
      validateName(v, 'endpointConfigName', input.EndpointConfigName);
      if (v.list('productionVariants', input.ProductionVariants, { required: true, min: 1, max: 10 })) {
        input.ProductionVariants.forEach((pv, i) => {
          const p = `productionVariants.${i + 1}.member`;
          if (!v.struct(p, pv, true)) return;
          validateName(v, `${p}.variantName`, pv.VariantName);
          validateModelName(v, `${p}.modelName`, pv.ModelName, false);
          v.number(`${p}.initialInstanceCount`, pv.InitialInstanceCount, { min: 1, integer: true });
          v.number(`${p}.initialVariantWeight`, pv.InitialVariantWeight, { min: 0 });
          // InstanceType is an enum of several hundred ml.* types in the service model; the sandbox does not
          // keep a copy that would go stale, so any string passes.
          v.string(`${p}.instanceType`, pv.InstanceType, { min: 1 });
        });
      }
      validateTags(v, 'tags', input.Tags);
      v.done();
      const name = input.EndpointConfigName as string;
      if (configs.has(key(name))) throw alreadyExists('endpoint-config', name);
      const variants = (input.ProductionVariants as VariantConfig[]).map((pv) => ({ ...pv }));
      const seen = new Set<string>();
      for (const pv of variants) {
        if (seen.has(pv.VariantName)) {
          throw invalid(`The variant name "${pv.VariantName}" was non-unique within the request.`);
        }
        seen.add(pv.VariantName);
        if (pv.ModelName === undefined) {
          throw invalid(`ModelName must be specified for production variant ${pv.VariantName}.`);
        }
        if (
          !isObject(pv.ServerlessConfig) &&
          (pv.InstanceType === undefined || pv.InitialInstanceCount === undefined)
        ) {
          throw invalid(
            `Either InstanceType and InitialInstanceCount, or ServerlessConfig, must be specified for production variant ${pv.VariantName}.`,
          );
        }
        const model = getModel(pv.ModelName);
        // "Currently you cannot use ModelDataSource in conjunction with … SageMaker serverless endpoints"
        // (API reference, ContainerDefinition.ModelDataSource). The wording is the sandbox's.
        if (isObject(pv.ServerlessConfig) && containersOf(model).some((c) => isObject(c.ModelDataSource))) {
          throw invalid(
            `Model "${model.name}" of production variant ${pv.VariantName} uses ModelDataSource, which serverless endpoints do not support.`,
          );
        }
      }
      const record: EndpointConfigRecord = {
        name,
        arn: arn('endpoint-config', name),
        creationMs: now(),
        input: structuredClone(input),
        variants,
        tags: mergeTags([], input.Tags),
      };
      configs.set(key(name), record);
      return { EndpointConfigArn: record.arn };
    },

    DescribeEndpointConfig(input) {
      const v = new Validator();
      validateName(v, 'endpointConfigName', input.EndpointConfigName);
      v.done();
      const config = getConfig(input.EndpointConfigName as string);
      const { EndpointConfigName: _n, Tags: _t, ProductionVariants: _p, ...rest } = config.input;
      return {
        EndpointConfigName: config.name,
        EndpointConfigArn: config.arn,
        // SageMaker reports the default weight it applied: "If unspecified, it defaults to 1.0."
        ProductionVariants: config.variants.map((pv) => ({
          ...pv,
          InitialVariantWeight: pv.InitialVariantWeight ?? 1,
        })),
        ...rest,
        CreationTime: epochSeconds(config.creationMs),
      };
    },

    DeleteEndpointConfig(input) {
      const v = new Validator();
      validateName(v, 'endpointConfigName', input.EndpointConfigName);
      v.done();
      // "You must not delete an EndpointConfig in use by an endpoint … If you delete the EndpointConfig of
      // an endpoint that is active or being created or updated you may lose visibility into the instance
      // type the endpoint is using" (API reference, DeleteEndpointConfig): a warning, not a refusal.
      const config = getConfig(input.EndpointConfigName as string);
      configs.delete(key(config.name));
      return {};
    },

    ListEndpointConfigs(input) {
      validateList(input, ['Name', 'CreationTime'], 'nameContains');
      const items = [...configs.values()].filter((c) => filterCommon(input, c.name, c.creationMs));
      const { page, next } = paginate(
        sortItems(items, input, (c) => c.name),
        input,
      );
      return {
        EndpointConfigs: page.map((c) => ({
          EndpointConfigName: c.name,
          EndpointConfigArn: c.arn,
          CreationTime: epochSeconds(c.creationMs),
        })),
        ...(next ? { NextToken: next } : {}),
      };
    },

    CreateEndpoint(input) {
      const v = new Validator();
      validateName(v, 'endpointName', input.EndpointName);
      validateName(v, 'endpointConfigName', input.EndpointConfigName);
      validateDeploymentConfig(v, 'deploymentConfig', input.DeploymentConfig);
      validateTags(v, 'tags', input.Tags);
      v.done();
      const name = input.EndpointName as string;
      // "The name is case-insensitive in CreateEndpoint" (API reference, CreateEndpoint).
      if (endpoints.has(key(name))) throw alreadyExists('endpoint', name);
      const config = getConfig(input.EndpointConfigName as string);
      const fleet = buildFleet(config);
      const deploymentConfig = isObject(input.DeploymentConfig) ? structuredClone(input.DeploymentConfig) : undefined;
      // A DeploymentConfig on CreateEndpoint is only stored for later updates (RetainDeploymentConfig):
      // "Specifying the deployment configuration does not automatically perform a blue/green update".
      checkDeploymentConfig(deploymentConfig, fleet);
      const t = now();
      const op: Operation = {
        type: 'create',
        startMs: t,
        phases: [{ kind: 'create', start: t, end: t + timings.createMs }],
        index: 0,
        green: fleet,
        greenFraction: 0,
        alarms: [],
      };
      const endpoint: EndpointRecord = {
        name,
        arn: arn('endpoint', name),
        creationMs: t,
        lastModifiedMs: t,
        status: 'Creating',
        configName: config.name,
        ...(deploymentConfig ? { lastDeploymentConfig: deploymentConfig } : {}),
        tags: mergeTags([], input.Tags),
        operation: op,
      };
      endpoints.set(key(name), endpoint);
      emitEndpointState(endpoint);
      return { EndpointArn: endpoint.arn };
    },

    DescribeEndpoint(input) {
      const v = new Validator();
      validateName(v, 'endpointName', input.EndpointName);
      v.done();
      return describeEndpoint(getEndpoint(input.EndpointName as string));
    },

    ListEndpoints(input) {
      const v = new Validator();
      v.string('statusEquals', input.StatusEquals, { enum: ENDPOINT_STATUSES });
      v.done();
      validateList(input, ['Name', 'CreationTime', 'Status'], 'nameContains');
      const items = [...endpoints.values()].filter(
        (e) =>
          filterCommon(input, e.name, e.creationMs) &&
          (input.StatusEquals === undefined || e.status === input.StatusEquals) &&
          (typeof input.LastModifiedTimeBefore !== 'number' ||
            e.lastModifiedMs < input.LastModifiedTimeBefore * 1000) &&
          (typeof input.LastModifiedTimeAfter !== 'number' || e.lastModifiedMs > input.LastModifiedTimeAfter * 1000),
      );
      const sorted =
        input.SortBy === 'Status' ? sortItems(items, input, (e) => e.status) : sortItems(items, input, (e) => e.name);
      const { page, next } = paginate(sorted, input);
      return {
        Endpoints: page.map((e) => ({
          EndpointName: e.name,
          EndpointArn: e.arn,
          CreationTime: epochSeconds(e.creationMs),
          LastModifiedTime: epochSeconds(e.lastModifiedMs),
          EndpointStatus: e.status,
        })),
        ...(next ? { NextToken: next } : {}),
      };
    },

    UpdateEndpoint(input) {
      const v = new Validator();
      validateName(v, 'endpointName', input.EndpointName);
      validateName(v, 'endpointConfigName', input.EndpointConfigName);
      v.boolean('retainAllVariantProperties', input.RetainAllVariantProperties);
      if (v.list('excludeRetainedVariantProperties', input.ExcludeRetainedVariantProperties, { max: 3 })) {
        input.ExcludeRetainedVariantProperties.forEach((p, i) => {
          const at = `excludeRetainedVariantProperties.${i + 1}.member`;
          if (v.struct(at, p, true)) {
            v.string(`${at}.variantPropertyType`, p.VariantPropertyType, {
              required: true,
              enum: ['DesiredInstanceCount', 'DesiredWeight', 'DataCaptureConfig'],
            });
          }
        });
      }
      validateDeploymentConfig(v, 'deploymentConfig', input.DeploymentConfig);
      v.boolean('retainDeploymentConfig', input.RetainDeploymentConfig);
      v.done();
      const endpoint = getEndpoint(input.EndpointName as string);
      if (endpoint.status === 'Failed') {
        // "DeleteEndpoint is the only operation that can be performed on a failed endpoint."
        throw invalid(`Cannot update failed endpoint "${endpoint.arn}".`);
      }
      if (endpoint.status !== 'InService') throw invalid(`Cannot update in-progress endpoint "${endpoint.arn}".`);
      const config = getConfig(input.EndpointConfigName as string);

      // RetainAllVariantProperties keeps the live instance counts and weights (e.g. after autoscaling or
      // UpdateEndpointWeightsAndCapacities) unless ExcludeRetainedVariantProperties names them
      // (API reference, UpdateEndpoint and VariantProperty).
      const excluded = new Set(
        Array.isArray(input.ExcludeRetainedVariantProperties)
          ? input.ExcludeRetainedVariantProperties.filter(isObject).map((p) => p.VariantPropertyType)
          : [],
      );
      const retainAll = input.RetainAllVariantProperties === true;
      const green = buildFleet(config, {
        from: endpoint.live,
        weight: retainAll && !excluded.has('DesiredWeight'),
        count: retainAll && !excluded.has('DesiredInstanceCount'),
      });

      // "RetainDeploymentConfig: Specifies whether to reuse the last deployment configuration." An
      // explicit DeploymentConfig wins over it (the sandbox's choice; AWS does not document the combination).
      let deploymentConfig: Json | undefined;
      if (isObject(input.DeploymentConfig)) deploymentConfig = structuredClone(input.DeploymentConfig);
      else if (input.RetainDeploymentConfig === true) deploymentConfig = endpoint.lastDeploymentConfig;
      checkDeploymentConfig(deploymentConfig, green);

      // Without a BlueGreenUpdatePolicy: "SageMaker uses a blue/green deployment strategy with all at
      // once traffic shifting by default" (API reference, DeploymentConfig).
      const bg = isObject(deploymentConfig?.BlueGreenUpdatePolicy) ? deploymentConfig.BlueGreenUpdatePolicy : {};
      const trc = isObject(bg.TrafficRoutingConfiguration) ? bg.TrafficRoutingConfiguration : { Type: 'ALL_AT_ONCE' };
      const exclusions = guardrailExclusions([endpoint.live, green]);
      const noBaking = exclusions.length > 0;
      const routing: TrafficRouting = noBaking ? 'ALL_AT_ONCE' : (trc.Type as TrafficRouting);
      const instanceCount = green.variants[0]?.desiredInstanceCount ?? 1;
      const t = now();
      const alarms =
        !noBaking && isObject(deploymentConfig?.AutoRollbackConfiguration)
          ? (Array.isArray(deploymentConfig.AutoRollbackConfiguration.Alarms)
              ? deploymentConfig.AutoRollbackConfiguration.Alarms
              : []
            )
              .filter(isObject)
              .map((a) => a.AlarmName)
              .filter((n): n is string => typeof n === 'string')
          : [];
      const phases = planBlueGreen(
        t,
        {
          routing,
          stepFraction: routing === 'ALL_AT_ONCE' ? 1 : stepFractionOf(trc, instanceCount),
          waitIntervalSeconds: typeof trc.WaitIntervalInSeconds === 'number' ? trc.WaitIntervalInSeconds : 0,
          // "TerminationWaitInSeconds … Default is 0." (API reference, BlueGreenUpdatePolicy)
          terminationWaitSeconds: typeof bg.TerminationWaitInSeconds === 'number' ? bg.TerminationWaitInSeconds : 0,
          noBaking,
        },
        timings,
      );
      const op: Operation = {
        type: 'update',
        startMs: t,
        phases,
        index: 0,
        green,
        greenFraction: 0,
        routing,
        alarms,
        ...(typeof bg.MaximumExecutionTimeoutInSeconds === 'number'
          ? { deadlineMs: t + bg.MaximumExecutionTimeoutInSeconds * 1000 }
          : {}),
      };
      // The live fleet is what the blue side serves during the update.
      for (const v2 of endpoint.live?.variants ?? []) {
        v2.currentWeight = v2.desiredWeight;
        v2.currentInstanceCount = v2.desiredInstanceCount;
      }
      endpoint.status = 'Updating';
      endpoint.failureReason = undefined;
      endpoint.lastModifiedMs = t;
      if (deploymentConfig) endpoint.lastDeploymentConfig = deploymentConfig;
      else endpoint.lastDeploymentConfig = undefined;
      endpoint.operation = op;
      endpointPendingUpdate.set(endpoint, { configName: config.name, op });
      emitEndpointState(endpoint);
      const first = phases[0];
      if (first) hooks.phaseEntered(endpoint, first);
      return { EndpointArn: endpoint.arn };
    },

    UpdateEndpointWeightsAndCapacities(input) {
      const v = new Validator();
      validateName(v, 'endpointName', input.EndpointName);
      if (v.list('desiredWeightsAndCapacities', input.DesiredWeightsAndCapacities, { required: true, min: 1 })) {
        input.DesiredWeightsAndCapacities.forEach((d, i) => {
          const p = `desiredWeightsAndCapacities.${i + 1}.member`;
          if (!v.struct(p, d, true)) return;
          validateName(v, `${p}.variantName`, d.VariantName);
          v.number(`${p}.desiredWeight`, d.DesiredWeight, { min: 0 });
          v.number(`${p}.desiredInstanceCount`, d.DesiredInstanceCount, { min: 0, integer: true });
        });
      }
      v.done();
      const endpoint = getEndpoint(input.EndpointName as string);
      if (endpoint.status !== 'InService' || !endpoint.live) {
        throw invalid(`Cannot update in-progress endpoint "${endpoint.arn}".`);
      }
      const live = endpoint.live;
      const requested = (input.DesiredWeightsAndCapacities as Json[]).filter(isObject);
      const names = new Set<string>();
      for (const d of requested) {
        const variantName = d.VariantName as string;
        if (names.has(variantName)) {
          throw invalid(`The variant name "${variantName}" was non-unique within the request.`);
        }
        names.add(variantName);
        if (!live.variants.some((lv) => lv.name === variantName)) {
          throw invalid(
            `The variant name(s) "${variantName}" is/are not present within endpoint configuration "${endpoint.configName}".`,
          );
        }
      }
      for (const d of requested) {
        const variant = live.variants.find((lv) => lv.name === d.VariantName);
        if (!variant) continue;
        if (typeof d.DesiredWeight === 'number') variant.desiredWeight = d.DesiredWeight;
        if (typeof d.DesiredInstanceCount === 'number') variant.desiredInstanceCount = d.DesiredInstanceCount;
      }
      const t = now();
      endpoint.operation = {
        type: 'weights',
        startMs: t,
        phases: [{ kind: 'weights', start: t, end: t + timings.weightsAndCapacitiesMs }],
        index: 0,
        greenFraction: 0,
        alarms: [],
      };
      endpoint.status = 'Updating';
      endpoint.lastModifiedMs = t;
      emitEndpointState(endpoint);
      const first = endpoint.operation.phases[0];
      if (first) hooks.phaseEntered(endpoint, first);
      return { EndpointArn: endpoint.arn };
    },

    DeleteEndpoint(input) {
      const v = new Validator();
      validateName(v, 'endpointName', input.EndpointName);
      v.done();
      const endpoint = getEndpoint(input.EndpointName as string);
      if (endpoint.status === 'Deleting') return {};
      const t = now();
      endpointPendingUpdate.delete(endpoint);
      endpoint.operation = {
        type: 'delete',
        startMs: t,
        phases: [{ kind: 'delete', start: t, end: t + timings.deleteMs }],
        index: 0,
        greenFraction: 0,
        alarms: [],
      };
      endpoint.status = 'Deleting';
      endpoint.lastModifiedMs = t;
      emitEndpointState(endpoint);
      return {};
    },

    AddTags(input) {
      const v = new Validator();
      validateResourceArn(v, 'resourceArn', input.ResourceArn);
      validateTags(v, 'tags', input.Tags, true);
      v.done();
      const resource = resourceByArn(input.ResourceArn as string);
      resource.tags = mergeTags(resource.tags, input.Tags);
      return { Tags: input.Tags };
    },

    ListTags(input) {
      const v = new Validator();
      validateResourceArn(v, 'resourceArn', input.ResourceArn);
      v.number('maxResults', input.MaxResults, { min: 50, integer: true });
      v.done();
      const resource = resourceByArn(input.ResourceArn as string);
      const start = decodeToken(input.NextToken);
      const max = typeof input.MaxResults === 'number' ? input.MaxResults : 50;
      const page = resource.tags.slice(start, start + max);
      const more = start + max < resource.tags.length;
      return { Tags: page, ...(more ? { NextToken: encodeToken(start + max) } : {}) };
    },

    DeleteTags(input) {
      const v = new Validator();
      validateResourceArn(v, 'resourceArn', input.ResourceArn);
      validateTagKeys(v, 'tagKeys', input.TagKeys);
      v.done();
      const resource = resourceByArn(input.ResourceArn as string);
      const keys = new Set(input.TagKeys as string[]);
      resource.tags = resource.tags.filter((t) => !keys.has(t.Key));
      return {};
    },
  };

  const resourceByArn = (resourceArn: string): { tags: Tag[] } => {
    const match = /^arn:aws[a-z-]*:sagemaker:([a-z0-9-]*):(\d{12}):(model|endpoint-config|endpoint)\/(.+)$/.exec(
      resourceArn,
    );
    const [, region, account, kind, name] = match ?? [];
    const found =
      region === ctx.region && account === ctx.account && name !== undefined
        ? kind === 'model'
          ? models.get(key(name))
          : kind === 'endpoint-config'
            ? configs.get(key(name))
            : kind === 'endpoint'
              ? endpoints.get(key(name))
              : undefined
        : undefined;
    // Unconfirmed wording: the sandbox answers like the Describe* calls do for a missing resource.
    if (!found) throw invalid(`Could not find resource "${resourceArn}".`);
    return found;
  };

  const service = awsJsonService({
    signingName: 'sagemaker',
    targetPrefix: 'SageMaker',
    version: '1.1',
    throttlingCode: 'ThrottlingException',
    operations,
    tick,
  });

  const runtime = createSageMakerRuntimeService(ctx, {
    tick,
    invoke: (name, targetVariant) => invocations.invoke(name, now(), targetVariant),
  });

  return {
    ...service,
    timings,
    runtime,
    tick,
    setLoad(endpointName, requestsPerMinute) {
      // The old load runs up to now; the new one starts now.
      tick();
      return invocations.setLoad(endpointName, requestsPerMinute, now());
    },
    loads: () => invocations.loads(),
    endpoint(name) {
      tick();
      const e = endpoints.get(key(name));
      return e ? viewOf(e) : undefined;
    },
    endpoints() {
      tick();
      return [...endpoints.values()].map(viewOf);
    },
  };
}

// ---- helpers ----------------------------------------------------------------------------------------

function kindWord(kind: ResourceKind): string {
  return kind === 'endpoint-config' ? 'endpoint configuration' : kind;
}

function snake(status: EndpointStatus): string {
  return status.replace(/([a-z])([A-Z])/g, '$1_$2').toUpperCase();
}

function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function round2(n: number): number {
  return Math.round(n * 100) / 100;
}

function phaseName(phase: Phase): NonNullable<EndpointView['pending']>['phase'] {
  switch (phase.kind) {
    case 'create':
    case 'provision':
      return 'Creating';
    case 'activate':
      return 'ActivatingTraffic';
    case 'bake':
      return 'Baking';
    case 'terminate':
    case 'delete':
      return 'Deleting';
    case 'rollback':
      return 'RollingBack';
    case 'weights':
      return 'Scaling';
  }
}

/**
 * The S3 model data a container downloads: its ModelDataUrl, or ModelDataSource.S3DataSource (an object
 * or, for S3Prefix, every object under the prefix). https URLs and MultiModel containers (whose models
 * are loaded on invocation, not at provisioning) are not checked.
 */
function modelDataOf(container: Json, name: string): ModelDataLocation[] {
  if (container.Mode === 'MultiModel') return [];
  const s3 = isObject(container.ModelDataSource) ? container.ModelDataSource.S3DataSource : undefined;
  const uri = typeof container.ModelDataUrl === 'string' ? container.ModelDataUrl : isObject(s3) ? s3.S3Uri : undefined;
  if (typeof uri !== 'string') return [];
  const match = /^s3:\/\/([^/]+)\/(.*)$/.exec(uri);
  if (!match) return [];
  const [, bucket = '', key = ''] = match;
  const kind = isObject(s3) && s3.S3DataType === 'S3Prefix' ? 'prefix' : 'object';
  return [{ container: name, uri, bucket, key, kind }];
}

/** `repo:tag` resolves to `repo@sha256:…` (DeployedImage); the digest is derived from the image string. */
function resolveImage(image: string, atMs: number): DeployedImage {
  if (image.includes('@sha256:')) return { SpecifiedImage: image, ResolvedImage: image, ResolutionTimeMs: atMs };
  const slash = image.lastIndexOf('/');
  const colon = image.lastIndexOf(':');
  const repo = colon > slash ? image.slice(0, colon) : image;
  const digest = createHash('sha256').update(image).digest('hex');
  return { SpecifiedImage: image, ResolvedImage: `${repo}@sha256:${digest}`, ResolutionTimeMs: atMs };
}

function mergeTags(existing: readonly Tag[], added: unknown): Tag[] {
  const result = [...existing];
  if (!Array.isArray(added)) return result;
  for (const tag of added) {
    if (!isObject(tag) || typeof tag.Key !== 'string') continue;
    const value = typeof tag.Value === 'string' ? tag.Value : '';
    const index = result.findIndex((t) => t.Key === tag.Key);
    if (index >= 0) result[index] = { Key: tag.Key, Value: value };
    else result.push({ Key: tag.Key, Value: value });
  }
  return result;
}

function validateList(input: Json, sortKeys: readonly string[], nameContainsPath: string): void {
  const v = new Validator();
  v.string('sortBy', input.SortBy, { enum: sortKeys });
  v.string('sortOrder', input.SortOrder, { enum: ['Ascending', 'Descending'] });
  v.number('maxResults', input.MaxResults, { min: 1, max: 100, integer: true });
  validateNameContains(v, nameContainsPath, input.NameContains);
  v.done();
}

function filterCommon(input: Json, name: string, creationMs: number): boolean {
  if (typeof input.NameContains === 'string' && !name.toLowerCase().includes(input.NameContains.toLowerCase())) {
    return false;
  }
  if (typeof input.CreationTimeBefore === 'number' && !(creationMs < input.CreationTimeBefore * 1000)) return false;
  if (typeof input.CreationTimeAfter === 'number' && !(creationMs >= input.CreationTimeAfter * 1000)) return false;
  return true;
}

/** List calls sort by CreationTime, Descending, unless asked otherwise (API reference, List*). */
function sortItems<T extends { creationMs: number }>(items: T[], input: Json, nameOf: (item: T) => string): T[] {
  const byName = input.SortBy === 'Name' || input.SortBy === 'Status';
  const sign = input.SortOrder === 'Ascending' ? 1 : -1;
  return [...items].sort((a, b) => {
    const primary = byName ? nameOf(a).localeCompare(nameOf(b)) : a.creationMs - b.creationMs;
    return sign * (primary !== 0 ? primary : a.creationMs - b.creationMs);
  });
}

/** "MaxResults … This value defaults to 10." (API reference, ListEndpoints; used for every List call). */
function paginate<T>(items: T[], input: Json): { page: T[]; next?: string } {
  const start = decodeToken(input.NextToken);
  const max = typeof input.MaxResults === 'number' ? input.MaxResults : 10;
  const page = items.slice(start, start + max);
  return start + max < items.length ? { page, next: encodeToken(start + max) } : { page };
}
