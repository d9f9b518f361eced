// Bad repositories as real files (test/fixtures/spec/<case>/): every issue pinned by code, file,
// line, column and JSON path, plus the wording users rely on (messages and `expected`).
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { memorySource, validateRepository } from '../../../lambdas/spec/index.ts';
import { briefs, FIXTURES, only, validateFixture } from './helpers.ts';

describe('schema errors', () => {
  it('reports unknown fields, ranges, formats, types and missing fields in every file at once', async () => {
    const result = await validateFixture('schema-errors');
    assert.equal(result.ok, false);
    assert.equal(result.repository, undefined);
    assert.deepEqual(briefs(result), [
      'error unknown-field endpoints/chat.yaml:9:7 $.spec.target.sagemaker.instancetype',
      'error range endpoints/chat.yaml:10:22 $.spec.target.sagemaker.instanceCount',
      'error range endpoints/chat.yaml:14:16 $.spec.rollout.canary.percent',
      'error unknown-field endpoints/chat.yaml:15:5 $.spec.rollout.linear',
      'error range endpoints/chat.yaml:17:18 $.spec.rollout.bakeSeconds',
      'error unknown-field endpoints/chat.yaml:19:3 $.spec.color',
      'error enum endpoints/rollouts.yaml:11:15 $.spec.rollout.strategy',
      'error range endpoints/rollouts.yaml:25:20 $.spec.rollout.linear.stepPercent',
      'error range endpoints/rollouts.yaml:27:21 $.spec.rollout.timeoutSeconds',
      'error format models/broken.yaml:4:9 $.metadata.name',
      'error format models/broken.yaml:7:10 $.spec.artifact.uri',
      'error format models/broken.yaml:8:13 $.spec.artifact.sha256',
      'error format models/broken.yaml:10:10 $.spec.image',
      'error type models/broken.yaml:12:11 $.spec.environment.PORT',
      'error format models/broken.yaml:13:5 $.spec.environment["bad-name"]',
      'error required models/incomplete.yaml:5:1 $.spec.artifact',
      'error type models/llm.yaml:8:13 $.spec.artifact.sha256',
    ]);
  });

  it('says what would be right', async () => {
    const result = await validateFixture('schema-errors');
    const typo = only(result, 'unknown-field', '$.spec.target.sagemaker.instancetype');
    assert.equal(typo.message, "unknown field 'instancetype' (did you mean 'instanceType'?)");
    assert.equal(typo.expected, 'one of the fields: instanceType, instanceCount, variantName, gpus');
    const percent = only(result, 'range', '$.spec.rollout.canary.percent');
    assert.equal(percent.message, 'canary.percent is 75, out of range');
    assert.equal(percent.expected, 'an integer from 1 to 50');
    assert.match(only(result, 'unknown-field', '$.spec.rollout.linear').message, /only applies to strategy: linear/);
    assert.equal(only(result, 'enum', '$.spec.rollout.strategy').expected, 'one of: allAtOnce, canary, linear');
    assert.equal(only(result, 'range', '$.spec.rollout.linear.stepPercent').expected, 'an integer from 10 to 50');
    assert.equal(only(result, 'range', '$.spec.rollout.bakeSeconds').expected, 'an integer from 0 to 3600');
    assert.equal(only(result, 'range', '$.spec.rollout.timeoutSeconds').expected, 'an integer from 600 to 28800');
    assert.match(only(result, 'format', '$.spec.image').expected ?? '', /ECR image URI/);
    assert.match(only(result, 'type', '$.spec.environment.PORT').expected ?? '', /quote numbers/);
    const missing = only(result, 'required', '$.spec.artifact');
    assert.equal(missing.message, "missing required field 'artifact'");
    assert.equal(
      missing.expected,
      'a mapping with uri, sha256 and sizeBytes (a .tar.gz archive), or with prefix and files or manifest (an uncompressed model directory)',
    );
    // An all-digit digest written without quotes is a YAML number: the hint says to quote it.
    const digest = result.issues.find((issue) => issue.file === 'models/llm.yaml');
    assert.match(digest?.message ?? '', /is the number 0/);
    assert.match(digest?.expected ?? '', /in quotes/);
  });
});

