import { createHash, randomBytes } from 'node:crypto';
import { crc32 } from 'node:zlib';
import {
  el,
  elAttrs,
  errorResponse,
  malformedXml,
  newRequestIds,
  optional,
  requireRoot,
  S3_XMLNS,
  S3Error,
  type XmlChild,
  type XmlElement,
  xmlBlocks,
  xmlResponse,
  xmlText,
} from '../protocols/rest-xml.ts';
import type { ModelDataReader, SandboxRequest, SandboxResponse, SandboxService, ServiceContext } from '../service.ts';
import { AwsServiceError } from '../service.ts';

/*
 * Amazon S3 over the restXml protocol, path-style (`http://127.0.0.1:PORT/bucket/key`, which is what
 * the SDK does for an IP endpoint) and `bucket.localhost` virtual-hosted style.
 *
 * What Ballast relies on, and so what is modelled carefully:
 * - bucket versioning, delete markers, ListObjectVersions;
 * - conditional writes (If-None-Match: * for immutability, If-Match for compare-and-swap) and
 *   conditional deletes;
 * - flexible checksums (CRC32, CRC32C, CRC64NVME, SHA1, SHA256), including the aws-chunked
 *   encoding with a trailing checksum that the SDK uses for streaming bodies;
 * - CopyObject from a specific version, with copy-source preconditions;
 * - ListObjectsV2 pagination with delimiters;
 * - multipart uploads (artifacts over 5 GiB can only be copied with UploadPartCopy): parts, ranged
 *   part copies, the 5 MiB part minimum, multipart ETags, composite and full-object checksums and
 *   conditional completion;
 * - buckets in regions: CreateBucket's LocationConstraint (us-east-1 when absent), GetBucketLocation,
 *   HeadBucket's x-amz-bucket-region, and the 301 PermanentRedirect a request signed for another
 *   region than the bucket's gets, which the SDK's `followRegionRedirects` follows (see
 *   `redirectToBucketRegion`).
 * ACLs, object lock, replication and GetObject by partNumber are not modelled (501 NotImplemented).
 */

// ---------------------------------------------------------------------------------------------
// Checksums
// ---------------------------------------------------------------------------------------------

export type ChecksumAlgorithm = 'CRC32' | 'CRC32C' | 'CRC64NVME' | 'SHA1' | 'SHA256';
/**
 * FULL_OBJECT: the checksum of the whole body. COMPOSITE: a multipart object's checksum of the
 * concatenated binary part checksums, suffixed `-<part count>`.
 * https://docs.aws.amazon.com/AmazonS3/latest/userguide/checking-object-integrity.html
 */
export type ChecksumType = 'COMPOSITE' | 'FULL_OBJECT';
export const CHECKSUM_ALGORITHMS: readonly ChecksumAlgorithm[] = ['CRC32', 'CRC32C', 'CRC64NVME', 'SHA1', 'SHA256'];
/** Decoded digest sizes, used to reject malformed checksum headers before comparing them. */
const CHECKSUM_BYTES: Record<ChecksumAlgorithm, number> = { CRC32: 4, CRC32C: 4, CRC64NVME: 8, SHA1: 20, SHA256: 32 };

const CRC32C_TABLE = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0x82f63b78 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

/** CRC-64/NVME (reflected polynomial 0x9a6c9329ac4bc9b5), kept as two 32-bit halves for speed. */
const CRC64_TABLES = (() => {
  const hi = new Uint32Array(256);
  const lo = new Uint32Array(256);
  const poly = 0x9a6c9329ac4bc9b5n;
  for (let n = 0; n < 256; n++) {
    let c = BigInt(n);
    for (let k = 0; k < 8; k++) c = c & 1n ? poly ^ (c >> 1n) : c >> 1n;
    hi[n] = Number(c >> 32n);
    lo[n] = Number(c & 0xffffffffn);
  }
  return { hi, lo };
})();

function crc32c(data: Buffer): Buffer {
  let crc = 0xffffffff;
  for (const byte of data) crc = (CRC32C_TABLE[(crc ^ byte) & 0xff] ?? 0) ^ (crc >>> 8);
  const out = Buffer.alloc(4);
  out.writeUInt32BE((crc ^ 0xffffffff) >>> 0);
  return out;
}

function crc64nvme(data: Buffer): Buffer {
  let hi = 0xffffffff;
  let lo = 0xffffffff;
  for (const byte of data) {
    const index = (lo ^ byte) & 0xff;
    lo = (((lo >>> 8) | (hi << 24)) ^ (CRC64_TABLES.lo[index] ?? 0)) >>> 0;
    hi = ((hi >>> 8) ^ (CRC64_TABLES.hi[index] ?? 0)) >>> 0;
  }
  const out = Buffer.alloc(8);
  out.writeUInt32BE((hi ^ 0xffffffff) >>> 0, 0);
  out.writeUInt32BE((lo ^ 0xffffffff) >>> 0, 4);
  return out;
}

/** The base64 checksum S3 reports in `x-amz-checksum-<algorithm>` for `data`. */
export function computeChecksum(algorithm: ChecksumAlgorithm, data: Buffer): string {
  switch (algorithm) {
    case 'CRC32': {
      const out = Buffer.alloc(4);
      out.writeUInt32BE(crc32(data));
      return out.toString('base64');
    }
    case 'CRC32C':
      return crc32c(data).toString('base64');
    case 'CRC64NVME':
      return crc64nvme(data).toString('base64');
    case 'SHA1':
      return createHash('sha1').update(data).digest('base64');
    case 'SHA256':
      return createHash('sha256').update(data).digest('base64');
  }
}

function checksumHeader(algorithm: ChecksumAlgorithm): string {
  return `x-amz-checksum-${algorithm.toLowerCase()}`;
}

function parseAlgorithm(value: string | undefined): ChecksumAlgorithm | undefined {
  if (value === undefined) return undefined;
  const upper = value.toUpperCase() as ChecksumAlgorithm;
  if (!CHECKSUM_ALGORITHMS.includes(upper)) {
    throw new S3Error('InvalidRequest', `Checksum algorithm provided is unsupported: ${value}`, 400);
  }
  return upper;
}

// ---------------------------------------------------------------------------------------------
// aws-chunked
// ---------------------------------------------------------------------------------------------

export interface DecodedBody {
  readonly payload: Buffer;
  /** Trailing headers (lower-cased names), such as `x-amz-checksum-crc32`. */
  readonly trailers: Readonly<Record<string, string>>;
}

/**
 * Decodes the `aws-chunked` content encoding: `<hex size>[;chunk-signature=…]\r\n<data>\r\n` chunks,
 * a zero-size chunk, then optional trailing headers and a blank line. The SDK uses it for streaming
 * bodies so it can send the checksum as a trailer (`x-amz-trailer`) after the data. Chunk and
 * trailer signatures are not verified: the sandbox does not check signatures at all.
 * https://docs.aws.amazon.com/AmazonS3/latest/API/sigv4-streaming.html
 * https://docs.aws.amazon.com/AmazonS3/latest/API/sigv4-streaming-trailers.html
 */
