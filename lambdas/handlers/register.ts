import { ArtifactIntegrityError, InvalidInputError, LeaseLostError } from '../aws/errors.ts';
import { s3 } from '../aws/s3.ts';
import { registerArtifact, storeContent } from '../registry/artifacts.ts';
import type { VersionPointer } from '../registry/pointer.ts';
import { lambdaHandler } from '../runtime/handler.ts';
import { canonicalJson, sha256Hex } from '../spec/canonical.ts';
import { parseS3Uri } from '../spec/s3-uri.ts';
import { type EndpointState, holdsLease } from '../state/endpoint-state.ts';
import type { JsonStore } from '../state/json-store.ts';
import { keys } from '../state/keys.ts';
import { type RegisterInput, registerInput } from '../workflow/payloads.ts';
import { where } from '../workflow/plan.ts';
import type { EndpointWork, Registration } from '../workflow/types.ts';
import { logger, nowIso, readRelease, stateStore } from './runtime.ts';

/**
 * Register: verify the model artifact's sha256, pin it (and the prompts and configs) under
 * content-addressed keys, and write the commit's version pointer. Every write is write-once, so
 * a retry finds its own earlier work and does nothing twice. An artifact that does not match what
 * the Model declares fails with the Model's file:line, before anything reaches SageMaker.
 */
export async function register(work: RegisterInput): Promise<Registration> {
  const store = stateStore();
  await assertLease(store, work);
  const release = await readRelease(store, work);
  const artifact = release.model.spec.artifact;
  const at = `${where(release.model.artifactAt)}: Model ${release.model.name}`;
  const source = parseS3Uri(artifact.uri);
  if (!source) throw new InvalidInputError(`${at}: ${artifact.uri} is not an s3:// URI`);
  const model = await registerArtifact(s3(), store.bucket, source, artifact.sha256).catch((error: unknown) => {
    // The registry speaks of S3 objects; the user needs the line of the declaration to fix.
    if (error instanceof ArtifactIntegrityError) throw new ArtifactIntegrityError(`${at}: ${error.message}`);
    if (error instanceof InvalidInputError) throw new InvalidInputError(`${at}: ${error.message}`);
    throw error;
  });
  if (artifact.sizeBytes !== undefined && artifact.sizeBytes !== model.size) {
    throw new ArtifactIntegrityError(
      `${at}: ${artifact.uri} is ${model.size} bytes, but spec.artifact.sizeBytes says ${artifact.sizeBytes}`,
    );
  }

  const pin = async (spec: unknown) => {
    const body = canonicalJson(spec);
    const stored = await storeContent(s3(), store.bucket, sha256Hex(body), body);
    return { sha256: stored.sha256, key: stored.key };
  };
  const prompts: Record<string, { sha256: string; key: string }> = {};
  for (const prompt of release.prompts) prompts[prompt.name] = await pin(prompt.spec);
  const configs: Record<string, { sha256: string; key: string }> = {};
  for (const config of release.configs) configs[config.name] = await pin(config.spec.data);

  const pointer: VersionPointer = {
    environment: work.environment,
    endpoint: release.name,
    commit: work.push.commit,
    digest: release.digest,
    createdAt: nowIso(),
    components: release.components,
    model: {
      name: release.model.name,
      sha256: model.sha256,
      key: model.key,
      sourceUri: artifact.uri,
      image: release.model.spec.image,
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
  logger.info('registered', { model: model.status });
  const uri = (key: string) => `s3://${store.bucket}/${key}`;
  return {
    pointerKey,
    pinned: {
      modelDataUrl: uri(model.key),
      prompts: Object.fromEntries(Object.entries(prompts).map(([n, p]) => [n, uri(p.key)])),
      configs: Object.fromEntries(Object.entries(configs).map(([n, c]) => [n, uri(c.key)])),
    },
  };
}

/** Steps that act for the endpoint first check that this execution still holds its lease. */
export async function assertLease(store: JsonStore, work: EndpointWork): Promise<void> {
  const state = await store.get<EndpointState>(keys.state(work.environment, work.endpoint));
  if (!holdsLease(state?.value, work.execution)) {
    throw new LeaseLostError(
      `a newer push (${state?.value.lease?.commit.slice(0, 12) ?? 'none'}) took ${work.endpoint}; ${work.push.commit.slice(0, 12)} stops here`,
    );
  }
}

export const handler = lambdaHandler(registerInput, register, {
  keys: (work) => ({ commit: work.push.commit, environment: work.environment, endpoint: work.endpoint }),
});
