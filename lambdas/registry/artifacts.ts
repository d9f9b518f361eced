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

/** One file of a model to pin: where it is, and what the repository says its bytes are. */
export interface FileToPin {
  readonly source: { readonly bucket: string; readonly key: string };
  readonly sha256: string;
  readonly sizeBytes: number;
}

/**
 * What pinning one file did: `existing` (the target was already there: one HEAD), `copied` (a
 * verified copy with that sha256 was already in the store, copied server-side without reading the
 * source again), or `verified` (streamed through sha256 from the source, then copied).
 */
export type PinStatus = 'existing' | 'copied' | 'verified';

export interface PinOptions extends CopyOptions {
  /**
   * Record where the verified copy lives (artifacts/index/<sha256>.json), and look there before
   * reading the source, so a file that two model directories share is hashed once. Model
   * directories use it; an archive's target key is its digest already.
   * @default false
   */
  readonly index?: boolean;
}

/**
 * Pins one model file: verifies that the object at `file.source` has the sha256 and size the
 * repository declares, then copies it write-once to `targetKey` in the store. Idempotent: a target
 * already there costs one HEAD and is not read or copied again, and a retry after a partial run
 * finds the copy (If-None-Match makes every copy write-once).
 *
 * The size is checked before a byte is read, so a wrong object fails at once, not after minutes
 * of hashing. The digest is computed by streaming the object, so memory stays bounded whatever its
 * size. The copy is pinned to the bytes that were hashed (CopySourceIfMatch on the ETag read while
 * hashing, and the version read), so an object replaced between hashing and copying fails the copy
 * instead of being registered under the wrong digest.
 */
export async function pinFile(
  s3: S3Like,
  bucket: string,
  file: FileToPin,
  targetKey: string,
  options: PinOptions = {},
): Promise<{ readonly key: string; readonly size: number; readonly status: PinStatus }> {
  const { source, sha256: expected } = file;
  const existing = await head(s3, bucket, targetKey);
  if (existing) {
    if (existing.sha256 !== undefined && existing.sha256 !== expected) {
      throw new ArtifactIntegrityError(
        `s3://${bucket}/${targetKey} already holds sha256 ${existing.sha256}, not ${expected}; pinned keys are write-once`,
      );
    }
    return { key: targetKey, size: existing.size, status: 'existing' };
  }
  const metadata = { 'ballast-sha256': expected, 'ballast-source': `s3://${source.bucket}/${source.key}` };
  if (options.index) {
    const copied = await copyFromIndex(s3, bucket, expected, targetKey, metadata, options);
    if (copied) return { key: targetKey, size: copied.size, status: 'copied' };
  }

  const object = await s3
    .send(new GetObjectCommand({ Bucket: source.bucket, Key: source.key }))
    .catch((error: unknown) => {
      if (isStatus(error, 404) || (error instanceof Error && error.name === 'NoSuchKey')) {
        throw new InvalidInputError(`s3://${source.bucket}/${source.key} does not exist`);
      }
      if (isStatus(error, 403)) {
        throw new InvalidInputError(
          `Ballast may not read s3://${source.bucket}/${source.key}: add the bucket to ballast:artifactSourceBuckets ` +
            '(and its KMS key to ballast:artifactKmsKeyArns if it is encrypted with SSE-KMS)',
        );
      }
      return classify(error, `reading s3://${source.bucket}/${source.key}`);
    });
  const body = object.Body as Readable;
  if (object.ContentLength !== undefined && object.ContentLength !== file.sizeBytes) {
    body.destroy();
    throw new ArtifactIntegrityError(
      `s3://${source.bucket}/${source.key} is ${object.ContentLength} bytes, but the repository declares ${file.sizeBytes}`,
    );
  }
  const hash = createHash('sha256');
  let size = 0;
  try {
    for await (const chunk of body) {
      const buffer = chunk as Buffer;
      size += buffer.length;
      hash.update(buffer);
    }
  } catch (error) {
    throw new TransientError(`reading s3://${source.bucket}/${source.key} failed mid-stream: ${String(error)}`);
  }
  const actual = hash.digest('hex');
  if (actual !== expected || size !== file.sizeBytes) {
    throw new ArtifactIntegrityError(
      `s3://${source.bucket}/${source.key} has sha256 ${actual} (${size} bytes), but the repository declares ${expected}`,
    );
  }
  const copySource = `${source.bucket}/${encodeURIComponent(source.key).replace(/%2F/g, '/')}${
    object.VersionId ? `?versionId=${object.VersionId}` : ''
  }`;
  try {
    await copy(s3, { bucket, key: targetKey, copySource, etag: object.ETag, size, metadata }, options);
  } catch (error) {
    // Someone (an earlier attempt) stored it first: the key names its content, so it is the same bytes.
    if (isStatus(error, 412) && (await head(s3, bucket, targetKey))) {
      return { key: targetKey, size, status: 'existing' };
    }
    if (isStatus(error, 412)) {
      throw new ArtifactIntegrityError(`s3://${source.bucket}/${source.key} changed while it was being registered`);
    }
    return classify(error, `copying s3://${source.bucket}/${source.key} to s3://${bucket}/${targetKey}`);
  }
  if (options.index) await writeIndex(s3, bucket, expected, targetKey, size);
  return { key: targetKey, size, status: 'verified' };
}

