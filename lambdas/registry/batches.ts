/**
 * How Register splits a model's files into the batches its Map verifies in parallel: pure, so the
 * step that plans the Map and each iteration that takes one batch compute the same split from the
 * same release (the Map's items are just batch numbers, whatever the number of files).
 *
 * - A large file is a batch of its own: a 140 GB model in 30 shards is 30 Lambdas at once, not one
 *   that runs out of its 15 minutes.
 * - Small files (tokenizer, configs) share a batch, so a directory of 2,000 small files is not
 *   2,000 Lambda invocations.
 * - At most {@link MAX_BATCHES} batches, so one model's Map stays far inside a standard execution's
 *   history of 25,000 events (Step Functions Developer Guide, "Step Functions service quotas":
 *   each iteration costs about seven events). When a directory has more files than that allows,
 *   batches grow, never past what one Lambda verifies in time ({@link BatchLimits.maxBatchBytes}).
 */

export interface SizedFile {
  readonly sizeBytes: number;
}

export interface BatchLimits {
  /** Bytes one batch may hold before the next file starts a new one. @default 2 GiB */
  readonly batchBytes?: number;
  /** Files one batch may hold. @default 100 */
  readonly batchFiles?: number;
  /** Batches one model may have. @default {@link MAX_BATCHES} */
  readonly maxBatches?: number;
}

export const MAX_BATCHES = 500;
const GiB = 1024 ** 3;

/**
 * Splits files (in their given order, the manifest's path order) into batches of file indexes.
 * Greedy and deterministic: a file joins the current batch unless that would pass the batch's
 * bytes or files; a file bigger than a batch's bytes is a batch alone.
 */
export function planBatches(files: readonly SizedFile[], limits: BatchLimits = {}): number[][] {
  const maxBatches = limits.maxBatches ?? MAX_BATCHES;
  const total = files.reduce((sum, file) => sum + file.sizeBytes, 0);
  // Grow the batches until they number at most maxBatches; each pass at least doubles them.
  let bytes = Math.max(limits.batchBytes ?? 2 * GiB, Math.ceil(total / maxBatches));
  let count = Math.max(limits.batchFiles ?? 100, Math.ceil(files.length / maxBatches));
  for (;;) {
    const batches = split(files, bytes, count);
    if (batches.length <= maxBatches) return batches;
    bytes *= 2;
    count *= 2;
  }
}

function split(files: readonly SizedFile[], bytes: number, count: number): number[][] {
  const batches: number[][] = [];
  let current: number[] = [];
  let currentBytes = 0;
  files.forEach((file, index) => {
    if (current.length > 0 && (currentBytes + file.sizeBytes > bytes || current.length >= count)) {
      batches.push(current);
      current = [];
      currentBytes = 0;
    }
    current.push(index);
    currentBytes += file.sizeBytes;
  });
  if (current.length > 0) batches.push(current);
  return batches;
}
