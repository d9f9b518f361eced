import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  AddTagsCommand,
  CreateEndpointCommand,
  CreateEndpointConfigCommand,
  CreateModelCommand,
  DeleteEndpointCommand,
  DeleteEndpointConfigCommand,
  DeleteModelCommand,
  DeleteTagsCommand,
  type DeploymentConfig,
  DescribeEndpointCommand,
  DescribeEndpointConfigCommand,
  type DescribeEndpointOutput,
  DescribeModelCommand,
  ListEndpointConfigsCommand,
  ListEndpointsCommand,
  ListModelsCommand,
  ListTagsCommand,
  SageMakerClient,
  UpdateEndpointCommand,
  UpdateEndpointWeightsAndCapacitiesCommand,
} from '@aws-sdk/client-sagemaker';
import { VirtualClock } from '../../sandbox/clock.ts';
import { type EventBridgeEvent, EventBus } from '../../sandbox/events.ts';
import { FaultInjector } from '../../sandbox/faults.ts';
import { RequestLog } from '../../sandbox/request-log.ts';
import { SandboxServer } from '../../sandbox/server.ts';
import type { AlarmStateReader } from '../../sandbox/service.ts';
import { createSageMakerService, DEFAULT_TIMINGS, type SageMakerSandbox } from '../../sandbox/services/sagemaker.ts';

const ACCOUNT = '123456789012';
const REGION = 'us-east-1';
const IMAGE_V1 = `${ACCOUNT}.dkr.ecr.${REGION}.amazonaws.com/llm-serving:v1`;
const IMAGE_V2 = `${ACCOUNT}.dkr.ecr.${REGION}.amazonaws.com/llm-serving:v2`;
const ROLE = `arn:aws:iam::${ACCOUNT}:role/SageMakerExecution`;
const T = DEFAULT_TIMINGS;

/** Alarm history the test controls: transitions in simulated epoch ms. */
class TestAlarms implements AlarmStateReader {
  private readonly transitions = new Map<string, Array<{ at: number; alarm: boolean }>>();

  set(name: string, state: 'OK' | 'ALARM', atMs: number): void {
    const list = this.transitions.get(name) ?? [];
    list.push({ at: atMs, alarm: state === 'ALARM' });
    list.sort((a, b) => a.at - b.at);
    this.transitions.set(name, list);
  }

  exists(name: string): boolean {
    return this.transitions.has(name);
  }

  wasInAlarm(name: string, fromMs: number, toMs: number): boolean {
    const list = this.transitions.get(name) ?? [];
    let atStart = false;
    for (const t of list) {
      if (t.at <= fromMs) atStart = t.alarm;
      else if (t.at <= toMs && t.alarm) return true;
    }
    return atStart;
  }
}

interface Harness {
  readonly client: SageMakerClient;
  readonly clock: VirtualClock;
  readonly events: EventBus;
  readonly faults: FaultInjector;
  readonly requests: RequestLog;
  readonly alarms: TestAlarms;
  readonly sagemaker: SageMakerSandbox;
  advance(seconds: number): void;
  close(): Promise<void>;
}

async function startHarness(): Promise<Harness> {
  // Wall time is frozen: simulated time moves only when the test advances it.
  const clock = new VirtualClock(1, new Date('2025-03-01T12:00:00Z'), () => 0);
  const events = new EventBus(ACCOUNT, REGION, () => clock.now());
  const faults = new FaultInjector();
  const requests = new RequestLog();
  const alarms = new TestAlarms();
  const sagemaker = createSageMakerService({ clock, events, account: ACCOUNT, region: REGION }, { alarms });
  const server = new SandboxServer({ services: [sagemaker], clock, events, faults, requests });
  const url = await server.listen(0);
  const client = new SageMakerClient({
    endpoint: url,
    region: REGION,
    credentials: { accessKeyId: 'AKIDSANDBOX', secretAccessKey: 'sandbox-secret' },
  });
  return {
    client,
    clock,
    events,
    faults,
    requests,
    alarms,
    sagemaker,
    advance: (seconds) => clock.advance(seconds * 1000),
    async close() {
      client.destroy();
      await server.close();
    },
  };
}

async function withHarness(fn: (h: Harness) => Promise<void>): Promise<void> {
  const h = await startHarness();
  try {
    await fn(h);
  } finally {
    await h.close();
  }
}

async function createModel(h: Harness, name: string, image: string, env: Record<string, string> = {}): Promise<void> {
  await h.client.send(
    new CreateModelCommand({
      ModelName: name,
      ExecutionRoleArn: ROLE,
      PrimaryContainer: { Image: image, ModelDataUrl: `s3://artifacts/${name}/model.tar.gz`, Environment: env },
    }),
  );
}

async function createConfig(h: Harness, name: string, model: string, instances = 4): Promise<void> {
  await h.client.send(
    new CreateEndpointConfigCommand({
      EndpointConfigName: name,
      ProductionVariants: [
        { VariantName: 'AllTraffic', ModelName: model, InstanceType: 'ml.g5.xlarge', InitialInstanceCount: instances },
      ],
    }),
  );
}

/** Model v1/v2, configs cfg-v1/cfg-v2 and endpoint `ep` InService on cfg-v1. */
async function liveEndpoint(h: Harness, opts: { v2Env?: Record<string, string>; instances?: number } = {}) {
  await createModel(h, 'model-v1', IMAGE_V1);
  await createModel(h, 'model-v2', IMAGE_V2, opts.v2Env ?? {});
  await createConfig(h, 'cfg-v1', 'model-v1', opts.instances);
  await createConfig(h, 'cfg-v2', 'model-v2', opts.instances);
  await h.client.send(new CreateEndpointCommand({ EndpointName: 'ep', EndpointConfigName: 'cfg-v1' }));
  h.advance(T.createMs / 1000);
  assert.equal((await describeEp(h)).EndpointStatus, 'InService');
}

function describeEp(h: Harness, name = 'ep'): Promise<DescribeEndpointOutput> {
  return h.client.send(new DescribeEndpointCommand({ EndpointName: name }));
}

async function expectError(promise: Promise<unknown>, name: string, message: string | RegExp): Promise<void> {
  await assert.rejects(promise, (err: Error & { $metadata?: { httpStatusCode?: number } }) => {
    assert.equal(err.name, name);
    if (typeof message === 'string') assert.equal(err.message, message);
    else assert.match(err.message, message);
    assert.equal(err.$metadata?.httpStatusCode, 400);
    return true;
  });
}

