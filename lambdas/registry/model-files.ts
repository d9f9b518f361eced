/**
 * A release's model artifact as the files Register pins: where each one comes from and the key it
 * is pinned to. Pure: Register plans the batches from it, each batch iteration and Pin read the same.
 */
import { keys } from '../state/keys.ts';
import { where } from '../workflow/plan.ts';
import type { Release, ReleaseFile } from '../workflow/types.ts';
import type { FileToPin } from './artifacts.ts';

export interface ModelFile extends FileToPin {
  readonly path: string;
  /** The key in the Ballast store the file is pinned to. */
  readonly targetKey: string;
  /** `file:line:column: Model NAME[: path]`, how an error about this file starts. */
  readonly at: string;
}

export function modelFiles(release: Release): ModelFile[] {
  const artifact = release.model.artifact;
  const model = `Model ${release.model.name}`;
  if (artifact.form === 'archive') {
    return [
      {
        path: artifact.file.path,
        source: artifact.source,
        sha256: artifact.file.sha256,
        sizeBytes: artifact.file.sizeBytes,
        targetKey: keys.archive(artifact.file.sha256),
        at: `${where(release.model.artifactAt)}: ${model}`,
      },
    ];
  }
  return artifact.files.map((file, index) => ({
    path: file.path,
    source: { bucket: artifact.source.bucket, key: `${artifact.source.prefix}${file.path}` },
    sha256: file.sha256,
    sizeBytes: file.sizeBytes,
    targetKey: keys.directoryFile(artifact.digest, file.path),
    at: fileAt(release, file, index),
  }));
}

function fileAt(release: Release, file: ReleaseFile, index: number): string {
  const model = `Model ${release.model.name}`;
  const artifact = release.model.artifact;
  if (file.at) return `${where(file.at)}: ${model}: ${file.path}`;
  const manifest = artifact.form === 'directory' ? artifact.manifest : undefined;
  return manifest
    ? `${where(release.model.artifactAt)}: ${model}: ${file.path} (files[${index}] of ${manifest.uri})`
    : `${where(release.model.artifactAt)}: ${model}: ${file.path}`;
}
