/**
 * Validate's remote checks: what the repository alone cannot tell, checked before anything is
 * registered or deployed, so that a bad commit is refused with the Model's file:line and no fleet
 * is ever created for it.
 *
 * - A directory model pinned by a manifest file in S3: the manifest is read, its sha256 checked
 *   and its files held to the same rules as inline files (lambdas/spec/manifest.ts).
 * - Each secret a Model declares: it must lie under the stack's secret prefix (the only secrets the
 *   SageMaker execution role may read), in the environment's account and region, and exist.
 *   Only its metadata is read (DescribeSecret), never its value.
 *
 * Pure apart from the two injected reads, so the rules are tested without AWS; each model and each
 * secret is looked up once per push, however many endpoints share it.
 */
import { createHash } from 'node:crypto';
import { checkFiles, directoryDigest, MAX_MANIFEST_BYTES, type ManifestFile, parseManifest } from '../spec/manifest.ts';
import { parseS3Prefix, parseS3Uri } from '../spec/s3-uri.ts';
import { secretEnvName, secretNameOfArn } from '../spec/secrets.ts';
import type {
  Declared,
  PlanIssue,
  PlannedRelease,
  Release,
  ReleaseArtifact,
  ReleaseFile,
  ReleaseSecret,
} from './types.ts';

export type ObjectRead =
  | { readonly status: 'found'; readonly body: Uint8Array }
  | { readonly status: 'missing' }
  | { readonly status: 'forbidden' }
  /** Bigger than a manifest may be: not read at all. */
  | { readonly status: 'too-large'; readonly sizeBytes: number };

export interface PreflightReads {
  /**
   * GetObject of at most `maxBytes`; `missing` for NoSuchKey, `forbidden` for AccessDenied,
   * `too-large` (without reading the body) past `maxBytes`. Other errors throw (and are retried).
   */
  readObject(bucket: string, key: string, maxBytes: number): Promise<ObjectRead>;
  /** DescribeSecret; undefined when it does not exist. Other errors throw (retried). */
  describeSecret(
    secretId: string,
  ): Promise<{ readonly arn: string; readonly name: string; readonly deleted: boolean } | undefined>;
}

export interface PreflightSettings {
  /** The prefix of the secrets models may use (ballast:secretPrefix); unset: models may use none. */
  readonly secretPrefix?: string | undefined;
}

export interface PreflightResult {
  readonly releases: readonly Release[];
  readonly issues: readonly PlanIssue[];
}

const SECRET_ARN = /^arn:aws[a-z-]*:secretsmanager:([a-z0-9-]+):(\d{12}):secret:/;

export async function preflight(
  planned: readonly PlannedRelease[],
  reads: PreflightReads,
  settings: PreflightSettings,
): Promise<PreflightResult> {
  const issues: PlanIssue[] = [];
  const issue = (at: Declared, message: string) => {
    if (!issues.some((i) => i.file === at.file && i.line === at.line && i.message === message)) {
      issues.push({ file: at.file, line: at.line, column: at.column, message });
    }
  };
  const artifacts = new Map<string, Promise<ReleaseArtifact | undefined>>();
  const secrets = new Map<string, Promise<ReleaseSecret | undefined>>();

  const releases = await Promise.all(
    planned.map(async (release) => {
      const model = release.model;
      const artifactKey = `${model.name}@${release.components[`model:${model.name}`] ?? ''}`;
      if (!artifacts.has(artifactKey)) artifacts.set(artifactKey, resolveArtifact(release, reads, issue));
      const resolvedSecrets = await Promise.all(
        Object.entries(model.spec.secrets ?? {}).map(([name, declaration]) => {
          const at = model.declarations.secrets[name] ?? model.declaredAt;
          const key = `${model.name}/${name}@${release.environment.account}/${release.environment.region}`;
          if (!secrets.has(key)) {
            secrets.set(
              key,
              resolveSecret(
                release,
                name,
                declaration.secretId,
                declaration.delivery ?? 'reference',
                at,
                reads,
                settings,
                issue,
              ),
            );
          }
          return secrets.get(key) as Promise<ReleaseSecret | undefined>;
        }),
      );
      const artifact = await artifacts.get(artifactKey);
      const complete = resolvedSecrets.filter((s): s is ReleaseSecret => s !== undefined);
      if (!artifact || complete.length !== resolvedSecrets.length) return undefined;
      const { declarations: _, ...rest } = model;
      const done: Release = { ...release, model: { ...rest, artifact, secrets: complete } };
      return done;
    }),
  );
  if (issues.length > 0) return { releases: [], issues };
  const complete: Release[] = [];
  for (const release of releases) if (release) complete.push(release);
  return { releases: complete, issues };
}

