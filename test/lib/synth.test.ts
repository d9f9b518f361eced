import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { pathToFileURL } from 'node:url';
import { projectPath } from '../../lib/ballast-function.ts';
import { DEPLOY_STEPS, RECONCILE_STEPS, ROLLBACK_STEPS, WAKE_FUNCTION } from '../../lib/workflow-steps.ts';

/** Every workflow step's function: the deploy, rollback and reconcile workflows'. */
const STEPS = [...Object.values(DEPLOY_STEPS), ...Object.values(ROLLBACK_STEPS), ...Object.values(RECONCILE_STEPS)];

// The real `cdk synth`, as a user (and CI) runs it: a subprocess, offline, with no AWS credentials
// and no Docker. It proves that the app synthesizes, that cdk-nag passes as a validation plugin
// (a finding fails the synth), and that every handler is bundled by the local esbuild into a
// self-contained ESM file that loads.

const ROOT = projectPath('./');
const BIN = join(ROOT, 'node_modules', '.bin');
const outdirs: string[] = [];

interface Synth {
  readonly code: number | null;
  readonly output: string;
  readonly outdir: string;
}

function synth(context: Record<string, string> = {}): Promise<Synth> {
  const outdir = mkdtempSync(join(tmpdir(), 'ballast-synth-'));
  outdirs.push(outdir);
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    // Node 22 and the local esbuild come first, as under `npx`.
    PATH: `${BIN}:${process.env.PATH ?? ''}`,
    AWS_CONFIG_FILE: '/dev/null',
    AWS_SHARED_CREDENTIALS_FILE: '/dev/null',
    AWS_EC2_METADATA_DISABLED: 'true',
    CDK_DISABLE_VERSION_CHECK: 'true',
  };
  for (const key of ['AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'AWS_SESSION_TOKEN', 'AWS_PROFILE']) delete env[key];
  for (const key of ['CDK_DEFAULT_ACCOUNT', 'CDK_DEFAULT_REGION']) delete env[key];
  const args = ['synth', '--quiet', '--no-notices', '--output', outdir];
  for (const [key, value] of Object.entries(context)) args.push('--context', `${key}=${value}`);
  return new Promise((resolve, reject) => {
    const child = spawn(join(BIN, 'cdk'), args, { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => {
      output += chunk.toString();
    });
    child.stderr.on('data', (chunk: Buffer) => {
      output += chunk.toString();
    });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, output, outdir }));
  });
}

interface Template {
  Resources: Record<string, { Type: string; Properties: Record<string, unknown> }>;
}

/** The handler file each function should bundle, by the function's description (the manifest's, Wake's or the webhook's). */
function handlerFileFor(description: unknown): string | undefined {
  if (typeof description === 'string' && description.startsWith('Ballast: GitHub push webhook')) {
    return 'github-webhook.ts';
  }
  if (description === WAKE_FUNCTION.description) return WAKE_FUNCTION.file;
  return STEPS.find((step) => step.description === description)?.file;
}

async function checkBundles(result: Synth, expectedFunctions: number): Promise<void> {
  assert.equal(result.code, 0, result.output.slice(-4000));
  const templateFile = readdirSync(result.outdir).find((f) => f.endsWith('.template.json'));
  assert.ok(templateFile, `a template in ${readdirSync(result.outdir).join(', ')}`);
  const template = JSON.parse(readFileSync(join(result.outdir, templateFile), 'utf8')) as Template;
  const functions = Object.entries(template.Resources).filter(([, r]) => r.Type === 'AWS::Lambda::Function');
  assert.equal(functions.length, expectedFunctions);
  for (const [id, fn] of functions) {
    assert.equal(fn.Properties.Runtime, 'nodejs22.x', id);
    const key = (fn.Properties.Code as { S3Key?: string }).S3Key ?? '';
    assert.match(key, /^[0-9a-f]{64}\.zip$/, `${id} has bundled code`);
    const asset = join(result.outdir, `asset.${key.replace(/\.zip$/, '')}`);
    // No source map ships: it would sit on the cold-start path (see bundlingOptions()).
    assert.deepEqual(readdirSync(asset).sort(), ['index.mjs'], id);
    const bundle = (await import(pathToFileURL(join(asset, 'index.mjs')).href)) as { handler?: unknown };
    assert.equal(typeof bundle.handler, 'function', `${id}: the bundle exports its handler`);
    const expected = handlerFileFor(fn.Properties.Description);
    assert.ok(expected, `${id} is a manifest step, Wake or the webhook (${String(fn.Properties.Description)})`);
  }
  const steps = functions
    .map(([, fn]) => handlerFileFor(fn.Properties.Description))
    .filter((f) => f !== 'github-webhook.ts' && f !== WAKE_FUNCTION.file);
  assert.deepEqual(steps.sort(), STEPS.map((step) => step.file).sort(), 'one bundled function per manifest step');
  const machines = Object.values(template.Resources).filter((r) => r.Type === 'AWS::StepFunctions::StateMachine');
  assert.equal(machines.length, 3, 'the deploy, the rollback and the reconcile workflow');
  for (const machine of machines) {
    const definition = (machine.Properties.DefinitionS3Location as { Key: string }).Key;
    assert.ok(existsSync(join(result.outdir, `asset.${definition}`)), 'the ASL definition is an asset');
  }
}

describe('cdk synth (subprocess, offline, no credentials, no Docker)', { timeout: 600_000 }, () => {
  after(() => {
    for (const dir of outdirs) rmSync(dir, { recursive: true, force: true });
  });

  // Both sources at once: each synth spends most of its time in esbuild.
  const codecommit = synth();
  const github = synth({
    'ballast:source': JSON.stringify({
      type: 'github',
      repository: 'acme/models',
      webhookSecretName: 'ballast/webhook',
      tokenSecretName: 'ballast/github-token',
    }),
    'ballast:artifactSourceBuckets': 'acme-model-artifacts',
    'ballast:alarmEmail': 'ml-platform@example.com',
  });

  it('synthesizes the cdk.json app (CodeCommit) with every workflow function and Wake bundled, each from its handler', async () => {
    await checkBundles(await codecommit, STEPS.length + 1);
  });

  it('synthesizes a GitHub-sourced app with the webhook function bundled too', async () => {
    await checkBundles(await github, STEPS.length + 2);
  });
});
