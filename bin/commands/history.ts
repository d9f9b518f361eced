import { parseArgs } from 'node:util';
import { isMissedPush } from '../../lambdas/sources/missed-push.ts';
import { keys, REPOSITORY_LEDGER } from '../../lambdas/state/keys.ts';
import { type LedgerEntry, type LedgerRetry, type LedgerRollback, readLedger } from '../../lambdas/state/ledger.ts';
import type { RollbackTrigger } from '../../lambdas/state/rollback.ts';
import {
  connect,
  connectionOptions,
  connectionUsage,
  endpointArgument,
  explainError,
  formatDuration,
  formatTime,
  listFolders,
  parseOrUsage,
  type StateConnection,
  short,
  table,
} from './state-reader.ts';
import { type CliIo, type Command, ExitCode, UsageError } from './types.ts';

const DEFAULT_LIMIT = 20;

const usage = `Usage: ballast history ENDPOINT [--environment ENV] [--limit N] [--json] (--endpoint-url URL | --bucket B | --stack NAME) [--region R]

Shows an endpoint's deployment ledger (ledger/<environment>/<endpoint>/ in the state bucket), oldest
first: when the commit was pushed, the commit, how it ended, how long it took, what it changed,
who pushed it and why it ended that way. A \`ballast retry\` is its own entry, in the order it was
asked for, with who asked for it and when on the line below. So is a heal by the reconciler (the
live endpoint drifted from its desired commit), with "heal (drift: " and what drifted on the line
below; a commit the reconciler deployed because no push event reached Ballast says "missed push"
there. So is a rollback by the rollback
workflow (an alarm after the rollout, or \`ballast rollback\`): an entry against the commit it rolled
back, in the order it was asked for, with "rollback: " and the alarm or who asked, what it restored
and the write-back to Git (the revert commit or pull request, or why not) on the line below.
ENDPOINT ${REPOSITORY_LEDGER} lists the commits rejected before any endpoint was touched (validation
errors), with their file:line issues.

OUTCOME is one of:
  deployed      live and verified
  rolled-back   SageMaker (an alarm during the rollout) returned the endpoint to what was live, or
                the rollback workflow restored the previous version; the content is quarantined
                until \`ballast retry\`
  failed        the rollout (or the rollback) failed; what was live stays live
  superseded    a newer push took the endpoint over
  quarantined   not deployed: this content failed or was rolled back before (\`ballast retry\` lifts it)
  deferred      not deployed by this workflow (e.g. an EKS target)
  unchanged     the commit leaves this endpoint's content as it is; for a rollback entry, the
                workflow did not act (REASON says why, e.g. a rollout held the endpoint)
  rejected      the commit did not validate (ENDPOINT ${REPOSITORY_LEDGER})

Arguments:
  ENDPOINT            the Endpoint's metadata.name

Options:
  --environment ENV   only this environment (default: every environment the endpoint is in)
  --limit N           the N most recent entries (default: ${DEFAULT_LIMIT})
  --json              print the entries as a JSON array (the ledger records as stored)
  -h, --help          show this help

${connectionUsage}

Exit codes: 0 shown, 2 usage error, unknown endpoint, or the state could not be read.
`;

