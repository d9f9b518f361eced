/**
 * The deploy workflow's steps: the one manifest that lib/ (functions, IAM, state machine
 * substitutions), the local runner (sandbox/local) and the tests read. Plain data, no CDK types,
 * so the sandbox can load it without aws-cdk-lib.
 *
 * Each step names its handler module, the `${<Placeholder>FunctionArn}` it fills in the ASL, the
 * BALLAST_* settings its handler reads, its sizing, and the permissions it needs as data that
 * lib/workflow-functions.ts turns into IAM statements.
 */

/** A BALLAST_* environment variable a handler reads. */
export type Setting =
  | 'BALLAST_STATE_BUCKET'
  | 'BALLAST_RESOURCE_PREFIX'
  | 'BALLAST_SAGEMAKER_ROLE_ARN'
  | 'BALLAST_GITHUB_API_URL'
  | 'BALLAST_GITHUB_TOKEN_SECRET_NAME'
  | 'BALLAST_ACCOUNT_ID'
  | 'BALLAST_REGION'
  | 'BALLAST_SECRET_PREFIX'
  | 'BALLAST_ALARM_TOPIC_ARN'
  | 'BALLAST_DEPLOY_STATE_MACHINE_ARN';

/** The settings a step reads only when the watched repository is on GitHub. */
export const GITHUB_SETTINGS: readonly Setting[] = ['BALLAST_GITHUB_API_URL', 'BALLAST_GITHUB_TOKEN_SECRET_NAME'];

/** Key prefixes of the Ballast store (see lambdas/state/keys.ts). */
export type StorePrefix =
  | 'artifacts/'
  | 'commits/'
  | 'environments/'
  | 'pointers/'
  | 'state/'
  | 'ledger/'
  | 'alarms/'
  | 'wake/'
  | 'reconcile/'
  | 'drift/';

export interface StepPermissions {
  /** Object access in the Ballast store, by key prefix. */
  readonly store?: {
    readonly read?: readonly StorePrefix[];
    readonly write?: readonly StorePrefix[];
    readonly readWrite?: readonly StorePrefix[];
  };
  /** SageMaker actions on Ballast's own resources (names under the resource prefix). */
  readonly sagemaker?: readonly string[];
  /**
   * SageMaker Describe actions on endpoint configurations and Models of any name in the account and
   * region: what an endpoint runs after a hand-made UpdateEndpoint is not under Ballast's prefix, and
   * the reconciler must read it to say how it differs. Read-only.
   */
  readonly sagemakerDescribeAny?: ReadonlyArray<'sagemaker:DescribeEndpointConfig' | 'sagemaker:DescribeModel'>;
  /** SageMaker List actions, which support no resource-level permissions. */
  readonly sagemakerList?: readonly string[];
  /** Passes the SageMaker execution role to SageMaker (CreateModel). */
  readonly passSageMakerRole?: boolean;
  readonly cloudwatch?: ReadonlyArray<'DescribeAlarms' | 'DescribeAlarmHistory'>;
  /** CodeCommit actions on the watched repository (CodeCommit sources). */
  readonly codecommit?: readonly string[];
  /** Reads the GitHub token secret (GitHub sources). */
  readonly githubToken?: boolean;
  /**
   * Reads the artifact source buckets the stack owner lists, with kms:Decrypt on the KMS keys the
   * owner lists for SSE-KMS buckets (Validate reads manifests, RegisterFiles verifies and copies).
   */
  readonly artifactSources?: boolean;
  /** Copies into the store: the copy carries the source's tags, and abandoned multipart copies are aborted. */
  readonly artifactCopies?: boolean;
  /**
   * Secrets Manager on the secrets under the stack's secret prefix (ballast:secretPrefix):
   * `describe` (Validate: does it exist, what is its ARN) or `read` (Deploy: a value the Model asks
   * to have injected into the container's environment).
   */
  readonly modelSecrets?: 'describe' | 'read';
  /** Puts Ballast's own events (source `ballast`, these detail-types) on the account's default event bus. */
  readonly putEvents?: readonly string[];
  /** Publishes to the stack's alarm topic, when it has one. */
  readonly publishAlarmTopic?: boolean;
  /** states:StartExecution on the deploy workflow (the reconciler's heals and missed pushes). */
  readonly startDeploy?: boolean;
  /**
   * application-autoscaling:DescribeScalableTargets, which supports no resource-level permissions
   * (Service Authorization Reference, Application Auto Scaling): is a variant autoscaled.
   */
  readonly scalableTargets?: boolean;
}

