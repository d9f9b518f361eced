// Writes schema/ballast.schema.json from the zod schema in lambdas/spec/schema.ts (`npm run schema`).
// The test in test/lambdas/spec/json-schema.test.ts fails when the committed file is stale.
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { jsonSchemaText } from '../lambdas/spec/json-schema.ts';

const target = join(dirname(fileURLToPath(import.meta.url)), '..', 'schema', 'ballast.schema.json');
await mkdir(dirname(target), { recursive: true });
await writeFile(target, jsonSchemaText());
process.stdout.write(`wrote ${target}\n`);
