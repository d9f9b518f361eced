// Validate's remote checks: a manifest read from S3 and each secret looked up, before anything is written.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { memorySource, resolveEndpoints, validateRepository } from '../../../lambdas/spec/index.ts';
import { directoryDigest, type ManifestFile } from '../../../lambdas/spec/manifest.ts';
import { planPush } from '../../../lambdas/workflow/plan.ts';
import { type ObjectRead, type PreflightReads, preflight } from '../../../lambdas/workflow/preflight.ts';
import type { PlannedRelease } from '../../../lambdas/workflow/types.ts';
import { EXAMPLE_ARTIFACTS_DIR, EXAMPLE_REPO_DIR, readTree } from '../../../sandbox/example-world.ts';

const MANIFEST_URI = 's3://acme-ml-artifacts-111122223333/models/assistant-llm/2025-02-01.manifest.json';
const HF_ARN = 'arn:aws:secretsmanager:us-east-1:111122223333:secret:acme-ml/huggingface-token-AbCdEf';
const ASSISTANT_MODEL = 'models/assistant-llm.yaml';
const SUMMARIZER_MODEL = 'models/summarizer-llm.yaml';

/** A second endpoint serving the summarizer's model: the model and its secret are looked up once. */
const CLASSIFIER = `apiVersion: ballast.dev/v1
kind: Endpoint
metadata:
  name: classifier
spec:
  model: summarizer-llm
  target:
    sagemaker:
      instanceType: ml.g5.xlarge
  alarms:
    - classifier-5xx
`;

let files: Record<string, string>;
let manifest: Buffer;

before(async () => {
  files = { ...(await readTree(EXAMPLE_REPO_DIR)), 'endpoints/classifier.yaml': CLASSIFIER };
  manifest = await readFile(join(EXAMPLE_ARTIFACTS_DIR, 'assistant-llm.manifest.json'));
});

async function planned(repo: Record<string, string> = files): Promise<PlannedRelease[]> {
  const result = await validateRepository(memorySource(repo));
  assert.ok(result.repository, JSON.stringify(result.issues.filter((i) => i.severity === 'error')));
  const push = {
    source: 'codecommit' as const,
    repository: 'acme-ml',
    branch: 'main',
    commit: 'a'.repeat(40),
    pushedBy: 'dev',
    pushedAt: '2026-03-01T09:00:00.000Z',
    deliveryId: 'evt',
  };
  const releases = planPush(push, 'prod', resolveEndpoints(result.repository, 'prod'), undefined).releases;
  assert.ok(releases.length > 0, 'the push plans releases');
  return [...releases];
}

/** Fake reads that count their calls. */
function reads(objects: Record<string, ObjectRead>, secrets: Record<string, string>) {
  const calls: string[] = [];
  const fake: PreflightReads = {
    readObject: async (bucket, key) => {
      calls.push(`s3://${bucket}/${key}`);
      return objects[`s3://${bucket}/${key}`] ?? { status: 'missing' };
    },
    describeSecret: async (secretId) => {
      calls.push(`secret:${secretId}`);
      const arn = secrets[secretId];
      return arn ? { arn, name: secretId, deleted: false } : undefined;
    },
  };
  return { fake, calls };
}

const found = (body: Buffer): ObjectRead => ({ status: 'found', body });
const settings = { secretPrefix: 'acme-ml/' };

