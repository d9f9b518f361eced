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
});
