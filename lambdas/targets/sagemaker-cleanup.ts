/**
 * Cleanup of an endpoint's stale SageMaker Models and EndpointConfigs. Deleting is the one thing
 * Ballast does that cannot be undone by a revert, so a resource is deleted only when it is proven to
 * be this endpoint's (DESIGN.md, "Cleanup proves ownership"):
 *
 *  1. its name is EXACTLY what `sagemakerNames(prefix, environment, endpoint, digest)` produces for
 *     some 12-hex digest. A prefix test is not enough: `ballast-prod-summarizer-` is a prefix of
 *     `ballast-prod-summarizer-v2-…`, another endpoint's resources;
 *  2. its tags say `ballast:managed=true`, `ballast:environment=<environment>` and
 *     `ballast:endpoint=<endpoint>` (the tags Deploy gives at CreateModel/CreateEndpointConfig, see
 *     `tags()` in ./sagemaker.ts). The tags also tell apart two endpoints whose names normalise to
 *     the same SageMaker name (`summarizer.v2` and `summarizer-v2`).
 *
 * and it is not needed: not in `keep` (live, previous, last good, in-flight rollouts) and not the
 * endpoint's current or pending configuration.
 *
 * The pure functions decide; `cleanUpEndpoint` is the only part that calls SageMaker, through the
 * narrow `Pick<SageMakerClient, 'send'>` so tests can hand it any client.
 *
 * References: SageMaker API Reference, ListEndpointConfigs, ListModels, ListTags, DescribeEndpoint,
 * DeleteEndpointConfig, DeleteModel, DescribeEndpointConfig.
 */
import {
  DeleteEndpointConfigCommand,
  DeleteModelCommand,
  DescribeEndpointCommand,
  type DescribeEndpointCommandOutput,
  DescribeEndpointConfigCommand,
  ListEndpointConfigsCommand,
  ListModelsCommand,
  ListTagsCommand,
  type SageMakerClient,
  type Tag,
} from '@aws-sdk/client-sagemaker';
import { classify } from '../aws/errors.ts';
import { sagemakerNames } from './sagemaker.ts';

export type CleanupResourceKind = 'model' | 'endpoint-config';

export interface CleanupRequest {
  /** The resource prefix Deploy names resources with (`sagemakerNames`' first argument). */
  readonly prefix: string;
  /** The Ballast environment (the `ballast:environment` tag and the names' second part). */
  readonly environment: string;
  /** The Ballast endpoint (the `ballast:endpoint` tag and the names' third part). */
  readonly endpoint: string;
  /** The SageMaker endpoint whose current and pending configurations are never deleted. */
  readonly endpointName: string;
  /**
   * Endpoint-config names (== model names) that must survive: live, previous, last good, and any
   * configuration a rollout in flight uses.
   */
  readonly keep: readonly string[];
  /**
   * Only resources created before this instant are candidates: anything newer belongs to a push that
   * may be deploying right now (Deploy creates them between its Lease and its UpdateEndpoint).
   */
  readonly createdBefore: Date;
}

export interface CleanupResult {
  readonly deleted: { readonly endpointConfigs: readonly string[]; readonly models: readonly string[] };
  /** This endpoint's resources that stay on purpose (in `keep`, or the endpoint runs or deploys them). */
  readonly kept: readonly string[];
  /** Listed resources that are not proven to be this endpoint's, or that something still needs. */
  readonly skipped: readonly CleanupSkip[];
}

export interface CleanupSkip {
  readonly name: string;
  /** Models and endpoint configs share names, so a name can be skipped twice, once per kind. */
  readonly kind: CleanupResourceKind;
  readonly reason: string;
}

export interface CleanupOptions {
  /** MaxResults of each List call (1–100). Tests use small pages. @default 100 */
  readonly pageSize?: number;
  /**
   * The endpoint was deleted on purpose (the reconciler's prune): "Could not find endpoint" then
   * proves it runs nothing, instead of stopping the cleanup. @default false
   */
  readonly endpointDeleted?: boolean;
}

export const OWNERSHIP_TAGS = {
  managed: 'ballast:managed',
  environment: 'ballast:environment',
  endpoint: 'ballast:endpoint',
  digest: 'ballast:digest',
} as const;

const KIND_WORDS: Record<CleanupResourceKind, string> = { model: 'models', 'endpoint-config': 'endpoint configs' };

/** The content digest as names carry it: `sagemakerNames` keeps its first 12 hex characters. */
const SHORT_DIGEST = /^[0-9a-f]{12}$/;
const SHORT_DIGEST_LENGTH = 12;

/** One probe digest per hex digit: their names differ in the digest and agree everywhere else. */
const PROBE_DIGESTS = [...'0123456789abcdef'].map((c) => c.repeat(SHORT_DIGEST_LENGTH));

