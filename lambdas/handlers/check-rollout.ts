import { DescribeAlarmHistoryCommand } from '@aws-sdk/client-cloudwatch';
import { DescribeEndpointCommand } from '@aws-sdk/client-sagemaker';
import { cloudwatch } from '../aws/cloudwatch.ts';
import { classify } from '../aws/errors.ts';
import { sagemaker } from '../aws/sagemaker.ts';
import { lambdaHandler } from '../runtime/handler.ts';
import { checkBudgetSeconds, nextCheckSeconds, readEndpoint } from '../targets/sagemaker.ts';
import { type CheckRolloutInput, checkRolloutInput } from '../workflow/payloads.ts';
import type { Rollout, Verification } from '../workflow/types.ts';
import { logger, nowIso } from './runtime.ts';

/**
 * CheckRollout: one DescribeEndpoint per wake-up. Until the rollout settles, it says how long to
 * sleep next; once it has settled (or run past its own timeout), the same reading is the
 * verification: does the live endpoint really run this configuration? SageMaker's auto-rollback
 * leaves the endpoint InService on the old configuration without a failure status, so the
 * configuration name decides. Read-only, so Step Functions may retry it freely.
 */
export async function checkRollout(input: CheckRolloutInput): Promise<Rollout & { settled: boolean }> {
  const { rollout } = input;
  const endpoint = await sagemaker()
    .send(new DescribeEndpointCommand({ EndpointName: rollout.endpointName }))
    .catch((error: unknown) => classify(error, `DescribeEndpoint ${rollout.endpointName}`));
  const reading = readEndpoint(endpoint, rollout.endpointConfigName);
  const elapsed = (Date.parse(nowIso()) - Date.parse(rollout.startedAt)) / 1000;
  const checks = rollout.checks + 1;
  if (!reading.settled && elapsed <= checkBudgetSeconds(rollout.plan.rollout)) {
    return {
      ...rollout,
      checks,
      settled: false,
      phase: reading.phase,
      ...(reading.trafficToNew !== undefined ? { trafficToNew: reading.trafficToNew } : {}),
      nextCheckSeconds: nextCheckSeconds(rollout.plan.rollout, elapsed, checks, rollout.operation),
    };
  }
  let verification: Verification = reading.settled
    ? {
        outcome: reading.outcome,
        ...(reading.reason ? { reason: reading.reason } : {}),
        ...(reading.liveEndpointConfigName ? { liveEndpointConfigName: reading.liveEndpointConfigName } : {}),
      }
    : {
        outcome: 'failed',
        reason: `the rollout did not settle in time (endpoint still ${reading.phase} after ${Math.round(elapsed)} s)`,
        ...(endpoint.EndpointConfigName ? { liveEndpointConfigName: endpoint.EndpointConfigName } : {}),
      };
  if (verification.outcome === 'rolled-back') {
    const fired = await alarmsThatFired(rollout);
    if (fired.length > 0) {
      verification = {
        ...verification,
        reason: `SageMaker rolled back to ${verification.liveEndpointConfigName ?? 'the previous configuration'}: ${fired.join(', ')} went into ALARM during the rollout`,
      };
    }
  }
  logger.info('rollout settled', { status: endpoint.EndpointStatus, elapsed, ...verification });
  return { ...rollout, checks, settled: true, nextCheckSeconds: 0, verification };
}

/** The endpoint's rollback alarms that entered ALARM since the rollout started (best effort). */
async function alarmsThatFired(rollout: Rollout): Promise<string[]> {
  try {
    const fired: string[] = [];
    for (const alarm of rollout.plan.alarms) {
      const history = await cloudwatch().send(
        new DescribeAlarmHistoryCommand({
          AlarmName: alarm,
          HistoryItemType: 'StateUpdate',
          StartDate: new Date(rollout.startedAt),
          EndDate: new Date(nowIso()),
          MaxRecords: 100,
        }),
      );
      if ((history.AlarmHistoryItems ?? []).some((item) => /to ALARM/i.test(item.HistorySummary ?? ''))) {
        fired.push(alarm);
      }
    }
    return fired;
  } catch (error) {
    // The outcome stands without the detail; the reason just stays generic.
    logger.warn('could not read the alarm history', { error });
    return [];
  }
}

export const handler = lambdaHandler(checkRolloutInput, checkRollout, {
  keys: (input) => ({ commit: input.push.commit, environment: input.environment, endpoint: input.endpoint }),
});
