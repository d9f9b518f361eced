import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  AUTOSCALED_REASON,
  actualView,
  applyIgnores,
  type ConfigShape,
  decideReconcile,
  desiredDrift,
  diffViews,
  expectedView,
  fingerprint,
  globMatches,
  MAX_HEALS,
  type ModelShape,
  nextDriftMark,
  pointerMatches,
  precheck,
} from '../../../lambdas/state/drift.ts';
import { type EndpointState, emptyState } from '../../../lambdas/state/endpoint-state.ts';

const T0 = '2026-03-01T09:00:00.000Z';
const T1 = '2026-03-01T09:05:00.000Z';
const DIGEST = 'd'.repeat(64);
const OTHER = 'e'.repeat(64);

const config = (overrides: Partial<NonNullable<ConfigShape['ProductionVariants']>[number]> = {}): ConfigShape => ({
  EndpointConfigName: 'ballast-prod-summarizer-dddddddddddd',
  ProductionVariants: [
    {
      VariantName: 'AllTraffic',
      ModelName: 'ballast-prod-summarizer-dddddddddddd',
      InstanceType: 'ml.g5.2xlarge',
      InitialInstanceCount: 2,
      InitialVariantWeight: 1,
      ...overrides,
    },
  ],
});

const model = (environment: Record<string, string> = {}): ModelShape => ({
  ModelName: 'ballast-prod-summarizer-dddddddddddd',
  ExecutionRoleArn: 'arn:aws:iam::111122223333:role/ballast-sagemaker',
  PrimaryContainer: {
    Image: '763104351884.dkr.ecr.us-east-1.amazonaws.com/hf:1',
    ModelDataUrl: 's3://ballast-state/artifacts/sha256/abc.tar.gz',
    Environment: { BALLAST_DIGEST: DIGEST, LOG_LEVEL: 'info', ...environment },
  },
});

const endpoint = (count = 2, weight = 1, status = 'InService') => ({
  EndpointStatus: status,
  EndpointConfigName: 'ballast-prod-summarizer-dddddddddddd',
  ProductionVariants: [{ VariantName: 'AllTraffic', CurrentWeight: weight, CurrentInstanceCount: count }],
});

const managed = [{ Key: 'ballast:managed', Value: 'true' }];

function liveState(extra: Partial<EndpointState> = {}): EndpointState {
  const ref = {
    commit: 'a'.repeat(40),
    digest: DIGEST,
    endpointConfigName: 'ballast-prod-summarizer-dddddddddddd',
    at: T0,
  };
  return {
    ...emptyState('prod', 'summarizer', T0),
    desired: { commit: ref.commit, digest: DIGEST, pushedAt: T0 },
    live: ref,
    lastGood: ref,
    ...extra,
  };
}

