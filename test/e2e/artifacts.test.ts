/**
 * End to end, model artifacts as they really are: an uncompressed model directory pinned by a
 * manifest, verified in parallel batches, pinned once under one prefix and loaded by SageMaker
 * uncompressed (ModelDataSource S3Prefix); a corrupted shard refused with its file:line; a re-run
 * that re-hashes nothing. And secrets that never leave Secrets Manager.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { test } from 'node:test';
import { ListObjectsV2Command, PutObjectCommand } from '@aws-sdk/client-s3';
import { DescribeEndpointConfigCommand, DescribeModelCommand } from '@aws-sdk/client-sagemaker';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type { BatchResult } from '../../lambdas/handlers/register-files.ts';
import type { VersionPointer } from '../../lambdas/registry/pointer.ts';
import type { ManifestFile } from '../../lambdas/spec/manifest.ts';
import { ARTIFACT_BUCKET, editYaml, lineOf, requireFile, sagemakerWrites, type World, world } from './harness.ts';

const STATE_BUCKET = 'ballast-state';
const ASSISTANT = 'ballast-prod-assistant';
const ASSISTANT_MODEL_FILE = 'models/assistant-llm.yaml';
const SUMMARIZER_MODEL_FILE = 'models/summarizer-llm.yaml';
const sha256 = (bytes: Buffer | string) => createHash('sha256').update(bytes).digest('hex');

async function liveModel(w: World, endpointName: string) {
  const endpoint = await w.describe(endpointName);
  const config = await w.clients.sagemaker.send(
    new DescribeEndpointConfigCommand({ EndpointConfigName: endpoint.EndpointConfigName }),
  );
  return w.clients.sagemaker.send(new DescribeModelCommand({ ModelName: config.ProductionVariants?.[0]?.ModelName }));
}

async function keysUnder(w: World, bucket: string, prefix: string): Promise<string[]> {
  const found: string[] = [];
  let token: string | undefined;
  do {
    const page = await w.clients.s3.send(
      new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ...(token ? { ContinuationToken: token } : {}) }),
    );
    for (const object of page.Contents ?? []) found.push(object.Key ?? '');
    token = page.NextContinuationToken;
  } while (token);
  return found;
}

/** A directory model of `count` small files, inline in the Model, uploaded under a new prefix. */
async function inlineDirectory(w: World, name: string, count: number) {
  const prefix = `models/assistant-llm/${name}/`;
  const files: ManifestFile[] = [];
  for (let i = 0; i < count; i++) {
    const path = `shards/part-${String(i).padStart(4, '0')}.bin`;
    const body = Buffer.from(`${name} ${path}`);
    await w.clients.s3.send(new PutObjectCommand({ Bucket: ARTIFACT_BUCKET, Key: `${prefix}${path}`, Body: body }));
    files.push({ path, sha256: sha256(body), sizeBytes: body.length });
  }
  const model = requireFile(w.files, ASSISTANT_MODEL_FILE);
  const text = editYaml(model, [[['spec', 'artifact'], { prefix: `s3://${ARTIFACT_BUCKET}/${prefix}`, files }]]);
  return { prefix, files, text };
}

