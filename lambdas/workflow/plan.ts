/**
 * The plan of a push, as pure functions: which endpoints a commit changes, compared with the
 * environment's previous head (the newest commit planned before it), and what each one deploys.
 *
 * Comparing with the head, one document per environment, keeps a push's cost constant: Validate
 * reads one head, not one state document per endpoint, whatever the repository's size. What the
 * head cannot know (an endpoint whose last rollout failed, a live endpoint changed by hand) is the
 * endpoint's own state, which Lease reads for each planned endpoint, and the reconciler's job for
 * the others.
 */
import { changedComponents, componentDigests } from '../registry/pointer.ts';
import type { ResolvedEndpoint } from '../spec/resolve.ts';
import type { LoadedResource } from '../spec/types.ts';
import { isNewer } from '../state/endpoint-state.ts';
import type { Declared, PlanDocument, PlannedEndpoint, Push, Release } from './types.ts';

/** The newest commit planned for an environment, with what each endpoint was to run at it. */
export interface EnvironmentHead {
  readonly environment: string;
  readonly commit: string;
  readonly pushedAt: string;
  readonly previousCommit?: string;
  readonly endpoints: Readonly<Record<string, HeadEndpoint>>;
}

export interface HeadEndpoint {
  readonly digest: string;
  readonly components: Record<string, string>;
  /**
   * The endpoint's quarantined digests, as Record last left them. A commit whose content equals the
   * head's is still planned when that content is quarantined, so that Lease answers `quarantined`
   * instead of the push being answered `unchanged` while the endpoint does not run it.
   */
  readonly quarantined?: readonly string[];
}

export interface PlanResult {
  readonly document: PlanDocument;
  readonly releases: readonly Release[];
  /** The head to store: the push's own when it is newer than the stored one, else undefined. */
  readonly head?: EnvironmentHead;
}

/**
 * Plans a push for an environment. An endpoint is planned when its digest differs from the head's
 * (or the head does not know it); `force` plans the named endpoint whatever its digest (a retry).
 * EKS endpoints are validated but deferred: this deploy workflow rolls out SageMaker endpoints only.
 */
export function planPush(
  push: Push,
  environment: string,
  resolved: readonly ResolvedEndpoint[],
  head: EnvironmentHead | undefined,
  force?: string,
): PlanResult {
  const endpoints: PlannedEndpoint[] = [];
  const releases: Release[] = [];
  const unchanged: string[] = [];
  const deferred: Array<{ name: string; reason: string }> = [];
  const digests: Record<string, HeadEndpoint> = {};
  for (const endpoint of resolved) {
    const components = componentDigests(endpoint);
    const before = head?.endpoints[endpoint.name];
    digests[endpoint.name] = {
      digest: endpoint.digest,
      components,
      ...(before?.quarantined?.length ? { quarantined: before.quarantined } : {}),
    };
    if (force !== undefined && endpoint.name !== force) continue;
    const held = before?.quarantined?.includes(endpoint.digest) ?? false;
    if (before?.digest === endpoint.digest && force === undefined && !held) {
      unchanged.push(endpoint.name);
      continue;
    }
    if (endpoint.target.kind !== 'sagemaker') {
      deferred.push({
        name: endpoint.name,
        reason: 'EKS targets are validated but not rolled out by this version of Ballast',
      });
      continue;
    }
    // Same content as the head: a retry (forced) or quarantined content (held) that Lease answers.
    const changes =
      before?.digest === endpoint.digest
        ? force !== undefined
          ? ['retry']
          : []
        : changedComponents(before?.components, components);
    endpoints.push({ name: endpoint.name, target: endpoint.target.kind, digest: endpoint.digest, changes });
    releases.push(releaseOf(endpoint, push.commit, changes, components));
  }
  const removed = head
    ? Object.keys(head.endpoints)
        .filter((name) => !(name in digests))
        .sort()
    : [];
  const newer = !head || (head.commit !== push.commit && isNewer(push, head));
  return {
    document: {
      commit: push.commit,
      environment,
      ...(head ? { comparedWith: head.commit } : {}),
      endpoints,
      unchanged,
      deferred,
      removed: force === undefined ? removed : [],
    },
    releases,
    ...(newer && force === undefined
      ? {
          head: {
            environment,
            commit: push.commit,
            pushedAt: push.pushedAt,
            ...(push.previousCommit ? { previousCommit: push.previousCommit } : {}),
            endpoints: digests,
          },
        }
      : {}),
  };
}

/**
 * The head with `endpoint`'s quarantined digests replaced, so that Validate plans a commit whose
 * content is quarantined (Lease then answers `quarantined`) instead of calling it unchanged.
 * Undefined (nothing to write) when the head does not know the endpoint.
 */
export function headWithQuarantine(
  head: EnvironmentHead | undefined,
  endpoint: string,
  quarantined: readonly string[],
): EnvironmentHead | undefined {
  const entry = head?.endpoints[endpoint];
  if (!head || !entry) return undefined;
  const { quarantined: _old, ...rest } = entry;
  return {
    ...head,
    endpoints: { ...head.endpoints, [endpoint]: quarantined.length > 0 ? { ...rest, quarantined } : rest },
  };
}

function declared(resource: LoadedResource<unknown>, path?: readonly (string | number)[]): Declared {
  const at = path && resource.locate ? resource.locate(path) : resource.source;
  return { file: resource.source.file, line: at.line, column: at.column };
}

/** The release document of one endpoint: what the per-endpoint steps deploy, nothing to re-validate. */
export function releaseOf(
  endpoint: ResolvedEndpoint,
  commit: string,
  changes: readonly string[],
  components: Readonly<Record<string, string>>,
): Release {
  return {
    commit,
    name: endpoint.name,
    environment: endpoint.environment,
    digest: endpoint.digest,
    changes,
    components,
    target: endpoint.target,
    rollout: endpoint.rollout,
    alarms: endpoint.alarms,
    declaredAt: declared(endpoint.endpoint),
    model: {
      name: endpoint.model.name,
      spec: endpoint.model.spec,
      declaredAt: declared(endpoint.model),
      artifactAt: declared(endpoint.model, ['spec', 'artifact']),
    },
    prompts: endpoint.prompts.map((p) => ({ name: p.name, spec: p.spec, declaredAt: declared(p) })),
    configs: endpoint.configs.map((c) => ({ name: c.name, spec: c.spec, declaredAt: declared(c) })),
  };
}

/** `file:line:column`, the way `ballast validate` and the ledger name a place in the repository. */
export function where(at: Declared): string {
  return `${at.file}:${at.line}:${at.column}`;
}
