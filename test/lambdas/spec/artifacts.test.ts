// Model artifacts: a .tar.gz archive or an uncompressed directory, each error at its line with
// what would be right.
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import {
  isArchiveArtifact,
  MAX_FILE_BYTES,
  memorySource,
  type ValidationResult,
  validateRepository,
} from '../../../lambdas/spec/index.ts';
import { briefs, EXAMPLE, only } from './helpers.ts';

const A = 'a'.repeat(64);
let repositoryYaml = '';
before(async () => {
  repositoryYaml = await readFile(join(EXAMPLE, 'ballast.yaml'), 'utf8');
});

/** A Model whose artifact block is `artifact` (indented by four spaces; it starts on line 7). */
function model(artifact: string): string {
  return `apiVersion: ballast.dev/v1
kind: Model
metadata:
  name: llm
spec:
  artifact:
${artifact}
  image: 763104351884.dkr.ecr.us-east-1.amazonaws.com/djl-inference:0.31.0-lmi13.0.0-cu124
`;
}

function validate(artifact: string): Promise<ValidationResult> {
  return validateRepository(memorySource({ 'ballast.yaml': repositoryYaml, 'models/llm.yaml': model(artifact) }));
}

const archive = (overrides: { uri?: string; size?: string } = {}) =>
  `    uri: ${overrides.uri ?? 's3://acme-models/llm/model.tar.gz'}\n    sha256: ${A}\n    sizeBytes: ${overrides.size ?? '1024'}`;

const file = (path: string, size = 1) =>
  `      - { path: ${JSON.stringify(path)}, sha256: "${A}", sizeBytes: ${size} }`;
const directory = (...files: string[]) => `    prefix: s3://acme-models/llm/dir/\n    files:\n${files.join('\n')}`;

describe('archive artifacts', () => {
  it('accepts a .tar.gz archive with its digest and size', async () => {
    const result = await validate(archive());
    assert.deepEqual(result.issues, []);
  });

  it('tells an archive from a directory by its uri', async () => {
    const result = await validate(archive());
    const artifact = result.repository?.models.get('llm')?.spec.artifact;
    assert.ok(artifact && isArchiveArtifact(artifact));
  });

  it('refuses an archive that does not end in .tar.gz, citing SageMaker', async () => {
    const result = await validate(archive({ uri: 's3://acme-models/llm/model.safetensors' }));
    assert.deepEqual(briefs(result), ['error format models/llm.yaml:7:10 $.spec.artifact.uri']);
  });

  it('says why .tar.gz and what to use for a directory', async () => {
    const result = await validate(archive({ uri: 's3://acme-models/llm/model.tar' }));
    const issue = only(result, 'format', '$.spec.artifact.uri');
    assert.deepEqual(
      [issue.message, issue.expected],
      [
        "artifact.uri 's3://acme-models/llm/model.tar' does not end in .tar.gz: SageMaker only loads a gzip-compressed tar archive from one object",
        "an S3 object URI ending in .tar.gz (s3://BUCKET/KEY.tar.gz): SageMaker's ModelDataUrl must point to a single gzip-compressed tar archive; for an uncompressed model directory use prefix and files instead",
      ],
    );
  });

  it('requires sizeBytes', async () => {
    const result = await validate(`    uri: s3://acme-models/llm/model.tar.gz\n    sha256: ${A}`);
    assert.equal(only(result, 'required', '$.spec.artifact.sizeBytes').message, "missing required field 'sizeBytes'");
  });

  it('refuses an empty archive', async () => {
    const result = await validate(archive({ size: '0' }));
    assert.deepEqual(briefs(result), ['error range models/llm.yaml:9:16 $.spec.artifact.sizeBytes']);
  });

  it('refuses an archive over 40 GiB and says to pin a directory instead', async () => {
    const result = await validate(archive({ size: String(MAX_FILE_BYTES + 1) }));
    assert.equal(
      only(result, 'range', '$.spec.artifact.sizeBytes').message,
      `artifact.sizeBytes is 40.1 GiB (${MAX_FILE_BYTES + 1} bytes); Ballast verifies one file per Lambda and accepts at most 40 GiB per file: pin the model as an uncompressed directory instead (artifact.prefix with its files), whose files are verified in parallel`,
    );
  });

  it('names the form a directory field belongs to', async () => {
    const result = await validate(`${archive()}\n    files: []`);
    assert.equal(
      only(result, 'unknown-field', '$.spec.artifact.files').message,
      "unknown field 'files': it belongs to a model directory (prefix with files or manifest), but this artifact is a .tar.gz archive (it has uri)",
    );
  });
});

