/**
 * End to end: the rollback workflow. A model that passes its canary and goes live, then fails
 * requests under load: its alarm fires from SageMaker's metrics (no SetAlarmState anywhere), the
 * rollback workflow restores the previous version, quarantines the bad content, writes a revert
 * commit (the example's writeBack) that deploys nothing, and tells Git, EventBridge and the alarm
 * topic. Also: a duplicate alarm event, an alarm during a rollout, and an alarm with no version to
 * go back to.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { GetBranchCommand, GetCommitCommand, GetFileCommand } from '@aws-sdk/client-codecommit';
import type { LedgerEntry } from '../../lambdas/state/ledger.ts';
import type { LocalExecution } from '../../sandbox/runner.ts';
import {
  editYaml,
  MODEL_FILE,
  REPO,
  requireFile,
  SUMMARIZER,
  updateEndpointCalls,
  type World,
  world,
} from './harness.ts';

const ALARM = 'summarizer-5xx';

/** The example's model with rehearsal behaviour in its container environment (a new version). */
function modelWith(w: World, environment: Record<string, string>): string {
  return editYaml(
    requireFile(w.files, MODEL_FILE),
    Object.entries(environment).map(([name, value]) => [['spec', 'environment', name], value]),
  );
}

function rollbackExecutions(w: World): readonly LocalExecution[] {
  return w.pipeline.runner.executions('rollback');
}

function rollbackEntries(entries: readonly LedgerEntry[]): LedgerEntry[] {
  return entries.filter((e) => e.rollback !== undefined);
}

async function branchHead(w: World): Promise<string | undefined> {
  const branch = await w.clients.codecommit.send(new GetBranchCommand({ repositoryName: REPO, branchName: 'main' }));
  return branch.branch?.commitId;
}

async function fileAt(w: World, commit: string, path: string): Promise<string> {
  const file = await w.clients.codecommit.send(
    new GetFileCommand({ repositoryName: REPO, commitSpecifier: commit, filePath: path }),
  );
  return Buffer.from(file.fileContent ?? new Uint8Array()).toString('utf8');
}

