/**
 * Turns zod issues into Ballast issues: a stable code, a message that names the field and shows
 * the offending value (never a secret), what would be right, and where to point (the key of an
 * unknown field, the parent of a missing one, the value otherwise).
 */
import type { z } from 'zod';
import type { IssueCode, Path, PathSegment } from './issues.ts';
import {
  ARCHIVE_FIELDS,
  CONTROL_CHARACTER,
  DIRECTORY_FIELDS,
  FIELDS_PREFIX,
  type ProblemParams,
  ROLLOUT_STRATEGIES,
} from './schema.ts';
import { keyedSecretKind, scanText } from './secrets.ts';
import type { PositionMode } from './yaml-reader.ts';

export interface DocIssue {
  readonly code: IssueCode;
  readonly severity: 'error' | 'warning';
  readonly path: Path;
  readonly mode: PositionMode;
  readonly message: string;
  readonly expected?: string;
}

type ZodIssue = z.core.$ZodIssue;

/** Parse-time error map: the `expected` text for schema parts without their own. */
export function defaultExpected(issue: z.core.$ZodRawIssue): string {
  switch (issue.code) {
    case 'invalid_type':
      return describeType(String(issue.expected));
    case 'too_small':
      return `at least ${String(issue.minimum)}`;
    case 'too_big':
      return `at most ${String(issue.maximum)}`;
    case 'invalid_value':
      return `one of: ${issue.values.map(String).join(', ')}`;
    case 'invalid_format':
      return `a valid ${issue.format}`;
    case 'unrecognized_keys':
      return 'no other fields';
    default:
      return 'a valid value';
  }
}

function describeType(expected: string): string {
  switch (expected) {
    case 'string':
      return 'a string';
    case 'number':
      return 'a number';
    case 'int':
      return 'an integer';
    case 'boolean':
      return 'true or false';
    case 'object':
    case 'record':
      return 'a mapping';
    case 'array':
      return 'a list';
    default:
      return expected;
  }
}

interface Lookup {
  readonly present: boolean;
  readonly value: unknown;
  readonly parent: unknown;
}

export function lookup(root: unknown, path: Path): Lookup {
  let parent: unknown;
  let current: unknown = root;
  for (const segment of path) {
    parent = current;
    if (current === null || typeof current !== 'object') return { present: false, value: undefined, parent };
    if (!Object.hasOwn(current, segment)) return { present: false, value: undefined, parent };
    current = (current as Record<PathSegment, unknown>)[segment];
  }
  return { present: true, value: current, parent };
}

/** A short name for the field at `path`: `canary.percent`, `alarms[2]`, `metadata.name`. */
export function fieldLabel(path: Path): string {
  const last = path[path.length - 1];
  const previous = path[path.length - 2];
  if (last === undefined) return 'the document';
  if (typeof last === 'number') return previous === undefined ? `item ${last}` : `${String(previous)}[${last}]`;
  if (previous === undefined || typeof previous === 'number' || previous === 'spec') return last;
  return `${previous}.${last}`;
}

/**
 * A safe rendering of a value for a message: short, and a string that may be a secret (by its
 * key or its shape) is not shown at all.
 */
export function showValue(value: unknown, key?: PathSegment): string {
  if (typeof value === 'string') {
    if ((typeof key === 'string' && keyedSecretKind(key, value)) || scanText(value).length > 0) {
      return 'a string (not shown: it may be a secret)';
    }
    const shown = value.length > 60 ? `${value.slice(0, 57)}...` : value;
    return `'${shown.replace(new RegExp(CONTROL_CHARACTER.source, 'g'), '?')}'`;
  }
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  if (value === null || value === undefined) return 'empty';
  return Array.isArray(value) ? 'a list' : 'a mapping';
}

function typeOf(value: unknown, key?: PathSegment): string {
  if (value === null || value === undefined) return 'empty';
  if (typeof value === 'string') return `a string (${showValue(value, key)})`;
  if (typeof value === 'number') return Number.isInteger(value) ? `the number ${value}` : `the number ${value}`;
  if (typeof value === 'boolean') return `${value}`;
  return Array.isArray(value) ? 'a list' : 'a mapping';
}

export function mapZodIssues(issues: readonly ZodIssue[], root: unknown, base: Path = []): DocIssue[] {
  const out: DocIssue[] = [];
  for (const issue of issues) mapOne(issue, root, base, out);
  return out;
}

