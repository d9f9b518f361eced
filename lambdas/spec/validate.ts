/**
 * validateRepository: reads a model repository from any RepoSource and reports every problem at
 * once (every file, every document), with file, line, column, JSON path, what is wrong and what
 * would be right.
 *
 * Which files are read: `ballast.yaml` plus every `*.yaml` / `*.yml` under the root, except in
 * hidden directories (`.git`, `.github`, …) and `node_modules`, and except hidden files.
 *
 * Which documents are Ballast's:
 * - apiVersion `ballast.dev/v1`: validated.
 * - apiVersion `ballast.dev/<other>`: an error (a version this Ballast does not read).
 * - "meant for Ballast": every document in ballast.yaml, an apiVersion that mentions "ballast"
 *   (`ballast/v1`, `Ballast.dev/v1`), or no apiVersion but a Ballast kind: an `api-version`
 *   error, and the rest is validated as v1 so all mistakes show at once.
 * - anything else (Kubernetes manifests, CI files, …) is not Ballast's and is ignored; a warning
 *   says so when it shares a file with Ballast documents.
 * A file with YAML syntax errors is an error if it looks meant for Ballast (it is ballast.yaml or
 * mentions "ballast"), else a warning (e.g. a Helm template that is not plain YAML).
 */
import { mapPool } from '../runtime/pool.ts';
import { type Collected, type Declared, type Parsed, Reporter, semanticChecks } from './checks.ts';
import { compareIssues, formatJsonPath as formatPath } from './issues.ts';
import { API_VERSION, DOCUMENT_SCHEMAS, KINDS, type Kind, type SpecByKind } from './schema.ts';
import { keyedSecretKind, mask, SECRET_EXPECTED, scanText, secretMessage } from './secrets.ts';
import { isCandidatePath, isSafeRelativePath, type RepoEntry, type RepoSource } from './source.ts';
import {
  DEFAULT_LIMITS,
  type LoadedRepository,
  type LoadedResource,
  type ValidateOptions,
  type ValidationLimits,
  type ValidationResult,
} from './types.ts';
import { readYamlFile, type YamlDocument } from './yaml-reader.ts';
import { defaultExpected, didYouMean, lookup, mapZodIssues } from './zod-issues.ts';

const REPOSITORY_FILE = 'ballast.yaml';
const READ_CONCURRENCY = 8;

export async function validateRepository(source: RepoSource, options: ValidateOptions = {}): Promise<ValidationResult> {
  const limits: ValidationLimits = { ...DEFAULT_LIMITS, ...options.limits };
  const report = new Reporter();
  const entries = await source.list();

  const candidates = selectFiles(entries, report);
  const files = candidates.map((entry) => entry.path);
  if (candidates.length > limits.maxFiles) {
    report.repository(
      'too-many-files',
      `the repository has ${candidates.length} YAML files; Ballast reads at most ${limits.maxFiles}, so none were read`,
      `at most ${limits.maxFiles} YAML files (outside hidden directories and node_modules)`,
    );
    return finish(report, undefined, []);
  }
  const readable: RepoEntry[] = [];
  let total = 0;
  for (const entry of candidates) {
    if (entry.size > limits.maxFileBytes) {
      report.push({
        severity: 'error',
        file: entry.path,
        line: 1,
        column: 1,
        path: '$',
        code: 'file-too-large',
        message: `${entry.path} is ${entry.size} bytes; Ballast reads YAML files of at most ${limits.maxFileBytes} bytes (weights and data belong in S3)`,
        expected: `at most ${limits.maxFileBytes} bytes`,
      });
      continue;
    }
    total += entry.size;
    readable.push(entry);
  }
  if (total > limits.maxTotalBytes) {
    report.repository(
      'total-too-large',
      `the YAML files add up to ${total} bytes; Ballast reads at most ${limits.maxTotalBytes} bytes in all, so none were read`,
      `at most ${limits.maxTotalBytes} bytes of YAML`,
    );
    return finish(report, undefined, files);
  }

  const texts = await mapPool(readable, READ_CONCURRENCY, (entry) => readText(source, entry, limits, report));
  const collected: Collected = { repositories: [], models: [], endpoints: [], prompts: [], configs: [], declared: [] };
  readable.forEach((entry, index) => {
    const text = texts[index];
    if (text !== undefined) processFile(entry.path, text, limits, collected, report);
  });

  semanticChecks(collected, files, report);
  return finish(report, collected, files);
}