async function resolveArtifact(
  release: PlannedRelease,
  reads: PreflightReads,
  issue: (at: Declared, message: string) => void,
): Promise<ReleaseArtifact | undefined> {
  const model = release.model;
  const artifact = model.spec.artifact;
  const at = model.artifactAt;
  if ('uri' in artifact) {
    const source = parseS3Uri(artifact.uri);
    if (!source) {
      issue(at, `Model ${model.name}: ${artifact.uri} is not an s3:// object URI`);
      return undefined;
    }
    const path = source.key.slice(source.key.lastIndexOf('/') + 1);
    return {
      form: 'archive',
      uri: artifact.uri,
      source,
      file: { path, sha256: artifact.sha256, sizeBytes: artifact.sizeBytes, at },
    };
  }
  const source = parseS3Prefix(artifact.prefix);
  if (!source) {
    issue(at, `Model ${model.name}: ${artifact.prefix} is not an s3:// prefix`);
    return undefined;
  }
  if (artifact.files) {
    const files: ReleaseFile[] = artifact.files.map((file, index) => {
      const declared = model.declarations.files[index];
      return { path: file.path, sha256: file.sha256, sizeBytes: file.sizeBytes, ...(declared ? { at: declared } : {}) };
    });
    return { form: 'directory', uri: artifact.prefix, source, digest: directoryDigest(files), files };
  }
  if (!artifact.manifest) {
    issue(at, `Model ${model.name}: a directory artifact needs files or a manifest`);
    return undefined;
  }
  const manifestAt = model.declarations.manifest ?? at;
  const manifest = await readManifest(model.name, artifact.manifest, reads, (message) => issue(manifestAt, message));
  if (!manifest) return undefined;
  return {
    form: 'directory',
    uri: artifact.prefix,
    source,
    digest: directoryDigest(manifest),
    files: manifest.map((file) => ({ path: file.path, sha256: file.sha256, sizeBytes: file.sizeBytes })),
    manifest: { uri: artifact.manifest.uri, sha256: artifact.manifest.sha256 },
  };
}

async function readManifest(
  model: string,
  declared: { readonly uri: string; readonly sha256: string },
  reads: PreflightReads,
  issue: (message: string) => void,
): Promise<ManifestFile[] | undefined> {
  const location = parseS3Uri(declared.uri);
  const prefix = `Model ${model}: manifest ${declared.uri}`;
  if (!location) {
    issue(`${prefix} is not an s3:// object URI`);
    return undefined;
  }
  const read = await reads.readObject(location.bucket, location.key, MAX_MANIFEST_BYTES);
  if (read.status === 'missing') {
    issue(`${prefix} does not exist (upload it, e.g. the output of \`ballast manifest\`)`);
    return undefined;
  }
  if (read.status === 'too-large') {
    issue(`${prefix} is ${read.sizeBytes} bytes; a manifest may be at most ${MAX_MANIFEST_BYTES} (10,000 files fit)`);
    return undefined;
  }
  if (read.status === 'forbidden') {
    issue(
      `${prefix}: Ballast may not read it; add the bucket to ballast:artifactSourceBuckets (and its KMS key to ballast:artifactKmsKeyArns if it uses SSE-KMS)`,
    );
    return undefined;
  }
  const actual = createHash('sha256').update(read.body).digest('hex');
  if (actual !== declared.sha256) {
    issue(`${prefix} has sha256 ${actual}, but the Model declares ${declared.sha256}`);
    return undefined;
  }
  const parsed = parseManifest(Buffer.from(read.body).toString('utf8'));
  if ('error' in parsed) {
    issue(`${prefix}: ${parsed.error}`);
    return undefined;
  }
  const problems = checkFiles(parsed.files);
  if (problems.length > 0) {
    for (const problem of problems.slice(0, 10)) issue(`${prefix}: ${problem}`);
    return undefined;
  }
  return parsed.files;
}

async function resolveSecret(
  release: PlannedRelease,
  name: string,
  secretId: string,
  delivery: 'reference' | 'environment',
  at: Declared,
  reads: PreflightReads,
  settings: PreflightSettings,
  issue: (at: Declared, message: string) => void,
): Promise<ReleaseSecret | undefined> {
  const subject = `Model ${release.model.name}: secret ${name} (${secretId})`;
  if (!settings.secretPrefix) {
    issue(
      at,
      `${subject}: this Ballast stack lets models read no secrets; deploy it with -c ballast:secretPrefix=PREFIX/ and keep the model's secrets under that prefix`,
    );
    return undefined;
  }
  const arn = SECRET_ARN.exec(secretId);
  if (arn && (arn[1] !== release.environment.region || arn[2] !== release.environment.account)) {
    issue(
      at,
      `${subject}: is in ${arn[2]}/${arn[1]}, but environment ${release.environment.name} deploys to ${release.environment.account}/${release.environment.region}; a model reads secrets of its own account and region`,
    );
    return undefined;
  }
  const secretName = arn ? secretNameOfArn(secretId) : secretId;
  if (!secretName?.startsWith(settings.secretPrefix)) {
    issue(
      at,
      `${subject}: is outside ${settings.secretPrefix}, the prefix of the secrets this stack's models may read (ballast:secretPrefix)`,
    );
    return undefined;
  }
  const described = await reads.describeSecret(secretId);
  if (!described || described.deleted) {
    issue(
      at,
      `${subject}: ${described ? 'is scheduled for deletion' : 'does not exist'} in ${release.environment.account}/${release.environment.region}; create it in Secrets Manager first`,
    );
    return undefined;
  }
  return { name, env: secretEnvName(name, delivery), secretArn: described.arn, delivery, at };
}
