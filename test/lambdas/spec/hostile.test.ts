// Hostile input: every case must end in a clear issue, fast, without reading what it must not read.
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  directorySource,
  memorySource,
  type RepoEntry,
  type RepoSource,
  type ValidationResult,
  validateRepository,
} from '../../../lambdas/spec/index.ts';
import { briefs, EXAMPLE } from './helpers.ts';

let repositoryYaml = '';
before(async () => {
  repositoryYaml = await readFile(join(EXAMPLE, 'ballast.yaml'), 'utf8');
  await validateRepository(memorySource({ 'ballast.yaml': repositoryYaml })); // warm up (module init, regexes)
});

/** A repository whose only problem is `file`. */
function withRepository(files: Record<string, string | Uint8Array>): RepoSource {
  return memorySource({ 'ballast.yaml': repositoryYaml, ...files });
}

function config(data: string): string {
  return `apiVersion: ballast.dev/v1\nkind: Config\nmetadata:\n  name: hostile\nspec:\n  data:\n${data}`;
}

/** 1-based line and column of `offset` in `text`. */
function position(text: string, offset: number): string {
  const before = text.slice(0, offset);
  return `${before.split('\n').length}:${offset - before.lastIndexOf('\n')}`;
}

async function timed(source: RepoSource): Promise<{ result: ValidationResult; ms: number }> {
  const start = performance.now();
  const result = await validateRepository(source);
  return { result, ms: performance.now() - start };
}

/** A source that lists entries without content and fails the test if anything is read. */
function listingOnly(entries: RepoEntry[]): RepoSource & { reads: string[] } {
  const reads: string[] = [];
  return {
    reads,
    async list() {
      return entries;
    },
    async read(path) {
      reads.push(path);
      throw new Error(`must not read ${path}`);
    },
  };
}

describe('aliases', () => {
  it('refuses a billion-laughs alias bomb in well under a second', async () => {
    const levels = ['    a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]'];
    for (let i = 1; i < 12; i++) {
      const name = String.fromCharCode(97 + i);
      const previous = `*${String.fromCharCode(96 + i)}`;
      levels.push(`    ${name}: &${name} [${Array(9).fill(previous).join(', ')}]`);
    }
    const text = config(`${levels.join('\n')}\n`);
    const { result, ms } = await timed(withRepository({ 'configs/bomb.yaml': text }));
    assert.ok(ms < 500, `took ${ms} ms`);
    assert.deepEqual(briefs(result), [
      `error alias-limit configs/bomb.yaml:${position(text, text.indexOf('*c'))} $.spec.data.d[0][0]`,
    ]);
    assert.match(result.issues[0]?.message ?? '', /more than 100 aliases in one document; the document was not read/);
  });

  it('bounds what aliases expand to', async () => {
    const big = `    big: &big [${Array.from({ length: 2000 }, (_, i) => i).join(', ')}]\n`;
    const copies = Array.from({ length: 10 }, (_, i) => `    copy${i}: *big\n`).join('');
    const text = config(big + copies);
    // Each copy is 2001 values: the budget of 10000 runs out at item 1995 of the fifth copy.
    const { result, ms } = await timed(withRepository({ 'configs/wide.yaml': text }));
    assert.ok(ms < 1000, `took ${ms} ms`);
    assert.deepEqual(briefs(result), [
      `error alias-limit configs/wide.yaml:${position(text, text.indexOf('*big', text.indexOf('copy4')))} $.spec.data.copy4[1995]`,
    ]);
    assert.match(result.issues[0]?.message ?? '', /aliases expand to more than 10000 values/);
  });

  it('expands ordinary anchors, aliases and merge keys', async () => {
    const text = `apiVersion: ballast.dev/v1
kind: Model
metadata:
  name: merged
spec:
  artifact:
    uri: s3://acme-models/merged/model.tar.gz
    sha256: &digest e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855
    sizeBytes: 1024
  image: 763104351884.dkr.ecr.us-east-1.amazonaws.com/djl-inference:0.31.0-lmi13.0.0-cu124
  environment:
    <<: &common
      LOG_LEVEL: info
      REGION: us-east-1
    LOG_LEVEL: debug
`;
    const result = await validateRepository(withRepository({ 'models/merged.yaml': text }));
    assert.deepEqual(briefs(result), []);
    assert.deepEqual(result.repository?.models.get('merged')?.spec.environment, {
      LOG_LEVEL: 'debug',
      REGION: 'us-east-1',
    });
  });
});