function nameFor(kind: CleanupResourceKind, prefix: string, environment: string, endpoint: string, digest: string) {
  const names = sagemakerNames(prefix, environment, endpoint, digest);
  return kind === 'model' ? names.modelName : names.endpointConfigName;
}

function commonPrefix(a: string, b: string): string {
  let i = 0;
  while (i < a.length && i < b.length && a[i] === b[i]) i += 1;
  return a.slice(0, i);
}

/**
 * The longest start every model/config name of this endpoint shares, whatever the digest: the
 * `NameContains` of the List calls. It is found by asking `sagemakerNames` itself rather than by
 * repeating its rules, and it is not the endpoint name: past 63 characters `sagemakerName` cuts the
 * name and appends a hash, so a long endpoint's config names need not contain its endpoint name.
 * (Were the 16 probes' hashes to share their first character, the stem would be one character too
 * long and cleanup would miss resources: a leak, never a wrong deletion, as ownership is proven
 * name by name.)
 */
export function ownedNameStem(prefix: string, environment: string, endpoint: string): string {
  return PROBE_DIGESTS.map((d) => nameFor('endpoint-config', prefix, environment, endpoint, d)).reduce(commonPrefix);
}

/**
 * True when some of this endpoint's names are shortened, so the digest is not (wholly) visible in
 * them and only the `ballast:digest` tag can tell which digest to recompute the name from.
 */
export function shortensNames(prefix: string, environment: string, endpoint: string): boolean {
  const stem = ownedNameStem(prefix, environment, endpoint);
  return PROBE_DIGESTS.some((d) => nameFor('endpoint-config', prefix, environment, endpoint, d) !== `${stem}${d}`);
}

/**
 * The 12-hex digest for which `sagemakerNames(prefix, environment, endpoint, digest)` gives exactly
 * `name`, or undefined. Candidates are the name's last 12 characters (the un-shortened form ends in
 * the digest) and `digestHint` (the resource's `ballast:digest` tag, full or short), the only way to
 * prove a shortened name: its digest is cut off and its hash cannot be inverted. Only a recomputed
 * name equal to `name` counts, so a near miss (`…-summarizer-v2-…`, a 13th character, upper-case hex)
 * never does.
 */
export function ownedNameDigest(
  name: string,
  prefix: string,
  environment: string,
  endpoint: string,
  options: { readonly kind?: CleanupResourceKind; readonly digestHint?: string } = {},
): string | undefined {
  const kind = options.kind ?? 'endpoint-config';
  const candidates = [name.slice(-SHORT_DIGEST_LENGTH), options.digestHint?.slice(0, SHORT_DIGEST_LENGTH)];
  return candidates.find(
    (digest): digest is string =>
      digest !== undefined &&
      SHORT_DIGEST.test(digest) &&
      nameFor(kind, prefix, environment, endpoint, digest) === name,
  );
}

/** Whether `name` is exactly a name Ballast gives this endpoint's models/configs (see `ownedNameDigest`). */
export function isOwnedName(
  name: string,
  prefix: string,
  environment: string,
  endpoint: string,
  options: { readonly kind?: CleanupResourceKind; readonly digestHint?: string } = {},
): boolean {
  return ownedNameDigest(name, prefix, environment, endpoint, options) !== undefined;
}

export function tagValue(tags: readonly Tag[], key: string): string | undefined {
  return tags.find((t) => t.Key === key)?.Value;
}

/** Why `tags` do not prove the resource is this endpoint's, or undefined when they do. */
export function ownershipTagProblem(tags: readonly Tag[], environment: string, endpoint: string): string | undefined {
  const expected: readonly (readonly [string, string])[] = [
    [OWNERSHIP_TAGS.managed, 'true'],
    [OWNERSHIP_TAGS.environment, environment],
    [OWNERSHIP_TAGS.endpoint, endpoint],
  ];
  const problems = expected.flatMap(([key, value]) => {
    const actual = tagValue(tags, key);
    if (actual === undefined) return [`no ${key} tag`];
    return actual === value ? [] : [`${key} is "${actual}", not "${value}"`];
  });
  return problems.length > 0 ? `not tagged as ${environment}/${endpoint}'s: ${problems.join('; ')}` : undefined;
}

/**
 * The configurations the endpoint runs or is moving to. During CreateEndpoint/UpdateEndpoint the new
 * configuration is only in PendingDeploymentSummary (EndpointConfigName stays the old one until the
 * update ends), and both must survive: "You must not delete an EndpointConfig in use by an endpoint
 * that is live or while the UpdateEndpoint or CreateEndpoint operations are being performed on the
 * endpoint" (API reference, DeleteEndpointConfig). SageMaker does not refuse such a deletion, so the
 * check is ours.
 */
