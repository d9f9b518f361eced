import { type ChildProcess, spawn } from 'node:child_process';
import { delimiter, join } from 'node:path';
import { fileURLToPath } from 'node:url';
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

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/**
 * `node bin/ballast.mjs ARGS` as a child process, with node_modules/.bin (Node 22) first on PATH
 * and its output collected. The child inherits no AWS_* or BALLAST_* variable: another test in
 * this process may have pointed the SDK at a sandbox of its own.
 */
export function spawnBallast(args: readonly string[]): {
  child: ChildProcess;
  stdout: () => string;
  stderr: () => string;
} {
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    PATH: `${join(ROOT, 'node_modules', '.bin')}${delimiter}${process.env.PATH ?? ''}`,
  };
  for (const name of Object.keys(env)) if (name.startsWith('AWS_') || name.startsWith('BALLAST_')) delete env[name];
  const child = spawn('node', ['bin/ballast.mjs', ...args], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    stdout += chunk.toString('utf8');
  });
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk.toString('utf8');
  });
  return { child, stdout: () => stdout, stderr: () => stderr };
}

/** Polls `probe` every 50 ms until it returns a value, or fails after `timeoutMs`. */
export async function waitFor<T>(what: string, probe: () => T | undefined, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** Resolves with how a child process ended (at once if it already has). */
export function exited(child: ChildProcess): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  if (child.exitCode !== null || child.signalCode !== null) {
    return Promise.resolve({ code: child.exitCode, signal: child.signalCode });
  }
  return new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
}
