import { parseArgs } from 'node:util';
import type { DriftMark } from '../../lambdas/state/drift.ts';
import { type EndpointState, isQuarantined } from '../../lambdas/state/endpoint-state.ts';
import { keys } from '../../lambdas/state/keys.ts';
import type { LedgerEntry } from '../../lambdas/state/ledger.ts';
import type { EnvironmentStatus, ReconcileStatus } from '../../lambdas/state/reconcile-status.ts';
import type { RollbackRecord } from '../../lambdas/state/rollback.ts';
import { triggerText, writeBackText } from './history.ts';
import {
  connect,
  connectionOptions,
  connectionUsage,
  driftLines,
  explainError,
  formatDuration,
  formatTime,
  parseOrUsage,
  readEndpointStates,
  type StateConnection,
  short,
  table,
} from './state-reader.ts';
import { type CliIo, type Command, ExitCode, UsageError } from './types.ts';

/**
 * The states `ballast status` shows, in the order they are decided: the first whose test holds is
 * the endpoint's status. The help text is printed from this table, so what the help says and what
 * the code computes cannot drift apart.
 */
export const STATUSES = [
  {
    status: 'rolling out',
    means: ["a deployment holds the endpoint's lease"],
    holds: (s: EndpointState) => s.lease !== undefined,
  },
  {
    status: 'held back',
    means: [
      'the desired content (its digest) failed or was rolled back and is quarantined;',
      'what was live stays live, and only `ballast retry ENDPOINT` deploys it again',
    ],
    holds: (s: EndpointState) => s.desired !== undefined && isQuarantined(s, s.desired.digest),
  },
  {
    status: 'pruned',
    means: [
      'Git no longer declares it and reconcile.prune is on: the reconciler deleted',
      'the endpoint and its resources (declaring it again deploys it from scratch)',
    ],
    holds: (s: EndpointState) => s.pruned !== undefined && s.live === undefined && s.desired === undefined,
  },
  {
    status: 'not deployed',
    means: ['nothing has gone live yet'],
    holds: (s: EndpointState) => s.live === undefined,
  },
  {
    status: 'removed',
    means: ['Git no longer declares it; the reconciler leaves it running (prune is off)'],
    holds: (s: EndpointState) => s.drift?.action === 'removed',
  },
  {
    status: 'drifted (healing)',
    means: [
      'at its last check the reconciler found the live endpoint differing from Git and',
      'started a heal (the deploy workflow puts the desired commit back); under the',
      'table, what differed',
    ],
    holds: (s: EndpointState) => s.drift?.action === 'heal',
  },
  {
    status: 'drifted (reported)',
    means: [
      'the reconciler found drift and only reported it (selfHeal off, quarantined',
      'content, or heals that did not remove it); under the table, what and why',
    ],
    holds: (s: EndpointState) => s.drift !== undefined,
  },
  {
    status: 'in sync',
    means: [
      'the live content (its digest) is the desired content, also when the commits differ',
      '(a commit that changes nothing for the endpoint, such as a README edit), and the',
      "reconciler's last check found no drift (`ballast diff` compares with AWS now)",
    ],
    holds: (s: EndpointState) => s.desired === undefined || s.desired.digest === s.live?.digest,
  },
  {
    status: 'out of sync',
    means: [
      'live differs from desired with no rollout running, and the reconciler has not',
      'checked since: its next check deploys the desired commit (unless selfHeal is',
      'off), as a push or `ballast retry` does',
    ],
    holds: (_s: EndpointState) => true,
  },
] as const;

export type EndpointStatus = (typeof STATUSES)[number]['status'];

const statusWidth = Math.max(...STATUSES.map((s) => s.status.length));

