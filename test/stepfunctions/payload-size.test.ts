/**
 * The deploy workflow's data flow, measured where it is largest: a push that changes 2,000
 * endpoints. Step Functions refuses a state's input or output over 256 KiB
 * (States.DataLimitExceeded), so the plan's items and the Map's results must stay small. The
 * real ASL runs with stand-in functions that return what the real handlers return for this path
 * (every endpoint superseded: Lease → RecordSkipped).
 */
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { DEPLOY_STEPS } from '../../lib/workflow-steps.ts';
import { VirtualClock } from '../../sandbox/clock.ts';
import { DEPLOY_ASL } from '../../sandbox/pipeline.ts';
import { type LambdaHandler, LocalRunner } from '../../sandbox/runner.ts';

const STATE_LIMIT = 256 * 1024;
const ENDPOINTS = 2000;
/** Endpoint names up to 63 characters are allowed; 50 is a long average. */
const NAME_LENGTH = 50;

it('a push that changes 2,000 endpoints with 50-character names stays under the 256 KiB state limit', async () => {
  const names = Array.from({ length: ENDPOINTS }, (_, i) =>
    `endpoint-${String(i).padStart(4, '0')}`.padEnd(NAME_LENGTH, 'x'),
  );
  const push = {
    source: 'codecommit',
    repository: 'model-repo',
    branch: 'main',
    commit: 'a'.repeat(40),
    previousCommit: 'b'.repeat(40),
    pushedBy: 'arn:aws:sts::111122223333:assumed-role/platform-engineers/alice',
    pushedAt: '2026-03-01T09:00:00.000Z',
    deliveryId: '6f1e3b52-2d7a-4f0c-9e53-2b3a0c6a7b11',
  };
  const sizes: number[] = [];
  const measured = (fn: (input: unknown) => unknown): LambdaHandler =>
    (async (input: unknown) => {
      sizes.push(JSON.stringify(input).length);
      return fn(input);
    }) as LambdaHandler;
  const functions: Record<string, LambdaHandler> = {
    Resolve: measured(() => ({
      push,
      environment: 'prod',
      snapshotKey: `commits/${push.commit}/snapshot.json`,
      retry: null,
    })),
    Validate: measured(() => ({
      valid: true,
      items: names,
      planKey: `commits/${push.commit}/prod/exec/plan.json`,
      counts: { changed: ENDPOINTS, unchanged: 0, deferred: 0 },
    })),
    Lease: measured(() => ({ acquired: false, reason: 'superseded', digest: 'd'.repeat(64) })),
    Record: measured((input) => ({ endpoint: (input as { endpoint: string }).endpoint, outcome: 'superseded' })),
    RecordPush: measured(() => ({
      outcome: 'superseded',
      reason: `${ENDPOINTS} superseded`,
      ledger: false,
      comment: false,
    })),
  };
  for (const step of Object.values(DEPLOY_STEPS)) functions[step.placeholder] ??= measured(() => ({}));
  const runner = new LocalRunner(new VirtualClock(1, new Date('2026-03-01T09:00:00Z'), () => 0), {
    deploy: { aslPath: DEPLOY_ASL, functions },
  });
  const execution = runner.start('deploy', { source: 'aws.codecommit', detail: {} });
  const output = (await execution.result) as { plan?: { items?: unknown[] } };
  assert.equal(execution.status, 'SUCCEEDED');
  assert.equal(output.plan?.items?.length, ENDPOINTS, "the Map's results replace the names");
  const outputSize = JSON.stringify(output).length;
  assert.ok(outputSize < STATE_LIMIT, `the execution's final state is ${outputSize} bytes`);
  assert.ok(sizes.length > ENDPOINTS, 'every task input was measured');
  const largest = Math.max(...sizes);
  assert.ok(largest < STATE_LIMIT, `the largest task input is ${largest} bytes`);
});
