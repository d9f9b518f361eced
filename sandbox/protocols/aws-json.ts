import type { SandboxResponse, SandboxService, ServiceContext } from '../service.ts';
import { AwsServiceError } from '../service.ts';

/** An operation handler: takes the decoded JSON input, returns the JSON output. */
export type JsonOperation = (input: Record<string, unknown>) => unknown | Promise<unknown>;

export interface AwsJsonServiceOptions {
  readonly signingName: string;
  readonly targetPrefix: string;
  readonly version: '1.0' | '1.1';
  readonly operations: Readonly<Record<string, JsonOperation>>;
  /** The error code this service uses for throttling (`ThrottlingException`, `Throttling`, …). */
  readonly throttlingCode: string;
  /**
   * Services migrated from the query protocol (CloudWatch) keep their query error codes in the
   * `x-amzn-query-error` header, which the SDK prefers when `awsQueryCompatible` is set.
   */
  readonly queryCompatible?: boolean;
  readonly tick?: () => void;
}

/**
 * The awsJson1_0 / awsJson1_1 wire protocol: POST / with `X-Amz-Target: Prefix.Operation`, a JSON
 * body in, a JSON body out, errors as `{"__type": code, "message": …}` with `x-amzn-ErrorType`.
 */
export function awsJsonService(options: AwsJsonServiceOptions): SandboxService {
  const contentType = `application/x-amz-json-${options.version}`;

  const error = (err: AwsServiceError): SandboxResponse => ({
    status: err.status,
    headers: {
      'content-type': contentType,
      'x-amzn-errortype': `${err.code}:`,
      ...(options.queryCompatible ? { 'x-amzn-query-error': `${err.code};${err.fault}` } : {}),
    },
    body: JSON.stringify({ __type: err.code, message: err.message, Message: err.message }),
  });

  return {
    signingName: options.signingName,
    targetPrefix: options.targetPrefix,
    operationOf(request) {
      const target = request.headers['x-amz-target'] ?? '';
      return target.startsWith(`${options.targetPrefix}.`) ? target.slice(options.targetPrefix.length + 1) : target;
    },
    async handle(request, operation) {
      if (request.method !== 'POST') {
        return error(new AwsServiceError('UnknownOperationException', `${request.method} is not supported`, 404));
      }
      const handler = options.operations[operation];
      if (!handler) {
        return error(
          new AwsServiceError('UnknownOperationException', `The sandbox does not implement ${operation}`, 400),
        );
      }
      let input: Record<string, unknown>;
      try {
        const text = request.body.toString('utf8');
        const parsed: unknown = text.length === 0 ? {} : JSON.parse(text);
        if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new Error('not an object');
        input = parsed as Record<string, unknown>;
      } catch {
        return error(new AwsServiceError('SerializationException', 'The request body is not a JSON object'));
      }
      try {
        const output = (await handler(input)) ?? {};
        return { status: 200, headers: { 'content-type': contentType }, body: JSON.stringify(output) };
      } catch (err) {
        if (err instanceof AwsServiceError) return error(err);
        throw err;
      }
    },
    faultResponse(kind) {
      return kind === 'throttle'
        ? error(new AwsServiceError(options.throttlingCode, 'Rate exceeded (injected by the Ballast sandbox)', 400))
        : error(new AwsServiceError('InternalFailure', 'Injected server error (Ballast sandbox)', 500));
    },
    ...(options.tick ? { tick: options.tick } : {}),
  };
}

/** Helpers shared by JSON-protocol services for reading inputs with AWS-style validation errors. */
export function requireString(input: Record<string, unknown>, field: string): string {
  const value = input[field];
  if (typeof value !== 'string' || value.length === 0) {
    throw new AwsServiceError(
      'ValidationException',
      `1 validation error detected: Value at '${field}' failed to satisfy constraint: Member must not be null`,
    );
  }
  return value;
}

export type { ServiceContext };
