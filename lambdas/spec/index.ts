/**
 * The model repository format (ballast.dev/v1): schema, loading, validation and resolution.
 * A pure domain module: no AWS SDK, no process, no console; I/O only through a RepoSource.
 */

export {
  BALLAST_VARIABLES,
  ballastEnvironmentCount,
  MAX_CONTAINER_VARIABLES,
  modelEnvironmentCount,
  RESERVED_ENV_PREFIX,
} from './container-environment.ts';
export {
  canaryFits,
  canarySizeInstances,
  linearStepFits,
  linearStepInstances,
  maxStepPercent,
} from './instances.ts';
export {
  compareIssues,
  formatJsonPath,
  type IssueCode,
  type Path,
  type PathSegment,
  type Severity,
  type ValidationIssue,
} from './issues.ts';
export { buildJsonSchema, JSON_SCHEMA_ID, jsonSchemaText } from './json-schema.ts';
export {
  checkFiles,
  directoryDigest,
  MANIFEST_API_VERSION,
  MANIFEST_KIND,
  MAX_FILE_BYTES,
  MAX_FILES,
  MAX_MANIFEST_BYTES,
  MAX_PATH_LENGTH,
  type ManifestFile,
  parseManifest,
  renderManifest,
} from './manifest.ts';
export {
  canonicalJson,
  digestOf,
  effectiveRollout,
  effectiveTarget,
  endpointEnvironments,
  type ResolvedEksTarget,
  type ResolvedEndpoint,
  type ResolvedSageMakerTarget,
  type ResolvedTarget,
  resolveEndpoints,
  sha256Hex,
  UnknownEnvironmentError,
} from './resolve.ts';
export * from './schema.ts';
export {
  isSecretId,
  isSecretReference,
  keyedSecretKind,
  mask,
  resolveReferenceSecretId,
  SECRET_ARN_SUFFIX,
  SECRET_DELIVERIES,
  type SecretDelivery,
  type SecretFinding,
  scanText,
  secretEnvName,
  secretNameOfArn,
} from './secrets.ts';
export {
  directorySource,
  isCandidatePath,
  isSafeRelativePath,
  isSkippedDirectory,
  memorySource,
  type RepoEntry,
  type RepoSource,
  RepoSourceError,
} from './source.ts';
export {
  DEFAULT_LIMITS,
  type LoadedRepository,
  type LoadedResource,
  type SourceLocation,
  type ValidateOptions,
  type ValidationLimits,
  type ValidationResult,
} from './types.ts';
export { validateRepository } from './validate.ts';
