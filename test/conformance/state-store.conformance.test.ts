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
import { pinFile, registerArchive, storeContent } from '../../lambdas/registry/artifacts.ts';
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
      const file = { source: { bucket, key: 'src/model.tar.gz' }, sha256: sha, sizeBytes: bytes.length };
      const first = await registerArchive(s3, bucket, file);
      assert.deepEqual(
        [first.status, first.key, first.size],
        ['created', `artifacts/sha256/${sha}.tar.gz`, bytes.length],
      );
      const copy = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: first.key }));
      assert.equal(Buffer.from((await copy.Body?.transformToByteArray()) ?? []).toString(), bytes.toString());
      const again = await registerArchive(s3, bucket, file);
      assert.equal(again.status, 'existing', 'a retry or a later commit reuses the copy');
    });

    it('copies an artifact over the single-copy limit part by part (UploadPartCopy), pinned to the hashed bytes', async () => {
      // The threshold is lowered so a 6 MiB object takes the path a >5 GiB model takes.
      const bytes = Buffer.alloc(6 * 1024 * 1024 + 17);
      for (let i = 0; i < bytes.length; i += 4096) bytes.writeUInt32BE(i, i);
      const sha = createHash('sha256').update(bytes).digest('hex');
      await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'src/big.bin', Body: bytes }));
      const file = { source: { bucket, key: 'src/big.bin' }, sha256: sha, sizeBytes: bytes.length };
      const stored = await registerArchive(s3, bucket, file, { multipartThreshold: 0, partBytes: 5 * 1024 * 1024 });
      assert.deepEqual([stored.status, stored.size], ['created', bytes.length]);
      const copy = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: stored.key }));
      const copied = Buffer.from((await copy.Body?.transformToByteArray()) ?? []);
      assert.equal(createHash('sha256').update(copied).digest('hex'), sha, 'the parts reassemble the exact bytes');
      assert.match(copy.ETag ?? '', /-2"$/, 'completed from two parts');
    });

    it('refuses an artifact whose bytes do not match the declared sha256, and a missing one', async () => {
      await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'src/other.bin', Body: 'other bytes' }));
      const other = { source: { bucket, key: 'src/other.bin' }, sha256: 'f'.repeat(64), sizeBytes: 11 };
      await assert.rejects(
        registerArchive(s3, bucket, other),
        (error: unknown) => error instanceof ArtifactIntegrityError && /declares f{64}/.test(error.message),
      );
      const missing = { source: { bucket, key: 'src/nope.bin' }, sha256: 'e'.repeat(64), sizeBytes: 1 };
      await assert.rejects(
        registerArchive(s3, bucket, missing),
        (error: unknown) => error instanceof InvalidInputError && /does not exist/.test(error.message),
      );
    });

    it('refuses a file of another size than declared before hashing it', async () => {
      await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'src/sized.bin', Body: 'twelve bytes' }));
      const file = { source: { bucket, key: 'src/sized.bin' }, sha256: 'a'.repeat(64), sizeBytes: 13 };
      await assert.rejects(
        pinFile(s3, bucket, file, 'artifacts/directories/x/sized.bin'),
        (error: unknown) =>
          error instanceof ArtifactIntegrityError && /is 12 bytes, but the repository declares 13/.test(error.message),
      );
    });

    it('pins a directory file once, and copies it server-side for another directory that shares it', async () => {
      const bytes = Buffer.from(`shard ${uniqueName('s')}`);
      const sha = createHash('sha256').update(bytes).digest('hex');
      await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'src/v1/model-00001.safetensors', Body: bytes }));
      const file = {
        source: { bucket, key: 'src/v1/model-00001.safetensors' },
        sha256: sha,
        sizeBytes: bytes.length,
      };
      const v1 = await pinFile(s3, bucket, file, 'artifacts/directories/v1/model-00001.safetensors', { index: true });
      assert.equal(v1.status, 'verified');
      const again = await pinFile(s3, bucket, file, 'artifacts/directories/v1/model-00001.safetensors', {
        index: true,
      });
      assert.equal(again.status, 'existing', 'a re-run finds the pinned file (one HEAD)');
      // v2's source is gone: only the store's verified copy can provide the bytes.
      const v2file = { ...file, source: { bucket, key: 'src/v2/model-00001.safetensors' } };
      const v2 = await pinFile(s3, bucket, v2file, 'artifacts/directories/v2/model-00001.safetensors', { index: true });
      assert.equal(v2.status, 'copied');
      const copy = await s3.send(
        new GetObjectCommand({ Bucket: bucket, Key: 'artifacts/directories/v2/model-00001.safetensors' }),
      );
      assert.equal(Buffer.from((await copy.Body?.transformToByteArray()) ?? []).toString(), bytes.toString());
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
