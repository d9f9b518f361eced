import { fileURLToPath } from 'node:url';
import { Duration, Stack, Validations } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { type BundlingOptions, NodejsFunction, OutputFormat } from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { allow } from './least-privilege.ts';

/** The repository root: the esbuild project root and where package-lock.json lives. */
const PROJECT_ROOT = fileURLToPath(new URL('../', import.meta.url));

/** Resolves a path relative to the repository root (e.g. `lambdas/handlers/resolve.ts`). */
export function projectPath(relative: string): string {
  return fileURLToPath(new URL(relative, new URL('../', import.meta.url)));
}

// The handlers are ESM TypeScript that import `.ts` files; esbuild bundles them into one ESM file
// (index.mjs). Some bundled dependencies are CommonJS and call require() on Node built-ins, which
// does not exist in an ES module: this banner gives the bundle a real require. The Powertools docs
// give this createRequire banner for ESM bundles built with esbuild; the Tracer needs it most, because
// aws-xray-sdk-core (and its cls-hooked) is CommonJS and would otherwise fail at load with
// "Dynamic require of 'util' is not supported".
const ESM_REQUIRE_BANNER =
  "import { createRequire as __ballastCreateRequire } from 'node:module'; const require = __ballastCreateRequire(import.meta.url);";

/**
 * The links of the SDK's default credential chain after the environment variables, each of which
 * @aws-sdk/credential-provider-node loads with a dynamic `import()` only when it runs (with them go
 * the nested STS, SSO and SSO-OIDC clients they load in turn: about 125 kB of every bundle). They
 * never run in a Ballast function: every client gets `credentials: fromEnv()`
 * (lambdas/aws/client-config.ts, which cites the Lambda and SDK documentation), and a client given
 * credentials never calls the default chain. So they stay out of the bundle, and the `import()`s
 * that would load them are unreachable; test/lib/ballast-function.test.ts checks that nothing else
 * is left external and that these are reached by no other import.
 */
export const UNREACHABLE_CREDENTIAL_PROVIDERS = [
  '@aws-sdk/credential-provider-sso',
  '@aws-sdk/credential-provider-ini',
  '@aws-sdk/credential-provider-process',
  '@aws-sdk/credential-provider-web-identity',
  '@aws-sdk/credential-provider-http',
  '@smithy/credential-provider-imds',
] as const;

/**
 * The esbuild settings every Ballast function is bundled with. One function, so that
 * `scripts/bench-bundles.ts` measures exactly what ships.
 *
 * - ESM, minified, for Node 22. `mainFields: module, main` makes esbuild take the ES module build
 *   of packages that ship both (the AWS SDK, Powertools), which is what lets it tree-shake them.
 * - Everything bundled, `@aws-sdk/*` included: the SDK versions in package-lock.json are the ones
 *   the tests and the local sandbox ran; the runtime's own SDK changes under us without notice. The
 *   one exception is {@link UNREACHABLE_CREDENTIAL_PROVIDERS}, code no Ballast function can reach.
 * - No source maps. Loading them (NODE_OPTIONS=--enable-source-maps) cost 13-22% of module load
 *   time on every cold start, and an unused .map only makes the asset bigger. Stack traces name
 *   the error classes (their `name` survives minification, and Step Functions matches on it); to
 *   read a minified position, rebuild the same commit with `sourcemap: true` (the build is
 *   deterministic) and look it up there.
 * - No metafile in the asset: `npm run bench` asks esbuild for it in memory.
 */
export function bundlingOptions(): BundlingOptions {
  return {
    format: OutputFormat.ESM,
    target: 'node22',
    minify: true,
    sourceMap: false,
    mainFields: ['module', 'main'],
    banner: ESM_REQUIRE_BANNER,
    externalModules: [...UNREACHABLE_CREDENTIAL_PROVIDERS],
    forceDockerBundling: false,
  };
}

export interface BallastFunctionProps {
  /** Path of the handler's TypeScript file (use {@link projectPath}). */
  readonly entry: string;
  /**
   * Name of the exported handler function.
   * @default 'handler'
   */
  readonly handler?: string;
  /**
   * What the function does, shown in the Lambda console.
   * @default - no description
   */
  readonly description?: string;
  /**
   * How long one invocation may run.
   * @default Duration.seconds(30)
   */
  readonly timeout?: Duration;
  /**
   * Memory in MiB (CPU scales with it).
   * @default 512
   */
  readonly memorySize?: number;
  /**
   * Concurrency reserved for (and capping) this function.
   * @default - no reservation: the function shares the account's unreserved concurrency
   */
  readonly reservedConcurrentExecutions?: number;
  /**
   * How long the function's log events are kept.
   * @default logs.RetentionDays.ONE_MONTH
   */
  readonly logRetention?: logs.RetentionDays;
  /**
   * Environment variables, added to Ballast's shared one (POWERTOOLS_SERVICE_NAME=ballast). Give a
   * function only the variables its handler reads.
   * @default - only the shared variables
   */
  readonly environment?: Record<string, string>;
}

