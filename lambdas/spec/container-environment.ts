/**
 * The environment a model's container gets on SageMaker: the Model's own variables, the secrets
 * it declares, and the variables Ballast adds (which endpoint and commit this is, and where each
 * pinned prompt and config lives). Counted here so that the validator and Deploy agree on it.
 */
import type { EndpointSpec, ModelSpec } from './schema.ts';

/** Names Ballast sets itself start with this; a Model may not declare one. */
export const RESERVED_ENV_PREFIX = 'BALLAST_';

/** The variables Ballast sets on every container, whatever the endpoint serves. */
export const BALLAST_VARIABLES = [
  'BALLAST_ENVIRONMENT',
  'BALLAST_ENDPOINT',
  'BALLAST_COMMIT',
  'BALLAST_DIGEST',
] as const;

/** SageMaker API Reference, CreateModel ContainerDefinition Environment: "Maximum number of 100 items". */
export const MAX_CONTAINER_VARIABLES = 100;

/**
 * How many variables the container gets: the Model's environment, one per declared secret
 * (NAME_SECRET_ARN or NAME), Ballast's own four, one BALLAST_PROMPT_<NAME> per prompt and one
 * BALLAST_CONFIG_<NAME> per config the endpoint delivers.
 */
export function ballastEnvironmentCount(
  model: Pick<ModelSpec, 'environment' | 'secrets'>,
  endpoint: Pick<EndpointSpec, 'prompts' | 'configs'>,
): number {
  return modelEnvironmentCount(model) + new Set(endpoint.prompts ?? []).size + new Set(endpoint.configs ?? []).size;
}

/** The part of ballastEnvironmentCount that does not depend on the endpoint. */
export function modelEnvironmentCount(model: Pick<ModelSpec, 'environment' | 'secrets'>): number {
  return (
    Object.keys(model.environment ?? {}).length + Object.keys(model.secrets ?? {}).length + BALLAST_VARIABLES.length
  );
}
