import assert from 'node:assert/strict';
import { it } from 'node:test';
import { endpointWork, recordPushInput } from '../../../lambdas/workflow/payloads.ts';

const push = {
  source: 'codecommit',
  repository: 'model-repo',
  branch: 'main',
  commit: 'a'.repeat(40),
  pushedBy: 'arn:aws:iam::111122223333:user/dev',
  pushedAt: '2026-03-01T09:00:00.000Z',
  deliveryId: 'event-1',
};

it("reads a Map result that is not an endpoint's answer (a failed child execution) as unrecorded", () => {
  const input = recordPushInput.parse({
    kind: 'summary',
    push,
    environment: 'prod',
    plan: { valid: true, items: [], counts: { changed: 2, unchanged: 0, deferred: 0 } },
    results: [
      { endpoint: 'summarizer', outcome: 'deployed' },
      { Error: 'States.Timeout', Cause: '' },
    ],
    execution: 'exec-1',
  });
  assert.equal(input.kind, 'summary');
  assert.deepEqual(input.kind === 'summary' ? input.results : [], [
    { endpoint: 'summarizer', outcome: 'deployed' },
    { endpoint: '(unknown)', outcome: 'unrecorded', error: 'no result' },
  ]);
});

const work = (retry: unknown) => ({ push, environment: 'prod', endpoint: 'summarizer', execution: 'exec-1', retry });
const heal = {
  endpoint: 'summarizer',
  requestedBy: 'ballast reconcile',
  requestedAt: '2026-03-01T10:00:00.000Z',
  reason: 'drifted',
  kind: 'heal',
  paths: ['/target/sagemaker/instanceCount'],
};

it('carries a heal through the per-endpoint states: its kind and what drifted', () => {
  assert.deepEqual(endpointWork.parse(work(heal)).retry, heal);
});

it('carries a plain retry as it is, without a kind', () => {
  const retry = { endpoint: 'summarizer', requestedBy: 'ops', requestedAt: '2026-03-01T10:00:00.000Z' };
  assert.deepEqual(endpointWork.parse(work(retry)).retry, retry);
});

it('refuses a heal whose paths are not JSON pointers', () => {
  assert.equal(endpointWork.safeParse(work({ ...heal, paths: ['target'] })).success, false);
});

it('refuses a heal with more than 50 paths', () => {
  const paths = Array.from({ length: 51 }, (_, i) => `/tags/t${i}`);
  assert.equal(endpointWork.safeParse(work({ ...heal, paths })).success, false);
});

it('refuses a retry of an unknown kind', () => {
  assert.equal(endpointWork.safeParse(work({ ...heal, kind: 'repair' })).success, false);
});

it("hands RecordPush the execution's retry, and none for a push (null from the ASL)", () => {
  const summary = (retry: unknown) =>
    recordPushInput.parse({
      kind: 'summary',
      push,
      environment: 'prod',
      retry,
      plan: { valid: true, items: [], counts: { changed: 1, unchanged: 0, deferred: 0 } },
      results: [{ endpoint: 'summarizer', outcome: 'deployed' }],
      execution: 'exec-1',
    });
  const healed = summary(heal);
  assert.deepEqual(healed.kind === 'summary' ? healed.retry : undefined, heal);
  const pushed = summary(null);
  assert.equal(pushed.kind === 'summary' ? pushed.retry : 'missing', undefined);
});
