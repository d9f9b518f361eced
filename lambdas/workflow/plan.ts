/**
 * The plan of a push, as pure functions: which endpoints a commit changes, compared with the
 * environment's previous head (the newest commit planned before it), and what each one deploys.
 *
 * Comparing with the head, one document per environment, keeps a push's cost constant: Validate
 * reads one head, not one state document per endpoint, whatever the repository's size. Record
 * marks in the head the endpoints whose content did not go live, so that a later commit with the
 * same content is planned again. What the head cannot know (a live endpoint changed by hand) is
 * the reconciler's job (lambdas/state/drift.ts); it reads the head's `settings` and, through
 * {@link EnvironmentSeen}, finds pushes the deploy workflow never saw.
 */
import { changedComponents, componentDigests } from '../registry/pointer.ts';
import type { ResolvedEndpoint } from '../spec/resolve.ts';
import type { LoadedResource } from '../spec/types.ts';
import { isNewer } from '../state/endpoint-state.ts';
import type { Declared, PlanDocument, PlannedEndpoint, PlannedRelease, Push } from './types.ts';

/** The newest commit planned for an environment, with what each endpoint was to run at it. */
export interface EnvironmentHead {
  readonly environment: string;
  readonly commit: string;
  readonly pushedAt: string;
  readonly previousCommit?: string;
  readonly endpoints: Readonly<Record<string, HeadEndpoint>>;
  /** ballast.yaml's reconcile and drift settings at this commit: what the reconciler applies. */
  readonly settings?: ReconcileHeadSettings;
}

export interface ReconcileHeadSettings {
  readonly intervalMinutes: number;
  readonly selfHeal: boolean;
  readonly prune: boolean;
  readonly driftIgnore: ReadonlyArray<{ readonly endpoint: string; readonly path: string; readonly reason?: string }>;
}

/**
 * The newest push Validate saw for an environment, valid or not: a branch head that is not this
 * commit was never seen by the deploy workflow (a lost event), which the reconciler deploys.
 */
export interface EnvironmentSeen {
  readonly environment: string;
  readonly commit: string;
  readonly pushedAt: string;
  readonly previousCommit?: string;
  readonly source: 'codecommit' | 'github';
  readonly repository: string;
  readonly branch: string;
  /**
   * Set by Resolve when the branch's newest push no longer feeds this environment (why): the
   * reconciler stops watching the branch and treats the environment's endpoints as not declared.
   */
  readonly retired?: string;
}

export interface HeadEndpoint {
  readonly digest: string;
  readonly components: Record<string, string>;
  /**
   * Set by Record when this content did not go live (failed, rolled back, quarantined, replaced by
   * another update, or stopped before its rollout). A commit with the same content is then still
   * planned, so that Lease answers for it (`quarantined`, or a new rollout) instead of the push
   * being answered `unchanged` while the endpoint does not run it. Cleared once it is live.
   */
  readonly notLive?: true;
}

export interface PlanResult {
  readonly document: PlanDocument;
  readonly releases: readonly PlannedRelease[];
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
  const releases: PlannedRelease[] = [];
  const unchanged: string[] = [];
  const deferred: Array<{ name: string; reason: string }> = [];
  const digests: Record<string, HeadEndpoint> = {};
  for (const endpoint of resolved) {
    const components = componentDigests(endpoint);
    const before = head?.endpoints[endpoint.name];
    const held = before?.digest === endpoint.digest && before.notLive === true;
    digests[endpoint.name] = { digest: endpoint.digest, components, ...(held ? { notLive: true } : {}) };
    if (force !== undefined && endpoint.name !== force) continue;
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
    // Same content as the head: a retry (forced), or content that did not go live (held).
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
 * The head once Record has settled `endpoint`: marked {@link HeadEndpoint.notLive} while the
 * head's content for it is not what runs. Undefined (nothing to write) when the head does not know
 * the endpoint, plans other content for it (a newer push moved it on), or already says so.
 */
export function headAfterRecord(
  head: EnvironmentHead | undefined,
  endpoint: string,
  digest: string,
  liveDigest: string | undefined,
): EnvironmentHead | undefined {
  const entry = head?.endpoints[endpoint];
  if (!head || !entry || entry.digest !== digest) return undefined;
  const notLive = liveDigest !== digest;
  if ((entry.notLive === true) === notLive) return undefined;
  const { notLive: _old, ...rest } = entry;
  return { ...head, endpoints: { ...head.endpoints, [endpoint]: notLive ? { ...rest, notLive: true } : rest } };
}

/**
 * The head Validate stores: its own, with the `notLive` marks of the head current at write time
 * for the endpoints whose content it keeps (Record may have set them since Validate read it).
 */
export function carryNotLive(next: EnvironmentHead, current: EnvironmentHead | undefined): EnvironmentHead {
  if (!current) return next;
  const endpoints = Object.fromEntries(
    Object.entries(next.endpoints).map(([name, entry]) => {
      const { notLive: _planned, ...rest } = entry;
      const was = current.endpoints[name];
      return [name, was?.digest === entry.digest && was.notLive ? { ...rest, notLive: true as const } : rest];
    }),
  );
  return { ...next, endpoints };
}

function declared(
  resource: LoadedResource<unknown>,
  path?: readonly (string | number)[],
  mode: 'key' | 'value' = 'value',
): Declared {
  const at = path && resource.locate ? resource.locate(path, mode) : resource.source;
  return { file: resource.source.file, line: at.line, column: at.column };
}

/** The release document of one endpoint: what the per-endpoint steps deploy, nothing to re-validate. */
export function releaseOf(
  endpoint: ResolvedEndpoint,
  commit: string,
  changes: readonly string[],
  components: Readonly<Record<string, string>>,
): PlannedRelease {
  const model = endpoint.model;
  const artifact = model.spec.artifact;
  const files = 'files' in artifact && artifact.files ? artifact.files : [];
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
      declarations: {
        files: files.map((_, index) => declared(model, ['spec', 'artifact', 'files', index])),
        ...('manifest' in artifact && artifact.manifest
          ? { manifest: declared(model, ['spec', 'artifact', 'manifest'], 'key') }
          : {}),
        secrets: Object.fromEntries(
          Object.keys(model.spec.secrets ?? {}).map((name) => [
            name,
            declared(model, ['spec', 'secrets', name], 'key'),
          ]),
        ),
      },
    },
    prompts: endpoint.prompts.map((p) => ({ name: p.name, spec: p.spec, declaredAt: declared(p) })),
    configs: endpoint.configs.map((c) => ({ name: c.name, spec: c.spec, declaredAt: declared(c) })),
    ...(endpoint.writeBack ? { writeBack: endpoint.writeBack } : {}),
  };
}

/** `file:line:column`, the way `ballast validate` and the ledger name a place in the repository. */
export function where(at: Declared): string {
  return `${at.file}:${at.line}:${at.column}`;
}
