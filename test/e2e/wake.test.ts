/**
 * End to end: a deploy execution that waits for its endpoint is woken when SageMaker is done with
 * it, not at its next scheduled check. SageMaker's auto-rollback is silent (the endpoint is
 * InService again, on the old configuration): without Wake, a rollback early in a long bake would
 * reach the ledger, the commit and the quarantine only at the check an hour after Deploy. Wake
 * (an EventBridge rule on SageMaker's endpoint events) answers the wait's task token, and
 * CheckRollout sees the rollback within a minute, at no extra state per poll.
 *
 * The alarm fires from SageMaker's metrics: the broken build answers every request with a 500, and
 * traffic reaches the canary three minutes into its bake.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { GetCommentsForComparedCommitCommand, GetCommitCommand } from '@aws-sdk/client-codecommit';
import type { EndpointWork, Rollout } from '../../lambdas/workflow/types.ts';
import type { EventBridgeEvent } from '../../sandbox/events.ts';
import {
  ENDPOINT_FILE,
  editYaml,
  MODEL_FILE,
  PROMPT_FILE,
  REPO,
  requireFile,
  SUMMARIZER,
  sagemakerPattern,
  signal,
  type World,
  withArtifact,
  within,
  world,
} from './harness.ts';

const MINUTE = 60_000;

interface EndpointDetail {
  EndpointName: string;
  EndpointStatus: string;
  LastModifiedTime: number;
  PendingDeploymentSummary?: {
    ProductionVariants?: Array<{ VariantStatus?: Array<{ Status: string; StartTime: number }> }>;
  };
}

/** The example, with 30-minute bakes (canary and final) and a timeout that allows them. */
function longBakes(w: World): Record<string, string> {
  return {
    [ENDPOINT_FILE]: editYaml(requireFile(w.files, ENDPOINT_FILE), [
      [['spec', 'rollout', 'bakeSeconds'], 1800],
      [['spec', 'rollout', 'timeoutSeconds'], 7200],
    ]),
  };
}

/** When SageMaker was next InService (or Failed) on the endpoint, from the sandbox's event history. */
function settledAt(w: World, fromEvent: number): { at: number; event: EventBridgeEvent<EndpointDetail> } {
  const event = w.sandbox.events
    .events()
    .slice(fromEvent)
    .find(
      (e) =>
        e['detail-type'] === 'SageMaker Endpoint State Change' &&
        (e.detail as unknown as EndpointDetail).EndpointName === SUMMARIZER &&
        ['IN_SERVICE', 'FAILED'].includes((e.detail as unknown as EndpointDetail).EndpointStatus),
    ) as EventBridgeEvent<EndpointDetail> | undefined;
  assert.ok(event, 'SageMaker sent the endpoint state change');
  return { at: event.detail.LastModifiedTime, event };
}

/** The comments on a commit with their creation times. */
async function commentsWithTimes(w: World, commit: string): Promise<Array<{ content: string; at: number }>> {
  const parent = (await w.clients.codecommit.send(new GetCommitCommand({ repositoryName: REPO, commitId: commit })))
    .commit?.parents?.[0];
  const response = await w.clients.codecommit.send(
    new GetCommentsForComparedCommitCommand({
      repositoryName: REPO,
      afterCommitId: commit,
      ...(parent ? { beforeCommitId: parent } : {}),
    }),
  );
  return (response.commentsForComparedCommitData ?? []).flatMap((d) =>
    (d.comments ?? []).map((c) => ({ content: c.content ?? '', at: c.creationDate?.getTime() ?? 0 })),
  );
}

