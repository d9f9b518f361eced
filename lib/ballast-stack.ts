import { CfnOutput, Stack, type StackProps } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as kms from 'aws-cdk-lib/aws-kms';
import type * as logs from 'aws-cdk-lib/aws-logs';
import * as s3 from 'aws-cdk-lib/aws-s3';
import type * as sns from 'aws-cdk-lib/aws-sns';
import * as subscriptions from 'aws-cdk-lib/aws-sns-subscriptions';
import type { Construct } from 'constructs';
import { AlarmTopic } from './alarm-topic.ts';
import { ArtifactStore, type ArtifactStoreProps } from './artifact-store.ts';
import { BallastDashboard } from './ballast-dashboard.ts';
import { CodeCommitSource } from './codecommit-source.ts';
import { DeployWorkflow, defaultDeployStateMachineName } from './deploy-workflow.ts';
import { GitHubWebhook } from './github-webhook.ts';
import { ReconcileWorkflow } from './reconcile-workflow.ts';
import { RollbackWorkflow } from './rollback-workflow.ts';
import { RolloutWake } from './rollout-wake.ts';
import { SageMakerExecutionRole } from './sagemaker-execution-role.ts';
import type { SourceConfig } from './source-config.ts';
import { WorkflowFunctions } from './workflow-functions.ts';

export interface BallastStackProps extends StackProps {
  /** The model repository Ballast watches. */
  readonly source: SourceConfig;
  /**
   * Prefix of every AWS resource Ballast creates on the user's behalf (SageMaker models, endpoint
   * configs, endpoints). IAM permissions are scoped to it, so Ballast cannot touch anything else.
   * @default 'ballast'
   */
  readonly resourcePrefix?: string;
  /**
   * Settings for the system-of-record bucket.
   * @default - see {@link ArtifactStoreProps}
   */
  readonly artifactStore?: ArtifactStoreProps;
  /**
   * Buckets holding the model artifacts that Model specs point at (`s3://bucket/key`), as buckets
   * or bucket names. Ballast reads an artifact there once, verifies its sha256, and copies it into
   * its own store; only these buckets can be read.
   * @default - none: registering an artifact from any bucket fails with AccessDenied until it is listed
   */
  readonly artifactSourceBuckets?: ReadonlyArray<s3.IBucket | string>;
  /**
   * Customer managed KMS keys (keys or key ARNs) of SSE-KMS encrypted artifact source buckets:
   * Ballast may decrypt with them through S3 only, to verify and copy artifacts.
   * @default - none: SSE-S3 and aws/s3 encrypted buckets need no grant
   */
  readonly artifactKmsKeys?: ReadonlyArray<kms.IKey | string>;
  /**
   * The prefix of the Secrets Manager secrets Models may declare in `spec.secrets` (for example
   * `acme-ml/`): the SageMaker execution role may read exactly these, and Validate refuses a Model
   * that names any other.
   * @default - none: Models may declare no secrets
   */
  readonly secretPrefix?: string;
  /**
   * Customer managed KMS keys (keys or key ARNs) those secrets are encrypted with.
   * @default - none: secrets encrypted with aws/secretsmanager need no grant
   */
  readonly secretKmsKeys?: ReadonlyArray<kms.IKey | string>;
  /**
   * Where Ballast's alarms notify (failed, timed-out or aborted deployments, undeliverable pushes).
   * @default - an encrypted topic is created when `alarmEmail` is set; otherwise alarms notify no one
   */
  readonly alarmTopic?: sns.ITopic;
  /**
   * An email address subscribed to the alarm topic (AWS mails it a confirmation link first). Without
   * `alarmTopic`, an encrypted topic is created for it.
   * @default - no subscription
   */
  readonly alarmEmail?: string;
  /**
   * How long the Lambda and Step Functions logs are kept.
   * @default logs.RetentionDays.ONE_MONTH
   */
  readonly logRetention?: logs.RetentionDays;
  /**
   * Minutes between the reconciler's ticks (1-60). Each tick only decides which environments are
   * due by their ballast.yaml `reconcile.intervalMinutes`, so this is the finest interval one can ask for.
   * @default 1
   */
  readonly reconcileTickMinutes?: number;
  /**
   * Whether the reconciler's schedule ticks. False deploys it disabled: no drift detection, no
   * self-heal, no missed pushes picked up, until it is enabled.
   * @default true
   */
  readonly reconcileEnabled?: boolean;
}

/**
 * The Ballast stack: one per AWS account and region that Ballast deploys into. It owns the
 * artifact/state store, the role SageMaker models run as, the deploy, rollback and reconcile
 * workflows and their functions, the source that starts the deploy workflow on a push (CodeCommit
 * events or a GitHub webhook), and a dashboard of them all.
 */
export class BallastStack extends Stack {
  public readonly store: ArtifactStore;
  public readonly source: SourceConfig;
  public readonly resourcePrefix: string;
  /** The prefix of the secrets Models may declare, when the stack lets them declare any. */
  public readonly secretPrefix?: string;
  public readonly sagemakerRole: SageMakerExecutionRole;
  public readonly functions: WorkflowFunctions;
  public readonly deployWorkflow: DeployWorkflow;
  public readonly rollbackWorkflow: RollbackWorkflow;
  /** Detects drift and missed pushes on a schedule, and heals through the deploy workflow. */
  public readonly reconcileWorkflow: ReconcileWorkflow;
  public readonly dashboard: BallastDashboard;
  /** Wakes deploy executions waiting on a SageMaker endpoint once SageMaker is done with it. */
  public readonly rolloutWake: RolloutWake;
  /** The alarm topic: the one given, or the one created for `alarmEmail`. */
  public readonly alarmTopic?: sns.ITopic;
  /** Set when the source is CodeCommit. */
  public readonly codeCommitSource?: CodeCommitSource;
  /** Set when the source is GitHub. */
  public readonly gitHubWebhook?: GitHubWebhook;

