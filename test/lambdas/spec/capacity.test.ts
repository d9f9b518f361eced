// Rollouts in whole instances within SageMaker's limits, and the container environment limit:
// checked per endpoint with the instance count and rollout it really gets (ballast.yaml defaults
// included), each error naming where the values come from.
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import {
  ballastEnvironmentCount,
  canaryFits,
  canarySizeInstances,
  linearStepFits,
  linearStepInstances,
  maxStepPercent,
  memorySource,
  type ValidationResult,
  validateRepository,
} from '../../../lambdas/spec/index.ts';
import { briefs, EXAMPLE, only } from './helpers.ts';

describe('canarySizeInstances and linearStepInstances', () => {
  it('round a canary up to a whole instance', () => {
    assert.equal(canarySizeInstances(1, 10), 1);
  });

  it('size a canary of 50% of 2 instances as one instance', () => {
    assert.equal(canarySizeInstances(2, 50), 1);
  });

  it('round 33% of 3 instances up to one, without floating-point error', () => {
    assert.equal(canarySizeInstances(3, 33), 1);
  });

  it('round 50% of 3 instances up to two', () => {
    assert.equal(canarySizeInstances(3, 50), 2);
  });

  it('size a linear step of 10% of 100 instances as 10', () => {
    assert.equal(linearStepInstances(100, 10), 10);
  });

  it('size a linear step of 25% of 10 instances as 3', () => {
    assert.equal(linearStepInstances(10, 25), 3);
  });
});

describe('SageMaker limits in instances', () => {
  it('allow a canary of at most half the instances', () => {
    assert.deepEqual([canaryFits(2, 1), canaryFits(1, 1), canaryFits(3, 2)], [true, false, false]);
  });

  it('allow linear steps of 10% to 50% of the instances', () => {
    assert.deepEqual([linearStepFits(20, 2), linearStepFits(20, 1), linearStepFits(20, 11)], [true, false, false]);
  });

  it('give the largest percent that fits each instance count', () => {
    assert.deepEqual([1, 2, 3, 5, 10].map(maxStepPercent), [0, 50, 33, 40, 50]);
  });
});

describe('ballastEnvironmentCount', () => {
  it('counts the variables, the secrets, Ballast’s four and one per prompt and config', () => {
    const count = ballastEnvironmentCount(
      { environment: { A: '1', B: '2' }, secrets: { HF_TOKEN: { secretId: 'hf', delivery: 'reference' } } },
      { prompts: ['summarize', 'classify'], configs: ['retrieval'] },
    );
    assert.equal(count, 2 + 1 + 4 + 2 + 1);
  });
});

let repositoryYaml = '';
let modelYaml = '';
before(async () => {
  repositoryYaml = await readFile(join(EXAMPLE, 'ballast.yaml'), 'utf8');
  modelYaml = await readFile(join(EXAMPLE, 'models', 'summarizer-llm.yaml'), 'utf8');
});

/** An endpoint on SageMaker; `target` and `rollout` are the lines under target.sagemaker and spec. */
function endpoint(target: string, rollout: string): string {
  return `apiVersion: ballast.dev/v1
kind: Endpoint
metadata:
  name: chat
spec:
  model: summarizer-llm
  target:
    sagemaker:
      instanceType: ml.g5.2xlarge
${target}
${rollout}
  alarms: [chat-5xx]
`;
}

const canary = (percent: number) => `  rollout:\n    strategy: canary\n    canary: { percent: ${percent} }`;
const linear = (stepPercent: number) => `  rollout:\n    strategy: linear\n    linear: { stepPercent: ${stepPercent} }`;

function validate(files: Record<string, string>): Promise<ValidationResult> {
  return validateRepository(
    memorySource({ 'ballast.yaml': repositoryYaml, 'models/summarizer-llm.yaml': modelYaml, ...files }),
  );
}

