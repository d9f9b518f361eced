import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { Template } from 'aws-cdk-lib/assertions';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { projectPath } from '../../lib/ballast-function.ts';
import { ReconcileWorkflow, type ReconcileWorkflowProps } from '../../lib/reconcile-workflow.ts';
import { RECONCILE_STEPS, type ReconcileStepName } from '../../lib/workflow-steps.ts';
import { awsSolutionsFindings } from '../support/nag.ts';
import {
  actionsOf,
  ballastStack,
  flat,
  resourcesOf,
  type Statement,
  statementsOfRole,
  testStack,
} from './fixtures/stacks.ts';

const REGION_ACCOUNT = 'us-east-1:111122223333';
const DEPLOY_STATE_MACHINE = `arn:<AWS::Partition>:states:${REGION_ACCOUNT}:stateMachine:Ballast-deploy`;

interface Resource {
  readonly Type: string;
  readonly Properties: Record<string, unknown>;
}

/** The construct on its own, with imported functions (no bundling, no other findings). */
function standalone(props: Partial<ReconcileWorkflowProps> = {}) {
  const stack = testStack();
  const functions = Object.fromEntries(
    (Object.keys(RECONCILE_STEPS) as ReconcileStepName[]).map((step) => [
      step,
      lambda.Function.fromFunctionArn(stack, step, `arn:aws:lambda:us-east-1:111122223333:function:reconcile-${step}`),
    ]),
  ) as Record<ReconcileStepName, lambda.IFunction>;
  const workflow = new ReconcileWorkflow(stack, 'Reconcile', { functions, ...props });
  return { stack, workflow, template: Template.fromStack(stack) };
}

function only(template: Template, type: string): Resource {
  const resources = Object.values(template.findResources(type)) as Resource[];
  assert.equal(resources.length, 1, `one ${type}`);
  return resources[0] as Resource;
}

/** A role's statements as { actions, resources }, without the logs and tracing every role has. */
function grants(template: Template, rolePrefix: string) {
  return statementsOfRole(template, rolePrefix)
    .map((s: Statement) => ({ actions: actionsOf(s).sort(), resources: resourcesOf(s).map(flat).sort() }))
    .filter((g) => !g.actions.every((a) => a.startsWith('xray:') || a.startsWith('logs:')));
}

