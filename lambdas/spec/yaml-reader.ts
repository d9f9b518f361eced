/**
 * Turns one YAML file into plain JSON-like values plus a position for every path in them, so a
 * schema issue at `$.spec.rollout.canary.percent` can say file:line:column.
 *
 * The conversion is our own instead of `doc.toJS()` because we need, at once: positions of keys
 * and values, duplicate keys reported with both positions (the first value wins, the later one is
 * an error), string-only keys, bounded depth and bounded alias expansion (the billion-laughs
 * attack), and YAML 1.1 merge keys (`<<: *defaults`), which users of Kubernetes YAML expect.
 */
import { isAlias, isMap, isScalar, isSeq, LineCounter, type Node, type Pair, parseAllDocuments, Scalar } from 'yaml';
import type { IssueCode, Path, PathSegment } from './issues.ts';

export interface YamlLimits {
  /** Maximum nesting of mappings and lists (after alias expansion). */
  readonly maxDepth: number;
  /** Maximum alias nodes (`*name`) in one document. */
  readonly maxAliases: number;
  /** Maximum nodes produced by expanding aliases in one document. */
  readonly maxAliasNodes: number;
}

export interface TextPosition {
  readonly line: number;
  readonly column: number;
}

/** An issue found while reading YAML, already positioned. */
export interface ReaderIssue {
  readonly code: IssueCode;
  readonly severity: 'error' | 'warning';
  readonly line: number;
  readonly column: number;
  readonly path: Path;
  readonly message: string;
  readonly expected?: string;
}

/** A string scalar stored under a mapping key: what the keyed secret rules look at. */
export interface KeyedString {
  readonly path: Path;
  readonly key: string;
  readonly value: string;
  /** Offsets of the scalar in the file text. */
  readonly start: number;
  readonly end: number;
}

export type PositionMode = 'key' | 'value' | 'parent';

export interface YamlDocument {
  readonly file: string;
  /** 0-based index of the document in its file. */
  readonly index: number;
  readonly value: unknown;
  /** The whole file's text. */
  readonly text: string;
  readonly keyedStrings: readonly KeyedString[];
  /** Issues found while converting this document (duplicate keys, bad keys, unknown aliases). */
  readonly issues: readonly ReaderIssue[];
  /** Offset of the value at `path` in `text`, if it has its own position. */
  offsetOf(path: Path): number | undefined;
  positionAt(offset: number): TextPosition;
  /**
   * Where `path` is: its key (for unknown or duplicate fields), its value, or its parent mapping
   * (for a missing field). Falls back to the nearest ancestor that has a position.
   */
  position(path: Path, mode?: PositionMode): TextPosition;
}

export interface YamlFile {
  readonly documents: readonly YamlDocument[];
  readonly issues: readonly ReaderIssue[];
  /** True if the file had YAML syntax errors (its broken documents are not in `documents`). */
  readonly hasSyntaxErrors: boolean;
  readonly lineCounter: LineCounter;
}

interface Located {
  readonly key: number | undefined;
  readonly value: number;
}

class LimitExceeded extends Error {
  constructor(
    readonly code: 'too-deep' | 'alias-limit',
    readonly offset: number,
    readonly path: Path,
    message: string,
    readonly expected: string,
  ) {
    super(message);
  }
}

export function pathKey(path: Path): string {
  return JSON.stringify(path);
}

/**
 * Refuses input that would make the YAML parser itself recurse or work too hard before it ever
 * gets to us: deeply nested flow collections (`[[[[...`) and compact nested sequences
 * (`- - - - ...` on one line). Returns the offset where the limit is passed, if it is.
 * Brackets inside quoted strings are counted too; a real file never has that many unclosed ones.
 */
