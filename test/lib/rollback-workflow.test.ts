import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { Match } from 'aws-cdk-lib/assertions';
import { projectPath } from '../../lib/ballast-function.ts';
import { ROLLBACK_STEPS } from '../../lib/workflow-steps.ts';
import { ballastStack } from './fixtures/stacks.ts';

describe('RollbackWorkflow', () => {
  const { stack, template } = ballastStack();
  const machine = stack.rollbackWorkflow.stateMachine;
  const machineId = stack.getLogicalId(machine.node.defaultChild as never);
  const properties = template.toJSON().Resources[machineId].Properties as {
    StateMachineName: string;
    DefinitionSubstitutions: Record<string, unknown>;
    StateMachineType: string;
  };

  it('is a named Standard state machine that ballast rollback --stack finds', () => {
    assert.equal(properties.StateMachineName, 'Ballast-rollback');
    assert.equal(properties.StateMachineType, 'STANDARD');
  });

  it('fills every placeholder of rollback.asl.json with a function: its own steps and the deploy workflow’s CheckRollout', () => {
    const asl = readFileSync(projectPath('stepfunctions/rollback.asl.json'), 'utf8');
    const placeholders = [...new Set([...asl.matchAll(/\$\{(\w+)\}/g)].map((m) => m[1]))].sort();
    assert.ok(placeholders.length > 0, 'the definition has placeholders');
    const expected = [
      ...Object.values(ROLLBACK_STEPS).map((s) => `${s.placeholder}FunctionArn`),
      'CheckRolloutFunctionArn',
    ];
    assert.deepEqual(placeholders, expected.sort());
    assert.deepEqual(Object.keys(properties.DefinitionSubstitutions).sort(), expected.sort());
    const checkRollout = stack.getLogicalId(stack.functions.byStep.checkRollout.node.defaultChild as never);
    assert.deepEqual(properties.DefinitionSubstitutions.CheckRolloutFunctionArn, {
      'Fn::GetAtt': [checkRollout, 'Arn'],
    });
  });

  it('starts on every alarm going into ALARM, with retries and a dead-letter queue', () => {
    const queue = stack.getLogicalId(stack.rollbackWorkflow.deadLetterQueue.node.defaultChild as never);
    template.hasResourceProperties('AWS::Events::Rule', {
      EventPattern: {
        source: ['aws.cloudwatch'],
        'detail-type': ['CloudWatch Alarm State Change'],
        detail: { state: { value: ['ALARM'] } },
      },
      Targets: [
        Match.objectLike({
          Arn: { Ref: machineId },
          DeadLetterConfig: { Arn: { 'Fn::GetAtt': [queue, 'Arn'] } },
          RetryPolicy: { MaximumEventAgeInSeconds: 86400, MaximumRetryAttempts: 185 },
        }),
      ],
    });
  });
});
