/**
 * Resolution: from a validated repository to what each environment runs. Repository defaults are
 * applied here (endpoint value, then ballast.yaml `defaults`, then built-in defaults), references
 * are replaced by the resources they name, and each endpoint gets a digest of everything that
 * affects its deployment.
 */
import { digestOf } from './canonical.ts';
import {
  API_VERSION,
  type ConfigSpec,
  DEFAULT_ROLLOUT,
  DEFAULT_VARIANT_NAME,
  type EndpointSpec,
  type Environment,
  type ModelSpec,
  type PromptSpec,
  type RepositorySpec,
  type Rollout,
} from './schema.ts';
import type { LoadedRepository, LoadedResource } from './types.ts';

export { canonicalJson, digestOf, sha256Hex } from './canonical.ts';

export interface ResolvedSageMakerTarget {
  readonly kind: 'sagemaker';
  readonly instanceType: string;
  readonly instanceCount: number;
  readonly variantName: string;
  readonly gpus?: number;
}

export interface ResolvedEksTarget {
  readonly kind: 'eks';
  readonly cluster: string;
  readonly namespace: string;
  readonly replicas: number;
  readonly gpusPerReplica: number;
  readonly nodeSelector: Readonly<Record<string, string>>;
  readonly httpRoute: {
    readonly name: string;
    /** The route's namespace: its own, else the target's. */
    readonly namespace: string;
    readonly gateway?: { readonly name: string; readonly namespace: string; readonly sectionName?: string };
    readonly hostnames?: readonly string[];
  };
  readonly resources?: EksTargetResources;
}

type EksTargetResources = NonNullable<NonNullable<EndpointSpec['target']['eks']>['resources']>;

export type ResolvedTarget = ResolvedSageMakerTarget | ResolvedEksTarget;

export interface ResolvedEndpoint {
  readonly name: string;
  readonly environment: Environment;
  readonly endpoint: LoadedResource<EndpointSpec>;
  readonly target: ResolvedTarget;
  readonly rollout: Rollout;
  readonly alarms: readonly string[];
  readonly model: LoadedResource<ModelSpec>;
  readonly prompts: readonly LoadedResource<PromptSpec>[];
  readonly configs: readonly LoadedResource<ConfigSpec>[];
  /**
   * sha256 (hex) of the canonical JSON of what the deployment depends on: the environment (name,
   * account, region), the endpoint's effective target, rollout and alarms, and the names and full
   * specs of its model, prompts and configs. Labels and file locations are not part of it, so
   * moving a resource to another file or relabelling it deploys nothing.
   */
  readonly digest: string;
  /**
   * ballast.yaml's writeBack when it is enabled: how a rollback of this endpoint is written back
   * to Git. Not part of the digest (it changes nothing that runs). `mode` left out: the source's
   * default (revert-commit on CodeCommit, pull-request on GitHub).
   */
  readonly writeBack?: { readonly mode?: 'revert-commit' | 'pull-request' };
}

export class UnknownEnvironmentError extends Error {
  override readonly name = 'UnknownEnvironmentError';
}

/** The endpoint's rollout, else ballast.yaml's defaults.rollout, else allAtOnce (bake 300 s, timeout 3600 s). */
export function effectiveRollout(endpoint: EndpointSpec, repository: RepositorySpec | undefined): Rollout {
  return endpoint.rollout ?? repository?.defaults?.rollout ?? DEFAULT_ROLLOUT;
}

/** A target with repository defaults applied; required values may still be missing (the validator reports them). */
export type PartialTarget =
  | { readonly kind: 'sagemaker'; readonly target: Partial<ResolvedSageMakerTarget> & { kind: 'sagemaker' } }
  | { readonly kind: 'eks'; readonly target: Partial<ResolvedEksTarget> & { kind: 'eks' } };

