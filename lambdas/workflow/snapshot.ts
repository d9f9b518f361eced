import { isCandidatePath, type RepoEntry, type RepoSource, RepoSourceError } from '../spec/source.ts';
import { DEFAULT_LIMITS } from '../spec/types.ts';

/**
 * The limits a snapshot was captured under: which files get contents depends on them, so a
 * snapshot is only a base for the next one when they are the same.
 */
export interface SnapshotLimits {
  readonly maxFiles: number;
  readonly maxFileBytes: number;
  readonly maxTotalBytes: number;
}

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
  /** Absent in snapshots written before incremental capture: those are never used as a base. */
  readonly limits?: SnapshotLimits;
  readonly entries: readonly RepoEntry[];
  /** Path -> UTF-8 content. Binary content fails validation anyway, so base64 is not needed. */
  readonly files: Readonly<Record<string, string>>;
  /** Candidate files whose bytes were not valid UTF-8: kept as base64 so the validator reports them. */
  readonly binary: Readonly<Record<string, string>>;
}

/**
 * The candidate paths (`isCandidatePath`) that differ between a base commit and the source's
 * commit, as the source's commit has them: what a full `list()` would give for those paths.
 */
export interface CandidateChanges {
  /** Touched candidate paths that exist at the commit: kind and size exactly as `list()` gives them. */
  readonly present: readonly RepoEntry[];
  /** Touched candidate paths that do not exist at the commit (deleted, renamed away, now a folder). */
  readonly gone: readonly string[];
}

/** A source that can also say what changed since another commit, so a snapshot costs what the push changed. */
export interface IncrementalRepoSource extends RepoSource {
  /**
   * The changes since `base` (an older commit of the same repository), or a reason to read the
   * commit in full instead: too many changes, or `base` is not an ancestor the source can diff against.
   */
  changesSince(base: string): Promise<CandidateChanges | { readonly fullRead: string }>;
}

/** The limits every snapshot is captured under today. */
export const SNAPSHOT_LIMITS: SnapshotLimits = {
  maxFiles: DEFAULT_LIMITS.maxFiles,
  maxFileBytes: DEFAULT_LIMITS.maxFileBytes,
  maxTotalBytes: DEFAULT_LIMITS.maxTotalBytes,
};

type Content = { readonly text: string } | { readonly base64: string };

/** Reads every candidate file of the commit. */
export async function captureSnapshot(source: RepoSource, commit: string): Promise<Snapshot> {
  const entries = (await source.list()).filter((e) => isCandidatePath(e.path));
  return assemble(commit, entries, async (path) => decode(await source.read(path)));
}

export interface IncrementalCapture {
  readonly snapshot: Snapshot;
  /** Why the commit was read in full; undefined when it was built from `previous` and the changes. */
  readonly fullRead?: string;
}

/**
 * The commit's snapshot from the previous commit's snapshot plus what changed between the two:
 * only changed candidate files are read (and, rarely, an unchanged one whose content the previous
 * snapshot left out because of the total-size limit and that now fits). The result is the
 * Snapshot {@link captureSnapshot} would give, byte for byte: the same entries in the same order,
 * and contents chosen by the same loop.
 *
 * Reads the commit in full when there is no usable base: no previous snapshot, one of another
 * commit, one captured under other limits (or before limits were recorded), or a source that
 * declines (too many changes, history rewritten).
 */
export async function captureSnapshotSince(
  source: IncrementalRepoSource,
  commit: string,
  previous: { readonly commit: string; readonly snapshot: Snapshot | undefined } | undefined,
): Promise<IncrementalCapture> {
  const full = async (fullRead: string) => ({ snapshot: await captureSnapshot(source, commit), fullRead });
  if (!previous) return full('the push has no previous commit');
  const base = previous.snapshot;
  if (!base) return full(`no snapshot of the previous commit ${previous.commit}`);
  if (base.commit !== previous.commit) return full(`the snapshot of ${previous.commit} is of ${base.commit}`);
  if (!sameLimits(base.limits, SNAPSHOT_LIMITS)) return full('the previous snapshot was captured under other limits');
  const changes = await source.changesSince(previous.commit);
  if ('fullRead' in changes) return full(changes.fullRead);

  const touched = new Set<string>([...changes.gone, ...changes.present.map((e) => e.path)]);
  const entries = new Map<string, RepoEntry>();
  for (const entry of base.entries) if (!touched.has(entry.path)) entries.set(entry.path, entry);
  for (const entry of changes.present) if (isCandidatePath(entry.path)) entries.set(entry.path, entry);
  const snapshot = await assemble(commit, [...entries.values()], async (path) => {
    if (!touched.has(path)) {
      const text = base.files[path];
      if (text !== undefined) return { text };
      const base64 = base.binary[path];
      if (base64 !== undefined) return { base64 };
    }
    return decode(await source.read(path));
  });
  return { snapshot };
}

function sameLimits(a: SnapshotLimits | undefined, b: SnapshotLimits): boolean {
  return a?.maxFiles === b.maxFiles && a.maxFileBytes === b.maxFileBytes && a.maxTotalBytes === b.maxTotalBytes;
}

function decode(bytes: Uint8Array): Content {
  try {
    return { text: new TextDecoder('utf-8', { fatal: true }).decode(bytes) };
  } catch {
    return { base64: Buffer.from(bytes).toString('base64') };
  }
}

function byPath(a: RepoEntry, b: RepoEntry): number {
  return a.path < b.path ? -1 : a.path > b.path ? 1 : 0;
}

/**
 * The one place that decides what a snapshot holds, for both ways of capturing it: entries in path
 * order; contents for files within the per-file limit, in path order, until the total limit.
 */
async function assemble(
  commit: string,
  unsorted: readonly RepoEntry[],
  content: (path: string) => Promise<Content>,
): Promise<Snapshot> {
  const entries = unsorted.map(({ path, kind, size }) => ({ path, kind, size })).sort(byPath);
  const limits = SNAPSHOT_LIMITS;
  if (entries.length > limits.maxFiles) {
    // Keep the entries (the validator reports "too many files") but read nothing.
    return { commit, limits, entries, files: {}, binary: {} };
  }
  const files: Record<string, string> = {};
  const binary: Record<string, string> = {};
  let total = 0;
  for (const entry of entries) {
    if (entry.kind !== 'file' || entry.size > limits.maxFileBytes) continue;
    total += entry.size;
    if (total > limits.maxTotalBytes) break;
    const read = await content(entry.path);
    if ('text' in read) files[entry.path] = read.text;
    else binary[entry.path] = read.base64;
  }
  return { commit, limits, entries, files, binary };
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