/**
 * Registers a model archive: {@link pinFile} to its content-addressed key, which keeps the
 * `.tar.gz` suffix SageMaker's ModelDataUrl requires.
 */
export async function registerArchive(
  s3: S3Like,
  bucket: string,
  file: FileToPin,
  options: CopyOptions = {},
): Promise<StoredArtifact> {
  const pinned = await pinFile(s3, bucket, file, keys.archive(file.sha256), options);
  return {
    sha256: file.sha256,
    key: pinned.key,
    size: pinned.size,
    status: pinned.status === 'existing' ? 'existing' : 'created',
  };
}

interface IndexEntry {
  readonly key: string;
  readonly size: number;
}

/** Copies a file already verified under another directory, server-side, if the index knows one. */
async function copyFromIndex(
  s3: S3Like,
  bucket: string,
  sha256: string,
  targetKey: string,
  metadata: Record<string, string>,
  options: CopyOptions,
): Promise<{ size: number } | undefined> {
  const entry = await readIndex(s3, bucket, sha256);
  if (!entry) return undefined;
  const source = await head(s3, bucket, entry.key);
  // The indexed copy is write-once in Ballast's own store; if it is gone, verify from the source.
  if (!source || source.sha256 !== sha256) return undefined;
  const copySource = `${bucket}/${encodeURIComponent(entry.key).replace(/%2F/g, '/')}`;
  try {
    await copy(s3, { bucket, key: targetKey, copySource, size: source.size, metadata }, options);
  } catch (error) {
    if (isStatus(error, 412) && (await head(s3, bucket, targetKey))) return { size: source.size };
    return classify(error, `copying s3://${bucket}/${entry.key} to s3://${bucket}/${targetKey}`);
  }
  return { size: source.size };
}

async function readIndex(s3: S3Like, bucket: string, sha256: string): Promise<IndexEntry | undefined> {
  try {
    const response = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: keys.fileIndex(sha256) }));
    const entry = JSON.parse((await response.Body?.transformToString()) ?? '') as Partial<IndexEntry>;
    return typeof entry.key === 'string' && typeof entry.size === 'number'
      ? { key: entry.key, size: entry.size }
      : undefined;
  } catch (error) {
    if (isStatus(error, 404) || (error instanceof Error && error.name === 'NoSuchKey')) return undefined;
    if (error instanceof SyntaxError) return undefined;
    return classify(error, `reading s3://${bucket}/${keys.fileIndex(sha256)}`);
  }
}

async function writeIndex(s3: S3Like, bucket: string, sha256: string, key: string, size: number): Promise<void> {
  const entry: IndexEntry = { key, size };
  try {
    await s3.send(
      new PutObjectCommand({
        Bucket: bucket,
        Key: keys.fileIndex(sha256),
        Body: JSON.stringify(entry),
        ContentType: 'application/json',
        IfNoneMatch: '*',
      }),
    );
  } catch (error) {
    // The first verified copy of these bytes is indexed already: any copy serves.
    if (isStatus(error, 412)) return;
    classify(error, `writing s3://${bucket}/${keys.fileIndex(sha256)}`);
  }
}

interface CopyTarget {
  bucket: string;
  key: string;
  copySource: string;
  etag?: string | undefined;
  size: number;
  metadata: Record<string, string>;
}

/** CopyObject up to 5 GiB, part by part above; write-once either way. */
async function copy(s3: S3Like, target: CopyTarget, options: CopyOptions): Promise<void> {
  if (target.size > (options.multipartThreshold ?? MAX_SINGLE_COPY_BYTES)) {
    await multipartCopy(s3, target, options.partBytes);
    return;
  }
  await s3.send(
    new CopyObjectCommand({
      Bucket: target.bucket,
      Key: target.key,
      CopySource: target.copySource,
      ...(target.etag ? { CopySourceIfMatch: target.etag } : {}),
      IfNoneMatch: '*',
      MetadataDirective: 'REPLACE',
      ContentType: 'application/octet-stream',
      Metadata: target.metadata,
    }),
  );
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
async function multipartCopy(s3: S3Like, target: CopyTarget, partBytes = 512 * 1024 ** 2): Promise<void> {
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

async function head(
  s3: S3Like,
  bucket: string,
  key: string,
): Promise<{ size: number; sha256?: string | undefined } | undefined> {
  try {
    const response = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
    return { size: response.ContentLength ?? 0, sha256: response.Metadata?.['ballast-sha256'] };
  } catch (error) {
    if (isStatus(error, 404) || (error instanceof S3ServiceException && error.name === 'NotFound')) return undefined;
    return classify(error, `checking s3://${bucket}/${key}`);
  }
}