test('a version that fails under load after its rollout is rolled back from its alarm, quarantined and reverted in Git', async () => {
  const w = await world();
  try {
    const good = await w.deploy(w.files, 'initial');
    const goodConfig = (await w.describe(SUMMARIZER)).EndpointConfigName;
    // Traffic the bad version handles during its canary and after it (60 a minute, under 90).
    w.sandbox.sagemaker.setLoad(SUMMARIZER, 60);
    const badModel = modelWith(w, { SANDBOX_ERRORS_ABOVE_RPM: '90' });
    const bad = await w.deploy({ [MODEL_FILE]: badModel }, 'summarizer-llm: new container settings');
    const [badEntry] = (await w.ledger('summarizer')).filter((e) => e.commit === bad);
    assert.equal(badEntry?.outcome, 'deployed', 'the bad version passes its canary and goes live');
    const badConfig = (await w.describe(SUMMARIZER)).EndpointConfigName;
    assert.notEqual(badConfig, goodConfig);
    assert.equal((await w.state('summarizer'))?.previous?.commit, good, 'the previous version is kept');
    assert.equal(rollbackExecutions(w).length, 0, 'no alarm so far');

    // Load rises past what the bad version survives: requests fail, the alarm fires from metrics.
    const mark = w.sandbox.requests.all().length;
    w.sandbox.sagemaker.setLoad(SUMMARIZER, 150);
    await w.minutes(3);

    const alarmEvents = w.sandbox.events
      .events()
      .filter(
        (e) =>
          e['detail-type'] === 'CloudWatch Alarm State Change' &&
          (e.detail as { alarmName?: string }).alarmName === ALARM &&
          (e.detail as { state?: { value?: string } }).state?.value === 'ALARM',
      );
    assert.equal(alarmEvents.length, 1, 'the 5XX alarm went into ALARM once, from the failing requests');
    const executions = rollbackExecutions(w);
    assert.ok(executions.length > 0, 'the alarm started the rollback workflow');
    const rollback = executions.find(
      (e) => (e.input as { detail?: { alarmName?: string } }).detail?.alarmName === ALARM,
    );
    assert.equal(rollback?.status, 'SUCCEEDED', JSON.stringify(rollback?.error));
    for (const state of ['Triage', 'Apply', 'CheckRollback', 'Restore', 'WriteBack', 'Finish']) {
      assert.ok(rollback.states.includes(state), `the rollback ran ${state}: ${rollback.states.join(' > ')}`);
    }

    // The endpoint runs the previous version again, all at once, its variant properties kept.
    assert.equal((await w.describe(SUMMARIZER)).EndpointConfigName, goodConfig);
    const updates = updateEndpointCalls(w, mark);
    assert.equal(updates.length, 1, 'one UpdateEndpoint: the rollback');
    const restoredEndpoint = await w.describe(SUMMARIZER);
    assert.deepEqual(restoredEndpoint.LastDeploymentConfig, {
      BlueGreenUpdatePolicy: {
        TrafficRoutingConfiguration: { Type: 'ALL_AT_ONCE', WaitIntervalInSeconds: 0 },
        TerminationWaitInSeconds: 0,
        MaximumExecutionTimeoutInSeconds: 1800,
      },
    });
    assert.equal(restoredEndpoint.ProductionVariants?.[0]?.CurrentInstanceCount, 2, 'the instance count is kept');

    // State: the previous version live; the bad content quarantined.
    const state = await w.state('summarizer');
    assert.equal(state?.live?.commit, good);
    assert.equal(state?.lease, undefined);
    assert.equal(state?.rollback?.outcome, 'restored');
    assert.ok(
      state?.quarantined.some((q) => q.commit === bad && q.reason.includes(ALARM)),
      JSON.stringify(state?.quarantined),
    );

    // The ledger: one rollback entry, against the bad commit, naming the alarm.
    const entries = rollbackEntries(await w.ledger('summarizer'));
    assert.equal(entries.length, 1, JSON.stringify(entries));
    const [entry] = entries;
    assert.equal(entry?.outcome, 'rolled-back');
    assert.equal(entry?.commit, bad);
    assert.equal(entry?.rollback?.trigger.kind, 'alarm');
    assert.equal(entry?.rollback?.to?.commit, good);
    assert.match(entry?.reason ?? '', /alarm summarizer-5xx went into ALARM after the rollout/);

    // Write-back: a revert commit on main, on top of the bad commit, with the good content.
    assert.equal(entry?.rollback?.writeBack?.kind, 'committed', JSON.stringify(entry?.rollback?.writeBack));
    const revert = entry?.rollback?.writeBack?.commit ?? '';
    assert.equal(await branchHead(w), revert);
    const revertCommit = (
      await w.clients.codecommit.send(new GetCommitCommand({ repositoryName: REPO, commitId: revert }))
    ).commit;
    assert.deepEqual(revertCommit?.parents, [bad]);
    assert.match(revertCommit?.message ?? '', /summarizer-5xx/);
    assert.match(revertCommit?.message ?? '', /Ballast-Ledger: ledger\/prod\/summarizer\//);
    assert.equal(await fileAt(w, revert, MODEL_FILE), await fileAt(w, good, MODEL_FILE));
    // ... whose push rolls nothing out: its content is what runs, so it only becomes the desired commit.
    const [revertExecution] = w.executions(revert);
    assert.equal(revertExecution?.status, 'SUCCEEDED');
    assert.equal(updateEndpointCalls(w, mark).length, 1, 'the revert commit started no rollout');
    const [revertEntry] = (await w.ledger('summarizer')).filter((e) => e.commit === revert);
    assert.equal(revertEntry?.outcome, 'unchanged');
    assert.match(revertEntry?.reason ?? '', /live already/);
    assert.equal((await w.state('summarizer'))?.desired?.commit, revert, 'Git and the endpoint agree again');
    assert.equal((await w.describe(SUMMARIZER)).EndpointConfigName, goodConfig);

    // Told: the bad commit's comment, an EventBridge event, the alarm topic.
    assert.ok(
      (await w.comments(bad)).some((c) => c.includes('rolled-back') && c.includes(ALARM)),
      'the bad commit is answered',
    );
    const told = w.sandbox.eventbridge.events('ballast');
    assert.equal(told.length, 1);
    assert.equal(told[0]?.['detail-type'], 'Ballast Rollback');
    const messages = w.sandbox.sns.messages();
    assert.equal(messages.length, 1);
    assert.match(messages[0]?.subject ?? '', /prod\/summarizer: rolled back/);

    // A commit that brings the bad content back is refused by the quarantine, not deployed.
    const again = await w.deploy({ [MODEL_FILE]: badModel }, 'try the new container settings again');
    const [againEntry] = (await w.ledger('summarizer')).filter((e) => e.commit === again);
    assert.equal(againEntry?.outcome, 'quarantined');
    assert.equal(updateEndpointCalls(w, mark).length, 1, 'still only the rollback');
    assert.equal((await w.describe(SUMMARIZER)).EndpointConfigName, goodConfig);
  } finally {
    await w.stop();
  }
});

test('a duplicate alarm event does nothing twice', async () => {
  const w = await world();
  try {
    await w.deploy(w.files, 'initial');
    w.sandbox.sagemaker.setLoad(SUMMARIZER, 60);
    await w.deploy({ [MODEL_FILE]: modelWith(w, { SANDBOX_ERRORS_ABOVE_RPM: '90' }) }, 'new settings');
    w.sandbox.sagemaker.setLoad(SUMMARIZER, 150);
    await w.minutes(3);
    const [alarmEvent] = w.sandbox.events
      .events()
      .filter(
        (e) =>
          e['detail-type'] === 'CloudWatch Alarm State Change' &&
          (e.detail as { alarmName?: string }).alarmName === ALARM,
      );
    assert.ok(alarmEvent, 'the alarm fired');
    assert.equal(rollbackEntries(await w.ledger('summarizer')).length, 1);
    const mark = w.sandbox.requests.all().length;

    // EventBridge delivers at least once: the same transition arrives again.
    w.pipeline.runner.start('rollback', alarmEvent);
    await w.settle();

    const last = rollbackExecutions(w).at(-1);
    assert.equal(last?.status, 'SUCCEEDED');
    assert.deepEqual(
      last?.states.filter((s) => s === 'Apply'),
      [],
      'nothing applied',
    );
    assert.equal(updateEndpointCalls(w, mark).length, 0);
    assert.equal(rollbackEntries(await w.ledger('summarizer')).length, 1, 'no second entry');
  } finally {
    await w.stop();
  }
});

test('an alarm during a rollout is left to SageMaker and the deploy workflow, and recorded', async () => {
  const w = await world();
  try {
    await w.deploy(w.files, 'initial');
    const goodConfig = (await w.describe(SUMMARIZER)).EndpointConfigName;
    w.sandbox.sagemaker.setLoad(SUMMARIZER, 60);
    // Fails every request: the canary's share of the traffic trips the alarm during the bake.
    const bad = await w.deploy({ [MODEL_FILE]: modelWith(w, { SANDBOX_ERROR_RATE: '1' }) }, 'broken container');

    const executions = rollbackExecutions(w);
    assert.ok(executions.length > 0, 'the alarm started the rollback workflow');
    assert.ok(
      executions.every((e) => !e.states.includes('Apply')),
      'the rollback workflow changed nothing',
    );
    const recorded = rollbackEntries(await w.ledger('summarizer'));
    assert.equal(recorded.length, 1, JSON.stringify(recorded));
    assert.equal(recorded[0]?.rollback?.action, 'mid-rollout');
    assert.equal(recorded[0]?.outcome, 'unchanged');
    // SageMaker's auto-rollback acted; the deploy workflow recorded it.
    const [deployEntry] = (await w.ledger('summarizer')).filter((e) => e.commit === bad && !e.rollback);
    assert.equal(deployEntry?.outcome, 'rolled-back');
    assert.match(deployEntry?.reason ?? '', /summarizer-5xx/);
    assert.equal((await w.describe(SUMMARIZER)).EndpointConfigName, goodConfig);
  } finally {
    await w.stop();
  }
});

test('an alarm with no earlier version to go back to is recorded and told, and changes nothing', async () => {
  const w = await world();
  try {
    const first = await w.deploy(
      { ...w.files, [MODEL_FILE]: modelWith(w, { SANDBOX_ERRORS_ABOVE_RPM: '30' }) },
      'initial, a model that fails under load',
    );
    const config = (await w.describe(SUMMARIZER)).EndpointConfigName;
    const mark = w.sandbox.requests.all().length;
    w.sandbox.sagemaker.setLoad(SUMMARIZER, 60);
    await w.minutes(3);

    const recorded = rollbackEntries(await w.ledger('summarizer'));
    assert.equal(recorded.length, 1, JSON.stringify(recorded));
    assert.equal(recorded[0]?.rollback?.action, 'no-last-good');
    assert.equal(recorded[0]?.commit, first);
    assert.equal(updateEndpointCalls(w, mark).length, 0);
    assert.equal((await w.describe(SUMMARIZER)).EndpointConfigName, config);
    const messages = w.sandbox.sns.messages();
    assert.equal(messages.length, 1, 'someone is told');
    assert.match(messages[0]?.subject ?? '', /alarm, not rolled back/);
  } finally {
    await w.stop();
  }
});
