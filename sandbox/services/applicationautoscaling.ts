import { randomBytes } from 'node:crypto';
import { awsJsonService, type JsonOperation } from '../protocols/aws-json.ts';
import type { SandboxService, ServiceContext } from '../service.ts';
import { AwsServiceError } from '../service.ts';
import { Validator } from './sagemaker/validation.ts';

/*
 * Application Auto Scaling over awsJson 1.1 (target prefix `AnyScaleFrontendService`, signing name
 * `application-autoscaling`), the part the reconciler reads: is a SageMaker variant registered as a
 * scalable target (ServiceNamespace `sagemaker`, ResourceId `endpoint/<endpoint>/variant/<variant>`,
 * ScalableDimension `sagemaker:variant:DesiredInstanceCount`)? Then its instance count belongs to
 * Application Auto Scaling and is not drift. Tests and users register and deregister targets.
 *
 * Follows the Application Auto Scaling API Reference
 * (https://docs.aws.amazon.com/autoscaling/application/APIReference/) and its service model
 * (application-autoscaling-2016-02-06):
 * - RegisterScalableTarget creates a target or updates one: a target is identified by namespace,
 *   resource ID and dimension; on an update "any parameters that you don't specify are not changed",
 *   on a creation MinCapacity and MaxCapacity are required. It answers the target's ARN
 *   (`arn:aws:application-autoscaling:REGION:ACCOUNT:scalable-target/<36 characters>`), the same one on
 *   every update. The dimension must belong to the namespace and, for SageMaker, the resource ID must
 *   have the shape of the dimension's resource type ("Unsupported service namespace, resource type or
 *   scalable dimension", as AWS and moto word it).
 * - DescribeScalableTargets requires ServiceNamespace and filters by ResourceIds (at most 50) and
 *   ScalableDimension; MaxResults is 1–50 (default 50) and NextToken pages on.
 * - DeregisterScalableTarget of a target that is not registered is ObjectNotFoundException.
 * - Shape errors are one ValidationException listing every failed member constraint, in the
 *   front end's wording ("1 validation error detected: Value 'x' at 'serviceNamespace' failed to
 *   satisfy constraint: Member must satisfy enum value set: [...]").
 * Every namespace and dimension the model lists is accepted; only SageMaker variants are checked
 * for their resource ID's shape, since nothing else here has resources.
 *
 * Not emulated: scaling policies, scheduled actions and scaling activities (nothing ever changes a
 * variant's instance count here), so the sandbox's SageMaker honours nothing new: it neither reads
 * the registered targets nor refuses an UpdateEndpoint of an autoscaled endpoint. Nor does
 * RegisterScalableTarget check that the endpoint and variant exist (AWS does), or keep tags (they are
 * accepted and dropped; AWS keeps them for ListTagsForResource). Where the API reference gives no
 * error wording (a new target without capacities, MinCapacity above MaxCapacity, a bad NextToken),
 * the messages are the sandbox's own; the error codes are AWS's.
 */

export interface ScalableTargetView {
  readonly serviceNamespace: string;
  readonly resourceId: string;
  readonly scalableDimension: string;
  readonly minCapacity: number;
  readonly maxCapacity: number;
  readonly arn: string;
}

export interface ApplicationAutoScalingSandbox extends SandboxService {
  /** The registered scalable targets (of one namespace, when given), in registration order. */
  scalableTargets(serviceNamespace?: string): ScalableTargetView[];
}

/** ServiceNamespace, in the service model's order (which the enum error lists). */
export const SERVICE_NAMESPACES = [
  'ecs',
  'elasticmapreduce',
  'ec2',
  'appstream',
  'dynamodb',
  'rds',
  'sagemaker',
  'custom-resource',
  'comprehend',
  'lambda',
  'cassandra',
  'kafka',
  'elasticache',
  'neptune',
  'workspaces',
] as const;

