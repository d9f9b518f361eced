/**
 * Model directories: the rules every pinned file follows, and the manifest file that pins a
 * directory too large to list inline.
 *
 * A directory model (safetensors shards, tokenizer, config) is delivered to SageMaker as an S3
 * prefix (ModelDataSource.S3DataSource, S3DataType S3Prefix, CompressionType None): SageMaker
 * trims each key by the prefix and uses the rest as the file's path under /opt/ml/model. So every
 * path here is a relative POSIX path that stays inside that directory, and no path may be both a
 * file and a directory.
 *
 * The manifest file (`ballast manifest` writes it; Validate reads it from S3):
 *
 *   {"apiVersion":"ballast.dev/v1","kind":"ModelManifest","files":[{"path":"config.json","sizeBytes":1234,"sha256":"..."}]}
 *
 * Pure: no AWS, no I/O. The same rules serve the inline `files` list (schema.ts), the manifest
 * (parseManifest) and the CLI that writes one (renderManifest).
 */
import { canonicalJson, sha256Hex } from './canonical.ts';
import { CONTROL_CHARACTER } from './s3-uri.ts';

export type ManifestFile = { path: string; sha256: string; sizeBytes: number };

/** The manifest's apiVersion: the repository format's (schema.ts API_VERSION), kept here so this module stands alone. */
export const MANIFEST_API_VERSION = 'ballast.dev/v1';
export const MANIFEST_KIND = 'ModelManifest';

/**
 * The largest file Ballast pins: 40 GiB. Register verifies one file per Lambda invocation,
 * streaming it through sha256 while it copies it, and a Lambda runs for at most 900 seconds
 * (AWS Lambda Developer Guide, "Configure Lambda function timeout"). 40 GiB in 900 s needs about
 * 46 MiB/s; Ballast counts on one Lambda streaming S3 through sha256 at >= ~64 MiB/s, which takes
 * about 640 s and leaves a margin for a slow start and throttled reads. Bigger files must be
 * split (LLM checkpoints already come as safetensors shards of a few GiB).
 */
export const MAX_FILE_BYTES = 40 * 1024 ** 3;

/**
 * The most files one directory may pin. Register fans out over the files in a Step Functions Map;
 * 10,000 keeps the version pointer, the manifest and the Map's state small and a re-run (a HEAD
 * per file) quick. Real model directories hold tens of files.
 */
export const MAX_FILES = 10_000;

/** The longest relative path of a file, in characters. */
export const MAX_PATH_LENGTH = 512;

/**
 * The largest manifest text parseManifest reads: 10,000 entries of at most 512 characters of
 * path (at most 3 UTF-8 bytes each), a 64-character digest and a size, pretty-printed, stay under
 * 20 MiB. Validate should refuse a bigger object by its ContentLength before reading it.
 */
export const MAX_MANIFEST_BYTES = 32 * 1024 * 1024;

const SHA256 = /^[a-f0-9]{64}$/;

export const PATH_EXPECTED = `a relative POSIX path such as config.json or tokenizer/vocab.json: no leading or trailing "/", no ".", ".." or empty segments, no control characters, at most ${MAX_PATH_LENGTH} characters`;
export const FILE_SHA256_EXPECTED =
  "the file's SHA-256 digest: 64 lowercase hex characters, in quotes (sha256sum FILE)";
export const FILE_SIZE_EXPECTED = `the file's size in bytes: a whole number from 0 to ${MAX_FILE_BYTES} (40 GiB)`;
export const FILES_EXPECTED = `a list of 1 to ${MAX_FILES} files`;

/** What is wrong with a file's relative path ("has a '..' segment"), or undefined if nothing is. */
export function pathProblem(path: string): string | undefined {
  if (path.length === 0) return 'is empty';
  if (path.length > MAX_PATH_LENGTH) return `is ${path.length} characters long (at most ${MAX_PATH_LENGTH})`;
  if (CONTROL_CHARACTER.test(path)) return 'contains a control character';
  if (path.startsWith('/')) return 'starts with "/": paths are relative to the directory';
  if (path.endsWith('/')) return 'ends with "/": list files, not directories';
  const segments = path.split('/');
  if (segments.includes('..')) return "has a '..' segment: a file must stay inside the directory";
  if (segments.includes('.')) return "has a '.' segment";
  if (segments.includes('')) return 'has an empty segment ("//")';
  return undefined;
}

/**
 * What is wrong with a file's size, or undefined. `archive` words the advice for a .tar.gz
 * archive (one file by definition), which the directory form replaces.
 */
