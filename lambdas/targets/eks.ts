/**
 * The EKS target as pure functions: the names and the Kubernetes objects Ballast applies for an
 * Endpoint. The handlers apply them (server-side apply, field manager `ballast`); everything that
 * decides what an object contains is here, testable without a cluster.
 *
 * Per Endpoint E in environment V: two Deployments, `E-V-stable` and `E-V-canary`, a Service each,
 * and the user's Gateway API HTTPRoute, whose one rule sends traffic to the two Services by weight
 * (Gateway API, HTTPBackendRef.weight: "proportional to the sum of all weights in this
 * backendRefs list"). The stable track runs the live version; a rollout brings the new version up
 * on the canary track, moves weight to it, and hands it over to the stable track at the end.
 *
 * References: Kubernetes documentation, "Server-Side Apply" (field management, conflicts, list
 * types), "Deployments" (rolling update, progressDeadlineSeconds, status), "Schedule GPUs"
 * (nvidia.com/gpu in limits); Gateway API v1 HTTPRoute reference.
 */
import type { ResolvedEksTarget } from '../spec/resolve.ts';
import type { Release } from '../workflow/types.ts';
import { boundedName, containerEnvironment, type Deployable, type PinnedArtifacts } from './sagemaker.ts';

export const FIELD_MANAGER = 'ballast';
export type Track = 'stable' | 'canary';
export const TRACKS: readonly Track[] = ['stable', 'canary'];

export const LABELS = {
  managedBy: 'app.kubernetes.io/managed-by',
  endpoint: 'ballast.dev/endpoint',
  environment: 'ballast.dev/environment',
  track: 'ballast.dev/track',
  revision: 'ballast.dev/revision',
} as const;
export const ANNOTATIONS = { commit: 'ballast.dev/commit', digest: 'ballast.dev/digest' } as const;

/** The GPU resource the NVIDIA device plugin advertises (Kubernetes "Schedule GPUs"). */
export const GPU_RESOURCE = 'nvidia.com/gpu';
/**
 * The image of the init container that copies the pinned model data from S3 into the pod, as
 * SageMaker copies it to /opt/ml/model. It runs the AWS CLI with the pod's service account role.
 */
export const FETCH_IMAGE = 'public.ecr.aws/aws-cli/aws-cli:2.22.35';
/** Where the model data is mounted, as on SageMaker (containers written for it find it there). */
export const MODEL_DIR = '/opt/ml/model';
/**
 * Kubernetes marks a rollout that makes no progress for this long `Progressing=False,
 * ProgressDeadlineExceeded` (Deployment spec.progressDeadlineSeconds; 600 is its default). Pods
 * that cannot be scheduled (no free GPU) or never become ready end there, and Ballast aborts.
 */
export const PROGRESS_DEADLINE_SECONDS = 600;

/**
 * Pod settings the repository format does not expose yet (issue 11 adds them to `target.eks`):
 * the SageMaker container contract (port 8080, GET /ping answers 200 when ready), a surge of one
 * pod, and the namespace's default service account.
 */
export const POD_DEFAULTS = { port: 8080, readinessPath: '/ping', maxSurge: 1 } as const;

const MAX_NAME = 63;

/** A DNS-1123 label from parts; over 63 characters, the middle gives way to a short hash. */
export function kubeName(...parts: string[]): string {
  return boundedName(parts.join('-').toLowerCase(), MAX_NAME);
}

export interface EksNames {
  readonly cluster: string;
  readonly namespace: string;
  readonly deployments: Readonly<Record<Track, string>>;
  readonly services: Readonly<Record<Track, string>>;
  readonly route: { readonly name: string; readonly namespace: string };
  /** Names the version (as an EndpointConfig name does on SageMaker): `E-V-<digest:12>`. */
  readonly revision: string;
  /**
   * The endpoint's identity where the workflow needs one string (the lease's wake key, the ledger's
   * "endpoint name"): `<cluster>/<namespace>/<E-V>`.
   */
  readonly endpointName: string;
}

export function eksNames(environment: string, endpoint: string, target: ResolvedEksTarget, digest: string): EksNames {
  const base = kubeName(endpoint, environment);
  return {
    cluster: target.cluster,
    namespace: target.namespace,
    deployments: { stable: kubeName(base, 'stable'), canary: kubeName(base, 'canary') },
    services: { stable: kubeName(base, 'stable'), canary: kubeName(base, 'canary') },
    route: { name: target.httpRoute.name, namespace: target.httpRoute.namespace },
    revision: revisionName(environment, endpoint, digest),
    endpointName: `${target.cluster}/${target.namespace}/${base}`,
  };
}

export function revisionName(environment: string, endpoint: string, digest: string): string {
  return kubeName(endpoint, environment, digest.slice(0, 12));
}