export const historyCommand: Command = {
  name: 'history',
  summary:
    "Show an endpoint's deployment ledger: commit, outcome, changes, reason, who pushed, retries, heals and rollbacks",
  usage,
  async run(args: readonly string[], io: CliIo): Promise<number> {
    const { values, positionals } = parseOrUsage(() =>
      parseArgs({
        args: [...args],
        options: {
          ...connectionOptions,
          environment: { type: 'string' },
          limit: { type: 'string' },
          json: { type: 'boolean' },
        },
        strict: true,
        allowPositionals: true,
      }),
    );
    // Any endpoint name, and REPOSITORY_LEDGER.
    const endpoint = endpointArgument(positionals, /^[A-Za-z0-9_][A-Za-z0-9._-]*$/);
    if (values.environment !== undefined && !/^[A-Za-z0-9][A-Za-z0-9-]*$/.test(values.environment)) {
      throw new UsageError(`--environment '${values.environment}' is not an environment name`);
    }
    const limit = values.limit === undefined ? DEFAULT_LIMIT : Number(values.limit);
    if (!Number.isInteger(limit) || limit < 1 || limit > 10_000) {
      throw new UsageError(`--limit must be a whole number from 1 to 10000, got '${values.limit}'`);
    }

    let conn: StateConnection | undefined;
    try {
      conn = await connect(values, io);
      const environments = values.environment ? [values.environment] : await listFolders(conn, 'ledger/');
      const store = conn.store;
      const perEnvironment = await Promise.all(environments.map((env) => readLedger(store, env, endpoint, limit)));
      const entries = perEnvironment
        .flat()
        // A retry starts when it was asked for, not when its commit was pushed (`startedAt`).
        .sort((a, b) => startOf(a).localeCompare(startOf(b)) || a.finishedAt.localeCompare(b.finishedAt))
        .slice(-limit);
      if (entries.length === 0) {
        const known = await knownEndpoints(conn, environments);
        if (!known.some((k) => k.endpoint === endpoint)) {
          io.stderr(
            `ballast history: no endpoint ${endpoint}${values.environment ? ` in ${values.environment}` : ''} in ${conn.where}${
              known.length > 0
                ? ` (endpoints with history: ${known.map((k) => `${k.endpoint} (${k.environment})`).join(', ')})`
                : ' (nothing has been deployed yet)'
            }\n`,
          );
          return ExitCode.Usage;
        }
      }
      if (values.json) {
        io.stdout(`${JSON.stringify(entries, null, 2)}\n`);
      } else {
        io.stdout(`${renderHistory(endpoint, conn.where, entries).join('\n')}\n`);
      }
      return ExitCode.Ok;
    } catch (error) {
      if (error instanceof UsageError) throw error;
      io.stderr(`ballast history: ${explainError(error, conn)}\n`);
      return ExitCode.Usage;
    } finally {
      conn?.close();
    }
  },
};

/** Endpoints that have state or ledger entries (rejected commits included) in these environments. */
async function knownEndpoints(
  conn: StateConnection,
  environments: readonly string[],
): Promise<Array<{ environment: string; endpoint: string }>> {
  const found: Array<{ environment: string; endpoint: string }> = [];
  for (const environment of environments) {
    for (const key of await conn.store.list(keys.statePrefix(environment), { limit: 10_000 })) {
      const name = /^state\/[^/]+\/([^/]+)\.json$/.exec(key)?.[1];
      if (name) found.push({ environment, endpoint: name });
    }
    // An endpoint whose first push is still rolling out has state; one rejected before any
    // endpoint was touched only has ledger entries (REPOSITORY_LEDGER).
    for (const folder of await listFolders(conn, `ledger/${environment}/`)) {
      if (!found.some((f) => f.environment === environment && f.endpoint === folder)) {
        found.push({ environment, endpoint: folder });
      }
    }
  }
  return found;
}

/** When an entry's deployment started: the push, or the `ballast retry` request. */
function startOf(entry: LedgerEntry): string {
  return entry.startedAt ?? entry.pushedAt;
}

/** Who pushed, without the ARN's boilerplate: `user/alice`, `assumed-role/ci/run-42`, a GitHub login. */
export function pusher(pushedBy: string): string {
  const arn = /^arn:aws[a-z-]*:(?:iam|sts)::\d{12}:(.+)$/.exec(pushedBy);
  return arn?.[1] ?? pushedBy;
}

