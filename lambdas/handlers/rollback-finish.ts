import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { PutEventsCommand } from '@aws-sdk/client-eventbridge';
import { PublishCommand } from '@aws-sdk/client-sns';
import { classify } from '../aws/errors.ts';
import { eventBridge } from '../aws/eventbridge.ts';
import { sns } from '../aws/sns.ts';
import { lambdaHandler } from '../runtime/handler.ts';
import { metrics } from '../runtime/powertools.ts';
import { answer } from '../sources/answer.ts';
import { truncate } from '../sources/common.ts';
import { appendLedger, type LedgerEntry, type LedgerRollback, ledgerEntry, readLedgerEntry } from '../state/ledger.ts';
import { causeMessage } from '../workflow/cause.ts';
import { type FinishInput, finishInput } from '../workflow/rollback-payloads.ts';
import type { EndpointResult, Outcome } from '../workflow/types.ts';
import { answerSettings, logger, nowIso, optionalSetting, stateStore } from './runtime.ts';

/** The EventBridge source and detail type of Ballast's own events (`aws.` sources are AWS's). */
export const BALLAST_EVENT_SOURCE = 'ballast';
export const ROLLBACK_DETAIL_TYPE = 'Ballast Rollback';

/**
 * Finish: the rollback's last word, for every decision worth recording. The ledger entry (against
 * the commit that was live, write-once) names the trigger, the decision, what was restored and the
 * write-back; then, when someone should know (a rollback, or an alarm Ballast could not act on),
 * the commit is answered (a CodeCommit comment, a GitHub status) and an EventBridge event and a
 * message on the alarm topic go out. A retry finds the entry and answers with it; the commit
 * answer is idempotent by its token, the event and the message are sent at least once.
 */
export async function finish(input: FinishInput): Promise<EndpointResult> {
  const store = stateStore();
  const now = nowIso();
  const { outcome, reason, rollback } = outcomeOf(input);
  const entry = ledgerEntry(input, input.endpoint, outcome, now, {
    startedAt: input.startedAt,
    durationSeconds: Math.max(0, Math.round((Date.parse(now) - Date.parse(input.startedAt)) / 1000)),
    reason,
    rollback,
    ...(input.decision.from ? { digest: input.decision.from.digest } : {}),
    ...(input.decision.to ? { endpointConfigName: input.decision.to.endpointConfigName } : {}),
  });
  // The entry first (write-once): a notification that keeps failing must not keep the rollback out
  // of the ledger. A retry finds it and answers with what the first attempt recorded.
  const written = await appendLedger(store, entry);
  const recorded = written === 'created' ? entry : ((await readLedgerEntry(store, entry)) ?? entry);
  if (written === 'created') {
    const single = metrics.singleMetric();
    single.addDimensions({ Environment: input.environment, Action: input.decision.action });
    single.addMetric('Rollbacks', MetricUnit.Count, input.decision.action === 'act' ? 1 : 0);
  }
  // During a rollout the deploy execution answers the commit; a live version whose alarm Ballast
  // could not act on is failing, and its commit says so.
  if (input.decision.action !== 'mid-rollout') {
    const state = input.decision.action === 'act' ? recorded.outcome : 'failed';
    await answer(
      {
        push: input.push,
        environment: input.environment,
        endpoint: input.endpoint,
        state,
        summary: recorded.reason ?? reason,
        details: details(recorded.rollback ?? rollback),
        idempotencyKey: `${input.execution}-${input.endpoint}`,
      },
      answerSettings(),
    );
    // At least once: a retry of this step sends them again rather than never.
    await notify(recorded, recorded.rollback ?? rollback);
  }
  logger.info('rollback recorded', { outcome: recorded.outcome, action: input.decision.action, reason });
  return { endpoint: input.endpoint, outcome: recorded.outcome };
}

