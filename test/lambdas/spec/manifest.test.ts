// Model directory manifests: the rules every pinned file follows, the canonical text the CLI
// writes, the digest that names a directory, and what a hostile manifest gets back.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  checkFiles,
  directoryDigest,
  MAX_FILE_BYTES,
  MAX_FILES,
  MAX_MANIFEST_BYTES,
  type ManifestFile,
  parseManifest,
  renderManifest,
  sha256Hex,
} from '../../../lambdas/spec/index.ts';

const A = 'a'.repeat(64);
const B = 'b'.repeat(64);
const C = 'c'.repeat(64);

const shards: ManifestFile[] = [
  { path: 'model-00002-of-00002.safetensors', sha256: B, sizeBytes: 5_000_000_000 },
  { path: 'config.json', sha256: A, sizeBytes: 1234 },
  { path: 'tokenizer/tokenizer.json', sha256: C, sizeBytes: 0 },
];

function manifest(files: unknown, extra: Record<string, unknown> = {}): string {
  return JSON.stringify({ apiVersion: 'ballast.dev/v1', kind: 'ModelManifest', files, ...extra });
}

function errorOf(text: string): string {
  const parsed = parseManifest(text);
  assert.ok('error' in parsed, `expected an error, got ${JSON.stringify(parsed).slice(0, 200)}`);
  return parsed.error;
}

describe('checkFiles', () => {
  it('accepts a model directory of shards, a tokenizer folder and an empty file', () => {
    assert.deepEqual(checkFiles(shards), []);
  });

  it('accepts a file of exactly 40 GiB', () => {
    assert.deepEqual(checkFiles([{ path: 'model.safetensors', sha256: A, sizeBytes: MAX_FILE_BYTES }]), []);
  });

  it('refuses a path that leaves the directory', () => {
    assert.deepEqual(checkFiles([{ path: '../x', sha256: A, sizeBytes: 1 }]), [
      "files[0].path '../x' has a '..' segment: a file must stay inside the directory",
    ]);
  });

  it('refuses an absolute path', () => {
    assert.match(checkFiles([{ path: '/etc/passwd', sha256: A, sizeBytes: 1 }]).join(), /starts with "\/"/);
  });

  it('refuses "." segments, empty segments and a trailing slash', () => {
    const problems = checkFiles([
      { path: './config.json', sha256: A, sizeBytes: 1 },
      { path: 'tokenizer//vocab.json', sha256: A, sizeBytes: 1 },
      { path: 'tokenizer/', sha256: A, sizeBytes: 1 },
    ]);
    assert.deepEqual(problems, [
      "files[0].path './config.json' has a '.' segment",
      'files[1].path \'tokenizer//vocab.json\' has an empty segment ("//")',
      'files[2].path \'tokenizer/\' ends with "/": list files, not directories',
    ]);
  });

  it('refuses a path longer than 512 characters', () => {
    assert.match(checkFiles([{ path: 'x'.repeat(513), sha256: A, sizeBytes: 1 }]).join(), /is 513 characters long/);
  });

  it('refuses a path with a control character, without printing it', () => {
    assert.deepEqual(checkFiles([{ path: 'a\nb', sha256: A, sizeBytes: 1 }]), [
      "files[0].path 'a?b' contains a control character",
    ]);
  });

  it('refuses a path listed twice, naming the first', () => {
    assert.deepEqual(checkFiles([shards[1] as ManifestFile, { ...(shards[1] as ManifestFile), sha256: B }]), [
      "files[1].path 'config.json' is listed twice (also files[0])",
    ]);
  });

  it('refuses a path that is both a file and a directory', () => {
    assert.deepEqual(
      checkFiles([
        { path: 'tokenizer', sha256: A, sizeBytes: 1 },
        { path: 'tokenizer/vocab.json', sha256: A, sizeBytes: 1 },
      ]),
      [
        "files[1].path 'tokenizer/vocab.json' is inside 'tokenizer', which files[0] lists as a file: a path cannot be a file and a directory",
      ],
    );
  });

  it('refuses a file over 40 GiB with what to do instead', () => {
    assert.deepEqual(checkFiles([{ path: 'model.bin', sha256: A, sizeBytes: MAX_FILE_BYTES + 1 }]), [
      `files[0].sizeBytes is 40.1 GiB (${MAX_FILE_BYTES + 1} bytes); Ballast verifies one file per Lambda and accepts at most 40 GiB per file: split it into smaller files (safetensors shards)`,
    ]);
  });

  it('refuses a negative or fractional size', () => {
    assert.deepEqual(
      checkFiles([
        { path: 'a', sha256: A, sizeBytes: -1 },
        { path: 'b', sha256: A, sizeBytes: 1.5 },
      ]),
      ['files[0].sizeBytes is -1, out of range', 'files[1].sizeBytes is not a whole number of bytes'],
    );
  });

  it('refuses a digest that is not 64 lowercase hex characters', () => {
    assert.deepEqual(checkFiles([{ path: 'a', sha256: A.toUpperCase(), sizeBytes: 1 }]), [
      `files[0].sha256 '${A.toUpperCase().slice(0, 57)}...' is not 64 lowercase hex characters`,
    ]);
  });

  it('refuses an empty directory', () => {
    assert.deepEqual(checkFiles([]), ['files is empty: a model directory has at least one file']);
  });

  it(`refuses more than ${MAX_FILES} files`, () => {
    const files = Array.from({ length: MAX_FILES + 1 }, (_, i) => ({ path: `f${i}`, sha256: A, sizeBytes: 1 }));
    assert.deepEqual(checkFiles(files), [
      `files has ${MAX_FILES + 1} entries; Ballast pins at most ${MAX_FILES} files per directory`,
    ]);
  });
});