const usage = `Usage: ballast status [--environment ENV] [--json] (--endpoint-url URL | --bucket B | --stack NAME) [--region R]

Shows what Ballast knows about every endpoint, per environment, from its state bucket
(state/<environment>/<endpoint>.json): the commit the branch asks for (desired), the commit
verified live, the last good commit, the previous version (the verified version live before the
current one: what a rollback restores, \`ballast rollback\`), a rollout in progress (the endpoint's
lease) and the quarantined content (endpoint digests) nothing re-deploys but \`ballast retry\`.
Under the table, the reconciler's last run per environment (reconcile/status.json, once it has
run: when, what it found, when it is due next), the drift its last check found per endpoint (the first pointers;
\`ballast diff\` shows what differs now), and the endpoint's last rollback: when, what asked for it
(the alarm, or who), from which version to which, how it ended and how it was written back to Git
(the revert commit or pull request, or why not; from its ledger entry), and whether the content
it rolled back is still quarantined and what lifts that.

STATUS is the first of these that holds:
${STATUSES.flatMap((s) => s.means.map((line, i) => `  ${(i === 0 ? s.status : '').padEnd(statusWidth)}  ${line}`)).join('\n')}

Options:
  --environment ENV   only this environment
  --json              print { bucket, endpoints: [...], reconciler: {...} }: each endpoint's
                      state as stored (full commit ids and times; previous, rollback, drift and
                      pruned included), its status, and rollbackEntry, the last rollback's ledger
                      entry once it is written; reconciler is the reconciler's status per
                      environment shown (nextAt, intervalMinutes, lastRun, running, pendingHead),
                      null before it first ran
  -h, --help          show this help

${connectionUsage}

Exit codes: 0 shown, 2 usage error or the state could not be read.
`;

/** Drift pointers `ballast status` shows per endpoint; `ballast diff` shows them all. */
const DRIFT_SHOWN = 3;

export interface StatusEntry extends EndpointState {
  readonly status: EndpointStatus;
  /** The ledger entry the rollback workflow wrote for `rollback` (its write-back), once written. */
  readonly rollbackEntry?: LedgerEntry;
}

export const statusCommand: Command = {
  name: 'status',
  summary:
    'Show desired, live, last-good and previous commits, rollouts, drift, the last rollback and quarantined content per endpoint, and the last reconcile',
  usage,
  async run(args: readonly string[], io: CliIo): Promise<number> {
    const { values } = parseOrUsage(() =>
      parseArgs({
        args: [...args],
        options: { ...connectionOptions, environment: { type: 'string' }, json: { type: 'boolean' } },
        strict: true,
        allowPositionals: false,
      }),
    );
    if (values.environment !== undefined && !/^[A-Za-z0-9][A-Za-z0-9-]*$/.test(values.environment)) {
      throw new UsageError(`--environment '${values.environment}' is not an environment name`);
    }
    let conn: StateConnection | undefined;
    let entries: StatusEntry[];
    /** Undefined until the reconciler has written its status (it never ran on this bucket). */
    let reconciler: Record<string, EnvironmentStatus> | undefined;
    try {
      conn = await connect(values, io);
      const [states, reconcile] = await Promise.all([
        readEndpointStates(conn, values.environment),
        conn.store.get<ReconcileStatus>(keys.reconcileStatus),
      ]);
      reconciler = reconcile
        ? Object.fromEntries(
            [...new Set(states.map((s) => s.environment))].flatMap((environment) => {
              const status = reconcile.value.environments[environment];
              return status ? [[environment, status]] : [];
            }),
          )
        : undefined;
      const store = conn.store;
      entries = await Promise.all(
        states.map(async (state) => {
          // One GetObject per endpoint that was ever rolled back: the write-back is in the ledger only.
          const rollbackEntry = state.rollback
            ? (await store.get<LedgerEntry>(rollbackLedgerKey(state, state.rollback)))?.value
            : undefined;
          return { ...state, status: statusOf(state), ...(rollbackEntry ? { rollbackEntry } : {}) };
        }),
      );
    } catch (error) {
      if (error instanceof UsageError) throw error;
      io.stderr(`ballast status: ${explainError(error, conn)}\n`);
      conn?.close();
      return ExitCode.Usage;
    }
    conn.close();
    if (values.json) {
      io.stdout(
        `${JSON.stringify({ bucket: conn.bucket, endpoints: entries, reconciler: reconciler ?? null }, null, 2)}\n`,
      );
      return ExitCode.Ok;
    }
    io.stdout(`${renderStatus(conn.where, entries, values.environment, reconciler).join('\n')}\n`);
    return ExitCode.Ok;
  },
};

/** Where an endpoint stands, from its state alone: the first of {@link STATUSES} that holds. */
export function statusOf(state: EndpointState): EndpointStatus {
  // The last entry holds for every state, so find always finds one.
  return STATUSES.find((s) => s.holds(state))?.status ?? 'out of sync';
}