describe('ballast.yaml environments', () => {
  it('checks account, region, unique names and branches, reconcile and writeBack', async () => {
    const result = await validateFixture('environments');
    assert.deepEqual(briefs(result), [
      'error type ballast.yaml:9:16 $.spec.environments[0].account',
      'error duplicate-name ballast.yaml:11:13 $.spec.environments[1].name',
      'error duplicate-value ballast.yaml:12:15 $.spec.environments[1].branch',
      'error format ballast.yaml:13:16 $.spec.environments[1].account',
      'error format ballast.yaml:14:15 $.spec.environments[1].region',
      'error range ballast.yaml:16:22 $.spec.reconcile.intervalMinutes',
      'error type ballast.yaml:17:15 $.spec.reconcile.selfHeal',
      'error enum ballast.yaml:20:11 $.spec.writeBack.mode',
    ]);
    assert.equal(
      only(result, 'type', '$.spec.environments[0].account').expected,
      'a 12-digit AWS account ID in quotes, e.g. "111122223333"',
    );
    assert.equal(only(result, 'type', '$.spec.reconcile.selfHeal').expected, 'true or false');
    assert.match(
      only(result, 'duplicate-value', '$.spec.environments[1].branch').message,
      /already feeds environment 'staging'/,
    );
  });
});

describe('references', () => {
  it('checks every reference, lists what exists and suggests near misses', async () => {
    const result = await validateFixture('references');
    assert.deepEqual(briefs(result), [
      'error reference endpoints/api.yaml:6:10 $.spec.model',
      'error reference endpoints/api.yaml:7:20 $.spec.prompts[1]',
      'error duplicate-value endpoints/api.yaml:7:30 $.spec.prompts[2]',
      'error reference endpoints/api.yaml:8:13 $.spec.configs[0]',
      'error reference endpoints/api.yaml:9:24 $.spec.environments[1]',
      'error duplicate-value endpoints/api.yaml:9:28 $.spec.environments[2]',
      'error duplicate-value endpoints/api.yaml:13:21 $.spec.alarms[1]',
      'error type endpoints/api.yaml:24:22 $.spec.target.sagemaker.instanceCount',
      'error format models/broken.yaml:8:13 $.spec.artifact.sha256',
      'error reference prompts/greet.yaml:6:10 $.spec.model',
    ]);
    const model = result.issues.find((issue) => issue.file === 'endpoints/api.yaml' && issue.path === '$.spec.model');
    assert.equal(model?.message, "Model 'llm-8b' is not declared in this repository");
    assert.equal(model?.expected, 'a Model declared in this repository: broken, llm');
    const hint = result.issues.find((issue) => issue.file === 'prompts/greet.yaml');
    assert.equal(hint?.message, "Model 'lm' is not declared in this repository (did you mean 'llm'?)");
    assert.match(only(result, 'reference', '$.spec.configs[0]').message, /did you mean 'rag'\?/);
    assert.equal(
      only(result, 'reference', '$.spec.environments[1]').expected,
      'an environment declared in ballast.yaml: staging, prod',
    );
    // The Model 'broken' has errors of its own, but it is declared: referring to it is not an error too.
    assert.ok(!result.issues.some((issue) => issue.message.includes("'broken' is not declared")));
  });
});

describe('references with an invalid ballast.yaml', () => {
  it('still checks environment names against ballast.yaml', async () => {
    const repository = (await readFile(join(FIXTURES, 'references', 'ballast.yaml'), 'utf8')).replace(
      'account: "111122223333"',
      'account: 111122223333',
    );
    const endpoint = [
      'apiVersion: ballast.dev/v1',
      'kind: Endpoint',
      'metadata:',
      '  name: api',
      'spec:',
      '  model: llm',
      '  environments: [qa]',
      '  target:',
      '    sagemaker: { instanceType: ml.g5.xlarge }',
      '  alarms: [a]',
      '',
    ].join('\n');
    const model = await readFile(join(FIXTURES, 'references', 'models', 'llm.yaml'), 'utf8');
    const result = await validateRepository(
      memorySource({ 'ballast.yaml': repository, 'endpoints/api.yaml': endpoint, 'models/llm.yaml': model }),
    );
    assert.deepEqual(briefs(result), [
      'error type ballast.yaml:9:16 $.spec.environments[0].account',
      'error reference endpoints/api.yaml:7:18 $.spec.environments[0]',
    ]);
  });
});

