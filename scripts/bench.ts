/**
 * `npm run bench`: what a deployment costs, in numbers. Runs pushes through the local pipeline on
 * the sandbox and reports, per scenario, wall time, simulated time, Step Functions state
 * transitions (states entered, which is what Standard workflows bill) and AWS API calls by
 * operation (from the sandbox's request log). It reports; it never fails on a slow machine.
 */
import { createHash } from 'node:crypto';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import {
  commitFiles,
  EXAMPLE_REPO_DIR,
  readTree,
  sandboxClients,
  seedExampleAccount,
} from '../sandbox/example-world.ts';
import { LocalPipeline } from '../sandbox/pipeline.ts';
import { startSandbox } from '../sandbox/sandbox.ts';

const scenarios: Array<{ name: string; endpoint: (yaml: string) => string }> = [
  { name: 'canary 10%, 10-minute bake', endpoint: (yaml) => yaml },
  {
    name: 'canary 10%, 1-hour bake',
    endpoint: (yaml) =>
      yaml.replace('bakeSeconds: 600', 'bakeSeconds: 3600').replace('timeoutSeconds: 3600', 'timeoutSeconds: 14400'),
  },
  {
    name: 'linear 10% steps, 5-minute intervals',
    endpoint: (yaml) =>
      yaml
        .replace(
          /strategy: canary\n\s+canary:\n\s+percent: 10/,
          'strategy: linear\n    linear:\n      stepPercent: 10\n      intervalSeconds: 300',
        )
        .replace('timeoutSeconds: 3600', 'timeoutSeconds: 7200'),
  },
];

const rows: string[][] = [
  ['scenario', 'wall ms', 'simulated min', 'transitions', 'API calls', 'SageMaker calls', 'DescribeEndpoint'],
];
for (const scenario of scenarios) {
  const sandbox = await startSandbox({ start: new Date('2026-03-01T09:00:00Z') });
  try {
    const files = await readTree(EXAMPLE_REPO_DIR);
    files['endpoints/summarizer.yaml'] = scenario.endpoint(files['endpoints/summarizer.yaml'] ?? '');
    await seedExampleAccount(sandbox, files);
    const pipeline = await LocalPipeline.start({ sandbox });
    await commitFiles(sandbox, 'model-repo', 'main', files, 'initial');
    await new Promise((resolve) => setTimeout(resolve, 20));
    await pipeline.idle();

    // Measure the update (a new model version), not the first creation.
    const bytes = Buffer.from(`bench weights ${scenario.name}`);
    const sha = createHash('sha256').update(bytes).digest('hex');
    await sandboxClients(sandbox).s3.send(
      new PutObjectCommand({ Bucket: 'acme-ml-artifacts-111122223333', Key: 'bench/model.tar.gz', Body: bytes }),
    );
    const model = (files['models/summarizer-llm.yaml'] ?? '')
      .replace(/uri: s3:\/\/\S+/, 'uri: s3://acme-ml-artifacts-111122223333/bench/model.tar.gz')
      .replace(/sha256: [0-9a-f]{64}/, `sha256: ${sha}`)
      .replace(/sizeBytes: \d+/, `sizeBytes: ${bytes.length}`);
    sandbox.requests.clear();
    const simulatedStart = sandbox.clock.nowMs();
    const wallStart = performance.now();
    await commitFiles(sandbox, 'model-repo', 'main', { 'models/summarizer-llm.yaml': model }, 'new model');
    await new Promise((resolve) => setTimeout(resolve, 20));
    await pipeline.idle();
    const wall = performance.now() - wallStart;
    const execution = pipeline.runner.executions().at(-1);
    const result = JSON.stringify((execution?.output as { results?: unknown })?.results);
    if (!result?.includes('"deployed"')) throw new Error(`${scenario.name}: the update did not deploy: ${result}`);
    const counts = sandbox.requests.counts();
    const total = Object.values(counts).reduce((a, b) => a + b, 0);
    const sagemaker = Object.entries(counts)
      .filter(([k]) => k.startsWith('sagemaker:'))
      .reduce((a, [, n]) => a + n, 0);
    rows.push([
      scenario.name,
      wall.toFixed(0),
      ((sandbox.clock.nowMs() - simulatedStart) / 60_000).toFixed(0),
      String(execution?.states.length ?? 0),
      String(total),
      String(sagemaker),
      String(counts['sagemaker:DescribeEndpoint'] ?? 0),
    ]);
    pipeline.stop();
  } finally {
    await sandbox.stop();
  }
}

const widths = rows[0]?.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length))) ?? [];
for (const row of rows) console.log(row.map((cell, i) => cell.padEnd(widths[i] ?? 0)).join('  '));
