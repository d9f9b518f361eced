/**
 * Runs `fn` over `items` with at most `size` calls in flight, results in input order. For fan-outs
 * inside one Lambda (release documents, file hashes): bounded, so a 2,000-item plan neither
 * serialises 2,000 round trips nor opens 2,000 sockets at once.
 */
export async function mapPool<T, R>(items: readonly T[], size: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const index = next++;
      results[index] = await fn(items[index] as T);
    }
  };
  await Promise.all(Array.from({ length: Math.min(size, items.length) }, worker));
  return results;
}
