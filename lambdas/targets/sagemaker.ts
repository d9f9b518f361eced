/**
 * The SageMaker target as pure functions: names, API inputs and the reading of DescribeEndpoint.
 * The handlers do the calls; everything that decides what to call is here, where it is testable
 * without an endpoint.
 *
 * References: SageMaker API Reference, UpdateEndpoint, DeploymentConfig, BlueGreenUpdatePolicy,
 * TrafficRoutingConfig, AutoRollbackConfig; Developer Guide, "Blue/Green Deployments" (an
 * auto-rollback returns the endpoint to InService on the old endpoint configuration).
 */
import { createHash } from 'node:crypto';
import type {
  CreateEndpointConfigCommandInput,
  CreateModelCommandInput,
  DeploymentConfig,
  DescribeEndpointCommandOutput,
  DesiredWeightAndCapacity,
  Tag,
} from '@aws-sdk/client-sagemaker';
import { canarySizeInstances, linearStepInstances } from '../spec/instances.ts';
import type { Rollout } from '../spec/schema.ts';
import type { PinnedModel, Release } from '../workflow/types.ts';

const MAX_NAME = 63;

/** A SageMaker name from parts; over 63 characters, the middle gives way to a short hash. */
export function sagemakerName(...parts: string[]): string {
  const name = parts
    .join('-')
    .replace(/[^a-zA-Z0-9-]/g, '-')
    .replace(/-+/g, '-');
  return boundedName(name, MAX_NAME);
}

/** `name` as is when it fits `max`; else its start and an 8-hex hash of the whole (still unique). */
export function boundedName(name: string, max: number): string {
  if (name.length <= max) return name;
  const hash = createHash('sha256').update(name).digest('hex').slice(0, 8);
  return `${name.slice(0, max - 9).replace(/-+$/, '')}-${hash}`;
}

export interface SageMakerNames {
  /** Stable across commits: the endpoint users call. */
  readonly endpointName: string;
  /** Derived from the content (digest), so the same content always maps to the same resources. */
  readonly modelName: string;
  readonly endpointConfigName: string;
}

export function sagemakerNames(prefix: string, environment: string, endpoint: string, digest: string): SageMakerNames {
  const short = digest.slice(0, 12);
  return {
    endpointName: sagemakerName(prefix, environment, endpoint),
    modelName: sagemakerName(prefix, environment, endpoint, short),
    endpointConfigName: sagemakerName(prefix, environment, endpoint, short),
  };
}

/** What Register stored for a commit and Deploy hands to SageMaker. */
export interface PinnedArtifacts {
  readonly model: PinnedModel;
  readonly prompts: Readonly<Record<string, string>>;
  readonly configs: Readonly<Record<string, string>>;
}

export function envName(kind: 'PROMPT' | 'CONFIG', name: string): string {
  return `BALLAST_${kind}_${name.toUpperCase().replace(/[^A-Z0-9]/g, '_')}`;
}

/** What the API inputs need of a release (also satisfied by a ResolvedEndpoint's parts). */
export type Deployable = Pick<Release, 'name' | 'environment' | 'digest' | 'target' | 'rollout' | 'alarms'> & {
  readonly model: Pick<Release['model'], 'name' | 'spec' | 'secrets'>;
};

/** The tag that says Ballast owns a resource: cleanup deletes nothing without it. */
export const MANAGED_TAG = { Key: 'ballast:managed', Value: 'true' } as const satisfies Tag;

export function tags(resolved: Deployable, commit: string): Tag[] {
  return [
    { ...MANAGED_TAG },
    { Key: 'ballast:environment', Value: resolved.environment.name },
    { Key: 'ballast:endpoint', Value: resolved.name },
    { Key: 'ballast:commit', Value: commit },
    { Key: 'ballast:digest', Value: resolved.digest },
  ];
}

