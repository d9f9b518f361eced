import { z } from 'zod';
import { missedPush, missedPushRequest } from '../reconcile/requests.ts';
import { startDeploy } from '../reconcile/start-deploy.ts';
import { lambdaHandler } from '../runtime/handler.ts';
import { mapPool } from '../runtime/pool.ts';
import { missedPushExecutionName } from '../sources/missed-push.ts';
import { repositoryClients } from '../sources/repository-clients.ts';
import { branchHead } from '../sources/write-back.ts';
import { keys } from '../state/keys.ts';
import {
  BATCH_SIZE,
  batches,
  checkHead,
  claimRun,
  type EnvironmentStatus,
  emptyStatus,
  INLINE_ENDPOINTS,
  isDue,
  needsListing,
  nextDue,
  type ReconcileStatus,
  type ScanProposal,
} from '../state/reconcile-status.ts';
import type { EnvironmentHead, EnvironmentSeen } from '../workflow/plan.ts';
import { logger, nowIso, stateStore } from './runtime.ts';

const scanInput = z.object({ event: z.unknown(), run: z.string().min(1), startedAt: z.string().min(1) });

/** Environments scanned at once (each: two GETs, a branch read, a listing when due). */
const ENVIRONMENT_CONCURRENCY = 4;
const DEFAULT_INTERVAL_MINUTES = 5;

export interface BatchItem {
  readonly environment: string;
  /** The endpoints, when the run is small enough to carry them. */
  readonly endpoints?: ReadonlyArray<{ readonly name: string; readonly declared: boolean }>;
  /** Else the S3 key of the batch (keys.reconcileBatch). */
  readonly key?: string;
}

export interface ScanResult {
  readonly run: string;
  /** When the run started, by the functions' clock (Finish measures the run's duration from it). */
  readonly startedAt: string;
  readonly environments: ReadonlyArray<{
    readonly environment: string;
    readonly due: boolean;
    readonly endpoints: number;
    readonly missedPush?: string;
  }>;
  readonly batches: readonly BatchItem[];
  readonly errors: number;
  /** Nothing due and nothing wrong: the workflow ends without Finish (stepfunctions/reconcile.asl.json). */
  readonly idle: boolean;
}

interface Scanned {
  readonly environment: string;
  readonly proposal?: ScanProposal;
  readonly items: ReadonlyArray<{ readonly name: string; readonly declared: boolean }>;
  readonly due: boolean;
  readonly missedPush?: string;
  readonly error?: boolean;
}

/**
 * Scan: which environments are due (ballast.yaml's reconcile.intervalMinutes at the environment's
 * head), branch heads the deploy workflow never saw (started once, as the push), and the due
 * environments' endpoints in batches. A tick with nothing due reads the status and, per
 * environment, its head, what was seen and the branch. Idempotent: the status is written by
 * compare-and-swap and a missed push's execution name is its commit's.
 */
export async function scan(input: z.output<typeof scanInput>): Promise<ScanResult> {
  const store = stateStore();
  const now = nowIso();
  const nowMs = Date.parse(now);
  const stored = await store.get<ReconcileStatus>(keys.reconcileStatus);
  const status = stored?.value ?? emptyStatus(now);
  const listed = needsListing(stored?.value, nowMs) ? await listEnvironments(store) : undefined;
  const known = listed ?? status.known;
  const scanned = await mapPool(known, ENVIRONMENT_CONCURRENCY, (environment) =>
    scanEnvironment(store, environment, status.environments[environment], input.run, now).catch(
      (error: unknown): Scanned => {
        // One environment's failure (a branch that cannot be read) does not stop the others.
        logger.error('environment scan failed', { environment, error });
        return { environment, items: [], due: false, error: true };
      },
    ),
  );
  const claimed = new Set<string>();
  await store.update<ReconcileStatus>(
    keys.reconcileStatus,
    (latest) => {
      claimed.clear();
      const base = latest ?? emptyStatus(now);
      const environments = { ...base.environments };
      for (const s of scanned) {
        if (!s.proposal) continue;
        const decision = claimRun(base.environments[s.environment], s.proposal, s.due, input.run, now);
        environments[s.environment] = decision.status;
        if (decision.claimed) claimed.add(s.environment);
      }
      const next: ReconcileStatus = {
        environments,
        known,
        ...(listed ? { listedAt: now } : base.listedAt ? { listedAt: base.listedAt } : {}),
        updatedAt: now,
      };
      // A tick that changes nothing writes nothing: one PUT a minute would cost more than the run.
      return latest && sameStatus(latest, next) ? undefined : next;
    },
    8,
    stored ?? null,
  );
  const mine = scanned.filter((s) => claimed.has(s.environment));
  const all = mine.flatMap((s) => s.items);
  const items: BatchItem[] = [];
  for (const s of mine) {
    for (const endpoints of batches(s.items, BATCH_SIZE)) items.push({ environment: s.environment, endpoints });
  }
  // Past INLINE_ENDPOINTS the names go to S3 and only keys travel: the payload stays far below 256 KiB.
  const carried =
    all.length <= INLINE_ENDPOINTS
      ? items
      : await mapPool(
          items.map((batch, index) => ({ batch, key: keys.reconcileBatch(input.run, index) })),
          8,
          async ({ batch, key }) => {
            await store.putIfAbsent(key, batch);
            return { environment: batch.environment, key };
          },
        );
  logger.info('scanned', { due: [...claimed], endpoints: all.length });
  return {
    run: input.run,
    startedAt: now,
    environments: scanned.map((s) => ({
      environment: s.environment,
      due: claimed.has(s.environment),
      endpoints: claimed.has(s.environment) ? s.items.length : 0,
      ...(s.missedPush ? { missedPush: s.missedPush } : {}),
    })),
    batches: carried,
    errors: scanned.filter((s) => s.error).length,
    idle: claimed.size === 0 && scanned.every((s) => !s.error),
  };
}

