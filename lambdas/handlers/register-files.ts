import { ArtifactIntegrityError, InvalidInputError } from '../aws/errors.ts';
import { s3 } from '../aws/s3.ts';
import { type PinStatus, pinFile } from '../registry/artifacts.ts';
import { planBatches } from '../registry/batches.ts';
import { modelFiles } from '../registry/model-files.ts';
import { lambdaHandler } from '../runtime/handler.ts';
import { mapPool } from '../runtime/pool.ts';
import { type RegisterFilesInput, registerFilesInput } from '../workflow/payloads.ts';
import { logger, readRelease, stateStore } from './runtime.ts';

/** Files of one batch pinned at once: small files share a batch, and each is a few round trips. */
const FILE_CONCURRENCY = 8;

export interface BatchResult {
  readonly batch: number;
  readonly files: number;
  readonly bytes: number;
  readonly pinned: Readonly<Record<PinStatus, number>>;
}

/**
 * RegisterFiles: one iteration of the workflow's files Map. Verifies the sha256 and size of each
 * file of its batch and copies it write-once to its pinned key (lambdas/registry/artifacts.ts
 * `pinFile`). A file already pinned costs one HEAD; a file already verified under another model
 * directory is copied server-side without reading the source. A file whose bytes do not match
 * fails the batch, and so the Map, with the file's declaration (file:line) and path: nothing
 * reaches SageMaker.
 */
export async function registerFiles(input: RegisterFilesInput): Promise<BatchResult> {
  const store = stateStore();
  const release = await readRelease(store, input);
  const files = modelFiles(release);
  const batch = planBatches(files)[input.batch];
  if (!batch) throw new InvalidInputError(`batch ${input.batch} does not exist for ${release.name}`);
  const index = release.model.artifact.form === 'directory';
  const statuses = await mapPool(batch, FILE_CONCURRENCY, async (position) => {
    const file = files[position];
    if (!file) throw new InvalidInputError(`file ${position} does not exist for ${release.name}`);
    const pinned = await pinFile(s3(), store.bucket, file, file.targetKey, { index }).catch((error: unknown) => {
      // The registry speaks of S3 objects; the user needs the declaration's line to fix.
      if (error instanceof ArtifactIntegrityError) throw new ArtifactIntegrityError(`${file.at}: ${error.message}`);
      if (error instanceof InvalidInputError) throw new InvalidInputError(`${file.at}: ${error.message}`);
      throw error;
    });
    return pinned.status;
  });
  const pinned: Record<PinStatus, number> = { existing: 0, copied: 0, verified: 0 };
  for (const status of statuses) pinned[status] += 1;
  const bytes = batch.reduce((sum, position) => sum + (files[position]?.sizeBytes ?? 0), 0);
  logger.info('batch pinned', { batch: input.batch, files: batch.length, bytes, ...pinned });
  return { batch: input.batch, files: batch.length, bytes, pinned };
}

export const handler = lambdaHandler(registerFilesInput, registerFiles, {
  keys: (input) => ({
    commit: input.push.commit,
    environment: input.environment,
    endpoint: input.endpoint,
    batch: String(input.batch),
  }),
});