function canary(
  alarms: string[] = [],
  overrides: Partial<{ wait: number; termination: number; timeout: number }> = {},
) {
  return {
    BlueGreenUpdatePolicy: {
      TrafficRoutingConfiguration: {
        Type: 'CANARY',
        CanarySize: { Type: 'INSTANCE_COUNT', Value: 1 },
        WaitIntervalInSeconds: overrides.wait ?? 600,
      },
      TerminationWaitInSeconds: overrides.termination ?? 300,
      MaximumExecutionTimeoutInSeconds: overrides.timeout ?? 3600,
    },
    ...(alarms.length > 0 ? { AutoRollbackConfiguration: { Alarms: alarms.map((AlarmName) => ({ AlarmName })) } } : {}),
  } satisfies DeploymentConfig;
}

function sagemakerEvents(h: Harness): EventBridgeEvent[] {
  return h.events.events().filter((e) => e.source === 'aws.sagemaker');
}

/** A compact trace of the events: `EP:<status>:<config>` and `DEP:<pending variant status or blue status>`. */
function trace(h: Harness): string[] {
  return sagemakerEvents(h).map((e) => {
    const d = e.detail as Record<string, unknown>;
    if (e['detail-type'] === 'SageMaker Endpoint State Change') return `EP:${d.EndpointStatus}:${d.EndpointConfigName}`;
    const pending = d.PendingDeploymentSummary as {
      ProductionVariants: Array<{ VariantStatus?: { Status: string }[] }>;
    };
    const blue = d.ProductionVariants as Array<{ VariantStatus?: { Status: string }[] }>;
    const status =
      pending?.ProductionVariants[0]?.VariantStatus?.[0]?.Status ?? `blue-${blue[0]?.VariantStatus?.[0]?.Status}`;
    return `DEP:${status}`;
  });
}

describe('SageMaker sandbox: endpoint lifecycle', () => {
  it('creates a model, a config and an endpoint that reaches InService as simulated time passes', async () => {
    await withHarness(async (h) => {
      await createModel(h, 'model-v1', IMAGE_V1);
      const model = await h.client.send(new DescribeModelCommand({ ModelName: 'model-v1' }));
      assert.equal(model.ModelArn, `arn:aws:sagemaker:${REGION}:${ACCOUNT}:model/model-v1`);
      assert.equal(model.PrimaryContainer?.Image, IMAGE_V1);
      assert.equal(model.ExecutionRoleArn, ROLE);
      assert.ok(model.CreationTime instanceof Date);

      await createConfig(h, 'Cfg-V1', 'model-v1', 2);
      const config = await h.client.send(new DescribeEndpointConfigCommand({ EndpointConfigName: 'Cfg-V1' }));
      // ARNs carry the name in lower case; the name keeps its case.
      assert.equal(config.EndpointConfigArn, `arn:aws:sagemaker:${REGION}:${ACCOUNT}:endpoint-config/cfg-v1`);
      assert.equal(config.EndpointConfigName, 'Cfg-V1');
      assert.equal(config.ProductionVariants?.[0]?.InitialVariantWeight, 1);

      const created = await h.client.send(
        new CreateEndpointCommand({
          EndpointName: 'My-Endpoint',
          EndpointConfigName: 'Cfg-V1',
          Tags: [{ Key: 'team', Value: 'ml' }],
        }),
      );
      assert.equal(created.EndpointArn, `arn:aws:sagemaker:${REGION}:${ACCOUNT}:endpoint/my-endpoint`);

      const creating = await describeEp(h, 'My-Endpoint');
      assert.equal(creating.EndpointStatus, 'Creating');
      assert.equal(creating.EndpointConfigName, 'Cfg-V1');
      assert.equal(creating.ProductionVariants, undefined);
      const pending = creating.PendingDeploymentSummary?.ProductionVariants?.[0];
      assert.equal(creating.PendingDeploymentSummary?.EndpointConfigName, 'Cfg-V1');
      assert.equal(pending?.VariantStatus?.[0]?.Status, 'Creating');
      assert.equal(pending?.VariantStatus?.[0]?.StatusMessage, 'Launching 2 instance(s).');
      assert.equal(pending?.DesiredInstanceCount, 2);

      h.advance(T.createMs / 1000 - 1);
      assert.equal((await describeEp(h, 'My-Endpoint')).EndpointStatus, 'Creating');
      h.advance(1);
      const live = await describeEp(h, 'my-endpoint'); // names are case-insensitive
      assert.equal(live.EndpointStatus, 'InService');
      assert.equal(live.EndpointName, 'My-Endpoint');
      assert.equal(live.PendingDeploymentSummary, undefined);
      assert.deepEqual(
        live.ProductionVariants?.map((v) => [v.VariantName, v.CurrentWeight, v.CurrentInstanceCount]),
        [['AllTraffic', 1, 2]],
      );
      const image = live.ProductionVariants?.[0]?.DeployedImages?.[0];
      assert.equal(image?.SpecifiedImage, IMAGE_V1);
      assert.match(image?.ResolvedImage ?? '', /llm-serving@sha256:[0-9a-f]{64}$/);
      assert.equal(live.LastModifiedTime?.getTime(), (live.CreationTime?.getTime() ?? 0) + T.createMs);

      assert.deepEqual(trace(h), ['EP:CREATING:Cfg-V1', 'EP:IN_SERVICE:Cfg-V1']);
      const inService = sagemakerEvents(h)[1];
      assert.ok(inService);
      assert.deepEqual(inService.resources, [created.EndpointArn]);
      assert.deepEqual(inService.detail.Tags, { team: 'ml' });
      assert.deepEqual(inService.detail.ProductionVariants, [
        { VariantName: 'AllTraffic', DesiredWeight: 1, DesiredInstanceCount: 2 },
      ]);
    });
  });

  it('ends Failed when the model never passes its health check (SANDBOX_FAIL=startup)', async () => {
    await withHarness(async (h) => {
      await createModel(h, 'broken', IMAGE_V1, { SANDBOX_FAIL: 'startup' });
      await createConfig(h, 'cfg-broken', 'broken', 1);
      await h.client.send(new CreateEndpointCommand({ EndpointName: 'ep', EndpointConfigName: 'cfg-broken' }));
      h.advance(T.createMs / 1000);
      const failed = await describeEp(h);
      assert.equal(failed.EndpointStatus, 'Failed');
      assert.match(failed.FailureReason ?? '', /production variant AllTraffic did not pass the ping health check/);
      assert.deepEqual(trace(h), ['EP:CREATING:cfg-broken', 'EP:FAILED:cfg-broken']);
      await expectError(
        h.client.send(new UpdateEndpointCommand({ EndpointName: 'ep', EndpointConfigName: 'cfg-broken' })),
        'ValidationException',
        `Cannot update failed endpoint "arn:aws:sagemaker:${REGION}:${ACCOUNT}:endpoint/ep".`,
      );
      await h.client.send(new DeleteEndpointCommand({ EndpointName: 'ep' }));
      assert.equal((await describeEp(h)).EndpointStatus, 'Deleting');
      h.advance(T.deleteMs / 1000);
      await expectError(describeEp(h), 'ValidationException', /^Could not find endpoint /);
    });
  });

  it('lists, tags and deletes models, configs and endpoints', async () => {
    await withHarness(async (h) => {
      for (let i = 0; i < 12; i += 1) {
        await createModel(h, `m-${String(i).padStart(2, '0')}`, IMAGE_V1);
        h.advance(1);
      }
      const first = await h.client.send(new ListModelsCommand({}));
      assert.equal(first.Models?.length, 10); // MaxResults defaults to 10
      assert.equal(first.Models?.[0]?.ModelName, 'm-11'); // CreationTime, Descending
      const second = await h.client.send(new ListModelsCommand({ NextToken: first.NextToken }));
      assert.deepEqual(
        second.Models?.map((m) => m.ModelName),
        ['m-01', 'm-00'],
      );
      assert.equal(second.NextToken, undefined);
      const byName = await h.client.send(
        new ListModelsCommand({ SortBy: 'Name', SortOrder: 'Ascending', NameContains: '1', MaxResults: 5 }),
      );
      assert.deepEqual(
        byName.Models?.map((m) => m.ModelName),
        ['m-01', 'm-10', 'm-11'],
      );

      await createConfig(h, 'cfg', 'm-00', 1);
      await h.client.send(new CreateEndpointCommand({ EndpointName: 'ep', EndpointConfigName: 'cfg' }));
      const listed = await h.client.send(new ListEndpointsCommand({ StatusEquals: 'Creating' }));
      assert.deepEqual(
        listed.Endpoints?.map((e) => [e.EndpointName, e.EndpointStatus]),
        [['ep', 'Creating']],
      );
      assert.equal(
        (await h.client.send(new ListEndpointConfigsCommand({}))).EndpointConfigs?.[0]?.EndpointConfigName,
        'cfg',
      );

      const arn = `arn:aws:sagemaker:${REGION}:${ACCOUNT}:endpoint/ep`;
      await h.client.send(
        new AddTagsCommand({
          ResourceArn: arn,
          Tags: [
            { Key: 'a', Value: '1' },
            { Key: 'b', Value: '2' },
          ],
        }),
      );
      await h.client.send(new AddTagsCommand({ ResourceArn: arn, Tags: [{ Key: 'a', Value: '3' }] }));
      await h.client.send(new DeleteTagsCommand({ ResourceArn: arn, TagKeys: ['b'] }));
      assert.deepEqual((await h.client.send(new ListTagsCommand({ ResourceArn: arn }))).Tags, [
        { Key: 'a', Value: '3' },
      ]);

      // Deleting a config or a model an endpoint uses is allowed (AWS only warns against it).
      await h.client.send(new DeleteEndpointConfigCommand({ EndpointConfigName: 'cfg' }));
      await h.client.send(new DeleteModelCommand({ ModelName: 'm-00' }));
      h.advance(T.createMs / 1000);
      const live = await describeEp(h);
      assert.equal(live.EndpointStatus, 'InService');
      assert.equal(live.EndpointConfigName, 'cfg');

      await h.client.send(new DeleteEndpointCommand({ EndpointName: 'ep' }));
      await expectError(
        h.client.send(new CreateEndpointCommand({ EndpointName: 'EP', EndpointConfigName: 'cfg' })),
        'ValidationException',
        `Cannot create already existing endpoint "${arn}".`,
      );
      h.advance(T.deleteMs / 1000);
      assert.deepEqual((await h.client.send(new ListEndpointsCommand({}))).Endpoints, []);
      assert.deepEqual(trace(h), ['EP:CREATING:cfg', 'EP:IN_SERVICE:cfg', 'EP:DELETING:cfg']);
    });
  });
});