describe('GPU and target checks', () => {
  it('matches GPU requests with instance families and counts, and applies target defaults', async () => {
    const result = await validateFixture('gpu');
    assert.deepEqual(briefs(result), [
      'error gpu-instance endpoints/eks.yaml:12:43 $.spec.target.eks.nodeSelector["node.kubernetes.io/instance-type"]',
      'error gpu-count endpoints/eks.yaml:25:23 $.spec.target.eks.gpusPerReplica',
      'error name-format endpoints/eks.yaml:34:19 $.metadata.name',
      'error required endpoints/eks.yaml:47:5 $.spec.target.eks',
      'error required endpoints/eks.yaml:47:5 $.spec.target.eks',
      'error exactly-one endpoints/eks.yaml:58:5 $.spec.target.eks',
      'error exactly-one endpoints/eks.yaml:66:3 $.spec.target',
      'error gpu-instance endpoints/sagemaker.yaml:7:32 $.spec.target.sagemaker.instanceType',
      'error gpu-instance endpoints/sagemaker.yaml:16:32 $.spec.target.sagemaker.instanceType',
      'error gpu-count endpoints/sagemaker.yaml:25:53 $.spec.target.sagemaker.gpus',
      'warning gpu-image endpoints/sagemaker.yaml:34:32 $.spec.target.sagemaker.instanceType',
      'error required endpoints/sagemaker.yaml:52:5 $.spec.target.sagemaker',
      'warning region-mismatch endpoints/sagemaker.yaml:59:10 $.spec.model',
      'warning region-mismatch endpoints/sagemaker.yaml:59:10 $.spec.model',
      'warning mutable-image models/west.yaml:10:10 $.spec.image',
    ]);
    const neuron = result.issues.find((issue) => issue.line === 16 && issue.code === 'gpu-instance');
    assert.match(neuron?.message ?? '', /ml\.inf2\.xlarge is an AWS Neuron/);
    const count = only(result, 'gpu-count', '$.spec.target.sagemaker.gpus');
    assert.equal(count.message, 'gpus: 4, but ml.g5.2xlarge has 1 GPU');
    assert.equal(count.expected, 'at most 1, or a larger instance size');
    // ml.g5.12xlarge has 4 GPUs: the 'enough-gpus' endpoint (line 37-44) has no issue.
    assert.ok(
      !result.issues.some((issue) => issue.file === 'endpoints/sagemaker.yaml' && issue.line >= 37 && issue.line <= 44),
    );
  });
});

describe('rollouts and alarms', () => {
  it('requires alarms for canary and linear, checks timeouts, warns about allAtOnce without alarms', async () => {
    const result = await validateFixture('alarms');
    assert.deepEqual(briefs(result), [
      'error rollout-timeout ballast.yaml:20:23 $.spec.defaults.rollout.timeoutSeconds',
      'error alarms-required endpoints/endpoints.yaml:4:1 $.spec',
      'error alarms-required endpoints/endpoints.yaml:17:15 $.spec.rollout.strategy',
      'warning no-alarms endpoints/endpoints.yaml:23:1 $.spec',
      'error range endpoints/endpoints.yaml:36:11 $.spec.alarms',
      'warning rollout-timeout endpoints/endpoints.yaml:49:21 $.spec.rollout.timeoutSeconds',
    ]);
    assert.match(only(result, 'alarms-required', '$.spec').message, /comes from defaults\.rollout in ballast\.yaml/);
    assert.equal(only(result, 'range', '$.spec.alarms').expected, 'a list of 1 to 10 CloudWatch alarm names');
  });
});

describe('prompts', () => {
  it('checks declared and used variables, text or messages, and roles', async () => {
    const result = await validateFixture('prompts');
    assert.deepEqual(briefs(result), [
      'warning unused-variable prompts/prompts.yaml:6:25 $.spec.variables[1]',
      'error duplicate-value prompts/prompts.yaml:6:33 $.spec.variables[2]',
      'error undeclared-variable prompts/prompts.yaml:10:15 $.spec.text',
      'error exactly-one prompts/prompts.yaml:17:3 $.spec.messages',
      'error exactly-one prompts/prompts.yaml:23:1 $.spec',
      'error unknown-field prompts/prompts.yaml:33:7 $.spec.variables[0].type',
      'error enum prompts/prompts.yaml:37:13 $.spec.messages[1].role',
    ]);
    const undeclared = only(result, 'undeclared-variable', '$.spec.text');
    assert.equal(undeclared.message, '{{language}} is used but not declared in variables');
    assert.match(undeclared.expected ?? '', /add 'language' to variables/);
  });
});

