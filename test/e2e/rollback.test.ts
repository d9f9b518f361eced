/**
 * End to end: what must NOT reach (or stay on) the live endpoint. An invalid commit is rejected
 * before anything is touched; an alarm during the canary bake and a fleet that fails its health
 * check make SageMaker roll back silently, and the workflow must notice, keep the last good commit
 * live and quarantine the bad one.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DescribeAlarmsCommand } from '@aws-sdk/client-cloudwatch';
import type { EndpointWork, Plan, Rollout } from '../../lambdas/workflow/types.ts';
import {
  ENDPOINT_FILE,
  editYaml,
  lineOf,
  MODEL_FILE,
  requireFile,
  SUMMARIZER,
  sagemakerWrites,
  signal,
  updateEndpointCalls,
  type World,
  withArtifact,
  within,
  world,
} from './harness.ts';

async function liveConfig(w: World): Promise<string | undefined> {
  return (await w.describe(SUMMARIZER)).EndpointConfigName;
}

test('an invalid commit is rejected with file:line and changes nothing live', async () => {
  const w = await world();
  try {
    const good = await w.deploy(w.files, 'initial');
    const configBefore = await liveConfig(w);
    const stateBefore = await w.state('summarizer');
    const mark = w.sandbox.requests.all().length;

    // SageMaker allows a canary of at most 50%.
    const endpoint = editYaml(requireFile(w.files, ENDPOINT_FILE), [[['spec', 'rollout', 'canary', 'percent'], 80]]);
    const bad = await w.deploy({ [ENDPOINT_FILE]: endpoint }, 'summarizer: bigger canary');

    const [execution] = w.executions(bad);
    assert.equal(execution?.status, 'SUCCEEDED', JSON.stringify(execution?.error));
    const plan = (execution.output as { plan: Plan }).plan;
    assert.equal(plan.valid, false);
    assert.ok(execution.states.includes('RecordRejected'));
    assert.ok(!execution.states.includes('Endpoints'), 'no endpoint was considered');

    const [entry, ...more] = await w.ledger('_repository');
    assert.equal(more.length, 0);
    assert.equal(entry?.outcome, 'rejected');
    assert.equal(entry?.commit, bad);
    const issue = entry?.issues?.find((i) => i.file === ENDPOINT_FILE);
    assert.ok(issue, `an issue in ${ENDPOINT_FILE}: ${JSON.stringify(entry?.issues)}`);
    assert.equal(issue.line, lineOf(endpoint, 'percent: 80'));
    assert.ok(issue.column > 0);
    assert.match(issue.message, /expected: an integer from 1 to 50/, 'says what to change');

    // Nothing live changed.
    assert.deepEqual(sagemakerWrites(w.requestsSince(mark)), [], 'no SageMaker Create/Update calls');
    assert.equal(await liveConfig(w), configBefore);
    assert.deepEqual(await w.state('summarizer'), stateBefore);
    assert.deepEqual(
      (await w.ledger('summarizer')).map((e) => e.commit),
      [good],
    );
    assert.equal((await w.state('summarizer'))?.live?.pointerKey, `pointers/prod/summarizer/${good}.json`);
    assert.equal(await w.json(`pointers/prod/summarizer/${bad}.json`), undefined, 'nothing was registered');

    // The author hears about it on the commit, with the place to fix.
    const [comment] = await w.comments(bad);
    assert.match(comment ?? '', /rejected/);
    assert.ok(comment?.includes(`${ENDPOINT_FILE}:${issue.line}:${issue.column}`), comment);
  } finally {
    await w.stop();
  }
});

test('an alarm during the canary bake: SageMaker rolls back silently, CheckRollout notices, the content is quarantined', async () => {
  const w: World = await world();
  try {
    const good = await w.deploy(w.files, 'initial');
    const goodConfig = await liveConfig(w);
    const goodState = await w.state('summarizer');
    assert.equal(goodState?.live?.commit, good);

    // The endpoint has traffic, and the broken build answers every request with a 500: the
    // canary's share of the requests fails, and the alarm fires from SageMaker's metrics.
    w.sandbox.sagemaker.setLoad(SUMMARIZER, 60);
    const artifact = await w.uploadArtifact('models/summarizer-llm/2025-02-01/model.tar.gz', Buffer.from('broken\n'));
    const eventsBefore = w.sandbox.events.events().length;
    const bad = await w.deploy(brokenBuild(w, artifact), 'summarizer-llm: a broken build');
    const greenStatuses = w.sandbox.events
      .events()
      .slice(eventsBefore)
      .filter((e) => e['detail-type'] === 'SageMaker Endpoint Deployment State Change')
      .flatMap((e) => {
        const pending = (e.detail as { PendingDeploymentSummary?: { ProductionVariants?: unknown[] } })
          .PendingDeploymentSummary;
        const variant = pending?.ProductionVariants?.[0] as { VariantStatus?: Array<{ StatusMessage: string }> };
        return variant?.VariantStatus?.map((s) => s.StatusMessage) ?? [];
      });
    assert.ok(
      greenStatuses.some((m) => /^Baking .*canary capacity/.test(m)),
      `the canary baked: ${JSON.stringify(greenStatuses)}`,
    );
    assert.ok(
      !greenStatuses.some((m) => /full capacity/.test(m)),
      `the alarm stopped it before the full shift: ${JSON.stringify(greenStatuses)}`,
    );

    // SageMaker: InService on the OLD config, after a rollback nobody reported as a failure.
    const endpoint = await w.describe(SUMMARIZER);
    assert.equal(endpoint.EndpointStatus, 'InService');
    assert.equal(endpoint.EndpointConfigName, goodConfig);
    assert.equal(w.sandbox.sagemaker.endpoint(SUMMARIZER)?.lastUpdate?.cause, 'alarm:summarizer-5xx');

    const [execution] = w.executions(bad);
    assert.equal(execution?.status, 'SUCCEEDED', JSON.stringify(execution?.error));
    assert.ok(execution.states.includes('CheckRollout'));

    const entry = (await w.ledger('summarizer')).find((e) => e.commit === bad);
    assert.equal(entry?.outcome, 'rolled-back');
    // SageMaker does not say which alarm it acted on; CheckRollout reads the declared alarms' history.
    assert.equal(
      entry?.reason,
      `SageMaker rolled back to ${goodConfig}: summarizer-5xx went into ALARM during the rollout`,
    );
    assert.deepEqual(entry?.changes, ['model:summarizer-llm']);

    const state = await w.state('summarizer');
    assert.equal(state?.live?.commit, good, 'the last good commit is still live');
    assert.equal(state?.live?.endpointConfigName, goodConfig);
    assert.equal(state?.lastGood?.commit, good);
    assert.equal(state?.lease, undefined);
    assert.deepEqual(
      state?.quarantined.map((q) => q.commit),
      [bad],
    );
    assert.equal(state?.live?.pointerKey, `pointers/prod/summarizer/${good}.json`);
    const outcomes = (await w.ledger('summarizer')).filter((e) => e.commit === bad).map((e) => e.outcome);
    assert.ok(!outcomes.includes('deployed'), `never reported as deployed: ${outcomes}`);
    const [comment] = await w.comments(bad);
    assert.match(comment ?? '', /^Ballast prod\/summarizer: rolled-back/);

    // The quarantined commit is not tried again when its event comes back.
    const mark = w.sandbox.requests.all().length;
    const again = w.pipeline.deployFor(w.pushEvent(bad));
    await again.result;
    assert.deepEqual(sagemakerWrites(w.requestsSince(mark)), []);
    assert.equal(await liveConfig(w), goodConfig);
  } finally {
    await w.stop();
  }
});

test('a fleet that fails its health check leaves the endpoint on the last good version', async () => {
  const w = await world();
  try {
    const good = await w.deploy(w.files, 'initial');
    const goodConfig = await liveConfig(w);

    const model = editYaml(requireFile(w.files, MODEL_FILE), [[['spec', 'environment', 'SANDBOX_FAIL'], 'startup']]);
    const bad = await w.deploy({ [MODEL_FILE]: model }, 'summarizer-llm: a container that never starts');

    const [execution] = w.executions(bad);
    assert.equal(execution?.status, 'SUCCEEDED', JSON.stringify(execution?.error));
    const endpoint = await w.describe(SUMMARIZER);
    assert.equal(endpoint.EndpointStatus, 'InService');
    assert.equal(endpoint.EndpointConfigName, goodConfig);
    assert.match(endpoint.FailureReason ?? '', /ping health check/);

    const entry = (await w.ledger('summarizer')).find((e) => e.commit === bad);
    // An update whose green fleet fails its health check leaves the endpoint InService on the old
    // configuration (blue/green): CheckRollout reads that as a rollback, whatever the cause.
    assert.equal(entry?.outcome, 'rolled-back', entry?.reason);
    assert.match(entry?.reason ?? '', /ping health check/, 'the ledger says why');
    const state = await w.state('summarizer');
    assert.equal(state?.live?.commit, good);
    assert.equal(state?.lastGood?.commit, good);
    assert.deepEqual(
      state?.quarantined.map((q) => q.commit),
      [bad],
    );
    assert.match(state?.quarantined[0]?.reason ?? '', /ping health check/);

    // A fixed version deploys normally afterwards.
    const fixedModel = editYaml(requireFile(w.files, MODEL_FILE), [
      [['spec', 'environment', 'OPTION_MAX_MODEL_LEN'], '4096'],
    ]);
    const fixed = await w.deploy({ [MODEL_FILE]: fixedModel }, 'summarizer-llm: working container, shorter context');
    const after = await w.state('summarizer');
    assert.equal(after?.live?.commit, fixed);
    assert.deepEqual(
      (await w.ledger('summarizer')).map((e) => e.outcome),
      ['deployed', 'rolled-back', 'deployed'],
    );
  } finally {
    await w.stop();
  }
});

test('a first deploy whose fleet never starts is recorded as failed, with the reason', async () => {
  const w = await world();
  try {
    const broken = editYaml(requireFile(w.files, MODEL_FILE), [[['spec', 'environment', 'SANDBOX_FAIL'], 'startup']]);
    const bad = await w.deploy({ ...w.files, [MODEL_FILE]: broken }, 'initial, with a container that never starts');

    const [execution] = w.executions(bad);
    assert.equal(execution?.status, 'SUCCEEDED', JSON.stringify(execution?.error));
    const endpoint = await w.describe(SUMMARIZER);
    assert.equal(endpoint.EndpointStatus, 'Failed');
    const [entry] = await w.ledger('summarizer');
    assert.equal(entry?.outcome, 'failed');
    assert.match(entry?.reason ?? '', /ping health check/);
    const state = await w.state('summarizer');
    assert.equal(state?.live, undefined, 'nothing ever went live');
    assert.equal(state?.lastGood, undefined);
    assert.deepEqual(
      state?.quarantined.map((q) => q.commit),
      [bad],
    );
    assert.match((await w.comments(bad))[0] ?? '', /^Ballast prod\/summarizer: failed — .*ping health check/);
  } finally {
    await w.stop();
  }
});

test('after a failed first deploy, a fixed commit replaces the endpoint that never served', async () => {
  const w = await world();
  try {
    const broken = editYaml(requireFile(w.files, MODEL_FILE), [[['spec', 'environment', 'SANDBOX_FAIL'], 'startup']]);
    await w.deploy({ ...w.files, [MODEL_FILE]: broken }, 'initial, with a container that never starts');
    const fixed = await w.deploy({ [MODEL_FILE]: requireFile(w.files, MODEL_FILE) }, 'Revert the broken container');
    const entry = (await w.ledger('summarizer')).find((e) => e.commit === fixed);
    assert.equal(entry?.outcome, 'deployed', entry?.reason);
    const endpoint = await w.describe(SUMMARIZER);
    assert.equal(endpoint.EndpointStatus, 'InService');
    assert.equal((await w.state('summarizer'))?.live?.commit, fixed);
  } finally {
    await w.stop();
  }
});

test('a git revert pushed during a rollout: the revert waits for the update, then puts the previous config back', async () => {
  const commits = { a: '', b: '' };
  let revertFiles: Record<string, string> = {};
  let pushedB = false;
  const bWaiting = signal();
  const w: World = await world({
    around: {
      Deploy: async (input: EndpointWork, next) => {
        const rollout = (await next(input)) as Rollout;
        if (input.push.commit === commits.b && rollout.status === 'waiting') bWaiting.resolve();
        if (input.push.commit === commits.a && rollout.status === 'started' && !pushedB) {
          // The instant A's UpdateEndpoint went out (no simulated time has passed since): revert it.
          pushedB = true;
          assert.equal(w.sandbox.sagemaker.endpoint(SUMMARIZER)?.status, 'Updating', "A's rollout started");
          commits.b = await w.push(revertFiles, 'Revert "A: summarizer-llm 2025-02-01"');
          await within(bWaiting.promise, "the revert's Deploy to find the endpoint busy");
        }
        return rollout;
      },
    },
  });
  try {
    await w.deploy(w.files, 'initial');
    const baseConfig = await liveConfig(w);
    const mark = w.sandbox.requests.all().length;
    // The revert restores the previous files exactly.
    revertFiles = { [MODEL_FILE]: requireFile(w.files, MODEL_FILE) };
    const artifact = await w.uploadArtifact('models/summarizer-llm/2025-02-01/model.tar.gz', Buffer.from('new\n'));
    commits.a = await w.push(withArtifact(w.files, artifact), 'A: summarizer-llm 2025-02-01');
    await w.settle();
    await w.settle();
    assert.ok(pushedB, 'the revert was pushed during the rollout');
    const { a, b } = commits;
    for (const commit of [a, b]) {
      const [execution, ...more] = w.executions(commit);
      assert.equal(more.length, 0);
      assert.equal(execution?.status, 'SUCCEEDED', JSON.stringify(execution?.error));
    }

    // The revert is live, on the original configuration: same content, same content-named config.
    const endpoint = await w.describe(SUMMARIZER);
    assert.equal(endpoint.EndpointStatus, 'InService');
    assert.equal(endpoint.EndpointConfigName, baseConfig);
    const ledger = await w.ledger('summarizer');
    const entryB = ledger.filter((e) => e.commit === b);
    // B's content is what ran before A, but A held the lease and was rolling out when B asked for the
    // endpoint, so Lease's "already live" shortcut (no lease in flight) does not apply: B takes the
    // lease, waits for A's update, and rolls the endpoint back to its config itself: `deployed`.
    assert.deepEqual(
      entryB.map((e) => e.outcome),
      ['deployed'],
    );
    assert.equal(entryB[0]?.endpointConfigName, baseConfig);
    assert.deepEqual(
      ledger.filter((e) => e.commit === a).map((e) => e.outcome),
      ['superseded'],
    );
    const state = await w.state('summarizer');
    assert.equal(state?.live?.commit, b);
    assert.equal(state?.live?.endpointConfigName, baseConfig);
    assert.equal(state?.lastGood?.commit, b);
    assert.equal(state?.desired?.commit, b);
    assert.equal(state?.lease, undefined);
    assert.deepEqual(state?.quarantined, [], 'nothing is quarantined');
    // A's update, then the revert's.
    assert.equal(updateEndpointCalls(w, mark).length, 2);
  } finally {
    await w.stop();
  }
});

/** The example with a new model artifact whose container fails every request (the sandbox's rehearsal setting). */
function brokenBuild(w: World, artifact: Parameters<typeof withArtifact>[1]): Record<string, string> {
  const files = withArtifact(w.files, artifact);
  return {
    ...files,
    [MODEL_FILE]: editYaml(requireFile(files, MODEL_FILE), [[['spec', 'environment', 'SANDBOX_ERROR_RATE'], '1']]),
  };
}

