import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { before, it } from 'node:test';
import { CreateBucketCommand, GetObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { InvalidInputError } from '../../../lambdas/aws/errors.ts';
import { deliveryKey, recordDelivery } from '../../../lambdas/sources/deliveries.ts';
import { createS3Service } from '../../../sandbox/services/s3.ts';
import { clientConfig, describeConformance, uniqueName } from '../../support/aws-targets.ts';

// The same cases against the Ballast S3 sandbox and moto: both implement If-None-Match: * on PutObject.
describeConformance(
  'recordDelivery',
  (ctx) => [createS3Service(ctx)],
  (target) => {
    let s3: S3Client;
    const bucket = uniqueName('deliveries');

    before(async () => {
      s3 = new S3Client(clientConfig(target().endpoint));
      await s3.send(new CreateBucketCommand({ Bucket: bucket }));
    });

    it('is new the first time and replayed after that', async () => {
      const id = randomUUID();
      assert.equal(await recordDelivery(s3, bucket, 'github', id, { detail: { commit: 'abc' } }), 'new');
      assert.equal(await recordDelivery(s3, bucket, 'github', id), 'replayed');
      assert.equal(await recordDelivery(s3, bucket, 'github', id), 'replayed');
      // Sources are separate namespaces.
      assert.equal(await recordDelivery(s3, bucket, 'codecommit', id), 'new');
      const stored = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: `deliveries/github/${id}.json` }));
      const record = JSON.parse((await stored.Body?.transformToString()) ?? '') as Record<string, unknown>;
      assert.equal(record.deliveryId, id);
      assert.equal(record.source, 'github');
      assert.equal(record.commit, 'abc');
    });

    it('lets the same owner through again (a retried step), but nobody else', async () => {
      const id = randomUUID();
      assert.equal(await recordDelivery(s3, bucket, 'codecommit', id, { owner: 'exec-1' }), 'new');
      assert.equal(await recordDelivery(s3, bucket, 'codecommit', id, { owner: 'exec-1' }), 'new');
      assert.equal(await recordDelivery(s3, bucket, 'codecommit', id, { owner: 'exec-2' }), 'replayed');
      assert.equal(await recordDelivery(s3, bucket, 'codecommit', id), 'replayed');
    });

    it('counts concurrent deliveries of one id once', async () => {
      const id = randomUUID();
      const results = await Promise.all(Array.from({ length: 5 }, () => recordDelivery(s3, bucket, 'github', id)));
      assert.equal(results.filter((r) => r === 'new').length, 1);
    });
  },
);

it('refuses delivery ids that would escape their key', () => {
  assert.equal(
    deliveryKey('github', '72d3162e-cc78-11e3-81ab-4c9367dc0958'),
    'deliveries/github/72d3162e-cc78-11e3-81ab-4c9367dc0958.json',
  );
  for (const id of ['', '../x', 'a/b', '.', '..', 'x'.repeat(200)]) {
    assert.throws(() => deliveryKey('github', id), InvalidInputError, id);
  }
  assert.throws(() => deliveryKey('gitlab' as 'github', 'x'), InvalidInputError);
});