function mapOne(issue: ZodIssue, root: unknown, base: Path, out: DocIssue[]): void {
  const path: Path = [...base, ...(issue.path as PathSegment[])];
  const found = lookup(root, path);
  const key = path[path.length - 1];
  const label = fieldLabel(path);
  const expected = issue.message;
  const error = (
    code: IssueCode,
    mode: PositionMode,
    message: string,
    at: Path = path,
    exp: string | undefined = expected,
  ) => out.push({ code, severity: 'error', path: at, mode, message, ...(exp ? { expected: exp } : {}) });

  if (!found.present && issue.code !== 'unrecognized_keys') {
    error('required', 'parent', `missing required field '${String(key)}'`);
    return;
  }

  switch (issue.code) {
    case 'unrecognized_keys': {
      for (const unknown of issue.keys) {
        const at = [...path, unknown];
        error('unknown-field', 'key', unknownFieldMessage(unknown, found.value, expected, key), at);
      }
      return;
    }
    case 'invalid_type':
      error('type', 'value', `${label} is ${typeOf(found.value, key)}`);
      return;
    case 'too_small':
    case 'too_big': {
      const value = found.value;
      if (typeof value === 'number') error('range', 'value', `${label} is ${value}, out of range`);
      else if (typeof value === 'string') {
        error(
          'range',
          'value',
          value.length === 0 ? `${label} is empty` : `${label} is too long (${value.length} characters)`,
        );
      } else if (Array.isArray(value)) {
        error('range', 'value', `${label} has ${value.length} item${value.length === 1 ? '' : 's'}`);
      } else error('range', 'value', `${label} is out of range`);
      return;
    }
    case 'invalid_format':
      error('format', 'value', `${label} ${showValue(found.value, key)} is not valid`);
      return;
    case 'invalid_value':
      error('enum', 'value', `${label} ${showValue(found.value, key)} is not allowed`);
      return;
    case 'invalid_union': {
      if ('discriminator' in issue && issue.discriminator) {
        error('enum', 'value', `${label} ${showValue(found.value, key)} is not allowed`);
        return;
      }
      if (isMapping(found.value)) {
        // A mapping was meant as the one form whose fields it uses: report that form's issues.
        const meant = issue.errors.filter((errors) => !errors.some(isForeign));
        const [only] = meant;
        if (meant.length === 1 && only) {
          for (const inner of only) mapOne(inner, root, path, out);
          return;
        }
        if (meant.length === 0) {
          error('exactly-one', 'value', `${label} mixes the fields of different forms`);
          return;
        }
        error('required', 'value', `${label} does not say which form it is`);
        return;
      }
      error('type', 'value', `${label} is ${typeOf(found.value, key)}`);
      return;
    }
    case 'invalid_key': {
      for (const inner of issue.issues) {
        error(
          'format',
          'key',
          `${fieldLabel(path.slice(0, -1))} key '${String(key)}' is not valid`,
          path,
          inner.message,
        );
      }
      return;
    }
    case 'custom': {
      const params = issue.params as Partial<ProblemParams> | undefined;
      const code = params?.code ?? 'invalid';
      if (params?.problem !== undefined) {
        const shown = params.showValue ? ` ${showValue(found.value, key)}` : '';
        error(code, params.mode ?? 'value', `${label}${shown} ${params.problem}`);
      } else if (code === 'range') {
        const size = found.value && typeof found.value === 'object' ? Object.keys(found.value).length : 0;
        error('range', 'value', `${label} has ${size} entries`);
      } else if (code === 'format') error('format', 'value', `${label} ${showValue(found.value, key)} is not valid`);
      else error(code, 'value', `${label} is not valid`);
      return;
    }
    default:
      error('invalid', 'value', `${label} is not valid`);
  }
}

function isMapping(value: unknown): boolean {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/** An issue at the root of a union's option that says the value is not that option: unknown fields, another type. */
function isForeign(issue: ZodIssue): boolean {
  return issue.path.length === 0 && (issue.code === 'unrecognized_keys' || issue.code === 'invalid_type');
}

function unknownFieldMessage(field: string, parent: unknown, expected: string, parentKey?: PathSegment): string {
  const strategy = (parent as { strategy?: unknown } | undefined)?.strategy;
  if (typeof strategy === 'string' && (ROLLOUT_STRATEGIES as readonly string[]).includes(field) && field !== strategy) {
    return `unknown field '${field}': it only applies to strategy: ${field} (this rollout's strategy is ${strategy})`;
  }
  const known = expected.startsWith(FIELDS_PREFIX) ? expected.slice(FIELDS_PREFIX.length).split(', ') : [];
  if (parentKey === 'artifact' && known.includes('uri') && DIRECTORY_FIELDS.includes(field)) {
    return `unknown field '${field}': it belongs to a model directory (prefix with files or manifest), but this artifact is a .tar.gz archive (it has uri)`;
  }
  if (parentKey === 'artifact' && known.includes('prefix') && ARCHIVE_FIELDS.includes(field)) {
    return `unknown field '${field}': it belongs to a .tar.gz archive (uri, sha256, sizeBytes), but this artifact is a model directory (it has prefix)`;
  }
  const suggestion = didYouMean(field, known);
  return `unknown field '${field}'${suggestion ? ` (did you mean '${suggestion}'?)` : ''}`;
}

/** The closest candidate, if it is close: same letters ignoring case and separators, or a small edit distance. */
export function didYouMean(input: string, candidates: readonly string[]): string | undefined {
  const normalize = (s: string) => s.toLowerCase().replace(/[-_\s]/g, '');
  let best: string | undefined;
  let bestDistance = Number.POSITIVE_INFINITY;
  for (const candidate of candidates) {
    if (normalize(candidate) === normalize(input)) return candidate;
    const distance = editDistance(input.toLowerCase(), candidate.toLowerCase());
    if (distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  const threshold = input.length <= 4 ? 1 : 2;
  return bestDistance <= threshold ? best : undefined;
}

function editDistance(a: string, b: string): number {
  if (Math.abs(a.length - b.length) > 3) return 99;
  let previous = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      current[j] = Math.min((previous[j] ?? 0) + 1, (current[j - 1] ?? 0) + 1, (previous[j - 1] ?? 0) + cost);
    }
    previous = current;
  }
  return previous[b.length] ?? 99;
}
