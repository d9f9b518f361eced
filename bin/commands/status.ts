import { parseArgs } from 'node:util';
import { type EndpointState, isQuarantined } from '../../lambdas/state/endpoint-state.ts';
import {
  connect,
  connectionOptions,
  connectionUsage,
  explainError,
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
    status: 'not deployed',
    means: ['nothing has gone live yet'],
    holds: (s: EndpointState) => s.live === undefined,
  },
  {
    status: 'in sync',
    means: [
      'the live content (its digest) is the desired content, also when the commits differ',
      '(a commit that changes nothing for the endpoint, such as a README edit)',
    ],
    holds: (s: EndpointState) => s.desired === undefined || s.desired.digest === s.live?.digest,
  },
  {
    status: 'out of sync',
    means: ["live differs from desired with no rollout running (the reconciler's job)"],
    holds: (_s: EndpointState) => true,
  },
] as const;

export type EndpointStatus = (typeof STATUSES)[number]['status'];

const statusWidth = Math.max(...STATUSES.map((s) => s.status.length));

const usage = `Usage: ballast status [--environment ENV] [--json] (--endpoint-url URL | --bucket B | --stack NAME) [--region R]

Shows what Ballast knows about every endpoint, per environment, from its state bucket
(state/<environment>/<endpoint>.json): the commit the branch asks for (desired), the commit
verified live, the last good commit rollbacks return to, a rollout in progress (the endpoint's
lease) and the quarantined content (endpoint digests) nothing re-deploys but \`ballast retry\`.

STATUS is the first of these that holds:
${STATUSES.flatMap((s) => s.means.map((line, i) => `  ${(i === 0 ? s.status : '').padEnd(statusWidth)}  ${line}`)).join('\n')}

Options:
  --environment ENV   only this environment
  --json              print { bucket, endpoints: [...] } with full commit ids and times
  -h, --help          show this help

${connectionUsage}

Exit codes: 0 shown, 2 usage error or the state could not be read.
`;

export interface StatusEntry extends EndpointState {
  readonly status: EndpointStatus;
}

export const statusCommand: Command = {
  name: 'status',
  summary: 'Show desired, live and last-good commits, rollouts and quarantined commits per endpoint',
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
    let states: EndpointState[];
    try {
      conn = await connect(values, io);
      states = await readEndpointStates(conn, values.environment);
    } catch (error) {
      if (error instanceof UsageError) throw error;
      io.stderr(`ballast status: ${explainError(error, conn)}\n`);
      conn?.close();
      return ExitCode.Usage;
    }
    conn.close();
    const entries: StatusEntry[] = states.map((state) => ({ ...state, status: statusOf(state) }));
    if (values.json) {
      io.stdout(`${JSON.stringify({ bucket: conn.bucket, endpoints: entries }, null, 2)}\n`);
      return ExitCode.Ok;
    }
    io.stdout(`${renderStatus(conn.where, entries, values.environment).join('\n')}\n`);
    return ExitCode.Ok;
  },
};

/** Where an endpoint stands, from its state alone: the first of {@link STATUSES} that holds. */
export function statusOf(state: EndpointState): EndpointStatus {
  // The last entry holds for every state, so find always finds one.
  return STATUSES.find((s) => s.holds(state))?.status ?? 'out of sync';
}

export function renderStatus(where: string, entries: readonly StatusEntry[], environment?: string): string[] {
  if (entries.length === 0) {
    return [
      `${where}: no endpoint state${environment ? ` in ${environment}` : ''} yet (nothing has been deployed${environment ? ' there' : ''})`,
    ];
  }
  const lines = [
    where,
    '',
    ...table(
      ['ENVIRONMENT', 'ENDPOINT', 'STATUS', 'DESIRED', 'LIVE', 'LAST GOOD', 'ROLLOUT', 'QUARANTINED', 'UPDATED'],
      entries.map((e) => [
        e.environment,
        e.endpoint,
        e.status,
        short(e.desired?.commit),
        short(e.live?.commit),
        short(e.lastGood?.commit),
        e.lease ? short(e.lease.commit) : '-',
        e.quarantined.length > 0 ? e.quarantined.map((q) => short(q.commit)).join(',') : '-',
        formatTime(e.updatedAt),
      ]),
    ),
  ];
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

/** An endpoint digest (64 hex characters), shortened like a commit but long enough to tell apart. */
export function shortDigest(digest: string): string {
  return digest.slice(0, 12);
}
