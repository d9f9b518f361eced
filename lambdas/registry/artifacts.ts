import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
  CreateMultipartUploadCommand,
  GetObjectCommand,
  HeadObjectCommand,
  PutObjectCommand,
  S3ServiceException,
  UploadPartCopyCommand,
} from '@aws-sdk/client-s3';
import { ArtifactIntegrityError, classify, InvalidInputError, TransientError } from '../aws/errors.ts';
import { isStatus, type S3Like } from '../state/json-store.ts';
import { keys } from '../state/keys.ts';

/** CopyObject copies at most 5 GiB in one request (S3 User Guide, "Copying objects"). */
const MAX_SINGLE_COPY_BYTES = 5 * 1024 ** 3;
/** Multipart uploads take at most 10,000 parts of 5 MiB to 5 GiB (S3 User Guide, "Multipart upload limits"). */
const MAX_PARTS = 10_000;
const MIN_PART_BYTES = 5 * 1024 ** 2;

export interface CopyOptions {
  /** Objects larger than this are copied part by part (UploadPartCopy). @default 5 GiB */
  readonly multipartThreshold?: number;
  /** Size of each copied part (raised when needed to stay within 10,000 parts). @default 512 MiB */
  readonly partBytes?: number;
}

export interface StoredArtifact {
  readonly sha256: string;
  readonly key: string;
  readonly size: number;
  /** `created` by this call, or `existing` (already registered by an earlier commit or attempt). */
  readonly status: 'created' | 'existing';
}

/**
 * Registers a model artifact: verifies that the object at `sourceUri` has the sha256 the
 * repository declares, then copies it once to its content-addressed key. Idempotent: an artifact
 * already stored under its digest is not read or copied again, and a retry after a partial run
 * finds the copy (If-None-Match makes the copy write-once).
 *
 * The digest is computed by streaming the object, so memory stays bounded whatever its size. The
 * copy is pinned to the bytes that were hashed (CopySourceIfMatch on the ETag read while hashing),
 * so an object replaced between hashing and copying fails the copy instead of being registered
 * under the wrong digest.
 */
export async function registerArtifact(
  s3: S3Like,
  bucket: string,
  source: { bucket: string; key: string },
  expectedSha256: string,
  options: CopyOptions = {},
): Promise<StoredArtifact> {
  const key = keys.artifact(expectedSha256);
  const existing = await head(s3, bucket, key);
  if (existing) return { sha256: expectedSha256, key, size: existing.size, status: 'existing' };

  const object = await s3
    .send(new GetObjectCommand({ Bucket: source.bucket, Key: source.key }))
    .catch((error: unknown) => {
      if (isStatus(error, 404) || (error instanceof Error && error.name === 'NoSuchKey')) {
        throw new InvalidInputError(`artifact s3://${source.bucket}/${source.key} does not exist`);
      }
      if (isStatus(error, 403)) {
        throw new InvalidInputError(
          `Ballast may not read s3://${source.bucket}/${source.key}: add the bucket to artifactSourceBuckets`,
        );
      }
      return classify(error, `reading s3://${source.bucket}/${source.key}`);
    });
  const hash = createHash('sha256');
  let size = 0;
  try {
    for await (const chunk of object.Body as Readable) {
      const buffer = chunk as Buffer;
      size += buffer.length;
      hash.update(buffer);
    }
  } catch (error) {
    throw new TransientError(`reading s3://${source.bucket}/${source.key} failed mid-stream: ${String(error)}`);
  }
  const actual = hash.digest('hex');
  if (actual !== expectedSha256) {
    throw new ArtifactIntegrityError(
      `s3://${source.bucket}/${source.key} has sha256 ${actual}, but the repository declares ${expectedSha256}`,
    );
  }
  const copySource = `${source.bucket}/${encodeURIComponent(source.key).replace(/%2F/g, '/')}${
    object.VersionId ? `?versionId=${object.VersionId}` : ''
  }`;
  const metadata = { 'ballast-sha256': actual, 'ballast-source': `s3://${source.bucket}/${source.key}` };
  try {
    if (size > (options.multipartThreshold ?? MAX_SINGLE_COPY_BYTES)) {
      await multipartCopy(s3, { bucket, key, copySource, etag: object.ETag, size, metadata }, options.partBytes);
    } else {
      await s3.send(
        new CopyObjectCommand({
          Bucket: bucket,
          Key: key,
          CopySource: copySource,
          ...(object.ETag ? { CopySourceIfMatch: object.ETag } : {}),
          IfNoneMatch: '*',
          MetadataDirective: 'REPLACE',
          ContentType: 'application/octet-stream',
          Metadata: metadata,
        }),
      );
    }
  } catch (error) {
    // Someone (an earlier attempt) stored it first: content-addressed, so it is the same bytes.
    if (isStatus(error, 412) && (await head(s3, bucket, key))) {
      return { sha256: actual, key, size, status: 'existing' };
    }
    if (isStatus(error, 412)) {
      throw new ArtifactIntegrityError(`s3://${source.bucket}/${source.key} changed while it was being registered`);
    }
    return classify(error, `copying the artifact to s3://${bucket}/${key}`);
  }
  return { sha256: actual, key, size, status: 'created' };
}

