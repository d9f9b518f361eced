import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { App, Stack, Stage } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as sns from 'aws-cdk-lib/aws-sns';
import { projectPath } from '../../lib/ballast-function.ts';
import { DEPLOYMENTS_FAILED_QUERY, DeployWorkflow, type DeployWorkflowFunctions } from '../../lib/deploy-workflow.ts';
import { DEPLOY_STEPS, type StepName } from '../../lib/workflow-steps.ts';
import { awsSolutionsFindings } from '../support/nag.ts';
import { flat, statementsOfRole, testStack } from './fixtures/stacks.ts';

const ASL_FILE = projectPath('stepfunctions/deploy.asl.json');
/** A Lambda invocation that waits for its task token: the function is Parameters.FunctionName. */
const LAMBDA_CALLBACK = 'arn:aws:states:::lambda:invoke.waitForTaskToken';
const STEPS = Object.keys(DEPLOY_STEPS) as StepName[];
const arnOf = (step: StepName) => `arn:aws:lambda:us-east-1:111122223333:function:ballast-${step}`;
const LAMBDA_ERRORS = [
  'Lambda.ServiceException',
  'Lambda.AWSLambdaException',
  'Lambda.SdkClientException',
  'Lambda.TooManyRequestsException',
  'Lambda.ClientExecutionTimeoutException',
];

function functions(stack: Stack): DeployWorkflowFunctions {
  return Object.fromEntries(
    STEPS.map((step) => [step, lambda.Function.fromFunctionArn(stack, `${step}Fn`, arnOf(step))]),
  ) as unknown as DeployWorkflowFunctions;
}

function synth(props: { alarmTopic?: boolean; alarmOnFailedDeployments?: boolean; stateMachineName?: string } = {}) {
  const stack = testStack();
  const topic = props.alarmTopic ? new sns.Topic(stack, 'Topic', { enforceSSL: true }) : undefined;
  const workflow = new DeployWorkflow(stack, 'Workflow', {
    functions: functions(stack),
    alarmTopic: topic,
    alarmOnFailedDeployments: props.alarmOnFailedDeployments,
    stateMachineName: props.stateMachineName,
  });
  return { stack, workflow, template: Template.fromStack(stack), topic };
}

function stateMachine(template: Template) {
  const [machine, ...others] = Object.values(template.findResources('AWS::StepFunctions::StateMachine'));
  assert.ok(machine && others.length === 0, 'one state machine');
  return machine.Properties as {
    DefinitionS3Location: { Key: string };
    DefinitionSubstitutions: Record<string, unknown>;
    StateMachineName: string;
    StateMachineType: string;
    TracingConfiguration: { Enabled: boolean };
    LoggingConfiguration: { Level: string; IncludeExecutionData: boolean; Destinations: unknown[] };
    RoleArn: unknown;
  };
}

/** What Step Functions runs: the ASL file with CloudFormation's substitutions applied. */
function render(text: string, substitutions: Record<string, unknown>): string {
  return text.replace(/\$\{([^}]+)\}/g, (whole, name: string) => {
    const value = substitutions[name];
    return typeof value === 'string' ? value : whole;
  });
}

interface Retrier {
  readonly ErrorEquals: string[];
  readonly MaxAttempts?: number;
}
interface Catcher {
  readonly ErrorEquals: string[];
  readonly Next: string;
  readonly ResultPath?: string;
}
interface State {
  readonly Type: string;
  readonly Resource?: string;
  readonly Parameters?: { readonly FunctionName?: string; readonly Payload?: Record<string, unknown> };
  readonly TimeoutSecondsPath?: string;
  readonly SecondsPath?: string;
  readonly ResultPath?: string | null;
  readonly Retry?: Retrier[];
  readonly Catch?: Catcher[];
  readonly Next?: string;
  readonly ItemsPath?: string;
  readonly MaxConcurrency?: number;
  readonly ItemSelector?: Record<string, unknown>;
  readonly ItemProcessor?: Machine & { readonly ProcessorConfig?: { Mode?: string; ExecutionType?: string } };
  readonly Iterator?: Machine;
  readonly Branches?: Machine[];
}
interface Machine {
  readonly StartAt: string;
  readonly States: Record<string, State>;
}
/** A state with where it runs: in the push's execution, or in an endpoint's child execution (the Map's processor). */
interface Located {
  readonly name: string;
  readonly state: State;
  /** `files`: inside the files Map of an endpoint's execution (RegisterFiles). */
  readonly scope: 'push' | 'endpoint' | 'files';
  /** The states of the machine the state belongs to (where its Next and Catch targets are). */
  readonly siblings: Record<string, State>;
}

