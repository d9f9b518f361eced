import assert from 'node:assert/strict';
import { it } from 'node:test';
import { recordPushInput } from '../../../lambdas/workflow/payloads.ts';

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
