// `ballast local`: a real Git working repository, `git commit` with the git CLI, and the narration
// of the deployment each commit starts, from a child process stopped with Ctrl-C (SIGINT).
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cp, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import {
  CreateBucketCommand,
  GetObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
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

const sha256 = (data: string | Buffer) => createHash('sha256').update(data).digest('hex');
const manifestText = (files: Array<{ path: string; content: string }>) =>
  `${JSON.stringify(
    {
      apiVersion: 'ballast.dev/v1',
      kind: 'ModelManifest',
      files: files.map((f) => ({ path: f.path, sizeBytes: Buffer.byteLength(f.content), sha256: sha256(f.content) })),
    },
    null,
    2,
  )}\n`;

/** A Model document with a directory artifact (and secrets, when given). */
const directoryModel = (name: string, artifact: string, secrets = '') =>
  `apiVersion: ballast.dev/v1\nkind: Model\nmetadata:\n  name: ${name}\nspec:\n  image: 763104351884.dkr.ecr.us-east-1.amazonaws.com/djl-inference:0.31.0-lmi13.0.0-cu124\n  artifact:\n${artifact}${secrets}`;

const REPOSITORY_YAML = `apiVersion: ballast.dev/v1
kind: Repository
metadata:
  name: seeding
spec:
  environments:
    - name: prod
      branch: main
      account: "111122223333"
      region: us-east-1
`;

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

    // The example's summarizer reads its Hugging Face token from acme-ml/ (models/summarizer-llm.yaml).
    const run = ballast(['local', '--repo', repo, '--port', '0', '--secret-prefix', 'acme-ml/']);
    try {
      // `deployed` when one endpoint rolled out, `N deployed` when several did.
      const deployedLine = (commit: string, outcome = 'deployed') =>
        run
          .stdout()
          .split('\n')
          .find((line) => line.startsWith(`ok main@${commit.slice(0, 7)} -> prod: ${outcome} `));
      await waitLong('the first deployment', () => deployedLine(first, '2 deployed'));
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
      assert.match(run.stdout(), /\n {5}assistant {3}deployed {2}changes: initial\n/);
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
    const run = ballast(['local', '--repo', repo, '--port', '0', '--branch', 'staging', '--secret-prefix', 'acme-ml/']);
    try {
      await waitLong('the banner', () => (run.stdout().includes('Ctrl-C stops') ? true : undefined));
      assert.match(run.stdout(), /Watching the branch staging;/);
      assert.match(run.stdout(), /The branch staging has no commits yet; its first commit deploys\./);
      git(repo, 'branch', 'staging');
      const head = git(repo, 'rev-parse', 'HEAD');
      await waitLong('the staging deployment', () =>
        run.stdout().includes(`ok staging@${head.slice(0, 7)} -> staging: 2 deployed`) ? true : undefined,
      );
      // main was never deployed: it is not watched.
      assert.doesNotMatch(run.stdout(), /main@/);
      run.child.kill('SIGTERM');
      assert.deepEqual(await exited(run.child), { code: 0, signal: null });
    } finally {
      if (run.child.exitCode === null && run.child.signalCode === null) run.child.kill('SIGKILL');
    }
  });

  it('without --secret-prefix, refuses a Model that declares secrets and says which prefix to pass', {
    timeout: 120_000,
  }, async () => {
    const repo = join(scratch, 'no-secret-prefix');
    await cp(EXAMPLE_REPO, repo, { recursive: true });
    git(repo, 'init', '--quiet', '--initial-branch=main');
    git(repo, 'add', '.');
    git(repo, 'commit', '--quiet', '-m', 'Initial models');
    const head = git(repo, 'rev-parse', 'HEAD').slice(0, 7);
    const run = ballast(['local', '--repo', repo, '--port', '0', '--branch', 'main']);
    try {
      await waitLong('the rejection', () =>
        run.stdout().includes(`x  main@${head} -> prod: rejected`) ? true : undefined,
      );
      assert.match(
        run.stdout(),
        /models\/summarizer-llm\.yaml: summarizer-llm declares secrets and ballast local runs without --secret-prefix: .* \(run with --secret-prefix acme-ml\/ to let it read them\)\n/,
      );
      assert.match(
        run.stdout(),
        /\n {5}models\/summarizer-llm\.yaml:\d+:\d+: Model summarizer-llm: secret HF_TOKEN \(acme-ml\/huggingface-token\): this Ballast stack lets models read no secrets/,
      );
      run.child.kill('SIGTERM');
      assert.deepEqual(await exited(run.child), { code: 0, signal: null });
    } finally {
      if (run.child.exitCode === null && run.child.signalCode === null) run.child.kill('SIGKILL');
    }
  });

  it('seeds directory Models (a manifest, inline files) and the secrets Models declare', {
    timeout: 120_000,
  }, async () => {
    const bucket = 'acme-dirs-111122223333';
    const repo = join(scratch, 'seeding');
    const artifacts = join(scratch, 'seeding-artifacts');
    // The artifacts directory in a layout of its own: files are found by content, recursively.
    const chat = [
      { path: 'config.json', content: '{"model_type":"llama"}\n' },
      { path: 'shards/model-00001-of-00002.safetensors', content: 'shard one\n' },
      { path: 'shards/model-00002-of-00002.safetensors', content: 'shard two\n' },
    ];
    const chatManifest = manifestText(chat);
    await mkdir(join(artifacts, 'chat', 'nested'), { recursive: true });
    await writeFile(join(artifacts, 'chat', 'config.json'), chat[0]?.content ?? '');
    await writeFile(join(artifacts, 'chat', 'nested', 'a.safetensors'), chat[1]?.content ?? '');
    await writeFile(join(artifacts, 'chat', 'nested', 'b.safetensors'), chat[2]?.content ?? '');
    await writeFile(join(artifacts, 'chat.manifest.json'), chatManifest);
    await writeFile(join(artifacts, 'tokenizer.json'), '{"vocab":{}}\n');
    await writeFile(join(artifacts, 'not-a-manifest.json'), '{"kind":"Something else"}\n');

    await mkdir(join(repo, 'models'), { recursive: true });
    await writeFile(join(repo, 'ballast.yaml'), REPOSITORY_YAML);
    await writeFile(
      join(repo, 'models', 'chat.yaml'),
      directoryModel(
        'chat-llm',
        `    prefix: s3://${bucket}/chat-llm/v1/\n    manifest:\n      uri: s3://${bucket}/manifests/chat-llm-v1.json\n      sha256: ${sha256(chatManifest)}\n`,
      ),
    );
    const missing = sha256('not in the artifacts directory');
    await writeFile(
      join(repo, 'models', 'reranker.yaml'),
      directoryModel(
        'reranker',
        [
          `    prefix: s3://${bucket}/reranker/v1/`,
          '    files:',
          `      - { path: tokenizer.json, sha256: ${sha256('{"vocab":{}}\n')}, sizeBytes: 13 }`,
          `      - { path: empty/added_tokens.txt, sha256: ${sha256('')}, sizeBytes: 0 }`,
          `      - { path: weights.bin, sha256: ${missing}, sizeBytes: 30 }`,
          '',
        ].join('\n'),
        '  secrets:\n    HF_TOKEN:\n      secretId: acme-ml/hf-token\n',
      ),
    );
    // Its manifest is in --artifacts but is no ModelManifest: Validate's to report, not local's.
    await writeFile(
      join(repo, 'models', 'broken.yaml'),
      directoryModel(
        'broken',
        `    prefix: s3://${bucket}/broken/v1/\n    manifest:\n      uri: s3://${bucket}/manifests/broken.json\n      sha256: ${sha256('{"kind":"Something else"}\n')}\n`,
      ),
    );
    git(repo, 'init', '--quiet', '--initial-branch=main');
    git(repo, 'add', '.');
    git(repo, 'commit', '--quiet', '-m', 'Directory models');
    const first = git(repo, 'rev-parse', 'HEAD');

    const run = ballast([
      'local',
      '--repo',
      repo,
      '--port',
      '0',
      '--artifacts',
      artifacts,
      '--secret-prefix',
      'acme-ml/',
    ]);
    // Whatever the workflow makes of these Models, its narration comes after the seeding.
    const ended = (commit: string) =>
      new RegExp(`^(ok|x |\\. ) main@${commit.slice(0, 7)}`, 'm').test(run.stdout()) ? true : undefined;
    let s3: S3Client | undefined;
    let secrets: SecretsManagerClient | undefined;
    try {
      await waitLong('the first deployment', () => ended(first));
      const url = /export AWS_ENDPOINT_URL=(\S+)/.exec(run.stdout())?.[1] ?? '';
      const config = {
        endpoint: url,
        region: 'us-east-1',
        credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
      };
      s3 = new S3Client(config);
      secrets = new SecretsManagerClient(config);
      const client = s3;
      const keys = async (prefix: string) =>
        ((await client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix }))).Contents ?? [])
          .map((o) => o.Key)
          .sort();
      const text = async (key: string) =>
        (await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }))).Body?.transformToString();

      // The manifest, uploaded from the file with its sha256, then the files it lists.
      assert.equal(await text('manifests/chat-llm-v1.json'), chatManifest);
      assert.deepEqual(
        await keys('chat-llm/v1/'),
        chat.map((f) => `chat-llm/v1/${f.path}`),
      );
      assert.equal(await text('chat-llm/v1/shards/model-00002-of-00002.safetensors'), 'shard two\n');
      // Inline files: those the artifacts have, and an empty one, which needs none; the missing one is named once.
      assert.deepEqual(await keys('reranker/v1/'), [
        'reranker/v1/empty/added_tokens.txt',
        'reranker/v1/tokenizer.json',
      ]);
      assert.equal(await text('reranker/v1/empty/added_tokens.txt'), '');
      assert.match(
        run.stdout(),
        new RegExp(
          `\n {3}models/reranker\\.yaml: no file in the artifacts directory has the sha256 ${missing.slice(0, 12)}… that reranker declares for weights\\.bin; its endpoints fail at Register \\(pass --artifacts DIR\\)\n`,
        ),
      );
      // A manifest that is not a ModelManifest: no files seeded, nothing said.
      assert.deepEqual(await keys('broken/'), []);
      assert.doesNotMatch(run.stdout(), /^ {3}models\/broken\.yaml/m);

      // The secret, created with a placeholder that is never printed.
      const value =
        (await secrets.send(new GetSecretValueCommand({ SecretId: 'acme-ml/hf-token' }))).SecretString ?? '';
      assert.match(value, /^ballast-local-placeholder-[0-9a-f]{8}$/);
      const secretLines = run
        .stdout()
        .split('\n')
        .filter((l) => l.includes('created secret'));
      assert.deepEqual(secretLines, [
        '   models/reranker.yaml: created secret acme-ml/hf-token in the sandbox with a placeholder value (a real one stays in your AWS account)',
      ]);
      assert.ok(
        !run.stdout().includes(value) && !run.stderr().includes(value),
        'the placeholder value is never printed',
      );
      // With --secret-prefix, no word about Validate refusing secrets.
      assert.doesNotMatch(run.stdout(), /without --secret-prefix/);

      // A manifest already in the sandbox's S3 (and not in --artifacts) is read from there.
      const embedder = [{ path: 'config.json', content: chat[0]?.content ?? '' }];
      const embedderManifest = manifestText(embedder);
      await s3.send(new CreateBucketCommand({ Bucket: 'acme-manifests-111122223333' })).catch(() => undefined);
      await s3.send(
        new PutObjectCommand({ Bucket: 'acme-manifests-111122223333', Key: 'embedder.json', Body: embedderManifest }),
      );
      await writeFile(
        join(repo, 'models', 'embedder.yaml'),
        directoryModel(
          'embedder',
          `    prefix: s3://${bucket}/embedder/\n    manifest:\n      uri: s3://acme-manifests-111122223333/embedder.json\n      sha256: ${sha256(embedderManifest)}\n`,
        ),
      );
      git(repo, 'add', '.');
      git(repo, 'commit', '--quiet', '-m', 'Add the embedder');
      const second = git(repo, 'rev-parse', 'HEAD');
      await waitLong('the second deployment', () => ended(second));
      assert.deepEqual(await keys('embedder/'), ['embedder/config.json']);
      // Said once per run, not once per commit.
      assert.equal(run.stdout().split('created secret').length - 1, 1);
      assert.equal(run.stdout().split(missing.slice(0, 12)).length - 1, 1);
      assert.doesNotMatch(run.stderr(), /seeding the sandbox/);

      run.child.kill('SIGTERM');
      assert.deepEqual(await exited(run.child), { code: 0, signal: null });
    } finally {
      s3?.destroy();
      secrets?.destroy();
      if (run.child.exitCode === null && run.child.signalCode === null) run.child.kill('SIGKILL');
    }
  });

  it('documents --secret-prefix and the seeding in --help', async () => {
    const io = capture();
    assert.equal(await main(['local', '--help'], io), 0);
    assert.match(io.out(), /--secret-prefix PREFIX/);
    assert.match(
      io.out(),
      /a Model that declares\s+secrets is refused by Validate, as on a stack deployed without ballast:secretPrefix/,
    );
    assert.match(io.out(), /created in the sandbox's Secrets\s+Manager with a placeholder value/);
    assert.match(io.out(), /a directory's files to prefix \+ path/);
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
      [
        ['--repo', '.', '--secret-prefix', 'acme ml/'],
        /--secret-prefix 'acme ml\/' is not the start of a Secrets Manager name/,
      ],
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