describe('preflight', () => {
  it('completes each release: the archive, the manifest’s files and the secrets’ ARNs, one lookup each', async () => {
    const { fake, calls } = reads({ [MANIFEST_URI]: found(manifest) }, { 'acme-ml/huggingface-token': HF_ARN });
    const result = await preflight(await planned(), fake, settings);
    assert.deepEqual(result.issues, []);
    const byName = new Map(result.releases.map((r) => [r.name, r]));
    const assistant = byName.get('assistant')?.model.artifact;
    assert.equal(assistant?.form, 'directory');
    const declared = (JSON.parse(manifest.toString('utf8')) as { files: ManifestFile[] }).files;
    assert.ok(declared.length > 0);
    assert.deepEqual(
      assistant?.form === 'directory' ? assistant.files.map((f) => f.path) : [],
      declared.map((f) => f.path),
    );
    assert.equal(assistant?.form === 'directory' ? assistant.digest : '', directoryDigest(declared));
    assert.equal(byName.get('summarizer')?.model.artifact.form, 'archive');
    assert.deepEqual(
      byName.get('classifier')?.model.secrets.map((s) => [s.env, s.secretArn, s.delivery]),
      [['HF_TOKEN_SECRET_ARN', HF_ARN, 'reference']],
    );
    assert.deepEqual(calls.sort(), [MANIFEST_URI, 'secret:acme-ml/huggingface-token'].sort());
  });

  it('refuses a manifest that is missing, altered or malformed, at the Model’s manifest line', async () => {
    const line = files[ASSISTANT_MODEL]?.split('\n').findIndex((l) => l.includes('manifest:')) ?? -1;
    assert.ok(line >= 0);
    const cases: Array<[ObjectRead, RegExp]> = [
      [{ status: 'missing' }, /does not exist/],
      [{ status: 'forbidden' }, /ballast:artifactSourceBuckets/],
      [{ status: 'too-large', sizeBytes: 40_000_000 }, /is 40000000 bytes; a manifest may be at most/],
      [found(Buffer.concat([manifest, Buffer.from(' ')])), /has sha256 [0-9a-f]{64}, but the Model declares/],
    ];
    const altered = JSON.stringify({
      apiVersion: 'ballast.dev/v1',
      kind: 'ModelManifest',
      files: [{ path: '../etc/passwd', sizeBytes: 1, sha256: 'a'.repeat(64) }],
    });
    const sha = createHash('sha256').update(altered).digest('hex');
    const repo = {
      ...files,
      [ASSISTANT_MODEL]: (files[ASSISTANT_MODEL] ?? '').replace(/sha256: [0-9a-f]{64}/, `sha256: ${sha}`),
    };
    for (const [read, message] of cases) {
      const { fake } = reads({ [MANIFEST_URI]: read }, { 'acme-ml/huggingface-token': HF_ARN });
      const result = await preflight(await planned(), fake, settings);
      assert.deepEqual(result.releases, [], 'nothing is released when a check fails');
      assert.equal(result.issues.length, 1);
      assert.deepEqual([result.issues[0]?.file, result.issues[0]?.line], [ASSISTANT_MODEL, line + 1]);
      assert.match(result.issues[0]?.message ?? '', message);
    }
    const { fake } = reads({ [MANIFEST_URI]: found(Buffer.from(altered)) }, { 'acme-ml/huggingface-token': HF_ARN });
    const result = await preflight(await planned(repo), fake, settings);
    assert.equal(result.issues.length, 1);
    assert.match(result.issues[0]?.message ?? '', /\.\.\/etc\/passwd/);
  });

  it('refuses a secret that does not exist, lies outside the prefix, or the stack allows none, at its line', async () => {
    const line = (files[SUMMARIZER_MODEL]?.split('\n').findIndex((l) => l.includes('HF_TOKEN:')) ?? -1) + 1;
    assert.ok(line > 0);
    const ok = { [MANIFEST_URI]: found(manifest) };
    const cases: Array<[Record<string, string>, { secretPrefix?: string }, RegExp]> = [
      [{}, settings, /does not exist/],
      [{ 'acme-ml/huggingface-token': HF_ARN }, { secretPrefix: 'other/' }, /is outside other\//],
      [{ 'acme-ml/huggingface-token': HF_ARN }, {}, /ballast:secretPrefix/],
    ];
    for (const [secrets, configured, message] of cases) {
      const { fake } = reads(ok, secrets);
      const result = await preflight(await planned(), fake, configured);
      assert.ok(result.issues.length > 0, String(message));
      assert.deepEqual(
        result.issues.map((i) => [i.file, i.line]),
        [[SUMMARIZER_MODEL, line]],
        'one issue, at the secret, however many endpoints use the model',
      );
      assert.match(result.issues[0]?.message ?? '', message);
    }
  });

  it('refuses a secret ARN of another account or region', async () => {
    const other = 'arn:aws:secretsmanager:eu-west-1:444455556666:secret:acme-ml/huggingface-token-AbCdEf';
    const repo = {
      ...files,
      [SUMMARIZER_MODEL]: (files[SUMMARIZER_MODEL] ?? '').replace(
        'secretId: acme-ml/huggingface-token',
        `secretId: ${other}`,
      ),
    };
    const { fake, calls } = reads({ [MANIFEST_URI]: found(manifest) }, { [other]: other });
    const result = await preflight(await planned(repo), fake, settings);
    assert.equal(result.issues.length, 1);
    assert.match(result.issues[0]?.message ?? '', /is in 444455556666\/eu-west-1/);
    assert.equal(calls.includes(`secret:${other}`), false, 'not even looked up');
  });
});