export function renderStatus(
  where: string,
  entries: readonly StatusEntry[],
  environment?: string,
  reconciler?: Readonly<Record<string, EnvironmentStatus>>,
): string[] {
  if (entries.length === 0) {
    return [
      `${where}: no endpoint state${environment ? ` in ${environment}` : ''} yet (nothing has been deployed${environment ? ' there' : ''})`,
    ];
  }
  const lines = [
    where,
    '',
    ...table(
      [
        'ENVIRONMENT',
        'ENDPOINT',
        'STATUS',
        'DESIRED',
        'LIVE',
        'LAST GOOD',
        'PREVIOUS',
        'ROLLOUT',
        'QUARANTINED',
        'UPDATED',
      ],
      entries.map((e) => [
        e.environment,
        e.endpoint,
        e.status,
        short(e.desired?.commit),
        short(e.live?.commit),
        short(e.lastGood?.commit),
        short(e.previous?.commit),
        e.lease ? short(e.lease.commit) : '-',
        e.quarantined.length > 0 ? e.quarantined.map((q) => short(q.commit)).join(',') : '-',
        formatTime(e.updatedAt),
      ]),
    ),
  ];
  if (reconciler) lines.push('', ...reconcilerLines(entries, reconciler));
  const drifted = entries.filter((e) => e.drift);
  if (drifted.length > 0) {
    lines.push('', "Drift (the reconciler's last check; `ballast diff ENDPOINT` compares now):");
    for (const e of drifted) if (e.drift) lines.push(...driftMarkLines(e, e.drift));
  }
  const rollouts = entries.filter((e) => e.lease);
  if (rollouts.length > 0) {
    lines.push('', 'Rollouts in progress:');
    for (const e of rollouts) {
      const lease = e.lease;
      if (lease) {
        lines.push(
          `  ${e.environment}/${e.endpoint} ${short(lease.commit)}: ${lease.execution}, since ${formatTime(lease.acquiredAt)}`,
        );
      }
    }
  }
  const heldBack = entries.filter((e) => e.status === 'held back');
  if (heldBack.length > 0) {
    lines.push('', 'Held back (the desired content is quarantined):');
    for (const e of heldBack) {
      const q = e.desired ? e.quarantined.find((x) => x.digest === e.desired?.digest) : undefined;
      if (!e.desired || !q) continue;
      lines.push(
        `  ${e.environment}/${e.endpoint} ${short(e.desired.commit)} (content ${shortDigest(q.digest)}), quarantined at ${short(q.commit)} ${formatTime(q.at)}: ${q.reason}`,
        `    run \`ballast retry ${e.endpoint} --environment ${e.environment}\` to deploy it again`,
      );
    }
  }
  const rolledBack = entries.filter((e) => e.rollback);
  if (rolledBack.length > 0) {
    lines.push('', 'Last rollback:');
    for (const e of rolledBack) if (e.rollback) lines.push(...rollbackLines(e, e.rollback));
  }
  const quarantined = entries.filter((e) => e.quarantined.length > 0);
  if (quarantined.length > 0) {
    lines.push('', 'Quarantined content (only `ballast retry` deploys it again; a commit that changes it moves on):');
    for (const e of quarantined) {
      for (const q of e.quarantined) {
        lines.push(
          `  ${e.environment}/${e.endpoint} ${shortDigest(q.digest)} from ${short(q.commit)} at ${formatTime(q.at)}: ${q.reason}`,
        );
      }
    }
  }
  return lines;
}

