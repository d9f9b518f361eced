import { S3Client } from '@aws-sdk/client-s3';
import { DescribeEndpointCommand, SageMakerClient } from '@aws-sdk/client-sagemaker';
import type { EndpointState } from '../../lambdas/state/endpoint-state.ts';
import { JsonStore } from '../../lambdas/state/json-store.ts';
import { keys } from '../../lambdas/state/keys.ts';
import { readLedger } from '../../lambdas/state/ledger.ts';
import { commitFiles, EXAMPLE_REPO_DIR, readTree, seedExampleAccount } from '../../sandbox/example-world.ts';
import { LocalPipeline } from '../../sandbox/pipeline.ts';
import { type Sandbox, startSandbox } from '../../sandbox/sandbox.ts';

export const REPO = 'model-repo';

/** A sandbox with the example account seeded and the local pipeline listening for pushes. */
export async function world(): Promise<{
  sandbox: Sandbox;
  pipeline: LocalPipeline;
  files: Record<string, string>;
  store: JsonStore;
  push: (files: Record<string, string | null>, message: string, branch?: string) => Promise<string>;
  state: (endpoint: string, environment?: string) => Promise<EndpointState | undefined>;
  ledger: (endpoint: string, environment?: string) => ReturnType<typeof readLedger>;
  describe: (endpointName: string) => ReturnType<SageMakerClient['send']>;
  stop: () => Promise<void>;
}> {
  const sandbox = await startSandbox({ timeScale: 1, start: new Date('2026-03-01T09:00:00Z') });
  const files = await readTree(EXAMPLE_REPO_DIR);
  await seedExampleAccount(sandbox, files);
  const pipeline = await LocalPipeline.start({ sandbox });
  const config = {
    endpoint: sandbox.url,
    region: sandbox.region,
    credentials: { accessKeyId: 'x', secretAccessKey: 'x' },
  };
  const s3 = new S3Client(config);
  const sagemaker = new SageMakerClient(config);
  const store = new JsonStore(s3, pipeline.stateBucket);
  return {
    sandbox,
    pipeline,
    files,
    store,
    push: (changes, message, branch = 'main') => commitFiles(sandbox, REPO, branch, changes, message),
    state: async (endpoint, environment = 'prod') =>
      (await store.get<EndpointState>(keys.state(environment, endpoint)))?.value,
    ledger: (endpoint, environment = 'prod') => readLedger(store, environment, endpoint),
    describe: (endpointName) => sagemaker.send(new DescribeEndpointCommand({ EndpointName: endpointName })) as never,
    stop: async () => {
      pipeline.stop();
      await pipeline.idle();
      s3.destroy();
      sagemaker.destroy();
      await sandbox.stop();
    },
  };
}