describe('nesting', () => {
  it('refuses deep flow nesting before the YAML parser sees it', async () => {
    const text = `a: ${'['.repeat(200_000)}${']'.repeat(200_000)}\n`;
    const { result, ms } = await timed(withRepository({ 'deep.yaml': text }));
    assert.ok(ms < 1000, `took ${ms} ms`);
    assert.deepEqual(briefs(result), [`error too-deep deep.yaml:1:${3 + 65} $`]);
  });

  it('refuses compact nested sequences (- - - …) before parsing', async () => {
    const text = `${'- '.repeat(400_000)}x\n`;
    const { result, ms } = await timed(withRepository({ 'dashes.yaml': text }));
    assert.ok(ms < 1000, `took ${ms} ms`);
    assert.deepEqual(briefs(result), ['error too-deep dashes.yaml:1:1 $']);
  });

  it('refuses deep block nesting at the first level past the limit', async () => {
    const lines = Array.from({ length: 100 }, (_, depth) => `${'  '.repeat(depth)}k${depth}:`);
    const text = config(lines.map((line) => `    ${line}`).join('\n'));
    const { result } = await timed(withRepository({ 'configs/deep.yaml': text }));
    assert.equal(result.issues.length, 1);
    const issue = result.issues[0];
    assert.equal(issue?.code, 'too-deep');
    // The document is level 0, spec.data level 2, the mapping under k62 (starting at k63) level 65.
    assert.equal(`${issue?.line}:${issue?.column}`, position(text, text.indexOf('k63:')));
    assert.equal(issue?.path, `$.spec.data${Array.from({ length: 63 }, (_, i) => `.k${i}`).join('')}`);
  });
});

describe('sizes and counts', () => {
  it('refuses a 20 MB file from its listed size, without reading it', async () => {
    const source = listingOnly([
      { path: 'ballast.yaml', kind: 'file', size: 20 * 1024 * 1024 },
      { path: 'data/huge.yaml', kind: 'file', size: 20 * 1024 * 1024 },
    ]);
    const result = await validateRepository(source);
    assert.deepEqual(source.reads, []);
    assert.deepEqual(briefs(result), [
      'error file-too-large ballast.yaml:1:1 $',
      'error file-too-large data/huge.yaml:1:1 $',
    ]);
    assert.match(result.issues[1]?.message ?? '', /20971520 bytes; Ballast reads YAML files of at most 1048576 bytes/);
  });

  it('refuses a file that is larger than its listing said', async () => {
    const result = await validateRepository({
      async list() {
        return [{ path: 'ballast.yaml', kind: 'file', size: 10 }];
      },
      async read() {
        return new Uint8Array(2 * 1024 * 1024);
      },
    });
    assert.deepEqual(briefs(result), ['error file-too-large ballast.yaml:1:1 $']);
  });

  it('refuses too much YAML in total, without reading any of it', async () => {
    const entries = Array.from({ length: 20 }, (_, i) => ({
      path: `models/m${String(i).padStart(2, '0')}.yaml`,
      kind: 'file' as const,
      size: 1000 * 1024,
    }));
    const source = listingOnly(entries);
    const result = await validateRepository(source);
    assert.deepEqual(source.reads, []);
    assert.deepEqual(briefs(result), ['error total-too-large :0:0 $']);
  });

  it('refuses too many files, without reading any of them', async () => {
    const entries = Array.from({ length: 1001 }, (_, i) => ({ path: `m/${i}.yaml`, kind: 'file' as const, size: 10 }));
    const source = listingOnly(entries);
    const result = await validateRepository(source);
    assert.deepEqual(source.reads, []);
    assert.deepEqual(briefs(result), ['error too-many-files :0:0 $']);
    assert.match(result.issues[0]?.message ?? '', /1001 YAML files; Ballast reads at most 1000/);
  });

  it('takes its limits from the options', async () => {
    const result = await validateRepository(withRepository({ 'a.yaml': 'a: 1\n' }), { limits: { maxFiles: 1 } });
    assert.deepEqual(briefs(result), ['error too-many-files :0:0 $']);
  });
});

describe('encodings', () => {
  it('refuses binary files', async () => {
    const bytes = new TextEncoder().encode('apiVersion: ballast.dev/v1\nkind: Model\n\0\u0001');
    const result = await validateRepository(withRepository({ 'models/blob.yaml': bytes }));
    assert.deepEqual(briefs(result), ['error binary models/blob.yaml:3:1 $']);
  });

  it('refuses text that is not UTF-8, pointing at the first bad byte', async () => {
    const bytes = new Uint8Array([...new TextEncoder().encode('a: 1\nname: caf'), 0xe9, 0x0a]);
    const result = await validateRepository(withRepository({ 'latin1.yaml': bytes }));
    assert.deepEqual(briefs(result), ['error encoding latin1.yaml:2:10 $']);
  });

  it('accepts a UTF-8 byte order mark', async () => {
    const bytes = new Uint8Array([0xef, 0xbb, 0xbf, ...new TextEncoder().encode(repositoryYaml)]);
    const result = await validateRepository(memorySource({ 'ballast.yaml': bytes }));
    assert.deepEqual(briefs(result), []);
  });
});

