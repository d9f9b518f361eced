/**
 * The Secrets Manager behaviour Ballast relies on (the GitHub webhook secret and API token: created,
 * read by name or ARN, rotated with PutSecretValue, deleted), run against the sandbox and moto. See
 * test/support/aws-targets.ts for the harness. Where the two disagree, the case follows the Secrets
 * Manager API Reference and is skipped for the target that departs from it, with the reason.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { it } from 'node:test';
import {
  CreateSecretCommand,
  DeleteSecretCommand,
  DescribeSecretCommand,
  GetSecretValueCommand,
  ListSecretsCommand,
  PutSecretValueCommand,
  RestoreSecretCommand,
  SecretsManagerClient,
  SecretsManagerServiceException,
} from '@aws-sdk/client-secrets-manager';
import { createSecretsManagerService } from '../../sandbox/services/secretsmanager.ts';
import {
  type AwsTarget,
  clientConfig,
  describeConformance,
  knownDifference,
  uniqueName,
} from '../support/aws-targets.ts';

const DAY_MS = 24 * 60 * 60 * 1000;

async function rejectsWith(promise: Promise<unknown>, name: string, message?: RegExp): Promise<void> {
  try {
    await promise;
  } catch (error) {
    assert.ok(
      error instanceof SecretsManagerServiceException,
      `expected a SecretsManagerServiceException, got ${String(error)}`,
    );
    assert.equal(error.name, name, `error (message: ${error.message})`);
    if (message) assert.match(error.message, message);
    return;
  }
  assert.fail(`expected ${name}, but the call succeeded`);
}

/** Within a minute of `expectedMs` (the two targets stamp their own clocks). */
function near(actual: Date | undefined, expectedMs: number, what: string): void {
  assert.ok(actual instanceof Date, `${what} is a date`);
  assert.ok(Math.abs(actual.getTime() - expectedMs) < 60_000, `${what}: ${actual.toISOString()}`);
}

