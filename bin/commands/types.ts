/** What a CLI command writes to and how it ends; injected so tests can run commands in-process. */
export interface CliIo {
  readonly stdout: (text: string) => void;
  readonly stderr: (text: string) => void;
  readonly cwd: string;
  readonly env: NodeJS.ProcessEnv;
}

/** Exit codes shared by every command: 0 success, 1 the checked thing is bad, 2 usage or I/O error. */
export const ExitCode = { Ok: 0, Invalid: 1, Usage: 2 } as const;
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

export interface Command {
  readonly name: string;
  /** One line for `ballast --help`. */
  readonly summary: string;
  /** The full usage text for `ballast COMMAND --help`. */
  readonly usage: string;
  readonly run: (args: readonly string[], io: CliIo) => Promise<number>;
}

/** A usage error: printed with the command's usage text and exit code 2. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}
