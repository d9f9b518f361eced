import { stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import {
  directorySource,
  type ValidationIssue,
  type ValidationResult,
  validateRepository,
} from '../../lambdas/spec/index.ts';
import { type CliIo, type Command, ExitCode, UsageError } from './types.ts';

const usage = `Usage: ballast validate [DIR] [--json]

Checks a model repository the way the deploy workflow will, before you push: YAML syntax, the
ballast.dev/v1 schema of every resource, references between resources, environments, rollout
limits, GPU instance types, prompt variables, and secrets that do not belong in Git.

Arguments:
  DIR         the repository root (default: the current directory)

Options:
  --json      print { valid, issues, summary } as JSON instead of text
  -h, --help  show this help

Exit codes: 0 valid (warnings allowed), 1 invalid, 2 usage or I/O error.
`;

export interface ValidateSummary {
  readonly directory: string;
  readonly errors: number;
  readonly warnings: number;
  readonly files: number;
  /** Resource counts; only when the repository is valid. */
  readonly resources?: { models: number; endpoints: number; prompts: number; configs: number };
}

export const validateCommand: Command = {
  name: 'validate',
  summary: 'Check a model repository (schema, references, rollout limits, secrets) before you push',
  usage,
  async run(args: readonly string[], io: CliIo): Promise<number> {
    let parsed: { values: { json?: boolean | undefined }; positionals: string[] };
    try {
      parsed = parseArgs({
        args: [...args],
        options: { json: { type: 'boolean' } },
        allowPositionals: true,
        strict: true,
      });
    } catch (error) {
      // node's own messages are long ("To specify a positional argument starting with a '-'…").
      const option = /'([^']+)'/.exec((error as Error).message)?.[1];
      const code = (error as NodeJS.ErrnoException).code;
      throw new UsageError(
        code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION' && option ? `unknown option '${option}'` : (error as Error).message,
      );
    }
    if (parsed.positionals.length > 1) {
      throw new UsageError(
        `expected at most one DIR, got ${parsed.positionals.length}: ${parsed.positionals.join(' ')}`,
      );
    }
    const dirArg = parsed.positionals[0];
    const directory = dirArg ?? '.';
    const root = resolve(io.cwd, directory);
    const stats = await stat(root).catch((error: NodeJS.ErrnoException) => {
      throw new UsageError(
        error.code === 'ENOENT'
          ? `${directory}: no such directory`
          : `${directory}: cannot read it (${error.code ?? error.message})`,
      );
    });
    if (!stats.isDirectory()) throw new UsageError(`${directory}: not a directory`);

    let result: ValidationResult;
    try {
      result = await validateRepository(directorySource(root));
    } catch (error) {
      io.stderr(`ballast validate: cannot read ${directory}: ${(error as Error).message}\n`);
      return ExitCode.Usage;
    }

    const summary = summarize(directory, result);
    if (parsed.values.json) {
      io.stdout(`${JSON.stringify({ valid: result.ok, issues: result.issues, summary }, null, 2)}\n`);
    } else {
      const display = (file: string) => (file === '' ? directory : dirArg === undefined ? file : join(dirArg, file));
      const lines = result.issues.map((issue) => formatIssue(issue, display));
      lines.push(summaryLine(summary, result.ok));
      io.stdout(`${lines.join('\n')}\n`);
    }
    return result.ok ? ExitCode.Ok : ExitCode.Invalid;
  },
};

/** `file:line:column: severity: message (at $.path); expected: …`, the format editors and CI annotators parse. */
export function formatIssue(issue: ValidationIssue, display: (file: string) => string = (file) => file): string {
  const where = issue.line > 0 ? `${display(issue.file)}:${issue.line}:${issue.column}` : display(issue.file);
  const at = issue.path !== '$' ? ` (at ${issue.path})` : '';
  const expected = issue.expected ? `; expected: ${issue.expected}` : '';
  return `${where}: ${issue.severity}: ${issue.message}${at}${expected}`;
}

function summarize(directory: string, result: ValidationResult): ValidateSummary {
  const errors = result.issues.filter((issue) => issue.severity === 'error').length;
  const warnings = result.issues.length - errors;
  const repo = result.repository;
  return {
    directory,
    errors,
    warnings,
    files: result.files.length,
    ...(repo
      ? {
          resources: {
            models: repo.models.size,
            endpoints: repo.endpoints.size,
            prompts: repo.prompts.size,
            configs: repo.configs.size,
          },
        }
      : {}),
  };
}

function plural(count: number, word: string): string {
  return `${count} ${word}${count === 1 ? '' : 's'}`;
}

function summaryLine(summary: ValidateSummary, valid: boolean): string {
  const { resources } = summary;
  if (valid && resources) {
    const warnings = summary.warnings > 0 ? ` (${plural(summary.warnings, 'warning')})` : '';
    return `✓ ${summary.directory} is valid${warnings}: ${plural(resources.models, 'model')}, ${plural(resources.endpoints, 'endpoint')}, ${plural(resources.prompts, 'prompt')}, ${plural(resources.configs, 'config')}`;
  }
  return `${plural(summary.errors, 'error')}, ${plural(summary.warnings, 'warning')} in ${plural(summary.files, 'file')}`;
}