/** A Kubernetes object as Ballast writes and reads it: only the parts it looks at are typed. */
export interface KubeObject {
  readonly apiVersion: string;
  readonly kind: string;
  readonly metadata: {
    readonly name: string;
    readonly namespace?: string;
    readonly labels?: Readonly<Record<string, string>>;
    readonly annotations?: Readonly<Record<string, string>>;
    readonly resourceVersion?: string;
    readonly generation?: number;
    readonly managedFields?: ReadonlyArray<{
      readonly manager?: string;
      readonly operation?: string;
      readonly fieldsV1?: unknown;
    }>;
  };
  // biome-ignore lint/suspicious/noExplicitAny: Kubernetes specs are open-ended; readers narrow what they use.
  readonly spec?: any;
  // biome-ignore lint/suspicious/noExplicitAny: as spec.
  readonly status?: any;
}

/**
 * Everything about one version's pods that does not depend on the track: stored by digest when a
 * version is first applied (`eks/<environment>/<endpoint>/<digest>.json`), so that an abort or a
 * rollback can put an earlier version back on the stable track without its release document.
 */
export interface EksBlueprint {
  readonly digest: string;
  readonly commit: string;
  readonly revision: string;
  readonly target: ResolvedEksTarget;
  /** The pod template, labels and annotations included, minus the track label. */
  readonly template: {
    readonly metadata: { readonly labels: Record<string, string>; readonly annotations: Record<string, string> };
    // biome-ignore lint/suspicious/noExplicitAny: a PodSpec.
    readonly spec: any;
  };
}

function baseLabels(environment: string, endpoint: string): Record<string, string> {
  return { [LABELS.managedBy]: 'ballast', [LABELS.endpoint]: endpoint, [LABELS.environment]: environment };
}

function versionAnnotations(commit: string, digest: string): Record<string, string> {
  return { [ANNOTATIONS.commit]: commit, [ANNOTATIONS.digest]: digest };
}

/**
 * The pods of a release. The container gets the same environment as on SageMaker
 * ({@link containerEnvironment}: Ballast's variables, prompts and configs as S3 URIs, secrets as
 * ARNs) and the model data at /opt/ml/model, copied by an init container from the pinned
 * content-addressed copy (an archive is unpacked). GPUs are requested as `nvidia.com/gpu` in
 * limits and requests (Kubernetes requires them equal for extended resources), with the toleration
 * EKS GPU node groups carry (`nvidia.com/gpu:NoSchedule`).
 */
export function blueprint(release: Release, pinned: PinnedArtifacts): EksBlueprint {
  const target = release.target;
  if (target.kind !== 'eks') throw new Error(`${release.name} is not an EKS endpoint`);
  const deployable: Deployable = release;
  const environment = containerEnvironment(deployable, pinned, release.commit);
  const revision = revisionName(release.environment.name, release.name, release.digest);
  const gpus = target.gpusPerReplica;
  const quantities = (list: Readonly<Record<string, string | number | undefined>> | undefined) =>
    Object.fromEntries(
      Object.entries(list ?? {}).flatMap(([name, value]) => (value === undefined ? [] : [[name, String(value)]])),
    ) as Record<string, string>;
  const requests = quantities(target.resources?.requests);
  const limits = quantities(target.resources?.limits);
  if (gpus > 0) {
    requests[GPU_RESOURCE] = String(gpus);
    limits[GPU_RESOURCE] = String(gpus);
  }
  const fetch =
    pinned.model.form === 'archive'
      ? `aws s3 cp '${pinned.model.modelDataUrl}' /tmp/model.tar.gz && tar -xzf /tmp/model.tar.gz -C ${MODEL_DIR} && rm /tmp/model.tar.gz`
      : `aws s3 cp --recursive '${pinned.model.s3Prefix}' ${MODEL_DIR}`;
  const resources = {
    ...(Object.keys(requests).length > 0 ? { requests } : {}),
    ...(Object.keys(limits).length > 0 ? { limits } : {}),
  };
  return {
    digest: release.digest,
    commit: release.commit,
    revision,
    target,
    template: {
      metadata: {
        labels: { ...baseLabels(release.environment.name, release.name), [LABELS.revision]: revision },
        annotations: versionAnnotations(release.commit, release.digest),
      },
      spec: {
        ...(Object.keys(target.nodeSelector).length > 0 ? { nodeSelector: { ...target.nodeSelector } } : {}),
        ...(gpus > 0 ? { tolerations: [{ key: GPU_RESOURCE, operator: 'Exists', effect: 'NoSchedule' }] } : {}),
        initContainers: [
          {
            name: 'fetch-model',
            image: FETCH_IMAGE,
            command: ['sh', '-c', fetch],
            volumeMounts: [{ name: 'model', mountPath: MODEL_DIR }],
          },
        ],
        containers: [
          {
            name: 'model',
            image: release.model.spec.image,
            env: Object.entries(environment)
              .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
              .map(([name, value]) => ({ name, value })),
            ports: [{ name: 'http', containerPort: POD_DEFAULTS.port, protocol: 'TCP' }],
            readinessProbe: {
              httpGet: { path: POD_DEFAULTS.readinessPath, port: 'http' },
              periodSeconds: 10,
              failureThreshold: 3,
            },
            ...(Object.keys(resources).length > 0 ? { resources } : {}),
            volumeMounts: [{ name: 'model', mountPath: MODEL_DIR, readOnly: true }],
          },
        ],
        volumes: [{ name: 'model', emptyDir: {} }],
      },
    },
  };
}