/** ScalableDimension, in the service model's order. */
export const SCALABLE_DIMENSIONS = [
  'ecs:service:DesiredCount',
  'ec2:spot-fleet-request:TargetCapacity',
  'elasticmapreduce:instancegroup:InstanceCount',
  'appstream:fleet:DesiredCapacity',
  'dynamodb:table:ReadCapacityUnits',
  'dynamodb:table:WriteCapacityUnits',
  'dynamodb:index:ReadCapacityUnits',
  'dynamodb:index:WriteCapacityUnits',
  'rds:cluster:ReadReplicaCount',
  'sagemaker:variant:DesiredInstanceCount',
  'custom-resource:ResourceType:Property',
  'comprehend:document-classifier-endpoint:DesiredInferenceUnits',
  'comprehend:entity-recognizer-endpoint:DesiredInferenceUnits',
  'lambda:function:ProvisionedConcurrency',
  'cassandra:table:ReadCapacityUnits',
  'cassandra:table:WriteCapacityUnits',
  'kafka:broker-storage:VolumeSize',
  'elasticache:cache-cluster:Nodes',
  'elasticache:replication-group:NodeGroups',
  'elasticache:replication-group:Replicas',
  'neptune:cluster:ReadReplicaCount',
  'sagemaker:variant:DesiredProvisionedConcurrency',
  'sagemaker:inference-component:DesiredCopyCount',
  'workspaces:workspacespool:DesiredUserSessions',
] as const;

/** ResourceIdMaxLen1600 in the service model (ResourceId, each of ResourceIds, RoleARN). */
const RESOURCE_ID = {
  min: 1,
  max: 1600,
  pattern: '[\\u0020-\\uD7FF\\uE000-\\uFFFD\\uD800\\uDC00-\\uDBFF\\uDFFF\\r\\n\\t]*',
} as const;
/** DescribeScalableTargets: "Array Members: Maximum number of 50 items" (ResourceIds). */
const MAX_RESOURCE_IDS = 50;
/** DescribeScalableTargets MaxResults: "This value can be between 1 and 50. The default value is 50." */
const MAX_RESULTS = 50;

/** What a SageMaker ResourceId looks like for each resource type (RegisterScalableTarget, ResourceId). */
const SAGEMAKER_RESOURCE_IDS: Readonly<Record<string, RegExp>> = {
  variant: /^endpoint\/[^/]+\/variant\/[^/]+$/,
  'inference-component': /^inference-component\/[^/]+$/,
};

const SUSPENDED_FIELDS = [
  'DynamicScalingInSuspended',
  'DynamicScalingOutSuspended',
  'ScheduledScalingSuspended',
] as const;
type SuspendedState = Record<(typeof SUSPENDED_FIELDS)[number], boolean>;

interface ScalableTarget {
  readonly serviceNamespace: string;
  readonly resourceId: string;
  readonly scalableDimension: string;
  readonly arn: string;
  readonly createdMs: number;
  minCapacity: number;
  maxCapacity: number;
  roleArn?: string;
  suspended: SuspendedState;
}

/** A target's identity: namespace, resource ID and dimension (NUL cannot occur in any of them). */
const keyOf = (namespace: string, resourceId: string, dimension: string) => `${namespace}\0${resourceId}\0${dimension}`;