export function renderHistory(endpoint: string, where: string, entries: readonly LedgerEntry[]): string[] {
  if (entries.length === 0) return [`${endpoint}: no finished deployments yet in ${where} (a rollout may be running)`];
  const rows = table(
    ['PUSHED', 'ENVIRONMENT', 'COMMIT', 'OUTCOME', 'TOOK', 'CHANGES', 'PUSHED BY', 'REASON'],
    entries.map((e) => [
      formatTime(e.pushedAt),
      e.environment,
      short(e.commit),
      e.outcome,
      formatDuration(e.durationSeconds),
      e.changes && e.changes.length > 0 ? e.changes.join(',') : '-',
      pusher(e.pushedBy),
      e.reason ?? '',
    ]),
  );
  const lines = [rows[0] ?? ''];
  entries.forEach((entry, index) => {
    lines.push(rows[index + 1] ?? '');
    if (entry.retry) lines.push(`    ${retryLine(entry.retry)}`);
    else if (isMissedPush(entry)) {
      lines.push(`    missed push: no push event reached Ballast; the reconciler found it (${entry.deliveryId})`);
    }
    if (entry.rollback) lines.push(`    rollback: ${rollbackLine(entry.rollback)}`);
    for (const issue of entry.issues ?? []) {
      lines.push(`    ${issue.file}:${issue.line}:${issue.column}: ${issue.message}`);
    }
  });
  return lines;
}

/** A retry's line (who asked, when, why), or a heal's: what drifted, then the same. */
function retryLine(retry: LedgerRetry): string {
  const asked = `asked for by ${pusher(retry.requestedBy)} at ${formatTime(retry.requestedAt)}${retry.reason ? `: ${retry.reason}` : ''}`;
  return retry.kind === 'heal' ? `heal (drift: ${(retry.paths ?? []).join(', ') || '-'}) ${asked}` : `retry ${asked}`;
}

/** A rollback entry's line: what asked for it, what it restored, and the write-back. */
function rollbackLine(rollback: LedgerRollback): string {
  const { from, to } = rollback;
  const version = (v: typeof to) => (v ? `${short(v.commit)} (${v.endpointConfigName})` : '-');
  const result =
    rollback.action !== 'act'
      ? `not rolled back (${rollback.action})`
      : rollback.outcome === 'restored'
        ? `restored ${version(to)}`
        : rollback.outcome === 'skipped'
          ? 'not rolled back (the rollback did not start)'
          : `restoring ${version(to)} failed; ${short(from?.commit)} stays live`;
  return [triggerText(rollback.trigger), result, writeBackText(rollback)].filter(Boolean).join('; ');
}

/** What asked for a rollback: the alarm, or who (and why). */
export function triggerText(trigger: RollbackTrigger): string {
  return trigger.kind === 'alarm'
    ? `alarm ${trigger.alarm} went into ALARM at ${formatTime(trigger.at)}`
    : `asked for by ${pusher(trigger.requestedBy)} at ${formatTime(trigger.requestedAt)}${trigger.reason ? `: ${trigger.reason}` : ''}`;
}

/**
 * How a rollback was written back to Git, or why not; undefined when there was nothing to write
 * back (it did not restore). The WriteBack step runs for a restored version whose ballast.yaml
 * turns writeBack on, so a restored rollback without one had it off.
 */
export function writeBackText(rollback: Pick<LedgerRollback, 'writeBack' | 'outcome'>): string | undefined {
  const writeBack = rollback.writeBack;
  switch (writeBack?.kind) {
    case 'committed':
      return `written back: revert commit ${short(writeBack.commit)} on ${writeBack.branch ?? '-'}`;
    case 'pull-request':
      return `written back: pull request ${writeBack.pullRequest ?? '-'}${writeBack.url ? ` (${writeBack.url})` : ''} from ${writeBack.branch ?? '-'}`;
    case 'skipped':
      return `not written back: ${writeBack.reason ?? 'skipped'}`;
    case 'error':
      return `write-back failed: ${writeBack.reason ?? 'unknown error'}`;
    default:
      return rollback.outcome === 'restored'
        ? "not written back: ballast.yaml's writeBack is off for this version"
        : undefined;
  }
}
