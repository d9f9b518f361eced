// `ballast rollback`: the pre-check (the rollback workflow's own decision), the command against a
// sandbox's state bucket and Step Functions API with a stand-in workflow that records what the
// rollback workflow's Restore and Finish would, and (skipped until the branch has the sandbox's
// EventBridge and the WriteBack step) the real rollback workflow on a sandbox running the local
// pipeline.
import assert from 'node:assert/strict';
import { userInfo } from 'node:os';
import { after, before, describe, it } from 'node:test';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { main } from '../../bin/cli.ts';
import { renderHistory } from '../../bin/commands/history.ts';
import { planRollback } from '../../bin/commands/rollback.ts';
import { formatTime } from '../../bin/commands/state-reader.ts';
import { renderStatus, rollbackLedgerKey, type StatusEntry, statusOf } from '../../bin/commands/status.ts';
import type { EndpointState, LiveRef } from '../../lambdas/state/endpoint-state.ts';
import { JsonStore } from '../../lambdas/state/json-store.ts';
import { keys } from '../../lambdas/state/keys.ts';
import { appendLedger, type LedgerEntry, type LedgerRollback, readLedger } from '../../lambdas/state/ledger.ts';
import { beginRollback, decideRollback, finishRollback, type RollbackTrigger } from '../../lambdas/state/rollback.ts';
import { type RollbackRequest, rollbackRequest } from '../../lambdas/workflow/rollback-payloads.ts';
import type { LocalExecution } from '../../sandbox/runner.ts';
import { type Sandbox, startSandbox } from '../../sandbox/sandbox.ts';
import { captureIo } from '../support/cli.ts';
import { assertUsageErrors, requestUsageCases } from './usage.ts';

const capture = (env: NodeJS.ProcessEnv = {}) => captureIo({ env });

const BAD = 'b'.repeat(40);
const GOOD = 'a'.repeat(40);
const push = {
  source: 'codecommit' as const,
  repository: 'model-repo',
  branch: 'main',
  pushedBy: 'arn:aws:iam::111122223333:user/ada',
  pushedAt: '2026-03-01T09:00:00.000Z',
};
const good: LiveRef = {
  commit: GOOD,
  digest: '1'.repeat(64),
  endpointConfigName: 'ballast-prod-summarizer-aaaaaaaaaaaa',
  alarms: ['summarizer-5xx'],
  files: ['endpoints/summarizer.yaml', 'models/summarizer-llm.yaml'],
  push,
  writeBack: { mode: 'revert-commit' },
  at: '2026-03-01T09:05:00.000Z',
};
const bad: LiveRef = {
  ...good,
  commit: BAD,
  digest: '2'.repeat(64),
  endpointConfigName: 'ballast-prod-summarizer-bbbbbbbbbbbb',
  push: { ...push, pushedAt: '2026-03-01T09:10:00.000Z' },
  at: '2026-03-01T09:15:00.000Z',
};
/** Two verified versions: `bad` live, `good` before it. */
const deployedTwice: EndpointState = {
  environment: 'prod',
  endpoint: 'summarizer',
  desired: { commit: BAD, digest: bad.digest, ...push, pushedAt: '2026-03-01T09:10:00.000Z' },
  live: bad,
  lastGood: bad,
  previous: good,
  quarantined: [],
  updatedAt: '2026-03-01T09:15:00.000Z',
};
const manual = (extra: Partial<Extract<RollbackTrigger, { kind: 'manual' }>> = {}) =>
  ({ kind: 'manual', requestedBy: 'ada', requestedAt: '2026-03-01T10:00:00.000Z', ...extra }) as const;