/** Every state of a definition, nested ones (Map processors, Parallel branches) included. */
function statesOf(machine: Machine, scope: Located['scope'] = 'push'): Located[] {
  return Object.entries(machine.States).flatMap(([name, state]) => [
    { name, state, scope, siblings: machine.States },
    ...[state.ItemProcessor, state.Iterator].flatMap((nested) =>
      nested ? statesOf(nested, scope === 'push' ? 'endpoint' : 'files') : [],
    ),
    ...(state.Branches ?? []).flatMap((branch) => statesOf(branch, scope)),
  ]);
}

/** The deploy definition as Step Functions runs it: substitutions applied, parsed. */
function definition(): { text: string; machine: Machine & { TimeoutSeconds?: number } } {
  const { template } = synth();
  const text = render(readFileSync(ASL_FILE, 'utf8'), stateMachine(template).DefinitionSubstitutions);
  return { text, machine: JSON.parse(text) as Machine };
}

const tasks = (machine: Machine) => statesOf(machine).filter((s) => s.state.Type === 'Task');
/** The function a Task state invokes: its Resource, or the callback integration's FunctionName. */
const functionOf = (state: State) =>
  state.Resource === LAMBDA_CALLBACK ? state.Parameters?.FunctionName : state.Resource;
const invokes = (located: Located, step: StepName) => functionOf(located.state) === arnOf(step);
const catchAll = (state: State) => (state.Catch ?? []).find((c) => c.ErrorEquals.includes('States.ALL'));