export function decodeAwsChunked(body: Buffer): DecodedBody {
  const chunks: Buffer[] = [];
  const trailers: Record<string, string> = {};
  let pos = 0;
  const incomplete = () =>
    new S3Error('IncompleteBody', 'The request body terminated unexpectedly (malformed aws-chunked encoding)', 400);
  for (;;) {
    const lineEnd = body.indexOf('\r\n', pos);
    if (lineEnd < 0) throw incomplete();
    const header = body.subarray(pos, lineEnd).toString('latin1');
    const size = Number.parseInt(header.split(';')[0] ?? '', 16);
    if (!Number.isInteger(size) || size < 0) throw incomplete();
    pos = lineEnd + 2;
    if (size === 0) break;
    if (pos + size + 2 > body.length) throw incomplete();
    chunks.push(body.subarray(pos, pos + size));
    pos += size;
    if (body.subarray(pos, pos + 2).toString('latin1') !== '\r\n') throw incomplete();
    pos += 2;
  }
  // Trailers: `name:value\r\n` lines up to a blank line (or the end of the body).
  while (pos < body.length) {
    const lineEnd = body.indexOf('\r\n', pos);
    const line = body.subarray(pos, lineEnd < 0 ? body.length : lineEnd).toString('latin1');
    pos = lineEnd < 0 ? body.length : lineEnd + 2;
    if (line === '') break;
    const colon = line.indexOf(':');
    if (colon <= 0) {
      throw new S3Error(
        'MalformedTrailerError',
        'The request contained trailing data that was not well-formed or did not conform to our published schema.',
        400,
      );
    }
    trailers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  return { payload: Buffer.concat(chunks), trailers };
}

// ---------------------------------------------------------------------------------------------
// Model
// ---------------------------------------------------------------------------------------------

interface StoredVersion {
  readonly key: string;
  /** `null` is S3's literal version id for objects written while versioning was never enabled or suspended. */
  readonly versionId: string;
  readonly deleteMarker: boolean;
  readonly body: Buffer;
  /** Quoted MD5 hex, exactly as S3 sends it. */
  readonly etag: string;
  readonly lastModified: Date;
  readonly contentType: string;
  readonly metadata: Readonly<Record<string, string>>;
  /** Stored representation headers (Cache-Control, Content-Disposition, Content-Encoding, …). */
  readonly headers: Readonly<Record<string, string>>;
  readonly checksum?: StoredChecksum;
}

/** An object's checksum as GetObject/HeadObject report it with x-amz-checksum-mode: ENABLED. */
export interface StoredChecksum {
  readonly algorithm: ChecksumAlgorithm;
  readonly value: string;
  readonly type: ChecksumType;
}

interface UploadedPart {
  readonly partNumber: number;
  readonly body: Buffer;
  /** Quoted MD5 hex of the part. */
  readonly etag: string;
  readonly lastModified: Date;
  /** The part's checksum: the one the client sent, or the upload's algorithm computed by S3. */
  readonly checksum?: { readonly algorithm: ChecksumAlgorithm; readonly value: string };
}

/** An in-progress multipart upload: what CreateMultipartUpload fixed, and the parts so far. */
interface MultipartUpload {
  readonly uploadId: string;
  readonly key: string;
  readonly initiated: Date;
  readonly contentType: string;
  readonly metadata: Readonly<Record<string, string>>;
  readonly headers: Readonly<Record<string, string>>;
  readonly storageClass: string;
  /** Set when CreateMultipartUpload named x-amz-checksum-algorithm. */
  readonly checksum?: { readonly algorithm: ChecksumAlgorithm; readonly type: ChecksumType };
  readonly parts: Map<number, UploadedPart>;
}

interface Encryption {
  readonly algorithm: string;
  readonly kmsKeyId?: string;
  readonly bucketKeyEnabled: boolean;
}

interface Bucket {
  readonly name: string;
  readonly region: string;
  readonly created: Date;
  versioning?: 'Enabled' | 'Suspended';
  /** Versions of each key, newest first. */
  readonly objects: Map<string, StoredVersion[]>;
  /** In-progress multipart uploads by upload id, in initiation order. */
  readonly uploads: Map<string, MultipartUpload>;
  tags?: ReadonlyArray<{ Key: string; Value: string }>;
  encryption?: Encryption;
}

/** One object version as tests and the demo see it in-process (clients must use the wire). */
export interface S3ObjectView {
  readonly bucket: string;
  readonly key: string;
  /** `null` for the null version, as S3 spells it. */
  readonly versionId: string;
  readonly isLatest: boolean;
  readonly deleteMarker: boolean;
  readonly size: number;
  readonly etag: string;
  readonly lastModified: Date;
  readonly contentType: string;
  readonly metadata: Readonly<Record<string, string>>;
  readonly checksum?: StoredChecksum;
  readonly body: Buffer;
}

/** An in-progress multipart upload as tests see it in-process. */
export interface S3UploadView {
  readonly bucket: string;
  readonly key: string;
  readonly uploadId: string;
  readonly initiated: Date;
  readonly checksumAlgorithm?: ChecksumAlgorithm;
  readonly checksumType?: ChecksumType;
  readonly parts: ReadonlyArray<{ readonly partNumber: number; readonly size: number; readonly etag: string }>;
}

/** The in-process S3: the service, what tests and the demo read, and what SageMaker downloads model data from. */
export interface S3Sandbox extends SandboxService, ModelDataReader {
  /** Names of every bucket, sorted. */
  bucketNames(): string[];
  /** The versioning status as GetBucketVersioning reports it (undefined: never configured). */
  versioning(bucket: string): 'Enabled' | 'Suspended' | undefined;
  /** Current, non-deleted objects of a bucket in key order (what ListObjectsV2 would list). */
  objects(bucket: string): S3ObjectView[];
  /** Every version and delete marker, keys ascending and newest version first (ListObjectVersions order). */
  versions(bucket: string): S3ObjectView[];
  /** One object (the current version, or a given one); undefined when absent or a delete marker is current. */
  object(bucket: string, key: string, versionId?: string): S3ObjectView | undefined;
  /** In-progress multipart uploads of a bucket, keys ascending, then in initiation order. */
  uploads(bucket: string): S3UploadView[];
}

const MAX_KEYS = 1000;
/** Every part but the last must be at least 5 MiB; part numbers run from 1 to 10,000. https://docs.aws.amazon.com/AmazonS3/latest/userguide/qfacts.html */
const MIN_PART_SIZE = 5 * 1024 * 1024;
const MAX_PART_BYTES = 5 * 1024 * 1024 * 1024;
const MAX_PART_NUMBER = 10_000;
const NOT_IMPLEMENTED = 'A header you provided implies functionality that is not implemented';

/** Bucket naming rules for general purpose buckets. https://docs.aws.amazon.com/AmazonS3/latest/userguide/bucketnamingrules.html */
function validBucketName(name: string): boolean {
  return (
    /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(name) &&
    !name.includes('..') &&
    !/^\d+\.\d+\.\d+\.\d+$/.test(name) &&
    !name.startsWith('xn--') &&
    !name.startsWith('sthree-') &&
    !name.endsWith('-s3alias') &&
    !name.endsWith('--ol-s3')
  );
}

function md5Hex(data: Buffer): string {
  return createHash('md5').update(data).digest('hex');
}

function newVersionId(): string {
  // Real ids are 32 URL-safe characters; their content is opaque to clients.
  return randomBytes(24).toString('base64url');
}

/** `"abc"`, `abc` and `W/"abc"` all name the same entity tag for comparison purposes. */
function normalizeEtag(value: string): string {
  return value.trim().replace(/^W\//, '').replace(/^"|"$/g, '');
}

function etagMatches(header: string, etag: string): boolean {
  return header.split(',').some((candidate) => {
    const c = candidate.trim();
    return c === '*' || normalizeEtag(c) === normalizeEtag(etag);
  });
}

function parseHttpDate(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const ms = Date.parse(value);
  return Number.isNaN(ms) ? undefined : ms;
}

function encodeListValue(value: string, encode: boolean): string {
  return encode ? encodeURIComponent(value).replace(/%2F/g, '/').replace(/%20/g, '+') : value;
}

interface Target {
  readonly bucket?: string;
  readonly key?: string;
}

const REPRESENTATION_HEADERS = ['cache-control', 'content-disposition', 'content-language', 'expires'] as const;
const RESPONSE_OVERRIDES: Readonly<Record<string, string>> = {
  'response-cache-control': 'cache-control',
  'response-content-disposition': 'content-disposition',
  'response-content-encoding': 'content-encoding',
  'response-content-language': 'content-language',
  'response-content-type': 'content-type',
  'response-expires': 'expires',
};

export function createS3Service(ctx: ServiceContext): S3Sandbox {
  const buckets = new Map<string, Bucket>();
  const ownerId = createHash('sha256').update(`ballast-sandbox:${ctx.account}`).digest('hex');
  const owner = () => el('Owner', el('ID', ownerId), el('DisplayName', 'ballast-sandbox'));

  /** S3 timestamps have one-second precision (Last-Modified is an HTTP date). */
  const now = () => new Date(Math.floor(ctx.clock.nowMs() / 1000) * 1000);

  // ---- request parsing ------------------------------------------------------------------------

  function targetOf(request: SandboxRequest): Target {
    const decode = (text: string): string => {
      try {
        return decodeURIComponent(text);
      } catch {
        throw new S3Error('InvalidURI', "Couldn't parse the specified URI.", 400);
      }
    };
    const host = request.headers.host ?? '';
    const virtual = /^(.+)\.localhost(?::\d+)?$/.exec(host)?.[1];
    const path = request.rawPath;
    if (virtual) {
      const key = path.length > 1 ? decode(path.slice(1)) : undefined;
      return { bucket: virtual, ...(key ? { key } : {}) };
    }
    const rest = path.replace(/^\//, '');
    if (rest === '') return {};
    const slash = rest.indexOf('/');
    if (slash < 0) return { bucket: decode(rest) };
    const key = rest.slice(slash + 1);
    return { bucket: decode(rest.slice(0, slash)), ...(key ? { key: decode(key) } : {}) };
  }

  function operationOf(request: SandboxRequest): string {
    let target: Target;
    try {
      target = targetOf(request);
    } catch {
      return 'Unknown';
    }
    const q = request.query;
    const m = request.method;
    if (!target.bucket) return m === 'GET' ? 'ListBuckets' : 'Unknown';
    if (!target.key) {
      const sub = (name: string) => q.has(name);
      switch (m) {
        case 'PUT':
          if (sub('versioning')) return 'PutBucketVersioning';
          if (sub('encryption')) return 'PutBucketEncryption';
          if (sub('tagging')) return 'PutBucketTagging';
          if ([...q.keys()].some((k) => k !== 'x-id')) return 'Unknown';
          return 'CreateBucket';
        case 'GET':
          if (sub('versioning')) return 'GetBucketVersioning';
          if (sub('encryption')) return 'GetBucketEncryption';
          if (sub('tagging')) return 'GetBucketTagging';
          if (sub('location')) return 'GetBucketLocation';
          if (sub('versions')) return 'ListObjectVersions';
          if (sub('uploads')) return 'ListMultipartUploads';
          if (q.get('list-type') === '2') return 'ListObjectsV2';
          if (
            [...q.keys()].some(
              (k) => !['prefix', 'delimiter', 'marker', 'max-keys', 'encoding-type', 'x-id'].includes(k),
            )
          )
            return 'Unknown';
          return 'ListObjects';
        case 'HEAD':
          return 'HeadBucket';
        case 'DELETE':
          if (sub('encryption')) return 'DeleteBucketEncryption';
          if (sub('tagging')) return 'DeleteBucketTagging';
          return 'DeleteBucket';
        case 'POST':
          if (sub('delete')) return 'DeleteObjects';
          return 'Unknown';
        default:
          return 'Unknown';
      }
    }
    if (q.has('uploads') && m === 'POST') return 'CreateMultipartUpload';
    if (q.has('uploadId')) {
      if (m === 'PUT') return request.headers['x-amz-copy-source'] ? 'UploadPartCopy' : 'UploadPart';
      if (m === 'POST') return 'CompleteMultipartUpload';
      if (m === 'DELETE') return 'AbortMultipartUpload';
      if (m === 'GET') return 'ListParts';
    }
    if (q.has('tagging')) return `${m === 'GET' ? 'Get' : m === 'PUT' ? 'Put' : 'Delete'}ObjectTagging`;
    if (q.has('acl')) return `${m === 'GET' ? 'Get' : 'Put'}ObjectAcl`;
    switch (m) {
      case 'PUT':
        return request.headers['x-amz-copy-source'] ? 'CopyObject' : 'PutObject';
      case 'GET':
        return 'GetObject';
      case 'HEAD':
        return 'HeadObject';
      case 'DELETE':
        return 'DeleteObject';
      default:
        return 'Unknown';
    }
  }

  // ---- model helpers --------------------------------------------------------------------------

  function bucketOf(name: string | undefined): Bucket {
    const bucket = name === undefined ? undefined : buckets.get(name);
    if (!bucket) {
      throw new S3Error('NoSuchBucket', 'The specified bucket does not exist', 404, { BucketName: name ?? '' });
    }
    return bucket;
  }

  function requireKey(target: Target): string {
    if (!target.key) throw new S3Error('InvalidRequest', 'A key is required for this operation', 400);
    if (Buffer.byteLength(target.key) > 1024) {
      throw new S3Error('KeyTooLongError', 'Your key is too long', 400, {
        Size: String(Buffer.byteLength(target.key)),
      });
    }
    return target.key;
  }

  function current(bucket: Bucket, key: string): StoredVersion | undefined {
    return bucket.objects.get(key)?.[0];
  }

  /** The live object (current version that is not a delete marker), for conditional writes and deletes. */
  function live(bucket: Bucket, key: string): StoredVersion | undefined {
    const version = current(bucket, key);
    return version && !version.deleteMarker ? version : undefined;
  }

  /** Adds a new current version the way the bucket's versioning state dictates, and returns it. */
  function addVersion(bucket: Bucket, version: Omit<StoredVersion, 'versionId'>): StoredVersion {
    const list = bucket.objects.get(version.key) ?? [];
    let stored: StoredVersion;
    if (bucket.versioning === 'Enabled') {
      stored = { ...version, versionId: newVersionId() };
    } else {
      // Unversioned and suspended buckets write the null version, replacing any earlier null version.
      // https://docs.aws.amazon.com/AmazonS3/latest/userguide/AddingObjectstoVersionSuspendedBuckets.html
      const nullIndex = list.findIndex((v) => v.versionId === 'null');
      if (nullIndex >= 0) list.splice(nullIndex, 1);
      stored = { ...version, versionId: 'null' };
    }
    list.unshift(stored);
    bucket.objects.set(version.key, list);
    return stored;
  }

  function removeVersion(bucket: Bucket, key: string, versionId: string): StoredVersion | undefined {
    const list = bucket.objects.get(key);
    if (!list) return undefined;
    const index = list.findIndex((v) => v.versionId === versionId);
    if (index < 0) return undefined;
    const [removed] = list.splice(index, 1);
    if (list.length === 0) bucket.objects.delete(key);
    return removed;
  }

  /** Finds the version a read addresses, with S3's errors for missing keys, versions and delete markers. */
  function resolveForRead(bucket: Bucket, key: string, versionId: string | null, method: string): StoredVersion {
    const list = bucket.objects.get(key) ?? [];
    if (versionId !== null) {
      const version = list.find((v) => v.versionId === versionId);
      if (!version) {
        throw new S3Error('NoSuchVersion', 'The specified version does not exist.', 404, {
          Key: key,
          VersionId: versionId,
        });
      }
      if (version.deleteMarker) {
        // A GET or HEAD of a delete marker by version id is 405, with the marker's headers.
        // https://docs.aws.amazon.com/AmazonS3/latest/userguide/DeleteMarker.html
        throw new S3Error(
          'MethodNotAllowed',
          'The specified method is not allowed against this resource.',
          405,
          { Method: method, ResourceType: 'DeleteMarker' },
          {
            'x-amz-delete-marker': 'true',
            'x-amz-version-id': version.versionId,
            'last-modified': version.lastModified.toUTCString(),
            allow: 'DELETE',
          },
        );
      }
      return version;
    }
    const version = list[0];
    if (!version || version.deleteMarker) {
      throw new S3Error(
        'NoSuchKey',
        'The specified key does not exist.',
        404,
        { Key: key },
        version ? { 'x-amz-delete-marker': 'true', 'x-amz-version-id': version.versionId } : {},
      );
    }
    return version;
  }

  function versionHeader(bucket: Bucket, version: StoredVersion): Record<string, string> {
    return bucket.versioning ? { 'x-amz-version-id': version.versionId } : {};
  }

  function encryptionHeaders(bucket: Bucket): Record<string, string> {
    const encryption = bucket.encryption ?? { algorithm: 'AES256', bucketKeyEnabled: false };
    return {
      'x-amz-server-side-encryption': encryption.algorithm,
      ...(encryption.kmsKeyId ? { 'x-amz-server-side-encryption-aws-kms-key-id': encryption.kmsKeyId } : {}),
      ...(encryption.bucketKeyEnabled ? { 'x-amz-server-side-encryption-bucket-key-enabled': 'true' } : {}),
    };
  }

  function view(bucket: Bucket, version: StoredVersion, isLatest: boolean): S3ObjectView {
    return {
      bucket: bucket.name,
      key: version.key,
      versionId: version.versionId,
      isLatest,
      deleteMarker: version.deleteMarker,
      size: version.body.length,
      etag: version.etag,
      lastModified: version.lastModified,
      contentType: version.contentType,
      metadata: version.metadata,
      ...(version.checksum ? { checksum: version.checksum } : {}),
      body: version.body,
    };
  }

  function sortedKeys(bucket: Bucket): string[] {
    // S3 lists keys in UTF-8 binary order, which is not JavaScript's UTF-16 order for astral characters.
    return [...bucket.objects.keys()].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
  }

  // ---- request bodies and checksums -----------------------------------------------------------

  /**
   * The payload, with aws-chunked removed and every integrity header the request carries verified.
   * `flexibleChecksums: false` is for CompleteMultipartUpload, whose x-amz-checksum-* headers are the
   * checksum of the object being assembled, not of the XML body.
   */
  function readPayload(
    request: SandboxRequest,
    { flexibleChecksums = true }: { flexibleChecksums?: boolean } = {},
  ): {
    payload: Buffer;
    checksum?: { algorithm: ChecksumAlgorithm; value: string };
  } {
    const h = request.headers;
    const contentSha = h['x-amz-content-sha256'];
    const chunked =
      (h['content-encoding'] ?? '').split(',').some((e) => e.trim() === 'aws-chunked') ||
      (contentSha?.startsWith('STREAMING-') ?? false);
    let payload = request.body;
    let trailers: Readonly<Record<string, string>> = {};
    if (chunked) {
      ({ payload, trailers } = decodeAwsChunked(request.body));
      const declared = h['x-amz-decoded-content-length'];
      if (declared !== undefined && Number(declared) !== payload.length) {
        throw new S3Error(
          'IncompleteBody',
          'You did not provide the number of bytes specified by the Content-Length HTTP header',
          400,
        );
      }
      for (const name of (h['x-amz-trailer'] ?? '').split(',').map((t) => t.trim().toLowerCase())) {
        if (name && trailers[name] === undefined) {
          throw new S3Error(
            'MalformedTrailerError',
            'The request contained trailing data that was not well-formed or did not conform to our published schema.',
            400,
          );
        }
      }
    } else if (contentSha && /^[0-9a-f]{64}$/.test(contentSha)) {
      const computed = createHash('sha256').update(payload).digest('hex');
      if (computed !== contentSha) {
        throw new S3Error(
          'XAmzContentSHA256Mismatch',
          "The provided 'x-amz-content-sha256' header does not match what was computed.",
          400,
          {
            ClientComputedContentSHA256: contentSha,
            S3ComputedContentSHA256: computed,
          },
        );
      }
    }

    const md5 = h['content-md5'];
    if (md5 !== undefined) {
      const decoded = Buffer.from(md5, 'base64');
      if (decoded.length !== 16 || decoded.toString('base64') !== md5.trim()) {
        throw new S3Error('InvalidDigest', 'The Content-MD5 you specified was invalid.', 400, { 'Content-MD5': md5 });
      }
      if (!decoded.equals(createHash('md5').update(payload).digest())) {
        // https://docs.aws.amazon.com/AmazonS3/latest/API/ErrorResponses.html#ErrorCodeList
        throw new S3Error('BadDigest', 'The Content-MD5 you specified did not match what we received.', 400, {
          ExpectedDigest: md5,
          CalculatedDigest: createHash('md5').update(payload).digest('base64'),
        });
      }
    }

    if (!flexibleChecksums) return { payload };
    // Flexible checksums: at most one x-amz-checksum-* value, in a header or a trailer.
    // https://docs.aws.amazon.com/AmazonS3/latest/userguide/checking-object-integrity.html
    const provided: Array<{ algorithm: ChecksumAlgorithm; value: string }> = [];
    for (const algorithm of CHECKSUM_ALGORITHMS) {
      const name = checksumHeader(algorithm);
      const value = h[name] ?? trailers[name];
      if (value !== undefined) provided.push({ algorithm, value });
    }
    if (provided.length > 1) {
      throw new S3Error(
        'InvalidRequest',
        'Expecting a single x-amz-checksum- header. Multiple checksum Types are not allowed.',
        400,
      );
    }
    const declaredAlgorithm = parseAlgorithm(h['x-amz-sdk-checksum-algorithm']);
    const given = provided[0];
    if (!given) {
      if (declaredAlgorithm) {
        throw new S3Error(
          'InvalidRequest',
          `x-amz-sdk-checksum-algorithm specified, but no corresponding x-amz-checksum-* or x-amz-trailer headers were found.`,
          400,
        );
      }
      return { payload };
    }
    if (declaredAlgorithm && declaredAlgorithm !== given.algorithm) {
      throw new S3Error('InvalidRequest', `Value for x-amz-sdk-checksum-algorithm header is invalid.`, 400);
    }
    const decoded = Buffer.from(given.value, 'base64');
    if (decoded.length !== CHECKSUM_BYTES[given.algorithm] || decoded.toString('base64') !== given.value) {
      throw new S3Error('InvalidRequest', `Value for ${checksumHeader(given.algorithm)} header is invalid.`, 400);
    }
    const computed = computeChecksum(given.algorithm, payload);
    if (computed !== given.value) {
      throw new S3Error(
        'BadDigest',
        `The ${given.algorithm.toLowerCase()} you specified did not match the calculated checksum.`,
        400,
      );
    }
    return { payload, checksum: given };
  }

  function metadataFrom(headers: Readonly<Record<string, string>>): Record<string, string> {
    const metadata: Record<string, string> = {};
    let size = 0;
    for (const [name, value] of Object.entries(headers)) {
      if (!name.startsWith('x-amz-meta-')) continue;
      const key = name.slice('x-amz-meta-'.length);
      metadata[key] = value;
      size += Buffer.byteLength(key) + Buffer.byteLength(value);
    }
    // User-defined metadata is limited to 2 KB. https://docs.aws.amazon.com/AmazonS3/latest/userguide/UsingMetadata.html
    if (size > 2048) {
      throw new S3Error('MetadataTooLarge', 'Your metadata headers exceed the maximum allowed metadata size.', 400, {
        Size: String(size),
        MaxSizeAllowed: '2048',
      });
    }
    return metadata;
  }

  function representationFrom(headers: Readonly<Record<string, string>>): Record<string, string> {
    const stored: Record<string, string> = {};
    for (const name of REPRESENTATION_HEADERS) {
      const value = headers[name];
      if (value !== undefined) stored[name] = value;
    }
    const encoding = (headers['content-encoding'] ?? '')
      .split(',')
      .map((e) => e.trim())
      .filter((e) => e && e !== 'aws-chunked')
      .join(',');
    if (encoding) stored['content-encoding'] = encoding;
    return stored;
  }

  // ---- preconditions --------------------------------------------------------------------------

  /**
   * Conditional writes (PutObject, CopyObject destination): If-None-Match: * fails with 412 when the
   * key has a live object; If-Match fails with 412 on a different ETag and 404 NoSuchKey when there is
   * no live object. Only the current version counts; a current delete marker means "absent".
   * https://docs.aws.amazon.com/AmazonS3/latest/userguide/conditional-writes.html
   * https://docs.aws.amazon.com/AmazonS3/latest/API/API_PutObject.html#API_PutObject_RequestSyntax
   */
  function checkWritePreconditions(request: SandboxRequest, bucket: Bucket, key: string): void {
    const ifMatch = request.headers['if-match'];
    const ifNoneMatch = request.headers['if-none-match'];
    const existing = live(bucket, key);
    if (ifMatch !== undefined) {
      if (!existing) throw new S3Error('NoSuchKey', 'The specified key does not exist.', 404, { Key: key });
      if (!etagMatches(ifMatch, existing.etag)) {
        throw new S3Error('PreconditionFailed', 'At least one of the pre-conditions you specified did not hold', 412, {
          Condition: 'If-Match',
        });
      }
    }
    if (ifNoneMatch !== undefined) {
      if (ifNoneMatch.trim() !== '*') {
        throw new S3Error('NotImplemented', NOT_IMPLEMENTED, 501, { Header: 'If-None-Match' });
      }
      if (existing) {
        throw new S3Error('PreconditionFailed', 'At least one of the pre-conditions you specified did not hold', 412, {
          Condition: 'If-None-Match',
        });
      }
    }
  }

  /**
   * Read preconditions, RFC 7232 order as the GetObject reference describes it: If-Match beats
   * If-Unmodified-Since (412), If-None-Match beats If-Modified-Since (304).
   * https://docs.aws.amazon.com/AmazonS3/latest/API/API_GetObject.html#API_GetObject_RequestSyntax
   */
  function checkReadPreconditions(
    request: SandboxRequest,
    version: StoredVersion,
    extra: Record<string, string>,
  ): void {
    const h = request.headers;
    const failed = (condition: string) =>
      new S3Error('PreconditionFailed', 'At least one of the pre-conditions you specified did not hold', 412, {
        Condition: condition,
      });
    const lastModified = version.lastModified.getTime();
    if (h['if-match'] !== undefined) {
      if (!etagMatches(h['if-match'], version.etag)) throw failed('If-Match');
    } else {
      const since = parseHttpDate(h['if-unmodified-since']);
      if (since !== undefined && lastModified > since) throw failed('If-Unmodified-Since');
    }
    const notModified = () =>
      new S3Error(
        'NotModified',
        'Not Modified',
        304,
        {},
        {
          etag: version.etag,
          'last-modified': version.lastModified.toUTCString(),
          ...extra,
        },
      );
    if (h['if-none-match'] !== undefined) {
      if (etagMatches(h['if-none-match'], version.etag)) throw notModified();
    } else {
      const since = parseHttpDate(h['if-modified-since']);
      if (since !== undefined && lastModified <= since) throw notModified();
    }
  }

  /** Copy-source preconditions all fail with 412. https://docs.aws.amazon.com/AmazonS3/latest/API/API_CopyObject.html */
  function checkCopySourcePreconditions(request: SandboxRequest, source: StoredVersion): void {
    const h = request.headers;
    const failed = (condition: string) =>
      new S3Error('PreconditionFailed', 'At least one of the pre-conditions you specified did not hold', 412, {
        Condition: condition,
      });
    const lastModified = source.lastModified.getTime();
    const ifMatch = h['x-amz-copy-source-if-match'];
    if (ifMatch !== undefined) {
      if (!etagMatches(ifMatch, source.etag)) throw failed('x-amz-copy-source-If-Match');
    } else {
      const since = parseHttpDate(h['x-amz-copy-source-if-unmodified-since']);
      if (since !== undefined && lastModified > since) throw failed('x-amz-copy-source-If-Unmodified-Since');
    }
    const ifNoneMatch = h['x-amz-copy-source-if-none-match'];
    if (ifNoneMatch !== undefined) {
      if (etagMatches(ifNoneMatch, source.etag)) throw failed('x-amz-copy-source-If-None-Match');
    } else {
      const since = parseHttpDate(h['x-amz-copy-source-if-modified-since']);
      if (since !== undefined && lastModified <= since) throw failed('x-amz-copy-source-If-Modified-Since');
    }
  }

  // ---- bucket operations ----------------------------------------------------------------------

  /**
   * The region a request is signed for: the REGION of the SigV4 credential scope
   * (`Credential=AKID/DATE/REGION/s3/aws4_request`) in the Authorization header or, for a presigned
   * URL, in X-Amz-Credential. Undefined for an unsigned request.
   */
  function signedRegion(request: SandboxRequest): string | undefined {
    const credential =
      /Credential=([^,\s]+)/.exec(request.headers.authorization ?? '')?.[1] ??
      request.query.get('X-Amz-Credential') ??
      undefined;
    return credential?.split('/')[2];
  }

  function requestRegion(request: SandboxRequest): string {
    return signedRegion(request) ?? ctx.region;
  }

  /**
   * A request signed for another region than the bucket's gets what S3 answers a request that reached
   * the wrong regional endpoint: 301 PermanentRedirect ("The bucket you are attempting to access must
   * be addressed using the specified endpoint", https://docs.aws.amazon.com/AmazonS3/latest/API/ErrorResponses.html#ErrorCodeList)
   * with the bucket's region in `x-amz-bucket-region`. That header and the 301 are exactly what the
   * SDK's region-redirect middleware (@aws-sdk/middleware-sdk-s3, `regionRedirectMiddleware`, enabled
   * by `followRegionRedirects: true`) needs to re-sign the request for that region and send it again;
   * without the option the call fails with PermanentRedirect. HEAD answers carry the header and no body,
   * as S3's do.
   *
   * The sandbox has one endpoint for every region, so the signature's region stands for the endpoint
   * the request was sent to, and the error's Endpoint names the host the request came to (the right
   * place to send it again, signed for the bucket's region).
   *
   * Unsigned requests are not redirected: they name no region, and the sandbox lets them through as
   * before. CreateBucket keeps its own region rules, and GetBucketLocation answers from any region
   * (it is how a caller finds the region in the first place).
   */
  function redirectToBucketRegion(request: SandboxRequest, operation: string, bucket: Bucket): void {
    if (operation === 'CreateBucket' || operation === 'GetBucketLocation') return;
    const region = signedRegion(request);
    if (region === undefined || region === bucket.region) return;
    throw new S3Error(
      'PermanentRedirect',
      'The bucket you are attempting to access must be addressed using the specified endpoint. Please send all future requests to this endpoint.',
      301,
      { Endpoint: request.headers.host ?? '', Bucket: bucket.name },
      { 'x-amz-bucket-region': bucket.region },
    );
  }

  function createBucket(request: SandboxRequest, target: Target): SandboxResponse {
    const name = target.bucket ?? '';
    if (!validBucketName(name)) {
      throw new S3Error('InvalidBucketName', 'The specified bucket is not valid.', 400, { BucketName: name });
    }
    const text = request.body.toString('utf8').trim();
    let region = 'us-east-1';
    if (text) {
      const config = requireRoot(text, 'CreateBucketConfiguration');
      const constraint = xmlText(config, 'LocationConstraint');
      if (constraint !== undefined && constraint !== '') {
        // us-east-1 is the default and may not be named explicitly.
        // https://docs.aws.amazon.com/AmazonS3/latest/API/API_CreateBucket.html
        if (constraint === 'us-east-1') {
          throw new S3Error('InvalidLocationConstraint', 'The specified location-constraint is not valid', 400, {
            LocationConstraint: constraint,
          });
        }
        region = constraint;
      }
    }
    const callerRegion = requestRegion(request);
    if (callerRegion !== 'us-east-1' && callerRegion !== region) {
      // Without a LocationConstraint S3 calls it "unspecified" (the bucket would go to us-east-1). The
      // SDK never sends that from outside us-east-1: its location-constraint middleware fills in the
      // client's region (@aws-sdk/middleware-sdk-s3, locationConstraintMiddleware).
      const named = region === 'us-east-1' ? 'unspecified' : region;
      throw new S3Error(
        'IllegalLocationConstraintException',
        `The ${named} location constraint is incompatible for the region specific endpoint this request was sent to.`,
        400,
      );
    }
    const existing = buckets.get(name);
    if (existing) {
      // Re-creating your own bucket succeeds in us-east-1 (legacy behaviour) and is 409 elsewhere.
      // https://docs.aws.amazon.com/AmazonS3/latest/API/API_CreateBucket.html#API_CreateBucket_Errors
      if (region === 'us-east-1' && existing.region === 'us-east-1') {
        return { status: 200, headers: { location: `/${name}` } };
      }
      throw new S3Error(
        'BucketAlreadyOwnedByYou',
        'Your previous request to create the named bucket succeeded and you already own it.',
        409,
        { BucketName: name },
      );
    }
    buckets.set(name, { name, region, created: now(), objects: new Map(), uploads: new Map() });
    return { status: 200, headers: { location: `/${name}` } };
  }

  function deleteBucket(bucket: Bucket): SandboxResponse {
    // Only objects (versions and delete markers) keep a bucket from being deleted; in-progress
    // multipart uploads do not, and go with it.
    if (bucket.objects.size > 0) {
      throw new S3Error('BucketNotEmpty', 'The bucket you tried to delete is not empty', 409, {
        BucketName: bucket.name,
      });
    }
    buckets.delete(bucket.name);
    return { status: 204 };
  }

  function listBuckets(request: SandboxRequest): SandboxResponse {
    const q = request.query;
    const prefix = q.get('prefix') ?? '';
    const regionFilter = q.get('bucket-region');
    const max = q.has('max-buckets') ? Number(q.get('max-buckets')) : 10000;
    if (!Number.isInteger(max) || max < 1 || max > 10000) {
      throw new S3Error('InvalidArgument', 'Argument max-buckets must be an integer between 1 and 10000', 400, {
        ArgumentName: 'max-buckets',
        ArgumentValue: q.get('max-buckets') ?? '',
      });
    }
    const after = q.get('continuation-token');
    const names = [...buckets.keys()]
      .sort()
      .filter((n) => n.startsWith(prefix) && (after === null || n > after))
      .filter((n) => !regionFilter || buckets.get(n)?.region === regionFilter);
    const page = names.slice(0, max);
    const truncated = names.length > page.length;
    return xmlResponse(
      elAttrs(
        'ListAllMyBucketsResult',
        { xmlns: S3_XMLNS },
        owner(),
        el(
          'Buckets',
          page.map((n) => {
            const b = bucketOf(n);
            return el('Bucket', el('Name', n), el('CreationDate', b.created), el('BucketRegion', b.region));
          }),
        ),
        truncated ? el('ContinuationToken', page[page.length - 1] ?? '') : undefined,
        q.has('prefix') ? el('Prefix', prefix) : undefined,
      ),
    );
  }

  function putBucketVersioning(request: SandboxRequest, bucket: Bucket): SandboxResponse {
    const config = requireRoot(request.body.toString('utf8'), 'VersioningConfiguration');
    const status = xmlText(config, 'Status');
    if (status !== undefined) {
      if (status !== 'Enabled' && status !== 'Suspended') throw malformedXml();
      bucket.versioning = status;
    }
    return { status: 200 };
  }

  function getBucketVersioning(bucket: Bucket): SandboxResponse {
    return xmlResponse(elAttrs('VersioningConfiguration', { xmlns: S3_XMLNS }, optional('Status', bucket.versioning)));
  }

  function putBucketEncryption(request: SandboxRequest, bucket: Bucket): SandboxResponse {
    const config = requireRoot(request.body.toString('utf8'), 'ServerSideEncryptionConfiguration');
    const rule = xmlBlocks(config, 'Rule')[0];
    const algorithm = rule === undefined ? undefined : xmlText(rule, 'SSEAlgorithm');
    if (rule === undefined || !algorithm || !['AES256', 'aws:kms', 'aws:kms:dsse'].includes(algorithm)) {
      throw malformedXml();
    }
    const kmsKeyId = xmlText(rule, 'KMSMasterKeyID');
    if (kmsKeyId && algorithm === 'AES256') {
      throw new S3Error(
        'InvalidArgument',
        'a KMSMasterKeyID is not applicable if the default sse algorithm is not aws:kms or aws:kms:dsse',
        400,
        {
          ArgumentName: 'ApplyServerSideEncryptionByDefault',
        },
      );
    }
    bucket.encryption = {
      algorithm,
      ...(kmsKeyId ? { kmsKeyId } : {}),
      bucketKeyEnabled: xmlText(rule, 'BucketKeyEnabled') === 'true',
    };
    return { status: 200 };
  }

  function getBucketEncryption(bucket: Bucket): SandboxResponse {
    // Every bucket has SSE-S3 by default since January 2023.
    // https://docs.aws.amazon.com/AmazonS3/latest/userguide/default-encryption-faq.html
    const e = bucket.encryption ?? { algorithm: 'AES256', bucketKeyEnabled: false };
    return xmlResponse(
      elAttrs(
        'ServerSideEncryptionConfiguration',
        { xmlns: S3_XMLNS },
        el(
          'Rule',
          el(
            'ApplyServerSideEncryptionByDefault',
            el('SSEAlgorithm', e.algorithm),
            optional('KMSMasterKeyID', e.kmsKeyId),
          ),
          el('BucketKeyEnabled', e.bucketKeyEnabled),
        ),
      ),
    );
  }

  function putBucketTagging(request: SandboxRequest, bucket: Bucket): SandboxResponse {
    const tagging = requireRoot(request.body.toString('utf8'), 'Tagging');
    const tagSet = xmlBlocks(tagging, 'TagSet')[0];
    if (tagSet === undefined) throw malformedXml();
    const tags = xmlBlocks(tagSet, 'Tag').map((tag) => ({
      Key: xmlText(tag, 'Key'),
      Value: xmlText(tag, 'Value') ?? '',
    }));
    const keys = new Set<string>();
    const valid: Array<{ Key: string; Value: string }> = [];
    for (const tag of tags) {
      if (tag.Key === undefined || tag.Key === '') throw malformedXml();
      if (keys.has(tag.Key)) throw new S3Error('InvalidTag', 'Cannot provide multiple Tags with the same key', 400);
      keys.add(tag.Key);
      valid.push({ Key: tag.Key, Value: tag.Value });
    }
    if (valid.length > 50) throw new S3Error('InvalidTag', 'Bucket tag count cannot be greater than 50', 400);
    bucket.tags = valid;
    return { status: 204 };
  }

  function getBucketTagging(bucket: Bucket): SandboxResponse {
    if (!bucket.tags) {
      throw new S3Error('NoSuchTagSet', 'The TagSet does not exist', 404, { BucketName: bucket.name });
    }
    return xmlResponse(
      elAttrs(
        'Tagging',
        { xmlns: S3_XMLNS },
        el(
          'TagSet',
          bucket.tags.map((t) => el('Tag', el('Key', t.Key), el('Value', t.Value))),
        ),
      ),
    );
  }

  // ---- object operations ----------------------------------------------------------------------

  function putObject(request: SandboxRequest, bucket: Bucket, key: string): SandboxResponse {
    const { payload, checksum } = readPayload(request);
    const metadata = metadataFrom(request.headers);
    checkWritePreconditions(request, bucket, key);
    // Objects uploaded without a checksum get a full-object CRC64NVME one since S3's 2025 integrity change.
    // https://docs.aws.amazon.com/AmazonS3/latest/userguide/checking-object-integrity.html
    const stored = addVersion(bucket, {
      key,
      deleteMarker: false,
      body: payload,
      etag: `"${md5Hex(payload)}"`,
      lastModified: now(),
      contentType: request.headers['content-type'] ?? 'application/octet-stream',
      metadata,
      headers: representationFrom(request.headers),
      checksum: checksum
        ? { ...checksum, type: 'FULL_OBJECT' }
        : { algorithm: 'CRC64NVME', value: computeChecksum('CRC64NVME', payload), type: 'FULL_OBJECT' },
    });
    return {
      status: 200,
      headers: {
        etag: stored.etag,
        ...versionHeader(bucket, stored),
        ...encryptionHeaders(bucket),
        ...(checksum
          ? { [checksumHeader(checksum.algorithm)]: checksum.value, 'x-amz-checksum-type': 'FULL_OBJECT' }
          : {}),
      },
    };
  }

  function objectHeaders(request: SandboxRequest, bucket: Bucket, version: StoredVersion): Record<string, string> {
    const headers: Record<string, string> = {
      etag: version.etag,
      'last-modified': version.lastModified.toUTCString(),
      'content-type': version.contentType,
      'accept-ranges': 'bytes',
      ...version.headers,
      ...versionHeader(bucket, version),
      ...encryptionHeaders(bucket),
    };
    for (const [name, value] of Object.entries(version.metadata)) headers[`x-amz-meta-${name}`] = value;
    for (const [param, header] of Object.entries(RESPONSE_OVERRIDES)) {
      const value = request.query.get(param);
      if (value !== null) headers[header] = value;
    }
    return headers;
  }

  function getObject(request: SandboxRequest, bucket: Bucket, key: string, head: boolean): SandboxResponse {
    const versionId = request.query.get('versionId');
    if (request.query.has('partNumber')) {
      throw new S3Error('NotImplemented', NOT_IMPLEMENTED, 501, { Header: 'partNumber' });
    }
    const version = resolveForRead(bucket, key, versionId, head ? 'HEAD' : 'GET');
    checkReadPreconditions(request, version, versionHeader(bucket, version));
    const headers = objectHeaders(request, bucket, version);
    const size = version.body.length;
    const range = parseRange(request.headers.range, size);
    if (range === 'unsatisfiable') {
      throw new S3Error(
        'InvalidRange',
        'The requested range is not satisfiable',
        416,
        { RangeRequested: request.headers.range ?? '', ActualObjectSize: String(size) },
        { 'content-range': `bytes */${size}` },
      );
    }
    // The full-object checksum is only returned for whole-object reads: a ranged body could not be
    // validated against it. https://docs.aws.amazon.com/AmazonS3/latest/userguide/checking-object-integrity.html
    if (request.headers['x-amz-checksum-mode']?.toUpperCase() === 'ENABLED' && version.checksum && !range) {
      headers[checksumHeader(version.checksum.algorithm)] = version.checksum.value;
      headers['x-amz-checksum-type'] = version.checksum.type;
    }
    if (range) {
      const [start, end] = range;
      headers['content-range'] = `bytes ${start}-${end}/${size}`;
      headers['content-length'] = String(end - start + 1);
      return head ? { status: 206, headers } : { status: 206, headers, body: version.body.subarray(start, end + 1) };
    }
    headers['content-length'] = String(size);
    return head ? { status: 200, headers } : { status: 200, headers, body: version.body };
  }

  /** Deletes one key the way DeleteObject does; shared with DeleteObjects. */
  function deleteOne(
    bucket: Bucket,
    key: string,
    versionId: string | null,
    ifMatch: string | undefined,
  ): { deleteMarker: boolean; versionId?: string } {
    if (ifMatch !== undefined) {
      // Conditional deletes evaluate the current version only.
      // https://docs.aws.amazon.com/AmazonS3/latest/userguide/conditional-deletes.html
      const existing = live(bucket, key);
      if (!existing) throw new S3Error('NoSuchKey', 'The specified key does not exist.', 404, { Key: key });
      if (!etagMatches(ifMatch, existing.etag)) {
        throw new S3Error('PreconditionFailed', 'At least one of the pre-conditions you specified did not hold', 412, {
          Condition: 'If-Match',
        });
      }
    }
    if (versionId !== null) {
      // Deleting a specific version removes it permanently; a version that does not exist is not an error.
      const removed = removeVersion(bucket, key, versionId);
      return { deleteMarker: removed?.deleteMarker ?? false, versionId };
    }
    if (!bucket.versioning) {
      bucket.objects.delete(key);
      return { deleteMarker: false };
    }
    // Versioning enabled or suspended: a delete inserts a delete marker (a null one when suspended),
    // even when the key has no versions. https://docs.aws.amazon.com/AmazonS3/latest/userguide/DeletingObjectVersions.html
    const marker = addVersion(bucket, {
      key,
      deleteMarker: true,
      body: Buffer.alloc(0),
      etag: '',
      lastModified: now(),
      contentType: '',
      metadata: {},
      headers: {},
    });
    return { deleteMarker: true, versionId: marker.versionId };
  }

  function deleteObject(request: SandboxRequest, bucket: Bucket, key: string): SandboxResponse {
    const result = deleteOne(bucket, key, request.query.get('versionId'), request.headers['if-match']);
    return {
      status: 204,
      headers: {
        ...(result.deleteMarker ? { 'x-amz-delete-marker': 'true' } : {}),
        ...(result.versionId !== undefined ? { 'x-amz-version-id': result.versionId } : {}),
      },
    };
  }

  function deleteObjects(request: SandboxRequest, bucket: Bucket): SandboxResponse {
    const h = request.headers;
    // DeleteObjects requires an integrity header. https://docs.aws.amazon.com/AmazonS3/latest/API/API_DeleteObjects.html
    if (h['content-md5'] === undefined && !CHECKSUM_ALGORITHMS.some((a) => h[checksumHeader(a)] !== undefined)) {
      throw new S3Error('InvalidRequest', 'Missing required header for this request: Content-MD5', 400);
    }
    const { payload } = readPayload(request);
    const document = requireRoot(payload.toString('utf8'), 'Delete');
    const quiet = xmlText(document, 'Quiet') === 'true';
    const objects = xmlBlocks(document, 'Object');
    if (objects.length === 0 || objects.length > 1000) throw malformedXml();
    const results: XmlElement[] = [];
    for (const object of objects) {
      const key = xmlText(object, 'Key');
      if (key === undefined) throw malformedXml();
      const versionId = xmlText(object, 'VersionId') ?? null;
      try {
        const result = deleteOne(bucket, key, versionId, xmlText(object, 'ETag'));
        if (quiet) continue;
        results.push(
          el(
            'Deleted',
            el('Key', key),
            optional('VersionId', versionId ?? undefined),
            result.deleteMarker ? el('DeleteMarker', true) : undefined,
            result.deleteMarker ? el('DeleteMarkerVersionId', result.versionId ?? '') : undefined,
          ),
        );
      } catch (error) {
        if (!(error instanceof AwsServiceError)) throw error;
        results.push(
          el(
            'Error',
            el('Key', key),
            optional('VersionId', versionId ?? undefined),
            el('Code', error.code),
            el('Message', error.message),
          ),
        );
      }
    }
    return xmlResponse(elAttrs('DeleteResult', { xmlns: S3_XMLNS }, results));
  }

  /**
   * The object an `x-amz-copy-source` header (`bucket/key[?versionId=…]`, URL-encoded) names, with the
   * copy-source preconditions checked. Shared by CopyObject and UploadPartCopy.
   * https://docs.aws.amazon.com/AmazonS3/latest/API/API_UploadPartCopy.html#API_UploadPartCopy_RequestSyntax
   */
  function resolveCopySource(request: SandboxRequest): {
    sourceBucket: Bucket;
    sourceKey: string;
    sourceVersionId: string | null;
    source: StoredVersion;
  } {
    const rawSource = request.headers['x-amz-copy-source'] ?? '';
    const [sourcePath = '', sourceQuery = ''] = rawSource.split('?', 2);
    let decodedPath: string;
    try {
      decodedPath = decodeURIComponent(sourcePath).replace(/^\//, '');
    } catch {
      decodedPath = '';
    }
    const slash = decodedPath.indexOf('/');
    if (slash <= 0 || slash === decodedPath.length - 1) {
      throw new S3Error(
        'InvalidArgument',
        'Copy Source must mention the source bucket and key: sourcebucket/sourcekey',
        400,
        {
          ArgumentName: 'x-amz-copy-source',
          ArgumentValue: rawSource,
        },
      );
    }
    const sourceBucket = bucketOf(decodedPath.slice(0, slash));
    const sourceKey = decodedPath.slice(slash + 1);
    const sourceVersionId = new URLSearchParams(sourceQuery).get('versionId');
    let source: StoredVersion;
    try {
      source = resolveForRead(sourceBucket, sourceKey, sourceVersionId, 'GET');
    } catch (error) {
      if (error instanceof S3Error && error.code === 'MethodNotAllowed') {
        throw new S3Error(
          'InvalidRequest',
          'The source of a copy request may not specifically refer to a delete marker by version id.',
          400,
        );
      }
      throw error;
    }
    checkCopySourcePreconditions(request, source);
    return { sourceBucket, sourceKey, sourceVersionId, source };
  }

  function copyObject(request: SandboxRequest, bucket: Bucket, key: string): SandboxResponse {
    const h = request.headers;
    const { sourceBucket, sourceKey, sourceVersionId, source } = resolveCopySource(request);

    const directive = (h['x-amz-metadata-directive'] ?? 'COPY').toUpperCase();
    if (directive !== 'COPY' && directive !== 'REPLACE') {
      throw new S3Error('InvalidArgument', 'Unknown metadata directive.', 400, {
        ArgumentName: 'x-amz-metadata-directive',
        ArgumentValue: directive,
      });
    }
    const requestedAlgorithm = parseAlgorithm(h['x-amz-checksum-algorithm']);
    const sameObject =
      sourceBucket === bucket &&
      sourceKey === key &&
      (sourceVersionId === null || sourceVersionId === current(bucket, key)?.versionId);
    if (
      sameObject &&
      directive === 'COPY' &&
      !requestedAlgorithm &&
      h['x-amz-storage-class'] === undefined &&
      h['x-amz-server-side-encryption'] === undefined &&
      h['x-amz-website-redirect-location'] === undefined
    ) {
      throw new S3Error(
        'InvalidRequest',
        "This copy request is illegal because it is trying to copy an object to itself without changing the object's metadata, storage class, website redirect location or encryption attributes.",
        400,
      );
    }
    checkWritePreconditions(request, bucket, key);
    // The copy keeps the source's checksum algorithm unless the request names another.
    // https://docs.aws.amazon.com/AmazonS3/latest/userguide/checking-object-integrity.html
    const algorithm = requestedAlgorithm ?? source.checksum?.algorithm ?? 'CRC64NVME';
    const checksum: StoredChecksum = {
      algorithm,
      value: computeChecksum(algorithm, source.body),
      type: 'FULL_OBJECT',
    };
    const replace = directive === 'REPLACE';
    const stored = addVersion(bucket, {
      key,
      deleteMarker: false,
      body: source.body,
      // CopyObject writes a new single-part object: a multipart source's `<md5>-<N>` ETag becomes the
      // MD5 of the data (the same value as the source's for a single-part source).
      etag: `"${md5Hex(source.body)}"`,
      lastModified: now(),
      contentType: replace ? (h['content-type'] ?? 'application/octet-stream') : source.contentType,
      metadata: replace ? metadataFrom(h) : source.metadata,
      headers: replace ? representationFrom(h) : source.headers,
      checksum,
    });
    return xmlResponse(
      elAttrs(
        'CopyObjectResult',
        { xmlns: S3_XMLNS },
        el('ETag', stored.etag),
        el('LastModified', stored.lastModified),
        el('ChecksumType', 'FULL_OBJECT'),
        el(`Checksum${algorithm}`, checksum.value),
      ),
      {
        ...versionHeader(bucket, stored),
        ...(sourceBucket.versioning ? { 'x-amz-copy-source-version-id': source.versionId } : {}),
        ...encryptionHeaders(bucket),
      },
    );
  }

  // ---- multipart uploads ----------------------------------------------------------------------
  // https://docs.aws.amazon.com/AmazonS3/latest/userguide/mpuoverview.html
  // Error codes, messages and detail elements are the ones S3 sends (captured from S3 responses where
  // the API reference lists only the code).

  function noSuchUpload(uploadId: string): S3Error {
    return new S3Error(
      'NoSuchUpload',
      'The specified upload does not exist. The upload ID may be invalid, or the upload may have been aborted or completed.',
      404,
      { UploadId: uploadId },
    );
  }

  /** The upload `?uploadId=` names. It must belong to the addressed key, as in S3. */
  function uploadOf(request: SandboxRequest, bucket: Bucket, key: string): MultipartUpload {
    const uploadId = request.query.get('uploadId') ?? '';
    const upload = bucket.uploads.get(uploadId);
    if (!upload || upload.key !== key) throw noSuchUpload(uploadId);
    return upload;
  }

  function partNumberOf(request: SandboxRequest): number {
    const raw = request.query.get('partNumber') ?? '';
    const value = Number(raw);
    if (!/^\d+$/.test(raw) || value < 1 || value > MAX_PART_NUMBER) {
      throw new S3Error('InvalidArgument', 'Part number must be an integer between 1 and 10000, inclusive', 400, {
        ArgumentName: 'partNumber',
        ArgumentValue: raw,
      });
    }
    return value;
  }

  /** A non-negative integer query parameter (max-parts, part-number-marker, max-uploads). */
  function integerParam(request: SandboxRequest, name: string, fallback: number): number {
    const raw = request.query.get(name);
    if (raw === null) return fallback;
    const value = Number(raw);
    if (!/^\d+$/.test(raw) || !Number.isSafeInteger(value)) {
      throw new S3Error('InvalidArgument', `Provided ${name} not an integer or within integer range`, 400, {
        ArgumentName: name,
        ArgumentValue: raw,
      });
    }
    return value;
  }

  /**
   * CreateMultipartUpload. x-amz-checksum-algorithm fixes the algorithm every part is checked with;
   * x-amz-checksum-type chooses COMPOSITE (checksum of the part checksums, the default except for
   * CRC64NVME) or FULL_OBJECT (CRC algorithms only; CRC64NVME supports nothing else).
   * https://docs.aws.amazon.com/AmazonS3/latest/API/API_CreateMultipartUpload.html
   * https://docs.aws.amazon.com/AmazonS3/latest/userguide/checking-object-integrity.html (multipart table)
   */
  function createMultipartUpload(request: SandboxRequest, bucket: Bucket, key: string): SandboxResponse {
    const h = request.headers;
    const algorithm = parseAlgorithm(h['x-amz-checksum-algorithm']);
    const requestedType = h['x-amz-checksum-type'];
    if (requestedType !== undefined && requestedType !== 'COMPOSITE' && requestedType !== 'FULL_OBJECT') {
      throw new S3Error('InvalidRequest', 'Value for x-amz-checksum-type header is invalid.', 400);
    }
    if (requestedType !== undefined && !algorithm) {
      throw new S3Error(
        'InvalidRequest',
        'The x-amz-checksum-type header can only be used with the x-amz-checksum-algorithm header.',
        400,
      );
    }
    let checksum: MultipartUpload['checksum'];
    if (algorithm) {
      const type: ChecksumType = requestedType ?? (algorithm === 'CRC64NVME' ? 'FULL_OBJECT' : 'COMPOSITE');
      const supported =
        type === 'FULL_OBJECT' ? algorithm !== 'SHA1' && algorithm !== 'SHA256' : algorithm !== 'CRC64NVME';
      if (!supported) {
        throw new S3Error(
          'InvalidRequest',
          `The ${type} checksum type cannot be used with the ${algorithm.toLowerCase()} checksum algorithm.`,
          400,
        );
      }
      checksum = { algorithm, type };
    }
    const metadata = metadataFrom(h);
    let uploadId = randomBytes(48).toString('base64url');
    while (bucket.uploads.has(uploadId)) uploadId = randomBytes(48).toString('base64url');
    bucket.uploads.set(uploadId, {
      uploadId,
      key,
      initiated: now(),
      contentType: h['content-type'] ?? 'application/octet-stream',
      metadata,
      headers: representationFrom(h),
      storageClass: h['x-amz-storage-class'] ?? 'STANDARD',
      ...(checksum ? { checksum } : {}),
      parts: new Map(),
    });
    return xmlResponse(
      elAttrs(
        'InitiateMultipartUploadResult',
        { xmlns: S3_XMLNS },
        el('Bucket', bucket.name),
        el('Key', key),
        el('UploadId', uploadId),
      ),
      {
        ...encryptionHeaders(bucket),
        ...(checksum ? { 'x-amz-checksum-algorithm': checksum.algorithm, 'x-amz-checksum-type': checksum.type } : {}),
      },
    );
  }

  /**
   * The checksum a new part is stored with. An upload created with an algorithm takes part checksums
   * of that algorithm only; a COMPOSITE upload needs one on every part (it is built from them), a
   * FULL_OBJECT upload computes it when the client sent none. An upload created without an algorithm
   * keeps whatever checksum the client sent (the SDK sends CRC32 by default).
   * https://docs.aws.amazon.com/AmazonS3/latest/API/API_UploadPart.html#API_UploadPart_RequestSyntax
   * (x-amz-sdk-checksum-algorithm: "must be the same for all parts and it match the checksum value
   * supplied in the CreateMultipartUpload request")
   */
  function partChecksum(
    upload: MultipartUpload,
    payload: Buffer,
    given: { algorithm: ChecksumAlgorithm; value: string } | undefined,
  ): UploadedPart['checksum'] {
    const expected = upload.checksum;
    if (!expected) return given;
    if (given?.algorithm === expected.algorithm) return given;
    if (given || expected.type === 'COMPOSITE') {
      throw new S3Error(
        'InvalidRequest',
        `Checksum Type mismatch occurred, expected checksum Type: ${expected.algorithm.toLowerCase()}, actual checksum Type: ${given?.algorithm.toLowerCase() ?? 'null'}`,
        400,
      );
    }
    return { algorithm: expected.algorithm, value: computeChecksum(expected.algorithm, payload) };
  }

  /** Stores a part (replacing an earlier one with the same number, as S3 does). */
  function putPart(
    upload: MultipartUpload,
    partNumber: number,
    body: Buffer,
    checksum: UploadedPart['checksum'],
  ): UploadedPart {
    const part: UploadedPart = {
      partNumber,
      body,
      etag: `"${md5Hex(body)}"`,
      lastModified: now(),
      ...(checksum ? { checksum } : {}),
    };
    upload.parts.set(partNumber, part);
    return part;
  }

  function checksumResponseHeaders(checksum: UploadedPart['checksum']): Record<string, string> {
    return checksum ? { [checksumHeader(checksum.algorithm)]: checksum.value } : {};
  }

  /** UploadPart. https://docs.aws.amazon.com/AmazonS3/latest/API/API_UploadPart.html */
  function uploadPart(request: SandboxRequest, bucket: Bucket, key: string): SandboxResponse {
    const partNumber = partNumberOf(request);
    const upload = uploadOf(request, bucket, key);
    const { payload, checksum: given } = readPayload(request);
    const part = putPart(upload, partNumber, payload, partChecksum(upload, payload, given));
    return {
      status: 200,
      headers: { etag: part.etag, ...encryptionHeaders(bucket), ...checksumResponseHeaders(part.checksum) },
    };
  }

  /**
   * UploadPartCopy: a part copied from (a byte range of) an existing object, with the copy-source
   * preconditions of CopyObject. This is how objects over CopyObject's 5 GiB limit are copied.
   * https://docs.aws.amazon.com/AmazonS3/latest/API/API_UploadPartCopy.html
   */
  function uploadPartCopy(request: SandboxRequest, bucket: Bucket, key: string): SandboxResponse {
    const partNumber = partNumberOf(request);
    const upload = uploadOf(request, bucket, key);
    const { sourceBucket, source } = resolveCopySource(request);
    const rawRange = request.headers['x-amz-copy-source-range'];
    let data = source.body;
    if (rawRange !== undefined) {
      // Only `bytes=first-last` is accepted, and it must lie inside the source: unlike GetObject's
      // Range, nothing is clamped or ignored.
      const match = /^bytes=(\d+)-(\d+)$/.exec(rawRange.trim());
      if (!match) {
        throw new S3Error(
          'InvalidArgument',
          'The x-amz-copy-source-range value must be of the form bytes=first-last where first and last are the zero-based offsets of the first and last bytes to copy',
          400,
          { ArgumentName: 'x-amz-copy-source-range', ArgumentValue: rawRange },
        );
      }
      const first = Number(match[1]);
      const last = Number(match[2]);
      if (first > last || last >= source.body.length) {
        throw new S3Error(
          'InvalidArgument',
          `Range specified is not valid for source object of size: ${source.body.length}`,
          400,
          { ArgumentName: 'x-amz-copy-source-range', ArgumentValue: rawRange },
        );
      }
      data = source.body.subarray(first, last + 1);
    }
    if (data.length > MAX_PART_BYTES) {
      throw new S3Error('EntityTooLarge', 'Your proposed upload exceeds the maximum allowed size', 400, {
        ProposedSize: String(data.length),
        MaxSizeAllowed: String(MAX_PART_BYTES),
      });
    }
    const algorithm = upload.checksum?.algorithm;
    const checksum = algorithm ? { algorithm, value: computeChecksum(algorithm, data) } : undefined;
    const part = putPart(upload, partNumber, data, checksum);
    return xmlResponse(
      elAttrs(
        'CopyPartResult',
        { xmlns: S3_XMLNS },
        el('ETag', part.etag),
        el('LastModified', part.lastModified),
        checksum ? el(`Checksum${checksum.algorithm}`, checksum.value) : undefined,
      ),
      {
        ...(sourceBucket.versioning ? { 'x-amz-copy-source-version-id': source.versionId } : {}),
        ...encryptionHeaders(bucket),
      },
    );
  }

  /**
   * CompleteMultipartUpload: the listed parts (ascending, each with the ETag its upload returned, every
   * one but the last at least 5 MiB) are concatenated into a new object version. Parts left out are
   * discarded. The ETag is the MD5 of the concatenated binary part MD5s, then `-<part count>`.
   * Conditional writes (If-None-Match: *, If-Match) are evaluated as for PutObject; a failed
   * precondition leaves the upload in place.
   * https://docs.aws.amazon.com/AmazonS3/latest/API/API_CompleteMultipartUpload.html
   * https://docs.aws.amazon.com/AmazonS3/latest/userguide/checking-object-integrity.html#large-object-checksums
   * https://docs.aws.amazon.com/AmazonS3/latest/userguide/conditional-writes.html
   */
  function completeMultipartUpload(request: SandboxRequest, bucket: Bucket, key: string): SandboxResponse {
    const h = request.headers;
    const upload = uploadOf(request, bucket, key);
    const { payload } = readPayload(request, { flexibleChecksums: false });
    const document = requireRoot(payload.toString('utf8'), 'CompleteMultipartUpload');
    const listed = xmlBlocks(document, 'Part').map((block) => {
      const number = xmlText(block, 'PartNumber')?.trim() ?? '';
      if (!/^\d+$/.test(number)) throw malformedXml();
      const checksums: Partial<Record<ChecksumAlgorithm, string>> = {};
      for (const algorithm of CHECKSUM_ALGORITHMS) {
        const value = xmlText(block, `Checksum${algorithm}`);
        if (value !== undefined) checksums[algorithm] = value.trim();
      }
      return { partNumber: Number(number), etag: xmlText(block, 'ETag'), checksums };
    });
    if (listed.length === 0) throw malformedXml();
    for (let i = 1; i < listed.length; i++) {
      if ((listed[i]?.partNumber ?? 0) <= (listed[i - 1]?.partNumber ?? 0)) {
        throw new S3Error(
          'InvalidPartOrder',
          'The list of parts was not in ascending order. Parts must be ordered by part number.',
          400,
          { UploadId: upload.uploadId },
        );
      }
    }
    const invalidPart = (entry: (typeof listed)[number]) =>
      new S3Error(
        'InvalidPart',
        "One or more of the specified parts could not be found.  The part may not have been uploaded, or the specified entity tag may not match the part's entity tag.",
        400,
        { UploadId: upload.uploadId, PartNumber: String(entry.partNumber), ETag: normalizeEtag(entry.etag ?? '') },
      );
    const parts: UploadedPart[] = [];
    for (const entry of listed) {
      const part = upload.parts.get(entry.partNumber);
      if (!part || entry.etag === undefined || normalizeEtag(entry.etag) !== normalizeEtag(part.etag)) {
        throw invalidPart(entry);
      }
      // Checksums named for a part must be the part's.
      for (const algorithm of CHECKSUM_ALGORITHMS) {
        const value = entry.checksums[algorithm];
        if (value === undefined) continue;
        const actual =
          part.checksum?.algorithm === algorithm ? part.checksum.value : computeChecksum(algorithm, part.body);
        if (value !== actual) throw invalidPart(entry);
      }
      // A part stored with a checksum must be named with it. For a COMPOSITE upload S3 says so; for an
      // upload created without an algorithm, whose parts carried the SDK's default checksum, S3
      // answers InvalidPart (aws/aws-sdk-go-v2#3005, aws/aws-sdk-java-v2#6518). FULL_OBJECT uploads
      // do not need part checksums.
      if (part.checksum && entry.checksums[part.checksum.algorithm] === undefined) {
        if (upload.checksum?.type === 'COMPOSITE') {
          throw new S3Error(
            'InvalidRequest',
            `The upload was created using a ${upload.checksum.algorithm.toLowerCase()} checksum. The complete request must include the checksum for each part. It was missing for part ${entry.partNumber} in the request.`,
            400,
          );
        }
        if (!upload.checksum) throw invalidPart(entry);
      }
      parts.push(part);
    }
    parts.forEach((part, i) => {
      if (i < parts.length - 1 && part.body.length < MIN_PART_SIZE) {
        throw new S3Error('EntityTooSmall', 'Your proposed upload is smaller than the minimum allowed size', 400, {
          ProposedSize: String(part.body.length),
          MinSizeAllowed: String(MIN_PART_SIZE),
          PartNumber: String(part.partNumber),
          ETag: normalizeEtag(part.etag),
        });
      }
    });

    const body = Buffer.concat(parts.map((p) => p.body));
    let checksum: StoredChecksum;
    if (upload.checksum?.type === 'COMPOSITE') {
      const { algorithm } = upload.checksum;
      const digests = Buffer.concat(
        parts.map((p) =>
          Buffer.from(
            p.checksum?.algorithm === algorithm ? p.checksum.value : computeChecksum(algorithm, p.body),
            'base64',
          ),
        ),
      );
      checksum = { algorithm, value: `${computeChecksum(algorithm, digests)}-${parts.length}`, type: 'COMPOSITE' };
    } else {
      // Full-object CRCs combine from the part CRCs in S3; over the assembled body the value is the same.
      // Without an algorithm S3 gives the object its default full-object CRC64NVME.
      const algorithm = upload.checksum?.algorithm ?? 'CRC64NVME';
      checksum = { algorithm, value: computeChecksum(algorithm, body), type: 'FULL_OBJECT' };
    }
    const requestedType = h['x-amz-checksum-type'];
    if (requestedType !== undefined && requestedType !== checksum.type) {
      // (The sandbox's wording: S3 answers InvalidRequest.)
      throw new S3Error(
        'InvalidRequest',
        `The upload was created using the ${checksum.type} checksum type. The complete request must use the same checksum type.`,
        400,
      );
    }
    // An x-amz-checksum-* header here is the checksum of the whole object, checked like PutObject's.
    for (const algorithm of CHECKSUM_ALGORITHMS) {
      const value = h[checksumHeader(algorithm)];
      if (value === undefined) continue;
      if (algorithm !== checksum.algorithm) {
        throw new S3Error('InvalidRequest', `Value for ${checksumHeader(algorithm)} header is invalid.`, 400);
      }
      if (value.trim() !== checksum.value && value.trim() !== checksum.value.replace(/-\d+$/, '')) {
        throw new S3Error(
          'BadDigest',
          `The ${algorithm.toLowerCase()} you specified did not match the calculated checksum.`,
          400,
        );
      }
    }
    checkWritePreconditions(request, bucket, key);

    const md5s = Buffer.concat(parts.map((p) => Buffer.from(normalizeEtag(p.etag), 'hex')));
    const stored = addVersion(bucket, {
      key,
      deleteMarker: false,
      body,
      etag: `"${md5Hex(md5s)}-${parts.length}"`,
      lastModified: now(),
      contentType: upload.contentType,
      metadata: upload.metadata,
      headers: upload.headers,
      checksum,
    });
    bucket.uploads.delete(upload.uploadId);
    const host = h.host ?? '127.0.0.1';
    const encodedKey = key.split('/').map(encodeURIComponent).join('/');
    const location = host.startsWith(`${bucket.name}.`)
      ? `http://${host}/${encodedKey}`
      : `http://${host}/${encodeURIComponent(bucket.name)}/${encodedKey}`;
    return xmlResponse(
      elAttrs(
        'CompleteMultipartUploadResult',
        { xmlns: S3_XMLNS },
        el('Location', location),
        el('Bucket', bucket.name),
        el('Key', key),
        el('ETag', stored.etag),
        el(`Checksum${checksum.algorithm}`, checksum.value),
        el('ChecksumType', checksum.type),
      ),
      { ...versionHeader(bucket, stored), ...encryptionHeaders(bucket) },
    );
  }

  /** AbortMultipartUpload: 204, and the upload and its parts are gone. https://docs.aws.amazon.com/AmazonS3/latest/API/API_AbortMultipartUpload.html */
  function abortMultipartUpload(request: SandboxRequest, bucket: Bucket, key: string): SandboxResponse {
    const upload = uploadOf(request, bucket, key);
    bucket.uploads.delete(upload.uploadId);
    return { status: 204 };
  }

  function initiator(): XmlElement {
    return el('Initiator', el('ID', ownerId), el('DisplayName', 'ballast-sandbox'));
  }

  /** ListParts, ascending part numbers after part-number-marker. https://docs.aws.amazon.com/AmazonS3/latest/API/API_ListParts.html */
  function listParts(request: SandboxRequest, bucket: Bucket, key: string): SandboxResponse {
    const upload = uploadOf(request, bucket, key);
    const maxParts = Math.min(integerParam(request, 'max-parts', 1000), 1000);
    const marker = integerParam(request, 'part-number-marker', 0);
    const after = [...upload.parts.values()]
      .filter((p) => p.partNumber > marker)
      .sort((a, b) => a.partNumber - b.partNumber);
    const page = after.slice(0, maxParts);
    const truncated = after.length > page.length;
    return xmlResponse(
      elAttrs(
        'ListPartsResult',
        { xmlns: S3_XMLNS },
        el('Bucket', bucket.name),
        el('Key', key),
        el('UploadId', upload.uploadId),
        el('PartNumberMarker', marker),
        optional('NextPartNumberMarker', page[page.length - 1]?.partNumber),
        el('MaxParts', maxParts),
        el('IsTruncated', truncated),
        page.map((p) =>
          el(
            'Part',
            el('PartNumber', p.partNumber),
            el('LastModified', p.lastModified),
            el('ETag', p.etag),
            el('Size', p.body.length),
            p.checksum ? el(`Checksum${p.checksum.algorithm}`, p.checksum.value) : undefined,
          ),
        ),
        initiator(),
        owner(),
        el('StorageClass', upload.storageClass),
        optional('ChecksumAlgorithm', upload.checksum?.algorithm),
        optional('ChecksumType', upload.checksum?.type),
      ),
    );
  }

  /**
   * ListMultipartUploads: keys ascending, a key's uploads in initiation order. key-marker alone resumes
   * after that key; with upload-id-marker it resumes after that upload of the key.
   * https://docs.aws.amazon.com/AmazonS3/latest/API/API_ListMultipartUploads.html
   */
  function listMultipartUploads(request: SandboxRequest, bucket: Bucket): SandboxResponse {
    const q = request.query;
    const prefix = q.get('prefix') ?? '';
    const delimiter = q.get('delimiter') ?? '';
    const keyMarker = q.get('key-marker') ?? '';
    const uploadIdMarker = q.get('upload-id-marker') ?? '';
    const maxUploads = Math.min(integerParam(request, 'max-uploads', 1000), 1000);
    const encode = encodingOf(request);
    const byKey = new Map<string, MultipartUpload[]>();
    for (const upload of bucket.uploads.values()) {
      const list = byKey.get(upload.key) ?? [];
      list.push(upload);
      byKey.set(upload.key, list);
    }
    const keys = [...byKey.keys()].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
    const entries: Array<MultipartUpload | { prefix: string }> = [];
    let truncated = false;
    let nextKeyMarker: string | undefined;
    let nextUploadIdMarker: string | undefined;
    let lastPrefix: string | undefined;
    outer: for (const key of keys) {
      if (!key.startsWith(prefix)) continue;
      const order = Buffer.compare(Buffer.from(key), Buffer.from(keyMarker));
      if (keyMarker && (order < 0 || (order === 0 && !uploadIdMarker))) continue;
      const commonPrefix = commonPrefixOf(key, prefix, delimiter);
      if (commonPrefix !== undefined) {
        if (commonPrefix === lastPrefix || (keyMarker && commonPrefix === keyMarker)) continue;
        if (entries.length >= maxUploads) {
          truncated = true;
          break;
        }
        entries.push({ prefix: commonPrefix });
        lastPrefix = commonPrefix;
        nextKeyMarker = commonPrefix;
        nextUploadIdMarker = undefined;
        continue;
      }
      let uploads = byKey.get(key) ?? [];
      if (keyMarker && order === 0) {
        const index = uploads.findIndex((u) => u.uploadId === uploadIdMarker);
        uploads = index >= 0 ? uploads.slice(index + 1) : uploads.filter((u) => u.uploadId > uploadIdMarker);
      }
      for (const upload of uploads) {
        if (entries.length >= maxUploads) {
          truncated = true;
          break outer;
        }
        entries.push(upload);
        nextKeyMarker = key;
        nextUploadIdMarker = upload.uploadId;
      }
    }
    return xmlResponse(
      elAttrs(
        'ListMultipartUploadsResult',
        { xmlns: S3_XMLNS },
        el('Bucket', bucket.name),
        el('KeyMarker', encodeListValue(keyMarker, encode)),
        el('UploadIdMarker', uploadIdMarker),
        truncated && nextKeyMarker !== undefined
          ? el('NextKeyMarker', encodeListValue(nextKeyMarker, encode))
          : undefined,
        truncated ? optional('NextUploadIdMarker', nextUploadIdMarker) : undefined,
        el('Prefix', encodeListValue(prefix, encode)),
        q.has('delimiter') ? el('Delimiter', encodeListValue(delimiter, encode)) : undefined,
        el('MaxUploads', maxUploads),
        el('IsTruncated', truncated),
        encode ? el('EncodingType', 'url') : undefined,
        entries.map((entry) =>
          'prefix' in entry
            ? undefined
            : el(
                'Upload',
                el('Key', encodeListValue(entry.key, encode)),
                el('UploadId', entry.uploadId),
                initiator(),
                owner(),
                el('StorageClass', entry.storageClass),
                el('Initiated', entry.initiated),
                optional('ChecksumAlgorithm', entry.checksum?.algorithm),
                optional('ChecksumType', entry.checksum?.type),
              ),
        ),
        entries.flatMap((e) =>
          'prefix' in e ? [el('CommonPrefixes', el('Prefix', encodeListValue(e.prefix, encode)))] : [],
        ),
      ),
    );
  }

  // ---- listings -------------------------------------------------------------------------------

  function maxKeysOf(request: SandboxRequest): number {
    const raw = request.query.get('max-keys');
    if (raw === null) return MAX_KEYS;
    const value = Number(raw);
    if (!/^\d+$/.test(raw) || !Number.isSafeInteger(value)) {
      throw new S3Error('InvalidArgument', 'Provided max-keys not an integer or within integer range', 400, {
        ArgumentName: 'max-keys',
        ArgumentValue: raw,
      });
    }
    return Math.min(value, MAX_KEYS);
  }

  /** A page of keys (or common prefixes) after a position, the way both ListObjects versions group them. */
  function pageOfKeys(
    keys: readonly string[],
    prefix: string,
    delimiter: string,
    after: { value: string; isPrefix: boolean } | undefined,
    maxKeys: number,
  ): { entries: Array<{ key: string } | { prefix: string }>; truncated: boolean } {
    const entries: Array<{ key: string } | { prefix: string }> = [];
    let lastPrefix: string | undefined = after?.isPrefix ? after.value : undefined;
    let truncated = false;
    for (const key of keys) {
      if (!key.startsWith(prefix)) continue;
      if (after && Buffer.compare(Buffer.from(key), Buffer.from(after.value)) <= 0) continue;
      const commonPrefix = commonPrefixOf(key, prefix, delimiter);
      if (commonPrefix !== undefined && commonPrefix === lastPrefix) continue;
      if (entries.length >= maxKeys) {
        truncated = true;
        break;
      }
      if (commonPrefix !== undefined) {
        entries.push({ prefix: commonPrefix });
        lastPrefix = commonPrefix;
      } else {
        entries.push({ key });
      }
    }
    return { entries, truncated };
  }

  function encodeToken(position: { value: string; isPrefix: boolean }): string {
    return Buffer.from(JSON.stringify({ v: position.value, p: position.isPrefix })).toString('base64');
  }

  function decodeToken(token: string): { value: string; isPrefix: boolean } {
    try {
      const parsed = JSON.parse(Buffer.from(token, 'base64').toString('utf8')) as { v?: unknown; p?: unknown };
      if (typeof parsed.v === 'string' && typeof parsed.p === 'boolean') return { value: parsed.v, isPrefix: parsed.p };
    } catch {
      // fall through
    }
    throw new S3Error('InvalidArgument', 'The continuation token provided is incorrect', 400, {
      ArgumentName: 'continuation-token',
    });
  }

  function liveKeys(bucket: Bucket): string[] {
    return sortedKeys(bucket).filter((k) => live(bucket, k) !== undefined);
  }

  function contentsOf(bucket: Bucket, key: string, encode: boolean, fetchOwner: boolean): XmlElement {
    const v = live(bucket, key) as StoredVersion;
    return el(
      'Contents',
      el('Key', encodeListValue(key, encode)),
      el('LastModified', v.lastModified),
      el('ETag', v.etag),
      v.checksum ? el('ChecksumAlgorithm', v.checksum.algorithm) : undefined,
      v.checksum ? el('ChecksumType', v.checksum.type) : undefined,
      el('Size', v.body.length),
      fetchOwner ? owner() : undefined,
      el('StorageClass', 'STANDARD'),
    );
  }

  function encodingOf(request: SandboxRequest): boolean {
    const encoding = request.query.get('encoding-type');
    if (encoding !== null && encoding !== 'url') {
      throw new S3Error('InvalidArgument', 'Invalid Encoding Method specified in Request', 400, {
        ArgumentName: 'encoding-type',
        ArgumentValue: encoding,
      });
    }
    return encoding === 'url';
  }

  function listObjectsV2(request: SandboxRequest, bucket: Bucket): SandboxResponse {
    const q = request.query;
    const prefix = q.get('prefix') ?? '';
    const delimiter = q.get('delimiter') ?? '';
    const maxKeys = maxKeysOf(request);
    const encode = encodingOf(request);
    const token = q.get('continuation-token');
    const startAfter = q.get('start-after');
    // With a continuation token the listing resumes there; start-after only applies to the first page.
    // https://docs.aws.amazon.com/AmazonS3/latest/API/API_ListObjectsV2.html
    const after =
      token !== null
        ? decodeToken(token)
        : startAfter !== null && startAfter !== ''
          ? { value: startAfter, isPrefix: false }
          : undefined;
    const { entries, truncated } = pageOfKeys(liveKeys(bucket), prefix, delimiter, after, maxKeys);
    const last = entries[entries.length - 1];
    const next =
      truncated && last
        ? encodeToken('key' in last ? { value: last.key, isPrefix: false } : { value: last.prefix, isPrefix: true })
        : undefined;
    const fetchOwner = q.get('fetch-owner') === 'true';
    const children: XmlChild[] = [
      el('Name', bucket.name),
      el('Prefix', encodeListValue(prefix, encode)),
      q.has('delimiter') ? el('Delimiter', encodeListValue(delimiter, encode)) : undefined,
      el('MaxKeys', maxKeys),
      encode ? el('EncodingType', 'url') : undefined,
      el('KeyCount', entries.length),
      el('IsTruncated', truncated),
      token !== null ? el('ContinuationToken', token) : undefined,
      optional('NextContinuationToken', next),
      startAfter !== null ? el('StartAfter', encodeListValue(startAfter, encode)) : undefined,
      entries.flatMap((e) => ('key' in e ? [contentsOf(bucket, e.key, encode, fetchOwner)] : [])),
      entries.flatMap((e) =>
        'prefix' in e ? [el('CommonPrefixes', el('Prefix', encodeListValue(e.prefix, encode)))] : [],
      ),
    ];
    return xmlResponse(elAttrs('ListBucketResult', { xmlns: S3_XMLNS }, ...children));
  }

  function listObjectsV1(request: SandboxRequest, bucket: Bucket): SandboxResponse {
    const q = request.query;
    const prefix = q.get('prefix') ?? '';
    const delimiter = q.get('delimiter') ?? '';
    const marker = q.get('marker') ?? '';
    const maxKeys = maxKeysOf(request);
    const encode = encodingOf(request);
    const after = marker ? { value: marker, isPrefix: false } : undefined;
    const { entries, truncated } = pageOfKeys(liveKeys(bucket), prefix, delimiter, after, maxKeys);
    const last = entries[entries.length - 1];
    // NextMarker is only returned when a delimiter is given; otherwise clients use the last key.
    // https://docs.aws.amazon.com/AmazonS3/latest/API/API_ListObjects.html
    const nextMarker = truncated && delimiter && last ? ('key' in last ? last.key : last.prefix) : undefined;
    return xmlResponse(
      elAttrs(
        'ListBucketResult',
        { xmlns: S3_XMLNS },
        el('Name', bucket.name),
        el('Prefix', encodeListValue(prefix, encode)),
        el('Marker', encodeListValue(marker, encode)),
        optional('NextMarker', nextMarker === undefined ? undefined : encodeListValue(nextMarker, encode)),
        el('MaxKeys', maxKeys),
        q.has('delimiter') ? el('Delimiter', encodeListValue(delimiter, encode)) : undefined,
        encode ? el('EncodingType', 'url') : undefined,
        el('IsTruncated', truncated),
        entries.flatMap((e) => ('key' in e ? [contentsOf(bucket, e.key, encode, true)] : [])),
        entries.flatMap((e) =>
          'prefix' in e ? [el('CommonPrefixes', el('Prefix', encodeListValue(e.prefix, encode)))] : [],
        ),
      ),
    );
  }

  /**
   * ListObjectVersions: keys ascending, each key's versions newest first; key-marker alone resumes
   * after that key, key-marker with version-id-marker resumes after that version.
   * https://docs.aws.amazon.com/AmazonS3/latest/API/API_ListObjectVersions.html
   */
  function listObjectVersions(request: SandboxRequest, bucket: Bucket): SandboxResponse {
    const q = request.query;
    const prefix = q.get('prefix') ?? '';
    const delimiter = q.get('delimiter') ?? '';
    const keyMarker = q.get('key-marker') ?? '';
    const versionIdMarker = q.get('version-id-marker') ?? '';
    const maxKeys = maxKeysOf(request);
    const encode = encodingOf(request);
    if (versionIdMarker && !keyMarker) {
      throw new S3Error('InvalidArgument', 'A version-id marker cannot be specified without a key marker.', 400, {
        ArgumentName: 'version-id-marker',
        ArgumentValue: versionIdMarker,
      });
    }
    type Entry = { version: StoredVersion; isLatest: boolean } | { prefix: string };
    const entries: Entry[] = [];
    let truncated = false;
    let nextKeyMarker: string | undefined;
    let nextVersionIdMarker: string | undefined;
    let lastPrefix: string | undefined;
    outer: for (const key of sortedKeys(bucket)) {
      if (!key.startsWith(prefix)) continue;
      const order = Buffer.compare(Buffer.from(key), Buffer.from(keyMarker));
      if (keyMarker && order < 0) continue;
      if (keyMarker && order === 0 && !versionIdMarker) continue;
      const commonPrefix = commonPrefixOf(key, prefix, delimiter);
      if (commonPrefix !== undefined) {
        if (commonPrefix === lastPrefix || (keyMarker && commonPrefix === keyMarker)) continue;
        if (entries.length >= maxKeys) {
          truncated = true;
          break;
        }
        entries.push({ prefix: commonPrefix });
        lastPrefix = commonPrefix;
        nextKeyMarker = commonPrefix;
        nextVersionIdMarker = undefined;
        continue;
      }
      const versions = bucket.objects.get(key) ?? [];
      let start = 0;
      if (keyMarker && order === 0) {
        const index = versions.findIndex((v) => v.versionId === versionIdMarker);
        if (index < 0) {
          throw new S3Error('InvalidArgument', 'Invalid version id specified', 400, {
            ArgumentName: 'version-id-marker',
            ArgumentValue: versionIdMarker,
          });
        }
        start = index + 1;
      }
      for (let i = start; i < versions.length; i++) {
        const version = versions[i] as StoredVersion;
        if (entries.length >= maxKeys) {
          truncated = true;
          break outer;
        }
        entries.push({ version, isLatest: i === 0 });
        nextKeyMarker = key;
        nextVersionIdMarker = version.versionId;
      }
    }
    const children: XmlChild[] = [
      el('Name', bucket.name),
      el('Prefix', encodeListValue(prefix, encode)),
      el('KeyMarker', encodeListValue(keyMarker, encode)),
      el('VersionIdMarker', versionIdMarker),
      truncated
        ? optional('NextKeyMarker', nextKeyMarker === undefined ? undefined : encodeListValue(nextKeyMarker, encode))
        : undefined,
      truncated ? optional('NextVersionIdMarker', nextVersionIdMarker) : undefined,
      el('MaxKeys', maxKeys),
      q.has('delimiter') ? el('Delimiter', encodeListValue(delimiter, encode)) : undefined,
      encode ? el('EncodingType', 'url') : undefined,
      el('IsTruncated', truncated),
      entries.map((entry) => {
        if ('prefix' in entry) return undefined;
        const { version, isLatest } = entry;
        if (version.deleteMarker) {
          return el(
            'DeleteMarker',
            el('Key', encodeListValue(version.key, encode)),
            el('VersionId', version.versionId),
            el('IsLatest', isLatest),
            el('LastModified', version.lastModified),
            owner(),
          );
        }
        return el(
          'Version',
          el('Key', encodeListValue(version.key, encode)),
          el('VersionId', version.versionId),
          el('IsLatest', isLatest),
          el('LastModified', version.lastModified),
          el('ETag', version.etag),
          version.checksum ? el('ChecksumAlgorithm', version.checksum.algorithm) : undefined,
          version.checksum ? el('ChecksumType', version.checksum.type) : undefined,
          el('Size', version.body.length),
          el('StorageClass', 'STANDARD'),
          owner(),
        );
      }),
      entries.flatMap((e) =>
        'prefix' in e ? [el('CommonPrefixes', el('Prefix', encodeListValue(e.prefix, encode)))] : [],
      ),
    ];
    return xmlResponse(elAttrs('ListVersionsResult', { xmlns: S3_XMLNS }, ...children));
  }

  // ---- dispatch -------------------------------------------------------------------------------

  function dispatch(request: SandboxRequest, operation: string): SandboxResponse {
    const target = targetOf(request);
    const addressed = target.bucket === undefined ? undefined : buckets.get(target.bucket);
    if (addressed) redirectToBucketRegion(request, operation, addressed);
    switch (operation) {
      case 'ListBuckets':
        return listBuckets(request);
      case 'CreateBucket':
        return createBucket(request, target);
      case 'HeadBucket': {
        const bucket = bucketOf(target.bucket);
        return { status: 200, headers: { 'x-amz-bucket-region': bucket.region } };
      }
      case 'DeleteBucket':
        return deleteBucket(bucketOf(target.bucket));
      case 'GetBucketLocation': {
        const bucket = bucketOf(target.bucket);
        const region = bucket.region === 'us-east-1' ? undefined : bucket.region;
        return xmlResponse(elAttrs('LocationConstraint', { xmlns: S3_XMLNS }, region));
      }
      case 'PutBucketVersioning':
        return putBucketVersioning(request, bucketOf(target.bucket));
      case 'GetBucketVersioning':
        return getBucketVersioning(bucketOf(target.bucket));
      case 'PutBucketEncryption':
        return putBucketEncryption(request, bucketOf(target.bucket));
      case 'GetBucketEncryption':
        return getBucketEncryption(bucketOf(target.bucket));
      case 'DeleteBucketEncryption':
        delete bucketOf(target.bucket).encryption;
        return { status: 204 };
      case 'PutBucketTagging':
        return putBucketTagging(request, bucketOf(target.bucket));
      case 'GetBucketTagging':
        return getBucketTagging(bucketOf(target.bucket));
      case 'DeleteBucketTagging':
        delete bucketOf(target.bucket).tags;
        return { status: 204 };
      case 'ListObjectsV2':
        return listObjectsV2(request, bucketOf(target.bucket));
      case 'ListObjects':
        return listObjectsV1(request, bucketOf(target.bucket));
      case 'ListObjectVersions':
        return listObjectVersions(request, bucketOf(target.bucket));
      case 'DeleteObjects':
        return deleteObjects(request, bucketOf(target.bucket));
      case 'PutObject':
        return putObject(request, bucketOf(target.bucket), requireKey(target));
      case 'CopyObject':
        return copyObject(request, bucketOf(target.bucket), requireKey(target));
      case 'GetObject':
        return getObject(request, bucketOf(target.bucket), requireKey(target), false);
      case 'HeadObject':
        return getObject(request, bucketOf(target.bucket), requireKey(target), true);
      case 'DeleteObject':
        return deleteObject(request, bucketOf(target.bucket), requireKey(target));
      case 'CreateMultipartUpload':
        return createMultipartUpload(request, bucketOf(target.bucket), requireKey(target));
      case 'UploadPart':
        return uploadPart(request, bucketOf(target.bucket), requireKey(target));
      case 'UploadPartCopy':
        return uploadPartCopy(request, bucketOf(target.bucket), requireKey(target));
      case 'CompleteMultipartUpload':
        return completeMultipartUpload(request, bucketOf(target.bucket), requireKey(target));
      case 'AbortMultipartUpload':
        return abortMultipartUpload(request, bucketOf(target.bucket), requireKey(target));
      case 'ListParts':
        return listParts(request, bucketOf(target.bucket), requireKey(target));
      case 'ListMultipartUploads':
        return listMultipartUploads(request, bucketOf(target.bucket));
      default:
        throw new S3Error(
          'NotImplemented',
          `${NOT_IMPLEMENTED} (the Ballast sandbox does not implement ${operation})`,
          501,
        );
    }
  }

  return {
    signingName: 's3',
    operationOf,
    async handle(request, operation) {
      try {
        const response = dispatch(request, operation);
        const { requestId, hostId } = newRequestIds();
        return { ...response, headers: { 'x-amz-request-id': requestId, 'x-amz-id-2': hostId, ...response.headers } };
      } catch (error) {
        if (error instanceof AwsServiceError) return errorResponse(error, request.method);
        throw error;
      }
    },
    faultResponse(kind) {
      // S3 throttles with 503 SlowDown, which the SDK's standard retry strategy treats as throttling.
      // https://docs.aws.amazon.com/AmazonS3/latest/API/ErrorResponses.html#ErrorCodeList
      return kind === 'throttle'
        ? errorResponse(new S3Error('SlowDown', 'Please reduce your request rate.', 503), 'GET')
        : errorResponse(
            new S3Error('InternalError', 'We encountered an internal error. Please try again.', 500),
            'GET',
          );
    },
    bucketNames() {
      return [...buckets.keys()].sort();
    },
    bucketRegion(name) {
      return buckets.get(name)?.region;
    },
    objectExists(name, key) {
      const bucket = buckets.get(name);
      return bucket !== undefined && live(bucket, key) !== undefined;
    },
    hasObjectsUnder(name, prefix) {
      const bucket = buckets.get(name);
      if (!bucket) return false;
      for (const key of bucket.objects.keys()) if (key.startsWith(prefix) && live(bucket, key)) return true;
      return false;
    },
    versioning(name) {
      return buckets.get(name)?.versioning;
    },
    objects(name) {
      const bucket = buckets.get(name);
      if (!bucket) return [];
      return liveKeys(bucket).map((k) => view(bucket, live(bucket, k) as StoredVersion, true));
    },
    versions(name) {
      const bucket = buckets.get(name);
      if (!bucket) return [];
      return sortedKeys(bucket).flatMap((k) => (bucket.objects.get(k) ?? []).map((v, i) => view(bucket, v, i === 0)));
    },
    object(name, key, versionId) {
      const bucket = buckets.get(name);
      if (!bucket) return undefined;
      const list = bucket.objects.get(key) ?? [];
      const version = versionId === undefined ? list[0] : list.find((v) => v.versionId === versionId);
      if (!version || (versionId === undefined && version.deleteMarker)) return undefined;
      return view(bucket, version, version === list[0]);
    },
    uploads(name) {
      const bucket = buckets.get(name);
      if (!bucket) return [];
      return [...bucket.uploads.values()]
        .sort((a, b) => Buffer.compare(Buffer.from(a.key), Buffer.from(b.key)))
        .map((u) => ({
          bucket: bucket.name,
          key: u.key,
          uploadId: u.uploadId,
          initiated: u.initiated,
          ...(u.checksum ? { checksumAlgorithm: u.checksum.algorithm, checksumType: u.checksum.type } : {}),
          parts: [...u.parts.values()]
            .sort((a, b) => a.partNumber - b.partNumber)
            .map((p) => ({ partNumber: p.partNumber, size: p.body.length, etag: p.etag })),
        }));
    },
  };
}

/**
 * A single byte range (`bytes=a-b`, `bytes=a-`, `bytes=-n`), clamped to the object. Undefined means
 * "the whole object": no header, a malformed header, or several ranges (S3 serves one range per GET
 * and ignores a multi-range header). https://docs.aws.amazon.com/AmazonS3/latest/API/API_GetObject.html
 */
/**
 * The CommonPrefixes entry a key rolls up into in a delimited listing: the key up to and including
 * the first delimiter after the prefix, or undefined when the key is listed as itself.
 */
function commonPrefixOf(key: string, prefix: string, delimiter: string | undefined): string | undefined {
  if (!delimiter) return undefined;
  const index = key.indexOf(delimiter, prefix.length);
  return index >= 0 ? key.slice(0, index + delimiter.length) : undefined;
}

export function parseRange(header: string | undefined, size: number): [number, number] | 'unsatisfiable' | undefined {
  if (!header) return undefined;
  const match = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!match) return undefined;
  const [, first = '', last = ''] = match;
  if (first === '' && last === '') return undefined;
  if (first === '') {
    const suffix = Number(last);
    if (suffix === 0) return 'unsatisfiable';
    return size === 0 ? 'unsatisfiable' : [Math.max(0, size - suffix), size - 1];
  }
  const start = Number(first);
  const end = last === '' ? size - 1 : Math.min(Number(last), size - 1);
  if (last !== '' && Number(last) < start) return undefined;
  if (start >= size) return 'unsatisfiable';
  return [start, end];
}