export interface WorkflowStep {
  /** The step's name in the manifest and the construct id (`Resolve` → `ResolveFunctionArn`). */
  readonly placeholder: string;
  /** Handler module under lambdas/handlers/. */
  readonly file: string;
  readonly description: string;
  readonly timeoutSeconds: number;
  readonly memorySize: number;
  /** Settings the handler reads, for every source. */
  readonly settings: readonly Setting[];
  /** Whether the handler also reads the GitHub settings (when the source is GitHub). */
  readonly github?: boolean;
  readonly permissions: StepPermissions;
}

export type StepName =
  | 'resolve'
  | 'validate'
  | 'lease'
  | 'register'
  | 'registerFiles'
  | 'pin'
  | 'deploy'
  | 'park'
  | 'checkRollout'
  | 'record'
  | 'recordPush';

/** The deploy workflow's steps, in the order the workflow runs them. */
export const DEPLOY_STEPS: Readonly<Record<StepName, WorkflowStep>> = {
  resolve: {
    placeholder: 'Resolve',
    file: 'resolve.ts',
    description: 'Ballast Resolve: the pushed commit, its environment, a snapshot of its Ballast files',
    timeoutSeconds: 120,
    memorySize: 1024,
    settings: ['BALLAST_STATE_BUCKET', 'BALLAST_ACCOUNT_ID', 'BALLAST_REGION'],
    github: true,
    permissions: {
      // The snapshot under commits/; a retry reads the endpoint's state to find its desired push;
      // environments/: a push to a branch that no longer feeds an environment retires it.
      store: { readWrite: ['commits/', 'environments/'], read: ['state/'] },
      // GetDifferences: the snapshot is built from the previous commit's plus what changed.
      codecommit: [
        'codecommit:GetFolder',
        'codecommit:GetFile',
        'codecommit:GetDifferences',
        'codecommit:GetCommit',
        'codecommit:GetBlob',
      ],
      githubToken: true,
    },
  },
  validate: {
    placeholder: 'Validate',
    file: 'validate.ts',
    description: 'Ballast Validate: schema and semantic checks; the plan and one release per changed endpoint',
    timeoutSeconds: 300,
    // The only step that parses and validates the repository: a repository at the 16 MiB limit
    // needs about 750 MB to validate (measured), so this is the one large function.
    memorySize: 1769,
    settings: ['BALLAST_STATE_BUCKET', 'BALLAST_SECRET_PREFIX'],
    permissions: {
      store: { readWrite: ['commits/', 'environments/'] },
      // A directory model's manifest file is read (and its sha256 checked) before any fleet exists.
      artifactSources: true,
      modelSecrets: 'describe',
    },
  },
  lease: {
    placeholder: 'Lease',
    file: 'lease.ts',
    description: "Ballast Lease: take the endpoint's lease (compare-and-swap); newer pushes win",
    timeoutSeconds: 30,
    memorySize: 256,
    settings: ['BALLAST_STATE_BUCKET'],
    permissions: { store: { readWrite: ['state/'], read: ['commits/'] } },
  },
  register: {
    placeholder: 'Register',
    file: 'register.ts',
    description: "Ballast Register: pin prompts and configs, plan the model's files into batches",
    timeoutSeconds: 60,
    memorySize: 512,
    settings: ['BALLAST_STATE_BUCKET'],
    permissions: { store: { readWrite: ['artifacts/'], read: ['commits/', 'state/'] } },
  },
  registerFiles: {
    placeholder: 'RegisterFiles',
    file: 'register-files.ts',
    // Streams each file through sha256 and copies it: network bound. Lambda's network bandwidth
    // grows with its memory, and Validate refuses a file one invocation cannot hash in time
    // (lambdas/spec/manifest.ts MAX_FILE_BYTES), so: the longest timeout and generous memory.
    description: "Ballast RegisterFiles: verify one batch of a model's files and pin them write-once",
    timeoutSeconds: 900,
    memorySize: 1769,
    settings: ['BALLAST_STATE_BUCKET'],
    permissions: {
      store: { readWrite: ['artifacts/'], read: ['commits/'] },
      artifactSources: true,
      artifactCopies: true,
    },
  },
  pin: {
    placeholder: 'Pin',
    file: 'pin.ts',
    description: "Ballast Pin: write the commit's version pointer once every file is pinned",
    timeoutSeconds: 60,
    memorySize: 512,
    settings: ['BALLAST_STATE_BUCKET'],
    permissions: { store: { readWrite: ['pointers/'], read: ['commits/'] } },
  },
  deploy: {
    placeholder: 'Deploy',
    file: 'deploy.ts',
    description: 'Ballast Deploy: SageMaker model, endpoint config, and a blue/green endpoint update',
    timeoutSeconds: 60,
    memorySize: 256,
    settings: ['BALLAST_STATE_BUCKET', 'BALLAST_RESOURCE_PREFIX', 'BALLAST_SAGEMAKER_ROLE_ARN'],
    permissions: {
      store: { read: ['state/', 'commits/'] },
      sagemaker: [
        'sagemaker:CreateModel',
        'sagemaker:CreateEndpointConfig',
        'sagemaker:CreateEndpoint',
        'sagemaker:UpdateEndpoint',
        'sagemaker:DescribeEndpoint',
        // A first CreateEndpoint that ends Failed is deleted so that a retry can create it again.
        'sagemaker:DeleteEndpoint',
        // Create* with Tags needs AddTags on the created resource; a heal puts ballast:managed back.
        'sagemaker:AddTags',
        // A heal puts a live variant's instance count and weight back to the release's.
        'sagemaker:UpdateEndpointWeightsAndCapacities',
      ],
      passSageMakerRole: true,
      cloudwatch: ['DescribeAlarms'],
      // Only for a secret a Model asks to have injected as a value (delivery: environment).
      modelSecrets: 'read',
    },
  },
  park: {
    placeholder: 'Park',
    file: 'park.ts',
    // Behind the callback tasks WaitForRollout and WaitForIdleEndpoint: it parks the task's token,
    // which Wake ({@link WAKE_FUNCTION}) answers when SageMaker says the endpoint settled.
    description: "Ballast Park: park a wait's task token under the endpoint's name, for Wake to answer",
    timeoutSeconds: 30,
    memorySize: 256,
    settings: ['BALLAST_STATE_BUCKET'],
    permissions: { store: { readWrite: ['wake/'] } },
  },
  checkRollout: {
    placeholder: 'CheckRollout',
    file: 'check-rollout.ts',
    description: 'Ballast CheckRollout: has the rollout settled, and does the endpoint run this configuration',
    timeoutSeconds: 30,
    memorySize: 256,
    settings: [],
    permissions: {
      sagemaker: ['sagemaker:DescribeEndpoint'],
      // Names the alarm behind a silent rollback from the alarms' state history.
      cloudwatch: ['DescribeAlarmHistory'],
    },
  },
  record: {
    placeholder: 'Record',
    file: 'record.ts',
    description: 'Ballast Record: endpoint state, ledger entry, metric, cleanup, commit comment or status',
    timeoutSeconds: 120,
    memorySize: 256,
    settings: ['BALLAST_STATE_BUCKET', 'BALLAST_RESOURCE_PREFIX'],
    github: true,
    permissions: {
      // Ledger entries are write-once (If-None-Match); a retried Record reads back the entry its
      // first attempt wrote. The environment head carries Record's mark of content not live.
      // alarms/: the markers that let the rollback workflow find an endpoint from an alarm's name.
      store: { readWrite: ['state/', 'ledger/', 'environments/'], read: ['commits/'], write: ['alarms/'] },
      sagemaker: [
        // Cleanup proves ownership by tags and checks what the endpoint runs before each deletion.
        'sagemaker:DescribeEndpoint',
        'sagemaker:DescribeEndpointConfig',
        'sagemaker:ListTags',
        'sagemaker:DeleteModel',
        'sagemaker:DeleteEndpointConfig',
      ],
      sagemakerList: ['sagemaker:ListModels', 'sagemaker:ListEndpointConfigs'],
      // Metrics go out as EMF in the function's log: no cloudwatch:PutMetricData.
      // GetCommit finds the parent to compare with when the push has no previous commit (a new branch).
      codecommit: ['codecommit:PostCommentForComparedCommit', 'codecommit:GetCommit'],
      githubToken: true,
    },
  },
  recordPush: {
    placeholder: 'RecordPush',
    file: 'record-push.ts',
    description:
      "Ballast RecordPush: the push's answer (rejected, unchanged, failed, summary) in the ledger and in Git",
    timeoutSeconds: 60,
    memorySize: 256,
    settings: ['BALLAST_STATE_BUCKET'],
    github: true,
    permissions: {
      store: { read: ['commits/'], write: ['ledger/'] },
      codecommit: ['codecommit:PostCommentForComparedCommit', 'codecommit:GetCommit'],
      githubToken: true,
    },
  },
};