describe('SageMaker sandbox: what cleanup relies on', () => {
  // API reference, ListModels / ListEndpointConfigs: NameContains "returns only … whose name contains the
  // specified string"; CreationTimeBefore "returns only … created before the specified time"; MaxResults
  // 1–100; a truncated response carries a NextToken for the next request. ListTags: MaxResults "Minimum
  // value of 50", NextToken when truncated.
  it('filters models and endpoint configs by NameContains and CreationTimeBefore, page by page', async () => {
    await withHarness(async (h) => {
      for (let i = 0; i < 5; i += 1) {
        await createModel(h, `svc-a-${i}`, IMAGE_V1);
        await createConfig(h, `svc-a-${i}`, `svc-a-${i}`);
        h.advance(1);
      }
      await createModel(h, 'other-0', IMAGE_V1);
      await createConfig(h, 'other-0', 'other-0');
      const cutoff = h.clock.now();
      h.advance(1);
      await createModel(h, 'svc-a-late', IMAGE_V1);
      await createConfig(h, 'svc-a-late', 'svc-a-late');

      const models: string[] = [];
      const configs: string[] = [];
      const filter = { NameContains: 'svc-a', CreationTimeBefore: cutoff, MaxResults: 2 };
      let token: string | undefined;
      let pages = 0;
      do {
        const page = await h.client.send(new ListModelsCommand({ ...filter, NextToken: token }));
        assert.ok((page.Models ?? []).length <= 2);
        models.push(...(page.Models ?? []).map((m) => m.ModelName ?? ''));
        token = page.NextToken;
        pages += 1;
      } while (token);
      assert.equal(pages, 3);
      do {
        const page = await h.client.send(new ListEndpointConfigsCommand({ ...filter, NextToken: token }));
        configs.push(...(page.EndpointConfigs ?? []).map((c) => c.EndpointConfigName ?? ''));
        token = page.NextToken;
      } while (token);
      const expected = ['svc-a-4', 'svc-a-3', 'svc-a-2', 'svc-a-1', 'svc-a-0'];
      assert.deepEqual(models, expected);
      assert.deepEqual(configs, expected);
      // Created exactly at the cutoff is not "before" it.
      const atCutoff = await h.client.send(
        new ListModelsCommand({ NameContains: 'other', CreationTimeBefore: cutoff }),
      );
      assert.deepEqual(atCutoff.Models, []);
    });
  });

  it('lists the tags given at CreateModel and CreateEndpointConfig on the ARNs the List calls return', async () => {
    await withHarness(async (h) => {
      const tags = [
        { Key: 'ballast:managed', Value: 'true' },
        { Key: 'ballast:endpoint', Value: 'Summarizer' },
      ];
      await h.client.send(
        new CreateModelCommand({
          ModelName: 'Tagged-Model',
          ExecutionRoleArn: ROLE,
          PrimaryContainer: { Image: IMAGE_V1 },
          Tags: tags,
        }),
      );
      await h.client.send(
        new CreateEndpointConfigCommand({
          EndpointConfigName: 'Tagged-Config',
          ProductionVariants: [
            {
              VariantName: 'AllTraffic',
              ModelName: 'Tagged-Model',
              InstanceType: 'ml.g5.xlarge',
              InitialInstanceCount: 1,
            },
          ],
          Tags: tags,
        }),
      );
      const modelArn = (await h.client.send(new ListModelsCommand({ NameContains: 'Tagged' }))).Models?.[0]?.ModelArn;
      const configArn = (await h.client.send(new ListEndpointConfigsCommand({ NameContains: 'Tagged' })))
        .EndpointConfigs?.[0]?.EndpointConfigArn;
      // SageMaker ARNs carry the resource name in lower case.
      assert.equal(modelArn, `arn:aws:sagemaker:${REGION}:${ACCOUNT}:model/tagged-model`);
      assert.equal(configArn, `arn:aws:sagemaker:${REGION}:${ACCOUNT}:endpoint-config/tagged-config`);
      assert.deepEqual((await h.client.send(new ListTagsCommand({ ResourceArn: modelArn }))).Tags, tags);
      assert.deepEqual((await h.client.send(new ListTagsCommand({ ResourceArn: configArn }))).Tags, tags);
    });
  });

  it('answers ListTags for all 50 tags of a resource (the most it can carry) in one page and refuses MaxResults under 50', async () => {
    await withHarness(async (h) => {
      const tags = Array.from({ length: 50 }, (_, i) => ({ Key: `k${String(i).padStart(2, '0')}`, Value: `${i}` }));
      await h.client.send(
        new CreateModelCommand({
          ModelName: 'many',
          ExecutionRoleArn: ROLE,
          PrimaryContainer: { Image: IMAGE_V1 },
          Tags: tags,
        }),
      );
      const arn = `arn:aws:sagemaker:${REGION}:${ACCOUNT}:model/many`;
      const page = await h.client.send(new ListTagsCommand({ ResourceArn: arn, MaxResults: 50 }));
      assert.equal(page.Tags?.length, 50);
      assert.equal(page.NextToken, undefined);
      await expectError(
        h.client.send(new ListTagsCommand({ ResourceArn: arn, MaxResults: 10 })),
        'ValidationException',
        /maxResults/,
      );
    });
  });
});

