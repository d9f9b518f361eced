import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CloudWatchClient, PutMetricAlarmCommand, type PutMetricAlarmCommandInput } from '@aws-sdk/client-cloudwatch';
import {
  CodeCommitClient,
  CreateCommitCommand,
  CreateRepositoryCommand,
  GetBranchCommand,
  type PutFileEntry,
} from '@aws-sdk/client-codecommit';
import { CreateBucketCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { SageMakerClient } from '@aws-sdk/client-sagemaker';
import { CreateSecretCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { parseAllDocuments, parseDocument } from 'yaml';
import { DEFAULT_VARIANT_NAME } from '../lambdas/spec/schema.ts';
import type { EventBridgeEvent } from './events.ts';
import type { Sandbox } from './sandbox.ts';

export const EXAMPLE_REPO_DIR = fileURLToPath(new URL('../examples/model-repo', import.meta.url));
export const EXAMPLE_ARTIFACTS_DIR = fileURLToPath(new URL('../examples/artifacts', import.meta.url));

/** SDK clients pointed at a sandbox: the demo and the tests use the wire, like any AWS user. */
export function sandboxClients(sandbox: Sandbox) {
  const config = {
    endpoint: sandbox.url,
    region: sandbox.region,
    credentials: { accessKeyId: 'ballast-sandbox', secretAccessKey: 'ballast-sandbox' },
  };
  return {
    s3: new S3Client(config),
    cloudwatch: new CloudWatchClient(config),
    codecommit: new CodeCommitClient(config),
    secretsManager: new SecretsManagerClient(config),
    sagemaker: new SageMakerClient(config),
  };
}

/** Every file of a directory as posix path -> content. */
export async function readTree(dir: string): Promise<Record<string, string>> {
  const files: Record<string, string> = {};
  for (const entry of await readdir(dir, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue;
    const path = join(entry.parentPath, entry.name);
    files[relative(dir, path).split(sep).join('/')] = await readFile(path, 'utf8');
  }
  return files;
}

/** The prefix of the secrets the example's Models declare (the stack's ballast:secretPrefix). */
export const EXAMPLE_SECRET_PREFIX = 'acme-ml/';

interface ArtifactIndex {
  readonly directories: ReadonlyArray<{
    readonly directory: string;
    readonly manifest: string;
    readonly model: string;
    readonly prefix: string;
    readonly manifestUri: string;
  }>;
}

/**
 * What the example repository expects to exist in the account: the model artifacts where its
 * Models declare them (an archive matched to examples/artifacts by sha256; a directory's files
 * and its manifest from examples/artifacts/manifest.json), the secrets its Models name (with a
 * made-up value), and the CloudWatch alarms its Endpoints name for rollback.
 */
export async function seedExampleAccount(sandbox: Sandbox, repoFiles: Record<string, string>): Promise<void> {
  const { s3, cloudwatch, secretsManager } = sandboxClients(sandbox);
  const artifacts = new Map<string, Buffer>();
  for (const entry of await readdir(EXAMPLE_ARTIFACTS_DIR, { withFileTypes: true })) {
    if (!entry.isFile()) continue;
    const bytes = await readFile(join(EXAMPLE_ARTIFACTS_DIR, entry.name));
    artifacts.set(createHash('sha256').update(bytes).digest('hex'), bytes);
  }
  const index = JSON.parse(await readFile(join(EXAMPLE_ARTIFACTS_DIR, 'manifest.json'), 'utf8')) as ArtifactIndex;
  const put = async (uri: string, body: Buffer) => {
    const [, bucket = '', key = ''] = /^s3:\/\/([^/]+)\/(.+)$/.exec(uri) ?? [];
    await s3.send(new CreateBucketCommand({ Bucket: bucket })).catch(ignoreExists);
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body }));
  };
  const docs = documents(repoFiles);
  const repository = docs.find((d) => d.kind === 'Repository');
  for (const doc of docs) {
    if (doc.kind === 'Model') {
      const artifact = doc.spec.artifact as { uri?: string; sha256?: string; prefix?: string };
      if (artifact.uri !== undefined) {
        const bytes = artifacts.get(artifact.sha256 ?? '');
        if (!bytes) {
          throw new Error(
            `no file in examples/artifacts has the sha256 ${artifact.sha256} that ${doc.metadata.name} declares`,
          );
        }
        await put(artifact.uri, bytes);
      } else {
        const directory = index.directories.find((d) => d.model === doc.metadata.name);
        if (!directory) throw new Error(`examples/artifacts/manifest.json has no directory for ${doc.metadata.name}`);
        const root = join(EXAMPLE_ARTIFACTS_DIR, '..', directory.directory);
        for (const [path, body] of Object.entries(await readBinaryTree(root)))
          await put(`${directory.prefix}${path}`, body);
        await put(directory.manifestUri, await readFile(join(EXAMPLE_ARTIFACTS_DIR, '..', directory.manifest)));
      }
      for (const secret of Object.values((doc.spec.secrets ?? {}) as Record<string, { secretId: string }>)) {
        await secretsManager
          .send(
            new CreateSecretCommand({
              Name: secret.secretId,
              SecretString: `sandbox-secret-${createHash('sha256').update(secret.secretId).digest('hex').slice(0, 24)}`,
            }),
          )
          .catch(ignoreExists);
      }
    }
    if (doc.kind === 'Endpoint') {
      for (const alarm of (doc.spec.alarms as string[] | undefined) ?? []) {
        await cloudwatch.send(
          new PutMetricAlarmCommand(
            // The endpoint name Ballast gives prod's endpoint (lambdas/targets/sagemaker.ts).
            seededAlarmInput(alarm, `ballast-prod-${doc.metadata.name}`, seededVariantName(doc, repository)),
          ),
        );
      }
    }
  }
  s3.destroy();
  cloudwatch.destroy();
  secretsManager.destroy();
}

