/** A segment of a path into a parsed YAML document: a mapping key or a list index. */
export type PathSegment = string | number;
export type Path = readonly PathSegment[];

/**
 * Stable machine codes of validation issues. Tools (the deploy workflow, editors, CI annotations)
 * may match on them, so a code is never renamed; new checks get new codes.
 */
export type IssueCode =
  // reading files
  | 'too-many-files'
  | 'total-too-large'
  | 'file-too-large'
  | 'unsafe-path'
  | 'symlink'
  | 'not-a-file'
  | 'read-error'
  | 'encoding'
  | 'binary'
  // YAML
  | 'yaml-syntax'
  | 'yaml-warning'
  | 'yaml-key'
  | 'duplicate-key'
  | 'too-deep'
  | 'alias-limit'
  | 'ignored-document'
  // schema
  | 'api-version'
  | 'kind'
  | 'required'
  | 'unknown-field'
  | 'type'
  | 'range'
  | 'format'
  | 'enum'
  | 'invalid'
  // repository-wide and semantic
  | 'missing-repository'
  | 'duplicate-repository'
  | 'misplaced-repository'
  | 'duplicate-name'
  | 'duplicate-value'
  | 'reference'
  | 'exactly-one'
  | 'alarms-required'
  | 'no-alarms'
  | 'rollout-timeout'
  | 'gpu-instance'
  | 'gpu-count'
  | 'gpu-image'
  | 'name-format'
  | 'region-mismatch'
  | 'mutable-image'
  | 'undeclared-variable'
  | 'unused-variable'
  | 'prompt-model'
  | 'secret'
  | 'secret-reference'
  | 'reserved-name'
  | 'env-conflict'
  | 'env-limit'
  | 'rollout-capacity';

export type Severity = 'error' | 'warning';

export interface ValidationIssue {
  readonly severity: Severity;
  /** Posix path relative to the repository root; '' for an issue about the repository as a whole. */
  readonly file: string;
  /** 1-based; 0 only when `file` is '' (no position to point at). */
  readonly line: number;
  /** 1-based; 0 only when `file` is ''. */
  readonly column: number;
  /** JSON path inside the YAML document, e.g. `$.spec.rollout.canary.percent`; '$' for a whole document or file. */
  readonly path: string;
  readonly message: string;
  /** What would be right, e.g. "an integer from 1 to 50". */
  readonly expected?: string;
  readonly code: IssueCode;
}

const IDENTIFIER = /^[A-Za-z_$][A-Za-z0-9_$]*$/;

/** Formats a path as a JSON path: `$.spec.alarms[0]`, `$.spec.environment["MY-VAR"]`. */
export function formatJsonPath(path: Path): string {
  let out = '$';
  for (const segment of path) {
    if (typeof segment === 'number') out += `[${segment}]`;
    else if (IDENTIFIER.test(segment)) out += `.${segment}`;
    else out += `[${JSON.stringify(segment)}]`;
  }
  return out;
}

/** Orders issues by file, then line, then column, then message, so output is stable. */
export function compareIssues(a: ValidationIssue, b: ValidationIssue): number {
  if (a.file !== b.file) return a.file < b.file ? -1 : 1;
  if (a.line !== b.line) return a.line - b.line;
  if (a.column !== b.column) return a.column - b.column;
  if (a.message !== b.message) return a.message < b.message ? -1 : 1;
  return 0;
}