/**
 * The Model: the user's image and artifact, with each prompt and config handed over as an
 * environment variable naming its pinned, content-addressed S3 object, and each secret as a
 * variable naming its ARN (the container reads the value from Secrets Manager with the execution
 * role's permission). Only a secret the Model declares with `delivery: environment` is handed over
 * as its value, from `secretValues`: DescribeModel then shows it, as the README says.
 *
 * An archive is `ModelDataUrl` (a single .tar.gz, SageMaker API Reference, ContainerDefinition);
 * a directory is `ModelDataSource.S3DataSource` with `S3DataType: S3Prefix` and
 * `CompressionType: None` (S3ModelDataSource: every object under the prefix becomes a file under
 * /opt/ml/model, named by the rest of its key; the prefix ends with "/").
 */
export function modelInput(
  resolved: Deployable,
  names: SageMakerNames,
  pinned: PinnedArtifacts,
  commit: string,
  executionRoleArn: string,
  secretValues: Readonly<Record<string, string>> = {},
): CreateModelCommandInput {
  const environment = containerEnvironment(resolved, pinned, commit, secretValues);
  const data =
    pinned.model.form === 'archive'
      ? { ModelDataUrl: pinned.model.modelDataUrl }
      : {
          ModelDataSource: {
            S3DataSource: {
              S3Uri: pinned.model.s3Prefix,
              S3DataType: 'S3Prefix' as const,
              CompressionType: 'None' as const,
            },
          },
        };
  return {
    ModelName: names.modelName,
    ExecutionRoleArn: executionRoleArn,
    PrimaryContainer: { Image: resolved.model.spec.image, ...data, Environment: environment },
    Tags: tags(resolved, commit),
  };
}

/**
 * The container's environment, the same on SageMaker and EKS: the Model's variables, Ballast's
 * own (environment, endpoint, commit, digest), each pinned prompt and config as the S3 URI of its
 * content-addressed copy, each secret as its ARN (or, `delivery: environment`, its value).
 */
export function containerEnvironment(
  resolved: Deployable,
  pinned: PinnedArtifacts,
  commit: string,
  secretValues: Readonly<Record<string, string>> = {},
): Record<string, string> {
  const environment: Record<string, string> = {
    ...resolved.model.spec.environment,
    BALLAST_ENVIRONMENT: resolved.environment.name,
    BALLAST_ENDPOINT: resolved.name,
    BALLAST_COMMIT: commit,
    BALLAST_DIGEST: resolved.digest,
  };
  for (const [name, uri] of Object.entries(pinned.prompts)) environment[envName('PROMPT', name)] = uri;
  for (const [name, uri] of Object.entries(pinned.configs)) environment[envName('CONFIG', name)] = uri;
  for (const secret of resolved.model.secrets) {
    if (secret.delivery === 'reference') {
      environment[secret.env] = secret.secretArn;
      continue;
    }
    const value = secretValues[secret.env];
    if (value === undefined) throw new Error(`the value of ${secret.env} (${secret.secretArn}) was not read`);
    environment[secret.env] = value;
  }
  return environment;
}

export function endpointConfigInput(
  resolved: Deployable,
  names: SageMakerNames,
  commit: string,
): CreateEndpointConfigCommandInput {
  if (resolved.target.kind !== 'sagemaker') throw new Error(`${resolved.name} is not a SageMaker endpoint`);
  return {
    EndpointConfigName: names.endpointConfigName,
    ProductionVariants: [
      {
        VariantName: resolved.target.variantName,
        ModelName: names.modelName,
        InstanceType: resolved.target.instanceType as never,
        InitialInstanceCount: resolved.target.instanceCount,
        InitialVariantWeight: 1,
      },
    ],
    Tags: tags(resolved, commit),
  };
}

/**
 * The blue/green DeploymentConfig for an Endpoint's rollout. `bakeSeconds` is the bake after all
 * traffic has moved (TerminationWaitInSeconds: the old fleet stays up, alarms watched, ready for a
 * rollback); canary rollouts also bake the canary for `bakeSeconds` (WaitIntervalInSeconds), and
 * linear rollouts wait `linear.intervalSeconds` between steps. (SageMaker Developer Guide,
 * "All at once traffic shifting": the all-at-once baking period is TerminationWaitInSeconds.)
 *
 * Canary and linear sizes go to SageMaker as whole instances (CapacitySize INSTANCE_COUNT), the
 * declared percent of the instance count rounded up: SageMaker's documentation says the canary
 * must be at most 50% and a linear step 10-50% "of the variant's total instance count", but not
 * how it rounds a percent that is not a whole instance, so Ballast decides and Validate checks
 * the result (lambdas/spec/instances.ts).
 */