export function prescanDepth(text: string, maxDepth: number): number | undefined {
  let depth = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x5b /* [ */ || c === 0x7b /* { */) {
      depth++;
      if (depth > maxDepth) return i;
    } else if ((c === 0x5d /* ] */ || c === 0x7d) /* } */ && depth > 0) {
      depth--;
    }
  }
  const compact = new RegExp(`^[ \\t]*(?:[-?][ \\t]+){${maxDepth + 1}}`, 'm').exec(text);
  return compact ? compact.index : undefined;
}

export function readYamlFile(file: string, text: string, limits: YamlLimits): YamlFile {
  const lineCounter = new LineCounter();
  const issues: ReaderIssue[] = [];
  const at = (offset: number): TextPosition => {
    const pos = lineCounter.linePos(Math.max(0, Math.min(offset, text.length)));
    return { line: pos.line, column: pos.col };
  };

  const tooDeep = prescanDepth(text, limits.maxDepth);
  if (tooDeep !== undefined) {
    // The LineCounter is filled by the parser; this file is not parsed, so count lines here.
    const before = text.slice(0, tooDeep);
    const line = before.split('\n').length;
    const column = tooDeep - before.lastIndexOf('\n');
    issues.push({
      code: 'too-deep',
      severity: 'error',
      line,
      column,
      path: [],
      message: `nesting is deeper than ${limits.maxDepth} levels; the file was not read`,
      expected: `at most ${limits.maxDepth} nested mappings or lists`,
    });
    return { documents: [], issues, hasSyntaxErrors: false, lineCounter };
  }

  const parsed = parseAllDocuments(text, {
    lineCounter,
    version: '1.2',
    schema: 'core',
    uniqueKeys: false,
    prettyErrors: false,
  });
  const docs = Array.isArray(parsed) ? parsed : [];
  let hasSyntaxErrors = false;
  const documents: YamlDocument[] = [];

  docs.forEach((doc, index) => {
    for (const error of doc.errors) {
      hasSyntaxErrors = true;
      const pos = at(error.pos[0]);
      issues.push({
        code: 'yaml-syntax',
        severity: 'error',
        ...pos,
        path: [],
        message: `YAML syntax error: ${firstLine(error.message)}`,
      });
    }
    for (const warning of doc.warnings) {
      const pos = at(warning.pos[0]);
      issues.push({ code: 'yaml-warning', severity: 'warning', ...pos, path: [], message: firstLine(warning.message) });
    }
    if (doc.errors.length > 0) return;
    const contents = doc.contents;
    if (contents === null || (isScalar(contents) && contents.value === null && !contents.anchor)) return;

    const converter = new Converter(limits, at);
    let value: unknown;
    try {
      value = converter.convert(contents, [], 0, undefined);
    } catch (error) {
      if (error instanceof LimitExceeded) {
        issues.push({
          code: error.code,
          severity: 'error',
          ...at(error.offset),
          path: error.path,
          message: error.message,
          expected: error.expected,
        });
        return;
      }
      if (error instanceof RangeError) {
        // Stack exhaustion despite the depth limits: refuse the document rather than crash.
        issues.push({
          code: 'too-deep',
          severity: 'error',
          ...at(contents.range?.[0] ?? 0),
          path: [],
          message: 'the document is too deeply nested to read',
        });
        return;
      }
      throw error;
    }
    const positions = converter.positions;
    const rootOffset = contents.range?.[0] ?? 0;
    documents.push({
      file,
      index,
      value,
      text,
      keyedStrings: converter.keyed,
      issues: converter.issues.map(({ offset, ...issue }) => ({ ...issue, ...at(offset) })),
      offsetOf(path) {
        return positions.get(pathKey(path))?.value;
      },
      positionAt: at,
      position(path, mode = 'value') {
        let target: Path = mode === 'parent' ? path.slice(0, -1) : path;
        let useKey = mode !== 'value';
        for (;;) {
          const found = positions.get(pathKey(target));
          if (found) return at(useKey && found.key !== undefined ? found.key : found.value);
          if (target.length === 0) return at(rootOffset);
          target = target.slice(0, -1);
          useKey = true;
        }
      },
    });
  });

  return { documents, issues, hasSyntaxErrors, lineCounter };
}