export function effectiveTarget(
  endpoint: EndpointSpec,
  repository: RepositorySpec | undefined,
): PartialTarget | undefined {
  const { sagemaker, eks } = endpoint.target;
  if (sagemaker) {
    const defaults = repository?.defaults?.sagemaker;
    return {
      kind: 'sagemaker',
      target: {
        kind: 'sagemaker',
        instanceType: sagemaker.instanceType ?? defaults?.instanceType,
        instanceCount: sagemaker.instanceCount ?? defaults?.instanceCount ?? 1,
        variantName: sagemaker.variantName ?? defaults?.variantName ?? DEFAULT_VARIANT_NAME,
        ...(sagemaker.gpus !== undefined ? { gpus: sagemaker.gpus } : {}),
      },
    };
  }
  if (eks) {
    const defaults = repository?.defaults?.eks;
    const namespace = eks.namespace ?? defaults?.namespace;
    const routeNamespace = eks.httpRoute.namespace ?? namespace;
    const gateway = eks.httpRoute.gateway;
    return {
      kind: 'eks',
      target: {
        kind: 'eks',
        cluster: eks.cluster ?? defaults?.cluster,
        namespace,
        replicas: eks.replicas ?? 1,
        gpusPerReplica: eks.gpusPerReplica ?? 0,
        nodeSelector: eks.nodeSelector ?? {},
        httpRoute: {
          name: eks.httpRoute.name,
          namespace: routeNamespace ?? '',
          ...(gateway
            ? {
                gateway: {
                  name: gateway.name,
                  namespace: gateway.namespace ?? routeNamespace ?? '',
                  ...(gateway.sectionName ? { sectionName: gateway.sectionName } : {}),
                },
              }
            : {}),
          ...(eks.httpRoute.hostnames ? { hostnames: eks.httpRoute.hostnames } : {}),
        },
        ...(eks.resources ? { resources: eks.resources } : {}),
      },
    };
  }
  return undefined;
}

/** The environments an endpoint deploys to: its own list, else all of them. */
export function endpointEnvironments(endpoint: EndpointSpec, repository: RepositorySpec): string[] {
  return endpoint.environments ?? repository.environments.map((environment) => environment.name);
}

/**
 * The endpoints that deploy to `environment`, sorted by name, fully resolved. Expects a
 * repository from a successful validation (references resolve, required values are present).
 */
export function resolveEndpoints(repo: LoadedRepository, environment: string): ResolvedEndpoint[] {
  const repositorySpec = repo.repository.spec;
  const env = repositorySpec.environments.find((candidate) => candidate.name === environment);
  if (!env) {
    const known = repositorySpec.environments.map((candidate) => candidate.name).join(', ');
    throw new UnknownEnvironmentError(`unknown environment '${environment}' (ballast.yaml declares: ${known})`);
  }
  const lookup = <S>(map: ReadonlyMap<string, LoadedResource<S>>, kind: string, name: string, endpoint: string) => {
    const found = map.get(name);
    if (!found)
      throw new Error(`endpoint '${endpoint}' refers to ${kind} '${name}', which does not exist; validate first`);
    return found;
  };

  const resolved: ResolvedEndpoint[] = [];
  const names = [...repo.endpoints.keys()].sort();
  for (const name of names) {
    const endpoint = repo.endpoints.get(name);
    if (!endpoint || !endpointEnvironments(endpoint.spec, repositorySpec).includes(environment)) continue;
    const partial = effectiveTarget(endpoint.spec, repositorySpec);
    if (!partial) throw new Error(`endpoint '${name}' has no target; validate first`);
    const target = partial.target as ResolvedTarget;
    const rollout = effectiveRollout(endpoint.spec, repositorySpec);
    const alarms = endpoint.spec.alarms ?? [];
    const model = lookup(repo.models, 'Model', endpoint.spec.model, name);
    const prompts = (endpoint.spec.prompts ?? []).map((prompt) => lookup(repo.prompts, 'Prompt', prompt, name));
    const configs = (endpoint.spec.configs ?? []).map((config) => lookup(repo.configs, 'Config', config, name));
    const digest = digestOf({
      apiVersion: API_VERSION,
      environment: { name: env.name, account: env.account, region: env.region },
      endpoint: { name, target, rollout, alarms },
      model: { name: model.name, spec: model.spec },
      prompts: prompts.map((prompt) => ({ name: prompt.name, spec: prompt.spec })),
      configs: configs.map((config) => ({ name: config.name, spec: config.spec })),
    });
    const writeBack = repositorySpec.writeBack?.enabled
      ? { ...(repositorySpec.writeBack.mode ? { mode: repositorySpec.writeBack.mode } : {}) }
      : undefined;
    resolved.push({
      name,
      environment: env,
      endpoint,
      target,
      rollout,
      alarms,
      model,
      prompts,
      configs,
      digest,
      ...(writeBack ? { writeBack } : {}),
    });
  }
  return resolved;
}
