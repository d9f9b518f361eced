/**
 * Park and Wake against the sandbox's S3 and Step Functions (real SDK clients from AWS_ENDPOINT_URL):
 * Park parks a callback task's token under the endpoint's name, Wake answers the parked tokens when
 * SageMaker says the endpoint settled. Stale tokens, duplicate events and unknown endpoints are no
 * error; a failed SendTaskSuccess is, so that the event is retried.
 */
import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import { CreateBucketCommand, PutBucketVersioningCommand, S3Client } from '@aws-sdk/client-s3';
import { resetClients } from '../../../lambdas/aws/client-config.ts';
import { handler as parkHandler } from '../../../lambdas/handlers/park.ts';
import { logger, useClock } from '../../../lambdas/handlers/runtime.ts';
import { type WakeResult, handler as wakeHandler } from '../../../lambdas/handlers/wake.ts';
import { JsonStore } from '../../../lambdas/state/json-store.ts';
import { keys } from '../../../lambdas/state/keys.ts';
import { EXPIRY_MARGIN_SECONDS, type WakeList } from '../../../lambdas/state/wake.ts';
import { type Sandbox, startSandbox } from '../../../sandbox/sandbox.ts';
import type { IssuedTaskToken, TaskOutcome } from '../../../sandbox/services/stepfunctions/task-tokens.ts';

const BUCKET = 'ballast-wake-test';
const ENDPOINT = 'ballast-prod-summarizer';
const COMMIT = 'a'.repeat(40);