describe('canary rollouts on SageMaker', () => {
  it('accept a canary of one of two instances', async () => {
    const result = await validate({ 'endpoints/chat.yaml': endpoint('      instanceCount: 2', canary(50)) });
    assert.deepEqual(result.issues, []);
  });

  it('refuse a canary on one instance, at the percent', async () => {
    const result = await validate({ 'endpoints/chat.yaml': endpoint('      instanceCount: 1', canary(10)) });
    assert.deepEqual(briefs(result), [
      'error rollout-capacity endpoints/chat.yaml:13:24 $.spec.rollout.canary.percent',
    ]);
  });

  it('say that a 1-instance endpoint cannot canary, and what to change', async () => {
    const result = await validate({ 'endpoints/chat.yaml': endpoint('      instanceCount: 1', canary(10)) });
    const issue = only(result, 'rollout-capacity', '$.spec.rollout.canary.percent');
    assert.deepEqual(
      [issue.message, issue.expected],
      [
        "a canary of 10% of 1 instance is 1 instance (Ballast rounds up to whole instances), more than half of them: SageMaker allows a canary of at most 50% of the variant's instances, so a 1-instance endpoint cannot canary: SageMaker would refuse the deployment",
        'instanceCount: 2 or more, or strategy: allAtOnce',
      ],
    );
  });

  it('refuse 50% of 3 instances and name the largest percent that fits', async () => {
    const result = await validate({ 'endpoints/chat.yaml': endpoint('      instanceCount: 3', canary(50)) });
    assert.equal(
      only(result, 'rollout-capacity', '$.spec.rollout.canary.percent').expected,
      'canary.percent of at most 33 for 3 instances, a larger instanceCount, or strategy: allAtOnce',
    );
  });

  it('take the instance count from ballast.yaml defaults and say so', async () => {
    // The example's ballast.yaml sets defaults.sagemaker.instanceCount: 1.
    const result = await validate({ 'endpoints/chat.yaml': endpoint('', canary(10)) });
    assert.match(
      only(result, 'rollout-capacity', '$.spec.rollout.canary.percent').message,
      /\(instanceCount comes from defaults\.sagemaker in ballast\.yaml:26\)$/,
    );
  });

  it('check a rollout from ballast.yaml defaults at the endpoint, naming where it is declared', async () => {
    const repository = repositoryYaml.replace(
      '    rollout:\n      strategy: allAtOnce\n      bakeSeconds: 300\n      timeoutSeconds: 3600\n',
      '    rollout:\n      strategy: canary\n      canary: { percent: 20 }\n      bakeSeconds: 300\n      timeoutSeconds: 3600\n',
    );
    assert.notEqual(repository, repositoryYaml);
    const result = await validate({
      'ballast.yaml': repository,
      'endpoints/chat.yaml': endpoint('      instanceCount: 1', ''),
    });
    const issue = only(result, 'rollout-capacity', '$.spec.target.sagemaker.instanceCount');
    assert.deepEqual(
      [
        `${issue.file}:${issue.line}`,
        / \(the rollout comes from defaults\.rollout in ballast\.yaml:23\)$/.test(issue.message),
      ],
      ['endpoints/chat.yaml:10', true],
    );
  });

  it('leave an EKS endpoint to its HTTPRoute weights', async () => {
    const eks = `apiVersion: ballast.dev/v1
kind: Endpoint
metadata:
  name: chat
spec:
  model: summarizer-llm
  target:
    eks:
      replicas: 1
      httpRoute: { name: chat }
${canary(10)}
  alarms: [chat-5xx]
`;
    const result = await validate({ 'endpoints/chat.yaml': eks });
    assert.ok(!result.issues.some((issue) => issue.code === 'rollout-capacity'));
  });
});

describe('linear rollouts on SageMaker', () => {
  it('accept steps of 10% of 20 instances', async () => {
    const result = await validate({ 'endpoints/chat.yaml': endpoint('      instanceCount: 20', linear(10)) });
    assert.deepEqual(result.issues, []);
  });

  it('refuse linear steps on one instance', async () => {
    const result = await validate({ 'endpoints/chat.yaml': endpoint('      instanceCount: 1', linear(10)) });
    assert.match(
      only(result, 'rollout-capacity', '$.spec.rollout.linear.stepPercent').message,
      /so a 1-instance endpoint cannot shift traffic linearly/,
    );
  });

  it('refuse a step that rounds up to more than half', async () => {
    const result = await validate({ 'endpoints/chat.yaml': endpoint('      instanceCount: 3', linear(50)) });
    assert.equal(
      only(result, 'rollout-capacity', '$.spec.rollout.linear.stepPercent').expected,
      'linear.stepPercent of at most 33 for 3 instances, a larger instanceCount, or strategy: allAtOnce',
    );
  });
});

describe('the container environment limit', () => {
  it('counts prompts and configs with the model’s variables, at the endpoint', async () => {
    // The model has 3 variables and 1 secret; Ballast adds 4 and one per prompt and config.
    const prompts = Array.from({ length: 20 }, (_, i) => `p${i}`);
    const configs = Array.from({ length: 20 }, (_, i) => `c${i}`);
    const variables = Array.from({ length: 60 }, (_, i) => `    V${i}: x`).join('\n');
    const model = modelYaml.replace(
      '    OPTION_ROLLING_BATCH: vllm\n',
      `    OPTION_ROLLING_BATCH: vllm\n${variables}\n`,
    );
    const files: Record<string, string> = {
      'models/summarizer-llm.yaml': model,
      'endpoints/chat.yaml': endpoint('      instanceCount: 2', `  prompts: [${prompts}]\n  configs: [${configs}]`),
    };
    for (const name of prompts) {
      files[`prompts/${name}.yaml`] =
        `apiVersion: ballast.dev/v1\nkind: Prompt\nmetadata: { name: ${name} }\nspec: { text: hello }\n`;
    }
    for (const name of configs) {
      files[`configs/${name}.yaml`] =
        `apiVersion: ballast.dev/v1\nkind: Config\nmetadata: { name: ${name} }\nspec: { data: { k: 1 } }\n`;
    }
    const result = await validate(files);
    assert.equal(
      only(result, 'env-limit', '$.spec.model').message,
      "endpoint 'chat' would give its container 108 environment variables: 63 from model 'summarizer-llm', 1 secret, and 44 Ballast sets (4 of its own, one per prompt and config); SageMaker allows at most 100",
    );
  });
});
