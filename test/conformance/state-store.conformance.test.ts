/**
 * Ballast's S3 system of record (lambdas/state/json-store.ts, lambdas/registry/artifacts.ts)
 * against the sandbox and against moto: write-once records, compare-and-swap under contention,
 * and artifact registration (sha256 verified while streaming, copied once, idempotent).
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { before, it } from 'node:test';
import { CreateBucketCommand, GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { ArtifactIntegrityError, InvalidInputError } from '../../lambdas/aws/errors.ts';
import { registerArtifact, storeContent } from '../../lambdas/registry/artifacts.ts';
import { JsonStore } from '../../lambdas/state/json-store.ts';
import { createS3Service } from '../../sandbox/services/s3.ts';
import { clientConfig, describeConformance, knownDifference, uniqueName } from '../support/aws-targets.ts';

describeConformance(
  'state store on S3',
  (ctx) => [createS3Service(ctx)],
  (target, name) => {
    let s3: S3Client;
    let bucket: string;
    let store: JsonStore;
    before(async () => {
      // Retries on: the compare-and-swap test makes writers collide on purpose.
      s3 = new S3Client({ ...clientConfig(target().endpoint), maxAttempts: 3 });
      bucket = uniqueName('ballast-store');
      await s3.send(new CreateBucketCommand({ Bucket: bucket }));
      store = new JsonStore(s3, bucket);
    });

    it('writes a record once: a second write of the same key is a no-op', async () => {
      assert.equal(await store.putIfAbsent('ledger/x.json', { n: 1 }), 'created');
      assert.equal(await store.putIfAbsent('ledger/x.json', { n: 2 }), 'exists');
      assert.deepEqual((await store.get('ledger/x.json'))?.value, { n: 1 });
      assert.equal(await store.get('ledger/missing.json'), undefined);
    });

    it('compare-and-swap refuses a stale ETag', async () => {
      await store.putIfAbsent('state/a.json', { v: 1 });
      const first = await store.get<{ v: number }>('state/a.json');
      assert.ok(first);
      assert.equal(await store.putIfMatch('state/a.json', { v: 2 }, first.etag), true);
      assert.equal(await store.putIfMatch('state/a.json', { v: 3 }, first.etag), false, 'the ETag moved on');
      assert.deepEqual((await store.get('state/a.json'))?.value, { v: 2 });
    });

    it('loses no update when writers contend', async () => {
      await Promise.all(
        Array.from({ length: 8 }, () =>
          store.update<{ count: number }>(
            'state/counter.json',
            (current) => ({ count: (current?.count ?? 0) + 1 }),
            50,
          ),
        ),
      );
      assert.deepEqual((await store.get('state/counter.json'))?.value, { count: 8 });
    });

    it('lists keys under a prefix in order, across pages', async () => {
      for (const k of ['b', 'a', 'c']) await store.putIfAbsent(`list/${k}.json`, {});
      assert.deepEqual(await store.list('list/'), ['list/a.json', 'list/b.json', 'list/c.json']);
    });

    it('registers an artifact once, under its digest, after checking its bytes', async () => {
      const bytes = Buffer.from(`weights ${uniqueName('w')}`);
      const sha = createHash('sha256').update(bytes).digest('hex');
      await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'src/model.tar.gz', Body: bytes }));
      const first = await registerArtifact(s3, bucket, { bucket, key: 'src/model.tar.gz' }, sha);
      assert.deepEqual([first.status, first.key, first.size], ['created', `artifacts/sha256/${sha}`, bytes.length]);
      const copy = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: first.key }));
      assert.equal(Buffer.from((await copy.Body?.transformToByteArray()) ?? []).toString(), bytes.toString());
      const again = await registerArtifact(s3, bucket, { bucket, key: 'src/model.tar.gz' }, sha);
      assert.equal(again.status, 'existing', 'a retry or a later commit reuses the copy');
    });

    it('copies an artifact over the single-copy limit part by part (UploadPartCopy), pinned to the hashed bytes', async () => {
      // The threshold is lowered so a 6 MiB object takes the path a >5 GiB model takes.
      const bytes = Buffer.alloc(6 * 1024 * 1024 + 17);
      for (let i = 0; i < bytes.length; i += 4096) bytes.writeUInt32BE(i, i);
      const sha = createHash('sha256').update(bytes).digest('hex');
      await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'src/big.bin', Body: bytes }));
      const stored = await registerArtifact(s3, bucket, { bucket, key: 'src/big.bin' }, sha, {
        multipartThreshold: 0,
        partBytes: 5 * 1024 * 1024,
      });
      assert.deepEqual([stored.status, stored.size], ['created', bytes.length]);
      const copy = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: stored.key }));
      const copied = Buffer.from((await copy.Body?.transformToByteArray()) ?? []);
      assert.equal(createHash('sha256').update(copied).digest('hex'), sha, 'the parts reassemble the exact bytes');
      assert.match(copy.ETag ?? '', /-2"$/, 'completed from two parts');
    });

    it('refuses an artifact whose bytes do not match the declared sha256, and a missing one', async () => {
      await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'src/other.bin', Body: 'other bytes' }));
      await assert.rejects(
        registerArtifact(s3, bucket, { bucket, key: 'src/other.bin' }, 'f'.repeat(64)),
        (error: unknown) => error instanceof ArtifactIntegrityError && /declares f{64}/.test(error.message),
      );
      await assert.rejects(
        registerArtifact(s3, bucket, { bucket, key: 'src/nope.bin' }, 'e'.repeat(64)),
        (error: unknown) => error instanceof InvalidInputError && /does not exist/.test(error.message),
      );
    });

    it(
      'stores small content write-once with its SHA-256 checksum verified by S3',
      knownDifference(name, {
        moto: 'moto 5.2.1 ignores x-amz-checksum-sha256 (AWS verifies it: S3 User Guide, "Checking object integrity")',
      }),
      async () => {
        const body = '{"prompt":"hi"}';
        const sha = createHash('sha256').update(body).digest('hex');
        assert.equal((await storeContent(s3, bucket, sha, body)).status, 'created');
        assert.equal((await storeContent(s3, bucket, sha, body)).status, 'existing');
        // S3 itself rejects bytes that do not match the checksum the client declares.
        await assert.rejects(
          s3.send(
            new PutObjectCommand({
              Bucket: bucket,
              Key: 'artifacts/sha256/bad',
              Body: 'tampered',
              ChecksumSHA256: Buffer.from(sha, 'hex').toString('base64'),
            }),
          ),
          /BadDigest|checksum/i,
        );
      },
    );
  },
);
