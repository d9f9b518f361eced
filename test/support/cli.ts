import type { CliIo } from '../../bin/commands/types.ts';

/** A CliIo that keeps what a command prints, for running commands in-process through `main`. */
export function captureIo(
  options: { cwd?: string; env?: NodeJS.ProcessEnv } = {},
): CliIo & { out: () => string; err: () => string } {
  let stdout = '';
  let stderr = '';
  return {
    stdout: (text) => {
      stdout += text;
    },
    stderr: (text) => {
      stderr += text;
    },
    cwd: options.cwd ?? process.cwd(),
    env: options.env ?? {},
    out: () => stdout,
    err: () => stderr,
  };
}
