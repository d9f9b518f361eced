/** The editor schema (schema/ballast.schema.json), generated from the zod schema. */
import { z } from 'zod';
import { API_VERSION, BallastDocument } from './schema.ts';

export const JSON_SCHEMA_ID = 'https://ballast.dev/schema/v1/ballast.schema.json';

/**
 * JSON Schema draft-07 (what yaml-language-server and most editors read best) for any Ballast
 * document, a oneOf discriminated on kind. Input shape: fields with defaults are optional.
 */
export function buildJsonSchema(): Record<string, unknown> {
  const generated = z.toJSONSchema(BallastDocument, { target: 'draft-7', io: 'input' }) as Record<string, unknown>;
  const { $schema, ...rest } = generated;
  return {
    $schema,
    $id: JSON_SCHEMA_ID,
    title: `Ballast model repository resource (${API_VERSION})`,
    description:
      'A Ballast resource: Repository (ballast.yaml), Model, Endpoint, Prompt or Config. Generated from lambdas/spec/schema.ts by `npm run schema`; do not edit.',
    ...rest,
  };
}

/** The exact text of schema/ballast.schema.json. */
export function jsonSchemaText(): string {
  return `${JSON.stringify(buildJsonSchema(), null, 2)}\n`;
}