test('a directory model: verified, pinned under one prefix of exactly its files, loaded uncompressed', async () => {
  const w = await world({ fullExample: true });
  try {
    const commit = await w.deploy(w.files, 'initial');
    const state = await w.state('assistant');
    assert.equal(state?.live?.commit, commit, 'assistant runs the commit');
    const pointer = await w.json<VersionPointer>(state?.live?.pointerKey ?? '');
    assert.ok(pointer, 'the version pointer exists');
    assert.equal(pointer.model.form, 'directory');
    assert.ok(pointer.model.files.length > 0);
    const manifest = JSON.parse(
      (await w.bytes(ARTIFACT_BUCKET, 'models/assistant-llm/2025-02-01.manifest.json')).toString('utf8'),
    ) as { files: ManifestFile[] };
    assert.deepEqual(
      pointer.model.files.map((f) => [f.path, f.sha256, f.sizeBytes]),
      manifest.files.map((f) => [f.path, f.sha256, f.sizeBytes]),
      'the pointer records every file of the manifest with its digest',
    );
    assert.deepEqual(
      (await keysUnder(w, STATE_BUCKET, pointer.model.key)).sort(),
      manifest.files.map((f) => `${pointer.model.key}${f.path}`).sort(),
      'the pinned prefix holds exactly the pinned files',
    );
    for (const file of manifest.files) {
      assert.equal(sha256(await w.bytes(STATE_BUCKET, `${pointer.model.key}${file.path}`)), file.sha256, file.path);
    }
    const model = await liveModel(w, ASSISTANT);
    assert.equal(model.PrimaryContainer?.ModelDataUrl, undefined);
    assert.deepEqual(model.PrimaryContainer?.ModelDataSource?.S3DataSource, {
      S3Uri: `s3://${STATE_BUCKET}/${pointer.model.key}`,
      S3DataType: 'S3Prefix',
      CompressionType: 'None',
    });
  } finally {
    await w.stop();
  }
});

test('the files of a directory are verified in parallel batches, and a re-run re-hashes nothing', async () => {
  let inFlight = 0;
  let mostInFlight = 0;
  const batches: BatchResult[] = [];
  const w = await world({
    fullExample: true,
    around: {
      RegisterFiles: async (input, next) => {
        inFlight++;
        mostInFlight = Math.max(mostInFlight, inFlight);
        try {
          const result = (await next(input)) as BatchResult;
          // The first push registers the summarizer's archive too; this test is about the directory.
          if ((input as { endpoint: string }).endpoint === 'assistant') batches.push(result);
          return result;
        } finally {
          inFlight--;
        }
      },
    },
  });
  try {
    // 250 files: batches of at most 100 files (lambdas/registry/batches.ts), so three iterations.
    const directory = await inlineDirectory(w, 'many', 250);
    const first = await w.deploy({ ...w.files, [ASSISTANT_MODEL_FILE]: directory.text }, 'a directory of 250 files');
    assert.equal((await w.state('assistant'))?.live?.commit, first);
    assert.deepEqual(
      batches.map((b) => b.files).sort((a, b) => a - b),
      [50, 100, 100],
    );
    assert.ok(mostInFlight > 1, `the batches ran side by side (at most ${mostInFlight} at once)`);
    assert.equal(
      batches.reduce((sum, b) => sum + b.pinned.verified, 0),
      250,
      'every file was read and verified once',
    );

    // The same files under another endpoint setting: Register runs again, and finds every file pinned.
    batches.length = 0;
    const endpoint = requireFile(w.files, 'endpoints/assistant.yaml');
    const second = await w.deploy(
      {
        'endpoints/assistant.yaml': editYaml(endpoint, [
          [['spec', 'target', 'sagemaker', 'instanceType'], 'ml.g5.4xlarge'],
        ]),
      },
      'a bigger instance, same model',
    );
    assert.equal((await w.state('assistant'))?.live?.commit, second);
    assert.ok(batches.length > 0);
    assert.deepEqual(
      batches.map((b) => [b.pinned.existing, b.pinned.copied, b.pinned.verified]).sort(),
      [
        [100, 0, 0],
        [100, 0, 0],
        [50, 0, 0],
      ].sort(),
      'a re-run costs one HEAD per file: nothing read, hashed or copied',
    );

    // A new version that changes one file: only that one is read; the others are copied in the store.
    batches.length = 0;
    const changed = directory.files.map((f) => ({ ...f }));
    const body = Buffer.from('a retrained last shard');
    const last = changed.at(-1);
    assert.ok(last);
    const prefix = 'models/assistant-llm/many-v2/';
    for (const file of changed.slice(0, -1)) {
      await w.clients.s3.send(
        new PutObjectCommand({
          Bucket: ARTIFACT_BUCKET,
          Key: `${prefix}${file.path}`,
          Body: await w.bytes(ARTIFACT_BUCKET, `${directory.prefix}${file.path}`),
        }),
      );
    }
    await w.clients.s3.send(
      new PutObjectCommand({ Bucket: ARTIFACT_BUCKET, Key: `${prefix}${last.path}`, Body: body }),
    );
    const v2 = changed.slice(0, -1).concat({ path: last.path, sha256: sha256(body), sizeBytes: body.length });
    const model = editYaml(directory.text, [
      [['spec', 'artifact'], { prefix: `s3://${ARTIFACT_BUCKET}/${prefix}`, files: v2 }],
    ]);
    await w.deploy({ [ASSISTANT_MODEL_FILE]: model }, 'one retrained shard');
    assert.deepEqual(
      [batches.reduce((sum, b) => sum + b.pinned.copied, 0), batches.reduce((sum, b) => sum + b.pinned.verified, 0)],
      [249, 1],
      'unchanged files come from the store, without reading their source again',
    );
  } finally {
    await w.stop();
  }
});