/**
 * A world where a broken model's canary fails its requests under the endpoint's traffic, so that
 * `summarizer-5xx` fires from SageMaker's metrics and SageMaker rolls it back (the alarm test's
 * way); a few minutes later, on the old fleet again, the alarm is back to OK by itself.
 */
async function withRolledBackCommit(): Promise<{
  w: World;
  good: string;
  goodConfig: string | undefined;
  bad: string;
  badFiles: Record<string, string>;
}> {
  const w: World = await world();
  const good = await w.deploy(w.files, 'initial');
  const goodConfig = await liveConfig(w);
  w.sandbox.sagemaker.setLoad(SUMMARIZER, 60);
  const artifact = await w.uploadArtifact('models/summarizer-llm/2025-02-01/model.tar.gz', Buffer.from('broken\n'));
  const badFiles = brokenBuild(w, artifact);
  const bad = await w.deploy(badFiles, 'summarizer-llm: a broken build');
  await w.minutes(3);
  const alarm = (await w.clients.cloudwatch.send(new DescribeAlarmsCommand({ AlarmNames: ['summarizer-5xx'] })))
    .MetricAlarms?.[0];
  assert.equal(alarm?.StateValue, 'OK', 'the old fleet serves without errors: the alarm is OK again');
  assert.deepEqual(
    (await w.ledger('summarizer')).filter((e) => e.commit === bad && !e.rollback).map((e) => e.outcome),
    ['rolled-back'],
  );
  assert.equal(await liveConfig(w), goodConfig);
  return { w, good, goodConfig, bad, badFiles };
}

