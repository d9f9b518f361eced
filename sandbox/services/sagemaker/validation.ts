import { AwsServiceError } from '../../service.ts';

/**
 * Request validation the way SageMaker's front end does it: every member constraint of the service
 * model (lengths, ranges, patterns, enums, required members) is checked, and all failures come back in
 * one ValidationException, e.g.
 *   1 validation error detected: Value 'a_b' at 'endpointName' failed to satisfy constraint: Member must
 *   satisfy regular expression pattern: ^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}
 * Paths use the member names with a lower-case first letter, list members as `list.1.member.field`
 * (1-based), as AWS prints them. The constraints are the ones in the SageMaker service model
 * (sagemaker-2017-07-24, as shipped in botocore's service-2.json).
 */

export const NAME_PATTERN = '^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}';
export const MODEL_NAME_PATTERN = '^[a-zA-Z0-9]([\\-a-zA-Z0-9]*[a-zA-Z0-9])?';
const ROLE_ARN_PATTERN = '^arn:aws[a-z\\-]*:iam::\\d{12}:role/?[a-zA-Z_0-9+=,.@\\-_/]+$';
const TAG_PATTERN = '^([\\p{L}\\p{Z}\\p{N}_.:/=+\\-@]*)$';
const RESOURCE_ARN_PATTERN = '^arn:aws[a-z-]*:sagemaker:[a-z0-9-]*:[0-9]{12}:.+';
const NAME_CONTAINS_PATTERN = '^[a-zA-Z0-9-]+$';
const ENV_KEY_PATTERN = '^[a-zA-Z_][a-zA-Z0-9_]*$';
const IMAGE_PATTERN = '^[\\S]+$';
const ALARM_NAME_PATTERN = '^(?!\\s*$).+';

export const ENDPOINT_STATUSES = [
  'OutOfService',
  'Creating',
  'Updating',
  'SystemUpdating',
  'RollingBack',
  'InService',
  'Deleting',
  'Failed',
  'UpdateRollbackFailed',
] as const;

function show(value: unknown): string {
  if (value === null || value === undefined) return 'null';
  if (Array.isArray(value))
    return `[${value.map((v) => (typeof v === 'object' ? JSON.stringify(v) : String(v))).join(', ')}]`;
  if (typeof value === 'object') return JSON.stringify(value);
  return String(value);
}

export class Validator {
  private readonly errors: string[] = [];

  fail(path: string, value: unknown, constraint: string): void {
    const shown = value === undefined || value === null ? 'null' : `'${show(value)}'`;
    this.errors.push(`Value ${shown} at '${path}' failed to satisfy constraint: ${constraint}`);
  }

  required(path: string, value: unknown): boolean {
    if (value === undefined || value === null) {
      this.fail(path, value, 'Member must not be null');
      return false;
    }
    return true;
  }

  string(
    path: string,
    value: unknown,
    rules: { required?: boolean; min?: number; max?: number; pattern?: string; enum?: readonly string[] },
  ): value is string {
    if (value === undefined || value === null) {
      if (rules.required) this.fail(path, value, 'Member must not be null');
      return false;
    }
    if (typeof value !== 'string') throw serialization(path);
    if (rules.max !== undefined && value.length > rules.max) {
      this.fail(path, value, `Member must have length less than or equal to ${rules.max}`);
      return false;
    }
    if (rules.min !== undefined && value.length < rules.min) {
      this.fail(path, value, `Member must have length greater than or equal to ${rules.min}`);
      return false;
    }
    if (rules.pattern !== undefined && !matchesWhole(rules.pattern, value)) {
      this.fail(path, value, `Member must satisfy regular expression pattern: ${rules.pattern}`);
      return false;
    }
    if (rules.enum && !rules.enum.includes(value)) {
      this.fail(path, value, `Member must satisfy enum value set: [${rules.enum.join(', ')}]`);
      return false;
    }
    return true;
  }

