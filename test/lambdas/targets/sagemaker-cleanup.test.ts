import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import {
  CreateEndpointCommand,
  CreateEndpointConfigCommand,
  CreateModelCommand,
  DeleteEndpointConfigCommand,
  DescribeEndpointCommand,
  ListEndpointConfigsCommand,
  ListModelsCommand,
  SageMakerClient,
  type Tag,
  UpdateEndpointCommand,
} from '@aws-sdk/client-sagemaker';
import { TransientError } from '../../../lambdas/aws/errors.ts';
import { sagemakerNames } from '../../../lambdas/targets/sagemaker.ts';
import {
  type CleanupRequest,
  cleanUpEndpoint,
  configsInUse,
  isNotFound,
  isOwnedName,
  ownedNameDigest,
  ownedNameStem,
  ownershipTagProblem,
  shortensNames,
} from '../../../lambdas/targets/sagemaker-cleanup.ts';
import { createSageMakerService, DEFAULT_TIMINGS } from '../../../sandbox/services/sagemaker.ts';
import { clientConfig, type SandboxTarget, startSandboxTarget } from '../../support/aws-targets.ts';

const PREFIX = 'ballast';
const ENV = 'prod';
const ROLE = 'arn:aws:iam::123456789012:role/SageMakerExecution';
const IMAGE = '123456789012.dkr.ecr.us-east-1.amazonaws.com/llm-serving:v1';

/** A full sha256 hex digest, as `ResolvedEndpoint.digest` is; names carry its first 12 characters. */
function digest(seed: string): string {
  return createHash('sha256').update(seed).digest('hex');
}

/** The tags Deploy gives (`tags()` in lambdas/targets/sagemaker.ts). */
function ballastTags(environment: string, endpoint: string, fullDigest: string): Tag[] {
  return [
    { Key: 'ballast:managed', Value: 'true' },
    { Key: 'ballast:environment', Value: environment },
    { Key: 'ballast:endpoint', Value: endpoint },
    { Key: 'ballast:commit', Value: 'c0ffee' },
    { Key: 'ballast:digest', Value: fullDigest },
  ];
}

