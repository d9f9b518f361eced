// `ballast retry` against a sandbox running the local pipeline (the deploy ASL with the real
// handlers), in-process through the CLI entry: a canary rolled back by its alarm is held back, and a
// retry started through the sandbox's Step Functions API deploys it again.
import assert from 'node:assert/strict';
import { userInfo } from 'node:os';
import { after, before, describe, it } from 'node:test';
import { SetAlarmStateCommand } from '@aws-sdk/client-cloudwatch';
import { main } from '../../bin/cli.ts';
import { findStackStateMachine, planRetry } from '../../bin/commands/retry.ts';
import type { StatusEntry } from '../../bin/commands/status.ts';
import type { EndpointState } from '../../lambdas/state/endpoint-state.ts';
import { keys } from '../../lambdas/state/keys.ts';
import {
  PROMPT_FILE,
  requireFile,
  SUMMARIZER,
  sagemakerPattern,
  type World,
  withArtifact,
  world,
} from '../e2e/harness.ts';
import { captureIo } from '../support/cli.ts';
import { assertUsageErrors, requestUsageCases } from './usage.ts';

const capture = (env: NodeJS.ProcessEnv = {}) => captureIo({ env });
const short = (commit: string | undefined) => (commit ?? '').slice(0, 7);

describe('ballast retry', () => {
  let w: World;
  let url = '';
  let good = '';
  let bad = '';
  /** While true, the next rollout's UPDATING event trips the canary's 5xx alarm (see the rollback e2e test). */
  let tripAlarm = false;
  let alarmSet: Promise<unknown> | undefined;
  /** Runs inside the next Deploy call, while that rollout holds the endpoint's lease. */
  let duringDeploy: (() => Promise<void>) | undefined;

  const setAlarm = (state: 'OK' | 'ALARM') =>
    w.clients.cloudwatch.send(
      new SetAlarmStateCommand({ AlarmName: 'summarizer-5xx', StateValue: state, StateReason: `test: ${state}` }),
    );
  /** Pushes a broken artifact whose canary trips the alarm: SageMaker rolls back, the content is quarantined. */
  const rollBack = async (name: string): Promise<string> => {
    tripAlarm = true;
    const artifact = await w.uploadArtifact(`models/summarizer-llm/${name}/model.tar.gz`, Buffer.from(`${name}\n`));
    const commit = await w.deploy(withArtifact(w.files, artifact), `summarizer-llm: ${name}`);
    tripAlarm = false;
    await alarmSet;
    alarmSet = undefined;
    // What an operator waits for before retrying: the alarm is back to OK.
    await setAlarm('OK');
    return commit;
  };
  const status = async (): Promise<StatusEntry | undefined> => {
    const io = capture();
    assert.equal(await main(['status', '--endpoint-url', url, '--json'], io), 0, io.err());
    return (JSON.parse(io.out()) as { endpoints: StatusEntry[] }).endpoints.find((e) => e.endpoint === 'summarizer');
  };
  const retryExecutions = () =>
    w.sandbox.stepfunctions.executions().filter((e) => e.name.startsWith('retry-prod-summarizer-'));

  before(async () => {
    w = await world({
      around: {
        Deploy: async (input, next) => {
          const hook = duringDeploy;
          duringDeploy = undefined;
          if (hook) await hook();
          const rollout = await next(input);
          // The alarm is set over HTTP from the UPDATING event; let it land before the rollout's first Wait.
          await alarmSet;
          return rollout;
        },
      },
    });
    url = w.sandbox.url;
    w.sandbox.events.subscribe(
      sagemakerPattern('SageMaker Endpoint State Change', SUMMARIZER, { EndpointStatus: ['UPDATING'] }),
      () => {
        if (tripAlarm) alarmSet ??= setAlarm('ALARM');
      },
    );
    good = await w.deploy(w.files, 'Initial models');
    bad = await rollBack('broken-build');
  });
  after(async () => {
    await w?.stop();
  });

  it('a rolled-back endpoint is held back, with the reason and how to retry', async () => {
    const state = await w.state('summarizer');
    assert.equal(state?.live?.commit, good);
    assert.equal(state?.desired?.commit, bad);
    assert.deepEqual(
      state?.quarantined.map((q) => [q.commit, q.digest]),
      [[bad, state?.desired?.digest]],
    );
    assert.equal((await status())?.status, 'held back');

    const io = capture();
    assert.equal(await main(['status', '--endpoint-url', url], io), 0, io.err());
    assert.match(io.out(), /\nprod {9}summarizer {2}held back {2}/);
    assert.ok(
      io
        .out()
        .includes(`  prod/summarizer ${short(bad)} (content ${state?.desired?.digest.slice(0, 12)}), quarantined at`),
      io.out(),
    );
    assert.ok(io.out().includes(state?.quarantined[0]?.reason ?? '-'), io.out());
    assert.ok(
      io.out().includes('    run `ballast retry summarizer --environment prod` to deploy it again\n'),
      io.out(),
    );
  });

  it('retry --wait lifts the quarantine, deploys the desired commit again and records who asked', async () => {
    const before = await w.state('summarizer');
    const quarantine = before?.quarantined[0];
    assert.ok(quarantine, 'the rolled-back content is quarantined');
    const io = capture();
    const code = await main(['retry', 'summarizer', '--environment', 'prod', '--endpoint-url', url, '--wait'], io);
    assert.equal(code, 0, `${io.out()}\n${io.err()}`);
    assert.equal(io.err(), '');
    const lines = io.out().split('\n');
    assert.equal(
      lines[0],
      `Retrying prod/summarizer: lifts the quarantine of ${quarantine.digest.slice(0, 12)} (rolled back at ${short(bad)}: ${quarantine.reason}) and deploys ${short(bad)} again.`,
    );
    assert.match(
      lines[1] ?? '',
      /^Started arn:aws:states:us-east-1:111122223333:execution:ballast-deploy:retry-prod-summarizer-\d{17}; waiting \(at most 3600s\)\.\.\.$/,
    );
    assert.match(io.out(), new RegExp(`\\n\\S+ \\S+ +prod +${short(bad)} +deployed `));
    assert.ok(io.out().endsWith(`prod/summarizer runs ${short(bad)} again.\n`), io.out());

    const [execution, ...others] = retryExecutions();
    assert.equal(others.length, 0);
    assert.equal(execution?.status, 'SUCCEEDED', execution?.cause);
    const input = JSON.parse(execution?.input ?? '{}') as Record<string, unknown>;
    assert.equal(input.source, 'ballast');
    assert.equal(input.action, 'retry');
    assert.equal(input.environment, 'prod');
    assert.equal(input.endpoint, 'summarizer');

    const state = await w.state('summarizer');
    assert.equal(state?.live?.commit, bad, 'the retried commit is live');
    assert.equal(state?.lastGood?.commit, bad);
    assert.deepEqual(state?.quarantined, [], 'the quarantine is lifted');
    assert.equal(state?.lease, undefined);
    assert.equal((await w.describe(SUMMARIZER)).EndpointConfigName, state?.live?.endpointConfigName);
    assert.equal((await status())?.status, 'in sync');

    const ledger = await w.ledger('summarizer');
    assert.ok(ledger.length > 0);
    const newest = ledger.at(-1);
    assert.equal(newest?.commit, bad);
    assert.equal(newest?.outcome, 'deployed');
    assert.equal(newest?.retry?.requestedBy, userInfo().username, 'locally the OS user asks');
    assert.equal(newest?.retry?.requestedAt, input.requestedAt);
    assert.equal(
      ledger
        .filter((e) => e.commit === bad)
        .map((e) => e.outcome)
        .join(','),
      'rolled-back,deployed',
    );

    const history = capture();
    assert.equal(await main(['history', 'summarizer', '--endpoint-url', url], history), 0, history.err());
    assert.ok(history.out().includes(`    retry asked for by ${userInfo().username} at `), history.out());
  });

  it('refuses a retry of content that is already live (exit 1)', async () => {
    const io = capture();
    assert.equal(await main(['retry', 'summarizer', '--endpoint-url', url], io), 1);
    assert.equal(
      io.err(),
      `ballast retry: refused: prod/summarizer already runs its desired content (${short(bad)}): there is nothing to retry\n`,
    );
    assert.equal(io.out(), '');
  });

  it('refuses while a rollout holds the lease, naming its commit, and starts nothing (exit 1)', async () => {
    const prompt = requireFile(w.files, PROMPT_FILE);
    let refusal: { code: number; err: string; out: string } | undefined;
    duringDeploy = async () => {
      const io = capture();
      const code = await main(['retry', 'summarizer', '--endpoint-url', url], io);
      refusal = { code, err: io.err(), out: io.out() };
    };
    const executionsBefore = retryExecutions().length;
    const next = await w.deploy(
      { [PROMPT_FILE]: prompt.replace('You are a precise summarizer.', 'You are a careful summarizer.') },
      'Make the summarizer careful',
    );
    assert.ok(refusal, 'the retry ran during the rollout');
    assert.equal(refusal.code, 1);
    assert.match(
      refusal.err,
      new RegExp(
        `^ballast retry: refused: a rollout holds prod/summarizer's lease: ${short(next)} \\(execution \\S+, since [^)]+\\); let it finish`,
      ),
    );
    assert.equal(refusal.out, '');
    assert.equal(retryExecutions().length, executionsBefore);
    assert.equal((await w.state('summarizer'))?.live?.commit, next);
  });

  it('without --wait: prints the execution and how to follow it; --reason and --requested-by reach the ledger', async () => {
    const broken = await rollBack('broken-again');
    assert.equal((await status())?.status, 'held back');
    const io = capture();
    const code = await main(
      [
        'retry',
        'summarizer',
        '--endpoint-url',
        url,
        '--reason',
        'the 5xx came from a bad load balancer',
        '--requested-by',
        'ada',
      ],
      io,
    );
    assert.equal(code, 0, io.err());
    const [summary, started, follow, ...rest] = io.out().split('\n');
    assert.match(
      summary ?? '',
      new RegExp(
        `^Retrying prod/summarizer: lifts the quarantine of [0-9a-f]{12} \\(rolled back at ${short(broken)}: `,
      ),
    );
    assert.match(
      started ?? '',
      /^Started arn:aws:states:us-east-1:111122223333:execution:ballast-deploy:retry-prod-summarizer-\d{17}$/,
    );
    assert.equal(follow, `Follow it with: ballast history summarizer --environment prod --endpoint-url ${url}`);
    assert.deepEqual(rest, ['']);
    await w.settle();
    const newest = (await w.ledger('summarizer')).at(-1);
    assert.equal(newest?.commit, broken);
    assert.equal(newest?.outcome, 'deployed');
    assert.equal(newest?.retry?.requestedBy, 'ada');
    assert.equal(newest?.retry?.reason, 'the 5xx came from a bad load balancer', 'the ledger keeps why');
    const execution = retryExecutions().at(-1);
    assert.equal(
      (JSON.parse(execution?.input ?? '{}') as { reason?: string }).reason,
      'the 5xx came from a bad load balancer',
    );
  });

  it('--wait --json: a retry that rolls back again exits 1 with the ledger entry, and stays held back', async () => {
    const broken = await rollBack('broken-thrice');
    tripAlarm = true;
    const io = capture();
    const code = await main(['retry', 'summarizer', '--endpoint-url', url, '--wait', '--json', '--timeout', '600'], io);
    tripAlarm = false;
    await alarmSet;
    alarmSet = undefined;
    await setAlarm('OK');
    assert.equal(code, 1, io.err());
    const result = JSON.parse(io.out()) as {
      status: string;
      commit: string;
      liftsQuarantine: { commit: string } | null;
      entry: { outcome: string; retry?: { requestedBy: string } } | null;
    };
    assert.equal(result.status, 'SUCCEEDED');
    assert.equal(result.commit, broken);
    assert.equal(result.liftsQuarantine?.commit, broken);
    assert.equal(result.entry?.outcome, 'rolled-back');
    assert.equal(result.entry?.retry?.requestedBy, userInfo().username);
    assert.match(io.err(), /^ballast retry: prod\/summarizer rolled-back: /);
    assert.equal((await status())?.status, 'held back');
    // Leave the endpoint deployed for the tests below.
    assert.equal(await main(['retry', 'summarizer', '--endpoint-url', url, '--wait'], capture()), 0);
    assert.equal((await status())?.status, 'in sync');
  });

  it('refuses an endpoint no push has asked for (exit 1) and names unknown endpoints (exit 2)', async () => {
    const bare: EndpointState = {
      environment: 'prod',
      endpoint: 'ranker',
      quarantined: [],
      updatedAt: '2026-03-01T09:00:00.000Z',
    };
    assert.equal(await w.store.putIfAbsent(keys.state('prod', 'ranker'), bare), 'created');
    const none = capture();
    assert.equal(await main(['retry', 'ranker', '--endpoint-url', url], none), 1);
    assert.equal(
      none.err(),
      'ballast retry: refused: prod/ranker has no desired commit: no push has asked for it yet, so there is nothing to retry\n',
    );

    const unknown = capture();
    assert.equal(await main(['retry', 'translator', '--endpoint-url', url], unknown), 2);
    assert.equal(
      unknown.err(),
      `ballast retry: no endpoint translator in s3://ballast-state at ${url} (endpoints: ranker (prod), summarizer (prod))\n`,
    );
    const elsewhere = capture();
    assert.equal(await main(['retry', 'summarizer', '--environment', 'staging', '--endpoint-url', url], elsewhere), 2);
    assert.match(elsewhere.err(), /^ballast retry: no endpoint summarizer in staging in s3:\/\/ballast-state/);
  });

  it('needs --environment when several environments have the endpoint (exit 2, lists them)', async () => {
    const prod = await w.state('summarizer');
    assert.ok(prod);
    assert.equal(
      await w.store.putIfAbsent(keys.state('staging', 'summarizer'), { ...prod, environment: 'staging' }),
      'created',
    );
    const io = capture();
    assert.equal(await main(['retry', 'summarizer', '--endpoint-url', url], io), 2);
    assert.match(
      io.err(),
      /^ballast retry: summarizer is in several environments \(prod, staging\); say which with --environment\n\nUsage: ballast retry/,
    );
  });

  it('explains a sandbox with no deploy workflow (exit 2)', async () => {
    const summarizer = await w.state('summarizer');
    assert.ok(summarizer?.desired && summarizer.live);
    // An endpoint whose desired content is not live: a retry would be started.
    const reviewer: EndpointState = {
      ...summarizer,
      endpoint: 'reviewer',
      desired: { ...summarizer.desired, digest: 'f'.repeat(64) },
    };
    assert.equal(await w.store.putIfAbsent(keys.state('prod', 'reviewer'), reviewer), 'created');
    const io = capture();
    const arn = 'arn:aws:states:us-east-1:111122223333:stateMachine:elsewhere';
    assert.equal(await main(['retry', 'reviewer', '--endpoint-url', url, '--state-machine', arn, '--wait'], io), 2);
    assert.match(io.err(), /^ballast retry: State Machine Does Not Exist: .*; is `ballast local` running there\?/);
  });
});

