/**
 * The reconciler's own record (keys.reconcileStatus), as pure rules: which environments it knows,
 * when each is due, the branch heads it found no push for, and what each run found. Written by
 * compare-and-swap by Scan (at the start of a run) and Finish (at its end).
 *
 * The schedule ticks every minute; an environment is due every `reconcile.intervalMinutes` of its
 * ballast.yaml, at an offset within the interval derived from its name, so environments (and
 * stacks) with the same interval do not all call SageMaker in the same minute.
 */
import { createHash } from 'node:crypto';

/** How often the list of environments is read again (a LIST request; new environments appear within this). */
export const ENVIRONMENTS_REFRESH_MS = 15 * 60_000;
/**
 * How long a branch head may be unseen by the deploy workflow before it counts as a lost push: an
 * event takes seconds to start an execution, and Validate marks the push seen within a minute of it.
 */
export const MISSED_PUSH_GRACE_MS = 2 * 60_000;
/** Endpoints per Check invocation: one Map iteration (lambdas/handlers/reconcile-check.ts). */
export const BATCH_SIZE = 50;
/** Up to this many endpoints travel in the execution's payload; beyond, batches are written to S3. */
export const INLINE_ENDPOINTS = 1000;

export interface RunSummary {
  readonly run: string;
  readonly startedAt: string;
  readonly finishedAt: string;
  readonly durationMs: number;
  readonly checked: number;
  readonly inSync: number;
  readonly drifted: number;
  readonly healing: number;
  readonly reported: number;
  readonly skipped: number;
  readonly removed: number;
  readonly pruned: number;
  readonly errors: number;
}

export interface EnvironmentStatus {
  readonly nextAt: string;
  readonly intervalMinutes: number;
  /** A branch head the deploy workflow has not seen, since when, and whether it was started. */
  readonly pendingHead?: { readonly commit: string; readonly since: string; readonly started?: string };
  readonly lastRun?: RunSummary;
  /** The run in progress (Scan wrote it; Finish replaces it with lastRun). */
  readonly running?: { readonly run: string; readonly startedAt: string };
}

export interface ReconcileStatus {
  readonly environments: Readonly<Record<string, EnvironmentStatus>>;
  /** When the environment list was last read from the store. */
  readonly listedAt?: string;
  readonly known: readonly string[];
  readonly updatedAt: string;
}

export function emptyStatus(now: string): ReconcileStatus {
  return { environments: {}, known: [], updatedAt: now };
}

export function needsListing(status: ReconcileStatus | undefined, nowMs: number): boolean {
  return !status?.listedAt || nowMs - Date.parse(status.listedAt) >= ENVIRONMENTS_REFRESH_MS;
}

/** The environment's offset within its interval, in whole minutes: stable, and different per name. */
export function offsetMinutes(environment: string, intervalMinutes: number): number {
  const hash = createHash('sha256').update(environment).digest().readUInt32BE(0);
  return hash % Math.max(1, intervalMinutes);
}

/**
 * When the environment is due next after a run at `nowMs`: one interval later, aligned to its
 * offset (so a run that started late does not shift every later one). A tick that arrives a few
 * seconds early still counts (half a minute of slack).
 */
export function nextDue(environment: string, intervalMinutes: number, nowMs: number): string {
  const period = intervalMinutes * 60_000;
  const offset = offsetMinutes(environment, intervalMinutes) * 60_000;
  // The slot this run belongs to, counting a run up to the slack early as its slot's: a run at
  // 12:06:45 for the 12:07 slot is due next at 12:11:30, not at once again.
  const slot = Math.floor((nowMs + SLACK_MS - offset) / period) * period + offset;
  return new Date(slot + period - SLACK_MS).toISOString();
}

/** How early a tick may come and still count for its slot. */
const SLACK_MS = 30_000;

/** Due when it has never run (at its first slot) or its time has come. */
export function isDue(status: EnvironmentStatus | undefined, nowMs: number): boolean {
  return !status || Date.parse(status.nextAt) <= nowMs;
}