describe('renderManifest and parseManifest', () => {
  it('renders files sorted by path, 2-space indented, with a trailing newline', () => {
    const text = renderManifest(shards);
    assert.equal(
      text,
      `{
  "apiVersion": "ballast.dev/v1",
  "kind": "ModelManifest",
  "files": [
    {
      "path": "config.json",
      "sizeBytes": 1234,
      "sha256": "${A}"
    },
    {
      "path": "model-00002-of-00002.safetensors",
      "sizeBytes": 5000000000,
      "sha256": "${B}"
    },
    {
      "path": "tokenizer/tokenizer.json",
      "sizeBytes": 0,
      "sha256": "${C}"
    }
  ]
}
`,
    );
  });

  it('renders the same bytes whatever order the files come in', () => {
    assert.equal(renderManifest([...shards].reverse()), renderManifest(shards));
  });

  it('reads back what it renders', () => {
    const parsed = parseManifest(renderManifest(shards));
    assert.deepEqual(parsed, { files: [...shards].sort((a, b) => (a.path < b.path ? -1 : 1)) });
  });

  it('reads a compact manifest in any file order', () => {
    assert.deepEqual(parseManifest(manifest(shards)), { files: shards });
  });
});

describe('parseManifest refuses', () => {
  it('text that is not JSON', () => {
    assert.match(errorOf('{"apiVersion": '), /^the manifest is not JSON: /);
  });

  it('JSON that is not an object', () => {
    assert.equal(errorOf('[1, 2]'), 'the manifest is a list, not a JSON object');
  });

  it('another kind', () => {
    assert.equal(
      errorOf(JSON.stringify({ apiVersion: 'ballast.dev/v1', kind: 'Model', files: [] })),
      "kind is the string 'Model', not 'ModelManifest'",
    );
  });

  it('another apiVersion', () => {
    assert.equal(
      errorOf(manifest(shards, { apiVersion: 'ballast.dev/v2' })),
      "apiVersion is the string 'ballast.dev/v2', not 'ballast.dev/v1'",
    );
  });

  it('unknown top-level fields', () => {
    assert.equal(errorOf(manifest(shards, { digest: A })), "unknown field 'digest'");
  });

  it('a manifest without files', () => {
    assert.equal(
      errorOf(JSON.stringify({ apiVersion: 'ballast.dev/v1', kind: 'ModelManifest' })),
      'files is missing, not a list',
    );
  });

  it('an entry that is not an object', () => {
    assert.equal(
      errorOf(manifest(['config.json'])),
      "files[0] is the string 'config.json', not an object with path, sizeBytes and sha256",
    );
  });

  it('an entry with a field of the wrong type, naming the entry', () => {
    assert.equal(
      errorOf(manifest([{ path: 'config.json', sizeBytes: '1234', sha256: A }])),
      "files[0].sizeBytes is the string '1234'",
    );
  });

  it('an entry with an unknown field', () => {
    assert.equal(
      errorOf(manifest([{ path: 'config.json', sizeBytes: 1, sha256: A, mode: 420 }])),
      "files[0] has unknown fields: 'mode'",
    );
  });

  it('a path that leaves the directory', () => {
    assert.equal(
      errorOf(manifest([{ path: '../x', sizeBytes: 1, sha256: A }])),
      "files[0].path '../x' has a '..' segment: a file must stay inside the directory",
    );
  });

  it('duplicate paths', () => {
    assert.equal(
      errorOf(manifest([...shards, { path: 'config.json', sizeBytes: 1, sha256: A }])),
      "files[3].path 'config.json' is listed twice (also files[1])",
    );
  });

  it('a file over 40 GiB', () => {
    assert.match(
      errorOf(manifest([{ path: 'model.bin', sizeBytes: 50 * 1024 ** 3, sha256: A }])),
      /^files\[0\]\.sizeBytes is 50 GiB \(53687091200 bytes\); Ballast verifies one file per Lambda/,
    );
  });

  it(`more than ${MAX_FILES} files, without checking each`, () => {
    const files = Array.from({ length: MAX_FILES + 1 }, () => ({ path: '../x', sizeBytes: 1, sha256: A }));
    assert.equal(
      errorOf(manifest(files)),
      `files has ${MAX_FILES + 1} entries; Ballast pins at most ${MAX_FILES} files per directory`,
    );
  });

  it('a text larger than the limit, before parsing it', () => {
    assert.equal(
      errorOf(' '.repeat(MAX_MANIFEST_BYTES + 1)),
      `the manifest is larger than ${MAX_MANIFEST_BYTES} bytes`,
    );
  });

  it('with the first five problems and a count of the rest', () => {
    const files = Array.from({ length: 7 }, (_, i) => ({ path: `/f${i}`, sizeBytes: 1, sha256: A }));
    assert.match(errorOf(manifest(files)), /^files\[0\]\.path '\/f0' starts with .*; and 2 more problems$/);
  });
});

describe('directoryDigest', () => {
  it('is the sha256 of the canonical JSON of the files sorted by path', () => {
    const sorted = [...shards].sort((a, b) => (a.path < b.path ? -1 : 1));
    const canonical = `[${sorted.map((f) => `{"path":${JSON.stringify(f.path)},"sha256":"${f.sha256}","sizeBytes":${f.sizeBytes}}`).join(',')}]`;
    assert.equal(directoryDigest(shards), sha256Hex(canonical));
  });

  it('does not depend on the order the files are listed in', () => {
    assert.equal(directoryDigest([...shards].reverse()), directoryDigest(shards));
  });

  it('changes when one file changes', () => {
    const changed = shards.map((file) => (file.path === 'config.json' ? { ...file, sha256: C } : file));
    assert.notEqual(directoryDigest(changed), directoryDigest(shards));
  });

  it('ignores fields other than path, sha256 and sizeBytes', () => {
    const extra = shards.map((file) => ({ ...file, note: 'x' }));
    assert.equal(directoryDigest(extra), directoryDigest(shards));
  });
});