describe('what a rollback would do (the rollback workflow decision, as a pre-check)', () => {
  it('rolls the live version back to the previous one, quarantines it and says how it writes back', () => {
    const plan = planRollback(deployedTwice, manual());
    assert.equal(plan.refused, undefined);
    assert.equal(
      'summary' in plan ? plan.summary : '',
      "rolls prod/summarizer back from bbbbbbb (ballast-prod-summarizer-bbbbbbbbbbbb) to aaaaaaa (ballast-prod-summarizer-aaaaaaaaaaaa); quarantines bbbbbbb's content (222222222222); writes back to Git: revert-commit",
    );
    assert.equal('from' in plan ? plan.from.commit : '', BAD);
    assert.equal('to' in plan ? plan.to.commit : '', GOOD);
  });

  it("writes back as the rolled-back version's ballast.yaml says: its mode, the source's default, or not at all", () => {
    const withLive = (live: LiveRef): EndpointState => ({ ...deployedTwice, live });
    const writeBackOf = (state: EndpointState) => {
      const plan = planRollback(state, manual());
      return 'writeBack' in plan ? plan.writeBack : plan.refused;
    };
    assert.equal(writeBackOf(withLive({ ...bad, writeBack: { mode: 'pull-request' } })), 'pull-request');
    assert.equal(writeBackOf(withLive({ ...bad, writeBack: {} })), 'revert-commit', 'CodeCommit: a revert commit');
    assert.equal(
      writeBackOf(withLive({ ...bad, writeBack: {}, push: { ...push, source: 'github', repository: 'acme/models' } })),
      'pull-request',
      'GitHub: a pull request',
    );
    const { writeBack: _off, ...noWriteBack } = bad;
    assert.equal(writeBackOf(withLive(noWriteBack)), 'no');
    const plan = planRollback(withLive(noWriteBack), manual());
    assert.match('summary' in plan ? plan.summary : '', /; writes back to Git: no$/);
  });

  it('--to: the previous commit, by a prefix, is accepted; any other commit is refused', () => {
    assert.equal(planRollback(deployedTwice, manual({ to: GOOD.slice(0, 7) })).refused, undefined);
    assert.equal(planRollback(deployedTwice, manual({ to: GOOD })).refused, undefined);
    assert.equal(
      planRollback(deployedTwice, manual({ to: 'c'.repeat(7) })).refused,
      'prod/summarizer: ccccccc is not the previous version (aaaaaaa, ballast-prod-summarizer-aaaaaaaaaaaa); only the previous version is kept for a rollback, push a revert commit to go elsewhere',
    );
    assert.match(
      planRollback(deployedTwice, manual({ to: BAD.slice(0, 9) })).refused ?? '',
      /is not the previous version/,
    );
  });

  it('refuses while a rollout or a rollback holds the lease, naming it', () => {
    const lease = {
      commit: 'c'.repeat(40),
      digest: '3'.repeat(64),
      execution: 'push-42',
      pushedAt: '2026-03-01T09:20:00.000Z',
      acquiredAt: '2026-03-01T09:20:01.000Z',
    };
    assert.equal(
      planRollback({ ...deployedTwice, lease }, manual()).refused,
      "a rollout holds prod/summarizer's lease: ccccccc (execution push-42, since 2026-03-01 09:20:01Z); let it finish (`ballast status`), then roll back if it is still needed",
    );
    const decision = decideRollback(deployedTwice, manual());
    assert.equal(decision.action, 'act');
    const rollingBack =
      decision.action === 'act'
        ? beginRollback(deployedTwice, 'rollback-prod-summarizer-1', decision, manual(), '2026-03-01T10:00:01.000Z')
        : undefined;
    assert.ok(rollingBack);
    assert.match(
      planRollback(rollingBack, manual()).refused ?? '',
      /^a rollback holds prod\/summarizer's lease: aaaaaaa \(execution rollback-prod-summarizer-1,/,
    );
  });

  it('refuses with nothing live, or no earlier verified version (also right after a rollback)', () => {
    const { live: _live, lastGood: _lastGood, previous: _previous, ...bare } = deployedTwice;
    assert.equal(
      planRollback(bare, manual()).refused,
      'prod/summarizer has nothing live that Ballast deployed: there is nothing to roll back',
    );
    const { previous: _p, ...first } = deployedTwice;
    assert.equal(
      planRollback(first, manual()).refused,
      'prod/summarizer runs bbbbbbb and has no earlier verified version to roll back to; to go further back, push a revert commit',
    );
    assert.match(
      planRollback({ ...deployedTwice, previous: { ...good, digest: bad.digest } }, manual()).refused ?? '',
      /no earlier verified version/,
    );

    const decision = decideRollback(deployedTwice, manual());
    assert.equal(decision.action, 'act');
    if (decision.action !== 'act') return;
    const begun = beginRollback(deployedTwice, 'rollback-1', decision, manual(), '2026-03-01T10:00:01.000Z');
    const restored = begun && finishRollback(begun, 'rollback-1', 'restored', '2026-03-01T10:02:00.000Z');
    assert.ok(restored);
    assert.equal(
      planRollback(restored, manual()).refused,
      'prod/summarizer runs aaaaaaa and has no earlier verified version to roll back to (a rollback restored it at 2026-03-01 10:02:00Z; a rollback goes back one version); to go further back, push a revert commit',
    );
  });

  it('refuses a live version whose push is unknown: the workflow would record nothing', () => {
    const { push: _push, ...older } = bad;
    const state: EndpointState = {
      ...deployedTwice,
      live: older,
      desired: { commit: BAD, digest: bad.digest, pushedAt: push.pushedAt },
    };
    assert.match(planRollback(state, manual()).refused ?? '', /the state does not say which push brought bbbbbbb/);
    // Triage falls back on the desired push when it is the live commit.
    assert.equal(planRollback({ ...deployedTwice, live: older }, manual()).refused, undefined);
  });
});

