/**
 * End to end, the reconciler: the reconcile workflow (the ASL the stack ships, on the local runner
 * with the real handlers) compares the sandbox's SageMaker endpoints with Git. Out-of-band changes
 * are made the way people make them, with the AWS SDK; the tests look at the ledger, the endpoint's
 * state and DescribeEndpoint, and at what the deploy workflow did about it.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ApplicationAutoScalingClient, RegisterScalableTargetCommand } from '@aws-sdk/client-application-auto-scaling';
import {
  DeleteEndpointCommand,
  DeleteTagsCommand,
  ListEndpointConfigsCommand,
  ListModelsCommand,
  ListTagsCommand,
  UpdateEndpointWeightsAndCapacitiesCommand,
} from '@aws-sdk/client-sagemaker';
import { keys } from '../../lambdas/state/keys.ts';
import type { LedgerEntry } from '../../lambdas/state/ledger.ts';
import type { ReconcileStatus } from '../../lambdas/state/reconcile-status.ts';
import { CODECOMMIT_PUSH_PATTERN } from '../../sandbox/pipeline.ts';
import { handEdit, letSageMakerSettle, reconcile } from '../support/reconcile.ts';
import { ENDPOINT_FILE, editYaml, MODEL_FILE, requireFile, SUMMARIZER, world } from './harness.ts';

const REPOSITORY_FILE = 'ballast.yaml';

function entries(ledger: readonly LedgerEntry[], outcome: LedgerEntry['outcome']): LedgerEntry[] {
  return ledger.filter((e) => e.outcome === outcome);
}

test('drift detected field by field, recorded, and healed through the deploy workflow', async () => {
  const w = await world();
  try {
    await w.deploy(w.files, 'initial');
    const ballastConfig = await handEdit(w);

    await reconcile(w);
    const drifted = entries(await w.ledger('summarizer'), 'drifted');
    assert.equal(drifted.length, 1, 'one drifted entry');
    assert.deepEqual(
      drifted[0]?.drift?.map((d) => d.path),
      ['/target/sagemaker/endpointConfigName', '/target/sagemaker/instanceType'],
    );
    assert.equal(drifted[0]?.drift?.[1]?.actual, 'ml.g5.12xlarge');
    const events = w.sandbox.events.events().filter((e) => e['detail-type'] === 'Ballast Drift Detected');
    assert.equal(events.length, 1, 'one drift event on the bus');

    await letSageMakerSettle(w);
    assert.equal(
      (await w.describe(SUMMARIZER)).EndpointConfigName,
      ballastConfig,
      "the heal put Ballast's configuration back",
    );
    const heal = (await w.ledger('summarizer')).filter((e) => e.outcome === 'deployed' && e.retry?.kind === 'heal');
    assert.equal(heal.length, 1, 'the heal is in the ledger as a deployment');

    await reconcile(w);
    assert.equal((await w.state('summarizer'))?.drift, undefined, 'in sync again: the drift mark is gone');
    assert.equal(entries(await w.ledger('summarizer'), 'drifted').length, 1, 'no new drift entry');
    const status = await w.json<ReconcileStatus>(keys.reconcileStatus);
    assert.equal(status?.environments.prod?.lastRun?.inSync, 1);
  } finally {
    await w.stop();
  }
});

test('ignored drift is left alone: the example ignores instance counts, and autoscaled variants are ignored built in', async () => {
  const w = await world();
  try {
    await w.deploy(w.files, 'initial');
    await w.clients.sagemaker.send(
      new UpdateEndpointWeightsAndCapacitiesCommand({
        EndpointName: SUMMARIZER,
        DesiredWeightsAndCapacities: [{ VariantName: 'AllTraffic', DesiredInstanceCount: 3 }],
      }),
    );
    await letSageMakerSettle(w);
    const mark = w.sandbox.requests.all().length;
    await reconcile(w);
    assert.equal(entries(await w.ledger('summarizer'), 'drifted').length, 0, 'no drift recorded');
    assert.equal((await w.state('summarizer'))?.drift, undefined);
    const variant = (await w.describe(SUMMARIZER)).ProductionVariants?.[0];
    assert.equal(variant?.DesiredInstanceCount ?? variant?.CurrentInstanceCount, 3, 'the count stays as it was set');
    const deploys = w.pipeline.runner
      .executions('deploy')
      .filter((e) => e.startedAt.getTime() > 0 && e.name.startsWith('heal-'));
    assert.equal(deploys.length, 0, 'no heal started');
    assert.ok(w.requestsSince(mark).length > 0, 'the reconciler did look');
  } finally {
    await w.stop();
  }
});

test("the built-in rule: an autoscaled variant's count is not drift even without a drift.ignore rule", async () => {
  const w = await world();
  try {
    const repository = editYaml(requireFile(w.files, REPOSITORY_FILE), [[['spec', 'drift', 'ignore'], []]]);
    await w.deploy({ ...w.files, [REPOSITORY_FILE]: repository }, 'initial, no ignore rules');
    await w.clients.sagemaker.send(
      new UpdateEndpointWeightsAndCapacitiesCommand({
        EndpointName: SUMMARIZER,
        DesiredWeightsAndCapacities: [{ VariantName: 'AllTraffic', DesiredInstanceCount: 3 }],
      }),
    );
    await letSageMakerSettle(w);
    const scaling = new ApplicationAutoScalingClient({
      endpoint: w.sandbox.url,
      region: w.sandbox.region,
      credentials: { accessKeyId: 'x', secretAccessKey: 'x' },
    });
    await scaling.send(
      new RegisterScalableTargetCommand({
        ServiceNamespace: 'sagemaker',
        ResourceId: `endpoint/${SUMMARIZER}/variant/AllTraffic`,
        ScalableDimension: 'sagemaker:variant:DesiredInstanceCount',
        MinCapacity: 1,
        MaxCapacity: 4,
      }),
    );
    scaling.destroy();
    await reconcile(w);
    assert.equal(entries(await w.ledger('summarizer'), 'drifted').length, 0, 'autoscaled: not drift');
  } finally {
    await w.stop();
  }
});

test('selfHeal off reports only', async () => {
  const w = await world();
  try {
    const repository = editYaml(requireFile(w.files, REPOSITORY_FILE), [[['spec', 'reconcile', 'selfHeal'], false]]);
    await w.deploy({ ...w.files, [REPOSITORY_FILE]: repository }, 'initial, report only');
    await handEdit(w);
    await reconcile(w);
    await letSageMakerSettle(w);
    const drifted = entries(await w.ledger('summarizer'), 'drifted');
    assert.equal(drifted.length, 1);
    assert.match(drifted[0]?.reason ?? '', /selfHeal is off/);
    assert.equal((await w.describe(SUMMARIZER)).EndpointConfigName, 'hand-made-summarizer', 'left as it is');
    assert.equal((await w.state('summarizer'))?.drift?.action, 'report');
  } finally {
    await w.stop();
  }
});

test('an endpoint deleted out of band is created again', async () => {
  const w = await world();
  try {
    await w.deploy(w.files, 'initial');
    const ballastConfig = (await w.describe(SUMMARIZER)).EndpointConfigName;
    await w.clients.sagemaker.send(new DeleteEndpointCommand({ EndpointName: SUMMARIZER }));
    await letSageMakerSettle(w);
    await reconcile(w);
    const drifted = entries(await w.ledger('summarizer'), 'drifted');
    assert.deepEqual(drifted[0]?.drift, [{ path: '/status', expected: 'InService', actual: null }]);
    await letSageMakerSettle(w);
    const endpoint = await w.describe(SUMMARIZER);
    assert.equal(endpoint.EndpointStatus, 'InService');
    assert.equal(endpoint.EndpointConfigName, ballastConfig);
  } finally {
    await w.stop();
  }
});

test('a reconcile during a rollout leaves the endpoint to it', async () => {
  let during: (() => Promise<void>) | undefined;
  const w = await world({
    around: {
      // Right after Deploy has started the rollout, while the push holds the endpoint's lease.
      Deploy: async (input, next) => {
        const output = await next(input);
        await during?.();
        return output;
      },
    },
  });
  try {
    await w.deploy(w.files, 'initial');
    let leased: boolean | undefined;
    during = async () => {
      during = undefined;
      leased = (await w.state('summarizer'))?.lease !== undefined;
      // No reconcile has run yet, so the environment is due now (time must not pass inside a task).
      await w.pipeline.reconcile().result;
    };
    const endpoint = editYaml(requireFile(w.files, ENDPOINT_FILE), [
      [['spec', 'target', 'sagemaker', 'instanceType'], 'ml.g5.4xlarge'],
    ]);
    const commit = await w.deploy({ [ENDPOINT_FILE]: endpoint }, 'bigger instances');
    await letSageMakerSettle(w);
    assert.equal(leased, true, 'the reconcile ran while the rollout held the endpoint');
    const status = await w.json<ReconcileStatus>(keys.reconcileStatus);
    assert.equal(status?.environments.prod?.lastRun?.skipped, 1, 'it looked, and left the endpoint alone');
    const heals = w.pipeline.runner.executions('deploy').filter((e) => e.name.startsWith('heal-'));
    assert.equal(heals.length, 0, 'no heal while a rollout runs');
    assert.equal(entries(await w.ledger('summarizer'), 'drifted').length, 0);
    assert.equal((await w.state('summarizer'))?.live?.commit, commit, 'the rollout finished as it would have');
  } finally {
    await w.stop();
  }
});

test('a push whose event was lost is deployed by the reconciler, once', async () => {
  const w = await world();
  try {
    await w.deploy(w.files, 'initial');
    w.sandbox.events.loseDeliveries(CODECOMMIT_PUSH_PATTERN);
    const endpoint = editYaml(requireFile(w.files, ENDPOINT_FILE), [
      [['spec', 'target', 'sagemaker', 'instanceType'], 'ml.g5.4xlarge'],
    ]);
    const lost = await w.deploy({ [ENDPOINT_FILE]: endpoint }, 'a push nobody heard');
    assert.equal(w.executions(lost).length, 0, 'the event started nothing');
    // The first look finds the unseen head; after the grace, the next one deploys it.
    await reconcile(w);
    await w.minutes(3);
    await reconcile(w);
    await letSageMakerSettle(w);
    assert.equal((await w.state('summarizer'))?.live?.commit, lost, 'the lost push is live');
    await reconcile(w);
    await w.minutes(3);
    await reconcile(w);
    const started = w.pipeline.runner.executions('deploy').filter((e) => e.name.startsWith('missed-'));
    assert.equal(started.length, 1, 'started once');
  } finally {
    await w.stop();
  }
});

test('a removed declaration is reported; with prune: true the endpoint and its resources are deleted', async () => {
  const w = await world();
  try {
    await w.deploy(w.files, 'initial');
    await w.deploy({ [ENDPOINT_FILE]: null }, 'summarizer goes');
    await reconcile(w);
    const removed = entries(await w.ledger('summarizer'), 'removed');
    assert.equal(removed.length, 1, 'reported');
    assert.equal((await w.describe(SUMMARIZER)).EndpointStatus, 'InService', 'and still running');
    await reconcile(w);
    assert.equal(entries(await w.ledger('summarizer'), 'removed').length, 1, 'reported once');

    const repository = editYaml(requireFile(w.files, REPOSITORY_FILE), [[['spec', 'reconcile', 'prune'], true]]);
    await w.deploy({ [REPOSITORY_FILE]: repository }, 'prune');
    await reconcile(w);
    assert.equal(entries(await w.ledger('summarizer'), 'pruned').length, 1, 'pruned');
    await letSageMakerSettle(w);
    await reconcile(w);
    await assert.rejects(w.describe(SUMMARIZER), /Could not find endpoint/);
    const configs = await w.clients.sagemaker.send(new ListEndpointConfigsCommand({ NameContains: SUMMARIZER }));
    const models = await w.clients.sagemaker.send(new ListModelsCommand({ NameContains: SUMMARIZER }));
    assert.deepEqual(configs.EndpointConfigs ?? [], [], 'its configurations are gone');
    assert.deepEqual(models.Models ?? [], [], 'its Models are gone');
    const state = await w.state('summarizer');
    assert.equal(state?.live, undefined, 'the state forgets what ran');
    assert.ok(state?.pruned, 'and says when it was pruned');
  } finally {
    await w.stop();
  }
});

test('quarantined content is never re-deployed by the reconciler', async () => {
  const w = await world();
  try {
    const good = await w.deploy(w.files, 'initial');
    const goodConfig = (await w.describe(SUMMARIZER)).EndpointConfigName;
    const model = editYaml(requireFile(w.files, MODEL_FILE), [[['spec', 'environment', 'SANDBOX_FAIL'], 'startup']]);
    const bad = await w.deploy({ [MODEL_FILE]: model }, 'a container that never starts');
    const state = await w.state('summarizer');
    assert.equal(state?.desired?.commit, bad, 'the branch asks for the bad commit');
    assert.equal(state?.live?.commit, good, 'the good one runs');
    assert.equal(state?.quarantined.length, 1, 'the bad content is quarantined');

    await reconcile(w);
    await letSageMakerSettle(w);
    const drifted = entries(await w.ledger('summarizer'), 'drifted');
    assert.equal(drifted.length, 1, 'the difference is reported');
    assert.deepEqual(
      drifted[0]?.drift?.map((d) => d.path),
      ['/digest'],
    );
    assert.match(drifted[0]?.reason ?? '', /quarantined/);
    const heals = w.pipeline.runner.executions('deploy').filter((e) => e.name.startsWith('heal-'));
    assert.equal(heals.length, 0, 'nothing re-deploys it');
    assert.equal((await w.describe(SUMMARIZER)).EndpointConfigName, goodConfig, 'the good version keeps running');
  } finally {
    await w.stop();
  }
});

test("drift on the endpoint itself is healed in place: its count (no ignore rule) and Ballast's tag", async () => {
  const w = await world();
  try {
    const repository = editYaml(requireFile(w.files, REPOSITORY_FILE), [[['spec', 'drift', 'ignore'], []]]);
    await w.deploy({ ...w.files, [REPOSITORY_FILE]: repository }, 'initial, no ignore rules');
    const before = await w.describe(SUMMARIZER);
    await w.clients.sagemaker.send(
      new UpdateEndpointWeightsAndCapacitiesCommand({
        EndpointName: SUMMARIZER,
        DesiredWeightsAndCapacities: [{ VariantName: 'AllTraffic', DesiredInstanceCount: 3 }],
      }),
    );
    await letSageMakerSettle(w);
    await w.clients.sagemaker.send(
      new DeleteTagsCommand({ ResourceArn: before.EndpointArn, TagKeys: ['ballast:managed'] }),
    );

    await reconcile(w);
    const drifted = entries(await w.ledger('summarizer'), 'drifted');
    assert.deepEqual(
      drifted[0]?.drift?.map((d) => d.path),
      ['/tags/ballast:managed', '/target/sagemaker/instanceCount'],
    );
    await letSageMakerSettle(w);
    const after = await w.describe(SUMMARIZER);
    assert.equal(after.EndpointConfigName, before.EndpointConfigName, 'the same configuration: healed in place');
    const variant = after.ProductionVariants?.[0];
    assert.equal(variant?.DesiredInstanceCount ?? variant?.CurrentInstanceCount, 2, 'the declared count again');
    const tags = await w.clients.sagemaker.send(new ListTagsCommand({ ResourceArn: before.EndpointArn }));
    assert.equal(tags.Tags?.find((t) => t.Key === 'ballast:managed')?.Value, 'true', "Ballast's tag is back");
    await reconcile(w);
    assert.equal((await w.state('summarizer'))?.drift, undefined, 'in sync');
  } finally {
    await w.stop();
  }
});

test('a second drift of the same content, after it was healed once, is healed again (a heal of its own)', async () => {
  const w = await world();
  try {
    await w.deploy(w.files, 'initial');
    const ours = await handEdit(w, 'ml.g5.12xlarge', 'by-hand-1');
    await reconcile(w);
    await letSageMakerSettle(w);
    await reconcile(w);
    assert.equal((await w.state('summarizer'))?.drift, undefined, 'healed and in sync');

    await handEdit(w, 'ml.g5.4xlarge', 'by-hand-2');
    await reconcile(w);
    await letSageMakerSettle(w);
    assert.equal((await w.describe(SUMMARIZER)).EndpointConfigName, ours, 'healed again');
    const heals = w.pipeline.runner.executions('deploy').filter((e) => e.name.startsWith('heal-'));
    assert.deepEqual(
      heals.map((e) => e.status),
      ['SUCCEEDED', 'SUCCEEDED'],
    );
    assert.notEqual(heals[0]?.name, heals[1]?.name, 'each heal has its own execution name');
  } finally {
    await w.stop();
  }
});

test('an environment removed from ballast.yaml is no longer reconciled: its endpoints are reported, not healed', async () => {
  const w = await world();
  try {
    await w.deploy(w.files, 'initial');
    const repository = editYaml(requireFile(w.files, REPOSITORY_FILE), [
      [
        ['spec', 'environments'],
        [{ name: 'staging', branch: 'staging', account: '111122223333', region: 'us-east-1' }],
      ],
    ]);
    const dropped = await w.deploy({ [REPOSITORY_FILE]: repository }, 'prod moves to another tool');
    assert.equal(
      (await w.json<{ retired?: string }>(keys.seen('prod')))?.retired,
      'branch main feeds no environment in ballast.yaml',
    );
    await w.clients.sagemaker.send(new DeleteEndpointCommand({ EndpointName: SUMMARIZER }));
    await letSageMakerSettle(w);
    await reconcile(w);
    await letSageMakerSettle(w);
    assert.equal(entries(await w.ledger('summarizer'), 'removed').length, 1, 'reported as no longer declared');
    await assert.rejects(w.describe(SUMMARIZER), /Could not find endpoint/, 'not created again');
    const started = w.pipeline.runner
      .executions('deploy')
      .filter((e) => e.name.startsWith('heal-') || e.name.startsWith('missed-'));
    assert.deepEqual(
      started.map((e) => e.name),
      [],
      'no heal, and the ignored push is no missed push',
    );
    assert.ok(dropped);
  } finally {
    await w.stop();
  }
});
