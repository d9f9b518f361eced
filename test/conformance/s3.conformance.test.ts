/**
 * The S3 behaviour Ballast relies on (S3 is its system of record), run against the sandbox and moto.
 * See test/support/aws-targets.ts for the harness.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { it } from 'node:test';
import {
  CopyObjectCommand,
  CreateBucketCommand,
  DeleteBucketCommand,
  DeleteObjectCommand,
  DeleteObjectsCommand,
  GetBucketVersioningCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListBucketsCommand,
  ListObjectsV2Command,
  type ListObjectsV2CommandOutput,
  ListObjectVersionsCommand,
  PutBucketVersioningCommand,
  PutObjectCommand,
  S3Client,
  type S3ServiceException,
} from '@aws-sdk/client-s3';
import { createS3Service } from '../../sandbox/services/s3.ts';
import {
  type AwsTarget,
  clientConfig,
  describeConformance,
  knownDifference,
  rejectsWithS3,
  uniqueName,
} from '../support/aws-targets.ts';

const sha256 = (data: string | Buffer) => createHash('sha256').update(data).digest('base64');
const md5Hex = (data: string | Buffer) => createHash('md5').update(data).digest('hex');

const rejectsWith = rejectsWithS3;

describeConformance(
  'S3',
  (ctx) => [createS3Service(ctx)],
  (target: () => AwsTarget, name) => {
    let s3: S3Client;
    const client = () => {
      s3 ??= new S3Client(clientConfig(target().endpoint));
      return s3;
    };
    const newBucket = async (versioned = false) => {
      const bucket = uniqueName('ballast');
      await client().send(new CreateBucketCommand({ Bucket: bucket }));
      if (versioned) {
        await client().send(
          new PutBucketVersioningCommand({ Bucket: bucket, VersioningConfiguration: { Status: 'Enabled' } }),
        );
      }
      return bucket;
    };
    const text = async (bucket: string, key: string, versionId?: string) => {
      const out = await client().send(new GetObjectCommand({ Bucket: bucket, Key: key, VersionId: versionId }));
      return out.Body?.transformToString();
    };

    it('creates, heads, lists and deletes buckets', async () => {
      const bucket = await newBucket();
      await client().send(new HeadBucketCommand({ Bucket: bucket }));
      const list = await client().send(new ListBucketsCommand({}));
      assert.ok(list.Buckets?.some((b) => b.Name === bucket && b.CreationDate instanceof Date));
      await client().send(new PutObjectCommand({ Bucket: bucket, Key: 'k', Body: 'x' }));
      await rejectsWith(client().send(new DeleteBucketCommand({ Bucket: bucket })), 'BucketNotEmpty', 409);
      await client().send(new DeleteObjectCommand({ Bucket: bucket, Key: 'k' }));
      await client().send(new DeleteBucketCommand({ Bucket: bucket }));
      // HEAD errors have no body, so the SDK names them after the status.
      await rejectsWith(client().send(new HeadBucketCommand({ Bucket: bucket })), 'NotFound', 404);
    });

    it(
      'rejects invalid bucket names',
      knownDifference(name, {
        moto: 'moto 5.2.1 creates a bucket named "Not_Valid"; AWS requires lower case letters, digits, dots and hyphens (https://docs.aws.amazon.com/AmazonS3/latest/userguide/bucketnamingrules.html)',
      }),
      async () => {
        await rejectsWith(client().send(new CreateBucketCommand({ Bucket: 'Not_Valid' })), 'InvalidBucketName', 400);
      },
    );

    it('reports a missing bucket as NoSuchBucket', async () => {
      await rejectsWith(
        client().send(new GetObjectCommand({ Bucket: uniqueName('missing'), Key: 'k' })),
        'NoSuchBucket',
        404,
      );
    });

    it('round-trips an object with metadata, content type and an MD5 ETag', async () => {
      const bucket = await newBucket();
      const put = await client().send(
        new PutObjectCommand({
          Bucket: bucket,
          Key: 'dir/model card.json',
          Body: '{"a":1}',
          ContentType: 'application/json',
          Metadata: { commit: 'abc123', 'Mixed-Case': 'v' },
        }),
      );
      assert.equal(put.ETag, `"${md5Hex('{"a":1}')}"`);
      const got = await client().send(new GetObjectCommand({ Bucket: bucket, Key: 'dir/model card.json' }));
      assert.equal(await got.Body?.transformToString(), '{"a":1}');
      assert.equal(got.ContentType, 'application/json');
      assert.equal(got.ContentLength, 7);
      assert.equal(got.ETag, put.ETag);
      assert.deepEqual(got.Metadata, { commit: 'abc123', 'mixed-case': 'v' });
      assert.ok(got.LastModified instanceof Date);
      const head = await client().send(new HeadObjectCommand({ Bucket: bucket, Key: 'dir/model card.json' }));
      assert.equal(head.ContentLength, 7);
      assert.equal(head.ETag, put.ETag);
      assert.equal(head.VersionId, undefined, 'unversioned buckets send no version id');
    });

    it('reports a missing key as NoSuchKey (GET) and NotFound (HEAD)', async () => {
      const bucket = await newBucket();
      const error = await rejectsWith(
        client().send(new GetObjectCommand({ Bucket: bucket, Key: 'nope' })),
        'NoSuchKey',
        404,
      );
      assert.equal((error as S3ServiceException & { Key?: string }).Key, 'nope');
      await rejectsWith(client().send(new HeadObjectCommand({ Bucket: bucket, Key: 'nope' })), 'NotFound', 404);
    });

    it('serves byte ranges with 206 and Content-Range', async () => {
      const bucket = await newBucket();
      await client().send(new PutObjectCommand({ Bucket: bucket, Key: 'r', Body: '0123456789' }));
      const part = await client().send(new GetObjectCommand({ Bucket: bucket, Key: 'r', Range: 'bytes=2-5' }));
      assert.equal(part.$metadata.httpStatusCode, 206);
      assert.equal(part.ContentRange, 'bytes 2-5/10');
      assert.equal(await part.Body?.transformToString(), '2345');
      const suffix = await client().send(new GetObjectCommand({ Bucket: bucket, Key: 'r', Range: 'bytes=-3' }));
      assert.equal(await suffix.Body?.transformToString(), '789');
      await rejectsWith(
        client().send(new GetObjectCommand({ Bucket: bucket, Key: 'r', Range: 'bytes=20-30' })),
        'InvalidRange',
        416,
      );
    });

    it('versions objects, hides them behind delete markers and lists every version', async () => {
      const bucket = await newBucket(true);
      const versioning = await client().send(new GetBucketVersioningCommand({ Bucket: bucket }));
      assert.equal(versioning.Status, 'Enabled');
      const v1 = await client().send(new PutObjectCommand({ Bucket: bucket, Key: 'pointer', Body: 'one' }));
      const v2 = await client().send(new PutObjectCommand({ Bucket: bucket, Key: 'pointer', Body: 'two' }));
      assert.ok(v1.VersionId && v2.VersionId && v1.VersionId !== v2.VersionId);
      assert.equal(await text(bucket, 'pointer'), 'two');
      assert.equal(await text(bucket, 'pointer', v1.VersionId), 'one');

      const deleted = await client().send(new DeleteObjectCommand({ Bucket: bucket, Key: 'pointer' }));
      assert.equal(deleted.DeleteMarker, true);
      assert.ok(deleted.VersionId);
      await rejectsWith(client().send(new GetObjectCommand({ Bucket: bucket, Key: 'pointer' })), 'NoSuchKey', 404);
      // Old versions stay readable by id.
      assert.equal(await text(bucket, 'pointer', v2.VersionId), 'two');

      const listed = await client().send(new ListObjectVersionsCommand({ Bucket: bucket }));
      assert.deepEqual(
        listed.Versions?.map((v) => [v.Key, v.VersionId, v.IsLatest, v.Size]),
        [
          ['pointer', v2.VersionId, false, 3],
          ['pointer', v1.VersionId, false, 3],
        ],
      );
      assert.deepEqual(
        listed.DeleteMarkers?.map((m) => [m.Key, m.VersionId, m.IsLatest]),
        [['pointer', deleted.VersionId, true]],
      );
      const current = await client().send(new ListObjectsV2Command({ Bucket: bucket }));
      assert.equal(current.KeyCount, 0);

      // Removing the delete marker by version id makes the previous version current again.
      const undelete = await client().send(
        new DeleteObjectCommand({ Bucket: bucket, Key: 'pointer', VersionId: deleted.VersionId }),
      );
      assert.equal(undelete.VersionId, deleted.VersionId);
      assert.equal(await text(bucket, 'pointer'), 'two');

      // Deleting a version by id removes it for good.
      await client().send(new DeleteObjectCommand({ Bucket: bucket, Key: 'pointer', VersionId: v2.VersionId }));
      assert.equal(await text(bucket, 'pointer'), 'one');
    });

    it(
      'reports that a permanently deleted version was a delete marker (x-amz-delete-marker)',
      knownDifference(name, {
        moto: 'moto 5.2.1 omits x-amz-delete-marker when a delete marker is deleted by version id; AWS sends true (https://docs.aws.amazon.com/AmazonS3/latest/API/API_DeleteObject.html#API_DeleteObject_ResponseSyntax)',
      }),
      async () => {
        const bucket = await newBucket(true);
        await client().send(new PutObjectCommand({ Bucket: bucket, Key: 'k', Body: 'x' }));
        const marker = await client().send(new DeleteObjectCommand({ Bucket: bucket, Key: 'k' }));
        const removed = await client().send(
          new DeleteObjectCommand({ Bucket: bucket, Key: 'k', VersionId: marker.VersionId }),
        );
        assert.equal(removed.DeleteMarker, true);
        assert.equal(removed.VersionId, marker.VersionId);
      },
    );

    it(
      'answers a GET of a delete marker by version id with 405 MethodNotAllowed',
      knownDifference(name, {
        moto: 'moto 5.2.1 answers 404 NoSuchVersion; AWS documents 405 Method Not Allowed for a GET of a delete marker by version id (https://docs.aws.amazon.com/AmazonS3/latest/API/API_GetObject.html#API_GetObject_ResponseSyntax, x-amz-delete-marker)',
      }),
      async () => {
        const bucket = await newBucket(true);
        await client().send(new PutObjectCommand({ Bucket: bucket, Key: 'k', Body: 'x' }));
        const marker = await client().send(new DeleteObjectCommand({ Bucket: bucket, Key: 'k' }));
        const error = await rejectsWith(
          client().send(new GetObjectCommand({ Bucket: bucket, Key: 'k', VersionId: marker.VersionId })),
          'MethodNotAllowed',
          405,
        );
        assert.equal(error.$response?.headers['x-amz-delete-marker'], 'true');
      },
    );

    it('answers a HEAD of a delete marker by version id with 405 and x-amz-delete-marker', async () => {
      const bucket = await newBucket(true);
      await client().send(new PutObjectCommand({ Bucket: bucket, Key: 'k', Body: 'x' }));
      const marker = await client().send(new DeleteObjectCommand({ Bucket: bucket, Key: 'k' }));
      const error = await rejectsWith(
        client().send(new HeadObjectCommand({ Bucket: bucket, Key: 'k', VersionId: marker.VersionId })),
        undefined,
        405,
      );
      assert.equal(error.$response?.headers['x-amz-delete-marker'], 'true');
      assert.equal(error.$response?.headers['x-amz-version-id'], marker.VersionId);
    });

    it('pages ListObjectVersions with key and version-id markers', async () => {
      const bucket = await newBucket(true);
      const written: Array<[string, string]> = [];
      for (const key of ['a', 'b']) {
        for (const body of ['1', '2', '3']) {
          const out = await client().send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body }));
          written.push([key, out.VersionId ?? '']);
        }
      }
      const seen: Array<[string, string]> = [];
      let keyMarker: string | undefined;
      let versionIdMarker: string | undefined;
      for (let page = 0; page < 10; page++) {
        const out = await client().send(
          new ListObjectVersionsCommand({
            Bucket: bucket,
            MaxKeys: 4,
            KeyMarker: keyMarker,
            VersionIdMarker: versionIdMarker,
          }),
        );
        for (const v of out.Versions ?? []) seen.push([v.Key ?? '', v.VersionId ?? '']);
        if (!out.IsTruncated) break;
        keyMarker = out.NextKeyMarker;
        versionIdMarker = out.NextVersionIdMarker;
      }
      // Keys ascending, versions of a key newest first.
      const expected = [...written.slice(0, 3).reverse(), ...written.slice(3).reverse()];
      assert.deepEqual(seen, expected);
      const prefixed = await client().send(new ListObjectVersionsCommand({ Bucket: bucket, Prefix: 'b' }));
      assert.equal(prefixed.Versions?.length, 3);
      assert.ok(prefixed.Versions?.every((v) => v.Key === 'b'));
    });

    it('If-None-Match: * makes a key write-once (412 once it exists)', async () => {
      const bucket = await newBucket(true);
      await client().send(new PutObjectCommand({ Bucket: bucket, Key: 'sha256/abc', Body: 'v1', IfNoneMatch: '*' }));
      await rejectsWith(
        client().send(new PutObjectCommand({ Bucket: bucket, Key: 'sha256/abc', Body: 'v2', IfNoneMatch: '*' })),
        'PreconditionFailed',
        412,
      );
      assert.equal(await text(bucket, 'sha256/abc'), 'v1');
    });

    it('If-None-Match: * succeeds when the current version is a delete marker', async () => {
      const bucket = await newBucket(true);
      await client().send(new PutObjectCommand({ Bucket: bucket, Key: 'k', Body: 'v1' }));
      await client().send(new DeleteObjectCommand({ Bucket: bucket, Key: 'k' }));
      await client().send(new PutObjectCommand({ Bucket: bucket, Key: 'k', Body: 'v2', IfNoneMatch: '*' }));
      assert.equal(await text(bucket, 'k'), 'v2');
    });

    it('If-Match is a compare-and-swap on the ETag (412 when stale, 404 when missing)', async () => {
      const bucket = await newBucket(true);
      const first = await client().send(new PutObjectCommand({ Bucket: bucket, Key: 'lease', Body: 'a' }));
      const second = await client().send(
        new PutObjectCommand({ Bucket: bucket, Key: 'lease', Body: 'b', IfMatch: first.ETag }),
      );
      assert.equal(await text(bucket, 'lease'), 'b');
      // A writer still holding the first ETag loses.
      await rejectsWith(
        client().send(new PutObjectCommand({ Bucket: bucket, Key: 'lease', Body: 'c', IfMatch: first.ETag })),
        'PreconditionFailed',
        412,
      );
      await client().send(new PutObjectCommand({ Bucket: bucket, Key: 'lease', Body: 'd', IfMatch: second.ETag }));
      assert.equal(await text(bucket, 'lease'), 'd');
      await rejectsWith(
        client().send(new PutObjectCommand({ Bucket: bucket, Key: 'no-lease', Body: 'x', IfMatch: first.ETag })),
        'NoSuchKey',
        404,
      );
    });

    it('stores SHA-256 checksums and returns them when ChecksumMode is ENABLED', async () => {
      const bucket = await newBucket();
      const body = 'model weights';
      const put = await client().send(
        new PutObjectCommand({ Bucket: bucket, Key: 'w', Body: body, ChecksumAlgorithm: 'SHA256' }),
      );
      assert.equal(put.ChecksumSHA256, sha256(body));
      const got = await client().send(new GetObjectCommand({ Bucket: bucket, Key: 'w', ChecksumMode: 'ENABLED' }));
      assert.equal(got.ChecksumSHA256, sha256(body));
      assert.equal(await got.Body?.transformToString(), body);
      const head = await client().send(new HeadObjectCommand({ Bucket: bucket, Key: 'w', ChecksumMode: 'ENABLED' }));
      assert.equal(head.ChecksumSHA256, sha256(body));
    });

    it(
      'accepts a precomputed ChecksumSHA256 and rejects a wrong one with BadDigest',
      knownDifference(name, {
        moto: 'moto 5.2.1 stores the object despite a wrong x-amz-checksum-sha256; AWS rejects it with 400 BadDigest (https://docs.aws.amazon.com/AmazonS3/latest/userguide/checking-object-integrity.html)',
      }),
      async () => {
        const bucket = await newBucket();
        await client().send(
          new PutObjectCommand({ Bucket: bucket, Key: 'ok', Body: 'abc', ChecksumSHA256: sha256('abc') }),
        );
        await rejectsWith(
          client().send(
            new PutObjectCommand({ Bucket: bucket, Key: 'bad', Body: 'abc', ChecksumSHA256: sha256('abd') }),
          ),
          'BadDigest',
          400,
        );
        await rejectsWith(client().send(new HeadObjectCommand({ Bucket: bucket, Key: 'bad' })), 'NotFound', 404);
      },
    );

    it('decodes streamed (aws-chunked) uploads with a trailing checksum', async () => {
      const bucket = await newBucket();
      const body = Buffer.from('streamed artifact bytes '.repeat(100));
      const put = await client().send(
        new PutObjectCommand({
          Bucket: bucket,
          Key: 'stream',
          Body: Readable.from([body.subarray(0, 1000), body.subarray(1000)]),
          ContentLength: body.length,
          ChecksumAlgorithm: 'SHA256',
        }),
      );
      assert.equal(put.ChecksumSHA256, sha256(body));
      const got = await client().send(new GetObjectCommand({ Bucket: bucket, Key: 'stream', ChecksumMode: 'ENABLED' }));
      assert.equal(got.ContentLength, body.length);
      assert.equal(got.ChecksumSHA256, sha256(body));
      assert.deepEqual(Buffer.from((await got.Body?.transformToByteArray()) ?? []), body);
    });

    it(
      'rejects a Content-MD5 that does not match the body',
      knownDifference(name, {
        moto: 'moto 5.2.1 ignores a wrong Content-MD5 on PutObject; AWS rejects it with 400 BadDigest (https://docs.aws.amazon.com/AmazonS3/latest/API/API_PutObject.html#API_PutObject_RequestSyntax, Content-MD5)',
      }),
      async () => {
        const bucket = await newBucket();
        const wrong = createHash('md5').update('other').digest('base64');
        await rejectsWith(
          client().send(new PutObjectCommand({ Bucket: bucket, Key: 'k', Body: 'body', ContentMD5: wrong })),
          'BadDigest',
          400,
        );
      },
    );

    it('copies objects, including a specific source version', async () => {
      const bucket = await newBucket(true);
      const v1 = await client().send(
        new PutObjectCommand({
          Bucket: bucket,
          Key: 'src',
          Body: 'one',
          Metadata: { stage: 'one' },
          ContentType: 'text/plain',
        }),
      );
      await client().send(new PutObjectCommand({ Bucket: bucket, Key: 'src', Body: 'two' }));
      const copied = await client().send(
        new CopyObjectCommand({ Bucket: bucket, Key: 'dst', CopySource: `${bucket}/src?versionId=${v1.VersionId}` }),
      );
      assert.equal(copied.CopyObjectResult?.ETag, v1.ETag);
      assert.equal(copied.CopySourceVersionId, v1.VersionId);
      assert.ok(copied.VersionId);
      const got = await client().send(new GetObjectCommand({ Bucket: bucket, Key: 'dst' }));
      assert.equal(await got.Body?.transformToString(), 'one');
      assert.deepEqual(got.Metadata, { stage: 'one' });
      assert.equal(got.ContentType, 'text/plain');

      const replaced = await client().send(
        new CopyObjectCommand({
          Bucket: bucket,
          Key: 'dst2',
          CopySource: `${bucket}/src`,
          MetadataDirective: 'REPLACE',
          Metadata: { stage: 'replaced' },
        }),
      );
      assert.ok(replaced.CopyObjectResult?.ETag);
      const head = await client().send(new HeadObjectCommand({ Bucket: bucket, Key: 'dst2' }));
      assert.deepEqual(head.Metadata, { stage: 'replaced' });
      await rejectsWith(
        client().send(new CopyObjectCommand({ Bucket: bucket, Key: 'x', CopySource: `${bucket}/missing` })),
        'NoSuchKey',
        404,
      );
    });

    it('copies keys that need URL encoding', async () => {
      const bucket = await newBucket();
      await client().send(new PutObjectCommand({ Bucket: bucket, Key: 'a dir/b+c.txt', Body: 'enc' }));
      await client().send(
        new CopyObjectCommand({
          Bucket: bucket,
          Key: 'copy',
          CopySource: encodeURIComponent(`${bucket}/a dir/b+c.txt`),
        }),
      );
      assert.equal(await text(bucket, 'copy'), 'enc');
    });

    it(
      'fails CopyObject when x-amz-copy-source-if-match does not hold (412)',
      knownDifference(name, {
        moto: 'moto 5.2.1 ignores x-amz-copy-source-if-match and copies; AWS answers 412 Precondition Failed (https://docs.aws.amazon.com/AmazonS3/latest/API/API_CopyObject.html#API_CopyObject_RequestSyntax)',
      }),
      async () => {
        const bucket = await newBucket();
        await client().send(new PutObjectCommand({ Bucket: bucket, Key: 'src', Body: 'x' }));
        await rejectsWith(
          client().send(
            new CopyObjectCommand({
              Bucket: bucket,
              Key: 'dst',
              CopySource: `${bucket}/src`,
              CopySourceIfMatch: '"0000"',
            }),
          ),
          'PreconditionFailed',
          412,
        );
      },
    );

    it(
      'CopyObject with If-None-Match: * does not overwrite an existing destination (412)',
      knownDifference(name, {
        moto: 'moto 5.2.1 ignores If-None-Match on CopyObject and overwrites; AWS documents a 412 (https://docs.aws.amazon.com/AmazonS3/latest/API/API_CopyObject.html#API_CopyObject_RequestSyntax)',
      }),
      async () => {
        const bucket = await newBucket();
        await client().send(new PutObjectCommand({ Bucket: bucket, Key: 'src', Body: 'new' }));
        await client().send(new PutObjectCommand({ Bucket: bucket, Key: 'dst', Body: 'old' }));
        await rejectsWith(
          client().send(
            new CopyObjectCommand({ Bucket: bucket, Key: 'dst', CopySource: `${bucket}/src`, IfNoneMatch: '*' }),
          ),
          'PreconditionFailed',
          412,
        );
        assert.equal(await text(bucket, 'dst'), 'old');
      },
    );

    it('refuses to copy an object onto itself without changes', async () => {
      const bucket = await newBucket();
      await client().send(new PutObjectCommand({ Bucket: bucket, Key: 'same', Body: 'x' }));
      await rejectsWith(
        client().send(new CopyObjectCommand({ Bucket: bucket, Key: 'same', CopySource: `${bucket}/same` })),
        'InvalidRequest',
        400,
      );
    });

    it('pages ListObjectsV2 with MaxKeys and continuation tokens', async () => {
      const bucket = await newBucket();
      const keys = ['a/1', 'a/2', 'b', 'c/x/1', 'c/y', 'd'];
      for (const key of keys) await client().send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: key }));
      const seen: string[] = [];
      let token: string | undefined;
      let pages = 0;
      do {
        const out: ListObjectsV2CommandOutput = await client().send(
          new ListObjectsV2Command({ Bucket: bucket, MaxKeys: 4, ContinuationToken: token }),
        );
        pages++;
        assert.equal(out.KeyCount, out.Contents?.length ?? 0);
        for (const c of out.Contents ?? []) seen.push(c.Key ?? '');
        token = out.IsTruncated ? out.NextContinuationToken : undefined;
      } while (token && pages < 10);
      assert.equal(pages, 2);
      assert.deepEqual(seen, keys);

      const after = await client().send(new ListObjectsV2Command({ Bucket: bucket, StartAfter: 'b' }));
      assert.deepEqual(
        after.Contents?.map((c) => c.Key),
        ['c/x/1', 'c/y', 'd'],
      );
      const prefixed = await client().send(new ListObjectsV2Command({ Bucket: bucket, Prefix: 'c/' }));
      assert.deepEqual(
        prefixed.Contents?.map((c) => [c.Key, c.Size, c.ETag]),
        [
          ['c/x/1', 5, `"${md5Hex('c/x/1')}"`],
          ['c/y', 3, `"${md5Hex('c/y')}"`],
        ],
      );
    });

    /**
     * A model directory of many files under one prefix (Register lists a prefix of up to 10,000 pinned
     * files): 1,200 keys under `model/`, 1,000 per page by default ("MaxKeys … By default the action
     * returns up to 1,000 key names", API reference, ListObjectsV2), with keys outside the prefix on
     * either side so the prefix, not the bucket, bounds the listing.
     */
    let manyKeys: Promise<{ bucket: string; keys: string[] }> | undefined;
    const bucketOfManyKeys = () => {
      manyKeys ??= (async () => {
        const bucket = await newBucket();
        const keys = Array.from({ length: 1200 }, (_, i) => `model/shard-${String(i).padStart(5, '0')}.safetensors`);
        const all = ['a-before', ...keys, 'model-after/x', 'zz'];
        for (let i = 0; i < all.length; i += 25) {
          await Promise.all(
            all
              .slice(i, i + 25)
              .map((key) => client().send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: '' }))),
          );
        }
        return { bucket, keys };
      })();
      return manyKeys;
    };
    const listAll = async (bucket: string, maxKeys?: number) => {
      const pages: string[][] = [];
      let token: string | undefined;
      do {
        const out: ListObjectsV2CommandOutput = await client().send(
          new ListObjectsV2Command({ Bucket: bucket, Prefix: 'model/', MaxKeys: maxKeys, ContinuationToken: token }),
        );
        pages.push((out.Contents ?? []).map((c) => c.Key ?? ''));
        token = out.IsTruncated ? out.NextContinuationToken : undefined;
      } while (token && pages.length < 20);
      return pages;
    };

    it('lists every one of 1,200 keys under a prefix exactly once, in key order, across pages', async () => {
      const { bucket, keys } = await bucketOfManyKeys();
      const pages = await listAll(bucket);
      assert.ok(pages.length > 0);
      assert.deepEqual(pages.flat(), keys);
    });

    it('pages 1,200 keys under a prefix 1,000 at a time by default', async () => {
      const { bucket } = await bucketOfManyKeys();
      const pages = await listAll(bucket);
      assert.deepEqual(
        pages.map((p) => p.length),
        [1000, 200],
      );
    });

    it('pages 1,200 keys under a prefix by MaxKeys with continuation tokens', async () => {
      const { bucket } = await bucketOfManyKeys();
      const pages = await listAll(bucket, 500);
      assert.deepEqual(
        pages.map((p) => p.length),
        [500, 500, 200],
      );
    });

    it('groups keys into CommonPrefixes with a delimiter, across pages', async () => {
      const bucket = await newBucket();
      for (const key of ['models/a/1', 'models/a/2', 'models/b/1', 'models/top', 'prompts/p', 'root']) {
        await client().send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: 'x' }));
      }
      const top = await client().send(new ListObjectsV2Command({ Bucket: bucket, Delimiter: '/' }));
      assert.deepEqual(
        top.CommonPrefixes?.map((p) => p.Prefix),
        ['models/', 'prompts/'],
      );
      assert.deepEqual(
        top.Contents?.map((c) => c.Key),
        ['root'],
      );
      assert.equal(top.KeyCount, 3);
      assert.equal(top.Delimiter, '/');

      const seenPrefixes: string[] = [];
      const seenKeys: string[] = [];
      let token: string | undefined;
      let pages = 0;
      do {
        const out: ListObjectsV2CommandOutput = await client().send(
          new ListObjectsV2Command({
            Bucket: bucket,
            Prefix: 'models/',
            Delimiter: '/',
            MaxKeys: 1,
            ContinuationToken: token,
          }),
        );
        pages++;
        for (const p of out.CommonPrefixes ?? []) seenPrefixes.push(p.Prefix ?? '');
        for (const c of out.Contents ?? []) seenKeys.push(c.Key ?? '');
        token = out.IsTruncated ? out.NextContinuationToken : undefined;
      } while (token && pages < 10);
      assert.deepEqual(seenPrefixes, ['models/a/', 'models/b/']);
      assert.deepEqual(seenKeys, ['models/top']);
      assert.equal(pages, 3);
    });

    it('deletes several objects at once with DeleteObjects', async () => {
      const bucket = await newBucket();
      for (const key of ['x1', 'x2', 'x3'])
        await client().send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: key }));
      const out = await client().send(
        new DeleteObjectsCommand({
          Bucket: bucket,
          Delete: { Objects: [{ Key: 'x1' }, { Key: 'x3' }, { Key: 'never' }] },
        }),
      );
      assert.deepEqual(out.Deleted?.map((d) => d.Key).sort(), ['never', 'x1', 'x3']);
      assert.equal(out.Errors, undefined);
      const left = await client().send(new ListObjectsV2Command({ Bucket: bucket }));
      assert.deepEqual(
        left.Contents?.map((c) => c.Key),
        ['x2'],
      );
    });

    it('writes delete markers for DeleteObjects in a versioned bucket', async () => {
      const bucket = await newBucket(true);
      await client().send(new PutObjectCommand({ Bucket: bucket, Key: 'v', Body: 'x' }));
      const out = await client().send(
        new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: [{ Key: 'v' }] } }),
      );
      assert.equal(out.Deleted?.[0]?.DeleteMarker, true);
      assert.ok(out.Deleted?.[0]?.DeleteMarkerVersionId);
      const versions = await client().send(new ListObjectVersionsCommand({ Bucket: bucket }));
      assert.equal(versions.DeleteMarkers?.[0]?.VersionId, out.Deleted?.[0]?.DeleteMarkerVersionId);
    });

    it('honours read preconditions: If-None-Match (304), If-Match (412), If-Modified-Since (304)', async () => {
      const bucket = await newBucket();
      const put = await client().send(new PutObjectCommand({ Bucket: bucket, Key: 'c', Body: 'cached' }));
      // 304 has no body: the SDK cannot name the error, only its status.
      await rejectsWith(
        client().send(new GetObjectCommand({ Bucket: bucket, Key: 'c', IfNoneMatch: put.ETag })),
        undefined,
        304,
      );
      await rejectsWith(
        client().send(new GetObjectCommand({ Bucket: bucket, Key: 'c', IfMatch: '"ffff"' })),
        'PreconditionFailed',
        412,
      );
      await rejectsWith(
        client().send(new HeadObjectCommand({ Bucket: bucket, Key: 'c', IfMatch: '"ffff"' })),
        undefined,
        412,
      );
      const future = new Date(Date.now() + 3_600_000);
      await rejectsWith(
        client().send(new GetObjectCommand({ Bucket: bucket, Key: 'c', IfModifiedSince: future })),
        undefined,
        304,
      );
      const ok = await client().send(new GetObjectCommand({ Bucket: bucket, Key: 'c', IfMatch: put.ETag }));
      assert.equal(await ok.Body?.transformToString(), 'cached');
    });

    it('deletes conditionally with If-Match (412 on a stale ETag)', async () => {
      const bucket = await newBucket();
      const put = await client().send(new PutObjectCommand({ Bucket: bucket, Key: 'd', Body: 'x' }));
      await rejectsWith(
        client().send(new DeleteObjectCommand({ Bucket: bucket, Key: 'd', IfMatch: '"0000"' })),
        'PreconditionFailed',
        412,
      );
      await client().send(new DeleteObjectCommand({ Bucket: bucket, Key: 'd', IfMatch: put.ETag }));
      await rejectsWith(client().send(new HeadObjectCommand({ Bucket: bucket, Key: 'd' })), 'NotFound', 404);
    });
  },
);