  number(
    path: string,
    value: unknown,
    rules: { required?: boolean; min?: number; max?: number; integer?: boolean },
  ): value is number {
    if (value === undefined || value === null) {
      if (rules.required) this.fail(path, value, 'Member must not be null');
      return false;
    }
    if (typeof value !== 'number' || !Number.isFinite(value) || (rules.integer && !Number.isInteger(value))) {
      throw serialization(path);
    }
    if (rules.min !== undefined && value < rules.min) {
      this.fail(path, value, `Member must have value greater than or equal to ${rules.min}`);
      return false;
    }
    if (rules.max !== undefined && value > rules.max) {
      this.fail(path, value, `Member must have value less than or equal to ${rules.max}`);
      return false;
    }
    return true;
  }

  boolean(path: string, value: unknown): value is boolean {
    if (value === undefined || value === null) return false;
    if (typeof value !== 'boolean') throw serialization(path);
    return true;
  }

  list(path: string, value: unknown, rules: { required?: boolean; min?: number; max?: number }): value is unknown[] {
    if (value === undefined || value === null) {
      if (rules.required) this.fail(path, value, 'Member must not be null');
      return false;
    }
    if (!Array.isArray(value)) throw serialization(path);
    if (rules.max !== undefined && value.length > rules.max) {
      this.fail(path, value, `Member must have length less than or equal to ${rules.max}`);
      return false;
    }
    if (rules.min !== undefined && value.length < rules.min) {
      this.fail(path, value, `Member must have length greater than or equal to ${rules.min}`);
      return false;
    }
    return true;
  }

  struct(path: string, value: unknown, required = false): value is Record<string, unknown> {
    if (value === undefined || value === null) {
      if (required) this.fail(path, value, 'Member must not be null');
      return false;
    }
    if (typeof value !== 'object' || Array.isArray(value)) throw serialization(path);
    return true;
  }

  /** Throws the collected errors as one ValidationException, AWS style. */
  done(): void {
    const n = this.errors.length;
    if (n === 0) return;
    throw new AwsServiceError(
      'ValidationException',
      `${n} validation error${n === 1 ? '' : 's'} detected: ${this.errors.join('; ')}`,
    );
  }
}

function serialization(path: string): AwsServiceError {
  return new AwsServiceError('SerializationException', `Unexpected value type at '${path}'`);
}

const patternCache = new Map<string, RegExp>();
function matchesWhole(pattern: string, value: string): boolean {
  let re = patternCache.get(pattern);
  if (!re) {
    const body = pattern.replace(/^\^/, '').replace(/\$$/, '');
    re = new RegExp(`^(?:${body})$`, 'u');
    patternCache.set(pattern, re);
  }
  return re.test(value);
}

/** A plain ValidationException with a free-form message (the semantic checks after the shape checks). */
export function invalid(message: string): AwsServiceError {
  return new AwsServiceError('ValidationException', message);
}

export function validateName(v: Validator, path: string, value: unknown, required = true): value is string {
  return v.string(path, value, { required, max: 63, pattern: NAME_PATTERN });
}

export function validateModelName(v: Validator, path: string, value: unknown, required = true): value is string {
  return v.string(path, value, { required, max: 63, pattern: MODEL_NAME_PATTERN });
}

export function validateTags(v: Validator, path: string, value: unknown, required = false): void {
  if (!v.list(path, value, { required, min: 0, max: 50 })) return;
  value.forEach((tag, i) => {
    const at = `${path}.${i + 1}.member`;
    if (!v.struct(at, tag, true)) return;
    v.string(`${at}.key`, tag.Key, { required: true, min: 1, max: 128, pattern: TAG_PATTERN });
    v.string(`${at}.value`, tag.Value, { required: true, min: 0, max: 256, pattern: TAG_PATTERN });
  });
}

export function validateTagKeys(v: Validator, path: string, value: unknown): void {
  if (!v.list(path, value, { required: true, min: 1, max: 50 })) return;
  value.forEach((key, i) => {
    v.string(`${path}.${i + 1}.member`, key, { required: true, min: 1, max: 128, pattern: TAG_PATTERN });
  });
}

