import { isCandidatePath, type RepoEntry, type RepoSource, RepoSourceError } from '../spec/source.ts';
import { DEFAULT_LIMITS } from '../spec/types.ts';

/**
 * The Ballast files of one commit, captured once by Resolve and stored write-once in S3. Every
 * later step reads the snapshot, not the repository, so all steps of an execution see exactly the
 * same commit even if the branch moves on, and Git is read once per push.
 *
 * Entries are kept for every path (so the validator can still refuse symlinks and oversized files
 * with its own messages); contents only for the YAML files it will read, within its size limits.
 */
export interface Snapshot {
  readonly commit: string;
  readonly entries: readonly RepoEntry[];
  /** Path -> UTF-8 content. Binary content fails validation anyway, so base64 is not needed. */
  readonly files: Readonly<Record<string, string>>;
  /** Candidate files whose bytes were not valid UTF-8: kept as base64 so the validator reports them. */
  readonly binary: Readonly<Record<string, string>>;
}

export async function captureSnapshot(source: RepoSource, commit: string): Promise<Snapshot> {
  const all = await source.list();
  const entries = all.filter((e) => isCandidatePath(e.path));
  if (entries.length > DEFAULT_LIMITS.maxFiles) {
    // Keep the entries (the validator reports "too many files") but read nothing.
    return { commit, entries, files: {}, binary: {} };
  }
  const files: Record<string, string> = {};
  const binary: Record<string, string> = {};
  let total = 0;
  const decoder = new TextDecoder('utf-8', { fatal: true });
  for (const entry of entries) {
    if (entry.kind !== 'file' || entry.size > DEFAULT_LIMITS.maxFileBytes) continue;
    total += entry.size;
    if (total > DEFAULT_LIMITS.maxTotalBytes) break;
    const bytes = await source.read(entry.path);
    try {
      files[entry.path] = decoder.decode(bytes);
    } catch {
      binary[entry.path] = Buffer.from(bytes).toString('base64');
    }
  }
  return { commit, entries, files, binary };
}

/** Reads a snapshot back as a RepoSource for the validator. */
export function snapshotSource(snapshot: Snapshot): RepoSource {
  return {
    list: async () => snapshot.entries.map((e) => ({ ...e })),
    read: async (path) => {
      const text = snapshot.files[path];
      if (text !== undefined) return new TextEncoder().encode(text);
      const b64 = snapshot.binary[path];
      if (b64 !== undefined) return new Uint8Array(Buffer.from(b64, 'base64'));
      throw new RepoSourceError(`${path} is not in the snapshot of ${snapshot.commit}`);
    },
  };
}
