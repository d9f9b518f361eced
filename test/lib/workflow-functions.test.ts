import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { pathToFileURL } from 'node:url';
import type * as iam from 'aws-cdk-lib/aws-iam';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import { projectPath } from '../../lib/ballast-function.ts';
import type { BallastStack } from '../../lib/ballast-stack.ts';
import { stateMachineArnOf } from '../../lib/deploy-workflow.ts';
import {
  DEPLOY_STEPS,
  RECONCILE_STEPS,
  type ReconcileStepName,
  ROLLBACK_STEPS,
  type RollbackStepName,
  type Setting,
  type StepName,
  stepSettings,
  type WorkflowStep,
} from '../../lib/workflow-steps.ts';
import { ballastStack, flat, GITHUB } from './fixtures/stacks.ts';

const HANDLERS = projectPath('lambdas/handlers/');
/** Every step of the three workflows; the rollback and reconcile steps are named `rollback:<step>`, `reconcile:<step>`. */
type AnyStep = StepName | `rollback:${RollbackStepName}` | `reconcile:${ReconcileStepName}`;
const STEPS: Array<[AnyStep, WorkflowStep]> = [
  ...(Object.entries(DEPLOY_STEPS) as Array<[StepName, WorkflowStep]>),
  ...(Object.entries(ROLLBACK_STEPS) as Array<[RollbackStepName, WorkflowStep]>).map(
    ([name, step]) => [`rollback:${name}`, step] as [AnyStep, WorkflowStep],
  ),
  ...(Object.entries(RECONCILE_STEPS) as Array<[ReconcileStepName, WorkflowStep]>).map(
    ([name, step]) => [`reconcile:${name}`, step] as [AnyStep, WorkflowStep],
  ),
];

function stepFunction(stack: BallastStack, step: AnyStep): lambda.IFunction {
  if (step.startsWith('rollback:')) {
    return stack.functions.rollbackByStep[step.slice('rollback:'.length) as RollbackStepName];
  }
  if (step.startsWith('reconcile:')) {
    return stack.functions.reconcileByStep[step.slice('reconcile:'.length) as ReconcileStepName];
  }
  return stack.functions.byStep[step as StepName];
}
/** Handler modules that are not workflow steps: the shared runtime, the webhook and Wake (their own constructs). */
const NOT_STEPS = ['runtime.ts', 'github-webhook.ts', 'wake.ts'];
/** The variables every BallastFunction gets, whatever its step. */
const SHARED = { POWERTOOLS_SERVICE_NAME: 'ballast' };

