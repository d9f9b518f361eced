/**
 * The model repository format (ballast.dev/v1): schema, loading, validation and resolution.
 * A pure domain module: no AWS SDK, no process, no console; I/O only through a RepoSource.
 */

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
export { isSecretReference, keyedSecretKind, mask, type SecretFinding, scanText } from './secrets.ts';
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