export function configsInUse(
  endpoint: Pick<DescribeEndpointCommandOutput, 'EndpointConfigName' | 'PendingDeploymentSummary'>,
): ReadonlySet<string> {
  return new Set(
    [endpoint.EndpointConfigName, endpoint.PendingDeploymentSummary?.EndpointConfigName].filter(
      (name): name is string => typeof name === 'string' && name.length > 0,
    ),
  );
}

/** SageMaker's answer for a resource that is not there: `ValidationException: Could not find …`. */
export function isNotFound(error: unknown): boolean {
  return error instanceof Error && error.name === 'ValidationException' && /Could not find/.test(error.message);
}

interface Listed {
  readonly name: string;
  readonly arn: string | undefined;
}

type Sender = Pick<SageMakerClient, 'send'>;

/**
 * Deletes the stale Models and EndpointConfigs of one endpoint (see the module comment for what
 * "stale" takes). Safe to retry: a deletion that finds the resource gone counts as done. Transient
 * SDK failures surface as `TransientError` (via `classify`); anything else is rethrown as is. When the
 * endpoint cannot be described, nothing is deleted: without knowing what it runs, nothing is stale.
 */
export async function cleanUpEndpoint(
  sagemaker: Sender,
  request: CleanupRequest,
  options: CleanupOptions = {},
): Promise<CleanupResult> {
  const { prefix, environment, endpoint, endpointName, createdBefore } = request;
  const keep = new Set(request.keep);
  const pageSize = options.pageSize ?? 100;
  const stem = ownedNameStem(prefix, environment, endpoint);
  const mayBeShortened = shortensNames(prefix, environment, endpoint);

  const deletedConfigs: string[] = [];
  const deletedModels: string[] = [];
  const kept = new Set<string>();
  const skipped: CleanupSkip[] = [];

  const inUseNow = async (): Promise<ReadonlySet<string>> => {
    try {
      return configsInUse(await sagemaker.send(new DescribeEndpointCommand({ EndpointName: endpointName })));
    } catch (error) {
      if (options.endpointDeleted && isNotFound(error)) return new Set();
      return classify(error, `DescribeEndpoint ${endpointName}`);
    }
  };

  /** Why the resource is not proven to be this endpoint's, or undefined when it is. */
  const ownershipProblem = async (kind: CleanupResourceKind, item: Listed): Promise<string | undefined> => {
    const nameProven = isOwnedName(item.name, prefix, environment, endpoint, { kind });
    // Without a visible digest only a shortened name can still be ours; otherwise no tag read is needed.
    if (!nameProven && !(mayBeShortened && item.name.startsWith(stem))) {
      return `not a name Ballast gives ${environment}/${endpoint}'s ${KIND_WORDS[kind]}`;
    }
    if (item.arn === undefined) return 'the listing gave no ARN to read its tags from';
    const tags = await listTags(sagemaker, item.arn);
    if (tags === undefined) return 'deleted by someone else while cleanup read its tags';
    const tagProblem = ownershipTagProblem(tags, environment, endpoint);
    if (tagProblem) return tagProblem;
    if (nameProven) return undefined;
    const digestHint = tagValue(tags, OWNERSHIP_TAGS.digest);
    return isOwnedName(item.name, prefix, environment, endpoint, { kind, ...(digestHint ? { digestHint } : {}) })
      ? undefined
      : `not the name Ballast gives ${environment}/${endpoint}'s ${KIND_WORDS[kind]} for its ${OWNERSHIP_TAGS.digest} tag`;
  };

  // Describe first: no proof of what the endpoint runs, no deletion.
  const inUseAtStart = await inUseNow();
  // Every page is read before anything is deleted: a NextToken is opaque, and nothing in the API
  // reference says it stays valid, or skips nothing, once the listing it pages through has changed.
  const configs = await listAll('ListEndpointConfigs', async (NextToken) => {
    const page = await sagemaker.send(
      new ListEndpointConfigsCommand({
        ...(stem ? { NameContains: stem } : {}),
        CreationTimeBefore: createdBefore,
        MaxResults: pageSize,
        ...(NextToken ? { NextToken } : {}),
      }),
    );
    return {
      items: (page.EndpointConfigs ?? []).map((c) => ({ name: c.EndpointConfigName ?? '', arn: c.EndpointConfigArn })),
      next: page.NextToken,
    };
  });
  const models = await listAll('ListModels', async (NextToken) => {
    const page = await sagemaker.send(
      new ListModelsCommand({
        ...(stem ? { NameContains: stem } : {}),
        CreationTimeBefore: createdBefore,
        MaxResults: pageSize,
        ...(NextToken ? { NextToken } : {}),
      }),
    );
    return {
      items: (page.Models ?? []).map((m) => ({ name: m.ModelName ?? '', arn: m.ModelArn })),
      next: page.NextToken,
    };
  });

  const cleanConfig = async (config: Listed): Promise<'deleted' | 'kept' | 'skipped'> => {
    if (keep.has(config.name) || inUseAtStart.has(config.name)) return 'kept';
    const problem = await ownershipProblem('endpoint-config', config);
    if (problem) {
      skipped.push({ name: config.name, kind: 'endpoint-config', reason: problem });
      return 'skipped';
    }
    // Ask again right before deleting: an update may have started since the first look. Only this
    // endpoint needs asking: the ownership proof says the config is this endpoint's (its name and
    // tags), and Ballast never points another endpoint at another endpoint's config.
    if ((await inUseNow()).has(config.name)) return 'kept';
    await deleteIgnoringGone(`DeleteEndpointConfig ${config.name}`, () =>
      sagemaker.send(new DeleteEndpointConfigCommand({ EndpointConfigName: config.name })),
    );
    deletedConfigs.push(config.name);
    return 'deleted';
  };

  const configOutcome = new Map<string, 'deleted' | 'kept' | 'skipped'>();
  for (const config of configs) {
    const outcome = await cleanConfig(config);
    configOutcome.set(config.name, outcome);
    if (outcome === 'kept') kept.add(config.name);
  }

  // A Model goes only with its EndpointConfig (Ballast names both from the digest): a model whose
  // config stays is what a rollback to that config would run.
  for (const model of models) {
    if (keep.has(model.name) || inUseAtStart.has(model.name)) {
      kept.add(model.name);
      continue;
    }
    const problem = await ownershipProblem('model', model);
    if (problem) {
      skipped.push({ name: model.name, kind: 'model', reason: problem });
      continue;
    }
    const config = configOutcome.get(model.name);
    if (config === 'kept') {
      kept.add(model.name);
      continue;
    }
    if (config === 'skipped') {
      skipped.push({ name: model.name, kind: 'model', reason: `its endpoint config ${model.name} stays` });
      continue;
    }
    // Not listed: absent, or created after `createdBefore` (a newer push deploying the same content
    // again). Only "Could not find" from DescribeEndpointConfig proves it absent.
    if (config === undefined && (await configExists(model.name))) {
      skipped.push({
        name: model.name,
        kind: 'model',
        reason: `its endpoint config ${model.name} exists (newer than the cutoff)`,
      });
      continue;
    }
    if ((await inUseNow()).has(model.name)) {
      kept.add(model.name);
      continue;
    }
    await deleteIgnoringGone(`DeleteModel ${model.name}`, () =>
      sagemaker.send(new DeleteModelCommand({ ModelName: model.name })),
    );
    deletedModels.push(model.name);
  }

  return {
    deleted: { endpointConfigs: deletedConfigs, models: deletedModels },
    kept: [...kept],
    skipped,
  };

  async function configExists(name: string): Promise<boolean> {
    try {
      await sagemaker.send(new DescribeEndpointConfigCommand({ EndpointConfigName: name }));
      return true;
    } catch (error) {
      if (isNotFound(error)) return false;
      return classify(error, `DescribeEndpointConfig ${name}`);
    }
  }
}

