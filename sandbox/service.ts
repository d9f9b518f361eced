import type { VirtualClock } from './clock.ts';
import type { EventBus } from './events.ts';

/** A request as the sandbox server hands it to a service: already read, not yet interpreted. */
export interface SandboxRequest {
  readonly method: string;
  /** The raw, still percent-encoded path (S3 keys need the exact encoding). */
  readonly rawPath: string;
  readonly query: URLSearchParams;
  /** Lower-cased header names. */
  readonly headers: Readonly<Record<string, string>>;
  readonly body: Buffer;
}

export interface SandboxResponse {
  readonly status: number;
  readonly headers?: Readonly<Record<string, string>>;
  readonly body?: string | Buffer;
}

/** What every service can reach: simulated time, the event bus, the sandbox's identity. */
export interface ServiceContext {
  readonly clock: VirtualClock;
  readonly events: EventBus;
  readonly account: string;
  readonly region: string;
}

/**
 * One emulated AWS service. The server picks the service from the request's SigV4 credential scope
 * (the signing name), asks it which operation the request is (for the request log and fault
 * injection), then lets it answer in its own wire protocol.
 */
export interface SandboxService {
  /** The SigV4 signing name: `s3`, `sagemaker`, `monitoring` (CloudWatch), `codecommit`. */
  readonly signingName: string;
  /** The X-Amz-Target prefix for JSON protocols (`SageMaker`, `CodeCommit_20150413`, …). */
  readonly targetPrefix?: string;
  /**
   * For services that share a signing name (SageMaker and SageMaker Runtime both sign as `sagemaker`):
   * whether this request is this service's. A service without it takes the requests no other claims.
   */
  matches?(request: SandboxRequest): boolean;
  operationOf(request: SandboxRequest): string;
  handle(request: SandboxRequest, operation: string): Promise<SandboxResponse>;
  /** The answer for an injected fault, in this service's protocol (throttling or a 5xx). */
  faultResponse(kind: 'throttle' | 'server-error', operation: string): SandboxResponse;
  /** Called when simulated time moves, so time-driven state (endpoint rollouts) can settle and emit events. */
  tick?(): void;
}

/** An error a service returns to the caller, in the service's protocol, with AWS's error code. */
export class AwsServiceError extends Error {
  override readonly name = 'AwsServiceError';
  constructor(
    readonly code: string,
    message: string,
    readonly status = 400,
    /** `Sender` (the caller's fault) or `Receiver` (the service's). */
    readonly fault: 'Sender' | 'Receiver' = status >= 500 ? 'Receiver' : 'Sender',
  ) {
    super(message);
  }
}

/**
 * What SageMaker's AutoRollbackConfiguration needs to know about CloudWatch alarms. The CloudWatch
 * service implements it from its alarm state history (in simulated time), so the SageMaker service
 * can decide, for any bake window, whether a guarding alarm fired.
 */
export interface AlarmStateReader {
  exists(alarmName: string): boolean;
  /** True when the alarm was in ALARM at any instant of [fromMs, toMs] (simulated epoch ms). */
  wasInAlarm(alarmName: string, fromMs: number, toMs: number): boolean;
}

/**
 * What SageMaker's fleet provisioning needs to know about S3: whether the model data a container names
 * can be downloaded. The S3 service implements it from its own store, so the SageMaker service can fail
 * a fleet whose model data is missing, as AWS does, without knowing anything else about S3.
 */
export interface ModelDataReader {
  /** The region of a bucket, or undefined when there is no such bucket. */
  bucketRegion(bucket: string): string | undefined;
  /** True when the key's current version is an object (not absent, not a delete marker). */
  objectExists(bucket: string, key: string): boolean;
  /** True when at least one current object's key starts with `prefix`. */
  hasObjectsUnder(bucket: string, prefix: string): boolean;
}

/**
 * How a sandbox service publishes the metrics AWS publishes for it (SageMaker's invocation metrics in
 * `AWS/SageMaker`) and has CloudWatch's alarms evaluated as time passes. The CloudWatch service
 * implements it; the publisher walks simulated time period by period, so that when the clock jumps,
 * every period's datapoints arrive in order and each alarm transition is recorded at the period end
 * where CloudWatch would have made it (what SageMaker's auto-rollback reads through AlarmStateReader).
 */
export interface MetricSink {
  /**
   * PutMetricData as the awsJson body (`Timestamp` in epoch seconds), with the same validation, into
   * any namespace including `AWS/…` (which callers cannot write to). Evaluates no alarm by itself.
   */
  putServiceMetricData(input: Record<string, unknown>): void;
  /** Evaluates every metric alarm as of `atMs` (simulated epoch ms, at most now); transitions happen then. */
  evaluateAlarmsAt(atMs: number): void;
}

/** A configured background load: synthetic InvokeEndpoint requests without a client. */
export interface BackgroundLoad {
  readonly endpointName: string;
  readonly requestsPerMinute: number;
}

/** What the control API (`/_ballast/sagemaker/load`) needs from the SageMaker sandbox. */
export interface BackgroundLoadControl {
  setLoad(endpointName: string, requestsPerMinute: number): BackgroundLoad;
  loads(): readonly BackgroundLoad[];
}
