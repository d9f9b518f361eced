import type { CliIo, Command } from './commands/types.ts';
import { ExitCode, UsageError } from './commands/types.ts';

/**
 * The commands `ballast` knows, in the order `ballast --help` lists them. Each command module is
 * imported lazily so that `ballast validate` does not pay for loading the sandbox or the AWS SDK.
 */
const commands: ReadonlyArray<{ name: string; summary: string; load: () => Promise<Command> }> = [
  {
    name: 'demo',
    summary: 'Run the whole GitOps flow locally on the sandbox and narrate it (what `npm start` runs)',
    load: async () => (await import('./commands/demo.ts')).demoCommand,
  },
  {
    name: 'validate',
    summary: 'Check a model repository (schema, references, rollout limits, secrets) before you push',
    load: async () => (await import('./commands/validate.ts')).validateCommand,
  },
  {
    name: 'manifest',
    summary: 'Write the manifest that pins a model directory (local or S3): every file with its size and sha256',
    load: async () => (await import('./commands/manifest.ts')).manifestCommand,
  },
  {
    name: 'local',
    summary: 'Run Ballast locally on a Git repository: every commit deploys to the sandbox, narrated',
    load: async () => (await import('./commands/local.ts')).localCommand,
  },
  {
    name: 'sandbox',
    summary:
      'Run the local AWS sandbox (S3, SageMaker, CloudWatch, CodeCommit, Secrets Manager, Step Functions) for the AWS CLI and SDKs',
    load: async () => (await import('./commands/sandbox.ts')).sandboxCommand,
  },
  {
    name: 'status',
    summary:
      'Show desired, live, last-good and previous commits, rollouts, the last rollback and quarantined content per endpoint',
    load: async () => (await import('./commands/status.ts')).statusCommand,
  },
  {
    name: 'history',
    summary:
      "Show an endpoint's deployment ledger: commit, outcome, changes, reason, who pushed, retries, heals and rollbacks",
    load: async () => (await import('./commands/history.ts')).historyCommand,
  },
  {
    name: 'retry',
    summary: "Deploy an endpoint's desired commit again and lift the quarantine of its content (after a rollback)",
    load: async () => (await import('./commands/retry.ts')).retryCommand,
  },
  {
    name: 'rollback',
    summary: 'Roll an endpoint back to its previous version through the rollback workflow (the one alarms start)',
    load: async () => (await import('./commands/rollback.ts')).rollbackCommand,
  },
];

export function helpText(): string {
  const width = Math.max(...commands.map((c) => c.name.length));
  return [
    'ballast: GitOps for AI on AWS',
    '',
    'Usage: ballast COMMAND [options]',
    '',
    'Commands:',
    ...commands.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`),
    '',
    'Run `ballast COMMAND --help` for the options of one command.',
    '',
  ].join('\n');
}

export async function main(argv: readonly string[], io: CliIo = processIo()): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    io.stdout(helpText());
    return name === undefined ? ExitCode.Usage : ExitCode.Ok;
  }
  const entry = commands.find((c) => c.name === name);
  if (!entry) {
    io.stderr(`ballast: unknown command '${name}'\n\n${helpText()}`);
    return ExitCode.Usage;
  }
  const command = await entry.load();
  if (rest.includes('--help') || rest.includes('-h')) {
    io.stdout(`${command.usage.trimEnd()}\n`);
    return ExitCode.Ok;
  }
  try {
    return await command.run(rest, io);
  } catch (error) {
    if (error instanceof UsageError) {
      io.stderr(`ballast ${name}: ${error.message}\n\n${command.usage.trimEnd()}\n`);
      return ExitCode.Usage;
    }
    throw error;
  }
}

function processIo(): CliIo {
  return {
    stdout: (text) => process.stdout.write(text),
    stderr: (text) => process.stderr.write(text),
    cwd: process.cwd(),
    env: process.env,
  };
}
