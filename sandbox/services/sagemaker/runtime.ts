import { createHash } from 'node:crypto';
import type { SandboxRequest, SandboxResponse, SandboxService, ServiceContext } from '../../service.ts';
import { AwsServiceError } from '../../service.ts';
import type { InvokeResult } from './invocations.ts';
import { NAME_PATTERN, Validator } from './validation.ts';

/**
 * Amazon SageMaker Runtime's InvokeEndpoint over REST-JSON, as @aws-sdk/client-sagemaker-runtime
 * speaks it: `POST /endpoints/{EndpointName}/invocations` with the raw request body, signed with the
 * signing name `sagemaker` (the control plane's too, so the server tells the two apart by path).
 * https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_runtime_InvokeEndpoint.html
 *
 * Request headers read: Content-Type (reported back) and X-Amzn-SageMaker-Target-Variant (which
 * reaches a variant of any weight, even 0, in the fleets that serve). The answer of the sandbox's
 * stand-in for a model container is a small JSON document (`application/json`, whatever the Accept
 * header asks) naming what served the request (endpoint config, variant, model, image), with
 * `x-Amzn-Invoked-Production-Variant`. The call takes the model's latency in simulated time (the
 * latency divided by the time scale in wall time).
 *
 * Errors, with the shapes and status codes of the service model:
 *  - ValidationError (400) for an endpoint that does not exist, in AWS's words: "Endpoint NAME of
 *    account ACCOUNT not found." (quoted in aws/amazon-sagemaker-examples#293 and #559); the sandbox
 *    answers the same for an endpoint that serves no traffic (Creating, Failed, Deleting), for an empty
 *    body, a malformed name, and a TargetVariant that no serving fleet has (those wordings are its own);
 *  - ModelError (424) when the model answers a 5XX (SANDBOX_ERROR_RATE), with OriginalStatusCode,
 *    OriginalMessage and LogStreamArn, and AWS's message shape: "Received server error (500) from
 *    primary with message "…". See https://…#logEventViewer:group=/aws/sagemaker/Endpoints/NAME in
 *    account ACCOUNT for more information." (aws/amazon-sagemaker-examples#1809, #4324).
 * InvokeEndpointAsync and InvokeEndpointWithResponseStream are not emulated.
 */
export interface RuntimeDeps {
  /** Moves simulated state (rollouts, background load, metrics) to now. */
  tick(): void;
  invoke(endpointName: string, targetVariant?: string): InvokeResult;
}

const INVOKE_PATH = /^\/endpoints\/([^/]+)\/(invocations|async-invocations|invocations-response-stream)$/;
const OPERATIONS: Readonly<Record<string, string>> = {
  invocations: 'InvokeEndpoint',
  'async-invocations': 'InvokeEndpointAsync',
  'invocations-response-stream': 'InvokeEndpointWithResponseStream',
};

export function createSageMakerRuntimeService(ctx: ServiceContext, deps: RuntimeDeps): SandboxService {
  const error = (err: AwsServiceError, extra: Record<string, unknown> = {}): SandboxResponse => ({
    status: err.status,
    headers: { 'content-type': 'application/json', 'x-amzn-errortype': err.code },
    body: JSON.stringify({ message: err.message, Message: err.message, ...extra }),
  });
  const validation = (message: string) => new AwsServiceError('ValidationError', message);
  const logGroup = (endpointName: string) => `/aws/sagemaker/Endpoints/${endpointName}`;

  const invokeEndpoint = async (request: SandboxRequest, endpointName: string): Promise<SandboxResponse> => {
    const v = new Validator();
    v.string('endpointName', endpointName, { max: 63, pattern: NAME_PATTERN });
    try {
      v.done();
    } catch (err) {
      if (err instanceof AwsServiceError) throw validation(err.message);
      throw err;
    }
    if (request.body.length === 0) {
      throw validation(
        "1 validation error detected: Value null at 'body' failed to satisfy constraint: Member must not be null",
      );
    }
    const targetVariant = request.headers['x-amzn-sagemaker-target-variant'];
    deps.tick();
    const result = deps.invoke(endpointName, targetVariant);
    if (result.kind === 'not-serving')
      throw validation(`Endpoint ${endpointName} of account ${ctx.account} not found.`);
    if (result.kind === 'no-variant') {
      throw validation(
        `Endpoint ${endpointName} has no variant ${targetVariant} in a fleet that serves traffic (TargetVariant).`,
      );
    }
    const { endpoint, served } = result;
    const { share } = served;
    const wallMs = ctx.clock.wallMsFor(served.latencyMs);
    if (wallMs >= 1) await new Promise((resolve) => setTimeout(resolve, wallMs));
    if (served.errors > 0) {
      const original = `The Ballast sandbox's model failed this request (SANDBOX_ERROR_RATE on model ${share.variant.modelName})`;
      const logs = `https://${ctx.region}.console.aws.amazon.com/cloudwatch/home?region=${ctx.region}#logEventViewer:group=${logGroup(endpoint.name)}`;
      const instance = createHash('sha256')
        .update(`${share.configName}/${share.variant.name}`)
        .digest('hex')
        .slice(0, 17);
      return error(
        new AwsServiceError(
          'ModelError',
          `Received server error (500) from primary with message "${original}". See ${logs} in account ${ctx.account} for more information.`,
          424,
        ),
        {
          OriginalStatusCode: 500,
          OriginalMessage: original,
          LogStreamArn: `arn:aws:logs:${ctx.region}:${ctx.account}:log-group:${logGroup(endpoint.name)}:log-stream:${share.variant.name}/i-${instance}`,
        },
      );
    }
    return {
      status: 200,
      headers: {
        'content-type': 'application/json',
        'x-amzn-invoked-production-variant': share.variant.name,
      },
      body: JSON.stringify({
        endpointName: endpoint.name,
        endpointConfigName: share.configName,
        variantName: share.variant.name,
        modelName: share.variant.modelName,
        image: share.variant.images[0]?.SpecifiedImage,
        modelLatencyMs: served.latencyMs,
        request: { contentType: request.headers['content-type'] ?? null, bytes: request.body.length },
      }),
    };
  };

  return {
    signingName: 'sagemaker',
    matches: (request) => request.rawPath.startsWith('/endpoints/'),
    operationOf(request) {
      const match = INVOKE_PATH.exec(request.rawPath);
      return (match && OPERATIONS[match[2] ?? '']) ?? 'Unknown';
    },
    async handle(request, operation) {
      try {
        if (operation !== 'InvokeEndpoint' || request.method !== 'POST') {
          throw new AwsServiceError(
            'UnknownOperationException',
            `The Ballast sandbox does not implement ${request.method} ${request.rawPath} (${operation}); it emulates InvokeEndpoint only.`,
            404,
          );
        }
        const name = decodeURIComponent(INVOKE_PATH.exec(request.rawPath)?.[1] ?? '');
        return await invokeEndpoint(request, name);
      } catch (err) {
        if (err instanceof AwsServiceError) return error(err);
        throw err;
      }
    },
    faultResponse(kind) {
      return kind === 'throttle'
        ? error(new AwsServiceError('ThrottlingException', 'Rate exceeded (injected by the Ballast sandbox)', 400))
        : error(new AwsServiceError('InternalFailure', 'Injected server error (Ballast sandbox)', 500));
    },
  };
}
