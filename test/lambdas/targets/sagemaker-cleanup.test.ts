import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, it } from 'node:test';
import type { Tag } from '@aws-sdk/client-sagemaker';
import { sagemakerNames } from '../../../lambdas/targets/sagemaker.ts';
import {
  configsInUse,
  isNotFound,
  isOwnedName,
  ownedNameDigest,
  ownedNameStem,
  ownershipTagProblem,
  shortensNames,
} from '../../../lambdas/targets/sagemaker-cleanup.ts';

const PREFIX = 'ballast';
const ENV = 'prod';

/** A full sha256 hex digest, as `ResolvedEndpoint.digest` is; names carry its first 12 characters. */
function digest(seed: string): string {
  return createHash('sha256').update(seed).digest('hex');
}

/** The tags Deploy gives (`tags()` in lambdas/targets/sagemaker.ts). */
function ballastTags(environment: string, endpoint: string, fullDigest: string): Tag[] {
  return [
    { Key: 'ballast:managed', Value: 'true' },
    { Key: 'ballast:environment', Value: environment },
    { Key: 'ballast:endpoint', Value: endpoint },
    { Key: 'ballast:commit', Value: 'c0ffee' },
    { Key: 'ballast:digest', Value: fullDigest },
  ];
}

describe('sagemaker-cleanup: names', () => {
  it('gives the stem every name of an endpoint starts with', () => {
    assert.equal(ownedNameStem(PREFIX, ENV, 'summarizer'), 'ballast-prod-summarizer-');
    assert.equal(shortensNames(PREFIX, ENV, 'summarizer'), false);
  });

  it("proves the endpoint's own names and only those", () => {
    const d = digest('one');
    const own = sagemakerNames(PREFIX, ENV, 'summarizer', d);
    assert.equal(isOwnedName(own.endpointConfigName, PREFIX, ENV, 'summarizer'), true);
    assert.equal(isOwnedName(own.modelName, PREFIX, ENV, 'summarizer', { kind: 'model' }), true);
    assert.equal(ownedNameDigest(own.endpointConfigName, PREFIX, ENV, 'summarizer'), d.slice(0, 12));
    const v2 = sagemakerNames(PREFIX, ENV, 'summarizer-v2', d).endpointConfigName;
    assert.equal(isOwnedName(v2, PREFIX, ENV, 'summarizer'), false);
    assert.equal(isOwnedName(v2, PREFIX, ENV, 'summarizer-v2'), true);
  });

  it('refuses near misses', () => {
    const d = digest('one').slice(0, 12);
    const name = `ballast-prod-summarizer-${d}`;
    assert.equal(isOwnedName(`${name}0`, PREFIX, ENV, 'summarizer'), false);
    assert.equal(isOwnedName(name.slice(0, -1), PREFIX, ENV, 'summarizer'), false);
    assert.equal(isOwnedName(`ballast-prod-summarizer-${d.toUpperCase()}`, PREFIX, ENV, 'summarizer'), false);
    assert.equal(isOwnedName(`ballast-prod-summarizer-old-${d}`, PREFIX, ENV, 'summarizer'), false);
    assert.equal(isOwnedName(`x${name}`, PREFIX, ENV, 'summarizer'), false);
    assert.equal(isOwnedName(`ballast-staging-summarizer-${d}`, PREFIX, ENV, 'summarizer'), false);
    // A digest hint does not make a wrong name right.
    assert.equal(isOwnedName(`${name}0`, PREFIX, ENV, 'summarizer', { digestHint: d }), false);
  });

  it('handles names over 63 characters, whose digest the shortening cuts off, through the digest tag', () => {
    const environment = 'production-eu-west-1';
    const endpoint = 'customer-support-ticket-summarizer-large';
    const d = digest('long');
    const { endpointName, endpointConfigName } = sagemakerNames(PREFIX, environment, endpoint, d);
    assert.equal(endpointConfigName.length, 63);
    assert.equal(shortensNames(PREFIX, environment, endpoint), true);
    // The endpoint name is shortened differently: the config name does not contain it.
    assert.equal(endpointConfigName.includes(endpointName), false);
    assert.equal(endpointConfigName.startsWith(ownedNameStem(PREFIX, environment, endpoint)), true);
    assert.equal(isOwnedName(endpointConfigName, PREFIX, environment, endpoint), false);
    assert.equal(isOwnedName(endpointConfigName, PREFIX, environment, endpoint, { digestHint: d }), true);
    assert.equal(
      isOwnedName(endpointConfigName, PREFIX, environment, endpoint, { digestHint: digest('other') }),
      false,
    );
  });

  it('finds a common stem and proves every name for names of every length around the 63-character limit', () => {
    const cases = Array.from({ length: 60 }, (_, i) => `e${'x'.repeat(i)}`);
    assert.ok(cases.length > 0);
    for (const endpoint of cases) {
      const stem = ownedNameStem(PREFIX, ENV, endpoint);
      assert.ok(stem.length > 0, endpoint);
      for (const seed of ['a', 'b', 'c']) {
        const d = digest(`${endpoint}/${seed}`);
        const name = sagemakerNames(PREFIX, ENV, endpoint, d).endpointConfigName;
        assert.ok(name.startsWith(stem), `${name} starts with ${stem}`);
        assert.ok(stem.length <= 63, stem);
        assert.equal(isOwnedName(name, PREFIX, ENV, endpoint, { digestHint: d }), true, name);
        const withoutTag = isOwnedName(name, PREFIX, ENV, endpoint);
        assert.equal(withoutTag, !shortensNames(PREFIX, ENV, endpoint), name);
        assert.equal(isOwnedName(name, PREFIX, ENV, `${endpoint}-v2`, { digestHint: d }), false, name);
      }
    }
  });
});