describe('drift views', () => {
  it('finds nothing when the endpoint runs what Ballast created', () => {
    const drift = diffViews(expectedView(config(), model()), actualView(endpoint(), config(), model(), managed));
    assert.deepEqual(drift, []);
  });

  it('reports a hand-made configuration field by field, as JSON pointers', () => {
    const theirs = { ...config({ InstanceType: 'ml.g5.12xlarge' }), EndpointConfigName: 'hand-made' };
    const drift = diffViews(expectedView(config(), model()), actualView(endpoint(), theirs, model(), managed));
    assert.deepEqual(drift, [
      {
        path: '/target/sagemaker/endpointConfigName',
        expected: 'ballast-prod-summarizer-dddddddddddd',
        actual: 'hand-made',
      },
      { path: '/target/sagemaker/instanceType', expected: 'ml.g5.2xlarge', actual: 'ml.g5.12xlarge' },
    ]);
  });

  it('reads counts and weights from the endpoint itself (UpdateEndpointWeightsAndCapacities changes no configuration)', () => {
    const drift = diffViews(expectedView(config(), model()), actualView(endpoint(4, 1), config(), model(), managed));
    assert.deepEqual(drift, [{ path: '/target/sagemaker/instanceCount', expected: '2', actual: '4' }]);
  });

  it('reports a removed ballast:managed tag, and ignores tags users add', () => {
    const tags = [{ Key: 'team', Value: 'ml' }];
    const drift = diffViews(expectedView(config(), model()), actualView(endpoint(), config(), model(), tags));
    assert.deepEqual(drift, [{ path: '/tags/ballast:managed', expected: 'true', actual: null }]);
  });

  it('reports an added and a changed environment variable of the Model', () => {
    const theirs = model({ LOG_LEVEL: 'debug', EXTRA: '1' });
    const none = new Set<string>();
    const drift = diffViews(
      expectedView(config(), model(), none),
      actualView(endpoint(), config(), theirs, managed, none),
    );
    assert.deepEqual(drift, [
      { path: '/model/environment/EXTRA', expected: null, actual: '1' },
      { path: '/model/environment/LOG_LEVEL', expected: 'info', actual: 'debug' },
    ]);
  });

  it('never shows the value of a variable that holds a secret, only that it differs', () => {
    const redact = new Set(['API_KEY']);
    const expected = expectedView(config(), model({ API_KEY: 'old-secret' }), redact);
    const actual = actualView(endpoint(), config(), model({ API_KEY: 'new-secret' }), managed, redact);
    const drift = diffViews(expected, actual);
    assert.equal(drift.length, 1);
    const [only] = drift;
    assert.equal(only?.path, '/model/environment/API_KEY');
    assert.doesNotMatch(JSON.stringify(drift), /secret"|old-secret|new-secret/);
    assert.match(only?.expected ?? '', /^\(secret sha256:[0-9a-f]{12}\)$/);
  });

  it('escapes ~ and / in pointer segments (RFC 6901)', () => {
    const actual = actualView(endpoint(), config(), model(), [...managed, { Key: 'ballast:a/b', Value: 'x' }]);
    assert.equal(actual['/tags/ballast:a~1b'], 'x');
  });

  it('reports a missing DataCapture as it is, and an added one', () => {
    const theirs: ConfigShape = {
      ...config(),
      DataCaptureConfig: { EnableCapture: true, DestinationS3Uri: 's3://b/p' },
    };
    const drift = diffViews(expectedView(config(), model()), actualView(endpoint(), theirs, model(), managed));
    assert.deepEqual(drift, [{ path: '/target/sagemaker/dataCapture', expected: null, actual: 'enabled to s3://b/p' }]);
  });
});

describe('ignore rules', () => {
  const drift = [
    { path: '/target/sagemaker/instanceCount', expected: '2', actual: '4' },
    { path: '/model/environment/LOG_LEVEL', expected: 'info', actual: 'debug' },
  ];

  it('matches endpoint globs', () => {
    assert.equal(globMatches('summarizer-*', 'summarizer-v2'), true);
    assert.equal(globMatches('summarizer-?', 'summarizer-v2'), false);
    assert.equal(globMatches('*', 'anything'), true);
  });

  it('matches pointers segment by segment, * for one segment, a rule covering what is under it', () => {
    assert.equal(pointerMatches('/model/environment', '/model/environment/LOG_LEVEL'), true);
    assert.equal(pointerMatches('/model/*/LOG_LEVEL', '/model/environment/LOG_LEVEL'), true);
    assert.equal(pointerMatches('/model/environment/LOG', '/model/environment/LOG_LEVEL'), false);
    assert.equal(pointerMatches('/model/environment/LOG_LEVEL/x', '/model/environment/LOG_LEVEL'), false);
  });

  it('keeps what no rule explains, and says which rule explained the rest', () => {
    const result = applyIgnores(
      'summarizer',
      drift,
      [{ endpoint: 'summ*', path: '/model/environment/LOG_LEVEL', reason: 'debugging in prod' }],
      false,
    );
    assert.deepEqual(result.drift, [drift[0]]);
    assert.equal(result.ignored.length, 1);
    assert.equal(
      result.ignored[0]?.reason,
      'ballast.yaml drift.ignore /model/environment/LOG_LEVEL: debugging in prod',
    );
  });

  it("ignores an autoscaled variant's count by default, and only that", () => {
    const result = applyIgnores('summarizer', drift, [], true);
    assert.deepEqual(result.drift, [drift[1]]);
    assert.equal(result.ignored[0]?.reason, AUTOSCALED_REASON);
  });

  it('a rule for another endpoint does not apply', () => {
    const result = applyIgnores('summarizer', drift, [{ endpoint: 'embeddings', path: '/target' }], false);
    assert.equal(result.drift.length, 2);
  });
});

describe('decisions', () => {
  const drift = [{ path: '/target/sagemaker/instanceType', expected: 'ml.g5.2xlarge', actual: 'ml.g5.12xlarge' }];
  const on = { selfHeal: true, prune: false };

  it('never looks at an endpoint a rollout holds', () => {
    const state = liveState({
      lease: { commit: 'b'.repeat(40), digest: OTHER, execution: 'push-b', pushedAt: T1, acquiredAt: T1 },
    });
    const action = precheck(state, true, on);
    assert.equal(action?.action, 'skip');
  });

  it('reports a removed declaration, and prunes it only when asked', () => {
    assert.deepEqual(precheck(liveState(), false, on), { action: 'removed' });
    assert.deepEqual(precheck(liveState(), false, { selfHeal: true, prune: true }), { action: 'prune' });
  });

  it('heals drift, counting attempts per drift', () => {
    assert.deepEqual(decideReconcile(liveState(), drift, on), { action: 'heal', attempt: 1 });
    const mark = nextDriftMark(undefined, drift, { action: 'heal', attempt: 1 }, T0);
    assert.deepEqual(decideReconcile(liveState({ drift: mark }), drift, on), { action: 'heal', attempt: 2 });
  });

  it(`stops healing the same drift after ${MAX_HEALS} heals and reports it`, () => {
    let mark = nextDriftMark(undefined, drift, { action: 'heal', attempt: 1 }, T0);
    for (let i = 2; i <= MAX_HEALS; i++) mark = nextDriftMark(mark, drift, { action: 'heal', attempt: i }, T1);
    assert.equal(mark?.heals, MAX_HEALS);
    assert.equal(mark?.since, T0);
    assert.equal(decideReconcile(liveState({ drift: mark }), drift, on).action, 'report');
  });

  it('a different drift starts counting again', () => {
    const mark = nextDriftMark(undefined, drift, { action: 'heal', attempt: 1 }, T0);
    const other = [{ path: '/model/image', expected: 'a', actual: 'b' }];
    assert.notEqual(fingerprint(other), mark?.fingerprint);
    assert.deepEqual(decideReconcile(liveState({ drift: mark }), other, on), { action: 'heal', attempt: 1 });
  });

  it('only reports when selfHeal is off', () => {
    assert.equal(decideReconcile(liveState(), drift, { selfHeal: false, prune: false }).action, 'report');
  });

  it('never heals towards quarantined content', () => {
    const state = liveState({
      quarantined: [{ commit: 'a'.repeat(40), digest: DIGEST, reason: 'rolled back', at: T0 }],
    });
    const action = decideReconcile(state, drift, on);
    assert.equal(action.action, 'report');
  });

  it('is in sync without drift, and the mark is cleared', () => {
    assert.deepEqual(decideReconcile(liveState(), [], on), { action: 'in-sync' });
    assert.equal(nextDriftMark(undefined, [], { action: 'in-sync' }, T0), undefined);
  });

  it('a desired version that is not live is drift of the digest', () => {
    const state = liveState({ desired: { commit: 'b'.repeat(40), digest: OTHER, pushedAt: T1 } });
    assert.deepEqual(desiredDrift(state), { path: '/digest', expected: OTHER, actual: DIGEST });
    assert.equal(desiredDrift(liveState()), undefined);
  });
});

describe('statuses no deployment fixes', () => {
  it('reports an endpoint SageMaker left OutOfService or UpdateRollbackFailed, and does not heal it', () => {
    for (const status of ['OutOfService', 'UpdateRollbackFailed']) {
      const action = decideReconcile(liveState(), [{ path: '/status', expected: 'InService', actual: status }], {
        selfHeal: true,
        prune: false,
      });
      assert.equal(action.action, 'report', status);
    }
  });

  it('heals a deleted endpoint (it is created again)', () => {
    const action = decideReconcile(liveState(), [{ path: '/status', expected: 'InService', actual: null }], {
      selfHeal: true,
      prune: false,
    });
    assert.equal(action.action, 'heal');
  });
});