  constructor(scope: Construct, id: string, props: BallastStackProps) {
    super(scope, id, props);
    this.source = props.source;
    this.resourcePrefix = props.resourcePrefix ?? 'ballast';
    if (props.secretPrefix) this.secretPrefix = props.secretPrefix;
    this.store = new ArtifactStore(this, 'ArtifactStore', props.artifactStore);

    if (props.alarmTopic) {
      this.alarmTopic = props.alarmTopic;
      if (props.alarmEmail) props.alarmTopic.addSubscription(new subscriptions.EmailSubscription(props.alarmEmail));
    } else if (props.alarmEmail) {
      this.alarmTopic = new AlarmTopic(this, 'Alarms', { email: props.alarmEmail }).topic;
    }

    const keys = (list: ReadonlyArray<kms.IKey | string> | undefined, id: string) =>
      (list ?? []).map((key, index) =>
        typeof key === 'string' ? kms.Key.fromKeyArn(this, `${id}${index}`, key) : key,
      );
    const secretKmsKeys = keys(props.secretKmsKeys, 'SecretKey');
    // One name for the deploy state machine: the reconcile functions (built before it) start it by it.
    const deployStateMachineName = defaultDeployStateMachineName(this);
    this.sagemakerRole = new SageMakerExecutionRole(this, 'SageMakerExecutionRole', {
      bucket: this.store.bucket,
      resourcePrefix: this.resourcePrefix,
      ...(props.secretPrefix ? { secretPrefix: props.secretPrefix } : {}),
      secretKmsKeys,
    });
    this.functions = new WorkflowFunctions(this, 'Functions', {
      bucket: this.store.bucket,
      resourcePrefix: this.resourcePrefix,
      source: props.source,
      sagemakerRole: this.sagemakerRole.role,
      artifactSourceBuckets: (props.artifactSourceBuckets ?? []).map((bucket, index) =>
        typeof bucket === 'string' ? s3.Bucket.fromBucketName(this, `ArtifactSource${index}`, bucket) : bucket,
      ),
      artifactKmsKeys: keys(props.artifactKmsKeys, 'ArtifactKey'),
      ...(props.secretPrefix ? { secretPrefix: props.secretPrefix } : {}),
      secretKmsKeys,
      logRetention: props.logRetention,
      ...(this.alarmTopic ? { alarmTopic: this.alarmTopic } : {}),
      deployStateMachineName,
    });
    this.deployWorkflow = new DeployWorkflow(this, 'DeployWorkflow', {
      functions: this.functions.byStep,
      stateMachineName: deployStateMachineName,
      logRetention: props.logRetention,
      alarmTopic: this.alarmTopic,
    });
    this.rollbackWorkflow = new RollbackWorkflow(this, 'RollbackWorkflow', {
      functions: this.functions.rollbackByStep,
      checkRollout: this.functions.byStep.checkRollout,
      logRetention: props.logRetention,
      ...(this.alarmTopic ? { alarmTopic: this.alarmTopic } : {}),
    });
    this.reconcileWorkflow = new ReconcileWorkflow(this, 'ReconcileWorkflow', {
      functions: this.functions.reconcileByStep,
      tickMinutes: props.reconcileTickMinutes,
      enabled: props.reconcileEnabled,
      logRetention: props.logRetention,
      ...(this.alarmTopic ? { alarmTopic: this.alarmTopic } : {}),
    });
    this.rolloutWake = new RolloutWake(this, 'RolloutWake', {
      bucket: this.store.bucket,
      resourcePrefix: this.resourcePrefix,
      logRetention: props.logRetention,
      alarmTopic: this.alarmTopic,
    });

    if (props.source.type === 'codecommit') {
      this.codeCommitSource = new CodeCommitSource(this, 'CodeCommitSource', {
        repositoryName: props.source.repositoryName,
        createRepository: props.source.createRepository,
        stateMachine: this.deployWorkflow.stateMachine,
        alarmTopic: this.alarmTopic,
      });
    } else {
      this.gitHubWebhook = new GitHubWebhook(this, 'GitHubWebhook', {
        repository: props.source.repository,
        webhookSecretName: props.source.webhookSecretName,
        bucket: this.store.bucket,
        stateMachine: this.deployWorkflow.stateMachine,
        logRetention: props.logRetention,
      });
    }

    this.dashboard = new BallastDashboard(this, 'Dashboard', {
      deployStateMachine: this.deployWorkflow.stateMachine,
      rollbackStateMachine: this.rollbackWorkflow.stateMachine,
      reconcileStateMachine: this.reconcileWorkflow.stateMachine,
      // Every alarm of the stack, whichever construct made it.
      alarms: this.node.findAll().filter((c): c is cloudwatch.Alarm => c instanceof cloudwatch.Alarm),
    });
    new CfnOutput(this, 'ReconcileStateMachineArn', {
      value: this.reconcileWorkflow.stateMachine.stateMachineArn,
      description:
        'The reconcile workflow (Express): its schedule starts it every tick; start it by hand to reconcile now',
    });
    new CfnOutput(this, 'DashboardName', {
      value: this.dashboard.dashboard.dashboardName,
      description: 'The CloudWatch dashboard: deployments, rollbacks, drift, the reconciler and failed executions',
    });
  }
}
