/**
 * `ballast manifest DIR | s3://BUCKET/PREFIX/`: writes the manifest that pins an uncompressed model
 * directory (every file's relative path, size and sha256), so that nobody hashes 40 shards by hand.
 * It refuses up front what the Model's Validate would refuse (the path rules, 40 GiB per file,
 * 10,000 files), before reading a byte, and prints the `artifact:` block to paste into the Model.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readdir, realpath, stat, writeFile } from 'node:fs/promises';
import { basename, dirname, join, resolve, sep } from 'node:path';
import { parseArgs } from 'node:util';
import { GetObjectCommand, type GetObjectCommandOutput, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { stringify } from 'yaml';
import { checkFiles, MAX_FILES, type ManifestFile, renderManifest } from '../../lambdas/spec/manifest.ts';
import { explainError, parseOrUsage } from './state-reader.ts';
import { type CliIo, type Command, ExitCode, UsageError } from './types.ts';

const DEFAULT_CONCURRENCY = 4;
/** More parallel reads than this only queue on the disk or the network. */
const MAX_CONCURRENCY = 64;
/** Read buffer per file: large enough for fast sequential reads, small enough that memory stays bounded. */
const READ_CHUNK_BYTES = 1024 * 1024;
/** A digest that passes checkFiles' sha256 rule, so the other rules can be checked before any hashing. */
const UNHASHED = '0'.repeat(64);
/** How many problems to print before "... and N more": a broken directory can have thousands. */
const MAX_PROBLEMS_SHOWN = 20;

const usage = `Usage: ballast manifest (DIR | s3://BUCKET/PREFIX/) [--out FILE] [--inline] [--concurrency N]

Writes the manifest that pins an uncompressed model directory (safetensors shards, tokenizer,
config): every file under DIR or under the S3 prefix, recursively, with its relative path, size
and sha256, sorted by path:

  {"apiVersion":"ballast.dev/v1","kind":"ModelManifest","files":[{"path","sizeBytes","sha256"}]}

Then it prints the manifest's own sha256 and the artifact: block to paste under the Model's spec
(prefix, manifest uri and sha256). Upload the manifest outside the prefix, so that the prefix holds
exactly the files it lists. The same directory always gives the same bytes.

Before reading any file it refuses what the deploy workflow would refuse: paths with "." or ".."
segments, empty segments or over 512 characters, files over 40 GiB (Ballast verifies one file per
Lambda), more than 10,000 files, and in a local directory symlinks that lead out of it (a symlink
to a file or directory inside it counts as that file or directory), special files and symlink loops.
In S3, keys ending in "/" (the folder markers consoles create) are skipped.

Arguments:
  DIR                 a local model directory
  s3://BUCKET/PREFIX/ an S3 prefix (a missing trailing "/" is added: the prefix is a directory).
                      The AWS SDK's standard configuration applies (AWS_PROFILE, AWS_REGION,
                      AWS_ENDPOINT_URL, ...); a bucket in another region is followed there.

Options:
  --out FILE          write the manifest to FILE (outside DIR) instead of stdout; what to paste then
                      goes to stdout, otherwise to stderr
  --inline            write the artifact: block with the files: list inline, as YAML, instead of a
                      manifest (fine for a few files; a manifest keeps the Model short)
  --concurrency N     files hashed at the same time, 1-${MAX_CONCURRENCY} (default: ${DEFAULT_CONCURRENCY}); memory stays
                      bounded whatever the file sizes
  -h, --help          show this help

Exit codes: 0 written, 1 the directory breaks a rule (nothing written), 2 usage, read or write error.
`;

/** The directory cannot be pinned as it is: each message names a file and the rule it breaks. */
class DirectoryRuleError extends Error {
  override readonly name = 'DirectoryRuleError';
  constructor(readonly problems: readonly string[]) {
    super(problems.join('; '));
  }
}

/** A read failed or a file changed while it was read; running again may succeed. */
class ReadError extends Error {
  override readonly name = 'ReadError';
}