test('quarantine by content: a commit that re-applies a rolled-back change after its revert is quarantined, nothing deploys', async () => {
  const { w, good, goodConfig, bad, badFiles } = await withRolledBackCommit();
  try {
    const badDigest = (await w.state('summarizer'))?.quarantined[0]?.digest;
    assert.ok(badDigest);
    // The revert: the content that is live already.
    const revert = await w.deploy({ [MODEL_FILE]: requireFile(w.files, MODEL_FILE) }, 'Revert the broken build');
    assert.deepEqual(
      (await w.ledger('summarizer')).filter((e) => e.commit === revert).map((e) => e.outcome),
      ['unchanged'],
    );
    const mark = w.sandbox.requests.all().length;
    // Another commit, with another message and parent, re-applies the broken build.
    const again = await w.deploy(badFiles, 'Reapply "summarizer-llm: a broken build"');
    assert.notEqual(again, bad);

    const [execution] = w.executions(again);
    assert.equal(execution?.status, 'SUCCEEDED', JSON.stringify(execution?.error));
    assert.ok(!execution.states.includes('Register'), execution.states.join(','));
    const entries = (await w.ledger('summarizer')).filter((e) => e.commit === again);
    assert.deepEqual(
      entries.map((e) => e.outcome),
      ['quarantined'],
    );
    assert.equal(entries[0]?.digest, badDigest, 'the same content as the rolled-back commit');
    assert.ok(entries[0]?.reason?.includes(bad.slice(0, 12)), entries[0]?.reason);
    assert.match((await w.comments(again))[0] ?? '', /^Ballast prod\/summarizer: quarantined — /);

    assert.deepEqual(sagemakerWrites(w.requestsSince(mark)), [], 'no SageMaker write at all');
    assert.equal(updateEndpointCalls(w, mark).length, 0);
    assert.equal(await liveConfig(w), goodConfig, 'the endpoint still runs the last good config');
    const state = await w.state('summarizer');
    assert.equal(state?.live?.endpointConfigName, goodConfig);
    assert.equal(state?.lastGood?.commit, good);
    assert.deepEqual(
      state?.quarantined.map((q) => q.digest),
      [badDigest],
    );
  } finally {
    await w.stop();
  }
});