describe('sagemaker-cleanup: tags and endpoint state', () => {
  it('accepts the tags Deploy gives', () => {
    assert.equal(ownershipTagProblem(ballastTags(ENV, 'summarizer', digest('x')), ENV, 'summarizer'), undefined);
  });

  it('names each missing or wrong tag', () => {
    assert.equal(
      ownershipTagProblem([], ENV, 'summarizer'),
      "not tagged as prod/summarizer's: no ballast:managed tag; no ballast:environment tag; no ballast:endpoint tag",
    );
    assert.equal(
      ownershipTagProblem(ballastTags('staging', 'summarizer-v2', digest('x')), ENV, 'summarizer'),
      'not tagged as prod/summarizer\'s: ballast:environment is "staging", not "prod"; ballast:endpoint is "summarizer-v2", not "summarizer"',
    );
    assert.equal(
      ownershipTagProblem(
        [
          { Key: 'ballast:managed', Value: 'false' },
          { Key: 'ballast:environment', Value: ENV },
          { Key: 'ballast:endpoint', Value: 'summarizer' },
        ],
        ENV,
        'summarizer',
      ),
      'not tagged as prod/summarizer\'s: ballast:managed is "false", not "true"',
    );
  });

  it('reads the current and the pending configuration from DescribeEndpoint', () => {
    assert.deepEqual(
      [
        ...configsInUse({
          EndpointConfigName: 'a',
          PendingDeploymentSummary: { EndpointConfigName: 'b', StartTime: new Date() },
        }),
      ],
      ['a', 'b'],
    );
    assert.deepEqual([...configsInUse({ EndpointConfigName: 'a' })], ['a']);
  });

  it('recognises SageMaker\'s "Could not find" answer', () => {
    const gone = Object.assign(new Error('Could not find endpoint configuration "arn:…".'), {
      name: 'ValidationException',
    });
    assert.equal(isNotFound(gone), true);
    const invalid = Object.assign(new Error('1 validation error detected'), { name: 'ValidationException' });
    assert.equal(isNotFound(invalid), false);
  });
});