test('an alarm 3 minutes into a 30-minute canary bake: the rollback reaches the ledger, the quarantine and the commit within a minute of SageMaker finishing it', async () => {
  const w = await world();
  try {
    const good = await w.deploy({ ...w.files, ...longBakes(w) }, 'initial, with 30-minute bakes');
    const goodConfig = (await w.describe(SUMMARIZER)).EndpointConfigName;

    // The canary starts baking; three simulated minutes later traffic arrives, its requests fail,
    // and the alarm fires from the Invocation5XXErrors SageMaker publishes for them.
    let bakeStartedAt: number | undefined;
    let trafficAt: number | undefined;
    w.sandbox.events.subscribe(sagemakerPattern('SageMaker Endpoint Deployment State Change', SUMMARIZER), (e) => {
      const canary = (e.detail as unknown as EndpointDetail).PendingDeploymentSummary?.ProductionVariants?.[0];
      const status = canary?.VariantStatus?.[0];
      if (status?.Status === 'Baking' && bakeStartedAt === undefined) bakeStartedAt = status.StartTime;
    });
    const stopWatching = w.sandbox.clock.onAdvance(() => {
      if (
        bakeStartedAt === undefined ||
        trafficAt !== undefined ||
        w.sandbox.clock.nowMs() < bakeStartedAt + 3 * MINUTE
      )
        return;
      trafficAt = w.sandbox.clock.nowMs();
      w.sandbox.sagemaker.setLoad(SUMMARIZER, 60);
    });

    const artifact = await w.uploadArtifact('models/summarizer-llm/2025-02-01/model.tar.gz', Buffer.from('broken\n'));
    const broken = withArtifact(w.files, artifact);
    broken[MODEL_FILE] = editYaml(requireFile(broken, MODEL_FILE), [
      [['spec', 'environment', 'SANDBOX_ERROR_RATE'], '1'],
    ]);
    const eventsBefore = w.sandbox.events.events().length;
    const deployedAt = w.sandbox.clock.nowMs();
    const bad = await w.deploy(broken, 'summarizer-llm: a broken build');
    stopWatching();
    assert.ok(bakeStartedAt !== undefined && trafficAt !== undefined, 'the canary baked and got traffic');

    // SageMaker rolled back, because of the alarm, minutes into the bake (not at its end).
    const rollback = settledAt(w, eventsBefore);
    assert.equal(rollback.event.detail.EndpointStatus, 'IN_SERVICE');
    assert.equal(w.sandbox.sagemaker.endpoint(SUMMARIZER)?.lastUpdate?.cause, 'alarm:summarizer-5xx');
    assert.equal((await w.describe(SUMMARIZER)).EndpointConfigName, goodConfig, 'on the old configuration');
    // (The clock moves in steps while the execution waits: traffic starts at the first step past
    // the third minute, and the alarm at the end of a minute with errors.)
    assert.ok(
      rollback.at > bakeStartedAt + 3 * MINUTE && rollback.at < bakeStartedAt + 25 * MINUTE,
      `the rollback ended ${(rollback.at - bakeStartedAt) / MINUTE} minutes into the 30-minute bake`,
    );
    const within60s = (at: number, what: string) =>
      assert.ok(
        at >= rollback.at && at <= rollback.at + MINUTE,
        `${what} at +${(at - rollback.at) / 1000} s after SageMaker finished the rollback`,
      );

    // The ledger: rolled back, naming the alarm, recorded within a minute.
    const entry = (await w.ledger('summarizer')).find((e) => e.commit === bad);
    assert.equal(entry?.outcome, 'rolled-back');
    assert.equal(
      entry?.reason,
      `SageMaker rolled back to ${goodConfig}: summarizer-5xx went into ALARM during the rollout`,
    );
    within60s(Date.parse(entry?.finishedAt ?? ''), 'the ledger entry');

    // The quarantine: the bad content is held back, the good commit still live.
    const state = await w.state('summarizer');
    assert.deepEqual(
      state?.quarantined.map((q) => q.commit),
      [bad],
    );
    within60s(Date.parse(state?.quarantined[0]?.at ?? ''), 'the quarantine');
    assert.equal(state?.live?.commit, good);
    assert.equal(state?.lease, undefined);

    // The commit comment.
    const [comment, ...more] = await commentsWithTimes(w, bad);
    assert.equal(more.length, 0);
    assert.match(comment?.content ?? '', /^Ballast prod\/summarizer: rolled-back — .*summarizer-5xx/);
    within60s(comment?.at ?? 0, 'the commit comment');

    // Woken, not timed out: one wait and one check, where the schedule would have looked after an hour.
    const [execution] = w.executions(bad);
    assert.equal(execution?.status, 'SUCCEEDED', JSON.stringify(execution?.error));
    const afterDeploy = execution.states.slice(execution.states.indexOf('Deploy'));
    assert.deepEqual(afterDeploy.slice(0, 6), [
      'Deploy',
      'Started?',
      'WaitForRollout',
      'CheckRollout',
      'Settled?',
      'Record',
    ]);
    assert.ok(!execution.states.includes('SleepForRollout'));
    assert.ok(
      rollback.at + MINUTE < deployedAt + 60 * MINUTE,
      'recorded before the first scheduled look (an hour after Deploy) could have seen the rollback',
    );
  } finally {
    await w.stop();
  }
});