describe('status and history show rollbacks', () => {
  const alarm: RollbackTrigger = {
    kind: 'alarm',
    alarm: 'summarizer-5xx',
    reason: 'Threshold Crossed: 1 datapoint [12.0] was greater than the threshold (5.0).',
    at: '2026-03-01T10:00:00.000Z',
  };
  const restoredState = (trigger: RollbackTrigger, outcome: 'restored' | 'failed' | undefined): EndpointState => {
    const { previous: _previous, ...rest } = deployedTwice;
    const record = {
      execution: 'rollback-x',
      trigger,
      from: bad,
      to: good,
      startedAt: '2026-03-01T10:00:05.000Z',
      ...(outcome ? { outcome, finishedAt: '2026-03-01T10:03:00.000Z' } : {}),
    };
    return {
      ...(outcome === 'restored' ? { ...rest, live: good, lastGood: good } : deployedTwice),
      quarantined: [{ commit: BAD, digest: bad.digest, reason: 'alarm', at: '2026-03-01T10:00:05.000Z' }],
      rollback: record,
    };
  };
  const entryOf = (state: EndpointState, writeBack?: LedgerRollback['writeBack']): LedgerEntry => ({
    environment: 'prod',
    endpoint: 'summarizer',
    commit: BAD,
    ...push,
    deliveryId: 'rollback-x',
    execution: 'rollback-x',
    outcome: 'rolled-back',
    reason: 'alarm summarizer-5xx went into ALARM after the rollout',
    startedAt: '2026-03-01T10:00:00.000Z',
    finishedAt: '2026-03-01T10:03:00.000Z',
    durationSeconds: 180,
    rollback: {
      action: 'act',
      trigger: state.rollback?.trigger ?? alarm,
      from: { commit: BAD, endpointConfigName: bad.endpointConfigName },
      to: { commit: GOOD, endpointConfigName: good.endpointConfigName },
      outcome: 'restored',
      ...(writeBack ? { writeBack } : {}),
    },
  });
  const statusLines = (state: EndpointState, entry?: LedgerEntry) => {
    const lines = renderStatus('s3://state', [
      { ...state, status: statusOf(state), ...(entry ? { rollbackEntry: entry } : {}) },
    ]);
    return lines.slice(
      lines.indexOf('Last rollback:'),
      lines.indexOf('Quarantined content (only `ballast retry` deploys it again; a commit that changes it moves on):') -
        1,
    );
  };

  it('status: an alarm rollback written back as a pull request; the quarantined predecessor and what lifts it', () => {
    const state = restoredState(alarm, 'restored');
    const entry = entryOf(state, {
      kind: 'pull-request',
      commit: 'e'.repeat(40),
      branch: 'ballast/rollback-rollback-x',
      pullRequest: '17',
      url: 'https://github.com/acme/models/pull/17',
    });
    assert.deepEqual(statusLines(state, entry), [
      'Last rollback:',
      '  prod/summarizer 2026-03-01 10:03:00Z: alarm summarizer-5xx went into ALARM at 2026-03-01 10:00:00Z',
      '    bbbbbbb (ballast-prod-summarizer-bbbbbbbbbbbb) -> aaaaaaa (ballast-prod-summarizer-aaaaaaaaaaaa): restored',
      '    written back: pull request 17 (https://github.com/acme/models/pull/17) from ballast/rollback-rollback-x',
      "    bbbbbbb's content (222222222222) is quarantined: no push deploys it again until a new commit changes it, or `ballast retry summarizer --environment prod`",
    ]);
  });

  it('status: why it was not written back (skipped, failed, off), and before the entry is written', () => {
    const state = restoredState(manual({ reason: 'slow' }), 'restored');
    const writeBackLine = (entry?: LedgerEntry) => statusLines(state, entry)[3];
    assert.equal(
      statusLines(state)[1],
      '  prod/summarizer 2026-03-01 10:03:00Z: asked for by ada at 2026-03-01 10:00:00Z: slow',
    );
    assert.equal(
      writeBackLine(
        entryOf(state, {
          kind: 'skipped',
          reason: 'main no longer has the rolled-back content of models/summarizer-llm.yaml',
        }),
      ),
      '    not written back: main no longer has the rolled-back content of models/summarizer-llm.yaml',
    );
    assert.equal(
      writeBackLine(entryOf(state, { kind: 'error', reason: 'BranchProtected: main is protected' })),
      '    write-back failed: BranchProtected: main is protected',
    );
    assert.equal(
      writeBackLine(entryOf(state)),
      "    not written back: ballast.yaml's writeBack is off for this version",
    );
    assert.equal(writeBackLine(), '    write-back: not known yet (the rollback has not written its ledger entry)');
  });

  it('status: a running rollback, and a failed one (the bad version still live)', () => {
    const running = restoredState(manual(), undefined);
    assert.deepEqual(statusLines(running).slice(2), [
      '    bbbbbbb (ballast-prod-summarizer-bbbbbbbbbbbb) -> aaaaaaa (ballast-prod-summarizer-aaaaaaaaaaaa): running',
    ]);
    const failed = restoredState(manual(), 'failed');
    assert.deepEqual(statusLines(failed).slice(2), [
      '    bbbbbbb (ballast-prod-summarizer-bbbbbbbbbbbb) -> aaaaaaa (ballast-prod-summarizer-aaaaaaaaaaaa): failed',
      '    bbbbbbb is still live (its content quarantined); `ballast rollback summarizer --environment prod` tries again',
    ]);
  });

  it('status: PREVIOUS, what a rollback would restore; no rollback section without one', () => {
    const lines = renderStatus('s3://state', [{ ...deployedTwice, status: statusOf(deployedTwice) }]);
    assert.deepEqual(lines.slice(2), [
      'ENVIRONMENT  ENDPOINT    STATUS   DESIRED  LIVE     LAST GOOD  PREVIOUS  ROLLOUT  QUARANTINED  UPDATED',
      'prod         summarizer  in sync  bbbbbbb  bbbbbbb  bbbbbbb    aaaaaaa   -        -            2026-03-01 09:15:00Z',
    ]);
    assert.equal(
      rollbackLedgerKey(deployedTwice, {
        execution: 'rollback-x',
        trigger: alarm,
        from: bad,
        to: good,
        startedAt: '2026-03-01T10:00:05.000Z',
      }),
      'ledger/prod/summarizer/2026-03-01T10-00-00-000Z--bbbbbbbbbbbb--rollback-x.json',
      'where Finish writes it: the trigger instant, the rolled-back commit, the execution',
    );
  });

  it('history: a rollback entry shows the alarm or who asked, what it restored, and the write-back', () => {
    const state = restoredState(alarm, 'restored');
    const pushEntry: LedgerEntry = {
      ...entryOf(state),
      outcome: 'deployed',
      reason: undefined,
      rollback: undefined,
      startedAt: push.pushedAt,
      changes: ['model'],
    };
    const { reason: _r, rollback: _rb, ...deployed } = pushEntry;
    const committed = entryOf(state, { kind: 'committed', commit: 'd'.repeat(40), branch: 'main' });
    const notActed: LedgerEntry = {
      ...entryOf(state),
      outcome: 'unchanged',
      reason: 'the rollback asked for by ada: a rollout of cccccccccccc (execution push-9) holds the endpoint',
      rollback: { action: 'mid-rollout', trigger: manual() },
    };
    const failed: LedgerEntry = {
      ...entryOf(state),
      outcome: 'failed',
      rollback: {
        ...(entryOf(state).rollback as LedgerRollback),
        trigger: manual({ reason: 'p99' }),
        outcome: 'failed',
      },
    };
    const lines = renderHistory('summarizer', 's3://state', [deployed, committed, notActed, failed]);
    assert.equal(lines.length, 8);
    assert.match(lines[1] ?? '', /^2026-03-01 09:00:00Z +prod +bbbbbbb +deployed +3m 0s +model +user\/ada$/);
    assert.match(
      lines[2] ?? '',
      /^2026-03-01 09:00:00Z +prod +bbbbbbb +rolled-back +3m 0s +- +user\/ada +alarm summarizer-5xx went into ALARM after the rollout$/,
    );
    assert.deepEqual(
      [lines[3], lines[5], lines[7]],
      [
        '    rollback: alarm summarizer-5xx went into ALARM at 2026-03-01 10:00:00Z; restored aaaaaaa (ballast-prod-summarizer-aaaaaaaaaaaa); written back: revert commit ddddddd on main',
        '    rollback: asked for by ada at 2026-03-01 10:00:00Z; not rolled back (mid-rollout)',
        '    rollback: asked for by ada at 2026-03-01 10:00:00Z: p99; restoring aaaaaaa (ballast-prod-summarizer-aaaaaaaaaaaa) failed; bbbbbbb stays live',
      ],
    );
  });
});

