import { clients } from '../aws/clients.ts';
import { InvalidInputError, LeaseLostError } from '../aws/errors.ts';
import { registerArtifact, storeContent } from '../registry/artifacts.ts';
import { componentDigests, type VersionPointer } from '../registry/pointer.ts';
import { canonicalJson, parseS3Uri, sha256Hex } from '../spec/index.ts';
import { type EndpointState, holdsLease } from '../state/endpoint-state.ts';
import { keys } from '../state/keys.ts';
import type { EndpointWork, Registration } from '../workflow/types.ts';
import { logger, nowIso, resolvedEndpoint, stateStore } from './runtime.ts';

/**
 * Register: verify the model artifact's sha256, pin it (and the prompts and configs) under
 * content-addressed keys, and write the commit's version pointer. Every write is write-once, so
 * a retry finds its own earlier work and does nothing twice.
 */
export async function handler(work: EndpointWork): Promise<Registration> {
  const store = stateStore();
  await assertLease(work);
  const resolved = await resolvedEndpoint(store, work.snapshotKey, work.environment, work.endpoint.name);
  const artifact = resolved.model.spec.artifact;
  const source = parseS3Uri(artifact.uri);
  if (!source) throw new InvalidInputError(`${artifact.uri} is not an s3:// URI`);
  const model = await registerArtifact(clients.s3(), store.bucket, source, artifact.sha256);
  if (artifact.sizeBytes !== undefined && artifact.sizeBytes !== model.size) {
    throw new InvalidInputError(`${artifact.uri} is ${model.size} bytes, but the Model declares ${artifact.sizeBytes}`);
  }

  const pin = async (spec: unknown) => {
    const body = canonicalJson(spec);
    const stored = await storeContent(clients.s3(), store.bucket, sha256Hex(body), body);
    return { sha256: stored.sha256, key: stored.key };
  };
  const prompts: Record<string, { sha256: string; key: string }> = {};
  for (const prompt of resolved.prompts) prompts[prompt.name] = await pin(prompt.spec);
  const configs: Record<string, { sha256: string; key: string }> = {};
  for (const config of resolved.configs) configs[config.name] = await pin(config.spec.data);

  const pointer: VersionPointer = {
    environment: work.environment,
    endpoint: resolved.name,
    commit: work.push.commit,
    digest: resolved.digest,
    createdAt: nowIso(),
    components: componentDigests(resolved),
    model: {
      name: resolved.model.name,
      sha256: model.sha256,
      key: model.key,
      sourceUri: artifact.uri,
      image: resolved.model.spec.image,
    },
    prompts,
    configs,
  };
  const pointerKey = keys.pointer(work.environment, resolved.name, work.push.commit);
  if ((await store.putIfAbsent(pointerKey, pointer)) === 'exists') {
    const existing = await store.get<VersionPointer>(pointerKey);
    if (existing?.value.digest !== resolved.digest) {
      throw new InvalidInputError(`${pointerKey} exists with another digest; pointers are immutable`);
    }
  }
  logger.info('registered', { endpoint: resolved.name, commit: work.push.commit, model: model.status });
  return { pointerKey, modelArtifactKey: model.key };
}

/** Every step that acts on the endpoint first checks that this execution still holds its lease. */
export async function assertLease(work: EndpointWork): Promise<void> {
  const state = await stateStore().get<EndpointState>(keys.state(work.environment, work.endpoint.name));
  if (!holdsLease(state?.value, work.execution)) {
    throw new LeaseLostError(
      `a newer push (${state?.value.lease?.commit.slice(0, 12) ?? 'none'}) took ${work.endpoint.name}; ${work.push.commit.slice(0, 12)} stops here`,
    );
  }
}
