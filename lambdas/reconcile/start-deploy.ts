/**
 * Starts the deploy workflow for the reconciler (a heal, a missed push), once: the execution name
 * is derived from what is started. StartExecution with the name and input of a running execution
 * answers with it; once that execution has ended, the same name is refused with
 * ExecutionAlreadyExists (Step Functions API Reference, StartExecution), which here means "started
 * before", not an error.
 */
import { StartExecutionCommand } from '@aws-sdk/client-sfn';
import { classify } from '../aws/errors.ts';
import { sfn } from '../aws/sfn.ts';
import { setting } from '../runtime/environment.ts';

export async function startDeploy(name: string, input: unknown): Promise<'started' | 'exists'> {
  try {
    await sfn().send(
      new StartExecutionCommand({
        stateMachineArn: setting('BALLAST_DEPLOY_STATE_MACHINE_ARN'),
        name,
        input: JSON.stringify(input),
      }),
    );
    return 'started';
  } catch (error) {
    if (error instanceof Error && error.name === 'ExecutionAlreadyExists') return 'exists';
    return classify(error, `StartExecution ${name}`);
  }
}
