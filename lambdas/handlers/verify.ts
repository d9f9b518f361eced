import { DescribeAlarmHistoryCommand } from '@aws-sdk/client-cloudwatch';
import { DescribeEndpointCommand } from '@aws-sdk/client-sagemaker';
import { clients } from '../aws/clients.ts';
import { classify } from '../aws/errors.ts';
import { readEndpoint } from '../targets/sagemaker.ts';
import type { EndpointWork, Rollout, Verification } from '../workflow/types.ts';
import { logger, nowIso } from './runtime.ts';

interface VerifyInput extends EndpointWork {
  readonly rollout: Rollout;
}

/**
 * Verify: does the live endpoint really run this commit? SageMaker's auto-rollback leaves the
 * endpoint InService on the old configuration without a failure status, so the configuration name
 * is what decides; a rollout that has not settled by now has timed out. For a rollback, the
 * reason names the endpoint's alarms that went into ALARM during the rollout, when CloudWatch's
 * history shows them (SageMaker itself does not say which alarm it acted on).
 */
export async function handler(input: VerifyInput): Promise<Verification> {
  const endpoint = await clients
    .sagemaker()
    .send(new DescribeEndpointCommand({ EndpointName: input.rollout.endpointName }))
    .catch((error: unknown) => classify(error, `DescribeEndpoint ${input.rollout.endpointName}`));
  const reading = readEndpoint(endpoint, input.rollout.endpointConfigName);
  let verification: Verification = reading.settled
    ? {
        outcome: reading.outcome,
        ...(reading.reason ? { reason: reading.reason } : {}),
        ...(reading.liveEndpointConfigName ? { liveEndpointConfigName: reading.liveEndpointConfigName } : {}),
      }
    : {
        outcome: 'failed',
        reason: `the rollout did not settle in time (endpoint still ${reading.phase})`,
        ...(endpoint.EndpointConfigName ? { liveEndpointConfigName: endpoint.EndpointConfigName } : {}),
      };
  if (verification.outcome === 'rolled-back') {
    const fired = await alarmsThatFired(input);
    if (fired.length > 0) {
      verification = {
        ...verification,
        reason: `SageMaker rolled back to ${verification.liveEndpointConfigName ?? 'the previous configuration'}: ${fired.join(', ')} went into ALARM during the rollout`,
      };
    }
  }
  logger.info('verified', { endpoint: input.rollout.endpointName, ...verification });
  return verification;
}

/** The endpoint's rollback alarms that entered ALARM since the rollout started (best effort). */
async function alarmsThatFired(input: VerifyInput): Promise<string[]> {
  try {
    const fired: string[] = [];
    for (const alarm of input.rollout.plan.alarms) {
      const history = await clients.cloudwatch().send(
        new DescribeAlarmHistoryCommand({
          AlarmName: alarm,
          HistoryItemType: 'StateUpdate',
          StartDate: new Date(input.rollout.startedAt),
          EndDate: new Date(nowIso()),
          MaxRecords: 100,
        }),
      );
      if ((history.AlarmHistoryItems ?? []).some((item) => /to ALARM/i.test(item.HistorySummary ?? '')))
        fired.push(alarm);
    }
    return fired;
  } catch (error) {
    // The outcome stands without the detail; the reason just stays generic.
    logger.warn('could not read the alarm history', { error });
    return [];
  }
}
