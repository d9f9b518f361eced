import { digestOf } from '../spec/canonical.ts';
import type { ResolvedEndpoint } from '../spec/resolve.ts';

/**
 * A version pointer: for one (environment, endpoint, commit), the digests of everything the
 * endpoint runs and where the pinned copies live. Written once by Register; the endpoint state's
 * `live.pointerKey` names the pointer that is live. Rolling back means pointing at an older pointer: its artifacts are still
 * there, under keys that never change.
 */
export interface VersionPointer {
  readonly environment: string;
  readonly endpoint: string;
  readonly commit: string;
  readonly digest: string;
  readonly createdAt: string;
  /** Digest of each component, for "what changed" in the plan and the ledger. */
  readonly components: Readonly<Record<string, string>>;
  readonly model: {
    readonly name: string;
    /** `archive` (one .tar.gz, ModelDataUrl) or `directory` (a prefix of files, ModelDataSource S3Prefix). */
    readonly form: 'archive' | 'directory';
    /** The archive's sha256, or the directory's digest (sha256 of its canonical file list). */
    readonly sha256: string;
    /** The pinned archive's key, or the pinned directory's prefix (ending in `/`). */
    readonly key: string;
    readonly sourceUri: string;
    readonly image: string;
    /** Every file's digest: the archive itself, or each file of the directory. */
    readonly files: ReadonlyArray<{ readonly path: string; readonly sha256: string; readonly sizeBytes: number }>;
    /** The secrets the container is given, by ARN (never a value). */
    readonly secrets: ReadonlyArray<{ readonly env: string; readonly secretArn: string }>;
  };
  readonly prompts: Readonly<Record<string, { readonly sha256: string; readonly key: string }>>;
  readonly configs: Readonly<Record<string, { readonly sha256: string; readonly key: string }>>;
}

/** Component digests of a resolved endpoint: `endpoint`, `model`, `prompt:NAME`, `config:NAME`. */
export function componentDigests(resolved: ResolvedEndpoint): Record<string, string> {
  const components: Record<string, string> = {
    endpoint: digestOf({
      target: resolved.target,
      rollout: resolved.rollout,
      alarms: resolved.alarms,
      environment: resolved.environment,
    }),
    [`model:${resolved.model.name}`]: digestOf(resolved.model.spec),
  };
  for (const prompt of resolved.prompts) components[`prompt:${prompt.name}`] = digestOf(prompt.spec);
  for (const config of resolved.configs) components[`config:${config.name}`] = digestOf(config.spec);
  return components;
}

/** Components that differ between two digests maps (added, removed or changed), sorted. */
export function changedComponents(
  before: Readonly<Record<string, string>> | undefined,
  after: Readonly<Record<string, string>>,
): string[] {
  if (!before) return ['initial'];
  const names = new Set([...Object.keys(before), ...Object.keys(after)]);
  return [...names].filter((name) => before[name] !== after[name]).sort();
}