export function deploymentConfig(rollout: Rollout, alarms: readonly string[], instanceCount: number): DeploymentConfig {
  const traffic =
    rollout.strategy === 'canary'
      ? {
          Type: 'CANARY' as const,
          CanarySize: {
            Type: 'INSTANCE_COUNT' as const,
            Value: canarySizeInstances(instanceCount, rollout.canary.percent),
          },
          WaitIntervalInSeconds: rollout.bakeSeconds,
        }
      : rollout.strategy === 'linear'
        ? {
            Type: 'LINEAR' as const,
            LinearStepSize: {
              Type: 'INSTANCE_COUNT' as const,
              Value: linearStepInstances(instanceCount, rollout.linear.stepPercent),
            },
            WaitIntervalInSeconds: rollout.linear.intervalSeconds,
          }
        : { Type: 'ALL_AT_ONCE' as const, WaitIntervalInSeconds: 0 };
  return {
    BlueGreenUpdatePolicy: {
      TrafficRoutingConfiguration: traffic,
      TerminationWaitInSeconds: rollout.bakeSeconds,
      MaximumExecutionTimeoutInSeconds: rollout.timeoutSeconds,
    },
    ...(alarms.length > 0 ? { AutoRollbackConfiguration: { Alarms: alarms.map((AlarmName) => ({ AlarmName })) } } : {}),
  };
}

/** Time SageMaker typically needs to provision a new fleet before traffic moves. */
export const PROVISIONING_SECONDS = 480;

/** How long the traffic shifting and baking of a rollout takes once the new fleet is up. */
export function shiftingSeconds(rollout: Rollout): number {
  switch (rollout.strategy) {
    case 'canary':
      return rollout.bakeSeconds * 2;
    case 'linear':
      return Math.ceil(100 / rollout.linear.stepPercent) * rollout.linear.intervalSeconds + rollout.bakeSeconds;
    default:
      return rollout.bakeSeconds;
  }
}

/**
 * When to look again. The workflow does not poll every few seconds: it sleeps until the rollout
 * should have settled (from its known phases), then checks with a growing interval. A one-hour
 * canary costs a handful of state transitions, and never more than the timeout allows.
 */
export function nextCheckSeconds(
  rollout: Rollout,
  elapsedSeconds: number,
  checks: number,
  operation: 'create' | 'update' | 'weights' = 'update',
): number {
  // CreateEndpoint shifts no traffic: the endpoint is InService once its fleet is up. A weights
  // update changes the live fleet in place: no new fleet, no traffic shifting.
  const expected =
    operation === 'weights'
      ? WEIGHTS_SECONDS
      : PROVISIONING_SECONDS + (operation === 'create' ? 0 : shiftingSeconds(rollout));
  const remaining = expected - elapsedSeconds;
  if (remaining > 60) return Math.min(Math.ceil(remaining), 3600);
  return Math.min(60 * 2 ** Math.min(checks, 4), 900);
}

/**
 * What UpdateEndpointWeightsAndCapacities typically takes: a weight moves at once; a count the
 * instances already run settles in about a minute (a scale-out provisions, and takes longer, which
 * the growing check interval and Wake cover).
 */
export const WEIGHTS_SECONDS = 60;

/** Checks are bounded: past the rollout's own timeout plus provisioning, the rollout has failed. */
export function checkBudgetSeconds(rollout: Rollout): number {
  return rollout.timeoutSeconds + PROVISIONING_SECONDS * 2;
}

export type EndpointReading =
  | { readonly settled: false; readonly phase: string; readonly trafficToNew?: number }
  | {
      readonly settled: true;
      readonly outcome: 'deployed' | 'rolled-back' | 'failed' | 'replaced';
      readonly reason?: string;
      readonly liveEndpointConfigName?: string;
    };

/**
 * Reads DescribeEndpoint after a rollout. SageMaker's auto-rollback is silent: the endpoint ends
 * InService on the *previous* endpoint configuration with no failure status, so "InService" alone
 * proves nothing. Only InService on the configuration this rollout created counts as deployed.
 */