function outcomeOf(input: FinishInput): { outcome: Outcome; reason: string; rollback: LedgerRollback } {
  const { decision, restored } = input;
  const base: LedgerRollback = {
    action: decision.action,
    trigger: input.trigger,
    ...(decision.from
      ? { from: { commit: decision.from.commit, endpointConfigName: decision.from.endpointConfigName } }
      : {}),
    ...(decision.to ? { to: { commit: decision.to.commit, endpointConfigName: decision.to.endpointConfigName } } : {}),
    ...(restored ? { outcome: restored.outcome } : {}),
    ...(input.writeBack ? { writeBack: input.writeBack } : {}),
    ...(input.writeBackError
      ? {
          writeBack: {
            kind: 'error',
            reason: `${input.writeBackError.Error}: ${causeMessage(input.writeBackError.Cause)}`,
          },
        }
      : {}),
  };
  if (decision.action !== 'act') return { outcome: 'unchanged', reason: decision.reason, rollback: base };
  if (!restored && input.error) {
    return {
      outcome: 'failed',
      reason: `the rollback could not finish (${input.error.Error}: ${causeMessage(input.error.Cause)}); see the endpoint's state and the execution`,
      rollback: base,
    };
  }
  switch (restored?.outcome) {
    case 'restored':
      return { outcome: 'rolled-back', reason: decision.reason, rollback: base };
    case 'skipped':
      return { outcome: 'unchanged', reason: `not rolled back: ${restored.reason}`, rollback: base };
    default:
      return {
        outcome: 'failed',
        reason: `the rollback failed (${restored?.reason ?? 'unknown'}); the alarmed version is still live and quarantined`,
        rollback: base,
      };
  }
}

function details(rollback: LedgerRollback): string[] {
  const lines: string[] = [];
  if (rollback.trigger.kind === 'alarm') lines.push(`alarm: ${rollback.trigger.alarm} (${rollback.trigger.reason})`);
  else lines.push(`asked for by ${rollback.trigger.requestedBy}`);
  const { writeBack } = rollback;
  if (writeBack?.kind === 'committed') lines.push(`written back: commit ${writeBack.commit} on ${writeBack.branch}`);
  if (writeBack?.kind === 'pull-request')
    lines.push(`written back: pull request ${writeBack.url ?? writeBack.pullRequest} from ${writeBack.branch}`);
  if (writeBack?.kind === 'skipped') lines.push(`not written back: ${writeBack.reason}`);
  if (writeBack?.kind === 'error') lines.push(`write-back failed: ${writeBack.reason}`);
  return lines;
}

/** The EventBridge event and the alarm topic's message. Failures are thrown: Step Functions retries. */
async function notify(entry: LedgerEntry, rollback: LedgerRollback): Promise<void> {
  await eventBridge()
    .send(
      new PutEventsCommand({
        Entries: [
          {
            Source: BALLAST_EVENT_SOURCE,
            DetailType: ROLLBACK_DETAIL_TYPE,
            Resources: [],
            Detail: JSON.stringify(entry),
          },
        ],
      }),
    )
    .then((response) => {
      const failed = response.Entries?.find((e) => e.ErrorCode);
      if (failed)
        throw new Error(`PutEvents refused the rollback event: ${failed.ErrorCode} ${failed.ErrorMessage ?? ''}`);
    })
    .catch((error: unknown) => classify(error, 'PutEvents (rollback event)'));
  const topic = optionalSetting('BALLAST_ALARM_TOPIC_ARN');
  if (!topic) return;
  const what =
    entry.outcome === 'rolled-back'
      ? 'rolled back'
      : entry.outcome === 'failed'
        ? 'rollback failed'
        : 'alarm, not rolled back';
  await sns()
    .send(
      new PublishCommand({
        TopicArn: topic,
        // "Subjects must be ASCII text that begins with a letter, number, or punctuation mark; must not
        // include line breaks or control characters; and must be less than 100 characters long."
        Subject: truncate(`Ballast ${entry.environment}/${entry.endpoint}: ${what}`.replace(/[^\x20-\x7e]/g, '?'), 99),
        Message: [
          `${entry.environment}/${entry.endpoint} (${entry.commit.slice(0, 12)}): ${entry.reason ?? entry.outcome}`,
          ...details(rollback),
          `ledger: ${entry.execution}`,
        ].join('\n'),
      }),
    )
    .catch((error: unknown) => classify(error, `Publish ${topic}`));
}

export const handler = lambdaHandler(finishInput, finish, {
  keys: (input) => ({ commit: input.push.commit, environment: input.environment, endpoint: input.endpoint }),
});