describe('ballast rollback: usage', () => {
  it('rejects bad arguments with the usage text (exit 2), before touching the network', async () => {
    const url = 'http://127.0.0.1:1';
    await assertUsageErrors('rollback', [
      ...requestUsageCases(url),
      [['e', '--to', 'HEAD~1', '--endpoint-url', url], /--to 'HEAD~1' is not a commit id \(7 to 64 hex digits\)/],
      [['e', '--to', 'abc12', '--endpoint-url', url], /--to 'abc12' is not a commit id/],
      [
        ['e', '--state-machine', 'ballast-rollback', '--endpoint-url', url],
        /--state-machine 'ballast-rollback' is not a Step Functions state machine ARN/,
      ],
      [
        ['e', '--bucket', 'my-state-bucket'],
        /say which rollback workflow to start: --state-machine ARN, or --stack NAME \(its NAME-rollback state machine\)/,
      ],
    ]);
  });

  it('--help documents --to, the state machine, the permissions and the exit codes; ballast --help lists it', async () => {
    const io = capture();
    assert.equal(await main(['rollback', '--help'], io), 0);
    assert.match(io.out(), /^Usage: ballast rollback ENDPOINT/);
    assert.match(io.out(), /--to COMMIT +the commit to go back to/);
    assert.match(io.out(), /--stack NAME +on AWS: the state machine named NAME-rollback/);
    assert.match(io.out(), /stateMachine:ballast-rollback/);
    assert.match(io.out(), /states:StartExecution on the rollback\nworkflow, states:DescribeExecution with --wait/);
    assert.match(io.out(), /\n {2}1 {2}refused: /);
    const top = capture();
    assert.equal(await main(['--help'], top), 0);
    assert.match(top.out(), /\n {2}rollback +Roll an endpoint back to its previous version/);
  });
});