function finish(report: Reporter, collected: Collected | undefined, files: readonly string[]): ValidationResult {
  const issues = [...report.issues].sort(compareIssues);
  const ok = !issues.some((issue) => issue.severity === 'error');
  const repository = ok && collected ? buildRepository(collected) : undefined;
  return repository ? { ok, issues, repository, files } : { ok, issues, files };
}

/** Keeps the entries the validator reads; reports unsafe paths, symlinks and non-files among them. */
function selectFiles(entries: readonly RepoEntry[], report: Reporter): RepoEntry[] {
  const selected: RepoEntry[] = [];
  for (const entry of entries) {
    if (!isSafeRelativePath(entry.path)) {
      report.repository(
        'unsafe-path',
        `refused the path ${JSON.stringify(entry.path)}: it is not a plain relative path inside the repository`,
        'relative posix paths without "..", "." or empty segments',
      );
      continue;
    }
    const candidate = isCandidatePath(entry.path);
    if (entry.kind === 'symlink') {
      if (
        candidate ||
        !entry.path.split('/').some((segment) => segment.startsWith('.') || segment === 'node_modules')
      ) {
        report.push({
          severity: candidate ? 'error' : 'warning',
          file: entry.path,
          line: 1,
          column: 1,
          path: '$',
          code: 'symlink',
          message: candidate
            ? `${entry.path} is a symbolic link; Ballast does not follow links (the target could be outside the repository)`
            : `${entry.path} is a symbolic link and is not followed; resources behind it are not read`,
          expected: 'a regular file',
        });
      }
      continue;
    }
    if (!candidate) continue;
    if (entry.kind !== 'file') {
      report.push({
        severity: 'error',
        file: entry.path,
        line: 1,
        column: 1,
        path: '$',
        code: 'not-a-file',
        message: `${entry.path} is not a regular file`,
        expected: 'a regular file',
      });
      continue;
    }
    selected.push(entry);
  }
  return selected;
}

async function readText(
  source: RepoSource,
  entry: RepoEntry,
  limits: ValidationLimits,
  report: Reporter,
): Promise<string | undefined> {
  const fileIssue = (
    code: 'read-error' | 'file-too-large' | 'binary' | 'encoding',
    message: string,
    expected?: string,
    at = { line: 1, column: 1 },
  ) => report.push({ severity: 'error', file: entry.path, ...at, path: '$', code, message, expected });
  let bytes: Uint8Array;
  try {
    bytes = await source.read(entry.path);
  } catch (error) {
    fileIssue('read-error', `could not read ${entry.path}: ${(error as Error).message}`);
    return undefined;
  }
  if (bytes.length > limits.maxFileBytes) {
    fileIssue(
      'file-too-large',
      `${entry.path} is ${bytes.length} bytes; Ballast reads YAML files of at most ${limits.maxFileBytes} bytes`,
      `at most ${limits.maxFileBytes} bytes`,
    );
    return undefined;
  }
  const nul = bytes.indexOf(0);
  if (nul >= 0) {
    fileIssue(
      'binary',
      `${entry.path} is binary (it contains NUL bytes), not YAML text`,
      'a UTF-8 text file',
      lineAndColumn(bytes, nul),
    );
    return undefined;
  }
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    // The first replacement character of a lossy decode marks the first invalid byte (a file that
    // also contains a literal U+FFFD before it gets a slightly early position; good enough).
    const lossy = new TextDecoder('utf-8').decode(bytes);
    const at = positionInText(lossy, Math.max(0, lossy.indexOf('\uFFFD')));
    fileIssue('encoding', `${entry.path} is not valid UTF-8 text`, 'UTF-8 text (save the file as UTF-8)', at);
    return undefined;
  }
}

function lineAndColumn(bytes: Uint8Array, offset: number): { line: number; column: number } {
  let line = 1;
  let lineStart = 0;
  for (let i = 0; i < offset; i++) {
    if (bytes[i] === 0x0a) {
      line++;
      lineStart = i + 1;
    }
  }
  return { line, column: offset - lineStart + 1 };
}