describe('paths and links', () => {
  let root = '';
  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'ballast-spec-'));
    await mkdir(join(root, 'models'));
    await writeFile(join(root, 'ballast.yaml'), repositoryYaml);
    await writeFile(join(tmpdir(), 'ballast-outside.yaml'), 'apiVersion: ballast.dev/v1\nkind: Model\n');
    await symlink(join(tmpdir(), 'ballast-outside.yaml'), join(root, 'models', 'linked.yaml'));
    await symlink(tmpdir(), join(root, 'shared'));
    await mkdir(join(root, '.git'));
    await symlink('/etc', join(root, '.git', 'ignored'));
  });
  after(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it('reports symlinks and never follows them', async () => {
    const result = await validateRepository(directorySource(root));
    assert.deepEqual(briefs(result), ['error symlink models/linked.yaml:1:1 $', 'warning symlink shared:1:1 $']);
    assert.deepEqual(result.files, ['ballast.yaml']);
  });

  it('refuses reads that leave the root or go through links', async () => {
    const source = directorySource(root);
    await assert.rejects(source.read('../etc/passwd'), /not a path inside the repository/);
    await assert.rejects(source.read('/etc/passwd'), /not a path inside the repository/);
    await assert.rejects(source.read('models/linked.yaml'), /symlink/);
    await assert.rejects(source.read('shared/ballast-outside.yaml'), /leaves the repository/);
    assert.equal(new TextDecoder().decode(await source.read('ballast.yaml')), repositoryYaml);
  });

  it('refuses unsafe paths from any source', async () => {
    const result = await validateRepository(
      listingOnly([
        { path: '../evil.yaml', kind: 'file', size: 1 },
        { path: '/etc/evil.yaml', kind: 'file', size: 1 },
        { path: 'a/./b.yaml', kind: 'file', size: 1 },
        { path: 'a\\b.yaml', kind: 'file', size: 1 },
      ]),
    );
    assert.deepEqual(briefs(result), [
      'error missing-repository :0:0 $',
      'error unsafe-path :0:0 $',
      'error unsafe-path :0:0 $',
      'error unsafe-path :0:0 $',
      'error unsafe-path :0:0 $',
    ]);
  });
});

describe('keys and values', () => {
  it('keeps __proto__ a plain key and rejects it as an unknown field', async () => {
    const text = `apiVersion: ballast.dev/v1\nkind: Config\nmetadata:\n  name: proto\nspec:\n  __proto__: {polluted: true}\n  data:\n    __proto__: {polluted: true}\n`;
    const result = await validateRepository(withRepository({ 'configs/proto.yaml': text }));
    assert.deepEqual(briefs(result), ['error unknown-field configs/proto.yaml:6:3 $.spec.__proto__']);
    assert.equal(({} as { polluted?: boolean }).polluted, undefined);
  });

  it('rejects keys that are not strings', async () => {
    const text = config('    ? [a, b]\n    : c\n');
    const result = await validateRepository(withRepository({ 'configs/keys.yaml': text }));
    assert.deepEqual(briefs(result), ['error yaml-key configs/keys.yaml:7:7 $.spec.data']);
  });

  it('finds token formats anywhere, masked', async () => {
    // Built at run time so that no token-shaped string is committed.
    const github = `ghp_${'A1b2C3d4E5'.repeat(3)}abcdef`;
    const huggingFace = `hf_${'x9Y8z7W6v5'.repeat(3)}abcd`;
    const slack = ['xoxb', '1234567890', 'abcdefghijABCDEF'].join('-');
    const openai = `sk-proj-${'q1w2e3r4t5'.repeat(4)}`;
    const text = config(`    github: ${github}\n    hub: ${huggingFace}\n    # ${slack}\n    llm: "key ${openai}"\n`);
    const result = await validateRepository(withRepository({ 'configs/tokens.yaml': text }));
    assert.deepEqual(briefs(result), [
      `error secret configs/tokens.yaml:${position(text, text.indexOf(github))} $.spec.data.github`,
      `error secret configs/tokens.yaml:${position(text, text.indexOf(huggingFace))} $.spec.data.hub`,
      `error secret configs/tokens.yaml:${position(text, text.indexOf(slack))} $`,
      `error secret configs/tokens.yaml:${position(text, text.indexOf(openai))} $.spec.data.llm`,
    ]);
    const all = JSON.stringify(result.issues);
    for (const secret of [github, huggingFace, slack, openai]) assert.ok(!all.includes(secret.slice(4, 20)));
    assert.match(result.issues[0]?.message ?? '', /^this looks like a GitHub token \(ghp_…, 40 characters\)/);
  });

  it('does not echo a secret-looking value in a schema error', async () => {
    const text = `apiVersion: ballast.dev/v1\nkind: Model\nmetadata:\n  name: leaky\nspec:\n  artifact:\n    uri: AKIAIOSFODNN7EXAMPLE\n    sha256: e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\n    sizeBytes: 1024\n  image: 763104351884.dkr.ecr.us-east-1.amazonaws.com/x:1\n`;
    const result = await validateRepository(withRepository({ 'models/leaky.yaml': text }));
    assert.deepEqual(briefs(result), [
      'error format models/leaky.yaml:7:10 $.spec.artifact.uri',
      'error secret models/leaky.yaml:7:10 $.spec.artifact.uri',
    ]);
    assert.ok(!JSON.stringify(result.issues).includes('AKIAIOSFODNN7EXAMPLE'));
  });
});
