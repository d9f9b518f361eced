/** S3 object URIs as the repository format accepts them (bucket naming rules included). */
/** Matches a C0 control character or DEL. */
// biome-ignore lint/suspicious/noControlCharactersInRegex: finding control characters is the point.
export const CONTROL_CHARACTER = /[\x00-\x1f\x7f]/;

/** s3://bucket/key, with the bucket naming rules checked by isValidS3Uri. */
const S3_URI = /^s3:\/\/([a-z0-9][a-z0-9.-]{1,61}[a-z0-9])\/(.+)$/;
const RESERVED_BUCKET_PREFIXES = ['xn--', 'sthree-', 'amzn-s3-demo-'];
const RESERVED_BUCKET_SUFFIXES = ['-s3alias', '--ol-s3', '.mrap', '--x-s3', '--table-s3'];

export function parseS3Uri(uri: string): { bucket: string; key: string } | undefined {
  const match = S3_URI.exec(uri);
  const bucket = match?.[1];
  const key = match?.[2];
  if (bucket === undefined || key === undefined) return undefined;
  if (bucket.includes('..') || bucket.includes('.-') || bucket.includes('-.')) return undefined;
  if (/^\d+\.\d+\.\d+\.\d+$/.test(bucket)) return undefined;
  if (RESERVED_BUCKET_PREFIXES.some((p) => bucket.startsWith(p))) return undefined;
  if (RESERVED_BUCKET_SUFFIXES.some((s) => bucket.endsWith(s))) return undefined;
  if (key.endsWith('/') || new TextEncoder().encode(key).length > 1024) return undefined;
  if (CONTROL_CHARACTER.test(key)) return undefined;
  return { bucket, key };
}