describe('DeployWorkflow', () => {
  it('fills one <placeholder>FunctionArn per manifest step, and the rendered file has no placeholder left', () => {
    const { template } = synth();
    const machine = stateMachine(template);
    assert.ok(STEPS.length > 0, 'the manifest has steps');
    assert.deepEqual(
      Object.keys(machine.DefinitionSubstitutions).sort(),
      Object.values(DEPLOY_STEPS)
        .map((step) => `${step.placeholder}FunctionArn`)
        .sort(),
    );
    for (const step of STEPS) {
      assert.equal(
        machine.DefinitionSubstitutions[`${DEPLOY_STEPS[step].placeholder}FunctionArn`],
        arnOf(step),
        `${step}'s placeholder holds ${step}'s function`,
      );
    }
    const rendered = render(readFileSync(ASL_FILE, 'utf8'), machine.DefinitionSubstitutions);
    assert.ok(!rendered.includes('${'), 'no placeholder is left in the rendered definition');
  });

  it('invokes one of the functions in every Task state (Map processor included), and uses every function', () => {
    const { machine } = definition();
    const all = tasks(machine);
    assert.ok(all.length > 0, 'the definition has Task states');
    assert.ok(
      all.some((t) => t.scope === 'endpoint'),
      'some Task states run inside the Map',
    );
    for (const task of all) {
      assert.ok(
        STEPS.some((step) => invokes(task, step)),
        `${task.name} invokes a workflow function (${task.state.Resource})`,
      );
    }
    assert.deepEqual(
      new Set(all.map((t) => functionOf(t.state))),
      new Set(STEPS.map(arnOf)),
      'every function is invoked by some task',
    );
  });

  it('retries every Task on Lambda service errors and on TransientError', () => {
    const { machine } = definition();
    const all = tasks(machine);
    assert.ok(all.length > 0, 'the definition has Task states');
    for (const { name, state } of all) {
      const retry = state.Retry ?? [];
      const lambdaRetry = retry.find((r) => LAMBDA_ERRORS.every((e) => r.ErrorEquals.includes(e)));
      assert.ok(lambdaRetry && (lambdaRetry.MaxAttempts ?? 3) > 0, `${name} retries the Lambda service errors`);
      const transient = retry.find((r) => r.ErrorEquals.includes('TransientError'));
      assert.ok(transient && (transient.MaxAttempts ?? 3) > 0, `${name} retries TransientError`);
    }
  });

  it('records every per-endpoint failure: each endpoint Task catches into a Record state', () => {
    const { machine } = definition();
    // The files Map catches for the tasks inside it: a bad file fails the Map, which is recorded.
    // The waits (Park) are no step of the rollout: a failure there falls back to a plain Wait (below).
    const steps = statesOf(machine).filter(
      (t) =>
        t.scope === 'endpoint' &&
        (t.state.Type === 'Task' || t.state.Type === 'Map') &&
        !invokes(t, 'record') &&
        !invokes(t, 'park'),
    );
    assert.ok(steps.length > 0, 'the Map runs tasks besides Record');
    assert.ok(
      steps.some((t) => t.state.Type === 'Map'),
      'the files Map is among them',
    );
    for (const { name, state, siblings } of steps) {
      const caught = catchAll(state);
      assert.ok(caught, `${name} catches States.ALL`);
      const target = siblings[caught.Next];
      assert.equal(target?.Resource, arnOf('record'), `${name} catches into a Record state (${caught.Next})`);
    }
  });

  it('waits for the endpoint in callback tasks: one state per wait, ended by Wake or by the next look, and a failed Park falls back to a plain Wait', () => {
    const { machine } = definition();
    const waits = tasks(machine).filter((t) => t.state.Resource === LAMBDA_CALLBACK);
    assert.deepEqual(waits.map((w) => w.name).sort(), ['WaitForIdleEndpoint', 'WaitForRollout']);
    const nextLook = { WaitForRollout: 'CheckRollout', WaitForIdleEndpoint: 'Deploy' } as Record<string, string>;
    for (const { name, state, scope, siblings } of waits) {
      assert.equal(scope, 'endpoint', `${name} runs per endpoint`);
      assert.ok(invokes({ name, state, scope, siblings }, 'park'), `${name} invokes Park`);
      const payload = state.Parameters?.Payload ?? {};
      assert.equal(payload['taskToken.$'], '$$.Task.Token', `${name} hands Park its task token`);
      assert.equal(payload['endpointName.$'], '$.rollout.endpointName', 'parked under the SageMaker endpoint name');
      assert.equal(payload['waitSeconds.$'], '$.rollout.nextCheckSeconds');
      assert.equal(payload.state, name);
      // The timeout is the scheduled look (resolved against the state's input, as Wait's SecondsPath).
      assert.equal(state.TimeoutSecondsPath, '$.rollout.nextCheckSeconds', `${name} times out at the next look`);
      assert.equal(state.Next, nextLook[name], `${name}: woken, the next look comes at once`);
      const [timeout, ...rest] = state.Catch ?? [];
      assert.deepEqual(timeout?.ErrorEquals, ['States.Timeout']);
      assert.equal(timeout?.Next, nextLook[name], `${name}: timed out, the next look comes as scheduled`);
      const fallback = rest.at(-1);
      assert.deepEqual(fallback?.ErrorEquals, ['States.ALL'], `${name} catches whatever else fails`);
      assert.equal(rest.length, 1);
      const sleep = siblings[fallback?.Next ?? ''];
      assert.equal(sleep?.Type, 'Wait', `${name}: a failed Park sleeps in a plain Wait`);
      assert.equal(sleep?.SecondsPath, '$.rollout.nextCheckSeconds');
      assert.equal(sleep?.Next, nextLook[name]);
      // What woke the task (or the timeout) goes beside the rollout, which the next look reads.
      for (const result of [state.ResultPath, timeout?.ResultPath, fallback?.ResultPath])
        assert.equal(result, '$.wake');
    }
    const plainWaits = statesOf(machine).filter((s) => s.state.Type === 'Wait');
    assert.deepEqual(
      plainWaits.map((w) => w.name).sort(),
      ['SleepForIdleEndpoint', 'SleepForRollout'],
      'no Wait but the fallbacks',
    );
  });

  it('catches a failed Record into Unrecorded, so the push summary still sees the endpoint', () => {
    const { machine } = definition();
    const records = tasks(machine).filter((t) => invokes(t, 'record'));
    assert.ok(records.length > 0, 'the definition has Record states');
    for (const { name, state, scope, siblings } of records) {
      assert.equal(scope, 'endpoint', `${name} runs per endpoint`);
      const caught = catchAll(state);
      assert.equal(caught?.Next, 'Unrecorded', `${name} catches into Unrecorded`);
      assert.ok(caught?.ResultPath && caught.ResultPath !== '$', `${name} keeps its input when it catches`);
      assert.equal(siblings.Unrecorded?.Type, 'Pass', 'Unrecorded is a Pass state beside the Record states');
    }
  });

  it('answers a push that fails before or around its endpoints: Resolve, Validate and the Map catch into RecordPushFailure', () => {
    const { machine } = definition();
    const failure = machine.States.RecordPushFailure;
    assert.equal(failure?.Resource, arnOf('recordPush'), 'RecordPushFailure invokes RecordPush');
    const guarded = statesOf(machine).filter(
      (s) => s.scope === 'push' && (['Resolve', 'Validate'].includes(s.name) || s.state.Type === 'Map'),
    );
    assert.deepEqual(guarded.map((s) => s.name).sort(), ['Endpoints', 'Resolve', 'Validate']);
    for (const { name, state } of guarded) {
      const caught = catchAll(state);
      assert.equal(caught?.Next, 'RecordPushFailure', `${name} catches into RecordPushFailure`);
      assert.ok(caught?.ResultPath && caught.ResultPath !== '$', `${name} keeps the push when it catches`);
    }
  });

  it('rolls endpoints out in a Distributed Map of STANDARD child executions, at most 40 at a time', () => {
    const { machine } = definition();
    const maps = statesOf(machine).filter((s) => s.state.Type === 'Map' && s.scope === 'push');
    assert.equal(maps.length, 1, 'one Map per push: the endpoints');
    const [map] = maps;
    assert.ok(map, 'the endpoints Map');
    assert.equal(map.state.ItemProcessor?.ProcessorConfig?.Mode, 'DISTRIBUTED', 'a Distributed Map');
    assert.equal(map.state.ItemProcessor?.ProcessorConfig?.ExecutionType, 'STANDARD', 'STANDARD child executions');
    const concurrency = map.state.MaxConcurrency ?? 0;
    assert.ok(concurrency > 0, 'MaxConcurrency is bounded (0 means unbounded)');
    assert.ok(concurrency <= 40, `MaxConcurrency ${concurrency} is at most 40`);
  });

  it('verifies a model’s files in an inline Map of bounded concurrency that keeps no results', () => {
    const { machine } = definition();
    const maps = statesOf(machine).filter((s) => s.state.Type === 'Map' && s.scope === 'endpoint');
    assert.deepEqual(
      maps.map((m) => m.name),
      ['RegisterFiles'],
    );
    const [map] = maps;
    assert.ok(map);
    assert.equal(map.state.ItemProcessor?.ProcessorConfig?.Mode, 'INLINE');
    const concurrency = map.state.MaxConcurrency ?? 0;
    assert.ok(concurrency > 0 && concurrency <= 40, `MaxConcurrency ${concurrency} is bounded`);
    // 500 batches' results would crowd the endpoint's 256 KiB payload; Pin reads what it needs.
    assert.equal((map.state as { ResultPath?: unknown }).ResultPath, null);
    const inner = statesOf(machine).filter((s) => s.scope === 'files' && s.state.Type === 'Task');
    assert.ok(inner.length > 0);
    assert.ok(
      inner.every((t) => invokes(t, 'registerFiles')),
      'each iteration is one RegisterFiles',
    );
  });

  it('maps over the plan’s endpoint names and passes each child the parent’s execution name (the lease identity)', () => {
    const { machine } = definition();
    const map = machine.States.Endpoints;
    assert.equal(map?.ItemsPath, '$.plan.items', 'the items are the plan’s items (endpoint names)');
    const selector = map?.ItemSelector ?? {};
    assert.equal(selector['endpoint.$'], '$$.Map.Item.Value', 'each child gets one endpoint name');
    // ItemSelector is evaluated in the parent: there $$.Execution.Name is the push's execution.
    assert.equal(selector['execution.$'], '$$.Execution.Name', 'each child gets the parent’s execution name');
    // Inside a child, $$.Execution.Name is the child's own name: no endpoint state may use it.
    const children = statesOf(machine).filter((s) => s.scope === 'endpoint');
    assert.ok(children.length > 0, 'the Map has states');
    for (const { name, state } of children) {
      assert.ok(!JSON.stringify(state).includes('$$.Execution'), `${name} takes the execution from its input`);
    }
  });

  it('ships the ASL file itself as the definition (the file the local runner executes)', () => {
    const { stack } = synth();
    const stage = Stage.of(stack);
    assert.ok(stage);
    const directory = stage.synth().directory;
    const machine = stateMachine(Template.fromStack(stack));
    const shipped = readFileSync(join(directory, `asset.${machine.DefinitionS3Location.Key}`), 'utf8');
    assert.equal(shipped, readFileSync(ASL_FILE, 'utf8'));
  });

  it('is a STANDARD workflow with X-Ray tracing and every event logged, without execution data', () => {
    const { template } = synth();
    const machine = stateMachine(template);
    assert.equal(machine.StateMachineType, 'STANDARD');
    assert.deepEqual(machine.TracingConfiguration, { Enabled: true });
    assert.equal(machine.LoggingConfiguration.Level, 'ALL');
    assert.equal(machine.LoggingConfiguration.IncludeExecutionData, false);
    template.hasResourceProperties('AWS::Logs::LogGroup', { RetentionInDays: 30 });
  });

  it('takes its overall timeout from the definition', () => {
    const { workflow } = synth();
    const declared = (JSON.parse(readFileSync(ASL_FILE, 'utf8')) as { TimeoutSeconds: number }).TimeoutSeconds;
    assert.ok(declared > 0);
    assert.equal(workflow.timeout.toSeconds(), declared);
  });

  it('is named <stack>-deploy unless named otherwise (its role names its own ARN)', () => {
    assert.equal(stateMachine(synth().template).StateMachineName, 'Test-deploy', 'the default name');
    assert.equal(
      stateMachine(synth({ stateMachineName: 'acme-deploy' }).template).StateMachineName,
      'acme-deploy',
      'a given name',
    );
  });

  it('may start, describe and stop only its own executions (the Distributed Map children)', () => {
    const { template } = synth({ stateMachineName: 'acme-deploy' });
    const states = statementsOfRole(template, 'WorkflowStateMachineRole')
      .filter((s) => [s.Action].flat().some((a) => a.startsWith('states:')))
      .map((s) => ({ actions: [s.Action].flat().sort(), resources: [s.Resource].flat().map(flat) }));
    assert.deepEqual(states, [
      {
        actions: ['states:StartExecution'],
        resources: ['arn:<AWS::Partition>:states:us-east-1:111122223333:stateMachine:acme-deploy'],
      },
      {
        actions: ['states:DescribeExecution', 'states:StopExecution'],
        resources: ['arn:<AWS::Partition>:states:us-east-1:111122223333:execution:acme-deploy/*'],
      },
    ]);
  });

  it('may invoke exactly its functions, and nothing else in Lambda', () => {
    const { template } = synth();
    const statements = statementsOfRole(template, 'WorkflowStateMachineRole');
    const lambdaStatements = statements.filter((s) => [s.Action].flat().some((a) => a.startsWith('lambda:')));
    assert.equal(lambdaStatements.length, 1, 'one Lambda statement');
    assert.deepEqual([lambdaStatements[0]?.Action].flat(), ['lambda:InvokeFunction'], 'invoke only');
    assert.deepEqual([lambdaStatements[0]?.Resource].flat().sort(), STEPS.map(arnOf).sort(), 'the step functions');
  });

  it('alarms on failed, timed-out and aborted executions and on failed deployments, notifying the topic', () => {
    const { template, topic, stack } = synth({ alarmTopic: true });
    const alarms = Object.values(template.findResources('AWS::CloudWatch::Alarm')).map((a) => a.Properties);
    const byMetric = (name: string) => alarms.find((a) => a.MetricName === name);
    for (const metric of ['ExecutionsFailed', 'ExecutionsTimedOut', 'ExecutionsAborted']) {
      const alarm = byMetric(metric);
      assert.ok(alarm, metric);
      assert.equal(alarm.Namespace, 'AWS/States');
      assert.equal(alarm.Statistic, 'Sum');
      assert.equal(alarm.Threshold, 1);
      assert.equal(alarm.ComparisonOperator, 'GreaterThanOrEqualToThreshold');
      assert.equal(alarm.TreatMissingData, 'notBreaching');
      assert.deepEqual(alarm.Dimensions[0].Name, 'StateMachineArn');
      assert.deepEqual(alarm.AlarmActions, [stack.resolve(topic?.topicArn)]);
    }
    const failedDeployments = alarms.find((a) => Array.isArray(a.Metrics));
    assert.equal(failedDeployments?.Metrics[0].Expression, DEPLOYMENTS_FAILED_QUERY);
    assert.equal(failedDeployments?.Metrics[0].Period, 300);
    assert.deepEqual(failedDeployments?.AlarmActions, [stack.resolve(topic?.topicArn)]);
    assert.equal(alarms.length, 4);
  });

  it('alarms without actions when there is no topic, and can leave out the deployments alarm', () => {
    const { template } = synth({ alarmOnFailedDeployments: false });
    const alarms = Object.values(template.findResources('AWS::CloudWatch::Alarm')).map((a) => a.Properties);
    assert.equal(alarms.length, 3);
    for (const alarm of alarms) assert.equal(alarm.AlarmActions, undefined);
  });

  it('is clean under cdk-nag AwsSolutions, named or not, in a stack with or without an environment', () => {
    assert.deepEqual(awsSolutionsFindings(synth().stack), [], 'default name');
    assert.deepEqual(awsSolutionsFindings(synth({ stateMachineName: 'acme-deploy' }).stack), [], 'given name');
    const agnostic = new Stack(new App({ context: { 'aws:cdk:bundling-stacks': [] } }), 'Agnostic');
    new DeployWorkflow(agnostic, 'Workflow', { functions: functions(agnostic) });
    assert.deepEqual(awsSolutionsFindings(agnostic), [], 'environment-agnostic stack');
  });

  it('refuses a definition whose placeholders and functions do not match, or that has no timeout', () => {
    const dir = mkdtempSync(join(tmpdir(), 'ballast-asl-'));
    try {
      const asl = JSON.parse(readFileSync(ASL_FILE, 'utf8')) as Record<string, unknown>;
      const extra = join(dir, 'extra.asl.json');
      // A placeholder no function fills (as the ASL file writes it: a literal `${...}`).
      writeFileSync(extra, JSON.stringify({ ...asl, Comment: ['$', '{RollbackFunctionArn}'].join('') }));
      assert.throws(() => {
        const stack = testStack();
        new DeployWorkflow(stack, 'W', { functions: functions(stack), definitionFile: extra });
      }, /placeholders without a function: \[RollbackFunctionArn\]/);
      const noTimeout = join(dir, 'no-timeout.asl.json');
      const { TimeoutSeconds: _, ...rest } = asl;
      writeFileSync(noTimeout, JSON.stringify(rest));
      assert.throws(() => {
        const stack = testStack();
        new DeployWorkflow(stack, 'W', { functions: functions(stack), definitionFile: noTimeout });
      }, /TimeoutSeconds/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
