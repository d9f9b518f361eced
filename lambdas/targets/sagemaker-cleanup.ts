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
import type { DescribeEndpointCommandOutput, Tag } from '@aws-sdk/client-sagemaker';
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
}

export const OWNERSHIP_TAGS = {
  managed: 'ballast:managed',
  environment: 'ballast:environment',
  endpoint: 'ballast:endpoint',
  digest: 'ballast:digest',
} as const;

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