describe('ReconcileWorkflow', () => {
  const { stack, template } = ballastStack();
  const machine = stack.reconcileWorkflow.stateMachine;
  const machineId = stack.getLogicalId(machine.node.defaultChild as never);
  const machineProperties = (template.toJSON().Resources as Record<string, Resource>)[machineId]?.Properties ?? {};

  it('is a named EXPRESS state machine, traced, logging errors without execution data', () => {
    assert.equal(machineProperties.StateMachineName, 'Ballast-reconcile');
    assert.equal(machineProperties.StateMachineType, 'EXPRESS');
    assert.deepEqual(machineProperties.TracingConfiguration, { Enabled: true });
    const logging = machineProperties.LoggingConfiguration as { Level: string; IncludeExecutionData: boolean };
    assert.equal(logging.Level, 'ERROR');
    assert.equal(logging.IncludeExecutionData, false);
    assert.equal(
      stack.reconcileWorkflow.timeout.toSeconds(),
      280,
      'the ASL’s TimeoutSeconds, under Express’s 5 minutes',
    );
  });

  it('fills every placeholder of reconcile.asl.json with its step’s function, and no other', () => {
    const asl = readFileSync(projectPath('stepfunctions/reconcile.asl.json'), 'utf8');
    const placeholders = [...new Set([...asl.matchAll(/\$\{(\w+)\}/g)].map((m) => m[1]))].sort();
    assert.deepEqual(placeholders, ['CheckFunctionArn', 'FinishFunctionArn', 'ScanFunctionArn']);
    const substitutions = machineProperties.DefinitionSubstitutions as Record<string, unknown>;
    const expected = Object.fromEntries(
      (Object.entries(RECONCILE_STEPS) as Array<[ReconcileStepName, (typeof RECONCILE_STEPS)[ReconcileStepName]]>).map(
        ([name, step]) => [
          `${step.placeholder}FunctionArn`,
          {
            'Fn::GetAtt': [
              stack.getLogicalId(stack.functions.reconcileByStep[name].node.defaultChild as lambda.CfnFunction),
              'Arn',
            ],
          },
        ],
      ),
    );
    assert.deepEqual(substitutions, expected);
  });

  it('ticks every minute with the scheduled time, no flexible window, retries and a dead-letter queue', () => {
    const schedule = only(template, 'AWS::Scheduler::Schedule').Properties as {
      ScheduleExpression: string;
      FlexibleTimeWindow: unknown;
      State: string;
      Target: Record<string, unknown>;
    };
    assert.equal(schedule.ScheduleExpression, 'rate(1 minute)');
    assert.deepEqual(schedule.FlexibleTimeWindow, { Mode: 'OFF' });
    assert.equal(schedule.State, 'ENABLED');
    assert.deepEqual(schedule.Target.Arn, { Ref: machineId });
    assert.deepEqual(JSON.parse(schedule.Target.Input as string), {
      source: 'ballast.scheduler',
      time: '<aws.scheduler.scheduled-time>',
    });
    assert.deepEqual(schedule.Target.RetryPolicy, { MaximumEventAgeInSeconds: 60, MaximumRetryAttempts: 5 });
    const queue = stack.getLogicalId(stack.reconcileWorkflow.deadLetterQueue.node.defaultChild as never);
    assert.deepEqual(schedule.Target.DeadLetterConfig, { Arn: { 'Fn::GetAtt': [queue, 'Arn'] } });
  });

  it('follows tickMinutes (the tick’s age bounds its retries) and creates the schedule DISABLED when not enabled', () => {
    const { template: five } = standalone({ tickMinutes: 5 });
    const schedule = only(five, 'AWS::Scheduler::Schedule').Properties as {
      ScheduleExpression: string;
      Target: { RetryPolicy: unknown };
    };
    assert.equal(schedule.ScheduleExpression, 'rate(5 minutes)');
    assert.deepEqual(schedule.Target.RetryPolicy, { MaximumEventAgeInSeconds: 300, MaximumRetryAttempts: 5 });
    const { template: disabled } = standalone({ enabled: false });
    assert.equal(only(disabled, 'AWS::Scheduler::Schedule').Properties.State, 'DISABLED');
    // The stack passes its props through (bin/context.ts reads them from ballast:reconcileTickMinutes, ballast:reconcile).
    const quarterly = only(
      ballastStack({ reconcileTickMinutes: 15, reconcileEnabled: false }).template,
      'AWS::Scheduler::Schedule',
    );
    assert.deepEqual(
      [quarterly.Properties.ScheduleExpression, quarterly.Properties.State],
      ['rate(15 minutes)', 'DISABLED'],
    );
    for (const tickMinutes of [0, 61, 1.5]) {
      assert.throws(() => standalone({ tickMinutes }), /tickMinutes must be a whole number of minutes from 1 to 60/);
    }
  });

  it('refuses a definition longer than an Express execution may run', () => {
    const asl = JSON.parse(readFileSync(projectPath('stepfunctions/reconcile.asl.json'), 'utf8')) as Record<
      string,
      unknown
    >;
    const file = join(mkdtempSync(join(tmpdir(), 'ballast-reconcile-')), 'long.asl.json');
    writeFileSync(file, JSON.stringify({ ...asl, TimeoutSeconds: 600 }));
    assert.throws(() => standalone({ definitionFile: file }), /longer than an Express execution may run \(300 s\)/);
  });

  it('lets the schedule start this state machine only, assumed only by Scheduler for this account', () => {
    const { template: t } = standalone();
    const role = Object.entries(t.findResources('AWS::IAM::Role')).find(([id]) =>
      id.startsWith('ReconcileScheduleRole'),
    )?.[1] as Resource;
    const [trust, ...more] = (role.Properties.AssumeRolePolicyDocument as { Statement: Statement[] }).Statement;
    assert.deepEqual(more, []);
    assert.deepEqual((trust as unknown as { Principal: unknown }).Principal, { Service: 'scheduler.amazonaws.com' });
    const condition = trust?.Condition?.StringEquals ?? {};
    assert.equal(condition['aws:SourceAccount'], '111122223333');
    assert.equal(
      flat(condition['aws:SourceArn']),
      `arn:<AWS::Partition>:scheduler:${REGION_ACCOUNT}:schedule-group/default`,
    );
    const machineLogicalId = Object.keys(t.findResources('AWS::StepFunctions::StateMachine'))[0];
    assert.deepEqual(grants(t, 'ReconcileScheduleRole'), [
      { actions: ['states:StartExecution'], resources: [`<${machineLogicalId}>`] },
      { actions: ['sqs:SendMessage'], resources: [`<${Object.keys(t.findResources('AWS::SQS::Queue'))[0]}.Arn>`] },
    ]);
  });

  it('lets the state machine invoke exactly its three functions, nothing else', () => {
    const functions = (Object.keys(RECONCILE_STEPS) as ReconcileStepName[]).map(
      (name) =>
        `<${stack.getLogicalId(stack.functions.reconcileByStep[name].node.defaultChild as lambda.CfnFunction)}.Arn>`,
    );
    assert.deepEqual(grants(template, 'ReconcileWorkflowStateMachineRole'), [
      { actions: ['lambda:InvokeFunction'], resources: functions.sort() },
    ]);
  });

  it('gives its functions least privilege: StartExecution on the deploy workflow only, "*" only where IAM has no resources', () => {
    const roles = Object.keys(template.findResources('AWS::IAM::Role'));
    const reconcileRoles = roles.filter((id) => /^FunctionsReconcile(Scan|Check|Finish)ServiceRole/.test(id));
    assert.equal(reconcileRoles.length, 3);
    const starters = reconcileRoles.filter((id) =>
      statementsOfRole(template, id).some((s) => actionsOf(s).includes('states:StartExecution')),
    );
    assert.deepEqual(starters.map((id) => id.replace(/ServiceRole.*/, '')).sort(), [
      'FunctionsReconcileCheck',
      'FunctionsReconcileScan',
    ]);
    for (const id of starters) {
      const statements = statementsOfRole(template, id).filter((s) => actionsOf(s).includes('states:StartExecution'));
      assert.deepEqual(
        statements.map((s) => ({ actions: actionsOf(s), resources: resourcesOf(s).map(flat) })),
        [{ actions: ['states:StartExecution'], resources: [DEPLOY_STATE_MACHINE] }],
        `${id} starts the deploy workflow and nothing else`,
      );
    }
    const deployName = (stack.deployWorkflow.stateMachine.node.defaultChild as { stateMachineName?: string })
      .stateMachineName;
    assert.equal(DEPLOY_STATE_MACHINE.endsWith(`:stateMachine:${deployName}`), true, 'the ARN names the real one');

    const onStar: Record<string, string[]> = {};
    for (const id of reconcileRoles) {
      const name = id.replace(/ServiceRole.*/, '').replace('Functions', '');
      onStar[name] = statementsOfRole(template, id)
        .filter((s) => resourcesOf(s).includes('*'))
        .flatMap(actionsOf)
        .filter((a) => !a.startsWith('xray:'))
        .sort();
    }
    assert.deepEqual(onStar, {
      ReconcileScan: [],
      ReconcileCheck: [
        'application-autoscaling:DescribeScalableTargets',
        'sagemaker:ListEndpointConfigs',
        'sagemaker:ListModels',
      ],
      ReconcileFinish: [],
    });
    const wildcardActions = reconcileRoles.flatMap((id) =>
      statementsOfRole(template, id)
        .flatMap(actionsOf)
        .filter((a) => a.includes('*')),
    );
    assert.deepEqual(wildcardActions, [], 'no action has a wildcard');
  });

  it('alarms on failed and timed-out executions and on undelivered ticks', () => {
    const alarms = template.findResources('AWS::CloudWatch::Alarm');
    const of = (construct: { node: { defaultChild?: unknown } }) =>
      alarms[stack.getLogicalId(construct.node.defaultChild as never)]?.Properties as Record<string, unknown>;
    const workflow = stack.reconcileWorkflow;
    for (const [alarm, metricName] of [
      [workflow.executionsFailedAlarm, 'ExecutionsFailed'],
      [workflow.executionsTimedOutAlarm, 'ExecutionsTimedOut'],
    ] as const) {
      const properties = of(alarm);
      assert.equal(properties.MetricName, metricName);
      assert.equal(properties.Namespace, 'AWS/States');
      assert.deepEqual(properties.Dimensions, [{ Name: 'StateMachineArn', Value: { Ref: machineId } }]);
      assert.equal(properties.Threshold, 1);
    }
    const queue = stack.getLogicalId(workflow.deadLetterQueue.node.defaultChild as never);
    const depth = of(workflow.deadLetterAlarm);
    assert.equal(depth.MetricName, 'ApproximateNumberOfMessagesVisible');
    assert.deepEqual(depth.Dimensions, [{ Name: 'QueueName', Value: { 'Fn::GetAtt': [queue, 'QueueName'] } }]);
    const queueProperties = template.findResources('AWS::SQS::Queue')[queue]?.Properties;
    assert.equal(queueProperties?.SqsManagedSseEnabled, true, 'the dead-letter queue is encrypted');
  });

  it('is clean under cdk-nag AwsSolutions, on its own and in the stack', () => {
    assert.deepEqual(awsSolutionsFindings(standalone().stack), []);
    assert.deepEqual(awsSolutionsFindings(stack), []);
  });
});
