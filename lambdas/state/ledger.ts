import type { Outcome, Push } from '../workflow/types.ts';
import type { Drift } from './drift.ts';
import type { JsonStore } from './json-store.ts';
import { keys, REPOSITORY_LEDGER } from './keys.ts';
import type { RollbackDecision, RollbackTrigger } from './rollback.ts';

/** What a rollback entry adds: the trigger, the decision, what was restored, and the write-back. */
export interface LedgerRollback {
  readonly action: RollbackDecision['action'];
  readonly trigger: RollbackTrigger;
  readonly from?: { readonly commit: string; readonly endpointConfigName: string };
  readonly to?: { readonly commit: string; readonly endpointConfigName: string };
  readonly outcome?: 'restored' | 'failed' | 'skipped';
  readonly writeBack?: {
    readonly kind: 'committed' | 'pull-request' | 'skipped' | 'error';
    readonly commit?: string;
    readonly branch?: string;
    readonly pullRequest?: string;
    readonly url?: string;
    readonly reason?: string;
  };
}

/** Who asked for a re-deployment of the desired commit, and why (see {@link LedgerEntry.retry}). */
export interface LedgerRetry {
  readonly requestedBy: string;
  readonly requestedAt: string;
  readonly reason?: string;
  readonly kind?: 'retry' | 'heal';
  readonly paths?: readonly string[];
}

/** One line of an endpoint's history: a push, what it changed, and how it ended. */
export interface LedgerEntry {
  readonly environment: string;
  /** The endpoint, or `_repository` for a commit rejected before any endpoint was considered. */
  readonly endpoint: string;
  readonly commit: string;
  readonly previousCommit?: string;
  readonly source: Push['source'];
  readonly repository: string;
  readonly branch: string;
  readonly pushedBy: string;
  readonly pushedAt: string;
  readonly deliveryId: string;
  readonly execution: string;
  readonly outcome: Outcome;
  /** Why (the failure, the rollback's alarm, the validation errors' summary). */
  readonly reason?: string;
  /** What the commit changed for this endpoint, e.g. `model`, `prompt:summarize`. */
  readonly changes?: readonly string[];
  readonly digest?: string;
  readonly endpointConfigName?: string;
  readonly issues?: ReadonlyArray<{ file: string; line: number; column: number; message: string }>;
  /**
   * Set for a `ballast retry` or a heal: who asked for it, when and why. `kind: 'heal'` marks a heal
   * by the reconciler, with the drift report's `paths`; a retry has no kind (or `retry`).
   */
  readonly retry?: LedgerRetry;
  /** Set by the rollback workflow (its entry is recorded against the commit it rolled back). */
  readonly rollback?: LedgerRollback;
  /** Set by the reconciler for `drifted`: what differs, as JSON pointers (lambdas/state/drift.ts). */
  readonly drift?: readonly Drift[];
  /** For a push-level entry: the push's endpoints by outcome (names), e.g. `{ unchanged: [...] }`. */
  readonly endpoints?: Readonly<Record<string, readonly string[]>>;
  readonly startedAt: string;
  readonly finishedAt: string;
  readonly durationSeconds: number;
}

/**
 * Appends an entry. The key is derived from (start time: the push, or the retry request; commit; execution), so a Step Functions
 * retry of Record writes the same key and `If-None-Match` turns the second write into a no-op:
 * an entry is never lost and never doubled.
 */
export async function appendLedger(store: JsonStore, entry: LedgerEntry): Promise<'created' | 'exists'> {
  const endpoint = entry.endpoint || REPOSITORY_LEDGER;
  return store.putIfAbsent(
    keys.ledgerEntry(entry.environment, endpoint, entry.startedAt, entry.commit, entry.execution),
    entry,
  );
}

/** The entry an earlier attempt wrote under the same key (what a retried Record answers with). */
export async function readLedgerEntry(store: JsonStore, entry: LedgerEntry): Promise<LedgerEntry | undefined> {
  const endpoint = entry.endpoint || REPOSITORY_LEDGER;
  const key = keys.ledgerEntry(entry.environment, endpoint, entry.startedAt, entry.commit, entry.execution);
  return (await store.get<LedgerEntry>(key))?.value;
}

/** An endpoint's history, oldest first (keys sort by push time). */
export async function readLedger(
  store: JsonStore,
  environment: string,
  endpoint: string,
  limit = 100,
): Promise<LedgerEntry[]> {
  const all = await store.list(keys.ledgerPrefix(environment, endpoint), { limit: 10_000 });
  const recent = all.slice(-limit);
  const entries = await Promise.all(recent.map((key) => store.get<LedgerEntry>(key)));
  return entries.flatMap((e) => (e ? [e.value] : []));
}

/** The ledger entry of an outcome, from the push it answers. Pure: Record and RecordPush share it. */
export function ledgerEntry(
  input: {
    readonly push: Push;
    readonly environment: string;
    readonly execution: string;
    readonly retry?: LedgerRetry | undefined;
  },
  endpoint: string,
  outcome: Outcome,
  now: string,
  extra: Partial<LedgerEntry> = {},
): LedgerEntry {
  const { push } = input;
  // A retry (or a heal) is its own event: it starts when it was asked for, not when the commit was pushed.
  const startedAt = input.retry?.requestedAt ?? push.pushedAt;
  const retry = input.retry;
  return {
    environment: input.environment,
    endpoint,
    commit: push.commit,
    ...(push.previousCommit ? { previousCommit: push.previousCommit } : {}),
    source: push.source,
    repository: push.repository,
    branch: push.branch,
    pushedBy: push.pushedBy,
    pushedAt: push.pushedAt,
    deliveryId: push.deliveryId,
    execution: input.execution,
    outcome,
    startedAt,
    finishedAt: now,
    durationSeconds: Math.max(0, Math.round((Date.parse(now) - Date.parse(startedAt)) / 1000)),
    ...(retry
      ? {
          retry: {
            requestedBy: retry.requestedBy,
            requestedAt: retry.requestedAt,
            ...(retry.reason ? { reason: retry.reason } : {}),
            ...(retry.kind ? { kind: retry.kind } : {}),
            ...(retry.paths ? { paths: retry.paths } : {}),
          },
        }
      : {}),
    ...extra,
  };
}
