/**
 * `ballast retry ENDPOINT`: the deliberate way out of a quarantine. It reads the endpoint's state,
 * refuses what the workflow would refuse (or should not be asked for), says what it will do, and
 * starts the deploy workflow with the retry input `lambdas/sources/retry.ts` parses. The workflow
 * decides the rest from the endpoint's state: only the desired commit, which a push to a watched
 * branch put there, can be deployed again.
 */
import { parseArgs } from 'node:util';
import type { SFNClient } from '@aws-sdk/client-sfn';
import { type RetryRequest, retryExecutionName } from '../../lambdas/sources/retry.ts';
import { type EndpointState, isQuarantined, type Quarantined } from '../../lambdas/state/endpoint-state.ts';
import { connectionUsage, formatTime, parseOrUsage, short } from './state-reader.ts';
import { shortDigest } from './status.ts';
import type { CliIo, Command } from './types.ts';
import {
  checkRequestArguments,
  findStackStateMachine as findWorkflow,
  permissionsUsage,
  type RequestCommand,
  type RequestFlags,
  requestOptions,
  requestOptionsUsage,
  runRequest,
  stateMachineUsage,
  type Workflow,
} from './workflow-request.ts';

const DEPLOY: Workflow = { name: 'deploy', arnVariable: 'BALLAST_DEPLOY_STATE_MACHINE_ARN' };

const usage = `Usage: ballast retry ENDPOINT [--environment ENV] [--reason TEXT] [--wait [--timeout SECONDS]] [--json]
                     [--state-machine ARN] [--requested-by WHO]
                     (--endpoint-url URL | --bucket B | --stack NAME) [--region R]

Deploys an endpoint's desired commit again and lifts the quarantine of its content. Content
(the endpoint's digest) whose rollout failed or was rolled back is quarantined: no push or
re-delivery deploys it again, only this command. It reads the endpoint's state first, refuses when
there is nothing to retry or a rollout is running, says what it will do, and starts the deploy
workflow with a retry request (execution name retry-<environment>-<endpoint>-<time>). The ledger
entry of the retried rollout records who asked for it (\`ballast history ENDPOINT\`).

Arguments:
  ENDPOINT              the Endpoint's metadata.name

${requestOptionsUsage({
  reason: 'why you retry (recorded in the ledger entry with who asked)',
  wait: 'wait for the rollout to finish, then print its ledger entry',
  running: 'the rollout',
})}

${stateMachineUsage(DEPLOY)}

${connectionUsage}

${permissionsUsage(DEPLOY)}

Exit codes:
  0  the retry was started (with --wait: it finished and the endpoint deployed)
  1  refused: no desired commit, a rollout holds the lease, or the desired content is already
     live; with --wait: the retried rollout did not deploy (rolled back, failed, superseded), or
     it was still running when --timeout ran out
  2  usage error, unknown endpoint, the state could not be read or the workflow not started
`;

export type RetryFlags = RequestFlags;

/** What a retry of this state would do, or why it must not be started. */
export type RetryPlan =
  | { readonly refused: string }
  | {
      readonly refused?: undefined;
      readonly commit: string;
      readonly digest: string;
      /** The quarantine the retry lifts, when the desired content is quarantined. */
      readonly lifts: Quarantined | undefined;
      /** One sentence for the user: what the retry will do. */
      readonly summary: string;
    };

/** Decides from the endpoint's state alone whether a retry makes sense, and what it would do. Pure. */
export function planRetry(state: EndpointState): RetryPlan {
  const where = `${state.environment}/${state.endpoint}`;
  const desired = state.desired;
  if (!desired) {
    return { refused: `${where} has no desired commit: no push has asked for it yet, so there is nothing to retry` };
  }
  if (state.lease) {
    return {
      refused: `a rollout holds ${where}'s lease: ${short(state.lease.commit)} (execution ${state.lease.execution}, since ${formatTime(
        state.lease.acquiredAt,
      )}); let it finish (\`ballast status\`), then retry if it is held back`,
    };
  }
  if (!desired.source || !desired.repository || !desired.branch || !desired.pushedBy) {
    // Resolve would fail the same way; say it before starting an execution that cannot work.
    return {
      refused: `${where}: the state does not say which push asked for ${short(desired.commit)} (written by an older Ballast); push again`,
    };
  }
  const lifts = state.quarantined.find((q) => q.digest === desired.digest);
  if (!isQuarantined(state, desired.digest) && state.live?.digest === desired.digest) {
    return {
      refused: `${where} already runs its desired content (${short(desired.commit)}): there is nothing to retry`,
    };
  }
  const again = `deploys ${short(desired.commit)} again`;
  const summary = lifts
    ? `lifts the quarantine of ${shortDigest(lifts.digest)} (rolled back at ${short(lifts.commit)}: ${lifts.reason}) and ${again}`
    : `${again} (its content ${shortDigest(desired.digest)} is not quarantined; live is ${short(state.live?.commit)})`;
  return { commit: desired.commit, digest: desired.digest, lifts, summary };
}

/** The retry as `runRequest` runs it: the deploy workflow, started with the retry input. */
const retry: RequestCommand<RetryRequest> = {
  command: 'retry',
  workflow: DEPLOY,
  prepare(state, base) {
    const plan = planRetry(state);
    if (plan.refused !== undefined) return plan;
    const input: RetryRequest = {
      source: 'ballast',
      action: 'retry',
      environment: state.environment,
      endpoint: state.endpoint,
      ...base,
    };
    return {
      announce: `Retrying ${state.environment}/${state.endpoint}: ${plan.summary}.`,
      input,
      name: retryExecutionName(input),
      result: { commit: plan.commit, digest: plan.digest, liftsQuarantine: plan.lifts ?? null },
    };
  },
  // The entry Record wrote for this retry (matched by the instant it was requested at).
  findEntry: (entries, _name, input) => entries.filter((e) => e.retry?.requestedAt === input.requestedAt).at(-1),
  failure: (entry, where) =>
    entry.outcome === 'deployed' ? undefined : `${where} ${entry.outcome}${entry.reason ? `: ${entry.reason}` : ''}`,
  done: (entry, where) => `${where} runs ${short(entry.commit)} again.`,
};

export const retryCommand: Command = {
  name: 'retry',
  summary: "Deploy an endpoint's desired commit again and lift the quarantine of its content",
  usage,
  async run(args: readonly string[], io: CliIo): Promise<number> {
    const { values, positionals } = parseOrUsage(() =>
      parseArgs({ args: [...args], options: requestOptions, strict: true, allowPositionals: true }),
    );
    const endpoint = checkRequestArguments(values, positionals);
    return runRequest(retry, values, endpoint, io);
  },
};

/**
 * The deploy workflow of a stack: lib/deploy-workflow.ts names it `<stack>-deploy` unless the stack
 * sets `stateMachineName` (then pass --state-machine).
 */
export function findStackStateMachine(sfn: Pick<SFNClient, 'send'>, stack: string): Promise<string> {
  return findWorkflow(sfn, stack, DEPLOY);
}