/** A file found by the walk or the listing, not yet hashed. */
interface FoundFile {
  readonly path: string;
  readonly sizeBytes: number;
  /** The file's bytes, read in bounded chunks; stops when `signal` aborts. */
  readonly read: (signal: AbortSignal) => AsyncIterable<Uint8Array>;
}

interface Source {
  /** How messages name the source: the argument as given, or s3://bucket/prefix/. */
  readonly where: string;
  /** The S3 prefix the files live under, when known. */
  readonly prefix: string | undefined;
  /** A name for the suggested manifest: the directory's own name. */
  readonly name: string;
  list(): Promise<FoundFile[]>;
  close(): void;
}

export const manifestCommand: Command = {
  name: 'manifest',
  summary: 'Write the manifest that pins a model directory (local or S3): every file with its size and sha256',
  usage,
  async run(args: readonly string[], io: CliIo): Promise<number> {
    const { values, positionals } = parseOrUsage(() =>
      parseArgs({
        args: [...args],
        options: { out: { type: 'string' }, inline: { type: 'boolean' }, concurrency: { type: 'string' } },
        allowPositionals: true,
        strict: true,
      }),
    );
    const [target, ...extra] = positionals;
    if (target === undefined) throw new UsageError('say which directory: a local DIR or s3://BUCKET/PREFIX/');
    if (extra.length > 0)
      throw new UsageError(`expected one directory, got ${positionals.length}: ${positionals.join(' ')}`);
    const concurrency = parseConcurrency(values.concurrency);
    const source = target.startsWith('s3://') ? s3Source(target) : await localSource(target, io.cwd);
    try {
      if (values.out !== undefined) await checkOutOutside(source, values.out, io.cwd);
      return await writeManifest(source, { out: values.out, inline: values.inline ?? false, concurrency }, io);
    } finally {
      source.close();
    }
  },
};

/**
 * checkFiles names a file by its manifest index (`files[3].sizeBytes ...`), which is what a YAML
 * author needs; here the files are on disk or in S3 and the user needs the file itself.
 */
function namedByFile(problem: string, found: readonly FoundFile[], where: string): string {
  const indexed = /^files\[(\d+)\]\.(\w+) /.exec(problem);
  const file = indexed ? found[Number(indexed[1])] : undefined;
  if (!indexed || !file) return `${where}: ${problem}`;
  return `${where.replace(/\/+$/, '')}/${file.path}: ${indexed[2]} ${problem.slice(indexed[0].length)}`;
}