function processFile(
  file: string,
  text: string,
  limits: ValidationLimits,
  collected: Collected,
  report: Reporter,
): void {
  const yaml = readYamlFile(file, text, limits);
  const looksBallast = file === REPOSITORY_FILE || /ballast/i.test(text);
  for (const issue of yaml.issues) {
    const downgrade = issue.code === 'yaml-syntax' && !looksBallast;
    report.push({
      severity: downgrade ? 'warning' : issue.severity,
      file,
      line: issue.line,
      column: issue.column,
      path: formatPath(issue.path),
      code: issue.code,
      message: downgrade
        ? `${issue.message} (the file is ignored: it does not look like a Ballast file)`
        : issue.message,
      expected: issue.expected,
    });
  }

  const ballastDocs: YamlDocument[] = [];
  const others: YamlDocument[] = [];
  for (const doc of yaml.documents) {
    if (processDocument(doc, collected, report)) ballastDocs.push(doc);
    else others.push(doc);
  }
  if (ballastDocs.length > 0) {
    for (const doc of others) {
      const apiVersion = lookup(doc.value, ['apiVersion']).value;
      report.at(
        doc,
        [],
        'value',
        'ignored-document',
        `document ${doc.index + 1} is not a Ballast resource${typeof apiVersion === 'string' ? ` (apiVersion ${apiVersion})` : ''} and is ignored`,
        `apiVersion: ${API_VERSION} for Ballast resources`,
        'warning',
      );
    }
  }
  checkSecrets(file, text, ballastDocs, ballastDocs.length > 0 || looksBallast, yaml.lineCounter.linePos, report);
}

/** Validates one document if it is Ballast's; returns whether it is. */
function processDocument(doc: YamlDocument, collected: Collected, report: Reporter): boolean {
  const value = doc.value;
  const isMapping = value !== null && typeof value === 'object' && !Array.isArray(value);
  if (!isMapping) {
    if (doc.file !== REPOSITORY_FILE) return false;
    report.at(
      doc,
      [],
      'value',
      'type',
      `document ${doc.index + 1} of ${REPOSITORY_FILE} is not a mapping`,
      'a mapping with apiVersion, kind, metadata and spec',
    );
    return true;
  }
  const record = value as Record<string, unknown>;
  const apiVersion = record.apiVersion;
  const kind = record.kind;
  const exact = apiVersion === API_VERSION;
  const otherVersion = typeof apiVersion === 'string' && apiVersion.startsWith('ballast.dev/') && !exact;
  const meant =
    doc.file === REPOSITORY_FILE ||
    (typeof apiVersion === 'string' && /ballast/i.test(apiVersion)) ||
    (apiVersion === undefined && typeof kind === 'string' && (KINDS as readonly string[]).includes(kind));
  if (!exact && !meant) return false;

  for (const issue of doc.issues) {
    report.push({ ...issue, file: doc.file, path: formatPath(issue.path), expected: issue.expected });
  }
  if (otherVersion) {
    report.at(
      doc,
      ['apiVersion'],
      'value',
      'api-version',
      `apiVersion ${apiVersion} is not supported by this version of Ballast`,
      API_VERSION,
    );
    return true;
  }
  if (!exact) {
    report.at(
      doc,
      ['apiVersion'],
      apiVersion === undefined ? 'parent' : 'value',
      'api-version',
      apiVersion === undefined
        ? 'missing apiVersion'
        : `apiVersion ${JSON.stringify(apiVersion)} is not a Ballast API version`,
      API_VERSION,
    );
  }
  if (typeof kind !== 'string' || !(KINDS as readonly string[]).includes(kind)) {
    const suggestion = typeof kind === 'string' ? didYouMean(kind, KINDS) : undefined;
    report.at(
      doc,
      ['kind'],
      kind === undefined ? 'parent' : 'value',
      'kind',
      kind === undefined
        ? 'missing kind'
        : `kind ${JSON.stringify(kind)} is not a Ballast kind${suggestion ? ` (did you mean '${suggestion}'?)` : ''}`,
      `one of: ${KINDS.join(', ')}`,
    );
    return true;
  }
  const typedKind = kind as Kind;
  const name = lookup(value, ['metadata', 'name']).value;
  if (typeof name === 'string') collected.declared.push({ kind: typedKind, name, doc } satisfies Declared);
  else if (typedKind === 'Repository') collected.declared.push({ kind: typedKind, name: '', doc });

  const parsed = DOCUMENT_SCHEMAS[typedKind].safeParse(value, { error: defaultExpected });
  if (!parsed.success) {
    for (const issue of mapZodIssues(parsed.error.issues, value)) {
      if (!exact && issue.path[0] === 'apiVersion') continue;
      report.at(doc, issue.path, issue.mode, issue.code, issue.message, issue.expected, issue.severity);
    }
    return true;
  }
  const data = parsed.data as { metadata: { name: string; labels?: Record<string, string> }; spec: unknown };
  const resource = {
    kind: typedKind,
    name: data.metadata.name,
    labels: data.metadata.labels ?? {},
    spec: data.spec,
    doc,
  };
  if (!exact) return true; // reported above; not loaded
  switch (typedKind) {
    case 'Repository':
      collected.repositories.push(resource as Parsed<'Repository'>);
      break;
    case 'Model':
      collected.models.push(resource as Parsed<'Model'>);
      break;
    case 'Endpoint':
      collected.endpoints.push(resource as Parsed<'Endpoint'>);
      break;
    case 'Prompt':
      collected.prompts.push(resource as Parsed<'Prompt'>);
      break;
    case 'Config':
      collected.configs.push(resource as Parsed<'Config'>);
      break;
  }
  return true;
}