export function readEndpoint(
  endpoint: Pick<
    DescribeEndpointCommandOutput,
    'EndpointStatus' | 'EndpointConfigName' | 'FailureReason' | 'PendingDeploymentSummary' | 'ProductionVariants'
  >,
  expectedConfigName: string,
): EndpointReading {
  const status = endpoint.EndpointStatus;
  switch (status) {
    case 'InService':
      if (endpoint.EndpointConfigName === expectedConfigName) {
        return { settled: true, outcome: 'deployed', liveEndpointConfigName: expectedConfigName };
      }
      return {
        settled: true,
        outcome: 'rolled-back',
        reason: `SageMaker rolled the endpoint back to ${endpoint.EndpointConfigName ?? 'its previous configuration'}${
          endpoint.FailureReason
            ? `: ${endpoint.FailureReason}`
            : ' (an auto-rollback alarm fired or the update failed)'
        }`,
        ...(endpoint.EndpointConfigName ? { liveEndpointConfigName: endpoint.EndpointConfigName } : {}),
      };
    case 'Failed':
      return {
        settled: true,
        outcome: 'failed',
        reason: endpoint.FailureReason ?? 'the endpoint failed',
        ...(endpoint.EndpointConfigName ? { liveEndpointConfigName: endpoint.EndpointConfigName } : {}),
      };
    default: {
      const pendingConfig = endpoint.PendingDeploymentSummary?.EndpointConfigName;
      if (pendingConfig !== undefined && pendingConfig !== expectedConfigName) {
        // Another UpdateEndpoint is rolling out now: this rollout is over, whatever it did.
        return {
          settled: true,
          outcome: 'replaced',
          reason: `the endpoint is updating to ${pendingConfig} instead`,
          ...(endpoint.EndpointConfigName ? { liveEndpointConfigName: endpoint.EndpointConfigName } : {}),
        };
      }
      // Blue/green traffic shifting moves capacity, not variant weights: both fleets keep their
      // variant weight while the green fleet's active capacity grows (CAPACITY_PERCENT steps), so
      // the share on the new version is the green fleet's serving instances over its desired ones
      // (PendingDeploymentSummary.ProductionVariants: CurrentInstanceCount, DesiredInstanceCount).
      const pending = endpoint.PendingDeploymentSummary?.ProductionVariants ?? [];
      const serving = pending.reduce((sum, v) => sum + (v.CurrentInstanceCount ?? 0), 0);
      const desired = pending.reduce((sum, v) => sum + (v.DesiredInstanceCount ?? 0), 0);
      return {
        settled: false,
        phase: status ?? 'Unknown',
        ...(desired > 0 ? { trafficToNew: Math.round((Math.min(serving, desired) / desired) * 100) } : {}),
      };
    }
  }
}

/** What Deploy does next, from DescribeEndpoint (undefined: the endpoint does not exist). */
export type DeployAction =
  /** No endpoint yet: CreateEndpoint. */
  | { readonly action: 'create' }
  /** InService on another configuration: UpdateEndpoint, replacing `previous`. */
  | { readonly action: 'update'; readonly previous: string }
  /** Already InService on this configuration: nothing to start, go verify. */
  | { readonly action: 'live' }
  /** This configuration's creation or update is already running (a retried Deploy, a lost response). */
  | { readonly action: 'follow'; readonly previous?: string }
  /** Busy with another rollout (or being deleted): wait, then decide again. */
  | { readonly action: 'wait'; readonly status: string }
  /** A Failed endpoint (only a failed creation leaves one): delete it, then create it again. */
  | { readonly action: 'recreate'; readonly reason?: string };

/**
 * Decides Deploy's action. Only InService is a state SageMaker accepts UpdateEndpoint in; only the
 * pending deployment (PendingDeploymentSummary) says which configuration an update is rolling out.
 * While an update runs, EndpointConfigName still names the old configuration, so "the current
 * configuration is ours" means nothing then: a revert pushed during a rollout has the old
 * configuration's name, and must wait for the running update to end and then update again.
 * (SageMaker API Reference, DescribeEndpoint: EndpointStatus, PendingDeploymentSummary.)
 */