/**
 * The CloudWatch alarm a local account gets for an alarm an Endpoint names: it watches what SageMaker
 * publishes for the endpoint's variant, namespace `AWS/SageMaker` with the dimensions EndpointName
 * AND VariantName ("SageMaker AI endpoint invocation metrics",
 * https://docs.aws.amazon.com/sagemaker/latest/dg/monitoring-cloudwatch.html). CloudWatch matches a
 * metric by all its dimensions, so an alarm on EndpointName alone would never see that data.
 *  - a name with `latency` in it: p99 of ModelLatency (microseconds) over 60 s above 2 s;
 *  - any other name: the Sum of Invocation5XXErrors over 60 s above 5, which a model failing a real
 *    share of its requests trips (the sandbox's SANDBOX_ERROR_RATE) and a stray error does not.
 * Missing data is not breaching: an endpoint without traffic is not in alarm.
 */
export function seededAlarmInput(
  alarmName: string,
  endpointName: string,
  variantName: string,
): PutMetricAlarmCommandInput {
  const latency = /latency/i.test(alarmName);
  return {
    AlarmName: alarmName,
    Namespace: 'AWS/SageMaker',
    MetricName: latency ? 'ModelLatency' : 'Invocation5XXErrors',
    Dimensions: [
      { Name: 'EndpointName', Value: endpointName },
      { Name: 'VariantName', Value: variantName },
    ],
    ...(latency ? { ExtendedStatistic: 'p99' } : { Statistic: 'Sum' as const }),
    Period: 60,
    EvaluationPeriods: 1,
    Threshold: latency ? 2_000_000 : 5,
    ComparisonOperator: 'GreaterThanThreshold',
    TreatMissingData: 'notBreaching',
  };
}

/**
 * The VariantName Deploy gives an Endpoint's production variant, as lambdas/spec/resolve.ts decides it:
 * the Endpoint's `target.sagemaker.variantName`, else ballast.yaml's `defaults.sagemaker.variantName`,
 * else `AllTraffic`. Takes the documents as parsed YAML (either may be absent or malformed).
 */
