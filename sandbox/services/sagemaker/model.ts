/**
 * Records, timings and small helpers shared by the SageMaker sandbox modules. Nothing here knows about
 * the wire protocol; `sagemaker.ts` turns these records into AWS's JSON shapes.
 */

/**
 * How long (in simulated time) each asynchronous step of the emulated SageMaker control plane takes.
 * Defaults are close to what AWS takes for a small real-time endpoint; tests usually keep them and
 * advance the clock, or shrink them through `deps.timings`.
 */
export interface SageMakerTimings {
  /** CreateEndpoint: `Creating` until `InService` (or `Failed`). AWS typically needs 5–10 minutes. */
  readonly createMs: number;
  /** UpdateEndpoint: provisioning the green fleet (variant status `Creating`) before any traffic moves. */
  readonly provisionMs: number;
  /** Turning traffic on for one batch of the green fleet (variant status `ActivatingTraffic`). */
  readonly activateTrafficMs: number;
  /** Terminating the blue fleet after the final bake (variant status `Deleting`), still `Updating`. */
  readonly terminateMs: number;
  /** A rollback: traffic is back on blue at once; tearing the green fleet down takes this long. */
  readonly rollbackMs: number;
  /** UpdateEndpointWeightsAndCapacities: `Updating` until `InService`. */
  readonly weightsAndCapacitiesMs: number;
  /** DeleteEndpoint: `Deleting` until the endpoint is gone. */
  readonly deleteMs: number;
  /** How often the guarding CloudWatch alarms are checked during a baking period. */
  readonly alarmPollMs: number;
}

export const DEFAULT_TIMINGS: SageMakerTimings = {
  createMs: 6 * 60_000,
  provisionMs: 6 * 60_000,
  activateTrafficMs: 30_000,
  terminateMs: 60_000,
  rollbackMs: 60_000,
  weightsAndCapacitiesMs: 60_000,
  deleteMs: 60_000,
  alarmPollMs: 10_000,
};

/**
 * Put `SANDBOX_FAIL=startup` in a model container's `Environment` to make every fleet that runs
 * the model fail its health check: CreateEndpoint ends `Failed`, UpdateEndpoint rolls back to the old
 * fleet. The variable means nothing to AWS (it reaches the container as a plain environment variable).
 */
export const FAIL_ENV = 'SANDBOX_FAIL';

export interface Tag {
  readonly Key: string;
  readonly Value: string;
}

export type Json = Record<string, unknown>;

export interface ModelRecord {
  readonly name: string;
  readonly arn: string;
  readonly creationMs: number;
  /** The request as given (PrimaryContainer, Containers, ExecutionRoleArn, VpcConfig, …). */
  readonly input: Json;
  tags: Tag[];
}

export interface VariantConfig {
  readonly VariantName: string;
  readonly ModelName?: string;
  readonly InitialInstanceCount?: number;
  readonly InstanceType?: string;
  readonly InitialVariantWeight?: number;
  readonly ServerlessConfig?: Json;
  readonly [key: string]: unknown;
}

export interface EndpointConfigRecord {
  readonly name: string;
  readonly arn: string;
  readonly creationMs: number;
  readonly input: Json;
  readonly variants: readonly VariantConfig[];
  tags: Tag[];
}

export interface DeployedImage {
  readonly SpecifiedImage: string;
  readonly ResolvedImage: string;
  readonly ResolutionTimeMs: number;
}

/**
 * Where one container's model data lives, as SageMaker downloads it when a fleet is provisioned:
 * an object (ModelDataUrl, or ModelDataSource with S3Object) or every object under a key prefix
 * (ModelDataSource with S3Prefix). Only `s3://` locations are recorded; https URLs are not checked.
 */
export interface ModelDataLocation {
  /** How SageMaker names the container in its messages: `container_1` for the first one. */
  readonly container: string;
  readonly uri: string;
  readonly bucket: string;
  /** The object key, or the key prefix (ends with `/`). */
  readonly key: string;
  readonly kind: 'object' | 'prefix';
}

/** One production variant of one fleet (blue or green) as the endpoint runs it. */
export interface FleetVariant {
  readonly name: string;
  readonly modelName: string;
  readonly instanceType?: string;
  readonly serverless: boolean;
  /** The weight and instance count the fleet was asked for. */
  desiredWeight: number;
  desiredInstanceCount: number;
  /** What is live right now (they differ from the desired values while a change is in progress). */
  currentWeight: number;
  currentInstanceCount: number;
  readonly images: readonly DeployedImage[];
  /** The model data every container downloads when the fleet is provisioned. */
  readonly modelData: readonly ModelDataLocation[];
  /** The model carries `SANDBOX_FAIL=startup`: its containers never pass the ping health check. */
  readonly failsStartup: boolean;
  /** How the model answers requests (SANDBOX_ERROR_RATE, SANDBOX_LATENCY_MS, …; see behaviour.ts). */
  readonly behaviour: import('./behaviour.ts').ModelBehaviour;
  /** Whether the model uses features that exclude the endpoint from deployment guardrails. */
  readonly multiContainer: boolean;
  readonly networkIsolation: boolean;
}

export interface Fleet {
  readonly configName: string;
  readonly variants: FleetVariant[];
  /** From the endpoint config: KMS key or data capture, both exclusions from deployment guardrails. */
  readonly excludedFeatures: readonly string[];
}

export interface VariantStatusEntry {
  readonly Status: 'Creating' | 'Updating' | 'Deleting' | 'ActivatingTraffic' | 'Baking';
  readonly StatusMessage: string;
  readonly StartTimeMs: number;
}

export type EndpointStatus = 'Creating' | 'InService' | 'Updating' | 'Failed' | 'Deleting';

export interface EndpointRecord {
  readonly name: string;
  readonly arn: string;
  readonly creationMs: number;
  lastModifiedMs: number;
  status: EndpointStatus;
  /** The EndpointConfigName DescribeEndpoint reports: the live fleet's (or, while creating, the requested) config. */
  configName: string;
  failureReason?: string;
  /** The fleet serving traffic (blue). Undefined while creating and after a failed creation. */
  live?: Fleet;
  /** The deployment configuration given to the last CreateEndpoint/UpdateEndpoint (LastDeploymentConfig). */
  lastDeploymentConfig?: Json;
  tags: Tag[];
  operation?: import('./rollout.ts').Operation;
}

export type ResourceKind = 'model' | 'endpoint-config' | 'endpoint';

/** SageMaker ARNs carry the resource name in lower case (names are case-insensitive for uniqueness). */
export function arnOf(kind: ResourceKind, name: string, region: string, account: string): string {
  return `arn:aws:sagemaker:${region}:${account}:${kind}/${name.toLowerCase()}`;
}

/** Epoch seconds, the awsJson timestamp format. */
export function epochSeconds(ms: number): number {
  return ms / 1000;
}
