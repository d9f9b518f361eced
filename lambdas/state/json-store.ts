import {
  GetObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  type S3Client,
  S3ServiceException,
} from '@aws-sdk/client-s3';
import { classify, TransientError } from '../aws/errors.ts';

/** A JSON document read from S3 with the ETag that a compare-and-swap write must match. */
export interface Versioned<T> {
  readonly value: T;
  readonly etag: string;
}

/** The narrow slice of S3 the store needs; the real S3Client satisfies it. */
export type S3Like = Pick<S3Client, 'send'>;

/**
 * JSON documents in S3 with conditional writes: S3 is Ballast's only store. `If-None-Match: *`
 * makes immutable records (version pointers, ledger entries, snapshots) write-once, so a retried
 * Lambda cannot overwrite what a first attempt wrote; `If-Match: <etag>` turns a read-modify-write
 * of mutable state (endpoint state, leases) into a compare-and-swap.
 */
export class JsonStore {
  constructor(
    private readonly s3: S3Like,
    readonly bucket: string,
  ) {}

  async get<T>(key: string): Promise<Versioned<T> | undefined> {
    try {
      const response = await this.s3.send(new GetObjectCommand({ Bucket: this.bucket, Key: key }));
      const text = (await response.Body?.transformToString('utf8')) ?? '';
      return { value: JSON.parse(text) as T, etag: response.ETag ?? '' };
    } catch (error) {
      if (isStatus(error, 404) || nameIs(error, 'NoSuchKey')) return undefined;
      return classify(error, `reading s3://${this.bucket}/${key}`);
    }
  }

  /** Writes the document only if the key does not exist yet. */
  async putIfAbsent(key: string, value: unknown): Promise<'created' | 'exists'> {
    try {
      await this.put(key, value, { IfNoneMatch: '*' });
      return 'created';
    } catch (error) {
      if (isStatus(error, 412)) return 'exists';
      // 409 ConditionalRequestConflict: another writer raced us on the same key; the caller's
      // retry will see 'exists' (or win).
      if (isStatus(error, 409)) throw new TransientError(`concurrent write to s3://${this.bucket}/${key}`);
      return classify(error, `writing s3://${this.bucket}/${key}`);
    }
  }

  /** Writes the document only if its current ETag is `etag`; false when someone else wrote first. */
  async putIfMatch(key: string, value: unknown, etag: string): Promise<boolean> {
    try {
      await this.put(key, value, { IfMatch: etag });
      return true;
    } catch (error) {
      if (isStatus(error, 412) || isStatus(error, 409) || isStatus(error, 404)) return false;
      return classify(error, `writing s3://${this.bucket}/${key}`);
    }
  }

  private async put(key: string, value: unknown, condition: { IfNoneMatch: '*' } | { IfMatch: string }): Promise<void> {
    await this.s3.send(
      new PutObjectCommand({
        Bucket: this.bucket,
        Key: key,
        Body: serialize(value),
        ContentType: 'application/json',
        ...condition,
      }),
    );
  }

  /**
   * Read-modify-write with compare-and-swap, retried on conflicts. `change` returns the new
   * document, or `undefined` to leave the stored one as it is. It may run more than once, so it
   * must be a pure function of the current document.
   */
  async update<T>(
    key: string,
    change: (current: T | undefined) => T | undefined,
    maxAttempts = 8,
    /** The document as the caller already read it (null: known absent), saving the first GET. */
    known?: Versioned<T> | null,
  ): Promise<{ value: T | undefined; changed: boolean }> {
    for (let attempt = 1; attempt <= maxAttempts; attempt++) {
      const current = attempt === 1 && known !== undefined ? (known ?? undefined) : await this.get<T>(key);
      const next = change(current?.value);
      if (next === undefined) return { value: current?.value, changed: false };
      const written = current
        ? await this.putIfMatch(key, next, current.etag)
        : (await this.putIfAbsent(key, next)) === 'created';
      if (written) return { value: next, changed: true };
      // Lost the race: back off a little (jittered) and re-read.
      await new Promise((resolve) => setTimeout(resolve, Math.random() * 20 * attempt));
    }
    throw new TransientError(`s3://${this.bucket}/${key} kept changing under ${maxAttempts} compare-and-swap attempts`);
  }

  /** Keys under a prefix in lexicographic order, at most `limit`. */
  async list(prefix: string, options: { startAfter?: string; limit?: number } = {}): Promise<string[]> {
    const keys: string[] = [];
    const limit = options.limit ?? 1000;
    let token: string | undefined;
    do {
      const response = await this.s3
        .send(
          new ListObjectsV2Command({
            Bucket: this.bucket,
            Prefix: prefix,
            ContinuationToken: token,
            StartAfter: token ? undefined : options.startAfter,
            MaxKeys: Math.min(1000, limit - keys.length),
          }),
        )
        .catch((error: unknown) => classify(error, `listing s3://${this.bucket}/${prefix}`));
      for (const object of response.Contents ?? []) if (object.Key) keys.push(object.Key);
      token = response.IsTruncated ? response.NextContinuationToken : undefined;
    } while (token && keys.length < limit);
    return keys;
  }
}

function serialize(value: unknown): string {
  return `${JSON.stringify(value, null, 2)}\n`;
}

export function isStatus(error: unknown, status: number): boolean {
  return (
    (error instanceof S3ServiceException || error instanceof Error) &&
    (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode === status
  );
}

function nameIs(error: unknown, name: string): boolean {
  return error instanceof Error && error.name === name;
}