export function createApplicationAutoScalingService(ctx: ServiceContext): ApplicationAutoScalingSandbox {
  /** In registration order (a Map keeps insertion order), which is the order Describe lists them in. */
  const targets = new Map<string, ScalableTarget>();

  /**
   * The service-linked role Application Auto Scaling uses for SageMaker variants when no RoleARN is
   * given ("Service-linked roles for Application Auto Scaling", Application Auto Scaling User Guide).
   */
  const sagemakerRole = `arn:aws:iam::${ctx.account}:role/aws-service-role/sagemaker.application-autoscaling.amazonaws.com/AWSServiceRoleForApplicationAutoScaling_SageMakerEndpoint`;

  /** Checks the members that name a target; after `v.done()`, `targetOf` reads them. */
  function validateIdentity(v: Validator, input: Record<string, unknown>): void {
    v.string('serviceNamespace', input.ServiceNamespace, { required: true, enum: SERVICE_NAMESPACES });
    v.string('resourceId', input.ResourceId, { required: true, ...RESOURCE_ID });
    v.string('scalableDimension', input.ScalableDimension, { required: true, enum: SCALABLE_DIMENSIONS });
  }

  const targetOf = (input: Record<string, unknown>) => ({
    namespace: input.ServiceNamespace as string,
    resourceId: input.ResourceId as string,
    dimension: input.ScalableDimension as string,
  });

  function describe(target: ScalableTarget) {
    return {
      ServiceNamespace: target.serviceNamespace,
      ResourceId: target.resourceId,
      ScalableDimension: target.scalableDimension,
      MinCapacity: target.minCapacity,
      MaxCapacity: target.maxCapacity,
      ...(target.roleArn !== undefined ? { RoleARN: target.roleArn } : {}),
      CreationTime: target.createdMs / 1000,
      SuspendedState: { ...target.suspended },
      ScalableTargetARN: target.arn,
    };
  }

  const operations: Record<string, JsonOperation> = {
    RegisterScalableTarget(input) {
      const v = new Validator();
      validateIdentity(v, input);
      const min = v.number('minCapacity', input.MinCapacity, { integer: true }) ? input.MinCapacity : undefined;
      const max = v.number('maxCapacity', input.MaxCapacity, { integer: true }) ? input.MaxCapacity : undefined;
      const roleArn = v.string('roleARN', input.RoleARN, RESOURCE_ID) ? input.RoleARN : undefined;
      // SuspendedState: the flags given change, the others are kept (or false for a new target).
      const suspendedUpdate: Partial<SuspendedState> = {};
      if (v.struct('suspendedState', input.SuspendedState)) {
        for (const field of SUSPENDED_FIELDS) {
          const value = input.SuspendedState[field];
          if (v.boolean(`suspendedState.${field[0]?.toLowerCase()}${field.slice(1)}`, value)) {
            suspendedUpdate[field] = value;
          }
        }
      }
      v.done();
      const id = targetOf(input);
      checkResourceType(id.namespace, id.resourceId, id.dimension);

      const key = keyOf(id.namespace, id.resourceId, id.dimension);
      const existing = targets.get(key);
      const minCapacity = min ?? existing?.minCapacity;
      const maxCapacity = max ?? existing?.maxCapacity;
      if (minCapacity === undefined || maxCapacity === undefined) {
        throw new AwsServiceError(
          'ValidationException',
          'MinCapacity and MaxCapacity are required to register a new scalable target.',
        );
      }
      if (minCapacity > maxCapacity) {
        throw new AwsServiceError(
          'ValidationException',
          `Minimum capacity (${minCapacity}) cannot be greater than maximum capacity (${maxCapacity}).`,
        );
      }
      if (existing) {
        existing.minCapacity = minCapacity;
        existing.maxCapacity = maxCapacity;
        if (roleArn !== undefined) existing.roleArn = roleArn;
        Object.assign(existing.suspended, suspendedUpdate);
        return { ScalableTargetARN: existing.arn };
      }
      const target: ScalableTarget = {
        serviceNamespace: id.namespace,
        resourceId: id.resourceId,
        scalableDimension: id.dimension,
        arn: `arn:aws:application-autoscaling:${ctx.region}:${ctx.account}:scalable-target/${randomBytes(18).toString('hex')}`,
        createdMs: ctx.clock.nowMs(),
        minCapacity,
        maxCapacity,
        suspended: {
          DynamicScalingInSuspended: false,
          DynamicScalingOutSuspended: false,
          ScheduledScalingSuspended: false,
          ...suspendedUpdate,
        },
      };
      const role = roleArn ?? (id.namespace === 'sagemaker' ? sagemakerRole : undefined);
      if (role !== undefined) target.roleArn = role;
      targets.set(key, target);
      return { ScalableTargetARN: target.arn };
    },

    DescribeScalableTargets(input) {
      const v = new Validator();
      v.string('serviceNamespace', input.ServiceNamespace, { required: true, enum: SERVICE_NAMESPACES });
      if (v.list('resourceIds', input.ResourceIds, { max: MAX_RESOURCE_IDS })) {
        input.ResourceIds.forEach((id, i) => {
          v.string(`resourceIds.${i + 1}.member`, id, { required: true, ...RESOURCE_ID });
        });
      }
      v.string('scalableDimension', input.ScalableDimension, { enum: SCALABLE_DIMENSIONS });
      v.number('maxResults', input.MaxResults, { integer: true });
      v.done();
      const max = typeof input.MaxResults === 'number' ? input.MaxResults : MAX_RESULTS;
      if (max < 1 || max > MAX_RESULTS) {
        throw new AwsServiceError(
          'ValidationException',
          `MaxResults must be between 1 and ${MAX_RESULTS}, but was ${max}.`,
        );
      }
      const ids = Array.isArray(input.ResourceIds) && input.ResourceIds.length > 0 ? new Set(input.ResourceIds) : null;
      const matching = [...targets.values()].filter(
        (t) =>
          t.serviceNamespace === input.ServiceNamespace &&
          (ids === null || ids.has(t.resourceId)) &&
          (input.ScalableDimension === undefined || t.scalableDimension === input.ScalableDimension),
      );
      const start = decodeToken(input.NextToken);
      const page = matching.slice(start, start + max);
      const next = start + page.length < matching.length ? encodeToken(start + page.length) : undefined;
      return { ScalableTargets: page.map(describe), ...(next ? { NextToken: next } : {}) };
    },

    DeregisterScalableTarget(input) {
      const v = new Validator();
      validateIdentity(v, input);
      v.done();
      const id = targetOf(input);
      const key = keyOf(id.namespace, id.resourceId, id.dimension);
      if (!targets.delete(key)) {
        // AWS's wording for a target that is not registered, as PutScalingPolicy answers it.
        throw new AwsServiceError(
          'ObjectNotFoundException',
          `No scalable target registered for service namespace: ${id.namespace}, resource ID: ${id.resourceId}, scalable dimension: ${id.dimension}`,
        );
      }
      return {};
    },
  };

  const service = awsJsonService({
    signingName: 'application-autoscaling',
    targetPrefix: 'AnyScaleFrontendService',
    version: '1.1',
    operations,
    // Not in the service model (its ConcurrentUpdateException is about conflicting writes): a rate
    // limit answers ThrottlingException, which the SDK's retry strategy knows as throttling.
    throttlingCode: 'ThrottlingException',
  });

  return {
    ...service,
    scalableTargets: (serviceNamespace) =>
      [...targets.values()]
        .filter((t) => serviceNamespace === undefined || t.serviceNamespace === serviceNamespace)
        .map((t) => ({
          serviceNamespace: t.serviceNamespace,
          resourceId: t.resourceId,
          scalableDimension: t.scalableDimension,
          minCapacity: t.minCapacity,
          maxCapacity: t.maxCapacity,
          arn: t.arn,
        })),
  };
}