/**
 * A Ballast Lambda function: a TypeScript handler bundled locally by esbuild (no Docker), on
 * Node.js 22 / arm64, with X-Ray tracing, its own log group with a retention, and a role that
 * starts empty except for writing to that log group.
 *
 * Bundling: {@link bundlingOptions} (ESM, minified, tree-shaken, everything bundled including the
 * AWS SDK but for the credential providers no client reaches, no source maps on the cold-start path).
 *
 * Permissions are added with {@link allow}, which makes every wildcard carry its reason as the
 * cdk-nag acknowledgement of exactly that finding.
 */
export class BallastFunction extends Construct implements iam.IGrantable {
  public readonly function: NodejsFunction;
  /** The execution role; it has no managed policies. */
  public readonly role: iam.Role;
  public readonly logGroup: logs.LogGroup;
  public readonly grantPrincipal: iam.IPrincipal;
  private readonly listableBuckets = new Set<string>();

  constructor(scope: Construct, id: string, props: BallastFunctionProps) {
    super(scope, id);

    this.logGroup = new logs.LogGroup(this, 'LogGroup', {
      retention: props.logRetention ?? logs.RetentionDays.ONE_MONTH,
    });
    // An explicit role instead of the default one: the default attaches the managed
    // AWSLambdaBasicExecutionRole (logs:* on every log group); this one can write to its own group only.
    this.role = new iam.Role(this, 'ServiceRole', {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description: props.description,
    });
    this.grantPrincipal = this.role;
    this.logGroup.grantWrite(this.role);

    this.function = new NodejsFunction(this, 'Function', {
      entry: props.entry,
      handler: props.handler ?? 'handler',
      description: props.description,
      runtime: lambda.Runtime.NODEJS_22_X,
      architecture: lambda.Architecture.ARM_64,
      timeout: props.timeout ?? Duration.seconds(30),
      memorySize: props.memorySize ?? 512,
      reservedConcurrentExecutions: props.reservedConcurrentExecutions,
      tracing: lambda.Tracing.ACTIVE,
      logGroup: this.logGroup,
      role: this.role,
      projectRoot: PROJECT_ROOT,
      depsLockFilePath: projectPath('package-lock.json'),
      environment: {
        POWERTOOLS_SERVICE_NAME: 'ballast',
        ...props.environment,
      },
      bundling: bundlingOptions(),
    });

    Validations.of(this).acknowledge(
      {
        id: 'AwsSolutions-L1',
        reason:
          'nodejs22.x is pinned on purpose: the handlers are built, unit-tested and run in the local sandbox on Node 22 ' +
          '(the toolchain in package.json). Move to nodejs24.x together with that toolchain, not ahead of it.',
      },
      {
        id: 'AwsSolutions-IAM5[Resource::*]',
        reason:
          'X-Ray active tracing: xray:PutTraceSegments and xray:PutTelemetryRecords support no resource-level permissions.',
      },
    );
  }

  /**
   * Adds a statement to the function's role. A statement with a wildcard (in an action or a
   * resource) needs `wildcardReason`: it becomes the acknowledgement of exactly those
   * AwsSolutions-IAM5 findings, so each wildcard is justified where it is granted.
   */
  public allow(statement: iam.PolicyStatement, wildcardReason?: string): void {
    allow(this, this.role, statement, wildcardReason);
  }

  /**
   * Grants object access under key prefixes of a bucket: `read` is s3:GetObject, `write` is
   * s3:PutObject (which covers conditional writes and multipart uploads). It also grants
   * s3:ListBucket on the bucket, without which a missing key reads as AccessDenied instead of
   * NoSuchKey: the handlers tell "no state yet" from "not allowed" by that difference.
   */
  public grantObjects(bucket: s3.IBucket, access: 'read' | 'write' | 'readWrite', prefixes: readonly string[]): void {
    const actions = [...(access === 'write' ? [] : ['s3:GetObject']), ...(access === 'read' ? [] : ['s3:PutObject'])];
    for (const prefix of prefixes) {
      this.allow(
        new iam.PolicyStatement({ actions, resources: [bucket.arnForObjects(`${prefix}*`)] }),
        `Object keys under '${prefix}' are named at run time (commit, environment, endpoint, digest), so the grant is ` +
          `the key prefix; it reaches nothing else in the bucket.`,
      );
    }
    const bucketKey = Stack.of(this).resolve(bucket.bucketArn);
    const key = JSON.stringify(bucketKey);
    if (!this.listableBuckets.has(key)) {
      this.listableBuckets.add(key);
      this.allow(new iam.PolicyStatement({ actions: ['s3:ListBucket'], resources: [bucket.bucketArn] }));
    }
  }
}