export type RollbackStepName = 'triage' | 'apply' | 'restore' | 'writeBack' | 'finish';

/**
 * The rollback workflow's own steps (stepfunctions/rollback.asl.json). Its CheckRollback state
 * runs the deploy workflow's CheckRollout function: the same reading verifies a rollback.
 */
export const ROLLBACK_STEPS: Readonly<Record<RollbackStepName, WorkflowStep>> = {
  triage: {
    placeholder: 'Triage',
    file: 'rollback-triage.ts',
    description: 'Ballast rollback Triage: which endpoints an alarm (or a ballast rollback) concerns, and what to do',
    timeoutSeconds: 30,
    memorySize: 256,
    settings: ['BALLAST_STATE_BUCKET', 'BALLAST_RESOURCE_PREFIX'],
    permissions: { store: { read: ['alarms/', 'state/'] } },
  },
  apply: {
    placeholder: 'Apply',
    file: 'rollback-apply.ts',
    description:
      'Ballast rollback Apply: take the endpoint, quarantine the live content, UpdateEndpoint to the previous configuration',
    timeoutSeconds: 30,
    memorySize: 256,
    settings: ['BALLAST_STATE_BUCKET'],
    permissions: {
      store: { readWrite: ['state/'] },
      sagemaker: ['sagemaker:DescribeEndpoint', 'sagemaker:UpdateEndpoint'],
    },
  },
  restore: {
    placeholder: 'Restore',
    file: 'rollback-restore.ts',
    description: "Ballast rollback Restore: the outcome in the endpoint's state, the lease released",
    timeoutSeconds: 30,
    memorySize: 256,
    settings: ['BALLAST_STATE_BUCKET'],
    // DescribeEndpoint: after a failed step, what the endpoint runs decides the outcome.
    permissions: { store: { readWrite: ['state/'] }, sagemaker: ['sagemaker:DescribeEndpoint'] },
  },
  writeBack: {
    placeholder: 'WriteBack',
    file: 'write-back.ts',
    description: "Ballast rollback WriteBack: a commit or pull request that puts the endpoint's files back",
    timeoutSeconds: 120,
    memorySize: 256,
    settings: ['BALLAST_STATE_BUCKET'],
    github: true,
    permissions: {
      store: { read: ['commits/'] },
      codecommit: [
        'codecommit:GetBranch',
        'codecommit:GetFile',
        'codecommit:GetCommit',
        'codecommit:CreateCommit',
        'codecommit:CreateBranch',
        'codecommit:CreatePullRequest',
        'codecommit:GetPullRequest',
        'codecommit:ListPullRequests',
      ],
      githubToken: true,
    },
  },
  finish: {
    placeholder: 'Finish',
    file: 'rollback-finish.ts',
    description: "Ballast rollback Finish: the ledger entry, the commit's answer, the event and the alarm topic",
    timeoutSeconds: 60,
    memorySize: 256,
    settings: ['BALLAST_STATE_BUCKET', 'BALLAST_ALARM_TOPIC_ARN'],
    github: true,
    permissions: {
      store: { readWrite: ['ledger/'] },
      codecommit: ['codecommit:PostCommentForComparedCommit', 'codecommit:GetCommit'],
      githubToken: true,
      putEvents: ['Ballast Rollback'],
      publishAlarmTopic: true,
    },
  },
};