function checkSecrets(
  file: string,
  text: string,
  docs: readonly YamlDocument[],
  isBallastFile: boolean,
  linePos: (offset: number) => { line: number; col: number },
  report: Reporter,
): void {
  const findings = scanText(text);
  const keyed = docs.flatMap((doc) => doc.keyedStrings);
  const positionOf = (offset: number) => {
    const pos = linePos(offset);
    return pos.line > 0 ? { line: pos.line, column: pos.col } : positionInText(text, offset);
  };
  for (const finding of findings) {
    const owner = keyed.find((k) => k.start <= finding.start && finding.start < k.end);
    report.push({
      severity: isBallastFile ? 'error' : 'warning',
      file,
      ...positionOf(finding.start),
      path: owner ? formatPath(owner.path) : '$',
      code: 'secret',
      message: secretMessage(`this looks like ${finding.kind}`, finding.masked),
      expected: SECRET_EXPECTED,
    });
  }
  for (const doc of docs) {
    for (const k of doc.keyedStrings) {
      if (findings.some((f) => k.start <= f.start && f.start < k.end)) continue;
      const kind = keyedSecretKind(k.key, k.value);
      if (!kind) continue;
      report.at(doc, k.path, 'value', 'secret', secretMessage(kind, mask(k.value, kind)), SECRET_EXPECTED);
    }
  }
}

function positionInText(text: string, offset: number): { line: number; column: number } {
  const before = text.slice(0, offset);
  return { line: before.split('\n').length, column: offset - before.lastIndexOf('\n') };
}

function buildRepository(collected: Collected): LoadedRepository | undefined {
  const repository = collected.repositories.find((r) => r.doc.file === REPOSITORY_FILE);
  if (!repository) return undefined;
  const toMap = <K extends Kind>(items: readonly Parsed<K>[]) =>
    new Map<string, LoadedResource<SpecByKind[K]>>(items.map((item) => [item.name, loaded(item)]));
  return {
    repository: loaded(repository),
    models: toMap(collected.models),
    endpoints: toMap(collected.endpoints),
    prompts: toMap(collected.prompts),
    configs: toMap(collected.configs),
  };
}

function loaded<K extends Kind>(item: Parsed<K>): LoadedResource<SpecByKind[K]> {
  const { line, column } = item.doc.position([]);
  return {
    kind: item.kind,
    name: item.name,
    labels: item.labels,
    spec: item.spec,
    source: { file: item.doc.file, document: item.doc.index, line, column },
    locate: (path, mode = 'value') => item.doc.position([...path], mode),
  };
}