/** Source without comments, so a setting named in a doc comment does not count as read. */
function code(file: string): string {
  return readFileSync(file, 'utf8')
    .replace(/\/\*[\s\S]*?\*\//g, '')
    .replace(/^\s*\/\/.*$/gm, '');
}

interface FunctionProperties {
  readonly Timeout?: number;
  readonly MemorySize?: number;
  readonly Description?: string;
  readonly Environment?: { readonly Variables?: Record<string, unknown> };
}
const templates = new Map<
  BallastStack,
  { Resources?: Record<string, { Type: string; Properties: FunctionProperties }> }
>();
function synth(props: Parameters<typeof ballastStack>[0] = {}): BallastStack {
  const { stack, template } = ballastStack(props);
  templates.set(stack, template.toJSON());
  return stack;
}

/** The synthesized properties of the function behind a step, found by its construct's logical id. */
function functionOf(stack: BallastStack, step: AnyStep): FunctionProperties {
  const fn = stepFunction(stack, step) as lambda.Function;
  const logicalId = stack.getLogicalId(fn.node.defaultChild as lambda.CfnFunction);
  const template = templates.get(stack);
  const properties = template?.Resources?.[logicalId]?.Properties;
  assert.ok(properties, `${step}: ${logicalId} is in the template`);
  return properties;
}

/** The value each setting should have in this stack, read from the stack's own public properties. */
function expectedValues(stack: BallastStack): Record<Setting, unknown> {
  const source = stack.source;
  return {
    BALLAST_STATE_BUCKET: stack.resolve(stack.store.bucket.bucketName),
    BALLAST_RESOURCE_PREFIX: stack.resourcePrefix,
    BALLAST_SAGEMAKER_ROLE_ARN: stack.resolve(stack.sagemakerRole.role.roleArn),
    BALLAST_GITHUB_API_URL: source.type === 'github' ? (source.apiUrl ?? 'https://api.github.com') : undefined,
    BALLAST_GITHUB_TOKEN_SECRET_NAME: source.type === 'github' ? source.tokenSecretName : undefined,
    BALLAST_ACCOUNT_ID: stack.account,
    BALLAST_REGION: stack.region,
    BALLAST_SECRET_PREFIX: stack.secretPrefix,
    BALLAST_ALARM_TOPIC_ARN: stack.alarmTopic ? stack.resolve(stack.alarmTopic.topicArn) : undefined,
    BALLAST_DEPLOY_STATE_MACHINE_ARN: stack.resolve(stateMachineArnOf(stack, deployStateMachineName(stack))),
  };
}

/** The deploy state machine's name as synthesized. */
function deployStateMachineName(stack: BallastStack): string {
  const machine = stack.deployWorkflow.stateMachine.node.defaultChild as { stateMachineName?: string };
  assert.ok(machine.stateMachineName, 'the deploy state machine has a fixed name');
  return machine.stateMachineName;
}

describe('WorkflowFunctions', () => {
  const codecommit = synth();
  const github = synth({ source: GITHUB });
  const enterprise = synth({
    source: { ...GITHUB, apiUrl: 'https://github.acme.internal/api/v3' },
    secretPrefix: 'acme-ml/',
  });

  it('has one function per manifest step, and no other workflow function', () => {
    assert.ok(STEPS.length > 0, 'the manifest has steps');
    assert.deepEqual(Object.keys(codecommit.functions.byStep).sort(), Object.keys(DEPLOY_STEPS).sort());
    assert.deepEqual(Object.keys(codecommit.functions.rollbackByStep).sort(), Object.keys(ROLLBACK_STEPS).sort());
    assert.deepEqual(Object.keys(codecommit.functions.reconcileByStep).sort(), Object.keys(RECONCILE_STEPS).sort());
    // Besides them, a CodeCommit stack has Wake (lib/rollout-wake.ts), the target of an event rule.
    const wake = codecommit.getLogicalId(
      codecommit.rolloutWake.function.function.node.defaultChild as lambda.CfnFunction,
    );
    const functions = Object.entries(templates.get(codecommit)?.Resources ?? {})
      .filter(([id, r]) => r.Type === 'AWS::Lambda::Function' && id !== wake)
      .map(([id]) => id);
    assert.equal(functions.length, STEPS.length, 'a CodeCommit stack has exactly the step functions and Wake');
    const byStep = STEPS.map(([step]) =>
      codecommit.getLogicalId(
        (stepFunction(codecommit, step) as lambda.Function).node.defaultChild as lambda.CfnFunction,
      ),
    );
    assert.deepEqual(byStep.sort(), functions.sort(), 'every function in the template is a step function');
  });

  it('gives every function exactly stepSettings(step, source), filled with this stack’s values', () => {
    assert.ok(STEPS.length > 0, 'the manifest has steps');
    for (const [stack, sourceType] of [
      [codecommit, 'codecommit'],
      [github, 'github'],
      [enterprise, 'github'],
    ] as const) {
      const values = expectedValues(stack);
      for (const [step, manifest] of STEPS) {
        const expected: Record<string, unknown> = { ...SHARED };
        for (const setting of stepSettings(manifest, sourceType)) {
          // A setting the stack has no value for (no secret prefix) is left out, not set empty.
          if (values[setting] !== undefined) expected[setting] = values[setting];
        }
        assert.deepEqual(
          functionOf(stack, step).Environment?.Variables ?? {},
          expected,
          `${step} (${sourceType}) has exactly its manifest settings`,
        );
      }
    }
  });

  it('fills the settings with literal values a reader can check', () => {
    const resolve = functionOf(github, 'resolve').Environment?.Variables ?? {};
    assert.deepEqual(resolve.BALLAST_STATE_BUCKET, { Ref: 'ArtifactStoreBucket47CE7D81' }, 'the store bucket');
    assert.equal(resolve.BALLAST_ACCOUNT_ID, '111122223333', 'the stack account');
    assert.equal(resolve.BALLAST_REGION, 'us-east-1', 'the stack region');
    assert.equal(resolve.BALLAST_GITHUB_API_URL, 'https://api.github.com', 'the public GitHub API by default');
    assert.equal(resolve.BALLAST_GITHUB_TOKEN_SECRET_NAME, 'ballast/github-token', 'the token secret name');
    const deploy = functionOf(codecommit, 'deploy').Environment?.Variables ?? {};
    assert.equal(deploy.BALLAST_RESOURCE_PREFIX, 'ballast', 'the default resource prefix');
    const sagemakerRoleId = codecommit.getLogicalId(codecommit.sagemakerRole.role.node.defaultChild as iam.CfnRole);
    assert.deepEqual(deploy.BALLAST_SAGEMAKER_ROLE_ARN, { 'Fn::GetAtt': [sagemakerRoleId, 'Arn'] }, 'the role ARN');
    assert.equal(
      functionOf(enterprise, 'recordPush').Environment?.Variables?.BALLAST_GITHUB_API_URL,
      'https://github.acme.internal/api/v3',
      'a GitHub Enterprise API URL is passed through',
    );
    assert.equal(
      functionOf(codecommit, 'record').Environment?.Variables?.BALLAST_GITHUB_API_URL,
      undefined,
      'a CodeCommit stack sets no GitHub settings',
    );
    // The reconciler starts heals and missed pushes on the deploy workflow, named by its fixed name
    // (the functions are built before the state machine that invokes them).
    for (const step of ['reconcile:scan', 'reconcile:check'] as const) {
      assert.equal(
        flat(functionOf(codecommit, step).Environment?.Variables?.BALLAST_DEPLOY_STATE_MACHINE_ARN),
        'arn:<AWS::Partition>:states:us-east-1:111122223333:stateMachine:Ballast-deploy',
        `${step} names the deploy state machine`,
      );
    }
    assert.equal(deployStateMachineName(codecommit), 'Ballast-deploy');
  });

  it('sizes and describes each function as the manifest says', () => {
    assert.ok(STEPS.length > 0, 'the manifest has steps');
    for (const [step, manifest] of STEPS) {
      const fn = functionOf(codecommit, step);
      assert.equal(fn.Timeout, manifest.timeoutSeconds, `${step} timeout`);
      assert.equal(fn.MemorySize, manifest.memorySize, `${step} memory`);
      assert.equal(fn.Description, manifest.description, `${step} description`);
    }
    // RegisterFiles streams multi-GB model files through sha256 and copies them.
    assert.deepEqual(
      { timeout: DEPLOY_STEPS.registerFiles.timeoutSeconds, memory: DEPLOY_STEPS.registerFiles.memorySize },
      { timeout: 900, memory: 1769 },
      'RegisterFiles is the long, large function',
    );
  });

  it('names a handler for every step that exists under lambdas/handlers/ and exports `handler`', async () => {
    assert.ok(STEPS.length > 0, 'the manifest has steps');
    for (const [step, manifest] of STEPS) {
      const file = join(HANDLERS, manifest.file);
      assert.ok(existsSync(file), `${step}: ${file} exists`);
      const module = (await import(pathToFileURL(file).href)) as { handler?: unknown };
      assert.equal(typeof module.handler, 'function', `${step}: ${manifest.file} exports a handler function`);
    }
    // The bundle of each function really is its step's handler: checked on the bundled output in synth.test.ts.
  });

  it('leaves no workflow handler without a step (a removed step takes its handler with it)', () => {
    const handlers = readdirSync(HANDLERS).filter((f) => f.endsWith('.ts') && !NOT_STEPS.includes(f));
    assert.ok(handlers.length > 0, 'there are handler files');
    assert.deepEqual(handlers.sort(), STEPS.map(([, s]) => s.file).sort());
  });

  it('gives each step its own placeholder (within its workflow) and handler', () => {
    assert.ok(STEPS.length > 0, 'the manifest has steps');
    for (const steps of [DEPLOY_STEPS, ROLLBACK_STEPS, RECONCILE_STEPS]) {
      const placeholders = Object.values(steps).map((s) => s.placeholder);
      assert.equal(new Set(placeholders).size, placeholders.length, `placeholders are unique: ${placeholders}`);
    }
    const files = STEPS.map(([, s]) => s.file);
    assert.equal(new Set(files).size, files.length, 'handler files are unique');
  });

  it('reads settings only in the handlers: no other Lambda module looks at BALLAST_* variables', () => {
    const modules: string[] = [];
    const walk = (dir: string) => {
      for (const name of readdirSync(dir)) {
        const path = join(dir, name);
        if (statSync(path).isDirectory()) walk(path);
        else if (path.endsWith('.ts') && !path.startsWith(HANDLERS)) modules.push(path);
      }
    };
    walk(projectPath('lambdas/'));
    assert.ok(modules.length > 0, 'there are Lambda modules outside the handlers');
    const readsEnvironment = modules.filter((path) => /process\.env(?:\.|\[\s*['"])BALLAST_/.test(code(path)));
    assert.deepEqual(readsEnvironment, [], 'no module outside the handlers reads process.env.BALLAST_*');
    // The handlers' runtime reads settings for them; a domain module that imported those helpers
    // would read a setting behind the manifest's back.
    const settingHelpers = /\b(setting|optionalSetting|stateStore|resourcePrefix)\b/;
    const importsHelpers = modules.filter((path) =>
      [...code(path).matchAll(/import\s*(?:type\s*)?\{([^}]*)\}\s*from\s*'[^']*handlers\/runtime\.ts'/g)].some((m) =>
        settingHelpers.test(m[1] ?? ''),
      ),
    );
    assert.deepEqual(importsHelpers, [], 'no module outside the handlers imports the setting helpers');
  });
});