/**
 * The dimension names its namespace and resource type (`sagemaker:variant:DesiredInstanceCount`):
 * the namespace must be the request's, and a SageMaker resource ID must be of that type.
 */
function checkResourceType(namespace: string, resourceId: string, dimension: string): void {
  const [dimensionNamespace, resourceType = ''] = dimension.split(':');
  const shape = namespace === 'sagemaker' ? SAGEMAKER_RESOURCE_IDS[resourceType] : undefined;
  if (dimensionNamespace !== namespace || (namespace === 'sagemaker' && !shape?.test(resourceId))) {
    throw new AwsServiceError(
      'ValidationException',
      'Unsupported service namespace, resource type or scalable dimension',
    );
  }
}

/** NextToken: opaque to callers; here the offset of the next page. */
function encodeToken(offset: number): string {
  return Buffer.from(`offset:${offset}`, 'utf8').toString('base64url');
}

function decodeToken(token: unknown): number {
  if (token === undefined || token === null) return 0;
  const match =
    typeof token === 'string' ? /^offset:(\d+)$/.exec(Buffer.from(token, 'base64url').toString('utf8')) : null;
  if (!match?.[1]) throw new AwsServiceError('InvalidNextTokenException', 'The NextToken is not valid.');
  return Number.parseInt(match[1], 10);
}