function sameStatus(a: ReconcileStatus, b: ReconcileStatus): boolean {
  const { updatedAt: _a, ...left } = a;
  const { updatedAt: _b, ...right } = b;
  return JSON.stringify(left) === JSON.stringify(right);
}

async function listEnvironments(store: ReturnType<typeof stateStore>): Promise<string[]> {
  const listed = await store.list(keys.environmentsPrefix, { limit: 100_000 });
  const names = listed.map((key) => key.slice(keys.environmentsPrefix.length).split('/')[0] ?? '');
  return [...new Set(names.filter((n) => n.length > 0))].sort();
}

async function scanEnvironment(
  store: ReturnType<typeof stateStore>,
  environment: string,
  previous: EnvironmentStatus | undefined,
  run: string,
  now: string,
): Promise<Scanned> {
  const nowMs = Date.parse(now);
  const [head, seen] = await Promise.all([
    store.get<EnvironmentHead>(keys.head(environment)),
    store.get<EnvironmentSeen>(keys.seen(environment)),
  ]);
  const interval = head?.value.settings?.intervalMinutes ?? DEFAULT_INTERVAL_MINUTES;
  let pendingHead = previous?.pendingHead;
  let missed: string | undefined;
  const retired = seen?.value.retired;
  if (seen && !retired) {
    const branch = await branchHead(seen.value, seen.value.branch, await repositoryClients(seen.value.source));
    const check = checkHead(branch, seen.value.commit, pendingHead, now);
    pendingHead = check.kind === 'seen' ? undefined : check.pendingHead;
    if (check.kind === 'missed') {
      const push = missedPush(seen.value, check.pendingHead.commit, check.pendingHead.since);
      const started = await startDeploy(missedPushExecutionName(environment, push.commit), missedPushRequest(push));
      logger.info('missed push started', { environment, commit: push.commit, started });
      missed = push.commit;
    }
  }
  // Due by the status as read; a retried Scan of this run finds its own claim (claimRun).
  const due = isDue(previous, nowMs) || previous?.intervalMinutes !== interval || previous?.running?.run === run;
  // A retired environment's endpoints are no longer declared: reported once, or pruned.
  const listed = due && head ? await endpointsOf(store, environment, retired ? undefined : head.value) : [];
  const proposal: ScanProposal = {
    intervalMinutes: interval,
    nextAt: nextDue(environment, interval, nowMs),
    ...(pendingHead ? { pendingHead } : {}),
  };
  return {
    environment,
    proposal,
    items: listed,
    due: due && head !== undefined,
    ...(missed ? { missedPush: missed } : {}),
  };
}

/** The endpoints Ballast manages in the environment (its state documents), and whether Git still declares them. */
async function endpointsOf(
  store: ReturnType<typeof stateStore>,
  environment: string,
  head: EnvironmentHead | undefined,
): Promise<Array<{ name: string; declared: boolean }>> {
  const prefix = keys.statePrefix(environment);
  const listed = await store.list(prefix, { limit: 1_000_000 });
  return listed
    .filter((key) => key.endsWith('.json'))
    .map((key) => key.slice(prefix.length, -'.json'.length))
    .filter((name) => name.length > 0 && !name.includes('/'))
    .map((name) => ({ name, declared: head?.endpoints[name] !== undefined }));
}

export const handler = lambdaHandler(scanInput, scan, {
  keys: (input) => ({ run: input.run }),
  // Runs every minute: see LambdaHandlerOptions.coldStartMetric.
  coldStartMetric: false,
});
