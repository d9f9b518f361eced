/**
 * Small helpers shared by the CodeCommit and GitHub sources: input checks that turn a malformed
 * event into a clear InvalidInputError, and the byte limits every RepoSource enforces.
 */
import { createHash } from 'node:crypto';
import { InvalidInputError } from '../aws/errors.ts';

/**
 * The most a source returns from one `read()`, whatever `RepoEntry.size` said: the validator checks
 * sizes before reading, and this is the backstop for a size a source could not measure (CodeCommit).
 * Ballast files are small YAML documents; 4 MiB is far above any sane one and well under CodeCommit's
 * 6 MB API limit and a Lambda's memory.
 */
export const DEFAULT_MAX_READ_BYTES = 4 * 1024 * 1024;

/** A full Git object id: SHA-1 (40 hex), or SHA-256 (64 hex) for repositories that use it. */
export const OBJECT_ID = /^(?:[0-9a-f]{40}|[0-9a-f]{64})$/;

/** What Git sends as the "old" or "new" id of a reference that did not or does not exist. */
export function isZeroId(value: string): boolean {
  return /^0+$/.test(value);
}

/** What Step Functions allows in an execution name (API Reference, StartExecution: 1-80 characters). */
const EXECUTION_NAME_MAX = 80;

/**
 * A deterministic execution name from its parts, valid for Step Functions: characters outside
 * `[A-Za-z0-9_-]` become `-`, and a name over 80 characters keeps its head and ends in a hash of
 * the whole, so that two requests that differ only in their tail still get two names (and the
 * same request always the same one: StartExecution then starts it once).
 */
export function executionName(...parts: readonly string[]): string {
  const name = parts.join('-').replace(/[^A-Za-z0-9_-]/g, '-');
  if (name.length <= EXECUTION_NAME_MAX) return name;
  const hash = createHash('sha256').update(name).digest('hex').slice(0, 16);
  return `${name.slice(0, EXECUTION_NAME_MAX - hash.length - 1)}-${hash}`;
}

export type JsonObject = Record<string, unknown>;

export function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** A required, non-empty string field, or an InvalidInputError naming the field. */
export function requireString(object: JsonObject, field: string, what: string): string {
  const value = object[field];
  if (typeof value !== 'string' || value.length === 0) {
    throw new InvalidInputError(`${what}: '${field}' must be a non-empty string`);
  }
  return value;
}

/** An optional string field: undefined when absent or null, an error when present with another type. */
export function optionalString(object: JsonObject, field: string, what: string): string | undefined {
  const value = object[field];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string') throw new InvalidInputError(`${what}: '${field}' must be a string`);
  return value;
}

/** A full, lower-case commit id (never a branch or an abbreviated id: the workflow reads exactly this commit). */
export function requireCommitId(value: string, what: string): string {
  const id = value.toLowerCase();
  if (!OBJECT_ID.test(id) || isZeroId(id)) {
    throw new InvalidInputError(`${what}: '${value}' is not a full commit id (40 or 64 hex digits)`);
  }
  return id;
}

/** Parses an instant; InvalidInputError if it is not one. Returns the ISO 8601 form (UTC, milliseconds). */
export function requireInstant(value: string, what: string): string {
  const ms = Date.parse(value);
  if (!Number.isFinite(ms)) throw new InvalidInputError(`${what}: '${value}' is not a timestamp`);
  return new Date(ms).toISOString();
}

/**
 * Cuts `text` to at most `max` UTF-16 code units (what JavaScript's `length` counts, and never more
 * than the number of characters), without splitting a surrogate pair, ending with `suffix`.
 */
export function truncate(text: string, max: number, suffix = '…'): string {
  if (text.length <= max) return text;
  let end = Math.max(0, max - suffix.length);
  const code = text.charCodeAt(end - 1);
  if (code >= 0xd800 && code <= 0xdbff) end -= 1;
  return text.slice(0, end) + suffix;
}

/** Runs `work` over `items` with at most `limit` in flight; rejects on the first failure. */
export async function mapWithConcurrency<T, R>(
  items: readonly T[],
  limit: number,
  work: (item: T) => Promise<R>,
): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const index = next++;
      results[index] = await work(items[index] as T);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

export function byPath(a: { path: string }, b: { path: string }): number {
  return a.path < b.path ? -1 : a.path > b.path ? 1 : 0;
}
