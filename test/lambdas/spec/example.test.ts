// The example repository (examples/model-repo) is what the README and the demo show: it must be
// valid, complete, and its artifacts must be the bytes its Models pin.
import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import {
  canarySizeInstances,
  directorySource,
  parseManifest,
  resolveEndpoints,
  sha256Hex,
  validateRepository,
} from '../../../lambdas/spec/index.ts';
import { EXAMPLE, EXAMPLES } from './helpers.ts';

interface ManifestEntry {
  file: string;
  model: string;
  uri: string;
  sha256: string;
  sizeBytes: number;
}

interface DirectoryEntry {
  directory: string;
  manifest: string;
  model: string;
  prefix: string;
  manifestUri: string;
  manifestSha256: string;
}

describe('examples/model-repo', () => {
  it('is valid, with no warnings', async () => {
    const result = await validateRepository(directorySource(EXAMPLE));
    assert.deepEqual(result.issues, []);
    assert.equal(result.ok, true);
    const repo = result.repository;
    assert.ok(repo);
    assert.deepEqual([...repo.models.keys()].sort(), ['assistant-llm', 'summarizer-llm', 'text-embedder']);
    assert.deepEqual([...repo.endpoints.keys()].sort(), ['assistant', 'embeddings', 'summarizer']);
    assert.deepEqual([...repo.prompts.keys()], ['summarize']);
    assert.deepEqual([...repo.configs.keys()], ['retrieval']);
    assert.deepEqual(
      repo.repository.spec.environments.map((e) => `${e.name}<-${e.branch}@${e.account}/${e.region}`),
      ['staging<-staging@111122223333/us-east-1', 'prod<-main@111122223333/us-east-1'],
    );
    assert.deepEqual(repo.endpoints.get('summarizer')?.source, {
      file: 'endpoints/summarizer.yaml',
      document: 0,
      line: 6,
      column: 1,
    });
  });

  it('shows what the README promises: a canary GPU endpoint on SageMaker and a GPU deployment on EKS', async () => {
    const result = await validateRepository(directorySource(EXAMPLE));
    assert.ok(result.repository);
    const resolved = resolveEndpoints(result.repository, 'prod');
    const embeddings = resolved.find((e) => e.name === 'embeddings');
    const summarizer = resolved.find((e) => e.name === 'summarizer');
    assert.deepEqual(summarizer?.target, {
      kind: 'sagemaker',
      instanceType: 'ml.g5.2xlarge',
      instanceCount: 2,
      variantName: 'AllTraffic',
      gpus: 1,
    });
    assert.deepEqual(summarizer?.rollout, {
      strategy: 'canary',
      canary: { percent: 50 },
      bakeSeconds: 600,
      timeoutSeconds: 3600,
    });
    assert.deepEqual(summarizer?.alarms, ['summarizer-5xx', 'summarizer-p99-latency']);
    assert.deepEqual(
      summarizer?.prompts.map((p) => p.name),
      ['summarize'],
    );
    assert.equal(embeddings?.target.kind, 'eks');
    if (embeddings?.target.kind === 'eks') {
      assert.equal(embeddings.target.cluster, 'ml-inference'); // from defaults.eks
      assert.equal(embeddings.target.gpusPerReplica, 1);
      assert.equal(embeddings.target.replicas, 2);
      assert.deepEqual(embeddings.target.httpRoute, {
        name: 'embeddings',
        namespace: 'serving',
        gateway: { name: 'inference-gateway', namespace: 'gateways' },
        hostnames: ['embeddings.ml.example.com'],
      });
    }
    assert.deepEqual(
      embeddings?.configs.map((c) => c.name),
      ['retrieval'],
    );
  });

  it('canaries one of two instances, which SageMaker accepts (at most half the instances)', async () => {
    const result = await validateRepository(directorySource(EXAMPLE));
    assert.ok(result.repository);
    const summarizer = resolveEndpoints(result.repository, 'prod').find((endpoint) => endpoint.name === 'summarizer');
    assert.ok(summarizer?.target.kind === 'sagemaker' && summarizer.rollout.strategy === 'canary');
    assert.equal(canarySizeInstances(summarizer.target.instanceCount, summarizer.rollout.canary.percent), 1);
  });

  it('declares the Hugging Face token as a Secrets Manager reference, not in the environment', async () => {
    const result = await validateRepository(directorySource(EXAMPLE));
    const model = result.repository?.models.get('summarizer-llm');
    assert.deepEqual(
      { secrets: model?.spec.secrets, inEnvironment: Object.keys(model?.spec.environment ?? {}).includes('HF_TOKEN') },
      { secrets: { HF_TOKEN: { secretId: 'acme-ml/huggingface-token', delivery: 'reference' } }, inEnvironment: false },
    );
  });

  it('pins the artifacts in examples/artifacts by their real sha256 and size', async () => {
    const manifest = JSON.parse(await readFile(join(EXAMPLES, 'artifacts', 'manifest.json'), 'utf8')) as {
      artifacts: ManifestEntry[];
      directories: DirectoryEntry[];
    };
    const result = await validateRepository(directorySource(EXAMPLE));
    const models = result.repository?.models;
    assert.ok(models);
    assert.equal(manifest.artifacts.length + manifest.directories.length, models.size);
    for (const entry of manifest.artifacts) {
      const bytes = await readFile(join(EXAMPLES, entry.file));
      assert.equal(sha256Hex(bytes), entry.sha256, `${entry.file}: sha256`);
      assert.equal(bytes.length, entry.sizeBytes, `${entry.file}: size`);
      const artifact: unknown = models.get(entry.model)?.spec.artifact;
      assert.deepEqual(artifact, { uri: entry.uri, sha256: entry.sha256, sizeBytes: entry.sizeBytes }, entry.model);
    }
    assert.ok(manifest.directories.length > 0, 'the example has a directory model');
    for (const entry of manifest.directories) {
      const text = await readFile(join(EXAMPLES, entry.manifest));
      assert.equal(sha256Hex(text), entry.manifestSha256, `${entry.manifest}: sha256`);
      const artifact: unknown = models.get(entry.model)?.spec.artifact;
      assert.deepEqual(
        artifact,
        { prefix: entry.prefix, manifest: { uri: entry.manifestUri, sha256: entry.manifestSha256 } },
        entry.model,
      );
      const parsed = parseManifest(text.toString('utf8'));
      assert.ok('files' in parsed, `${entry.manifest} parses`);
      const onDisk = await readdir(join(EXAMPLES, entry.directory), { recursive: true });
      assert.deepEqual(parsed.files.map((f) => f.path).sort(), onDisk.sort(), 'the manifest lists every file');
      for (const file of parsed.files) {
        const bytes = await readFile(join(EXAMPLES, entry.directory, file.path));
        assert.deepEqual([sha256Hex(bytes), bytes.length], [file.sha256, file.sizeBytes], file.path);
      }
    }
  });

  it('points every file at the editor schema', async () => {
    const files = ['ballast.yaml'];
    for (const dir of ['models', 'endpoints', 'prompts', 'configs']) {
      for (const name of await readdir(join(EXAMPLE, dir))) files.push(`${dir}/${name}`);
    }
    for (const file of files) {
      const depth = file.split('/').length - 1;
      const expected = `# yaml-language-server: $schema=${'../'.repeat(depth + 2)}schema/ballast.schema.json`;
      const first = (await readFile(join(EXAMPLE, file), 'utf8')).split('\n')[0];
      assert.equal(first, expected, file);
    }
  });
});
