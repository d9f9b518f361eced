import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { VirtualClock } from './clock.ts';
import type { EventBus } from './events.ts';
import type { FaultInjector, FaultRule } from './faults.ts';
import type { RequestLog } from './request-log.ts';
import type { BackgroundLoadControl, SandboxRequest, SandboxResponse, SandboxService } from './service.ts';
import type { SnsMessageReader } from './services/sns.ts';

/** The largest request body the sandbox reads into memory (artifacts in tests and the demo are small). */
const MAX_BODY_BYTES = 1024 * 1024 * 1024;

export interface SandboxServerOptions {
  readonly services: readonly SandboxService[];
  readonly clock: VirtualClock;
  readonly events: EventBus;
  readonly faults: FaultInjector;
  readonly requests: RequestLog;
  /** The SNS messages `GET /_ballast/sns/messages` lists (absent when the server runs without SNS). */
  readonly sns?: SnsMessageReader;
  /** SageMaker's background load, for `/_ballast/sagemaker/load`; without it the route answers 404. */
  readonly load?: BackgroundLoadControl;
}

/**
 * One HTTP listener on 127.0.0.1 for every emulated service. Clients reach it through
 * `AWS_ENDPOINT_URL`, exactly as they would reach LocalStack or moto; the service is chosen from the
 * SigV4 credential scope, so one port serves S3, SageMaker, CloudWatch and CodeCommit.
 *
 * `/_ballast/*` is the sandbox's own control API (health, clock, faults, request counts, events,
 * SNS messages, SageMaker background load), used by `ballast sandbox` users and by tests running in
 * another process.
 *
 * Services tick in the order given: SageMaker before CloudWatch, so that the invocation metrics of the
 * minutes a clock jump passed over are published (and evaluated at each minute's end) before
 * CloudWatch evaluates its alarms at the new instant.
 */
export class SandboxServer {
  private server: Server | undefined;
  private tickTimer: NodeJS.Timeout | undefined;

  constructor(private readonly options: SandboxServerOptions) {}