/** Stores small content (a prompt, a config) under its digest, write-once. */
export async function storeContent(
  s3: S3Like,
  bucket: string,
  sha256: string,
  body: string,
  contentType = 'application/json',
): Promise<StoredArtifact> {
  const key = keys.artifact(sha256);
  const actual = createHash('sha256').update(body).digest('hex');
  if (actual !== sha256) throw new ArtifactIntegrityError(`content digest ${actual} does not match ${sha256}`);
  try {
    await s3.send(
      new PutObjectCommand({
        Bucket: bucket,
        Key: key,
        Body: body,
        ContentType: contentType,
        ChecksumSHA256: Buffer.from(sha256, 'hex').toString('base64'),
        IfNoneMatch: '*',
      }),
    );
    return { sha256, key, size: Buffer.byteLength(body), status: 'created' };
  } catch (error) {
    if (isStatus(error, 412)) return { sha256, key, size: Buffer.byteLength(body), status: 'existing' };
    return classify(error, `storing s3://${bucket}/${key}`);
  }
}

/**
 * Copies an object over 5 GiB part by part, each part pinned to the hashed bytes
 * (CopySourceIfMatch), completed write-once (If-None-Match on CompleteMultipartUpload). An upload
 * that fails is aborted, so no orphaned parts keep costing storage.
 */
async function multipartCopy(
  s3: S3Like,
  target: {
    bucket: string;
    key: string;
    copySource: string;
    etag?: string;
    size: number;
    metadata: Record<string, string>;
  },
  partBytes = 512 * 1024 ** 2,
): Promise<void> {
  const part = Math.max(partBytes, MIN_PART_BYTES, Math.ceil(target.size / MAX_PARTS));
  const created = await s3.send(
    new CreateMultipartUploadCommand({
      Bucket: target.bucket,
      Key: target.key,
      ContentType: 'application/octet-stream',
      Metadata: target.metadata,
    }),
  );
  const uploadId = created.UploadId;
  if (!uploadId) throw new TransientError('CreateMultipartUpload returned no UploadId');
  try {
    const parts: Array<{ ETag: string; PartNumber: number }> = [];
    for (let start = 0, number = 1; start < target.size; start += part, number++) {
      const end = Math.min(start + part, target.size) - 1;
      const copied = await s3.send(
        new UploadPartCopyCommand({
          Bucket: target.bucket,
          Key: target.key,
          UploadId: uploadId,
          PartNumber: number,
          CopySource: target.copySource,
          CopySourceRange: `bytes=${start}-${end}`,
          ...(target.etag ? { CopySourceIfMatch: target.etag } : {}),
        }),
      );
      parts.push({ ETag: copied.CopyPartResult?.ETag ?? '', PartNumber: number });
    }
    await s3.send(
      new CompleteMultipartUploadCommand({
        Bucket: target.bucket,
        Key: target.key,
        UploadId: uploadId,
        MultipartUpload: { Parts: parts },
        IfNoneMatch: '*',
      }),
    );
  } catch (error) {
    await s3
      .send(new AbortMultipartUploadCommand({ Bucket: target.bucket, Key: target.key, UploadId: uploadId }))
      .catch(() => undefined);
    throw error;
  }
}

async function head(s3: S3Like, bucket: string, key: string): Promise<{ size: number } | undefined> {
  try {
    const response = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
    return { size: response.ContentLength ?? 0 };
  } catch (error) {
    if (isStatus(error, 404) || (error instanceof S3ServiceException && error.name === 'NotFound')) return undefined;
    return classify(error, `checking s3://${bucket}/${key}`);
  }
}
