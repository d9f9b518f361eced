/**
 * Sandbox-only S3 behaviour: the wire details moto cannot be compared on (aws-chunked decoding, fault
 * injection, raw error documents, multipart checksum rules), the checksum implementations, and the
 * in-process view. The AWS behaviour Ballast relies on is in test/conformance/s3.conformance.test.ts
 * and test/conformance/s3-multipart.conformance.test.ts.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import {
  AbortMultipartUploadCommand,
  type CompletedPart,
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  GetBucketEncryptionCommand,
  GetBucketTaggingCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
  ListObjectVersionsCommand,
  ListPartsCommand,
  PutBucketEncryptionCommand,
  PutBucketTaggingCommand,
  PutBucketVersioningCommand,
  PutObjectCommand,
  S3Client,
  S3ServiceException,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import {
  computeChecksum,
  createS3Service,
  decodeAwsChunked,
  parseRange,
  type S3Sandbox,
} from '../../sandbox/services/s3.ts';
import { clientConfig, type SandboxTarget, startSandboxTarget, uniqueName } from '../support/aws-targets.ts';

describe('S3 checksums', () => {
  // Check values of the catalogue of parametrised CRC algorithms (input "123456789").
  const check = Buffer.from('123456789');
  const hex = (base64: string) => Buffer.from(base64, 'base64').toString('hex');

  it('computes CRC32, CRC32C and CRC64NVME check values', () => {
    assert.equal(hex(computeChecksum('CRC32', check)), 'cbf43926');
    assert.equal(hex(computeChecksum('CRC32C', check)), 'e3069283');
    assert.equal(hex(computeChecksum('CRC64NVME', check)), 'ae8b14860a799888');
  });

  it('computes SHA1 and SHA256 as base64 digests', () => {
    assert.equal(computeChecksum('SHA256', check), createHash('sha256').update(check).digest('base64'));
    assert.equal(computeChecksum('SHA1', check), createHash('sha1').update(check).digest('base64'));
  });

  it('handles empty bodies', () => {
    assert.equal(hex(computeChecksum('CRC32', Buffer.alloc(0))), '00000000');
    assert.equal(hex(computeChecksum('CRC32C', Buffer.alloc(0))), '00000000');
    assert.equal(hex(computeChecksum('CRC64NVME', Buffer.alloc(0))), '0000000000000000');
  });
});

describe('aws-chunked decoding', () => {
  it('decodes unsigned chunks with a trailing checksum', () => {
    const body = Buffer.from('5\r\nhello\r\n6\r\n world\r\n0\r\nx-amz-checksum-crc32:DUoRhQ==\r\n\r\n');
    const decoded = decodeAwsChunked(body);
    assert.equal(decoded.payload.toString(), 'hello world');
    assert.deepEqual(decoded.trailers, { 'x-amz-checksum-crc32': 'DUoRhQ==' });
  });

  it('decodes signed chunks (chunk-signature extensions, trailer signature)', () => {
    const sig = 'a'.repeat(64);
    const body = Buffer.from(
      `3;chunk-signature=${sig}\r\nabc\r\n0;chunk-signature=${sig}\r\nx-amz-checksum-sha256:xyz\r\nx-amz-trailer-signature:${sig}\r\n\r\n`,
    );
    const decoded = decodeAwsChunked(body);
    assert.equal(decoded.payload.toString(), 'abc');
    assert.equal(decoded.trailers['x-amz-checksum-sha256'], 'xyz');
  });

  it('decodes a body without trailers', () => {
    assert.equal(decodeAwsChunked(Buffer.from('2\r\nhi\r\n0\r\n\r\n')).payload.toString(), 'hi');
  });

  it('rejects truncated bodies as IncompleteBody', () => {
    assert.throws(() => decodeAwsChunked(Buffer.from('a\r\nshort\r\n')), { code: 'IncompleteBody' });
    assert.throws(() => decodeAwsChunked(Buffer.from('zz\r\n')), { code: 'IncompleteBody' });
  });
});

describe('byte ranges', () => {
  it('parses single ranges and clamps them to the object', () => {
    assert.deepEqual(parseRange('bytes=0-4', 10), [0, 4]);
    assert.deepEqual(parseRange('bytes=5-', 10), [5, 9]);
    assert.deepEqual(parseRange('bytes=-3', 10), [7, 9]);
    assert.deepEqual(parseRange('bytes=8-100', 10), [8, 9]);
    assert.deepEqual(parseRange('bytes=-100', 10), [0, 9]);
  });

  it('reports unsatisfiable ranges and ignores ones S3 ignores', () => {
    assert.equal(parseRange('bytes=10-', 10), 'unsatisfiable');
    assert.equal(parseRange('bytes=-0', 10), 'unsatisfiable');
    assert.equal(parseRange('bytes=0-1,3-4', 10), undefined);
    assert.equal(parseRange('items=0-1', 10), undefined);
    assert.equal(parseRange(undefined, 10), undefined);
  });
});

describe('S3 sandbox service', () => {
  let target: SandboxTarget;
  let s3: S3Client;
  let service: S3Sandbox;

  before(async () => {
    target = await startSandboxTarget((ctx) => [createS3Service(ctx)]);
    s3 = new S3Client(clientConfig(target.endpoint));
    service = target.services[0] as S3Sandbox;
  });
  after(async () => {
    await target.stop();
  });

  const newBucket = async () => {
    const bucket = uniqueName('sb');
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
    return bucket;
  };

  /** A raw HTTP request, for wire details the SDK would not produce. */
  const raw = (method: string, path: string, body?: string | Buffer, headers: Record<string, string> = {}) =>
    fetch(`${target.endpoint}${path}`, { method, headers, ...(body === undefined ? {} : { body }) });

  it('retries injected S3 throttling (503 SlowDown) with the SDK default retry strategy', async () => {
    const bucket = await newBucket();
    target.faults.add({ service: 's3', operation: 'PutObject', kind: 'throttle', times: 1 });
    target.requests.clear();
    const retrying = new S3Client({ ...clientConfig(target.endpoint), maxAttempts: undefined });
    const out = await retrying.send(new PutObjectCommand({ Bucket: bucket, Key: 'k', Body: 'after retry' }));
    assert.equal(out.$metadata.attempts, 2);
    const puts = target.requests.all().filter((r) => r.operation === 'PutObject');
    assert.deepEqual(
      puts.map((r) => [r.status, r.fault]),
      [
        [503, 'throttle'],
        [200, undefined],
      ],
    );
    assert.equal(service.object(bucket, 'k')?.body.toString(), 'after retry');
  });

  it('answers an injected throttle with S3 SlowDown and a server error with InternalError', async () => {
    const bucket = await newBucket();
    target.faults.add({ service: 's3', operation: 'GetObject', kind: 'throttle', times: 1 });
    await assert.rejects(s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'k' })), (error: unknown) => {
      assert.ok(error instanceof S3ServiceException);
      assert.equal(error.name, 'SlowDown');
      assert.equal(error.$metadata.httpStatusCode, 503);
      return true;
    });
    target.faults.add({ service: 's3', operation: 'GetObject', kind: 'server-error', times: 1 });
    await assert.rejects(s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'k' })), { name: 'InternalError' });
    target.faults.clear();
  });

  it('writes S3 error documents, and no body for HEAD', async () => {
    const bucket = await newBucket();
    const get = await raw('GET', `/${bucket}/missing%20key`);
    assert.equal(get.status, 404);
    assert.equal(get.headers.get('content-type'), 'application/xml');
    const text = await get.text();
    assert.match(text, /^<\?xml version="1.0" encoding="UTF-8"\?>\n<Error><Code>NoSuchKey<\/Code>/);
    assert.match(
      text,
      /<Message>The specified key does not exist.<\/Message><Key>missing key<\/Key><RequestId>[0-9A-F]{16}<\/RequestId>/,
    );
    assert.equal(get.headers.get('x-amz-request-id')?.length, 16);
    const head = await raw('HEAD', `/${bucket}/missing`);
    assert.equal(head.status, 404);
    assert.equal(await head.text(), '');
  });

  it('accepts streamed uploads with the default CRC32 trailer and returns the checksum', async () => {
    const bucket = await newBucket();
    const body = Buffer.from('x'.repeat(70_000));
    await s3.send(
      new PutObjectCommand({ Bucket: bucket, Key: 's', Body: Readable.from([body]), ContentLength: body.length }),
    );
    const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: 's', ChecksumMode: 'ENABLED' }));
    assert.equal(got.ChecksumCRC32, computeChecksum('CRC32', body));
    assert.equal(got.ChecksumType, 'FULL_OBJECT');
    assert.equal((await got.Body?.transformToByteArray())?.length, body.length);
  });

  it('rejects an aws-chunked body whose trailing checksum does not match (BadDigest)', async () => {
    const bucket = await newBucket();
    const wrong = computeChecksum('SHA256', Buffer.from('other'));
    const response = await raw(
      'PUT',
      `/${bucket}/chunked`,
      `5\r\nhello\r\n0\r\nx-amz-checksum-sha256:${wrong}\r\n\r\n`,
      {
        'content-encoding': 'aws-chunked',
        'x-amz-content-sha256': 'STREAMING-UNSIGNED-PAYLOAD-TRAILER',
        'x-amz-decoded-content-length': '5',
        'x-amz-trailer': 'x-amz-checksum-sha256',
        'x-amz-sdk-checksum-algorithm': 'SHA256',
      },
    );
    assert.equal(response.status, 400);
    assert.match(
      await response.text(),
      /<Code>BadDigest<\/Code><Message>The sha256 you specified did not match the calculated checksum.<\/Message>/,
    );
    assert.equal(service.object(bucket, 'chunked'), undefined);
  });

  it('stores the decoded payload of an aws-chunked body and drops aws-chunked from Content-Encoding', async () => {
    const bucket = await newBucket();
    const good = computeChecksum('CRC32', Buffer.from('hello world'));
    const response = await raw(
      'PUT',
      `/${bucket}/chunked`,
      `5\r\nhello\r\n6\r\n world\r\n0\r\nx-amz-checksum-crc32:${good}\r\n\r\n`,
      {
        'content-encoding': 'aws-chunked,gzip',
        'x-amz-content-sha256': 'STREAMING-UNSIGNED-PAYLOAD-TRAILER',
        'x-amz-decoded-content-length': '11',
        'x-amz-trailer': 'x-amz-checksum-crc32',
      },
    );
    assert.equal(response.status, 200);
    assert.equal(response.headers.get('x-amz-checksum-crc32'), good);
    assert.equal(service.object(bucket, 'chunked')?.body.toString(), 'hello world');
    const head = await raw('HEAD', `/${bucket}/chunked`);
    assert.equal(head.headers.get('content-encoding'), 'gzip');
    assert.equal(head.headers.get('content-length'), '11');
  });

  it('rejects aws-chunked bodies shorter than x-amz-decoded-content-length, or missing a declared trailer', async () => {
    const bucket = await newBucket();
    const short = await raw('PUT', `/${bucket}/c`, '5\r\nhello\r\n0\r\n\r\n', {
      'content-encoding': 'aws-chunked',
      'x-amz-decoded-content-length': '10',
    });
    assert.equal(short.status, 400);
    assert.match(await short.text(), /<Code>IncompleteBody<\/Code>/);
    const noTrailer = await raw('PUT', `/${bucket}/c`, '5\r\nhello\r\n0\r\n\r\n', {
      'content-encoding': 'aws-chunked',
      'x-amz-decoded-content-length': '5',
      'x-amz-trailer': 'x-amz-checksum-crc32',
    });
    assert.equal(noTrailer.status, 400);
    assert.match(await noTrailer.text(), /<Code>MalformedTrailerError<\/Code>/);
  });

  it('rejects more than one checksum, and a malformed checksum value', async () => {
    const bucket = await newBucket();
    const two = await raw('PUT', `/${bucket}/k`, 'abc', {
      'x-amz-checksum-crc32': computeChecksum('CRC32', Buffer.from('abc')),
      'x-amz-checksum-sha256': computeChecksum('SHA256', Buffer.from('abc')),
    });
    assert.equal(two.status, 400);
    assert.match(await two.text(), /Multiple checksum Types are not allowed/);
    const malformed = await raw('PUT', `/${bucket}/k`, 'abc', { 'x-amz-checksum-sha256': 'not-base64' });
    assert.equal(malformed.status, 400);
    assert.match(await malformed.text(), /Value for x-amz-checksum-sha256 header is invalid/);
  });

  it('checks x-amz-content-sha256 against the body', async () => {
    const bucket = await newBucket();
    const response = await raw('PUT', `/${bucket}/k`, 'abc', { 'x-amz-content-sha256': 'f'.repeat(64) });
    assert.equal(response.status, 400);
    assert.match(await response.text(), /<Code>XAmzContentSHA256Mismatch<\/Code>/);
  });

  it('gives objects uploaded without a checksum a CRC64NVME one, which the SDK validates', async () => {
    const bucket = await newBucket();
    const plain = new S3Client({ ...clientConfig(target.endpoint), requestChecksumCalculation: 'WHEN_REQUIRED' });
    await plain.send(new PutObjectCommand({ Bucket: bucket, Key: 'k', Body: 'no checksum sent' }));
    const got = await plain.send(new GetObjectCommand({ Bucket: bucket, Key: 'k', ChecksumMode: 'ENABLED' }));
    assert.equal(got.ChecksumCRC64NVME, computeChecksum('CRC64NVME', Buffer.from('no checksum sent')));
    assert.equal(await got.Body?.transformToString(), 'no checksum sent');
  });

  it('does not return the full-object checksum for a ranged GET', async () => {
    const bucket = await newBucket();
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'k', Body: '0123456789', ChecksumAlgorithm: 'SHA256' }));
    const got = await s3.send(
      new GetObjectCommand({ Bucket: bucket, Key: 'k', Range: 'bytes=0-1', ChecksumMode: 'ENABLED' }),
    );
    assert.equal(got.ChecksumSHA256, undefined);
    assert.equal(await got.Body?.transformToString(), '01');
  });

  it('writes null versions in a suspended bucket, replacing the previous null version', async () => {
    const bucket = await newBucket();
    await s3.send(new PutBucketVersioningCommand({ Bucket: bucket, VersioningConfiguration: { Status: 'Enabled' } }));
    const v1 = await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'k', Body: 'enabled' }));
    await s3.send(new PutBucketVersioningCommand({ Bucket: bucket, VersioningConfiguration: { Status: 'Suspended' } }));
    const n1 = await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'k', Body: 'null-1' }));
    assert.equal(n1.VersionId, 'null');
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'k', Body: 'null-2' }));
    assert.deepEqual(
      service.versions(bucket).map((v) => [v.versionId, v.body.toString(), v.isLatest]),
      [
        ['null', 'null-2', true],
        [v1.VersionId, 'enabled', false],
      ],
    );
    const marker = await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: 'k' }));
    assert.equal(marker.VersionId, 'null');
    assert.equal(marker.DeleteMarker, true);
    const listed = await s3.send(new ListObjectVersionsCommand({ Bucket: bucket }));
    assert.equal(listed.DeleteMarkers?.[0]?.VersionId, 'null');
    assert.deepEqual(
      listed.Versions?.map((v) => v.VersionId),
      [v1.VersionId],
    );
  });

  it('exposes buckets, objects and versions in-process', async () => {
    const bucket = await newBucket();
    await s3.send(new PutBucketVersioningCommand({ Bucket: bucket, VersioningConfiguration: { Status: 'Enabled' } }));
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'b', Body: 'B', Metadata: { m: '1' } }));
    const a = await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'a', Body: 'A' }));
    await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: 'a' }));
    assert.ok(service.bucketNames().includes(bucket));
    assert.equal(service.versioning(bucket), 'Enabled');
    assert.deepEqual(
      service.objects(bucket).map((o) => [o.key, o.body.toString(), o.metadata]),
      [['b', 'B', { m: '1' }]],
    );
    assert.deepEqual(
      service.versions(bucket).map((v) => [v.key, v.deleteMarker, v.isLatest]),
      [
        ['a', true, true],
        ['a', false, false],
        ['b', false, true],
      ],
    );
    assert.equal(service.object(bucket, 'a'), undefined);
    assert.equal(service.object(bucket, 'a', a.VersionId)?.body.toString(), 'A');
    assert.deepEqual(service.objects('no-such-bucket'), []);
  });

  it('stores bucket encryption and tags, and reports SSE-S3 by default', async () => {
    const bucket = await newBucket();
    const initial = await s3.send(new GetBucketEncryptionCommand({ Bucket: bucket }));
    assert.equal(
      initial.ServerSideEncryptionConfiguration?.Rules?.[0]?.ApplyServerSideEncryptionByDefault?.SSEAlgorithm,
      'AES256',
    );
    await s3.send(
      new PutBucketEncryptionCommand({
        Bucket: bucket,
        ServerSideEncryptionConfiguration: {
          Rules: [
            {
              ApplyServerSideEncryptionByDefault: { SSEAlgorithm: 'aws:kms', KMSMasterKeyID: 'alias/ballast' },
              BucketKeyEnabled: true,
            },
          ],
        },
      }),
    );
    const put = await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'k', Body: 'x' }));
    assert.equal(put.ServerSideEncryption, 'aws:kms');
    assert.equal(put.SSEKMSKeyId, 'alias/ballast');
    assert.equal(put.BucketKeyEnabled, true);

    await assert.rejects(s3.send(new GetBucketTaggingCommand({ Bucket: bucket })), { name: 'NoSuchTagSet' });
    await s3.send(
      new PutBucketTaggingCommand({ Bucket: bucket, Tagging: { TagSet: [{ Key: 'app', Value: 'ballast & co' }] } }),
    );
    const tags = await s3.send(new GetBucketTaggingCommand({ Bucket: bucket }));
    assert.deepEqual(tags.TagSet, [{ Key: 'app', Value: 'ballast & co' }]);
  });

  it('addresses buckets virtual-hosted style on *.localhost', async () => {
    const bucket = await newBucket();
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'dir/k', Body: 'vhost' }));
    const port = new URL(target.endpoint).port;
    // fetch cannot override Host; use node:http directly.
    const { request } = await import('node:http');
    const body = await new Promise<string>((resolve, reject) => {
      const req = request(
        { host: '127.0.0.1', port, path: '/dir/k', headers: { host: `${bucket}.localhost:${port}` } },
        (res) => {
          let text = '';
          res.on('data', (chunk: Buffer) => {
            text += chunk.toString();
          });
          res.on('end', () => resolve(text));
        },
      );
      req.on('error', reject);
      req.end();
    });
    assert.equal(body, 'vhost');
  });

  it('rejects a bad continuation token and answers unimplemented operations with 501', async () => {
    const bucket = await newBucket();
    await assert.rejects(s3.send(new ListObjectsV2Command({ Bucket: bucket, ContinuationToken: '!!!' })), {
      name: 'InvalidArgument',
    });
    const acl = await raw('GET', `/${bucket}/k?acl`);
    assert.equal(acl.status, 501);
    assert.match(await acl.text(), /<Code>NotImplemented<\/Code>/);
  });

  it('answers HEAD with the object length and GET with response-* overrides', async () => {
    const bucket = await newBucket();
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'k', Body: '12345', CacheControl: 'max-age=60' }));
    const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'k' }));
    assert.equal(head.ContentLength, 5);
    assert.equal(head.CacheControl, 'max-age=60');
    assert.equal(head.ServerSideEncryption, 'AES256');
    const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'k', ResponseContentType: 'text/x-test' }));
    assert.equal(got.ContentType, 'text/x-test');
  });
});

