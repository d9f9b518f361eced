// summarizePush: a push's own outcome, case by case (rejected, failed, nothing to roll out, results).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { summarizePush } from '../../../lambdas/state/push-outcome.ts';
import type { RecordPushInput } from '../../../lambdas/workflow/payloads.ts';
import type { EndpointResult, PlanDocument, Push } from '../../../lambdas/workflow/types.ts';

/** The Validate output as RecordPush parses it. */
type Plan = Extract<RecordPushInput, { kind: 'summary' }>['plan'];

const A = 'a'.repeat(40);

const push: Push = {
  source: 'codecommit',
  repository: 'acme-ml',
  branch: 'main',
  commit: A,
  pushedBy: 'arn:aws:iam::111122223333:user/dev',
  pushedAt: '2026-03-01T09:00:00.000Z',
  deliveryId: 'evt-1',
};

function plan(counts: Plan['counts'], extra: Partial<Plan> = {}): Plan {
  return { valid: true, items: [], counts, planKey: 'plans/a.json', ...extra };
}

function summary(results: readonly EndpointResult[], counts: Plan['counts']): RecordPushInput {
  return { kind: 'summary', push, environment: 'prod', plan: plan(counts), results: [...results], execution: 'exec-1' };
}

function document(extra: Partial<PlanDocument> = {}): PlanDocument {
  return { commit: A, environment: 'prod', endpoints: [], unchanged: [], deferred: [], removed: [], ...extra };
}

const result = (endpoint: string, outcome: EndpointResult['outcome']): EndpointResult => ({ endpoint, outcome });

describe('summarizePush: rejected', () => {
  it('counts the validation errors from issueCount, and answers with a ledger entry and a comment', () => {
    const input: RecordPushInput = {
      kind: 'rejected',
      push,
      environment: 'prod',
      plan: plan(
        { changed: 0, unchanged: 0, deferred: 0 },
        {
          valid: false,
          issueCount: 7,
          issues: [{ file: 'models/a.yaml', line: 3, column: 1, message: 'bad' }],
        },
      ),
      execution: 'exec-1',
    };
    assert.deepEqual(summarizePush(input), {
      outcome: 'rejected',
      reason: '7 validation error(s)',
      ledger: true,
      comment: true,
    });
  });

  it('falls back to the number of issues listed, then to zero', () => {
    const issues = [
      { file: 'models/a.yaml', line: 3, column: 1, message: 'bad' },
      { file: 'models/b.yaml', line: 4, column: 2, message: 'worse' },
    ];
    const listed: RecordPushInput = {
      kind: 'rejected',
      push,
      environment: 'prod',
      plan: plan({ changed: 0, unchanged: 0, deferred: 0 }, { valid: false, issues }),
      execution: 'exec-1',
    };
    assert.equal(summarizePush(listed).reason, '2 validation error(s)');
    const none: RecordPushInput = {
      ...listed,
      plan: plan({ changed: 0, unchanged: 0, deferred: 0 }, { valid: false }),
    };
    assert.equal(summarizePush(none).reason, '0 validation error(s)');
  });
});

describe('summarizePush: failure outside an endpoint', () => {
  it('quotes the errorMessage of a JSON Cause (as on AWS)', () => {
    const input: RecordPushInput = {
      kind: 'failure',
      event: {
        error: {
          Error: 'InvalidInputError',
          Cause: JSON.stringify({ errorType: 'InvalidInputError', errorMessage: 'push.commit: a full commit id' }),
        },
      },
      execution: 'exec-1',
    };
    assert.deepEqual(summarizePush(input), {
      outcome: 'failed',
      reason: 'InvalidInputError: push.commit: a full commit id',
      ledger: true,
      comment: true,
    });
  });

  it('quotes a plain-text Cause as it is (as locally)', () => {
    const input: RecordPushInput = {
      kind: 'failure',
      event: { error: { Error: 'States.TaskFailed', Cause: 'the snapshot could not be read' } },
      execution: 'exec-1',
    };
    const outcome = summarizePush(input);
    assert.equal(outcome.outcome, 'failed');
    assert.equal(outcome.reason, 'States.TaskFailed: the snapshot could not be read');
    assert.equal(outcome.ledger, true);
    assert.equal(outcome.comment, true);
  });

  it('quotes a JSON Cause without errorMessage whole', () => {
    const cause = JSON.stringify({ errorType: 'Error' });
    const input: RecordPushInput = {
      kind: 'failure',
      event: { error: { Error: 'Error', Cause: cause } },
      execution: 'exec-1',
    };
    assert.equal(summarizePush(input).reason, `Error: ${cause}`);
  });
});

