import { createHash } from 'node:crypto';
import { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import { CodeCommitClient, GetCommentsForComparedCommitCommand, GetCommitCommand } from '@aws-sdk/client-codecommit';
import { GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import {
  DescribeEndpointCommand,
  type DescribeEndpointCommandOutput,
  SageMakerClient,
} from '@aws-sdk/client-sagemaker';
import { parseDocument } from 'yaml';
import type { EndpointState } from '../../lambdas/state/endpoint-state.ts';
import { JsonStore } from '../../lambdas/state/json-store.ts';
import { keys } from '../../lambdas/state/keys.ts';
import { readLedger } from '../../lambdas/state/ledger.ts';
import type { EventBridgeEvent, EventPattern } from '../../sandbox/events.ts';
import {
  commitFiles,
  EXAMPLE_REPO_DIR,
  EXAMPLE_SECRET_PREFIX,
  pushEventOf,
  readTree,
  seedExampleAccount,
} from '../../sandbox/example-world.ts';
import {
  DEPLOY_ASL,
  DEPLOY_FUNCTIONS,
  LocalPipeline,
  RECONCILE_ASL,
  RECONCILE_FUNCTIONS,
  ROLLBACK_ASL,
  ROLLBACK_FUNCTIONS,
} from '../../sandbox/pipeline.ts';
import type { LoggedRequest } from '../../sandbox/request-log.ts';
import { type LambdaHandler, type LocalExecution, LocalRunner } from '../../sandbox/runner.ts';
import { type Sandbox, startSandbox } from '../../sandbox/sandbox.ts';

export const REPO = 'model-repo';
export const ENVIRONMENT = 'prod';
/** The SageMaker endpoint the example's `summarizer` Endpoint becomes in prod. */
export const SUMMARIZER = 'ballast-prod-summarizer';
/** Where the example account keeps its model artifacts (seeded by seedExampleAccount). */
export const ARTIFACT_BUCKET = 'acme-ml-artifacts-111122223333';

export const MODEL_FILE = 'models/summarizer-llm.yaml';
export const ENDPOINT_FILE = 'endpoints/summarizer.yaml';
export const PROMPT_FILE = 'prompts/summarize.yaml';

/** The deploy workflow's Lambda functions, named as the ASL names them (`${DeployFunctionArn}` → `Deploy`). */
export const HANDLERS = DEPLOY_FUNCTIONS;
export type HandlerName =
  | 'Resolve'
  | 'Validate'
  | 'Lease'
  | 'Register'
  | 'RegisterFiles'
  | 'Pin'
  | 'Deploy'
  | 'Park'
  | 'CheckRollout'
  | 'Record'
  | 'RecordPush';

/**
 * Runs around one workflow function, in-process: the test sees the input, calls the real handler
 * through `next` and may act before the result goes back to the interpreter. Because the runner
 * advances simulated time only while an execution waits (a Wait state, or WaitForRollout's callback
 * task), whatever an `around` awaits before that happens at the simulated instant the real Lambda
 * returned: that is how a test acts "during" a rollout.
 */
// biome-ignore lint/suspicious/noExplicitAny: handler inputs are the workflow's JSON payloads; tests narrow them.
export type Around = (input: any, next: (input: unknown) => Promise<unknown>) => Promise<unknown>;

export interface WorldOptions {
  readonly around?: Partial<Record<HandlerName, Around>>;
  /**
   * The whole example repository. By default the world leaves out its directory model and the
   * endpoint serving it (`assistant`), so that the scenarios about one SageMaker endpoint (call
   * counts, comments, faults) see that one endpoint; test/e2e/artifacts.test.ts uses the whole.
   * @default false
   */
  readonly fullExample?: boolean;
  /** The reconciler's schedule in the pipeline (LocalPipelineOptions.reconcile). @default false */
  readonly reconcile?: boolean;
  /**
   * Another repository than the example (sandbox/fleet.ts's fleet, say): what the account is seeded
   * for and what `files` holds. Nothing is pushed. @default the example repository
   */
  readonly repository?: Readonly<Record<string, string>>;
}

/** What the default world leaves out of the example (see {@link WorldOptions.fullExample}). */
export const DIRECTORY_MODEL_FILES = ['endpoints/assistant.yaml', 'models/assistant-llm.yaml'];

export interface World {
  readonly sandbox: Sandbox;
  readonly pipeline: LocalPipeline;
  /** The example repository's files (path → content), to edit and push. */
  readonly files: Record<string, string>;
  readonly store: JsonStore;
  /** SDK clients pointed at the sandbox: tests look at the account the way a user would. */
  readonly clients: {
    readonly s3: S3Client;
    readonly sagemaker: SageMakerClient;
    readonly cloudwatch: CloudWatchClient;
    readonly codecommit: CodeCommitClient;
  };
  /** Commits through CodeCommit CreateCommit (null deletes a file); the push event starts a deployment. */
  push(files: Record<string, string | null>, message: string, branch?: string): Promise<string>;
  /** Pushes and waits until every execution has finished. */
  deploy(files: Record<string, string | null>, message: string, branch?: string): Promise<string>;
  /** Waits until the push events delivered so far have started executions and every execution has finished. */
  settle(): Promise<void>;
  /**
   * Lets `count` minutes of simulated time pass one by one (SageMaker's metrics, each minute's alarm
   * evaluation, the events they send), then settles.
   */
  minutes(count: number): Promise<void>;
  state(endpoint: string, environment?: string): Promise<EndpointState | undefined>;
  ledger: (endpoint: string, environment?: string) => ReturnType<typeof readLedger>;
  /** DescribeEndpoint through the SDK. */
  describe(endpointName: string): Promise<DescribeEndpointCommandOutput>;
  /** A JSON document in the state bucket, or undefined. */
  json<T>(key: string): Promise<T | undefined>;
  /** The bytes of an S3 object. */
  bytes(bucket: string, key: string): Promise<Buffer>;
  /** Uploads a model artifact to the example account's artifact bucket; what a Model must declare for it. */
  uploadArtifact(key: string, body: Buffer): Promise<{ uri: string; sha256: string; sizeBytes: number }>;
  /** The deploy executions started for a commit (by its push event or a re-delivery). */
  executions(commit: string): LocalExecution[];
  /** Requests the sandbox answered from `mark` (an index into the request log) on. */
  requestsSince(mark: number): LoggedRequest[];
  /**
   * The comments on a commit, compared with its parent: how Ballast posts them (CodeCommit files a
   * comment under its exact before/after pair).
   */
  comments(commit: string): Promise<string[]>;
  /** The push event CodeCommit emitted for a commit. */
  pushEvent(commit: string): EventBridgeEvent;
  stop(): Promise<void>;
}

/**
 * A sandbox with the example account seeded and the local pipeline listening for pushes. With
 * `around`, the pipeline runs the same ASL with the named functions wrapped (see {@link Around}).
 */
export async function world(options: WorldOptions = {}): Promise<World> {
  const sandbox = await startSandbox({ timeScale: 1, start: new Date('2026-03-01T09:00:00Z') });
  let files: Record<string, string>;
  let pipeline: LocalPipeline;
  try {
    files = options.repository ? { ...options.repository } : await readTree(EXAMPLE_REPO_DIR);
    if (!options.fullExample && !options.repository) for (const path of DIRECTORY_MODEL_FILES) delete files[path];
    await seedExampleAccount(sandbox, files);
    pipeline = await LocalPipeline.start({
      sandbox,
      secretPrefix: EXAMPLE_SECRET_PREFIX,
      ...(options.reconcile ? { reconcile: true } : {}),
    });
    if (options.around) useWrappedHandlers(pipeline, sandbox, options.around);
  } catch (error) {
    await sandbox.stop();
    throw error;
  }
  const config = {
    endpoint: sandbox.url,
    region: sandbox.region,
    credentials: { accessKeyId: 'x', secretAccessKey: 'x' },
  };
  const clients = {
    s3: new S3Client(config),
    sagemaker: new SageMakerClient(config),
    cloudwatch: new CloudWatchClient(config),
    codecommit: new CodeCommitClient(config),
  };
  const store = new JsonStore(clients.s3, pipeline.stateBucket);
  const push = (changes: Record<string, string | null>, message: string, branch = 'main') =>
    commitFiles(sandbox, REPO, branch, changes, message);
  const settle = async () => {
    // Push events reach the pipeline asynchronously (as from EventBridge); let them land first.
    await new Promise((resolve) => setImmediate(resolve));
    await pipeline.idle();
  };
  const bytes = async (bucket: string, key: string) => {
    const response = await clients.s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    return Buffer.from((await response.Body?.transformToByteArray()) ?? new Uint8Array());
  };
  return {
    sandbox,
    pipeline,
    files,
    store,
    clients,
    push,
    deploy: async (changes, message, branch) => {
      const commit = await push(changes, message, branch);
      await settle();
      return commit;
    },
    settle,
    minutes: async (count) => {
      for (let i = 0; i < count; i++) {
        sandbox.clock.advance(60_000);
        await new Promise((resolve) => setImmediate(resolve));
      }
      await settle();
    },
    state: async (endpoint, environment = ENVIRONMENT) =>
      (await store.get<EndpointState>(keys.state(environment, endpoint)))?.value,
    ledger: (endpoint, environment = ENVIRONMENT) => readLedger(store, environment, endpoint),
    describe: (endpointName) => clients.sagemaker.send(new DescribeEndpointCommand({ EndpointName: endpointName })),
    json: async <T>(key: string) => (await store.get<T>(key))?.value,
    bytes,
    uploadArtifact: async (key, body) => {
      await clients.s3.send(new PutObjectCommand({ Bucket: ARTIFACT_BUCKET, Key: key, Body: body }));
      return {
        uri: `s3://${ARTIFACT_BUCKET}/${key}`,
        sha256: createHash('sha256').update(body).digest('hex'),
        sizeBytes: body.length,
      };
    },
    executions: (commit) =>
      pipeline.runner
        .executions('deploy')
        .filter((e) => (e.input as { detail?: { commitId?: string } }).detail?.commitId === commit),
    requestsSince: (mark) => sandbox.requests.all().slice(mark),
    comments: async (commit) => {
      const parent = (await clients.codecommit.send(new GetCommitCommand({ repositoryName: REPO, commitId: commit })))
        .commit?.parents?.[0];
      const response = await clients.codecommit.send(
        new GetCommentsForComparedCommitCommand({
          repositoryName: REPO,
          afterCommitId: commit,
          ...(parent ? { beforeCommitId: parent } : {}),
        }),
      );
      return (response.commentsForComparedCommitData ?? []).flatMap((d) =>
        (d.comments ?? []).map((c) => c.content ?? ''),
      );
    },
    pushEvent: (commit) => {
      const event = pushEventOf(sandbox, commit);
      if (!event) throw new Error(`no push event for ${commit}`);
      return event;
    },
    stop: async () => {
      pipeline.stop();
      await pipeline.idle();
      for (const client of Object.values(clients)) client.destroy();
      await sandbox.stop();
    },
  };
}

/**
 * Swaps the pipeline's runner for one that runs the same ASL file with some functions wrapped.
 * LocalPipeline binds the real handlers and offers no hook, and a test must not change product
 * code to observe it; its runner is a plain field, so the pipeline's own push subscription,
 * `deployFor` and `idle` all go through the replacement.
 */
function useWrappedHandlers(
  pipeline: LocalPipeline,
  sandbox: Sandbox,
  around: Partial<Record<HandlerName, Around>>,
): void {
  const functions: Record<string, LambdaHandler> = {};
  for (const [name, handler] of Object.entries(HANDLERS) as Array<[HandlerName, LambdaHandler]>) {
    const wrap = around[name];
    functions[name] = wrap
      ? (input, context) => wrap(input, (next) => handler(next as never, context)) as Promise<unknown>
      : handler;
  }
  const runner = new LocalRunner(
    sandbox.clock,
    {
      deploy: { aslPath: DEPLOY_ASL, functions },
      rollback: { aslPath: ROLLBACK_ASL, functions: ROLLBACK_FUNCTIONS },
      reconcile: { aslPath: RECONCILE_ASL, functions: RECONCILE_FUNCTIONS },
    },
    { taskTokens: sandbox.stepfunctions },
  );
  Object.defineProperty(pipeline, 'runner', { value: runner });
}

/** Edits one YAML document in place (comments and layout kept), e.g. `['spec', 'rollout', 'canary', 'percent']`. */
export function editYaml(
  text: string,
  edits: ReadonlyArray<readonly [path: ReadonlyArray<string | number>, value: unknown]>,
): string {
  const doc = parseDocument(text);
  for (const [path, value] of edits) doc.setIn(path, value);
  return doc.toString();
}

/** The example Model pointing at another artifact. */
export function withArtifact(
  files: Record<string, string>,
  artifact: { uri: string; sha256: string; sizeBytes: number },
): Record<string, string> {
  return {
    [MODEL_FILE]: editYaml(requireFile(files, MODEL_FILE), [
      [['spec', 'artifact', 'uri'], artifact.uri],
      [['spec', 'artifact', 'sha256'], artifact.sha256],
      [['spec', 'artifact', 'sizeBytes'], artifact.sizeBytes],
    ]),
  };
}

export function requireFile(files: Record<string, string>, path: string): string {
  const text = files[path];
  if (text === undefined) throw new Error(`the example repository has no ${path}`);
  return text;
}

/** 1-based line of the first line of `text` that contains `needle`. */
export function lineOf(text: string, needle: string): number {
  const index = text.split('\n').findIndex((line) => line.includes(needle));
  if (index < 0) throw new Error(`'${needle}' is not in the text`);
  return index + 1;
}

export const SAGEMAKER_WRITES = new Set([
  'CreateModel',
  'CreateEndpointConfig',
  'CreateEndpoint',
  'UpdateEndpoint',
  'UpdateEndpointWeightsAndCapacities',
  'DeleteEndpoint',
]);

/** The SageMaker calls that change something live. */
export function sagemakerWrites(requests: readonly LoggedRequest[]): LoggedRequest[] {
  return requests.filter((r) => r.service === 'sagemaker' && SAGEMAKER_WRITES.has(r.operation));
}

/** SageMaker's EventBridge events for one endpoint, with the event pattern semantics of a rule. */
export function sagemakerPattern(
  detailType: 'SageMaker Endpoint State Change' | 'SageMaker Endpoint Deployment State Change',
  endpointName: string,
  detail: Record<string, unknown> = {},
): EventPattern {
  return {
    source: ['aws.sagemaker'],
    'detail-type': [detailType],
    detail: { EndpointName: [endpointName], ...detail },
  };
}

/** A promise with its resolve function, for handing a moment from one execution to another. */
export function signal<T = void>(): { promise: Promise<T>; resolve: (value: T) => void } {
  let resolve: (value: T) => void = () => undefined;
  const promise = new Promise<T>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

/** Waits (in wall time, bounded) for a step of another execution; a held execution must never hang the suite. */
export async function within<T>(promise: Promise<T>, what: string, ms = 15_000): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** The UpdateEndpoint calls the sandbox answered for requests since `mark`. */
export function updateEndpointCalls(w: Pick<World, 'requestsSince'>, mark: number): LoggedRequest[] {
  return w.requestsSince(mark).filter((r) => r.service === 'sagemaker' && r.operation === 'UpdateEndpoint');
}