describe('Park and Wake', () => {
  let sandbox: Sandbox;
  let s3: S3Client;
  let store: JsonStore;
  const tokens: IssuedTaskToken[] = [];

  before(async () => {
    sandbox = await startSandbox({ timeScale: 1, start: new Date('2026-03-01T09:00:00Z') });
    Object.assign(process.env, sandbox.env(), { BALLAST_STATE_BUCKET: BUCKET, BALLAST_RESOURCE_PREFIX: 'ballast' });
    resetClients();
    logger.setLogLevel('SILENT');
    useClock(() => sandbox.clock.now());
    s3 = new S3Client({ endpoint: sandbox.url, region: sandbox.region });
    await s3.send(new CreateBucketCommand({ Bucket: BUCKET }));
    await s3.send(new PutBucketVersioningCommand({ Bucket: BUCKET, VersioningConfiguration: { Status: 'Enabled' } }));
    store = new JsonStore(s3, BUCKET);
  });

  after(async () => {
    for (const token of tokens) token.close();
    s3.destroy();
    resetClients();
    await sandbox.stop();
  });

  beforeEach(() => {
    sandbox.faults.clear();
  });

  /** A task token as the local runner would get it for a callback task of `execution`. */
  function issue(execution: string): IssuedTaskToken {
    const issued = sandbox.stepfunctions.issueTaskToken({
      executionArn: `arn:aws:states:us-east-1:111122223333:execution:ballast-deploy:${execution}`,
      stateName: 'WaitForRollout',
    });
    tokens.push(issued);
    return issued;
  }

  const park = (execution: string, taskToken: string, options: { endpointName?: string; waitSeconds?: number } = {}) =>
    parkHandler({
      taskToken,
      state: 'WaitForRollout',
      endpointName: options.endpointName ?? ENDPOINT,
      waitSeconds: options.waitSeconds ?? 1800,
      execution,
      environment: 'prod',
      endpoint: 'summarizer',
      commit: COMMIT,
    });

  const event = (
    EndpointName: string,
    EndpointStatus = 'IN_SERVICE',
    detailType = 'SageMaker Endpoint State Change',
  ) => ({
    version: '0',
    id: `event-${Math.random().toString(36).slice(2)}`,
    'detail-type': detailType,
    source: 'aws.sagemaker',
    account: '111122223333',
    time: '2026-03-01T09:12:00Z',
    region: 'us-east-1',
    resources: [`arn:aws:sagemaker:us-east-1:111122223333:endpoint/${EndpointName}`],
    detail: { EndpointName, EndpointArn: 'arn', EndpointConfigName: 'cfg', EndpointStatus, Tags: {} },
  });
  const wake = (e: unknown) => wakeHandler(e) as Promise<WakeResult>;
  const list = async (endpointName = ENDPOINT) => (await store.get<WakeList>(keys.wake(endpointName)))?.value;
  const calls = (operation: string, from: number) =>
    sandbox.requests
      .all()
      .slice(from)
      .filter((r) => r.operation === operation).length;

  it('parks the task token under the endpoint name; Wake answers it with what woke it', async () => {
    const task = issue('exec-1');
    await park('exec-1', task.token);
    const parked = await list();
    assert.equal(parked?.waiters['exec-1']?.taskToken, task.token);
    const entry = parked?.waiters['exec-1'];
    assert.equal(
      entry?.until,
      new Date(Date.parse(entry?.parkedAt ?? '') + 1_800_000).toISOString(),
      'until the timeout',
    );
    assert.deepEqual([entry?.state, entry?.commit], ['WaitForRollout', COMMIT]);

    const result = await wake(event(ENDPOINT));
    assert.deepEqual([result.woken, result.closed], [1, 0]);
    const outcome = (await task.outcome) as Extract<TaskOutcome, { status: 'succeeded' }>;
    assert.equal(outcome.status, 'succeeded');
    assert.deepEqual(outcome.output, {
      woken: 'SageMaker Endpoint State Change',
      status: 'IN_SERVICE',
      eventId: (outcome.output as { eventId: string }).eventId,
      at: '2026-03-01T09:12:00Z',
    });
  });

  it('wakes every execution that waits for the endpoint; a newer Park of an execution replaces its entry; timed-out entries are dropped', async () => {
    const endpointName = 'ballast-prod-two-waiters';
    const a1 = issue('exec-a');
    const b = issue('exec-b');
    const a2 = issue('exec-a');
    const old = issue('exec-old');
    await park('exec-old', old.token, { endpointName, waitSeconds: 60 });
    sandbox.clock.advance((60 + EXPIRY_MARGIN_SECONDS + 1) * 1000);
    await park('exec-a', a1.token, { endpointName });
    await park('exec-b', b.token, { endpointName });
    await park('exec-a', a2.token, { endpointName });
    const parked = await list(endpointName);
    assert.deepEqual(Object.keys(parked?.waiters ?? {}).sort(), ['exec-a', 'exec-b'], 'the timed-out entry is gone');
    assert.equal(parked?.waiters['exec-a']?.taskToken, a2.token, "A's newer wait");

    const mark = sandbox.requests.all().length;
    const result = await wake(event(endpointName));
    assert.deepEqual([result.woken, result.closed], [2, 0]);
    assert.equal(calls('SendTaskSuccess', mark), 2);
    assert.equal((await a2.outcome).status, 'succeeded');
    assert.equal((await b.outcome).status, 'succeeded');
  });

  it('a retried Park with the same token writes nothing', async () => {
    const task = issue('exec-retry');
    await park('exec-retry', task.token, { endpointName: 'ballast-prod-retried' });
    const mark = sandbox.requests.all().length;
    await park('exec-retry', task.token, { endpointName: 'ballast-prod-retried' });
    assert.equal(calls('PutObject', mark), 0);
  });

  it('a duplicate event, a timed-out task and a token that was never valid are no error', async () => {
    const endpointName = 'ballast-prod-stale';
    const live = issue('exec-live');
    const timedOut = issue('exec-timed-out');
    timedOut.close();
    await park('exec-live', live.token, { endpointName });
    await park('exec-timed-out', timedOut.token, { endpointName });
    await park('exec-garbage', 'not-a-task-token', { endpointName });

    const first = await wake(event(endpointName));
    assert.deepEqual([first.woken, first.closed], [1, 2]);
    // SageMaker may send an event more than once; Lambda may retry one.
    const again = await wake(event(endpointName, 'IN_SERVICE', 'SageMaker Endpoint Deployment State Change'));
    assert.deepEqual([again.woken, again.closed], [0, 3]);
  });

  it('an endpoint nobody waits for costs one GetObject; other endpoints and unsettled statuses cost nothing', async () => {
    let mark = sandbox.requests.all().length;
    assert.deepEqual(await wake(event('ballast-prod-nobody-waits')), {
      endpointName: 'ballast-prod-nobody-waits',
      woken: 0,
      closed: 0,
    });
    assert.equal(calls('GetObject', mark), 1);
    assert.equal(calls('SendTaskSuccess', mark), 0);

    const task = issue('exec-other');
    await park('exec-other', task.token, { endpointName: 'ballast-prod-updating' });
    mark = sandbox.requests.all().length;
    const updating = await wake(event('ballast-prod-updating', 'UPDATING'));
    assert.equal(updating.ignored, 'status UPDATING');
    const foreign = await wake(event('someone-elses-endpoint'));
    assert.match(foreign.ignored ?? '', /not under the prefix ballast-/);
    assert.equal(sandbox.requests.all().length, mark, 'no call at all');
  });

  it('fails the invocation when SendTaskSuccess keeps failing (so the event is retried), and the retry wakes the task', async () => {
    const endpointName = 'ballast-prod-flaky';
    const task = issue('exec-flaky');
    await park('exec-flaky', task.token, { endpointName });
    // More 5xx answers than the SDK's five attempts.
    sandbox.faults.add({ service: 'states', operation: 'SendTaskSuccess', kind: 'server-error', times: 5 });
    await assert.rejects(wake(event(endpointName)), (error: Error) => error.name === 'TransientError');
    const retried = await wake(event(endpointName));
    assert.deepEqual([retried.woken, retried.closed], [1, 0]);
  });

  it('refuses input that is not what it expects, naming the field', async () => {
    await assert.rejects(
      parkHandler({ state: 'WaitForRollout', endpointName: ENDPOINT, waitSeconds: 60 }),
      (error: Error) => error.name === 'InvalidInputError' && error.message.includes('$.taskToken'),
    );
    await assert.rejects(
      wakeHandler({ source: 'aws.codecommit', detail: {} }),
      (error: Error) => error.name === 'InvalidInputError',
    );
  });
});
