import { s3 } from '../aws/s3.ts';
import { storeContent } from '../registry/artifacts.ts';
import { planBatches } from '../registry/batches.ts';
import { modelFiles } from '../registry/model-files.ts';
import { lambdaHandler } from '../runtime/handler.ts';
import { canonicalJson, sha256Hex } from '../spec/canonical.ts';
import { type RegisterInput, registerInput } from '../workflow/payloads.ts';
import type { FilePlan } from '../workflow/types.ts';
import { assertLease, logger, readRelease, stateStore } from './runtime.ts';

/**
 * Register, first half: pin the prompts and configs (small, write-once, content-addressed) and plan
 * the model's files into batches for the workflow's files Map, which verifies them in parallel
 * (register-files.ts); Pin then writes the version pointer. Validate already refused a file too big
 * for one Lambda to verify, so every batch here fits one.
 */
export async function register(work: RegisterInput): Promise<FilePlan> {
  const store = stateStore();
  await assertLease(store, work);
  const release = await readRelease(store, work);
  for (const spec of [...release.prompts.map((p) => p.spec), ...release.configs.map((c) => c.spec.data)]) {
    const body = canonicalJson(spec);
    await storeContent(s3(), store.bucket, sha256Hex(body), body);
  }
  const files = modelFiles(release);
  const batches = planBatches(files);
  const bytes = files.reduce((sum, file) => sum + file.sizeBytes, 0);
  logger.info('files planned', { files: files.length, bytes, batches: batches.length });
  return { batches: batches.map((_, index) => index), files: files.length, bytes };
}

export const handler = lambdaHandler(registerInput, register, {
  keys: (work) => ({ commit: work.push.commit, environment: work.environment, endpoint: work.endpoint }),
});
