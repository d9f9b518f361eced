// The reconciler's two requests on the deploy workflow, as they cross the trust boundary: a heal
// and a missed push, each parsed field by field, and their deterministic execution names.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { InvalidInputError } from '../../../lambdas/aws/errors.ts';
import { executionName } from '../../../lambdas/sources/common.ts';
import { healExecutionName, isHealRequest, MAX_HEAL_PATHS, parseHealRequest } from '../../../lambdas/sources/heal.ts';
import { pushFromWorkflowInput } from '../../../lambdas/sources/index.ts';
import {
  isMissedPushRequest,
  missedPushExecutionName,
  parseMissedPushRequest,
} from '../../../lambdas/sources/missed-push.ts';

const DIGEST = '1a2b3c4d5e6f'.padEnd(64, '0');
const COMMIT = 'c'.repeat(40);
const STEP_FUNCTIONS_NAME = /^[A-Za-z0-9_-]{1,80}$/;

const heal = (extra: Record<string, unknown> = {}) => ({
  source: 'ballast',
  action: 'heal',
  environment: 'prod',
  endpoint: 'summarizer',
  requestedBy: 'ballast reconcile',
  requestedAt: '2026-03-01T10:00:00Z',
  reason: 'the live endpoint drifted',
  paths: ['/target/sagemaker/instanceCount', '/tags/ballast:managed'],
  digest: DIGEST,
  ...extra,
});

describe('parseHealRequest', () => {
  it('returns the request, its instant normalised', () => {
    assert.deepEqual(parseHealRequest(heal()), {
      source: 'ballast',
      action: 'heal',
      environment: 'prod',
      endpoint: 'summarizer',
      requestedBy: 'ballast reconcile',
      requestedAt: '2026-03-01T10:00:00.000Z',
      reason: 'the live endpoint drifted',
      paths: ['/target/sagemaker/instanceCount', '/tags/ballast:managed'],
      digest: DIGEST,
    });
  });

  it('is told from a retry and a push by its action', () => {
    assert.equal(isHealRequest(heal()), true);
    assert.equal(isHealRequest(heal({ action: 'retry' })), false);
    assert.equal(isHealRequest({ source: 'github', action: 'heal' }), false);
  });

  it('keeps each pointer once, in order', () => {
    const paths = ['/tags/ballast:managed', '/model/image', '/tags/ballast:managed'];
    assert.deepEqual(parseHealRequest(heal({ paths })).paths, ['/tags/ballast:managed', '/model/image']);
  });

  it('takes escaped pointer tokens (~0 and ~1) and 50 pointers of 512 characters', () => {
    const long = `/model/environment/${'X'.repeat(512 - '/model/environment/'.length)}`;
    const paths = Array.from(
      { length: MAX_HEAL_PATHS },
      (_, i) => `${long.slice(0, 508)}${String(i).padStart(4, '0')}`,
    );
    assert.equal(parseHealRequest(heal({ paths })).paths.length, MAX_HEAL_PATHS);
    assert.deepEqual(parseHealRequest(heal({ paths: ['/tags/a~1b~0c'] })).paths, ['/tags/a~1b~0c']);
  });

  const bad: ReadonlyArray<readonly [string, unknown, RegExp]> = [
    ['not an object', 'heal', /expected an object/],
    ['an environment that is no name', heal({ environment: '../prod' }), /not a valid environment name/],
    ['an endpoint that is no name', heal({ endpoint: 'a/b' }), /not a valid endpoint name/],
    ['no requestedBy', heal({ requestedBy: '' }), /'requestedBy' must be a non-empty string/],
    ['a requestedAt that is no instant', heal({ requestedAt: 'soon' }), /requestedAt: 'soon' is not a timestamp/],
    ['no reason', heal({ reason: undefined }), /'reason' must be a non-empty string/],
    ['a reason that is no string', heal({ reason: 42 }), /'reason' must be a string/],
    ['no digest', heal({ digest: undefined }), /'digest' must be a non-empty string/],
    ['a short digest', heal({ digest: DIGEST.slice(0, 12) }), /'digest' must be a content digest/],
    ['an upper-case digest', heal({ digest: DIGEST.toUpperCase() }), /'digest' must be a content digest/],
    ['no paths', heal({ paths: undefined }), /'paths' must be a list of 1 to 50 JSON pointers/],
    ['an empty list of paths', heal({ paths: [] }), /'paths' must be a list of 1 to 50/],
    ['51 paths', heal({ paths: Array.from({ length: 51 }, (_, i) => `/tags/t${i}`) }), /'paths' must be a list/],
    ['a path that is no string', heal({ paths: [7] }), /paths\[0\] must be a JSON pointer/],
    ['a path without its leading slash', heal({ paths: ['target/sagemaker'] }), /paths\[0\] must be a JSON pointer/],
    ['the whole document', heal({ paths: [''] }), /paths\[0\] must be a JSON pointer/],
    ['an empty token', heal({ paths: ['/target//x'] }), /paths\[0\] must be a JSON pointer/],
    ['a bad escape', heal({ paths: ['/tags/a~2'] }), /paths\[0\] must be a JSON pointer/],
    ['a path over 512 characters', heal({ paths: [`/${'x'.repeat(512)}`] }), /at most 512 characters/],
  ];
  for (const [what, input, message] of bad) {
    it(`refuses ${what}`, () => {
      assert.throws(() => parseHealRequest(input), InvalidInputError);
      assert.throws(() => parseHealRequest(input), message);
    });
  }

  it('cuts a long requestedBy and reason, as a retry does', () => {
    const parsed = parseHealRequest(heal({ requestedBy: 'x'.repeat(300), reason: 'y'.repeat(2000) }));
    assert.equal(parsed.requestedBy.length, 256);
    assert.equal(parsed.reason.length, 1024);
  });
});

