/**
 * A push's own outcome, as a pure rule: what the repository-level ledger entry and the commit's
 * answer say once every endpoint has recorded its own (or none had anything to do).
 */
import { causeMessage } from '../workflow/cause.ts';
import type { RecordPushInput } from '../workflow/payloads.ts';
import type { Outcome, PlanDocument } from '../workflow/types.ts';

export interface PushSummary {
  readonly outcome: Outcome;
  readonly reason: string;
  /** Whether a repository-level ledger entry is written (no endpoint entry answers the push). */
  readonly ledger: boolean;
  /** Whether the push gets its own CodeCommit comment (no endpoint commented). */
  readonly comment: boolean;
  readonly endpoints?: Readonly<Record<string, readonly string[]>>;
  readonly details?: readonly string[];
}

/** Worst first: the push's status is the worst of its endpoints' outcomes. */
const SEVERITY: readonly string[] = [
  'unrecorded',
  'failed',
  'rolled-back',
  'quarantined',
  'superseded',
  'deferred',
  'deployed',
  'unchanged',
];

export function summarizePush(input: RecordPushInput, plan?: PlanDocument): PushSummary {
  switch (input.kind) {
    case 'rejected': {
      const count = input.plan.issueCount ?? input.plan.issues?.length ?? 0;
      return {
        outcome: 'rejected',
        reason: `${count} validation error(s)`,
        ledger: true,
        comment: true,
      };
    }
    case 'failure': {
      const { error } = input.event;
      return {
        outcome: 'failed',
        reason: `${error.Error}: ${causeMessage(error.Cause)}`,
        ledger: true,
        comment: true,
      };
    }
    case 'summary': {
      const { results, plan: counts } = input;
      if (results.length === 0) {
        const deferred = plan?.deferred ?? [];
        const outcome: Outcome = counts.counts.deferred > 0 ? 'deferred' : 'unchanged';
        const parts = [`${counts.counts.unchanged} endpoint(s) unchanged`];
        if (counts.counts.deferred > 0) parts.push(`${counts.counts.deferred} deferred`);
        return {
          outcome,
          reason: `no endpoint to roll out: ${parts.join(', ')}`,
          ledger: true,
          comment: true,
          ...(plan
            ? {
                endpoints: {
                  unchanged: plan.unchanged,
                  ...(deferred.length > 0 ? { deferred: deferred.map((d) => d.name) } : {}),
                  ...(plan.removed.length > 0 ? { removed: plan.removed } : {}),
                },
              }
            : {}),
          details: deferred.map((d) => `${d.name}: deferred — ${d.reason}`),
        };
      }
      const byOutcome: Record<string, string[]> = {};
      for (const result of results) {
        byOutcome[result.outcome] = [...(byOutcome[result.outcome] ?? []), result.endpoint];
      }
      const worst = SEVERITY.find((outcome) => byOutcome[outcome]) ?? 'failed';
      const unrecorded = byOutcome.unrecorded ?? [];
      const reason = Object.entries(byOutcome)
        .map(([outcome, names]) => `${names.length} ${outcome}`)
        .join(', ');
      return {
        outcome: worst === 'unrecorded' ? 'failed' : (worst as Outcome),
        reason,
        // Endpoints that could not record their outcome are answered here, at the push.
        ledger: unrecorded.length > 0,
        comment: unrecorded.length > 0,
        endpoints: byOutcome,
        ...(unrecorded.length > 0
          ? { details: unrecorded.map((name) => `${name}: its outcome could not be recorded; see the execution`) }
          : {}),
      };
    }
  }
}