export function sizeProblem(sizeBytes: number, form: 'file' | 'archive' = 'file'): string | undefined {
  if (!Number.isSafeInteger(sizeBytes)) return 'is not a whole number of bytes';
  if (sizeBytes < (form === 'archive' ? 1 : 0)) return `is ${sizeBytes}, out of range`;
  if (sizeBytes <= MAX_FILE_BYTES) return undefined;
  const advice =
    form === 'archive'
      ? 'pin the model as an uncompressed directory instead (artifact.prefix with its files), whose files are verified in parallel'
      : 'split it into smaller files (safetensors shards)';
  return `is ${gibibytes(sizeBytes)} GiB (${sizeBytes} bytes); Ballast verifies one file per Lambda and accepts at most 40 GiB per file: ${advice}`;
}

/** Rounded up to one decimal, so that 40 GiB and a byte reads 40.1, not 40. */
function gibibytes(bytes: number): string {
  return String(Math.ceil((bytes / 1024 ** 3) * 10) / 10);
}

/** A problem that involves more than one file: the index of the file to point at, and what is wrong. */
export interface FileListProblem {
  readonly index: number;
  readonly problem: string;
}

/**
 * Problems between files: a path listed twice, or a path inside another file's path (`a` and
 * `a/b`: `a` cannot be a file and a directory under /opt/ml/model). One problem per file, at the
 * later one. Undefined entries (paths that are not strings) and invalid paths are skipped but
 * keep their index.
 */
export function fileListProblems(given: readonly (string | undefined)[]): FileListProblem[] {
  // A path with problems of its own is reported for those; comparing it with others adds noise.
  const paths = given.map((path) => (path === undefined || pathProblem(path) ? undefined : path));
  const first = new Map<string, number>();
  paths.forEach((path, index) => {
    if (path !== undefined && !first.has(path)) first.set(path, index);
  });
  const problems: FileListProblem[] = [];
  paths.forEach((path, index) => {
    if (path === undefined) return;
    const earlier = first.get(path);
    if (earlier !== undefined && earlier !== index) {
      problems.push({ index, problem: `is listed twice (also files[${earlier}])` });
      return;
    }
    for (let slash = path.indexOf('/'); slash > 0; slash = path.indexOf('/', slash + 1)) {
      const parent = path.slice(0, slash);
      const asFile = first.get(parent);
      if (asFile !== undefined) {
        problems.push({
          index,
          problem: `is inside '${parent}', which files[${asFile}] lists as a file: a path cannot be a file and a directory`,
        });
        return;
      }
    }
  });
  return problems.sort((a, b) => a.index - b.index);
}

function shown(value: string): string {
  const short = value.length > 60 ? `${value.slice(0, 57)}...` : value;
  return `'${short.replace(new RegExp(CONTROL_CHARACTER.source, 'g'), '?')}'`;
}

/**
 * Every problem of a directory's files, as messages naming the file (`files[3].path '../x' has a
 * '..' segment: ...`): the rules of the inline `files` list, for files that come from elsewhere
 * (a manifest, the CLI's listing of a directory). Empty when the files can be pinned.
 */
export function checkFiles(files: readonly ManifestFile[]): string[] {
  const problems: string[] = [];
  if (files.length === 0) problems.push('files is empty: a model directory has at least one file');
  if (files.length > MAX_FILES) {
    problems.push(`files has ${files.length} entries; Ballast pins at most ${MAX_FILES} files per directory`);
  }
  files.forEach((file, index) => {
    const path = pathProblem(file.path);
    if (path) problems.push(`files[${index}].path ${shown(file.path)} ${path}`);
    if (!SHA256.test(file.sha256)) {
      problems.push(`files[${index}].sha256 ${shown(file.sha256)} is not 64 lowercase hex characters`);
    }
    const size = sizeProblem(file.sizeBytes);
    if (size) problems.push(`files[${index}].sizeBytes ${size}`);
  });
  for (const { index, problem } of fileListProblems(files.map((file) => file.path))) {
    problems.push(`files[${index}].path ${shown(files[index]?.path ?? '')} ${problem}`);
  }
  return problems;
}

function byPath(a: ManifestFile, b: ManifestFile): number {
  // UTF-16 code unit order, as canonicalJson orders keys: the same in every JavaScript runtime.
  return a.path < b.path ? -1 : a.path > b.path ? 1 : 0;
}

function sorted(files: readonly ManifestFile[]): ManifestFile[] {
  return files.map(({ path, sha256, sizeBytes }) => ({ path, sha256, sizeBytes })).sort(byPath);
}

/**
 * The directory's digest: sha256 (hex) of the canonical JSON of its files sorted by path, each
 * `{path, sha256, sizeBytes}`. It names the directory's content: the same files give the same
 * digest whatever order they were listed in and whether they came inline or from a manifest.
 */
export function directoryDigest(files: readonly ManifestFile[]): string {
  return sha256Hex(canonicalJson(sorted(files)));
}

