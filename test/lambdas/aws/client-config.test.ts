import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { applicationAutoScaling } from '../../../lambdas/aws/application-autoscaling.ts';
import { resetClients } from '../../../lambdas/aws/client-config.ts';
import { cloudwatch } from '../../../lambdas/aws/cloudwatch.ts';
import { codecommit } from '../../../lambdas/aws/codecommit.ts';
import { s3 } from '../../../lambdas/aws/s3.ts';
import { sagemaker } from '../../../lambdas/aws/sagemaker.ts';
import { secretsManager } from '../../../lambdas/aws/secrets-manager.ts';
import { sfn } from '../../../lambdas/aws/sfn.ts';

const CLIENTS = { s3, sagemaker, cloudwatch, codecommit, sfn, secretsManager, applicationAutoScaling };
const VARIABLES = ['AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'AWS_SESSION_TOKEN', 'AWS_PROFILE', 'AWS_REGION'];

/**
 * lib/ballast-function.ts leaves the default chain's other credential providers out of the
 * bundles; that is safe only while every client takes its credentials from the environment and
 * never asks the default chain. AWS_PROFILE tells them apart: the default chain skips the
 * environment variables when it is set (and then finds no such profile), fromEnv ignores it.
 */
describe('SDK client credentials', () => {
  const saved: Record<string, string | undefined> = {};
  before(() => {
    for (const key of VARIABLES) saved[key] = process.env[key];
    Object.assign(process.env, {
      AWS_ACCESS_KEY_ID: 'AKIDBALLASTENV',
      AWS_SECRET_ACCESS_KEY: 'ballast-secret',
      AWS_SESSION_TOKEN: 'ballast-session',
      AWS_PROFILE: 'ballast-no-such-profile',
      AWS_REGION: 'us-east-1',
    });
    resetClients();
  });
  after(() => {
    for (const key of VARIABLES) {
      if (saved[key] === undefined) delete process.env[key];
      else process.env[key] = saved[key];
    }
    resetClients();
  });

  for (const [name, client] of Object.entries(CLIENTS)) {
    it(`${name}() takes the environment's credentials, not the default chain's (AWS_PROFILE is ignored)`, async () => {
      const credentials = await client().config.credentials();
      assert.deepEqual(
        [credentials.accessKeyId, credentials.secretAccessKey, credentials.sessionToken],
        ['AKIDBALLASTENV', 'ballast-secret', 'ballast-session'],
      );
    });
  }

  it('fails with the SDK error naming the environment variables when they are not set', async () => {
    delete process.env.AWS_ACCESS_KEY_ID;
    resetClients();
    await assert.rejects(s3().config.credentials(), /Unable to find environment variable credentials/);
    process.env.AWS_ACCESS_KEY_ID = 'AKIDBALLASTENV';
    resetClients();
  });
});
