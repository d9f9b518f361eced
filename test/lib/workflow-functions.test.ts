import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import type { Template } from 'aws-cdk-lib/assertions';
import { projectPath } from '../../lib/ballast-function.ts';
import { ballastStack, GITHUB } from './fixtures/stacks.ts';

const HANDLERS = projectPath('lambdas/handlers/');

/** Source without comments, so a setting named in a doc comment does not count as read. */
function code(file: string): string {
  return readFileSync(file, 'utf8')
    .replace(/\/\*[\s\S]*?\*\//g, '')
    .replace(/^\s*\/\/.*$/gm, '');
}

/**
 * The BALLAST_* settings a handler reads: names it passes to `setting`/`optionalSetting` or reads
 * from `process.env` (in its own file and in other handler files it imports), plus those behind
 * the shared helpers of runtime.ts (`stateStore()` reads BALLAST_STATE_BUCKET, `resourcePrefix()`
 * BALLAST_RESOURCE_PREFIX).
 */
function settingsRead(handlerFile: string, seen = new Set<string>()): Set<string> {
  const names = new Set<string>();
  if (seen.has(handlerFile)) return names;
  seen.add(handlerFile);
  const text = code(join(HANDLERS, handlerFile));
  for (const m of text.matchAll(/(?:setting|Setting)\(\s*['"](BALLAST_[A-Z0-9_]+)['"]/g)) names.add(m[1] as string);
  for (const m of text.matchAll(/process\.env(?:\.|\[\s*['"])(BALLAST_[A-Z0-9_]+)/g)) names.add(m[1] as string);
  if (/\bstateStore\(/.test(text)) names.add('BALLAST_STATE_BUCKET');
  if (/\bresourcePrefix\(/.test(text)) names.add('BALLAST_RESOURCE_PREFIX');
  for (const m of text.matchAll(/from '\.\/([\w-]+\.ts)'/g)) {
    const imported = m[1] as string;
    if (imported !== 'runtime.ts') for (const n of settingsRead(imported, seen)) names.add(n);
  }
  return names;
}

/** The BALLAST_* variables of the function whose logical id starts with `prefix`. */
function environmentOf(template: Template, prefix: string): Record<string, unknown> {
  const functions = Object.entries(template.findResources('AWS::Lambda::Function')).filter(([id]) =>
    id.startsWith(prefix),
  );
  assert.equal(functions.length, 1, prefix);
  return (functions[0]?.[1].Properties.Environment?.Variables ?? {}) as Record<string, unknown>;
}

const GITHUB_ONLY = new Set(['BALLAST_GITHUB_API_URL', 'BALLAST_GITHUB_TOKEN_SECRET_NAME']);
const FUNCTIONS: Array<[string, string]> = [
  ['FunctionsResolveFunction', 'resolve.ts'],
  ['FunctionsValidateFunction', 'validate.ts'],
  ['FunctionsLeaseFunction', 'lease.ts'],
  ['FunctionsRegisterFunction', 'register.ts'],
  ['FunctionsDeployFunction', 'deploy.ts'],
  ['FunctionsCheckRolloutFunction', 'check-rollout.ts'],
  ['FunctionsVerifyFunction', 'verify.ts'],
  ['FunctionsRecordFunction', 'record.ts'],
];

describe('WorkflowFunctions', () => {
  const codecommit = ballastStack().template;
  const github = ballastStack({ source: GITHUB }).template;

  it('gives every function the BALLAST_* settings its handler reads, and no others', () => {
    for (const [prefix, file] of FUNCTIONS) {
      const read = settingsRead(file);
      for (const [template, isGitHub] of [
        [codecommit, false],
        [github, true],
      ] as const) {
        const expected = [...read].filter((n) => isGitHub || !GITHUB_ONLY.has(n)).sort();
        const environment = environmentOf(template, prefix);
        const given = Object.keys(environment)
          .filter((k) => k.startsWith('BALLAST_'))
          .sort();
        assert.deepEqual(given, expected, `${file} (${isGitHub ? 'github' : 'codecommit'})`);
        assert.deepEqual(
          Object.keys(environment).filter((k) => !k.startsWith('BALLAST_')),
          ['POWERTOOLS_SERVICE_NAME', 'NODE_OPTIONS'],
        );
      }
    }
    const webhook = environmentOf(github, 'GitHubWebhookHandlerFunction');
    assert.deepEqual(
      Object.keys(webhook)
        .filter((k) => k.startsWith('BALLAST_'))
        .sort(),
      [...settingsRead('github-webhook.ts')].sort(),
    );
  });

  it('reads settings only in the handlers: no other Lambda module looks at BALLAST_* variables', () => {
    const offenders: string[] = [];
    const walk = (dir: string) => {
      for (const name of readdirSync(dir)) {
        const path = join(dir, name);
        if (statSync(path).isDirectory()) walk(path);
        else if (path.endsWith('.ts') && !path.startsWith(HANDLERS)) {
          if (/process\.env(?:\.|\[\s*['"])BALLAST_/.test(code(path))) offenders.push(path);
        }
      }
    };
    walk(projectPath('lambdas/'));
    assert.deepEqual(offenders, []);
  });

  it('fills the settings with this stack’s values', () => {
    const resolve = environmentOf(github, 'FunctionsResolveFunction');
    assert.deepEqual(resolve.BALLAST_STATE_BUCKET, { Ref: 'ArtifactStoreBucket47CE7D81' });
    assert.equal(resolve.BALLAST_ACCOUNT_ID, '111122223333');
    assert.equal(resolve.BALLAST_REGION, 'us-east-1');
    assert.equal(resolve.BALLAST_GITHUB_API_URL, 'https://api.github.com');
    assert.equal(resolve.BALLAST_GITHUB_TOKEN_SECRET_NAME, 'ballast/github-token');
    const deploy = environmentOf(codecommit, 'FunctionsDeployFunction');
    assert.equal(deploy.BALLAST_RESOURCE_PREFIX, 'ballast');
    assert.deepEqual(deploy.BALLAST_SAGEMAKER_ROLE_ARN, {
      'Fn::GetAtt': [
        Object.keys(codecommit.findResources('AWS::IAM::Role')).find((id) => id.startsWith('SageMakerExecutionRole')),
        'Arn',
      ],
    });
    const enterprise = ballastStack({ source: { ...GITHUB, apiUrl: 'https://github.acme.internal/api/v3' } }).template;
    assert.equal(
      environmentOf(enterprise, 'FunctionsRecordFunction').BALLAST_GITHUB_API_URL,
      'https://github.acme.internal/api/v3',
    );
  });

  it('sizes each function for its work', () => {
    const sizing = (prefix: string) => {
      const fn = Object.entries(codecommit.findResources('AWS::Lambda::Function')).find(([id]) =>
        id.startsWith(prefix),
      )?.[1].Properties;
      return { timeout: fn?.Timeout, memory: fn?.MemorySize };
    };
    // Register streams multi-GB artifacts through sha256 and copies them.
    assert.deepEqual(sizing('FunctionsRegisterFunction'), { timeout: 900, memory: 1769 });
    assert.deepEqual(sizing('FunctionsLeaseFunction'), { timeout: 30, memory: 256 });
  });
});