export function seededVariantName(endpoint: unknown, repository: unknown): string {
  const at = (value: unknown, ...path: string[]): unknown =>
    path.reduce<unknown>(
      (v, k) => (typeof v === 'object' && v !== null ? (v as Record<string, unknown>)[k] : undefined),
      value,
    );
  const declared = at(endpoint, 'spec', 'target', 'sagemaker', 'variantName');
  if (typeof declared === 'string' && declared.length > 0) return declared;
  const fallback = at(repository, 'spec', 'defaults', 'sagemaker', 'variantName');
  return typeof fallback === 'string' && fallback.length > 0 ? fallback : DEFAULT_VARIANT_NAME;
}

/** Every file of a directory as posix path -> bytes. */
export async function readBinaryTree(dir: string): Promise<Record<string, Buffer>> {
  const files: Record<string, Buffer> = {};
  for (const entry of await readdir(dir, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue;
    const path = join(entry.parentPath, entry.name);
    files[relative(dir, path).split(sep).join('/')] = await readFile(path);
  }
  return files;
}

/**
 * Commits files to a sandbox CodeCommit branch through CreateCommit (null deletes a file), as a
 * `git push` would; the sandbox emits the "CodeCommit Repository State Change" event.
 */
export async function commitFiles(
  sandbox: Sandbox,
  repositoryName: string,
  branchName: string,
  files: Record<string, string | null>,
  message: string,
): Promise<string> {
  const { codecommit } = sandboxClients(sandbox);
  try {
    await codecommit.send(new CreateRepositoryCommand({ repositoryName })).catch(ignoreExists);
    const parent = await codecommit
      .send(new GetBranchCommand({ repositoryName, branchName }))
      .then((r) => r.branch?.commitId)
      .catch(() => undefined);
    const putFiles: PutFileEntry[] = [];
    const deleteFiles: Array<{ filePath: string }> = [];
    for (const [filePath, content] of Object.entries(files)) {
      if (content === null) deleteFiles.push({ filePath });
      else putFiles.push({ filePath, fileContent: new TextEncoder().encode(content) });
    }
    const response = await codecommit.send(
      new CreateCommitCommand({
        repositoryName,
        branchName,
        ...(parent ? { parentCommitId: parent } : {}),
        authorName: 'Ballast demo',
        email: 'demo@ballast.invalid',
        commitMessage: message,
        putFiles,
        deleteFiles,
      }),
    );
    return response.commitId ?? '';
  } finally {
    codecommit.destroy();
  }
}

/** The "CodeCommit Repository State Change" event the sandbox sent for a commit, if it sent one. */
export function pushEventOf(sandbox: Pick<Sandbox, 'events'>, commit: string): EventBridgeEvent | undefined {
  return sandbox.events
    .events()
    .find(
      (e) =>
        e['detail-type'] === 'CodeCommit Repository State Change' &&
        (e.detail as { commitId?: string }).commitId === commit,
    );
}

interface Doc {
  kind: string;
  metadata: { name: string };
  spec: Record<string, unknown>;
}

function documents(files: Record<string, string>): Doc[] {
  return Object.entries(files)
    .filter(([path]) => /\.ya?ml$/.test(path))
    .flatMap(([, text]) => parseAllDocuments(text).map((d) => d.toJS() as Doc))
    .filter((d) => d && typeof d === 'object' && typeof d.kind === 'string');
}

function ignoreExists(error: unknown): void {
  if (error instanceof Error && /AlreadyOwnedByYou|AlreadyExists|NameExists|ResourceExists/.test(error.name)) return;
  throw error;
}

/**
 * A Model's YAML with these container environment variables set, comments and layout kept: how the
 * demo and the benchmarks give a model the sandbox's rehearsal behaviour (SANDBOX_ERROR_RATE, ...).
 */
export function withContainerEnvironment(model: string, environment: Readonly<Record<string, string>>): string {
  const doc = parseDocument(model);
  for (const [name, value] of Object.entries(environment)) doc.setIn(['spec', 'environment', name], value);
  return doc.toString();
}
