import { fileURLToPath } from 'node:url';
import {
  directorySource,
  type ValidationIssue,
  type ValidationResult,
  validateRepository,
} from '../../../lambdas/spec/index.ts';

export const FIXTURES = fileURLToPath(new URL('../../fixtures/spec/', import.meta.url));
export const EXAMPLE = fileURLToPath(new URL('../../../examples/model-repo/', import.meta.url));
export const EXAMPLES = fileURLToPath(new URL('../../../examples/', import.meta.url));

export function validateFixture(name: string): Promise<ValidationResult> {
  return validateRepository(directorySource(`${FIXTURES}${name}`));
}

/** One issue as `severity code file:line:column path`: what the tests pin down exactly. */
export function brief(issue: ValidationIssue): string {
  return `${issue.severity} ${issue.code} ${issue.file}:${issue.line}:${issue.column} ${issue.path}`;
}

export function briefs(result: ValidationResult): string[] {
  return result.issues.map(brief);
}

/** The single issue with this code at this path (fails if there is not exactly one). */
export function only(result: ValidationResult, code: string, path: string): ValidationIssue {
  const found = result.issues.filter((issue) => issue.code === code && issue.path === path);
  if (found.length !== 1) {
    throw new Error(`expected one ${code} issue at ${path}, found ${found.length}:\n${briefs(result).join('\n')}`);
  }
  return found[0] as ValidationIssue;
}