/**
 * A track's Deployment running a blueprint. `replicas` undefined leaves the field out of the
 * apply, so that an HPA (or KEDA's HPA) that owns it keeps it (Server-Side Apply: a field the
 * manager does not send is not touched while another manager owns it). The rolling update never
 * takes a pod away before its replacement is ready (maxUnavailable 0) and adds at most the
 * target's maxSurge pods at once, so that it fits the GPUs the rollout may use.
 */
export function deploymentManifest(
  names: EksNames,
  track: Track,
  plan: EksBlueprint,
  replicas: number | undefined,
): KubeObject {
  const labels = { ...plan.template.metadata.labels };
  delete labels[LABELS.revision];
  const selector = {
    [LABELS.endpoint]: labels[LABELS.endpoint] ?? '',
    [LABELS.environment]: labels[LABELS.environment] ?? '',
    [LABELS.track]: track,
  };
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: {
      name: names.deployments[track],
      namespace: names.namespace,
      labels: { ...labels, [LABELS.track]: track },
      annotations: versionAnnotations(plan.commit, plan.digest),
    },
    spec: {
      ...(replicas !== undefined ? { replicas } : {}),
      selector: { matchLabels: selector },
      progressDeadlineSeconds: PROGRESS_DEADLINE_SECONDS,
      strategy: {
        type: 'RollingUpdate',
        rollingUpdate: { maxSurge: POD_DEFAULTS.maxSurge, maxUnavailable: 0 },
      },
      template: {
        metadata: {
          labels: { ...plan.template.metadata.labels, [LABELS.track]: track },
          annotations: { ...plan.template.metadata.annotations },
        },
        spec: plan.template.spec,
      },
    },
  };
}

export function serviceManifest(names: EksNames, track: Track, environment: string, endpoint: string): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: {
      name: names.services[track],
      namespace: names.namespace,
      labels: { ...baseLabels(environment, endpoint), [LABELS.track]: track },
    },
    spec: {
      selector: { [LABELS.endpoint]: endpoint, [LABELS.environment]: environment, [LABELS.track]: track },
      ports: [{ name: 'http', port: 80, targetPort: 'http', protocol: 'TCP' }],
    },
  };
}

/** Traffic shares in percent, summing to 100. */
export interface Weights {
  readonly stable: number;
  readonly canary: number;
}

/**
 * The HTTPRoute with the split. `spec.rules` is an atomic list (the Gateway API CRD marks it so):
 * a server-side apply replaces it whole, so Ballast always sends every rule. With a `gateway`,
 * Ballast owns the route (parentRefs and hostnames too); without one the route exists already
 * and Ballast applies only its rules, leaving parentRefs and hostnames to their owner.
 * A Service the route names with weight 0 receives no traffic but must exist (ResolvedRefs).
 */
export function routeManifest(
  names: EksNames,
  target: ResolvedEksTarget,
  weights: Weights,
  environment: string,
  endpoint: string,
  commit: string,
  digest: string,
): KubeObject {
  const gateway = target.httpRoute.gateway;
  return {
    apiVersion: 'gateway.networking.k8s.io/v1',
    kind: 'HTTPRoute',
    metadata: {
      name: names.route.name,
      namespace: names.route.namespace,
      labels: baseLabels(environment, endpoint),
      annotations: versionAnnotations(commit, digest),
    },
    spec: {
      ...(gateway
        ? {
            parentRefs: [
              {
                group: 'gateway.networking.k8s.io',
                kind: 'Gateway',
                name: gateway.name,
                namespace: gateway.namespace,
                ...(gateway.sectionName ? { sectionName: gateway.sectionName } : {}),
              },
            ],
          }
        : {}),
      ...(gateway && target.httpRoute.hostnames ? { hostnames: [...target.httpRoute.hostnames] } : {}),
      rules: [
        {
          // group left out: it defaults to "" (the core API group of Service); an explicit empty
          // string reaches the API server as null through some clients and is refused.
          backendRefs: TRACKS.map((track) => ({
            kind: 'Service',
            name: names.services[track],
            ...(names.route.namespace !== names.namespace ? { namespace: names.namespace } : {}),
            port: 80,
            weight: weights[track],
          })),
        },
      ],
    },
  };
}

/** The GPUs a track's pods request in all. */
export function gpusOf(target: ResolvedEksTarget, pods: number): number {
  return target.gpusPerReplica * pods;
}
