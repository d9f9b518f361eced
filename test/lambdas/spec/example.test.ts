// The example repository (examples/model-repo) is what the README and the demo show: it must be
// valid, complete, and its artifacts must be the bytes its Models pin.
import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { directorySource, resolveEndpoints, sha256Hex, validateRepository } from '../../../lambdas/spec/index.ts';
import { EXAMPLE, EXAMPLES } from './helpers.ts';

interface ManifestEntry {
  file: string;
  model: string;
  uri: string;
  sha256: string;
  sizeBytes: number;
}

describe('examples/model-repo', () => {
  it('is valid, with no warnings', async () => {
    const result = await validateRepository(directorySource(EXAMPLE));
    assert.deepEqual(result.issues, []);
    assert.equal(result.ok, true);
    const repo = result.repository;
    assert.ok(repo);
    assert.deepEqual([...repo.models.keys()].sort(), ['summarizer-llm', 'text-embedder']);
    assert.deepEqual([...repo.endpoints.keys()].sort(), ['embeddings', 'summarizer']);
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
    const [embeddings, summarizer] = resolveEndpoints(result.repository, 'prod');
    assert.deepEqual(summarizer?.target, {
      kind: 'sagemaker',
      instanceType: 'ml.g5.2xlarge',
      instanceCount: 1,
      variantName: 'AllTraffic',
      gpus: 1,
    });
    assert.deepEqual(summarizer?.rollout, {
      strategy: 'canary',
      canary: { percent: 10 },
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

  it('validates fast', async () => {
    await validateRepository(directorySource(EXAMPLE)); // warm
    const start = performance.now();
    await validateRepository(directorySource(EXAMPLE));
    const ms = performance.now() - start;
    assert.ok(ms < 500, `took ${ms} ms`);
  });

  it('pins the artifacts in examples/artifacts by their real sha256 and size', async () => {
    const manifest = JSON.parse(await readFile(join(EXAMPLES, 'artifacts', 'manifest.json'), 'utf8')) as {
      artifacts: ManifestEntry[];
    };
    const result = await validateRepository(directorySource(EXAMPLE));
    const models = result.repository?.models;
    assert.ok(models);
    assert.equal(manifest.artifacts.length, models.size);
    for (const entry of manifest.artifacts) {
      const bytes = await readFile(join(EXAMPLES, entry.file));
      assert.equal(sha256Hex(bytes), entry.sha256, `${entry.file}: sha256`);
      assert.equal(bytes.length, entry.sizeBytes, `${entry.file}: size`);
      const artifact: unknown = models.get(entry.model)?.spec.artifact;
      assert.deepEqual(artifact, { uri: entry.uri, sha256: entry.sha256, sizeBytes: entry.sizeBytes }, entry.model);
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
