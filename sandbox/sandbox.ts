import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { VirtualClock } from './clock.ts';
import { EventBus } from './events.ts';
import { FaultInjector } from './faults.ts';
import { RequestLog } from './request-log.ts';
import { SandboxServer } from './server.ts';
import type { ServiceContext } from './service.ts';
import {
  type ApplicationAutoScalingSandbox,
  createApplicationAutoScalingService,
} from './services/applicationautoscaling.ts';
import { type CloudWatchSandbox, createCloudWatchService } from './services/cloudwatch.ts';
import { type CodeCommitSandbox, createCodeCommitService } from './services/codecommit.ts';
import { createEventBridgeService, type EventBridgeSandbox } from './services/eventbridge.ts';
import { createS3Service, type S3Sandbox } from './services/s3.ts';
import { createSageMakerService, type SageMakerSandbox } from './services/sagemaker.ts';
import { createSecretsManagerService, type SecretsManagerSandbox } from './services/secretsmanager.ts';
import { createSnsService, type SnsSandbox } from './services/sns.ts';
import { createStepFunctionsService, type StepFunctionsSandbox } from './services/stepfunctions.ts';

export interface SandboxOptions {
  /** Port on 127.0.0.1; 0 picks a free one. @default 0 */
  readonly port?: number;
  /**
   * Simulated seconds per wall-clock second. The default makes a 6-minute endpoint creation take
   * about half a second of wall time; 1 runs in real time.
   * @default 600
   */
  readonly timeScale?: number;
  /** The account the sandbox pretends to be (ARNs, events). @default '111122223333' */
  readonly account?: string;
  /** @default 'us-east-1' */
  readonly region?: string;
  /** Where CodeCommit repositories live. @default a temporary directory, removed on stop */
  readonly reposDir?: string;
  /** Simulated start time. @default now */
  readonly start?: Date;
}

/** A running sandbox: one HTTP endpoint for every service Ballast uses. */
export interface Sandbox {
  readonly url: string;
  readonly account: string;
  readonly region: string;
  readonly clock: VirtualClock;
  readonly events: EventBus;
  readonly faults: FaultInjector;
  readonly requests: RequestLog;
  readonly s3: S3Sandbox;
  /** SageMaker and, as `sagemaker.runtime`, SageMaker Runtime; `sagemaker.setLoad` gives an endpoint background traffic. */
  readonly sagemaker: SageMakerSandbox;
  readonly cloudwatch: CloudWatchSandbox;
  readonly codecommit: CodeCommitSandbox;
  readonly secretsmanager: SecretsManagerSandbox;
  /** Step Functions: executions of the workflows LocalPipeline binds (and of state machines created through the API). */
  readonly stepfunctions: StepFunctionsSandbox;
  /** SNS: topics and the messages published to them (nothing is delivered). */
  readonly sns: SnsSandbox;
  /** EventBridge PutEvents: accepted entries go onto `events`, the default bus. */
  readonly eventbridge: EventBridgeSandbox;
  /** Application Auto Scaling's scalable targets (what tells the reconciler a variant's count is autoscaled). */
  readonly applicationautoscaling: ApplicationAutoScalingSandbox;
  /**
   * The environment variables that point any AWS SDK or the AWS CLI at the sandbox (the SDK's
   * standard `AWS_ENDPOINT_URL`, dummy credentials, the region).
   */
  env(): Record<string, string>;
  stop(): Promise<void>;
}

export async function startSandbox(options: SandboxOptions = {}): Promise<Sandbox> {
  const account = options.account ?? '111122223333';
  const region = options.region ?? 'us-east-1';
  const clock = new VirtualClock(options.timeScale ?? 600, options.start ?? new Date());
  const events = new EventBus(account, region, () => clock.now());
  const ctx: ServiceContext = { clock, events, account, region };
  const ownReposDir = options.reposDir === undefined;
  const reposDir = options.reposDir ?? (await mkdtemp(join(tmpdir(), 'ballast-sandbox-repos-')));

  const s3 = createS3Service(ctx);
  const cloudwatch = createCloudWatchService(ctx);
  // SageMaker reads S3 only through the narrow ModelDataReader (does the model data exist, in which
  // region), the way its AutoRollbackConfiguration reads CloudWatch through AlarmStateReader, and
  // publishes its invocation metrics through MetricSink.
  const sagemaker = createSageMakerService(ctx, { alarms: cloudwatch, modelData: s3, metrics: cloudwatch });
  const codecommit = createCodeCommitService(ctx, { reposDir });
  await codecommit.ready();
  const secretsmanager = createSecretsManagerService(ctx);
  const stepfunctions = createStepFunctionsService(ctx);
  const sns = createSnsService(ctx);
  const eventbridge = createEventBridgeService(ctx);
  const applicationautoscaling = createApplicationAutoScalingService(ctx);

  const faults = new FaultInjector();
  const requests = new RequestLog();
  const server = new SandboxServer({
    // SageMaker ticks before CloudWatch (see SandboxServer).
    services: [
      s3,
      sagemaker,
      sagemaker.runtime,
      cloudwatch,
      codecommit,
      secretsmanager,
      stepfunctions,
      sns,
      eventbridge,
      applicationautoscaling,
    ],
    clock,
    events,
    faults,
    requests,
    sns,
    load: sagemaker,
  });
  const url = await server.listen(options.port ?? 0);

  return {
    url,
    account,
    region,
    clock,
    events,
    faults,
    requests,
    s3,
    sagemaker,
    cloudwatch,
    codecommit,
    secretsmanager,
    stepfunctions,
    sns,
    eventbridge,
    applicationautoscaling,
    env: () => sandboxEnv(url, region),
    stop: async () => {
      codecommit.close();
      await server.close();
      if (ownReposDir) await rm(reposDir, { recursive: true, force: true });
    },
  };
}

/** What to export so that AWS clients talk to a sandbox at `url`. */
export function sandboxEnv(url: string, region = 'us-east-1'): Record<string, string> {
  return {
    AWS_ENDPOINT_URL: url,
    AWS_REGION: region,
    AWS_DEFAULT_REGION: region,
    AWS_ACCESS_KEY_ID: 'ballast-sandbox',
    AWS_SECRET_ACCESS_KEY: 'ballast-sandbox',
    // Keep the SDK from reading the user's real profile or reaching the instance metadata service.
    AWS_EC2_METADATA_DISABLED: 'true',
  };
}
