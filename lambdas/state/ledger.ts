import type { Outcome, Push } from '../workflow/types.ts';
import type { JsonStore } from './json-store.ts';
import { keys, REPOSITORY_LEDGER } from './keys.ts';

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
  readonly startedAt: string;
  readonly finishedAt: string;
  readonly durationSeconds: number;
}

/**
 * Appends an entry. The key is derived from (push time, commit, execution), so a Step Functions
 * retry of Record writes the same key and `If-None-Match` turns the second write into a no-op:
 * an entry is never lost and never doubled.
 */
export async function appendLedger(store: JsonStore, entry: LedgerEntry): Promise<'created' | 'exists'> {
  const endpoint = entry.endpoint || REPOSITORY_LEDGER;
  return store.putIfAbsent(
    keys.ledgerEntry(entry.environment, endpoint, entry.pushedAt, entry.commit, entry.execution),
    entry,
  );
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
