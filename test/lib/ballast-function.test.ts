import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { pathToFileURL } from 'node:url';
import { App, Duration, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { build } from 'esbuild';
import {
  BallastFunction,
  bundlingOptions,
  projectPath,
  UNREACHABLE_CREDENTIAL_PROVIDERS,
} from '../../lib/ballast-function.ts';
import { esbuildOptionsFor } from '../../scripts/bench-bundles.ts';
import { awsSolutionsFindings } from '../support/nag.ts';
import { ENV, statementsOfRole, testStack } from './fixtures/stacks.ts';

const ENTRY = projectPath('test/lib/fixtures/echo-handler.ts');

describe('BallastFunction', () => {
  it('runs on Node.js 22 / arm64 with X-Ray, its own log group and the shared environment (no source maps at run time)', () => {
    const stack = testStack();
    new BallastFunction(stack, 'Fn', { entry: ENTRY, environment: { BALLAST_STATE_BUCKET: 'b' } });
    const template = Template.fromStack(stack);
    template.hasResourceProperties('AWS::Lambda::Function', {
      Runtime: 'nodejs22.x',
      Architectures: ['arm64'],
      Handler: 'index.handler',
      Timeout: 30,
      MemorySize: 512,
      TracingConfig: { Mode: 'Active' },
      LoggingConfig: { LogGroup: { Ref: Match.stringLikeRegexp('^FnLogGroup') } },
      Environment: {
        Variables: {
          POWERTOOLS_SERVICE_NAME: 'ballast',
          BALLAST_STATE_BUCKET: 'b',
        },
      },
    });
    const variables = Object.values(template.findResources('AWS::Lambda::Function'))[0]?.Properties.Environment
      .Variables as Record<string, string>;
    assert.equal(variables.NODE_OPTIONS, undefined, 'no --enable-source-maps on the cold-start path');
    template.hasResourceProperties('AWS::Logs::LogGroup', { RetentionInDays: 30 });
    const fn = Object.values(template.findResources('AWS::Lambda::Function'))[0];
    assert.equal(fn?.Properties.ReservedConcurrentExecutions, undefined, 'no reservation unless asked');
  });

  it('takes timeout, memory, reserved concurrency and log retention as props', () => {
    const stack = testStack();
    new BallastFunction(stack, 'Fn', {
      entry: ENTRY,
      timeout: Duration.minutes(15),
      memorySize: 1769,
      reservedConcurrentExecutions: 3,
      logRetention: logs.RetentionDays.ONE_YEAR,
      description: 'a test function',
    });
    const template = Template.fromStack(stack);
    template.hasResourceProperties('AWS::Lambda::Function', {
      Timeout: 900,
      MemorySize: 1769,
      ReservedConcurrentExecutions: 3,
      Description: 'a test function',
    });
    template.hasResourceProperties('AWS::Logs::LogGroup', { RetentionInDays: 365 });
  });

  it('has a role without managed policies that can write only to its own log group', () => {
    const stack = testStack();
    new BallastFunction(stack, 'Fn', { entry: ENTRY });
    const template = Template.fromStack(stack);
    const role = Object.values(template.findResources('AWS::IAM::Role'))[0];
    assert.equal(role?.Properties.ManagedPolicyArns, undefined);
    const statements = statementsOfRole(template, 'FnServiceRole');
    const logWrite = statements.find((s) => [s.Action].flat().includes('logs:PutLogEvents'));
    assert.ok(logWrite);
    const [logGroupId, attribute] = (logWrite.Resource as { 'Fn::GetAtt': [string, string] })['Fn::GetAtt'];
    assert.match(logGroupId, /^FnLogGroup/);
    assert.equal(attribute, 'Arn');
    // Tracing adds the X-Ray statement; nothing else is there until a grant adds it.
    assert.deepEqual(
      statements.map((s) => [s.Action].flat().sort()),
      [
        ['logs:CreateLogStream', 'logs:PutLogEvents'],
        ['xray:PutTelemetryRecords', 'xray:PutTraceSegments'],
      ],
    );
  });

  it('is clean under cdk-nag AwsSolutions (L1 and the X-Ray wildcard acknowledged with reasons)', () => {
    const stack = testStack();
    new BallastFunction(stack, 'Fn', { entry: ENTRY });
    assert.deepEqual(awsSolutionsFindings(stack), []);
  });

  it('grants object access by key prefix, plus ListBucket so a missing key reads as NoSuchKey', () => {
    const stack = testStack();
    const bucket = new s3.Bucket(stack, 'Bucket');
    const fn = new BallastFunction(stack, 'Fn', { entry: ENTRY });
    fn.grantObjects(bucket, 'readWrite', ['state/']);
    fn.grantObjects(bucket, 'read', ['commits/']);
    fn.grantObjects(bucket, 'write', ['ledger/']);
    const statements = statementsOfRole(Template.fromStack(stack), 'FnServiceRole');
    const s3Statements = statements.filter((s) => [s.Action].flat().some((a) => a.startsWith('s3:')));
    const summary = s3Statements.map((s) => ({
      actions: [s.Action].flat().sort(),
      resource: JSON.stringify(s.Resource),
    }));
    const bucketArn = JSON.stringify({
      'Fn::GetAtt': [stack.getLogicalId(bucket.node.defaultChild as s3.CfnBucket), 'Arn'],
    });
    const under = (prefix: string) => JSON.stringify({ 'Fn::Join': ['', [JSON.parse(bucketArn), `/${prefix}*`]] });
    assert.deepEqual(summary, [
      { actions: ['s3:GetObject', 's3:PutObject'], resource: under('state/') },
      { actions: ['s3:ListBucket'], resource: bucketArn },
      { actions: ['s3:GetObject'], resource: under('commits/') },
      { actions: ['s3:PutObject'], resource: under('ledger/') },
    ]);
    assert.deepEqual(
      awsSolutionsFindings(stack).filter((f) => f.path.includes('Fn')),
      [],
    );
  });

  it('refuses a wildcard permission without a reason, and acknowledges exactly its findings with one', () => {
    const stack = testStack();
    const fn = new BallastFunction(stack, 'Fn', { entry: ENTRY });
    assert.throws(
      () => fn.allow(new iam.PolicyStatement({ actions: ['sqs:SendMessage'], resources: ['arn:aws:sqs:*:*:q'] })),
      /needs a reason: Resource::arn:aws:sqs:\*:\*:q/,
    );
    fn.allow(
      new iam.PolicyStatement({ actions: ['sqs:SendMessage'], resources: ['arn:aws:sqs:us-east-1:111122223333:q-*'] }),
      'queues are created per tenant at run time',
    );
    fn.allow(
      new iam.PolicyStatement({ actions: ['sqs:Get*'], resources: ['arn:aws:sqs:us-east-1:111122223333:q'] }),
      'test',
    );
    assert.deepEqual(awsSolutionsFindings(stack), []);
    // Another function's identical wildcard is not covered by this one's acknowledgement.
    const other = new BallastFunction(stack, 'Other', { entry: ENTRY });
    other.role.addToPrincipalPolicy(
      new iam.PolicyStatement({ actions: ['sqs:SendMessage'], resources: ['arn:aws:sqs:us-east-1:111122223333:q-*'] }),
    );
    assert.deepEqual(
      awsSolutionsFindings(stack).map((f) => f.rule),
      ['AwsSolutions-IAM5[Resource::arn:aws:sqs:us-east-1:111122223333:q-*]'],
    );
  });

  it('bundles the TypeScript handler locally with esbuild into one self-contained ESM file', async () => {
    const outdir = mkdtempSync(join(tmpdir(), 'ballast-fn-'));
    try {
      const app = new App({ outdir });
      const stack = new Stack(app, 'Bundled', { env: ENV });
      new BallastFunction(stack, 'Fn', { entry: ENTRY });
      const assembly = app.synth();
      const template = assembly.getStackByName('Bundled').template as {
        Resources: Record<string, { Type: string; Properties: { Code?: { S3Key?: string } } }>;
      };
      const fn = Object.values(template.Resources).find((r) => r.Type === 'AWS::Lambda::Function');
      const hash = fn?.Properties.Code?.S3Key?.replace(/\.zip$/, '');
      assert.ok(hash, 'the function code is an asset');
      const assetDir = join(assembly.directory, `asset.${hash}`);
      assert.deepEqual(readdirSync(assetDir).sort(), ['index.mjs'], 'no source map or metafile in the asset');
      // The bundle is self-contained ESM (the SDK inside it, but for the credential providers no
      // Ballast client reaches, which only a dynamic import would load), so it runs from anywhere.
      const bundle = (await import(pathToFileURL(join(assetDir, 'index.mjs')).href)) as {
        handler: (event: unknown) => Promise<unknown>;
      };
      assert.deepEqual(await bundle.handler({ ping: 1 }), { echo: { ping: 1 }, sdk: 'function' });
    } finally {
      rmSync(outdir, { recursive: true, force: true });
    }
  });

  it('leaves out of the bundle only the credential providers no Ballast client reaches, behind dynamic imports', async () => {
    // Every SDK client module, bundled as a handler would bundle it (the stack's esbuild settings).
    const clients = ['s3', 'sagemaker', 'cloudwatch', 'codecommit', 'sfn', 'secrets-manager'];
    // The entry is replaced by stdin, and nothing is written: the metafile is all this reads.
    const { entryPoints: _, ...options } = esbuildOptionsFor(bundlingOptions(), ENTRY, tmpdir());
    const result = await build({
      ...options,
      stdin: {
        contents: clients.map((c) => `export * from './lambdas/aws/${c}.ts';`).join('\n'),
        resolveDir: projectPath('.'),
        loader: 'ts',
      },
      write: false,
    });
    const builtins = new Set(builtinModules);
    const external = Object.entries(result.metafile?.inputs ?? {}).flatMap(([importer, input]) =>
      input.imports
        .filter((i) => i.external && !i.path.startsWith('node:') && !builtins.has(i.path))
        .map((i) => ({ importer: importer.replace(/^.*node_modules\//, ''), path: i.path, kind: i.kind })),
    );
    assert.deepEqual(
      [...new Set(external.map((i) => i.path))].sort(),
      [...UNREACHABLE_CREDENTIAL_PROVIDERS].sort(),
      'exactly the listed providers are left out (a stale entry or a new external shows here)',
    );
    for (const i of external) {
      assert.equal(i.kind, 'dynamic-import', `${i.path} is loaded only when its link of the chain runs`);
      assert.match(i.importer, /^@aws-sdk\/credential-provider-node\//, `${i.path} only from the default chain`);
    }
  });
});