/**
 * What the rollback workflow does to the state and the ledger, for a stand-in bound to the
 * sandbox's `ballast-rollback` state machine: Restore's state (finishRollback) and Finish's entry.
 */
function standIn(
  store: JsonStore,
  outcome: () => { restored: 'restored' | 'failed'; writeBack?: LedgerRollback['writeBack'] },
  started: Array<{ name: string; input: unknown }>,
): (input: unknown, name: string) => LocalExecution {
  return (input, name) => {
    started.push({ name, input });
    let settle: (run: Promise<unknown>) => void = () => {};
    const execution: LocalExecution = {
      workflow: 'rollback',
      name,
      input,
      startedAt: new Date(),
      status: 'RUNNING',
      states: [],
      abort: () => {},
      result: new Promise((resolve) => {
        settle = resolve;
      }),
    };
    settle(
      (async () => {
        const request = rollbackRequest.parse(input);
        const key = keys.state(request.environment, request.endpoint);
        const state = (await store.get<EndpointState>(key))?.value;
        const trigger: RollbackTrigger = {
          kind: 'manual',
          requestedBy: request.requestedBy,
          requestedAt: request.requestedAt,
          ...(request.reason ? { reason: request.reason } : {}),
          ...(request.to ? { to: request.to } : {}),
        };
        const decision = decideRollback(state, trigger);
        if (!state?.live || decision.action !== 'act') throw new Error(`stand-in: ${decision.reason}`);
        const { restored, writeBack } = outcome();
        const now = new Date(Date.parse(request.requestedAt) + 120_000).toISOString();
        await store.update<EndpointState>(key, (current) => {
          const begun = current && beginRollback(current, name, decision, trigger, request.requestedAt);
          return begun && finishRollback(begun, name, restored, now);
        });
        const entry: LedgerEntry = {
          environment: request.environment,
          endpoint: request.endpoint,
          commit: state.live.commit,
          source: 'codecommit',
          repository: 'model-repo',
          branch: 'main',
          pushedBy: push.pushedBy,
          pushedAt: state.live.push?.pushedAt ?? push.pushedAt,
          deliveryId: name,
          execution: name,
          outcome: restored === 'restored' ? 'rolled-back' : 'failed',
          reason: decision.reason,
          startedAt: request.requestedAt,
          finishedAt: now,
          durationSeconds: 120,
          rollback: {
            action: 'act',
            trigger,
            from: { commit: decision.from.commit, endpointConfigName: decision.from.endpointConfigName },
            to: { commit: decision.to.commit, endpointConfigName: decision.to.endpointConfigName },
            outcome: restored,
            ...(writeBack ? { writeBack } : {}),
          },
        };
        await appendLedger(store, entry);
        execution.status = 'SUCCEEDED';
        execution.output = { results: [{ endpoint: request.endpoint, outcome: entry.outcome }] };
        return execution.output;
      })().catch((error: unknown) => {
        execution.status = 'FAILED';
        execution.error = { name: 'States.TaskFailed', message: (error as Error).message };
        throw error;
      }),
    );
    return execution;
  };
}