describe('sagemaker-cleanup: names', () => {
  it('gives the stem every name of an endpoint starts with', () => {
    assert.equal(ownedNameStem(PREFIX, ENV, 'summarizer'), 'ballast-prod-summarizer-');
    assert.equal(shortensNames(PREFIX, ENV, 'summarizer'), false);
  });

  it("proves the endpoint's own names and only those", () => {
    const d = digest('one');
    const own = sagemakerNames(PREFIX, ENV, 'summarizer', d);
    assert.equal(isOwnedName(own.endpointConfigName, PREFIX, ENV, 'summarizer'), true);
    assert.equal(isOwnedName(own.modelName, PREFIX, ENV, 'summarizer', { kind: 'model' }), true);
    assert.equal(ownedNameDigest(own.endpointConfigName, PREFIX, ENV, 'summarizer'), d.slice(0, 12));
    const v2 = sagemakerNames(PREFIX, ENV, 'summarizer-v2', d).endpointConfigName;
    assert.equal(isOwnedName(v2, PREFIX, ENV, 'summarizer'), false);
    assert.equal(isOwnedName(v2, PREFIX, ENV, 'summarizer-v2'), true);
  });

  it('refuses near misses', () => {
    const d = digest('one').slice(0, 12);
    const name = `ballast-prod-summarizer-${d}`;
    assert.equal(isOwnedName(`${name}0`, PREFIX, ENV, 'summarizer'), false);
    assert.equal(isOwnedName(name.slice(0, -1), PREFIX, ENV, 'summarizer'), false);
    assert.equal(isOwnedName(`ballast-prod-summarizer-${d.toUpperCase()}`, PREFIX, ENV, 'summarizer'), false);
    assert.equal(isOwnedName(`ballast-prod-summarizer-old-${d}`, PREFIX, ENV, 'summarizer'), false);
    assert.equal(isOwnedName(`x${name}`, PREFIX, ENV, 'summarizer'), false);
    assert.equal(isOwnedName(`ballast-staging-summarizer-${d}`, PREFIX, ENV, 'summarizer'), false);
    // A digest hint does not make a wrong name right.
    assert.equal(isOwnedName(`${name}0`, PREFIX, ENV, 'summarizer', { digestHint: d }), false);
  });

  it('handles names over 63 characters, whose digest the shortening cuts off, through the digest tag', () => {
    const environment = 'production-eu-west-1';
    const endpoint = 'customer-support-ticket-summarizer-large';
    const d = digest('long');
    const { endpointName, endpointConfigName } = sagemakerNames(PREFIX, environment, endpoint, d);
    assert.equal(endpointConfigName.length, 63);
    assert.equal(shortensNames(PREFIX, environment, endpoint), true);
    // The endpoint name is shortened differently: the config name does not contain it.
    assert.equal(endpointConfigName.includes(endpointName), false);
    assert.equal(endpointConfigName.startsWith(ownedNameStem(PREFIX, environment, endpoint)), true);
    assert.equal(isOwnedName(endpointConfigName, PREFIX, environment, endpoint), false);
    assert.equal(isOwnedName(endpointConfigName, PREFIX, environment, endpoint, { digestHint: d }), true);
    assert.equal(
      isOwnedName(endpointConfigName, PREFIX, environment, endpoint, { digestHint: digest('other') }),
      false,
    );
  });

  it('finds a common stem and proves every name for names of every length around the 63-character limit', () => {
    const cases = Array.from({ length: 60 }, (_, i) => `e${'x'.repeat(i)}`);
    assert.ok(cases.length > 0);
    for (const endpoint of cases) {
      const stem = ownedNameStem(PREFIX, ENV, endpoint);
      assert.ok(stem.length > 0, endpoint);
      for (const seed of ['a', 'b', 'c']) {
        const d = digest(`${endpoint}/${seed}`);
        const name = sagemakerNames(PREFIX, ENV, endpoint, d).endpointConfigName;
        assert.ok(name.startsWith(stem), `${name} starts with ${stem}`);
        assert.ok(stem.length <= 63, stem);
        assert.equal(isOwnedName(name, PREFIX, ENV, endpoint, { digestHint: d }), true, name);
        const withoutTag = isOwnedName(name, PREFIX, ENV, endpoint);
        assert.equal(withoutTag, !shortensNames(PREFIX, ENV, endpoint), name);
        assert.equal(isOwnedName(name, PREFIX, ENV, `${endpoint}-v2`, { digestHint: d }), false, name);
      }
    }
  });
});

describe('sagemaker-cleanup: tags and endpoint state', () => {
  it('accepts the tags Deploy gives', () => {
    assert.equal(ownershipTagProblem(ballastTags(ENV, 'summarizer', digest('x')), ENV, 'summarizer'), undefined);
  });

  it('names each missing or wrong tag', () => {
    assert.equal(
      ownershipTagProblem([], ENV, 'summarizer'),
      "not tagged as prod/summarizer's: no ballast:managed tag; no ballast:environment tag; no ballast:endpoint tag",
    );
    assert.equal(
      ownershipTagProblem(ballastTags('staging', 'summarizer-v2', digest('x')), ENV, 'summarizer'),
      'not tagged as prod/summarizer\'s: ballast:environment is "staging", not "prod"; ballast:endpoint is "summarizer-v2", not "summarizer"',
    );
    assert.equal(
      ownershipTagProblem(
        [
          { Key: 'ballast:managed', Value: 'false' },
          { Key: 'ballast:environment', Value: ENV },
          { Key: 'ballast:endpoint', Value: 'summarizer' },
        ],
        ENV,
        'summarizer',
      ),
      'not tagged as prod/summarizer\'s: ballast:managed is "false", not "true"',
    );
  });

  it('reads the current and the pending configuration from DescribeEndpoint', () => {
    assert.deepEqual(
      [
        ...configsInUse({
          EndpointConfigName: 'a',
          PendingDeploymentSummary: { EndpointConfigName: 'b', StartTime: new Date() },
        }),
      ],
      ['a', 'b'],
    );
    assert.deepEqual([...configsInUse({ EndpointConfigName: 'a' })], ['a']);
  });

  it('recognises SageMaker\'s "Could not find" answer', () => {
    const gone = Object.assign(new Error('Could not find endpoint configuration "arn:…".'), {
      name: 'ValidationException',
    });
    assert.equal(isNotFound(gone), true);
    const invalid = Object.assign(new Error('1 validation error detected'), { name: 'ValidationException' });
    assert.equal(isNotFound(invalid), false);
  });
});

