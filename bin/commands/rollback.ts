/**
 * `ballast rollback ENDPOINT`: a deliberate rollback, to the endpoint's previous version, through
 * the rollback workflow (stepfunctions/rollback.asl.json) that alarms start on their own. It reads
 * the endpoint's state, refuses what the workflow would not do (the same decision, decideRollback
 * in lambdas/state/rollback.ts, with a manual trigger), says what it will do, and starts the
 * workflow with the request lambdas/workflow/rollback-payloads.ts parses (`rollbackRequest`).
 */
import { parseArgs } from 'node:util';
import { defaultWriteBackMode } from '../../lambdas/sources/write-back.ts';
import type { EndpointState, LiveRef } from '../../lambdas/state/endpoint-state.ts';
import { decideRollback, type RollbackTrigger } from '../../lambdas/state/rollback.ts';
import type { RollbackRequest } from '../../lambdas/workflow/rollback-payloads.ts';
import { connectionUsage, formatTime, parseOrUsage, short } from './state-reader.ts';
import { shortDigest } from './status.ts';
import { type CliIo, type Command, UsageError } from './types.ts';
import {
  checkRequestArguments,
  permissionsUsage,
  type RequestCommand,
  requestExecutionName,
  requestOptions,
  requestOptionsUsage,
  runRequest,
  stateMachineUsage,
  type Workflow,
} from './workflow-request.ts';

const ROLLBACK: Workflow = { name: 'rollback', arnVariable: 'BALLAST_ROLLBACK_STATE_MACHINE_ARN' };

/** A commit id as the rollback request accepts it (lambdas/workflow/rollback-payloads.ts). */
const COMMIT = /^[0-9a-f]{7,64}$/;

const usage = `Usage: ballast rollback ENDPOINT [--environment ENV] [--to COMMIT] [--reason TEXT] [--wait [--timeout SECONDS]]
                        [--json] [--state-machine ARN] [--requested-by WHO]
                        (--endpoint-url URL | --bucket B | --stack NAME) [--region R]

Rolls an endpoint back to its previous version (the verified version that was live before the
current one, \`ballast status\` PREVIOUS) through the rollback workflow, the one CloudWatch alarms
start: it takes the endpoint's lease, quarantines the live content, puts the previous
EndpointConfig back (all at once, instance counts kept), verifies it, records a ledger entry and,
when ballast.yaml's writeBack is on for the live version, writes the rollback back to Git (a revert
commit, or a pull request). It reads the endpoint's state first, refuses what the workflow would
not do, says what it will do, and starts the workflow with a rollback request (execution name
rollback-<environment>-<endpoint>-<time>). A rollback goes back one version: afterwards the
restored version has no previous one; to go further back, push a revert commit. The rolled-back
content stays quarantined until a new commit changes it, or \`ballast retry\`.

Arguments:
  ENDPOINT              the Endpoint's metadata.name

${requestOptionsUsage({
  extra: `  --to COMMIT           the commit to go back to (7 to 64 hex digits): the previous version's,
                        the only one kept for a rollback (default: the previous version)
`,
  reason: 'why you roll back (recorded in the ledger entry with who asked)',
  wait: 'wait for the rollback to finish, then print its ledger entry',
  running: 'the rollback',
})}

${stateMachineUsage(ROLLBACK)}

${connectionUsage}

${permissionsUsage(ROLLBACK)}

Exit codes:
  0  the rollback was started (with --wait: it finished and the previous version is live again)
  1  refused: a rollout or another rollback holds the endpoint, nothing is live, there is no
     previous version, or --to is not the previous version; with --wait: the endpoint was not
     rolled back (the rollback failed, or the workflow decided otherwise), or it was still running
     when --timeout ran out
  2  usage error, unknown endpoint, the state could not be read or the workflow not started
`;

type ManualTrigger = Extract<RollbackTrigger, { kind: 'manual' }>;

/** How the rollback writes back to Git: ballast.yaml's writeBack at the rolled-back version. */
export type WriteBackPlan = 'revert-commit' | 'pull-request' | 'no';

/** What a rollback of this state would do, or why it must not be started. */
export type RollbackPlan =
  | { readonly refused: string }
  | {
      readonly refused?: undefined;
      /** The live version, rolled back and quarantined. */
      readonly from: LiveRef;
      /** The previous version, restored. */
      readonly to: LiveRef;
      readonly writeBack: WriteBackPlan;
      /** One sentence for the user: what the rollback will do. */
      readonly summary: string;
    };

/**
 * Decides from the endpoint's state alone whether the rollback workflow would act on this request,
 * and what it would do. Pure. The decision is the workflow's own (decideRollback); the words say
 * what to do instead.
 */
