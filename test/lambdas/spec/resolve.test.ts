// resolveEndpoints and the deployment digest: a change reaches exactly the endpoints it affects.
import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import {
  canonicalJson,
  digestOf,
  type LoadedRepository,
  memorySource,
  resolveEndpoints,
  sha256Hex,
  UnknownEnvironmentError,
  validateRepository,
} from '../../../lambdas/spec/index.ts';
import { EXAMPLE } from './helpers.ts';

async function exampleFiles(): Promise<Record<string, string>> {
  const files: Record<string, string> = { 'ballast.yaml': await readFile(join(EXAMPLE, 'ballast.yaml'), 'utf8') };
  for (const dir of ['models', 'endpoints', 'prompts', 'configs']) {
    for (const name of await readdir(join(EXAMPLE, dir))) {
      files[`${dir}/${name}`] = await readFile(join(EXAMPLE, dir, name), 'utf8');
    }
  }
  return files;
}

async function load(files: Record<string, string>): Promise<LoadedRepository> {
  const result = await validateRepository(memorySource(files));
  assert.deepEqual(result.issues, []);
  assert.ok(result.repository);
  return result.repository;
}

async function digests(files: Record<string, string>, environment = 'prod'): Promise<Record<string, string>> {
  return Object.fromEntries(resolveEndpoints(await load(files), environment).map((e) => [e.name, e.digest]));
}

function edit(files: Record<string, string>, path: string, from: string, to: string): Record<string, string> {
  const before = files[path] ?? '';
  assert.ok(before.includes(from), `${path} contains ${from}`);
  return { ...files, [path]: before.replace(from, to) };
}

describe('canonical JSON and sha256', () => {
  it('sorts keys at every level and drops undefined', () => {
    assert.equal(canonicalJson({ b: 1, a: [{ d: true, c: null }], u: undefined }), '{"a":[{"c":null,"d":true}],"b":1}');
    assert.equal(digestOf({ x: 1, y: 2 }), digestOf({ y: 2, x: 1 }));
    assert.equal(canonicalJson(-0), '0');
    assert.throws(() => canonicalJson({ x: Number.NaN }), /not representable/);
  });

  it('is the standard sha256', () => {
    assert.equal(sha256Hex('abc'), 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
    assert.equal(sha256Hex(new Uint8Array()), 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
  });
});

describe('resolveEndpoints', () => {
  it('changing a referenced prompt changes only the endpoints that use it', async () => {
    const files = await exampleFiles();
    const before = await digests(files);
    const after = await digests(
      edit(files, 'prompts/summarize.yaml', 'You are a precise summarizer.', 'You are a terse summarizer.'),
    );
    assert.notEqual(after.summarizer, before.summarizer);
    assert.equal(after.embeddings, before.embeddings);
  });

  it('changing a referenced config changes only the endpoints that use it', async () => {
    const files = await exampleFiles();
    const before = await digests(files);
    const after = await digests(edit(files, 'configs/retrieval.yaml', 'topK: 8', 'topK: 10'));
    assert.equal(after.summarizer, before.summarizer);
    assert.notEqual(after.embeddings, before.embeddings);
  });

  it('changing a repository default changes the endpoints that rely on it', async () => {
    const files = await exampleFiles();
    const before = await digests(files);
    const after = await digests(edit(files, 'ballast.yaml', 'namespace: serving', 'namespace: inference'));
    assert.equal(after.summarizer, before.summarizer);
    assert.notEqual(after.embeddings, before.embeddings);
  });

  it('ignores unrelated files, labels, comments and moving a resource to another file', async () => {
    const files = await exampleFiles();
    const before = await digests(files);
    const unrelated = {
      ...files,
      'configs/unused.yaml':
        'apiVersion: ballast.dev/v1\nkind: Config\nmetadata:\n  name: unused\nspec:\n  data: {a: 1}\n',
      'docs/notes.yaml': 'just: notes\n',
    };
    assert.deepEqual(await digests(unrelated), before);
    const relabelled = edit(files, 'models/summarizer-llm.yaml', 'team: nlp', 'team: platform');
    assert.deepEqual(
      await digests(edit(relabelled, 'prompts/summarize.yaml', '# The chat template', '# A chat template')),
      before,
    );
    const { 'prompts/summarize.yaml': prompt, ...rest } = files;
    assert.deepEqual(await digests({ ...rest, 'endpoints/summarize-prompt.yaml': prompt ?? '' }), before);
  });

  it('differs per environment and filters endpoints by their environments', async () => {
    const files = await exampleFiles();
    const staging = await digests(files, 'staging');
    const prod = await digests(files);
    assert.notEqual(staging.summarizer, prod.summarizer);
    const stagingOnly = edit(
      files,
      'endpoints/embeddings.yaml',
      '  configs: [retrieval]\n',
      '  configs: [retrieval]\n  environments: [staging]\n',
    );
    assert.deepEqual(Object.keys(await digests(stagingOnly, 'prod')), ['assistant', 'summarizer']);
    assert.deepEqual(Object.keys(await digests(stagingOnly, 'staging')), ['assistant', 'embeddings', 'summarizer']);
  });

  it('resolves references and defaults, and refuses an unknown environment', async () => {
    const repo = await load(await exampleFiles());
    const staging = resolveEndpoints(repo, 'staging');
    const embeddings = staging.find((e) => e.name === 'embeddings');
    const summarizer = staging.find((e) => e.name === 'summarizer');
    assert.equal(summarizer?.model.name, 'summarizer-llm');
    assert.deepEqual(summarizer?.model.spec.artifact, {
      uri: 's3://acme-ml-artifacts-111122223333/models/summarizer-llm/2025-01-15/model.tar.gz',
      sha256: 'ccc98855247654187a9b4cd8e94d72eac3df6009208d976d28ea7d448d39cd6c',
      sizeBytes: 1744,
    });
    assert.equal(summarizer?.environment.name, 'staging');
    assert.equal(embeddings?.target.kind === 'eks' && embeddings.target.namespace, 'serving');
    assert.deepEqual(embeddings?.rollout, {
      strategy: 'linear',
      linear: { stepPercent: 20, intervalSeconds: 120 },
      bakeSeconds: 300,
      timeoutSeconds: 1800,
    });
    assert.throws(() => resolveEndpoints(repo, 'qa'), UnknownEnvironmentError);
  });

  it('gives an endpoint without a rollout the repository default, else allAtOnce', async () => {
    const files = await exampleFiles();
    const noRollout = edit(
      files,
      'endpoints/summarizer.yaml',
      '  rollout:\n    strategy: canary\n    canary:\n      # 50% of 2 instances: the canary is one instance.\n      percent: 50\n    bakeSeconds: 600\n    timeoutSeconds: 3600\n',
      '',
    );
    const fromDefaults = resolveEndpoints(await load(noRollout), 'prod').find((e) => e.name === 'summarizer');
    assert.deepEqual(fromDefaults?.rollout, { strategy: 'allAtOnce', bakeSeconds: 300, timeoutSeconds: 3600 });
  });
});