describe('SageMaker sandbox: blue/green updates', () => {
  it('runs a CANARY update: canary traffic mid-bake, then the full shift, then InService on the new config', async () => {
    await withHarness(async (h) => {
      await liveEndpoint(h);
      const start = h.clock.nowMs();
      await h.client.send(
        new UpdateEndpointCommand({ EndpointName: 'ep', EndpointConfigName: 'cfg-v2', DeploymentConfig: canary() }),
      );

      const provisioning = await describeEp(h);
      assert.equal(provisioning.EndpointStatus, 'Updating');
      assert.equal(provisioning.EndpointConfigName, 'cfg-v1');
      assert.equal(provisioning.PendingDeploymentSummary?.EndpointConfigName, 'cfg-v2');
      assert.equal(provisioning.PendingDeploymentSummary?.StartTime?.getTime(), start);
      assert.equal(
        provisioning.PendingDeploymentSummary?.ProductionVariants?.[0]?.VariantStatus?.[0]?.Status,
        'Creating',
      );
      assert.equal(provisioning.PendingDeploymentSummary?.ProductionVariants?.[0]?.CurrentInstanceCount, 0);
      assert.deepEqual(provisioning.LastDeploymentConfig, canary());

      // Into the canary bake: 1 of the 4 green instances serves traffic.
      h.advance((T.provisionMs + T.activateTrafficMs) / 1000 + 120);
      const baking = await describeEp(h);
      assert.equal(baking.EndpointStatus, 'Updating');
      assert.equal(baking.EndpointConfigName, 'cfg-v1');
      const blue = baking.ProductionVariants?.[0];
      assert.equal(blue?.DeployedImages?.[0]?.SpecifiedImage, IMAGE_V1);
      assert.equal(blue?.CurrentInstanceCount, 4);
      const green = baking.PendingDeploymentSummary?.ProductionVariants?.[0];
      assert.equal(green?.DeployedImages?.[0]?.SpecifiedImage, IMAGE_V2);
      assert.equal(green?.CurrentInstanceCount, 1);
      assert.equal(green?.DesiredInstanceCount, 4);
      assert.equal(green?.CurrentWeight, 1);
      assert.equal(green?.VariantStatus?.[0]?.Status, 'Baking');
      assert.equal(
        green?.VariantStatus?.[0]?.StatusMessage,
        'Baking for 600 seconds (WaitIntervalInSeconds) with traffic enabled on canary capacity of 1 instance(s).',
      );
      assert.equal(green?.VariantStatus?.[0]?.StartTime?.getTime(), start + T.provisionMs + T.activateTrafficMs);
      const view = h.sagemaker.endpoint('ep');
      assert.equal(view?.pending?.phase, 'Baking');
      assert.equal(view?.pending?.routing, 'CANARY');
      assert.deepEqual(
        view?.traffic.map((t) => [t.fleet, t.configName, t.percent]),
        [
          ['blue', 'cfg-v1', 75],
          ['green', 'cfg-v2', 25],
        ],
      );

      // After the canary bake: full capacity, final bake (TerminationWaitInSeconds).
      h.advance(600 - 120 + T.activateTrafficMs / 1000 + 10);
      const finalBake = await describeEp(h);
      assert.equal(finalBake.PendingDeploymentSummary?.ProductionVariants?.[0]?.CurrentInstanceCount, 4);
      assert.equal(
        finalBake.PendingDeploymentSummary?.ProductionVariants?.[0]?.VariantStatus?.[0]?.StatusMessage,
        'Baking for 300 seconds (TerminationWaitInSeconds) with traffic enabled on full capacity of 4 instance(s).',
      );
      assert.equal(h.sagemaker.endpoint('ep')?.traffic.find((t) => t.fleet === 'green')?.percent, 100);

      // Blue termination, then InService on the new config.
      h.advance(300 - 10 + 1);
      const terminating = await describeEp(h);
      assert.equal(terminating.EndpointStatus, 'Updating');
      assert.equal(terminating.ProductionVariants?.[0]?.VariantStatus?.[0]?.Status, 'Deleting');
      assert.equal(
        terminating.ProductionVariants?.[0]?.VariantStatus?.[0]?.StatusMessage,
        'Terminating 4 instance(s).',
      );
      h.advance(T.terminateMs / 1000);
      const done = await describeEp(h);
      assert.equal(done.EndpointStatus, 'InService');
      assert.equal(done.EndpointConfigName, 'cfg-v2');
      assert.equal(done.PendingDeploymentSummary, undefined);
      assert.equal(done.FailureReason, undefined);
      assert.equal(done.ProductionVariants?.[0]?.DeployedImages?.[0]?.SpecifiedImage, IMAGE_V2);
      assert.equal(done.ProductionVariants?.[0]?.CurrentInstanceCount, 4);
      assert.equal(h.sagemaker.endpoint('ep')?.lastUpdate?.outcome, 'succeeded');

      assert.deepEqual(trace(h), [
        'EP:CREATING:cfg-v1',
        'EP:IN_SERVICE:cfg-v1',
        'EP:UPDATING:cfg-v1',
        'DEP:Creating',
        'DEP:ActivatingTraffic',
        'DEP:Baking',
        'DEP:ActivatingTraffic',
        'DEP:Baking',
        'DEP:blue-Deleting',
        'EP:IN_SERVICE:cfg-v2',
      ]);
      const dep = sagemakerEvents(h).find((e) => e['detail-type'] === 'SageMaker Endpoint Deployment State Change');
      const detail = dep?.detail as Record<string, unknown>;
      assert.equal(detail.EndpointStatus, 'UPDATING');
      assert.equal(detail.EndpointConfigName, 'cfg-v1');
      assert.equal((detail.PendingDeploymentSummary as Record<string, unknown>).EndpointConfigName, 'cfg-v2');
      assert.equal((detail.PendingDeploymentSummary as Record<string, unknown>).StartTime, start);
    });
  });

  it('runs a LINEAR update step by step', async () => {
    await withHarness(async (h) => {
      await liveEndpoint(h);
      await h.client.send(
        new UpdateEndpointCommand({
          EndpointName: 'ep',
          EndpointConfigName: 'cfg-v2',
          DeploymentConfig: {
            BlueGreenUpdatePolicy: {
              TrafficRoutingConfiguration: {
                Type: 'LINEAR',
                LinearStepSize: { Type: 'CAPACITY_PERCENT', Value: 25 },
                WaitIntervalInSeconds: 300,
              },
              TerminationWaitInSeconds: 120,
            },
          },
        }),
      );
      h.advance(T.provisionMs / 1000);
      const seen: Array<[number | undefined, number | undefined]> = [];
      for (let step = 1; step <= 3; step += 1) {
        h.advance(T.activateTrafficMs / 1000 + 1);
        const d = await describeEp(h);
        const green = d.PendingDeploymentSummary?.ProductionVariants?.[0];
        assert.equal(green?.VariantStatus?.[0]?.Status, 'Baking');
        seen.push([
          green?.CurrentInstanceCount,
          h.sagemaker.endpoint('ep')?.traffic.find((t) => t.fleet === 'green')?.percent,
        ]);
        h.advance(300 - 1);
      }
      assert.deepEqual(seen, [
        [1, 25],
        [2, 50],
        [3, 75],
      ]);
      h.advance(T.activateTrafficMs / 1000 + 1);
      const last = await describeEp(h);
      assert.match(
        last.PendingDeploymentSummary?.ProductionVariants?.[0]?.VariantStatus?.[0]?.StatusMessage ?? '',
        /^Baking for 120 seconds \(TerminationWaitInSeconds\) with traffic enabled on full capacity of 4/,
      );
      h.advance(120 + T.terminateMs / 1000);
      const done = await describeEp(h);
      assert.equal(done.EndpointStatus, 'InService');
      assert.equal(done.EndpointConfigName, 'cfg-v2');
      assert.equal(trace(h).filter((t) => t === 'DEP:Baking').length, 4);
    });
  });

  it('UpdateEndpoint without DeploymentConfig is a blue/green ALL_AT_ONCE update', async () => {
    await withHarness(async (h) => {
      await liveEndpoint(h);
      await h.client.send(new UpdateEndpointCommand({ EndpointName: 'ep', EndpointConfigName: 'cfg-v2' }));
      assert.equal(h.sagemaker.endpoint('ep')?.pending?.routing, 'ALL_AT_ONCE');
      assert.equal((await describeEp(h)).LastDeploymentConfig, undefined);
      h.advance(T.provisionMs / 1000 + T.activateTrafficMs / 1000 + T.terminateMs / 1000);
      const done = await describeEp(h);
      assert.equal(done.EndpointStatus, 'InService');
      assert.equal(done.EndpointConfigName, 'cfg-v2');
      assert.deepEqual(trace(h).slice(2), [
        'EP:UPDATING:cfg-v1',
        'DEP:Creating',
        'DEP:ActivatingTraffic',
        'DEP:Baking', // a zero-second final bake (TerminationWaitInSeconds defaults to 0)
        'DEP:blue-Deleting',
        'EP:IN_SERVICE:cfg-v2',
      ]);
    });
  });

  it('rolls back silently when a guarding alarm fires during the canary bake, even across one big clock jump', async () => {
    await withHarness(async (h) => {
      await liveEndpoint(h);
      h.alarms.set('ep-5xx', 'OK', h.clock.nowMs());
      const start = h.clock.nowMs();
      await h.client.send(
        new UpdateEndpointCommand({
          EndpointName: 'ep',
          EndpointConfigName: 'cfg-v2',
          DeploymentConfig: canary(['ep-5xx']),
        }),
      );
      // The alarm flaps inside the canary bake only.
      const bakeStart = start + T.provisionMs + T.activateTrafficMs;
      h.alarms.set('ep-5xx', 'ALARM', bakeStart + 200_000);
      h.alarms.set('ep-5xx', 'OK', bakeStart + 230_000);

      const configsSeen = new Set<string | undefined>();
      for (let i = 0; i < 3; i += 1) {
        configsSeen.add((await describeEp(h)).EndpointConfigName);
        h.advance(60);
      }
      h.advance(2 * 3600); // far past where the rollout would have ended
      const after = await describeEp(h);
      configsSeen.add(after.EndpointConfigName);

      assert.equal(after.EndpointStatus, 'InService');
      assert.equal(after.EndpointConfigName, 'cfg-v1');
      assert.equal(after.FailureReason, undefined);
      assert.equal(after.PendingDeploymentSummary, undefined);
      assert.deepEqual(after.LastDeploymentConfig, canary(['ep-5xx']));
      assert.equal(after.ProductionVariants?.[0]?.DeployedImages?.[0]?.SpecifiedImage, IMAGE_V1);
      assert.deepEqual([...configsSeen], ['cfg-v1']);
      // The alarm is seen at the poll that covers its transition; the rollback then takes rollbackMs.
      assert.equal(after.LastModifiedTime?.getTime(), bakeStart + 200_000 + T.rollbackMs);

      const view = h.sagemaker.endpoint('ep');
      assert.deepEqual(view?.lastUpdate && { ...view.lastUpdate, at: undefined }, {
        configName: 'cfg-v2',
        outcome: 'rolled-back',
        cause: 'alarm:ep-5xx',
        at: undefined,
      });
      assert.deepEqual(
        view?.traffic.map((t) => [t.configName, t.percent]),
        [['cfg-v1', 100]],
      );
      assert.deepEqual(trace(h).slice(2), [
        'EP:UPDATING:cfg-v1',
        'DEP:Creating',
        'DEP:ActivatingTraffic',
        'DEP:Baking',
        'DEP:Deleting', // the green fleet is torn down
        'EP:IN_SERVICE:cfg-v1',
      ]);
      assert.ok(!trace(h).includes('EP:IN_SERVICE:cfg-v2'));
    });
  });

  it('checks every bake window in order across a clock jump: an alarm in the final bake still rolls back', async () => {
    await withHarness(async (h) => {
      await liveEndpoint(h);
      const start = h.clock.nowMs();
      await h.client.send(
        new UpdateEndpointCommand({
          EndpointName: 'ep',
          EndpointConfigName: 'cfg-v2',
          DeploymentConfig: canary(['latency'], { wait: 600, termination: 600 }),
        }),
      );
      const finalBakeStart = start + T.provisionMs + 2 * T.activateTrafficMs + 600_000;
      h.alarms.set('latency', 'OK', start);
      h.alarms.set('latency', 'ALARM', finalBakeStart + 450_000);
      h.advance(3 * 3600);
      const after = await describeEp(h);
      assert.equal(after.EndpointStatus, 'InService');
      assert.equal(after.EndpointConfigName, 'cfg-v1');
      assert.deepEqual(trace(h).slice(2), [
        'EP:UPDATING:cfg-v1',
        'DEP:Creating',
        'DEP:ActivatingTraffic',
        'DEP:Baking',
        'DEP:ActivatingTraffic',
        'DEP:Baking',
        'DEP:Deleting',
        'EP:IN_SERVICE:cfg-v1',
      ]);
      assert.equal(after.LastModifiedTime?.getTime(), finalBakeStart + 450_000 + T.rollbackMs);
    });
  });

  it('an alarm that is already in ALARM before the update does not stop provisioning but rolls back at the first bake', async () => {
    await withHarness(async (h) => {
      await liveEndpoint(h);
      h.alarms.set('noisy', 'ALARM', h.clock.nowMs() - 1000);
      await h.client.send(
        new UpdateEndpointCommand({
          EndpointName: 'ep',
          EndpointConfigName: 'cfg-v2',
          DeploymentConfig: {
            BlueGreenUpdatePolicy: {
              TrafficRoutingConfiguration: { Type: 'ALL_AT_ONCE', WaitIntervalInSeconds: 0 },
              TerminationWaitInSeconds: 0,
            },
            AutoRollbackConfiguration: { Alarms: [{ AlarmName: 'noisy' }] },
          },
        }),
      );
      h.advance(3600);
      assert.equal((await describeEp(h)).EndpointConfigName, 'cfg-v1');
      assert.equal(h.sagemaker.endpoint('ep')?.lastUpdate?.cause, 'alarm:noisy');
    });
  });

  it('a failed update (green fleet fails its health check) leaves the endpoint InService on the old config with a FailureReason', async () => {
    await withHarness(async (h) => {
      await liveEndpoint(h, { v2Env: { SANDBOX_FAIL: 'startup' } });
      await h.client.send(
        new UpdateEndpointCommand({ EndpointName: 'ep', EndpointConfigName: 'cfg-v2', DeploymentConfig: canary() }),
      );
      h.advance(T.provisionMs / 1000 + 1);
      const rollingBack = await describeEp(h);
      assert.equal(rollingBack.EndpointStatus, 'Updating');
      assert.equal(
        rollingBack.PendingDeploymentSummary?.ProductionVariants?.[0]?.VariantStatus?.[0]?.Status,
        'Deleting',
      );
      assert.equal(h.sagemaker.endpoint('ep')?.pending?.phase, 'RollingBack');
      h.advance(T.rollbackMs / 1000);
      const after = await describeEp(h);
      assert.equal(after.EndpointStatus, 'InService');
      assert.equal(after.EndpointConfigName, 'cfg-v1');
      assert.match(after.FailureReason ?? '', /did not pass the ping health check/);
      assert.equal(h.sagemaker.endpoint('ep')?.lastUpdate?.cause, 'health-check');

      // The reason disappears as soon as a new update is applied.
      await h.client.send(new UpdateEndpointCommand({ EndpointName: 'ep', EndpointConfigName: 'cfg-v1' }));
      assert.equal((await describeEp(h)).FailureReason, undefined);
    });
  });

  it('rolls back when MaximumExecutionTimeoutInSeconds passes before the traffic shift is done', async () => {
    await withHarness(async (h) => {
      await liveEndpoint(h);
      const start = h.clock.nowMs();
      await h.client.send(
        new UpdateEndpointCommand({
          EndpointName: 'ep',
          EndpointConfigName: 'cfg-v2',
          DeploymentConfig: canary([], { wait: 600, termination: 600, timeout: 900 }),
        }),
      );
      h.advance(3600);
      const after = await describeEp(h);
      assert.equal(after.EndpointConfigName, 'cfg-v1');
      assert.match(after.FailureReason ?? '', /MaximumExecutionTimeoutInSeconds/);
      assert.equal(after.LastModifiedTime?.getTime(), start + 900_000 + T.rollbackMs);
    });
  });

  it('RetainAllVariantProperties keeps live capacity; RetainDeploymentConfig reuses the last deployment config', async () => {
    await withHarness(async (h) => {
      await liveEndpoint(h, { instances: 2 });
      await h.client.send(
        new UpdateEndpointWeightsAndCapacitiesCommand({
          EndpointName: 'ep',
          DesiredWeightsAndCapacities: [{ VariantName: 'AllTraffic', DesiredInstanceCount: 6 }],
        }),
      );
      const scaling = await describeEp(h);
      assert.equal(scaling.EndpointStatus, 'Updating');
      assert.deepEqual(
        [scaling.ProductionVariants?.[0]?.CurrentInstanceCount, scaling.ProductionVariants?.[0]?.DesiredInstanceCount],
        [2, 6],
      );
      assert.equal(
        scaling.ProductionVariants?.[0]?.VariantStatus?.[0]?.StatusMessage,
        'Scaling out desired instance count to 6.',
      );
      await expectError(
        h.client.send(new UpdateEndpointCommand({ EndpointName: 'ep', EndpointConfigName: 'cfg-v2' })),
        'ValidationException',
        `Cannot update in-progress endpoint "arn:aws:sagemaker:${REGION}:${ACCOUNT}:endpoint/ep".`,
      );
      h.advance(T.weightsAndCapacitiesMs / 1000);
      assert.equal((await describeEp(h)).ProductionVariants?.[0]?.CurrentInstanceCount, 6);

      await h.client.send(
        new UpdateEndpointCommand({
          EndpointName: 'ep',
          EndpointConfigName: 'cfg-v2',
          RetainAllVariantProperties: true,
          DeploymentConfig: canary(),
        }),
      );
      assert.equal((await describeEp(h)).PendingDeploymentSummary?.ProductionVariants?.[0]?.DesiredInstanceCount, 6);
      h.advance(3 * 3600);
      assert.equal((await describeEp(h)).ProductionVariants?.[0]?.CurrentInstanceCount, 6);

      await h.client.send(
        new UpdateEndpointCommand({
          EndpointName: 'ep',
          EndpointConfigName: 'cfg-v1',
          RetainAllVariantProperties: true,
          ExcludeRetainedVariantProperties: [{ VariantPropertyType: 'DesiredInstanceCount' }],
          RetainDeploymentConfig: true,
        }),
      );
      const retained = await describeEp(h);
      assert.equal(retained.PendingDeploymentSummary?.ProductionVariants?.[0]?.DesiredInstanceCount, 2);
      assert.deepEqual(retained.LastDeploymentConfig, canary());
      assert.equal(h.sagemaker.endpoint('ep')?.pending?.routing, 'CANARY');
    });
  });

  it('deployment guardrail exclusions (multi-variant) fall back to ALL_AT_ONCE without baking', async () => {
    await withHarness(async (h) => {
      await liveEndpoint(h);
      await h.client.send(
        new CreateEndpointConfigCommand({
          EndpointConfigName: 'cfg-ab',
          ProductionVariants: [
            { VariantName: 'A', ModelName: 'model-v1', InstanceType: 'ml.g5.xlarge', InitialInstanceCount: 1 },
            {
              VariantName: 'B',
              ModelName: 'model-v2',
              InstanceType: 'ml.g5.xlarge',
              InitialInstanceCount: 1,
              InitialVariantWeight: 3,
            },
          ],
        }),
      );
      await h.client.send(
        new UpdateEndpointCommand({ EndpointName: 'ep', EndpointConfigName: 'cfg-ab', DeploymentConfig: canary() }),
      );
      assert.equal(h.sagemaker.endpoint('ep')?.pending?.routing, 'ALL_AT_ONCE');
      h.advance((T.provisionMs + T.activateTrafficMs) / 1000);
      assert.equal(h.sagemaker.endpoint('ep')?.pending?.phase, 'Deleting');
      h.advance(T.terminateMs / 1000);
      assert.deepEqual(
        h.sagemaker.endpoint('ep')?.traffic.map((t) => [t.variantName, t.percent]),
        [
          ['A', 25],
          ['B', 75],
        ],
      );
    });
  });
});