describe('directory artifacts', () => {
  it('accepts a prefix with inline files', async () => {
    const result = await validate(directory(file('config.json'), file('model-00001-of-00002.safetensors', 0)));
    assert.deepEqual(result.issues, []);
  });

  it('accepts a prefix with a pinned manifest', async () => {
    const result = await validate(
      `    prefix: s3://acme-models/llm/dir/\n    manifest:\n      uri: s3://acme-models/llm/dir.manifest.json\n      sha256: "${A}"`,
    );
    assert.deepEqual(result.issues, []);
  });

  it('keeps the files as declared', async () => {
    const result = await validate(directory(file('config.json', 12)));
    assert.deepEqual(result.repository?.models.get('llm')?.spec.artifact, {
      prefix: 's3://acme-models/llm/dir/',
      files: [{ path: 'config.json', sha256: A, sizeBytes: 12 }],
    });
  });

  it('refuses a prefix that does not end in "/"', async () => {
    const result = await validate(`    prefix: s3://acme-models/llm/dir\n    files:\n${file('config.json')}`);
    assert.equal(
      only(result, 'format', '$.spec.artifact.prefix').message,
      `artifact.prefix 's3://acme-models/llm/dir' does not end in "/"`,
    );
  });

  it('points at a path that leaves the directory', async () => {
    const result = await validate(directory(file('config.json'), file('../secrets.json')));
    assert.deepEqual(briefs(result), ['error format models/llm.yaml:10:17 $.spec.artifact.files[1].path']);
  });

  it('says what is wrong with the path and what a path should be', async () => {
    const result = await validate(directory(file('/etc/passwd')));
    const issue = only(result, 'format', '$.spec.artifact.files[0].path');
    assert.deepEqual(
      [issue.message, issue.expected],
      [
        `path '/etc/passwd' starts with "/": paths are relative to the directory`,
        'a relative POSIX path such as config.json or tokenizer/vocab.json: no leading or trailing "/", no ".", ".." or empty segments, no control characters, at most 512 characters',
      ],
    );
  });

  it('points at the second of two files with one path', async () => {
    const result = await validate(directory(file('config.json'), file('config.json')));
    assert.equal(
      only(result, 'duplicate-value', '$.spec.artifact.files[1].path').message,
      "path 'config.json' is listed twice (also files[0])",
    );
  });

  it('refuses a path that is both a file and a directory', async () => {
    const result = await validate(directory(file('tokenizer'), file('tokenizer/vocab.json')));
    assert.deepEqual(briefs(result), ['error duplicate-value models/llm.yaml:10:17 $.spec.artifact.files[1].path']);
  });

  it('refuses a file over 40 GiB at its size, with what to do', async () => {
    const result = await validate(directory(file('model.bin', 50 * 1024 ** 3)));
    assert.match(
      only(result, 'range', '$.spec.artifact.files[0].sizeBytes').message,
      /^sizeBytes is 50 GiB \(53687091200 bytes\); Ballast verifies one file per Lambda and accepts at most 40 GiB per file: split it/,
    );
  });

  it('refuses a directory without files or manifest, at the artifact', async () => {
    const result = await validate('    prefix: s3://acme-models/llm/dir/');
    assert.deepEqual(briefs(result), ['error required models/llm.yaml:6:3 $.spec.artifact']);
  });

  it('refuses both files and a manifest, at the manifest', async () => {
    const result = await validate(
      `${directory(file('config.json'))}\n    manifest: { uri: s3://acme-models/llm/m.json, sha256: "${A}" }`,
    );
    assert.deepEqual(briefs(result), ['error exactly-one models/llm.yaml:10:5 $.spec.artifact.manifest']);
  });

  it('refuses an empty file list', async () => {
    const result = await validate('    prefix: s3://acme-models/llm/dir/\n    files: []');
    assert.equal(only(result, 'range', '$.spec.artifact.files').expected, 'a list of 1 to 10000 files');
  });

  it('refuses a path that makes the S3 key longer than 1024 bytes', async () => {
    const prefix = `s3://acme-models/${'p'.repeat(600)}/`;
    const result = await validate(`    prefix: ${prefix}\n    files:\n${file('x'.repeat(500))}`);
    assert.match(only(result, 'range', '$.spec.artifact.files[0].path').message, /S3 keys are at most 1024 bytes/);
  });

  it('names the form an archive field belongs to', async () => {
    const result = await validate(`${directory(file('config.json'))}\n    sha256: "${A}"`);
    assert.equal(
      only(result, 'unknown-field', '$.spec.artifact.sha256').message,
      "unknown field 'sha256': it belongs to a .tar.gz archive (uri, sha256, sizeBytes), but this artifact is a model directory (it has prefix)",
    );
  });
});

describe('artifacts of neither form', () => {
  it('says an empty artifact does not say which form it is', async () => {
    const result = await validate('    {}');
    const issue = only(result, 'required', '$.spec.artifact');
    assert.deepEqual(
      [issue.message, issue.expected],
      [
        'artifact does not say which form it is',
        'a mapping with uri, sha256 and sizeBytes (a .tar.gz archive), or with prefix and files or manifest (an uncompressed model directory)',
      ],
    );
  });

  it('says an artifact with the fields of both forms mixes them', async () => {
    const result = await validate(`${archive()}\n    prefix: s3://acme-models/llm/dir/\n    files:\n${file('a')}`);
    const issue = only(result, 'exactly-one', '$.spec.artifact');
    assert.deepEqual(
      [issue.message, issue.expected],
      [
        'artifact mixes the fields of different forms',
        'either uri (a .tar.gz archive) or prefix (a model directory), not both',
      ],
    );
  });

  it('says a string is not an artifact', async () => {
    const result = await validate('    s3://acme-models/llm/model.tar.gz');
    assert.deepEqual(briefs(result), ['error type models/llm.yaml:7:5 $.spec.artifact']);
  });
});