export type ReconcileStepName = 'scan' | 'check' | 'finish';

/**
 * The reconcile workflow's steps (stepfunctions/reconcile.asl.json), started every minute by an
 * EventBridge Scheduler schedule; Scan decides which environments are due.
 */
export const RECONCILE_STEPS: Readonly<Record<ReconcileStepName, WorkflowStep>> = {
  scan: {
    placeholder: 'Scan',
    file: 'reconcile-scan.ts',
    description:
      'Ballast reconcile Scan: the environments due, branch heads no push deployed, the due endpoints in batches',
    timeoutSeconds: 60,
    memorySize: 512,
    settings: ['BALLAST_STATE_BUCKET', 'BALLAST_DEPLOY_STATE_MACHINE_ARN'],
    github: true,
    permissions: {
      // environments/: the heads (what each environment's newest processed commit declares);
      // state/: listed, the endpoints Ballast manages; reconcile/: the run's status and batches.
      store: { read: ['environments/', 'state/'], readWrite: ['reconcile/'] },
      // GetBranch: the branch head, to find a push no event started.
      codecommit: ['codecommit:GetBranch'],
      githubToken: true,
      startDeploy: true,
    },
  },
  check: {
    placeholder: 'Check',
    file: 'reconcile-check.ts',
    description:
      'Ballast reconcile Check: one batch of endpoints compared with AWS; drift reported, healed, pruned or left alone',
    timeoutSeconds: 60,
    memorySize: 512,
    settings: ['BALLAST_STATE_BUCKET', 'BALLAST_RESOURCE_PREFIX', 'BALLAST_DEPLOY_STATE_MACHINE_ARN'],
    permissions: {
      store: { read: ['environments/', 'reconcile/'], readWrite: ['state/', 'drift/', 'ledger/'] },
      sagemaker: [
        'sagemaker:DescribeEndpoint',
        'sagemaker:DescribeEndpointConfig',
        'sagemaker:DescribeModel',
        'sagemaker:ListTags',
        // prune: true only: the endpoint whose declaration was removed, and its Models and configs.
        'sagemaker:DeleteEndpoint',
        'sagemaker:DeleteEndpointConfig',
        'sagemaker:DeleteModel',
      ],
      // A hand-made configuration and its Model, whatever their names (the comparison's actual side).
      sagemakerDescribeAny: ['sagemaker:DescribeEndpointConfig', 'sagemaker:DescribeModel'],
      sagemakerList: ['sagemaker:ListModels', 'sagemaker:ListEndpointConfigs'],
      scalableTargets: true,
      putEvents: ['Ballast Drift Detected', 'Ballast Endpoint Removed', 'Ballast Endpoint Pruned'],
      startDeploy: true,
    },
  },
  finish: {
    placeholder: 'Finish',
    file: 'reconcile-finish.ts',
    description: "Ballast reconcile Finish: the run's summary per environment, its duration and errors",
    timeoutSeconds: 30,
    memorySize: 256,
    settings: ['BALLAST_STATE_BUCKET'],
    permissions: { store: { readWrite: ['reconcile/'] } },
  },
};

