import { InvalidInputError } from '../aws/errors.ts';
import { lambdaHandler } from '../runtime/handler.ts';
import { repositoryClients } from '../sources/repository-clients.ts';
import { defaultWriteBackMode, writeBack } from '../sources/write-back.ts';
import { keys } from '../state/keys.ts';
import { type WriteBackInput, writeBackInput } from '../workflow/rollback-payloads.ts';
import type { Snapshot } from '../workflow/snapshot.ts';
import { logger, stateStore } from './runtime.ts';

/**
 * WriteBack: after a restored rollback, when ballast.yaml's `writeBack` is on for the rolled-back
 * version, a commit on the environment's branch (or a pull request) that puts the endpoint's files
 * (its Endpoint, Model, Prompts and Configs) back to the restored version's content, read from the
 * two commits' snapshots. lambdas/sources/write-back.ts does the writing: nothing is written when
 * the branch no longer has the rolled-back content (someone moved on), and a retry finds its own
 * commit or pull request. The write-back commit's push starts no rollout: Lease finds its content
 * live and answers `already-live`.
 */
export async function writeBackStep(input: WriteBackInput) {
  const { from, to } = input.decision;
  if (!from || !to) throw new InvalidInputError('WriteBack needs the rolled-back and the restored version');
  const store = stateStore();
  const [bad, good] = await Promise.all([snapshot(store, from.commit), snapshot(store, to.commit)]);
  const paths = [...new Set([...(from.files ?? []), ...(to.files ?? [])])].sort();
  if (paths.length === 0)
    return { kind: 'skipped' as const, reason: 'the versions name no files (recorded before write-back existed)' };
  const restore = Object.fromEntries(paths.map((path) => [path, good.files[path] ?? null]));
  const expected = Object.fromEntries(paths.map((path) => [path, bad.files[path] ?? null]));
  const ledgerKey = keys.ledgerEntry(input.environment, input.endpoint, input.startedAt, from.commit, input.execution);
  const why =
    input.trigger.kind === 'alarm'
      ? `alarm ${input.trigger.alarm} went into ALARM`
      : `${input.trigger.requestedBy} asked for it${input.trigger.reason ? `: ${input.trigger.reason}` : ''}`;
  const result = await writeBack(
    {
      source: input.push.source,
      repository: input.push.repository,
      branch: input.push.branch,
      mode: from.writeBack?.mode ?? defaultWriteBackMode(input.push.source),
      badCommit: from.commit,
      goodCommit: to.commit,
      restore,
      expected,
      title: `Roll back ${input.environment}/${input.endpoint} to ${to.commit.slice(0, 12)} (${input.trigger.kind === 'alarm' ? input.trigger.alarm : 'requested'})`,
      body: [
        `Ballast rolled ${input.environment}/${input.endpoint} back from ${from.commit} to ${to.commit}: ${why}.`,
        `The endpoint already runs ${to.endpointConfigName}; this commit puts its files back to that content, so Git says what runs.`,
        '',
        `Ballast-Rollback: ${input.execution}`,
        `Ballast-Ledger: ${ledgerKey}`,
      ].join('\n'),
      idempotencyKey: `${input.execution}-${input.endpoint}`,
    },
    await repositoryClients(input.push.source),
  );
  logger.info('written back', { kind: result.kind });
  return result;
}

async function snapshot(store: ReturnType<typeof stateStore>, commit: string): Promise<Snapshot> {
  const found = await store.get<Snapshot>(keys.snapshot(commit));
  if (!found) throw new InvalidInputError(`the snapshot of ${commit} (${keys.snapshot(commit)}) does not exist`);
  return found.value;
}

export const handler = lambdaHandler(writeBackInput, writeBackStep, {
  keys: (input) => ({ commit: input.push.commit, environment: input.environment, endpoint: input.endpoint }),
});
