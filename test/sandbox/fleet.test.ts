/**
 * seedFleet stands endpoints up "as if the deploy workflow had deployed them": the same repository
 * deployed for real (a push through the local pipeline) and seeded must leave the same documents in
 * the state bucket and the same resources in SageMaker, up to times and execution names, and the
 * reconciler must find both in sync.
 */
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { S3Client } from '@aws-sdk/client-s3';
import {
  DescribeEndpointCommand,
  DescribeEndpointConfigCommand,
  DescribeModelCommand,
  ListTagsCommand,
  SageMakerClient,
} from '@aws-sdk/client-sagemaker';
import type { EndpointState } from '../../lambdas/state/endpoint-state.ts';
import { JsonStore } from '../../lambdas/state/json-store.ts';
import { keys } from '../../lambdas/state/keys.ts';
import { readLedger } from '../../lambdas/state/ledger.ts';
import type { ReconcileStatus } from '../../lambdas/state/reconcile-status.ts';
import { commitFiles, EXAMPLE_SECRET_PREFIX, seedExampleAccount } from '../../sandbox/example-world.ts';
import { fleetName, fleetRepository, seedFleet } from '../../sandbox/fleet.ts';
import { LocalPipeline } from '../../sandbox/pipeline.ts';
import { type Sandbox, startSandbox } from '../../sandbox/sandbox.ts';

const SIZE = 3;
const ENVIRONMENT = 'prod';

type Deploy = (sandbox: Sandbox, pipeline: LocalPipeline, files: Record<string, string>) => Promise<void>;

/** What one world holds for each endpoint, with times and execution names replaced by placeholders. */
async function deployAndRead(deploy: Deploy): Promise<{ documents: unknown; inSync: number | undefined }> {
  // The clock moves only when a wait moves it, so both worlds commit at the same instant (the same commit id).
  const sandbox = await startSandbox({ timeScale: 1e-9, start: new Date('2026-03-01T09:00:00Z') });
  const files = await fleetRepository(SIZE, { perFile: 2 });
  let pipeline: LocalPipeline | undefined;
  try {
    await seedExampleAccount(sandbox, files);
    pipeline = await LocalPipeline.start({ sandbox, secretPrefix: EXAMPLE_SECRET_PREFIX });
    await deploy(sandbox, pipeline, files);
    const config = {
      endpoint: sandbox.url,
      region: sandbox.region,
      credentials: { accessKeyId: 'x', secretAccessKey: 'x' },
    };
    const s3 = new S3Client(config);
    const sagemaker = new SageMakerClient(config);
    const store = new JsonStore(s3, pipeline.stateBucket);
    const documents: Record<string, unknown> = {
      head: (await store.get(keys.head(ENVIRONMENT)))?.value,
      seen: (await store.get(keys.seen(ENVIRONMENT)))?.value,
    };
    for (let i = 1; i <= SIZE; i++) {
      const name = fleetName(i, SIZE);
      const state = (await store.get<EndpointState>(keys.state(ENVIRONMENT, name)))?.value;
      const live = state?.live;
      assert.ok(live, `${name} is live`);
      const endpoint = await sagemaker.send(new DescribeEndpointCommand({ EndpointName: `ballast-prod-${name}` }));
      const endpointConfig = await sagemaker.send(
        new DescribeEndpointConfigCommand({ EndpointConfigName: live.endpointConfigName }),
      );
      const model = await sagemaker.send(
        new DescribeModelCommand({ ModelName: endpointConfig.ProductionVariants?.[0]?.ModelName }),
      );
      const tags = async (arn: string | undefined) =>
        (await sagemaker.send(new ListTagsCommand({ ResourceArn: arn }))).Tags?.filter((t) =>
          t.Key?.startsWith('ballast:'),
        );
      documents[name] = {
        state,
        ledger: await readLedger(store, ENVIRONMENT, name),
        pointer: live.pointerKey ? (await store.get(live.pointerKey))?.value : undefined,
        endpoint: [endpoint.EndpointStatus, endpoint.EndpointConfigName, await tags(endpoint.EndpointArn)],
        endpointConfig: [endpointConfig.ProductionVariants, await tags(endpointConfig.EndpointConfigArn)],
        model: [model.PrimaryContainer, model.ExecutionRoleArn, await tags(model.ModelArn)],
      };
    }
    pipeline.reconcile();
    await pipeline.idle();
    const status = (await store.get<ReconcileStatus>(keys.reconcileStatus))?.value;
    s3.destroy();
    sagemaker.destroy();
    return { documents: normalized(documents), inSync: status?.environments[ENVIRONMENT]?.lastRun?.inSync };
  } finally {
    pipeline?.stop();
    await pipeline?.idle();
    await sandbox.stop();
  }
}

/** Times, durations, execution names, delivery ids and secret ARNs differ between any two deployments. */
function normalized(value: unknown): unknown {
  return JSON.parse(JSON.stringify(value), (key, v: unknown) => {
    if (key === 'execution' || key === 'deliveryId') return `<${key}>`;
    if (key === 'durationSeconds') return '<duration>';
    if (typeof v === 'string' && /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/.test(v)) return '<time>';
    // Secrets Manager gives each secret a random six-character suffix.
    if (typeof v === 'string' && v.startsWith('arn:aws:secretsmanager:'))
      return v.replace(/-[A-Za-z0-9]{6}$/, '-<suffix>');
    return v;
  });
}

it('seeded endpoints hold what the deploy workflow writes for the same repository, and are in sync', async () => {
  const deployed = await deployAndRead(async (sandbox, pipeline, files) => {
    await commitFiles(sandbox, 'model-repo', 'main', files, 'seeded fleet');
    await new Promise((resolve) => setImmediate(resolve));
    await pipeline.idle();
    const [execution] = pipeline.runner.executions('deploy');
    assert.equal(execution?.status, 'SUCCEEDED', JSON.stringify(execution?.error));
  });
  const seeded = await deployAndRead(async (sandbox, pipeline, files) => {
    const fleet = await seedFleet(sandbox, pipeline, files);
    assert.deepEqual(fleet.endpoints, [fleetName(1, SIZE), fleetName(2, SIZE), fleetName(3, SIZE)]);
    assert.equal(pipeline.runner.executions('deploy').length, 0, 'the commit started no deployment');
  });
  assert.deepEqual(seeded.documents, deployed.documents);
  assert.equal(deployed.inSync, SIZE);
  assert.equal(seeded.inSync, SIZE);
});