export function validateResourceArn(v: Validator, path: string, value: unknown): value is string {
  return v.string(path, value, { required: true, max: 256, pattern: RESOURCE_ARN_PATTERN });
}

/**
 * `S3ModelUri` in the service model: ContainerDefinition.ModelDataUrl and S3ModelDataSource.S3Uri
 * ("Length Constraints: Maximum length of 1024. Pattern: ^(https|s3)://([^/]+)/?(.*)$", API reference,
 * ContainerDefinition and S3ModelDataSource).
 */
export const S3_MODEL_URI_PATTERN = '^(https|s3)://([^/]+)/?(.*)$';
const S3_MODEL_URI_MAX = 1024;

/**
 * The shape of ContainerDefinition.ModelDataSource (API reference, ModelDataSource and
 * S3ModelDataSource, https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_S3ModelDataSource.html):
 * S3Uri (required, S3ModelUri), S3DataType (required, `S3Prefix | S3Object`), CompressionType
 * (required, `None | Gzip`), ModelAccessConfig.AcceptEula (required boolean when the struct is given),
 * ManifestS3Uri (an S3ModelUri), ETag and ManifestEtag (strings). The rules between the members are in
 * `checkModelData`, after the shape.
 */
export function validateModelDataSource(v: Validator, path: string, value: unknown): void {
  if (!v.struct(path, value)) return;
  const s3 = value.S3DataSource;
  const p = `${path}.s3DataSource`;
  if (!v.struct(p, s3)) return;
  v.string(`${p}.s3Uri`, s3.S3Uri, { required: true, max: S3_MODEL_URI_MAX, pattern: S3_MODEL_URI_PATTERN });
  v.string(`${p}.s3DataType`, s3.S3DataType, { required: true, enum: ['S3Prefix', 'S3Object'] });
  v.string(`${p}.compressionType`, s3.CompressionType, { required: true, enum: ['None', 'Gzip'] });
  if (v.struct(`${p}.modelAccessConfig`, s3.ModelAccessConfig)) {
    const eula = s3.ModelAccessConfig.AcceptEula;
    if (v.required(`${p}.modelAccessConfig.acceptEula`, eula)) v.boolean(`${p}.modelAccessConfig.acceptEula`, eula);
  }
  v.string(`${p}.manifestS3Uri`, s3.ManifestS3Uri, { max: S3_MODEL_URI_MAX, pattern: S3_MODEL_URI_PATTERN });
  v.string(`${p}.eTag`, s3.ETag, {});
  v.string(`${p}.manifestEtag`, s3.ManifestEtag, {});
}

export function validateContainer(v: Validator, path: string, value: unknown, required = false): void {
  if (!v.struct(path, value, required)) return;
  v.string(`${path}.image`, value.Image, { max: 255, pattern: IMAGE_PATTERN });
  v.string(`${path}.modelDataUrl`, value.ModelDataUrl, { max: S3_MODEL_URI_MAX, pattern: S3_MODEL_URI_PATTERN });
  validateModelDataSource(v, `${path}.modelDataSource`, value.ModelDataSource);
  v.string(`${path}.containerHostname`, value.ContainerHostname, { max: 63, pattern: NAME_PATTERN });
  v.string(`${path}.mode`, value.Mode, { enum: ['SingleModel', 'MultiModel'] });
  const env = value.Environment;
  if (env !== undefined && env !== null) {
    if (typeof env !== 'object' || Array.isArray(env)) throw serialization(`${path}.environment`);
    const entries = Object.entries(env as Record<string, unknown>);
    if (entries.length > 100) {
      v.fail(`${path}.environment`, '{…}', 'Member must have length less than or equal to 100');
    }
    for (const [key, val] of entries) {
      v.string(`${path}.environment.key`, key, { max: 1024, pattern: ENV_KEY_PATTERN });
      v.string(`${path}.environment.value`, val, { max: 1024 });
    }
  }
}

