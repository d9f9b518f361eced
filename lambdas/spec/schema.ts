/**
 * The model repository format, version 1: one zod schema per kind. This file is the single source
 * of truth: the validator parses with it, the types below are inferred from it, and
 * schema/ballast.schema.json (for editors) is generated from it by `npm run schema`.
 *
 * Every leaf carries its own error text, phrased as what would be right ("an integer from 1 to
 * 50"): the validator reports that text as the issue's `expected`.
 *
 * Fields that ballast.yaml `defaults` can fill (the target's instance settings) have no zod
 * default here; the resolver applies repository defaults, then built-in ones.
 */
import { z } from 'zod';
import { BALLAST_VARIABLES, MAX_CONTAINER_VARIABLES } from './container-environment.ts';
import type { IssueCode } from './issues.ts';
import {
  FILE_SHA256_EXPECTED,
  FILE_SIZE_EXPECTED,
  FILES_EXPECTED,
  fileListProblems,
  MAX_FILE_BYTES,
  MAX_FILES,
  MAX_PATH_LENGTH,
  PATH_EXPECTED,
  pathProblem,
  sizeProblem,
} from './manifest.ts';
import { CONTROL_CHARACTER, MAX_S3_KEY_BYTES, parseS3Prefix, parseS3Uri, utf8Length } from './s3-uri.ts';
import { SECRET_ARN, SECRET_ARN_SUFFIX, SECRET_DELIVERIES, SECRET_NAME } from './secrets.ts';
import type { PositionMode } from './yaml-reader.ts';

export const API_VERSION = 'ballast.dev/v1';

export { CONTROL_CHARACTER, parseS3Prefix, parseS3Uri };
export const KINDS = ['Repository', 'Model', 'Endpoint', 'Prompt', 'Config'] as const;
export type Kind = (typeof KINDS)[number];

// ---------------------------------------------------------------------------------------------
// Building blocks. Each helper sets the same error text on the type check and on every
// constraint, so whatever fails, the issue says what the value should be.

function int(min: number, max: number, description?: string) {
  const expected = `an integer from ${min} to ${max}`;
  const schema = z
    .number({ error: expected })
    .int({ error: expected })
    .min(min, { error: expected })
    .max(max, { error: expected });
  return description ? schema.meta({ description }) : schema;
}

function text(pattern: RegExp, expected: string, maxLength: number, description?: string) {
  const schema = z
    .string({ error: expected })
    .min(1, { error: expected })
    .max(maxLength, { error: expected })
    .regex(pattern, { error: expected });
  return schema.meta({ description: description ?? capitalize(expected) });
}

function freeText(maxLength: number, description: string) {
  const expected = `a non-empty string of at most ${maxLength} characters`;
  return z
    .string({ error: expected })
    .min(1, { error: expected })
    .max(maxLength, { error: expected })
    .meta({ description });
}

function oneOf<const T extends readonly [string, ...string[]]>(values: T, description?: string) {
  const schema = z.enum(values, { error: `one of: ${values.join(', ')}` });
  return description ? schema.meta({ description }) : schema;
}

function bool(description: string) {
  return z.boolean({ error: 'true or false' }).meta({ description });
}

function list<T extends z.ZodType>(item: T, min: number, max: number, what: string, description: string) {
  const expected = min === max ? `a list of ${min} ${what}` : `a list of ${min} to ${max} ${what}`;
  return z
    .array(item, { error: expected })
    .min(min, { error: expected })
    .max(max, { error: expected })
    .meta({ description });
}

/** The `expected` text the validator reports for unknown fields starts with this prefix. */
export const FIELDS_PREFIX = 'one of the fields: ';

/**
 * A mapping that rejects unknown fields (every mapping in the format does). When it is missing or
 * not a mapping, the issue expects "a mapping with" its required fields.
 */
function obj<T extends z.core.$ZodLooseShape>(shape: T, expected?: string) {
  const fields = `${FIELDS_PREFIX}${Object.keys(shape).join(', ')}`;
  if (expected === undefined) {
    const required = Object.entries(shape)
      .filter(([, schema]) => !(schema as z.ZodType).safeParse(undefined).success)
      .map(([key]) => key);
    expected = required.length > 0 ? `a mapping with ${required.join(', ')}` : 'a mapping';
  }
  return z.strictObject(shape, {
    error: (issue) =>
      issue.code === 'unrecognized_keys' ? fields : issue.code === 'invalid_type' ? expected : undefined,
  });
}

function capitalize(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1);
}

/**
 * What a refinement tells the validator (zod-issues.ts) about a custom issue: its code, and the
 * message as `<field> <problem>` (with the offending value shown after the field name when
 * `showValue`), pointed at with `mode`.
 */
export interface ProblemParams {
  readonly code: IssueCode;
  readonly problem: string;
  readonly showValue?: boolean;
  readonly mode?: PositionMode;
}

function problem(
  ctx: z.core.$RefinementCtx,
  expected: string,
  params: ProblemParams,
  path?: readonly (string | number)[],
): void {
  ctx.addIssue({ code: 'custom', message: expected, params: { ...params }, ...(path ? { path: [...path] } : {}) });
}

