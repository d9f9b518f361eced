import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MAX_BATCHES, planBatches } from '../../../lambdas/registry/batches.ts';

const GiB = 1024 ** 3;
const files = (sizes: readonly number[]) => sizes.map((sizeBytes) => ({ sizeBytes }));

describe('planBatches', () => {
  it('gives each shard of a 140 GB model its own batch, and the small files one together', () => {
    // 30 safetensors shards of ~4.7 GB, then config, tokenizer and generation config.
    const shards = Array.from({ length: 30 }, () => 4.7e9);
    const batches = planBatches(files([...shards, 700, 9_000_000, 200]));
    assert.equal(batches.length, 31);
    assert.deepEqual(batches.slice(0, 3), [[0], [1], [2]]);
    assert.deepEqual(batches.at(-1), [30, 31, 32]);
  });

  it('puts every file in exactly one batch, in order', () => {
    const sizes = Array.from({ length: 250 }, (_, i) => (i % 7) * 300 * 1024 ** 2);
    const batches = planBatches(files(sizes));
    assert.ok(batches.length > 0);
    assert.deepEqual(
      batches.flat(),
      sizes.map((_, i) => i),
    );
  });

  it('keeps a batch within its bytes unless a single file is bigger', () => {
    const batches = planBatches(files([1 * GiB, 1 * GiB, 1 * GiB, 3 * GiB, 10]));
    assert.deepEqual(batches, [[0, 1], [2], [3], [4]]);
  });

  it('caps the files of one batch', () => {
    const batches = planBatches(files(Array.from({ length: 250 }, () => 10)));
    assert.deepEqual(
      batches.map((b) => b.length),
      [100, 100, 50],
    );
  });

  it(`never plans more than ${MAX_BATCHES} batches for a directory of 10,000 files`, () => {
    const batches = planBatches(files(Array.from({ length: 10_000 }, () => 100 * 1024 ** 2)));
    assert.ok(batches.length <= MAX_BATCHES, `${batches.length} batches`);
    assert.equal(batches.flat().length, 10_000);
  });

  it('plans one batch for an archive, and none for no files', () => {
    assert.deepEqual(planBatches(files([12 * GiB])), [[0]]);
    assert.deepEqual(planBatches([]), []);
  });
});
