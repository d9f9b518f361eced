import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ContextError, readAppConfig } from '../../bin/context.ts';

const reader =
  (context: Record<string, unknown>) =>
  (key: string): unknown =>
    context[key];

describe('readAppConfig', () => {
  it('reads a CodeCommit source from cdk.json-style objects', () => {
    const config = readAppConfig(reader({ 'ballast:source': { type: 'codecommit', repositoryName: 'models' } }), {});
    assert.equal(config.stackName, 'Ballast');
    assert.deepEqual(config.props.source, { type: 'codecommit', repositoryName: 'models', createRepository: false });
    assert.equal(config.props.resourcePrefix, 'ballast');
    assert.equal(config.props.env, undefined);
  });

  it('reads a GitHub source given as a JSON string on the command line (-c)', () => {
    const config = readAppConfig(
      reader({
        'ballast:source': '{"type":"github","repository":"acme/models","webhookSecretName":"w","tokenSecretName":"t"}',
        'ballast:stackName': 'BallastProd',
        'ballast:region': 'eu-west-1',
      }),
      { CDK_DEFAULT_ACCOUNT: '111122223333' },
    );
    assert.equal(config.stackName, 'BallastProd');
    assert.deepEqual(config.props.source, {
      type: 'github',
      repository: 'acme/models',
      webhookSecretName: 'w',
      tokenSecretName: 't',
    });
    assert.deepEqual(config.props.env, { account: '111122223333', region: 'eu-west-1' });
  });

  it('refuses missing or malformed context with a message naming the key', () => {
    assert.throws(
      () => readAppConfig(reader({}), {}),
      (e: unknown) => e instanceof ContextError && /ballast:source/.test(e.message),
    );
    assert.throws(
      () => readAppConfig(reader({ 'ballast:source': { type: 'svn' } }), {}),
      /must be 'codecommit' or 'github'/,
    );
    assert.throws(
      () => readAppConfig(reader({ 'ballast:source': { type: 'github', repository: 'nope' } }), {}),
      /must be 'owner\/name'/,
    );
    assert.throws(() => readAppConfig(reader({ 'ballast:source': '{not json' }), {}), /not valid JSON/);
    assert.throws(
      () =>
        readAppConfig(
          reader({
            'ballast:source': { type: 'codecommit', repositoryName: 'm' },
            'ballast:resourcePrefix': 'Bad_Prefix',
          }),
          {},
        ),
      /resourcePrefix/,
    );
  });

  it('reads artifact source buckets as a list (cdk.json), a JSON list or a comma-separated string (-c)', () => {
    const base = { 'ballast:source': { type: 'codecommit', repositoryName: 'm' } };
    const read = (value: unknown) =>
      readAppConfig(reader({ ...base, 'ballast:artifactSourceBuckets': value }), {}).props.artifactSourceBuckets;
    assert.deepEqual(read(['acme-models', 'acme.shared-artifacts']), ['acme-models', 'acme.shared-artifacts']);
    assert.deepEqual(read('["acme-models"]'), ['acme-models']);
    assert.deepEqual(read('acme-models, other-bucket,acme-models'), ['acme-models', 'other-bucket']);
    assert.equal(read(undefined), undefined);
    assert.throws(() => read(['Not_A_Bucket']), /artifactSourceBuckets: not S3 bucket names: 'Not_A_Bucket'/);
    assert.throws(() => read([42]), /must be a list of bucket names/);
    assert.throws(() => read({ bucket: 'x' }), /must be a list of bucket names/);
  });

  it('reads an alarm email and a log retention', () => {
    const base = { 'ballast:source': { type: 'codecommit', repositoryName: 'm' } };
    const config = readAppConfig(
      reader({ ...base, 'ballast:alarmEmail': 'ml-platform@example.com', 'ballast:logRetentionDays': '90' }),
      {},
    );
    assert.equal(config.props.alarmEmail, 'ml-platform@example.com');
    assert.equal(config.props.logRetention, 90);
    assert.equal(readAppConfig(reader({ ...base, 'ballast:logRetentionDays': 365 }), {}).props.logRetention, 365);
    const defaults = readAppConfig(reader(base), {}).props;
    assert.equal(defaults.alarmEmail, undefined);
    assert.equal(defaults.logRetention, undefined);
    assert.throws(
      () => readAppConfig(reader({ ...base, 'ballast:alarmEmail': 'not an address' }), {}),
      /ballast:alarmEmail 'not an address' is not an email address/,
    );
    assert.throws(
      () => readAppConfig(reader({ ...base, 'ballast:logRetentionDays': 10 }), {}),
      /ballast:logRetentionDays must be one of 1, 3, 5, 7, 14, 30/,
    );
  });

  it('reads the reconciler’s tick (1-60 minutes) and whether it runs', () => {
    const base = { 'ballast:source': { type: 'codecommit', repositoryName: 'm' } };
    const read = (context: Record<string, unknown>) => readAppConfig(reader({ ...base, ...context }), {}).props;
    const defaults = read({});
    assert.equal(defaults.reconcileTickMinutes, undefined, 'the stack default (1) applies');
    assert.equal(defaults.reconcileEnabled, undefined, 'the stack default (enabled) applies');
    assert.equal(read({ 'ballast:reconcileTickMinutes': 5 }).reconcileTickMinutes, 5);
    assert.equal(read({ 'ballast:reconcileTickMinutes': '60' }).reconcileTickMinutes, 60);
    for (const bad of [0, 61, 1.5, '', 'five', '2m']) {
      assert.throws(
        () => read({ 'ballast:reconcileTickMinutes': bad }),
        /ballast:reconcileTickMinutes must be a whole number of minutes from 1 to 60/,
        JSON.stringify(bad),
      );
    }
    assert.equal(read({ 'ballast:reconcile': false }).reconcileEnabled, false);
    assert.equal(read({ 'ballast:reconcile': 'false' }).reconcileEnabled, false);
    assert.equal(read({ 'ballast:reconcile': 'true' }).reconcileEnabled, true);
    assert.throws(() => read({ 'ballast:reconcile': 'off' }), /ballast:reconcile must be true or false, got "off"/);
  });
});