/**
 * The manifest file's text, as the CLI writes it: files sorted by path, 2-space indent, a
 * trailing newline. The same files always give the same bytes (so the same sha256 to pin).
 * Check the files with checkFiles first: this only renders.
 */
export function renderManifest(files: readonly ManifestFile[]): string {
  const entries = sorted(files).map(({ path, sizeBytes, sha256 }) => ({ path, sizeBytes, sha256 }));
  return `${JSON.stringify({ apiVersion: MANIFEST_API_VERSION, kind: MANIFEST_KIND, files: entries }, null, 2)}\n`;
}

const MAX_REPORTED = 5;

function isRecord(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'string') return `the string ${shown(value)}`;
  if (typeof value === 'object') return 'an object';
  return `${typeof value} ${String(value)}`;
}

/**
 * Reads a manifest file's text. On success, the files in the order written; otherwise one error
 * text naming what is wrong (`files[3].path '../x' has a '..' segment: ...`; the first few
 * problems when there are several). Files need not be sorted: the digest sorts them.
 */
export function parseManifest(text: string): { files: ManifestFile[] } | { error: string } {
  // A UTF-16 code unit is at least one UTF-8 byte: only a text that might fit needs encoding.
  if (text.length > MAX_MANIFEST_BYTES || new TextEncoder().encode(text).length > MAX_MANIFEST_BYTES) {
    return { error: `the manifest is larger than ${MAX_MANIFEST_BYTES} bytes` };
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    return { error: `the manifest is not JSON: ${(error as Error).message}` };
  }
  if (!isRecord(value)) return { error: `the manifest is ${describe(value)}, not a JSON object` };
  const problems: string[] = [];
  const unknown = Object.keys(value).filter((key) => !['apiVersion', 'kind', 'files'].includes(key));
  if (unknown.length > 0) {
    problems.push(`unknown field${unknown.length === 1 ? '' : 's'} ${unknown.map((key) => shown(key)).join(', ')}`);
  }
  if (value.apiVersion !== MANIFEST_API_VERSION) {
    problems.push(`apiVersion is ${describe(value.apiVersion)}, not '${MANIFEST_API_VERSION}'`);
  }
  if (value.kind !== MANIFEST_KIND) problems.push(`kind is ${describe(value.kind)}, not '${MANIFEST_KIND}'`);
  if (!Array.isArray(value.files)) {
    problems.push(`files is ${value.files === undefined ? 'missing' : describe(value.files)}, not a list`);
    return { error: summarize(problems) };
  }
  const entries: unknown[] = value.files;
  if (entries.length > MAX_FILES) {
    // Checking 10,000+ entries one by one would only bury this.
    problems.push(`files has ${entries.length} entries; Ballast pins at most ${MAX_FILES} files per directory`);
    return { error: summarize(problems) };
  }
  const files: ManifestFile[] = [];
  entries.forEach((entry, index) => {
    const file = readEntry(entry, `files[${index}]`, problems);
    if (file) files.push(file);
  });
  if (problems.length === 0) problems.push(...checkFiles(files));
  return problems.length > 0 ? { error: summarize(problems) } : { files };
}

function readEntry(entry: unknown, at: string, problems: string[]): ManifestFile | undefined {
  if (!isRecord(entry)) {
    problems.push(`${at} is ${describe(entry)}, not an object with path, sizeBytes and sha256`);
    return undefined;
  }
  const before = problems.length;
  const unknown = Object.keys(entry).filter((key) => !['path', 'sizeBytes', 'sha256'].includes(key));
  if (unknown.length > 0) problems.push(`${at} has unknown fields: ${unknown.map((key) => shown(key)).join(', ')}`);
  const { path, sizeBytes, sha256 } = entry;
  if (typeof path !== 'string') problems.push(`${at}.path is ${path === undefined ? 'missing' : describe(path)}`);
  if (typeof sha256 !== 'string') {
    problems.push(`${at}.sha256 is ${sha256 === undefined ? 'missing' : describe(sha256)}`);
  }
  if (typeof sizeBytes !== 'number') {
    problems.push(`${at}.sizeBytes is ${sizeBytes === undefined ? 'missing' : describe(sizeBytes)}`);
  }
  if (problems.length > before || typeof path !== 'string' || typeof sha256 !== 'string') return undefined;
  return typeof sizeBytes === 'number' ? { path, sha256, sizeBytes } : undefined;
}

function summarize(problems: readonly string[]): string {
  const shownProblems = problems.slice(0, MAX_REPORTED).join('; ');
  const more = problems.length - MAX_REPORTED;
  return more > 0 ? `${shownProblems}; and ${more} more problem${more === 1 ? '' : 's'}` : shownProblems;
}