export function decideDeploy(
  current:
    | Pick<
        DescribeEndpointCommandOutput,
        'EndpointStatus' | 'EndpointConfigName' | 'FailureReason' | 'PendingDeploymentSummary'
      >
    | undefined,
  endpointConfigName: string,
): DeployAction {
  if (!current) return { action: 'create' };
  const status = current.EndpointStatus ?? 'Unknown';
  const previous = current.EndpointConfigName;
  switch (status) {
    case 'InService':
      if (previous === endpointConfigName) return { action: 'live' };
      return previous ? { action: 'update', previous } : { action: 'wait', status };
    case 'Failed':
      return { action: 'recreate', ...(current.FailureReason ? { reason: current.FailureReason } : {}) };
    case 'Creating':
      return previous === endpointConfigName ? { action: 'follow' } : { action: 'wait', status };
    default:
      // Updating, SystemUpdating, RollingBack, UpdateRollbackFailed, Deleting, OutOfService, ...
      if (current.PendingDeploymentSummary?.EndpointConfigName === endpointConfigName) {
        return { action: 'follow', ...(previous && previous !== endpointConfigName ? { previous } : {}) };
      }
      return { action: 'wait', status };
  }
}

/** The drift report's pointers a heal repairs on the endpoint itself (lambdas/state/drift.ts names them). */
export const HEAL_PATHS = {
  managedTag: '/tags/ballast:managed',
  instanceCount: '/target/sagemaker/instanceCount',
  variantWeight: '/target/sagemaker/variantWeight',
} as const;

/** What a heal repairs in place on an endpoint that runs the release's EndpointConfig already. */
export interface InPlaceHeal {
  /**
   * AddTags `ballast:managed=true` on the endpoint. DescribeEndpoint does not show tags, and AddTags
   * overwrites a tag with the same value, so the tag is put back whenever the heal names it.
   */
  readonly tag: boolean;
  /**
   * UpdateEndpointWeightsAndCapacities for the release's variant, with only what the heal names and
   * the endpoint does not have already: a retried Deploy, or drift someone undid by hand, calls
   * nothing. A count the heal does not name is left alone (Application Auto Scaling may own it).
   */
  readonly weights?: DesiredWeightAndCapacity;
  /**
   * Pointers no in-place call repairs: while the endpoint runs the release's configuration, what
   * they name (its status, instance type, model, data capture...) comes with that configuration.
   */
  readonly ignored: readonly string[];
}

/**
 * Decides what a heal repairs in place, from DescribeEndpoint's variants (the values SageMaker is
 * moving to, `Desired*`, else the current ones) and the release's target: its instance count, and
 * weight 1 for its one variant (endpointConfigInput's InitialVariantWeight).
 */
export function healInPlace(
  current: Pick<DescribeEndpointCommandOutput, 'ProductionVariants'>,
  target: { readonly variantName: string; readonly instanceCount: number },
  paths: readonly string[],
): InPlaceHeal {
  const variant = current.ProductionVariants?.find((v) => v.VariantName === target.variantName);
  const count = variant?.DesiredInstanceCount ?? variant?.CurrentInstanceCount;
  const weight = variant?.DesiredWeight ?? variant?.CurrentWeight;
  const fixCount = paths.includes(HEAL_PATHS.instanceCount) && variant !== undefined && count !== target.instanceCount;
  const fixWeight = paths.includes(HEAL_PATHS.variantWeight) && variant !== undefined && weight !== 1;
  const repairable = (path: string) =>
    path === HEAL_PATHS.managedTag ||
    (variant !== undefined && (path === HEAL_PATHS.instanceCount || path === HEAL_PATHS.variantWeight));
  return {
    tag: paths.includes(HEAL_PATHS.managedTag),
    ...(fixCount || fixWeight
      ? {
          weights: {
            VariantName: target.variantName,
            ...(fixCount ? { DesiredInstanceCount: target.instanceCount } : {}),
            ...(fixWeight ? { DesiredWeight: 1 } : {}),
          },
        }
      : {}),
    ignored: paths.filter((path) => !repairable(path)),
  };
}