function firstLine(message: string): string {
  return (message.split('\n')[0] ?? message).replace(/\s+at line \d+, column \d+:?\s*$/, '').trim();
}

interface ConverterIssue {
  readonly code: IssueCode;
  readonly severity: 'error' | 'warning';
  readonly offset: number;
  readonly path: Path;
  readonly message: string;
  readonly expected?: string;
}

class Converter {
  readonly positions = new Map<string, Located>();
  readonly keyed: KeyedString[] = [];
  readonly issues: ConverterIssue[] = [];
  private readonly anchors = new Map<string, Node>();
  private readonly expanding = new Set<Node>();
  private aliasCount = 0;
  private aliasNodes = 0;

  constructor(
    private readonly limits: YamlLimits,
    private readonly at: (offset: number) => TextPosition,
  ) {}

  /**
   * @param viaAlias offset of the alias being expanded, if any: everything produced by an
   *   expansion is positioned at the alias (where the user wrote it), not at the anchor.
   */
  convert(node: unknown, path: PathSegment[], depth: number, viaAlias: number | undefined): unknown {
    const offset = viaAlias ?? rangeStart(node);
    if (depth > this.limits.maxDepth) {
      throw new LimitExceeded(
        'too-deep',
        offset,
        path,
        `nesting is deeper than ${this.limits.maxDepth} levels`,
        `at most ${this.limits.maxDepth} nested mappings or lists`,
      );
    }
    if (viaAlias !== undefined && ++this.aliasNodes > this.limits.maxAliasNodes) {
      throw new LimitExceeded(
        'alias-limit',
        offset,
        path,
        `aliases expand to more than ${this.limits.maxAliasNodes} values (an alias bomb?); the document was not read`,
        `aliases that expand to at most ${this.limits.maxAliasNodes} values`,
      );
    }
    if (node === null || node === undefined) return null;
    if (isAlias(node)) return this.expandAlias(node, path, depth, viaAlias);
    const anchor = (node as { anchor?: string }).anchor;
    if (anchor && viaAlias === undefined) this.anchors.set(anchor, node as Node);
    if (isScalar(node)) return scalarValue(node);
    if (isSeq(node)) {
      return node.items.map((item, index) => {
        const itemPath = [...path, index];
        this.record(itemPath, undefined, viaAlias ?? rangeStart(item));
        return this.convert(item, itemPath, depth + 1, viaAlias);
      });
    }
    if (isMap(node)) return this.convertMap(node.items as Pair[], path, depth, viaAlias);
    return null;
  }

  private expandAlias(
    node: { source: string; range?: unknown },
    path: PathSegment[],
    depth: number,
    viaAlias?: number,
  ) {
    const offset = viaAlias ?? rangeStart(node);
    if (++this.aliasCount > this.limits.maxAliases) {
      throw new LimitExceeded(
        'alias-limit',
        offset,
        path,
        `more than ${this.limits.maxAliases} aliases in one document; the document was not read`,
        `at most ${this.limits.maxAliases} aliases per document`,
      );
    }
    const target = this.anchors.get(node.source);
    if (!target) {
      this.issues.push({
        code: 'yaml-syntax',
        severity: 'error',
        offset,
        path,
        message: `alias *${node.source} refers to no anchor &${node.source} before it`,
      });
      return null;
    }
    if (this.expanding.has(target)) {
      throw new LimitExceeded(
        'alias-limit',
        offset,
        path,
        `alias *${node.source} refers to itself`,
        'aliases that refer to a finished anchor',
      );
    }
    this.expanding.add(target);
    try {
      return this.convert(target, path, depth, offset);
    } finally {
      this.expanding.delete(target);
    }
  }