export function planRollback(state: EndpointState, trigger: ManualTrigger): RollbackPlan {
  const where = `${state.environment}/${state.endpoint}`;
  const decision = decideRollback(state, trigger);
  const { live, previous, lease } = state;
  if (decision.action === 'mid-rollout' && lease) {
    const holder = state.rollback?.execution === lease.execution ? 'a rollback' : 'a rollout';
    return {
      refused: `${holder} holds ${where}'s lease: ${short(lease.commit)} (execution ${lease.execution}, since ${formatTime(
        lease.acquiredAt,
      )}); let it finish (\`ballast status\`), then roll back if it is still needed`,
    };
  }
  if (decision.action !== 'act') {
    if (!live) return { refused: `${where} has nothing live that Ballast deployed: there is nothing to roll back` };
    if (!previous || previous.digest === live.digest) {
      const after =
        state.rollback?.outcome === 'restored' && state.rollback.to.digest === live.digest
          ? ` (a rollback restored it at ${formatTime(state.rollback.finishedAt)}; a rollback goes back one version)`
          : '';
      return {
        refused: `${where} runs ${short(live.commit)} and has no earlier verified version to roll back to${after}; to go further back, push a revert commit`,
      };
    }
    if (trigger.to !== undefined) {
      return {
        refused: `${where}: ${trigger.to} is not the previous version (${short(previous.commit)}, ${previous.endpointConfigName}); only the previous version is kept for a rollback, push a revert commit to go elsewhere`,
      };
    }
    return { refused: `${where}: ${decision.reason}` };
  }
  const { from, to } = decision;
  const source = pushSource(state);
  if (!source) {
    // Triage records nothing for an endpoint whose live version names no push: say so before starting.
    return {
      refused: `${where}: the state does not say which push brought ${short(from.commit)} (written by an older Ballast), so the rollback workflow would have nowhere to record it; push a revert commit`,
    };
  }
  const writeBack: WriteBackPlan = from.writeBack ? (from.writeBack.mode ?? defaultWriteBackMode(source)) : 'no';
  return {
    from,
    to,
    writeBack,
    summary: `rolls ${where} back from ${short(from.commit)} (${from.endpointConfigName}) to ${short(to.commit)} (${to.endpointConfigName}); quarantines ${short(from.commit)}'s content (${shortDigest(from.digest)}); writes back to Git: ${writeBack}`,
  };
}

/**
 * The source of the push the rollback is answered on, as Triage finds it (pushOf in
 * lambdas/handlers/rollback-triage.ts): the live version's push, else the desired push when it is
 * the live commit.
 */
function pushSource(state: EndpointState): 'codecommit' | 'github' | undefined {
  if (state.live?.push) return state.live.push.source;
  const desired = state.desired;
  return desired?.source &&
    desired.repository &&
    desired.branch &&
    desired.pushedBy &&
    desired.commit === state.live?.commit
    ? desired.source
    : undefined;
}

/** The rollback as `runRequest` runs it: the rollback workflow, started with a rollback request. */
function rollback(to: string | undefined): RequestCommand<RollbackRequest> {
  return {
    command: 'rollback',
    workflow: ROLLBACK,
    prepare(state, base) {
      const trigger: ManualTrigger = { kind: 'manual', ...base, ...(to ? { to } : {}) };
      const plan = planRollback(state, trigger);
      if (plan.refused !== undefined) return plan;
      const input: RollbackRequest = {
        ballast: 'rollback',
        environment: state.environment,
        endpoint: state.endpoint,
        ...base,
        ...(to ? { to } : {}),
      };
      const version = (v: LiveRef) => ({
        commit: v.commit,
        digest: v.digest,
        endpointConfigName: v.endpointConfigName,
      });
      return {
        announce: `This ${plan.summary}.`,
        input,
        name: requestExecutionName('rollback', input),
        result: { from: version(plan.from), to: version(plan.to), writeBack: plan.writeBack },
      };
    },
    // Finish writes the entry under the execution's name, with `rollback` set.
    findEntry: (entries, name) => entries.filter((e) => e.execution === name && e.rollback).at(-1),
    failure: (entry, where) =>
      entry.outcome === 'rolled-back'
        ? undefined
        : `${where} was not rolled back (${entry.outcome})${entry.reason ? `: ${entry.reason}` : ''}`,
    done: (entry, where) => {
      const restored = entry.rollback?.to;
      return `${where} runs ${short(restored?.commit)}${restored ? ` (${restored.endpointConfigName})` : ''} again; ${short(
        entry.commit,
      )}'s content is quarantined until a new commit changes it, or \`ballast retry\`.`;
    },
  };
}

export const rollbackCommand: Command = {
  name: 'rollback',
  summary: 'Roll an endpoint back to its previous version through the rollback workflow (the one alarms start)',
  usage,
  async run(args: readonly string[], io: CliIo): Promise<number> {
    const { values, positionals } = parseOrUsage(() =>
      parseArgs({
        args: [...args],
        options: { ...requestOptions, to: { type: 'string' } },
        strict: true,
        allowPositionals: true,
      }),
    );
    const endpoint = checkRequestArguments(values, positionals);
    // Git takes commit ids in either case; the request takes lower case.
    const to = values.to?.toLowerCase();
    if (to !== undefined && !COMMIT.test(to)) {
      throw new UsageError(`--to '${values.to}' is not a commit id (7 to 64 hex digits)`);
    }
    return runRequest(rollback(to), values, endpoint, io);
  },
};