describe('healExecutionName', () => {
  const request = { environment: 'prod', endpoint: 'summarizer', digest: DIGEST };

  it('is heal-<environment>-<endpoint>-<digest12>-<attempt>', () => {
    assert.equal(healExecutionName(request, 1), 'heal-prod-summarizer-1a2b3c4d5e6f-1');
  });

  it('is the same for the same attempt at the same content, and another for the next attempt', () => {
    assert.equal(healExecutionName(request, 2), healExecutionName({ ...request }, 2));
    assert.notEqual(healExecutionName(request, 2), healExecutionName(request, 3));
  });

  it('stays a valid, distinct Step Functions name for the longest names', () => {
    const long = { environment: 'e'.repeat(63), endpoint: 'n'.repeat(63), digest: DIGEST };
    const first = healExecutionName(long, 1);
    assert.match(first, STEP_FUNCTIONS_NAME);
    assert.notEqual(first, healExecutionName(long, 2));
    assert.notEqual(first, healExecutionName({ ...long, endpoint: `${'n'.repeat(62)}m` }, 1));
  });

  it('refuses an attempt that is not a whole number from 1', () => {
    for (const attempt of [0, -1, 1.5, Number.NaN]) {
      assert.throws(() => healExecutionName(request, attempt), InvalidInputError, String(attempt));
    }
  });
});

describe('executionName', () => {
  it('replaces what Step Functions refuses in a name', () => {
    assert.equal(executionName('heal', 'prod', 'a.b c'), 'heal-prod-a-b-c');
  });

  it('keeps a name of 80 characters as it is', () => {
    const name = 'x'.repeat(80);
    assert.equal(executionName(name), name);
  });
});

describe('the missed push request', () => {
  const push = {
    source: 'codecommit',
    repository: 'model-repo',
    branch: 'main',
    commit: COMMIT.toUpperCase(),
    previousCommit: 'b'.repeat(40),
    pushedBy: 'arn:aws:iam::111122223333:user/alice',
    pushedAt: '2026-03-01T09:00:00Z',
    deliveryId: 'reconcile-run-42',
  };
  const missed = (extra: Record<string, unknown> = {}) => ({
    source: 'ballast',
    action: 'push',
    reason: 'missed',
    push,
    ...extra,
  });

  it('is the push it carries, normalised as a webhook push is', () => {
    assert.deepEqual(pushFromWorkflowInput(missed()), {
      ...push,
      commit: COMMIT,
      pushedAt: '2026-03-01T09:00:00.000Z',
    });
  });

  it('is told from the other Ballast requests by its action', () => {
    assert.equal(isMissedPushRequest(missed()), true);
    assert.equal(isMissedPushRequest(missed({ action: 'heal' })), false);
  });

  const bad: ReadonlyArray<readonly [string, unknown, RegExp]> = [
    ['another reason', missed({ reason: 'manual' }), /'reason' must be 'missed'/],
    ['no push', missed({ push: undefined }), /push: expected an object/],
    ['a push without a commit', missed({ push: { ...push, commit: undefined } }), /'commit' must be a non-empty/],
    ['an abbreviated commit', missed({ push: { ...push, commit: 'abc1234' } }), /not a full commit id/],
    ['an unknown source', missed({ push: { ...push, source: 'gitlab' } }), /unknown source 'gitlab'/],
    [
      'a deliveryId no reconcile run gave',
      missed({ push: { ...push, deliveryId: '6f1e3b52' } }),
      /deliveryId must start with 'reconcile-'/,
    ],
  ];
  for (const [what, input, message] of bad) {
    it(`refuses ${what}`, () => {
      assert.throws(() => parseMissedPushRequest(input), InvalidInputError);
      assert.throws(() => pushFromWorkflowInput(input), message);
    });
  }

  it('is named missed-<environment>-<commit>, the same every time', () => {
    assert.equal(missedPushExecutionName('prod', COMMIT), `missed-prod-${COMMIT}`);
    assert.equal(missedPushExecutionName('prod', COMMIT), missedPushExecutionName('prod', COMMIT));
  });

  it('names a long environment and a SHA-256 commit validly, and apart', () => {
    const sha256 = 'd'.repeat(64);
    const name = missedPushExecutionName('e'.repeat(63), sha256);
    assert.match(name, STEP_FUNCTIONS_NAME);
    assert.notEqual(name, missedPushExecutionName('e'.repeat(63), `${'d'.repeat(63)}e`));
  });
});