/**
 * The rules between a container's model data members that the service model's shape cannot say, checked
 * after the shape (so every value here is well-formed). Throws one ValidationException for the first
 * rule broken. `containerName` is how the message names the container ("PrimaryContainer",
 * "Containers.2").
 *
 * - ModelDataUrl: "This path must point to a single gzip compressed tar archive (.tar.gz suffix)"
 *   (API reference, ContainerDefinition.ModelDataUrl). Not for `Mode: MultiModel`, where ModelDataUrl is
 *   the S3 prefix that holds the models ("Multi-model endpoints", SageMaker developer guide).
 * - ModelDataSource: "If specified, you must specify one and only one of the available data sources"
 *   (API reference, ModelDataSource); S3DataSource is the only one.
 * - S3Prefix: "A valid key name prefix identified by S3Uri always ends with a forward slash (/)"
 *   (API reference, S3ModelDataSource.S3DataType).
 * - Gzip: "If you choose Gzip and choose S3Object as the value of S3DataType, S3Uri identifies an object
 *   that is a gzip-compressed TAR archive" (S3ModelDataSource.CompressionType); the reference defines
 *   no meaning for Gzip with S3Prefix (only "None and S3Prefix"), so the sandbox refuses it.
 * - "Currently you cannot use ModelDataSource in conjunction with SageMaker batch transform, SageMaker
 *   serverless endpoints, SageMaker multi-model endpoints, and SageMaker Marketplace" (API reference,
 *   ContainerDefinition.ModelDataSource): MultiModel here, serverless at CreateEndpointConfig.
 * - ModelDataUrl and ModelDataSource together: the API reference does not forbid it in words, but both
 *   name the data SageMaker puts into /opt/ml/model and ModelDataSource allows "one and only one" data
 *   source. The sandbox refuses the combination so that a caller meaning one form never sends two;
 *   the wording is the sandbox's own.
 * The messages are the sandbox's wording (AWS's for these rules is not documented).
 */
export function checkModelData(container: Record<string, unknown>, containerName: string): void {
  const url = container.ModelDataUrl;
  const source = container.ModelDataSource as Record<string, unknown> | undefined | null;
  const multiModel = container.Mode === 'MultiModel';
  if (typeof url === 'string' && source !== undefined && source !== null) {
    throw invalid(
      `${containerName} specifies both ModelDataUrl and ModelDataSource; specify the model data with only one of them.`,
    );
  }
  // An https URL may carry a query string: the suffix rule is about the object's path.
  if (typeof url === 'string' && !multiModel && !url.split('?')[0]?.endsWith('.tar.gz')) {
    throw invalid(
      `ModelDataUrl "${url}" of ${containerName} must point to a single gzip compressed tar archive (.tar.gz suffix). For uncompressed model data, use ModelDataSource with S3DataType S3Prefix and CompressionType None.`,
    );
  }
  if (source === undefined || source === null) return;
  if (multiModel) {
    throw invalid(`ModelDataSource of ${containerName} cannot be used with Mode MultiModel (multi-model endpoints).`);
  }
  const s3 = source.S3DataSource as Record<string, unknown> | undefined | null;
  if (s3 === undefined || s3 === null) {
    throw invalid(`ModelDataSource of ${containerName} must specify exactly one data source: S3DataSource.`);
  }
  const uri = s3.S3Uri as string;
  if (s3.S3DataType === 'S3Prefix') {
    if (!uri.endsWith('/')) {
      throw invalid(
        `S3Uri "${uri}" of ${containerName}.ModelDataSource.S3DataSource must end with a forward slash (/) when S3DataType is S3Prefix.`,
      );
    }
    if (s3.CompressionType === 'Gzip') {
      throw invalid(
        `CompressionType Gzip of ${containerName}.ModelDataSource.S3DataSource requires S3DataType S3Object; an S3Prefix takes CompressionType None.`,
      );
    }
  }
}

export function validateRoleArn(v: Validator, path: string, value: unknown, required = false): void {
  v.string(path, value, { required, min: 20, max: 2048, pattern: ROLE_ARN_PATTERN });
}

export function validateNameContains(v: Validator, path: string, value: unknown): void {
  v.string(path, value, { max: 63, pattern: NAME_CONTAINS_PATTERN });
}