describe('secrets', () => {
  it('finds secrets in values and comments, refuses unresolved Secrets Manager references, never prints them', async () => {
    const result = await validateFixture('secrets');
    assert.deepEqual(briefs(result), [
      'error secret configs/leaky.yaml:14:9 $.spec.data.tls.key',
      'error secret configs/leaky.yaml:18:30 $.spec.data.aws.aws_secret_access_key',
      'error secret configs/leaky.yaml:19:20 $.spec.data.client_secret',
      'error secret models/leaky.yaml:1:28 $',
      'error secret models/leaky.yaml:13:18 $.spec.environment.DB_PASSWORD',
      'error secret-reference models/leaky.yaml:14:20 $.spec.environment.SAFE_PASSWORD',
    ]);
    const secrets = result.issues.filter((issue) => issue.code === 'secret');
    assert.equal(secrets.length, 5);
    for (const issue of secrets) {
      assert.match(issue.message, /secrets belong in Secrets Manager/);
      for (const secret of ['AKIAIOSFODNN7EXAMPLE', 'hunter2', 'wJalrXUtnFEMI', 's3cr3t-value', 'MHcCAQEE']) {
        assert.ok(!JSON.stringify(issue).includes(secret), `${issue.code} at ${issue.path} leaks ${secret}`);
      }
    }
    assert.match(only(result, 'secret', '$').message, /AWS access key ID \(AKIA…, 20 characters\)/);
  });
});

describe('which files and documents are Ballast’s', () => {
  it('needs ballast.yaml at the root and the Repository in it', async () => {
    const result = await validateFixture('no-repository');
    assert.deepEqual(briefs(result), [
      'error missing-repository :0:0 $',
      'error misplaced-repository models/repo.yaml:2:7 $.kind',
    ]);
  });

  it('validates Ballast documents, flags near misses and ignores the rest', async () => {
    const result = await validateFixture('api-versions');
    assert.deepEqual(briefs(result), [
      'error api-version resources/mixed.yaml:1:13 $.apiVersion',
      'error api-version resources/mixed.yaml:7:13 $.apiVersion',
      'error unknown-field resources/mixed.yaml:13:3 $.spec.extra',
      'error api-version resources/mixed.yaml:15:1 $.apiVersion',
      'warning ignored-document resources/mixed.yaml:21:1 $',
      'error kind resources/mixed.yaml:27:7 $.kind',
    ]);
    // Hidden directories, node_modules, hidden files and non-YAML files are not read at all.
    assert.deepEqual(result.files, ['ballast.yaml', 'k8s/deployment.yaml', 'resources/mixed.yaml']);
    assert.match(only(result, 'kind', '$.kind').message, /did you mean 'Model'\?/);
  });

  it('reports duplicate keys with both positions and duplicate names across files', async () => {
    const result = await validateFixture('duplicates');
    assert.deepEqual(briefs(result), [
      'error duplicate-key endpoints/chat.yaml:10:7 $.spec.target.sagemaker.instanceType',
      'error duplicate-name endpoints/chat.yaml:16:9 $.metadata.name',
      'error duplicate-name models/b.yaml:4:9 $.metadata.name',
    ]);
    assert.equal(
      only(result, 'duplicate-key', '$.spec.target.sagemaker.instanceType').message,
      "duplicate key 'instanceType' (first defined at line 9, column 7)",
    );
    assert.match(
      result.issues[1]?.message ?? '',
      /endpoints\/chat\.yaml:4:9 as 'Chat' \(endpoint names are case-insensitive\)/,
    );
    assert.match(result.issues[2]?.message ?? '', /already declared in models\/a\.yaml:4:9/);
  });

  // Broken YAML is generated here rather than committed: the repository's formatter parses
  // committed YAML files and would reject it.
  it('reports YAML syntax errors in Ballast files, and only warns about other unparsable YAML', async () => {
    const repository = await readFile(join(FIXTURES, 'api-versions', 'ballast.yaml'), 'utf8');
    const result = await validateRepository(
      memorySource({
        'ballast.yaml': repository,
        'models/bad.yaml': 'apiVersion: ballast.dev/v1\nkind: Model\nmetadata:\n  name: bad: x\nspec: {}\n',
        'charts/web/templates/configmap.yaml': 'kind: ConfigMap\ndata:\n  value: {{ .Values.value }}\n  list: [1, 2\n',
        '.github/workflows/ci.yml': 'this: is: not: yaml: [\n',
      }),
    );
    assert.deepEqual(briefs(result), [
      'warning yaml-syntax charts/web/templates/configmap.yaml:5:1 $',
      'error yaml-syntax models/bad.yaml:4:9 $',
    ]);
    assert.match(result.issues[0]?.message ?? '', /the file is ignored: it does not look like a Ballast file/);
    assert.equal(result.issues[1]?.message, 'YAML syntax error: Nested mappings are not allowed in compact mappings');
    assert.deepEqual(result.files, ['ballast.yaml', 'charts/web/templates/configmap.yaml', 'models/bad.yaml']);
  });
});