test('a corrupted shard is refused with its file:line, and nothing live changes', async () => {
  const w = await world({ fullExample: true });
  try {
    await w.deploy(w.files, 'initial');
    const before = await w.describe(ASSISTANT);
    const directory = await inlineDirectory(w, 'corrupt', 5);
    const bad = directory.files[2];
    assert.ok(bad);
    // The object in S3 is not what the Model pins: a truncated upload, say (same size, other bytes).
    await w.clients.s3.send(
      new PutObjectCommand({
        Bucket: ARTIFACT_BUCKET,
        Key: `${directory.prefix}${bad.path}`,
        Body: Buffer.alloc(bad.sizeBytes, 0),
      }),
    );
    const mark = w.sandbox.requests.all().length;
    await w.deploy({ [ASSISTANT_MODEL_FILE]: directory.text }, 'a corrupted shard');
    const [entry] = (await w.ledger('assistant')).slice(-1);
    assert.equal(entry?.outcome, 'failed');
    const line = lineOf(directory.text, bad.path);
    assert.match(
      entry?.reason ?? '',
      new RegExp(
        `${ASSISTANT_MODEL_FILE}:${line}:\\d+: Model assistant-llm: ${bad.path.replace(/\./g, '\\.')}: .* has sha256 [0-9a-f]{64} .* declares ${bad.sha256}`,
      ),
    );
    assert.deepEqual(
      sagemakerWrites(w.requestsSince(mark)).map((r) => r.operation),
      [],
      'no SageMaker resource was created or changed',
    );
    assert.equal((await w.describe(ASSISTANT)).EndpointConfigName, before.EndpointConfigName);
  } finally {
    await w.stop();
  }
});

/** Every S3 object of the state bucket, as text: where Ballast writes its records. */
async function everythingBallastWrote(w: World): Promise<string> {
  const keys = await keysUnder(w, STATE_BUCKET, '');
  assert.ok(keys.length > 0);
  const parts: string[] = [];
  for (const key of keys) {
    if (key.startsWith('artifacts/directories/') || key.endsWith('.tar.gz')) continue; // model bytes
    parts.push(key, (await w.bytes(STATE_BUCKET, key)).toString('utf8'));
  }
  return parts.join('\n');
}

