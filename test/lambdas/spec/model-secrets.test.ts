// Secrets a Model declares (spec.secrets), the variables they produce, and what the validator
// refuses in a Model's environment.
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import {
  isSecretId,
  memorySource,
  resolveReferenceSecretId,
  secretEnvName,
  secretNameOfArn,
  type ValidationResult,
  validateRepository,
} from '../../../lambdas/spec/index.ts';
import { briefs, EXAMPLE, only } from './helpers.ts';

const ARN = 'arn:aws:secretsmanager:us-east-1:111122223333:secret:acme-ml/huggingface-token-AbC123';

describe('secretEnvName', () => {
  it('names the ARN variable for reference delivery', () => {
    assert.equal(secretEnvName('HF_TOKEN', 'reference'), 'HF_TOKEN_SECRET_ARN');
  });

  it('names the variable itself for environment delivery', () => {
    assert.equal(secretEnvName('HF_TOKEN', 'environment'), 'HF_TOKEN');
  });
});

describe('secretNameOfArn', () => {
  it('drops the six random characters Secrets Manager appends', () => {
    assert.equal(secretNameOfArn(ARN), 'acme-ml/huggingface-token');
  });

  it('reads ARNs of other partitions', () => {
    assert.equal(secretNameOfArn('arn:aws-us-gov:secretsmanager:us-gov-west-1:111122223333:secret:db-Xy12Z9'), 'db');
  });

  it('is undefined for a secret name', () => {
    assert.equal(secretNameOfArn('acme-ml/huggingface-token'), undefined);
  });

  it('is undefined for an ARN without the six characters', () => {
    assert.equal(secretNameOfArn('arn:aws:secretsmanager:us-east-1:111122223333:secret:db'), undefined);
  });

  it('is undefined for another service', () => {
    assert.equal(secretNameOfArn('arn:aws:ssm:us-east-1:111122223333:parameter/db-AbC123'), undefined);
  });
});

describe('isSecretId', () => {
  it('accepts names and full ARNs', () => {
    assert.deepEqual(['acme-ml/huggingface-token', 'a+b=c.d@e_f', ARN].map(isSecretId), [true, true, true]);
  });

  it('refuses spaces, colons and names over 512 characters', () => {
    assert.deepEqual(['hf token', 'a:b', 'x'.repeat(513), ''].map(isSecretId), [false, false, false, false]);
  });
});

describe('resolveReferenceSecretId', () => {
  it('reads the secret name of a reference', () => {
    assert.equal(resolveReferenceSecretId('{{resolve:secretsmanager:prod/db:SecretString:password}}'), 'prod/db');
  });

  it('reads a full ARN in a reference', () => {
    assert.equal(resolveReferenceSecretId(`{{resolve:secretsmanager:${ARN}:SecretString:token}}`), ARN);
  });

  it('is undefined for other text', () => {
    assert.equal(resolveReferenceSecretId('secretsmanager'), undefined);
  });
});

let repositoryYaml = '';
before(async () => {
  repositoryYaml = await readFile(join(EXAMPLE, 'ballast.yaml'), 'utf8');
});

/** A Model with `body` under spec (after artifact and image; `body` starts on line 10). */
function model(body: string): string {
  return `apiVersion: ballast.dev/v1
kind: Model
metadata:
  name: llm
spec:
  artifact:
    uri: s3://acme-models/llm/model.tar.gz
    sha256: ${'a'.repeat(64)}
    sizeBytes: 1024
${body}
  image: 763104351884.dkr.ecr.us-east-1.amazonaws.com/djl-inference:0.31.0-lmi13.0.0-cu124
`;
}

function validate(body: string): Promise<ValidationResult> {
  return validateRepository(memorySource({ 'ballast.yaml': repositoryYaml, 'models/llm.yaml': model(body) }));
}