function isMapping(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/** Refinements with this run even when the value has other issues, so all of them show at once. */
const ON_MAPPINGS = { when: (payload: { value: unknown }) => isMapping(payload.value) };

// ---------------------------------------------------------------------------------------------
// Names and identifiers

/** A Kubernetes DNS-1123 label: what Kubernetes accepts as a namespace, Deployment or Service name. */
export const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
/** SageMaker's EndpointName / VariantName pattern (at most 63 characters). */
export const SAGEMAKER_NAME = /^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$/;
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

const dnsLabelExpected = 'a lowercase name of letters, digits and hyphens that starts and ends with a letter or digit';

/** Names of Models, Prompts and Configs (also used as Kubernetes ConfigMap and S3 key parts). */
export const ResourceName = text(
  DNS_LABEL,
  `${dnsLabelExpected} (at most 63 characters)`,
  63,
  'Resource name: lowercase letters, digits and hyphens, at most 63 characters, unique per kind.',
);

/** Endpoint names are SageMaker endpoint names; EKS endpoints must also be DNS-1123 labels (checked later). */
export const EndpointName = text(
  SAGEMAKER_NAME,
  'a SageMaker endpoint name: letters, digits and hyphens, starting and ending with a letter or digit, at most 63 characters',
  63,
  'Endpoint name: a valid SageMaker endpoint name (letters, digits, hyphens; at most 63). Endpoints with an eks target must also be lowercase (a Kubernetes DNS-1123 label).',
);

const EnvironmentName = text(DNS_LABEL, `${dnsLabelExpected} (at most 32 characters)`, 32, 'Environment name.');

const LABEL_KEY =
  /^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/;
const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;

const labelMap = (description: string) =>
  z
    .record(
      text(LABEL_KEY, 'a Kubernetes label key such as team or example.com/team', 316),
      z
        .string({ error: 'a label value: at most 63 letters, digits, "-", "_" or "." (quote numbers)' })
        .max(63, { error: 'a label value: at most 63 letters, digits, "-", "_" or "."' })
        .regex(LABEL_VALUE, { error: 'a label value: at most 63 letters, digits, "-", "_" or "."' }),
      { error: 'a mapping of label keys to values' },
    )
    .meta({ description });

/** Git branch names: the rules of git check-ref-format, short names only (no refs/heads/). */
const BRANCH =
  // biome-ignore lint/suspicious/noControlCharactersInRegex: git refuses control characters in ref names.
  /^(?!refs\/)(?![-/.])(?!.*(?:\.\.|@\{|\/\/|\/\.|\.lock(?:\/|$)))(?!.*[/.]$)(?!@$)[^\x00-\x20\x7f~^:?*[\\]+$/;

const ACCOUNT_ID = /^\d{12}$/;
/** AWS region names, commercial and partitioned: us-east-1, eu-central-2, us-gov-west-1, cn-north-1, eusc-de-east-1. */
export const AWS_REGION =
  /^(?:af|ap|ca|cn|eu|il|me|mx|sa|us|eusc)-(?:(?:gov|iso|isob|isoe|isof|de)-)?(?:central|north|south|east|west|northeast|northwest|southeast|southwest)-[1-9]\d?$/;

const Region = text(AWS_REGION, 'an AWS region such as us-east-1 or eu-west-2', 32, 'AWS region.');

// ---------------------------------------------------------------------------------------------
// Rollout, shared by Endpoint and Repository.defaults

const bakeSeconds = int(
  0,
  3600,
  'Baking period in seconds, with the alarms watched and the old fleet kept for a rollback: after all traffic has shifted (SageMaker TerminationWaitInSeconds), and for canary also after the canary shift (WaitIntervalInSeconds). Default 300.',
).default(300);

const timeoutSeconds = int(
  600,
  28800,
  'Maximum time for the whole rollout (SageMaker MaximumExecutionTimeoutInSeconds). Must be longer than the waits. Default 3600.',
).default(3600);

const AllAtOnceRollout = obj({
  strategy: z.literal('allAtOnce', { error: 'one of: allAtOnce, canary, linear' }),
  bakeSeconds,
  timeoutSeconds,
}).meta({ description: 'Blue/green: shift all traffic to the new version at once, bake, then drop the old one.' });

const CanaryRollout = obj({
  strategy: z.literal('canary', { error: 'one of: allAtOnce, canary, linear' }),
  canary: obj({
    percent: int(
      1,
      50,
      'Share of the instances the canary gets first, rounded up to whole instances. SageMaker allows at most half the instances, so a canary needs instanceCount 2 or more.',
    ),
  }),
  bakeSeconds,
  timeoutSeconds,
}).meta({ description: 'Shift canary.percent of traffic first, bake with the alarms watched, then shift the rest.' });

const LinearRollout = obj({
  strategy: z.literal('linear', { error: 'one of: allAtOnce, canary, linear' }),
  linear: obj({
    stepPercent: int(
      10,
      50,
      'Share of the instances shifted at each step, rounded up to whole instances. SageMaker allows 10% to 50% of the instances, so linear needs instanceCount 2 or more.',
    ),
    intervalSeconds: int(
      0,
      3600,
      'Wait between steps, with the alarms watched (SageMaker WaitIntervalInSeconds). Default 300.',
    ).default(300),
  }),
  bakeSeconds,
  timeoutSeconds,
}).meta({
  description: 'Shift linear.stepPercent of traffic every linear.intervalSeconds until all traffic is shifted.',
});

export const Rollout = z
  .discriminatedUnion('strategy', [AllAtOnceRollout, CanaryRollout, LinearRollout], {
    // zod types this callback for invalid_union only, but a non-mapping input reports invalid_type here too.
    error: (issue) =>
      (issue as { code: string }).code === 'invalid_type'
        ? 'a mapping with strategy: allAtOnce, canary or linear'
        : 'one of: allAtOnce, canary, linear',
  })
  .meta({ description: 'How a new version replaces the live one. Limits are SageMaker deployment guardrail limits.' });

export const ROLLOUT_STRATEGIES = ['allAtOnce', 'canary', 'linear'] as const;

// ---------------------------------------------------------------------------------------------
// Repository (ballast.yaml)

const Environment = obj({
  name: EnvironmentName,
  branch: text(
    BRANCH,
    'a Git branch name such as main or release/2.x (no spaces, "..", "~^:?*[\\", no refs/heads/ prefix)',
    255,
    'The Git branch whose commits deploy to this environment.',
  ),
  account: text(
    ACCOUNT_ID,
    'a 12-digit AWS account ID in quotes, e.g. "111122223333"',
    12,
    'The AWS account the environment deploys to (quote it, so YAML keeps leading zeros).',
  ),
  region: Region,
}).meta({ description: 'A deployment environment: commits on `branch` deploy to `account` in `region`.' });

const SAGEMAKER_INSTANCE_TYPE = /^ml\.[a-z0-9]+(-[a-z0-9]+)?\.[a-z0-9]+$/;
export const SageMakerInstanceType = text(
  SAGEMAKER_INSTANCE_TYPE,
  'a SageMaker instance type such as ml.g5.2xlarge',
  64,
  'SageMaker instance type, e.g. ml.g5.2xlarge.',
);
const instanceCount = int(1, 100, 'Instances behind the endpoint variant. Default 1.');
const VariantName = text(
  SAGEMAKER_NAME,
  'a SageMaker variant name: letters, digits and hyphens, at most 63 characters',
  63,
  'Production variant name. Default AllTraffic.',
);

const EKS_CLUSTER = /^[0-9A-Za-z][A-Za-z0-9_-]*$/;
const EksCluster = text(
  EKS_CLUSTER,
  'an EKS cluster name: letters, digits, "-" and "_" (at most 100)',
  100,
  'EKS cluster name.',
);
const Namespace = text(
  DNS_LABEL,
  `a Kubernetes namespace: ${dnsLabelExpected} (at most 63)`,
  63,
  'Kubernetes namespace.',
);

const GLOB = /^[A-Za-z0-9*?-]+$/;
const DRIFT_PATH = /^(\/([^/~]|~[01])+)+$/;

const DriftIgnoreRule = obj({
  endpoint: text(GLOB, 'an endpoint name or a glob such as summarizer-* or *', 63, 'Endpoint name or glob (* and ?).')
    .optional()
    .default('*'),
  path: text(
    DRIFT_PATH,
    'a JSON pointer into the Endpoint spec, such as /target/sagemaker/instanceCount (* matches one segment)',
    512,
    'JSON pointer (RFC 6901, * matches one segment) into the endpoint as the reconciler reports it (the Endpoint spec with its Model under /model, e.g. /target/sagemaker/instanceCount, /model/environment/LOG_LEVEL) whose live value may differ without counting as drift. A rule also covers everything under its path.',
  ),
  reason: freeText(500, 'Why this drift is expected (for the people reading ballast.yaml).').optional(),
});

export const RepositorySpec = obj({
  environments: list(
    Environment,
    1,
    20,
    'environments',
    'The environments, each fed by one branch. Names and branches are unique.',
  ),
  defaults: obj({
    rollout: Rollout.optional().meta({ description: 'Rollout of endpoints that declare none. Default allAtOnce.' }),
    sagemaker: obj({
      instanceType: SageMakerInstanceType.optional(),
      instanceCount: instanceCount.optional(),
      variantName: VariantName.optional(),
    })
      .optional()
      .meta({ description: 'Values for sagemaker targets that leave them out.' }),
    eks: obj({ cluster: EksCluster.optional(), namespace: Namespace.optional() })
      .optional()
      .meta({ description: 'Values for eks targets that leave them out.' }),
  })
    .optional()
    .meta({ description: 'Defaults applied to every Endpoint that leaves a value out.' }),
  reconcile: obj({
    intervalMinutes: int(1, 1440, 'How often the reconciler compares live state with Git. Default 5.').default(5),
    selfHeal: bool('Put drifted endpoints back to the committed state (else only report drift). Default true.').default(
      true,
    ),
    prune: bool(
      'Delete a Ballast-managed endpoint (and its Models and endpoint configurations) once its declaration is removed from Git. Default false: it is reported and keeps running.',
    ).default(false),
  })
    .prefault({})
    .meta({ description: 'The scheduled reconciler.' }),
  drift: obj({
    ignore: list(DriftIgnoreRule, 0, 100, 'rules', 'Live differences that are not drift.').default([]),
  })
    .prefault({})
    .meta({ description: 'Drift detection.' }),
  writeBack: obj({
    enabled: bool('Write automatic rollbacks back to Git.'),
    mode: oneOf(
      ['revert-commit', 'pull-request'],
      'How: a revert commit on the branch, or a pull request. Default: revert-commit on CodeCommit, pull-request on GitHub.',
    ).optional(),
  })
    .optional()
    .meta({ description: 'Record automatic rollbacks in Git. Default: off.' }),
});

// ---------------------------------------------------------------------------------------------
// Model

const SHA256 = /^[a-f0-9]{64}$/;

/** ECR image URIs: ACCOUNT.dkr.ecr[-fips].REGION.amazonaws.com[.cn]/REPOSITORY[:TAG][@sha256:DIGEST]. */
export const ECR_IMAGE =
  /^(\d{12})\.dkr\.ecr(?:-fips)?\.([a-z0-9-]+)\.amazonaws\.com(?:\.cn)?\/((?:[a-z0-9]+(?:[._-][a-z0-9]+)*\/)*[a-z0-9]+(?:[._-][a-z0-9]+)*)(?::([A-Za-z0-9_][A-Za-z0-9_.-]{0,127}))?(?:@(sha256:[a-f0-9]{64}))?$/;

export function parseEcrImage(
  image: string,
): { account: string; region: string; repository: string; tag?: string; digest?: string } | undefined {
  const match = ECR_IMAGE.exec(image);
  if (!match) return undefined;
  const [, account, region, repository, tag, digest] = match;
  if (account === undefined || region === undefined || repository === undefined) return undefined;
  if (!AWS_REGION.test(region)) return undefined;
  return { account, region, repository, ...(tag ? { tag } : {}), ...(digest ? { digest } : {}) };
}

const imageExpected =
  'an Amazon ECR image URI ACCOUNT.dkr.ecr.REGION.amazonaws.com/REPOSITORY[:TAG|@sha256:DIGEST] (SageMaker DLC images, e.g. 763104351884.dkr.ecr.us-east-1.amazonaws.com/..., are ECR images)';

const ENV_VAR = /^[A-Za-z_][A-Za-z0-9_]*$/;

/**
 * A size in bytes Ballast can verify: at most MAX_FILE_BYTES (manifest.ts says why). The limit is
 * a refinement, not zod's max(), so the message can say what to do instead.
 */
function byteSize(form: 'file' | 'archive', description: string) {
  const expected =
    form === 'archive'
      ? `the archive's size in bytes: a whole number from 1 to ${MAX_FILE_BYTES} (40 GiB)`
      : FILE_SIZE_EXPECTED;
  return z
    .number({ error: expected })
    .int({ error: expected })
    .min(form === 'archive' ? 1 : 0, { error: expected })
    .superRefine((size, ctx) => {
      if (size <= MAX_FILE_BYTES) return;
      problem(ctx, expected, { code: 'range', problem: sizeProblem(size, form) ?? 'is too large' });
    })
    .meta({ description, maximum: MAX_FILE_BYTES });
}

const archiveUriExpected =
  "an S3 object URI ending in .tar.gz (s3://BUCKET/KEY.tar.gz): SageMaker's ModelDataUrl must point to a single gzip-compressed tar archive; for an uncompressed model directory use prefix and files instead";

/**
 * (a) One gzip-compressed tar archive. SageMaker API Reference, CreateModel ContainerDefinition
 * ModelDataUrl: "This path must point to a single gzip compressed tar archive (.tar.gz suffix)."
 */
const ArchiveArtifact = obj({
  uri: z
    .string({ error: archiveUriExpected })
    .max(1100, { error: archiveUriExpected })
    .superRefine((uri, ctx) => {
      if (parseS3Uri(uri) === undefined) {
        problem(ctx, archiveUriExpected, { code: 'format', showValue: true, problem: 'is not a valid S3 object URI' });
      } else if (!uri.endsWith('.tar.gz')) {
        problem(ctx, archiveUriExpected, {
          code: 'format',
          showValue: true,
          problem: 'does not end in .tar.gz: SageMaker only loads a gzip-compressed tar archive from one object',
        });
      }
    })
    .meta({
      description: 'The model archive (weights never live in Git): s3://BUCKET/KEY.tar.gz, one gzip-compressed tar.',
      pattern: '^s3://.+\\.tar\\.gz$',
    }),
  sha256: text(
    SHA256,
    "the archive's SHA-256 digest: 64 lowercase hex characters, in quotes (sha256sum model.tar.gz)",
    64,
    'SHA-256 of the archive; Register refuses an archive whose bytes do not match.',
  ),
  sizeBytes: byteSize(
    'archive',
    'Size of the archive in bytes (at most 40 GiB: Register verifies it in one Lambda). Validate refuses a size that does not match.',
  ),
}).meta({ title: 'Archive', description: 'The model as one .tar.gz archive in S3, pinned by its digest and size.' });

const FileEntry = obj({
  path: z
    .string({ error: PATH_EXPECTED })
    .superRefine((path, ctx) => {
      const found = pathProblem(path);
      if (found) problem(ctx, PATH_EXPECTED, { code: 'format', showValue: true, problem: found });
    })
    .meta({
      description:
        'Path of the file relative to the prefix (and to /opt/ml/model in the container), e.g. tokenizer/vocab.json.',
      minLength: 1,
      maxLength: MAX_PATH_LENGTH,
    }),
  sha256: text(
    SHA256,
    FILE_SHA256_EXPECTED,
    64,
    'SHA-256 of the file; Register refuses a file whose bytes do not match.',
  ),
  sizeBytes: byteSize('file', 'Size of the file in bytes (0 to 40 GiB: Register verifies each file in one Lambda).'),
}).meta({ description: 'One file of the model directory.' });

const s3ObjectExpected =
  'an S3 object URI s3://BUCKET/KEY with a valid bucket name (3-63 lowercase letters, digits, "." or "-")';

const ManifestReference = obj({
  uri: z
    .string({ error: s3ObjectExpected })
    .max(1100, { error: s3ObjectExpected })
    .refine((uri) => parseS3Uri(uri) !== undefined, { error: s3ObjectExpected, params: { code: 'format' } })
    .meta({
      description: 'The manifest file (JSON, kind ModelManifest, written by `ballast manifest`): s3://BUCKET/KEY.',
    }),
  sha256: text(
    SHA256,
    "the manifest file's SHA-256 digest: 64 lowercase hex characters, in quotes (sha256sum dir.manifest.json)",
    64,
    'SHA-256 of the manifest file, so the file list is pinned by Git like everything else.',
  ),
}).meta({ description: 'A manifest in S3 that lists the files, itself pinned by its digest.' });

const prefixExpected =
  'an S3 prefix ending in "/" (s3://BUCKET/PATH/) with a valid bucket name: the folder that holds the model\'s files';

/**
 * (b) An uncompressed model directory under an S3 prefix, delivered as SageMaker
 * ModelDataSource.S3DataSource (S3DataType S3Prefix, CompressionType None): the way LMI, TGI and
 * vLLM containers load LLMs (safetensors shards, tokenizer, config). Every file is pinned.
 */
const DirectoryArtifact = obj({
  prefix: z
    .string({ error: prefixExpected })
    .max(1100, { error: prefixExpected })
    .superRefine((prefix, ctx) => {
      if (parseS3Prefix(prefix) !== undefined) return;
      const fixed = prefix.endsWith('/') ? undefined : parseS3Prefix(`${prefix}/`);
      problem(ctx, prefixExpected, {
        code: 'format',
        showValue: true,
        problem: fixed ? 'does not end in "/"' : 'is not a valid S3 prefix',
      });
    })
    .meta({
      description: 'The S3 folder the files live under: s3://BUCKET/PATH/ (ending in "/").',
      pattern: '^s3://[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]/(.*/)?$',
    }),
  files: z
    .array(FileEntry, { error: FILES_EXPECTED })
    .min(1, { error: FILES_EXPECTED })
    .max(MAX_FILES, { error: `${FILES_EXPECTED} (for more, Ballast pins at most ${MAX_FILES} files per directory)` })
    .superRefine(
      (files, ctx) => {
        const paths = files.map((file: unknown) =>
          isMapping(file) && typeof file.path === 'string' ? file.path : undefined,
        );
        for (const found of fileListProblems(paths)) {
          problem(
            ctx,
            'each path once, and no path inside a file',
            { code: 'duplicate-value', showValue: true, problem: found.problem },
            [found.index, 'path'],
          );
        }
      },
      { when: (payload) => Array.isArray(payload.value) },
    )
    .optional()
    .meta({ description: 'Every file of the directory, inline. Exactly one of files or manifest.' }),
  manifest: ManifestReference.optional(),
})
  .superRefine((artifact, ctx) => {
    const hasFiles = artifact.files !== undefined;
    const hasManifest = artifact.manifest !== undefined;
    if (hasFiles && hasManifest) {
      problem(
        ctx,
        'exactly one of: files, manifest',
        { code: 'exactly-one', problem: 'and files are both given', mode: 'key' },
        ['manifest'],
      );
    } else if (!hasFiles && !hasManifest) {
      problem(ctx, 'files (the list of files) or manifest (an s3:// manifest file with its sha256)', {
        code: 'required',
        problem: 'lists no files: give files or manifest',
        mode: 'key',
      });
    }
    // SageMaker reads each file at prefix + path; S3 cannot hold a longer key.
    const prefix = typeof artifact.prefix === 'string' ? parseS3Prefix(artifact.prefix)?.prefix : undefined;
    if (prefix === undefined || !Array.isArray(artifact.files)) return;
    artifact.files.forEach((file: unknown, index) => {
      if (!isMapping(file) || typeof file.path !== 'string') return;
      const bytes = utf8Length(prefix + file.path);
      if (bytes <= MAX_S3_KEY_BYTES) return;
      problem(
        ctx,
        `a path that keeps prefix + path within ${MAX_S3_KEY_BYTES} bytes`,
        {
          code: 'range',
          problem: `makes an S3 key of ${bytes} bytes with the prefix; S3 keys are at most ${MAX_S3_KEY_BYTES} bytes`,
        },
        ['files', index, 'path'],
      );
    });
  }, ON_MAPPINGS)
  .meta({
    title: 'Directory',
    description: 'The model as an uncompressed directory under an S3 prefix, every file pinned by its digest and size.',
    oneOf: [{ required: ['files'] }, { required: ['manifest'] }],
  });

/** The fields of each artifact form (the validator names the form a misplaced field belongs to). */
export const ARCHIVE_FIELDS: readonly string[] = Object.keys(ArchiveArtifact.shape);
export const DIRECTORY_FIELDS: readonly string[] = Object.keys(DirectoryArtifact.shape);
const ARTIFACT_EXPECTED =
  'a mapping with uri, sha256 and sizeBytes (a .tar.gz archive), or with prefix and files or manifest (an uncompressed model directory)';

/** What the artifact should be, given what it has: the forms are told apart by uri and prefix. */
function artifactExpected(input: unknown): string {
  if (!isMapping(input)) return ARTIFACT_EXPECTED;
  if ('uri' in input && 'prefix' in input)
    return 'either uri (a .tar.gz archive) or prefix (a model directory), not both';
  const archive = ARCHIVE_FIELDS.filter((key) => key in input);
  const directory = DIRECTORY_FIELDS.filter((key) => key in input);
  if (archive.length > 0 && directory.length > 0) {
    return `the fields of one form: uri, sha256 and sizeBytes (a .tar.gz archive), or prefix with files or manifest (a model directory); ${archive.join(', ')} and ${directory.join(', ')} belong to different forms`;
  }
  return ARTIFACT_EXPECTED;
}

export const Artifact = z
  .union([ArchiveArtifact, DirectoryArtifact], { error: (issue) => artifactExpected(issue.input) })
  .meta({
    description:
      'The model artifact, pinned (weights never live in Git): a .tar.gz archive (uri), or an uncompressed directory (prefix) with every file listed.',
  });

const SecretEnvName = text(
  ENV_VAR,
  'an environment variable name: letters, digits and _, not starting with a digit',
  // SageMaker allows 1024 characters per variable name, and reference delivery appends _SECRET_ARN.
  1024 - SECRET_ARN_SUFFIX.length,
);

const secretIdExpected =
  'a Secrets Manager secret name (letters, digits and /_+=.@-, at most 512 characters) or a full secret ARN arn:aws:secretsmanager:REGION:ACCOUNT:secret:NAME-XXXXXX';

const Secret = obj({
  secretId: text(
    new RegExp(`${SECRET_NAME.source}|${SECRET_ARN.source}`),
    secretIdExpected,
    2048,
    'The secret: its name, or its full ARN. It must exist (and lie under the prefix the stack lets models read) when the workflow validates.',
  ),
  delivery: oneOf(
    SECRET_DELIVERIES,
    'reference (default): the container gets NAME_SECRET_ARN and reads the secret itself; the value never leaves Secrets Manager. environment: the container gets NAME with the value, for containers that cannot read Secrets Manager (DescribeModel then shows the value).',
  ).default('reference'),
}).meta({ description: 'A Secrets Manager secret the container needs.' });

/** The most entries of spec.environment: SageMaker's limit less the variables Ballast always sets. */
const MAX_MODEL_VARIABLES = MAX_CONTAINER_VARIABLES - BALLAST_VARIABLES.length;

export const ModelSpec = obj({
  framework: text(
    /^[a-z0-9][a-z0-9.+_-]*$/,
    'a lowercase label such as huggingface-tgi, djl-lmi, vllm or pytorch',
    64,
    'Serving framework, informational (shown in the ledger and the CLI).',
  ).optional(),
  artifact: Artifact,
  image: z
    .string({ error: imageExpected })
    .max(512, { error: imageExpected })
    .refine((image) => parseEcrImage(image) !== undefined, { error: imageExpected, params: { code: 'format' } })
    .meta({ description: 'Serving container image in Amazon ECR. Pin a tag or a digest.' }),
  environment: z
    .record(
      text(ENV_VAR, 'an environment variable name: letters, digits and _, not starting with a digit', 1024),
      z
        .string({ error: 'a string of at most 1024 characters (quote numbers and booleans, e.g. "8080")' })
        .max(1024, { error: 'a string of at most 1024 characters' }),
      { error: 'a mapping of environment variable names to string values' },
    )
    .refine((env) => Object.keys(env).length <= MAX_MODEL_VARIABLES, {
      error: `at most ${MAX_MODEL_VARIABLES} environment variables (SageMaker allows ${MAX_CONTAINER_VARIABLES} per container and Ballast sets ${BALLAST_VARIABLES.length} of its own)`,
      params: { code: 'range' },
    })
    .optional()
    .meta({
      description:
        'Container environment variables (string values). Names starting with BALLAST_ are reserved. Secrets do not belong here: declare them under secrets.',
      maxProperties: MAX_MODEL_VARIABLES,
    }),
  secrets: z
    .record(SecretEnvName, Secret, { error: 'a mapping of environment variable names to secrets' })
    .optional()
    .meta({
      description:
        'Secrets Manager secrets the container needs, by the environment variable that carries them: NAME_SECRET_ARN (delivery reference, the default) or NAME (delivery environment).',
    }),
});

// ---------------------------------------------------------------------------------------------
// Endpoint

const K8S_QUANTITY = /^[+]?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+|m|k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei)?$/;
const quantityExpected = 'a Kubernetes quantity such as 500m, 2 or 16Gi';
const Quantity = z.union(
  [
    z.number({ error: quantityExpected }).positive({ error: quantityExpected }),
    z.string({ error: quantityExpected }).regex(K8S_QUANTITY, { error: quantityExpected }),
  ],
  { error: quantityExpected },
);
const ResourceList = obj({ cpu: Quantity.optional(), memory: Quantity.optional() });

export const SageMakerTarget = obj({
  instanceType: SageMakerInstanceType.optional(),
  instanceCount: instanceCount.optional(),
  variantName: VariantName.optional(),
  gpus: int(
    1,
    8,
    'NVIDIA GPUs the model needs on each instance. Requires a GPU instance family (ml.g*, ml.p*) with at least that many GPUs.',
  ).optional(),
}).meta({
  description:
    'Serve on a SageMaker real-time endpoint. instanceType is required here or in ballast.yaml defaults.sagemaker.',
});

const HttpRoute = obj({
  name: text(DNS_SUBDOMAIN, 'a Kubernetes object name: lowercase letters, digits, "-" and "."', 253, 'HTTPRoute name.'),
  namespace: Namespace.optional().meta({ description: "HTTPRoute namespace. Default: the target's namespace." }),
  gateway: obj({
    name: text(DNS_SUBDOMAIN, 'a Kubernetes object name: lowercase letters, digits, "-" and "."', 253, 'Gateway name.'),
    namespace: Namespace.optional(),
    sectionName: text(DNS_LABEL, `a listener name: ${dnsLabelExpected}`, 63, 'Gateway listener name.').optional(),
  })
    .optional()
    .meta({
      description:
        'The Gateway the route attaches to (parentRef). Given: Ballast creates the route. Omitted: the route exists and Ballast only steps its backend weights.',
    }),
  hostnames: list(
    text(
      /^(\*\.)?[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/,
      'a hostname such as api.example.com',
      253,
    ),
    1,
    16,
    'hostnames',
    'Hostnames the route matches.',
  ).optional(),
}).meta({ description: 'The Gateway API HTTPRoute whose backend weights Ballast steps during a rollout.' });

export const EksTarget = obj({
  cluster: EksCluster.optional(),
  namespace: Namespace.optional(),
  replicas: int(1, 100, 'Pods per version. Default 1.').optional(),
  gpusPerReplica: int(0, 8, 'NVIDIA GPUs (nvidia.com/gpu) each pod requests. Default 0.').optional(),
  nodeSelector: labelMap(
    'Node labels the pods must run on, e.g. node.kubernetes.io/instance-type: g5.2xlarge.',
  ).optional(),
  httpRoute: HttpRoute,
  resources: obj({ requests: ResourceList.optional(), limits: ResourceList.optional() })
    .optional()
    .meta({ description: 'CPU and memory requests/limits per pod (GPUs come from gpusPerReplica).' }),
}).meta({
  description:
    'Serve as Deployments on an EKS cluster behind a Gateway API HTTPRoute. cluster and namespace are required here or in ballast.yaml defaults.eks.',
});

/** Not blank, no control characters. */
// biome-ignore lint/suspicious/noControlCharactersInRegex: alarm names must not contain control characters.
const ALARM_NAME = /^[^\x00-\x1f\x7f]*[^\s\x00-\x1f\x7f][^\x00-\x1f\x7f]*$/;

export const EndpointSpec = obj({
  model: ResourceName.meta({ description: 'The Model this endpoint serves (its metadata.name).' }),
  prompts: list(ResourceName, 1, 20, 'Prompt names', 'Prompts delivered with this endpoint.').optional(),
  configs: list(ResourceName, 1, 20, 'Config names', 'Configs delivered with this endpoint.').optional(),
  environments: list(
    EnvironmentName,
    1,
    20,
    'environment names',
    'The ballast.yaml environments this endpoint deploys to. Default: all of them.',
  ).optional(),
  target: obj(
    { sagemaker: SageMakerTarget.optional(), eks: EksTarget.optional() },
    'a mapping with sagemaker or eks',
  ).meta({
    description: 'Where the endpoint runs: exactly one of sagemaker or eks.',
    minProperties: 1,
    maxProperties: 1,
  }),
  rollout: Rollout.optional(),
  alarms: list(
    text(ALARM_NAME, 'a CloudWatch alarm name (at most 255 characters)', 255),
    1,
    10,
    'CloudWatch alarm names',
    'CloudWatch alarms that roll the endpoint back when they go to ALARM (SageMaker AutoRollbackConfiguration allows 1 to 10). Required for canary and linear rollouts.',
  ).optional(),
});

// ---------------------------------------------------------------------------------------------
// Prompt

export const VARIABLE_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const variableExpected = 'a variable name: letters, digits and _, not starting with a digit';
const VariableName = text(VARIABLE_NAME, variableExpected, 64);

const Variable = z.union(
  [
    VariableName,
    obj({
      name: VariableName,
      description: freeText(1000, 'What the application puts in this variable.').optional(),
      default: z.string({ error: 'a string' }).max(10_000, { error: 'a string' }).optional(),
    }),
  ],
  { error: `${variableExpected}, or a mapping with name, description and default` },
);

const Message = obj({
  role: oneOf(['system', 'user', 'assistant']),
  content: z
    .string({ error: 'a non-empty string' })
    .min(1, { error: 'a non-empty string' })
    .meta({ description: 'Message text; {{variable}} placeholders are filled by the application.' }),
});

export const PromptSpec = obj({
  model: ResourceName.optional().meta({
    description: 'The Model this prompt is written for (a hint, checked to exist).',
  }),
  variables: list(
    Variable,
    0,
    50,
    'variables',
    'Variables the template uses as {{name}}. Every placeholder must be declared; unused declarations are warned about.',
  ).optional(),
  text: z
    .string({ error: 'a non-empty string' })
    .min(1, { error: 'a non-empty string' })
    .optional()
    .meta({ description: 'A plain text template. Exactly one of text or messages.' }),
  messages: list(Message, 1, 100, 'messages', 'A chat template. Exactly one of text or messages.').optional(),
}).meta({ oneOf: [{ required: ['text'] }, { required: ['messages'] }] });

// ---------------------------------------------------------------------------------------------
// Config

export const ConfigSpec = obj({
  format: oneOf(['json', 'yaml'], 'How the data is serialized when delivered to the endpoint. Default json.').default(
    'json',
  ),
  data: z.record(z.string(), z.unknown(), { error: 'a mapping (any JSON object)' }).meta({
    description: 'The configuration itself: any JSON object (agent graph, retrieval settings, hyperparameters).',
  }),
});

// ---------------------------------------------------------------------------------------------
// Documents

const Metadata = <N extends z.ZodType>(name: N) =>
  obj({
    name,
    labels: labelMap(
      'Labels (Kubernetes label syntax); informational, never part of the deployment digest.',
    ).optional(),
  });

function document<K extends Kind, S extends z.ZodType, N extends z.ZodType>(
  kind: K,
  spec: S,
  name: N,
  description: string,
) {
  return obj({
    apiVersion: z.literal(API_VERSION, { error: API_VERSION }),
    kind: z.literal(kind, { error: `one of: ${KINDS.join(', ')}` }),
    metadata: Metadata(name),
    spec,
  }).meta({ title: kind, description });
}

export const RepositoryDocument = document(
  'Repository',
  RepositorySpec,
  ResourceName,
  'The repository settings; exactly one, in ballast.yaml at the repository root.',
);
export const ModelDocument = document(
  'Model',
  ModelSpec,
  ResourceName,
  'A model: artifact in S3 pinned by sha256, serving image.',
);
export const EndpointDocument = document(
  'Endpoint',
  EndpointSpec,
  EndpointName,
  'An endpoint: which model, prompts and configs it serves, where, and how new versions roll out.',
);
export const PromptDocument = document('Prompt', PromptSpec, ResourceName, 'A versioned prompt template.');
export const ConfigDocument = document('Config', ConfigSpec, ResourceName, 'A versioned configuration (JSON object).');

export const DOCUMENT_SCHEMAS = {
  Repository: RepositoryDocument,
  Model: ModelDocument,
  Endpoint: EndpointDocument,
  Prompt: PromptDocument,
  Config: ConfigDocument,
} as const;

/** Any Ballast document, discriminated on kind (what the generated JSON Schema describes). */
export const BallastDocument = z.discriminatedUnion('kind', [
  RepositoryDocument,
  ModelDocument,
  EndpointDocument,
  PromptDocument,
  ConfigDocument,
]);

export type RepositorySpec = z.output<typeof RepositorySpec>;
export type ModelSpec = z.output<typeof ModelSpec>;
export type ArtifactSpec = ModelSpec['artifact'];
export type ArchiveArtifactSpec = z.output<typeof ArchiveArtifact>;
export type DirectoryArtifactSpec = z.output<typeof DirectoryArtifact>;
export type SecretSpec = z.output<typeof Secret>;
export type EndpointSpec = z.output<typeof EndpointSpec>;
export type PromptSpec = z.output<typeof PromptSpec>;
export type ConfigSpec = z.output<typeof ConfigSpec>;
export type Rollout = z.output<typeof Rollout>;
export type Environment = RepositorySpec['environments'][number];
export type SageMakerTargetSpec = z.output<typeof SageMakerTarget>;
export type EksTargetSpec = z.output<typeof EksTarget>;
export type PromptVariable = NonNullable<PromptSpec['variables']>[number];

export interface SpecByKind {
  Repository: RepositorySpec;
  Model: ModelSpec;
  Endpoint: EndpointSpec;
  Prompt: PromptSpec;
  Config: ConfigSpec;
}

/** The rollout an endpoint gets when neither it nor ballast.yaml declares one. */
export const DEFAULT_ROLLOUT: Rollout = { strategy: 'allAtOnce', bakeSeconds: 300, timeoutSeconds: 3600 };
export const DEFAULT_VARIANT_NAME = 'AllTraffic';

/** Which form an artifact has: an archive has a uri, a directory a prefix. */
export function isArchiveArtifact(artifact: ArtifactSpec): artifact is ArchiveArtifactSpec {
  return 'uri' in artifact;
}
