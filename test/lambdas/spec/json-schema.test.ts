import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { describe, it } from 'node:test';
import { buildJsonSchema, jsonSchemaText } from '../../../lambdas/spec/index.ts';

const committed = new URL('../../../schema/ballast.schema.json', import.meta.url);

describe('schema/ballast.schema.json', () => {
  it('is up to date with lambdas/spec/schema.ts', async () => {
    const text = await readFile(committed, 'utf8');
    assert.ok(
      text === jsonSchemaText(),
      'schema/ballast.schema.json is stale: run `npm run schema` and commit the result',
    );
  });

  it('is one draft-07 schema discriminated on kind, with the limits users hit first', () => {
    const schema = buildJsonSchema() as {
      $schema: string;
      oneOf: Array<{ properties: { kind: { const: string } } }>;
    };
    assert.equal(schema.$schema, 'http://json-schema.org/draft-07/schema#');
    assert.deepEqual(
      schema.oneOf.map((branch) => branch.properties.kind.const),
      ['Repository', 'Model', 'Endpoint', 'Prompt', 'Config'],
    );
    const text = JSON.stringify(schema);
    assert.match(text, /"percent":\{[^}]*"minimum":1,"maximum":50/);
    assert.match(text, /"stepPercent":\{[^}]*"minimum":10,"maximum":50/);
    assert.match(text, /"timeoutSeconds":\{[^}]*"minimum":600,"maximum":28800/);
  });
});