function validateCapacitySize(v: Validator, path: string, value: unknown): void {
  if (!v.struct(path, value)) return;
  v.string(`${path}.type`, value.Type, { required: true, enum: ['INSTANCE_COUNT', 'CAPACITY_PERCENT'] });
  v.number(`${path}.value`, value.Value, { required: true, min: 1, integer: true });
}

/** The shape constraints of DeploymentConfig (CreateEndpoint, UpdateEndpoint). */
export function validateDeploymentConfig(v: Validator, path: string, value: unknown): void {
  if (!v.struct(path, value)) return;
  const bg = value.BlueGreenUpdatePolicy;
  if (v.struct(`${path}.blueGreenUpdatePolicy`, bg)) {
    const p = `${path}.blueGreenUpdatePolicy`;
    const trc = bg.TrafficRoutingConfiguration;
    if (v.struct(`${p}.trafficRoutingConfiguration`, trc, true)) {
      const t = `${p}.trafficRoutingConfiguration`;
      v.string(`${t}.type`, trc.Type, { required: true, enum: ['ALL_AT_ONCE', 'CANARY', 'LINEAR'] });
      v.number(`${t}.waitIntervalInSeconds`, trc.WaitIntervalInSeconds, {
        required: true,
        min: 0,
        max: 3600,
        integer: true,
      });
      validateCapacitySize(v, `${t}.canarySize`, trc.CanarySize);
      validateCapacitySize(v, `${t}.linearStepSize`, trc.LinearStepSize);
    }
    v.number(`${p}.terminationWaitInSeconds`, bg.TerminationWaitInSeconds, { min: 0, max: 3600, integer: true });
    v.number(`${p}.maximumExecutionTimeoutInSeconds`, bg.MaximumExecutionTimeoutInSeconds, {
      min: 600,
      max: 28800,
      integer: true,
    });
  }
  const rolling = value.RollingUpdatePolicy;
  if (v.struct(`${path}.rollingUpdatePolicy`, rolling)) {
    const p = `${path}.rollingUpdatePolicy`;
    if (v.struct(`${p}.maximumBatchSize`, rolling.MaximumBatchSize, true)) {
      validateCapacitySize(v, `${p}.maximumBatchSize`, rolling.MaximumBatchSize);
    }
    v.number(`${p}.waitIntervalInSeconds`, rolling.WaitIntervalInSeconds, {
      required: true,
      min: 0,
      max: 3600,
      integer: true,
    });
    v.number(`${p}.maximumExecutionTimeoutInSeconds`, rolling.MaximumExecutionTimeoutInSeconds, {
      min: 600,
      max: 28800,
      integer: true,
    });
    validateCapacitySize(v, `${p}.rollbackMaximumBatchSize`, rolling.RollbackMaximumBatchSize);
  }
  const arc = value.AutoRollbackConfiguration;
  if (v.struct(`${path}.autoRollbackConfiguration`, arc)) {
    const p = `${path}.autoRollbackConfiguration`;
    if (v.list(`${p}.alarms`, arc.Alarms, { min: 1, max: 10 })) {
      arc.Alarms.forEach((alarm, i) => {
        const a = `${p}.alarms.${i + 1}.member`;
        if (v.struct(a, alarm, true)) {
          v.string(`${a}.alarmName`, alarm.AlarmName, { min: 1, max: 255, pattern: ALARM_NAME_PATTERN });
        }
      });
    }
  }
}

/** Pagination: an opaque token that encodes the offset into the sorted list. */
export function decodeToken(token: unknown): number {
  if (token === undefined || token === null || token === '') return 0;
  if (typeof token !== 'string') throw serialization('nextToken');
  const offset = Number.parseInt(
    Buffer.from(token, 'base64url')
      .toString('utf8')
      .replace(/^offset:/, ''),
    10,
  );
  if (!Number.isInteger(offset) || offset < 0) throw invalid('Invalid pagination token.');
  return offset;
}

export function encodeToken(offset: number): string {
  return Buffer.from(`offset:${offset}`, 'utf8').toString('base64url');
}