describeConformance(
  'Secrets Manager',
  (ctx) => [createSecretsManagerService(ctx)],
  (target: () => AwsTarget, name) => {
    let client: SecretsManagerClient | undefined;
    const sm = () => {
      client ??= new SecretsManagerClient(clientConfig(target().endpoint));
      return client;
    };
    const secretName = () => uniqueName('ballast/github-webhook');

    it('creates a secret whose ARN ends in the name and six random characters, readable by name, ARN and partial ARN', async () => {
      const secretId = secretName();
      const created = await sm().send(new CreateSecretCommand({ Name: secretId, SecretString: 'first' }));
      const arnPrefix = `arn:aws:secretsmanager:us-east-1:123456789012:secret:${secretId}-`;
      assert.ok(created.ARN?.startsWith(arnPrefix), created.ARN);
      const arn = created.ARN ?? '';
      assert.match(arn.slice(arnPrefix.length), /^[A-Za-z0-9]{6}$/);
      assert.equal(created.Name, secretId);
      assert.ok(created.VersionId);

      for (const id of [secretId, arn, arnPrefix.slice(0, -1)]) {
        const value = await sm().send(new GetSecretValueCommand({ SecretId: id }));
        assert.equal(value.SecretString, 'first', id);
        assert.equal(value.ARN, arn);
        assert.equal(value.Name, secretId);
        assert.equal(value.VersionId, created.VersionId);
        assert.deepEqual(value.VersionStages, ['AWSCURRENT']);
        near(value.CreatedDate, Date.now(), 'CreatedDate');
      }
      const again = await sm().send(new CreateSecretCommand({ Name: uniqueName('other'), SecretString: 'x' }));
      assert.notEqual(again.ARN?.slice(-6), arn.slice(-6), 'the suffix is random');
    });

    it('describes a secret by its name, its full ARN and its partial ARN (without the suffix)', async () => {
      const secretId = secretName();
      const created = await sm().send(new CreateSecretCommand({ Name: secretId, SecretString: 'hf_token' }));
      const arn = created.ARN ?? '';
      const ids = [secretId, arn, arn.slice(0, -'-AbCdEf'.length)];
      const described = [];
      for (const id of ids) described.push(await sm().send(new DescribeSecretCommand({ SecretId: id })));
      assert.ok(described.length > 0);
      assert.deepEqual(
        described.map((d) => [d.ARN, d.Name]),
        ids.map(() => [arn, secretId]),
      );
    });

    /** DescribeSecret and GetSecretValue of a secret that does not exist, as `name status message`. */
    const missingAnswers = async (): Promise<string[]> => {
      const missing = secretName();
      const answers: string[] = [];
      for (const send of [
        () => sm().send(new DescribeSecretCommand({ SecretId: missing })),
        () => sm().send(new GetSecretValueCommand({ SecretId: missing })),
      ]) {
        try {
          await send();
          answers.push('succeeded');
        } catch (error) {
          const e = error as SecretsManagerServiceException;
          answers.push(`${e.name} ${e.$metadata.httpStatusCode} ${e.message}`);
        }
      }
      return answers;
    };

    it('answers a missing secret with ResourceNotFoundException "Secrets Manager can\'t find the specified secret."', async () => {
      const answers = await missingAnswers();
      assert.deepEqual(
        answers.map((a) => a.replace(/ \d{3} /, ' ')),
        [
          "ResourceNotFoundException Secrets Manager can't find the specified secret.",
          "ResourceNotFoundException Secrets Manager can't find the specified secret.",
        ],
      );
    });

    it(
      'answers a missing secret with HTTP 400',
      knownDifference(name, {
        moto: 'moto 5.2.1 answers ResourceNotFoundException with 404; the Secrets Manager API Reference lists it under "HTTP Status Code: 400" (GetSecretValue, DescribeSecret: Errors)',
      }),
      async () => {
        const answers = await missingAnswers();
        assert.deepEqual(
          answers.map((a) => a.split(' ')[1]),
          ['400', '400'],
        );
      },
    );

    it('does not find a secret by the ARN of another region or account', async () => {
      const secretId = secretName();
      const created = await sm().send(new CreateSecretCommand({ Name: secretId, SecretString: 'x' }));
      const arn = created.ARN ?? '';
      const elsewhere = [arn.replace(':us-east-1:', ':eu-west-1:'), arn.replace(':123456789012:', ':210987654321:')];
      const names = [];
      for (const id of elsewhere) {
        try {
          await sm().send(new DescribeSecretCommand({ SecretId: id }));
          names.push('found');
        } catch (error) {
          names.push((error as Error).name);
        }
      }
      assert.deepEqual(names, ['ResourceNotFoundException', 'ResourceNotFoundException']);
    });

    it('keeps a binary secret as bytes', async () => {
      const bytes = new Uint8Array([0, 1, 2, 250, 255]);
      const secretId = secretName();
      await sm().send(new CreateSecretCommand({ Name: secretId, SecretBinary: bytes }));
      const value = await sm().send(new GetSecretValueCommand({ SecretId: secretId }));
      assert.deepEqual(value.SecretBinary, bytes);
      assert.equal(value.SecretString, undefined);
    });

    it('rotates with PutSecretValue: the new value is AWSCURRENT, the one it replaces AWSPREVIOUS', async () => {
      const secretId = secretName();
      const v1 = (await sm().send(new CreateSecretCommand({ Name: secretId, SecretString: 'one' }))).VersionId;
      const put = await sm().send(new PutSecretValueCommand({ SecretId: secretId, SecretString: 'two' }));
      assert.ok(put.VersionId && put.VersionId !== v1);
      assert.deepEqual(put.VersionStages, ['AWSCURRENT']);
      assert.equal(put.Name, secretId);

      assert.equal((await sm().send(new GetSecretValueCommand({ SecretId: secretId }))).SecretString, 'two');
      const previous = await sm().send(new GetSecretValueCommand({ SecretId: secretId, VersionStage: 'AWSPREVIOUS' }));
      assert.equal(previous.SecretString, 'one');
      assert.equal(previous.VersionId, v1);
      assert.deepEqual(previous.VersionStages, ['AWSPREVIOUS']);
      const byId = await sm().send(new GetSecretValueCommand({ SecretId: secretId, VersionId: v1 }));
      assert.equal(byId.SecretString, 'one');
      const both = await sm().send(
        new GetSecretValueCommand({ SecretId: secretId, VersionId: put.VersionId, VersionStage: 'AWSCURRENT' }),
      );
      assert.equal(both.SecretString, 'two');

      const described = await sm().send(new DescribeSecretCommand({ SecretId: secretId }));
      assert.deepEqual(described.VersionIdsToStages, { [v1 ?? '']: ['AWSPREVIOUS'], [put.VersionId]: ['AWSCURRENT'] });

      // A third value: the first version keeps no label, yet stays readable by its id.
      const v3 = (await sm().send(new PutSecretValueCommand({ SecretId: secretId, SecretString: 'three' }))).VersionId;
      assert.equal(
        (await sm().send(new GetSecretValueCommand({ SecretId: secretId, VersionStage: 'AWSPREVIOUS' }))).SecretString,
        'two',
      );
      assert.equal(
        (await sm().send(new GetSecretValueCommand({ SecretId: secretId, VersionId: v1 }))).SecretString,
        'one',
      );
      const stages = (await sm().send(new DescribeSecretCommand({ SecretId: secretId }))).VersionIdsToStages ?? {};
      assert.deepEqual(stages[v3 ?? ''], ['AWSCURRENT']);
      assert.deepEqual(stages[put.VersionId], ['AWSPREVIOUS']);
    });

    it(
      'leaves versions without a staging label out of the version lists',
      knownDifference(name, {
        moto: 'moto 5.2.1 lists a version that lost its labels with an empty list; AWS leaves it out ("Such versions are not included in this list", ListSecrets SecretVersionsToStages, https://docs.aws.amazon.com/secretsmanager/latest/apireference/API_SecretListEntry.html)',
      }),
      async () => {
        const secretId = secretName();
        const v1 = (await sm().send(new CreateSecretCommand({ Name: secretId, SecretString: 'one' }))).VersionId ?? '';
        await sm().send(new PutSecretValueCommand({ SecretId: secretId, SecretString: 'two' }));
        await sm().send(new PutSecretValueCommand({ SecretId: secretId, SecretString: 'three' }));
        const described = await sm().send(new DescribeSecretCommand({ SecretId: secretId }));
        assert.equal(Object.keys(described.VersionIdsToStages ?? {}).length, 2);
        assert.equal(described.VersionIdsToStages?.[v1], undefined);
        const listed = await sm().send(new ListSecretsCommand({ Filters: [{ Key: 'name', Values: [secretId] }] }));
        assert.equal(Object.keys(listed.SecretList?.[0]?.SecretVersionsToStages ?? {}).length, 2);
      },
    );

    it('ignores a retried PutSecretValue (same ClientRequestToken and value); another value under that token is refused', async () => {
      const secretId = secretName();
      await sm().send(new CreateSecretCommand({ Name: secretId, SecretString: 'one' }));
      const token = randomUUID();
      const first = await sm().send(
        new PutSecretValueCommand({ SecretId: secretId, SecretString: 'two', ClientRequestToken: token }),
      );
      assert.equal(first.VersionId, token, 'the token is the version id');
      const retried = await sm().send(
        new PutSecretValueCommand({ SecretId: secretId, SecretString: 'two', ClientRequestToken: token }),
      );
      assert.equal(retried.VersionId, token);
      const stages = (await sm().send(new DescribeSecretCommand({ SecretId: secretId }))).VersionIdsToStages ?? {};
      assert.equal(Object.keys(stages).length, 2, 'no third version');
      assert.equal(
        (await sm().send(new GetSecretValueCommand({ SecretId: secretId, VersionStage: 'AWSPREVIOUS' }))).SecretString,
        'one',
        'the retry did not rotate again',
      );
      await rejectsWith(
        sm().send(new PutSecretValueCommand({ SecretId: secretId, SecretString: 'other', ClientRequestToken: token })),
        'ResourceExistsException',
      );
    });

    it('refuses a second secret with the same name', async () => {
      const secretId = secretName();
      await sm().send(new CreateSecretCommand({ Name: secretId, SecretString: 'one' }));
      await rejectsWith(
        sm().send(new CreateSecretCommand({ Name: secretId, SecretString: 'two' })),
        'ResourceExistsException',
      );
    });

    it('answers ResourceNotFoundException for a secret, version or label that does not exist', async () => {
      const missing = secretName();
      await rejectsWith(sm().send(new GetSecretValueCommand({ SecretId: missing })), 'ResourceNotFoundException');
      await rejectsWith(sm().send(new DescribeSecretCommand({ SecretId: missing })), 'ResourceNotFoundException');
      await rejectsWith(
        sm().send(new PutSecretValueCommand({ SecretId: missing, SecretString: 'x' })),
        'ResourceNotFoundException',
      );
      await rejectsWith(sm().send(new DeleteSecretCommand({ SecretId: missing })), 'ResourceNotFoundException');
      await rejectsWith(
        sm().send(
          new GetSecretValueCommand({
            SecretId: `arn:aws:secretsmanager:us-east-1:123456789012:secret:${missing}-AbCdEf`,
          }),
        ),
        'ResourceNotFoundException',
      );

      const secretId = secretName();
      await sm().send(new CreateSecretCommand({ Name: secretId, SecretString: 'one' }));
      await rejectsWith(
        sm().send(new GetSecretValueCommand({ SecretId: secretId, VersionId: randomUUID() })),
        'ResourceNotFoundException',
      );
      await rejectsWith(
        sm().send(new GetSecretValueCommand({ SecretId: secretId, VersionStage: 'AWSPREVIOUS' })),
        'ResourceNotFoundException',
      );
    });

    it('has no value to read for a secret created without one', async () => {
      const secretId = secretName();
      const created = await sm().send(new CreateSecretCommand({ Name: secretId }));
      assert.equal(created.VersionId, undefined);
      await rejectsWith(sm().send(new GetSecretValueCommand({ SecretId: secretId })), 'ResourceNotFoundException');
      await sm().send(new PutSecretValueCommand({ SecretId: secretId, SecretString: 'later' }));
      assert.equal((await sm().send(new GetSecretValueCommand({ SecretId: secretId }))).SecretString, 'later');
    });

    it('refuses a VersionStage that is not on the VersionId asked for', async () => {
      const secretId = secretName();
      const v1 = (await sm().send(new CreateSecretCommand({ Name: secretId, SecretString: 'one' }))).VersionId;
      await sm().send(new PutSecretValueCommand({ SecretId: secretId, SecretString: 'two' }));
      await rejectsWith(
        sm().send(new GetSecretValueCommand({ SecretId: secretId, VersionId: v1, VersionStage: 'AWSCURRENT' })),
        'InvalidRequestException',
      );
    });

    it('schedules deletion with a 30-day recovery window: described with DeletedDate, listed only on request, unreadable, restorable', async () => {
      const secretId = secretName();
      const created = await sm().send(new CreateSecretCommand({ Name: secretId, SecretString: 'one' }));
      const deleted = await sm().send(new DeleteSecretCommand({ SecretId: created.ARN }));
      assert.equal(deleted.ARN, created.ARN);
      assert.equal(deleted.Name, secretId);
      near(deleted.DeletionDate, Date.now() + 30 * DAY_MS, 'DeletionDate');

      await rejectsWith(sm().send(new GetSecretValueCommand({ SecretId: secretId })), 'InvalidRequestException');
      const described = await sm().send(new DescribeSecretCommand({ SecretId: secretId }));
      assert.ok(described.DeletedDate instanceof Date, 'DescribeSecret shows DeletedDate');
      const filter = [{ Key: 'name' as const, Values: [secretId] }];
      assert.deepEqual((await sm().send(new ListSecretsCommand({ Filters: filter }))).SecretList ?? [], []);
      const planned = await sm().send(new ListSecretsCommand({ Filters: filter, IncludePlannedDeletion: true }));
      assert.deepEqual(
        planned.SecretList?.map((s) => s.Name),
        [secretId],
      );
      assert.ok(planned.SecretList?.[0]?.DeletedDate instanceof Date);
      await rejectsWith(sm().send(new DeleteSecretCommand({ SecretId: secretId })), 'InvalidRequestException');

      const restored = await sm().send(new RestoreSecretCommand({ SecretId: secretId }));
      assert.equal(restored.ARN, created.ARN);
      assert.equal((await sm().send(new GetSecretValueCommand({ SecretId: secretId }))).SecretString, 'one');
      assert.equal((await sm().send(new DescribeSecretCommand({ SecretId: secretId }))).DeletedDate, undefined);
    });

    it(
      'refuses to change a secret scheduled for deletion',
      knownDifference(name, {
        moto: 'moto 5.2.1 accepts PutSecretValue on a secret scheduled for deletion; AWS answers InvalidRequestException ("The secret is scheduled for deletion", https://docs.aws.amazon.com/secretsmanager/latest/apireference/API_PutSecretValue.html)',
      }),
      async () => {
        const secretId = secretName();
        await sm().send(new CreateSecretCommand({ Name: secretId, SecretString: 'one' }));
        await sm().send(new DeleteSecretCommand({ SecretId: secretId, RecoveryWindowInDays: 7 }));
        await rejectsWith(
          sm().send(new PutSecretValueCommand({ SecretId: secretId, SecretString: 'two' })),
          'InvalidRequestException',
        );
      },
    );

    it(
      'keeps the name of a secret scheduled for deletion',
      knownDifference(name, {
        moto: 'moto 5.2.1 answers ResourceExistsException; AWS answers InvalidRequestException "You can\'t create this secret because a secret with this name is already scheduled for deletion" (https://docs.aws.amazon.com/secretsmanager/latest/apireference/API_CreateSecret.html, InvalidRequestException)',
      }),
      async () => {
        const secretId = secretName();
        await sm().send(new CreateSecretCommand({ Name: secretId, SecretString: 'one' }));
        await sm().send(new DeleteSecretCommand({ SecretId: secretId }));
        await rejectsWith(
          sm().send(new CreateSecretCommand({ Name: secretId, SecretString: 'two' })),
          'InvalidRequestException',
          /scheduled for deletion/,
        );
      },
    );

    it('takes a recovery window of 7 to 30 days, or none with ForceDeleteWithoutRecovery, not both', async () => {
      const secretId = secretName();
      await sm().send(new CreateSecretCommand({ Name: secretId, SecretString: 'one' }));
      for (const days of [6, 31]) {
        await rejectsWith(
          sm().send(new DeleteSecretCommand({ SecretId: secretId, RecoveryWindowInDays: days })),
          'InvalidParameterException',
        );
      }
      await rejectsWith(
        sm().send(
          new DeleteSecretCommand({ SecretId: secretId, RecoveryWindowInDays: 7, ForceDeleteWithoutRecovery: true }),
        ),
        'InvalidParameterException',
      );
      const deleted = await sm().send(new DeleteSecretCommand({ SecretId: secretId, RecoveryWindowInDays: 7 }));
      near(deleted.DeletionDate, Date.now() + 7 * DAY_MS, 'DeletionDate');
    });

    it('deletes at once with ForceDeleteWithoutRecovery, frees the name, and does not mind a missing secret', async () => {
      const secretId = secretName();
      await sm().send(new CreateSecretCommand({ Name: secretId, SecretString: 'one' }));
      const deleted = await sm().send(
        new DeleteSecretCommand({ SecretId: secretId, ForceDeleteWithoutRecovery: true }),
      );
      assert.equal(deleted.Name, secretId);
      await rejectsWith(sm().send(new DescribeSecretCommand({ SecretId: secretId })), 'ResourceNotFoundException');
      await sm().send(new CreateSecretCommand({ Name: secretId, SecretString: 'two' }));
      assert.equal((await sm().send(new GetSecretValueCommand({ SecretId: secretId }))).SecretString, 'two');
      // "If you forcibly delete an already deleted or nonexistent secret, the operation does not return
      // ResourceNotFoundException" (DeleteSecret, ForceDeleteWithoutRecovery).
      await sm().send(new DeleteSecretCommand({ SecretId: secretName(), ForceDeleteWithoutRecovery: true }));
    });

    it('lists secrets with their current versions, filtered by name prefix', async () => {
      const prefix = uniqueName('ballast-list');
      const a = await sm().send(
        new CreateSecretCommand({ Name: `${prefix}/a`, SecretString: 'a', Description: 'webhook secret' }),
      );
      await sm().send(new CreateSecretCommand({ Name: `${prefix}/b`, SecretString: 'b' }));
      await sm().send(new CreateSecretCommand({ Name: uniqueName('unrelated'), SecretString: 'c' }));
      const listed = await sm().send(new ListSecretsCommand({ Filters: [{ Key: 'name', Values: [prefix] }] }));
      const entries = [...(listed.SecretList ?? [])].sort((x, y) => (x.Name ?? '').localeCompare(y.Name ?? ''));
      assert.deepEqual(
        entries.map((s) => s.Name),
        [`${prefix}/a`, `${prefix}/b`],
      );
      assert.equal(entries[0]?.ARN, a.ARN);
      assert.equal(entries[0]?.Description, 'webhook secret');
      assert.deepEqual(entries[0]?.SecretVersionsToStages, { [a.VersionId ?? '']: ['AWSCURRENT'] });
      near(entries[0]?.CreatedDate, Date.now(), 'CreatedDate');
    });

    it(
      'refuses a name with characters outside /_+=.@- and alphanumerics',
      knownDifference(name, {
        moto: 'moto 5.2.1 accepts any name; AWS answers ValidationException "Invalid name. Must be a valid name containing alphanumeric characters, or any of the following: -/_+=.@!" (the allowed characters: https://docs.aws.amazon.com/secretsmanager/latest/apireference/API_CreateSecret.html, Name)',
      }),
      async () => {
        await rejectsWith(
          sm().send(new CreateSecretCommand({ Name: 'ballast webhook', SecretString: 'x' })),
          'ValidationException',
        );
      },
    );

    it(
      'answers client errors with HTTP 400',
      knownDifference(name, {
        moto: 'moto 5.2.1 answers ResourceNotFoundException with HTTP 404; AWS lists it as HTTP 400 (https://docs.aws.amazon.com/secretsmanager/latest/apireference/API_GetSecretValue.html#API_GetSecretValue_Errors)',
      }),
      async () => {
        try {
          await sm().send(new GetSecretValueCommand({ SecretId: secretName() }));
          assert.fail('expected ResourceNotFoundException');
        } catch (error) {
          assert.ok(error instanceof SecretsManagerServiceException);
          assert.equal(error.$metadata.httpStatusCode, 400);
        }
      },
    );
  },
);