describe('ballast rollback against a sandbox (a stand-in rollback workflow)', () => {
  let sandbox: Sandbox;
  let s3: S3Client;
  let store: JsonStore;
  let url = '';
  const started: Array<{ name: string; input: unknown }> = [];
  let next: { restored: 'restored' | 'failed'; writeBack?: LedgerRollback['writeBack'] } = { restored: 'restored' };
  const ARN = 'arn:aws:states:us-east-1:111122223333:stateMachine:ballast-rollback';
  /** A fresh endpoint `name` deployed twice (bad live, good before it). */
  const endpointNamed = async (name: string, state: EndpointState = deployedTwice) => {
    assert.equal(await store.putIfAbsent(keys.state('prod', name), { ...state, endpoint: name }), 'created');
  };

  before(async () => {
    sandbox = await startSandbox({ timeScale: 1 });
    url = sandbox.url;
    s3 = new S3Client({ endpoint: url, region: 'us-east-1', credentials: { accessKeyId: 'x', secretAccessKey: 'x' } });
    await s3.send(new CreateBucketCommand({ Bucket: 'ballast-state' }));
    store = new JsonStore(s3, 'ballast-state');
    sandbox.stepfunctions.bind(
      ARN,
      standIn(store, () => next, started),
    );
  });
  after(async () => {
    s3?.destroy();
    await sandbox?.stop();
  });

  it('--wait: says what it will do, starts the rollback workflow with a rollback request, prints the entry', async () => {
    await endpointNamed('summarizer');
    next = { restored: 'restored', writeBack: { kind: 'committed', commit: 'd'.repeat(40), branch: 'main' } };
    const io = capture();
    const code = await main(['rollback', 'summarizer', '--endpoint-url', url, '--wait', '--reason', 'p99 doubled'], io);
    assert.equal(code, 0, `${io.out()}\n${io.err()}`);
    assert.equal(io.err(), '');
    const lines = io.out().split('\n');
    assert.equal(
      lines[0],
      "This rolls prod/summarizer back from bbbbbbb (ballast-prod-summarizer-bbbbbbbbbbbb) to aaaaaaa (ballast-prod-summarizer-aaaaaaaaaaaa); quarantines bbbbbbb's content (222222222222); writes back to Git: revert-commit.",
    );
    assert.match(
      lines[1] ?? '',
      /^Started arn:aws:states:us-east-1:111122223333:execution:ballast-rollback:rollback-prod-summarizer-\d{17}; waiting \(at most 3600s\)\.\.\.$/,
    );
    assert.match(
      lines[3] ?? '',
      new RegExp(
        `^2026-03-01 09:10:00Z +prod +bbbbbbb +rolled-back +2m 0s +- +user/ada +rolled back by ${userInfo().username}: p99 doubled; `,
      ),
    );
    assert.match(
      lines[4] ?? '',
      new RegExp(
        `^ {4}rollback: asked for by ${userInfo().username} at \\S+ \\S+: p99 doubled; restored aaaaaaa \\(ballast-prod-summarizer-aaaaaaaaaaaa\\); written back: revert commit ddddddd on main$`,
      ),
    );
    assert.equal(
      lines[5],
      "prod/summarizer runs aaaaaaa (ballast-prod-summarizer-aaaaaaaaaaaa) again; bbbbbbb's content is quarantined until a new commit changes it, or `ballast retry`.",
    );

    const [execution, ...others] = started;
    assert.equal(others.length, 0);
    assert.match(execution?.name ?? '', /^rollback-prod-summarizer-\d{17}$/);
    const input = execution?.input as RollbackRequest;
    assert.deepEqual(Object.keys(input), [
      'ballast',
      'environment',
      'endpoint',
      'requestedBy',
      'requestedAt',
      'reason',
    ]);
    assert.equal(input.ballast, 'rollback');
    assert.equal(input.requestedBy, userInfo().username, 'locally the OS user asks');
    assert.equal(input.reason, 'p99 doubled');
    assert.ok(Date.parse(input.requestedAt) > Date.parse(deployedTwice.updatedAt));
  });

  it('status: the last rollback (who, from -> to, outcome, the write-back commit) and the quarantine', async () => {
    const io = capture();
    assert.equal(await main(['status', '--endpoint-url', url], io), 0, io.err());
    const out = io.out();
    assert.match(out, /\nENVIRONMENT {2}ENDPOINT {4}STATUS {5}DESIRED {2}LIVE {5}LAST GOOD {2}PREVIOUS {2}ROLLOUT/);
    assert.match(out, /\nprod {9}summarizer {2}held back {2}bbbbbbb {2}aaaaaaa {2}aaaaaaa {4}- {9}- /);
    const rollback = (await store.get<EndpointState>(keys.state('prod', 'summarizer')))?.value.rollback;
    assert.ok(rollback?.finishedAt && rollback.trigger.kind === 'manual');
    const from = out.indexOf('\nLast rollback:\n');
    assert.ok(from > 0, out);
    assert.deepEqual(
      out
        .slice(from + 1)
        .split('\n')
        .slice(0, 5),
      [
        'Last rollback:',
        `  prod/summarizer ${formatTime(rollback.finishedAt)}: asked for by ${userInfo().username} at ${formatTime(rollback.trigger.requestedAt)}: p99 doubled`,
        '    bbbbbbb (ballast-prod-summarizer-bbbbbbbbbbbb) -> aaaaaaa (ballast-prod-summarizer-aaaaaaaaaaaa): restored',
        '    written back: revert commit ddddddd on main',
        "    bbbbbbb's content (222222222222) is quarantined: no push deploys it again until a new commit changes it, or `ballast retry summarizer --environment prod`",
      ],
    );

    const json = capture();
    assert.equal(await main(['status', '--endpoint-url', url, '--json'], json), 0, json.err());
    const [entry] = (JSON.parse(json.out()) as { endpoints: StatusEntry[] }).endpoints;
    assert.equal(entry?.rollback?.outcome, 'restored');
    assert.equal(entry?.rollback?.from.commit, BAD);
    assert.equal(entry?.previous, undefined, 'a rollback goes back one version');
    assert.equal(entry?.rollbackEntry?.rollback?.writeBack?.kind, 'committed');
    assert.equal(entry?.rollbackEntry?.execution, entry?.rollback?.execution);
  });

  it('history: the rollback entry, distinct, in the order it was asked for', async () => {
    const ledger = await readLedger(store, 'prod', 'summarizer');
    assert.equal(ledger.length, 1);
    const io = capture();
    assert.equal(await main(['history', 'summarizer', '--endpoint-url', url], io), 0, io.err());
    assert.match(io.out(), /\n {4}rollback: asked for by \S+ at [^:]+:\d\d:\d\dZ: p99 doubled; restored aaaaaaa /);
    const json = capture();
    assert.equal(await main(['history', 'summarizer', '--endpoint-url', url, '--json'], json), 0);
    assert.deepEqual((JSON.parse(json.out()) as LedgerEntry[])[0]?.rollback?.to?.commit, GOOD);
  });

  it('refuses a second rollback right after the first (exit 1) and starts nothing', async () => {
    const before = started.length;
    const io = capture();
    assert.equal(await main(['rollback', 'summarizer', '--endpoint-url', url], io), 1);
    assert.match(
      io.err(),
      /^ballast rollback: refused: prod\/summarizer runs aaaaaaa and has no earlier verified version to roll back to \(a rollback restored it at /,
    );
    assert.equal(io.out(), '');
    assert.equal(started.length, before);
  });

  it('refuses --to another commit and a held lease (exit 1), naming what to do', async () => {
    await endpointNamed('ranker');
    const io = capture();
    assert.equal(await main(['rollback', 'ranker', '--to', 'CCCCCCC', '--endpoint-url', url], io), 1);
    assert.equal(
      io.err(),
      'ballast rollback: refused: prod/ranker: ccccccc is not the previous version (aaaaaaa, ballast-prod-summarizer-aaaaaaaaaaaa); only the previous version is kept for a rollback, push a revert commit to go elsewhere\n',
    );
    await endpointNamed('reviewer', {
      ...deployedTwice,
      lease: {
        commit: 'c'.repeat(40),
        digest: '3'.repeat(64),
        execution: 'push-7',
        pushedAt: push.pushedAt,
        acquiredAt: push.pushedAt,
      },
    });
    const held = capture();
    assert.equal(await main(['rollback', 'reviewer', '--endpoint-url', url], held), 1);
    assert.match(
      held.err(),
      /^ballast rollback: refused: a rollout holds prod\/reviewer's lease: ccccccc \(execution push-7, /,
    );
    assert.equal(started.filter((s) => /-(ranker|reviewer)-/.test(s.name)).length, 0);
  });

  it('without --wait: --to, --requested-by; --json prints the request and the execution', async () => {
    const io = capture();
    const code = await main(
      ['rollback', 'ranker', '--to', GOOD.slice(0, 12), '--requested-by', 'grace', '--endpoint-url', url, '--json'],
      io,
    );
    assert.equal(code, 0, io.err());
    const result = JSON.parse(io.out()) as Record<string, unknown>;
    assert.deepEqual(Object.keys(result), [
      'environment',
      'endpoint',
      'from',
      'to',
      'writeBack',
      'requestedBy',
      'requestedAt',
      'reason',
      'stateMachineArn',
      'executionArn',
    ]);
    assert.deepEqual(result.to, { commit: GOOD, digest: good.digest, endpointConfigName: good.endpointConfigName });
    assert.equal(result.requestedBy, 'grace');
    assert.equal(result.stateMachineArn, ARN);
    assert.match(String(result.executionArn), /:execution:ballast-rollback:rollback-prod-ranker-\d{17}$/);
    const input = started.at(-1)?.input as RollbackRequest;
    assert.equal(input.to, GOOD.slice(0, 12));
    assert.equal(input.requestedBy, 'grace');
    assert.equal(input.reason, undefined);
  });

  it('--wait: a rollback that did not restore exits 1 with why; the entry and the status say so', async () => {
    await endpointNamed('translator');
    next = { restored: 'failed' };
    const io = capture();
    const code = await main(
      ['rollback', 'translator', '--endpoint-url', url, '--wait', '--json', '--requested-by', 'ops'],
      io,
    );
    assert.equal(code, 1, io.err());
    const result = JSON.parse(io.out()) as { status: string; entry: LedgerEntry | null };
    assert.equal(result.status, 'SUCCEEDED');
    assert.equal(result.entry?.outcome, 'failed');
    assert.equal(result.entry?.rollback?.trigger.kind, 'manual');
    assert.match(io.err(), /^ballast rollback: prod\/translator was not rolled back \(failed\): rolled back by ops; /);

    const status = capture();
    assert.equal(await main(['status', '--endpoint-url', url, '--environment', 'prod'], status), 0);
    assert.ok(
      status
        .out()
        .includes(
          '    bbbbbbb is still live (its content quarantined); `ballast rollback translator --environment prod` tries again',
        ),
      status.out(),
    );
  });

  it('takes the workflow from $BALLAST_ROLLBACK_STATE_MACHINE_ARN with --bucket', async () => {
    const { writeBack: _off, ...noWriteBack } = bad;
    await endpointNamed('embedder', { ...deployedTwice, live: noWriteBack });
    next = { restored: 'restored' };
    const io = capture({ BALLAST_ROLLBACK_STATE_MACHINE_ARN: ARN, AWS_ENDPOINT_URL: url });
    assert.equal(await main(['rollback', 'embedder', '--bucket', 'ballast-state', '--wait'], io), 0, io.err());
    assert.match(io.out(), /^This rolls prod\/embedder back from .*; writes back to Git: no\.\n/);
    assert.match(
      io.out(),
      /\n {4}rollback: asked for by .*; restored aaaaaaa .*; not written back: ballast\.yaml's writeBack is off for this version\n/,
    );
  });

  it('explains a sandbox with no rollback workflow (exit 2)', async () => {
    await endpointNamed('scorer');
    const io = capture();
    const arn = 'arn:aws:states:us-east-1:111122223333:stateMachine:elsewhere';
    assert.equal(await main(['rollback', 'scorer', '--endpoint-url', url, '--state-machine', arn], io), 2);
    assert.match(
      io.err(),
      /^ballast rollback: State Machine Does Not Exist: .*; is `ballast local` running there\? \(`ballast sandbox` alone runs no rollback workflow;/,
    );
  });
});

describe('ballast rollback end to end (the real rollback workflow on a sandbox running the local pipeline)', () => {
  // Imported here, not at the top: without the WriteBack handler and the sandbox's EventBridge the
  // local pipeline does not load, and the tests above must still run.
  let harness: typeof import('../e2e/harness.ts');
  let w: import('../e2e/harness.ts').World;
  let first = '';
  let second = '';
  before(async () => {
    harness = await import('../e2e/harness.ts');
    w = await harness.world();
    first = await w.deploy(w.files, 'Initial models');
    const prompt = harness.requireFile(w.files, harness.PROMPT_FILE);
    second = await w.deploy(
      { [harness.PROMPT_FILE]: prompt.replace('You are a precise summarizer.', 'You are a careful summarizer.') },
      'Make the summarizer careful',
    );
  });
  after(async () => {
    await w?.stop();
  });

  it('rolls summarizer back to the previous version, records who asked and writes back to Git', async () => {
    const before = await w.state('summarizer');
    assert.equal(before?.live?.commit, second);
    assert.equal(before?.previous?.commit, first, 'two deployments: there is a previous version');
    const previousConfig = before?.previous?.endpointConfigName;
    assert.ok(previousConfig);

    const io = capture();
    const code = await main(
      [
        'rollback',
        'summarizer',
        '--endpoint-url',
        w.sandbox.url,
        '--wait',
        '--requested-by',
        'ada',
        '--reason',
        'test',
      ],
      io,
    );
    assert.equal(code, 0, `${io.out()}\n${io.err()}`);
    assert.match(
      io.out(),
      new RegExp(
        `^This rolls prod/summarizer back from ${second.slice(0, 7)} \\(${before?.live?.endpointConfigName}\\) to ${first.slice(0, 7)} \\(${previousConfig}\\); quarantines ${second.slice(0, 7)}'s content \\([0-9a-f]{12}\\); writes back to Git: revert-commit\\.\\n`,
      ),
    );
    assert.equal((await w.describe(harness.SUMMARIZER)).EndpointConfigName, previousConfig);

    const entry = (await w.ledger('summarizer')).filter((e) => e.rollback).at(-1);
    assert.equal(entry?.outcome, 'rolled-back');
    assert.equal(entry?.commit, second);
    assert.equal(entry?.rollback?.trigger.kind, 'manual');
    assert.equal(entry?.rollback?.trigger.kind === 'manual' ? entry.rollback.trigger.requestedBy : '', 'ada');
    assert.equal(entry?.rollback?.to?.commit, first);
    assert.equal(entry?.rollback?.writeBack?.kind, 'committed', JSON.stringify(entry?.rollback?.writeBack));
    await w.settle();

    const state = await w.state('summarizer');
    assert.equal(state?.live?.commit, first);
    assert.equal(state?.rollback?.outcome, 'restored');
    assert.ok(state?.quarantined.some((q) => q.commit === second));

    const status = capture();
    assert.equal(await main(['status', '--endpoint-url', w.sandbox.url], status), 0, status.err());
    assert.ok(
      status
        .out()
        .includes(`\n    written back: revert commit ${entry?.rollback?.writeBack?.commit?.slice(0, 7)} on main\n`),
      status.out(),
    );
    const history = capture();
    assert.equal(await main(['history', 'summarizer', '--endpoint-url', w.sandbox.url], history), 0);
    assert.match(history.out(), /\n {4}rollback: asked for by ada at [^;]+: test; restored /);
  });
});
