/** S3 object URIs as the repository format accepts them (bucket naming rules included). */
/** Matches a C0 control character or DEL. */
// biome-ignore lint/suspicious/noControlCharactersInRegex: finding control characters is the point.
export const CONTROL_CHARACTER = /[\x00-\x1f\x7f]/;

/** s3://bucket/key, with the bucket naming rules checked by isValidS3Uri. */
const S3_URI = /^s3:\/\/([a-z0-9][a-z0-9.-]{1,61}[a-z0-9])\/(.+)$/;
const RESERVED_BUCKET_PREFIXES = ['xn--', 'sthree-', 'amzn-s3-demo-'];
const RESERVED_BUCKET_SUFFIXES = ['-s3alias', '--ol-s3', '.mrap', '--x-s3', '--table-s3'];

/** S3 keys are at most 1024 bytes of UTF-8 (Amazon S3 User Guide, "Naming Amazon S3 objects"). */
export const MAX_S3_KEY_BYTES = 1024;

export function parseS3Uri(uri: string): { bucket: string; key: string } | undefined {
  const match = S3_URI.exec(uri);
  const bucket = match?.[1];
  const key = match?.[2];
  if (bucket === undefined || key === undefined || !isValidBucket(bucket)) return undefined;
  if (key.endsWith('/') || utf8Length(key) > MAX_S3_KEY_BYTES) return undefined;
  if (CONTROL_CHARACTER.test(key)) return undefined;
  return { bucket, key };
}

const S3_PREFIX = /^s3:\/\/([a-z0-9][a-z0-9.-]{1,61}[a-z0-9])\/(.*)$/;

/**
 * s3://bucket/prefix/ (a "folder": the key prefix ends in "/", or is empty for the whole bucket),
 * with the bucket naming rules of parseS3Uri. The prefix excludes the bucket and keeps its "/".
 */
export function parseS3Prefix(uri: string): { bucket: string; prefix: string } | undefined {
  const match = S3_PREFIX.exec(uri);
  const bucket = match?.[1];
  const prefix = match?.[2];
  if (bucket === undefined || prefix === undefined || !isValidBucket(bucket)) return undefined;
  if (prefix !== '' && !prefix.endsWith('/')) return undefined;
  if (utf8Length(prefix) >= MAX_S3_KEY_BYTES || CONTROL_CHARACTER.test(prefix)) return undefined;
  return { bucket, prefix };
}

export function utf8Length(text: string): number {
  return new TextEncoder().encode(text).length;
}

function isValidBucket(bucket: string): boolean {
  if (bucket.includes('..') || bucket.includes('.-') || bucket.includes('-.')) return false;
  if (/^\d+\.\d+\.\d+\.\d+$/.test(bucket)) return false;
  if (RESERVED_BUCKET_PREFIXES.some((p) => bucket.startsWith(p))) return false;
  return !RESERVED_BUCKET_SUFFIXES.some((s) => bucket.endsWith(s));
}
