import type { ValidationIssue } from './issues.ts';
import type { ConfigSpec, EndpointSpec, Kind, ModelSpec, PromptSpec, RepositorySpec } from './schema.ts';

/** Where a resource was declared. */
export interface SourceLocation {
  /** Posix path relative to the repository root. */
  readonly file: string;
  /** 0-based index of the YAML document in the file. */
  readonly document: number;
  /** 1-based position of the document's first node. */
  readonly line: number;
  readonly column: number;
}

/** A parsed, schema-checked resource. `spec` has the schema's defaults filled in. */
export interface LoadedResource<S> {
  readonly kind: Kind;
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly spec: S;
  readonly source: SourceLocation;
  /**
   * Where a field of the document is (its value; the nearest ancestor with a position otherwise),
   * e.g. `['spec', 'artifact', 'sha256']`, for errors found after validation. Not serialisable.
   */
  /** Where a path inside the resource is: its value, or (`key`) the key that names it. */
  readonly locate?: (
    path: readonly (string | number)[],
    mode?: 'key' | 'value',
  ) => { readonly line: number; readonly column: number };
}

export interface LoadedRepository {
  readonly repository: LoadedResource<RepositorySpec>;
  readonly models: ReadonlyMap<string, LoadedResource<ModelSpec>>;
  readonly endpoints: ReadonlyMap<string, LoadedResource<EndpointSpec>>;
  readonly prompts: ReadonlyMap<string, LoadedResource<PromptSpec>>;
  readonly configs: ReadonlyMap<string, LoadedResource<ConfigSpec>>;
}

export interface ValidationResult {
  /** True when there is no error (warnings allowed). */
  readonly ok: boolean;
  /** Every error and warning, sorted by file, line and column. */
  readonly issues: readonly ValidationIssue[];
  /** The parsed repository; present only when `ok`. */
  readonly repository?: LoadedRepository;
  /** The files that were read (the YAML files under the root that are not skipped). */
  readonly files: readonly string[];
}

export interface ValidationLimits {
  /** Most YAML files read from one repository. */
  readonly maxFiles: number;
  /** Largest YAML file, in bytes. */
  readonly maxFileBytes: number;
  /** Most bytes read from all YAML files together. */
  readonly maxTotalBytes: number;
  /** Deepest nesting of mappings and lists. */
  readonly maxDepth: number;
  /** Most aliases (`*name`) in one document. */
  readonly maxAliases: number;
  /** Most values produced by expanding aliases in one document. */
  readonly maxAliasNodes: number;
}

export const DEFAULT_LIMITS: ValidationLimits = {
  maxFiles: 1000,
  maxFileBytes: 1024 * 1024,
  maxTotalBytes: 16 * 1024 * 1024,
  maxDepth: 64,
  maxAliases: 100,
  maxAliasNodes: 10_000,
};

export interface ValidateOptions {
  readonly limits?: Partial<ValidationLimits>;
}
