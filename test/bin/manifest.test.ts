// `ballast manifest` in-process through the CLI entry: local directories on a temporary disk, and
// S3 prefixes in the sandbox's S3 through the SDK's standard configuration (AWS_ENDPOINT_URL).
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { link, mkdir, mkdtemp, readdir, readFile, rm, stat, symlink, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { CreateBucketCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { parse } from 'yaml';
import { main } from '../../bin/cli.ts';
import { MAX_FILE_BYTES, MAX_FILES, type ManifestFile } from '../../lambdas/spec/manifest.ts';
import { type Sandbox, startSandbox } from '../../sandbox/sandbox.ts';
import { captureIo } from '../support/cli.ts';

interface Manifest {
  apiVersion: string;
  kind: string;
  files: ManifestFile[];
}

const sha256 = (data: string | Buffer) => createHash('sha256').update(data).digest('hex');

/** The manifest entries for `contents`, computed independently of the command: node:crypto, sorted by path. */
function expectedFiles(contents: Record<string, string | Buffer>): ManifestFile[] {
  return Object.entries(contents)
    .map(([path, data]) => ({ path, sizeBytes: Buffer.byteLength(data), sha256: sha256(data) }))
    .sort((a, b) => (a.path < b.path ? -1 : 1));
}

async function writeTree(root: string, contents: Record<string, string | Buffer>): Promise<void> {
  for (const [path, data] of Object.entries(contents)) {
    await mkdir(dirname(join(root, path)), { recursive: true });
    await writeFile(join(root, path), data);
  }
}

async function run(args: string[]) {
  const io = captureIo();
  const code = await main(['manifest', ...args], io);
  return { code, out: io.out(), err: io.err() };
}

/** The artifact: block the command prints last, parsed. */
function pastedBlock(text: string): unknown {
  const at = text.indexOf('\nartifact:\n');
  assert.notEqual(at, -1, `no artifact: block in\n${text}`);
  return parse(text.slice(at + 1));
}

describe('ballast manifest: a local directory', () => {
  let work = '';
  let llm = '';
  // Nested folders, an empty file, a hidden file, and shards that span several read chunks.
  const contents: Record<string, string | Buffer> = {
    'config.json': '{"architectures":["LlamaForCausalLM"]}\n',
    '.gitattributes': '*.safetensors filter=lfs\n',
    'tokenizer/tokenizer.json': '{"version":"1.0"}',
    'tokenizer/special/added_tokens.txt': '',
    'shards/model-00001-of-00002.safetensors': randomBytes(2.5 * 1024 * 1024),
    'shards/model-00002-of-00002.safetensors': randomBytes(1024 * 1024 + 3),
  };
  before(async () => {
    work = await mkdtemp(join(tmpdir(), 'ballast-manifest-'));
    llm = join(work, 'llm');
    await writeTree(llm, contents);
  });
  after(async () => {
    await rm(work, { recursive: true, force: true });
  });

  it('lists every file, recursively, with its relative POSIX path, size and sha256, sorted by path', async () => {
    const out = join(work, 'files.json');
    const result = await run([llm, '--out', out]);
    assert.equal(result.code, 0, result.err);
    const manifest = JSON.parse(await readFile(out, 'utf8')) as Manifest;
    assert.deepEqual(manifest.files, expectedFiles(contents));
  });

  it('writes the contract format: ballast.dev/v1 ModelManifest, 2-space indent, trailing newline', async () => {
    const out = join(work, 'format.json');
    assert.equal((await run([llm, '--out', out])).code, 0);
    const text = await readFile(out, 'utf8');
    const manifest = JSON.parse(text) as Manifest;
    assert.equal(manifest.apiVersion, 'ballast.dev/v1');
    assert.equal(manifest.kind, 'ModelManifest');
    assert.equal(text, `${JSON.stringify(manifest, null, 2)}\n`);
  });

  it('writes the same bytes for the same directory, whatever the concurrency', async () => {
    const one = join(work, 'one.json');
    const eight = join(work, 'eight.json');
    assert.equal((await run([llm, '--out', one, '--concurrency', '1'])).code, 0);
    assert.equal((await run([llm, '--out', eight, '--concurrency', '8'])).code, 0);
    assert.deepEqual(await readFile(eight), await readFile(one));
  });

  it('without --out: the manifest on stdout, its sha256 and the artifact: block to paste on stderr', async () => {
    const result = await run([llm]);
    assert.equal(result.code, 0, result.err);
    assert.deepEqual(pastedBlock(result.err), {
      artifact: {
        prefix: 's3://BUCKET/PATH/llm/',
        manifest: { uri: 's3://BUCKET/PATH/llm.manifest.json', sha256: sha256(result.out) },
      },
    });
  });

  it('with --out: the artifact: block goes to stdout and pins the bytes of the file written', async () => {
    const out = join(work, 'pinned.json');
    const result = await run([llm, '--out', out]);
    assert.equal(result.code, 0, result.err);
    const block = pastedBlock(result.out) as { artifact: { manifest: { sha256: string } } };
    assert.equal(block.artifact.manifest.sha256, sha256(await readFile(out)));
  });

  it('--inline writes the artifact: block with the files: list as YAML instead of a manifest', async () => {
    const result = await run([llm, '--inline']);
    assert.equal(result.code, 0, result.err);
    assert.deepEqual(parse(result.out), {
      artifact: { prefix: 's3://BUCKET/PATH/llm/', files: expectedFiles(contents) },
    });
  });

  it('counts a symlink to a file inside the directory as that file, under its own path', async () => {
    const dir = join(work, 'linked');
    await writeTree(dir, { 'weights/model.safetensors': 'weights' });
    await symlink('weights/model.safetensors', join(dir, 'model.safetensors'));
    const result = await run([dir, '--inline']);
    assert.equal(result.code, 0, result.err);
    assert.deepEqual(
      (parse(result.out) as { artifact: { files: ManifestFile[] } }).artifact.files,
      expectedFiles({ 'model.safetensors': 'weights', 'weights/model.safetensors': 'weights' }),
    );
  });

  it('refuses a symlink that leads out of the directory (../), and writes nothing', async () => {
    const dir = join(work, 'escapes');
    await writeTree(dir, { 'config.json': '{}' });
    await writeFile(join(work, 'secret.txt'), 'not part of the model');
    await symlink('../secret.txt', join(dir, 'tokenizer.json'));
    const out = join(work, 'escapes.json');
    const result = await run([dir, '--out', out]);
    assert.equal(result.code, 1);
    assert.match(result.err, /escapes\/tokenizer\.json is a symlink to .*secret\.txt, outside /);
    await assert.rejects(stat(out), { code: 'ENOENT' });
  });

  it('refuses a symlink loop', async () => {
    const dir = join(work, 'loop');
    await writeTree(dir, { 'sub/config.json': '{}' });
    await symlink('..', join(dir, 'sub', 'again'));
    const result = await run([dir]);
    assert.equal(result.code, 1);
    assert.match(result.err, /loop\/sub\/again is a symlink loop/);
  });

  it('refuses a file over 40 GiB before reading any file', async () => {
    const dir = join(work, 'huge');
    await writeTree(dir, { 'config.json': '{}', 'model.safetensors': '' });
    // A sparse file: its size is what the limit checks, and nothing is read.
    await truncate(join(dir, 'model.safetensors'), MAX_FILE_BYTES + 1);
    const result = await run([dir]);
    assert.equal(result.code, 1);
    assert.match(
      result.err,
      /huge\/model\.safetensors: sizeBytes is [\d.]+ GiB \(\d+ bytes\); Ballast verifies one file per Lambda and accepts at most 40 GiB per file/,
    );
    assert.doesNotMatch(result.err, /Hashing/);
  });

  it(`refuses more than ${MAX_FILES} files`, async () => {
    const dir = join(work, 'many');
    await mkdir(dir);
    // Hard links to one empty file: 10,001 regular files at the cost of directory entries only.
    await writeFile(join(dir, 'f0'), '');
    for (let i = 1; i <= MAX_FILES; i += 500) {
      const batch = Array.from({ length: Math.min(500, MAX_FILES + 1 - i) }, (_, j) => i + j);
      await Promise.all(batch.map((n) => link(join(dir, 'f0'), join(dir, `f${n}`))));
    }
    assert.equal((await readdir(dir)).length, MAX_FILES + 1);
    const result = await run([dir]);
    assert.equal(result.code, 1);
    assert.match(result.err, /more than 10,000 files/);
  });

  it('refuses an empty directory', async () => {
    const dir = join(work, 'empty');
    await mkdir(dir);
    const result = await run([dir]);
    assert.equal(result.code, 1);
    assert.match(result.err, /empty: no files/);
  });

  it('refuses to write the manifest inside the directory it lists (the next run would list it)', async () => {
    const result = await run([llm, '--out', join(llm, 'manifest.json')]);
    assert.equal(result.code, 2);
    assert.match(result.err, /is inside .*write the manifest outside the directory it lists/);
  });

  it('a directory that does not exist is a usage error', async () => {
    const result = await run([join(work, 'nope')]);
    assert.equal(result.code, 2);
    assert.match(result.err, /nope: no such directory/);
  });

  it('--concurrency must be from 1 to 64', async () => {
    const result = await run([llm, '--concurrency', '0']);
    assert.equal(result.code, 2);
    assert.match(result.err, /--concurrency must be a whole number from 1 to 64, got '0'/);
  });

  it('is listed in `ballast --help`', async () => {
    const io = captureIo();
    assert.equal(await main(['--help'], io), 0);
    assert.match(io.out(), /\n {2}manifest +Write the manifest that pins a model directory/);
  });
});

describe('ballast manifest: an S3 prefix', () => {
  let sandbox: Sandbox;
  let work = '';
  const saved = { ...process.env };
  // More objects than one ListObjectsV2 page holds (1,000), so the listing must follow the pages.
  const contents: Record<string, string> = Object.fromEntries(
    Array.from({ length: 1_100 }, (_, i) => [`shards/${String(i).padStart(4, '0')}.bin`, `shard ${i}\n`.repeat(i % 7)]),
  );
  contents['config.json'] = '{"model_type":"llama"}';
  let manifestText = '';
  let pasted = '';

  before(async () => {
    sandbox = await startSandbox();
    // The command's client reads the SDK's standard configuration, as it would against AWS.
    Object.assign(process.env, sandbox.env());
    work = await mkdtemp(join(tmpdir(), 'ballast-manifest-s3-'));
    const s3 = new S3Client({});
    try {
      await s3.send(new CreateBucketCommand({ Bucket: 'models' }));
      const objects: Array<[string, string]> = [
        ...Object.entries(contents).map(([path, body]): [string, string] => [`llm/${path}`, body]),
        // Folder markers as the S3 console creates them, and a neighbour the prefix must not match.
        ['llm/', ''],
        ['llm/shards/', ''],
        ['llm-old/stale.bin', 'stale'],
        // Keys no model directory may hold: an empty and a ".." segment.
        ['bad/a//b.bin', 'b'],
        ['bad/a/../c.bin', 'c'],
      ];
      for (let i = 0; i < objects.length; i += 50) {
        await Promise.all(
          objects
            .slice(i, i + 50)
            .map(([Key, Body]) =>
              s3.send(new PutObjectCommand({ Bucket: 'models', Key, Body, ContentLength: Buffer.byteLength(Body) })),
            ),
        );
      }
    } finally {
      s3.destroy();
    }
    const out = join(work, 'llm.manifest.json');
    const result = await run(['s3://models/llm/', '--out', out, '--concurrency', '8']);
    assert.equal(result.code, 0, result.err);
    manifestText = await readFile(out, 'utf8');
    pasted = result.out;
  });
  after(async () => {
    for (const name of Object.keys(process.env)) if (!(name in saved)) delete process.env[name];
    Object.assign(process.env, saved);
    await sandbox.stop();
    await rm(work, { recursive: true, force: true });
  });

  it('lists every object under the prefix across ListObjectsV2 pages, without folder markers or neighbours', () => {
    assert.deepEqual((JSON.parse(manifestText) as Manifest).files, expectedFiles(contents));
  });

  it('the artifact: block names the prefix and a manifest next to it, pinned by its sha256', () => {
    assert.deepEqual(pastedBlock(pasted), {
      artifact: {
        prefix: 's3://models/llm/',
        manifest: { uri: 's3://models/llm.manifest.json', sha256: sha256(manifestText) },
      },
    });
  });

  it('reads a prefix given without its trailing "/" as the same directory, byte for byte', async () => {
    const result = await run(['s3://models/llm', '--concurrency', '8']);
    assert.equal(result.code, 0, result.err);
    assert.equal(result.out, manifestText);
  });

  it('refuses keys whose relative path has an empty or a ".." segment', async () => {
    const result = await run(['s3://models/bad/']);
    assert.equal(result.code, 1);
    // The wording is the spec's (checkFiles); what matters here is that both keys are named.
    assert.match(result.err, /a\/\/b\.bin/);
    assert.match(result.err, /a\/\.\.\/c\.bin/);
  });

  it('a bucket that does not exist: exit 2, saying so', async () => {
    const result = await run(['s3://no-such-models/llm/']);
    assert.equal(result.code, 2);
    assert.match(result.err, /s3:\/\/no-such-models\/llm\/: the bucket does not exist/);
  });
});