describe('spec.secrets', () => {
  it('accepts a secret by name, with reference delivery by default', async () => {
    const result = await validate('  secrets:\n    HF_TOKEN: { secretId: acme-ml/huggingface-token }');
    assert.deepEqual(result.repository?.models.get('llm')?.spec.secrets, {
      HF_TOKEN: { secretId: 'acme-ml/huggingface-token', delivery: 'reference' },
    });
  });

  it('accepts a secret by ARN, delivered as the value', async () => {
    const result = await validate(`  secrets:\n    HF_TOKEN: { secretId: "${ARN}", delivery: environment }`);
    assert.deepEqual(result.issues, []);
  });

  it('refuses a secretId that is neither a name nor an ARN', async () => {
    const result = await validate('  secrets:\n    HF_TOKEN: { secretId: "hf token" }');
    assert.deepEqual(briefs(result), ['error format models/llm.yaml:11:27 $.spec.secrets.HF_TOKEN.secretId']);
  });

  it('refuses an unknown delivery', async () => {
    const result = await validate('  secrets:\n    HF_TOKEN: { secretId: hf, delivery: file }');
    assert.equal(only(result, 'enum', '$.spec.secrets.HF_TOKEN.delivery').expected, 'one of: reference, environment');
  });

  it('refuses a secret whose variable the environment also sets', async () => {
    const result = await validate(
      '  environment:\n    HF_TOKEN_SECRET_ARN: x\n  secrets:\n    HF_TOKEN: { secretId: acme-ml/huggingface-token }',
    );
    const issue = only(result, 'env-conflict', '$.spec.secrets.HF_TOKEN');
    assert.deepEqual(
      [briefs(result), issue.message],
      [
        ['error env-conflict models/llm.yaml:13:5 $.spec.secrets.HF_TOKEN'],
        'secret HF_TOKEN gives the container HF_TOKEN_SECRET_ARN (delivery: reference), which spec.environment also sets',
      ],
    );
  });

  it('refuses two secrets that give the container one variable', async () => {
    const result = await validate(
      '  secrets:\n    HF_TOKEN: { secretId: a }\n    HF_TOKEN_SECRET_ARN: { secretId: b, delivery: environment }',
    );
    assert.equal(
      only(result, 'env-conflict', '$.spec.secrets.HF_TOKEN_SECRET_ARN').message,
      'secret HF_TOKEN_SECRET_ARN gives the container HF_TOKEN_SECRET_ARN, which secret HF_TOKEN also gives it',
    );
  });

  it('refuses a secret named with the reserved BALLAST_ prefix', async () => {
    const result = await validate('  secrets:\n    BALLAST_TOKEN: { secretId: a }');
    assert.deepEqual(briefs(result), ['error reserved-name models/llm.yaml:11:5 $.spec.secrets.BALLAST_TOKEN']);
  });
});

describe('spec.environment', () => {
  it('refuses a {{resolve:secretsmanager:...}} reference and says what to declare instead', async () => {
    const result = await validate(
      '  environment:\n    HF_TOKEN: "{{resolve:secretsmanager:acme-ml/huggingface-token}}"',
    );
    const issue = only(result, 'secret-reference', '$.spec.environment.HF_TOKEN');
    assert.deepEqual(
      [`${issue.line}:${issue.column}`, issue.message, issue.expected],
      [
        '11:15',
        'HF_TOKEN is a {{resolve:secretsmanager:...}} reference, which Ballast does not resolve: the container would get this text, not the secret',
        'the secret declared under spec.secrets instead: HF_TOKEN: { secretId: acme-ml/huggingface-token } (the container then gets HF_TOKEN_SECRET_ARN to read it with; delivery: environment gives it HF_TOKEN with the value)',
      ],
    );
  });

  it('allows a plain ARN value: the container reads the secret itself', async () => {
    const result = await validate(`  environment:\n    DB_SECRET: "${ARN}"`);
    assert.deepEqual(result.issues, []);
  });

  it('refuses a variable named with the reserved BALLAST_ prefix', async () => {
    const result = await validate('  environment:\n    BALLAST_COMMIT: abc');
    const issue = only(result, 'reserved-name', '$.spec.environment.BALLAST_COMMIT');
    assert.match(
      issue.message,
      /^BALLAST_COMMIT: names starting with BALLAST_ are reserved for the variables Ballast sets/,
    );
  });

  it('refuses more than 96 variables: SageMaker allows 100 and Ballast sets 4', async () => {
    const variables = Array.from({ length: 97 }, (_, i) => `    V${i}: x`).join('\n');
    const result = await validate(`  environment:\n${variables}`);
    assert.match(only(result, 'range', '$.spec.environment').expected ?? '', /at most 96 environment variables/);
  });
});

describe('the secret scanner', () => {
  it('points literal secrets to spec.secrets', async () => {
    const result = await validate('  environment:\n    DB_PASSWORD: hunter2');
    const issue = only(result, 'secret', '$.spec.environment.DB_PASSWORD');
    assert.deepEqual(
      [issue.message, issue.expected],
      [
        "'DB_PASSWORD' holds a literal secret (7 characters, not shown): secrets belong in Secrets Manager; store it there and declare it under the Model's spec.secrets instead (if it was ever pushed, rotate it)",
        "no secret in Git: store it in Secrets Manager and declare it under the Model's spec.secrets (NAME: { secretId: SECRET-NAME })",
      ],
    );
  });
});
