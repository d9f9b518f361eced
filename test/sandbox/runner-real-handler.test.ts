import assert from 'node:assert/strict';
import { it } from 'node:test';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { resetClients } from '../../lambdas/aws/client-config.ts';
import { logger } from '../../lambdas/handlers/runtime.ts';
import { handler as validate } from '../../lambdas/handlers/validate.ts';
import { memorySource } from '../../lambdas/spec/source.ts';
import { JsonStore } from '../../lambdas/state/json-store.ts';
import { keys } from '../../lambdas/state/keys.ts';
import { captureSnapshot } from '../../lambdas/workflow/snapshot.ts';
import { EXAMPLE_REPO_DIR, readTree, seedExampleAccount } from '../../sandbox/example-world.ts';
import { type LambdaHandler, LocalRunner } from '../../sandbox/runner.ts';
import { startSandbox } from '../../sandbox/sandbox.ts';

const ASL = new URL('../fixtures/asl/validate-only.asl.json', import.meta.url).pathname;
const COMMIT = 'a1'.repeat(20);

it('runs a state machine whose task is a real Ballast handler, talking to the sandbox through the SDK', async () => {
  const sandbox = await startSandbox();
  const saved = { ...process.env };
  try {
    // The example's secrets are under acme-ml/ (models/summarizer-llm.yaml).
    Object.assign(process.env, sandbox.env(), {
      BALLAST_STATE_BUCKET: 'runner-test',
      BALLAST_SECRET_PREFIX: 'acme-ml/',
    });
    resetClients();
    logger.setLogLevel('SILENT');
    const s3 = new S3Client({ endpoint: sandbox.url, region: sandbox.region });
    await s3.send(new CreateBucketCommand({ Bucket: 'runner-test' }));
    const files = await readTree(EXAMPLE_REPO_DIR);
    // Validate reads the directory model's manifest and describes the declared secrets.
    await seedExampleAccount(sandbox, files);
    await new JsonStore(s3, 'runner-test').putIfAbsent(
      keys.snapshot(COMMIT),
      await captureSnapshot(memorySource(files), COMMIT),
    );
    s3.destroy();

    const runner = new LocalRunner(sandbox.clock, {
      validate: { aslPath: ASL, functions: { Validate: validate as unknown as LambdaHandler } },
    });
    const output = (await runner.start('validate', {
      push: {
        source: 'codecommit',
        repository: 'model-repo',
        branch: 'main',
        commit: COMMIT,
        pushedBy: 'arn:aws:iam::111122223333:user/dev',
        pushedAt: '2026-03-01T09:00:00.000Z',
        deliveryId: 'event-1',
      },
      environment: 'prod',
      snapshotKey: keys.snapshot(COMMIT),
      execution: 'runner-test',
    }).result) as { plan: { valid: boolean; items: string[] } };
    assert.equal(output.plan.valid, true);
    assert.deepEqual(output.plan.items, ['assistant', 'summarizer']);
    assert.ok(sandbox.requests.count('s3', 'GetObject') >= 1, 'the handler read the snapshot over the wire');
    assert.ok(sandbox.requests.count('secretsmanager', 'DescribeSecret') >= 1, 'the handler described the secret');
  } finally {
    process.env = saved;
    resetClients();
    await sandbox.stop();
  }
});
