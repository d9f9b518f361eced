import { createHash, randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readdir, readFile, stat } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { CloudWatchClient, DescribeAlarmsCommand, PutMetricAlarmCommand } from '@aws-sdk/client-cloudwatch';
import {
  CreateBucketCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { CreateSecretCommand, DescribeSecretCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { parse, parseAllDocuments } from 'yaml';
import type { ManifestFile } from '../../lambdas/spec/manifest.ts';
import { JsonStore } from '../../lambdas/state/json-store.ts';
import { readLedger } from '../../lambdas/state/ledger.ts';
import type { PlanDocument } from '../../lambdas/workflow/types.ts';
import type { EventBridgeEvent } from '../../sandbox/events.ts';
import { EXAMPLE_ARTIFACTS_DIR, seededAlarmInput, seededVariantName } from '../../sandbox/example-world.ts';
import { GitRepository, isValidRefName } from '../../sandbox/git.ts';
import { CODECOMMIT_PUSH_PATTERN, endpointResults, type LocalPipeline } from '../../sandbox/pipeline.ts';
import type { LocalExecution } from '../../sandbox/runner.ts';
import type { Sandbox } from '../../sandbox/sandbox.ts';
import {
  CODECOMMIT_EVENT_SOURCE,
  REPOSITORY_STATE_CHANGE,
  type ReferenceChangeDetail,
} from '../../sandbox/services/codecommit.ts';
import { exportLines, parseSandboxFlags, startOrExplain, untilSignal } from './sandbox.ts';
import { formatDuration, parseOrUsage, short } from './state-reader.ts';
import { type CliIo, type Command, ExitCode, UsageError } from './types.ts';

/** How often the repository's branches are compared with the last snapshot (a `git commit` shows up this fast). */
const WATCH_INTERVAL_MS = 500;
/** How long Ctrl-C waits for running deployments before aborting them. */
const SHUTDOWN_GRACE_MS = 5_000;
/** A Secrets Manager secret name (CreateSecret's rule); a prefix of one follows the same rule. */
const SECRET_NAME = /^[A-Za-z0-9/_+=.@-]{1,512}$/;
/** A Secrets Manager secret ARN: the name, a hyphen and six random characters. */
const SECRET_ARN = /^arn:[\w-]+:secretsmanager:([a-z0-9-]+):(\d{12}):secret:([A-Za-z0-9/_+=.@-]+)-[A-Za-z0-9]{6}$/;
/** The sha256 of no bytes: an empty file of a model directory is seeded without an artifact file. */
const EMPTY_SHA256 = createHash('sha256').digest('hex');

const usage = `Usage: ballast local --repo PATH [--branch B] [--artifacts DIR] [--secret-prefix PREFIX]
                    [--port N] [--time-scale X]

Runs Ballast on your machine against a Git working repository: the sandbox (S3, SageMaker,
CloudWatch, CodeCommit, Secrets Manager), the deploy workflow (the ASL file the stack deploys, run
locally with the real Lambda handlers) and a watcher that turns every \`git commit\` on a watched
branch into the CodeCommit push event that starts a deployment on AWS. Each deployment is narrated
as it ends: the commit, the environment, each endpoint's outcome and reason, validation errors as
file:line.

The current head of each watched branch is deployed once at start, as if it had just been pushed.
The sandbox pretends to be the account and region ballast.yaml gives the watched branch's
environment. Before each deployment, the account is seeded with what the commit expects, unless it
is there already:
  - each Model's artifact, from the files in --artifacts (searched recursively, matched by
    sha256): an archive is uploaded to its s3:// URI; a directory's files to prefix + path, each
    from the file with that file's sha256 (empty files need none); a directory pinned by a
    manifest gets its manifest uploaded from the file with the manifest's sha256 (or read from the
    sandbox's S3 if it is there), then the files it lists. A file that no artifact matches is
    named once; the endpoints that need it fail.
  - each secret a Model declares (spec.secrets.*.secretId), created in the sandbox's Secrets
    Manager with a placeholder value: the real value stays in your AWS account and is never read.
  - each alarm an Endpoint names.
Ctrl-C stops it all.

Options:
  --repo PATH       the model repository (a Git working tree with ballast.yaml at its top); it is
                    served as the CodeCommit repository named after its directory
  --branch B        watch only this branch (default: every branch; ballast.yaml decides which
                    ones deploy, as on AWS)
  --artifacts DIR   where the model artifact files are, in any layout (default: examples/artifacts)
  --secret-prefix PREFIX
                    the Secrets Manager name prefix Models' secrets must lie under, as the stack's
                    ballast:secretPrefix context (e.g. acme-ml/). Without it, a Model that declares
                    secrets is refused by Validate, as on a stack deployed without ballast:secretPrefix
  --port N          sandbox port on 127.0.0.1; 0 picks a free one (default: 4599)
  --time-scale X    simulated seconds per real second (default: 600); 1 runs in real time
  -h, --help        show this help

Exit codes: 0 stopped by Ctrl-C (SIGINT) or SIGTERM, 2 usage error (no repository, no ballast.yaml).
`;

export const localCommand: Command = {
  name: 'local',
  summary: 'Run Ballast locally on a Git repository: every commit deploys to the sandbox, narrated',
  usage,
  async run(args: readonly string[], io: CliIo): Promise<number> {
    const { values } = parseOrUsage(() =>
      parseArgs({
        args: [...args],
        options: {
          repo: { type: 'string' },
          branch: { type: 'string' },
          artifacts: { type: 'string' },
          'secret-prefix': { type: 'string' },
          port: { type: 'string' },
          'time-scale': { type: 'string' },
        },
        strict: true,
        allowPositionals: false,
      }),
    );
    if (values.repo === undefined) throw new UsageError('--repo PATH is required');
    if (values.branch !== undefined && !isValidRefName(values.branch)) {
      throw new UsageError(`--branch '${values.branch}' is not a valid branch name`);
    }
    const secretPrefix = values['secret-prefix'];
    if (secretPrefix !== undefined && !SECRET_NAME.test(secretPrefix)) {
      throw new UsageError(
        `--secret-prefix '${secretPrefix}' is not the start of a Secrets Manager name (1-512 of A-Z a-z 0-9 / _ + = . @ -)`,
      );
    }
    const flags = parseSandboxFlags(values);
    const repoPath = resolve(io.cwd, values.repo);
    const fail = (message: string) => {
      io.stderr(`ballast local: ${message}\n`);
      return ExitCode.Usage;
    };

    const repoStat = await stat(repoPath).catch(() => undefined);
    if (!repoStat?.isDirectory()) return fail(`${values.repo}: no such directory`);
    let git: GitRepository;
    try {
      git = await GitRepository.open(repoPath);
    } catch (error) {
      return fail(
        `${values.repo} is not the top of a Git repository (${(error as Error).message.split('\n')[0]}); run \`git init\` there and commit your ballast.yaml`,
      );
    }
    const headBranch = await git.headBranch();
    const repositoryYaml = await readRepositoryYaml(git, headBranch);
    if (repositoryYaml === undefined) {
      return fail(
        `${values.repo} has no ballast.yaml at its top (the Repository resource: environments, branches, defaults); see examples/model-repo/ballast.yaml`,
      );
    }
    const artifactsDir = values.artifacts === undefined ? EXAMPLE_ARTIFACTS_DIR : resolve(io.cwd, values.artifacts);
    const artifactsStat = await stat(artifactsDir).catch(() => undefined);
    if (!artifactsStat?.isDirectory()) return fail(`--artifacts ${values.artifacts}: no such directory`);

    const environments = environmentsOf(repositoryYaml);
    const home =
      environments.find((e) => e.branch === (values.branch ?? headBranch)) ??
      environments.find((e) => e.account && e.region);
    const name = repositoryName(repoPath);
    const sandbox = await startOrExplain(
      {
        ...flags,
        ...(home?.account && /^\d{12}$/.test(home.account) ? { account: home.account } : {}),
        ...(home?.region && /^[a-z]{2}(-[a-z]+)+-\d+$/.test(home.region) ? { region: home.region } : {}),
      },
      io,
      'local',
    );
    if (!sandbox) return ExitCode.Usage;

    const session = new LocalSession(
      io,
      sandbox,
      git,
      name,
      values.branch,
      await indexArtifacts(artifactsDir),
      secretPrefix,
    );
    try {
      await session.start();
    } catch (error) {
      await session.stop('error');
      return fail((error as Error).message);
    }
    io.stdout(
      `${[
        `Ballast local: ${repoPath} is the CodeCommit repository ${name} on ${sandbox.url}`,
        `Account ${sandbox.account}, region ${sandbox.region}; simulated time runs ${flags.timeScale}x real time.`,
        `Watching ${values.branch ? `the branch ${values.branch}` : 'every branch'}; ballast.yaml maps ${
          environments.length > 0
            ? environments.map((e) => `${e.branch} -> ${e.name}`).join(', ')
            : 'no branch to an environment'
        }.`,
        '',
        'In another terminal:',
        `  ballast status --endpoint-url ${sandbox.url}`,
        `  ballast history ENDPOINT --endpoint-url ${sandbox.url}`,
        'or point the AWS CLI / SDKs at the sandbox:',
        ...exportLines(sandbox),
        '',
      ].join('\n')}\n`,
    );
    await session.deployCurrentHeads(environments);
    io.stdout('Commit to a watched branch to deploy it; Ctrl-C stops.\n\n');

    const signal = await untilSignal();
    io.stdout(`\n${signal ?? 'signal'}: stopping\n`);
    await session.stop('signal');
    return ExitCode.Ok;
  },
};

interface EnvironmentMapping {
  readonly name: string;
  readonly branch: string;
  readonly account?: string;
  readonly region?: string;
}

/**
 * One `ballast local` run: routes the repository's push events to the deploy workflow (after
 * seeding what the commit expects), and narrates each execution as it ends.
 */
class LocalSession {
  private pipeline: LocalPipeline | undefined;
  private unsubscribe: (() => void) | undefined;
  private stopWatching: (() => void) | undefined;
  private repositoryId = '';
  private repositoryArn = '';
  /** Pushes are seeded and started in the order they arrived. */
  private queue: Promise<void> = Promise.resolve();
  private readonly initialEvents = new Set<string>();
  private readonly narrations: Array<Promise<void>> = [];
  private readonly warned = new Set<string>();
  private stopping = false;

  constructor(
    private readonly io: CliIo,
    private readonly sandbox: Sandbox,
    private readonly git: GitRepository,
    private readonly name: string,
    private readonly branch: string | undefined,
    private readonly artifacts: ReadonlyMap<string, string>,
    private readonly secretPrefix: string | undefined,
  ) {}

  async start(): Promise<void> {
    const summary = await this.sandbox.codecommit.registerRepository(this.name, this.git.workTree ?? this.git.gitDir, {
      description: `ballast local: ${this.git.workTree ?? this.git.gitDir}`,
    });
    this.repositoryId = summary.repositoryId;
    this.repositoryArn = summary.arn;
    const { LocalPipeline } = await import('../../sandbox/pipeline.ts');
    // Pushes are routed here rather than by the pipeline's own rule, so the account is seeded
    // before each deployment starts (an empty allow-list turns the pipeline's rule off).
    // `secretPrefix` plays the stack's ballast:secretPrefix context.
    this.pipeline = await LocalPipeline.start({
      sandbox: this.sandbox,
      repositories: [],
      ...(this.secretPrefix !== undefined ? { secretPrefix: this.secretPrefix } : {}),
    });
    this.unsubscribe = this.sandbox.events.subscribe(
      {
        ...CODECOMMIT_PUSH_PATTERN,
        detail: {
          ...CODECOMMIT_PUSH_PATTERN.detail,
          repositoryName: [this.name],
          ...(this.branch ? { referenceName: [this.branch] } : {}),
        },
      },
      (event) => this.onPush(event as EventBridgeEvent<ReferenceChangeDetail>),
    );
    this.stopWatching = this.sandbox.codecommit.watchRepository(this.name, WATCH_INTERVAL_MS, (error) =>
      this.io.stderr(`ballast local: watching ${this.name} failed: ${(error as Error).message}\n`),
    );
  }

  /** Treats the head of every watched branch as the first push, so what is committed now goes live. */
  async deployCurrentHeads(environments: readonly EnvironmentMapping[]): Promise<void> {
    const branches = await this.git.branches();
    const wanted = this.branch
      ? branches.filter((b) => b.name === this.branch)
      : branches.filter((b) => environments.some((e) => e.branch === b.name));
    if (wanted.length === 0) {
      this.io.stdout(
        this.branch
          ? `The branch ${this.branch} has no commits yet; its first commit deploys.\n`
          : `No branch of ${this.name} feeds an environment yet; commit to one (${environments.map((e) => e.branch).join(', ') || 'see ballast.yaml'}) to deploy.\n`,
      );
      return;
    }
    for (const { name, commitId } of wanted) {
      this.io.stdout(`Deploying the current head of ${name} (${short(commitId)}) as the first push.\n`);
      const event = this.sandbox.events.put<ReferenceChangeDetail>({
        source: CODECOMMIT_EVENT_SOURCE,
        detailType: REPOSITORY_STATE_CHANGE,
        resources: [this.repositoryArn],
        detail: {
          event: 'referenceCreated',
          repositoryName: this.name,
          repositoryId: this.repositoryId,
          referenceType: 'branch',
          referenceName: name,
          referenceFullName: `refs/heads/${name}`,
          commitId,
          callerUserArn: `arn:aws:iam::${this.sandbox.account}:user/ballast-sandbox`,
        },
      });
      this.initialEvents.add(event.id);
    }
  }

  async stop(reason: string): Promise<void> {
    this.stopping = true;
    this.stopWatching?.();
    this.unsubscribe?.();
    await this.queue;
    const pipeline = this.pipeline;
    if (pipeline) {
      const running = pipeline.runner.executions().filter((e) => e.status === 'RUNNING');
      if (running.length > 0 && reason !== 'error') {
        this.io.stdout(
          `Waiting up to ${SHUTDOWN_GRACE_MS / 1000} s for ${running.length} running deployment(s); Ctrl-C again aborts them.\n`,
        );
        const waited = new AbortController();
        const timer = setTimeout(() => waited.abort(), SHUTDOWN_GRACE_MS);
        await Promise.race([pipeline.idle(), untilSignal(waited.signal)]);
        clearTimeout(timer);
        waited.abort();
      }
      const left = pipeline.runner.executions().filter((e) => e.status === 'RUNNING');
      for (const execution of left) execution.abort();
      if (left.length > 0) {
        this.io.stdout(`Aborted ${left.length} deployment(s); the sandbox's state goes with it.\n`);
        await Promise.race([pipeline.idle(), new Promise((done) => setTimeout(done, 2_000).unref())]);
      }
      pipeline.stop();
    }
    await Promise.allSettled(this.narrations);
    await this.sandbox.stop();
  }

  private onPush(event: EventBridgeEvent<ReferenceChangeDetail>): void {
    this.queue = this.queue.then(async () => {
      if (this.stopping || !this.pipeline) return;
      const { commitId, referenceName } = event.detail;
      if (!commitId) return;
      const subject = await this.git
        .readCommit(commitId)
        .then((c) => c?.message.split('\n')[0] ?? '')
        .catch(() => '');
      const initial = this.initialEvents.has(event.id);
      this.io.stdout(
        `-> ${referenceName}@${short(commitId)} "${subject}" ${initial ? 'is the current head' : 'pushed'}: deploying\n`,
      );
      try {
        await this.seed(commitId, referenceName);
      } catch (error) {
        this.io.stderr(
          `ballast local: seeding the sandbox for ${short(commitId)} failed: ${(error as Error).message}\n`,
        );
      }
      const execution = this.pipeline.deployFor(event);
      const wallStart = Date.now();
      this.narrations.push(
        execution.result.then(
          () => this.narrate(execution, referenceName, commitId, wallStart),
          () => this.narrate(execution, referenceName, commitId, wallStart),
        ),
      );
    });
  }

  private async narrate(execution: LocalExecution, branch: string, commit: string, wallStart: number): Promise<void> {
    const simulated = (this.sandbox.clock.nowMs() - execution.startedAt.getTime()) / 1000;
    const took = `${formatDuration(simulated)} simulated, ${formatDuration((Date.now() - wallStart) / 1000)} real`;
    // The plan document (what changed, what was unchanged or deferred) is in the state bucket.
    const planKey = (execution.output as ExecutionOutput | undefined)?.plan?.planKey;
    let plan: PlanDocument | undefined;
    const reasons = new Map<string, string>();
    const output = execution.output as ExecutionOutput | undefined;
    if (this.pipeline) {
      const s3 = new S3Client({
        endpoint: this.sandbox.url,
        region: this.sandbox.region,
        credentials: { accessKeyId: 'ballast-sandbox', secretAccessKey: 'ballast-sandbox' },
      });
      const store = new JsonStore(s3, this.pipeline.stateBucket);
      try {
        if (planKey) plan = (await store.get<PlanDocument>(planKey).catch(() => undefined))?.value;
        const environment = output?.resolved?.environment;
        for (const result of environment ? endpointResults(output) : []) {
          const entries = await readLedger(store, environment ?? '', result.endpoint).catch(() => []);
          const reason = entries.find((e) => e.execution === execution.name)?.reason;
          if (reason) reasons.set(result.endpoint, reason);
        }
      } finally {
        s3.destroy();
      }
    }
    this.io.stdout(`${narration(execution, branch, commit, took, plan, reasons).join('\n')}\n\n`);
  }

  /** Puts in the sandbox what the commit's Models and Endpoints expect to exist in the account. */
  private async seed(commit: string, branch: string): Promise<void> {
    const files = await yamlFilesAt(this.git, commit);
    const environment = environmentsOf(files['ballast.yaml'] ?? '').find((e) => e.branch === branch)?.name;
    const config = {
      endpoint: this.sandbox.url,
      region: this.sandbox.region,
      credentials: { accessKeyId: 'ballast-sandbox', secretAccessKey: 'ballast-sandbox' },
    };
    const s3 = new S3Client(config);
    const cloudwatch = new CloudWatchClient(config);
    const secretsManager = new SecretsManagerClient(config);
    try {
      const docs = documentsOf(files);
      const repository = docs.find(([, doc]) => doc.kind === 'Repository')?.[1];
      for (const [file, doc] of docs) {
        if (doc.kind === 'Model') {
          await this.seedArtifact(s3, file, doc);
          await this.seedSecrets(secretsManager, file, doc);
        }
        if (doc.kind === 'Endpoint') await seedAlarms(cloudwatch, doc, environment, repository);
      }
    } finally {
      s3.destroy();
      cloudwatch.destroy();
      secretsManager.destroy();
    }
  }

  /**
   * The Model's artifact: an archive at its URI, or a directory's files under its prefix (listed
   * inline or in a manifest). A Model with no usable pointer is Validate's to report, with its
   * line and column: it is skipped here without a word.
   */
  private async seedArtifact(s3: S3Client, file: string, doc: ResourceDoc): Promise<void> {
    const artifact = doc.spec?.artifact;
    if (typeof artifact !== 'object' || artifact === null) return;
    const { uri, prefix, files, manifest } = artifact as Record<string, unknown>;
    if (typeof prefix === 'string') {
      const [, bucket, keyPrefix] = /^s3:\/\/([^/]+)\/(.*)$/.exec(prefix) ?? [];
      if (!bucket || keyPrefix === undefined || !(keyPrefix === '' || keyPrefix.endsWith('/'))) return;
      const listed = Array.isArray(files) ? manifestFiles(files) : await this.seedManifest(s3, file, doc, manifest);
      if (listed) await this.seedFiles(s3, file, doc, bucket, keyPrefix, listed);
      return;
    }
    const location = objectOf(uri);
    const sha256 = sha256Of((artifact as Record<string, unknown>).sha256);
    if (!location || !sha256 || (await exists(s3, location))) return;
    await this.upload(s3, file, doc, location, sha256);
  }

  /**
   * A directory's manifest: uploaded from --artifacts when it is not in the sandbox yet, then read.
   * Undefined when there is no manifest to read, or it is not the one the Model pins, or it does
   * not parse (Validate reports that at the Model's line).
   */
  private async seedManifest(
    s3: S3Client,
    file: string,
    doc: ResourceDoc,
    manifest: unknown,
  ): Promise<ManifestFile[] | undefined> {
    if (typeof manifest !== 'object' || manifest === null) return undefined;
    const { uri, sha256: declared } = manifest as Record<string, unknown>;
    const location = objectOf(uri);
    const sha256 = sha256Of(declared);
    if (!location || !sha256) return undefined;
    let body = await getObject(s3, location);
    if (body === undefined) {
      const path = await this.upload(s3, file, doc, location, sha256, 'its manifest');
      if (path === undefined) return undefined;
      body = path && (await stat(path)).size <= MAX_MANIFEST_BYTES ? await readFile(path) : Buffer.alloc(0);
    }
    // Another manifest than the one the Model pins: Validate refuses the Model; seeding its files would not help.
    if (createHash('sha256').update(body).digest('hex') !== sha256) return undefined;
    return parseManifestText(body.toString('utf8'));
  }

  /** Uploads each file of a directory that is not under the prefix yet. */
  private async seedFiles(
    s3: S3Client,
    file: string,
    doc: ResourceDoc,
    bucket: string,
    keyPrefix: string,
    files: readonly ManifestFile[],
  ): Promise<void> {
    const present = await keysUnder(s3, bucket, keyPrefix);
    for (const entry of files) {
      const key = `${keyPrefix}${entry.path}`;
      if (!present.has(key)) await this.upload(s3, file, doc, { bucket, key }, entry.sha256, entry.path);
    }
  }

  /**
   * Uploads the artifact file whose content has this sha256 to the object, and returns that file
   * ('' for an empty one, which needs no file). When no file has it, says so once (naming the
   * Model, `what` the Model declares it for, and the short sha) and returns undefined.
   */
  private async upload(
    s3: S3Client,
    file: string,
    doc: ResourceDoc,
    { bucket, key }: S3Object,
    sha256: string,
    what?: string,
  ): Promise<string | undefined> {
    const path = this.artifacts.get(sha256) ?? (sha256 === EMPTY_SHA256 ? '' : undefined);
    if (path === undefined) {
      const model = doc.metadata?.name ?? 'this Model';
      const warning = `${model}\0${what ?? ''}\0${sha256}`;
      if (!this.warned.has(warning)) {
        this.warned.add(warning);
        this.io.stdout(
          `   ${file}: no file in the artifacts directory has the sha256 ${sha256.slice(0, 12)}… that ${model} declares${what ? ` for ${what}` : ''}; its endpoints fail ${what === 'its manifest' ? 'at Validate' : 'at Register'} (pass --artifacts DIR)\n`,
        );
      }
      return undefined;
    }
    await s3.send(new CreateBucketCommand({ Bucket: bucket })).catch(ignoreExists);
    const size = path ? (await stat(path)).size : 0;
    // Streamed: a model directory's shards can be larger than this process may hold in memory.
    await s3.send(
      new PutObjectCommand({
        Bucket: bucket,
        Key: key,
        Body: size > 0 ? createReadStream(path) : Buffer.alloc(0),
        ContentLength: size,
      }),
    );
    return path;
  }

  /**
   * Creates each secret the Model declares that the sandbox does not have, with a placeholder
   * value: the workflow only needs it to exist. The real value stays in the user's AWS account;
   * no value is ever printed.
   */
  private async seedSecrets(client: SecretsManagerClient, file: string, doc: ResourceDoc): Promise<void> {
    const secrets = doc.spec?.secrets;
    if (typeof secrets !== 'object' || secrets === null || Array.isArray(secrets)) return;
    const model = doc.metadata?.name ?? 'this Model';
    const ids = Object.values(secrets).flatMap((s: unknown) => {
      const id = (s as { secretId?: unknown } | null)?.secretId;
      return typeof id === 'string' && (SECRET_NAME.test(id) || SECRET_ARN.test(id)) ? [id] : [];
    });
    if (ids.length > 0 && this.secretPrefix === undefined && !this.warned.has(`secrets\0${model}`)) {
      this.warned.add(`secrets\0${model}`);
      const prefix = sharedFolder(ids.map((id) => SECRET_ARN.exec(id)?.[3] ?? id));
      this.io.stdout(
        `   ${file}: ${model} declares secrets and ballast local runs without --secret-prefix: Validate refuses it, as on a stack deployed without ballast:secretPrefix${
          prefix ? ` (run with --secret-prefix ${prefix} to let it read them)` : ''
        }\n`,
      );
    }
    for (const id of new Set(ids)) {
      const found = await client.send(new DescribeSecretCommand({ SecretId: id })).then(
        () => true,
        (error: unknown) => {
          if (error instanceof Error && error.name === 'ResourceNotFoundException') return false;
          throw error;
        },
      );
      if (found) continue;
      const arn = SECRET_ARN.exec(id);
      const name = arn?.[3] ?? id;
      if (arn && (arn[1] !== this.sandbox.region || arn[2] !== this.sandbox.account)) {
        if (!this.warned.has(`secret\0${id}`)) {
          this.warned.add(`secret\0${id}`);
          this.io.stdout(
            `   ${file}: the secret ${id} is in account ${arn[2]}, region ${arn[1]}; the sandbox is ${this.sandbox.account}, ${this.sandbox.region} and cannot hold it\n`,
          );
        }
        continue;
      }
      const created = await client
        .send(
          new CreateSecretCommand({
            Name: name,
            SecretString: `ballast-local-placeholder-${randomBytes(4).toString('hex')}`,
            Description: 'ballast local: a placeholder; the real value stays in your AWS account',
          }),
        )
        .then(
          (output) => output.ARN,
          (error: unknown) => {
            // Created for an earlier commit under its name; only the declared ARN's suffix differs (below).
            if (error instanceof Error && error.name === 'ResourceExistsException') return undefined;
            throw error;
          },
        );
      if (created === undefined) continue;
      this.io.stdout(
        `   ${file}: created secret ${name} in the sandbox with a placeholder value (a real one stays in your AWS account)${
          arn
            ? `; the sandbox's ARN for it is ${created}, not ${id} (its random suffix differs): declare the secret by name to run locally`
            : ''
        }\n`,
      );
    }
  }
}

/** What one execution did, as the lines `ballast local` prints when it ends. */
export function narration(
  execution: LocalExecution,
  branch: string,
  commit: string,
  took: string,
  document?: PlanDocument,
  /** Each endpoint's reason, from its ledger entry (the workflow's results carry outcomes only). */
  reasons?: ReadonlyMap<string, string>,
): string[] {
  const head = `${branch}@${short(commit)}`;
  const output = (execution.output ?? {}) as ExecutionOutput;
  if (execution.status !== 'SUCCEEDED') {
    const error = execution.error ? `${execution.error.name}: ${execution.error.message}` : execution.status;
    return [`x  ${head}: the deploy workflow ${execution.status === 'ABORTED' ? 'was aborted' : 'failed'}: ${error}`];
  }
  const resolved = output.resolved ?? {};
  if (resolved.ignored) return [`.  ${head}: not deployed: ${resolved.ignored}`];
  const environment = resolved.environment ?? '?';
  const plan = output.plan;
  if (plan && plan.valid === false) {
    const issues = plan.issues ?? [];
    const count = plan.issueCount ?? issues.length;
    const lines = [
      `x  ${head} -> ${environment}: rejected, ${count} validation error${count === 1 ? '' : 's'}; nothing live changed`,
      ...issues.map((i) => `     ${i.file}:${i.line}:${i.column}: ${i.message}`),
    ];
    if (count > issues.length) lines.push(`     … and ${count - issues.length} more (ballast validate shows them all)`);
    return lines;
  }
  const results = endpointResults(output);
  const changes = new Map((document?.endpoints ?? []).map((e) => [e.name, e.changes]));
  const counts = new Map<string, number>();
  for (const r of results) counts.set(r.outcome, (counts.get(r.outcome) ?? 0) + 1);
  const bad = results.some((r) => r.outcome === 'failed' || r.outcome === 'rolled-back');
  const summary =
    results.length === 0
      ? 'nothing to roll out'
      : [...counts].map(([outcome, n]) => (results.length === 1 ? outcome : `${n} ${outcome}`)).join(', ');
  const rows: string[][] = results.map((r) => [
    r.endpoint,
    r.outcome,
    [
      (changes.get(r.endpoint) ?? []).length > 0 ? `changes: ${(changes.get(r.endpoint) ?? []).join(',')}` : '',
      reasons?.get(r.endpoint) ?? '',
    ]
      .filter(Boolean)
      .join('; '),
  ]);
  for (const d of document?.deferred ?? []) rows.push([d.name, 'deferred', d.reason]);
  const width = Math.max(0, ...rows.map((r) => (r[0] ?? '').length));
  const outcomeWidth = Math.max(0, ...rows.map((r) => (r[1] ?? '').length));
  const lines = [`${bad ? 'x ' : 'ok'} ${head} -> ${environment}: ${summary} (${took})`];
  for (const [endpoint = '', outcome = '', detail = ''] of rows) {
    lines.push(`     ${endpoint.padEnd(width)}  ${outcome.padEnd(outcomeWidth)}  ${detail}`.trimEnd());
  }
  if ((document?.unchanged ?? []).length > 0) {
    lines.push(`     unchanged: ${(document?.unchanged ?? []).join(', ')} (same content as the previous commit)`);
  }
  return lines;
}

interface ExecutionOutput {
  resolved?: { environment?: string; ignored?: string };
  plan?: {
    valid?: boolean;
    issues?: Array<{ file: string; line: number; column: number; message: string }>;
    issueCount?: number;
    planKey?: string;
  };
}

interface ResourceDoc {
  kind?: unknown;
  metadata?: { name?: string };
  spec?: Record<string, unknown>;
}

/** ballast.yaml from the working tree, or from the checked-out branch's head in a bare repository. */
async function readRepositoryYaml(git: GitRepository, headBranch: string | undefined): Promise<string | undefined> {
  if (git.workTree) {
    const text = await readFile(join(git.workTree, 'ballast.yaml'), 'utf8').catch(() => undefined);
    if (text !== undefined) return text;
  }
  const head = headBranch ? await git.branchHead(headBranch) : undefined;
  if (!head) return undefined;
  return (await yamlFilesAt(git, head, ['ballast.yaml']))['ballast.yaml'];
}

/** The environments ballast.yaml declares (branch -> name, account, region); [] when it cannot be read. */
function environmentsOf(text: string): EnvironmentMapping[] {
  let environments: unknown;
  try {
    environments = (parse(text) as { spec?: { environments?: unknown } } | null)?.spec?.environments;
  } catch {
    return [];
  }
  if (!Array.isArray(environments)) return [];
  return environments.flatMap((e: unknown) => {
    const env = (e ?? {}) as Record<string, unknown>;
    if (typeof env.name !== 'string' || typeof env.branch !== 'string') return [];
    return [
      {
        name: env.name,
        branch: env.branch,
        ...(typeof env.account === 'string' ? { account: env.account } : {}),
        ...(typeof env.region === 'string' ? { region: env.region } : {}),
      },
    ];
  });
}

/** The YAML files of a commit (or only `only`), path -> text. */
async function yamlFilesAt(
  git: GitRepository,
  commit: string,
  only?: readonly string[],
): Promise<Record<string, string>> {
  const files: Record<string, string> = {};
  for (const entry of await git.listTree(commit, { recursive: true })) {
    if (entry.type !== 'blob' || !/\.ya?ml$/.test(entry.path)) continue;
    if (only && !only.includes(entry.path)) continue;
    files[entry.path] = (await git.readBlob(entry.id, 4 * 1024 * 1024)).toString('utf8');
  }
  return files;
}

function documentsOf(files: Record<string, string>): Array<[string, ResourceDoc]> {
  const docs: Array<[string, ResourceDoc]> = [];
  for (const [path, text] of Object.entries(files)) {
    try {
      for (const doc of parseAllDocuments(text)) {
        const value = doc.toJS() as ResourceDoc | null;
        if (value && typeof value === 'object' && typeof value.kind === 'string') docs.push([path, value]);
      }
    } catch {
      // A file that does not parse is Validate's to report.
    }
  }
  return docs;
}

/** sha256 -> file, for every file in the artifacts directory (recursively). */
async function indexArtifacts(dir: string): Promise<Map<string, string>> {
  const index = new Map<string, string>();
  for (const entry of await readdir(dir, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue;
    const path = join(entry.parentPath, entry.name);
    // Streamed, so a shard of many GiB is hashed without being held in memory.
    const hash = createHash('sha256');
    for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
    index.set(hash.digest('hex'), path);
  }
  return index;
}

/** A manifest larger than this is not read (10,000 files of 512-character paths fit well within it). */
const MAX_MANIFEST_BYTES = 16 * 1024 * 1024;

interface S3Object {
  readonly bucket: string;
  readonly key: string;
}

function objectOf(uri: unknown): S3Object | undefined {
  const [, bucket, key] = (typeof uri === 'string' ? /^s3:\/\/([^/]+)\/(.+)$/.exec(uri) : null) ?? [];
  return bucket && key ? { bucket, key } : undefined;
}

function sha256Of(value: unknown): string | undefined {
  const sha256 = typeof value === 'string' ? value.toLowerCase() : '';
  return /^[0-9a-f]{64}$/.test(sha256) ? sha256 : undefined;
}

async function exists(s3: S3Client, { bucket, key }: S3Object): Promise<boolean> {
  return s3
    .send(new HeadObjectCommand({ Bucket: bucket, Key: key }))
    .then(() => true)
    .catch(() => false);
}

/** The object's bytes, or undefined when it (or its bucket) does not exist or is too big to be a manifest. */
async function getObject(s3: S3Client, { bucket, key }: S3Object): Promise<Buffer | undefined> {
  try {
    const output = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    if ((output.ContentLength ?? 0) > MAX_MANIFEST_BYTES) {
      await output.Body?.transformToByteArray().catch(() => undefined);
      return undefined;
    }
    return output.Body ? Buffer.from(await output.Body.transformToByteArray()) : Buffer.alloc(0);
  } catch {
    return undefined;
  }
}

/** Every key under the prefix (none when the bucket does not exist yet). */
async function keysUnder(s3: S3Client, bucket: string, prefix: string): Promise<Set<string>> {
  const keys = new Set<string>();
  let token: string | undefined;
  do {
    const page = await s3
      .send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }))
      .catch((error: unknown) => {
        if (error instanceof Error && error.name === 'NoSuchBucket') return undefined;
        throw error;
      });
    for (const object of page?.Contents ?? []) if (object.Key) keys.add(object.Key);
    token = page?.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token);
  return keys;
}

/**
 * The files of a directory artifact (inline, or a manifest's `files`) that can be seeded: those
 * with a string path and a sha256. What is wrong with the others is Validate's to report.
 */
function manifestFiles(files: readonly unknown[]): ManifestFile[] {
  return files.flatMap((f: unknown) => {
    const { path, sha256, sizeBytes } = (f ?? {}) as Record<string, unknown>;
    const digest = sha256Of(sha256);
    return typeof path === 'string' && path.length > 0 && digest
      ? [{ path, sha256: digest, sizeBytes: typeof sizeBytes === 'number' ? sizeBytes : 0 }]
      : [];
  });
}

/**
 * A manifest file's files; undefined when it is not a ModelManifest. Lenient on purpose: Validate
 * (with the spec's parseManifest) is what reports a malformed manifest, with the Model's file:line.
 */
function parseManifestText(text: string): ManifestFile[] | undefined {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  const manifest = (value ?? {}) as { apiVersion?: unknown; kind?: unknown; files?: unknown };
  if (manifest.apiVersion !== 'ballast.dev/v1' || manifest.kind !== 'ModelManifest') return undefined;
  return Array.isArray(manifest.files) ? manifestFiles(manifest.files) : undefined;
}

/**
 * Creates the alarms an Endpoint names, unless they exist (re-creating one would reset its
 * state). Latency alarms watch p99 ModelLatency, the others Invocation5XXErrors, of the variant
 * of the endpoint Ballast deploys (`ballast-<environment>-<endpoint>`, its VariantName), which is
 * what SageMaker publishes (seededAlarmInput); missing data is not breaching.
 */
async function seedAlarms(
  cloudwatch: CloudWatchClient,
  doc: ResourceDoc,
  environment: string | undefined,
  repository: ResourceDoc | undefined,
): Promise<void> {
  const alarms = (Array.isArray(doc.spec?.alarms) ? doc.spec.alarms : []).filter(
    (a): a is string => typeof a === 'string' && a.length > 0 && a.length <= 255,
  );
  if (alarms.length === 0) return;
  const existing = await cloudwatch.send(new DescribeAlarmsCommand({ AlarmNames: alarms.slice(0, 100) }));
  const have = new Set((existing.MetricAlarms ?? []).map((a) => a.AlarmName));
  const endpointName = `ballast-${environment ? `${environment}-` : ''}${doc.metadata?.name ?? ''}`;
  const variantName = seededVariantName(doc, repository);
  for (const alarm of alarms) {
    if (have.has(alarm)) continue;
    await cloudwatch.send(new PutMetricAlarmCommand(seededAlarmInput(alarm, endpointName, variantName)));
  }
}

/** The CodeCommit name for a directory: its name, with what CodeCommit does not allow replaced. */
export function repositoryName(path: string): string {
  const name = basename(path)
    .replace(/\.git$/i, '')
    .replace(/[^\w.-]/g, '-')
    .slice(0, 100);
  return name.length > 0 ? name : 'model-repo';
}

function ignoreExists(error: unknown): void {
  if (error instanceof Error && /AlreadyOwnedByYou|AlreadyExists/.test(error.name)) return;
  throw error;
}

/** The folder (`team/`) every one of the names lies under, if they share one: the prefix to suggest. */
function sharedFolder(names: readonly string[]): string | undefined {
  const folders = names.map((name) => name.slice(0, name.lastIndexOf('/') + 1));
  const first = folders[0];
  return first && folders.every((folder) => folder === first) ? first : undefined;
}