describe('ballast retry: usage', () => {
  it('rejects bad arguments with the usage text (exit 2), before touching the network', async () => {
    const url = 'http://127.0.0.1:1';
    await assertUsageErrors('retry', [
      ...requestUsageCases(url),
      [
        ['e', '--state-machine', 'ballast-deploy', '--endpoint-url', url],
        /--state-machine 'ballast-deploy' is not a Step Functions state machine ARN/,
      ],
      [
        ['e', '--bucket', 'my-state-bucket'],
        /say which deploy workflow to start: --state-machine ARN, or --stack NAME/,
      ],
    ]);
  });

  it('--help documents the exit codes and where the state machine comes from', async () => {
    const io = capture();
    assert.equal(await main(['retry', '--help'], io), 0);
    assert.match(io.out(), /^Usage: ballast retry ENDPOINT/);
    assert.match(io.out(), /--stack NAME +on AWS: the state machine named NAME-deploy/);
    assert.match(io.out(), /\n {2}1 {2}refused: /);
    const top = capture();
    assert.equal(await main(['--help'], top), 0);
    assert.match(top.out(), /\n {2}retry +Deploy an endpoint's desired commit again/);
  });
});

describe('what a retry would do', () => {
  const state: EndpointState = {
    environment: 'prod',
    endpoint: 'e',
    quarantined: [],
    updatedAt: '2026-03-01T00:00:00Z',
    desired: {
      commit: 'b'.repeat(40),
      digest: '2'.repeat(64),
      pushedAt: '2026-03-01T00:00:00Z',
      source: 'codecommit',
      repository: 'r',
      branch: 'main',
      pushedBy: 'arn:aws:iam::111122223333:user/ada',
    },
    live: { commit: 'a'.repeat(40), digest: '1'.repeat(64), endpointConfigName: 'c', at: '2026-03-01T00:00:00Z' },
  };

  it('lifts the quarantine of the desired digest, whichever commit brought it', () => {
    const plan = planRetry({
      ...state,
      quarantined: [{ commit: 'c'.repeat(40), digest: '2'.repeat(64), reason: 'alarm x', at: '2026-03-01T00:00:01Z' }],
    });
    assert.equal(plan.refused, undefined);
    assert.equal(
      'summary' in plan ? plan.summary : '',
      'lifts the quarantine of 222222222222 (rolled back at ccccccc: alarm x) and deploys bbbbbbb again',
    );
  });

  it('deploys out-of-sync content that is not quarantined (a failure that did not quarantine)', () => {
    const plan = planRetry(state);
    assert.equal(
      'summary' in plan ? plan.summary : '',
      'deploys bbbbbbb again (its content 222222222222 is not quarantined; live is aaaaaaa)',
    );
  });

  it('refuses a desired commit whose push is unknown (state written by an older Ballast)', () => {
    const { source: _source, ...older } = state.desired ?? { commit: '', digest: '', pushedAt: '' };
    assert.equal(
      planRetry({ ...state, desired: older }).refused,
      'prod/e: the state does not say which push asked for bbbbbbb (written by an older Ballast); push again',
    );
  });
});

describe('the deploy workflow of a stack (--stack on AWS)', () => {
  it('is the state machine named NAME-deploy, looked for on every page of ListStateMachines', async () => {
    const pages = [
      { stateMachines: [{ name: 'Other-deploy', stateMachineArn: 'arn:other' }], nextToken: 't1' },
      { stateMachines: [{ name: 'BallastProd-deploy', stateMachineArn: 'arn:ballast' }] },
    ];
    const tokens: Array<string | undefined> = [];
    const sfn = {
      send: async (command: { input: { nextToken?: string } }) => {
        tokens.push(command.input.nextToken);
        return pages[tokens.length - 1];
      },
    };
    assert.equal(await findStackStateMachine(sfn as never, 'BallastProd'), 'arn:ballast');
    assert.deepEqual(tokens, [undefined, 't1']);
    tokens.length = 0;
    await assert.rejects(findStackStateMachine(sfn as never, 'Elsewhere'), {
      message:
        'found no state machine named Elsewhere-deploy for the stack Elsewhere (Step Functions ListStateMachines); pass the deploy workflow with --state-machine',
    });
  });
});