/** Runs one SDK call; a transient failure becomes a TransientError so Step Functions retries the step. */
async function call<T>(what: string, send: () => Promise<T>): Promise<T> {
  try {
    return await send();
  } catch (error) {
    return classify(error, what);
  }
}

/** A deletion that races another one (the resource is already gone) has done its job. */
async function deleteIgnoringGone(what: string, send: () => Promise<unknown>): Promise<void> {
  try {
    await send();
  } catch (error) {
    if (isNotFound(error)) return;
    classify(error, what);
  }
}

/** Follows NextToken until a page comes without one (API reference, ListEndpointConfigs, ListModels). */
async function listAll<T>(
  what: string,
  page: (token: string | undefined) => Promise<{ items: T[]; next?: string | undefined }>,
) {
  const items: T[] = [];
  let token: string | undefined;
  do {
    const result = await call(what, () => page(token));
    items.push(...result.items);
    token = result.next;
  } while (token);
  return items;
}

/**
 * All of a resource's tags, or undefined when the resource is gone. ListTags pages too ("If the
 * response to the previous ListTags request is truncated, SageMaker returns this token"; MaxResults has
 * a minimum of 50, so the default page size is left to SageMaker).
 */
async function listTags(sagemaker: Sender, resourceArn: string): Promise<Tag[] | undefined> {
  try {
    const tags: Tag[] = [];
    let token: string | undefined;
    do {
      const page = await sagemaker.send(
        new ListTagsCommand({ ResourceArn: resourceArn, ...(token ? { NextToken: token } : {}) }),
      );
      tags.push(...(page.Tags ?? []));
      token = page.NextToken;
    } while (token);
    return tags;
  } catch (error) {
    if (isNotFound(error)) return undefined;
    return classify(error, `ListTags ${resourceArn}`);
  }
}