  private convertMap(pairs: Pair[], path: PathSegment[], depth: number, viaAlias: number | undefined) {
    const out: Record<string, unknown> = {};
    const seen = new Map<string, number>();
    const merges: Pair[] = [];
    for (const pair of pairs) {
      const keyNode = pair.key;
      const keyOffset = viaAlias ?? rangeStart(keyNode);
      if (isScalar(keyNode) && keyNode.value === '<<' && keyNode.type === Scalar.PLAIN) {
        merges.push(pair);
        continue;
      }
      const key = scalarKey(keyNode);
      if (key === undefined) {
        this.issues.push({
          code: 'yaml-key',
          severity: 'error',
          offset: keyOffset,
          path,
          message: 'mapping keys must be plain strings (not lists, mappings, aliases or null)',
          expected: 'a string key',
        });
        continue;
      }
      const childPath = [...path, key];
      const first = seen.get(key);
      if (first !== undefined) {
        if (viaAlias === undefined) {
          const firstAt = this.at(first);
          this.issues.push({
            code: 'duplicate-key',
            severity: 'error',
            offset: keyOffset,
            path: childPath,
            message: `duplicate key '${key}' (first defined at line ${firstAt.line}, column ${firstAt.column})`,
            expected: 'each key once per mapping',
          });
        }
        continue;
      }
      seen.set(key, keyOffset);
      const valueNode = pair.value;
      const valueOffset = viaAlias ?? (valueNode ? rangeStart(valueNode) : rangeEnd(keyNode));
      this.record(childPath, keyOffset, valueOffset);
      const value = this.convert(valueNode, childPath, depth + 1, viaAlias);
      define(out, key, value);
      if (typeof value === 'string' && isScalar(valueNode)) {
        const range = (valueNode as { range?: [number, number, number] }).range;
        this.keyed.push({ path: childPath, key, value, start: range?.[0] ?? 0, end: range?.[1] ?? 0 });
      }
    }
    // Merge keys: explicit keys win, then earlier merge sources win over later ones (YAML 1.1).
    for (const pair of merges) {
      const mergeOffset = viaAlias ?? rangeStart(pair.key);
      const sources = isSeq(pair.value) ? pair.value.items : [pair.value];
      for (const source of sources) {
        const merged = this.convert(source, path, depth + 1, viaAlias ?? rangeStart(source));
        if (merged === null || typeof merged !== 'object' || Array.isArray(merged)) {
          this.issues.push({
            code: 'yaml-key',
            severity: 'error',
            offset: mergeOffset,
            path,
            message: 'a merge key (<<) must refer to a mapping or a list of mappings',
            expected: '<<: *anchor-of-a-mapping',
          });
          continue;
        }
        for (const [key, value] of Object.entries(merged)) {
          if (seen.has(key)) continue;
          seen.set(key, mergeOffset);
          this.record([...path, key], mergeOffset, mergeOffset);
          define(out, key, value);
        }
      }
    }
    return out;
  }

  private record(path: Path, key: number | undefined, value: number): void {
    const k = pathKey(path);
    if (!this.positions.has(k)) this.positions.set(k, { key, value });
  }
}

/** Adds a property without ever invoking a setter (a key named __proto__ stays a plain key). */
function define(target: Record<string, unknown>, key: string, value: unknown): void {
  Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
}

function rangeStart(node: unknown): number {
  const range = (node as { range?: readonly number[] } | null | undefined)?.range;
  return range?.[0] ?? 0;
}

function rangeEnd(node: unknown): number {
  const range = (node as { range?: readonly number[] } | null | undefined)?.range;
  return range?.[1] ?? range?.[0] ?? 0;
}

function scalarValue(node: Scalar): unknown {
  const value = node.value;
  if (value === null || typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') {
    return value;
  }
  if (typeof value === 'bigint') return Number(value);
  return String(value);
}

function scalarKey(node: unknown): string | undefined {
  if (!isScalar(node)) return undefined;
  const value = node.value;
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return undefined;
}