test('quarantine by content: an unrelated commit that leaves the rolled-back content as it is answers quarantined', async () => {
  const { w, goodConfig, bad } = await withRolledBackCommit();
  try {
    const badDigest = (await w.state('summarizer'))?.quarantined[0]?.digest;
    assert.ok(badDigest);
    const mark = w.sandbox.requests.all().length;
    // A comment in the Endpoint's file: the summarizer's effective content stays the rolled-back one.
    const endpoint = `# Owned by the platform team.\n${requireFile(w.files, ENDPOINT_FILE)}`;
    const unrelated = await w.deploy({ [ENDPOINT_FILE]: endpoint }, 'summarizer: say who owns it');

    const [execution] = w.executions(unrelated);
    assert.equal(execution?.status, 'SUCCEEDED', JSON.stringify(execution?.error));
    assert.deepEqual(sagemakerWrites(w.requestsSince(mark)), [], 'no SageMaker write at all');
    assert.equal(await liveConfig(w), goodConfig, 'the endpoint still runs the last good config');
    const entries = (await w.ledger('summarizer')).filter((e) => e.commit === unrelated);
    assert.deepEqual(
      entries.map((e) => e.outcome),
      ['quarantined'],
    );
    assert.ok(entries[0]?.reason?.includes(bad.slice(0, 12)), entries[0]?.reason);
  } finally {
    await w.stop();
  }
});