/** Per environment shown: the reconciler's last run, the run in progress, when it is due, a branch head no push brought. */
export function reconcilerLines(
  entries: readonly StatusEntry[],
  reconciler: Readonly<Record<string, EnvironmentStatus>>,
): string[] {
  const lines = ['Last reconcile:'];
  for (const environment of [...new Set(entries.map((e) => e.environment))]) {
    const status = reconciler[environment];
    if (!status) {
      lines.push(`  ${environment}: the reconciler has not run here yet`);
      continue;
    }
    const run = status.lastRun;
    const found = run
      ? [
          `${run.checked} checked`,
          `${run.inSync} in sync`,
          `${run.drifted} drifted${run.healing > 0 ? ` (${run.healing} healing)` : ''}`,
          ...(run.skipped > 0 ? [`${run.skipped} skipped`] : []),
          ...(run.removed > 0 ? [`${run.removed} removed`] : []),
          ...(run.pruned > 0 ? [`${run.pruned} pruned`] : []),
          `${run.errors} error${run.errors === 1 ? '' : 's'}`,
        ].join(', ')
      : undefined;
    lines.push(
      `  ${environment}: ${run ? `${formatTime(run.finishedAt)} (took ${formatDuration(run.durationMs / 1000)}): ${found}` : 'no run finished yet'}${
        status.running ? `; running since ${formatTime(status.running.startedAt)}` : ''
      }; next due ${formatTime(status.nextAt)} (every ${status.intervalMinutes}m)`,
    );
    const head = status.pendingHead;
    if (head) {
      lines.push(
        `    branch head ${short(head.commit)} reached no deploy workflow (seen since ${formatTime(head.since)}): ${
          head.started
            ? `started as a missed push at ${formatTime(head.started)}`
            : 'the reconciler deploys it if no push event does'
        }`,
      );
    }
  }
  return lines;
}

/** An endpoint's drift mark: since when, what the reconciler did, the first pointers. */
function driftMarkLines(e: StatusEntry, mark: DriftMark): string[] {
  const where = `${e.environment}/${e.endpoint}`;
  if (mark.action === 'removed') {
    return [
      `  ${where} since ${formatTime(mark.since)}: no longer declared in Git; it keeps running (reconcile.prune is off)`,
    ];
  }
  const heals =
    mark.heals > 0
      ? `; ${mark.heals} heal${mark.heals === 1 ? '' : 's'} started, the last at ${formatTime(mark.lastHealAt)}`
      : '';
  const did = mark.action === 'heal' ? 'healing' : `reported${mark.reason ? `, not healed: ${mark.reason}` : ''}`;
  return [
    `  ${where} since ${formatTime(mark.since)}: ${did}${heals}`,
    ...driftLines(mark.drift, { indent: '    ', limit: DRIFT_SHOWN }),
  ];
}

/**
 * The ledger entry of a rollback: Finish writes it against the commit it rolled back, from the
 * instant it was asked for (the alarm's transition, or the request) and under the execution's name.
 */
export function rollbackLedgerKey(
  state: Pick<EndpointState, 'environment' | 'endpoint'>,
  rollback: RollbackRecord,
): string {
  const at = rollback.trigger.kind === 'alarm' ? rollback.trigger.at : rollback.trigger.requestedAt;
  return keys.ledgerEntry(state.environment, state.endpoint, at, rollback.from.commit, rollback.execution);
}

/** The endpoint's last rollback: what asked, from and to, how it ended, the write-back, the quarantine. */
export function rollbackLines(e: StatusEntry, rollback: RollbackRecord): string[] {
  const { from, to } = rollback;
  const outcome = rollback.outcome ?? 'running';
  const lines = [
    `  ${e.environment}/${e.endpoint} ${formatTime(rollback.finishedAt ?? rollback.startedAt)}: ${triggerText(rollback.trigger)}`,
    `    ${short(from.commit)} (${from.endpointConfigName}) -> ${short(to.commit)} (${to.endpointConfigName}): ${outcome}`,
  ];
  const entry = e.rollbackEntry?.rollback;
  const writeBack = entry
    ? writeBackText(entry)
    : rollback.outcome === 'restored'
      ? 'write-back: not known yet (the rollback has not written its ledger entry)'
      : undefined;
  if (writeBack) lines.push(`    ${writeBack}`);
  const retry = `\`ballast retry ${e.endpoint} --environment ${e.environment}\``;
  if (isQuarantined(e, from.digest) && e.live?.digest !== from.digest) {
    lines.push(
      `    ${short(from.commit)}'s content (${shortDigest(from.digest)}) is quarantined: no push deploys it again until a new commit changes it, or ${retry}`,
    );
  } else if (rollback.outcome === 'failed' && e.live?.digest === from.digest) {
    lines.push(
      `    ${short(from.commit)} is still live${isQuarantined(e, from.digest) ? ' (its content quarantined)' : ''}; \`ballast rollback ${e.endpoint} --environment ${e.environment}\` tries again`,
    );
  }
  return lines;
}

/** An endpoint digest (64 hex characters), shortened like a commit but long enough to tell apart. */
export function shortDigest(digest: string): string {
  return digest.slice(0, 12);
}