/** The first due time of an environment the reconciler has just discovered: its next slot. */
export function firstDue(environment: string, intervalMinutes: number, nowMs: number): string {
  const period = intervalMinutes * 60_000;
  const offset = offsetMinutes(environment, intervalMinutes) * 60_000;
  const slot = Math.ceil((nowMs - offset) / period) * period + offset;
  return new Date(slot - SLACK_MS).toISOString();
}

export type HeadCheck =
  /** The branch is where the deploy workflow last saw it (or no branch to compare). */
  | { readonly kind: 'seen' }
  /** Unseen, but not for long: maybe an event on its way. */
  | { readonly kind: 'waiting'; readonly pendingHead: NonNullable<EnvironmentStatus['pendingHead']> }
  /** Unseen for longer than the grace: deploy it, as if pushed. */
  | { readonly kind: 'missed'; readonly pendingHead: NonNullable<EnvironmentStatus['pendingHead']> }
  /** Started already (once per commit). */
  | { readonly kind: 'started'; readonly pendingHead: NonNullable<EnvironmentStatus['pendingHead']> };

/** Compares a branch head with the newest push Validate saw for the environment. */
export function checkHead(
  branchHead: string | undefined,
  seenCommit: string | undefined,
  pending: EnvironmentStatus['pendingHead'],
  now: string,
): HeadCheck {
  if (!branchHead || branchHead === seenCommit) return { kind: 'seen' };
  if (pending?.commit !== branchHead) return { kind: 'waiting', pendingHead: { commit: branchHead, since: now } };
  if (pending.started) return { kind: 'started', pendingHead: pending };
  if (Date.parse(now) - Date.parse(pending.since) < MISSED_PUSH_GRACE_MS)
    return { kind: 'waiting', pendingHead: pending };
  return { kind: 'missed', pendingHead: { ...pending, started: now } };
}

/**
 * How long a run holds an environment: another run (a tick that came twice, as EXPRESS executions
 * start at least once, or the next tick while a long run goes on) leaves it alone meanwhile. Longer
 * than a run can last (the workflow times out after 280 s).
 */
export const RUN_CLAIM_MS = 5 * 60_000;

/** What Scan found for an environment: the fields of its status that Scan owns. */
export interface ScanProposal {
  readonly intervalMinutes: number;
  /** When it is due after a run that starts now. */
  readonly nextAt: string;
  readonly pendingHead?: EnvironmentStatus['pendingHead'];
}

/**
 * Whether this run takes a due environment, decided against the status as it is when the run
 * writes it (compare-and-swap): not when another run holds it, and not when another run already
 * did it (its next due time moved on). Only the fields Scan owns change (Finish's `lastRun`, and a
 * `running` it cleared, stay as they are), and a retry of this run's Scan finds its own claim.
 */
export function claimRun(
  latest: EnvironmentStatus | undefined,
  proposal: ScanProposal,
  due: boolean,
  run: string,
  now: string,
): { readonly status: EnvironmentStatus; readonly claimed: boolean } {
  const nowMs = Date.parse(now);
  const { pendingHead: _old, ...base } = latest ?? {
    nextAt: proposal.nextAt,
    intervalMinutes: proposal.intervalMinutes,
  };
  const kept: EnvironmentStatus = {
    ...base,
    intervalMinutes: proposal.intervalMinutes,
    ...(proposal.pendingHead ? { pendingHead: proposal.pendingHead } : {}),
  };
  if (latest?.running?.run === run) return { status: kept, claimed: true };
  if (!due) return { status: kept, claimed: false };
  const held = latest?.running !== undefined && nowMs - Date.parse(latest.running.startedAt) < RUN_CLAIM_MS;
  const doneByAnother =
    latest !== undefined && !isDue(latest, nowMs) && latest.intervalMinutes === proposal.intervalMinutes;
  if (held || doneByAnother) return { status: kept, claimed: false };
  return { status: { ...kept, nextAt: proposal.nextAt, running: { run, startedAt: now } }, claimed: true };
}

/** Splits names into batches of {@link BATCH_SIZE}. */
export function batches<T>(items: readonly T[], size = BATCH_SIZE): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}
