// `ballast local`: a real Git working repository, `git commit` with the git CLI, and the narration
// of the deployment each commit starts, from a child process stopped with Ctrl-C (SIGINT).
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { cp, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { main } from '../../bin/cli.ts';
import { repositoryName } from '../../bin/commands/local.ts';
import { captureIo, exited, spawnBallast, waitFor } from '../support/cli.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const EXAMPLE_REPO = join(ROOT, 'examples', 'model-repo');

const GIT_ENV = {
  GIT_AUTHOR_NAME: 'Ada Ops',
  GIT_AUTHOR_EMAIL: 'ada@example.com',
  GIT_COMMITTER_NAME: 'Ada Ops',
  GIT_COMMITTER_EMAIL: 'ada@example.com',
  GIT_CONFIG_NOSYSTEM: '1',
  GIT_CONFIG_GLOBAL: '/dev/null',
};

function git(cwd: string, ...args: string[]): string {
  return execFileSync('git', args, { cwd, env: { ...process.env, ...GIT_ENV }, encoding: 'utf8' }).trim();
}

const capture = (cwd = ROOT) => captureIo({ cwd });

const ballast = spawnBallast;
// A deployment through a child process on a loaded 2-core machine: give it a minute.
const waitLong = <T>(what: string, probe: () => T | undefined) => waitFor(what, probe, 60_000);

describe('ballast local', () => {
  let scratch = '';
  before(async () => {
    scratch = await mkdtemp(join(tmpdir(), 'ballast-local-'));
  });
  after(async () => {
    await rm(scratch, { recursive: true, force: true });
  });

  it('deploys the current head, then every commit, narrated, and stops on SIGINT', { timeout: 120_000 }, async () => {
    const repo = join(scratch, 'acme-models');
    await cp(EXAMPLE_REPO, repo, { recursive: true });
    git(repo, 'init', '--quiet', '--initial-branch=main');
    git(repo, 'add', '.');
    git(repo, 'commit', '--quiet', '-m', 'Initial models');
    const first = git(repo, 'rev-parse', 'HEAD');

    const run = ballast(['local', '--repo', repo, '--port', '0']);
    try {
      const deployedLine = (commit: string) =>
        run
          .stdout()
          .split('\n')
          .find((line) => line.startsWith(`ok main@${commit.slice(0, 7)} -> prod: deployed`));
      await waitLong('the first deployment', () => deployedLine(first));
      const url = /export AWS_ENDPOINT_URL=(\S+)/.exec(run.stdout())?.[1] ?? '';
      assert.match(run.stdout(), /is the CodeCommit repository acme-models on http:\/\/127\.0\.0\.1:\d+/);
      assert.match(
        run.stdout(),
        new RegExp(`Deploying the current head of main \\(${first.slice(0, 7)}\\) as the first push`),
      );
      assert.match(
        run.stdout(),
        new RegExp(`-> main@${first.slice(0, 7)} "Initial models" is the current head: deploying`),
      );
      assert.match(run.stdout(), /\n {5}summarizer {2}deployed {2}changes: initial\n/);
      assert.match(run.stdout(), /\n {5}embeddings {2}deferred {2}EKS targets/);

      // A prompt change, committed with the git CLI as a user would: the watcher sees the branch move.
      const promptFile = join(repo, 'prompts', 'summarize.yaml');
      const prompt = await readFile(promptFile, 'utf8');
      await writeFile(promptFile, prompt.replace('You are a precise summarizer.', 'You are a careful summarizer.'));
      git(repo, 'commit', '--quiet', '-am', 'Make the summarizer careful');
      const second = git(repo, 'rev-parse', 'HEAD');
      const line = await waitLong('the second deployment', () => deployedLine(second));
      assert.match(line, /\(\S+( \S+)? simulated, \S+( \S+)? real\)$/);
      assert.match(
        run.stdout(),
        new RegExp(`-> main@${second.slice(0, 7)} "Make the summarizer careful" pushed: deploying`),
      );
      assert.match(run.stdout(), /\n {5}summarizer {2}deployed {2}changes: prompt:summarize\n/);

      // A broken commit is rejected with file:line:column, and nothing live changes.
      await writeFile(
        join(repo, 'endpoints', 'broken.yaml'),
        'apiVersion: ballast.dev/v1\nkind: Endpoint\nmetadata:\n  name: broken\nspec:\n  model: no-such-model\n',
      );
      git(repo, 'add', '.');
      git(repo, 'commit', '--quiet', '-m', 'Add a broken endpoint');
      const third = git(repo, 'rev-parse', 'HEAD');
      await waitLong('the rejection', () =>
        run
          .stdout()
          .includes(`x  main@${third.slice(0, 7)} -> prod: rejected, 2 validation errors; nothing live changed`)
          ? true
          : undefined,
      );
      assert.match(run.stdout(), /\n {5}endpoints\/broken\.yaml:6:10: Model 'no-such-model' is not declared/);

      // The sandbox keeps running for `ballast status` from another process.
      const status = capture();
      assert.equal(await main(['status', '--endpoint-url', url, '--json'], status), 0, status.err());
      const endpoints = (
        JSON.parse(status.out()) as { endpoints: Array<{ endpoint: string; live?: { commit: string } }> }
      ).endpoints;
      assert.equal(endpoints.find((e) => e.endpoint === 'summarizer')?.live?.commit, second);

      run.child.kill('SIGINT');
      const { code, signal } = await exited(run.child);
      assert.equal(signal, null, `exited by itself (stderr: ${run.stderr()})`);
      assert.equal(code, 0, run.stderr());
      assert.match(run.stdout(), /SIGINT: stopping\n$/);
      assert.equal(run.stderr(), '');
      // The user's working tree is untouched.
      assert.equal(git(repo, 'status', '--porcelain'), '');
      assert.equal(git(repo, 'rev-parse', 'HEAD'), third);
    } finally {
      if (run.child.exitCode === null && run.child.signalCode === null) run.child.kill('SIGKILL');
    }
  });

  it('with --branch, watches that branch only and waits for its first commit', { timeout: 120_000 }, async () => {
    const repo = join(scratch, 'branch-only');
    await cp(EXAMPLE_REPO, repo, { recursive: true });
    git(repo, 'init', '--quiet', '--initial-branch=main');
    git(repo, 'add', '.');
    git(repo, 'commit', '--quiet', '-m', 'Initial models');
    const run = ballast(['local', '--repo', repo, '--port', '0', '--branch', 'staging']);
    try {
      await waitLong('the banner', () => (run.stdout().includes('Ctrl-C stops') ? true : undefined));
      assert.match(run.stdout(), /Watching the branch staging;/);
      assert.match(run.stdout(), /The branch staging has no commits yet; its first commit deploys\./);
      git(repo, 'branch', 'staging');
      const head = git(repo, 'rev-parse', 'HEAD');
      await waitLong('the staging deployment', () =>
        run.stdout().includes(`ok staging@${head.slice(0, 7)} -> staging: deployed`) ? true : undefined,
      );
      // main was never deployed: it is not watched.
      assert.doesNotMatch(run.stdout(), /main@/);
      run.child.kill('SIGTERM');
      assert.deepEqual(await exited(run.child), { code: 0, signal: null });
    } finally {
      if (run.child.exitCode === null && run.child.signalCode === null) run.child.kill('SIGKILL');
    }
  });

  it('refuses a path that is not a repository, or a repository without ballast.yaml (exit 2)', async () => {
    const missing = capture();
    assert.equal(await main(['local', '--repo', join(scratch, 'nope')], missing), 2);
    assert.match(missing.err(), /ballast local: .*nope: no such directory/);

    const plain = join(scratch, 'plain');
    await mkdir(plain);
    const notGit = capture();
    assert.equal(await main(['local', '--repo', plain], notGit), 2);
    assert.match(notGit.err(), /is not the top of a Git repository .*run `git init` there/);

    const empty = join(scratch, 'empty');
    await mkdir(empty);
    git(empty, 'init', '--quiet', '--initial-branch=main');
    const noYaml = capture();
    assert.equal(await main(['local', '--repo', empty], noYaml), 2);
    assert.match(noYaml.err(), /has no ballast\.yaml at its top/);

    const noArtifacts = capture();
    await cp(EXAMPLE_REPO, join(scratch, 'with-yaml'), { recursive: true });
    git(join(scratch, 'with-yaml'), 'init', '--quiet', '--initial-branch=main');
    assert.equal(
      await main(['local', '--repo', join(scratch, 'with-yaml'), '--artifacts', join(scratch, 'none')], noArtifacts),
      2,
    );
    assert.match(noArtifacts.err(), /--artifacts .*none: no such directory/);
  });

  it('validates its flags (exit 2 with the usage text)', async () => {
    for (const [args, message] of [
      [[], /--repo PATH is required/],
      [['--repo', '.', '--branch', 'a..b'], /--branch 'a\.\.b' is not a valid branch name/],
      [['--repo', '.', '--port', '-1'], /--port needs a value/],
      [['--repo', '.', '--port', '99999'], /--port must be a whole number/],
      [['--repo', '.', '--time-scale', 'x'], /--time-scale must be a number above 0/],
    ] as const) {
      const io = capture();
      assert.equal(await main(['local', ...args], io), 2, args.join(' '));
      assert.match(io.err(), message);
      assert.match(io.err(), /Usage: ballast local --repo PATH/);
    }
  });

  it('names the CodeCommit repository after the directory', () => {
    assert.equal(repositoryName('/home/ada/acme-models'), 'acme-models');
    assert.equal(repositoryName('/srv/git/models.git'), 'models');
    assert.equal(repositoryName('/tmp/my models (copy)'), 'my-models--copy-');
  });
});
