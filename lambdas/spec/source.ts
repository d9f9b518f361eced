/**
 * Where the validator reads a repository from. The same validator runs on a local directory (the
 * CLI), on files fetched from CodeCommit or GitHub (the Lambda builds its own RepoSource from the
 * commit's tree) and in memory (tests).
 */
import { constants } from 'node:fs';
import { lstat, open, readdir, realpath } from 'node:fs/promises';
import { join, resolve, sep } from 'node:path';
import { CONTROL_CHARACTER } from './s3-uri.ts';

export interface RepoEntry {
  /** Posix path relative to the repository root, e.g. `models/llama.yaml`. */
  readonly path: string;
  /** A symlink is reported as such and never followed; `other` is a FIFO, socket, device, submodule… */
  readonly kind: 'file' | 'symlink' | 'other';
  /** Size in bytes (checked against the limits before anything is read). */
  readonly size: number;
}

export interface RepoSource {
  list(): Promise<RepoEntry[]>;
  read(path: string): Promise<Uint8Array>;
}

/** A named error for I/O problems of a source, so callers can tell them from bugs. */
export class RepoSourceError extends Error {
  override readonly name = 'RepoSourceError';
}

/** Directory names never descended into: hidden ones (.git, .github, …) and node_modules. */
export function isSkippedDirectory(name: string): boolean {
  return name.startsWith('.') || name === 'node_modules';
}

/**
 * Whether a path is one the validator reads: a `.yaml`/`.yml` file (any case) whose path has no
 * hidden segment (file or directory) and no node_modules directory.
 */
export function isCandidatePath(path: string): boolean {
  const segments = path.split('/');
  const name = segments[segments.length - 1] ?? '';
  if (!/\.ya?ml$/i.test(name) || name.startsWith('.')) return false;
  return segments.slice(0, -1).every((segment) => !isSkippedDirectory(segment));
}

/**
 * A path is safe if it is relative, posix, normalized and stays inside the root: no empty, `.` or
 * `..` segments, no leading `/`, no backslashes, no drive letters, no control characters.
 */
export function isSafeRelativePath(path: string): boolean {
  if (path.length === 0 || path.length > 4096) return false;
  if (path.startsWith('/') || path.includes('\\') || /^[A-Za-z]:/.test(path)) return false;
  if (CONTROL_CHARACTER.test(path)) return false;
  return path.split('/').every((segment) => segment !== '' && segment !== '.' && segment !== '..');
}

export interface DirectorySourceOptions {
  /** Stop listing (and fail) past this many entries, so a huge tree cannot stall the CLI. Default 100 000. */
  readonly maxEntries?: number;
}

/**
 * Reads a repository from a local directory. Symlinks are listed as symlinks and never followed
 * (lstat, O_NOFOLLOW); hidden directories and node_modules are not descended into; `read` refuses
 * any path that is not a regular file inside the root.
 */
export function directorySource(root: string, options: DirectorySourceOptions = {}): RepoSource {
  const maxEntries = options.maxEntries ?? 100_000;
  const absoluteRoot = resolve(root);
  let realRoot: Promise<string> | undefined;
  const getRealRoot = () => {
    realRoot ??= realpath(absoluteRoot);
    return realRoot;
  };

  return {
    async list() {
      const entries: RepoEntry[] = [];
      const walk = async (relativeDir: string): Promise<void> => {
        const dirents = await readdir(join(absoluteRoot, relativeDir), { withFileTypes: true });
        dirents.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
        for (const dirent of dirents) {
          const path = relativeDir === '' ? dirent.name : `${relativeDir}/${dirent.name}`;
          if (dirent.isDirectory()) {
            if (!isSkippedDirectory(dirent.name)) await walk(path);
            continue;
          }
          if (entries.length >= maxEntries) {
            throw new RepoSourceError(`${root} has more than ${maxEntries} files; is it really a model repository?`);
          }
          const stats = await lstat(join(absoluteRoot, path));
          const kind = stats.isSymbolicLink() ? 'symlink' : stats.isFile() ? 'file' : 'other';
          entries.push({ path, kind, size: stats.size });
        }
      };
      await walk('');
      return entries;
    },

    async read(path) {
      if (!isSafeRelativePath(path))
        throw new RepoSourceError(`refusing to read '${path}': not a path inside the repository`);
      const absolute = join(absoluteRoot, ...path.split('/'));
      // Every directory on the way must be a real directory inside the root, not a symlink out of it.
      const parent = await realpath(join(absolute, '..'));
      const rootReal = await getRealRoot();
      if (parent !== rootReal && !parent.startsWith(rootReal + sep)) {
        throw new RepoSourceError(`refusing to read '${path}': it leaves the repository`);
      }
      const handle = await open(absolute, constants.O_RDONLY | constants.O_NOFOLLOW).catch((error: unknown) => {
        if ((error as NodeJS.ErrnoException).code === 'ELOOP') {
          throw new RepoSourceError(`refusing to read '${path}': it is a symlink`);
        }
        throw error;
      });
      try {
        const stats = await handle.stat();
        if (!stats.isFile()) throw new RepoSourceError(`refusing to read '${path}': not a regular file`);
        return new Uint8Array(await handle.readFile());
      } finally {
        await handle.close();
      }
    },
  };
}

/** An in-memory repository (tests, or content already fetched). Strings are encoded as UTF-8. */
export function memorySource(files: Record<string, string | Uint8Array>): RepoSource {
  const encoded = new Map<string, Uint8Array>();
  for (const [path, content] of Object.entries(files)) {
    encoded.set(path, typeof content === 'string' ? new TextEncoder().encode(content) : content);
  }
  return {
    async list() {
      return [...encoded.entries()]
        .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
        .map(([path, bytes]) => ({ path, kind: 'file' as const, size: bytes.length }));
    },
    async read(path) {
      const bytes = encoded.get(path);
      if (!bytes) throw new RepoSourceError(`no such file: ${path}`);
      return bytes;
    },
  };
}
