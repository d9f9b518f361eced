import { lambdaHandler } from '../runtime/handler.ts';
import { type Answer, answer } from '../sources/answer.ts';
import { pushFromWorkflowInput } from '../sources/index.ts';
import { REPOSITORY_LEDGER } from '../state/keys.ts';
import { appendLedger, ledgerEntry } from '../state/ledger.ts';
import { answersGit } from '../state/outcome.ts';
import { type PushSummary, summarizePush } from '../state/push-outcome.ts';
import { type RecordPushInput, recordPushInput } from '../workflow/payloads.ts';
import type { PlanDocument, Push, Retry } from '../workflow/types.ts';
import { answerSettings, logger, nowIso, stateStore } from './runtime.ts';

/**
 * RecordPush: the push's own answer. Every push ends here: rejected commits, pushes that change
 * no endpoint (unchanged, or only EKS endpoints, which are deferred), pushes whose endpoints all
 * recorded their outcome, and pushes that failed outside an endpoint (Resolve, Validate, the Map).
 * {@link summarizePush} decides; this handler writes the repository-level ledger entry when no
 * endpoint has one, the commit comment when no endpoint commented, and GitHub's `ballast/<env>`
 * status, which Resolve set to `pending` (so a branch protection rule on it completes).
 */
export async function recordPush(input: RecordPushInput): Promise<PushSummary> {
  const store = stateStore();
  const now = nowIso();
  const context = pushContext(input);
  if (!context) {
    // Nothing names a push (an execution started by hand with a malformed input): nobody to answer.
    logger.error('a failed execution without a recognisable push', { execution: input.execution });
    return { outcome: 'failed', reason: 'the execution input is not a push', ledger: false, comment: false };
  }
  const plan =
    input.kind === 'summary' && input.results.length === 0 && input.plan.planKey
      ? (await store.get<PlanDocument>(input.plan.planKey))?.value
      : undefined;
  const summary = summarizePush(input, plan);
  const { push, environment, retry } = context;
  if (summary.ledger) {
    await appendLedger(
      store,
      ledgerEntry({ push, environment, execution: input.execution, retry }, REPOSITORY_LEDGER, summary.outcome, now, {
        reason: summary.reason,
        ...(summary.endpoints ? { endpoints: summary.endpoints } : {}),
        ...(input.kind === 'rejected' ? { issues: input.plan.issues ?? [] } : {}),
      }),
    );
  }
  const message: Answer = {
    push,
    environment,
    state: summary.outcome,
    summary: summary.reason,
    ...(summary.details ? { details: summary.details } : {}),
    ...(input.kind === 'rejected' ? { issues: input.plan.issues ?? [] } : {}),
    idempotencyKey: `${input.execution}-${REPOSITORY_LEDGER}`,
  };
  // CodeCommit: one comment per push when no endpoint commented. GitHub: the environment's status,
  // always, but for a heal that changed nothing (the commit's own answer stands).
  if ((summary.comment || push.source === 'github') && answersGit(retry, summary.outcome)) {
    await answer(message, answerSettings());
  }
  logger.info('push recorded', { outcome: summary.outcome, reason: summary.reason });
  return summary;
}

/** The push, its environment and retry, from whichever state the execution failed in. */
function pushContext(input: RecordPushInput): { push: Push; environment: string; retry?: Retry } | undefined {
  if (input.kind !== 'failure') {
    return { push: input.push, environment: input.environment, ...(input.retry ? { retry: input.retry } : {}) };
  }
  const state = input.event as { resolved?: { push?: Push; environment?: string; retry?: Retry | null } };
  let push = state.resolved?.push;
  if (!push) {
    try {
      const parsed = pushFromWorkflowInput(input.event);
      if ('ignored' in parsed) return undefined;
      push = parsed;
    } catch {
      return undefined;
    }
  }
  return {
    push,
    environment: state.resolved?.environment ?? `branch-${push.branch.replace(/[^A-Za-z0-9-]/g, '-')}`,
    ...(state.resolved?.retry ? { retry: state.resolved.retry } : {}),
  };
}

export const handler = lambdaHandler(recordPushInput, recordPush, {
  keys: (input) =>
    input.kind === 'failure'
      ? { execution: input.execution }
      : { commit: input.push.commit, environment: input.environment },
});