async function writeManifest(
  source: Source,
  options: { out: string | undefined; inline: boolean; concurrency: number },
  io: CliIo,
): Promise<number> {
  const fail = (message: string): number => {
    io.stderr(`ballast manifest: ${message}\n`);
    return ExitCode.Usage;
  };
  let found: FoundFile[];
  try {
    found = await source.list();
    // Sorted before the checks so that checkFiles' files[i] is the i-th entry of the manifest.
    found.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
    if (found.length === 0) throw new DirectoryRuleError([`${source.where}: no files`]);
    const problems = checkFiles(found.map((f) => ({ path: f.path, sizeBytes: f.sizeBytes, sha256: UNHASHED })));
    if (problems.length > 0) throw new DirectoryRuleError(problems.map((p) => namedByFile(p, found, source.where)));
  } catch (error) {
    if (error instanceof DirectoryRuleError) return refuse(error.problems, io);
    return fail(describeError(error, source));
  }

  const totalBytes = found.reduce((sum, f) => sum + f.sizeBytes, 0);
  const parallel = Math.min(options.concurrency, found.length);
  // Hashing 140 GB takes minutes; say what is going on before the silence.
  io.stderr(
    `Hashing ${count(found.length, 'file')} (${formatBytes(totalBytes)}) from ${source.where}, ${parallel} at a time...\n`,
  );
  let files: ManifestFile[];
  try {
    files = await mapLimit(found, options.concurrency, async (file, signal) => ({
      path: file.path,
      sizeBytes: file.sizeBytes,
      sha256: await sha256Of(file, signal, source),
    }));
  } catch (error) {
    return fail(describeError(error, source));
  }

  const prefix = source.prefix ?? placeholderPrefix(source);
  const text = options.inline
    ? yamlBlock({
        artifact: { prefix, files: files.map((f) => ({ path: f.path, sha256: f.sha256, sizeBytes: f.sizeBytes })) },
      })
    : renderManifest(files);
  if (options.out !== undefined) {
    try {
      await writeFile(resolve(io.cwd, options.out), text);
    } catch (error) {
      return fail(`cannot write ${options.out}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
    }
  } else {
    io.stdout(text);
  }
  // What to do next goes where it does not mix with the manifest.
  const say = options.out !== undefined ? io.stdout : io.stderr;
  const summary = `${count(files.length, 'file')}, ${formatBytes(totalBytes)}`;
  say(
    `${(options.inline ? inlineNextSteps(source, summary) : manifestNextSteps(source, summary, text, options.out)).join('\n')}\n`,
  );
  return ExitCode.Ok;
}

function manifestNextSteps(source: Source, summary: string, text: string, out: string | undefined): string[] {
  const digest = createHash('sha256').update(text, 'utf8').digest('hex');
  const prefix = source.prefix ?? placeholderPrefix(source);
  const manifestUri = suggestManifestUri(source);
  const file = out ?? `${source.name}.manifest.json`;
  return [
    `${out ?? 'Manifest (on stdout)'}: ${summary}, sha256 ${digest}`,
    '',
    `${out === undefined ? `Save it as ${file} (or use --out FILE), then upload` : 'Upload'} ${
      source.prefix === undefined ? 'the directory, and the manifest next to it' : 'it next to the prefix'
    }, not inside:`,
    ...(source.prefix === undefined ? [`  aws s3 sync ${source.where} ${prefix}`] : []),
    `  aws s3 cp ${file} ${manifestUri}`,
    '',
    `Pin the directory in the Model, under spec${source.prefix === undefined ? ' (put in your bucket and path)' : ''}:`,
    '',
    yamlBlock({ artifact: { prefix, manifest: { uri: manifestUri, sha256: digest } } }).trimEnd(),
  ];
}

/** Where a local directory will be uploaded is the user's choice; the placeholder does not validate, on purpose. */
function placeholderPrefix(source: Source): string {
  return `s3://BUCKET/PATH/${source.name}/`;
}

function inlineNextSteps(source: Source, summary: string): string[] {
  return [
    `Inline files: ${summary}. Paste the artifact: block under the Model's spec.`,
    ...(source.prefix === undefined
      ? [
          `Upload the directory and put your bucket and path in the prefix:`,
          `  aws s3 sync ${source.where} ${placeholderPrefix(source)}`,
        ]
      : []),
  ];
}

/** Next to the prefix (`models/llm/` → `models/llm.manifest.json`), never inside it. */
function suggestManifestUri(source: Source): string {
  if (source.prefix === undefined) return `${placeholderPrefix(source).slice(0, -1)}.manifest.json`;
  const withoutSlash = source.prefix.slice(0, -1);
  // A whole bucket has no "next to": the manifest goes into another bucket.
  return withoutSlash.endsWith('/') || !withoutSlash.slice('s3://'.length).includes('/')
    ? `s3://OTHER-BUCKET/${source.name}.manifest.json`
    : `${withoutSlash}.manifest.json`;
}

function yamlBlock(value: unknown): string {
  // lineWidth 0: a long path or URI stays on one line, as a user would write it.
  return stringify(value, { lineWidth: 0 });
}

function refuse(problems: readonly string[], io: CliIo): number {
  const shown = problems.slice(0, MAX_PROBLEMS_SHOWN).map((p) => `ballast manifest: ${p}`);
  if (problems.length > shown.length) shown.push(`ballast manifest: ... and ${problems.length - shown.length} more`);
  io.stderr(`${shown.join('\n')}\nNo manifest written.\n`);
  return ExitCode.Invalid;
}

function parseConcurrency(raw: string | undefined): number {
  if (raw === undefined) return DEFAULT_CONCURRENCY;
  const value = Number(raw);
  if (!/^\d+$/.test(raw) || value < 1 || value > MAX_CONCURRENCY) {
    throw new UsageError(`--concurrency must be a whole number from 1 to ${MAX_CONCURRENCY}, got '${raw}'`);
  }
  return value;
}

/** The manifest must not land in the directory it lists: the next run, and the upload, would include it. */
async function checkOutOutside(source: Source, out: string, cwd: string): Promise<void> {
  if (source.prefix !== undefined) return;
  const outAbs = resolve(cwd, out);
  const outReal = join(await realpath(dirname(outAbs)).catch(() => dirname(outAbs)), basename(outAbs));
  const rootReal = await realpath(resolve(cwd, source.where));
  if (isInside(rootReal, outReal)) {
    throw new UsageError(`--out ${out} is inside ${source.where}: write the manifest outside the directory it lists`);
  }
}

// ---------------------------------------------------------------------------------------------
// Local directories
// ---------------------------------------------------------------------------------------------

async function localSource(dir: string, cwd: string): Promise<Source> {
  const root = resolve(cwd, dir);
  const stats = await stat(root).catch((error: NodeJS.ErrnoException) => {
    throw new UsageError(
      error.code === 'ENOENT' ? `${dir}: no such directory` : `${dir}: cannot read it (${error.code ?? error.message})`,
    );
  });
  if (!stats.isDirectory()) throw new UsageError(`${dir}: not a directory`);
  const rootReal = await realpath(root);
  return {
    where: dir,
    prefix: undefined,
    name: basename(rootReal) || 'model',
    list: () => walk(dir, rootReal),
    close: () => {},
  };
}

/**
 * Every file under `rootReal`, depth first. Symlinks are resolved: one that stays inside the
 * directory stands for its target (as `aws s3 sync` uploads it), one that leaves it is refused,
 * because Ballast would pin bytes the directory does not hold.
 */
async function walk(display: string, rootReal: string): Promise<FoundFile[]> {
  const files: FoundFile[] = [];
  const problems: string[] = [];
  const shown = (rel: string) => `${display.replace(/\/+$/, '')}/${rel}`;
  const add = (path: string, sizeBytes: number, real: string) => {
    files.push({ path, sizeBytes, read: (signal) => readLocal(real, signal) });
    // Stop walking a huge tree as soon as it is too big: listing the rest would only take time.
    if (files.length > MAX_FILES) {
      throw new DirectoryRuleError([
        `${display}: more than ${MAX_FILES.toLocaleString('en-US')} files; a model directory may hold at most ${MAX_FILES.toLocaleString('en-US')} (point at the model's own directory)`,
      ]);
    }
  };
  // `ancestors` holds the real paths of the directories being walked, to refuse symlink loops.
  const visit = async (dirReal: string, relDir: string, ancestors: ReadonlySet<string>): Promise<void> => {
    const entries = await readdir(dirReal, { withFileTypes: true });
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const entry of entries) {
      const rel = relDir === '' ? entry.name : `${relDir}/${entry.name}`;
      const full = join(dirReal, entry.name);
      if (entry.isDirectory()) {
        await visit(full, rel, new Set([...ancestors, full]));
      } else if (entry.isFile()) {
        add(rel, (await stat(full)).size, full);
      } else if (entry.isSymbolicLink()) {
        const target = await realpath(full).catch(() => undefined);
        if (target === undefined) {
          problems.push(`${shown(rel)} is a broken symlink`);
        } else if (!isInside(rootReal, target)) {
          problems.push(
            `${shown(rel)} is a symlink to ${target}, outside ${display}: the manifest pins only what the directory holds; copy the target in (cp -L) or download the model without symlinks (e.g. huggingface-cli download --local-dir)`,
          );
        } else {
          const targetStats = await stat(target);
          if (targetStats.isFile()) add(rel, targetStats.size, target);
          else if (!targetStats.isDirectory())
            problems.push(`${shown(rel)} leads to ${target}, which is not a regular file`);
          else if (ancestors.has(target)) problems.push(`${shown(rel)} is a symlink loop (it leads back to ${target})`);
          else await visit(target, rel, new Set([...ancestors, target]));
        }
      } else {
        problems.push(`${shown(rel)} is not a regular file (a socket, FIFO or device)`);
      }
    }
  };
  await visit(rootReal, '', new Set([rootReal]));
  if (problems.length > 0) throw new DirectoryRuleError(problems);
  return files;
}

async function* readLocal(path: string, signal: AbortSignal): AsyncIterable<Uint8Array> {
  yield* createReadStream(path, { highWaterMark: READ_CHUNK_BYTES, signal }) as AsyncIterable<Uint8Array>;
}

function isInside(root: string, path: string): boolean {
  return path === root || path.startsWith(root.endsWith(sep) ? root : `${root}${sep}`);
}

// ---------------------------------------------------------------------------------------------
// S3 prefixes
// ---------------------------------------------------------------------------------------------

const S3_PREFIX = /^s3:\/\/([a-z0-9][a-z0-9.-]{1,61}[a-z0-9])\/(.*)$/;

function s3Source(uri: string): Source {
  const match = S3_PREFIX.exec(uri);
  const bucket = match?.[1];
  const rawKey = match?.[2];
  if (bucket === undefined || rawKey === undefined) {
    throw new UsageError(`${uri} is not an S3 prefix: expected s3://BUCKET/PREFIX/ (a lowercase bucket name)`);
  }
  // The prefix names a directory: without the "/", s3://b/llm would also list s3://b/llm-old/...
  const prefix = rawKey === '' || rawKey.endsWith('/') ? rawKey : `${rawKey}/`;
  // The SDK's standard configuration (AWS_ENDPOINT_URL, AWS_REGION, profiles) decides where requests
  // go, as for every Ballast client; source buckets often live in another region than the caller's.
  const s3 = new S3Client({
    followRegionRedirects: true,
    // Fail fast on an endpoint that is not there, but let a slow 40 GiB body stream.
    requestHandler: new NodeHttpHandler({ connectionTimeout: 5_000, requestTimeout: 120_000 }),
  });
  const where = `s3://${bucket}/${prefix}`;
  return {
    where,
    prefix: where,
    name: prefix.split('/').filter(Boolean).pop() ?? bucket,
    list: () => listS3(s3, bucket, prefix, where),
    close: () => s3.destroy(),
  };
}

async function listS3(s3: S3Client, bucket: string, prefix: string, where: string): Promise<FoundFile[]> {
  const files: FoundFile[] = [];
  let token: string | undefined;
  do {
    const page = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }));
    for (const object of page.Contents ?? []) {
      const key = object.Key;
      // Keys ending in "/" are the empty "folder" objects consoles create, not files.
      if (key === undefined || key.endsWith('/')) continue;
      const etag = object.ETag;
      files.push({
        path: key.slice(prefix.length),
        sizeBytes: object.Size ?? 0,
        read: (signal) => readS3(s3, bucket, key, etag, signal),
      });
      if (files.length > MAX_FILES) {
        throw new DirectoryRuleError([
          `${where}: more than ${MAX_FILES.toLocaleString('en-US')} objects; a model directory may hold at most ${MAX_FILES.toLocaleString('en-US')} files (point at the model's own prefix)`,
        ]);
      }
    }
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token);
  return files;
}

