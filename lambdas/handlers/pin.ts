import { InvalidInputError } from '../aws/errors.ts';
import { modelFiles } from '../registry/model-files.ts';
import type { VersionPointer } from '../registry/pointer.ts';
import { lambdaHandler } from '../runtime/handler.ts';
import { canonicalJson, sha256Hex } from '../spec/canonical.ts';
import { keys } from '../state/keys.ts';
import { type PinInput, pinInput } from '../workflow/payloads.ts';
import type { PinnedModel, Registration } from '../workflow/types.ts';
import { logger, nowIso, readRelease, stateStore } from './runtime.ts';

/**
 * Pin: once every file is verified and pinned (the files Map succeeded), write the commit's
 * version pointer, write-once: every file's digest, the prompts' and configs' digests, and where
 * the pinned copies are. The model's data is one archive key or one directory prefix that holds
 * exactly the manifest's files (artifacts/directories/<digest>/), which is what SageMaker loads.
 */
export async function pin(work: PinInput): Promise<Registration> {
  const store = stateStore();
  const release = await readRelease(store, work);
  const artifact = release.model.artifact;
  const files = modelFiles(release);
  const digestOf = (spec: unknown) => {
    const sha256 = sha256Hex(canonicalJson(spec));
    return { sha256, key: keys.artifact(sha256) };
  };
  const prompts = Object.fromEntries(release.prompts.map((p) => [p.name, digestOf(p.spec)]));
  const configs = Object.fromEntries(release.configs.map((c) => [c.name, digestOf(c.spec.data)]));
  const modelKey = artifact.form === 'archive' ? keys.archive(artifact.file.sha256) : keys.directory(artifact.digest);
  const pointer: VersionPointer = {
    environment: work.environment,
    endpoint: release.name,
    commit: work.push.commit,
    digest: release.digest,
    createdAt: nowIso(),
    components: release.components,
    model: {
      name: release.model.name,
      form: artifact.form,
      sha256: artifact.form === 'archive' ? artifact.file.sha256 : artifact.digest,
      key: modelKey,
      sourceUri: artifact.uri,
      image: release.model.spec.image,
      files: files.map((file) => ({ path: file.path, sha256: file.sha256, sizeBytes: file.sizeBytes })),
      secrets: release.model.secrets.map((secret) => ({ env: secret.env, secretArn: secret.secretArn })),
    },
    prompts,
    configs,
  };
  const pointerKey = keys.pointer(work.environment, release.name, work.push.commit);
  if ((await store.putIfAbsent(pointerKey, pointer)) === 'exists') {
    const existing = await store.get<VersionPointer>(pointerKey);
    if (existing?.value.digest !== release.digest) {
      throw new InvalidInputError(`${pointerKey} exists with another digest; pointers are immutable`);
    }
  }
  logger.info('version pointer written', { pointerKey, files: files.length });
  const uri = (key: string) => `s3://${store.bucket}/${key}`;
  const model: PinnedModel =
    artifact.form === 'archive'
      ? { form: 'archive', modelDataUrl: uri(modelKey) }
      : { form: 'directory', s3Prefix: uri(modelKey) };
  return {
    pointerKey,
    pinned: {
      model,
      prompts: Object.fromEntries(Object.entries(prompts).map(([n, p]) => [n, uri(p.key)])),
      configs: Object.fromEntries(Object.entries(configs).map(([n, c]) => [n, uri(c.key)])),
    },
  };
}

export const handler = lambdaHandler(pinInput, pin, {
  keys: (work) => ({ commit: work.push.commit, environment: work.environment, endpoint: work.endpoint }),
});