test('secrets reach the container by ARN, and their value appears nowhere Ballast writes', async () => {
  const payloads: string[] = [];
  const record = async (input: unknown, next: (input: unknown) => Promise<unknown>) => {
    payloads.push(JSON.stringify(input));
    const output = await next(input);
    payloads.push(JSON.stringify(output));
    return output;
  };
  const names = [
    'Resolve',
    'Validate',
    'Lease',
    'Register',
    'RegisterFiles',
    'Pin',
    'Deploy',
    'CheckRollout',
    'Record',
    'RecordPush',
  ] as const;
  const logs: string[] = [];
  const w = await world({ fullExample: true, around: Object.fromEntries(names.map((n) => [n, record])) });
  const secrets = new SecretsManagerClient({
    endpoint: w.sandbox.url,
    region: w.sandbox.region,
    credentials: { accessKeyId: 'x', secretAccessKey: 'x' },
  });
  const write = process.stdout.write.bind(process.stdout);
  try {
    const secret = await secrets.send(new GetSecretValueCommand({ SecretId: 'acme-ml/huggingface-token' }));
    const value = secret.SecretString ?? '';
    assert.ok(value.length > 8, 'the sandbox holds a value for the secret');
    // Handler logs, at the most verbose level, are captured for the check.
    const { logger } = await import('../../lambdas/runtime/powertools.ts');
    logger.setLogLevel('DEBUG');
    process.stdout.write = ((chunk: string | Uint8Array) => {
      logs.push(String(chunk));
      return true;
    }) as typeof process.stdout.write;

    await w.deploy(w.files, 'initial');
    const byReference = await liveModel(w, 'ballast-prod-summarizer');
    assert.equal(byReference.PrimaryContainer?.Environment?.HF_TOKEN_SECRET_ARN, secret.ARN);
    assert.equal(byReference.PrimaryContainer?.Environment?.HF_TOKEN, undefined);

    // Opt-in: the value itself in the container's environment (DescribeModel shows it, as the README says).
    const model = requireFile(w.files, SUMMARIZER_MODEL_FILE);
    await w.deploy(
      { [SUMMARIZER_MODEL_FILE]: editYaml(model, [[['spec', 'secrets', 'HF_TOKEN', 'delivery'], 'environment']]) },
      'inject the token',
    );
    const injected = await liveModel(w, 'ballast-prod-summarizer');
    assert.equal(injected.PrimaryContainer?.Environment?.HF_TOKEN, value);

    process.stdout.write = write;
    logger.setLogLevel('SILENT');
    assert.ok(payloads.length > 0);
    assert.ok(logs.length > 0, 'the handlers logged');
    assert.equal(payloads.join('\n').includes(value), false, 'no step input or output holds the value');
    assert.equal(logs.join('\n').includes(value), false, 'no log line holds the value');
    assert.equal((await everythingBallastWrote(w)).includes(value), false, 'no record in S3 holds the value');
  } finally {
    process.stdout.write = write;
    secrets.destroy();
    await w.stop();
  }
});

test('a secret that does not exist, or lies outside the prefix, refuses the commit before any fleet', async () => {
  const w = await world({ fullExample: true });
  try {
    await w.deploy(w.files, 'initial');
    const model = requireFile(w.files, SUMMARIZER_MODEL_FILE);
    for (const [secretId, why] of [
      ['acme-ml/no-such-token', /does not exist/],
      ['other-team/hf-token', /is outside acme-ml\//],
    ] as const) {
      const text = editYaml(model, [[['spec', 'secrets', 'HF_TOKEN', 'secretId'], secretId]]);
      const mark = w.sandbox.requests.all().length;
      const commit = await w.deploy({ [SUMMARIZER_MODEL_FILE]: text }, `secret ${secretId}`);
      const [execution] = w.executions(commit);
      assert.ok(execution, 'the push started an execution');
      const plan = (
        execution.output as {
          plan?: { valid: boolean; issues?: Array<{ file: string; line: number; message: string }> };
        }
      ).plan;
      assert.equal(plan?.valid, false, secretId);
      const issue = plan?.issues?.[0];
      assert.equal(issue?.file, SUMMARIZER_MODEL_FILE);
      assert.equal(issue?.line, lineOf(text, 'HF_TOKEN:'));
      assert.match(issue?.message ?? '', why);
      assert.deepEqual(sagemakerWrites(w.requestsSince(mark)), [], 'nothing reached SageMaker');
    }
  } finally {
    await w.stop();
  }
});