describe('sagemaker-cleanup: against the sandbox', () => {
  let target: SandboxTarget;
  let client: SageMakerClient;

  // One sandbox for the suite; each test uses its own endpoint names, so tests cannot see each other's
  // resources (only summarizer's stem is contained in another endpoint's names, on purpose).
  before(async () => {
    target = await startSandboxTarget((ctx) => [
      createSageMakerService(ctx, { alarms: { exists: () => false, wasInAlarm: () => false } }),
    ]);
    client = new SageMakerClient(clientConfig(target.endpoint));
  });
  after(async () => {
    client.destroy();
    await target.stop();
  });

  /** CreateModel + CreateEndpointConfig as Deploy makes them; returns the shared name. */
  async function createVersion(
    endpoint: string,
    seed: string,
    options: { environment?: string; tags?: Tag[] | null; name?: string } = {},
  ): Promise<string> {
    const environment = options.environment ?? ENV;
    const d = digest(`${endpoint}/${seed}`);
    const name = options.name ?? sagemakerNames(PREFIX, environment, endpoint, d).endpointConfigName;
    const tags = options.tags === null ? undefined : (options.tags ?? ballastTags(environment, endpoint, d));
    await client.send(
      new CreateModelCommand({
        ModelName: name,
        ExecutionRoleArn: ROLE,
        PrimaryContainer: { Image: IMAGE, ModelDataUrl: `s3://artifacts/${name}/model.tar.gz` },
        ...(tags ? { Tags: tags } : {}),
      }),
    );
    await client.send(
      new CreateEndpointConfigCommand({
        EndpointConfigName: name,
        ProductionVariants: [
          { VariantName: 'AllTraffic', ModelName: name, InstanceType: 'ml.g5.xlarge', InitialInstanceCount: 1 },
        ],
        ...(tags ? { Tags: tags } : {}),
      }),
    );
    return name;
  }

  async function liveEndpoint(endpointName: string, configName: string): Promise<void> {
    await client.send(new CreateEndpointCommand({ EndpointName: endpointName, EndpointConfigName: configName }));
    target.clock.advance(DEFAULT_TIMINGS.createMs);
    const live = await client.send(new DescribeEndpointCommand({ EndpointName: endpointName }));
    assert.equal(live.EndpointStatus, 'InService');
  }

  async function existingConfigs(contains: string): Promise<string[]> {
    const names: string[] = [];
    let token: string | undefined;
    do {
      const page = await client.send(
        new ListEndpointConfigsCommand({ NameContains: contains, NextToken: token, MaxResults: 100 }),
      );
      names.push(...(page.EndpointConfigs ?? []).map((c) => c.EndpointConfigName ?? ''));
      token = page.NextToken;
    } while (token);
    return names.sort();
  }

  async function existingModels(contains: string): Promise<string[]> {
    const names: string[] = [];
    let token: string | undefined;
    do {
      const page = await client.send(
        new ListModelsCommand({ NameContains: contains, NextToken: token, MaxResults: 100 }),
      );
      names.push(...(page.Models ?? []).map((m) => m.ModelName ?? ''));
      token = page.NextToken;
    } while (token);
    return names.sort();
  }

  function request(endpoint: string, keep: string[], environment = ENV): CleanupRequest {
    target.clock.advance(1000);
    return {
      prefix: PREFIX,
      environment,
      endpoint,
      endpointName: sagemakerNames(PREFIX, environment, endpoint, digest('any')).endpointName,
      keep,
      createdBefore: target.clock.now(),
    };
  }

  /** Only this endpoint's resources: summarizer-v2's also contain `ballast-prod-summarizer-`. */
  function own(names: string[], endpoint: string): string[] {
    return names.filter((n) => isOwnedName(n, PREFIX, ENV, endpoint));
  }

  it("regression: cleaning summarizer deletes only summarizer's stale versions and leaves summarizer-v2's", async () => {
    const s1 = await createVersion('summarizer', '1');
    const s2 = await createVersion('summarizer', '2');
    const sPrevious = await createVersion('summarizer', '3');
    const sLive = await createVersion('summarizer', '4');
    const v2Stale = await createVersion('summarizer-v2', '1');
    const v2Previous = await createVersion('summarizer-v2', '2');
    const v2Live = await createVersion('summarizer-v2', '3');
    await liveEndpoint('ballast-prod-summarizer', sLive);
    await liveEndpoint('ballast-prod-summarizer-v2', v2Live);
    const v2All = [v2Stale, v2Previous, v2Live].sort();
    assert.deepEqual(await existingConfigs('ballast-prod-summarizer-v2-'), v2All);

    const result = await cleanUpEndpoint(client, request('summarizer', [sLive, sPrevious]));

    assert.deepEqual(result.deleted.endpointConfigs.toSorted(), [s1, s2].sort());
    assert.deepEqual(result.deleted.models.toSorted(), [s1, s2].sort());
    assert.deepEqual(result.kept.toSorted(), [sLive, sPrevious].sort());
    assert.deepEqual(await existingConfigs('ballast-prod-summarizer-v2-'), v2All);
    assert.deepEqual(await existingModels('ballast-prod-summarizer-v2-'), v2All);
    assert.deepEqual(own(await existingConfigs('ballast-prod-summarizer-'), 'summarizer'), [sLive, sPrevious].sort());
    assert.deepEqual(own(await existingModels('ballast-prod-summarizer-'), 'summarizer'), [sLive, sPrevious].sort());
    // summarizer-v2's resources are listed (their names contain summarizer's stem) and skipped by name.
    assert.deepEqual(
      result.skipped.map((x) => `${x.kind} ${x.name}: ${x.reason}`).sort(),
      [
        ...v2All.map((n) => `endpoint-config ${n}: not a name Ballast gives prod/summarizer's endpoint configs`),
        ...v2All.map((n) => `model ${n}: not a name Ballast gives prod/summarizer's models`),
      ].sort(),
    );
  });

  it('considers every page of the listings', async () => {
    const stale: string[] = [];
    for (let i = 0; i < 7; i += 1) stale.push(await createVersion('paged', `${i}`));
    const live = await createVersion('paged', 'live');
    await liveEndpoint('ballast-prod-paged', live);
    target.requests.clear();

    const result = await cleanUpEndpoint(client, request('paged', [live]), { pageSize: 2 });

    assert.deepEqual(result.deleted.endpointConfigs.toSorted(), stale.toSorted());
    assert.deepEqual(result.deleted.models.toSorted(), stale.toSorted());
    assert.equal(target.requests.count('sagemaker', 'ListEndpointConfigs'), 4); // 8 configs, 2 a page
    assert.equal(target.requests.count('sagemaker', 'ListModels'), 4);
    assert.deepEqual(await existingConfigs('ballast-prod-paged-'), [live]);
    assert.deepEqual(await existingModels('ballast-prod-paged-'), [live]);
  });

  it('skips resources with the right name but without the tags, and tagged resources whose name is a near miss', async () => {
    const live = await createVersion('tagless', 'live');
    await liveEndpoint('ballast-prod-tagless', live);
    const untagged = await createVersion('tagless', 'someone', { tags: null });
    const otherEndpointTags = await createVersion('tagless', 'mislabelled', {
      tags: ballastTags(ENV, 'tagless-v2', digest('x')),
    });
    const nearMiss = await createVersion('tagless', 'near', {
      name: `ballast-prod-tagless-someone-${digest('near').slice(0, 12)}`,
    });
    const stale = await createVersion('tagless', 'stale');

    const result = await cleanUpEndpoint(client, request('tagless', [live]));

    assert.deepEqual(result.deleted.endpointConfigs, [stale]);
    assert.deepEqual(result.deleted.models, [stale]);
    const reasons = new Map(result.skipped.map((x) => [`${x.kind} ${x.name}`, x.reason]));
    assert.equal(
      reasons.get(`endpoint-config ${untagged}`),
      "not tagged as prod/tagless's: no ballast:managed tag; no ballast:environment tag; no ballast:endpoint tag",
    );
    assert.equal(
      reasons.get(`model ${untagged}`),
      "not tagged as prod/tagless's: no ballast:managed tag; no ballast:environment tag; no ballast:endpoint tag",
    );
    assert.equal(
      reasons.get(`endpoint-config ${otherEndpointTags}`),
      'not tagged as prod/tagless\'s: ballast:endpoint is "tagless-v2", not "tagless"',
    );
    assert.equal(
      reasons.get(`endpoint-config ${nearMiss}`),
      "not a name Ballast gives prod/tagless's endpoint configs",
    );
    assert.equal(reasons.get(`model ${nearMiss}`), "not a name Ballast gives prod/tagless's models");
    assert.deepEqual(
      await existingConfigs('ballast-prod-tagless-'),
      [live, untagged, otherEndpointTags, nearMiss].sort(),
    );
    assert.deepEqual(
      await existingModels('ballast-prod-tagless-'),
      [live, untagged, otherEndpointTags, nearMiss].sort(),
    );
  });

  it("never deletes what keep names, nor the endpoint's current or pending configuration", async () => {
    const stale = await createVersion('guarded', 'stale');
    const lastGood = await createVersion('guarded', 'last-good');
    const current = await createVersion('guarded', 'current');
    const pending = await createVersion('guarded', 'pending');
    await liveEndpoint('ballast-prod-guarded', current);
    await client.send(new UpdateEndpointCommand({ EndpointName: 'ballast-prod-guarded', EndpointConfigName: pending }));
    const updating = await client.send(new DescribeEndpointCommand({ EndpointName: 'ballast-prod-guarded' }));
    assert.equal(updating.EndpointStatus, 'Updating');
    assert.equal(updating.PendingDeploymentSummary?.EndpointConfigName, pending);

    // keep names only the last good version: the endpoint itself protects the other two.
    const result = await cleanUpEndpoint(client, request('guarded', [lastGood]));

    assert.deepEqual(result.deleted.endpointConfigs, [stale]);
    assert.deepEqual(result.deleted.models, [stale]);
    assert.deepEqual(result.kept.toSorted(), [lastGood, current, pending].sort());
    assert.deepEqual(await existingConfigs('ballast-prod-guarded-'), [lastGood, current, pending].sort());
    assert.deepEqual(await existingModels('ballast-prod-guarded-'), [lastGood, current, pending].sort());
  });

  it('handles names over 63 characters, proving them through the digest tag', async () => {
    const environment = 'production-eu-west-1';
    const endpoint = 'customer-support-ticket-summarizer-large';
    const stale = await createVersion(endpoint, 'stale', { environment });
    const live = await createVersion(endpoint, 'live', { environment });
    // Right tags, but the digest tag is not the one the name was made from.
    const wrongDigest = await createVersion(endpoint, 'forged', {
      environment,
      tags: ballastTags(environment, endpoint, digest('not-the-one')),
    });
    assert.equal(stale.length, 63);
    const req = request(endpoint, [live], environment);
    assert.ok(req.endpointName.length <= 63);
    await liveEndpoint(req.endpointName, live);

    const result = await cleanUpEndpoint(client, req);

    assert.deepEqual(result.deleted.endpointConfigs, [stale]);
    assert.deepEqual(result.deleted.models, [stale]);
    assert.deepEqual(result.kept, [live]);
    assert.deepEqual(
      result.skipped.filter((x) => x.name === wrongDigest).map((x) => `${x.kind}: ${x.reason}`),
      [
        `endpoint-config: not the name Ballast gives ${environment}/${endpoint}'s endpoint configs for its ballast:digest tag`,
        `model: not the name Ballast gives ${environment}/${endpoint}'s models for its ballast:digest tag`,
      ],
    );
    const stem = ownedNameStem(PREFIX, environment, endpoint);
    assert.deepEqual(await existingConfigs(stem), [live, wrongDigest].sort());
  });

  it('leaves resources created at or after createdBefore', async () => {
    const live = await createVersion('late', 'live');
    await liveEndpoint('ballast-prod-late', live);
    const req = request('late', [live]);
    const newer = await createVersion('late', 'newer');

    const result = await cleanUpEndpoint(client, req);

    assert.deepEqual(result.deleted.endpointConfigs, []);
    assert.deepEqual(result.deleted.models, []);
    assert.deepEqual(await existingConfigs('ballast-prod-late-'), [live, newer].sort());
  });

  it('keeps a stale model whose config is newer than the cutoff (a push deploying that content again)', async () => {
    const live = await createVersion('again', 'live');
    await liveEndpoint('ballast-prod-again', live);
    const again = await createVersion('again', 'again');
    await client.send(new DeleteEndpointConfigCommand({ EndpointConfigName: again }));
    const req = request('again', [live]);
    // The newer push finds the model there and creates the config again.
    await client.send(
      new CreateEndpointConfigCommand({
        EndpointConfigName: again,
        ProductionVariants: [
          { VariantName: 'AllTraffic', ModelName: again, InstanceType: 'ml.g5.xlarge', InitialInstanceCount: 1 },
        ],
        Tags: ballastTags(ENV, 'again', digest('again/again')),
      }),
    );

    const result = await cleanUpEndpoint(client, req);

    assert.deepEqual(result.deleted.models, []);
    assert.deepEqual(
      result.skipped.map((x) => `${x.kind} ${x.name}: ${x.reason}`),
      [`model ${again}: its endpoint config ${again} exists (newer than the cutoff)`],
    );
    assert.deepEqual(await existingModels('ballast-prod-again-'), [live, again].sort());
  });

  it('counts a deletion that races another deletion as done', async () => {
    const live = await createVersion('race', 'live');
    await liveEndpoint('ballast-prod-race', live);
    const stale = await createVersion('race', 'stale');
    // Someone else deletes the config between cleanup's decision and its DeleteEndpointConfig.
    const racing = {
      send: async (command: Parameters<SageMakerClient['send']>[0]) => {
        if (command instanceof DeleteEndpointConfigCommand)
          await client.send(new DeleteEndpointConfigCommand(command.input));
        return await client.send(command);
      },
    } as Pick<SageMakerClient, 'send'>;

    const result = await cleanUpEndpoint(racing, request('race', [live]));

    assert.deepEqual(result.deleted.endpointConfigs, [stale]);
    assert.deepEqual(result.deleted.models, [stale]);
    assert.deepEqual(await existingConfigs('ballast-prod-race-'), [live]);
  });

  it('deletes nothing when the endpoint cannot be described', async () => {
    const stale = await createVersion('gone', 'stale');
    await assert.rejects(cleanUpEndpoint(client, request('gone', [])), (error: Error) => {
      assert.equal(error.name, 'ValidationException');
      assert.match(error.message, /^Could not find endpoint /);
      return true;
    });
    assert.deepEqual(await existingConfigs('ballast-prod-gone-'), [stale]);
  });

  it('turns a throttled call into a TransientError', async () => {
    const throttled = {
      send: async () => {
        throw Object.assign(new Error('Rate exceeded'), {
          name: 'ThrottlingException',
          $metadata: { httpStatusCode: 400 },
        });
      },
    } as unknown as Pick<SageMakerClient, 'send'>;
    await assert.rejects(cleanUpEndpoint(throttled, request('throttled', [])), (error: Error) => {
      assert.ok(error instanceof TransientError);
      assert.equal(error.message, 'DescribeEndpoint ballast-prod-throttled: ThrottlingException: Rate exceeded');
      return true;
    });
  });
});