/**
 * Wake: not a step of the workflow but the target of an EventBridge rule on SageMaker's endpoint
 * events ({@link wakeEventPattern}; lib/rollout-wake.ts creates both, sandbox/pipeline.ts subscribes
 * the handler the same way). It answers the task tokens Park parked for the endpoint, so a waiting
 * execution looks at the endpoint as soon as SageMaker is done with it.
 */
export const WAKE_FUNCTION = {
  name: 'Wake',
  file: 'wake.ts',
  description: 'Ballast Wake: end the waits of the deploy executions on a SageMaker endpoint that settled',
  timeoutSeconds: 30,
  memorySize: 256,
  settings: ['BALLAST_STATE_BUCKET', 'BALLAST_RESOURCE_PREFIX'] satisfies Setting[],
  /** Reads the parked tokens (wake/<endpointName>.json); it also calls states:SendTaskSuccess. */
  store: { read: ['wake/'] satisfies StorePrefix[] },
} as const;

/** SageMaker's endpoint events (SageMaker Developer Guide, "Events that Amazon SageMaker AI sends to Amazon EventBridge"). */
export const SAGEMAKER_ENDPOINT_EVENTS = [
  'SageMaker Endpoint State Change',
  'SageMaker Endpoint Deployment State Change',
];

/**
 * The EventBridge pattern of Wake's rule: an endpoint under the resource prefix is InService or
 * Failed again (EndpointStatus in upper snake case, as the events spell it), i.e. its creation or
 * update, rolled back or not, is over. Both event types: the deployment event describes blue/green
 * updates and may also report the end; a duplicate only answers closed tokens. The statuses are
 * lambdas/state/wake.ts's WAKING_STATUSES, which the handler checks again.
 */
export function wakeEventPattern(resourcePrefix: string): {
  readonly source: readonly string[];
  readonly 'detail-type': readonly string[];
  readonly detail: Record<string, unknown>;
} {
  return {
    source: ['aws.sagemaker'],
    'detail-type': SAGEMAKER_ENDPOINT_EVENTS,
    detail: { EndpointName: [{ prefix: `${resourcePrefix}-` }], EndpointStatus: ['IN_SERVICE', 'FAILED'] },
  };
}

/** The settings a step's function gets for a source type. */
export function stepSettings(step: WorkflowStep, source: 'codecommit' | 'github'): Setting[] {
  return [...step.settings, ...(step.github && source === 'github' ? GITHUB_SETTINGS : [])];
}