describe('SageMaker sandbox: validation errors', () => {
  it('answers bad requests with AWS-like ValidationExceptions', async () => {
    await withHarness(async (h) => {
      const arn = (kind: string, name: string) => `arn:aws:sagemaker:${REGION}:${ACCOUNT}:${kind}/${name}`;
      await expectError(
        h.client.send(new DescribeEndpointCommand({ EndpointName: 'nope' })),
        'ValidationException',
        `Could not find endpoint "${arn('endpoint', 'nope')}".`,
      );
      await expectError(
        h.client.send(new DescribeModelCommand({ ModelName: 'nope' })),
        'ValidationException',
        `Could not find model "${arn('model', 'nope')}".`,
      );
      await expectError(
        h.client.send(new DeleteEndpointConfigCommand({ EndpointConfigName: 'nope' })),
        'ValidationException',
        `Could not find endpoint configuration "${arn('endpoint-config', 'nope')}".`,
      );
      await expectError(
        h.client.send(new CreateModelCommand({ ModelName: 'bad_name', PrimaryContainer: { Image: IMAGE_V1 } })),
        'ValidationException',
        "1 validation error detected: Value 'bad_name' at 'modelName' failed to satisfy constraint: Member must satisfy regular expression pattern: ^[a-zA-Z0-9]([\\-a-zA-Z0-9]*[a-zA-Z0-9])?",
      );
      await expectError(
        h.client.send(new CreateEndpointCommand({ EndpointName: 'x'.repeat(64), EndpointConfigName: undefined })),
        'ValidationException',
        `2 validation errors detected: Value '${'x'.repeat(64)}' at 'endpointName' failed to satisfy constraint: Member must have length less than or equal to 63; Value null at 'endpointConfigName' failed to satisfy constraint: Member must not be null`,
      );
      await expectError(
        h.client.send(
          new CreateEndpointConfigCommand({
            EndpointConfigName: 'cfg',
            ProductionVariants: [
              { VariantName: 'AllTraffic', ModelName: 'ghost', InstanceType: 'ml.m5.large', InitialInstanceCount: 1 },
            ],
          }),
        ),
        'ValidationException',
        `Could not find model "${arn('model', 'ghost')}".`,
      );
      await createModel(h, 'm', IMAGE_V1);
      await expectError(
        createModel(h, 'M', IMAGE_V1),
        'ValidationException',
        `Cannot create already existing model "${arn('model', 'm')}".`,
      );
      await createConfig(h, 'cfg', 'm', 4);
      await expectError(
        createConfig(h, 'cfg', 'm', 4),
        'ValidationException',
        `Cannot create already existing endpoint configuration "${arn('endpoint-config', 'cfg')}".`,
      );
      await expectError(
        h.client.send(new CreateEndpointCommand({ EndpointName: 'ep', EndpointConfigName: 'ghost' })),
        'ValidationException',
        `Could not find endpoint configuration "${arn('endpoint-config', 'ghost')}".`,
      );
      await h.client.send(new CreateEndpointCommand({ EndpointName: 'ep', EndpointConfigName: 'cfg' }));
      await expectError(
        h.client.send(new UpdateEndpointCommand({ EndpointName: 'ep', EndpointConfigName: 'cfg' })),
        'ValidationException',
        `Cannot update in-progress endpoint "${arn('endpoint', 'ep')}".`,
      );
      h.advance(T.createMs / 1000);

      const update = (DeploymentConfig: DeploymentConfig) =>
        h.client.send(new UpdateEndpointCommand({ EndpointName: 'ep', EndpointConfigName: 'cfg', DeploymentConfig }));
      const bg = (trc: Record<string, unknown>, extra: Record<string, unknown> = {}) =>
        ({
          BlueGreenUpdatePolicy: { TrafficRoutingConfiguration: trc, ...extra },
        }) as unknown as DeploymentConfig;
      await expectError(
        update(bg({ Type: 'CANARY', CanarySize: { Type: 'CAPACITY_PERCENT', Value: 60 }, WaitIntervalInSeconds: 60 })),
        'ValidationException',
        /^CanarySize must be less than or equal to 50% of the variant's total instance count/,
      );
      await expectError(
        update(bg({ Type: 'CANARY', CanarySize: { Type: 'INSTANCE_COUNT', Value: 3 }, WaitIntervalInSeconds: 60 })),
        'ValidationException',
        /^CanarySize must be less than or equal to 50%/,
      );
      await expectError(
        update(
          bg({ Type: 'LINEAR', LinearStepSize: { Type: 'CAPACITY_PERCENT', Value: 5 }, WaitIntervalInSeconds: 60 }),
        ),
        'ValidationException',
        /^LinearStepSize must be between 10% and 50%/,
      );
      await expectError(
        update(bg({ Type: 'CANARY', WaitIntervalInSeconds: 60 })),
        'ValidationException',
        'CanarySize must be specified when TrafficRoutingConfiguration Type is CANARY.',
      );
      await expectError(
        update(
          bg(
            { Type: 'CANARY', CanarySize: { Type: 'BANANAS', Value: 0 }, WaitIntervalInSeconds: 3601 },
            { TerminationWaitInSeconds: -1, MaximumExecutionTimeoutInSeconds: 599 },
          ),
        ),
        'ValidationException',
        [
          '5 validation errors detected:',
          "Value '3601' at 'deploymentConfig.blueGreenUpdatePolicy.trafficRoutingConfiguration.waitIntervalInSeconds' failed to satisfy constraint: Member must have value less than or equal to 3600;",
          "Value 'BANANAS' at 'deploymentConfig.blueGreenUpdatePolicy.trafficRoutingConfiguration.canarySize.type' failed to satisfy constraint: Member must satisfy enum value set: [INSTANCE_COUNT, CAPACITY_PERCENT];",
          "Value '0' at 'deploymentConfig.blueGreenUpdatePolicy.trafficRoutingConfiguration.canarySize.value' failed to satisfy constraint: Member must have value greater than or equal to 1;",
          "Value '-1' at 'deploymentConfig.blueGreenUpdatePolicy.terminationWaitInSeconds' failed to satisfy constraint: Member must have value greater than or equal to 0;",
          "Value '599' at 'deploymentConfig.blueGreenUpdatePolicy.maximumExecutionTimeoutInSeconds' failed to satisfy constraint: Member must have value greater than or equal to 600",
        ].join(' '),
      );
      await expectError(
        update({
          ...bg({ Type: 'ALL_AT_ONCE', WaitIntervalInSeconds: 0 }, { MaximumExecutionTimeoutInSeconds: 28801 }),
          AutoRollbackConfiguration: { Alarms: Array.from({ length: 11 }, (_, i) => ({ AlarmName: `a${i}` })) },
        }),
        'ValidationException',
        /^2 validation errors detected: .*maximumExecutionTimeoutInSeconds.*less than or equal to 28800; .*'deploymentConfig\.autoRollbackConfiguration\.alarms' failed to satisfy constraint: Member must have length less than or equal to 10$/,
      );
      await expectError(
        update({ ...bg({ Type: 'ALL_AT_ONCE', WaitIntervalInSeconds: 0 }), AutoRollbackConfiguration: { Alarms: [] } }),
        'ValidationException',
        /'deploymentConfig\.autoRollbackConfiguration\.alarms' failed to satisfy constraint: Member must have length greater than or equal to 1$/,
      );
      await expectError(
        update(bg({ Type: 'ALL_AT_ONCE' })),
        'ValidationException',
        "1 validation error detected: Value null at 'deploymentConfig.blueGreenUpdatePolicy.trafficRoutingConfiguration.waitIntervalInSeconds' failed to satisfy constraint: Member must not be null",
      );
      // Nothing changed on the endpoint.
      assert.equal((await describeEp(h)).EndpointStatus, 'InService');
      assert.equal(h.requests.all().filter((r) => r.operation === 'UpdateEndpoint' && r.status === 200).length, 0);
    });
  });
});

describe('SageMaker sandbox: faults', () => {
  it('throttles with ThrottlingException, which the SDK retries', async () => {
    await withHarness(async (h) => {
      await createModel(h, 'm', IMAGE_V1);
      h.faults.add({ service: 'sagemaker', operation: 'DescribeModel', kind: 'throttle', times: 2 });
      const model = await h.client.send(new DescribeModelCommand({ ModelName: 'm' }));
      assert.equal(model.ModelName, 'm');
      assert.equal(model.$metadata.attempts, 3);
      const calls = h.requests.all().filter((r) => r.operation === 'DescribeModel');
      assert.deepEqual(
        calls.map((c) => [c.status, c.fault]),
        [
          [400, 'throttle'],
          [400, 'throttle'],
          [200, undefined],
        ],
      );
      h.faults.add({ service: 'sagemaker', operation: 'DescribeModel', kind: 'throttle', times: 5 });
      await expectError(
        h.client.send(new DescribeModelCommand({ ModelName: 'm' })),
        'ThrottlingException',
        /Rate exceeded/,
      );
    });
  });
});