async function* readS3(
  s3: S3Client,
  bucket: string,
  key: string,
  etag: string | undefined,
  signal: AbortSignal,
): AsyncIterable<Uint8Array> {
  let response: GetObjectCommandOutput;
  try {
    // If-Match: the bytes hashed are those of the object listed, not of one overwritten since.
    response = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key, IfMatch: etag }), {
      abortSignal: signal,
    });
  } catch (error) {
    if ((error as Error).name === 'PreconditionFailed') {
      throw new ReadError(`s3://${bucket}/${key} changed after it was listed; run again once the upload is complete`);
    }
    throw error;
  }
  // In Node the SDK's body is an http.IncomingMessage: a stream read in the socket's chunks.
  if (response.Body !== undefined) yield* response.Body as AsyncIterable<Uint8Array>;
}

// ---------------------------------------------------------------------------------------------
// Hashing
// ---------------------------------------------------------------------------------------------

async function sha256Of(file: FoundFile, signal: AbortSignal, source: Source): Promise<string> {
  const hash = createHash('sha256');
  let bytes = 0;
  for await (const chunk of file.read(signal)) {
    // Another file failed: stop reading this one (leaving the loop closes its stream).
    if (signal.aborted) break;
    hash.update(chunk);
    bytes += chunk.byteLength;
  }
  if (signal.aborted) throw signal.reason;
  // The size was checked against the limits before hashing; a file still being written would be
  // pinned with a size and digest that match neither what was checked nor what will be uploaded.
  if (bytes !== file.sizeBytes) {
    throw new ReadError(
      `${source.where.replace(/\/+$/, '')}/${file.path} changed while it was read (${file.sizeBytes} bytes listed, ${bytes} read); run again once it is complete`,
    );
  }
  return hash.digest('hex');
}