  async listen(port = 0, host = '127.0.0.1'): Promise<string> {
    const server = createServer((req, res) => {
      this.route(req, res).catch((error: unknown) => {
        const message = error instanceof Error ? error.message : String(error);
        if (!res.headersSent) {
          res.writeHead(500, { 'content-type': 'application/json' });
        }
        res.end(JSON.stringify({ __type: 'InternalFailure', message: `sandbox error: ${message}` }));
      });
    });
    this.server = server;
    // Keep-alive sockets from SDK clients must not hold `stop()` open.
    server.keepAliveTimeout = 1000;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => resolve());
    });
    // Time-driven state (endpoint rollouts, alarm evaluation) settles on a timer as well as on every
    // request, so events are emitted even when nobody is polling.
    this.tickTimer = setInterval(() => this.tick(), 50);
    this.tickTimer.unref();
    this.options.clock.onAdvance(() => this.tick());
    const address = server.address() as AddressInfo;
    return `http://${host}:${address.port}`;
  }

  async close(): Promise<void> {
    if (this.tickTimer) clearInterval(this.tickTimer);
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  tick(): void {
    for (const service of this.options.services) service.tick?.();
  }

  private async route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://sandbox');
    const body = await readBody(req);
    const request: SandboxRequest = {
      method: req.method ?? 'GET',
      rawPath: (req.url ?? '/').split('?')[0] ?? '/',
      query: url.searchParams,
      headers: lowerCaseHeaders(req),
      body,
    };
    if (url.pathname.startsWith('/_ballast/')) {
      send(res, this.control(url.pathname, request));
      return;
    }
    const service = this.serviceFor(request);
    if (!service) {
      send(res, {
        status: 400,
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ message: 'The Ballast sandbox could not tell which AWS service this request is for' }),
      });
      return;
    }
    this.tick();
    const operation = service.operationOf(request);
    const at = this.options.clock.now().toISOString();
    const fault = this.options.faults.take(service.signingName, operation);
    if (fault?.kind === 'latency') {
      await new Promise((resolve) => setTimeout(resolve, fault.latencyMs));
    } else if (fault && fault.kind !== 'lost-response') {
      const response = service.faultResponse(fault.kind, operation);
      this.options.requests.record({
        service: service.signingName,
        operation,
        status: response.status,
        at,
        fault: fault.kind,
      });
      send(res, response);
      return;
    }
    const handled = await service.handle(request, operation);
    // A lost response: the work is done, the caller sees a 500.
    const response = fault?.kind === 'lost-response' ? service.faultResponse('server-error', operation) : handled;
    this.options.requests.record({
      service: service.signingName,
      operation,
      status: response.status,
      at,
      ...(fault ? { fault: fault.kind } : {}),
    });
    send(res, response);
  }

  private serviceFor(request: SandboxRequest): SandboxService | undefined {
    const scope = signingNameOf(request);
    const services = this.options.services;
    if (scope) {
      // SageMaker and SageMaker Runtime share the signing name `sagemaker`: the runtime claims its paths.
      const candidates = services.filter((s) => s.signingName === scope);
      return candidates.find((s) => s.matches?.(request)) ?? candidates.find((s) => !s.matches);
    }
    const target = request.headers['x-amz-target'];
    if (target) return services.find((s) => s.targetPrefix && target.startsWith(`${s.targetPrefix}.`));
    // Unsigned requests without a target are plain HTTP: S3 is the only REST service here.
    return services.find((s) => s.signingName === 's3');
  }

  private control(path: string, request: SandboxRequest): SandboxResponse {
    const json = (status: number, value: unknown): SandboxResponse => ({
      status,
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(value),
    });
    const { clock, faults, requests, events } = this.options;
    const input = (): Record<string, unknown> => {
      const text = request.body.toString('utf8');
      return text ? (JSON.parse(text) as Record<string, unknown>) : {};
    };
    switch (`${request.method} ${path}`) {
      case 'GET /_ballast/health':
        return json(200, { ok: true, now: clock.now().toISOString(), timeScale: clock.timeScale });
      case 'GET /_ballast/clock':
        return json(200, { now: clock.now().toISOString(), timeScale: clock.timeScale });
      case 'POST /_ballast/clock/advance': {
        const seconds = Number(input().seconds);
        if (!Number.isFinite(seconds) || seconds < 0) return json(400, { message: 'seconds must be a number >= 0' });
        clock.advance(seconds * 1000);
        return json(200, { now: clock.now().toISOString() });
      }
      case 'GET /_ballast/requests':
        return json(200, { counts: requests.counts(), requests: requests.all() });
      case 'DELETE /_ballast/requests':
        requests.clear();
        return json(200, {});
      case 'POST /_ballast/faults':
        try {
          faults.add(input() as unknown as FaultRule);
        } catch (error) {
          return json(400, { message: error instanceof Error ? error.message : String(error) });
        }
        return json(200, {});
      case 'DELETE /_ballast/faults':
        faults.clear();
        return json(200, {});
      case 'GET /_ballast/events':
        return json(200, { events: events.events() });
      case 'GET /_ballast/sns/messages': {
        const sns = this.options.sns;
        if (!sns) return json(404, { message: 'this sandbox runs without SNS' });
        return json(200, { messages: sns.messages(request.query.get('topicArn') ?? undefined) });
      }
      case 'POST /_ballast/sagemaker/load': {
        if (!this.options.load) return json(404, { message: 'this sandbox has no SageMaker service' });
        try {
          const { endpointName, requestsPerMinute } = input();
          return json(200, this.options.load.setLoad(endpointName as string, requestsPerMinute as number));
        } catch (error) {
          return json(400, { message: error instanceof Error ? error.message : String(error) });
        }
      }
      case 'GET /_ballast/sagemaker/load':
        if (!this.options.load) return json(404, { message: 'this sandbox has no SageMaker service' });
        return json(200, { loads: this.options.load.loads() });
      default:
        return json(404, { message: `no sandbox control route ${request.method} ${path}` });
    }
  }
}

/** The service part of `Credential=AKID/DATE/REGION/SERVICE/aws4_request`, from the header or a presigned URL. */
export function signingNameOf(request: SandboxRequest): string | undefined {
  const credential =
    /Credential=([^,\s]+)/.exec(request.headers.authorization ?? '')?.[1] ??
    request.query.get('X-Amz-Credential') ??
    undefined;
  return credential?.split('/')[3];
}

function lowerCaseHeaders(req: IncomingMessage): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(req.headers)) {
    if (value !== undefined) headers[name.toLowerCase()] = Array.isArray(value) ? value.join(',') : value;
  }
  return headers;
}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    const buffer = chunk as Buffer;
    size += buffer.length;
    if (size > MAX_BODY_BYTES) throw new Error(`request body larger than ${MAX_BODY_BYTES} bytes`);
    chunks.push(buffer);
  }
  return Buffer.concat(chunks);
}

function send(res: ServerResponse, response: SandboxResponse): void {
  const body = response.body ?? '';
  res.writeHead(response.status, {
    'x-amzn-requestid': crypto.randomUUID(),
    'content-length': String(Buffer.byteLength(body)),
    // HEAD answers carry the length of the body they describe, not of the empty body they send.
    ...response.headers,
  });
  res.end(body);
}