describe('summarizePush: no endpoint to roll out', () => {
  it('is unchanged when nothing is deferred, listing the endpoints from the plan document', () => {
    const input = summary([], { changed: 0, unchanged: 2, deferred: 0 });
    const outcome = summarizePush(input, document({ unchanged: ['embeddings', 'summarizer'] }));
    assert.deepEqual(outcome, {
      outcome: 'unchanged',
      reason: 'no endpoint to roll out: 2 endpoint(s) unchanged',
      ledger: true,
      comment: true,
      endpoints: { unchanged: ['embeddings', 'summarizer'] },
      details: [],
    });
  });

  it('is deferred when an endpoint is deferred, with its reason in the details', () => {
    const input = summary([], { changed: 0, unchanged: 1, deferred: 1 });
    const outcome = summarizePush(
      input,
      document({ unchanged: ['summarizer'], deferred: [{ name: 'embeddings', reason: 'EKS is not rolled out' }] }),
    );
    assert.equal(outcome.outcome, 'deferred');
    assert.equal(outcome.reason, 'no endpoint to roll out: 1 endpoint(s) unchanged, 1 deferred');
    assert.equal(outcome.ledger, true);
    assert.equal(outcome.comment, true);
    assert.deepEqual(outcome.endpoints, { unchanged: ['summarizer'], deferred: ['embeddings'] });
    assert.deepEqual(outcome.details, ['embeddings: deferred — EKS is not rolled out']);
  });

  it('lists the removed endpoints', () => {
    const input = summary([], { changed: 0, unchanged: 1, deferred: 0 });
    const outcome = summarizePush(input, document({ unchanged: ['summarizer'], removed: ['old-endpoint'] }));
    assert.equal(outcome.outcome, 'unchanged');
    assert.deepEqual(outcome.endpoints, { unchanged: ['summarizer'], removed: ['old-endpoint'] });
  });

  it('answers from the counts alone when the plan document is not at hand', () => {
    const input = summary([], { changed: 0, unchanged: 0, deferred: 2 });
    const outcome = summarizePush(input);
    assert.equal(outcome.outcome, 'deferred');
    assert.equal(outcome.reason, 'no endpoint to roll out: 0 endpoint(s) unchanged, 2 deferred');
    assert.equal(outcome.endpoints, undefined);
    assert.deepEqual(outcome.details, []);
    assert.equal(outcome.ledger, true);
  });
});

describe('summarizePush: endpoint results', () => {
  const counts = { changed: 2, unchanged: 0, deferred: 0 };
  // SEVERITY, worst first, without `unrecorded` (which answers as failed; see below).
  const order = ['failed', 'rolled-back', 'quarantined', 'superseded', 'deferred', 'deployed', 'unchanged'] as const;

  for (const [index, worse] of order.entries()) {
    for (const better of order.slice(index + 1)) {
      it(`${worse} outranks ${better}`, () => {
        const outcome = summarizePush(summary([result('x', better), result('y', worse), result('z', better)], counts));
        assert.equal(outcome.outcome, worse);
      });
    }
  }

  it('answers a single outcome as that outcome, with no repository entry and no comment', () => {
    const outcome = summarizePush(summary([result('summarizer', 'deployed')], counts));
    assert.deepEqual(outcome, {
      outcome: 'deployed',
      reason: '1 deployed',
      ledger: false,
      comment: false,
      endpoints: { deployed: ['summarizer'] },
    });
  });

  it('counts each outcome in the reason and lists its endpoints', () => {
    const outcome = summarizePush(
      summary([result('a', 'deployed'), result('b', 'rolled-back'), result('c', 'deployed')], counts),
    );
    assert.equal(outcome.outcome, 'rolled-back');
    assert.equal(outcome.reason, '2 deployed, 1 rolled-back');
    assert.deepEqual(outcome.endpoints, { deployed: ['a', 'c'], 'rolled-back': ['b'] });
    assert.equal(outcome.ledger, false);
    assert.equal(outcome.comment, false);
    assert.equal(outcome.details, undefined);
  });

  it('answers an unrecorded endpoint as failed, with a ledger entry, a comment and a detail per endpoint', () => {
    const outcome = summarizePush(
      summary([result('a', 'deployed'), result('b', 'unrecorded'), result('c', 'failed'), result('d', 'unrecorded')], {
        changed: 4,
        unchanged: 0,
        deferred: 0,
      }),
    );
    assert.equal(outcome.outcome, 'failed');
    assert.equal(outcome.reason, '1 deployed, 2 unrecorded, 1 failed');
    assert.equal(outcome.ledger, true);
    assert.equal(outcome.comment, true);
    assert.deepEqual(outcome.endpoints, { deployed: ['a'], unrecorded: ['b', 'd'], failed: ['c'] });
    assert.deepEqual(outcome.details, [
      'b: its outcome could not be recorded; see the execution',
      'd: its outcome could not be recorded; see the execution',
    ]);
  });

  it('answers a push whose only endpoint is unrecorded as failed', () => {
    const outcome = summarizePush(summary([result('a', 'unrecorded')], counts));
    assert.equal(outcome.outcome, 'failed');
    assert.equal(outcome.ledger, true);
    assert.equal(outcome.comment, true);
  });
});