test('a wait nothing wakes (its event came before Park parked the token) ends at its scheduled check, as before', async () => {
  // Park does not park: as when SageMaker's event arrives between CheckRollout and Park's write.
  const w = await world({ around: { Park: async () => ({ parked: false }) } });
  try {
    await w.deploy(w.files, 'initial');
    const artifact = await w.uploadArtifact('models/summarizer-llm/2025-02-01/model.tar.gz', Buffer.from('v2\n'));
    const eventsBefore = w.sandbox.events.events().length;
    const commit = await w.deploy(withArtifact(w.files, artifact), 'summarizer-llm 2025-02-01');
    const entry = (await w.ledger('summarizer')).find((e) => e.commit === commit);
    assert.equal(entry?.outcome, 'deployed', entry?.reason);
    const settled = settledAt(w, eventsBefore);
    // The rollout settled at the 28th minute; the first scheduled check came at the same moment
    // (Deploy sized it from the rollout's phases), so the ledger entry follows within a check or two.
    assert.ok(Date.parse(entry?.finishedAt ?? '') >= settled.at, 'recorded after SageMaker settled');
    const [execution] = w.executions(commit);
    assert.ok(execution?.states.includes('WaitForRollout'));
    assert.ok(!execution?.states.includes('SleepForRollout'), 'the timeout, not a failure, ended the wait');
  } finally {
    await w.stop();
  }
});

test('a Park that keeps failing does not fail the rollout: the wait falls back to a plain Wait until the check', async () => {
  class InvalidInputError extends Error {
    override readonly name = 'InvalidInputError';
  }
  const w = await world({
    around: {
      Park: async () => {
        throw new InvalidInputError('the wake list cannot be written');
      },
    },
  });
  try {
    await w.deploy(w.files, 'initial');
    const commit = await w.deploy(
      { [PROMPT_FILE]: editYaml(requireFile(w.files, PROMPT_FILE), [[['spec', 'variables', 1, 'default'], '80']]) },
      'shorter summaries',
    );
    const [execution] = w.executions(commit);
    assert.equal(execution?.status, 'SUCCEEDED', JSON.stringify(execution?.error));
    assert.ok(execution.states.includes('SleepForRollout'), execution.states.join(','));
    assert.deepEqual(
      (await w.ledger('summarizer')).filter((e) => e.commit === commit).map((e) => e.outcome),
      ['deployed'],
    );
  } finally {
    await w.stop();
  }
});

test("a push waiting for another push's rollout deploys as soon as that rollout ends, and the older push's answer comes as soon", async () => {
  const commits = { a: '', b: '' };
  let pushedB = false;
  const bWaiting = signal();
  const w: World = await world({
    around: {
      Deploy: async (input: EndpointWork, next) => {
        const rollout = (await next(input)) as Rollout;
        if (input.push.commit === commits.b && rollout.status === 'waiting') bWaiting.resolve();
        if (input.push.commit === commits.a && rollout.status === 'started' && !pushedB) {
          pushedB = true;
          commits.b = await w.push(
            {
              [PROMPT_FILE]: editYaml(requireFile(w.files, PROMPT_FILE), [[['spec', 'variables', 1, 'default'], '80']]),
            },
            'B: shorter summaries, during A',
          );
          await within(bWaiting.promise, "B's Deploy to find the endpoint busy");
        }
        return rollout;
      },
    },
  });
  try {
    await w.deploy(w.files, 'initial');
    const artifact = await w.uploadArtifact('models/summarizer-llm/2025-02-01/model.tar.gz', Buffer.from('v2\n'));
    const eventsBefore = w.sandbox.events.events().length;
    const mark = w.sandbox.requests.all().length;
    commits.a = await w.push(withArtifact(w.files, artifact), 'A: summarizer-llm 2025-02-01');
    await w.settle();
    await w.settle();
    assert.ok(pushedB, 'B was pushed during A');

    // A's rollout ends; both executions waited for it (A to check it, B for the endpoint to be idle).
    const aDone = settledAt(w, eventsBefore);
    const updates = w
      .requestsSince(mark)
      .filter((r) => r.service === 'sagemaker' && r.operation === 'UpdateEndpoint' && r.status === 200);
    assert.equal(updates.length, 2, "A's update, then B's");
    const bStarted = Date.parse(updates[1]?.at ?? '');
    assert.ok(
      bStarted >= aDone.at && bStarted <= aDone.at + MINUTE,
      `B's UpdateEndpoint came ${(bStarted - aDone.at) / 1000} s after A's rollout ended (B's next look was 2 minutes away)`,
    );
    const ledger = await w.ledger('summarizer');
    const entryA = ledger.find((e) => e.commit === commits.a);
    assert.equal(entryA?.outcome, 'superseded');
    assert.ok(Date.parse(entryA?.finishedAt ?? '') <= aDone.at + MINUTE, "A's answer within a minute too");
    assert.deepEqual(
      ledger.filter((e) => e.commit === commits.b).map((e) => e.outcome),
      ['deployed'],
    );
  } finally {
    await w.stop();
  }
});