/**
 * `fn` over `items`, at most `limit` at a time, results in the order of `items`. The first failure
 * aborts the signal the others read with, and is what this rejects with once they have stopped.
 */
async function mapLimit<T, R>(
  items: readonly T[],
  limit: number,
  fn: (item: T, signal: AbortSignal) => Promise<R>,
): Promise<R[]> {
  const results = new Array<R>(items.length);
  const controller = new AbortController();
  let next = 0;
  let failure: { error: unknown } | undefined;
  const worker = async () => {
    while (failure === undefined && next < items.length) {
      const index = next++;
      try {
        results[index] = await fn(items[index] as T, controller.signal);
      } catch (error) {
        failure ??= { error };
        controller.abort(new Error('another file failed'));
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  if (failure !== undefined) throw failure.error;
  return results;
}

// ---------------------------------------------------------------------------------------------
// Messages
// ---------------------------------------------------------------------------------------------

function describeError(error: unknown, source: Source): string {
  if (error instanceof ReadError || error instanceof UsageError) return error.message;
  const e = error as NodeJS.ErrnoException;
  if (source.prefix === undefined && typeof e?.code === 'string' && typeof e.path === 'string') {
    return `cannot read ${e.path}: ${e.code}`;
  }
  // explainError's advice names a --region flag this command does not have (the SDK's own
  // configuration decides, and any region will do: the client follows the bucket's redirect).
  if (/Region is missing/.test(String((error as Error)?.message))) {
    return 'no AWS region: set AWS_REGION or a region in your AWS profile (the bucket may be in any region)';
  }
  // The sandbox hint in explainError needs the endpoint; it comes from the same variables the SDK reads.
  const endpoint = process.env.AWS_ENDPOINT_URL_S3 || process.env.AWS_ENDPOINT_URL || undefined;
  return explainError(error, { where: source.where, endpoint });
}

function count(n: number, noun: string): string {
  return `${n.toLocaleString('en-US')} ${noun}${n === 1 ? '' : 's'}`;
}

/** `812 B`, `4.0 KiB`, `1.5 GiB`: binary units, as the 40 GiB limit is. */
export function formatBytes(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${bytes} B` : `${value.toFixed(1)} ${units[unit]}`;
}