describe('S3 sandbox multipart uploads', () => {
  let target: SandboxTarget;
  let s3: S3Client;
  let service: S3Sandbox;
  const MiB = 1024 * 1024;
  const fiveMiB = Buffer.alloc(5 * MiB, 'm');

  before(async () => {
    target = await startSandboxTarget((ctx) => [createS3Service(ctx)]);
    s3 = new S3Client(clientConfig(target.endpoint));
    service = target.services[0] as S3Sandbox;
  });
  after(async () => {
    await target.stop();
  });

  const newBucket = async () => {
    const bucket = uniqueName('sb-mpu');
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
    return bucket;
  };
  const raw = (method: string, path: string, body?: string | Buffer, headers: Record<string, string> = {}) =>
    fetch(`${target.endpoint}${path}`, { method, headers, ...(body === undefined ? {} : { body }) });
  const create = async (client: S3Client, bucket: string, key: string, extra: Record<string, unknown> = {}) => {
    const out = await client.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: key, ...extra }));
    return out.UploadId ?? '';
  };
  const completeXml = (parts: Array<[number, string]>) =>
    `<CompleteMultipartUpload>${parts
      .map(([n, etag]) => `<Part><PartNumber>${n}</PartNumber><ETag>${etag}</ETag></Part>`)
      .join('')}</CompleteMultipartUpload>`;

  it('retries injected throttling on UploadPart and a 500 on CompleteMultipartUpload', async () => {
    const bucket = await newBucket();
    const retrying = new S3Client({ ...clientConfig(target.endpoint), maxAttempts: undefined });
    const uploadId = await create(retrying, bucket, 'k');
    target.faults.add({ service: 's3', operation: 'UploadPart', kind: 'throttle', times: 1 });
    target.faults.add({ service: 's3', operation: 'CompleteMultipartUpload', kind: 'server-error', times: 1 });
    target.requests.clear();
    const part = await retrying.send(
      new UploadPartCommand({ Bucket: bucket, Key: 'k', UploadId: uploadId, PartNumber: 1, Body: 'retried part' }),
    );
    assert.equal(part.$metadata.attempts, 2);
    const done = await retrying.send(
      new CompleteMultipartUploadCommand({
        Bucket: bucket,
        Key: 'k',
        UploadId: uploadId,
        MultipartUpload: { Parts: [{ PartNumber: 1, ETag: part.ETag, ChecksumCRC32: part.ChecksumCRC32 }] },
      }),
    );
    assert.equal(done.$metadata.attempts, 2);
    assert.deepEqual(
      target.requests.all().map((r) => [r.operation, r.status, r.fault]),
      [
        ['UploadPart', 503, 'throttle'],
        ['UploadPart', 200, undefined],
        ['CompleteMultipartUpload', 500, 'server-error'],
        ['CompleteMultipartUpload', 200, undefined],
      ],
    );
    assert.equal(service.object(bucket, 'k')?.body.toString(), 'retried part');
    assert.deepEqual(service.uploads(bucket), []);
  });

  it('writes S3 error documents with the multipart detail elements', async () => {
    const bucket = await newBucket();
    const missing = await raw('GET', `/${bucket}/k?uploadId=nope`);
    assert.equal(missing.status, 404);
    assert.match(
      await missing.text(),
      /<Code>NoSuchUpload<\/Code><Message>The specified upload does not exist. The upload ID may be invalid, or the upload may have been aborted or completed.<\/Message><UploadId>nope<\/UploadId>/,
    );

    const plain = new S3Client({ ...clientConfig(target.endpoint), requestChecksumCalculation: 'WHEN_REQUIRED' });
    const uploadId = await create(plain, bucket, 'k');
    const p1 = await plain.send(
      new UploadPartCommand({ Bucket: bucket, Key: 'k', UploadId: uploadId, PartNumber: 1, Body: 'small' }),
    );
    const p2 = await plain.send(
      new UploadPartCommand({ Bucket: bucket, Key: 'k', UploadId: uploadId, PartNumber: 2, Body: 'last' }),
    );
    const tooSmall = await raw(
      'POST',
      `/${bucket}/k?uploadId=${uploadId}`,
      completeXml([
        [1, p1.ETag ?? ''],
        [2, p2.ETag ?? ''],
      ]),
    );
    assert.equal(tooSmall.status, 400);
    const etag1 = (p1.ETag ?? '').replace(/"/g, '');
    assert.match(
      await tooSmall.text(),
      new RegExp(
        `<Code>EntityTooSmall</Code><Message>Your proposed upload is smaller than the minimum allowed size</Message><ProposedSize>5</ProposedSize><MinSizeAllowed>5242880</MinSizeAllowed><PartNumber>1</PartNumber><ETag>${etag1}</ETag>`,
      ),
    );
    const wrong = await raw('POST', `/${bucket}/k?uploadId=${uploadId}`, completeXml([[1, '"ffff"']]));
    assert.match(
      await wrong.text(),
      new RegExp(
        `<Code>InvalidPart</Code><Message>One or more of the specified parts could not be found.  The part may not have been uploaded, or the specified entity tag may not match the part&apos;s entity tag.</Message><UploadId>${uploadId}</UploadId><PartNumber>1</PartNumber><ETag>ffff</ETag>`,
      ),
    );
    const unordered = await raw(
      'POST',
      `/${bucket}/k?uploadId=${uploadId}`,
      completeXml([
        [2, p2.ETag ?? ''],
        [1, p1.ETag ?? ''],
      ]),
    );
    assert.match(await unordered.text(), /<Code>InvalidPartOrder<\/Code>/);
    const empty = await raw('POST', `/${bucket}/k?uploadId=${uploadId}`, '<CompleteMultipartUpload/>');
    assert.match(await empty.text(), /<Code>MalformedXML<\/Code>/);
    const badNumber = await raw('PUT', `/${bucket}/k?uploadId=${uploadId}&partNumber=10001`, 'x');
    assert.equal(badNumber.status, 400);
    assert.match(
      await badNumber.text(),
      /<Code>InvalidArgument<\/Code><Message>Part number must be an integer between 1 and 10000, inclusive<\/Message><ArgumentName>partNumber<\/ArgumentName><ArgumentValue>10001<\/ArgumentValue>/,
    );
  });

  it('validates x-amz-copy-source-range as S3 does (form, then bounds)', async () => {
    const bucket = await newBucket();
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'src', Body: '0123456789' }));
    const uploadId = await create(s3, bucket, 'dst');
    const copy = (range: string) =>
      raw('PUT', `/${bucket}/dst?uploadId=${uploadId}&partNumber=1`, undefined, {
        'x-amz-copy-source': `/${bucket}/src`,
        'x-amz-copy-source-range': range,
      });
    const malformed = await copy('0-4');
    assert.equal(malformed.status, 400);
    assert.match(
      await malformed.text(),
      /<Message>The x-amz-copy-source-range value must be of the form bytes=first-last where first and last are the zero-based offsets of the first and last bytes to copy<\/Message><ArgumentName>x-amz-copy-source-range<\/ArgumentName><ArgumentValue>0-4<\/ArgumentValue>/,
    );
    const outside = await copy('bytes=0-10');
    assert.match(
      await outside.text(),
      /<Message>Range specified is not valid for source object of size: 10<\/Message>/,
    );
    const ok = await copy('bytes=2-4');
    assert.equal(ok.status, 200);
    assert.match(await ok.text(), /^<\?xml version="1.0" encoding="UTF-8"\?>\n<CopyPartResult xmlns=/);
    assert.deepEqual(service.uploads(bucket)[0]?.parts, [
      { partNumber: 1, size: 3, etag: `"${createHash('md5').update('234').digest('hex')}"` },
    ]);
  });

  it('enforces the checksum algorithm and type fixed by CreateMultipartUpload', async () => {
    const bucket = await newBucket();
    const bad = async (headers: Record<string, string>, message: RegExp) => {
      const response = await raw('POST', `/${bucket}/k?uploads`, undefined, headers);
      assert.equal(response.status, 400);
      assert.match(await response.text(), message);
    };
    await bad(
      { 'x-amz-checksum-algorithm': 'SHA256', 'x-amz-checksum-type': 'FULL_OBJECT' },
      /The FULL_OBJECT checksum type cannot be used with the sha256 checksum algorithm./,
    );
    await bad(
      { 'x-amz-checksum-algorithm': 'CRC64NVME', 'x-amz-checksum-type': 'COMPOSITE' },
      /The COMPOSITE checksum type cannot be used with the crc64nvme checksum algorithm./,
    );
    await bad(
      { 'x-amz-checksum-type': 'FULL_OBJECT' },
      /The x-amz-checksum-type header can only be used with the x-amz-checksum-algorithm header./,
    );
    await bad({ 'x-amz-checksum-algorithm': 'CRC32', 'x-amz-checksum-type': 'WHOLE' }, /x-amz-checksum-type/);
    const created = await s3.send(
      new CreateMultipartUploadCommand({ Bucket: bucket, Key: 'k', ChecksumAlgorithm: 'CRC64NVME' }),
    );
    assert.equal(created.ChecksumAlgorithm, 'CRC64NVME');
    assert.equal(created.ChecksumType, 'FULL_OBJECT', 'CRC64NVME is full-object only');

    // A SHA-256 (composite) upload takes SHA-256 part checksums only, and needs them all on completion.
    const uploadId = await create(s3, bucket, 'sha', { ChecksumAlgorithm: 'SHA256' });
    await assert.rejects(
      s3.send(new UploadPartCommand({ Bucket: bucket, Key: 'sha', UploadId: uploadId, PartNumber: 1, Body: 'x' })),
      (error: unknown) => {
        assert.ok(error instanceof S3ServiceException);
        assert.equal(error.name, 'InvalidRequest');
        assert.equal(
          error.message,
          'Checksum Type mismatch occurred, expected checksum Type: sha256, actual checksum Type: crc32',
        );
        return true;
      },
    );
    const part = await s3.send(
      new UploadPartCommand({
        Bucket: bucket,
        Key: 'sha',
        UploadId: uploadId,
        PartNumber: 1,
        Body: 'x',
        ChecksumAlgorithm: 'SHA256',
      }),
    );
    const listed = await s3.send(new ListPartsCommand({ Bucket: bucket, Key: 'sha', UploadId: uploadId }));
    assert.equal(listed.Parts?.[0]?.ChecksumSHA256, part.ChecksumSHA256);
    assert.equal(listed.ChecksumAlgorithm, 'SHA256');
    assert.equal(listed.ChecksumType, 'COMPOSITE');
    await assert.rejects(
      s3.send(
        new CompleteMultipartUploadCommand({
          Bucket: bucket,
          Key: 'sha',
          UploadId: uploadId,
          MultipartUpload: { Parts: [{ PartNumber: 1, ETag: part.ETag }] },
        }),
      ),
      {
        name: 'InvalidRequest',
        message:
          'The upload was created using a sha256 checksum. The complete request must include the checksum for each part. It was missing for part 1 in the request.',
      },
    );
  });

  it('computes FULL_OBJECT CRC32 checksums without part checksums, and checks a full-object value on completion', async () => {
    const bucket = await newBucket();
    const plain = new S3Client({ ...clientConfig(target.endpoint), requestChecksumCalculation: 'WHEN_REQUIRED' });
    const tail = Buffer.from('tail');
    const body = Buffer.concat([fiveMiB, tail]);
    const uploadId = await create(plain, bucket, 'k', { ChecksumAlgorithm: 'CRC32', ChecksumType: 'FULL_OBJECT' });
    const parts: CompletedPart[] = [];
    for (const [i, data] of [fiveMiB, tail].entries()) {
      const out = await plain.send(
        new UploadPartCommand({ Bucket: bucket, Key: 'k', UploadId: uploadId, PartNumber: i + 1, Body: data }),
      );
      assert.equal(out.ChecksumCRC32, computeChecksum('CRC32', data), 'S3 computes the part checksum');
      parts.push({ PartNumber: i + 1, ETag: out.ETag });
    }
    const complete = (checksum: string) =>
      plain.send(
        new CompleteMultipartUploadCommand({
          Bucket: bucket,
          Key: 'k',
          UploadId: uploadId,
          ChecksumCRC32: checksum,
          ChecksumType: 'FULL_OBJECT',
          MultipartUpload: { Parts: parts },
        }),
      );
    await assert.rejects(complete(computeChecksum('CRC32', Buffer.from('other'))), { name: 'BadDigest' });
    const done = await complete(computeChecksum('CRC32', body));
    assert.equal(done.ChecksumCRC32, computeChecksum('CRC32', body));
    assert.equal(done.ChecksumType, 'FULL_OBJECT');
    // The SDK validates a full-object checksum against the body it reads.
    const got = await plain.send(new GetObjectCommand({ Bucket: bucket, Key: 'k', ChecksumMode: 'ENABLED' }));
    assert.equal(got.ChecksumCRC32, computeChecksum('CRC32', body));
    assert.equal(got.ChecksumType, 'FULL_OBJECT');
    assert.equal((await got.Body?.transformToByteArray())?.length, body.length);
  });

  it('gives an upload created without an algorithm the default full-object CRC64NVME checksum', async () => {
    const bucket = await newBucket();
    const uploadId = await create(s3, bucket, 'k');
    const part = await s3.send(
      new UploadPartCommand({ Bucket: bucket, Key: 'k', UploadId: uploadId, PartNumber: 1, Body: 'default' }),
    );
    assert.equal(part.ChecksumCRC32, computeChecksum('CRC32', Buffer.from('default')), 'the SDK default is echoed');
    const done = await s3.send(
      new CompleteMultipartUploadCommand({
        Bucket: bucket,
        Key: 'k',
        UploadId: uploadId,
        MultipartUpload: { Parts: [{ PartNumber: 1, ETag: part.ETag, ChecksumCRC32: part.ChecksumCRC32 }] },
      }),
    );
    assert.equal(done.ChecksumCRC64NVME, computeChecksum('CRC64NVME', Buffer.from('default')));
    assert.equal(done.ChecksumType, 'FULL_OBJECT');
    assert.match(done.Location ?? '', new RegExp(`^http://127\\.0\\.0\\.1:\\d+/${bucket}/k$`));
    assert.deepEqual(service.object(bucket, 'k')?.checksum, {
      algorithm: 'CRC64NVME',
      value: computeChecksum('CRC64NVME', Buffer.from('default')),
      type: 'FULL_OBJECT',
    });
  });

  it('rejects an aws-chunked part whose trailing checksum does not match, storing nothing', async () => {
    const bucket = await newBucket();
    const uploadId = await create(s3, bucket, 'k');
    const wrong = computeChecksum('CRC32', Buffer.from('other'));
    const response = await raw(
      'PUT',
      `/${bucket}/k?uploadId=${uploadId}&partNumber=1`,
      `5\r\nhello\r\n0\r\nx-amz-checksum-crc32:${wrong}\r\n\r\n`,
      {
        'content-encoding': 'aws-chunked',
        'x-amz-content-sha256': 'STREAMING-UNSIGNED-PAYLOAD-TRAILER',
        'x-amz-decoded-content-length': '5',
        'x-amz-trailer': 'x-amz-checksum-crc32',
      },
    );
    assert.equal(response.status, 400);
    assert.match(await response.text(), /<Code>BadDigest<\/Code>/);
    assert.deepEqual(service.uploads(bucket)[0]?.parts, []);
  });

  it('keeps the upload after a failed completion precondition; If-Match on a missing key is NoSuchKey', async () => {
    const bucket = await newBucket();
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'k', Body: 'existing' }));
    const uploadId = await create(s3, bucket, 'k');
    const part = await s3.send(
      new UploadPartCommand({ Bucket: bucket, Key: 'k', UploadId: uploadId, PartNumber: 1, Body: 'new' }),
    );
    const parts = [{ PartNumber: 1, ETag: part.ETag, ChecksumCRC32: part.ChecksumCRC32 }];
    const complete = (key: string, id: string, extra: Record<string, string>) =>
      s3.send(
        new CompleteMultipartUploadCommand({
          Bucket: bucket,
          Key: key,
          UploadId: id,
          MultipartUpload: { Parts: parts },
          ...extra,
        }),
      );
    await assert.rejects(complete('k', uploadId, { IfNoneMatch: '*' }), { name: 'PreconditionFailed' });
    assert.equal(service.uploads(bucket).length, 1, 'the upload is still in progress');
    await complete('k', uploadId, {});
    assert.equal(service.object(bucket, 'k')?.body.toString(), 'new');

    const other = await create(s3, bucket, 'absent');
    const otherPart = await s3.send(
      new UploadPartCommand({ Bucket: bucket, Key: 'absent', UploadId: other, PartNumber: 1, Body: 'new' }),
    );
    await assert.rejects(
      s3.send(
        new CompleteMultipartUploadCommand({
          Bucket: bucket,
          Key: 'absent',
          UploadId: other,
          IfMatch: otherPart.ETag,
          MultipartUpload: {
            Parts: [{ PartNumber: 1, ETag: otherPart.ETag, ChecksumCRC32: otherPart.ChecksumCRC32 }],
          },
        }),
      ),
      { name: 'NoSuchKey' },
    );
  });

  it('gives a CopyObject of a multipart object a single-part MD5 ETag', async () => {
    const bucket = await newBucket();
    const plain = new S3Client({ ...clientConfig(target.endpoint), requestChecksumCalculation: 'WHEN_REQUIRED' });
    const uploadId = await create(plain, bucket, 'mp');
    const part = await plain.send(
      new UploadPartCommand({ Bucket: bucket, Key: 'mp', UploadId: uploadId, PartNumber: 1, Body: 'multi' }),
    );
    const done = await plain.send(
      new CompleteMultipartUploadCommand({
        Bucket: bucket,
        Key: 'mp',
        UploadId: uploadId,
        MultipartUpload: { Parts: [{ PartNumber: 1, ETag: part.ETag }] },
      }),
    );
    assert.match(done.ETag ?? '', /^"[0-9a-f]{32}-1"$/);
    const copied = await plain.send(new CopyObjectCommand({ Bucket: bucket, Key: 'copy', CopySource: `${bucket}/mp` }));
    assert.equal(copied.CopyObjectResult?.ETag, `"${createHash('md5').update('multi').digest('hex')}"`);
  });

  it('groups in-progress uploads by delimiter and exposes them in-process', async () => {
    const bucket = await newBucket();
    const top = await create(s3, bucket, 'top');
    await create(s3, bucket, 'dir/a');
    await create(s3, bucket, 'dir/b');
    const out = await s3.send(new ListMultipartUploadsCommand({ Bucket: bucket, Delimiter: '/' }));
    assert.deepEqual(
      out.CommonPrefixes?.map((p) => p.Prefix),
      ['dir/'],
    );
    assert.deepEqual(
      out.Uploads?.map((u) => [u.Key, u.UploadId]),
      [['top', top]],
    );
    assert.deepEqual(
      service.uploads(bucket).map((u) => u.key),
      ['dir/a', 'dir/b', 'top'],
    );
    await s3.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: 'top', UploadId: top }));
    assert.deepEqual(
      service.uploads(bucket).map((u) => u.key),
      ['dir/a', 'dir/b'],
    );
  });
});
