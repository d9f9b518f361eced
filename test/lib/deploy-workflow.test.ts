import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { type Stack, Stage } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as sns from 'aws-cdk-lib/aws-sns';
import { projectPath } from '../../lib/ballast-function.ts';
import {
  DEPLOY_WORKFLOW_PLACEHOLDERS,
  DEPLOYMENTS_FAILED_QUERY,
  DeployWorkflow,
  type DeployWorkflowFunctions,
} from '../../lib/deploy-workflow.ts';
import { awsSolutionsFindings } from '../support/nag.ts';
import { statementsOfRole, testStack } from './fixtures/stacks.ts';

const ASL_FILE = projectPath('stepfunctions/deploy.asl.json');
const STEPS = Object.keys(DEPLOY_WORKFLOW_PLACEHOLDERS) as Array<keyof DeployWorkflowFunctions>;
const arnOf = (step: string) => `arn:aws:lambda:us-east-1:111122223333:function:ballast-${step}`;

function functions(stack: Stack): DeployWorkflowFunctions {
  return Object.fromEntries(
    STEPS.map((step) => [step, lambda.Function.fromFunctionArn(stack, `${step}Fn`, arnOf(step))]),
  ) as unknown as DeployWorkflowFunctions;
}

function synth(props: { alarmTopic?: boolean; alarmOnFailedDeployments?: boolean } = {}) {
  const stack = testStack();
  const topic = props.alarmTopic ? new sns.Topic(stack, 'Topic', { enforceSSL: true }) : undefined;
  const workflow = new DeployWorkflow(stack, 'Workflow', {
    functions: functions(stack),
    alarmTopic: topic,
    alarmOnFailedDeployments: props.alarmOnFailedDeployments,
  });
  return { stack, workflow, template: Template.fromStack(stack), topic };
}

function stateMachine(template: Template) {
  const [machine, ...others] = Object.values(template.findResources('AWS::StepFunctions::StateMachine'));
  assert.ok(machine && others.length === 0, 'one state machine');
  return machine.Properties as {
    DefinitionS3Location: { Key: string };
    DefinitionSubstitutions: Record<string, unknown>;
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

describe('DeployWorkflow', () => {
  it('is the ASL file with every placeholder substituted by its function ARN', () => {
    const { template } = synth();
    const machine = stateMachine(template);
    assert.deepEqual(
      Object.keys(machine.DefinitionSubstitutions).sort(),
      Object.values(DEPLOY_WORKFLOW_PLACEHOLDERS).sort(),
    );
    const text = readFileSync(ASL_FILE, 'utf8');
    const rendered = render(text, machine.DefinitionSubstitutions);
    assert.ok(!rendered.includes('${'), 'no placeholder is left in the rendered definition');
    const definition = JSON.parse(rendered) as { States: Record<string, unknown> };
    // Every Task state, including those inside the Map's item processor, invokes one of the functions.
    const resources = [...rendered.matchAll(/"Resource":\s*"([^"]+)"/g)].map((m) => m[1]);
    assert.ok(resources.length >= STEPS.length);
    for (const resource of resources)
      assert.ok(
        STEPS.some((step) => resource === arnOf(step)),
        resource,
      );
    assert.deepEqual(new Set(resources), new Set(STEPS.map(arnOf)), 'every function is used by some task');
    assert.ok(definition.States.Resolve);
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

  it('may invoke exactly its eight functions, and nothing else in Lambda', () => {
    const { template } = synth();
    const statements = statementsOfRole(template, 'WorkflowStateMachineRole');
    const lambdaStatements = statements.filter((s) => [s.Action].flat().some((a) => a.startsWith('lambda:')));
    assert.equal(lambdaStatements.length, 1);
    assert.deepEqual([lambdaStatements[0]?.Action].flat(), ['lambda:InvokeFunction']);
    assert.deepEqual([lambdaStatements[0]?.Resource].flat().sort(), STEPS.map(arnOf).sort());
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

  it('is clean under cdk-nag AwsSolutions', () => {
    const { stack } = synth();
    assert.deepEqual(awsSolutionsFindings(stack), []);
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
