import { parseArgs } from 'node:util';
import type { EndpointState } from '../../lambdas/state/endpoint-state.ts';
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

const usage = `Usage: ballast status [--environment ENV] [--json] (--endpoint-url URL | --bucket B | --stack NAME) [--region R]

Shows what Ballast knows about every endpoint, per environment, from its state bucket
(state/<environment>/<endpoint>.json): the commit the branch asks for (desired), the commit
verified live, the last good commit rollbacks return to, a rollout in progress (the endpoint's
lease) and the quarantined commits the reconciler will not re-apply.

STATUS is one of:
  in sync       the live commit is the desired one
  rolling out   a deployment holds the endpoint's lease
  held back     the desired commit failed or was rolled back; the last good commit stays live
  out of sync   live differs from desired with no rollout running (the reconciler's job)
  not deployed  nothing has gone live yet

Options:
  --environment ENV   only this environment
  --json              print { bucket, endpoints: [...] } with full commit ids and times
  -h, --help          show this help

${connectionUsage}

Exit codes: 0 shown, 2 usage error or the state could not be read.
`;

export type EndpointStatus = 'in sync' | 'rolling out' | 'held back' | 'out of sync' | 'not deployed';

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

/** Where an endpoint stands, from its state alone. */
export function statusOf(state: EndpointState): EndpointStatus {
  if (state.lease) return 'rolling out';
  const desired = state.desired?.commit;
  if (!state.live) return 'not deployed';
  if (desired === undefined || desired === state.live.commit) return 'in sync';
  if (state.quarantined.some((q) => q.commit === desired)) return 'held back';
  return 'out of sync';
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
  const quarantined = entries.filter((e) => e.quarantined.length > 0);
  if (quarantined.length > 0) {
    lines.push('', 'Quarantined commits (never re-applied; a new commit, e.g. a git revert, moves on):');
    for (const e of quarantined) {
      for (const q of e.quarantined) {
        lines.push(`  ${e.environment}/${e.endpoint} ${short(q.commit)} at ${formatTime(q.at)}: ${q.reason}`);
      }
    }
  }
  return lines;
}
